import Dispatch
import Synchronization

/// Spreads independent work over the cores; results come back in input order. (Compiling a
/// ruleset's rules, `check`'s loads, the tests' differential runs.)
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
private final class ResultSlots<Output: Sendable>: Sendable {
    private let slots: Mutex<[Output?]>

    init(count: Int) { slots = Mutex(Array(repeating: nil, count: count)) }

    func set(_ index: Int, _ value: Output) { slots.withLock { $0[index] = value } }

    func values() -> [Output] { slots.withLock { $0.map { $0! } } }
}
