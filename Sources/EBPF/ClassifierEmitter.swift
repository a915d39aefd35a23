import PacketFormats

/// The code of one packet classifier (`PacketClassifier`): reads each field where the field
/// model puts it (a field the packet is too short to hold keeps row 0, as a classic-BPF load
/// past the end rejects the rules that test it), looks up its row, then ANDs the five rows word
/// by word; the first nonzero word's lowest set bit is the first matching entry, whose counter
/// slot and verdict the entry table holds.
///
/// On a match the slot register holds the rule's counter slot and the verdict register its
/// return code, and the code continues at `matchLabel`; otherwise at `noMatchLabel`.
struct ClassifierEmitter {
    let classifier: PacketClassifier
    let hook: any HookContext
    let matchLabel: Label
    let noMatchLabel: Label

    /// What the verifier walks for each step of the scan (its loops are not `may_goto` loops:
    /// every iteration is walked, and the found branch of each), for the chunk budget.
    static let walkedPerStep = 90

    private typealias Layout = MachineLayout
    private typealias Field = PacketClassifier.Field
    /// What the classifier's labels are called in messages.
    private var label: String { classifier.prefix + "." }
    /// The packet's address (host order) while the IPv4 trie is walked: callee-saved.
    private let address = Register.r6
    /// The kind key while it is assembled.
    private let kind = Register.r7

    func emit(into asm: inout Assembler) {
        asm.saveContext()
        asm.load(.word, Layout.data, from: Layout.context, offset: hook.dataOffset)
        asm.load(.word, Layout.dataEnd, from: Layout.context, offset: hook.dataEndOffset)
        for field in Field.allCases { asm.store(.double, to: .r10, offset: Layout.classifierRowSlot(field.rawValue), immediate: 0) }
        let rows = asm.newLabel(label + "rows")
        var families: [Int: Label] = [:]
        for (family, _) in PacketClassifier.familyCodes { families[family] = asm.newLabel(label + "family\(family)") }
        // The Ethernet type: a shorter frame, or another type, is of family 0, whose row is 0.
        boundsCheck(end: Int32(Protocols.Ethernet.headerLength), onFailure: rows, into: &asm)
        asm.load(.half, Layout.limit, from: Layout.data, offset: Int16(Protocols.Ethernet.typeField))
        asm.byteSwapFromBigEndian(Layout.limit, bits: 16)
        for (family, etherType) in PacketClassifier.familyCodes {
            asm.jump(if: .equal, Layout.limit, Int32(etherType), to: families[family]!, width: .bits32)
        }
        asm.jump(to: rows)
        emitIPv4(at: families[1]!, done: rows, into: &asm)
        emitIPv6(at: families[2]!, done: rows, into: &asm)
        emitARP(at: families, done: rows, into: &asm)
        asm.label(rows)
        emitScan(into: &asm)
    }

    // MARK: Fields, family by family

    private func emitIPv4(at start: Label, done: Label, into asm: inout Assembler) {
        asm.label(start)
        let fragment = PacketField.fragmentOffset.location(in: .ipv4)!
        let protocolKey = asm.newLabel(label + "v4.protocol"), kindDone = asm.newLabel(label + "v4.kind")
        let fragmentPresent = asm.newLabel(label + "v4.fragment")
        asm.move(kind, Int32(1 << 12), width: .bits32)
        let fragmentOffset = Int16(fragment.frameOffset(in: .ipv4)!)
        asm.move(Layout.address, Layout.data)
        asm.add(Layout.address, Int32(fragmentOffset) + 2)
        asm.jump(if: .lessOrEqual, Layout.address, Layout.dataEnd, to: fragmentPresent)
        asm.alu(.or, kind, Int32(PacketClassifier.fragmentNotKnown << 10), width: .bits32)
        asm.jump(to: protocolKey)
        asm.label(fragmentPresent)
        asm.load(.half, Layout.limit, from: Layout.data, offset: fragmentOffset)
        asm.byteSwapFromBigEndian(Layout.limit, bits: 16)
        asm.alu(.and, Layout.limit, Int32(fragment.mask!), width: .bits32)
        asm.jump(if: .equal, Layout.limit, 0, to: protocolKey, width: .bits32)
        asm.alu(.or, kind, Int32(1 << 10), width: .bits32)
        asm.label(protocolKey)
        emitProtocolByte(at: frameOffset(.ipProtocol, .ipv4), done: kindDone, into: &asm)
        asm.label(kindDone)
        for byteClass in [PacketClassifier.TransportByteClass.tcpFlags, .icmpType] where classifier.hasTransportBytes {
            let skip = asm.newLabel(label + "v4.byte.\(byteClass.rawValue)")
            asm.jump(if: .notEqual, kind, Int32(byteClass.kindKey), to: skip, width: .bits32)
            loadIPv4Transport(offset: byteClass.field.location(in: .ipv4)!.offset, size: .byte, onFailure: skip, into: &asm)
            setTransportByteKey(byteClass, into: &asm)
            asm.label(skip)
        }
        lookUpSets(.ipv4, at: [.source: frameOffset(.sourceAddress, .ipv4), .destination: frameOffset(.destinationAddress, .ipv4)],
                   into: &asm)
        lookUpKind(into: &asm)
        if classifier.hasIPv4Addresses {
            lookUpIPv4(at: frameOffset(.sourceAddress, .ipv4), side: .source, into: &asm)
            lookUpIPv4(at: frameOffset(.destinationAddress, .ipv4), side: .destination, into: &asm)
        }
        if classifier.hasPorts {
            for side in PacketSide.allCases {
                let skip = asm.newLabel(label + "v4.port.\(side.rawValue)")
                loadIPv4Port(side, onFailure: skip, into: &asm)
                lookUpPort(side, into: &asm)
                asm.label(skip)
            }
        }
        asm.jump(to: done)
    }

    private func emitIPv6(at start: Label, done: Label, into asm: inout Assembler) {
        asm.label(start)
        let kindDone = asm.newLabel(label + "v6.kind"), plain = asm.newLabel(label + "v6.plain")
        let nextHeaderPresent = asm.newLabel(label + "v6.nextHeader")
        asm.move(kind, Int32(2 << 12 | PacketClassifier.fragmentNotKnown << 10), width: .bits32)
        let nextHeader = frameOffset(.ipProtocol, .ipv6)
        asm.move(Layout.address, Layout.data)
        asm.add(Layout.address, Int32(nextHeader) + 1)
        asm.jump(if: .lessOrEqual, Layout.address, Layout.dataEnd, to: nextHeaderPresent)
        asm.alu(.or, kind, Int32(PacketClassifier.absentProtocol), width: .bits32)
        asm.jump(to: kindDone)
        asm.label(nextHeaderPresent)
        asm.load(.byte, Layout.limit, from: Layout.data, offset: nextHeader)
        asm.jump(if: .notEqual, Layout.limit, Int32(Protocols.IPProtocol.fragment), to: plain, width: .bits32)
        // A fragment header right after the fixed one: its next header, when the frame holds it.
        let fragmentNextHeader = Int16(Protocols.Ethernet.headerLength + Protocols.IPv6.headerLength)
        asm.move(Layout.address, Layout.data)
        asm.add(Layout.address, Int32(fragmentNextHeader) + 1)
        asm.jump(if: .greater, Layout.address, Layout.dataEnd, to: plain)
        asm.load(.byte, Layout.limit, from: Layout.data, offset: fragmentNextHeader)
        asm.add(Layout.limit, 256, width: .bits32)
        asm.label(plain)
        asm.alu(.or, kind, Layout.limit, width: .bits32)
        asm.label(kindDone)
        if classifier.hasTransportBytes {
            let byteClass = PacketClassifier.TransportByteClass.icmp6Type, skip = asm.newLabel(label + "v6.byte")
            let offset = frameOffset(byteClass.field, .ipv6)
            asm.jump(if: .notEqual, kind, Int32(byteClass.kindKey), to: skip, width: .bits32)
            boundsCheck(end: Int32(offset) + 1, onFailure: skip, into: &asm)
            asm.load(.byte, Layout.limit, from: Layout.data, offset: offset)
            setTransportByteKey(byteClass, into: &asm)
            asm.label(skip)
        }
        lookUpSets(.ipv6, at: [.source: frameOffset(.sourceAddress, .ipv6), .destination: frameOffset(.destinationAddress, .ipv6)],
                   into: &asm)
        lookUpKind(into: &asm)
        for (side, prefixes) in [(PacketSide.source, classifier.ipv6Source), (.destination, classifier.ipv6Destination)]
        where !prefixes.isEmpty {
            lookUpIPv6(at: frameOffset(.address(source: side == .source), .ipv6), side: side, into: &asm)
        }
        if classifier.hasPorts {
            for side in PacketSide.allCases {
                let skip = asm.newLabel(label + "v6.port.\(side.rawValue)")
                let offset = frameOffset(.port(source: side == .source), .ipv6)
                boundsCheck(end: Int32(offset) + 2, onFailure: skip, into: &asm)
                asm.load(.half, Layout.limit, from: Layout.data, offset: offset)
                lookUpPort(side, into: &asm)
                asm.label(skip)
            }
        }
        asm.jump(to: done)
    }

    /// ARP and RARP: IPv4 sender and target protocol addresses, no protocol, no ports.
    private func emitARP(at families: [Int: Label], done: Label, into asm: inout Assembler) {
        let arp = asm.newLabel(label + "arp")
        for family in [3, 4] {
            asm.label(families[family]!)
            asm.move(kind, Int32(family << 12 | PacketClassifier.fragmentNotKnown << 10 | PacketClassifier.absentProtocol), width: .bits32)
            asm.jump(to: arp)
        }
        asm.label(arp)
        let ethernet = Protocols.Ethernet.headerLength
        lookUpSets(.ipv4, at: [.source: Int16(ethernet + Protocols.ARP.senderProtocolAddress),
                               .destination: Int16(ethernet + Protocols.ARP.targetProtocolAddress)], into: &asm)
        lookUpKind(into: &asm)
        if classifier.hasIPv4Addresses {
            lookUpIPv4(at: Int16(ethernet + Protocols.ARP.senderProtocolAddress), side: .source, into: &asm)
            lookUpIPv4(at: Int16(ethernet + Protocols.ARP.targetProtocolAddress), side: .destination, into: &asm)
        }
        asm.jump(to: done)
    }

    /// kind |= the protocol byte at `offset`, or the absent key when the frame ends before it.
    private func emitProtocolByte(at offset: Int16, done: Label, into asm: inout Assembler) {
        let present = asm.newLabel(label + "protocol.\(offset)")
        asm.move(Layout.address, Layout.data)
        asm.add(Layout.address, Int32(offset) + 1)
        asm.jump(if: .lessOrEqual, Layout.address, Layout.dataEnd, to: present)
        asm.alu(.or, kind, Int32(PacketClassifier.absentProtocol), width: .bits32)
        asm.jump(to: done)
        asm.label(present)
        asm.load(.byte, Layout.limit, from: Layout.data, offset: offset)
        asm.alu(.or, kind, Layout.limit, width: .bits32)
    }

    // MARK: Lookups

    /// For each set test (`PacketClassifier.setTests`), the address of its side looked up in the
    /// set's LPM trie of `family`: when the frame holds the whole address and the set has a
    /// prefix holding it, the kind key moves to the kind array of the tests passed.
    private func lookUpSets(_ family: AddressFamily, at offsets: [PacketSide: Int16], into asm: inout Assembler) {
        for (bit, test) in classifier.setTests.enumerated() {
            let offset = offsets[test.side]!, skip = asm.newLabel(label + "set\(bit).\(offset).done")
            boundsCheck(end: Int32(offset) + Int32(family.width), onFailure: skip, into: &asm)
            asm.store(.word, to: .r10, offset: Layout.lookupKeySlot, immediate: Int32(family.width * 8))
            for word in 0..<Int16(family.width / 4) {
                asm.load(.word, Layout.limit, from: Layout.data, offset: offset + 4 * word)
                asm.store(.word, to: .r10, offset: Layout.lookupKeySlot + 4 + 4 * word, from: Layout.limit)
            }
            lookUp(classifier.setTable(test.name, family), onMiss: skip, into: &asm)
            asm.add(kind, Int32(PacketClassifier.kindKey(0, sets: 1 << bit)), width: .bits32)
            asm.label(skip)
        }
    }

    private func lookUpKind(into asm: inout Assembler) {
        asm.store(.word, to: .r10, offset: Layout.lookupKeySlot, from: kind)
        lookUpRow(classifier.kindTable, field: .kind, into: &asm)
    }

    /// The row of an IPv4 address in the array-walked trie: first level by the top 16 bits,
    /// then a node per following byte while the entry points at one.
    private func lookUpIPv4(at offset: Int16, side: PacketSide, into asm: inout Assembler) {
        let skip = asm.newLabel(label + "v4trie.\(offset).done")
        boundsCheck(end: Int32(offset) + 4, onFailure: skip, into: &asm)
        asm.load(.word, address, from: Layout.data, offset: offset)
        asm.byteSwapFromBigEndian(address, bits: 32)
        asm.move(.r2, address, width: .bits32)
        asm.alu(.shiftRight, .r2, 16, width: .bits32)
        if side == .destination { asm.add(.r2, Int32(PacketClassifier.trieFirstLevel), width: .bits32) }
        asm.store(.word, to: .r10, offset: Layout.lookupKeySlot, from: .r2)
        for (level, shift) in [(1, 8), (2, 0), (3, -1)] {
            lookUp(classifier.trieTable, onMiss: skip, into: &asm)
            asm.load(.word, .r2, from: .r0, offset: 0)
            guard shift >= 0 else { break }
            let node = asm.newLabel(label + "v4trie.\(offset).\(level)")
            asm.jump(if: .bitsSet, .r2, Int32(bitPattern: PacketClassifier.nodeFlag), to: node, width: .bits32)
            asm.store(.word, to: .r10, offset: Layout.classifierRowSlot(fieldOf(side).rawValue), from: .r2)
            asm.jump(to: skip)
            asm.label(node)
            asm.alu(.and, .r2, Int32(bitPattern: ~PacketClassifier.nodeFlag), width: .bits32)
            asm.move(.r3, address, width: .bits32)
            if shift > 0 { asm.alu(.shiftRight, .r3, Int32(shift), width: .bits32) }
            asm.alu(.and, .r3, 0xff, width: .bits32)
            asm.add(.r2, .r3, width: .bits32)
            asm.store(.word, to: .r10, offset: Layout.lookupKeySlot, from: .r2)
        }
        asm.store(.word, to: .r10, offset: Layout.classifierRowSlot(fieldOf(side).rawValue), from: .r2)
        asm.label(skip)
    }

    /// The row of an IPv6 address in its side's LPM trie. libpcap reads only the 32-bit words a
    /// prefix covers, so a frame that ends inside the address still matches short enough
    /// prefixes: the key then holds the words the frame has, with a prefix length of 32 bits a
    /// word, and the trie answers only from prefixes no longer than that.
    private func lookUpIPv6(at offset: Int16, side: PacketSide, into asm: inout Assembler) {
        let copy = label + "v6.\(offset).copy", skip = asm.newLabel(label + "v6.\(offset).done")
        // copies[n]: the copy of the first n words; copies[0] stands for `skip`.
        let copies = [skip] + (1...4).map { asm.newLabel(copy + "\($0)") }, copied = asm.newLabel(copy + "done")
        for available in stride(from: 4, through: 1, by: -1) {
            asm.label(copies[available])
            boundsCheck(end: Int32(offset) + Int32(available * 4), onFailure: copies[available - 1], into: &asm)
            asm.store(.word, to: .r10, offset: Layout.lookupKeySlot, immediate: Int32(available * 32))
            for word in 0..<Int16(4) {
                let target = Layout.lookupKeySlot + 4 + 4 * word
                if Int(word) < available {
                    asm.load(.word, Layout.limit, from: Layout.data, offset: offset + 4 * word)
                    asm.store(.word, to: .r10, offset: target, from: Layout.limit)
                } else {
                    asm.store(.word, to: .r10, offset: target, immediate: 0)
                }
            }
            asm.jump(to: copied)
        }
        asm.label(copied)
        lookUpRow(classifier.ipv6Table(side), field: fieldOf(side), into: &asm)
        asm.label(skip)
    }

    /// The port in the limit register (as loaded, network order) → its row.
    private func lookUpPort(_ side: PacketSide, into asm: inout Assembler) {
        asm.byteSwapFromBigEndian(Layout.limit, bits: 16)
        if side == .destination { asm.add(Layout.limit, 65_536, width: .bits32) }
        asm.store(.word, to: .r10, offset: Layout.lookupKeySlot, from: Layout.limit)
        lookUpRow(classifier.portTable, field: side == .source ? .sourcePort : .destinationPort, into: &asm)
    }

    /// kind = the transport byte key of the byte in the limit register.
    private func setTransportByteKey(_ byteClass: PacketClassifier.TransportByteClass, into asm: inout Assembler) {
        asm.move(kind, Layout.limit, width: .bits32)
        asm.alu(.or, kind, Int32(PacketClassifier.transportByteKey(byteClass, byte: 0)), width: .bits32)
    }

    /// The limit register = the port of `side` after the IPv4 header, or `onFailure` when it is
    /// beyond the frame.
    private func loadIPv4Port(_ side: PacketSide, onFailure: Label, into asm: inout Assembler) {
        loadIPv4Transport(offset: PacketField.port(source: side == .source).location(in: .ipv4)!.offset, size: .half,
                          onFailure: onFailure, into: &asm)
    }

    /// The limit register = the field at `offset` of the transport header after the IPv4 header
    /// (14 + 4 × IHL, any IHL, as libpcap computes it), or `onFailure` when it is beyond the frame.
    private func loadIPv4Transport(offset fieldOffset: UInt32, size: MemorySize, onFailure: Label, into asm: inout Assembler) {
        let network = Int32(Protocols.Ethernet.headerLength)
        boundsCheck(end: network + Int32(Protocols.IPv4.headerLengthField) + 1, onFailure: onFailure, into: &asm)
        asm.load(.byte, Layout.limit, from: Layout.data, offset: Int16(network) + Int16(Protocols.IPv4.headerLengthField))
        asm.alu(.and, Layout.limit, Int32(Protocols.IPv4.headerLengthMask))
        asm.alu(.shiftLeft, Layout.limit, Int32(Protocols.IPv4.headerLengthUnit.trailingZeroBitCount))
        asm.move(Layout.address, Layout.data)
        asm.add(Layout.address, Layout.limit)
        asm.add(Layout.address, network + Int32(fieldOffset))
        asm.move(Layout.limit, Layout.address)
        asm.add(Layout.limit, size == .byte ? 1 : 2)
        asm.jump(if: .greater, Layout.limit, Layout.dataEnd, to: onFailure)
        asm.load(size, Layout.limit, from: Layout.address, offset: 0)
    }

    /// The key slot looked up in `table`: found, its u32 is the field's row.
    private func lookUpRow(_ table: MapName, field: Field, into asm: inout Assembler) {
        let skip = asm.newLabel(label + "row")
        lookUp(table, onMiss: skip, into: &asm)
        asm.load(.word, .r2, from: .r0, offset: 0)
        asm.store(.word, to: .r10, offset: Layout.classifierRowSlot(field.rawValue), from: .r2)
        asm.label(skip)
    }

    /// r0 = table[key slot]; to `onMiss` when there is no such entry.
    private func lookUp(_ table: MapName, onMiss: Label, into asm: inout Assembler) {
        asm.loadMap(.r1, named: table)
        asm.move(.r2, .r10)
        asm.add(.r2, Int32(Layout.lookupKeySlot))
        asm.call(.mapLookupElement)
        asm.jump(if: .equal, .r0, 0, to: onMiss)
    }

    // MARK: The scan

    private let pointers: [Register] = [.r1, .r2, .r3, .r4, .r5]

    /// The five rows' vectors, then the scan.
    private func emitScan(into asm: inout Assembler) {
        let noMatch = asm.newLabel(label + "nomatch")
        for field in Field.allCases {
            asm.load(.word, .r2, from: .r10, offset: Layout.classifierRowSlot(field.rawValue))
            asm.add(.r2, Int32(classifier.rowBase[field.rawValue]), width: .bits32)
            asm.store(.word, to: .r10, offset: Layout.lookupKeySlot, from: .r2)
            lookUp(classifier.vectorTable, onMiss: noMatch, into: &asm)
            asm.store(.double, to: .r10, offset: Layout.classifierVectorSlot(field.rawValue), from: .r0)
        }
        loadPointers(into: &asm)
        if classifier.summaryWords > 0 {
            emitSummarizedScan(noMatch: noMatch, into: &asm)
        } else {
            emitLinearScan(noMatch: noMatch, into: &asm)
        }
        asm.label(noMatch)
        asm.reloadContext()
        asm.jump(to: noMatchLabel)
    }

    private func loadPointers(into asm: inout Assembler) {
        for (field, pointer) in zip(Field.allCases, pointers) {
            asm.load(.double, pointer, from: .r10, offset: Layout.classifierVectorSlot(field.rawValue))
        }
    }

    /// The rows ANDed word by word up to the first nonzero word; its lowest set bit is the entry.
    private func emitLinearScan(noMatch: Label, into asm: inout Assembler) {
        let word = Register.r6, other = Register.r7, loop = asm.newLabel(label + "scan"), found = asm.newLabel(label + "found")
        asm.move(word, 0)
        asm.label(loop)
        asm.load(.double, .r0, from: pointers[0], offset: 0)
        for pointer in pointers.dropFirst() {
            asm.load(.double, other, from: pointer, offset: 0)
            asm.alu(.and, .r0, other)
        }
        asm.jump(if: .notEqual, .r0, 0, to: found)
        for pointer in pointers { asm.add(pointer, 8) }
        asm.add(word, 1)
        asm.jump(if: .less, word, Int32(classifier.words), to: loop)
        asm.jump(to: noMatch)
        // Its lowest set bit's number, plus 64 per word before it.
        asm.label(found)
        asm.move(other, word)
        asm.alu(.shiftLeft, other, 6)
        lowestBitNumber(of: .r0, into: other, temporary: .r2, into: &asm)
        asm.store(.word, to: .r10, offset: Layout.lookupKeySlot, from: other)
        lookUp(classifier.entryTable, onMiss: noMatch, into: &asm)
        asm.load(.word, MachineLayout.accumulator, from: .r0, offset: 0)
        asm.load(.word, MachineLayout.index, from: .r0, offset: 4)
        emitMatch(into: &asm)
    }

    /// Slot and verdict registers set: to the counting code.
    private func emitMatch(into asm: inout Assembler) {
        asm.reloadContext()
        // The counter key, as the counting code stores it too: an instruction between the last
        // test and the jump, so the assembler keeps the jump unconditional (a `gotol` when far).
        asm.store(.word, to: .r10, offset: Layout.counterKeySlot, from: MachineLayout.accumulator)
        asm.jump(to: matchLabel)
    }

    /// Each group apart: the AND of the rows' summary words says which words can hold a match;
    /// those are ANDed in turn until one is not zero, whose lowest bit is the group's first
    /// entry. The first match is the lowest slot over the groups (kept on the stack).
    ///
    /// For the verifier: each candidate loop is bounded by a counter (64, the bits of a summary
    /// word), the word index is checked against the row, and every register is reset where a
    /// group or summary word starts, so the paths that reach it meet in one state.
    private func emitSummarizedScan(noMatch: Label, into asm: inout Assembler) {
        let best = Layout.classifierBestSlot, bestVerdict = Layout.classifierBestVerdictSlot
        let candidates = Register.r0, count = Register.r6, word = Register.r7, bits = Register.r8, scratch = Register.r9
        asm.store(.double, to: .r10, offset: best, immediate: -1)
        asm.store(.double, to: .r10, offset: bestVerdict, immediate: 0)
        for (number, group) in classifier.groups.enumerated() {
            let groupDone = asm.newLabel(label + "group\(number).done")
            for summary in classifier.summaryRange(ofGroup: group) {
                let name = label + "group\(number).summary\(summary)"
                let step = asm.newLabel(name), next = asm.newLabel(name + ".done")
                let candidate = asm.newLabel(name + ".candidate"), found = asm.newLabel(name + ".found")
                asm.label(step)
                for register in [count, word, bits, scratch] { asm.move(register, 0) }
                let offset = Int16((classifier.words + summary) * 8)
                asm.load(.double, candidates, from: pointers[0], offset: offset)
                for pointer in pointers.dropFirst() {
                    asm.load(.double, scratch, from: pointer, offset: offset)
                    asm.alu(.and, candidates, scratch)
                }
                // Only this group's words of the summary word.
                let first = max(group.lowerBound, summary * 64) - summary * 64, end = min(group.upperBound, summary * 64 + 64) - summary * 64
                if first > 0 || end < 64 {
                    let mask = (end - first == 64 ? UInt64.max : ((1 << UInt64(end - first)) - 1)) << UInt64(first)
                    asm.loadImmediate64(scratch, mask)
                    asm.alu(.and, candidates, scratch)
                }
                asm.label(candidate)
                asm.jump(if: .equal, candidates, 0, to: next)
                // The lowest candidate word, and the candidates without it.
                asm.move(scratch, candidates)
                asm.move(bits, candidates)
                asm.add(bits, -1)
                asm.alu(.and, candidates, bits)
                asm.move(word, 0)
                lowestBitNumber(of: scratch, into: word, temporary: bits, into: &asm)
                asm.add(word, Int32(summary * 64))
                asm.jump(if: .greaterOrEqual, word, Int32(classifier.words), to: next)
                asm.alu(.shiftLeft, word, 3)
                // The word of every row ANDed.
                asm.move(bits, pointers[0])
                asm.add(bits, word)
                asm.load(.double, bits, from: bits, offset: 0)
                for pointer in pointers.dropFirst() {
                    asm.move(scratch, pointer)
                    asm.add(scratch, word)
                    asm.load(.double, scratch, from: scratch, offset: 0)
                    asm.alu(.and, bits, scratch)
                }
                asm.jump(if: .notEqual, bits, 0, to: found)
                asm.add(count, 1)
                asm.jump(if: .less, count, 64, to: candidate)
                asm.jump(to: next)
                // The group's first entry: word × 64 + the lowest set bit.
                asm.label(found)
                asm.alu(.shiftLeft, word, 3)   // byte offset × 8 = word × 64
                lowestBitNumber(of: bits, into: word, temporary: scratch, into: &asm)
                asm.store(.word, to: .r10, offset: Layout.lookupKeySlot, from: word)
                lookUp(classifier.entryTable, onMiss: groupDone, into: &asm)
                asm.load(.word, .r2, from: .r0, offset: 0)
                asm.load(.double, .r3, from: .r10, offset: best)
                asm.jump(if: .greaterOrEqual, .r2, .r3, to: groupDone)
                asm.store(.double, to: .r10, offset: best, from: .r2)
                asm.load(.word, .r2, from: .r0, offset: 4)
                asm.store(.double, to: .r10, offset: bestVerdict, from: .r2)
                asm.jump(to: groupDone)
                asm.label(next)
            }
            asm.label(groupDone)
            loadPointers(into: &asm)
        }
        asm.load(.double, MachineLayout.accumulator, from: .r10, offset: best)
        asm.jump(if: .equal, MachineLayout.accumulator, -1, to: noMatch)
        asm.load(.double, MachineLayout.index, from: .r10, offset: bestVerdict)
        emitMatch(into: &asm)
    }

    /// `result` += the number of the lowest bit set in `value` (not zero; destroyed), without a
    /// branch: at each halving, `(low half) - 1` has its top bit set exactly when the low half is
    /// zero, and that bit, moved to the half's width, is both the shift and what is added. The
    /// verifier sees one path with a bounded sum, where a branch per halving would give it 64
    /// exact constants to walk apart behind every word of the scan.
    private func lowestBitNumber(of value: Register, into result: Register, temporary: Register, into asm: inout Assembler) {
        for width in [32, 16, 8, 4, 2, 1] {
            if width == 32 {
                asm.move(temporary, value, width: .bits32)
            } else {
                asm.move(temporary, value)
                asm.alu(.and, temporary, Int32((1 << width) - 1))
            }
            asm.add(temporary, -1)
            asm.alu(.shiftRight, temporary, 63)
            asm.alu(.shiftLeft, temporary, Int32(width.trailingZeroBitCount))
            asm.alu(.shiftRight, value, temporary)
            asm.add(result, temporary)
        }
    }

    // MARK: Helpers

    private func fieldOf(_ side: PacketSide) -> Field { side == .source ? .sourceAddress : .destinationAddress }

    private func frameOffset(_ field: PacketField, _ family: AddressFamily) -> Int16 {
        Int16(field.location(in: family)!.frameOffset(in: family)!)
    }

    private func boundsCheck(end: Int32, onFailure: Label, into asm: inout Assembler) {
        asm.move(Layout.address, Layout.data)
        asm.add(Layout.address, end)
        asm.jump(if: .greater, Layout.address, Layout.dataEnd, to: onFailure)
    }
}
