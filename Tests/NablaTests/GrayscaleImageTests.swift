import Foundation
import Nabla
import NablaData
import Testing

@Suite struct GrayscaleImageTests {
    @Test func readsBinaryAndTextPGM() throws {
        let binary = try GrayscaleImage(parsingPGM: Array("P5\n# a comment\n2 2\n255\n".utf8) + [0, 64, 128, 255], file: "a.pgm")
        #expect(binary.width == 2 && binary.height == 2 && binary.pixels == [0, 64, 128, 255])
        let text = try GrayscaleImage(parsingPGM: Array("P2 2 1 15\n0 15\n".utf8), file: "b.pgm")
        #expect(text.pixels == [0, 255])  // scaled from a maximum of 15
    }

    @Test func badFilesAreNamedAndExplained() {
        let cases: [([UInt8], String)] = [
            (Array("P6\n1 1\n255\n".utf8) + [0, 0, 0], "not P5 or P2"),
            (Array("P5\n2 2\n255\n".utf8) + [1], "needs 4 pixel bytes"),
            (Array("P5\n0 2\n255\n".utf8), "width '0'"),
            (Array("P2\n1 1\n10\n11\n".utf8), "exceeds the maximum 10"),
            (Array("P5\n2".utf8), "ends early"),
        ]
        for (bytes, reason) in cases {
            #expect { try GrayscaleImage(parsingPGM: bytes, file: "bad.pgm") } throws: { error in
                "\(error)".hasPrefix("bad.pgm: PGM: ") && "\(error)".contains(reason)
            }
        }
    }

    @Test(.needsMNIST) func aDarkDigitOnLightPaperIsInvertedToMNISTsConvention() throws {
        // A real test digit, drawn dark on light as a person would: MNIST's bytes come back.
        let digit = realMNIST.test.pixels[0..<784]
        let drawn = try GrayscaleImage(parsingPGM: Array("P5 28 28 255\n".utf8) + digit.map { 255 - $0 }, file: "seven.pgm")
        #expect(try drawn.mnistPixels().elementsEqual(digit))
        let asStored = try GrayscaleImage(parsingPGM: Array("P5 28 28 255\n".utf8) + digit, file: "seven.pgm")
        #expect(try asStored.mnistPixels().elementsEqual(digit))
        #expect(throws: DataError.self) { try GrayscaleImage(parsingPGM: Array("P5 2 2 255\n".utf8) + [0, 0, 0, 0], file: "x").mnistPixels() }
    }

    @Test(arguments: [0, 2, 4, 6])
    func readsPNGWrittenByPython(colorType: Int) throws {
        // Python's standard library writes a 7×5 PNG of this color type, cycling through all five
        // scanline filters, and prints the gray value each pixel should decode to.
        let path = NSTemporaryDirectory() + "nabla-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = """
            import struct, sys, zlib
            w, h, ct = 7, 5, int(sys.argv[2])
            ch = {0: 1, 2: 3, 4: 2, 6: 4}[ct]
            px = [[[(x * 37 + y * 11 + c * 53) % 256 for c in range(ch)] for x in range(w)] for y in range(h)]
            rows = [bytes(v for p in row for v in p) for row in px]
            def paeth(a, b, c):
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                return a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            raw = b''
            for y, row in enumerate(rows):
                f = y % 5; prev = rows[y - 1] if y else bytes(len(row)); out = bytearray()
                for i, v in enumerate(row):
                    a = row[i - ch] if i >= ch else 0; b = prev[i]; c = prev[i - ch] if i >= ch else 0
                    pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
                    out.append((v - pred) % 256)
                raw += bytes([f]) + bytes(out)
            def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
            png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, ct, 0, 0, 0))
            png += chunk(b'tEXt', b'Comment\\x00ancillary') + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
            open(sys.argv[1], 'wb').write(png)
            def gray(p):
                g = (299 * p[0] + 587 * p[1] + 114 * p[2]) // 1000 if ch >= 3 else p[0]
                a = p[-1] if ch in (2, 4) else 255
                return (g * a + 255 * (255 - a)) // 255
            print(' '.join(str(gray(p)) for row in px for p in row))
            """
        let printed = try runPython(script, [path, String(colorType)])
        let expected = printed.split(separator: " ").compactMap { UInt8($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let image = try GrayscaleImage(contentsOf: path)
        #expect(image.width == 7 && image.height == 5)
        #expect(image.pixels == expected)
    }

    @Test func badPNGsAreNamedAndExplained() throws {
        let good = tinyPNG()
        #expect(try GrayscaleImage(parsingPNG: good, file: "seed").pixels == [0, 128, 255, 64])
        var badCRC = good
        badCRC[20] ^= 1  // inside IHDR
        let cases: [([UInt8], String)] = [
            (badCRC, "fails its CRC check"),
            (Array(good.prefix(30)), "truncated"),
            (Array(good.prefix(8)) + [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82], "no IHDR"),
        ]
        for (bytes, reason) in cases {
            #expect { try GrayscaleImage(parsingPNG: bytes, file: "bad.png") } throws: { error in
                "\(error)".hasPrefix("bad.png") && "\(error)".contains(reason)
            }
        }
    }
}

/// A 2×2 grayscale PNG built by hand: a stored (uncompressed) deflate block in a zlib stream.
func tinyPNG(pixels: [UInt8] = [0, 128, 255, 64]) -> [UInt8] {
    func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32Checksum(body))
    }
    let raw: [UInt8] = [0, pixels[0], pixels[1], 0, pixels[2], pixels[3]]  // filter 0 on each row
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
    let n = UInt16(raw.count)
    let zlib: [UInt8] = [0x78, 0x01, 0x01, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8(~n >> 8)] + raw + be32(b << 16 | a)
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        + chunk("IHDR", be32(2) + be32(2) + [8, 0, 0, 0, 0]) + chunk("IDAT", zlib) + chunk("IEND", [])
}
