import ArgumentParser
import ClassicBPF
import Dispatch
import Firewall
import Foundation
import Kernel
import Ruleset

/// `xdpfw demo`: the tour. Builds a throwaway pair of network namespaces joined by a veth pair,
/// applies the example ruleset at XDP on one end, sends a bounded burst of traffic, shows the
/// counters, and cleans everything up, even on error or Ctrl-C.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show xdpfw at work on a throwaway pair of network namespaces (needs root).",
        discussion: """
            Creates two network namespaces joined by a veth pair, applies the built-in example \
            ruleset (rules/example.conf) at XDP on one end, sends a short, bounded burst of ICMP, \
            UDP and TCP frames from the other end, and prints the per-rule counters. Then it does \
            the same on the loopback of one namespace (`apply ... lo`: generic mode, since lo has \
            no native XDP), detaches, and removes the namespaces again, also when interrupted. Nothing touches the host's own \
            interfaces. Finally it compares `xdpfw compile -d` with `tcpdump -d` for one rule.

            Names and addresses: the namespaces are xdpfw-PID-N-a and xdpfw-PID-N-b (PID is the \
            demo's process id, N a counter), the veth ends xfw-a and xfw-b, with 10.199.N.1/24 and \
            10.199.N.2/24 (and fd00:199:N::1/64, ::2). The addresses exist only inside those \
            namespaces, never on the host; --prefix and --subnet choose others, e.g. where \
            10.199.0.0/16 means something on your network. A namespace that exists already is \
            never used or removed: the demo stops instead.

            Example:
              xdpfw demo --prefix fwdemo --subnet 192.168.77.0/24
            """)

    @Option(help: ArgumentHelp("Name the namespaces PREFIX-a and PREFIX-b (default xdpfw-PID-N).", valueName: "prefix"))
    var prefix: String?

    @Option(help: ArgumentHelp("Give the veth ends .1 and .2 of this /24 (default 10.199.N.0/24).", valueName: "a.b.c.0/24"))
    var subnet: String?

    func validate() throws {
        if let prefix {
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-".utf8)
            guard !prefix.isEmpty, prefix.utf8.count <= 64, prefix.utf8.allSatisfy(allowed.contains), !prefix.hasPrefix(".") else {
                throw ValidationError("--prefix is 1 to 64 letters, digits, '_', '.' or '-' (not starting with '.'): the namespaces are PREFIX-a and PREFIX-b")
            }
        }
        if subnet != nil && subnetBytes == nil {
            throw ValidationError("--subnet takes a /24 such as 192.168.77.0/24: the veth ends get .1 and .2 of it")
        }
    }

    /// The first three bytes of --subnet, nil when it is not `A.B.C.0/24` (or `A.B.C.0`).
    private var subnetBytes: [UInt8]? {
        guard let subnet else { return nil }
        let parts = subnet.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.count == 1 || parts[1] == "24" else { return nil }
        let bytes = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        guard bytes.count == 4, bytes[3] == "0", bytes.allSatisfy({ !$0.isEmpty && $0.count <= 3 && UInt8($0) != nil }) else { return nil }
        return bytes.prefix(3).compactMap { UInt8($0) }
    }

    func run() throws {
        let ruleset = try RulesInput.ruleset(text: ExampleRuleset.text, file: ExampleRuleset.fileName)
        guard KernelSupport.isRoot else {
            throw CommandFailure("the demo needs root: it creates network namespaces and attaches XDP programs")
        }
        let cleanup = DemoCleanup()
        cleanup.installSignalHandlers()
        defer { cleanup.run() }
        do {
            try tour(ruleset, cleanup: cleanup)
        } catch {
            cleanup.waitIfInterrupted()  // the failure is the interrupt's doing: let it finish and exit
            throw error
        }
    }

    private func tour(_ ruleset: Ruleset, cleanup: DemoCleanup) throws {

        say("The example ruleset (\(ExampleRuleset.fileName)), first match wins:")
        Output.standardOutput(ExampleRuleset.text.split(separator: "\n").map { "    " + $0 + "\n" }.joined())

        // An interrupt while the namespaces are being made waits until they exist and can go again.
        let network = try cleanup.uninterrupted { () throws -> TestNetwork in
            let network = try TestNetwork(namespacePrefix: prefix, ipv4Network: subnetBytes)
            let pinRoot = PinDirectory.root(forNamespace: network.b.namespace)
            cleanup.add {
                for directory in PinDirectory.all(root: pinRoot) { try? directory.remove() }
                AttachedRuleset.removeEmptyPinRoot(pinRoot)
                network.close()
            }
            return network
        }
        let (a, b) = (network.a, network.b)
        say("Created namespaces \(a.namespace) (\(a.interfaceName), \(a.ipv4)) and \(b.namespace) (\(b.interfaceName), \(b.ipv4)), joined by a veth pair.")

        try apply(ruleset, on: b.interfaceName, in: b.namespace)

        say("Sending from \(a.namespace) to \(b.ipv4):")
        let traffic = DemoTraffic(sourceMAC: a.mac, destinationMAC: b.mac,
                                  sourceIPv4: DemoTraffic.ipv4Bytes(a.ipv4), destinationIPv4: DemoTraffic.ipv4Bytes(b.ipv4))
        try send(traffic.bursts(), through: network, interface: a.interfaceName)
        Thread.sleep(forTimeInterval: 0.3)  // let the receiving side's NAPI poll run

        try showStatistics(of: b.interfaceName, in: b.namespace)
        say("""
            Rule 1 dropped the SYNs to port 22 from 192.0.2.7 (those from 10.x pass), rule 3 the DNS
            and NTP datagrams, rule 4 the large pings; the rest passed by the policy, along with the
            stack's own traffic (IPv6 neighbour discovery and the like).
            """)

        try loopbackStep(ruleset, namespace: a.namespace, network: network, cleanup: cleanup)

        try detach(b.interfaceName, in: b.namespace)
        cleanup.run()
        say("Removed both namespaces.")

        compareWithTcpdump(ruleset.rules[0])
    }

    /// `xdpfw apply rules.conf lo`, as people try first: the loopback has no native XDP, so auto
    /// mode attaches in generic mode. Frames to 127.0.0.1 go out of lo and come back in through
    /// the rules; the stack answers those that pass, and its answers are counted too.
    private func loopbackStep(_ ruleset: Ruleset, namespace: String, network: TestNetwork, cleanup: DemoCleanup) throws {
        let pinRoot = PinDirectory.root(forNamespace: namespace)
        cleanup.add {
            for directory in PinDirectory.all(root: pinRoot) { try? directory.remove() }
            AttachedRuleset.removeEmptyPinRoot(pinRoot)
        }
        say("The same rules on the loopback of \(namespace), where rule 2 (host 127.0.0.1 and port 80) applies:")
        try apply(ruleset, on: "lo", in: namespace)

        // Frames written to lo come in without the route a local sender's carry: let 127/8
        // through input routing in this namespace (route_localnet, accept_local), so the stack
        // answers them as it answers its own.
        try NetworkNamespace.run(in: namespace) {
            for setting in ["route_localnet", "accept_local"] {
                try "1\n".write(toFile: "/proc/sys/net/ipv4/conf/lo/\(setting)", atomically: false, encoding: .utf8)
            }
        }
        say("Sending to 127.0.0.1 on lo:")
        let loopback: [UInt8] = [127, 0, 0, 1]
        let traffic = DemoTraffic(sourceMAC: [0, 0, 0, 0, 0, 0], destinationMAC: [0, 0, 0, 0, 0, 0],
                                  sourceIPv4: loopback, destinationIPv4: loopback)
        let bursts = [
            DemoTraffic.Burst(label: "ICMP echo, 64 bytes", count: 3, frame: traffic.icmpEcho(payload: 56)),
            DemoTraffic.Burst(label: "ICMP echo, 1242 bytes", count: 2, frame: traffic.icmpEcho(payload: 1200)),
            DemoTraffic.Burst(label: "UDP to port 53 (DNS)", count: 2, frame: traffic.udp(destinationPort: 53)),
            DemoTraffic.Burst(label: "TCP SYN to port 80", count: 2, frame: traffic.tcpSYN(destinationPort: 80)),
        ]
        try send(bursts, through: network, interface: "lo")
        Thread.sleep(forTimeInterval: 0.2)

        try showStatistics(of: "lo", in: namespace)
        say("""
            Rule 2 passed the SYNs to port 80 and the resets the stack sent back (no one listens
            there), rule 3 dropped the DNS datagrams, rule 4 the large pings; the small pings and
            their replies passed by the policy.
            """)

        try detach("lo", in: namespace)
    }

    /// `xdpfw -n NAMESPACE apply rules.conf INTERFACE` with the example ruleset, as apply prints it.
    private func apply(_ ruleset: Ruleset, on interface: String, in namespace: String) throws {
        command("xdpfw -n \(namespace) apply \(ExampleRuleset.fileName) \(interface)")
        let outcome = try NetworkNamespace.run(in: namespace) {
            try AttachedRuleset.apply(ruleset, text: ExampleRuleset.text, file: ExampleRuleset.fileName, interface: interface,
                                      hook: .xdp, mode: .auto, pinRoot: PinDirectory.root(forNamespace: namespace))
        }
        if let why = outcome.installation.record["native-refused"] {
            Output.standardOutput("xdpfw: \(why); attached in generic mode\n")
        }
        Output.standardOutput("attached \(ExampleRuleset.fileName) on \(interface) xdp"
                              + (outcome.installation.xdpMode.map { " (\($0.rawValue) mode)" } ?? "")
                              + ": \(ruleset.rules.count) rules, policy \(ruleset.policy.rawValue), \(outcome.instructions) instructions\n")
    }

    /// Sends each burst out of `interface` of the sending namespace, saying what it sends.
    private func send(_ bursts: [DemoTraffic.Burst], through network: TestNetwork, interface: String) throws {
        for burst in bursts {
            try network.send([burst.frame], from: .a, interface: interface, copies: burst.count)
            Output.standardOutput("    \(burst.count) × \(burst.label)\n")
        }
    }

    /// `xdpfw -n NAMESPACE stats INTERFACE`.
    private func showStatistics(of interface: String, in namespace: String) throws {
        command("xdpfw -n \(namespace) stats \(interface)")
        let statistics = try NetworkNamespace.run(in: namespace) { () throws -> [HookStatistics] in
            try HookInstallation.all(root: PinDirectory.root(forNamespace: namespace)).map { try AttachedRuleset.statistics(of: $0) }
        }
        Output.standardOutput(statistics.map(\.table).joined(separator: "\n"))
    }

    /// `xdpfw -n NAMESPACE detach INTERFACE`.
    private func detach(_ interface: String, in namespace: String) throws {
        command("xdpfw -n \(namespace) detach \(interface)")
        _ = try NetworkNamespace.run(in: namespace) {
            try AttachedRuleset.detach(interface: interface, hooks: [.xdp], pinRoot: PinDirectory.root(forNamespace: namespace)) {
                Output.standardOutput("detached \(interface) \($0.rawValue)\n")
            }
        }
    }

    /// Prints `xdpfw compile -d` for a rule beside what tcpdump says, when tcpdump is installed.
    private func compareWithTcpdump(_ rule: Rule) {
        guard let program = try? rule.program else { return }  // the demo's own rule compiles; none else comes here
        let listing = ClassicPrinter.format(ClassicCodeGenerator.generate(program), as: .assembly)
        say("Every rule is also classic BPF, printed exactly as tcpdump prints it. For rule 1:")
        command("xdpfw compile -d '\(rule.expression)'")
        Output.standardOutput(listing)
        guard let tcpdump = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump", "/sbin/tcpdump"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            say("Install tcpdump and compare: diff <(xdpfw compile -d '\(rule.expression)') <(tcpdump -d '\(rule.expression)')")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tcpdump)
        process.arguments = ["-d", rule.expression]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        command("diff <(xdpfw compile -d '\(rule.expression)') <(tcpdump -d '\(rule.expression)') && echo identical")
        Output.standardOutput(text == listing ? "identical\n" : "they differ: tcpdump printed\n" + text)
    }

    private func say(_ text: String) { Output.standardOutput("\n" + text + "\n") }
    private func command(_ text: String) { Output.standardOutput("\n$ " + text + "\n") }
}

/// What the demo must undo, run once: at the end, on an error, or on Ctrl-C / SIGTERM / SIGHUP.
final class DemoCleanup: @unchecked Sendable {
    private let lock = NSLock()
    private var actions: [() -> Void] = []
    private var signalSources: [DispatchSourceSignal] = []
    /// Inside `uninterrupted`: a signal is remembered here and acted on when the body is done.
    private var holding = false
    private var heldSignal: Int32?
    private var interrupting = false

    func add(_ action: @escaping () -> Void) {
        lock.lock(); defer { lock.unlock() }
        actions.append(action)
    }

    /// Runs the actions added so far, newest first, each once.
    func run() {
        lock.lock()
        let pending = actions.reversed()
        actions = []
        lock.unlock()
        for action in pending { action() }
    }

    /// Runs `body` with interrupts held back, so that what it creates is registered for cleanup
    /// before an interrupt cleans up; then acts on an interrupt that came meanwhile.
    func uninterrupted<Result>(_ body: () throws -> Result) throws -> Result {
        lock.lock(); holding = true; lock.unlock()
        defer {
            lock.lock()
            holding = false
            let signal = heldSignal
            lock.unlock()
            if let signal { interrupted(by: signal) }
        }
        return try body()
    }

    func installSignalHandlers() {
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                lock.lock()
                if holding { heldSignal = number; lock.unlock(); return }
                lock.unlock()
                interrupted(by: number)
            }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Blocks for good when an interrupt is being handled (its handler exits the process).
    func waitIfInterrupted() {
        lock.lock()
        let interrupting = interrupting
        lock.unlock()
        while interrupting { Thread.sleep(forTimeInterval: 1) }
    }

    private func interrupted(by signal: Int32) -> Never {
        lock.lock(); interrupting = true; lock.unlock()
        Output.standardError("\nxdpfw: interrupted; removing the demo's namespaces\n")
        run()
        Foundation.exit(128 + signal)
    }
}
