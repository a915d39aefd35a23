/// The facts that hold on entry to every reachable block, shared as a tree.
///
/// A fact survives where paths meet only if every path took the same arm (see `Facts`), so the
/// facts on entry to a block are the branch arms that dominate it, in the order every path
/// meets them. A block entered over one arm knows what its predecessor knows plus that arm's
/// outcome; a block entered over several knows what all its predecessors know in common, the
/// facts of their nearest common node. One node per arm that teaches something, instead of a
/// list per block: a chain of n alternatives has n facts on entry to its last block, and lists
/// would hold n² facts, and intersecting them cost n³.
struct FactTree {
    /// The tests the blocks end with, each once, so that facts can be looked up by number.
    private(set) var tests: [Test] = []
    /// Each block's test number, -1 where its ending tests nothing known.
    private(set) var testNumber: [Int]
    /// Node 0 is the root (nothing known); every other node is one fact below its parent, and a
    /// parent always comes before its children.
    private var facts: [Fact] = [Fact(test: -1, holds: false)]
    private var parent: [Int] = [0]
    /// The nearest node at or above each node whose fact says some value equals something.
    private var equalityAbove: [Int] = [0]
    /// Each block's node: the facts on entry to it.
    private(set) var node: [Int]
    /// Each node's position in a depth-first walk, and the last position within its subtree.
    private var position: [Int] = []
    private var subtreeEnd: [Int] = []
    /// For each test, the nodes that learn it with no node above them learning it too (the
    /// first fact about the test on any path), in walk order: their subtrees do not overlap.
    private var firstLearnt: [Int] = []
    /// Where each test's nodes start in `firstLearnt`; one extra entry for the end.
    private var firstLearntStart: [Int] = []

    init(_ graph: FlowGraph, _ flow: ValueFlow) {
        node = [Int](repeating: 0, count: graph.blocks.count)
        testNumber = node.map { _ in -1 }
        // Small programs (nearly all) have a handful of tests: a search beats hashing there.
        let searched = flow.order.count <= 64
        var numbers: [Test: Int] = [:]
        for id in flow.order {
            guard let test = flow.tests[id] else { continue }
            if let known = searched ? tests.firstIndex(of: test) : numbers[test] {
                testNumber[id] = known
            } else {
                testNumber[id] = tests.count
                if !searched { numbers[test] = tests.count }
                tests.append(test)
            }
        }
        var visited = [Bool](repeating: false, count: graph.blocks.count)
        for id in flow.order {
            defer { visited[id] = true }
            let incoming = flow.predecessors[id]
            guard id != graph.entry, let first = incoming.first, incoming.allSatisfy({ visited[$0] }) else { continue }
            if incoming.count == 1 {
                node[id] = child(of: first, into: id, graph, flow)
                continue
            }
            // Several arms: none of them dominates the block, and the arms dominating all the
            // predecessors are those above their common node.
            var common = node[first]
            for other in incoming.dropFirst() {
                var other = node[other]
                while common != other {
                    if common > other { common = parent[common] } else { other = parent[other] }
                }
            }
            node[id] = common
        }
        index()
    }

    /// The node for a block entered only over the arm from `predecessor`.
    private mutating func child(of predecessor: BlockID, into id: BlockID, _ graph: FlowGraph, _ flow: ValueFlow) -> Int {
        let above = node[predecessor]
        guard case let .branch(_, _, ifTrue, _) = graph.blocks[predecessor].terminator,
              let test = flow.tests[predecessor] else { return above }
        let sense = ifTrue == id
        let fact = Fact(test: testNumber[predecessor], holds: sense != flow.inverted[predecessor])
        let new = facts.count
        facts.append(fact)
        parent.append(above)
        equalityAbove.append(fact.holds && test.condition == .equal ? new : equalityAbove[above])
        return new
    }

    /// Numbers the nodes depth first and finds the first node learning each test on each path.
    private mutating func index() {
        let count = facts.count
        var childStart = [Int](repeating: 0, count: count + 1)
        for node in 1..<count { childStart[parent[node] + 1] += 1 }
        for node in 0..<count { childStart[node + 1] += childStart[node] }
        var children = [Int](repeating: 0, count: max(count - 1, 0))
        var filled = childStart
        for node in 1..<count {
            children[filled[parent[node]]] = node
            filled[parent[node]] += 1
        }
        position = [Int](repeating: 0, count: count)
        subtreeEnd = position
        var firsts: [(test: Int, node: Int)] = []
        var learning = [Int](repeating: 0, count: tests.count)
        var next = 0
        // (node, index of the next child to visit)
        var stack: [(Int, Int)] = [(0, childStart[0])]
        position[0] = next
        while let (node, child) = stack.popLast() {
            if child < childStart[node + 1] {
                stack.append((node, child + 1))
                let down = children[child]
                next += 1
                position[down] = next
                let test = facts[down].test
                if learning[test] == 0 { firsts.append((test, down)) }
                learning[test] += 1
                stack.append((down, childStart[down]))
            } else {
                subtreeEnd[node] = next
                if node != 0 { learning[facts[node].test] -= 1 }
            }
        }
        // Grouped by test, each group in walk order.
        firstLearntStart = [Int](repeating: 0, count: tests.count + 1)
        for first in firsts { firstLearntStart[first.test + 1] += 1 }
        for test in 0..<tests.count { firstLearntStart[test + 1] += firstLearntStart[test] }
        var free = firstLearntStart
        firstLearnt = [Int](repeating: 0, count: firsts.count)
        for first in firsts {
            firstLearnt[free[first.test]] = first.node
            free[first.test] += 1
        }
    }

    /// The outcome of test number `test` first learnt on the way to `node`, if any.
    func outcome(of test: Int, at node: Int) -> Bool? {
        guard node != 0 else { return nil }
        // The last first-learning node at or before `node` in the walk, if `node` is below it.
        let start = firstLearntStart[test]
        var low = start, high = firstLearntStart[test + 1]
        while low < high {
            let middle = (low + high) / 2
            if position[firstLearnt[middle]] <= position[node] { low = middle + 1 } else { high = middle }
        }
        guard low > start else { return nil }
        let candidate = firstLearnt[low - 1]
        return position[node] <= subtreeEnd[candidate] ? facts[candidate].holds : nil
    }

    /// Whether some fact on the way to `node` says that a value equals something and
    /// `predicate` holds of it.
    func containsEquality(at node: Int, where predicate: (Test) -> Bool) -> Bool {
        var current = equalityAbove[node]
        while current != 0 {
            if predicate(tests[facts[current].test]) { return true }
            current = equalityAbove[parent[current]]
        }
        return false
    }
}
