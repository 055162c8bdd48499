import Core
import Foundation
import Synchronization

/// A clock tests move forward, to reach expiry without sleeping.
final class TestClock: Sendable {
    private let current = Mutex(Date())

    var wallClock: WallClock { WallClock { [self] in current.withLock { $0 } } }

    func advance(seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}
