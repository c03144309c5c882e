extension Sequential {
    /// The model a checkpoint saved by ``Module/save(to:metadata:)`` describes, built from its
    /// ``ModuleDescription`` and loaded with its tensors: no code needs to know the architecture.
    ///
    /// ```swift
    /// let model = try Sequential<Float>(contentsOf: "chapter6.safetensors")
    /// ```
    ///
    /// The model must be a ``Sequential`` of Nabla's layers (``Dense``, ``Conv2D``,
    /// ``MaxPool2D``, ``Flatten``, the activations, ``Dropout``, ``LayerNorm``, ``Embedding``,
    /// ``BatchNorm1D``, a nested ``Sequential``); a file without a description (PyTorch's), a
    /// layer of another kind, or a description that does not fit the file's tensors throws a
    /// ``DataError`` naming the file and the layer, before anything the description claims is
    /// allocated. Dropout layers get seed 0: a network is the same whatever its masks.
    public init(contentsOf path: String) throws {
        try self.init(SafeTensors(contentsOf: path), from: path)
    }

    /// The model a checkpoint already read (from `path`, which errors name) describes, as
    /// ``init(contentsOf:)`` builds it.
    public init(_ file: SafeTensors, from path: String) throws {
        guard let description = try file.moduleDescription(file: path) else {
            throw DataError(file: path, "has no model description (\(ModuleDescription.metadataKey) in its metadata): "
                            + "it was not saved by Nabla's save(to:); build the model in code and load(from:) into it")
        }
        // The description's sizes are the file's word: hold them to the tensors it has, in memory
        // already, before allocating a model of that size.
        let stored = file.tensors.values.reduce(0) { $0 + $1.shape.reduce(1, *) }
        guard description.scalarCount <= stored else {
            throw DataError(file: path, "its description claims \(description.scalarCount) values, but it holds \(stored)")
        }
        do {
            self = try Sequential(describedBy: description)
        } catch let problem as DescriptionProblem {
            throw DataError(file: path, "cannot build its model: \(problem.reason)")
        }
        try load(file, from: path)
    }

    /// The layers `description` lists, their parameters zero (or their initial values) until
    /// loaded.
    init(describedBy description: ModuleDescription, at path: String = "") throws {
        try description.expect(kind: "Sequential", at: path.isEmpty ? "the top" : "layer " + path)
        self.init(layers: try description.children.map { child in
            try makeLayer(child.module, at: (path.isEmpty ? "" : path + ".") + child.name)
        })
        // What the builders do not read (an unknown setting, a tensor a layer does not have)
        // must not pass unnoticed: the rebuilt model describes itself as the file does, or fails.
        if let difference = description.firstDifference(from: moduleDescription) {
            throw DescriptionProblem(reason: "at \(difference.place) it describes \(difference.this), which builds as \(difference.other)")
        }
    }
}

/// Why a description cannot be built (reported with the file's name).
struct DescriptionProblem: Error {
    let reason: String
}

/// One layer of a ``Sequential``, built from its description.
private func makeLayer<Scalar: TensorScalar>(_ layer: ModuleDescription, at place: String) throws -> any Layer<Scalar> {
    let zeros = { (shape: [Int]) in Tensor<Scalar>(zeros: shape) }
    switch layer.kind {
    case "Sequential":
        return try Sequential<Scalar>(describedBy: layer, at: place)
    case "Dense":
        let weight = try layer.shape("weight", rank: 2, at: place)
        let bias = try layer.optionalShape("bias", equalTo: [weight[0]], at: place)
        return Dense(weight: zeros(weight), bias: bias.map(zeros))
    case "Conv2D":
        let weight = try layer.shape("weight", rank: 4, at: place)
        let bias = try layer.shape("bias", equalTo: [weight[0]], at: place)
        return Conv2D(weight: zeros(weight), bias: zeros(bias),
                      stride: try layer.integer("stride", atLeast: 1, at: place), padding: try layer.integer("padding", atLeast: 0, at: place))
    case "MaxPool2D":
        return MaxPool2D<Scalar>(kernelSize: try layer.integer("kernelSize", atLeast: 1, at: place),
                                 stride: try layer.integer("stride", atLeast: 1, at: place))
    case "Flatten": return Flatten<Scalar>()
    case "Sigmoid": return Sigmoid<Scalar>()
    case "Tanh": return Tanh<Scalar>()
    case "ReLU": return ReLU<Scalar>()
    case "Softmax": return Softmax<Scalar>()
    case "GELU":
        return GELU<Scalar>(approximation: try layer.choice("approximation", of: ["none": .none, "tanh": .tanh], at: place))
    case "Dropout":
        let probability = try layer.number("probability", at: place)
        guard probability >= 0 && probability < 1 else {
            throw DescriptionProblem(reason: "layer \(place) (Dropout) has probability \(probability), outside [0, 1)")
        }
        var rng = SeededGenerator(seed: 0)
        return Dropout<Scalar>(probability: probability, scaling: try layer.choice("scaling", of: ["inverted": .inverted, "atEvaluation": .atEvaluation], at: place),
                               using: &rng)
    case "LayerNorm":
        let weight = try layer.shape("weight", rank: 1, at: place)
        let bias = try layer.optionalShape("bias", equalTo: weight, at: place)
        return LayerNorm<Scalar>(size: weight[0], bias: bias != nil, epsilon: Scalar(try layer.number("epsilon", at: place)))
    case "Embedding":
        return Embedding(weight: zeros(try layer.shape("weight", rank: 2, at: place)))
    case "BatchNorm1D":
        let features = try layer.shape("weight", rank: 1, at: place)[0]
        let momentum = try layer.number("momentum", at: place)
        guard momentum >= 0 && momentum <= 1 else {
            throw DescriptionProblem(reason: "layer \(place) (BatchNorm1D) has momentum \(momentum), outside [0, 1]")
        }
        return BatchNorm1D<Scalar>(features: features, momentum: Scalar(momentum), epsilon: Scalar(try layer.number("epsilon", at: place)))
    default:
        throw DescriptionProblem(reason: "layer \(place) is a \(layer.kind), which Nabla cannot build from a description; "
                                 + "build the model in code and load(from:) into it")
    }
}

/// Reading a layer's settings and tensors, each missing or malformed one a ``DescriptionProblem``
/// that names the layer.
private extension ModuleDescription {
    func expect(kind expected: String, at place: String) throws {
        guard kind == expected else { throw DescriptionProblem(reason: "\(place) is a \(kind), not a \(expected)") }
    }

    func number(_ key: String, at place: String) throws -> Double {
        guard case .number(let value)? = settings[key], value.isFinite else {
            throw DescriptionProblem(reason: "layer \(place) (\(kind)) has no finite number \(key) (\(settings[key].map { "\($0)" } ?? "none"))")
        }
        return value
    }

    func integer(_ key: String, atLeast minimum: Int, at place: String) throws -> Int {
        let value = try number(key, at: place)
        guard value == value.rounded(), value >= Double(minimum), value < 1e9 else {
            throw DescriptionProblem(reason: "layer \(place) (\(kind)) has \(key) \(ModuleDescription.Value.number(value)), not an integer from \(minimum)")
        }
        return Int(value)
    }

    func choice<T>(_ key: String, of choices: [String: T], at place: String) throws -> T {
        guard case .text(let name)? = settings[key], let choice = choices[name] else {
            throw DescriptionProblem(reason: "layer \(place) (\(kind)) has \(key) \(settings[key].map { "\($0)" } ?? "none"), "
                                     + "none of \(choices.keys.sorted())")
        }
        return choice
    }

    func optionalShape(_ key: String, equalTo expected: [Int], at place: String) throws -> [Int]? {
        guard let shape = tensors[key] else { return nil }
        guard shape == expected else {
            throw DescriptionProblem(reason: "layer \(place) (\(kind)) has \(key) of shape \(shape); its other tensors need \(expected)")
        }
        return shape
    }

    func shape(_ key: String, equalTo expected: [Int], at place: String) throws -> [Int] {
        guard let shape = try optionalShape(key, equalTo: expected, at: place) else {
            throw DescriptionProblem(reason: "layer \(place) (\(kind)) has no tensor \(key)")
        }
        return shape
    }

    func shape(_ key: String, rank: Int, at place: String) throws -> [Int] {
        guard let shape = tensors[key] else { throw DescriptionProblem(reason: "layer \(place) (\(kind)) has no tensor \(key)") }
        guard shape.count == rank, shape.allSatisfy({ $0 > 0 }) else {
            throw DescriptionProblem(reason: "layer \(place) (\(kind)) has \(key) of shape \(shape); it needs \(rank) positive sizes")
        }
        return shape
    }
}
