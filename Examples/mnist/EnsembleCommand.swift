import ArgumentParser
import ExampleSupport
import Foundation
import Nabla
import NablaData

/// `Examples/mnist ensemble --network chapter6-dropout --count 5`: the book's last result, the
/// plurality vote of several networks trained alike from different seeds.
struct EnsembleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ensemble",
        abstract: "Train several networks (seeds 1, 2, …) and report each one's test accuracy and their vote's.",
        discussion: "Each network trains as `train --network NAME --seed S` would; the other train options apply to all.")

    @Option(parsing: .unconditional, help: "How many networks.")
    var count = 5

    @Option(help: "Keep each trained network in this directory, as NAME-seed-S.safetensors, and use a network already there instead of training it again: a long ensemble can be stopped and resumed.")
    var members: String?

    @Option(parsing: .unconditional, help: "How many networks train at once, each on one thread (default: one per core). 1 trains them one after another, each on all cores.")
    var jobs: Int?

    @OptionGroup var train: Train

    mutating func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive, got \(count)") }
        if let jobs, jobs <= 0 { throw ValidationError("--jobs must be positive, got \(jobs)") }
    }

    /// One network of the ensemble: how to train it (or load it, with no epochs to train).
    struct Member: Sendable {
        let seed: UInt64
        let options: Train
        let recipe: Recipe
    }

    func run() async throws {
        let mnist: MNIST
        do {
            mnist = try await loadMNIST(explicit: train.data)
        } catch let error as DataError {
            throw failure(error.description)
        }
        let recipe = train.recipe
        let test = mnist.test.dataset(as: Float.self, imageShape: recipe.imageShape,
                                      labels: recipe.loss == .logLikelihood ? .classIndices : .oneHot)
        if let members {
            do {
                try FileManager.default.createDirectory(atPath: members, withIntermediateDirectories: true)
            } catch {
                throw failure("cannot create the directory \(members) for the ensemble's networks: \(error.localizedDescription)")
            }
        }
        let plan = (train.seed ..< train.seed + UInt64(count)).map { seed in
            var options = train
            options.seed = seed
            var memberRecipe = recipe
            if let members {
                let path = "\(members)/\(train.network.rawValue)-seed-\(seed).safetensors"
                if FileManager.default.fileExists(atPath: path) {
                    // Trained by an earlier run: load it and only evaluate it.
                    options.load = path
                    memberRecipe.epochs = 0
                } else {
                    options.save = path
                }
            }
            return Member(seed: seed, options: options, recipe: memberRecipe)
        }
        let training = plan.filter { $0.recipe.epochs > 0 }.count
        let jobs = min(self.jobs ?? ProcessInfo.processInfo.activeProcessorCount, training)
        let networks: [Sequential<Float>]
        do {
            networks = jobs > 1 ? try await Self.train(plan, jobs: jobs, on: mnist) : try plan.map { member in
                do { return try member.options.train(member.recipe, on: mnist) }
                catch { throw MemberFailure(seed: member.seed, underlying: error) }
            }
        } catch let error as MemberFailure {
            throw failure("\(error.underlying) (network with seed \(error.seed))")
        }
        let ensemble = Ensemble(members: networks)
        let (answers, truth) = ensemble.predictions(on: test)
        for (index, member) in answers.enumerated() {
            let correct = zip(member, truth).filter { $0 == $1 }.count
            print("Network \(index + 1) (seed \(train.seed + UInt64(index))): \(correct) / \(truth.count) test images")
        }
        let votes = Ensemble<Float>.pluralityVote(answers)
        let correct = zip(votes, truth).filter { $0 == $1 }.count
        print("The vote of \(count): \(correct) / \(truth.count) (" + String(format: "%.2f%%", 100 * Double(correct) / Double(truth.count)) + ")")
    }

    /// A member's training failed: which one, and why.
    struct MemberFailure: Error {
        let seed: UInt64
        let underlying: any Error
    }

    /// Trains the members `jobs` at a time, each on a thread of its own that takes the next member
    /// when it is done, with the kernels kept to one thread apiece (`KernelThreads`): a network of
    /// the book at a mini-batch of 10 gains little from a second core, which a second network puts
    /// to better use (Docs/Chapter6.md has the figures). Each network is the one `train --seed S`
    /// gives, to the bit. Their lines are led by their seeds; after a failure no new member starts.
    static func train(_ plan: [Member], jobs: Int, on mnist: MNIST) async throws -> [Sequential<Float>] {
        let results = Results(count: plan.count)
        let group = DispatchGroup()
        KernelThreads.count = 1
        defer { KernelThreads.count = 0 }
        for _ in 0 ..< jobs {
            group.enter()
            Thread {
                while let index = results.next() {
                    let member = plan[index]
                    do {
                        let network = try member.options.train(member.recipe, on: mnist, output: .lines(prefix: "seed \(member.seed): "))
                        results.finish(index, with: .success(network))
                    } catch {
                        results.finish(index, with: .failure(MemberFailure(seed: member.seed, underlying: error)))
                    }
                }
                group.leave()
            }.start()
        }
        await withCheckedContinuation { done in group.notify(queue: .global()) { done.resume() } }
        return try results.networks()
    }

    /// The members' results as their threads finish them, and which member is next: shared by
    /// the threads, behind a lock.
    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var outcomes: [Result<Sequential<Float>, MemberFailure>?]
        private var nextIndex = 0

        init(count: Int) { outcomes = Array(repeating: nil, count: count) }

        /// The next member to train, if any is left and none has failed.
        func next() -> Int? {
            lock.withLock {
                guard nextIndex < outcomes.count, !outcomes.contains(where: { if case .failure = $0 { true } else { false } })
                else { return nil }
                defer { nextIndex += 1 }
                return nextIndex
            }
        }

        func finish(_ index: Int, with outcome: Result<Sequential<Float>, MemberFailure>) {
            lock.withLock { outcomes[index] = outcome }
        }

        /// Every member's network in order, or the first failure.
        func networks() throws -> [Sequential<Float>] {
            try lock.withLock { try outcomes.map { try $0!.get() } }
        }
    }
}
