// A GPT's parameters under nanoGPT's names, so that a state dict saved by PyTorch (as
// safetensors) loads into Nabla's model and Nabla's saves into PyTorch's.

extension GPT {
    /// nanoGPT's name (`transformer.h.0.attn.c_attn.weight`) for each of this model's parameter
    /// names (`blocks.0.attention.queryKeyValue.weight`). The tied output projection has no name of
    /// its own here; nanoGPT's state dict also lists it as `lm_head.weight`.
    public static func nanoGPTName(for name: String) -> String {
        let parts = name.split(separator: ".").map(String.init)
        let renamed: [String: String] = [
            "tokenEmbedding": "transformer.wte", "positionEmbedding": "transformer.wpe", "finalNorm": "transformer.ln_f",
            "norm1": "ln_1", "norm2": "ln_2", "attention": "attn", "queryKeyValue": "c_attn", "output": "c_proj",
            "expand": "mlp.c_fc", "project": "mlp.c_proj", "blocks": "transformer.h",
        ]
        return parts.map { renamed[$0] ?? $0 }.joined(separator: ".")
    }

    /// The model's parameters as a state dict under nanoGPT's names, `lm_head.weight` included
    /// (equal to the token embedding: PyTorch's `load_state_dict` expects both).
    public var nanoGPTStateDict: [String: Tensor<Scalar>] {
        var values = Dictionary(uniqueKeysWithValues: parameters.map { (Self.nanoGPTName(for: $0.name), $0.parameter.wrappedValue) })
        values["lm_head.weight"] = tokenEmbedding.weight
        return values
    }

    /// Loads a state dict saved under nanoGPT's names (the checks of
    /// ``load(_:from:weightsOnly:allowingNonFinite:)`` apply; the model's states are left as they
    /// are). Its `lm_head.weight`, if present, must equal the token embedding — a model trained
    /// without weight tying is not this model, and is refused rather than half loaded.
    public func loadNanoGPT(_ file: SafeTensors, from path: String) throws {
        var file = file
        if let head = file.tensors.removeValue(forKey: "lm_head.weight") {
            guard let embedding = file.tensors["transformer.wte.weight"],
                  head.tensor(as: Scalar.self) == embedding.tensor(as: Scalar.self) else {
                throw DataError(file: path, "lm_head.weight differs from transformer.wte.weight: the model was not trained with tied weights")
            }
        }
        let names = Dictionary(uniqueKeysWithValues: parameters.map { (Self.nanoGPTName(for: $0.name), $0.name) })
        // nanoGPT keeps no layer state (dropout's mask counts): the model's own stay as they are.
        var renamed = SafeTensors(Dictionary(uniqueKeysWithValues: states.map { ($0.name, $0.state.wrappedValue) }), metadata: file.metadata)
        for (name, tensor) in file.tensors {
            // A name that is not nanoGPT's is kept, to be reported by the load as a tensor the model lacks.
            renamed.tensors[names[name] ?? name] = tensor
        }
        try load(renamed, from: path)
    }
}
