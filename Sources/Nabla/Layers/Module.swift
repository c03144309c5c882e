/// Anything with trainable parameters: a layer, a model made of layers, a cell that takes
/// several tensors, or a plain struct that groups them.
///
/// A module declares its parameters and nothing else: `@Parameter` properties, found by
/// reflection in the module's stored properties — directly, in nested modules and plain structs,
/// in arrays, optionals, dictionaries (by key) and tuples — and named by their path. Its forward
/// pass is whatever `callAsFunction` it declares, with any number of tensors in and out:
///
/// ```swift
/// struct Cell: Module {
///     typealias Scalar = Float           // what a generic module's `<Scalar>` says
///     var input: Dense<Float>
///     var hidden: Dense<Float>
///     func callAsFunction(_ x: Tensor<Float>, _ h: Tensor<Float>) -> Tensor<Float> {
///         tanh(input(x) + hidden(h))
///     }
/// }
/// ```
///
/// Differentiation (``valueWithGradient(at:in:)->(Tensor<Model.Scalar>,_)``), a
/// ``TracedGradient``, optimizers and checkpoints all take any module. ``Layer`` is the module
/// with one tensor in and one out.
public protocol Module<Scalar> {
    /// The module's scalar type.
    associatedtype Scalar: TensorScalar

    /// Every trainable parameter, in declaration order, with stable names. The default finds
    /// them by reflection (see the extension); a module implements this only to answer faster,
    /// as ``Sequential`` does from a list it builds once.
    var parameters: [NamedParameter<Scalar>] { get }

    /// Every ``LayerState``, in declaration order, named like parameters. Found by reflection
    /// by default.
    var states: [NamedState<Scalar>] { get }

    /// What the module is, as a checkpoint records it: see ``ModuleDescription``. The default
    /// finds it by reflection; a module with settings its tensors' shapes cannot tell (a
    /// stride, a dropout probability) implements this with
    /// ``ModuleDescription/init(of:settings:)``, naming them.
    var moduleDescription: ModuleDescription { get }
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

extension Module {
    /// Every trainable parameter, in declaration order, with stable names.
    ///
    /// Found by reflection: `@Parameter` properties, and those of nested modules, plain structs,
    /// classes, enums' payloads, arrays, optionals, tuples and dictionaries, prefixed with the
    /// property name, array position, tuple label or position, or dictionary key (dictionaries in
    /// the order of their keys, so that names and order are the same in every run). A parameter
    /// reachable twice (shared weights) is listed once, under its first name. A stored `Tensor`
    /// that is neither `@Parameter` nor `@Constant` — or a parameter of the other scalar type —
    /// stops the program with its name: it would otherwise never be trained or saved.
    public var parameters: [NamedParameter<Scalar>] {
        var (found, visiting) = (Found<Scalar>(), Set<ObjectIdentifier>())
        collect(of: self, prefix: "", into: &found, visiting: &visiting)
        return uniqued(found.parameters) { $0.parameter }
    }

    /// Every ``LayerState``, found by reflection like ``Module/parameters``.
    public var states: [NamedState<Scalar>] {
        var (found, visiting) = (Found<Scalar>(), Set<ObjectIdentifier>())
        collect(of: self, prefix: "", into: &found, visiting: &visiting)
        return uniqued(found.states) { $0.state }
    }

    /// What the module is, found by reflection with no settings: its type, its tensors'
    /// shapes and its nested modules.
    public var moduleDescription: ModuleDescription { ModuleDescription(of: self) }

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
/// by name, nested modules through their own `parameters` and `states`.
private func collect<Scalar>(of value: Any, prefix: String, into found: inout Found<Scalar>,
                             visiting: inout Set<ObjectIdentifier>) {
    forEachStoredProperty(of: value, prefix: prefix, visiting: &visiting) { property in
        switch property.value {
        case let parameter as Parameter<Scalar>:
            found.parameters.append(NamedParameter(name: property.name, parameter: parameter))
        case let optional as OptionalParameter<Scalar>:
            if let parameter = optional.parameter { found.parameters.append(NamedParameter(name: property.name, parameter: parameter)) }
        case let state as LayerState<Scalar>:
            found.states.append(NamedState(name: property.name, state: state))
        case is Constant<Scalar>:
            break
        case is Tensor<Scalar>:
            fatalError("""
                parameters: \(property.owner).\(property.label) is a Tensor that is not marked: \
                write @Parameter to train it, @LayerState to keep it as state, or @Constant to keep it fixed
                """)
        case let other as any TensorWrapper:
            fatalError("""
                parameters: \(property.owner).\(property.label) is a \(type(of: other)) in a model of \(Scalar.typeName): \
                it would never be trained or saved
                """)
        case let module as any Module<Scalar>:
            found.parameters += module.parameters.map { NamedParameter(name: property.name + "." + $0.name, parameter: $0.parameter) }
            found.states += module.states.map { NamedState(name: property.name + "." + $0.name, state: $0.state) }
        default:
            return false
        }
        return true
    }
}

/// One stored property met by ``forEachStoredProperty(of:prefix:visiting:_:)``.
struct StoredProperty {
    /// The dotted path from the module the walk started at (`blocks.0.weight`).
    let name: String
    /// The property's own label, and the type that declares it (for messages).
    let label: String, owner: Any.Type
    /// Its value (for a property wrapper, the wrapper).
    let value: Any
}

/// Walks `value`'s stored properties, as a module's parameters are found: each is offered to
/// `take`, and one it does not take (returns false for) is looked through if it can hold more —
/// a struct, a class, an enum's payload, an array, an optional, a tuple, a dictionary — its
/// properties named with the property name, array position, tuple label or position, or
/// dictionary key (dictionaries in the order of their keys, so that names and order are the same
/// in every run). `visiting` holds the classes on the way down, so that a class that refers back
/// to itself ends the walk.
func forEachStoredProperty(of value: Any, prefix: String, visiting: inout Set<ObjectIdentifier>,
                           _ take: (StoredProperty) -> Bool) {
    let mirror = Mirror(reflecting: value)
    var children = Array(mirror.children)
    if mirror.displayStyle == .dictionary {
        // Entries come as (key, value) pairs in hash order, which changes from run to run.
        children = children.map { entry in
            let pair = Array(Mirror(reflecting: entry.value).children)
            return (label: String(describing: pair[0].value), value: pair[1].value)
        }.sorted { $0.label! < $1.label! }
    }
    for (index, child) in children.enumerated() {
        // Property wrappers store as `_name`, tuple elements as `.0`; array elements have no label.
        let label = child.label.map { $0.hasPrefix("_") || $0.hasPrefix(".") ? String($0.dropFirst()) : $0 } ?? String(index)
        if take(StoredProperty(name: prefix + label, label: label, owner: type(of: value), value: child.value)) { continue }
        let inner = Mirror(reflecting: child.value)
        switch inner.displayStyle {
        case .optional, .enum:
            forEachStoredProperty(of: child.value, prefix: prefix, visiting: &visiting, take)
        case .collection:
            // A collection of plain values (an array of numbers) holds no parameter: its first
            // element says so without walking the rest.
            if let first = inner.children.first, isPlainValue(first.value) { continue }
            forEachStoredProperty(of: child.value, prefix: prefix + label + ".", visiting: &visiting, take)
        case .class:
            let object = ObjectIdentifier(child.value as AnyObject)
            guard visiting.insert(object).inserted else { continue }
            forEachStoredProperty(of: child.value, prefix: prefix + label + ".", visiting: &visiting, take)
            visiting.remove(object)
        case .struct, .tuple, .dictionary:
            forEachStoredProperty(of: child.value, prefix: prefix + label + ".", visiting: &visiting, take)
        default:
            continue
        }
    }
}

/// Whether `value` is a number, a string or another value with nothing inside to look through.
private func isPlainValue(_ value: Any) -> Bool {
    let mirror = Mirror(reflecting: value)
    return mirror.children.isEmpty && mirror.displayStyle != .optional && !(value is any TensorWrapper)
}

/// A property wrapper around a tensor (``Parameter``, ``LayerState``, ``Constant``) of some scalar
/// type: what reflection recognises when the scalar type is not the model's.
protocol TensorWrapper {}
extension Parameter: TensorWrapper {}
extension OptionalParameter: TensorWrapper {}
extension LayerState: TensorWrapper {}
extension Constant: TensorWrapper {}

/// Keeps the first name of a parameter or state reachable twice (a layer applied twice).
func uniqued<Item>(_ items: [Item], by object: (Item) -> AnyObject) -> [Item] {
    var seen: Set<ObjectIdentifier> = []
    return items.filter { seen.insert(ObjectIdentifier(object($0))).inserted }
}
