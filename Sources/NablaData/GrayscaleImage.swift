import Nabla
/// An 8-bit grayscale image, read from a PGM file (binary `P5` or text `P2`) or an 8-bit PNG, for
/// classifying a digit of your own.
public struct GrayscaleImage: Sendable {
    /// Width and height in pixels.
    public let width, height: Int
    /// Pixels row by row, 0 black to 255 white, scaled from the file's maximum value.
    public let pixels: [UInt8]

    /// Reads a PGM or PNG file (told apart by their first bytes).
    public init(contentsOf path: String) throws {
        let bytes = try readBytes(path)
        if bytes.starts(with: Self.pngSignature) {
            try self.init(parsingPNG: bytes, file: path)
        } else {
            try self.init(parsingPGM: bytes, file: path)
        }
    }

    /// Creates an image from its pixels, row by row.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        check(width > 0 && height > 0 && pixels.count == width * height,
              "GrayscaleImage: \(pixels.count) pixels for \(width)×\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Parses a PGM file's bytes; `file` names it in errors.
    public init(parsingPGM bytes: [UInt8], file: String) throws {
        var position = 0
        func fail(_ reason: String) -> DataError { DataError(file: file, "PGM: " + reason) }
        /// The next whitespace-separated header token, skipping `#` comments.
        func token() throws -> String {
            var text: [UInt8] = []
            while position < bytes.count {
                let b = bytes[position]
                if b == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != 0x0A { position += 1 }
                } else if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 {
                    if !text.isEmpty { break }
                    position += 1
                } else {
                    text.append(b)
                    position += 1
                    guard text.count <= 16 else { throw fail("header field too long") }
                }
            }
            guard !text.isEmpty else { throw fail("the header ends early") }
            return String(decoding: text, as: UTF8.self)
        }
        func number(_ what: String, max limit: Int) throws -> Int {
            let text = try token()
            guard let n = Int(text), n > 0, n <= limit else { throw fail("\(what) '\(text)' is not a number from 1 to \(limit)") }
            return n
        }
        let magic = try token()
        guard magic == "P5" || magic == "P2" else {
            throw fail("magic '\(magic)' is not P5 or P2 (only grayscale PGM is read)")
        }
        width = try number("width", max: 4096)
        height = try number("height", max: 4096)
        let maxValue = try number("maximum value", max: 255)
        let count = width * height
        var values: [Int] = []
        values.reserveCapacity(count)
        if magic == "P5" {
            position += 1  // the single whitespace byte after the maximum value
            guard bytes.count - position >= count else {
                throw fail("\(width)×\(height) needs \(count) pixel bytes, the file has \(max(bytes.count - position, 0))")
            }
            values = bytes[position ..< position + count].map(Int.init)
        } else {
            for i in 0..<count {
                guard let v = Int((try? token()) ?? "x"), v >= 0 else { throw fail("pixel \(i) is missing or not a number") }
                values.append(v)
            }
        }
        if let bad = values.first(where: { $0 > maxValue }) { throw fail("pixel value \(bad) exceeds the maximum \(maxValue)") }
        pixels = values.map { UInt8($0 * 255 / maxValue) }
    }

    /// The image as MNIST's 784 bytes (ink high, background 0), for ``MNISTSet``-style input.
    ///
    /// It must be 28×28. MNIST stores ink as large values; a picture of a dark digit on a light
    /// background (the usual way to draw one) is inverted, judged by its border being light.
    public func mnistPixels() throws -> [UInt8] {
        guard width == 28, height == 28 else {
            throw DataError(file: "image", "is \(width)×\(height); MNIST digits are 28×28")
        }
        var borderTotal = 0
        for i in 0..<28 {
            let top = Int(pixels[i]), bottom = Int(pixels[27 * 28 + i])
            let left = Int(pixels[i * 28]), right = Int(pixels[i * 28 + 27])
            borderTotal += top + bottom + left + right
        }
        let lightBackground = borderTotal / (4 * 28) > 127
        return lightBackground ? pixels.map { 255 - $0 } : pixels
    }
}
