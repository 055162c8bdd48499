@testable import App
import Foundation
import Testing

/// `LogOutput` writes a line alone at once on the logging thread and lines that come together through its writer:
/// either way each line must come out whole, once, and in the order each thread logged it.
@Suite("Log output")
struct LogOutputTests {
    @Test("Lines alone and in bursts, from several threads, come out of a real pipe whole, once and in order")
    func wholeOnceInOrder() async throws {
        let pipe = Pipe()
        let output = LogOutput(descriptor: pipe.fileHandleForWriting.fileDescriptor)
        let reader = Task.detached { pipe.fileHandleForReading.readDataToEndOfFile() }
        let threads = 4, lines = 300
        await withTaskGroup(of: Void.self) { group in
            for thread in 0..<threads {
                group.addTask {
                    for line in 0..<lines {
                        // Every tenth line waits first, so it comes alone and is written at once.
                        if line % 10 == 0 { try? await Task.sleep(for: .milliseconds(3)) }
                        let padding = String(repeating: "x", count: line % 7 == 0 ? 5_000 : line + 1)  // some past the at-once limit
                        output.write(Array("\(thread) \(line) \(padding)\n".utf8))
                    }
                }
            }
        }
        output.flush()
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: await reader.value, as: UTF8.self)
        var next = [Int](repeating: 0, count: threads)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            try #require(fields.count == 3, "a broken line: \(line.prefix(80))")
            let (thread, number) = (try #require(Int(fields[0])), try #require(Int(fields[1])))
            try #require((0..<threads).contains(thread))
            #expect(number == next[thread], "thread \(thread): line \(number) after \(next[thread] - 1)")
            #expect(fields[2].count == (number % 7 == 0 ? 5_000 : number + 1) && fields[2].allSatisfy { $0 == "x" })
            next[thread] = number + 1
        }
        #expect(next == [Int](repeating: lines, count: threads))
    }
}
