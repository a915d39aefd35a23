import PacketFormats

/// The words libpcap 1.10.3's scanner reserves, and the named constants it turns into numbers.
///
/// Every spelling here was checked against the installed libpcap (`tcpdump -d 'llc WORD'` is a
/// syntax error exactly for reserved words; `tcpdump -d 'link[NAME] = 0'` shows a constant's value).

/// A reserved word, grouped by the grammar symbol it stands for.
enum Keyword: Hashable, Sendable {
    case protocolName(ProtocolQualifier)
    case source, destination
    /// `addr1`...`addr4`, `ra`, `ta` (802.11 address qualifiers).
    case wirelessAddress(DirectionQualifier)
    case type(TypeQualifier)
    case mask
    case and, or, not
    case less, greater, byte, broadcast, multicast, length
    case inbound, outbound, interfaceIndex
    case encapsulation(EncapsulationKeyword)
    case pppoeDiscovery
    case llc
    /// 802.11 `type`, `subtype`, `dir`/`direction`.
    case wirelessType, wirelessSubtype, wirelessDirection
    /// pf log fields: `on`/`ifname`, `rset`/`ruleset`, `rnr`/`rulenum`, `srnr`/`subrulenum`,
    /// `reason`, `action`.
    case pfInterface, pfRuleset, pfRuleNumber, pfSubruleNumber, pfReason, pfAction
    /// ATM packet types that stand alone (`lane`, `oamf4`, `metac`...).
    case atmType
    /// ATM header fields that take a value (`vpi`, `vci`).
    case atmField
    /// MTP2 packet types that stand alone (`fisu`, `lssu`, `msu`...).
    case mtp2Type
    /// MTP3 header fields that take a value (`sio`, `opc`, `dpc`, `sls` and the `h` forms).
    case mtp3Field
}

enum Vocabulary {
    /// Reserved words by spelling.
    static let keywords: [String: Keyword] = {
        var table: [String: Keyword] = [
            "src": .source, "dst": .destination,
            "addr1": .wirelessAddress(.address1), "address1": .wirelessAddress(.address1),
            "addr2": .wirelessAddress(.address2), "address2": .wirelessAddress(.address2),
            "addr3": .wirelessAddress(.address3), "address3": .wirelessAddress(.address3),
            "addr4": .wirelessAddress(.address4), "address4": .wirelessAddress(.address4),
            "ra": .wirelessAddress(.receiver), "ta": .wirelessAddress(.transmitter),
            "mask": .mask,
            "and": .and, "&&": .and, "or": .or, "||": .or, "not": .not,
            "less": .less, "greater": .greater, "byte": .byte,
            "broadcast": .broadcast, "multicast": .multicast,
            "len": .length, "length": .length,
            "inbound": .inbound, "outbound": .outbound, "ifindex": .interfaceIndex,
            "pppoed": .pppoeDiscovery, "llc": .llc,
            "type": .wirelessType, "subtype": .wirelessSubtype,
            "dir": .wirelessDirection, "direction": .wirelessDirection,
            "on": .pfInterface, "ifname": .pfInterface,
            "rset": .pfRuleset, "ruleset": .pfRuleset,
            "rnr": .pfRuleNumber, "rulenum": .pfRuleNumber,
            "srnr": .pfSubruleNumber, "subrulenum": .pfSubruleNumber,
            "reason": .pfReason, "action": .pfAction,
            "vpi": .atmField, "vci": .atmField,
        ]
        for word in ["lane", "metac", "bcc", "oam", "oamf4", "oamf4ec", "oamf4sc", "sc", "ilmic",
                     "connectmsg", "metaconnect"] { table[word] = .atmType }
        for word in ["fisu", "lssu", "lsu", "msu", "hfisu", "hlssu", "hmsu"] { table[word] = .mtp2Type }
        for word in ["sio", "opc", "dpc", "sls", "hsio", "hopc", "hdpc", "hsls"] { table[word] = .mtp3Field }
        for type in TypeQualifier.allCases { table[type.rawValue] = .type(type) }
        for keyword in EncapsulationKeyword.allCases { table[keyword.rawValue] = .encapsulation(keyword) }
        for proto in ProtocolQualifier.allCases { table[proto.rawValue] = .protocolName(proto) }
        table["esis"] = .protocolName(.esis)
        table["isis"] = .protocolName(.isis)
        return table
    }()

    /// Names the scanner turns into numbers (offsets and values for `icmp[]`, `icmp6[]`, `tcp[]`):
    /// protocol knowledge, so they live in the protocol table.
    static let namedConstants: [String: UInt32] = Protocols.namedConstants

    /// The longest reserved word or named constant, to bound the scanner's look-ahead.
    static let longestWord = (Array(keywords.keys) + Array(namedConstants.keys)).map(\.utf8.count).max() ?? 0
}

/// The names libpcap's grammar itself looks up (case-insensitively) after `type`, `subtype`,
/// `dir`, `reason`, `action` and `llc`, so that an unknown one is its error even on Ethernet.
enum OperandNames {
    /// 802.11 frame types by name, as the value of the frame-control type bits.
    static let wirelessTypes: [String: UInt32] = ["mgt": 0, "management": 0, "ctl": 4, "control": 4, "data": 8]

    /// 802.11 subtypes by frame type.
    static let wirelessSubtypes: [UInt32: Set<String>] = [
        0: ["assoc-req", "assocreq", "assoc-resp", "assocresp", "reassoc-req", "reassocreq",
            "reassoc-resp", "reassocresp", "probe-req", "probereq", "probe-resp", "proberesp",
            "beacon", "atim", "disassoc", "disassociation", "auth", "authentication", "deauth",
            "deauthentication"],
        4: ["ps-poll", "rts", "cts", "ack", "cf-end", "cf-end-ack"],
        8: ["data", "data-cf-ack", "data-cf-poll", "data-cf-ack-poll", "null", "cf-ack", "cf-poll",
            "cf-ack-poll", "qos-data", "qos-data-cf-ack", "qos-data-cf-poll", "qos-data-cf-ack-poll",
            "qos", "qos-cf-poll", "qos-cf-ack-poll"],
    ]

    static let wirelessDirections: Set<String> = ["nods", "tods", "fromds", "dstods"]

    static let pfReasons: Set<String> = [
        "match", "bad-offset", "fragment", "short", "normalize", "memory", "bad-timestamp", "congestion",
        "ip-option", "proto-cksum", "state-mismatch", "state-insert", "state-limit", "src-limit", "synproxy",
    ]

    static let pfActions: Set<String> = [
        "pass", "accept", "drop", "block", "scrub", "noscrub", "nat", "nonat", "binat", "nobinat",
        "rdr", "nordr", "synproxy-drop",
    ]

    static let llcSubtypes: Set<String> = [
        "i", "s", "u", "rr", "rnr", "rej", "ui", "ua", "disc", "dm", "sabme", "test", "xid", "frmr",
    ]
}
