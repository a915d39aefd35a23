/// The ruleset `xdpfw demo` applies: the content of rules/example.conf, built in so the demo
/// works from any directory. Keep the two the same.
public enum ExampleRuleset {
    public static let fileName = "rules/example.conf"

    public static let text = """
        # xdpfw example ruleset: first match wins.
        policy pass
        drop tcp dst port 22 and not src net 10.0.0.0/8
        pass host 127.0.0.1 and port 80
        drop udp and (port 53 or \\
                      port 123)
        drop icmp[icmptype] == icmp-echo and greater 1000

        """
}
