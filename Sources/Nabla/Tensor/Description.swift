extension Tensor: CustomStringConvertible {
    /// The shape and the values, nested by dimension; long dimensions show their first and last
    /// three entries around an ellipsis.
    public var description: String {
        let values = scalars
        return "Tensor<\(Scalar.typeName)> \(shape)\n" + nestedDescription(shape: shape) { "\(values[$0])" }
    }
}

/// Elements of `shape` in brackets nested by dimension, `element(i)` writing the i-th in row-major
/// order; a dimension longer than six shows its first and last three entries around an ellipsis.
func nestedDescription(shape: [Int], element: (Int) -> String) -> String {
    func format(axis: Int, offset: Int, indent: Int) -> String {
        let length = shape[axis]
        let stride = shape[(axis + 1)...].reduce(1, *)
        let shown: [Int?] = length > 6 ? [0, 1, 2, nil, length - 3, length - 2, length - 1] : (0..<length).map { $0 }
        if axis == shape.count - 1 {
            return "[" + shown.map { i in i.map { element(offset + $0) } ?? "..." }.joined(separator: ", ") + "]"
        }
        let separator = ",\n" + String(repeating: " ", count: indent + 1)
        let items = shown.map { i in
            i.map { format(axis: axis + 1, offset: offset + $0 * stride, indent: indent + 1) } ?? "..."
        }
        return "[" + items.joined(separator: separator) + "]"
    }
    return shape.isEmpty ? element(0) : format(axis: 0, offset: 0, indent: 0)
}

extension Tensor: CustomDebugStringConvertible {
    /// Like ``description``, noting whether the tensor is being differentiated.
    public var debugDescription: String {
        description + (isTracked ? "\n(tracked for differentiation)" : "")
    }
}
