import Dispatch

/// Spreads independent test work over the cores; results come back in input order.
public enum ParallelRun {
    public static func map<Input: Sendable, Output: Sendable>(_ inputs: [Input], _ body: @Sendable (Input) -> Output) -> [Output] {
        let results = ResultSlots<Output>(count: inputs.count)
        DispatchQueue.concurrentPerform(iterations: inputs.count) { index in
            results.set(index, body(inputs[index]))
        }
        return results.values()
    }
}

/// One slot per input, written once each from concurrent workers.
private final class ResultSlots<Output>: @unchecked Sendable {
    private var slots: [Output?]
    private let lock = DispatchQueue(label: "xdpfw.parallel-run")

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Output) { lock.sync { slots[index] = value } }

    func values() -> [Output] { lock.sync { slots.map { $0! } } }
}
