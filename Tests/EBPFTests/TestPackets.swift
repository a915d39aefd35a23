/// Packets the eBPF tests build themselves: the headers the corpus captures have few of
/// (IPv6 extension-header chains for protochain, VLAN and MPLS stacks) and every truncation
/// of a few frames, so each bounds check meets packets that end just before and after it.
enum TestPackets {
    static let destinationMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x02]
    static let sourceMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x01]

    static func ethernet(_ etherType: UInt16, _ payload: [UInt8], vlans: [UInt16] = []) -> [UInt8] {
        var frame = destinationMAC + sourceMAC
        for tag in vlans { frame += be16(0x8100) + be16(tag) }
        return frame + be16(etherType) + payload
    }

    static func ipv4(protocol number: UInt8, _ payload: [UInt8], source: [UInt8] = [10, 0, 0, 1],
                     destination: [UInt8] = [10, 0, 0, 2], options: [UInt8] = []) -> [UInt8] {
        let headerLength = 20 + options.count
        var header: [UInt8] = [0x40 | UInt8(headerLength / 4), 0] + be16(UInt16(headerLength + payload.count))
        header += [0, 1, 0, 0, 64, number, 0, 0] + source + destination + options
        return header + payload
    }

    /// An IPv6 packet whose extension headers (next-header values) come first, then `final`.
    static func ipv6(chain: [UInt8], final: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let numbers = chain + [final]
        var extensions: [UInt8] = []
        for (index, kind) in chain.enumerated() {
            let next = numbers[index + 1]
            switch kind {
            case 44: extensions += [next, 0, 0, 0, 0, 0, 0, 1]                    // fragment
            case 51: extensions += [next, 1, 0, 0] + [UInt8](repeating: 0xab, count: 8)  // AH, (1+2)*4 bytes
            default: extensions += [next, 1] + [UInt8](repeating: 0, count: 14)  // (1+1)*8 bytes
            }
        }
        let body = extensions + payload
        var header: [UInt8] = [0x60, 0, 0, 0] + be16(UInt16(body.count)) + [numbers[0], 64]
        header += [UInt8](repeating: 0, count: 15) + [1] + [UInt8](repeating: 0, count: 15) + [2]
        return header + body
    }

    static func tcp(source: UInt16 = 40000, destination: UInt16 = 80, flags: UInt8 = 0x02) -> [UInt8] {
        be16(source) + be16(destination) + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]
    }

    static func udp(source: UInt16 = 40000, destination: UInt16 = 53, payload: [UInt8] = [1, 2, 3, 4]) -> [UInt8] {
        be16(source) + be16(destination) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
    }

    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }

    /// Whole frames.
    static let frames: [[UInt8]] = {
        var frames: [[UInt8]] = [
            ethernet(0x0800, ipv4(protocol: 6, tcp())),
            ethernet(0x0800, ipv4(protocol: 6, tcp(source: 22, destination: 5555, flags: 0x12))),
            ethernet(0x0800, ipv4(protocol: 17, udp())),
            ethernet(0x0800, ipv4(protocol: 17, udp(), options: [1, 1, 1, 0])),
            ethernet(0x0800, ipv4(protocol: 1, [8, 0, 0, 0, 0, 1, 0, 1])),
            ethernet(0x0800, ipv4(protocol: 17, udp(destination: 123)), vlans: [100]),
            ethernet(0x0800, ipv4(protocol: 6, tcp()), vlans: [100, 200]),
            ethernet(0x8847, [0x00, 0x01, 0x01, 0x40] + ipv4(protocol: 6, tcp())),
            ethernet(0x0806, [0, 1, 8, 0, 6, 4, 0, 1] + sourceMAC + [10, 0, 0, 1] + [UInt8](repeating: 0, count: 6) + [10, 0, 0, 2]),
            ethernet(0x86dd, ipv6(chain: [], final: 58, [128, 0, 0, 0, 0, 1, 0, 1])),
            [UInt8](repeating: 0xff, count: 6) + sourceMAC + be16(0x0800) + ipv4(protocol: 17, udp(), destination: [255, 255, 255, 255]),
            [0x01, 0x80, 0xc2, 0, 0, 0] + sourceMAC + be16(38) + [0x42, 0x42, 0x03] + [UInt8](repeating: 0, count: 35),
        ]
        // protochain: chains of extension headers of every kind before TCP or UDP.
        let kinds: [UInt8] = [0, 60, 43, 44, 51]
        for first in kinds {
            for second in kinds {
                frames.append(ethernet(0x86dd, ipv6(chain: [first, second], final: 6, tcp())))
            }
            frames.append(ethernet(0x86dd, ipv6(chain: [first], final: 17, udp())))
        }
        frames.append(ethernet(0x86dd, ipv6(chain: [UInt8](repeating: 60, count: 12), final: 6, tcp())))
        frames.append(mixedHeaderChain)
        frames.append(ethernet(0x86dd, ipv6(chain: [UInt8](repeating: 60, count: 150), final: 6, tcp())))
        return frames
    }()

    static let mixedHeaderChain = ethernet(0x86dd, ipv6(chain: [0, 51, 60], final: 17, udp()))

    /// More IPv6 extension headers than the eBPF loop bound (MachineLayout.loopIterationLimit):
    /// libpcap walks them all, the eBPF program gives up and does not match.
    static let overlongHeaderChain = ethernet(0x86dd, ipv6(chain: [UInt8](repeating: 44, count: 300), final: 6, tcp()))

    /// Whole frames, and every prefix of a few of them (down to the Ethernet header).
    static let all: [[UInt8]] = {
        var packets = frames
        for frame in [frames[0], frames[3], frames[6], frames[7], frames[13], mixedHeaderChain] {
            for length in 14..<frame.count { packets.append(Array(frame[..<length])) }
        }
        return packets
    }()
}
