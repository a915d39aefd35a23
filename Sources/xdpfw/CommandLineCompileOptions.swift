import FilterCompiler
import Kernel

extension CompileOptions {
    /// What the command line compiles with: host names through the system resolver, as tcpdump.
    static var commandLine: CompileOptions {
        var options = CompileOptions()
        options.names = SystemResolver()
        return options
    }
}
