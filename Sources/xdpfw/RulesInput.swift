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
        try ruleset(text: text(of: path), file: fileName(of: path), options: options, directory: directory(of: path))
    }

    /// The name diagnostics give a rules file named `path` on the command line.
    static func fileName(of path: String) -> String { path == "-" ? "<stdin>" : path }

    /// Where the relative paths of a rules file's `set NAME file PATH` start: the file's folder.
    static func directory(of path: String) -> String? {
        path == "-" ? nil : (path as NSString).deletingLastPathComponent
    }

    /// `directory`: where the relative paths of `set NAME file PATH` start (the rules file's).
    static func ruleset(text: String, file: String, options: CompileOptions = .commandLine, directory: String? = nil) throws -> Ruleset {
        func read(_ path: String) -> Result<String, SetFileError> {
            let full = path.hasPrefix("/") || (directory ?? "").isEmpty ? path : directory! + "/" + path
            guard let data = FileManager.default.contents(atPath: full) else { return .failure(SetFileError("cannot read the file")) }
            return .success(String(decoding: data, as: UTF8.self))
        }
        do {
            return try Ruleset.parse(text, file: file, options: options, readFile: read)
        } catch {
            throw CommandFailure(error.diagnostics.map(\.rendered).joined(separator: "\nxdpfw: "))
        }
    }
}
