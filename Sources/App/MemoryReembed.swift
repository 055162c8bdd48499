import Core
import Foundation
import LLM
import Logging
import Storage

/// `switchboard memory reembed`: every memory moved to the configured embedding model (`memory.embedding`), batch
/// by batch; safe to stop and run again, and to run while servers serve.
public enum MemoryReembed {
    public struct Progress: Sendable {
        public let model: String
        public let moved: Int
        public let remaining: Int
        public let tokens: Int
        public let batches: Int
    }

    /// Runs until nothing is left, or `maxBatches` batches have run; `report` hears after each batch. A batch the
    /// provider fails stops the job with the error; what earlier batches moved stays moved.
    public static func run(settings: Settings, logger: Logger, batchSize: Int, maxBatches: Int = .max,
                           report: (Progress) -> Void) async throws -> Progress {
        let database = try await openDatabase(url: settings.databaseURL, sqlitePath: settings.sqlitePath, logger: logger)
        do {
            try await Migrator(database: database, migrations: Schema.migrations, logger: logger).migrate()
            let job = Reembedding(db: database, embedder: Embedder(settings.memoryEmbeddingConfig, policy: settings.retry))
            var progress = Progress(model: job.model, moved: 0, remaining: try await job.remaining(), tokens: 0, batches: 0)
            var idle = 0
            // A batch whose every memory changed meanwhile moves nothing; three such in a row mean something keeps
            // rewriting them, and the job stops rather than spin.
            while progress.remaining > 0, progress.batches < maxBatches, idle < 3 {
                let step = try await job.step(batchSize: batchSize)
                if step.read == 0 { break }
                idle = step.moved == 0 ? idle + 1 : 0
                progress = Progress(model: job.model, moved: progress.moved + step.moved, remaining: try await job.remaining(),
                                    tokens: progress.tokens + step.usage.totalTokens, batches: progress.batches + 1)
                report(progress)
            }
            try await database.close()
            return progress
        } catch {
            try? await database.close()
            throw error
        }
    }
}
