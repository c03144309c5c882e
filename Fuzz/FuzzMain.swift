// libFuzzer harness for Nabla's readers of outside data. Built only when NABLA_FUZZ is set;
// see Fuzz/README.md. The reader is chosen by NABLA_FUZZ_READER.
import Foundation
import Nabla
import NablaData

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// Every reader must either parse its input or throw a DataError; anything else is a finding.
func readOnce(_ bytes: [UInt8]) {
    do {
        switch ProcessInfo.processInfo.environment["NABLA_FUZZ_READER"] ?? "idx" {
        case "idx": _ = try IDXFile(parsing: bytes, file: "input")
        case "gzip": _ = try gunzipData(bytes, file: "input")
        case "pickle", "pickle-gz": _ = try MNIST(parsingPickle: bytes, file: "input")
        case "safetensors": _ = try SafeTensors(parsing: bytes, file: "input")
        case "pgm": _ = try GrayscaleImage(parsingPGM: bytes, file: "input")
        case "png": _ = try GrayscaleImage(parsingPNG: bytes, file: "input")
        case let other: fatalError("NABLA_FUZZ_READER=\(other): expected idx, gzip, pickle, pickle-gz, safetensors, pgm or png")
        }
    } catch is DataError {
    } catch {
        fatalError("a reader threw \(type(of: error)), not DataError: \(error)")
    }
}

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argc, &argv) { data, size in
    readOnce(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
})
