import ClassicBPF
import DifferentialTesting
import Kernel
import XCTest

/// Our tcpdump-format printer against libpcap's: `bpf_image` for `-d`, and the `-dd`/`-ddd` lines
/// tcpdump prints, built from libpcap's own instruction structs.
final class PrinterTests: XCTestCase {
    func testAssemblyMatchesBpfImageForCorpusPrograms() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        var compared = 0
        for expression in Corpus.acceptedExpressions {
            for optimize in [false, true] {
                guard case let .success(program) = Libpcap.compile(expression.text, optimize: optimize) else { continue }
                XCTAssertEqual(ClassicPrinter.format(program, as: .assembly), Libpcap.image(program),
                               "\(expression.name): \(expression.text) optimize=\(optimize)")
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 600)
    }

    /// Every 16-bit opcode with operands that exercise signedness, ancillary names and jumps.
    func testAssemblyMatchesBpfImageForEveryOpcode() {
        let operands: [UInt32] = [0, 1, 16, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff_f000, 0xffff_f004,
                                  0xffff_f02c, 0xffff_f030, 0xffff_f03c, 0xffff_f040, 0xffff_f001, 0xffff_eff0]
        for code in UInt16.min...UInt16.max {
            let program = operands.map { ClassicInstruction(code: code, jt: 3, jf: 250, k: $0) }
            let ours = ClassicPrinter.format(program, as: .assembly)
            let theirs = Libpcap.image(program)
            if ours != theirs {
                XCTFail("opcode 0x\(String(code, radix: 16)):\n\(ours)\nlibpcap:\n\(theirs)")
                return
            }
        }
    }

    func testLongListingsNumberPastThreeDigits() {
        let program = (0..<1200).map { ClassicInstruction(code: ClassicOpcode.jmp | ClassicOpcode.ja, k: UInt32(truncatingIfNeeded: 600 - $0)) }
        XCTAssertEqual(ClassicPrinter.format(program, as: .assembly), Libpcap.image(program))
    }

    func testArrayAndDecimalFormatsMatchTcpdumpsLayout() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        for expression in Corpus.acceptedExpressions {
            guard case let .success(program) = Libpcap.compile(expression.text, optimize: true) else { continue }
            XCTAssertEqual(ClassicPrinter.format(program, as: .cArray), TcpdumpListing.cArray(program), expression.text)
            XCTAssertEqual(ClassicPrinter.format(program, as: .decimal), TcpdumpListing.decimal(program), expression.text)
        }
    }

    /// tcpdump itself, where it is installed, for a handful of expressions and all three formats.
    func testListingsMatchTcpdump() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump") else { throw XCTSkip("tcpdump is not installed") }
        let expressions = ["", "ip protochain 6", "tcp port 80 and not host 10.0.0.1", "vlan 5 and udp",
                           "ether[0] & 1 != 0", "len > 100", "ip6 and icmp6"]
        for expression in expressions {
            for (flag, format) in [("-d", DumpFormat.assembly), ("-dd", .cArray), ("-ddd", .decimal)] {
                for optimize in [false, true] {
                    let program = try Libpcap.compile(expression, optimize: optimize).get()
                    let tcpdump = try TcpdumpListing.run(optimize ? [flag, expression] : ["-O", flag, expression])
                    XCTAssertEqual(ClassicPrinter.format(program, as: format), tcpdump, "tcpdump \(flag) '\(expression)'")
                }
            }
        }
    }
}
