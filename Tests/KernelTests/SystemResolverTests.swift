import XCTest
import ClassicBPF
import FilterCompiler
import DifferentialTesting
import Kernel

/// Host names resolved through getaddrinfo give the program libpcap gives for the same name.
final class SystemResolverTests: XCTestCase {
    func testHostNamesCompileAsLibpcapResolvesThem() throws {
        var options = CompileOptions()
        options.names = SystemResolver()
        var compared = 0
        for expression in ["host localhost", "src host localhost", "ip host localhost and tcp", "not dst host localhost"] {
            guard case let .success(reference) = Libpcap.compile(expression, optimize: true) else {
                continue  // this machine's resolver does not know the name: nothing to compare
            }
            let ours = try FilterCompiler.compile(expression, options: options)
            XCTAssertEqual(ClassicPrinter.format(ClassicCodeGenerator.generate(ours), as: .assembly),
                           Libpcap.image(reference), expression)
            compared += 1
        }
        if compared == 0 { throw XCTSkip("the system resolver knows no 'localhost' here") }
    }

    func testUnknownHostIsAnErrorNotACrash() {
        var options = CompileOptions()
        options.names = SystemResolver()
        XCTAssertThrowsError(try FilterCompiler.compile("host no-such-host.invalid", options: options))
    }
}
