import Foundation
import Nabla
import Testing

/// A program of `Tests/Fixtures/vocabulary_fixtures.json` (`make_vocabulary_fixtures.py` writes
/// it): inputs, instructions, and PyTorch's float64 output and gradients.
struct VocabularyProgram: Sendable, CustomTestStringConvertible {
    /// A tensor's shape and elements (tensors are not `Sendable`: each test makes its own).
    struct Values: Sendable {
        let shape: [Int]
        let values: [Double]
        var tensor: Tensor<Double> { Tensor(values, shape: shape) }
    }
    let name: String
    let inputs: [Values]
    let instructions: [Instruction]
    let output: Values
    let upstream: [Double]
    let gradients: [[Double]]

    /// One op applied to registers; its result is the next register.
    struct Instruction: @unchecked Sendable {
        let op: String
        let arguments: [Int]
        /// The op's settings, as JSON gave them.
        let settings: [String: Any]

        func int(_ key: String) -> Int { settings[key] as! Int }
        func ints(_ key: String) -> [Int] { settings[key] as! [Int] }
        func double(_ key: String) -> Double { (settings[key] as! NSNumber).doubleValue }
        func bool(_ key: String) -> Bool { settings[key] as! Bool }
        func indices(_ key: String) -> Tensor<Double> {
            let table = settings[key] as! [String: Any]
            return Tensor(indices: table["values"] as! [Int], shape: table["shape"] as! [Int])
        }
    }

    var testDescription: String { name }

    /// Runs the program in Nabla.
    func run(_ inputs: [Tensor<Double>]) -> Tensor<Double> {
        var r = inputs
        for instruction in instructions {
            let a = instruction.arguments.map { r[$0] }
            let s = instruction
            let result: Tensor<Double>
            switch instruction.op {
            case "add": result = a[0] + a[1]
            case "subtract": result = a[0] - a[1]
            case "multiply": result = a[0] * a[1]
            case "dividePositive": result = a[0] / (a[1] * a[1] + 1)
            case "maximum": result = maximum(a[0], a[1])
            case "minimum": result = minimum(a[0], a[1])
            case "where": result = Tensor.where(a[0] .> 0, a[1], a[2])
            case "greaterMask": result = (a[0] .> a[1]) * a[2]
            case "clamp": result = a[0].clamped(min: s.double("min"), max: s.double("max"))
            case "matmul": result = matmul(a[0], a[1], transposingA: s.bool("transposeA"), transposingB: s.bool("transposeB"))
            case "permute": result = a[0].permuted(s.ints("axes"))
            case "transpose": result = a[0].transposed(s.ints("axes")[0], s.ints("axes")[1])
            case "reshape": result = a[0].reshaped(to: s.ints("shape"))
            case "sum": result = a[0].sum(alongAxes: s.ints("axes"), keepingDimensions: s.bool("keep"))
            case "mean": result = a[0].mean(alongAxes: s.ints("axes"), keepingDimensions: s.bool("keep"))
            case "variance":
                result = a[0].variance(alongAxes: s.ints("axes"), keepingDimensions: s.bool("keep"), correction: s.int("correction"))
            case "softmax": result = softmax(a[0], alongAxis: s.int("axis"))
            case "logSoftmax": result = logSoftmax(a[0], alongAxis: s.int("axis"))
            case "causalSoftmax": result = softmax(a[0].filled(where: .causalMask(size: a[0].shape.last!), with: -.infinity))
            case "gather": result = a[0].gathering(s.indices("indices"), alongAxis: s.int("axis"))
            case "concatenate": result = Tensor(concatenating: a, alongAxis: s.int("axis"))
            case "stack": result = Tensor(stacking: a, alongAxis: s.int("axis"))
            case "split": result = a[0].split(sizes: s.ints("sizes"), alongAxis: s.int("axis"))[s.int("piece")]
            case "chunk": result = a[0].chunked(into: s.int("count"), alongAxis: s.int("axis"))[s.int("piece")]
            case "exp": result = exp(a[0])
            case "tanh": result = tanh(a[0])
            case "sigmoid": result = sigmoid(a[0])
            case "relu": result = relu(a[0])
            case "crossEntropy": result = SoftmaxCrossEntropyLoss()(a[0], s.indices("labels"))
            default: fatalError("vocabulary fixtures: unknown op \(instruction.op)")
            }
            r.append(result)
        }
        return r.last!
    }
}

let vocabularyPrograms: [VocabularyProgram] = {
    let file = fixtureFile("vocabulary_fixtures.json")
    guard let data = try? Data(contentsOf: file),
          let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let cases = root["cases"] as? [[String: Any]] else {
        fatalError("cannot read the PyTorch fixtures at \(file.path)")
    }
    func tensor(_ value: Any) -> VocabularyProgram.Values {
        let table = value as! [String: Any]
        return .init(shape: table["shape"] as! [Int], values: (table["values"] as! [NSNumber]).map(\.doubleValue))
    }
    return cases.map { c in
        VocabularyProgram(
            name: c["name"] as! String,
            inputs: (c["inputs"] as! [Any]).map(tensor),
            instructions: (c["program"] as! [[String: Any]]).map {
                .init(op: $0["op"] as! String, arguments: $0["args"] as! [Int], settings: $0["p"] as! [String: Any])
            },
            output: tensor(c["output"]!),
            upstream: (c["upstream"] as! [NSNumber]).map(\.doubleValue),
            gradients: (c["gradients"] as! [[NSNumber]]).map { $0.map(\.doubleValue) })
    }
}()

@Suite struct VocabularyFixtureTests {
    /// Whether `actual` is within rtol 1e-9 of `expected` (and 1e-12 absolute, for zeros).
    func expectClose(_ actual: [Double], _ expected: [Double], _ what: String, _ program: VocabularyProgram) {
        #expect(actual.count == expected.count, "\(program.name): \(what) has \(actual.count) values, PyTorch \(expected.count)")
        let outside = { (i: Int) -> Bool in
            let bound: Double = 1e-12 + 1e-9 * Swift.abs(expected[i])
            return Swift.abs(actual[i] - expected[i]) > bound
        }
        if let i = actual.indices.first(where: { $0 < expected.count && outside($0) }) {
            Issue.record("\(program.name): \(what) element \(i) is \(actual[i]), PyTorch \(expected[i])")
        }
    }

    /// Each program's output and its gradient with respect to every input, against PyTorch's in
    /// float64: the 11 named cases and 200 programs drawn at random over the N-D ops.
    @Test(arguments: vocabularyPrograms)
    func matchesPyTorch(_ program: VocabularyProgram) {
        let (output, pullback) = valueWithPullback(at: program.inputs.map(\.tensor), in: program.run)
        #expect(output.shape == program.output.shape, "\(program.name): shape \(output.shape), PyTorch \(program.output.shape)")
        expectClose(output.scalars, program.output.values, "the output", program)
        let gradients = pullback(Tensor(program.upstream, shape: output.shape))
        for (index, expected) in program.gradients.enumerated() {
            expectClose(gradients[index].scalars, expected, "the gradient of input \(index)", program)
        }
    }
}
