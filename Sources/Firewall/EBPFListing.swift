import EBPF
import FilterCompiler
import Ruleset

/// `xdpfw compile --ebpf`: the eBPF program as text, for an expression alone or for a whole
/// ruleset as `apply` loads it (its chunks, each under a heading, when it is split).
public enum EBPFListing {
    /// The filter alone: pass on match, drop otherwise.
    public static func filter(_ filter: FilterProgram, hook: Hook.Kind) throws(CommandFailure) -> String {
        Format.listing(try assemble { () throws(AssemblerError) in try EBPFFilterProgram.generate(filter, hook: hook.context) })
    }

    /// The ruleset program with its counters; chunks chained by tail calls each under a heading.
    public static func ruleset(_ ruleset: Ruleset, hook: Hook.Kind) throws(CommandFailure) -> String {
        let chunks = try assemble { () throws(AssemblerError) in try ruleset.ebpfChunks(for: hook.context) }
        guard chunks.count > 1 else { return Format.listing(chunks[0].instructions) }
        return chunks.enumerated().map { number, chunk in
            chunkHeading(number, of: chunks.count, chunk) + Format.listing(chunk.instructions)
        }.joined(separator: "\n")
    }

    /// The line above each program of a ruleset split into programs chained by tail calls.
    static func chunkHeading(_ number: Int, of count: Int, _ chunk: RulesetChunk) -> String {
        let rules = chunk.ruleSlots.map { slots in
            slots.count == 1 ? "rule \(slots.lowerBound)" : "rules \(slots.lowerBound)-\(slots.upperBound)"
        } ?? "no rules"
        let role = number == 0 ? "the program attached at the hook" : "\(MapName.chunks)[\(number)], tail-called by chunk \(number)"
        let otherwise = number + 1 < count ? "tail call to chunk \(number + 2) (\(MapName.chunks)[\(number + 1)])" : "the policy"
        return "# chunk \(number + 1) of \(count) (\(role)): \(rules); when none matches: \(otherwise)\n"
    }

    /// Runs an assembly; its failure is the verb's, in the words users see.
    static func assemble<Program>(_ build: () throws(AssemblerError) -> Program) throws(CommandFailure) -> Program {
        do {
            return try build()
        } catch {
            throw CommandFailure("cannot build the eBPF program: \(error.message)")
        }
    }
}
