/// Where a slice's elements lie in the tensor it was cut from: positions `range` along `axis`,
/// the tensor seen as `shape` (a run of elements, as ``Tensor/rows(_:)`` takes, is a range along
/// the only axis of the flat tensor).
struct SlicePlacement: Equatable {
    let shape: [Int]
    let axis: Int
    let range: Range<Int>

    /// The slice's own shape.
    var sliceShape: [Int] {
        var sliceShape = shape
        sliceShape[axis] = range.count
        return sliceShape
    }
}

/// An op whose value is one block of its single input's elements: a slice, a run of rows.
///
/// Its gradient is the upstream gradient put back in place, with zeros around it. Done slice by
/// slice, that is a zero-filled tensor of the input's size for every slice, each added to the
/// sum of the others: a recurrent network that reads step t of its [T, B, 4H] input
/// projections does T of each, work that grows as T². So the reverse pass collects the
/// gradients of every slice of a tensor and places them all with one ``PlaceSlices``, in one pass
/// over the tensor, when its own turn comes.
protocol Slicing {
    /// Where the value lies in the input; nil when it is all of it (a reshape).
    var placement: SlicePlacement? { get }
}

/// Zeros of `shape` with input i added at `placements[i]`: the gradient of slices of one tensor.
/// Its gradient is each placement's slice of the upstream gradient.
struct PlaceSlices<Scalar: TensorScalar>: TensorOperation {
    let placements: [SlicePlacement]
    let shape: [Int]

    /// `pieces[i]` (of `placements[i]`'s slice shape, or any shape of as many elements) added at
    /// `placements[i]` in zeros of `shape`.
    static func placing(_ pieces: [Tensor<Scalar>], at placements: [SlicePlacement], in shape: [Int]) -> Tensor<Scalar> {
        PlaceSlices(placements: placements, shape: shape)(pieces, shape: shape)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let y = buffers.output
        y.initialize(repeating: 0, count: shape.reduce(1, *))
        for (index, placement) in placements.enumerated() {
            let (x, split) = (buffers.input(index), AxisSplit(placement.shape, axis: placement.axis))
            let run = placement.range.count * split.inner
            for o in 0..<split.outer {
                let (to, from) = (y + split.offset(o, placement.range.lowerBound, 0), x + o * run)
                for i in 0..<run { to[i] += from[i] }
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        placements.enumerated().map { index, placement in
            guard call.needsGradient(index) else { return nil }
            return Slice(placement)([g.reshaped(to: placement.shape)], shape: placement.sliceShape)
                .reshaped(to: call.inputs[index].shape)
        }
    }
}
