import ArgumentParser
import EBPF
import Kernel

// The hooks and modes as command-line values (`--hook`, `--mode`); their spellings are EBPF's and Kernel's.
extension Hook.Kind: ExpressibleByArgument {
    public init?(argument: String) { self.init(spelling: argument) }
    public static var allValueStrings: [String] { spellings }
}
extension Hook: ExpressibleByArgument {}
extension XDPMode: ExpressibleByArgument {}
