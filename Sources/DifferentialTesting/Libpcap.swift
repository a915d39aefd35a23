import CSystemLibraries
import ClassicBPF
import Synchronization


/// What libpcap said when it refused an expression (`pcap_geterr` after `pcap_compile`).
public struct LibpcapError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// The installed libpcap, used as the oracle the tests compare with: its compiler, its
/// `bpf_image` listing and its `bpf_filter` interpreter. The only place these calls live.
public enum Libpcap {
    /// pcap_compile keeps global parser state in some versions and bpf_image prints into a
    /// static buffer: one caller at a time.
    private static let lock = Mutex(())

    /// Compiles like `tcpdump [-O] -d EXPR` on Ethernet: `pcap_open_dead(DLT_EN10MB, snaplen)`,
    /// netmask unknown.
    public static func compile(_ expression: String, optimize: Bool, snapLength: UInt32 = 262144) -> Result<[ClassicInstruction], LibpcapError> {
        lock.withLock { _ in
            guard let handle = pcap_open_dead(DLT_EN10MB, Int32(clamping: snapLength)) else {
                return .failure(LibpcapError(message: "pcap_open_dead failed"))
            }
            defer { pcap_close(handle) }
            var program = pcap_bpf_program()
            guard pcap_compile(handle, &program, expression, optimize ? 1 : 0, PCAP_NETMASK_UNKNOWN) == 0 else {
                return .failure(LibpcapError(message: String(cString: pcap_geterr(handle))))
            }
            defer { pcap_freecode(&program) }
            let instructions = UnsafeBufferPointer(start: program.bf_insns, count: Int(program.bf_len))
            return .success(instructions.map { ClassicInstruction(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) })
        }
    }

    /// The `tcpdump -d` listing of a program: `bpf_image` for each instruction, "(%03d) ..." lines.
    public static func image(_ program: [ClassicInstruction]) -> String {
        lock.withLock { _ in
            var text = ""
            for (index, instruction) in program.enumerated() {
                var raw = pcapInstruction(instruction)
                text += String(cString: bpf_image(&raw, Int32(clamping: index)))
                text += "\n"
            }
            return text
        }
    }

    /// libpcap's userland interpreter: the number of bytes to keep, 0 to reject. `packet` is the
    /// captured bytes. A program bpf_filter cannot run safely (an opcode it aborts on, a jump
    /// out of the program, a scratch slot past M[15], division by a constant 0, running off the
    /// end), or one that loops without end on this packet (checked with our interpreter's step
    /// limit first, for programs with a backward `ja`), is not run: the answer is 0.
    public static func filter(_ program: [ClassicInstruction], packet: [UInt8], wireLength: UInt32) -> UInt32 {
        PreparedFilter(program).run(packet: packet, wireLength: wireLength)
    }

    /// A program checked and converted once, for running `bpf_filter` on many packets.
    public struct PreparedFilter: Sendable {
        private let instructions: [pcap_bpf_insn]?
        /// Kept when the program jumps backward, to check first that it stops on the packet.
        private let loopingProgram: [ClassicInstruction]?

        public init(_ program: [ClassicInstruction]) {
            instructions = isSafeForFilter(program) ? program.map(pcapInstruction) : nil
            let jumpsBackward = program.contains { $0.code == ClassicOpcode.jmp | ClassicOpcode.ja && Int32(bitPattern: $0.k) < 0 }
            loopingProgram = jumpsBackward ? program : nil
        }

        public func run(packet: [UInt8], wireLength: UInt32) -> UInt32 {
            guard let instructions else { return 0 }
            // bpf_filter has no step limit: never hand it a loop that would not end.
            if let loopingProgram, !ClassicInterpreter.halts(loopingProgram, packet: packet, wireLength: wireLength) { return 0 }
            let bytes = packet.isEmpty ? [0] : packet
            return instructions.withUnsafeBufferPointer { code in
                bytes.withUnsafeBufferPointer { data in
                    UInt32(bpf_filter(code.baseAddress, data.baseAddress, wireLength, UInt32(packet.count)))
                }
            }
        }
    }

    /// Whether libpcap's `bpf_filter` can run the program without crashing or reading outside
    /// it. Backward `ja` (protochain's loop) is allowed, as bpf_filter allows it.
    public static func isSafeForFilter(_ program: [ClassicInstruction]) -> Bool {
        typealias Op = ClassicOpcode
        guard !program.isEmpty, program.count < Int(Int32.max) else { return false }
        for (index, instruction) in program.enumerated() {
            let code = instruction.code
            guard Op.known.contains(code) else { return false }
            let inProgram = { (target: Int) in target >= 0 && target < program.count }
            switch code & 0x07 {
            case Op.ret:
                continue
            case Op.jmp where code == Op.jmp | Op.ja:
                guard inProgram(index + 1 + Int(Int32(bitPattern: instruction.k))) else { return false }
            case Op.jmp:
                guard inProgram(index + 1 + Int(instruction.jt)), inProgram(index + 1 + Int(instruction.jf)) else { return false }
            default:
                guard inProgram(index + 1) else { return false }
                let usesScratch = code == Op.st || code == Op.stx || code == Op.ld | Op.mem || code == Op.ldx | Op.mem
                if usesScratch, instruction.k >= 16 { return false }
                let dividesByConstant = code == Op.alu | Op.div | Op.k || code == Op.alu | Op.mod | Op.k
                if dividesByConstant, instruction.k == 0 { return false }
            }
        }
        return true
    }

    fileprivate static func pcapInstruction(_ instruction: ClassicInstruction) -> pcap_bpf_insn {
        pcap_bpf_insn(code: instruction.code, jt: instruction.jt, jf: instruction.jf, k: instruction.k)
    }
}
