import PacketFormats

/// The frames `xdpfw demo` sends from one end of its veth pair to the other: Ethernet + IPv4
/// with ICMP, UDP or TCP, checksums filled in so the receiving stack answers the ones the rules
/// let through.
public struct DemoTraffic: Sendable {
    public var sourceMAC: [UInt8]
    public var destinationMAC: [UInt8]
    public var sourceIPv4: [UInt8]
    public var destinationIPv4: [UInt8]

    public init(sourceMAC: [UInt8], destinationMAC: [UInt8], sourceIPv4: [UInt8], destinationIPv4: [UInt8]) {
        self.sourceMAC = sourceMAC
        self.destinationMAC = destinationMAC
        self.sourceIPv4 = sourceIPv4
        self.destinationIPv4 = destinationIPv4
    }

    /// One kind of traffic: what it is, how many frames, and the frame.
    public struct Burst: Sendable {
        public var label: String
        public var count: Int
        public var frame: [UInt8]

        public init(label: String, count: Int, frame: [UInt8]) {
            self.label = label
            self.count = count
            self.frame = frame
        }
    }

    /// A mix that exercises every rule of the example ruleset and its policy.
    public func bursts() -> [Burst] {
        let spoofed: [UInt8] = [192, 0, 2, 7]  // TEST-NET-1: outside 10.0.0.0/8
        return [
            Burst(label: "ICMP echo, 64 bytes", count: 5, frame: icmpEcho(payload: 56)),
            Burst(label: "ICMP echo, 1242 bytes", count: 3, frame: icmpEcho(payload: 1200)),
            Burst(label: "UDP to port 53 (DNS)", count: 4, frame: udp(destinationPort: 53)),
            Burst(label: "UDP to port 123 (NTP)", count: 2, frame: udp(destinationPort: 123)),
            Burst(label: "UDP to port 5000", count: 3, frame: udp(destinationPort: 5000)),
            Burst(label: "TCP SYN to port 22 from 10.x", count: 3, frame: tcpSYN(destinationPort: 22)),
            Burst(label: "TCP SYN to port 22 from 192.0.2.7", count: 3, frame: tcpSYN(destinationPort: 22, from: spoofed)),
            Burst(label: "TCP SYN to port 80", count: 2, frame: tcpSYN(destinationPort: 80)),
        ]
    }

    public func icmpEcho(payload: Int) -> [UInt8] {
        var icmp: [UInt8] = [8, 0, 0, 0, 0x78, 0x66, 0, 1] + (0..<payload).map { UInt8($0 & 0xff) }
        InternetChecksum.fill(&icmp, at: Protocols.ICMP.checksumField)
        return ipv4(protocol: UInt8(Protocols.IPProtocol.icmp), payload: icmp)
    }

    public func udp(destinationPort: UInt16, from source: [UInt8]? = nil) -> [UInt8] {
        let data = Array("xdpfw demo".utf8)
        let length = UInt16(8 + data.count)
        let header = DemoTraffic.be16(40000) + DemoTraffic.be16(destinationPort) + DemoTraffic.be16(length) + [0, 0]
        return ipv4(protocol: UInt8(Protocols.IPProtocol.udp), payload: header + data, source: source)  // UDP checksum 0: none
    }

    public func tcpSYN(destinationPort: UInt16, from source: [UInt8]? = nil) -> [UInt8] {
        var tcp = DemoTraffic.be16(40001) + DemoTraffic.be16(destinationPort) + [0, 0, 0x12, 0x34] + [0, 0, 0, 0]
            + [0x50, 0x02] + DemoTraffic.be16(64240) + [0, 0, 0, 0]
        let pseudo = (source ?? sourceIPv4) + destinationIPv4 + [0, UInt8(Protocols.IPProtocol.tcp)] + DemoTraffic.be16(UInt16(tcp.count))
        InternetChecksum.fill(&tcp, at: Protocols.TCP.checksumField, pseudoHeader: pseudo)
        return ipv4(protocol: UInt8(Protocols.IPProtocol.tcp), payload: tcp, source: source)
    }

    public func ipv4(protocol number: UInt8, payload: [UInt8], source: [UInt8]? = nil) -> [UInt8] {
        let headerLength = Protocols.IPv4.minimumHeaderLength
        let versionAndLength = UInt8(Protocols.IPv4.version << 4 | headerLength / Protocols.IPv4.headerLengthUnit)
        var header: [UInt8] = [versionAndLength, 0] + DemoTraffic.be16(UInt16(headerLength) + UInt16(payload.count)) + [0, 0, 0x40, 0, 64, number, 0, 0]
        header += (source ?? sourceIPv4) + destinationIPv4
        InternetChecksum.fill(&header, at: Protocols.IPv4.checksumField)
        return destinationMAC + sourceMAC + DemoTraffic.be16(UInt16(Protocols.EtherType.ip)) + header + payload
    }

    public static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }

    public static func ipv4Bytes(_ text: String) -> [UInt8] { text.split(separator: ".").compactMap { UInt8($0) } }
}
