import PacketFormats

/// The code of one lookup group: reads the packet's addresses (and port) where libpcap's
/// filters for the group's rules read them, looks each up in its trie, and keeps the lowest
/// rule slot found. A field beyond the end of the packet is not looked up (the rules testing
/// it would not match: in classic BPF a load past the end rejects the packet).
///
/// On a match the slot register holds the rule's counter slot and the verdict register its
/// return code, and the code continues at `matchLabel`; otherwise at `noMatchLabel`.
struct LookupEmitter {
    let group: LookupGroup
    let hook: any HookContext
    /// The tries that have entries (the others are not looked up at all).
    let tables: [LookupGroup.TableLayout]
    let matchLabel: Label
    let noMatchLabel: Label

    private typealias Layout = MachineLayout
    private let slot = MachineLayout.accumulator
    private let verdict = MachineLayout.index
    /// What the group's labels are called in messages.
    private var prefix: String { "lookup\(group.number)." }

    /// Where a family's addresses are, for each link-layer type that carries them (libpcap's
    /// `host`/`net` test IPv4, ARP and RARP for IPv4 addresses), from the field model.
    private static let addressOffsets: [(etherType: Int32, family: AddressFamily, source: Int16, destination: Int16)] = {
        func ip(_ family: AddressFamily) -> (Int32, AddressFamily, Int16, Int16) {
            (Int32(family.etherType), family, frameOffset(.sourceAddress, family), frameOffset(.destinationAddress, family))
        }
        let sender = Int16(Protocols.Ethernet.headerLength + Protocols.ARP.senderProtocolAddress)
        let target = Int16(Protocols.Ethernet.headerLength + Protocols.ARP.targetProtocolAddress)
        return [ip(.ipv4), (Int32(Protocols.EtherType.arp), .ipv4, sender, target),
                (Int32(Protocols.EtherType.reverseARP), .ipv4, sender, target), ip(.ipv6)]
    }()

    /// Where `field` is in an untagged Ethernet frame of `family` (a field with a fixed place).
    private static func frameOffset(_ field: PacketField, _ family: AddressFamily) -> Int16 {
        Int16(field.location(in: family)!.frameOffset(in: family)!)
    }

    /// Where a port is from the start of the transport header.
    private static func portOffset(_ side: PacketSide) -> Int16 {
        Int16(PacketField.port(source: side == .source).location(in: .ipv4)!.offset)
    }

    func emit(into asm: inout Assembler) {
        asm.saveContext()
        asm.load(.word, Layout.data, from: Layout.context, offset: hook.dataOffset)
        asm.load(.word, Layout.dataEnd, from: Layout.context, offset: hook.dataEndOffset)
        asm.move(slot, -1, width: .bits32)
        let done = asm.newLabel(prefix + "done")
        // The Ethernet type.
        asm.move(Layout.address, Layout.data)
        asm.add(Layout.address, Int32(Protocols.Ethernet.headerLength))
        asm.jump(if: .greater, Layout.address, Layout.dataEnd, to: done)
        asm.load(.half, Layout.limit, from: Layout.data, offset: Self.frameOffset(.etherType, .ipv4))
        asm.byteSwapFromBigEndian(Layout.limit, bits: 16)
        if group.kind == .port {
            emitPorts(done: done, into: &asm)
        } else {
            emitAddresses(done: done, into: &asm)
        }
        asm.label(done)
        asm.reloadContext()
        asm.jump(if: .equal, slot, -1, to: noMatchLabel, width: .bits32)
        // The counter key, as the counting code stores it too: an instruction between the test
        // and the jump, so the assembler keeps the jump unconditional (a `gotol` when far).
        asm.store(.word, to: .r10, offset: Layout.counterKeySlot, from: slot)
        asm.jump(to: matchLabel)
    }

    /// Port groups, as libpcap's `[PROTO] [src|dst] port N`: IPv4 with the protocol at byte 23,
    /// not a later fragment, the ports after the header length the IHL says (any IHL); IPv6
    /// with the ports right after the fixed header (next header as the protocol). The key is
    /// looked up for each side some member tests whose port is in the packet (a classic-BPF
    /// load past the end rejects, and the destination port lies after the source port).
    private func emitPorts(done: Label, into asm: inout Assembler) {
        var sides = Set<PacketSide>(), transports = Set<UInt8>()
        for member in group.members {
            guard case let .port(transport, _, memberSides) = member.match else { continue }
            sides.formUnion(memberSides); transports.insert(transport)
        }
        let ipv6 = asm.newLabel(prefix + "ports.ipv6")
        asm.jump(if: .equal, Layout.limit, Int32(AddressFamily.ipv6.etherType), to: ipv6, width: .bits32)
        asm.jump(if: .notEqual, Layout.limit, Int32(AddressFamily.ipv4.etherType), to: done, width: .bits32)
        for family in AddressFamily.allCases {
            if family == .ipv6 { asm.label(ipv6) }
            let protocolOffset = Self.frameOffset(.ipProtocol, family)
            boundsCheck(end: Int32(protocolOffset) + 1, onFailure: done, into: &asm)
            asm.load(.byte, Layout.limit, from: Layout.data, offset: protocolOffset)
            let known = asm.newLabel(prefix + "ports.\(family.rawValue).transport")
            for transport in transports.sorted() { asm.jump(if: .equal, Layout.limit, Int32(transport), to: known, width: .bits32) }
            asm.jump(to: done)
            asm.label(known)
            // The key's u32 group, then protocol, side and port (written per side below).
            asm.store(.word, to: .r10, offset: Layout.lookupKeySlot, immediate: Int32(group.number))
            asm.store(.byte, to: .r10, offset: Layout.lookupKeySlot + 4, from: Layout.limit)
            if family == .ipv4 { jumpIfLaterFragment(to: done, into: &asm) }
            for side in PacketSide.allCases where sides.contains(side) {
                if family == .ipv4 {
                    // Recomputed for each side: the lookup's call clobbers the registers.
                    loadIPv4Port(at: Self.portOffset(side), onFailure: done, into: &asm)
                } else {
                    loadIPv6Port(side, onFailure: done, into: &asm)
                }
                if group.portArrayBase != nil {
                    lookUpPortArray(side: side, family: family, into: &asm)
                } else {
                    asm.store(.byte, to: .r10, offset: Layout.lookupKeySlot + 5, immediate: side == .source ? 0 : 1)
                    asm.store(.half, to: .r10, offset: Layout.lookupKeySlot + 6, from: Layout.limit)
                    lookUp(LookupGroup.portTableName, into: &asm)
                }
            }
            asm.jump(to: done)
        }
    }

    private func emitAddresses(done: Label, into asm: inout Assembler) {
        let links = LookupEmitter.addressOffsets.enumerated().filter { _, link in
            tables.contains { $0.family == link.family } && (group.kind == .address || link.etherType == Int32(link.family.etherType))
        }
        // ARP and RARP keep their addresses at the same offsets: one piece of code serves both.
        func first(_ link: (etherType: Int32, family: AddressFamily, source: Int16, destination: Int16)) -> Int {
            links.first { $0.element.source == link.source && $0.element.destination == link.destination }!.offset
        }
        var linkLabels: [Int: Label] = [:]
        for (index, link) in links where first(link) == index { linkLabels[index] = asm.newLabel(prefix + "link\(index)") }
        for (_, link) in links {
            asm.jump(if: .equal, Layout.limit, link.etherType, to: linkLabels[first(link)]!, width: .bits32)
        }
        asm.jump(to: done)
        for (index, link) in links where first(link) == index {
            asm.label(linkLabels[index]!)
            for table in tables where table.family == link.family {
                let after = asm.newLabel(prefix + "link\(index).\(table.name)")
                let addressOffset: Int16
                switch group.kind {
                case .address:
                    addressOffset = table.side == .destination ? link.destination : link.source
                case let .addressAndPort(addressSide, portSide):
                    addressOffset = addressSide == .source ? link.source : link.destination
                    copyTransportKey(link: link, addressSide: addressSide, portSide: portSide, table: table,
                                     onFailure: after, into: &asm)
                case .port:
                    return   // emitPorts
                }
                if let lengths = table.hashedLengths {
                    // Shortest length first; a miss, or an entry with nothing longer under it, ends
                    // the walk (see LookupGroup.firstMatchingSlots).
                    for length in lengths {
                        copyAddress(at: addressOffset, cutTo: length, table: table, onFailure: after, into: &asm)
                        lookUp(LookupGroup.hashTableName(table.name, length), orElse: after, stopUnlessFurther: length != lengths.last, into: &asm)
                    }
                } else {
                    copyAddress(at: addressOffset, table: table, onFailure: after, into: &asm)
                    lookUp(table.name, into: &asm)
                }
                asm.label(after)
            }
            asm.jump(to: done)
        }
    }

    /// Key: prefix length, then the address read from the packet at `offset`. libpcap's
    /// optimized filter for a prefix loads only the 32-bit words the prefix covers, so a packet
    /// that ends inside an IPv6 address still matches a short enough prefix: the key then holds
    /// the words the packet has and a prefix length of 32 bits per word, and the trie answers
    /// only from prefixes no longer than that.
    private func copyAddress(at offset: Int16, table: LookupGroup.TableLayout, onFailure: Label, into asm: inout Assembler) {
        let words = table.family.width / 4
        let copy = prefix + "copy.\(table.name).\(offset)."
        // copies[n]: the copy of the first n words; copies[0] stands for `onFailure`.
        let copies = [onFailure] + (1...words).map { asm.newLabel(copy + "\($0)") }, copied = asm.newLabel(copy + "done")
        for available in stride(from: words, through: 1, by: -1) {
            asm.label(copies[available])
            boundsCheck(end: Int32(offset) + Int32(available * 4), onFailure: copies[available - 1], into: &asm)
            keyHeader(prefixLength: group.exactBits + available * 32, into: &asm)
            copyWords(from: offset, count: available, toKeyOffset: Int16(group.addressOffsetInKey), into: &asm)
            asm.jump(to: copied)
        }
        asm.label(copied)
    }

    /// Key for the hash map of prefixes of `length` bits: the address cut to them, the rest of
    /// the key zero. Only the words the prefix covers need to be in the packet (as in libpcap).
    private func copyAddress(at offset: Int16, cutTo length: Int, table: LookupGroup.TableLayout,
                             onFailure: Label, into asm: inout Assembler) {
        let words = max((length + 31) / 32, 1), keyOffset = Int16(group.addressOffsetInKey)
        boundsCheck(end: Int32(offset) + Int32(words * 4), onFailure: onFailure, into: &asm)
        keyHeader(prefixLength: group.exactBits + length, into: &asm)
        for word in 0..<table.family.width / 4 {
            let target = Layout.lookupKeySlot + keyOffset + Int16(4 * word)
            let bits = min(max(length - 32 * word, 0), 32)
            guard bits > 0 else { asm.store(.word, to: .r10, offset: target, immediate: 0); continue }
            asm.load(.word, Layout.limit, from: Layout.data, offset: offset + Int16(4 * word))
            if bits < 32 {
                // The word as loaded holds the packet's bytes little-endian: so must the mask.
                let networkMask = UInt32.max << UInt32(32 - bits)
                asm.alu(.and, Layout.limit, Int32(bitPattern: networkMask.byteSwapped), width: .bits32)
            }
            asm.store(.word, to: .r10, offset: target, from: Layout.limit)
        }
    }

    /// The key's prefix length and group number (the two-field part is written before).
    private func keyHeader(prefixLength: Int, into asm: inout Assembler) {
        asm.store(.word, to: .r10, offset: Layout.lookupKeySlot, immediate: Int32(prefixLength))
        asm.store(.word, to: .r10, offset: Layout.lookupKeySlot + 4, immediate: Int32(group.number))
    }

    /// Key: prefix length (full), protocol, 0, port, address. IPv4: not a later fragment, the
    /// port after the header length the IHL says; IPv6: the port right after the fixed header.
    private func copyTransportKey(link: (etherType: Int32, family: AddressFamily, source: Int16, destination: Int16),
                                  addressSide: PacketSide, portSide: PacketSide, table: LookupGroup.TableLayout,
                                  onFailure: Label, into asm: inout Assembler) {
        // The address itself is copied afterwards; it must be in the packet whatever its length
        // (IPv4: one word; IPv6: the port lies beyond it).
        let width = table.family.width
        let addressOffset = addressSide == .source ? link.source : link.destination
        let protocolOffset = Self.frameOffset(.ipProtocol, table.family)
        boundsCheck(end: Int32(addressOffset) + Int32(width), onFailure: onFailure, into: &asm)
        boundsCheck(end: Int32(protocolOffset) + 1, onFailure: onFailure, into: &asm)
        asm.load(.byte, Layout.limit, from: Layout.data, offset: protocolOffset)
        asm.store(.word, to: .r10, offset: Layout.lookupKeySlot + 8, from: Layout.limit)   // protocol, 0, port 0
        if table.family == .ipv4 {
            let fragment = Self.frameOffset(.fragmentOffset, .ipv4)
            boundsCheck(end: Int32(fragment) + 2, onFailure: onFailure, into: &asm)
            jumpIfLaterFragment(to: onFailure, into: &asm)
            loadIPv4Port(at: Self.portOffset(portSide), onFailure: onFailure, into: &asm)
        } else {
            loadIPv6Port(portSide, onFailure: onFailure, into: &asm)
        }
        asm.store(.half, to: .r10, offset: Layout.lookupKeySlot + 10, from: Layout.limit)
    }

    /// The port (in the limit register, as loaded) looked up in the port array: index = the
    /// start of the packet's (protocol, side) block + the port; a protocol without a block on
    /// this side has no rule to find.
    private func lookUpPortArray(side: PacketSide, family: AddressFamily, into asm: inout Assembler) {
        let name = prefix + "ports.\(family.rawValue).\(side.rawValue).next"
        let next = asm.newLabel(name), indexed = asm.newLabel(name + ".indexed")
        asm.byteSwapFromBigEndian(Layout.limit, bits: 16)
        asm.load(.byte, Layout.address, from: .r10, offset: Layout.lookupKeySlot + 4)   // the protocol, kept in the key
        let starts = group.portArrayStarts
        for block in group.portBlocks where block.side == side {
            let other = asm.newLabel(name + ".not\(block.transport)")
            asm.jump(if: .notEqual, Layout.address, Int32(block.transport), to: other, width: .bits32)
            asm.add(Layout.limit, Int32(starts[block]!), width: .bits32)
            asm.jump(to: indexed)
            asm.label(other)
        }
        asm.jump(to: next)
        asm.label(indexed)
        asm.store(.word, to: .r10, offset: Layout.lookupKeySlot, from: Layout.limit)
        lookUp(LookupGroup.portTableName, zeroSlotIsEmpty: true, into: &asm)
        asm.label(next)
    }

    /// To `target` when the IPv4 packet is a later fragment (nonzero fragment offset: no
    /// transport header), the fragment field in bounds already.
    private func jumpIfLaterFragment(to target: Label, into asm: inout Assembler) {
        let fragment = PacketField.fragmentOffset.location(in: .ipv4)!
        asm.load(.half, Layout.limit, from: Layout.data, offset: Self.frameOffset(.fragmentOffset, .ipv4))
        asm.byteSwapFromBigEndian(Layout.limit, bits: 16)
        asm.jump(if: .bitsSet, Layout.limit, Int32(fragment.mask!), to: target)
    }

    /// The limit register = the port of `side` right after IPv6's fixed header, or `onFailure`
    /// when it is beyond the packet.
    private func loadIPv6Port(_ side: PacketSide, onFailure: Label, into asm: inout Assembler) {
        let offset = Self.frameOffset(.port(source: side == .source), .ipv6)
        boundsCheck(end: Int32(offset) + 2, onFailure: onFailure, into: &asm)
        asm.load(.half, Layout.limit, from: Layout.data, offset: offset)
    }

    /// The limit register = the port at `portOffset` after the IPv4 header (14 + 4 * IHL, any
    /// IHL, as libpcap's `ldxb 4*([14]&0xf)`), or `onFailure` when it is beyond the packet.
    private func loadIPv4Port(at portOffset: Int16, onFailure: Label, into asm: inout Assembler) {
        let network = Int32(Protocols.Ethernet.headerLength)
        asm.load(.byte, Layout.limit, from: Layout.data, offset: Int16(network) + Int16(Protocols.IPv4.headerLengthField))
        asm.alu(.and, Layout.limit, Int32(Protocols.IPv4.headerLengthMask))
        asm.alu(.shiftLeft, Layout.limit, Int32(Protocols.IPv4.headerLengthUnit.trailingZeroBitCount))
        asm.move(Layout.address, Layout.data)
        asm.add(Layout.address, Layout.limit)
        asm.add(Layout.address, network + Int32(portOffset))
        asm.move(Layout.limit, Layout.address)
        asm.add(Layout.limit, 2)
        asm.jump(if: .greater, Layout.limit, Layout.dataEnd, to: onFailure)
        asm.load(.half, Layout.limit, from: Layout.address, offset: 0)
    }

    private func copyWords(from offset: Int16, count: Int, toKeyOffset keyOffset: Int16, into asm: inout Assembler) {
        for word in 0..<Int16(count) {
            asm.load(.word, Layout.limit, from: Layout.data, offset: offset + 4 * word)
            asm.store(.word, to: .r10, offset: Layout.lookupKeySlot + keyOffset + 4 * word, from: Layout.limit)
        }
    }

    private func boundsCheck(end: Int32, onFailure: Label, into asm: inout Assembler) {
        asm.move(Layout.address, Layout.data)
        asm.add(Layout.address, end)
        asm.jump(if: .greater, Layout.address, Layout.dataEnd, to: onFailure)
    }

    /// r0 = table[key]; when found and its slot is lower than the best so far, take it (the
    /// return code without the look-further bit). With `stopUnlessFurther`, continue only when
    /// the entry has that bit, else at `orElse`; a miss continues there too.
    private func lookUp(_ name: MapName, orElse: Label? = nil, stopUnlessFurther: Bool = false, zeroSlotIsEmpty: Bool = false,
                        into asm: inout Assembler) {
        let skip = asm.newLabel(prefix + "skip"), further = asm.newLabel(prefix + "skip.further")
        asm.loadMap(.r1, named: name)
        asm.move(.r2, .r10)
        asm.add(.r2, Int32(Layout.lookupKeySlot))
        asm.call(.mapLookupElement)
        asm.jump(if: .equal, .r0, 0, to: orElse ?? skip)
        asm.load(.word, .r2, from: .r0, offset: 0)
        if zeroSlotIsEmpty { asm.jump(if: .equal, .r2, 0, to: skip) }
        asm.jump(if: .greaterOrEqual, .r2, slot, to: skip)
        asm.move(slot, .r2)
        asm.load(.word, verdict, from: .r0, offset: 4)
        asm.alu(.and, verdict, Int32(bitPattern: ~LookupGroup.lookFurther), width: .bits32)
        asm.label(skip)
        if stopUnlessFurther, let orElse {
            asm.load(.word, .r2, from: .r0, offset: 4)
            asm.jump(if: .bitsSet, .r2, Int32(bitPattern: LookupGroup.lookFurther), to: further, width: .bits32)
            asm.jump(to: orElse)
            asm.label(further)
        }
    }
}
