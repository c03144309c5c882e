import Nabla
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

    @Test func aDarkDigitOnLightPaperIsInvertedToMNISTsConvention() throws {
        // A real test digit, drawn dark on light as a person would: MNIST's bytes come back.
        let digit = realMNIST.test.pixels[0..<784]
        let drawn = try GrayscaleImage(parsingPGM: Array("P5 28 28 255\n".utf8) + digit.map { 255 - $0 }, file: "seven.pgm")
        #expect(try drawn.mnistPixels().elementsEqual(digit))
        let asStored = try GrayscaleImage(parsingPGM: Array("P5 28 28 255\n".utf8) + digit, file: "seven.pgm")
        #expect(try asStored.mnistPixels().elementsEqual(digit))
        #expect(throws: DataError.self) { try GrayscaleImage(parsingPGM: Array("P5 2 2 255\n".utf8) + [0, 0, 0, 0], file: "x").mnistPixels() }
    }
}
