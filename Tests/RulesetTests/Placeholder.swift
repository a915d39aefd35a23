import XCTest
final class RulesetTestsPlaceholder: XCTestCase { func testBuilds() {} }
