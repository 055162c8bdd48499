import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Bytes sent as they are to a server on 127.0.0.1, for requests no HTTP client would send (a `Content-Length` past
/// 64 bits, a request line that lies). Returns what came back before the server closed, or after `timeout`.
enum RawSocket {
    /// One HTTP/1.1 answer as it came off the wire: its status, its problem `code` when it has one, whether it closes
    /// the connection, and its text (up to the next answer).
    struct Answer {
        let status: Int?
        let code: String?
        let closes: Bool
        let text: Substring
    }

    /// The answers in what `exchange` returned, in order.
    static func answers(_ text: String) -> [Answer] {
        text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { answer in
            let code = answer.range(of: #""code":"[a-z_]+""#, options: .regularExpression).map { String(answer[$0].dropFirst(8).dropLast()) }
            return Answer(status: Int(answer.prefix(3)), code: code, closes: answer.lowercased().contains("\r\nconnection: close\r\n"),
                          text: answer.prefix(300))
        }
    }

    static func exchange(port: Int, _ request: String, timeout: Int = 5) async -> String {
        await offThePool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return "" }
            defer { close(fd) }
            var wait = timeval(tv_sec: timeout, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { return "" }
            let bytes = Array(request.utf8)
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var answer: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                answer += buffer[0..<count]
                if answer.count > 1 << 20 { break }
            }
            return String(decoding: answer, as: UTF8.self)
        }
    }
}
