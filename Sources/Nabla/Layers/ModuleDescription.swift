import Foundation

/// What a module is — its kind, the settings its tensors' shapes cannot tell, the shapes of its
/// own tensors and its nested modules — as a checkpoint records it, so that loading can tell a
/// file saved from another model (a sigmoid network's weights have the shapes of a ReLU
/// network's) and a model can be rebuilt from its file.
///
/// Every module has one (``Module/moduleDescription``): found by reflection, like its
/// parameters, with the settings the module declares. It is JSON in a checkpoint's metadata
/// (``ModuleDescription/metadataKey``), readable by any tool:
///
/// ```json
/// {"kind":"Sequential","children":[
///   {"name":"0","module":{"kind":"Dense","tensors":{"bias":[30],"weight":[30,784]}}},
///   {"name":"1","module":{"kind":"Sigmoid"}}, …]}
/// ```
public struct ModuleDescription: Codable, Hashable, Sendable, CustomStringConvertible {
    /// A setting's value: a number, a flag or a word.
    public enum Value: Codable, Hashable, Sendable, CustomStringConvertible {
        /// A count, a size or a rate. Integers are exact up to 2⁵³.
        case number(Double)
        /// Whether something is on (attention's causal mask).
        case flag(Bool)
        /// A choice by name (an enum's case).
        case text(String)

        /// An integer setting.
        public static func integer(_ value: Int) -> Value { .number(Double(value)) }

        /// A setting in the model's scalar type, by its shortest decimal form, so that a Float
        /// model's ε = 10⁻⁵ reads the same as a Double model's.
        public static func scalar<S: TensorScalar>(_ value: S) -> Value { .number(Double(value.description) ?? Double(value)) }

        /// A choice, by the name of the enum case.
        public static func choice(_ value: some Any) -> Value { .text(String(describing: value)) }

        /// Reads a JSON number, flag or string.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                self = .flag(flag)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else {
                self = .text(try container.decode(String.self))
            }
        }

        /// Writes a JSON number, flag or string.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .number(let number): try container.encode(number)
            case .flag(let flag): try container.encode(flag)
            case .text(let text): try container.encode(text)
            }
        }

        /// The value as written in a description: `2`, `0.5`, `true`, `atEvaluation`.
        public var description: String {
            switch self {
            case .number(let number):
                number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
            case .flag(let flag): String(flag)
            case .text(let text): text
            }
        }
    }

    /// A nested module under its name (a position in a ``Sequential``, a property's path).
    public struct Child: Codable, Hashable, Sendable {
        /// The name, as parameter names spell it (`0`, `attention`, `blocks.2`).
        public var name: String
        /// What the nested module is.
        public var module: ModuleDescription

        /// A nested module `module` named `name`.
        public init(name: String, module: ModuleDescription) {
            (self.name, self.module) = (name, module)
        }
    }

    /// The module's type, without its scalar type: `Dense`, `Sequential`, `TransformerBlock`.
    public var kind: String
    /// What the tensors cannot tell: a stride, a dropout probability, an activation's form.
    public var settings: [String: Value]
    /// The shapes of the module's own parameters and states, by name (those of nested modules
    /// are in theirs).
    public var tensors: [String: [Int]]
    /// The nested modules, in declaration order.
    public var children: [Child]

    /// A description made of its parts.
    public init(kind: String, settings: [String: Value] = [:], tensors: [String: [Int]] = [:], children: [Child] = []) {
        (self.kind, self.settings, self.tensors, self.children) = (kind, settings, tensors, children)
    }

    /// The description of `module` found by reflection — its type's name, the shapes of its
    /// `@Parameter`s and `@LayerState`s, and the descriptions of the modules among its stored
    /// properties (in arrays, optionals and plain structs too) — with `settings`, which the
    /// module names itself.
    ///
    /// A layer with settings its shapes cannot tell declares them:
    ///
    /// ```swift
    /// extension Conv2D {
    ///     public var moduleDescription: ModuleDescription {
    ///         ModuleDescription(of: self, settings: ["stride": .integer(stride), "padding": .integer(padding)])
    ///     }
    /// }
    /// ```
    public init<M: Module>(of module: M, settings: [String: Value] = [:]) {
        self.init(kind: String(String(describing: M.self).prefix { $0 != "<" }), settings: settings)
        var visiting = Set<ObjectIdentifier>()
        forEachStoredProperty(of: module, prefix: "", visiting: &visiting) { property in
            switch property.value {
            case let parameter as Parameter<M.Scalar>: tensors[property.name] = parameter.wrappedValue.shape
            case let optional as OptionalParameter<M.Scalar>: optional.parameter.map { tensors[property.name] = $0.wrappedValue.shape }
            case let state as LayerState<M.Scalar>: tensors[property.name] = state.wrappedValue.shape
            case is any TensorWrapper, is Tensor<M.Scalar>: break
            case let nested as any Module<M.Scalar>: children.append(Child(name: property.name, module: nested.moduleDescription))
            default: return false
            }
            return true
        }
    }

    /// The key under which a checkpoint's metadata holds the description, as JSON.
    public static let metadataKey = "nabla.module"

    /// The description as compact JSON, its keys sorted: the same model gives the same text.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // Every part is a string, a number, a flag, an array or a dictionary: encoding cannot fail.
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// Reads a description from its JSON; text that is not one throws an error that says where.
    public init(json: String) throws {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        self = try decoder.decode(ModuleDescription.self, from: Data(json.utf8))
    }

    private enum CodingKeys: String, CodingKey { case kind, settings, tensors, children }

    /// Reads a description, absent settings, tensors and children as empty.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(String.self, forKey: .kind)
        settings = try container.decodeIfPresent([String: Value].self, forKey: .settings) ?? [:]
        tensors = try container.decodeIfPresent([String: [Int]].self, forKey: .tensors) ?? [:]
        children = try container.decodeIfPresent([Child].self, forKey: .children) ?? []
    }

    /// Writes only the parts a module has: an activation is `{"kind":"ReLU"}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        if !settings.isEmpty { try container.encode(settings, forKey: .settings) }
        if !tensors.isEmpty { try container.encode(tensors, forKey: .tensors) }
        if !children.isEmpty { try container.encode(children, forKey: .children) }
    }

    /// One line: the kind, its settings and tensors in parentheses, its children in brackets —
    /// `Dense(weight [30, 784], bias [30])`, `Dropout(probability 0.5, scaling atEvaluation)`.
    public var description: String {
        let own = settings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            + tensors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        let nested = children.map { "\($0.name): \($0.module)" }
        return kind + (own.isEmpty ? "" : "(" + own.joined(separator: ", ") + ")")
            + (nested.isEmpty ? "" : " [" + nested.joined(separator: ", ") + "]")
    }

    /// How many scalars the described tensors hold, nested modules' included (`Int.max` if the
    /// count overflows): what building the model would allocate.
    public var scalarCount: Int {
        let counts = tensors.values.map { shape in
            shape.reduce(1) { product, n in
                let (next, overflow) = product.multipliedReportingOverflow(by: Swift.max(n, 0))
                return overflow ? Int.max : next
            }
        } + children.map(\.module.scalarCount)
        return counts.reduce(0) { sum, n in
            let (next, overflow) = sum.addingReportingOverflow(n)
            return overflow ? Int.max : next
        }
    }

    /// The first place where `other` differs from this description, if any: its path (`2`,
    /// `6.weight`, `0.stride`) and what each side has there, in words.
    public func firstDifference(from other: ModuleDescription) -> (place: String, this: String, other: String)? {
        firstDifference(from: other, at: "")
    }

    private func firstDifference(from other: ModuleDescription, at path: String) -> (place: String, this: String, other: String)? {
        let place = { (name: String) in path.isEmpty ? name : path + "." + name }
        if kind != other.kind {
            return (path.isEmpty ? "the top" : path, description, other.description)
        }
        for key in Set(settings.keys).union(other.settings.keys).sorted() where settings[key] != other.settings[key] {
            let show = { (value: Value?) in value.map { "\(key) \($0)" } ?? "no \(key)" }
            return (place(key), show(settings[key]), show(other.settings[key]))
        }
        for key in Set(tensors.keys).union(other.tensors.keys).sorted() where tensors[key] != other.tensors[key] {
            let show = { (shape: [Int]?) in shape.map { "\(key) of shape \($0)" } ?? "no \(key)" }
            return (place(key), show(tensors[key]), show(other.tensors[key]))
        }
        for index in 0..<Swift.max(children.count, other.children.count) {
            guard index < children.count, index < other.children.count else {
                let show = { (children: [Child]) in index < children.count ? "\(children[index].name): \(children[index].module)" : "nothing more" }
                return (place(children.count > index ? children[index].name : other.children[index].name), show(children), show(other.children))
            }
            let (mine, theirs) = (children[index], other.children[index])
            if mine.name != theirs.name {
                return (place(mine.name), "\(mine.name): \(mine.module)", "\(theirs.name): \(theirs.module)")
            }
            if let difference = mine.module.firstDifference(from: theirs.module, at: place(mine.name)) { return difference }
        }
        return nil
    }
}
