extension Module {
    /// Every tensor a checkpoint holds: the parameters, then the states, by name, each with the
    /// place to load it into.
    private var checkpointed: [(name: String, value: Tensor<Scalar>, load: (Tensor<Scalar>) -> Void)] {
        parameters.map { p in (p.name, p.parameter.wrappedValue, { p.parameter.wrappedValue = $0 }) }
            + states.map { s in (s.name, s.state.wrappedValue, { s.state.wrappedValue = $0 }) }
    }

    /// Saves the model's parameters and states (``LayerState``) as a safetensors file, named as in
    /// ``Module/parameters`` and ``Module/states`` (`0.weight`, …), with `metadata` and the model's
    /// ``Module/moduleDescription`` (under ``ModuleDescription/metadataKey``, as JSON), which
    /// loading checks and from which ``Sequential/init(contentsOf:)`` rebuilds the model. The write
    /// is atomic: a temporary file, then a rename.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        let values = Dictionary(uniqueKeysWithValues: checkpointed.map { ($0.name, $0.value) })
        var metadata = metadata
        metadata[ModuleDescription.metadataKey] = moduleDescription.json
        try SafeTensors(values, metadata: metadata).write(to: path)
    }

    /// Loads parameters and states saved by ``save(to:metadata:)`` (or by another tool, with the
    /// same names).
    ///
    /// Strict: a file that describes another model (see ``ModuleDescription``) throws a
    /// ``ModelMismatch`` saying where the two differ, unless `weightsOnly` is true; a tensor the
    /// model lacks, a parameter or state the file lacks, a shape that differs, or (unless
    /// `allowingNonFinite`) a NaN or infinite value throws a ``DataError`` naming the tensor (and
    /// both shapes, or the first bad element). Either way the model is left unchanged. Values
    /// stored in the other precision are converted. A file without a description (PyTorch's)
    /// loads by names and shapes alone.
    public func load(from path: String, weightsOnly: Bool = false, allowingNonFinite: Bool = false) throws {
        try load(SafeTensors(contentsOf: path), from: path, weightsOnly: weightsOnly, allowingNonFinite: allowingNonFinite)
    }

    /// Loads the tensors of a file already read (from `path`, which errors name), as
    /// ``load(from:weightsOnly:allowingNonFinite:)`` does: for a file whose names were translated
    /// first (a PyTorch model's state dict).
    public func load(_ file: SafeTensors, from path: String, weightsOnly: Bool = false, allowingNonFinite: Bool = false) throws {
        if !weightsOnly, let saved = try file.moduleDescription(file: path),
           let difference = saved.firstDifference(from: moduleDescription) {
            throw ModelMismatch(file: path, place: difference.place, saved: difference.this, model: difference.other)
        }
        let parameters = checkpointed
        let expected = Set(parameters.map(\.name))
        if let missing = parameters.first(where: { file.tensors[$0.name] == nil }) {
            throw DataError(file: path, "has no tensor \(missing.name) (shape \(missing.value.shape)); it holds \(file.tensors.keys.sorted())")
        }
        if let extra = file.tensors.keys.sorted().first(where: { !expected.contains($0) }) {
            throw DataError(file: path, "has tensor \(extra) (shape \(file.tensors[extra]!.shape)), which the model does not; the model has \(parameters.map(\.name))")
        }
        for p in parameters where file.tensors[p.name]!.shape != p.value.shape {
            throw DataError(file: path, "tensor \(p.name) has shape \(file.tensors[p.name]!.shape), the model's has \(p.value.shape)")
        }
        let values = parameters.map { file.tensors[$0.name]!.tensor(as: Scalar.self) }
        if !allowingNonFinite {
            for (p, value) in zip(parameters, values) {
                let bad = value.withUnsafeBufferPointer { $0.firstIndex { !$0.isFinite } }
                if let bad {
                    throw DataError(file: path, "tensor \(p.name) holds \(value.scalars[bad]) at element \(multiIndex(bad, in: value.shape)): "
                                    + "a model with it gives no meaningful answer")
                }
            }
        }
        for (p, value) in zip(parameters, values) { p.load(value) }
    }
}

extension Optimizer {
    /// Saves the optimizer's state — each parameter's (`0.weight.0`, `0.weight.1`, …) and the
    /// hyperparameters — as a safetensors file, so that training can resume where it stopped.
    /// The write is atomic.
    public func saveState(to path: String) throws {
        var values = ["hyperparameters": hyperparameters]
        for (name, tensors) in state {
            for (index, tensor) in tensors.enumerated() { values["\(name).\(index)"] = tensor }
        }
        try SafeTensors(values, metadata: ["optimizer": Self.stateKind]).write(to: path)
    }

    /// Loads what ``saveState(to:)`` saved, replacing the optimizer's state and hyperparameters.
    ///
    /// Strict: a file saved by another kind of optimizer, one without hyperparameters of this
    /// optimizer's shape, or a parameter's state with a gap in its numbering throws an error
    /// naming the file and what is wrong, and the optimizer is left unchanged. Each state must
    /// still fit its parameter's shape when the next update reads it.
    public mutating func loadState(from path: String) throws {
        let file = try SafeTensors(contentsOf: path)
        let kind = file.metadata["optimizer"] ?? "none"
        guard kind == Self.stateKind else {
            throw DataError(file: path, "holds the state of \(kind), not of \(Self.stateKind)")
        }
        guard let saved = file.tensors["hyperparameters"], saved.shape == hyperparameters.shape else {
            throw DataError(file: path, "has no hyperparameters of shape \(hyperparameters.shape)")
        }
        var loaded: [String: [Int: Tensor<Scalar>]] = [:]
        for (key, tensor) in file.tensors where key != "hyperparameters" {
            guard let dot = key.lastIndex(of: "."), let index = Int(key[key.index(after: dot)...]), index >= 0 else {
                throw DataError(file: path, "has tensor \(key), which is neither the hyperparameters nor a parameter's state")
            }
            loaded[String(key[..<dot]), default: [:]][index] = tensor.tensor()
        }
        var state: [String: [Tensor<Scalar>]] = [:]
        for (name, tensors) in loaded {
            guard tensors.keys.sorted() == Array(0..<tensors.count) else {
                throw DataError(file: path, "numbers the state of \(name) \(tensors.keys.sorted()), with a gap")
            }
            state[name] = (0..<tensors.count).map { tensors[$0]! }
        }
        hyperparameters = saved.tensor()
        self.state = state
    }

    /// Loads what ``saveState(to:)`` saved, as ``loadState(from:)`` does, and checks it against
    /// `model` first: each state must belong to one of the model's parameters and have the shapes
    /// this optimizer keeps for it, or the load throws naming the parameter, and the optimizer is
    /// left unchanged.
    public mutating func loadState<Model: Module>(from path: String, for model: Model) throws where Model.Scalar == Scalar {
        var loaded = self
        try loaded.loadState(from: path)
        let parameters = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.parameter.wrappedValue) })
        for (name, tensors) in loaded.state.sorted(by: { $0.key < $1.key }) {
            guard let parameter = parameters[name] else {
                throw DataError(file: path, "holds the state of \(name), which is not a parameter of the model (\(parameters.keys.sorted()))")
            }
            let expected = makeState(for: parameter).map(\.shape)
            guard tensors.map(\.shape) == expected else {
                throw DataError(file: path, "holds a state of shapes \(tensors.map(\.shape)) for \(name), whose shape \(parameter.shape) needs \(expected)")
            }
        }
        self = loaded
    }

    /// The optimizer's type, as checkpoints of its state record it.
    static var stateKind: String { String(String(describing: Self.self).prefix { $0 != "<" }) }
}

