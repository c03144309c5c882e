extension Tensor: CustomStringConvertible {
    /// The shape and the values, nested by dimension; long dimensions show their first and last
    /// three entries around an ellipsis.
    public var description: String {
        "Tensor<\(Scalar.typeName)> \(shape)\n" + format(axis: 0, offset: 0, indent: 0)
    }

    private func format(axis: Int, offset: Int, indent: Int) -> String {
        if rank == 0 { return "\(scalars[0])" }
        let length = shape[axis]
        let stride = shape[(axis + 1)...].reduce(1, *)
        let shown: [Int?] = length > 6 ? [0, 1, 2, nil, length - 3, length - 2, length - 1] : (0..<length).map { $0 }
        if axis == rank - 1 {
            let items = shown.map { i in i.map { "\(scalars[offset + $0])" } ?? "..." }
            return "[" + items.joined(separator: ", ") + "]"
        }
        let separator = ",\n" + String(repeating: " ", count: indent + 1)
        let items = shown.map { i in
            i.map { format(axis: axis + 1, offset: offset + $0 * stride, indent: indent + 1) } ?? "..."
        }
        return "[" + items.joined(separator: separator) + "]"
    }
}

extension Tensor: CustomDebugStringConvertible {
    /// Like ``description``, noting whether the tensor is being differentiated.
    public var debugDescription: String {
        description + (isTracked ? "\n(tracked for differentiation)" : "")
    }
}
