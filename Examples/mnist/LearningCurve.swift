import Foundation
import Nabla

/// Accuracy and training cost per epoch, drawn as a standalone SVG.
struct LearningCurve {
    let total: Int
    private(set) var points: [(correct: Int, cost: Double)] = []

    /// The curve of a training run's reports, on the evaluation set named `evaluationName`.
    init(total: Int, history: [EpochReport], evaluationName: String) {
        self.total = total
        points = history.map { ($0.evaluations[evaluationName]!.correct, $0.trainingCost) }
    }

    /// The first epoch with the most correct answers (`max(by:)` keeps the earliest of equals).
    var bestEpoch: Int? { points.indices.max { points[$0].correct < points[$1].correct } }

    /// Accuracy (left axis, %) and cost (right axis) against epoch.
    func svg(title: String, evaluationName: String) -> String {
        let (width, height) = (720.0, 420.0)
        let (left, right, top, bottom) = (70.0, 70.0, 50.0, 60.0)
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let accuracies = points.map { 100 * Double($0.correct) / Double(total) }
        let costs = points.map(\.cost)
        // Accuracy axis: from a round value below the lowest point to 100%.
        let lowAccuracy = max(0, ((accuracies.min() ?? 0) / 5).rounded(.down) * 5 - 5)
        let highCost = max(costs.max() ?? 1, 1e-9) * 1.1
        let lastEpoch = max(points.count - 1, 1)
        func x(_ epoch: Int) -> Double { left + plotWidth * Double(epoch) / Double(lastEpoch) }
        func yAccuracy(_ a: Double) -> Double { top + plotHeight * (1 - (a - lowAccuracy) / (100 - lowAccuracy)) }
        func yCost(_ c: Double) -> Double { top + plotHeight * (1 - c / highCost) }
        func path(_ values: [Double], _ y: (Double) -> Double) -> String {
            values.enumerated().map { String(format: "%@%.1f,%.1f", $0.offset == 0 ? "M" : "L", x($0.offset), y($0.element)) }.joined(separator: " ")
        }
        func escaped(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var svg = [String(format: #"<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif" font-size="12">"#, width, height, width, height)]
        svg.append(#"<rect width="100%" height="100%" fill="white"/>"#)
        svg.append(String(format: #"<text x="%.0f" y="28" text-anchor="middle" font-size="15">%@</text>"#, width / 2, escaped(title)))
        // Grid and accuracy ticks.
        for i in 0...5 {
            let a = lowAccuracy + (100 - lowAccuracy) * Double(i) / 5
            svg.append(String(format: ##"<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e5e5e5"/>"##, left, left + plotWidth, yAccuracy(a), yAccuracy(a)))
            svg.append(String(format: ##"<text x="%.1f" y="%.1f" text-anchor="end" fill="#1f5fbf">%.0f%%</text>"##, left - 8, yAccuracy(a) + 4, a))
            let c = highCost * Double(i) / 5
            svg.append(String(format: ##"<text x="%.1f" y="%.1f" fill="#c0392b">%.3f</text>"##, left + plotWidth + 8, yCost(c) + 4, c))
        }
        let step = max(1, lastEpoch / 10)
        for epoch in stride(from: 0, through: lastEpoch, by: step) {
            svg.append(String(format: #"<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>"#, x(epoch), top + plotHeight + 18, epoch))
        }
        svg.append(String(format: ##"<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>"##, left, top, plotWidth, plotHeight))
        svg.append(String(format: #"<text x="%.1f" y="%.1f" text-anchor="middle">epoch</text>"#, left + plotWidth / 2, height - 18))
        svg.append(String(format: ##"<text transform="translate(18,%.1f) rotate(-90)" text-anchor="middle" fill="#1f5fbf">%@ accuracy</text>"##, top + plotHeight / 2, escaped(evaluationName)))
        svg.append(String(format: ##"<text transform="translate(%.1f,%.1f) rotate(90)" text-anchor="middle" fill="#c0392b">training cost</text>"##, width - 14, top + plotHeight / 2))
        svg.append(##"<path d="\##(path(costs, yCost))" fill="none" stroke="#c0392b" stroke-width="2" stroke-dasharray="6 3"/>"##)
        svg.append(##"<path d="\##(path(accuracies, yAccuracy))" fill="none" stroke="#1f5fbf" stroke-width="2.5"/>"##)
        for (epoch, a) in accuracies.enumerated() {
            svg.append(String(format: ##"<circle cx="%.1f" cy="%.1f" r="3" fill="#1f5fbf"><title>epoch %d: %.2f%%</title></circle>"##, x(epoch), yAccuracy(a), epoch, a))
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }
}
