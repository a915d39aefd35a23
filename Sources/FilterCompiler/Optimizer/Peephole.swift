/// Short statement patterns with a cheaper equivalent, valid when the registers they leave
/// behind are not read afterwards.
enum Peephole {
    static func run(_ graph: inout FlowGraph) -> Bool {
        var changed = false
        let flow = graph.valueFlow(changed: &changed)
        let order = flow.order
        let liveness = graph.liveness(order: order)
        for id in order {
            if let swapped = foldComparison(&graph.blocks[id], liveOut: liveness.liveOut[id]) {
                changed = true
                if var folded = graph.foldedTests[id] {
                    folded.inverted = folded.inverted != swapped
                    graph.foldedTests[id] = folded
                } else if var test = flow.tests[id] {
                    test.rewritten = true
                    graph.foldedTests[id] = FoldedTest(test: test, inverted: swapped)
                }
            }
            if foldIndexOffsets(&graph.blocks[id], liveOut: liveness.liveOut[id], isEntry: id == graph.entry,
                                foldsConstants: graph.foldsConstants) { changed = true }
        }
        return changed
    }

    /// `sub x; jeq #0` → `jeq x`, `sub #k; jeq #c` → `jeq #(c+k)`, and `and #k; jeq #0` →
    /// `jset #k` with the arms swapped, when nothing after the branch reads A. Returns nil when
    /// nothing was folded, else whether the arms were swapped.
    static func foldComparison(_ block: inout Block, liveOut: LocationSet) -> Bool? {
        guard case let .branch(.equal, .constant(c), ifTrue, ifFalse) = block.terminator, ifTrue != ifFalse,
              !liveOut.contains(.a), let last = block.statements.last else { return nil }
        switch last {
        case let .arithmetic(.subtract, .constant(k)):
            block.terminator = .branch(.equal, .constant(c &+ k), ifTrue: ifTrue, ifFalse: ifFalse)
        case .arithmetic(.subtract, .x) where c == 0:
            block.terminator = .branch(.equal, .x, ifTrue: ifTrue, ifFalse: ifFalse)
        case let .arithmetic(.and, .constant(mask)) where c == 0:
            block.terminator = .branch(.bitsSet, .constant(mask), ifTrue: ifFalse, ifFalse: ifTrue)
        default:
            return nil
        }
        block.statements.removeLast()
        if case .branch(.bitsSet, _, _, _) = block.terminator { return true }
        return false
    }

    /// `ld #c; …; add x; tax; ldb [x + k]` → `ld #c; …; ldb [x + k+c]` when X is not read before
    /// it is written again (A is overwritten by the load anyway; the `ld #c` dies if unused). The
    /// offset wraps at 32 bits, as libpcap adds it.
    static func foldIndexOffsets(_ block: inout Block, liveOut: LocationSet, isEntry: Bool, foldsConstants: Bool) -> Bool {
        var changed = false
        var index = 0
        while index + 2 < block.statements.count {
            if block.statements[index] == .arithmetic(.add, .x),
               case .moveAToX = block.statements[index + 1],
               case let .loadPacketIndexed(width, offset) = block.statements[index + 2],
               let c = constantInA(before: index, in: block),
               !readsX(after: index + 2, in: block, liveOut: liveOut, isEntry: isEntry, foldsConstants: foldsConstants) {
                block.statements.replaceSubrange(index...index + 2, with: [.loadPacketIndexed(width, offset: offset &+ c)])
                changed = true
            }
            index += 1
        }
        return changed
    }

    /// The constant A holds just before statement `position`, when the block set it.
    static func constantInA(before position: Int, in block: Block) -> UInt32? {
        for statement in block.statements[..<position].reversed() where statement.definition.contains(.a) {
            if case let .loadConstant(c) = statement { return c }
            return nil
        }
        return nil
    }

    /// Whether the X register's value after statement `position` is read later.
    static func readsX(after position: Int, in block: Block, liveOut: LocationSet, isEntry: Bool, foldsConstants: Bool) -> Bool {
        for statement in block.statements[(position + 1)...] {
            if statement.uses.contains(.x) { return true }
            if statement.definition.contains(.x) { return false }
        }
        return block.endUses(isEntry: isEntry, foldsConstants: foldsConstants).contains(.x) || liveOut.contains(.x)
    }
}
