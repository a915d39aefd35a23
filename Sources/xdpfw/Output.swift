import Foundation

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
