// swift-tools-version:6.0
import PackageDescription

// The folders follow the pipeline: FilterLanguage (text → AST) → FilterCompiler (AST → IR, optimizer)
// → ClassicBPF / EBPF (IR → instructions) → Ruleset (rules.conf → one program) → Kernel (the only
// module with syscalls and unsafe pointers) → Firewall (what the verbs do) → xdpfw (the command
// line: arguments and printing). PacketFormats, the protocol table, serves them all. docs/architecture.md draws the graph.
let package = Package(
    name: "xdpfw",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "xdpfw", targets: ["xdpfw"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libbpf and libpcap share one module map: two C modules over the same glibc headers clash.
        .systemLibrary(name: "CSystemLibraries", pkgConfig: "libbpf",
                       providers: [.apt(["libbpf-dev", "libelf-dev", "libpcap-dev"])]),

        // The one table of protocol knowledge (ethertypes, IP protocols, header offsets, the
        // packet fields, address parsing): no dependencies, used by every stage below.
        .target(name: "PacketFormats"),
        .target(name: "FilterLanguage", dependencies: ["PacketFormats"]),
        .target(name: "FilterCompiler", dependencies: ["FilterLanguage", "PacketFormats"]),
        .target(name: "ClassicBPF", dependencies: ["FilterCompiler"]),
        .target(name: "EBPF", dependencies: ["PacketFormats", "FilterCompiler"]),
        .target(name: "Ruleset", dependencies: ["PacketFormats", "FilterLanguage", "FilterCompiler", "ClassicBPF", "EBPF"]),
        .target(name: "Kernel", dependencies: ["CSystemLibraries", "PacketFormats", "FilterCompiler", "EBPF"]),
        // Used by the tests only: libpcap as the oracle, corpus location, packet builders,
        // libpcap-vs-ours comparisons, test streams. Never a dependency of the product.
        .target(name: "DifferentialTesting", dependencies: ["CSystemLibraries", "PacketFormats", "FilterLanguage", "FilterCompiler", "ClassicBPF", "EBPF", "Kernel"]),
        // What the verbs do, without printing: load with verifier retry, apply/replace/detach,
        // live set writes with undo, counters, test runs, the bench baseline, the drop log's reader.
        .target(name: "Firewall", dependencies: ["PacketFormats", "FilterCompiler", "EBPF", "Ruleset", "Kernel"]),
        .executableTarget(name: "xdpfw", dependencies: [
            "PacketFormats", "FilterLanguage", "FilterCompiler", "ClassicBPF", "EBPF", "Ruleset", "Kernel", "Firewall",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "CompileBenchmark", dependencies: [
            "FilterLanguage", "FilterCompiler", "ClassicBPF", "DifferentialTesting",
        ], path: "Benchmarks/CompileBenchmark"),
        // scripts/bench-live's rig: live frames out of a veth, and the rulesets it compares.
        .executableTarget(name: "LiveTraffic", dependencies: ["PacketFormats", "EBPF", "Kernel", "DifferentialTesting"],
                          path: "Benchmarks/LiveTraffic"),
        .executableTarget(name: "RulesetFamilies", dependencies: ["DifferentialTesting"], path: "Benchmarks/RulesetFamilies"),
        .executableTarget(name: "ClassifierProbe", dependencies: ["DifferentialTesting", "EBPF", "Kernel"], path: "Benchmarks/ClassifierProbe"),

        // The protocol table and the field model checked against libpcap's code and inet_pton.
        .testTarget(name: "PacketFormatsTests", dependencies: ["PacketFormats", "ClassicBPF", "DifferentialTesting"]),
        .testTarget(name: "FilterLanguageTests", dependencies: ["FilterLanguage"]),
        .testTarget(name: "FilterCompilerTests", dependencies: ["FilterLanguage", "FilterCompiler", "ClassicBPF", "Kernel", "DifferentialTesting"], exclude: ["Expressions.txt"]),
        .testTarget(name: "ClassicBPFTests", dependencies: ["FilterLanguage", "FilterCompiler", "ClassicBPF", "Kernel", "Ruleset", "DifferentialTesting"]),
        .testTarget(name: "EBPFTests", dependencies: ["FilterLanguage", "FilterCompiler", "ClassicBPF", "EBPF", "Ruleset", "Kernel", "DifferentialTesting"]),
        .testTarget(name: "KernelTests", dependencies: ["Ruleset", "Kernel", "ClassicBPF", "EBPF", "DifferentialTesting"]),
        .testTarget(name: "RulesetTests", dependencies: ["Ruleset", "FilterLanguage"]),
        // Runs the built xdpfw as scripts do (exit statuses, tcpdump-identical output, verbs as root).
        .testTarget(name: "CommandLineTests", dependencies: ["xdpfw", "Firewall", "PacketFormats", "Ruleset", "EBPF", "Kernel", "DifferentialTesting"]),
        // Real traffic through veth pairs in test namespaces, judged against libpcap.
        .testTarget(name: "EndToEndTests", dependencies: ["xdpfw", "Firewall", "LiveTraffic", "FilterCompiler", "ClassicBPF", "Ruleset", "EBPF", "Kernel", "DifferentialTesting"]),
    ]
)
