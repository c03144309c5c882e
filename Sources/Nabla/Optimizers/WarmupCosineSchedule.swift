import Foundation

/// A learning rate for every iteration: a linear warmup to `peak`, then a cosine decay to
/// `floor`, which holds from then on — nanoGPT's `get_lr`, to the number:
///
///     lr(i) = peak·(i + 1)/(warmup + 1)                            for i < warmup
///     lr(i) = floor + ½(1 + cos(π·(i − warmup)/(decay − warmup)))·(peak − floor)   up to i = decay
///     lr(i) = floor                                                  after
///
/// Set it before each step; a replayed step reads the learning rate of the moment.
///
/// ```swift
/// let schedule = WarmupCosineSchedule(peak: 1e-3, floor: 1e-4, warmupIterations: 100, decayIterations: 2000)
/// for iteration in 0..<2000 {
///     optimizer.learningRate = Float(schedule(iteration))
///     stepper.step(batch, optimizer: &optimizer)
/// }
/// ```
public struct WarmupCosineSchedule: Sendable, Equatable {
    /// The learning rate at the end of the warmup.
    public let peak: Double
    /// The learning rate from `decayIterations` on.
    public let floor: Double
    /// How many iterations the warmup takes.
    public let warmupIterations: Int
    /// The iteration at which the decay reaches `floor`.
    public let decayIterations: Int

    /// Creates the schedule; the decay must end after the warmup does.
    public init(peak: Double, floor: Double = 0, warmupIterations: Int, decayIterations: Int) {
        check(peak >= 0 && floor >= 0 && floor <= peak, "WarmupCosineSchedule: need 0 ≤ floor \(floor) ≤ peak \(peak)")
        check(warmupIterations >= 0 && decayIterations > warmupIterations,
              "WarmupCosineSchedule: the decay's end \(decayIterations) must come after the warmup's \(warmupIterations)")
        (self.peak, self.floor, self.warmupIterations, self.decayIterations) = (peak, floor, warmupIterations, decayIterations)
    }

    /// The learning rate at `iteration` (counted from 0).
    public func callAsFunction(_ iteration: Int) -> Double {
        if iteration < warmupIterations { return peak * Double(iteration + 1) / Double(warmupIterations + 1) }
        if iteration > decayIterations { return floor }
        let progress = Double(iteration - warmupIterations) / Double(decayIterations - warmupIterations)
        return floor + 0.5 * (1 + cos(Double.pi * progress)) * (peak - floor)
    }
}
