import EBPF

/// The small XDP programs ClassifierProbe measures: each is one building block of a packet
/// classifier, returns what it found (so the probe checks it worked) and nothing else.
/// Frames are Ethernet + IPv4 or IPv6 + TCP; every program checks the frame is long enough first.
enum ProbeProgram {
    /// Returned when a lookup finds nothing or the frame is too short.
    static let notFound: Int32 = -1
    static let xdp = XDPHook()

    /// Only returns: the baseline every other figure is net of.
    static func nothing() throws -> [EBPFInstruction] {
        var asm = Assembler()
        asm.move(.r0, 2)
        asm.exit()
        return try asm.assemble()
    }

    /// `r2` = data, `r3` = data_end; to `out` unless `length` bytes are there. `r1` is kept.
    static func requireFrame(_ asm: inout Assembler, length: Int32, out: Label) {
        asm.load(.word, .r2, from: .r1, offset: xdp.dataOffset)
        asm.load(.word, .r3, from: .r1, offset: xdp.dataEndOffset)
        asm.move(.r4, .r2)
        asm.add(.r4, length)
        asm.jump(if: .greater, .r4, .r3, to: out)
    }

    /// `r0` = the entry of `map` for the key stored at fp+`offset`; to `missing` when there is none.
    static func lookUp(_ asm: inout Assembler, map: MapName, keyAt offset: Int16, missing: Label) {
        asm.loadMap(.r1, named: map)
        asm.move(.r2, .framePointer)
        asm.add(.r2, Int32(offset))
        asm.call(.mapLookupElement)
        asm.jump(if: .equal, .r0, 0, to: missing)
    }

    /// Looks the key at fp+`key` up in `map`; to `out` (placed here) when absent, else returns
    /// the u32 value.
    private static func lookUpAndReturnValue(_ asm: inout Assembler, map: MapName, key: Int16, out: Label) {
        lookUp(&asm, map: map, keyAt: key, missing: out)
        asm.load(.word, .r0, from: .r0, offset: 0)
        asm.exit()
        asm.label(out)
        asm.move(.r0, notFound)
        asm.exit()
    }

    /// An LPM trie lookup of the source address (IPv4 at frame offset 26, IPv6 at 22).
    static func prefixLookup(ipv6: Bool) throws -> [EBPFInstruction] {
        var asm = Assembler()
        let out = asm.newLabel("out")
        requireFrame(&asm, length: ipv6 ? 74 : 54, out: out)
        let words: Int16 = ipv6 ? 4 : 1
        for word in 0..<words {   // the address, in network order, after the prefix length
            asm.load(.word, .r5, from: .r2, offset: (ipv6 ? 22 : 26) + 4 * word)
            asm.store(.word, to: .framePointer, offset: -4 * (words - word), from: .r5)
        }
        let key = -4 * (words + 1)
        asm.store(.word, to: .framePointer, offset: key, immediate: ipv6 ? 128 : 32)
        lookUpAndReturnValue(&asm, map: .table, key: key, out: out)
        return try asm.assemble()
    }

    /// The IPv4 source address looked up in a multibit trie held in the array map "trie"
    /// (strides 16, 8, 8; see ArrayTrie). Returns the answer (-1 for none).
    static func arrayTrieLookup() throws -> [EBPFInstruction] {
        var asm = Assembler()
        let out = asm.newLabel("out"), leaf = asm.newLabel("leaf")
        requireFrame(&asm, length: 54, out: out)
        asm.load(.word, .r6, from: .r2, offset: 26)
        asm.byteSwapFromBigEndian(.r6, bits: 32)
        walkArrayTrie(&asm, map: .trie, leaf: leaf, out: out)
        asm.label(leaf)
        asm.move(.r0, .r1)
        asm.add(.r0, -1)
        asm.exit()
        asm.label(out)
        asm.move(.r0, notFound)
        asm.exit()
        return try asm.assemble()
    }

    /// Walks the array trie `map` for the IPv4 address (host order) in r6: entries with bit 31
    /// set lead to a 256-entry node, the others are leaves (the answer + 1, 0: none). Leaves the
    /// leaf in r1 and goes on at `leaf`; to `out` when an entry is missing.
    static func walkArrayTrie(_ asm: inout Assembler, map: MapName, leaf: Label, out: Label) {
        asm.move(.r1, .r6)
        asm.alu(.shiftRight, .r1, 16)
        for shift: Int32 in [16, 8, 0] {
            if shift < 16 {   // r1 = node base + the next byte of the address
                asm.move(.r2, .r6)
                if shift > 0 { asm.alu(.shiftRight, .r2, shift) }
                asm.alu(.and, .r2, 0xff)
                asm.alu(.and, .r1, 0x7fff_ffff)
                asm.add(.r1, .r2)
            }
            asm.store(.word, to: .framePointer, offset: -4, from: .r1)
            lookUp(&asm, map: map, keyAt: -4, missing: out)
            asm.load(.word, .r1, from: .r0, offset: 0)
            if shift > 0 { asm.jump(if: .less, .r1, Int32(bitPattern: 0x8000_0000), to: leaf, width: .bits32) }
        }
        asm.jump(to: leaf)
    }

    /// An array lookup keyed by the TCP destination port (an IPv4 frame).
    static func portArrayLookup() throws -> [EBPFInstruction] {
        var asm = Assembler()
        let out = asm.newLabel("out")
        requireFrame(&asm, length: 54, out: out)
        asm.load(.half, .r5, from: .r2, offset: 36)
        asm.byteSwapFromBigEndian(.r5, bits: 16)
        asm.store(.word, to: .framePointer, offset: -4, from: .r5)
        lookUpAndReturnValue(&asm, map: .table, key: -4, out: out)
        return try asm.assemble()
    }

    /// A hash lookup of a 16-byte 5-tuple key (source and destination address, ports, protocol),
    /// each field masked as one tuple of a tuple-space search would mask it.
    static func tupleHashLookup(sourceMask: UInt32, destinationMask: UInt32) throws -> [EBPFInstruction] {
        var asm = Assembler()
        let out = asm.newLabel("out")
        requireFrame(&asm, length: 54, out: out)
        for (offset, slot, mask) in [(26 as Int16, -16 as Int16, sourceMask), (30, -12, destinationMask)] {
            asm.load(.word, .r5, from: .r2, offset: offset)
            asm.alu(.and, .r5, Int32(bitPattern: mask.bigEndian), width: .bits32)
            asm.store(.word, to: .framePointer, offset: slot, from: .r5)
        }
        asm.load(.word, .r5, from: .r2, offset: 34)   // both ports
        asm.store(.word, to: .framePointer, offset: -8, from: .r5)
        asm.load(.byte, .r5, from: .r2, offset: 23)   // protocol
        asm.store(.word, to: .framePointer, offset: -4, from: .r5)
        lookUpAndReturnValue(&asm, map: .table, key: -16, out: out)
        return try asm.assemble()
    }

    /// `fields` lookups in the array map "vectors" (keys 0…fields-1, values of `words` 64-bit
    /// words), then the words ANDed across fields in a bounded loop, `unrolled` words an
    /// iteration, until one is not zero; returns word × 64 + the index of its lowest set bit
    /// (found by halving, eBPF has no ctz). `words` must be a multiple of `unrolled`.
    static func bitVectorSearch(fields: Int, words: Int, unrolled: Int = 1) throws -> [EBPFInstruction] {
        var asm = Assembler()
        let none = asm.newLabel("none")
        for field in 0..<fields {
            asm.store(.word, to: .framePointer, offset: -4, immediate: Int32(field))
            lookUp(&asm, map: .vectors, keyAt: -4, missing: none)
            asm.store(.double, to: .framePointer, offset: Int16(-16 - 8 * field), from: .r0)
        }
        firstCommonBit(&asm, fields: fields, words: words, unrolled: unrolled, pointersAt: -16, none: none)
        return try asm.assemble()
    }

    /// The scan shared by the bit-vector programs: the `fields` vector pointers stored at
    /// fp+`pointers`, fp+`pointers`-8, … are ANDed word by word (`unrolled` words an iteration)
    /// until a word is not zero; returns word × 64 + its lowest set bit (found by halving: eBPF has
    /// no ctz), or `notFound` (at `none`, placed here) when no bit is common. Uses r6–r9.
    static func firstCommonBit(_ asm: inout Assembler, fields: Int, words: Int, unrolled: Int = 1, pointersAt pointers: Int16,
                               none: Label) {
        let loop = asm.newLabel("loop"), found = asm.newLabel("found")
        let hits = (0..<unrolled).map { asm.newLabel("hit\($0)") }
        asm.move(.r6, 0)
        asm.label(loop)
        asm.jump(if: .greaterOrEqual, .r6, Int32(words), to: none)
        asm.move(.r7, .r6)
        asm.alu(.shiftLeft, .r7, 3)
        for step in 0..<unrolled {
            for field in 0..<fields {
                let word: Register = field == 0 ? .r9 : .r8
                asm.load(.double, .r8, from: .framePointer, offset: pointers - Int16(8 * field))
                asm.add(.r8, .r7)
                asm.load(.double, word, from: .r8, offset: Int16(8 * step))
                if field > 0 { asm.alu(.and, .r9, .r8) }
            }
            asm.jump(if: .notEqual, .r9, 0, to: hits[step])
        }
        asm.add(.r6, Int32(unrolled))
        asm.jump(to: loop)
        for step in 0..<unrolled {
            asm.label(hits[step])
            asm.add(.r6, Int32(step))
            asm.jump(to: found)
        }
        asm.label(found)
        asm.move(.r1, .r9)            // the lowest set bit alone: x & -x
        asm.negate(.r1)
        asm.alu(.and, .r9, .r1)
        asm.move(.r0, .r6)
        asm.alu(.shiftLeft, .r0, 6)
        for half: Int32 in [32, 16, 8, 4, 2, 1] {
            asm.move(.r1, .r9)
            asm.alu(.shiftRight, .r1, half)
            let below = asm.newLabel("below\(half)")
            asm.jump(if: .equal, .r1, 0, to: below)
            asm.add(.r0, half)
            asm.move(.r9, .r1)
            asm.label(below)
        }
        asm.exit()
        asm.label(none)
        asm.move(.r0, notFound)
        asm.exit()
    }

    /// A cut tree walked through the array map "nodes": each node is {field, shift, mask,
    /// first child} (four u32), the child taken is first child + (field >> shift & mask); a first
    /// child of 0xffffffff is a leaf, whose index is returned. Fields: 0 source, 1 destination
    /// address (host order), 2 destination port. `levels` lookups at most (unrolled).
    static func treeWalk(levels: Int) throws -> [EBPFInstruction] {
        var asm = Assembler()
        let out = asm.newLabel("out"), leaf = asm.newLabel("leaf")
        requireFrame(&asm, length: 54, out: out)
        for (offset, slot, size) in [(26 as Int16, -8 as Int16, MemorySize.word), (30, -12, .word), (36, -16, .half)] {
            asm.load(size, .r5, from: .r2, offset: offset)
            asm.byteSwapFromBigEndian(.r5, bits: size == .word ? 32 : 16)
            asm.store(.word, to: .framePointer, offset: slot, from: .r5)
        }
        asm.move(.r6, 0)
        for level in 0...levels {
            asm.store(.word, to: .framePointer, offset: -4, from: .r6)
            lookUp(&asm, map: .nodes, keyAt: -4, missing: out)
            asm.load(.word, .r1, from: .r0, offset: 12)
            asm.jump(if: .equal, .r1, notFound, to: leaf, width: .bits32)
            if level == levels { asm.jump(to: out); break }
            let picked = asm.newLabel("picked\(level)")
            asm.load(.word, .r2, from: .r0, offset: 0)
            asm.load(.word, .r3, from: .framePointer, offset: -16)
            asm.jump(if: .equal, .r2, 2, to: picked)
            asm.load(.word, .r3, from: .framePointer, offset: -12)
            asm.jump(if: .equal, .r2, 1, to: picked)
            asm.load(.word, .r3, from: .framePointer, offset: -8)
            asm.label(picked)
            asm.load(.word, .r4, from: .r0, offset: 4)
            asm.alu(.shiftRight, .r3, .r4)
            asm.load(.word, .r4, from: .r0, offset: 8)
            asm.alu(.and, .r3, .r4)
            asm.move(.r6, .r1)
            asm.add(.r6, .r3)
        }
        asm.label(leaf)
        asm.move(.r0, .r6)
        asm.exit()
        asm.label(out)
        asm.move(.r0, notFound)
        asm.exit()
        return try asm.assemble()
    }
}

/// The maps the probes' programs look up.
extension MapName {
    static let table = MapName(handWritten: "table")
    static let trie = MapName(handWritten: "trie")
    static let vectors = MapName(handWritten: "vectors")
    static let nodes = MapName(handWritten: "nodes")
    static let protocols = MapName(handWritten: "protocols")
    static let sourceTrie = MapName(handWritten: "sourceTrie")
    static let destinationTrie = MapName(handWritten: "destinationTrie")
    static let sourcePorts = MapName(handWritten: "sourcePorts")
    static let destinationPorts = MapName(handWritten: "destinationPorts")
}
