import Foundation

/// The counters of `/metrics`, written in Prometheus' text format by hand: three families do not
/// warrant a metrics library and its global registry, and the text format is small and stable.
public final class ServerMetrics: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var requests: [RequestKey: Int] = [:]
    private var latency: [String: Histogram] = [:]

    /// Upper bounds of the latency buckets, in seconds.
    static let buckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    private struct RequestKey: Hashable, Comparable {
        var route: String
        var method: String
        var status: Int
        static func < (a: RequestKey, b: RequestKey) -> Bool { (a.route, a.method, a.status) < (b.route, b.method, b.status) }
    }

    private struct Histogram {
        var counts = [Int](repeating: 0, count: ServerMetrics.buckets.count)
        var sum = 0.0
        var count = 0

        mutating func record(_ seconds: Double) {
            // Buckets are cumulative: every bound at or above the value counts it.
            var index = ServerMetrics.buckets.count - 1
            while index >= 0 && seconds <= ServerMetrics.buckets[index] {
                counts[index] += 1
                index -= 1
            }
            sum += seconds
            count += 1
        }
    }

    public init() {}

    func record(method: String, route: String, status: Int, seconds: Double) {
        let key = RequestKey(route: route, method: method, status: status)
        lock.withLock {
            requests[key, default: 0] += 1
            // Mutated in place: a copy out and back would copy its counts on every request.
            latency[route, default: Histogram()].record(seconds)
        }
    }

    /// The text exposition, sorted; `gauges` are the store's and the view's numbers.
    func exposition(gauges: [(name: String, help: String, value: Int)]) -> String {
        lock.withLock {
            var out = "# HELP roster_http_requests_total Requests answered, by route pattern, method and status.\n"
            out += "# TYPE roster_http_requests_total counter\n"
            for (key, count) in requests.sorted(by: { $0.key < $1.key }) {
                out += "roster_http_requests_total{route=\"\(escaped(key.route))\",method=\"\(key.method)\",status=\"\(key.status)\"} \(count)\n"
            }
            out += "# HELP roster_http_request_duration_seconds Time to answer, by route pattern.\n"
            out += "# TYPE roster_http_request_duration_seconds histogram\n"
            for (route, histogram) in latency.sorted(by: { $0.key < $1.key }) {
                let label = "route=\"\(escaped(route))\""
                for (index, bound) in Self.buckets.enumerated() {
                    out += "roster_http_request_duration_seconds_bucket{\(label),le=\"\(bound)\"} \(histogram.counts[index])\n"
                }
                out += "roster_http_request_duration_seconds_bucket{\(label),le=\"+Inf\"} \(histogram.count)\n"
                out += "roster_http_request_duration_seconds_sum{\(label)} \(histogram.sum)\n"
                out += "roster_http_request_duration_seconds_count{\(label)} \(histogram.count)\n"
            }
            for gauge in gauges {
                out += "# HELP \(gauge.name) \(gauge.help)\n# TYPE \(gauge.name) gauge\n\(gauge.name) \(gauge.value)\n"
            }
            return out
        }
    }

    private func escaped(_ label: String) -> String {
        label.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
