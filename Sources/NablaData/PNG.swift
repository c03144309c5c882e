import Nabla
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
            let typeAndData = try reader.slice(4 + length)
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
