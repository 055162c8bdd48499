import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The HTTP side every adapter shares: one POST with a JSON body, errors mapped to `ProviderError`, and the body
/// read whole or as server-sent events. Connect and read timeouts are the client's (one client per model), so a
/// stream that stays silent too long fails with `.timeout`; the turn's deadline cancels whatever is left.
struct ProviderHTTP: Sendable {
    let client: HTTPClient
    let redactor: Redactor

    /// Sends the request; any status but 2xx becomes a `ProviderError` built from the body by `describeError`.
    func post(_ url: String, headers: [(String, String)], body: [UInt8],
              describeError: @Sendable (Int, JSONValue?, String) -> (kind: ProviderError.Kind?, message: String, retryAfter: Duration?)
    ) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(3600))
        } catch {
            throw map(error)
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let status = Int(response.status.code)
            let text = (try? await collect(response.body, limit: 64 * 1024)) ?? ""
            let described = describeError(status, JSONValue.parse(text), text)
            var kind = described.kind ?? ProviderError.kind(status: status)
            if (kind == .badRequest || status == 413) && ProviderError.mentionsContextLength(described.message) { kind = .contextLength }
            let retryAfter = described.retryAfter ?? Self.retryAfter(response.headers)
            throw ProviderError(kind, status: status, message: redactor.clean(described.message), retryAfter: retryAfter)
        }
        return response
    }

    /// The whole body as JSON.
    func json(_ response: HTTPClientResponse) async throws -> JSONValue {
        let text: String
        do {
            text = try await collect(response.body, limit: 32 * 1024 * 1024)
        } catch {
            throw map(error)
        }
        guard let value = JSONValue.parse(text) else {
            throw ProviderError(.malformed, message: "The provider's response is not JSON.")
        }
        return value
    }

    /// The body's server-sent events, decoded by `decoder` into model events. The stream ends when the decoder
    /// says the response is over or the body ends; then `finish` tells whether it ended properly.
    ///
    /// Decoded as the caller asks for each event, in the caller's task: a task of its own in between would add a
    /// hand-off from thread to thread for every piece of every answer.
    func modelEvents<Decoder: StreamDecoding>(_ response: HTTPClientResponse, decoder: Decoder) -> AsyncThrowingStream<ModelEvent, any Error> {
        let reader = EventReader(body: response.body, decoder: decoder, redactor: redactor)
        return AsyncThrowingStream {
            do {
                return try await reader.next()
            } catch {
                throw map(error)
            }
        }
    }

    private func collect(_ body: HTTPClientResponse.Body, limit: Int) async throws -> String {
        String(buffer: try await body.collect(upTo: limit))
    }

    func map(_ error: any Error) -> ProviderError {
        if let error = error as? ProviderError { return error }
        if let error = error as? HTTPClientError {
            switch error {
            case .readTimeout, .deadlineExceeded:
                return ProviderError(.timeout, message: "The provider did not answer in time.")
            case .connectTimeout:
                return ProviderError(.connection, message: "Could not connect to the provider in time.")
            case .remoteConnectionClosed:
                return ProviderError(.interrupted, message: "The provider closed the connection before the response ended.")
            default:
                return ProviderError(.connection, message: "The connection to the provider failed (\(error.shortDescription)).")
            }
        }
        if error is CancellationError { return ProviderError(.timeout, message: "The request was cancelled.") }
        return ProviderError(.connection, message: "The connection to the provider failed (\(type(of: error))).")
    }

    /// `retry-after-ms` (OpenAI), then `Retry-After` in seconds or as an HTTP date.
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        if let millis = headers.first(name: "retry-after-ms").flatMap(Double.init) {
            return delay(seconds: millis / 1000)
        }
        guard let value = headers.first(name: "retry-after") else { return nil }
        if let seconds = Double(value.trimmingCharacters(in: .whitespaces)) {
            return delay(seconds: seconds)
        }
        if let date = HTTPDate.parse(value) {
            return delay(seconds: max(0, date.timeIntervalSinceNow))
        }
        return nil
    }

    /// A delay an upstream asked for, in seconds: nil unless it is a finite number >= 0; capped at a day (longer
    /// than any wait the router accepts), so that no value a provider or a proxy sends can overflow the conversion.
    static func delay(seconds: Double) -> Duration? {
        guard seconds.isFinite, seconds >= 0 else { return nil }
        return .milliseconds(Int64(min(seconds, 86_400) * 1000))
    }
}

extension HTTPClientError {
    fileprivate var shortDescription: String {
        String(describing: self).split(separator: "(").first.map(String.init) ?? "error"
    }
}

/// One provider's streaming format: turns the `data` of each server-sent event into model events.
protocol StreamDecoding: Sendable {
    mutating func decode(data: String, redactor: Redactor) throws -> [ModelEvent]
    /// The provider said the response is complete; nothing more is read.
    var isDone: Bool { get }
    /// The events owed at the end (usage, finish reason), or `.interrupted` when the response ended early.
    func finish() throws -> [ModelEvent]
}

/// The state of one streamed answer between the caller's requests for its next event. `AsyncThrowingStream`'s
/// unfolding closure is called once at a time, so nothing here is touched by two tasks at once.
private final class EventReader<Decoder: StreamDecoding>: @unchecked Sendable {
    private var body: HTTPClientResponse.Body.AsyncIterator
    private var parser = EventStreamParser()
    private var decoder: Decoder
    private let redactor: Redactor
    /// Decoded from the last server-sent event and not yet returned, from `position` on.
    private var ready: [ModelEvent] = []
    private var position = 0
    private var ended = false

    init(body: HTTPClientResponse.Body, decoder: Decoder, redactor: Redactor) {
        self.body = body.makeAsyncIterator()
        self.decoder = decoder
        self.redactor = redactor
    }

    func next() async throws -> ModelEvent? {
        while true {
            if position < ready.count {
                defer { position += 1 }
                return ready[position]
            }
            if ended { return nil }
            ready.removeAll(keepingCapacity: true)
            position = 0
            if decoder.isDone {
                try end()
            } else if let data = try parser.next() {
                ready = try decoder.decode(data: data, redactor: redactor)
            } else if let bytes = try await body.next() {
                parser.append(bytes)
            } else {
                try end()
            }
        }
    }

    private func end() throws {
        ready = try decoder.finish()
        ended = true
    }
}
