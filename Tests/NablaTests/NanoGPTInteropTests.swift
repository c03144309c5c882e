import Foundation
import Nabla
import Testing

@Suite struct NanoGPTInteropTests {
    static func gpt(seed: UInt64, bias: Bool = false) -> GPT<Float> {
        var rng = SeededGenerator(seed: seed)
        return GPT(GPTConfiguration(vocabularySize: 7, contextLength: 5, layers: 2, heads: 2, width: 4, bias: bias), using: &rng)
    }

    /// The state dict's keys are nanoGPT's (model.py's module names, bias=False), lm_head included.
    @Test func stateDictHasNanoGPTsNames() {
        var expected: Set<String> = ["transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight", "lm_head.weight"]
        for i in 0..<2 {
            for name in ["ln_1.weight", "attn.c_attn.weight", "attn.c_proj.weight", "ln_2.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"] {
                expected.insert("transformer.h.\(i).\(name)")
            }
        }
        let stateDict = Self.gpt(seed: 1).nanoGPTStateDict
        #expect(Set(stateDict.keys) == expected)
        #expect(stateDict["transformer.h.1.attn.c_attn.weight"]?.shape == [12, 4])
        #expect(Set(Self.gpt(seed: 1, bias: true).nanoGPTStateDict.keys).contains("transformer.h.0.mlp.c_fc.bias"))
    }

    @Test func aStateDictRoundTrips() throws {
        let (source, target) = (Self.gpt(seed: 1), Self.gpt(seed: 2))
        #expect(source.parameterValues != target.parameterValues)
        try target.loadNanoGPT(SafeTensors(source.nanoGPTStateDict), from: "state.safetensors")
        #expect(source.parameterValues == target.parameterValues)
        let ids = Tensor<Float>(indices: [1, 2, 3, 4, 0, 6], shape: [2, 3])
        #expect(source(ids) == target(ids))
    }

    @Test func anUntiedHeadOrAForeignTensorIsRefused() throws {
        let target = Self.gpt(seed: 2)
        let before = target.parameterValues
        var untied = Self.gpt(seed: 1).nanoGPTStateDict
        untied["lm_head.weight"] = untied["lm_head.weight"]! * 2
        #expect { try target.loadNanoGPT(SafeTensors(untied), from: "untied.safetensors") } throws: {
            "\($0)" == "untied.safetensors: lm_head.weight differs from transformer.wte.weight: the model was not trained with tied weights"
        }
        var extra = Self.gpt(seed: 1).nanoGPTStateDict
        extra["transformer.h.2.ln_1.weight"] = Tensor(ones: [4])
        #expect { try target.loadNanoGPT(SafeTensors(extra), from: "deeper.safetensors") } throws: {
            "\($0)".hasPrefix("deeper.safetensors: has tensor transformer.h.2.ln_1.weight (shape [4]), which the model does not")
        }
        #expect(target.parameterValues == before, "a refused load changed the model")
    }
}
