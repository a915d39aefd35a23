import ArgumentParser

/// Usage errors swift-argument-parser does not report, or reports as another one.
enum UsageChecks {
    /// Every option that takes one value, with all its spellings. Given twice, the parser would
    /// silently keep the last (`--hook xdp --hook tc-ingress`): a script's mistake, refused.
    static let singleValuedOptions: [[String]] = [
        ["-n", "--netns"], ["--hook"], ["--mode"], ["--packets", "--pcap"], ["--repeat"], ["-s"], ["-f"], ["--prefix"], ["--subnet"],
    ]

    /// The first single-valued option given more than once, as a message; nil when none is.
    static func repeatedOption(in arguments: [String]) -> String? {
        var seen: [Int: String] = [:]  // spelling group → the first value given
        var index = 0
        while index < arguments.count, arguments[index] != "--" {
            let argument = arguments[index]
            let spelling = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            guard let option = singleValuedOptions.firstIndex(where: { $0.contains(spelling) }) else { index += 1; continue }
            let attached = spelling.count < argument.count
            let value = attached ? String(argument.dropFirst(spelling.count + 1))
                : index + 1 < arguments.count ? arguments[index + 1] : ""
            if let first = seen[option] {
                return "\(spelling) is given more than once ('\(first)', then '\(value)'): it takes one value, give it once"
            }
            seen[option] = value
            index += attached ? 1 : 2
        }
        return nil
    }

    /// The parser reports a missing argument before an unknown option (`apply --bogus` says
    /// "missing expected argument"): when the arguments also hold an unknown option, that error
    /// instead, found by parsing again with placeholders for the missing arguments.
    static func unknownOption<Command: ParsableCommand>(in arguments: [String], of command: Command.Type, after error: Error) -> Error? {
        guard command.message(for: error).hasPrefix("Missing expected argument") else { return nil }
        for missing in 1...3 {
            do {
                _ = try command.parseAsRoot(arguments + Array(repeating: "_", count: missing))
                return nil
            } catch let retried {
                if command.message(for: retried).hasPrefix("Unknown option") { return retried }
            }
        }
        return nil
    }
}
