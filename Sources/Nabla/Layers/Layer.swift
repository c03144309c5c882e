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
        var found: [NamedParameter<Scalar>] = []
        var seen: Set<ObjectIdentifier> = []
        collectParameters(of: self, prefix: "", into: &found, seen: &seen)
        return found
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

/// A container whose stored list of layers adds no name of its own: ``Sequential``'s layers are
/// `0`, `1`, …, not `layers.0`.
protocol TransparentLayerContainer {}

private func collectParameters<Scalar>(
    of value: Any, prefix: String, into found: inout [NamedParameter<Scalar>],
    seen: inout Set<ObjectIdentifier>
) {
    let mirror = Mirror(reflecting: value)
    for (index, child) in mirror.children.enumerated() {
        // Property wrappers store as `_name`; array elements have no label.
        let label = child.label.map { $0.hasPrefix("_") ? String($0.dropFirst()) : $0 } ?? String(index)
        let name = value is TransparentLayerContainer ? String(prefix.dropLast()) : prefix + label
        switch child.value {
        case let parameter as Parameter<Scalar>:
            if seen.insert(ObjectIdentifier(parameter)).inserted {
                found.append(NamedParameter(name: name, parameter: parameter))
            }
        case is Constant<Scalar>:
            continue
        case is Tensor<Scalar>:
            fatalError("""
                parameters: \(type(of: value)).\(label) is a Tensor that is not marked: \
                write @Parameter to train it, or @Constant to keep it fixed
                """)
        default:
            let childMirror = Mirror(reflecting: child.value)
            if child.value is any Layer || childMirror.displayStyle == .collection
                || childMirror.displayStyle == .optional {
                let childPrefix = childMirror.displayStyle == .optional ? prefix : (name.isEmpty ? "" : name + ".")
                collectParameters(of: child.value, prefix: childPrefix,
                                  into: &found, seen: &seen)
            }
        }
    }
}
