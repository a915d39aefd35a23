import ClassicBPF
import DifferentialTesting
import FilterCompiler
import FilterLanguage
import Kernel
import XCTest

/// Comparisons whose operands are both known constants, behind other tests (issue 14): libpcap
/// decides such a test while it still moves branches when A holds a constant loaded as one
/// (`ld #k`, a scratch slot holding one, `sub x` folded into the comparison), and then threads
/// every edge past the block, whose two arms now meet — often down to "expression rejects all
/// packets". A test it can decide only once it folds arithmetic (`2 + 3 = 5`) keeps its block.
/// Our `compile` must give the same `-d` text or the same refusal, computed by libpcap here.
final class ConstantTestTests: XCTestCase {
    static let expressions = [
        // The four, then the same shapes at other depths and in other combinations.
        "icmp and 2 = 8", "tcp and 2 = 8", "ip6 and 10 = 58", "icmp and icmp-echoreply = icmp-echo",
        "icmp and 2 = 2", "icmp and 2 > 8", "icmp and 8 < 2", "icmp and 8 >= 2", "icmp and 2 != 8",
        "tcp port 80 and 2 = 8", "tcp port 80 and 2 = 2", "(2 = 8 or tcp) and udp", "icmp and (2 = 8 or udp)",
        "not (icmp and 2 = 8)", "icmp and 2 = 8 or udp", "icmp and not 2 = 8", "vlan and 1 = 1 and ip",
        "ip and 1 = 1 and 2 = 2 and tcp", "ip[0] = 2 and 3 = 3", "ip6 and tcp and 5 = 6 or arp",
        "host 10.0.0.1 and 1 = 0", "udp port 53 and len = len", "icmp and 2 & 1 != 0", "icmp and 2 & 2 != 0",
        // Decided only once constants fold: the block stays, as in libpcap.
        "icmp and 2 + 3 = 5", "icmp and 2 + 3 = 6", "tcp and 4 * 0 = 0", "icmp and 0 - 1 = 4294967295",
        "tcp and -2 = 4294967294", "icmp and ip[0] & 0 != 0", "icmp and ip[0] * 0 = 0", "ip and 6 / 3 = 2",
        "net 0.0.0.0/0 and tcp", "tcp and net 0.0.0.0/0",
        // One value against two constants: once the `sub` of `a = b` is folded into the test,
        // equal to one constant means unequal to the other (found by the mutation fuzz).
        "ip[6:2] & 0x1fff = 0 and ip[6:2] & 0x1fff = 8", "ip[6:2] & 0x1fff = 8 and ip[6:2] & 0x1fff = 0",
        "ip[2:2] & 3 = 1 and ip[2:2] & 3 = 2", "ip[9] - 6 = 0 and ip[9] - 17 = 0", "ip[2:2] = 100 and ip[2:2] = 200",
        "ip[0] + 1 = 5 and ip[0] + 1 = 6", "len - 14 = 100 and len - 14 = 200",
        // A subtraction of 0 stays unless it is folded into a comparison.
        "ip[3] - 0 > 7", "ip[3] - 0 = 7", "tcp and len - 0 >= 100",
        // `and #0` is a constant 0 once constants fold, whatever A held before (libpcap's
        // `byte` forgets its load); `jset #0xffffffff` counts as always set, even on a zero
        // byte; a test decided while constants fold keeps its loads (found by the 1,000,000-mutant fuzz).
        "byte 5 & 0 and byte 6 | 1", "byte 5 & 0 and byte 6 = 1", "ether[0] & 4294967295 = 0 and ip",
        "icmp[0] & 4294967295 != 0", "ether[0] & 0xffffffff != 0 and tcp", "tcp and ip[2] & 0 = 0",
        // Refusals of libpcap's optimizer, in its words.
        "ip[5] % 3 & 0 = 1", "len / 0 = 1", "tcp and ip[0] % (2 - 2) = 1", "ip[0] << 40 = 1", "ip[0] >> (30 + 3) = 0",
        "ip[0] << (len - len + 32) = 0", "udp and 5 / (1 - 1) = 0",
        // A computed offset wraps at 32 bits (`[x + 14]` with X = 0xffffffff reads byte 13).
        "ip[4294967295] = 2 and 3 = 3", "ip[ip[4294967295] & 0xf] = 1", "tcp[4294967295] & tcp-urg != 0",
        "icmp6[4294967295] = 0xcd", "ip[4294967294:2] = 1",
        // A test decided once constants fold stays a block of its own before the next test.
        "ip[6:2] & 0 = 0 and ip[6:2] & 0x1fff = 0x1fff", "ip[6:2] & 0 = 0 and ip[6:2] & 0x1fff > 0x1fff",
        "ip and 2 + 3 = 5 and ip[8] = 64",
    ]

    /// Not constant tests, but shapes the mutation fuzz found: a block that only recomputes the
    /// value it was entered with does nothing once constants fold (libpcap empties it), so the
    /// block before keeps its `and #k; jeq #0` rather than becoming `jset #k`.
    static let idleBlockShapes = [
        "tcp[tcpflags] & tcp-syn != 0 and tcp[13] & 2 = 2", "tcp[13] & tcp-syn != 0 and tcp[tcpflags] & 2 = 2",
        "ip[6:2] & 0x1fff = 0 and ip[6:2] & 0x1fff > 0", "tcp[13] & 2 != 0 and tcp[13] & 2 != 0x10",
        "tcp[13] & 2 != 6 and tcp[13] & 2 != 0", "ip[2:2] & 3 = 1 or ip[2:2] & 3 = 2",
        "udp[8] & 0xf0 != 0 and udp[8] & 0xf0 = 0x40", "icmp[0] & 0x7f != 0 and icmp[0] & 0x7f < 9",
    ]

    /// Edges threaded past a test the ethertype already decided, onto a block that tests the
    /// ethertype again: libpcap lands there with the block's own reload of the field.
    static let reloadShapes = [
        "sctp or aarp", "ip[9] = 6 and aarp", "igrp or ipx", "tcp and ipx", "icmp6 and atalk", "udp and atalk",
        "ip6 and (tcp or ipx)", "pim or aarp or atalk", "carp and atalk", "ip and ip[9] = 17 and aarp",
        "ipx or tcp or atalk",
    ]

    /// Tests pulled up a chain of alternatives: only from blocks the chain dominates, and with
    /// their arithmetic (`net 3` is `ld [26]; and #0xff000000` again).
    static let pullUpShapes = [
        "net 10.0.0.0/8 or net 3", "net 65535 or net 192.168.0.0/16", "net 10.0.0.0/8 or net 14",
        "ether proto 2 or ether proto 0x8100", "ether proto 1500 or ether proto 0x8100", "netbeui or vlan",
        "pim or aarp && vlan", "port 53 and port 123 or port 67", "port 53 or port 123 and port 67",
    ]

    /// Long chains whose pulled-up test leaves A holding another field than the block after it
    /// reads (found by the 1,000,000-mutant fuzz): libpcap's block keeps its own load there, as
    /// a fixed-offset load (IPv6) or an indexed one (IPv4, `ldh [x + 14]`).
    static let reloadedPullUpShapes = [
        "not port 1 and not port 2 and not port 3 and not port 4 and not port 5 and port 6 and not port 7",
        "tcp and not port 1 and not port 2 and not port 3 and not port 4 and not port 5 and port 6 and not port 7",
        "ip6 and not port 1 and not port 2 and not port 3 and not port 4 and not port 5 and port 6 and not port 7",
        "not port 1 and not port 2 and not port 3 and not port 4 and not port 5 and not port 6 and src port 7 and not port 8",
        "host 10.0.0.1 or host 10.0.0.2 or host 10.0.0.3 or host 10.0.0.4 or host 10.0.0.5 or not 10.0.0.6 or host 10.0.0.7",
        "host 10.0.0.1 or host 10.0.0.2 or host 10.0.0.3 or host 10.0.0.4 or host 10.0.0.5 or host 10.0.0.6 or not 10.0.0.7",
        "not host 10.0.0.1 and not host 10.0.0.2 and not host 10.0.0.3 and not host 10.0.0.4 and not host 10.0.0.5 and host 10.0.0.6 and not host 10.0.0.7",
    ]

    /// What libpcap's first stage does not yet rewrite (found by the 1,000,000-mutant fuzz): a
    /// store of what a slot holds already (so a later block's own store and load of the length
    /// stay), and an indexed load with a constant index, a value of its own until constants fold
    /// (so `ip[9]` is not the `ldb [23]` of `tcp`).
    static let firstStageShapes = [
        "40 >= len and len <= 1500", "1500 >= len and len <= 40",
        "(ether[13] = 1 or ether[1] = 2) and ether[2] = 3",
        "ip[9] < 6 and ip[6:2] & 0x1fff = 0 and tcp[13] = 2", "ip[9] >= 6 and ip[6:2] & 0x1fff = 0 and tcp[13] = 2",
    ]

    /// Every list above, named for the message of a failing case.
    static let shapes: [(name: String, expressions: [String])] = [
        ("constant comparisons", expressions), ("idle blocks", idleBlockShapes), ("threaded edges' reloads", reloadShapes),
        ("pulled-up tests", pullUpShapes), ("pulled-up tests before a reload", reloadedPullUpShapes),
        ("first-stage values", firstStageShapes),
    ]

    func testShapesOptimizeAsLibpcap() {
        for (name, expressions) in Self.shapes {
            let differences = Self.differences(expressions)
            XCTAssertEqual(differences, [], "\(name): \(differences.count) of \(expressions.count) differ from libpcap\n"
                + differences.joined(separator: "\n"))
        }
    }

    /// Each expression whose `-d` text or refusal is not libpcap's, with both.
    static func differences(_ expressions: [String]) -> [String] {
        var differences: [String] = []
        for expression in expressions {
            let theirs = Libpcap.compile(expression, optimize: true).map { Libpcap.image($0) }
            let ours = ours(expression)
            switch (theirs, ours) {
            case let (.success(expected), .success(actual)) where expected != actual:
                differences.append("\(expression):\nlibpcap:\n\(expected)ours:\n\(actual)")
            case let (.success, .failure(error)):
                differences.append("\(expression): we refuse it (\(error.message)), libpcap compiles it")
            case let (.failure(error), .success(actual)):
                differences.append("\(expression): libpcap refuses it (\(error.message)), we compile it:\n\(actual)")
            case let (.failure(expected), .failure(actual)) where expected.message != actual.message:
                differences.append("\(expression): libpcap says \(expected.message), we say \(actual.message)")
            default:
                break
            }
        }
        return differences
    }

    /// `xdpfw compile -d`: the listing, or the refusal.
    static func ours(_ expression: String) -> Result<String, FilterError> {
        do {
            return .success(ClassicPrinter.format(ClassicCodeGenerator.generate(try FilterCompiler.compile(expression)), as: .assembly))
        } catch {
            return .failure(error)
        }
    }
}
