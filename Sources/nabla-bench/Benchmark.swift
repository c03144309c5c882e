import CAllocationCounter
import CNablaKernels
import Foundation
import Nabla
import NablaData

/// `swift run -c release nabla-bench [--json] [--data PATH] [--only chapter1|chapter6|gpt|products] [--blas PATH|none]`: the book's networks' training and
/// evaluation speed — chapter 1's and chapter 6's convolutional one — and nanoGPT's CPU
/// configuration's, heap allocations per step, peak memory, and matrix-product and convolution
/// throughput at the shapes that matter. Figures are printed, never asserted: benchmarks measure, tests judge.
@main
struct Benchmark {
    static func main() {
        do {
            try run()
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run() throws {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.contains("--help") || arguments.contains("-h") {
            print("""
                usage: nabla-bench [--json] [--data PATH] [--only chapter1|chapter6|gpt|products] [--blas PATH|none]

                Prints Nabla's speed figures: the book's chapter-1 and chapter-6 networks (MNIST from
                --data, $NABLA_MNIST or the cache) and nanoGPT's CPU configuration (gpt, no data needed).
                Floors come from the fastest matrix product measured: Nabla's, or a reference BLAS's.
                  --json       one JSON object of figures instead of a table
                  --data PATH  MNIST's directory (IDX files) or mnist.pkl.gz
                  --only NAME  one section: chapter1, chapter6, gpt or products (each matrix product of
                               those networks, Nabla's and the reference BLAS's)
                  --blas PATH  the reference BLAS (default $NABLA_BLAS, else OpenBLAS, MKL or BLIS
                               if one loads); none: measure Nabla's products alone
                """)
            return
        }
        let json = arguments.contains("--json")
        func value(of option: String) -> String? {
            arguments.firstIndex(of: option).flatMap { arguments.index(after: $0) < arguments.endIndex ? arguments[arguments.index(after: $0)] : nil }
        }
        let data = value(of: "--data")
        let blas = value(of: "--blas")
        let products = ProductSpeed(reference: blas == "none" ? nil : try ReferenceBLAS.load(blas))
        let blasLibrary = products.reference?.path ?? "none"
        let sections = value(of: "--only").map { [$0] } ?? ["chapter1", "chapter6"]
        guard sections.allSatisfy({ ["chapter1", "chapter6", "gpt", "products"].contains($0) }) else {
            throw BenchmarkError("--only takes chapter1, chapter6, gpt or products, got \(sections[0])")
        }
        var figures: [(key: String, value: Double, unit: String, label: String)] = []
        func report(_ key: String, _ value: Double, _ unit: String, _ label: String) {
            figures.append((key, value, unit, label))
            if !json { print(label.padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: "%10.3f ", value) + unit) }
        }
        #if DEBUG
        if !json { print("note: debug build; use `swift run -c release nabla-bench` for real figures") }
        #endif
        if !json { print("processor: \(cpuModel)\nkernels: \(kernelName)\nreference BLAS: \(blasLibrary)") }

        var (depthSlice, blockRows, l1, l2) = (0, 0, 0, 0)
        nabla_gemm_blocking(&depthSlice, &blockRows, &l1, &l2)
        report("cache_l1d_kb", Double(l1) / 1024, "KB", "first-level data cache, as reported")
        report("cache_l2_kb", Double(l2) / 1024, "KB", "second-level cache, as reported")
        report("gemm_depth_slice", Double(depthSlice), "", "  large products' depth slice, sized from them")
        report("gemm_block_rows", Double(blockRows), "", "  and rows of A in a block (single precision)")

        if sections.contains("chapter1") || sections.contains("chapter6") {
            let mnist = try MNIST(searching: data)
            if sections.contains("chapter1") { BookNetworkBenchmark.run(mnist: mnist, report: report) }
            if sections.contains("chapter6") { try ConvolutionBenchmark.run(mnist: mnist, products: products, report: report) }
        }
        if sections.contains("gpt") { try GPTBenchmark.run(products: products, report: report) }
        if sections.contains("products") { try ProductBenchmark.run(products: products, report: report) }

        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        report("peak_rss_mb", Double(usage.ru_maxrss) / 1024, "MB", "peak resident memory (this benchmark)")

        if json {
            let machine = [("cpu_model", cpuModel), ("kernel_isa", kernelISA), ("blas_library", blasLibrary)].map { "  \"\($0.0)\": \"\($0.1)\"" }
            let body = (machine + figures.map { "  \"\($0.key)\": \($0.value)" }).joined(separator: ",\n")
            print("{\n\(body)\n}")
        }
    }

    /// The processor's model name, from /proc/cpuinfo (Linux), or "unknown".
    static var cpuModel: String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let line = info.split(separator: "\n").first { $0.hasPrefix("model name") }
        let name = line?.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
        return name.replacingOccurrences(of: "\"", with: "'")
    }

    /// The kernels' path in one word, for `--json`: `avx512`, `avx2` or `portable`.
    static var kernelISA: String {
        switch nabla_kernel_isa() {
        case NABLA_ISA_AVX512: "avx512"
        case NABLA_ISA_AVX2: "avx2"
        default: "portable"
        }
    }

    /// The kernels' instruction set, as `nabla_kernel_isa` reports it.
    static var kernelName: String {
        switch nabla_kernel_isa() {
        case NABLA_ISA_AVX512: "AVX-512F (AVX2+FMA for sliding windows and the sigmoid)"
        case NABLA_ISA_AVX2: "AVX2+FMA"
        default: "portable"
        }
    }

    /// Best seconds per call over `repeats` calls.
    static func time(_ repeats: Int, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<repeats { body() }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / Double(repeats))
        }
        return best
    }
}

/// A command-line mistake, said in one line.
struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
