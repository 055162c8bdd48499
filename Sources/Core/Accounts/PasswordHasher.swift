import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix

/// bcrypt, run on a thread pool so that its deliberate slowness never blocks request handling.
///
/// bcrypt reads only the first 72 bytes of its input, so the password is first reduced with SHA-256 (and base64,
/// which has no NUL bytes): every character of a 1024-character password counts.
public struct PasswordHasher: Sendable {
    public let cost: Int
    /// A hash of a random password at the same cost, checked against when the email is unknown so that unknown
    /// emails and wrong passwords take the same time. Computed in the background, not at start-up.
    private let dummyHash: Task<String, Never>

    public init(cost: Int) {
        precondition((4...31).contains(cost), "bcrypt cost must be 4...31")
        self.cost = cost
        let input = Self.prehash(UUID.random().uuidString)
        self.dummyHash = Task.detached(priority: .background) {
            (try? await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(input, cost: UInt8(cost)) }) ?? ""
        }
    }

    public func hash(_ password: String) async throws -> String {
        let input = Self.prehash(password)
        let cost = UInt8(self.cost)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(input, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        let input = Self.prehash(password)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(input, hash: hash) }
    }

    /// Spends the time a real verification would, for a login whose email is unknown.
    public func verifyDummy(_ password: String) async throws {
        _ = try await verify(password, hash: await dummyHash.value)
    }

    private static func prehash(_ password: String) -> String {
        Data(SHA256.hash(data: Data(password.utf8))).base64EncodedString()
    }
}
