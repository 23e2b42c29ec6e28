import Foundation

/// Ports of 127.0.0.1 for tests that start servers (a webhook receiver, an SMTP server) or
/// need one where nothing listens.
public enum TestPorts {
    /// A TCP socket bound to a free port of 127.0.0.1 (not listening yet), and that port.
    public static func boundSocket() -> (Int32, Int) {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, size) } }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &size) }
        }
        return (socketFD, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A port of 127.0.0.1 that was free a moment ago and that nothing listens on (bound, then
    /// closed): a connection to it is refused, and a server started next can take it.
    public static func free() -> Int {
        let (probe, port) = boundSocket()
        close(probe)
        return port
    }
}
