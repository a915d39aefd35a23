import Foundation
import FilterCompiler
import Ruleset

/// Reading rules files named on the command line (`-` is standard input).
enum RulesInput {
    /// The text of a rules file, or a failure that names the file and the reason.
    static func text(of path: String) throws -> String {
        if path == "-" {
            return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CommandFailure("\(path): no such file")
        }
        guard !isDirectory.boolValue else { throw CommandFailure("\(path): is a directory, not a rules file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure("\(path): cannot read it (permission denied?)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads and compiles a rules file. Every problem is reported, each with its line and caret.
    static func ruleset(at path: String, options: CompileOptions = .commandLine) throws -> Ruleset {
        try ruleset(text: text(of: path), file: path == "-" ? "<stdin>" : path, options: options)
    }

    static func ruleset(text: String, file: String, options: CompileOptions = .commandLine) throws -> Ruleset {
        do {
            return try Ruleset.parse(text, file: file, options: options)
        } catch {
            throw CommandFailure(error.diagnostics.map(\.rendered).joined(separator: "\nxdpfw: "))
        }
    }
}
