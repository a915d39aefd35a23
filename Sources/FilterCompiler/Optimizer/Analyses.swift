/// The value flow and liveness of the graph as it was when last computed. Every pass of a round
/// asks for them, and in the later rounds most passes change nothing, so the next pass can
/// have the same answer without walking the graph again. An analysis is reused only for the
/// identical graph (blocks, entry and rewritten-test identities), and the value flow only when
/// computing it rewrote nothing, so reusing it is exactly what computing it again would give.
struct Analyses {
    fileprivate var valueFlow: (graph: GraphShape, flow: ValueFlow)?
    fileprivate var liveness: (graph: GraphShape, order: [BlockID], liveness: Liveness)?
}

/// What an analysis depends on.
fileprivate struct GraphShape: Equatable {
    var blocks: [Block]
    var entry: BlockID
    var foldedTests: [BlockID: FoldedTest]
}

extension FlowGraph {
    private var shape: GraphShape { GraphShape(blocks: blocks, entry: entry, foldedTests: foldedTests) }

    /// `ValueFlow(rewriting:changed:)`, or the last one when the graph is the same.
    mutating func valueFlow(changed: inout Bool) -> ValueFlow {
        if let cached = analyses.valueFlow, cached.graph == shape {
            var flow = cached.flow
            flow.table = values
            return flow
        }
        var rewrote = false
        var flow = ValueFlow(rewriting: &self, changed: &rewrote)
        if rewrote {
            changed = true
            analyses.valueFlow = nil
        } else {
            // The table lives on in `values`; the copy here would only hold it twice.
            let table = flow.table
            flow.table = ValueTable()
            analyses.valueFlow = (shape, flow)
            flow.table = table
        }
        return flow
    }

    /// `Liveness(graph, order:)`, or the last one when the graph and the order are the same.
    mutating func liveness(order: [BlockID]) -> Liveness {
        if let cached = analyses.liveness, cached.order == order, cached.graph == shape { return cached.liveness }
        let liveness = Liveness(self, order: order)
        analyses.liveness = (shape, order, liveness)
        return liveness
    }
}
