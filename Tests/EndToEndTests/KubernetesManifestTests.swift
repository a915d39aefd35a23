import Foundation
import XCTest
import DifferentialTesting

/// deploy/kubernetes: the DaemonSet manifest read with PyYAML (Debian's python3-yaml) and held to
/// what the CLI and the kernel need, its Containerfile's packages checked against apt, and the
/// commands its containers run executed as written, on the loopback of a test namespace with the
/// ConfigMap laid out as the kubelet mounts it (`apply` with only the capabilities it is granted).
final class KubernetesManifestTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/kubernetes")

    func testDaemonSetGrantsWhatXdpfwNeeds() throws {
        let manifest = try Manifest.load()
        let pod = manifest.podSpec
        XCTAssertEqual(pod["hostNetwork"] as? Bool, true)
        let apply = try manifest.container(running: "apply")
        let exporter = try manifest.container(running: "exporter")
        XCTAssertTrue(Set(Manifest.capabilities(of: apply)).isSuperset(of: ["BPF", "NET_ADMIN", "PERFMON", "SYS_ADMIN"]))
        XCTAssertTrue(Set(Manifest.capabilities(of: exporter)).isSuperset(of: ["BPF", "PERFMON"]))
        for container in [apply, exporter] {
            XCTAssertEqual(manifest.hostPath(mountedAt: "/sys/fs/bpf", in: container), "/sys/fs/bpf", "\(container["name"] ?? "")")
        }
        // The rules file the command names is a key of the ConfigMap mounted at its folder.
        let command = manifest.command(of: apply)
        let rulesPath = try XCTUnwrap(command.first { $0.hasSuffix(".conf") })
        let data = try manifest.configMapData(mountedAt: (rulesPath as NSString).deletingLastPathComponent, in: apply)
        XCTAssertNotNil(data[(rulesPath as NSString).lastPathComponent], "\(rulesPath) is not in the ConfigMap")
        XCTAssertTrue(command.contains("--watch"))

        // The scrape annotations name the exporter's named port, the one it listens on.
        let annotations = manifest.template["metadata"].flatMap { ($0 as? [String: Any])?["annotations"] as? [String: String] } ?? [:]
        XCTAssertEqual(annotations["prometheus.io/scrape"], "true")
        let port = ((exporter["ports"] as? [[String: Any]]) ?? []).first { $0["name"] as? String == "metrics" }?["containerPort"] as? Int
        XCTAssertNotNil(port)
        XCTAssertEqual(annotations["prometheus.io/port"], port.map(String.init))
        let exporterCommand = manifest.command(of: exporter)
        let listen = exporterCommand.firstIndex(of: "--listen").map { exporterCommand[$0 + 1] }
        XCTAssertEqual(listen.flatMap { $0.split(separator: ":").last.map(String.init) }, port.map(String.init))
    }

    func testContainerfileInstallsDebianPackagesThatExist() throws {
        let text = try String(contentsOf: Self.folder.appendingPathComponent("Containerfile"), encoding: .utf8)
        XCTAssertTrue(text.contains("\nFROM docker.io/library/debian:12"), "Debian 12 base")
        XCTAssertTrue(text.contains("\nCOPY .build/release/xdpfw /usr/local/bin/xdpfw\n"))
        let install = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("apt-get install") })
        let words: [String] = install.split(separator: " ").map(String.init)
        let afterOptions: [String] = Array(words.drop { $0 != "--no-install-recommends" }.dropFirst())
        let packages: [String] = Array(afterOptions.prefix { $0 != "\\" && $0 != "&&" })
        XCTAssertEqual(Set(packages), ["libbpf1", "libelf1", "libpcap0.8", "zlib1g"])
        // What the built xdpfw links against comes from those packages.
        let linked = try XCTUnwrap(ProcessRun.run(URL(fileURLWithPath: "/usr/bin/ldd"), [ProcessRun.builtXdpfw.path]))
        for library in ["libbpf.so.1", "libelf.so.1", "libpcap.so.0.8"] {
            XCTAssertTrue(linked.standardOutput.contains(library), library)
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/apt-cache") else { throw XCTSkip("no apt-cache: package names not checked") }
        for package in packages {
            let shown = try ProcessRun.run(URL(fileURLWithPath: "/usr/bin/apt-cache"), ["show", "--no-all-versions", package])
            XCTAssertTrue(shown?.standardOutput.contains("Package: \(package)\n") == true, "\(package) is not a Debian package here")
        }
    }

    func testContainersCommandsRunAsWritten() throws {
        try EndToEnd.requireRoot()
        let manifest = try Manifest.load()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let folder = try TemporaryFolder()
        defer { folder.remove() }

        // The ConfigMap volume as the kubelet lays it out, in place of the mount path.
        let apply = try manifest.container(running: "apply")
        let command = manifest.command(of: apply, interface: "lo")
        let rulesPath = try XCTUnwrap(command.first { $0.hasSuffix(".conf") })
        let mountPath = (rulesPath as NSString).deletingLastPathComponent
        let key = (rulesPath as NSString).lastPathComponent
        let rules = try XCTUnwrap(try manifest.configMapData(mountedAt: mountPath, in: apply)[key])
        try folder.writeVersion("..v1", name: key, rules: rules)
        try folder.symlink("..data", to: "..v1")
        try folder.symlink(key, to: "..data/\(key)")
        XCTAssertEqual(command.first, "xdpfw")
        let arguments = command.dropFirst().map { $0 == rulesPath ? folder.path(key) : $0 }

        // With no capability but those the manifest grants (root's others are dropped).
        let capabilities = Manifest.capabilities(of: apply).map { "+" + $0.lowercased() }.joined(separator: ",")
        let watcher = try WatchProcess(quiet: quiet, arguments: arguments,
                                       runner: ["/usr/bin/setpriv", "--bounding-set=-all,\(capabilities)"])
        defer { watcher.stop() }
        try watcher.waitForRules(rules)
        // `kubectl edit configmap`: the kubelet swaps ..data.
        let edited = rules + "drop icmp\n"
        try folder.writeVersion("..v2", name: key, rules: edited)
        try folder.swapData(to: "..v2")
        try watcher.waitForRules(edited)

        let exporterCommand = manifest.command(of: try manifest.container(running: "exporter"))
        let exporter = try WatchProcess(quiet: quiet, arguments: Array(exporterCommand.dropFirst()))
        defer { exporter.stop() }
        try exporter.waitForError(containing: "serving metrics on")
        let port = try XCTUnwrap(exporterCommand.last?.split(separator: ":").last)
        let scraped = try ProcessRun.run(URL(fileURLWithPath: "/usr/sbin/ip"),
                                         ["netns", "exec", quiet.network.a.namespace, "python3", "-c",
                                          "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:\(port)/metrics', timeout=5).read().decode())"],
                                         timeout: 20)
        XCTAssertTrue(scraped?.standardOutput.contains("xdpfw_rule_packets_total{interface=\"lo\",hook=\"xdp\"") == true,
                      scraped?.standardError ?? "timed out")

        // A rolling update stops both: status 0, the rules stay.
        XCTAssertEqual(try exporter.terminate(), 0, exporter.errors())
        XCTAssertEqual(try watcher.terminate(), 0, watcher.errors())
        XCTAssertEqual(try watcher.state(), "attached")
    }
}

/// deploy/kubernetes/xdpfw.yaml, as PyYAML reads it.
private struct Manifest {
    var documents: [[String: Any]]

    static func load() throws -> Manifest {
        let path = KubernetesManifestTests.folder.appendingPathComponent("xdpfw.yaml").path
        let read = try ProcessRun.run(URL(fileURLWithPath: "/usr/bin/env"),
                                      ["python3", "-c", "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))", path])
        guard let read, read.status == 0 else {
            throw XCTSkip("python3 with PyYAML (Debian python3-yaml, installed by scripts/setup) is missing: \(read?.standardError ?? "")")
        }
        let documents = try JSONSerialization.jsonObject(with: Data(read.standardOutput.utf8)) as? [[String: Any]] ?? []
        return Manifest(documents: documents)
    }

    func document(kind: String) -> [String: Any]? { documents.first { $0["kind"] as? String == kind } }

    var template: [String: Any] {
        ((document(kind: "DaemonSet")?["spec"] as? [String: Any])?["template"] as? [String: Any]) ?? [:]
    }

    var podSpec: [String: Any] { template["spec"] as? [String: Any] ?? [:] }

    /// The container whose command runs `xdpfw VERB`.
    func container(running verb: String) throws -> [String: Any] {
        let containers = podSpec["containers"] as? [[String: Any]] ?? []
        return try XCTUnwrap(containers.first { ($0["command"] as? [String])?.dropFirst().first == verb }, "no container runs xdpfw \(verb)")
    }

    /// command + args, with `$(NAME)` replaced by the container's env value (as Kubernetes does)
    /// or by `interface` for the interface variable.
    func command(of container: [String: Any], interface: String? = nil) -> [String] {
        var values: [String: String] = [:]
        for variable in container["env"] as? [[String: Any]] ?? [] {
            if let name = variable["name"] as? String { values[name] = variable["value"] as? String }
        }
        if let interface { values["XDPFW_INTERFACE"] = interface }
        let words = (container["command"] as? [String] ?? []) + (container["args"] as? [String] ?? [])
        return words.map { word in values.reduce(word) { $0.replacingOccurrences(of: "$(\($1.key))", with: $1.value) } }
    }

    static func capabilities(of container: [String: Any]) -> [String] {
        (((container["securityContext"] as? [String: Any])?["capabilities"] as? [String: Any])?["add"] as? [String]) ?? []
    }

    private func volume(mountedAt path: String, in container: [String: Any]) -> [String: Any]? {
        let mounts = container["volumeMounts"] as? [[String: Any]] ?? []
        guard let name = mounts.first(where: { $0["mountPath"] as? String == path })?["name"] as? String else { return nil }
        return (podSpec["volumes"] as? [[String: Any]] ?? []).first { $0["name"] as? String == name }
    }

    func hostPath(mountedAt path: String, in container: [String: Any]) -> String? {
        (volume(mountedAt: path, in: container)?["hostPath"] as? [String: Any])?["path"] as? String
    }

    /// The data of the manifest's ConfigMap that is mounted at `path`.
    func configMapData(mountedAt path: String, in container: [String: Any]) throws -> [String: String] {
        let name = try XCTUnwrap((volume(mountedAt: path, in: container)?["configMap"] as? [String: Any])?["name"] as? String,
                                 "no ConfigMap mounted at \(path)")
        let map = try XCTUnwrap(documents.first { $0["kind"] as? String == "ConfigMap" && ($0["metadata"] as? [String: Any])?["name"] as? String == name },
                                "ConfigMap \(name) is not in the manifest")
        return map["data"] as? [String: String] ?? [:]
    }
}
