import DifferentialTesting
import EBPF

/// A prototype of the recommended classifier for the IPv4 rules of a generated ruleset, to
/// measure it whole: per field an equivalence class (source and destination address by array
/// tries, protocol by a 256-entry array, ports by 65,536-entry arrays of elementary intervals, an
/// "absent" class for ports of other protocols), per class a vector of the rules it allows, and
/// the first bit common to the five vectors is the first match. Not the product: no fragments,
/// no IP options, no truncation, no IPv6, no filters.
struct BitVectorClassifier {
    /// The ruleset's IPv4 and address-less rules, in order: bit i is `rules[i]`.
    let rules: [FieldRule]
    /// Vectors of `words` 64-bit words, by key (the "vectors" map).
    var vectors: [[UInt64]] = []
    let words: Int
    var sourceTrie = ArrayTrie([]), destinationTrie = ArrayTrie([])
    var sourceBase = 0, destinationBase = 0
    /// Protocol number → vector key; port → vector key; the keys for ports absent.
    var protocols: [UInt32] = [], sourcePorts: [UInt32] = [], destinationPorts: [UInt32] = []
    var sourcePortsAbsent = 0, destinationPortsAbsent = 0

    init(_ ruleset: [FieldRule]) {
        rules = ruleset.filter { !$0.isIPv6 }
        words = (rules.count + 63) / 64
        (sourceTrie, sourceBase) = addressClasses(\FieldRule.source)
        (destinationTrie, destinationBase) = addressClasses(\FieldRule.destination)
        var known: [[UInt64]: UInt32] = [:]
        protocols = (0..<256).map { number in
            let vector = vector { rule in
                switch rule.transport {
                case .tcp: number == 6
                case .udp: number == 17
                case .icmp: number == 1
                case .any: rule.sourcePorts == nil && rule.destinationPorts == nil || [6, 17, 132].contains(number)
                }
            }
            if let key = known[vector] { return key }
            known[vector] = UInt32(vectors.count)
            vectors.append(vector)
            return known[vector]!
        }
        (sourcePorts, sourcePortsAbsent) = portClasses(\FieldRule.sourcePorts)
        (destinationPorts, destinationPortsAbsent) = portClasses(\FieldRule.destinationPorts)
    }

    func vector(_ allows: (FieldRule) -> Bool) -> [UInt64] {
        var vector = [UInt64](repeating: 0, count: words)
        for (index, rule) in rules.enumerated() where allows(rule) { vector[index / 64] |= 1 << UInt64(index % 64) }
        return vector
    }

    /// The trie of the field's distinct prefixes and the key of its first class (no prefix:
    /// the rules leaving the field out), then one class per prefix: the rules whose prefix holds it.
    private mutating func addressClasses(_ field: KeyPath<FieldRule, AddressPrefix?>) -> (ArrayTrie, Int) {
        let prefixes = Array(Set(rules.compactMap { $0[keyPath: field] }))
        let base = vectors.count
        func number(_ prefix: AddressPrefix) -> (value: UInt32, mask: UInt32) {
            let mask: UInt32 = prefix.length == 0 ? 0 : ~0 << UInt32(32 - prefix.length)
            return (prefix.bytes.reduce(0) { $0 << 8 | UInt32($1) }, mask)
        }
        let ruleNumbers = rules.map { $0[keyPath: field].map(number) }
        vectors.append(vector { $0[keyPath: field] == nil })
        for prefix in prefixes {
            let (value, mask) = number(prefix)
            var vector = [UInt64](repeating: 0, count: words)
            for (index, rule) in ruleNumbers.enumerated() where rule == nil || (rule!.mask & mask == rule!.mask && value & rule!.mask == rule!.value) {
                vector[index / 64] |= 1 << UInt64(index % 64)
            }
            vectors.append(vector)
        }
        return (ArrayTrie(prefixes), base)
    }

    /// Port → key of its elementary interval's vector, and the key for "no ports".
    private mutating func portClasses(_ field: KeyPath<FieldRule, PortRange?>) -> ([UInt32], Int) {
        var starts = Set([0])
        for range in rules.compactMap({ $0[keyPath: field] }) {
            starts.insert(Int(range.lower))
            if range.upper < 65535 { starts.insert(Int(range.upper) + 1) }
        }
        var keys = [UInt32](repeating: 0, count: 65_536)
        let sorted = starts.sorted()
        for (index, start) in sorted.enumerated() {
            let key = UInt32(vectors.count)
            vectors.append(vector { $0[keyPath: field]?.contains(UInt16(start)) ?? true })
            for port in start..<(index + 1 < sorted.count ? sorted[index + 1] : 65_536) { keys[port] = key }
        }
        vectors.append(vector { $0[keyPath: field] == nil })
        return (keys, vectors.count - 1)
    }

    /// The answer the program must give: the first rule (bit) matching, or none.
    func firstMatch(_ flow: Flow) -> UInt32 {
        rules.firstIndex { $0.matches(flow) }.map(UInt32.init) ?? UInt32.max
    }

    /// What the program computes, computed here: tells a wrong table from a wrong program.
    func classify(_ flow: Flow) -> UInt32 {
        let keys = classes(flow)
        for word in 0..<words {
            let common = keys.reduce(UInt64.max) { $0 & vectors[$1][word] }
            if common != 0 { return UInt32(word * 64 + common.trailingZeroBitCount) }
        }
        return UInt32.max
    }

    /// The vector keys of the flow's five classes.
    func classes(_ flow: Flow) -> [Int] {
        func leaf(_ trie: ArrayTrie, _ address: [UInt8]) -> Int {
            var entry = trie.entries[Int(address[0]) << 8 | Int(address[1])]
            for byte in address[2...] where entry & 0x8000_0000 != 0 { entry = trie.entries[Int(entry & 0x7fff_ffff) + Int(byte)] }
            return Int(entry)
        }
        let carriesPorts = [6, 17, 132].contains(flow.ipProtocol)
        return [sourceBase + leaf(sourceTrie, flow.source), destinationBase + leaf(destinationTrie, flow.destination),
                Int(protocols[Int(flow.ipProtocol)]),
                carriesPorts ? Int(sourcePorts[Int(flow.sourcePort)]) : sourcePortsAbsent,
                carriesPorts ? Int(destinationPorts[Int(flow.destinationPort)]) : destinationPortsAbsent]
    }

    /// Words scanned up to the first match (all of them when none), and how many of those are
    /// non-zero in all five vectors: what a scan guided by per-vector summaries (one bit per
    /// non-zero word) would still have to AND.
    func scan(_ flow: Flow) -> (scanned: Int, candidates: Int) {
        let keys = classes(flow)
        var candidates = 0
        for word in 0..<words {
            if keys.allSatisfy({ vectors[$0][word] != 0 }) { candidates += 1 }
            if keys.reduce(UInt64.max, { $0 & vectors[$1][word] }) != 0 { return (word + 1, candidates) }
        }
        return (words, candidates)
    }

    /// The same scan with the rules split by which address fields they leave out (EffiCuts'
    /// partition), each group numbering its own rules: per group, the words of its own vectors
    /// non-zero in every field (what per-vector summaries leave to AND) up to its first match,
    /// summed over the groups. Counts only, no program.
    func partitionedScan(_ flow: Flow) -> (words: Int, candidates: Int) {
        let keys = classes(flow)
        let groups = Dictionary(grouping: rules.indices) { [rules[$0].source == nil, rules[$0].destination == nil] }
        var words = 0, candidates = 0
        for members in groups.values {
            words += (members.count + 63) / 64
            for start in stride(from: 0, to: members.count, by: 64) {
                let chunk = members[start..<min(start + 64, members.count)]
                let allowed = keys.map { key in chunk.filter { vectors[key][$0 / 64] & 1 << UInt64($0 % 64) != 0 } }
                guard allowed.allSatisfy({ !$0.isEmpty }) else { continue }
                candidates += 1
                if chunk.contains(where: { rule in allowed.allSatisfy { $0.contains(rule) } }) { break }
            }
        }
        return (words, candidates)
    }

    /// The XDP program: fields to the stack, five classes to five vector pointers, the scan.
    func program() throws -> [EBPFInstruction] {
        var asm = Assembler()
        let out = asm.newLabel("out")
        ProbeProgram.requireFrame(&asm, length: 38, out: out)   // through the IPv4 header and both ports
        for (offset, slot, size) in [(26 as Int16, -8 as Int16, MemorySize.word), (30, -12, .word), (23, -16, .byte),
                                     (34, -20, .half), (36, -24, .half)] {
            asm.load(size, .r5, from: .r2, offset: offset)
            if size != .byte { asm.byteSwapFromBigEndian(.r5, bits: size == .word ? 32 : 16) }
            asm.store(.word, to: .framePointer, offset: slot, from: .r5)
        }
        func vectorPointer(_ field: Int) {   // the key in r1 → the vector's pointer in its stack slot
            asm.store(.word, to: .framePointer, offset: -4, from: .r1)
            ProbeProgram.lookUp(&asm, map: .vectors, keyAt: -4, missing: out)
            asm.store(.double, to: .framePointer, offset: Int16(-32 - 8 * field), from: .r0)
        }
        for (field, slot, trie, base) in [(0, -8 as Int16, MapName.sourceTrie, sourceBase), (1, -12, MapName.destinationTrie, destinationBase)] {
            asm.load(.word, .r6, from: .framePointer, offset: slot)
            let leaf = asm.newLabel("class\(field)")
            ProbeProgram.walkArrayTrie(&asm, map: trie, leaf: leaf, out: out)
            asm.label(leaf)
            asm.add(.r1, Int32(base))
            vectorPointer(field)
        }
        asm.load(.word, .r1, from: .framePointer, offset: -16)
        asm.store(.word, to: .framePointer, offset: -4, from: .r1)
        ProbeProgram.lookUp(&asm, map: .protocols, keyAt: -4, missing: out)
        asm.load(.word, .r1, from: .r0, offset: 0)
        vectorPointer(2)
        for (field, slot, map, absent) in [(3, -20 as Int16, MapName.sourcePorts, sourcePortsAbsent), (4, -24, MapName.destinationPorts, destinationPortsAbsent)] {
            let ports = asm.newLabel("ports\(field)"), key = asm.newLabel("key\(field)")
            asm.load(.word, .r1, from: .framePointer, offset: -16)
            for number: Int32 in [6, 17, 132] { asm.jump(if: .equal, .r1, number, to: ports) }
            asm.move(.r1, Int32(absent))
            asm.jump(to: key)
            asm.label(ports)
            asm.load(.word, .r1, from: .framePointer, offset: slot)
            asm.store(.word, to: .framePointer, offset: -4, from: .r1)
            ProbeProgram.lookUp(&asm, map: map, keyAt: -4, missing: out)
            asm.load(.word, .r1, from: .r0, offset: 0)
            asm.label(key)
            vectorPointer(field)
        }
        let none = asm.newLabel("none")
        ProbeProgram.firstCommonBit(&asm, fields: 5, words: words, pointersAt: -32, none: none)
        asm.label(out)
        asm.move(.r0, ProbeProgram.notFound)
        asm.exit()
        return try asm.assemble()
    }
}
