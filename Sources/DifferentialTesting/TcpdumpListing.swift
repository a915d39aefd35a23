import ClassicBPF
import Foundation

/// What tcpdump prints for a compiled filter, for tests: its `-dd`/`-ddd` line formats applied
/// to instructions (as its printf calls do), and tcpdump itself run as a subprocess.
public enum TcpdumpListing {
    /// `-dd`: `{ 0x%x, %d, %d, 0x%08x },` per instruction.
    public static func cArray(_ program: [ClassicInstruction]) -> String {
        program.map { String(format: "{ 0x%x, %d, %d, 0x%08x },\n", $0.code, $0.jt, $0.jf, $0.k) }.joined()
    }

    /// `-ddd`: the count, then `%u %u %u %u` per instruction.
    public static func decimal(_ program: [ClassicInstruction]) -> String {
        "\(program.count)\n" + program.map { String(format: "%u %u %u %u\n", $0.code, $0.jt, $0.jf, $0.k) }.joined()
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// tcpdump's standard output for the arguments (its "assuming Ethernet" warning goes to stderr).
    public static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/tcpdump")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "tcpdump \(arguments) exited with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
