/// A set of classifier entries as the words of a row of the vector table: entry i is bit
/// i % 64 of word i / 64, so the lowest set bit is the first entry in rule order.
struct EntryBits: Hashable {
    var words: [UInt64]

    init(words count: Int) { words = [UInt64](repeating: 0, count: count) }

    mutating func insert(_ entry: Int) { words[entry >> 6] |= 1 << UInt64(entry & 63) }
    mutating func remove(_ entry: Int) { words[entry >> 6] &= ~(1 << UInt64(entry & 63)) }
    func contains(_ entry: Int) -> Bool { words[entry >> 6] & (1 << UInt64(entry & 63)) != 0 }

    mutating func formUnion(_ other: EntryBits) {
        for index in words.indices { words[index] |= other.words[index] }
    }

    func union(_ other: EntryBits) -> EntryBits {
        var both = self
        both.formUnion(other)
        return both
    }
}

/// The distinct rows of one field, numbered in the order they are first met (row 0 first).
struct FieldRows {
    private(set) var rows: [EntryBits] = []
    private var numbers: [EntryBits: UInt32] = [:]

    /// `none`: row 0, the entries that do not test the field.
    init(none: EntryBits) { _ = row(for: none) }

    mutating func row(for bits: EntryBits) -> UInt32 {
        if let number = numbers[bits] { return number }
        let number = UInt32(rows.count)
        rows.append(bits)
        numbers[bits] = number
        return number
    }
}
