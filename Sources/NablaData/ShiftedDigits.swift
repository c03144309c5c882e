import Nabla

extension MNISTSet {
    /// The book's expanded training data (`expand_mnist.py`): each image, then four copies of
    /// it shifted by one pixel — down, up, right, left — with the row or column that the shift
    /// uncovers left white, all shuffled once by `seed`. 50,000 images become 250,000, held as
    /// bytes (196 MB), never written to disk.
    public func expandedByShifts(seed: UInt64) -> MNISTSet {
        let side = 28
        // (dy, dx): the book's np.roll(image, 1, 0), (−1, 0), (1, 1), (−1, 1).
        let shifts = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
        let source = pixels, labels = self.labels
        var generator = SeededGenerator(seed: seed)
        let order = generator.permutation(of: count * shifts.count)
        var expandedPixels = [UInt8](repeating: 0, count: order.count * Self.pixelCount)
        var expandedLabels = [UInt8](repeating: 0, count: order.count)
        expandedPixels.withUnsafeMutableBufferPointer { target in
            source.withUnsafeBufferPointer { source in
                for (position, made) in order.enumerated() {
                    let (image, (dy, dx)) = (made / shifts.count, shifts[made % shifts.count])
                    expandedLabels[position] = labels[image]
                    let from = source.baseAddress! + image * Self.pixelCount
                    let to = target.baseAddress! + position * Self.pixelCount
                    // Pixel (y, x) moves to (y + dy, x + dx); what moves off the image is dropped.
                    for y in max(0, -dy) ..< min(side, side - dy) {
                        for x in max(0, -dx) ..< min(side, side - dx) {
                            to[(y + dy) * side + x + dx] = from[y * side + x]
                        }
                    }
                }
            }
        }
        return try! MNISTSet(name: name + " (expanded by shifts)", pixels: expandedPixels, labels: expandedLabels)
    }
}
