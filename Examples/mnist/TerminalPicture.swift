import Foundation

/// A 28×28 digit (pixels in [0, 1), ink high) drawn with Unicode shades, two characters a pixel.
func terminalPicture(of pixels: [Float]) -> String {
    let shades: [Character] = [" ", "░", "▒", "▓", "█"]
    return (0..<28).map { row in
        String((0..<28).flatMap { column -> [Character] in
            let level = min(Int(pixels[row * 28 + column] * Float(shades.count)), shades.count - 1)
            return [shades[level], shades[level]]
        })
    }.joined(separator: "\n")
}
