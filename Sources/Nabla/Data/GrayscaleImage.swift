import Foundation

/// An 8-bit grayscale image, read from a PGM file (binary `P5` or text `P2`) or an 8-bit PNG, for
/// classifying a digit of your own.
public struct GrayscaleImage: Sendable {
    /// Width and height in pixels.
    public let width, height: Int
    /// Pixels row by row, 0 black to 255 white, scaled from the file's maximum value.
    public let pixels: [UInt8]

    /// Reads a PGM or PNG file (told apart by their first bytes).
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        let bytes = [UInt8](data)
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

extension GrayscaleImage {
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Parses an 8-bit, non-interlaced PNG (grayscale, gray with alpha, RGB or RGBA); `file` names
    /// it in errors. Color becomes luminance; transparency is composited over white, like paper.
    ///
    /// Every chunk's CRC is checked, and the image data may not inflate past the size its header
    /// declares.
    public init(parsingPNG bytes: [UInt8], file: String) throws {
        func fail(_ reason: String) -> DataError { DataError(file: file, "PNG: " + reason) }
        guard bytes.starts(with: Self.pngSignature) else { throw fail("no PNG signature") }
        var reader = ByteReader(bytes: bytes, file: file)
        _ = try reader.take(8)
        var header: (width: Int, height: Int, channels: Int)?
        var compressed: [UInt8] = []
        chunks: while true {
            let length = Int(try reader.unsigned(width: 4, bigEndian: true))
            let typeAndData = try reader.take(4 + length)
            let crc = UInt32(try reader.unsigned(width: 4, bigEndian: true))
            guard crc32Checksum(Array(typeAndData)) == crc else {
                throw fail("chunk \(String(decoding: typeAndData.prefix(4), as: UTF8.self)) fails its CRC check")
            }
            let type = String(decoding: typeAndData.prefix(4), as: UTF8.self)
            let data = typeAndData.dropFirst(4)
            switch type {
            case "IHDR":
                guard data.count == 13 else { throw fail("IHDR has \(data.count) bytes, not 13") }
                let d = Array(data)
                let width = d[0..<4].reduce(0) { $0 << 8 | Int($1) }, height = d[4..<8].reduce(0) { $0 << 8 | Int($1) }
                guard width > 0, height > 0, width <= 4096, height <= 4096 else {
                    throw fail("size \(width)×\(height) is outside 1…4096")
                }
                guard d[8] == 8 else { throw fail("bit depth \(d[8]) is not supported (only 8)") }
                let channels: Int
                switch d[9] {
                case 0: channels = 1
                case 2: channels = 3
                case 4: channels = 2
                case 6: channels = 4
                default: throw fail("color type \(d[9]) is not supported (gray, gray+alpha, RGB or RGBA)")
                }
                guard d[12] == 0 else { throw fail("interlaced images are not supported") }
                header = (width, height, channels)
            case "IDAT":
                guard header != nil else { throw fail("IDAT before IHDR") }
                compressed += data
            case "IEND":
                break chunks
            default:
                continue  // ancillary chunks (gamma, text, …) do not change the pixels
            }
        }
        guard let (width, height, channels) = header else { throw fail("no IHDR chunk") }
        let stride = width * channels
        let expected = height * (stride + 1)
        let raw = try inflateZlib(compressed, limit: expected, file: file)
        guard raw.count == expected else {
            throw fail("image data inflates to \(raw.count) bytes, \(width)×\(height) needs \(expected)")
        }
        // Undo each scanline's filter, against the previous (already unfiltered) line.
        var image = [UInt8](repeating: 0, count: height * stride)
        for row in 0..<height {
            let filter = raw[row * (stride + 1)]
            let line = row * (stride + 1) + 1
            for i in 0..<stride {
                let x = raw[line + i]
                let a = i >= channels ? Int(image[row * stride + i - channels]) : 0
                let b = row > 0 ? Int(image[(row - 1) * stride + i]) : 0
                let c = i >= channels && row > 0 ? Int(image[(row - 1) * stride + i - channels]) : 0
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = b
                case 3: predicted = (a + b) / 2
                case 4:
                    let p = a + b - c
                    let (pa, pb, pc) = (abs(p - a), abs(p - b), abs(p - c))
                    predicted = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: throw fail("scanline \(row) has unknown filter \(filter)")
                }
                image[row * stride + i] = x &+ UInt8(truncatingIfNeeded: predicted)
            }
        }
        // To gray: luminance (ITU-R 601), then alpha over a white background.
        let pixels = (0..<(width * height)).map { p -> UInt8 in
            let px = image[(p * channels)..<(p * channels + channels)].map(Int.init)
            let gray = channels >= 3 ? (299 * px[0] + 587 * px[1] + 114 * px[2]) / 1000 : px[0]
            let alpha = channels == 2 || channels == 4 ? px[channels - 1] : 255
            return UInt8((gray * alpha + 255 * (255 - alpha)) / 255)
        }
        self.init(width: width, height: height, pixels: pixels)
    }
}
