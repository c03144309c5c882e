/// A differentiable function from one tensor to another, possibly with trainable parameters.
///
/// A layer is its forward pass and nothing else. Gradients come from the ops it uses; its
/// parameters are the `@Parameter` properties that ``parameters`` finds by reflection.
///
/// ```swift
/// struct Affine: Layer {
///     @Parameter var weight: Tensor<Double>
///     @Parameter var bias: Tensor<Double>
///     func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> {
///         matmul(x, weight) + bias
///     }
/// }
/// ```
public protocol Layer<Scalar> {
    /// The layer's scalar type.
    associatedtype Scalar: TensorScalar

    /// The forward pass.
    func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar>

    /// Every trainable parameter, in declaration order, with stable names. The default finds
    /// them by reflection (see the extension); a layer implements this only to answer faster,
    /// as ``Sequential`` does from a list it builds once.
    var parameters: [NamedParameter<Scalar>] { get }

    /// Every ``LayerState``, in declaration order, named like parameters. Found by reflection
    /// by default.
    var states: [NamedState<Scalar>] { get }
}

/// A named piece of a model's state (see ``LayerState``).
public struct NamedState<Scalar: TensorScalar> {
    /// The stable dotted name, as for parameters (`0.count`).
    public let name: String
    /// The state, shared with the model.
    public let state: LayerState<Scalar>
}

/// A named trainable parameter of a model.
public struct NamedParameter<Scalar: TensorScalar> {
    /// The stable dotted name: the property path, with list positions as numbers (`0.weight`).
    public let name: String
    /// The parameter, shared with the model.
    public let parameter: Parameter<Scalar>
}

extension Layer {
    /// Every trainable parameter, in declaration order, with stable names.
    ///
    /// Found by reflection: `@Parameter` properties, and those of nested layers and arrays of
    /// layers, prefixed with the property name or array position. A parameter reachable twice
    /// (shared weights) is listed once, under its first name. A stored `Tensor` that is neither
    /// `@Parameter` nor `@Constant` stops the program with its name: it would otherwise never be
    /// trained.
    public var parameters: [NamedParameter<Scalar>] {
        var found = Found<Scalar>()
        collect(of: self, prefix: "", into: &found)
        return uniqued(found.parameters) { $0.parameter }
    }

    /// Every ``LayerState``, found by reflection like ``parameters``.
    public var states: [NamedState<Scalar>] {
        var found = Found<Scalar>()
        collect(of: self, prefix: "", into: &found)
        return uniqued(found.states) { $0.state }
    }

    /// The parameter values, by name.
    public var parameterValues: [String: Tensor<Scalar>] {
        Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.parameter.wrappedValue) })
    }

    /// How many trainable scalars the model has.
    public var parameterCount: Int {
        parameters.reduce(0) { $0 + $1.parameter.wrappedValue.count }
    }
}

/// What reflection finds in a layer.
private struct Found<Scalar: TensorScalar> {
    var parameters: [NamedParameter<Scalar>] = []
    var states: [NamedState<Scalar>] = []
}

/// The parameters and states of `value`'s stored properties: `@Parameter`s and `@LayerState`s
/// by name, nested layers (and arrays or optionals of them) through their own `parameters` and
/// `states`, prefixed with the property name.
private func collect<Scalar>(of value: Any, prefix: String, into found: inout Found<Scalar>) {
    for (index, child) in Mirror(reflecting: value).children.enumerated() {
        // Property wrappers store as `_name`; array elements have no label.
        let label = child.label.map { $0.hasPrefix("_") ? String($0.dropFirst()) : $0 } ?? String(index)
        switch child.value {
        case let parameter as Parameter<Scalar>:
            found.parameters.append(NamedParameter(name: prefix + label, parameter: parameter))
        case let state as LayerState<Scalar>:
            found.states.append(NamedState(name: prefix + label, state: state))
        case is Constant<Scalar>:
            continue
        case is Tensor<Scalar>:
            fatalError("""
                parameters: \(type(of: value)).\(label) is a Tensor that is not marked: \
                write @Parameter to train it, @LayerState to keep it as state, or @Constant to keep it fixed
                """)
        case let layer as any Layer<Scalar>:
            found.parameters += layer.parameters.map { NamedParameter(name: prefix + label + "." + $0.name, parameter: $0.parameter) }
            found.states += layer.states.map { NamedState(name: prefix + label + "." + $0.name, state: $0.state) }
        default:
            let style = Mirror(reflecting: child.value).displayStyle
            if style == .collection {
                collect(of: child.value, prefix: prefix + label + ".", into: &found)
            } else if style == .optional {
                collect(of: child.value, prefix: prefix, into: &found)
            }
        }
    }
}

/// Keeps the first name of a parameter or state reachable twice (a layer applied twice).
func uniqued<Item>(_ items: [Item], by object: (Item) -> AnyObject) -> [Item] {
    var seen: Set<ObjectIdentifier> = []
    return items.filter { seen.insert(ObjectIdentifier(object($0))).inserted }
}
