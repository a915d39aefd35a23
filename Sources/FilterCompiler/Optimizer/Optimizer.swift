/// Shrinks a filter program without changing which packets it accepts, aiming at the very
/// program libpcap's optimizer makes (same `tcpdump -d` text, same verdicts on short packets).
///
/// Two stages, as libpcap's: first branches move while statements keep computing what they
/// did (no arithmetic on constants is folded), then statements are rewritten and constants
/// folded while no branch moves. In each, the passes run round after round until each has run
/// once since the last change (with a limit, so an unusual graph can never make the optimizer
/// spin):
///
/// 1. value numbering: every register and scratch slot holds a value (a pure function of the
///    packet); a load of a value already in the register disappears, an indexed load with a
///    known index becomes absolute; in the second stage constants fold into immediate operands;
/// 2. dead statements: a statement whose result nobody reads is deleted — packet loads too, as
///    libpcap's optimizer does, so a short packet may pass where the load would have rejected it;
/// 3. peepholes: `sub k; jeq #0` → `jeq k`, `and #k; jeq #0` → `jset #k` (arms swapped),
///    `ld #c; add x; tax; ldb [x+k]` → `ldb [x+k+c]`; a rewritten test keeps its old identity;
/// 4. known outcomes: a test of a constant goes one way (both arms lead to the same block);
///    in the first stage, an edge whose dominating arms already decided the test of the block
///    it enters, or entering a block that goes one way whatever it tests, jumps past it — so a
///    test decided in the first stage disappears, one decided in the second stays with its
///    constant load, as in libpcap (`icmp and 2 = 8` rejects everything, `icmp and 2 + 3 = 5`
///    keeps `ld #5; jeq #5`);
/// 5. chains of alternatives (or conjuncts) test one field after another (`host a or host b`);
///    first stage only;
/// 6. cleanup, first stage only: empty pass-through blocks are bypassed, a block takes in its
///    only successor (in the second, a block whose test was just decided stays a block of its
///    own, as libpcap never merges blocks: `ld #0; jeq #2 jt 8 jf 8` before the next test).
///
/// Then identical blocks are shared and idle tests at the start skipped, as libpcap does last.
///
/// A program with a `.jump` (`protochain`'s loop, `geneve`'s shared tail) or any other cycle is
/// returned as it is: libpcap does not optimize those programs either, so this keeps both the
/// text and the verdicts on short packets the same as libpcap's.
public enum Optimizer {
    /// Rounds are cheap (the graphs have tens of blocks); the limit only guards against a pass
    /// pair undoing each other forever.
    static let roundLimit = 64

    /// Throws where libpcap's optimizer refuses the program: a division or modulus by a
    /// constant 0, a shift by a constant over 31 bits, met while constants fold.
    public static func optimize(_ program: FilterProgram) throws(OptimizerRefusal) -> FilterProgram {
        var work = OptimizerWork()
        return try optimize(program, work: &work)
    }

    /// `optimize`, telling in `work` how much it did: a bound the tests can hold it to that
    /// does not depend on how busy the machine is.
    public static func optimize(_ program: FilterProgram, work: inout OptimizerWork) throws(OptimizerRefusal) -> FilterProgram {
        guard var graph = FlowGraph(program) else { return program }
        if graph.blocks.contains(where: { if case .jump = $0.terminator { true } else { false } }) || graph.hasCycle {
            return program
        }
        let moving: [(inout FlowGraph) -> Bool] = [
            ValueNumbering.run, DeadStatements.run, Peephole.run, BranchFolding.run, ChainReordering.run,
            { $0.simplify() },
        ]
        runRounds(moving, on: &graph, &work)
        // libpcap's second stage: statements are rewritten and constants folded, branches
        // stay where they are (a test decided now keeps its block).
        graph.foldsConstants = true
        graph.analyses = Analyses()
        let folding: [(inout FlowGraph) -> Bool] = [
            ValueNumbering.run, DeadStatements.run, Peephole.run, BranchFolding.run,
        ]
        runRounds(folding, on: &graph, &work)
        if let refusal = graph.refusal { throw OptimizerRefusal(message: refusal) }
        _ = graph.shareIdenticalBlocks()
        graph.startPastIdleTests()
        return graph.program
    }

    /// Round after round, until every pass has run once since the last change.
    static func runRounds(_ passes: [(inout FlowGraph) -> Bool], on graph: inout FlowGraph, _ work: inout OptimizerWork) {
        var sinceChange = 0
        var index = 0
        for _ in 0..<(roundLimit * passes.count) {
            work.passRuns += 1
            work.blockVisits += graph.blocks.count
            if passes[index](&graph) { sinceChange = 0 } else { sinceChange += 1 }
            if sinceChange >= passes.count { return }
            index = (index + 1) % passes.count
        }
        work.reachedRoundLimit = true
    }
}

/// libpcap's optimizer gives up on the program, with its words ("modulus by zero").
public struct OptimizerRefusal: Error, Equatable, Sendable {
    public let message: String
}

/// How much one optimization did.
public struct OptimizerWork: Sendable {
    /// Passes run, over both stages.
    public var passRuns = 0
    /// The blocks of the graph each pass run had before it (every pass walks them all).
    public var blockVisits = 0
    /// Whether a stage stopped at `Optimizer.roundLimit` rather than because nothing changed.
    public var reachedRoundLimit = false

    public init() {}
}
