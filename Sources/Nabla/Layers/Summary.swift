extension Layer {
    /// A table of the model's layers — for a ``Sequential``, each layer with the shape of its
    /// output and its number of parameters — and the total, found by running the model once on
    /// zeros of `inputShape` (one example, without the batch dimension) in inference mode.
    ///
    /// ```swift
    /// print(model.summary(inputShape: [1, 28, 28]))
    /// ```
    public func summary(inputShape: [Int]) -> String {
        let layers: [any Layer<Scalar>] = (self as? Sequential<Scalar>)?.layers ?? [self]
        var rows = [("layer", "output shape", "parameters")]
        var x = Tensor<Scalar>(zeros: [1] + inputShape)
        withLayerMode(.inference) {
            for (index, layer) in layers.enumerated() {
                x = layer(x)
                let name = String(String(describing: type(of: layer)).prefix { $0 != "<" })
                let shape = "[" + (["batch"] + x.shape.dropFirst().map(String.init)).joined(separator: ", ") + "]"
                rows.append(("\(index) \(name)", shape, String(layer.parameterCount)))
            }
        }
        let widths = [rows.map(\.0.count).max()!, rows.map(\.1.count).max()!, rows.map(\.2.count).max()!]
        let pad = { (text: String, width: Int) in text + String(repeating: " ", count: width - text.count) }
        var lines = rows.map { pad($0.0, widths[0]) + "  " + pad($0.1, widths[1]) + "  " + String(repeating: " ", count: widths[2] - $0.2.count) + $0.2 }
        lines.insert(String(repeating: "─", count: lines[0].count), at: 1)
        lines.append("total: \(parameterCount) parameters")
        return lines.joined(separator: "\n")
    }
}
