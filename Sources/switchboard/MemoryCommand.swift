import ArgumentParser
import App
import Core
import Foundation
import LLM

/// `switchboard memory reembed`: memories moved to the configured embedding model; `switchboard memory bench`: the
/// exact vector search, measured against the machine's own memory bandwidth.
struct MemoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "memory", abstract: "Semantic memory tools.", subcommands: [Reembed.self, Bench.self])

    struct Reembed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Embed every memory again with the configured model (memory.embedding).",
            discussion: """
                Run it after changing memory.embedding or its model or dimensions. Each batch is one embedding call and \
                one transaction: stop it at any time and run it again to go on. Servers may keep serving meanwhile; \
                until it finishes, their searches find only the memories already moved, and a namespace still holding \
                old vectors refuses new memories (409 embedding_model_mismatch).
                """)
        @OptionGroup var config: ConfigFlags
        @Option(help: "Memories per embedding call (1...2048).") var batchSize = 100
        @Option(help: "Stop after this many batches; run again to go on.") var maxBatches: Int?

        func run() async throws {
            guard (1...2048).contains(batchSize) else { throw ValidationError("--batch-size must be 1...2048") }
            if let maxBatches, maxBatches < 1 { throw ValidationError("--max-batches must be at least 1") }
            let (settings, logger) = try await reportingStartupErrors { try await config.settings() }
            do {
                let done = try await reportingStartupErrors {
                    try await MemoryReembed.run(settings: settings, logger: logger, batchSize: batchSize, maxBatches: maxBatches ?? .max) { progress in
                        print("moved \(progress.moved) memories to \(progress.model); \(progress.remaining) left")
                    }
                }
                if done.remaining == 0 {
                    print("every memory is embedded with \(done.model) (\(done.tokens) tokens)")
                } else if done.batches == maxBatches {
                    print("stopped after \(done.batches) batches with \(done.remaining) memories left: run it again to go on")
                } else {
                    FileHandle.standardError.write(Data("switchboard: \(done.remaining) memories keep changing while they are embedded; run it again\n".utf8))
                    throw ExitCode(1)
                }
            } catch let error as ProviderError {
                FileHandle.standardError.write(Data("switchboard: the embedding model failed: \(error.message); run it again to go on\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time exact top-10 searches: one user's large index, then many users' small ones (run on a release build).")
        @Option(help: "Vectors in the one user's index.") var vectors = 100_000
        @Option(help: "Dimensions of each vector.") var dimensions = 384
        @Option(help: "Searches to time.") var searches = 200
        @Option(help: "Users for the spread run (0 to skip it).") var users = 1_000
        @Option(help: "Vectors per user in the spread run.") var perUser = 1_000

        func run() async throws {
            guard (1...10_000_000).contains(vectors), (1...8192).contains(dimensions), (1...100_000).contains(searches),
                  (0...100_000).contains(users), (1...1_000_000).contains(perUser) else {
                throw ValidationError("out of range: vectors 1...10M, dimensions 1...8192, searches 1...100k, users 0...100k, per-user 1...1M")
            }
            var generator = SplitMix(seed: 42)
            let index = Self.index(vectors, dimensions, &generator)
            let queries = (0..<searches).map { _ in Self.unit(dimensions, &generator) }
            var times: [Double] = []
            var checksum: Float = 0
            var exact: [Set<Int>] = []
            for query in queries {
                let start = ContinuousClock.now
                let top = index.exactTop(query, limit: 10)
                times.append(Self.milliseconds(ContinuousClock.now - start))
                checksum += top.first?.score ?? 0
                exact.append(Set(top.map(\.row)))
            }
            let scanned = Double(vectors * dimensions * MemoryLayout<Float>.size)
            let p50 = Self.percentile(times, 0.5), p99 = Self.percentile(times, 0.99)
            let scan = scanned / (p50 / 1000) / 1e9
            let copy = Self.copyBandwidth(bytes: Int(scanned))
            print("one user: \(vectors) x \(dimensions) float32 (\(Int(scanned) >> 20) MiB), top-10 over \(searches) searches")
            print(String(format: "  float32 pass: p50 %.2f ms, p99 %.2f ms (target: p50 under 10 ms)", p50, p99))
            print(String(format: "  scan %.2f GB/s; memory copy %.2f GB/s in this run; ratio %.2f (target 0.60)", scan, copy, scan / copy))
            if vectors >= UserVectors.defaultTwoPassRows {
                var passes: [Double] = []
                var found = 0
                for (query, expected) in zip(queries, exact) {
                    let start = ContinuousClock.now
                    let top = index.top(query, limit: 10)
                    passes.append(Self.milliseconds(ContinuousClock.now - start))
                    found += Set(top.map(\.row)).intersection(expected).count
                }
                print(String(format: "  int8 pass + float32 re-scoring: p50 %.2f ms, p99 %.2f ms (target: under 4 ms); recall@10 against float32 %.4f (target 1.0)",
                             Self.percentile(passes, 0.5), Self.percentile(passes, 0.99), Double(found) / Double(max(1, exact.reduce(0) { $0 + $1.count }))))
            }
            print(String(format: "  (checksum %.3f)", checksum))
            guard users > 0 else { return }
            var many: [UserVectors] = []
            for _ in 0..<users { many.append(Self.index(perUser, dimensions, &generator)) }
            var spread: [Double] = []
            for search in 0..<searches {
                let user = Int(generator.next() % UInt64(users))
                let start = ContinuousClock.now
                checksum += many[user].top(queries[search % queries.count], limit: 10).first?.score ?? 0
                spread.append(Self.milliseconds(ContinuousClock.now - start))
            }
            print("\(users) users x \(perUser) vectors (\(users * perUser) in all), searches spread over users")
            print(String(format: "  p50 %.3f ms, p99 %.3f ms; RSS %.0f MiB", Self.percentile(spread, 0.5), Self.percentile(spread, 0.99), Self.rssMiB()))
        }

        static func index(_ count: Int, _ dimensions: Int, _ generator: inout SplitMix) -> UserVectors {
            var index = UserVectors(dimensions: dimensions)
            for _ in 0..<count {
                index.append(.init(id: UUID.random(), namespace: "default", tags: [], folded: ""), vector: unit(dimensions, &generator))
            }
            return index
        }

        static func unit(_ dimensions: Int, _ generator: inout SplitMix) -> [Float] {
            var vector = (0..<dimensions).map { _ in Float(generator.next() % 2_000_001) / 1_000_000 - 1 }
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0 { vector = vector.map { $0 / norm } }
            return vector
        }

        /// Copies of a buffer as large as the scan, the best of five: what the memory system gives one core.
        static func copyBandwidth(bytes: Int) -> Double {
            let source = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            let target = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            defer {
                source.deallocate()
                target.deallocate()
            }
            memset(source, 1, bytes)
            memset(target, 2, bytes)
            var best = Double.infinity
            for _ in 0..<5 {
                let start = ContinuousClock.now
                memcpy(target, source, bytes)
                best = min(best, milliseconds(ContinuousClock.now - start))
            }
            // A copy reads the bytes once, as the scan does; its writes are the price of the baseline.
            return Double(bytes) / (best / 1000) / 1e9
        }

        static func milliseconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        }

        static func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
        }

        static func rssMiB() -> Double {
            guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                  let kib = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
            return kib / 1024
        }
    }
}
