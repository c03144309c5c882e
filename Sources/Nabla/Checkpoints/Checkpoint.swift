extension Layer {
    /// Saves the model's parameters as a safetensors file, named as in ``parameters`` (`0.weight`,
    /// …). The write is atomic: a temporary file, then a rename.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        let values = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.parameter.wrappedValue) })
        try SafeTensors(values, metadata: metadata).write(to: path)
    }

    /// Loads parameters saved by ``save(to:metadata:)`` (or by another tool, with the same names).
    ///
    /// Strict: a tensor the model lacks, a parameter the file lacks, or a shape that differs throws
    /// an error naming the tensor (and both shapes), and the model is left unchanged. Values stored
    /// in the other precision are converted.
    public func load(from path: String) throws {
        let file = try SafeTensors(contentsOf: path)
        let parameters = self.parameters
        let expected = Set(parameters.map(\.name))
        if let missing = parameters.first(where: { file.tensors[$0.name] == nil }) {
            throw DataError(file: path, "has no tensor \(missing.name) (shape \(missing.parameter.wrappedValue.shape)); it holds \(file.tensors.keys.sorted())")
        }
        if let extra = file.tensors.keys.sorted().first(where: { !expected.contains($0) }) {
            throw DataError(file: path, "has tensor \(extra) (shape \(file.tensors[extra]!.shape)), which the model does not; the model has \(parameters.map(\.name))")
        }
        for p in parameters where file.tensors[p.name]!.shape != p.parameter.wrappedValue.shape {
            throw DataError(file: path, "tensor \(p.name) has shape \(file.tensors[p.name]!.shape), the model's has \(p.parameter.wrappedValue.shape)")
        }
        for p in parameters { p.parameter.wrappedValue = file.tensors[p.name]!.tensor() }
    }
}
