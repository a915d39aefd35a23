/// Shrinks a filter program without changing which packets it accepts.
///
/// The passes run in rounds until a round changes nothing (or a round limit is reached, so an
/// unusual graph can never make the optimizer spin):
///
/// 1. value numbering: every register and scratch slot is tracked as a value (a pure function
///    of the packet), loads of a value a register already holds disappear, constants fold into
///    immediate operands and indexed loads with a known index become absolute loads;
/// 2. dead statements: a statement whose result nobody reads is deleted — packet loads too,
///    as libpcap's optimizer does, so a short packet can pass a test whose load was unneeded;
/// 3. peepholes: `sub k; jeq #0` → `jeq k`, `and #k; jeq #0` → `jset #k` with swapped arms,
///    `ld #c; add x; tax; ldb [x+k]` → `ldb [x+k+c]`;
/// 4. branches: a test whose outcome is already known on an edge (the same value was tested
///    on every path to it, or it compares two constants) is jumped over;
/// 5. chains of alternatives (or conjuncts) test the same field one after another;
/// 6. graph cleanup: empty pass-through blocks are bypassed, identical blocks shared and
///    unreachable ones dropped.
///
/// A program with a `.jump` (`protochain`'s loop, `geneve`'s shared tail) is returned as it is:
/// libpcap does not optimize those programs either, so this keeps both the text and the
/// verdicts on short packets the same as libpcap's. (The passes themselves cope with loops:
/// nothing is assumed about a value when control arrives over a back edge.)
public enum Optimizer {
    /// Rounds are cheap (the graphs have tens of blocks); the limit only guards against a pass
    /// pair undoing each other forever.
    static let roundLimit = 64

    public static func optimize(_ program: FilterProgram) -> FilterProgram {
        guard var graph = FlowGraph(program) else { return program }
        if graph.blocks.contains(where: { if case .jump = $0.terminator { true } else { false } }) { return program }
        let passes: [(inout FlowGraph) -> Bool] = [
            ValueNumbering.run, DeadStatements.run, Peephole.run, BranchFolding.run, ChainReordering.run,
            { $0.simplify() },
        ]
        // Round after round, until every pass has run once since the last change.
        var sinceChange = 0
        var index = 0
        for _ in 0..<(roundLimit * passes.count) {
            if passes[index](&graph) { sinceChange = 0 } else { sinceChange += 1 }
            if sinceChange >= passes.count { break }
            index = (index + 1) % passes.count
        }
        _ = graph.shareIdenticalBlocks()
        graph.startPastIdleTests()
        return graph.program
    }
}
