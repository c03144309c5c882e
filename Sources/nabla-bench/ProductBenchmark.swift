/// Matrix products on one thread at every shape that matters, Nabla's beside the reference BLAS's
/// (`--only products`): a large square, each product of a nanoGPT CPU iteration — forward
/// (`x·Wᵀ`), the input's gradient (`g·W`) and the weight's (`gᵀ·x`) for each projection, and a
/// head's two attention products — and the book's evaluation over 10,000 images.
enum ProductBenchmark {
    static func run(products: ProductSpeed, report: (String, Double, String, String) -> Void) throws {
        let rows = GPTBenchmark.batchSize * GPTBenchmark.configuration.contextLength
        let width = GPTBenchmark.configuration.width, context = GPTBenchmark.configuration.contextLength
        let headWidth = width / GPTBenchmark.configuration.heads
        try products.report("product_sgemm_1024", m: 1024, k: 1024, n: 1024, label: "[1024×1024]·[1024×1024]", to: report)
        for (name, inputs, outputs) in [("qkv", width, 3 * width), ("attention_out", width, width),
                                        ("expand", width, 4 * width), ("project", 4 * width, width)] {
            try products.report("product_gpt_\(name)_forward", m: rows, k: inputs, n: outputs, transposingB: true,
                                label: "GPT \(name): [\(rows)×\(inputs)]·[\(outputs)×\(inputs)]ᵀ", to: report)
            try products.report("product_gpt_\(name)_input_gradient", m: rows, k: outputs, n: inputs,
                                label: "  input gradient [\(rows)×\(outputs)]·[\(outputs)×\(inputs)]", to: report)
            try products.report("product_gpt_\(name)_weight_gradient", m: outputs, k: rows, n: inputs, transposingA: true,
                                label: "  weight gradient [\(rows)×\(outputs)]ᵀ·[\(rows)×\(inputs)]", to: report)
        }
        try products.report("product_gpt_attention_scores", m: context, k: headWidth, n: context, transposingB: true,
                            label: "GPT head: [\(context)×\(headWidth)]·[\(context)×\(headWidth)]ᵀ", to: report)
        try products.report("product_gpt_attention_values", m: context, k: context, n: headWidth,
                            label: "  [\(context)×\(context)]·[\(context)×\(headWidth)]", to: report)
        for (name, label, inputs, outputs) in [("chapter1_hidden", "ch. 1", 784, 30), ("chapter1_output", "ch. 1", 30, 10),
                                               ("chapter6_hidden", "ch. 6", 640, 100)] {
            try products.report("product_\(name)_evaluate", m: 10_000, k: inputs, n: outputs, transposingB: true,
                                label: "\(label) evaluation [10000×\(inputs)]·[\(outputs)×\(inputs)]ᵀ", to: report)
        }
    }
}
