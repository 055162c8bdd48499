import Foundation
import SQLiteOptions
import VaporCSQLite

/// How many commits have changed each table of a SQLite database, counted by every process that opens the database on
/// this machine (servers and `switchboard` commands alike): a count that has not moved since some rows were read says
/// that nothing has changed them since, without asking SQLite.
///
/// The counts live in a small file beside the database (`<database>-changes`), mapped shared into each process, as
/// SQLite keeps its WAL index in `<database>-shm`. Tables share 64 counters by a hash of their names: two tables on
/// one counter only make a cache read again when it need not have.
///
/// The connection that writes announces a change after its commit (`SQLiteHandle`), and a reader takes the count
/// before it reads: rows read under a count are then either as new as that count or older than a later one, never
/// newer data kept under a stale count.
final class ChangeCounters: @unchecked Sendable {
    static let count = 64
    private static let length = count * MemoryLayout<UInt64>.stride
    private let counters: UnsafeMutablePointer<UInt64>

    /// The counters for the database file at `path`, which must exist; an in-memory database (`:memory:`) has counters
    /// of its own. The file is named after the database's real path, as SQLite names its `-wal` and `-shm` files, so
    /// that a process opening it through a symbolic link counts with the others; it takes the database's mode and, for
    /// a process running as root (a command run by an operator), its owner, so that the server can still open it.
    init(beside path: String) throws {
        guard path != ":memory:" else {
            counters = .allocate(capacity: Self.count)
            counters.initialize(repeating: 0, count: Self.count)
            mapped = false
            return
        }
        guard let real = realpath(path, nil) else { throw Self.failure("cannot resolve \(path)") }
        let file = String(cString: real) + "-changes"
        free(real)
        var database = stat()
        guard stat(path, &database) == 0 else { throw Self.failure("cannot read \(path)") }
        let descriptor = open(file, O_RDWR | O_CREAT | O_CLOEXEC, database.st_mode & 0o777)
        guard descriptor >= 0 else { throw Self.failure("cannot open \(file)") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Self.failure("cannot read \(file)") }
        if status.st_size == 0 {
            // New: the mode as given (not narrowed by the umask) and the database's owner. Failing either leaves
            // the file as it is, which this process can use.
            _ = fchmod(descriptor, database.st_mode & 0o777)
            if geteuid() == 0 { _ = fchown(descriptor, database.st_uid, database.st_gid) }
        }
        // Only ever grown, and to the same size by every process: a second process's truncate changes nothing.
        if status.st_size < Self.length, ftruncate(descriptor, off_t(Self.length)) != 0 {
            throw Self.failure("cannot size \(file)")
        }
        let memory = mmap(nil, Self.length, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)
        guard let memory, memory != MAP_FAILED else { throw Self.failure("cannot map \(file)") }
        counters = memory.bindMemory(to: UInt64.self, capacity: Self.count)
        mapped = true
    }

    private let mapped: Bool

    deinit {
        if mapped { munmap(counters, Self.length) } else { counters.deallocate() }
    }

    private static func failure(_ what: String) -> SQLiteFailure {
        SQLiteFailure(code: SQLITE_CANTOPEN, message: "\(what): \(String(cString: strerror(errno)))")
    }

    /// The counter of the table named by a NUL-terminated name, as SQLite's update hook gives it: FNV-1a of its bytes.
    static func index(of name: UnsafePointer<CChar>) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var byte = name
        while byte.pointee != 0 {
            hash = (hash ^ UInt64(UInt8(bitPattern: byte.pointee))) &* 0x0000_0100_0000_01b3
            byte += 1
        }
        return Int(hash % UInt64(count))
    }

    static func index(of name: String) -> Int {
        name.withCString { index(of: $0) }
    }

    /// Every counter's bit: a change of schema (a table dropped, renamed or altered) may change any table's rows.
    static let all = UInt64.max

    /// Adds one to each counter whose bit is set in `changed`.
    func bump(_ changed: UInt64) {
        var remaining = changed
        while remaining != 0 {
            let index = remaining.trailingZeroBitCount
            switchboard_counter_bump(counters + index)
            remaining &= remaining - 1
        }
    }

    /// The sum of the counters at `indexes`: it grows whenever one of them does.
    func sum(_ indexes: [Int]) -> UInt64 {
        indexes.reduce(0) { $0 &+ switchboard_counter_load(counters + $1) }
    }
}

/// A number that grows whenever a commit changes one of some tables, in this process or any other on the machine
/// (`Database.version(of:)`). Take it before reading rows of those tables: while it stays the same, they have not
/// changed since.
public struct TableVersion: Sendable {
    let counters: ChangeCounters
    let indexes: [Int]

    public func current() -> UInt64 {
        counters.sum(indexes)
    }
}
