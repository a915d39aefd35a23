import ArgumentParser
import Firewall
import Foundation
import Kernel

/// `xdpfw exporter`: `xdpfw metrics` over HTTP, for Prometheus to scrape.
struct Exporter: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the metrics over HTTP on /metrics for Prometheus to scrape, until SIGTERM.",
        discussion: """
            Every scrape reads the pins afresh, as `xdpfw metrics` does: the exporter keeps no \
            state and no cache, so it can be started before or after the rules are applied and \
            restarted at will. It listens in the network namespace it works in (-n NAME: inside \
            NAME). SIGTERM or SIGINT stops it (exit status 0).

            Examples:
              xdpfw exporter                           # http://127.0.0.1:9630/metrics
              xdpfw exporter --listen :9630            # every address
              xdpfw exporter --listen [::1]:9630

            Prometheus:
              scrape_configs:
                - job_name: xdpfw
                  static_configs: [{targets: ['HOST:9630']}]
            """)

    @ParentCommand var global: XDPFW

    @Option(help: ArgumentHelp("Where to listen: ADDRESS:PORT, :PORT for every address, [IPv6]:PORT.", valueName: "address:port"))
    var listen = "127.0.0.1:9630"

    func validate() throws {
        guard Self.split(listen) != nil else {
            throw ValidationError("--listen takes ADDRESS:PORT (127.0.0.1:9630, :9630, [::1]:9630), not '\(listen)'")
        }
    }

    /// (host, port) of `ADDRESS:PORT`, `:PORT` or `[IPv6]:PORT`.
    static func split(_ text: String) -> (host: String, port: UInt16)? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    func run() throws {
        try global.enterNetworkNamespace()
        try global.requireReadablePins()
        let (host, port) = Self.split(listen)!
        let endpoint = try HTTPEndpoint(host: host, port: port)
        defer { endpoint.close() }
        StopSignal.install([SIGTERM, SIGINT])
        let shown = host.contains(":") ? "[\(host)]" : (host.isEmpty ? "0.0.0.0" : host)
        Output.standardError("xdpfw: serving metrics on http://\(shown):\(endpoint.port)/metrics\n")
        let root = global.pinRoot
        endpoint.serve(until: { StopSignal.received != 0 }) { request in
            switch (request.method, request.path.split(separator: "?").first.map(String.init) ?? "") {
            case ("GET", "/metrics"), ("HEAD", "/metrics"):
                do {
                    return HTTPEndpoint.Response(status: 200, reason: "OK", contentType: "text/plain; version=0.0.4; charset=utf-8",
                                                 body: try MetricsExposition(HookInstallation.all(root: root)).text)
                } catch {
                    return HTTPEndpoint.Response(status: 500, reason: "Internal Server Error",
                                                 contentType: "text/plain; charset=utf-8", body: "xdpfw: \(error)\n")
                }
            case ("GET", "/"), ("HEAD", "/"):
                return HTTPEndpoint.Response(status: 200, reason: "OK", contentType: "text/html; charset=utf-8",
                                             body: "<html><head><title>xdpfw exporter</title></head><body><h1>xdpfw exporter</h1>"
                                                 + "<p><a href=\"/metrics\">Metrics</a></p></body></html>\n")
            case ("GET", _), ("HEAD", _):
                return HTTPEndpoint.Response(status: 404, reason: "Not Found", contentType: "text/plain; charset=utf-8",
                                             body: "not found: the metrics are on /metrics\n")
            default:
                return HTTPEndpoint.Response(status: 405, reason: "Method Not Allowed", contentType: "text/plain; charset=utf-8",
                                             body: "only GET and HEAD\n")
            }
        }
    }
}
