/// Whether two byte strings are equal, in a time that depends on their lengths only: how much of a guessed secret or
/// checksum matched must not show in a response's time.
public func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
}
