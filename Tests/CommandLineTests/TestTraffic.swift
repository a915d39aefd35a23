import Firewall

extension DemoTraffic {
    /// Frames from 10.0.0.1 to 10.0.0.2 for captures the tests write.
    static let betweenTestHosts = DemoTraffic(sourceMAC: [2, 0, 0, 0, 0, 1], destinationMAC: [2, 0, 0, 0, 0, 2],
                                              sourceIPv4: [10, 0, 0, 1], destinationIPv4: [10, 0, 0, 2])
}
