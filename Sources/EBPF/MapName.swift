/// The name a program refers to one of its maps by until the loader puts the map's file
/// descriptor in (`resolveMaps`), and after which the map is pinned beside the program
/// (`pinEntry`). Only this module makes names: the ruleset's own maps are the constants below,
/// the drop log's are `PacketLogMaps`', and lookup and classifier tables are named by the
/// groups that fill them. A misspelt name does not compile.
public struct MapName: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The name as the listing shows it (`map[counters]`).
    public let text: String

    init(_ text: String) { self.text = text }

    /// A map of a hand-written program outside the ruleset (a benchmark's probe): declare it
    /// once as a constant, as the ones below are.
    public init(handWritten text: String) { self.text = text }

    /// The per-rule counters: a per-CPU array of `EBPFRulesetProgram.counterValueSize` bytes a slot.
    public static let counters = MapName("counters")
    /// The program array of a ruleset split into programs chained by tail calls (entry i: chunk i).
    public static let chunks = MapName("chunks")

    /// The entry the map is pinned as beside its program: bpffs takes no '.' in a name, and the
    /// pin directory no '/' (`lookup.address.v4.src/24` → `lookup-address-v4-src-24`).
    public var pinEntry: String { String(text.map { $0 == "." || $0 == "/" ? "-" : $0 }) }

    /// A name made of this one and `suffix` (the hash map of one prefix length of a table).
    func appending(_ suffix: String) -> MapName { MapName(text + suffix) }

    public var description: String { text }
    public static func < (a: MapName, b: MapName) -> Bool { a.text < b.text }
}
