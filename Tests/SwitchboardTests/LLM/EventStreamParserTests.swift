import NIOCore
import OpenAPIRuntime
import Testing
@testable import LLM

/// The event-stream reader of every provider's streamed answer, against OpenAPIRuntime's decoder (what it replaced)
/// on random streams cut at random places, and against the HTML standard where the two differ.
@Suite("Event stream parser")
struct EventStreamParserTests {
    /// Every event's data, the stream given in `chunks`.
    static func parsed(_ chunks: [[UInt8]]) throws -> [String] {
        var parser = EventStreamParser()
        var events: [String] = []
        for chunk in chunks {
            parser.append(ByteBuffer(bytes: chunk))
            while let data = try parser.next() { events.append(data) }
        }
        return events
    }

    /// OpenAPIRuntime's reading of the same chunks: the events that have data.
    static func reference(_ chunks: [[UInt8]]) async throws -> [String] {
        let (stream, continuation) = AsyncStream<ArraySlice<UInt8>>.makeStream()
        for chunk in chunks { continuation.yield(ArraySlice(chunk)) }
        continuation.finish()
        var events: [String] = []
        for try await event in stream.asDecodedServerSentEvents() {
            if let data = event.data { events.append(data) }
        }
        return events
    }

    /// `bytes` cut into pieces of random lengths, some empty.
    static func cut(_ bytes: [UInt8], using generator: inout some RandomNumberGenerator) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            let length = Int.random(in: 0...min(12, bytes.count - index), using: &generator)
            chunks.append(Array(bytes[index..<index + length]))
            index += length
        }
        return chunks
    }

    @Test("Random streams of fields, comments and separators, cut anywhere, give OpenAPIRuntime's events")
    func matchesReference() async throws {
        let lines = ["data: {\"a\":1}", "data:x", "data:", "data:  two spaces", "data: é😀", ": comment", ":", "event: delta",
                     "id: 7", "retry: 100", "retry: soon", "other: field", "nocolon", "", "", "data: a:b"]
        let separators = ["\n", "\r", "\r\n"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var text = ""
            for _ in 0..<Int.random(in: 0...20, using: &generator) {
                text += lines.randomElement(using: &generator)! + separators.randomElement(using: &generator)!
            }
            if Bool.random(using: &generator) { text += "data: cut off" }
            let bytes = Array(text.utf8)
            let chunks = Self.cut(bytes, using: &generator)
            let expected = try await Self.reference([bytes])
            #expect(try Self.parsed(chunks) == expected, "\(text.debugDescription) in \(chunks.count) pieces")
            #expect(try Self.parsed([bytes]) == expected)
        }
    }

    @Test("A provider's stream: events in order, the last one cut off dropped")
    func providerStream() throws {
        let stream = "data: {\"n\":1}\n\ndata: {\"n\":2}\r\n\r\n: keep-alive\n\nevent: x\ndata: line one\ndata: line two\n\ndata: [DONE]"
        #expect(try Self.parsed([Array(stream.utf8)]) == ["{\"n\":1}", "{\"n\":2}", "line one\nline two"])
    }

    @Test("The standard where OpenAPIRuntime differs: a leading byte order mark is dropped, `data` without a colon is an empty line")
    func standard() throws {
        let marked: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("data: first\n\n".utf8)
        #expect(try Self.parsed([marked]) == ["first"])
        #expect(try Self.parsed(marked.map { [$0] }) == ["first"], "the mark itself cut in pieces")
        #expect(try Self.parsed([Array("data: a\n\n".utf8), [0xEF, 0xBB, 0xBF], Array("data: b\n\n".utf8)]) == ["a"],
                "a mark after the start is not dropped, so its line is not a data field")
        #expect(try Self.parsed([Array("data\ndata: x\n\n".utf8)]) == ["\nx"])
        #expect(try Self.parsed([Array("data\n\n".utf8)]) == [""])
    }

    @Test("A CR at the end of one piece and an LF at the start of the next make one line end, not two")
    func splitCRLF() throws {
        #expect(try Self.parsed([Array("data: a\r".utf8), Array("\ndata: b\r".utf8), Array("\n\r".utf8), Array("\n".utf8)]) == ["a\nb"])
    }

    @Test("An event past 16 MiB fails as a malformed response, whether one endless line or many data lines")
    func oversized() throws {
        var parser = EventStreamParser()
        parser.append(ByteBuffer(bytes: Array("data: ".utf8)))
        let piece = ByteBuffer(repeating: UInt8(ascii: "x"), count: 1 << 20)
        var failure: ProviderError?
        for _ in 0..<17 where failure == nil {
            parser.append(piece)
            do { _ = try parser.next() } catch { failure = error }
        }
        #expect(failure?.kind == .malformed)

        var lines = EventStreamParser()
        let line = ByteBuffer(bytes: Array("data: ".utf8) + [UInt8](repeating: UInt8(ascii: "y"), count: 1 << 20) + [UInt8(ascii: "\n")])
        failure = nil
        for _ in 0..<17 where failure == nil {
            lines.append(line)
            do { while try lines.next() != nil {} } catch { failure = error }
        }
        #expect(failure?.kind == .malformed)

        // Just under the bound is read.
        var fits = EventStreamParser()
        fits.append(ByteBuffer(bytes: Array("data: ".utf8) + [UInt8](repeating: UInt8(ascii: "z"), count: (16 << 20) - 1) + Array("\n\n".utf8)))
        #expect(try fits.next()?.utf8.count == (16 << 20) - 1)
    }
}
