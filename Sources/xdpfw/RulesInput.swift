import FilterCompiler
import FilterLanguage
import Firewall
import Foundation
import Ruleset

/// Reading rules files named on the command line (`-` is standard input).
enum RulesInput {
    /// The text of a rules file, or a failure that names the file and the reason.
    static func text(of path: String) throws -> String {
        if path == "-" {
            return TerminalText.decoding(Array(FileHandle.standardInput.readDataToEndOfFile()))
        }
        switch contents(of: path) {
        case let .success(data): return TerminalText.decoding(Array(data))
        case let .failure(failure): throw CommandFailure("\(path): \(failure.reason)")
        }
    }

    /// The bytes of a file or of any other stream that can be read: a FIFO, `/dev/stdin`, the
    /// `/dev/fd/63` of a shell's `<(generate)`. Read to its end, so it is read once.
    static func contents(of path: String) -> Result<Data, SetFileError> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return .failure(SetFileError("no such file")) }
        guard !isDirectory.boolValue else { return .failure(SetFileError("is a directory, not a file of rules or entries")) }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = access(path, R_OK) == 0 ? "cannot open it" : String(cString: strerror(errno))
            return .failure(SetFileError("cannot read it: \(reason.prefix(1).lowercased() + reason.dropFirst())"))
        }
        defer { try? handle.close() }
        do {
            return .success(try handle.readToEnd() ?? Data())
        } catch {
            return .failure(SetFileError("cannot read it: \(error.localizedDescription)"))
        }
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
            return contents(of: full).map { TerminalText.decoding(Array($0)) }
        }
        do {
            return try Ruleset.parse(text, file: file, options: options, readFile: read)
        } catch {
            throw CommandFailure(error.diagnostics.map(\.rendered).joined(separator: "\nxdpfw: "))
        }
    }
}
