import Foundation
import Kernel

/// A verb failed: the message goes to standard error after `xdpfw: `, and the process exits with
/// `status` (1 unless said otherwise). Multi-line messages (rendered rule errors) keep their lines.
struct CommandFailure: Error {
    var message: String
    var status: Int32 = 1

    init(_ message: String, status: Int32 = 1) {
        self.message = message
        self.status = status
    }

    /// The verbs' answer when xdpfw has no rules at `interface` (at `hook`, when one is named).
    static func noRules(at interface: String, hook: AttachPoint?) -> CommandFailure {
        CommandFailure("\(interface) has no xdpfw rules\(hook.map { " at \($0.rawValue)" } ?? "") (see `xdpfw status`)")
    }
}

/// Writing to standard output and standard error, unbuffered, so the two never interleave out
/// of order. Callers with much to print build the text first and write it once.
enum Output {
    static func standardOutput(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
