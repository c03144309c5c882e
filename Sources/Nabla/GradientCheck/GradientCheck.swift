/// Compares the gradients Nabla computes for `body` with central finite differences, in Double.
///
/// By default every element of the Jacobian is checked: each output element's pullback against
/// perturbing each input element by ±`epsilon`. An element passes when
/// |analytic − numeric| ≤ `absoluteTolerance` + `relativeTolerance`·|numeric|; the defaults are
/// PyTorch's `gradcheck` defaults (ε 1e-6, atol 1e-5, rtol 1e-3).
///
/// For large inputs pass `directions:`: instead of the full Jacobian it checks that many
/// directional derivatives uᵀJv along seeded random directions u and v, which costs two
/// evaluations and one pullback each.
///
/// It also runs one backward pass twice and requires bit-identical gradients.
///
/// ```swift
/// let report = checkGradients(at: [x, w]) { t in sigmoid(matmul(t[0], t[1])).sum() }
/// #expect(report.passed, "\(report)")
/// ```
///
/// - Parameters:
///   - inputs: The points to check at; `body` receives them in this order.
///   - names: How the report names each input (default `input 0`, `input 1`, …).
///   - epsilon: The step of the central difference.
///   - absoluteTolerance: atol in |analytic − numeric| ≤ atol + rtol·|numeric|.
///   - relativeTolerance: rtol in the same bound.
///   - directions: If given, check this many random directional derivatives instead of the
///     full Jacobian.
///   - seed: Seeds the random directions and the reproducibility check's upstream gradient.
///   - body: The function to check; it may return any shape.
/// - Returns: The comparison, with every mismatch named.
public func checkGradients(
    at inputs: [Tensor<Double>],
    names: [String]? = nil,
    epsilon: Double = 1e-6,
    absoluteTolerance: Double = 1e-5,
    relativeTolerance: Double = 1e-3,
    directions: Int? = nil,
    seed: UInt64 = 0,
    of body: ([Tensor<Double>]) -> Tensor<Double>
) -> GradientCheckReport {
    let names = names ?? inputs.indices.map { "input \($0)" }
    check(names.count == inputs.count, "checkGradients: \(names.count) names for \(inputs.count) inputs")
    return withoutActuallyEscaping(body) { body in
        let checker = GradientChecker(
            inputs: inputs, names: names, body: body, epsilon: epsilon,
            absoluteTolerance: absoluteTolerance, relativeTolerance: relativeTolerance)
        var rng = SeededGenerator(seed: seed)
        if let directions {
            return checker.checkDirections(count: directions, using: &rng)
        }
        return checker.checkFullJacobian(using: &rng)
    }
}

/// The outcome of ``checkGradients(at:names:epsilon:absoluteTolerance:relativeTolerance:directions:seed:of:)``.
public struct GradientCheckReport: CustomStringConvertible, Sendable {
    /// One compared value that fell outside the tolerance.
    public struct Mismatch: Sendable, CustomStringConvertible {
        /// The input's name.
        public let input: String
        /// The element's multi-index in that input, or, in directional mode, nil.
        public let element: [Int]?
        /// The output element (flat index) whose gradient this was; nil in directional mode.
        public let outputElement: Int?
        /// The direction number, in directional mode.
        public let direction: Int?
        /// The gradient from the reverse pass.
        public let analytic: Double
        /// The central finite difference.
        public let numeric: Double

        /// Where the mismatch is and the two values.
        public var description: String {
            let place = direction.map { "direction \($0)" }
                ?? "\(input) element \(element ?? []) (output element \(outputElement ?? 0))"
            return "\(place): analytic \(analytic), numeric \(numeric), difference \(abs(analytic - numeric))"
        }
    }

    /// True when every compared value is within tolerance and the backward pass is reproducible.
    public var passed: Bool { mismatches.isEmpty && isReproducible }
    /// How many values were compared.
    public let comparisons: Int
    /// The largest |analytic − numeric| / max(|analytic|, |numeric|) seen (0 where both are 0).
    public let worstRelativeError: Double
    /// Where the worst relative error occurred.
    public let worstPlace: String
    /// The values outside tolerance (at most 20 kept).
    public let mismatches: [Mismatch]
    /// Whether two runs of the same backward pass gave bit-identical gradients.
    public let isReproducible: Bool

    /// A summary, and each mismatch on its own line.
    public var description: String {
        var lines = ["gradient check \(passed ? "passed" : "FAILED"): \(comparisons) values compared, "
            + "worst relative error \(worstRelativeError) at \(worstPlace)"]
        if !isReproducible { lines.append("the same backward pass gave different gradients when run twice") }
        lines += mismatches.map { "  mismatch: \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// The bookkeeping behind `checkGradients`.
private struct GradientChecker {
    let inputs: [Tensor<Double>]
    let names: [String]
    let body: ([Tensor<Double>]) -> Tensor<Double>
    let epsilon, absoluteTolerance, relativeTolerance: Double

    /// Accumulates comparisons into a report.
    struct Tally {
        var comparisons = 0
        var worst = 0.0
        var worstPlace = "nowhere"
        var mismatches: [GradientCheckReport.Mismatch] = []

        mutating func compare(_ analytic: Double, _ numeric: Double, tolerance: (Double, Double),
                              mismatch: @autoclosure () -> GradientCheckReport.Mismatch) {
            comparisons += 1
            let difference = abs(analytic - numeric)
            let scale = max(abs(analytic), abs(numeric))
            let relative = scale == 0 ? 0 : difference / scale
            let ok = difference <= tolerance.0 + tolerance.1 * abs(numeric)
            if relative > worst || (!ok && mismatches.isEmpty) {
                worst = max(worst, relative)
                worstPlace = mismatch().description
            }
            if !ok && mismatches.count < 20 { mismatches.append(mismatch()) }
        }
    }

    var tolerance: (Double, Double) { (absoluteTolerance, relativeTolerance) }

    /// The function's value with input `i` replaced.
    func evaluate(replacing i: Int, with replacement: Tensor<Double>) -> Tensor<Double> {
        var perturbed = inputs
        perturbed[i] = replacement
        return body(perturbed)
    }

    func checkFullJacobian(using rng: inout SeededGenerator) -> GradientCheckReport {
        let (value, pullback) = valueWithPullback(at: inputs, in: body)
        // Row o of the Jacobian, for every input: the pullback of the o-th unit vector.
        let rows: [[Tensor<Double>]] = (0..<value.count).map { o in
            var unit = [Double](repeating: 0, count: value.count)
            unit[o] = 1
            return pullback(Tensor(unit, shape: value.shape))
        }
        var tally = Tally()
        for (i, input) in inputs.enumerated() {
            for j in 0..<input.count {
                var plus = input.scalars, minus = input.scalars
                plus[j] += epsilon
                minus[j] -= epsilon
                let fPlus = evaluate(replacing: i, with: Tensor(plus, shape: input.shape))
                let fMinus = evaluate(replacing: i, with: Tensor(minus, shape: input.shape))
                for o in 0..<value.count {
                    let numeric = (fPlus.scalars[o] - fMinus.scalars[o]) / (2 * epsilon)
                    let analytic = rows[o][i].scalars[j]
                    tally.compare(analytic, numeric, tolerance: tolerance, mismatch: .init(
                        input: names[i], element: multiIndex(j, in: input.shape), outputElement: o,
                        direction: nil, analytic: analytic, numeric: numeric))
                }
            }
        }
        return report(tally, reproducible: isReproducible(pullback, outputShape: value.shape, using: &rng))
    }

    func checkDirections(count: Int, using rng: inout SeededGenerator) -> GradientCheckReport {
        let (value, pullback) = valueWithPullback(at: inputs, in: body)
        var tally = Tally()
        for d in 0..<count {
            let u = Tensor<Double>(randomNormal: value.shape, using: &rng)
            let v = inputs.map { Tensor<Double>(randomNormal: $0.shape, using: &rng) }
            let grads = pullback(u)
            let analytic = zip(grads, v).reduce(0.0) { $0 + dot($1.0.scalars, $1.1.scalars) }
            let fPlus = body(zip(inputs, v).map { $0 + $1 * epsilon })
            let fMinus = body(zip(inputs, v).map { $0 - $1 * epsilon })
            let numeric = dot(u.scalars, (fPlus - fMinus).scalars) / (2 * epsilon)
            tally.compare(analytic, numeric, tolerance: tolerance, mismatch: .init(
                input: names.joined(separator: ", "), element: nil, outputElement: nil,
                direction: d, analytic: analytic, numeric: numeric))
        }
        return report(tally, reproducible: isReproducible(pullback, outputShape: value.shape, using: &rng))
    }

    /// Runs one backward pass twice with the same random upstream gradient.
    func isReproducible(_ pullback: (Tensor<Double>) -> [Tensor<Double>], outputShape: [Int],
                        using rng: inout SeededGenerator) -> Bool {
        let upstream = Tensor<Double>(randomNormal: outputShape, using: &rng)
        return pullback(upstream) == pullback(upstream)
    }

    func report(_ tally: Tally, reproducible: Bool) -> GradientCheckReport {
        GradientCheckReport(comparisons: tally.comparisons, worstRelativeError: tally.worst,
                            worstPlace: tally.worstPlace, mismatches: tally.mismatches,
                            isReproducible: reproducible)
    }
}

private func dot(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
}

/// The multi-index of flat offset `offset` in `shape` (row-major).
func multiIndex(_ offset: Int, in shape: [Int]) -> [Int] {
    var rest = offset
    var index = [Int](repeating: 0, count: shape.count)
    for axis in shape.indices.reversed() where shape[axis] > 0 {
        index[axis] = rest % shape[axis]
        rest /= shape[axis]
    }
    return index
}

/// Checks a layer's real forward pass: the gradient of `layer(input)` with respect to the input
/// and to every parameter, against central finite differences, in Double.
///
/// The parameters are perturbed through values standing in for them, never by changing the
/// layer, so the layer is left as it was. Tolerances and modes are those of
/// ``checkGradients(at:names:epsilon:absoluteTolerance:relativeTolerance:directions:seed:of:)``;
/// the report names the input `input` and each parameter by its name (`weight`, `0.bias`, …).
/// A layer whose input is indices (an ``Embedding``, a language model's token ids) has no
/// gradient in it: pass `differentiatingInput: false` to check the parameters only.
///
/// ```swift
/// let report = checkGradients(of: Dense<Double>(inputSize: 4, outputSize: 3, using: &rng), at: x)
/// #expect(report.passed, "\(report)")
/// ```
public func checkGradients<L: Layer>(
    of layer: L, at input: Tensor<Double>, differentiatingInput: Bool = true,
    epsilon: Double = 1e-6, absoluteTolerance: Double = 1e-5, relativeTolerance: Double = 1e-3,
    directions: Int? = nil, seed: UInt64 = 0
) -> GradientCheckReport where L.Scalar == Double {
    let parameters = layer.parameters
    let inputs = differentiatingInput ? [input] : []
    return checkGradients(
        at: inputs + parameters.map { $0.parameter.wrappedValue },
        names: (differentiatingInput ? ["input"] : []) + parameters.map { $0.name },
        epsilon: epsilon, absoluteTolerance: absoluteTolerance, relativeTolerance: relativeTolerance,
        directions: directions, seed: seed
    ) { values in
        Substitution(parameters, Array(values.dropFirst(inputs.count))).during { layer(differentiatingInput ? values[0] : input) }
    }
}

/// Checks gradients of gradients — the double backward — against finite differences, in Double.
///
/// The function checked is x ↦ ∇ₓ Σ(body(x)·w) for a seeded random w of the output's shape (the
/// gradient of every input, flattened and joined), computed with
/// ``valueWithGradient(at:creatingGraph:in:)-([Tensor<Scalar>],_,_)``; its own Jacobian (a
/// Hessian, for a scalar body) comes from differentiating that recorded reverse pass, and is
/// compared with central differences of first-order gradients, as
/// ``checkGradients(at:names:epsilon:absoluteTolerance:relativeTolerance:directions:seed:of:)``
/// compares first derivatives.
///
/// ```swift
/// let report = checkSecondOrderGradients(at: [x]) { t in tanh(t[0]).squared().sum() }
/// #expect(report.passed, "\(report)")
/// ```
public func checkSecondOrderGradients(
    at inputs: [Tensor<Double>],
    names: [String]? = nil,
    epsilon: Double = 1e-6,
    absoluteTolerance: Double = 1e-5,
    relativeTolerance: Double = 1e-3,
    directions: Int? = nil,
    seed: UInt64 = 0,
    of body: ([Tensor<Double>]) -> Tensor<Double>
) -> GradientCheckReport {
    var rng = SeededGenerator(seed: seed &+ 0x5eed)
    let weights = Tensor<Double>(randomNormal: body(inputs).shape, using: &rng)
    return checkGradients(at: inputs, names: names, epsilon: epsilon, absoluteTolerance: absoluteTolerance,
                          relativeTolerance: relativeTolerance, directions: directions, seed: seed) { x in
        let gradients = valueWithGradient(at: x, creatingGraph: true) { (body($0) * weights).sum() }.gradients
        return Tensor(concatenating: gradients.map { $0.reshaped(to: [-1]) })
    }
}
