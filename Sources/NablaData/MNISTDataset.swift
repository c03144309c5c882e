import Nabla

/// An MNIST set as a ``Dataset`` for ``Trainer``: images scaled by 1/256 as the book's data,
/// shaped for the network, and labels as the loss wants them.
///
/// ```swift
/// let training = mnist.training.dataset(as: Float.self, imageShape: .image, labels: .classIndices)
/// ```
public struct MNISTDataset<Scalar: TensorScalar>: Dataset {
    /// The images and labels, as bytes.
    public let digits: MNISTSet
    /// The shape of one image in a batch.
    public let imageShape: MNISTImageShape
    /// How a batch's labels are written.
    public let labels: MNISTLabels

    /// The number of images.
    public var count: Int { digits.count }

    /// Writes the images and labels at `indices`.
    public func batch(_ indices: ArraySlice<Int>, inputs: inout Tensor<Scalar>, targets: inout Tensor<Scalar>) {
        digits.withIndices(indices) { rows in
            digits.refill(&inputs, rows: rows, trailing: imageShape.dimensions) { digits.writeImages(at: $0, into: $1) }
            switch labels {
            case .oneHot:
                digits.refill(&targets, rows: rows, trailing: MNISTSet.oneHotDimensions) { digits.writeOneHotLabels(at: $0, into: $1) }
            case .classIndices:
                digits.refill(&targets, rows: rows, trailing: MNISTImageShape.scalar) { digits.writeClassIndices(at: $0, into: $1) }
            }
        }
    }
}

/// How an MNIST image is shaped in a batch.
public enum MNISTImageShape: Sendable {
    /// A row of 784 pixels, for fully connected networks: batches are [n, 784].
    case flat
    /// One channel of 28×28, for convolutional networks: batches are [n, 1, 28, 28].
    case image

    /// The dimensions of one image.
    public var dimensions: [Int] { self == .flat ? Self.flatDimensions : Self.imageDimensions }

    // Kept, so that reading them allocates nothing per batch.
    private static let flatDimensions = [MNISTSet.pixelCount], imageDimensions = [1, 28, 28]
    /// No dimensions: one class index per example.
    static let scalar: [Int] = []
}

/// How MNIST labels are written in a batch.
public enum MNISTLabels: Sendable {
    /// One-hot rows, [n, 10]: the book's target vectors y (chapters 1 and 3).
    case oneHot
    /// The digits, [n]: for ``SoftmaxCrossEntropyLoss`` (chapter 6).
    case classIndices
}

extension MNISTSet {
    /// The set as a ``Dataset``.
    public func dataset<Scalar: TensorScalar>(as _: Scalar.Type = Scalar.self, imageShape: MNISTImageShape = .flat,
                                              labels: MNISTLabels = .oneHot) -> MNISTDataset<Scalar> {
        MNISTDataset(digits: self, imageShape: imageShape, labels: labels)
    }

}
