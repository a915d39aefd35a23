import XCTest
import ClassicBPF
import DifferentialTesting
import PacketFormats

/// Every field of the model where libpcap's own code reads it: an expression on the field is
/// compiled with the installed libpcap (optimized: its loads then carry the final offsets, as
/// `tcpdump -d` shows them) and the model's offset, width and mask must be among the loads and
/// masks of that code.
final class PacketFieldTests: XCTestCase {
    private typealias Op = ClassicOpcode

    /// An expression whose libpcap code reads `field` in frames of `family`.
    private func expression(reading field: PacketField, in family: AddressFamily) -> String? {
        let v4 = family == .ipv4
        switch field {
        case .etherType: return v4 ? "ip" : "ip6"
        case .vlanID: return "vlan 100"
        case .ipProtocol: return v4 ? "ip proto 47" : "ip6 proto 47"
        case .sourceAddress: return v4 ? "ip src host 192.0.2.1" : "ip6 src host 2001:db8::1"
        case .destinationAddress: return v4 ? "ip dst host 192.0.2.1" : "ip6 dst host 2001:db8::1"
        case .fragmentOffset: return v4 ? "ip and tcp src port 80" : nil
        case .sourcePort: return v4 ? "ip and tcp src port 80" : "ip6 and tcp src port 80"
        case .destinationPort: return v4 ? "ip and udp dst port 53" : "ip6 and udp dst port 53"
        case .tcpFlags: return v4 ? "ip and tcp[tcpflags] & tcp-syn != 0" : nil
        case .icmpType: return v4 ? "icmp[icmptype] = 8" : "icmp6[icmp6type] = 128"
        case .icmpCode: return v4 ? "icmp[icmpcode] = 0" : "icmp6[icmp6code] = 0"
        }
    }

    private func libpcapCode(_ expression: String) throws -> [ClassicInstruction] {
        switch Libpcap.compile(expression, optimize: true) {
        case let .success(program): return program
        case let .failure(error): throw XCTSkip("libpcap refused '\(expression)': \(error)")
        }
    }

    private static func size(_ width: UInt32) -> UInt16 { width == 1 ? Op.byte : width == 2 ? Op.half : Op.word }

    func testEveryFieldIsWhereLibpcapReadsIt() throws {
        var checked = 0
        for family in AddressFamily.allCases {
            for field in PacketField.allCases {
                guard let location = field.location(in: family) else {
                    XCTAssertNil(expression(reading: field, in: family), "\(field) has no place in \(family) frames")
                    continue
                }
                guard let text = expression(reading: field, in: family) else {
                    // libpcap's `tcp[...]` reads IPv4 only (`ip6 and tcp[13] ...` rejects all).
                    XCTAssertTrue(field == .tcpFlags && family == .ipv6, "\(field) in \(family) has no libpcap expression")
                    continue
                }
                let code = try libpcapCode(text)
                let context = "\(field) in \(family) (\(text)):\n" + Libpcap.image(code)
                let wordWidth = min(location.width, 4)
                if let frameOffset = location.frameOffset(in: family) {
                    // Absolute loads: wide fields (IPv6 addresses) as consecutive words.
                    for word in stride(from: UInt32(0), to: location.width, by: 4) {
                        XCTAssertTrue(code.contains { $0.code == Op.ld | Self.size(wordWidth) | Op.abs && $0.k == frameOffset + word }, context)
                    }
                } else {
                    // IPv4 transport fields: X = 4 × IHL, then a load indexed by X.
                    XCTAssertEqual(location.header, .transport, context)
                    let network = Protocols.Ethernet.headerLength
                    XCTAssertTrue(code.contains { $0.code == Op.ldx | Op.byte | Op.msh && $0.k == network + Protocols.IPv4.headerLengthField }, context)
                    XCTAssertTrue(code.contains { $0.code == Op.ld | Self.size(wordWidth) | Op.ind && $0.k == network + location.offset }, context)
                }
                if let mask = location.mask {
                    XCTAssertTrue(code.contains { ($0.code == Op.alu | Op.and | Op.k || $0.code == Op.jmp | Op.jset | Op.k) && $0.k == mask }, context)
                }
                checked += 1
            }
        }
        XCTAssertEqual(checked, 2 * PacketField.allCases.count - 2, "fields checked against libpcap")
    }

    /// The frame offsets the eBPF lookups use, as libpcap's listing shows them for IPv4.
    func testFrameOffsetsOfTheLookupFields() throws {
        let code = try libpcapCode("ip src host 1.2.3.4")
        let load = try XCTUnwrap(code.first { $0.code == Op.ld | Op.word | Op.abs })
        XCTAssertEqual(PacketField.sourceAddress.location(in: .ipv4)?.frameOffset(in: .ipv4), load.k)
        XCTAssertNil(PacketField.sourcePort.location(in: .ipv4)?.frameOffset(in: .ipv4), "IPv4 headers vary in length")
        XCTAssertEqual(PacketField.sourcePort.location(in: .ipv6)?.frameOffset(in: .ipv6),
                       Protocols.Ethernet.headerLength + Protocols.IPv6.headerLength)
    }
}
