import ArgumentParser
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

    @OptionGroup var train: Train

    mutating func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive, got \(count)") }
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
        var networks: [Sequential<Float>] = []
        for seed in train.seed ..< train.seed + UInt64(count) {
            var member = train
            member.seed = seed
            var memberRecipe = recipe
            if let members {
                let path = "\(members)/\(train.network.rawValue)-seed-\(seed).safetensors"
                if FileManager.default.fileExists(atPath: path) {
                    // Trained by an earlier run: load it and only evaluate it.
                    member.load = path
                    memberRecipe.epochs = 0
                } else {
                    member.save = path
                }
            }
            do {
                networks.append(try member.train(memberRecipe, on: mnist))
            } catch let error as TrainingError {
                throw failure(error.description + " (network with seed \(seed))")
            } catch let error as DataError {
                throw failure(error.description + " (network with seed \(seed))")
            }
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
}
