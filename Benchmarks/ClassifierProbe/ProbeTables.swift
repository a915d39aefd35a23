import DifferentialTesting
import EBPF

/// Distinct prefixes of mixed lengths, as a routing or IP-chain table has them: IPv4 mostly
/// /24 and /32 with the rest spread over /8…/31; IPv6 /32…/128 with /48 and /64 the most common.
struct PrefixTable {
    var prefixes: [AddressPrefix] = []

    init(count: Int, ipv6: Bool, random: inout SeededRandom) {
        var seen = Set<AddressPrefix>()
        while prefixes.count < count {
            let length: Int
            if ipv6 {
                length = [32, 40, 48, 48, 56, 64, 64, 64, 96, 112, 128][random.next(11)]
            } else {
                let draw = random.next(100)
                length = draw < 30 ? 24 : draw < 50 ? 32 : 8 + random.next(24)
            }
            var address = (0..<(ipv6 ? 16 : 4)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if ipv6 { address[0] = 0x20; address[1] = 0x01 } else { address[0] = 1 + address[0] % 223 }
            let prefix = AddressPrefix(masking: address, length: length)
            if seen.insert(prefix).inserted { prefixes.append(prefix) }
        }
    }

    /// The index of the longest prefix holding `address`, as the LPM trie answers.
    func longestMatch(_ address: [UInt8]) -> Int? {
        prefixes.indices.filter { prefixes[$0].contains(address) }.max { prefixes[$0].length < prefixes[$1].length }
    }
}

/// A cut tree of `levels` levels of 16-way cuts (4 bits of the source address, destination
/// address and destination port in turn), each level's nodes sharing one row of 16 children: the
/// walk costs what a real tree of that depth costs, without its memory.
struct CutTree {
    /// {field, shift, mask, first child (0xffffffff: a leaf)} per node.
    var nodes: [[UInt32]] = []
    let levels: Int

    init(levels: Int) {
        self.levels = levels
        for level in 0...levels {
            let field = UInt32(level % 3), round = UInt32(level / 3)
            let node: [UInt32] = level == levels ? [0, 0, 0, .max]
                : [field, field == 2 ? 12 - 4 * round : 28 - 4 * round, 15, UInt32(1 + 16 * level)]
            nodes += Array(repeating: node, count: level == 0 ? 1 : 16)
        }
    }

    func leaf(source: [UInt8], destination: [UInt8], port: UInt16) -> Int {
        let values = [source, destination].map { $0.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } } + [UInt32(port)]
        var index = 0
        for _ in 0..<levels {
            let node = nodes[index]
            index = Int(node[3] + (values[Int(node[0])] >> node[1] & node[2]))
        }
        return index
    }
}

/// IPv4 prefixes as a multibit trie with strides 16, 8, 8 and leaf pushing, laid out for one
/// array map: entries 0…65535 are the first level, then 256-entry nodes. An entry is either
/// 0x80000000 | the first index of a node, or the index of the longest prefix there + 1 (0: none).
struct ArrayTrie {
    var entries: [UInt32] = Array(repeating: 0, count: 65_536)

    init(_ prefixes: [AddressPrefix]) {
        // Shorter prefixes first: a longer one overwrites them, a new node inherits the entry it replaces.
        for index in prefixes.indices.sorted(by: { prefixes[$0].length < prefixes[$1].length }) {
            let prefix = prefixes[index], bytes = prefix.bytes.map(Int.init)
            let value = UInt32(index + 1)
            var base = 0, used = 16, slot = bytes[0] << 8 | bytes[1]
            while prefix.length > used {
                if entries[base + slot] & 0x8000_0000 == 0 {
                    let inherited = entries[base + slot]
                    entries[base + slot] = 0x8000_0000 | UInt32(entries.count)
                    entries += Array(repeating: inherited, count: 256)
                }
                base = Int(entries[base + slot] & 0x7fff_ffff)
                slot = bytes[used / 8]
                used += 8
            }
            let span = 1 << (used - prefix.length)
            for entry in (base + slot)..<(base + slot + span) { entries[entry] = value }
        }
    }
}
