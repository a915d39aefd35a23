/// The block graph under construction, and the boolean glue between sub-expressions.
///
/// A sub-expression compiles to a `Fragment`: the block where it starts and the branch edges that
/// are still open, split by outcome (the edges taken when the sub-expression holds, and those
/// taken when it does not). `and`, `or` and `not` only connect or swap these open edges, which
/// yields the same graph libpcap builds before optimisation: every primitive keeps its own
/// blocks and its own packet loads, and the first failing test of an `and` chain jumps straight
/// to whatever follows the whole chain.

/// A compiled sub-expression whose outcomes are not yet connected.
struct Fragment {
    var entry: BlockID
    var whenTrue: [BranchArm]
    var whenFalse: [BranchArm]

    /// The same test with its outcomes swapped (`not`).
    var negated: Fragment { Fragment(entry: entry, whenTrue: whenFalse, whenFalse: whenTrue) }
}

/// A block whose branch targets may still be open.
struct PendingBlock {
    enum End {
        case branch(Condition, Operand, ifTrue: BlockID?, ifFalse: BlockID?)
        case jump(BlockID?)
        case verdict(UInt32)
    }
    var statements: [Statement]
    var end: End
}

/// Owns the blocks of one program while it is being generated.
struct BlockGraph {
    private(set) var blocks: [PendingBlock] = []

    /// A new block `statements; if A cond operand` with both outcomes open.
    mutating func branch(_ statements: [Statement], _ condition: Condition, _ operand: Operand) -> Fragment {
        let id = blocks.count
        blocks.append(PendingBlock(statements: statements, end: .branch(condition, operand, ifTrue: nil, ifFalse: nil)))
        return Fragment(entry: id, whenTrue: [BranchArm(block: id, onTrue: true)], whenFalse: [BranchArm(block: id, onTrue: false)])
    }

    /// A new block that ends in an unconditional jump, target given later with `setJump`.
    mutating func jumpBlock(_ statements: [Statement]) -> BlockID {
        blocks.append(PendingBlock(statements: statements, end: .jump(nil)))
        return blocks.count - 1
    }

    mutating func setJump(_ block: BlockID, to target: BlockID) {
        blocks[block].end = .jump(target)
    }

    mutating func verdict(_ value: UInt32) -> BlockID {
        blocks.append(PendingBlock(statements: [], end: .verdict(value)))
        return blocks.count - 1
    }

    /// Points every edge in `edges` at `target`.
    mutating func connect(_ edges: [BranchArm], to target: BlockID) {
        for edge in edges {
            guard case let .branch(condition, operand, t, f) = blocks[edge.block].end else { continue }
            blocks[edge.block].end = edge.onTrue
                ? .branch(condition, operand, ifTrue: target, ifFalse: f)
                : .branch(condition, operand, ifTrue: t, ifFalse: target)
        }
    }

    /// `a and b`: b runs when a holds.
    mutating func and(_ a: Fragment, _ b: Fragment) -> Fragment {
        connect(a.whenTrue, to: b.entry)
        return Fragment(entry: a.entry, whenTrue: b.whenTrue, whenFalse: a.whenFalse + b.whenFalse)
    }

    /// `a or b`: b runs when a does not hold.
    mutating func or(_ a: Fragment, _ b: Fragment) -> Fragment {
        connect(a.whenFalse, to: b.entry)
        return Fragment(entry: a.entry, whenTrue: a.whenTrue + b.whenTrue, whenFalse: b.whenFalse)
    }

    /// `a and b and c ...` in order; nil when the list is empty.
    mutating func all(_ tests: [Fragment]) -> Fragment? {
        guard var result = tests.first else { return nil }
        for t in tests.dropFirst() { result = and(result, t) }
        return result
    }

    /// `a or b or c ...` in order; nil when the list is empty.
    mutating func any(_ tests: [Fragment]) -> Fragment? {
        guard var result = tests.first else { return nil }
        for t in tests.dropFirst() { result = or(result, t) }
        return result
    }

    /// Puts statements in front of the first block of a test.
    mutating func prepend(_ statements: [Statement], to test: Fragment) {
        blocks[test.entry].statements.insert(contentsOf: statements, at: 0)
    }

    /// Appends statements to the end of a block (before its branch).
    mutating func append(_ statements: [Statement], to block: BlockID) {
        blocks[block].statements.append(contentsOf: statements)
    }

    /// Closes the graph: a test's true outcomes accept, the false ones reject.
    func program(entry: BlockID) -> FilterProgram {
        let finished = blocks.map { pending -> Block in
            switch pending.end {
            case let .branch(condition, operand, t, f):
                return Block(statements: pending.statements, terminator: .branch(condition, operand, ifTrue: t ?? entry, ifFalse: f ?? entry))
            case let .jump(target):
                return Block(statements: pending.statements, terminator: .jump(target ?? entry))
            case let .verdict(value):
                return Block(statements: pending.statements, terminator: .verdict(value))
            }
        }
        return FilterProgram(blocks: finished, entry: entry)
    }
}
