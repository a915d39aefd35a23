import ClassicBPF
import DifferentialTesting
import FilterCompiler
import FilterLanguage
import Foundation
import Kernel
import XCTest

/// Long chains of alternatives through the optimizer: rules.conf sets written out as `or`
/// chains wherever a rule is not a table lookup, and host lists pasted into `xdpfw compile -d`.
/// Where libpcap optimizes them in reasonable time, the listing is libpcap's `-O -d`; for the
/// longest, the optimized program decides every built packet as the unoptimized one does.
/// (How long both take is measured in docs/design-codegen.md; nothing here asserts a time.)
final class LongChainOptimizerTests: XCTestCase {
    static func address(_ index: Int) -> [UInt8] { [10, UInt8(index >> 16 & 255), UInt8(index >> 8 & 255), UInt8(index & 255)] }

    static func dotted(_ address: [UInt8]) -> String { address.map(String.init).joined(separator: ".") }

    /// `tcp port 22 and host (A or B ...)`: a set in a rule that is not a table lookup.
    static func portAndHosts(_ terms: Int) -> String {
        "tcp port 22 and host (" + (0..<terms).map { dotted(address($0)) }.joined(separator: " or ") + ")"
    }

    static func optimizedListing(_ text: String) throws -> String {
        ClassicPrinter.format(ClassicCodeGenerator.generate(try FilterCompiler.compile(text)), as: .assembly)
    }

    func testLongChainsListAsLibpcap() throws {
        for text in [LongExpressionTests.hostChain(150), Self.portAndHosts(300)] {
            let clock = ContinuousClock()
            let start = clock.now
            let ours = try Self.optimizedListing(text)
            let ourTime = clock.now - start
            let libpcapStart = clock.now
            let theirs = try XCTUnwrap(try? Libpcap.compile(text, optimize: true).map { Libpcap.image($0) }.get())
            print("\(text.prefix(40))… -d: xdpfw \(ourTime), libpcap \(clock.now - libpcapStart), \(ours.split(separator: "\n").count) lines")
            XCTAssertTrue(ours == theirs, "\(text.prefix(60))…: -d differs\n" + GeneratorLibpcapTests.Tally.diff(theirs, ours).prefix(2000))
        }
    }

    /// 1,000 terms: the optimized program and the unoptimized one (itself libpcap's `-O -d`, see
    /// LongExpressionTests) agree on packets from, to and past the chain's addresses.
    func testThousandTermChainsDecideAsUnoptimized() throws {
        let terms = 1000
        let indices = [0, 1, 2, terms / 2, terms - 2, terms - 1, terms, terms + 1, 70_000]
        var packets: [[UInt8]] = []
        for index in indices {
            let inside = Self.address(index), outside: [UInt8] = [192, 0, 2, 1]
            for (source, destination) in [(inside, outside), (outside, inside)] {
                for port: UInt16 in [22, 80] {
                    packets.append(PacketBuilder.ethernet(type: 0x0800, PacketBuilder.ipv4(
                        source: source, destination: destination, protocol: 6, PacketBuilder.tcp(source: 40000, destination: port))))
                    packets.append(PacketBuilder.ethernet(type: 0x0800, PacketBuilder.ipv4(
                        source: source, destination: destination, protocol: 17, PacketBuilder.udp(source: port, destination: 53))))
                }
                for type: UInt16 in [0x0806, 0x8035] {
                    packets.append(PacketBuilder.ethernet(type: type, PacketBuilder.arp(operation: 1, senderIP: source, targetIP: destination)))
                }
            }
        }
        packets.append(PacketBuilder.ethernet(type: 0x86dd, PacketBuilder.ipv6(nextHeader: 6, PacketBuilder.tcp(source: 22, destination: 22))))
        for text in [LongExpressionTests.hostChain(terms), Self.portAndHosts(terms)] {
            let plain = try FilterCodeGenerator.generate(try FilterParser.parse(text), options: CompileOptions())
            let clock = ContinuousClock()
            let start = clock.now
            let optimized = try Optimizer.optimize(plain)
            print("\(text.prefix(40))… optimized in \(clock.now - start)")
            let before = ClassicCodeGenerator.generate(plain), after = ClassicCodeGenerator.generate(optimized)
            XCTAssertLessThan(after.count, before.count)
            var accepted = 0
            for packet in packets {
                let expected = ClassicInterpreter.run(before, packet: packet, wireLength: UInt32(packet.count))
                let actual = ClassicInterpreter.run(after, packet: packet, wireLength: UInt32(packet.count))
                XCTAssertEqual(actual, expected, "\(text.prefix(40))…: \(packet)")
                if expected != 0 { accepted += 1 }
            }
            XCTAssertGreaterThan(accepted, 10)
            XCTAssertLessThan(accepted, packets.count - 10)
        }
    }
}
