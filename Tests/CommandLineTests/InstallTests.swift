import DifferentialTesting
import Foundation
import XCTest

/// `scripts/install --prefix DIR` with the built xdpfw: the tree checked file by file against
/// the binary's own outputs (completion scripts, subcommands in the man page), the man page
/// read by groff without a warning, and the systemd units verified by `systemd-analyze verify`.
final class InstallTests: XCTestCase {
    static let installed = [
        "bin/xdpfw",
        "lib/systemd/system/xdpfw-reload@.service",
        "lib/systemd/system/xdpfw@.path",
        "lib/systemd/system/xdpfw@.service",
        "share/bash-completion/completions/xdpfw",
        "share/fish/vendor_completions.d/xdpfw.fish",
        "share/man/man1/xdpfw.1",
        "share/zsh/site-functions/_xdpfw",
    ]

    private var prefix: URL!

    override func setUpWithError() throws {
        prefix = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-install-\(getpid())-\(UUID().uuidString.prefix(8))")
        let install = CommandRunner.packageRoot.appendingPathComponent("scripts/install")
        let result = try CommandRunner.run(install, ["--prefix", prefix.path, "--binary", CommandRunner.executable.path], timeout: 600)
        XCTAssertEqual(result.status, 0, result.standardError)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: prefix)
    }

    private func path(_ relative: String) -> String { prefix.appendingPathComponent(relative).path }

    private func contents(_ relative: String) throws -> String { try String(contentsOfFile: path(relative), encoding: .utf8) }

    func testInstallsExactlyTheseFilesAndTheBinaryAsBuilt() throws {
        let enumerator = FileManager.default.enumerator(atPath: prefix.path)
        var files: [String] = []
        while let name = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path(name), isDirectory: &isDirectory), !isDirectory.boolValue { files.append(name) }
        }
        XCTAssertEqual(files.sorted(), Self.installed)
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: path("bin/xdpfw")))
        XCTAssertEqual(FileManager.default.contents(atPath: path("bin/xdpfw")), FileManager.default.contents(atPath: CommandRunner.executable.path))
    }

    func testUsageAndRefusedArguments() throws {
        let install = CommandRunner.packageRoot.appendingPathComponent("scripts/install")
        let help = try CommandRunner.run(install, ["--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.standardOutput.contains("Usage: scripts/install [--prefix DIR] [--binary PATH]"), help.standardOutput)
        XCTAssertFalse(help.standardOutput.contains("set -e"), "the help is the header comment only")
        for arguments in [["--bogus"], ["--prefix"], ["--binary"]] {
            let refused = try CommandRunner.run(install, arguments)
            XCTAssertEqual(refused.status, 2, "\(arguments)")
            XCTAssertTrue(refused.standardError.hasPrefix("install: "), refused.standardError)
        }
    }

    func testCompletionsAreWhatTheParserGenerates() throws {
        for (shell, file) in [("bash", "share/bash-completion/completions/xdpfw"), ("zsh", "share/zsh/site-functions/_xdpfw"),
                              ("fish", "share/fish/vendor_completions.d/xdpfw.fish")] {
            let generated = try CommandRunner.run(["--generate-completion-script", shell])
            XCTAssertEqual(generated.status, 0)
            XCTAssertFalse(generated.standardOutput.isEmpty)
            XCTAssertEqual(try contents(file), generated.standardOutput, shell)
        }
        let syntax = try CommandRunner.run(URL(fileURLWithPath: "/bin/bash"), ["-n", path("share/bash-completion/completions/xdpfw")])
        XCTAssertEqual(syntax.status, 0, syntax.standardError)
    }

    func testManPageHasEverySubcommandExamplesAndFiles() throws {
        let page = try contents("share/man/man1/xdpfw.1")
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "\"EXIT STATUS\"", "EXAMPLES", "\"SEE ALSO\""] {
            XCTAssertTrue(page.contains("\n.Sh \(section)\n"), "no \(section) section")
        }
        // The subcommands, from the parser's own description of the tool.
        let dump = try CommandRunner.run(["--experimental-dump-help"])
        let tool = try JSONSerialization.jsonObject(with: Data(dump.standardOutput.utf8)) as? [String: Any]
        let subcommands = ((tool?["command"] as? [String: Any])?["subcommands"] as? [[String: Any]] ?? []).compactMap { $0["commandName"] as? String }
        XCTAssertGreaterThan(subcommands.count, 10)
        for name in subcommands {
            XCTAssertTrue(page.contains(".It Em \(name)\n"), "\(name) missing from the man page")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/groff") else { throw XCTSkip("groff is not installed: the page was not rendered") }
        let rendered = try CommandRunner.run(URL(fileURLWithPath: "/usr/bin/groff"), ["-mandoc", "-ww", "-z", path("share/man/man1/xdpfw.1")])
        XCTAssertEqual(rendered.status, 0)
        XCTAssertEqual(rendered.standardError, "", "groff warnings")
    }

    func testSystemdUnitsVerifyAndRunTheInstalledBinary() throws {
        let units = ["xdpfw@.service", "xdpfw@.path", "xdpfw-reload@.service"]
        let service = try contents("lib/systemd/system/xdpfw@.service")
        for line in ["BindsTo=sys-subsystem-net-devices-%i.device", "After=sys-subsystem-net-devices-%i.device",
                     "ExecStart=\(path("bin/xdpfw")) apply /etc/xdpfw/%i.conf %i",
                     "ExecReload=\(path("bin/xdpfw")) apply /etc/xdpfw/%i.conf %i", "ExecStop=\(path("bin/xdpfw")) detach %i"] {
            XCTAssertTrue(service.contains("\n\(line)\n"), "xdpfw@.service lacks \(line)")
        }
        let watch = try contents("lib/systemd/system/xdpfw@.path")
        XCTAssertTrue(watch.contains("\nPathChanged=/etc/xdpfw/%i.conf\n"))
        XCTAssertTrue(watch.contains("\nUnit=xdpfw-reload@%i.service\n"), "the path unit starts the installed reload unit")
        XCTAssertTrue(try contents("lib/systemd/system/xdpfw-reload@.service").contains("try-reload-or-restart xdpfw@%i.service"))

        guard let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("systemd-analyze is not installed: the units were not verified")
        }
        // `verify` checks an instance file by path (a template by name skips the Exec checks):
        // copy each template as the instance for eth0 into a folder on the unit search path.
        let instances = prefix.appendingPathComponent("verify")
        try FileManager.default.createDirectory(at: instances, withIntermediateDirectories: true)
        var files: [String] = []
        for unit in units {
            let instance = instances.appendingPathComponent(unit.replacingOccurrences(of: "@.", with: "@eth0.")).path
            try FileManager.default.copyItem(atPath: path("lib/systemd/system/\(unit)"), toPath: instance)
            files.append(instance)
        }
        let verified = try ProcessRun.run(URL(fileURLWithPath: "/usr/bin/env"),
                                          ["SYSTEMD_UNIT_PATH=\(instances.path):", "MANPATH=\(path("share/man"))", analyze, "verify"] + files,
                                          timeout: 60)
        XCTAssertEqual(verified?.status, 0, verified?.standardError ?? "timed out")
        XCTAssertEqual(verified?.standardError, "", "systemd-analyze verify")
    }
}
