import XCTest
final class FilterLanguageTestsPlaceholder: XCTestCase { func testBuilds() {} }
