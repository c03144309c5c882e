// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Nabla",
    products: [
        .library(name: "Nabla", targets: ["Nabla"]),
        // Data sets and file formats for Nabla, as torchvision is to PyTorch: MNIST (IDX and the
        // book's pickle), gzip, PGM and PNG images.
        .library(name: "NablaData", targets: ["NablaData"]),
        // SwiftPM accepts a slash in a product name, so the README's command is literally
        // `swift run -c release Examples/mnist`.
        .executable(name: "Examples/mnist", targets: ["mnist"]),
        .executable(name: "Examples/charlm", targets: ["charlm"]),
        .executable(name: "nabla-bench", targets: ["nabla-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Matrix-product kernels in C: per-function target attributes let one binary carry an
        // AVX2+FMA path chosen at run time, without unsafeFlags, so Nabla stays usable as a dependency.
        .target(name: "CNablaKernels"),
        // zlib, for reading gzip'd data sets (Foundation on Linux cannot gunzip).
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .target(
            name: "Nabla",
            dependencies: [
                "CNablaKernels",
                .product(name: "RealModule", package: "swift-numerics"),
            ]
        ),
        .target(name: "NablaData", dependencies: ["Nabla", "CNablaKernels", "CZlib"]),
        // The book's hand-written backpropagation (BP1–BP4), independent of Nabla: the reference
        // that the tests and `Examples/mnist --check-gradients` compare autodiff against.
        .target(
            name: "BookBackprop",
            dependencies: [.product(name: "RealModule", package: "swift-numerics")]
        ),
        // What the examples share: the progress bar and one-line errors.
        .target(
            name: "ExampleSupport",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Support"
        ),
        .executableTarget(
            name: "mnist",
            dependencies: [
                "Nabla",
                "NablaData",
                "BookBackprop",
                "ExampleSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/mnist"
        ),
        // Karpathy's path after the book: makemore's names and nanoGPT's Shakespeare.
        .executableTarget(
            name: "charlm",
            dependencies: [
                "Nabla",
                "NablaData",
                "ExampleSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/charlm"
        ),
        // Counts heap allocations, for the benchmarks' figures and the tests that no replayed
        // step allocates.
        .target(name: "CAllocationCounter"),
        // Benchmarks: figures for the README's Performance section, never timed tests.
        .executableTarget(name: "nabla-bench", dependencies: ["Nabla", "NablaData", "CAllocationCounter", "CNablaKernels"]),
        .testTarget(name: "NablaTests", dependencies: ["Nabla", "NablaData", "CNablaKernels", "BookBackprop", "CAllocationCounter", "CZlib"]),
        // An op defined outside Nabla, importing only its public interface, as a user's would be.
        .testTarget(name: "ExtensionTests", dependencies: ["Nabla", "CAllocationCounter"]),
    ]
)

// A libFuzzer harness for the data readers, only when asked for (it needs sanitizer flags that
// a package used as a dependency cannot carry): see Fuzz/README.md.
if Context.environment["NABLA_FUZZ"] != nil {
    package.targets.append(.executableTarget(name: "nabla-fuzz", dependencies: ["Nabla", "NablaData"], path: "Fuzz"))
    package.products.append(.executable(name: "nabla-fuzz", targets: ["nabla-fuzz"]))
}

// The DocC plugin, only when building documentation (`NABLA_DOCS=1 swift package
// generate-documentation --target Nabla`), so that packages depending on Nabla never resolve it.
if Context.environment["NABLA_DOCS"] != nil {
    package.dependencies.append(.package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"))
}
