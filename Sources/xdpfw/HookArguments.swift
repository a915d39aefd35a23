import ArgumentParser
import Firewall
import Kernel

// The hooks and modes as command-line values (`--hook`, `--mode`); their spellings are Firewall's and Kernel's.
extension ProgramHook: ExpressibleByArgument {}
extension AttachPoint: ExpressibleByArgument {}
extension XDPMode: ExpressibleByArgument {}
