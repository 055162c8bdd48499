import Blueprints
import Core
import Foundation
import HTTPTypes
import Hummingbird
import LLM
import NIOCore
import ServiceLifecycle
import Storage

/// A blueprint's collections as routes under the app's prefix: list, create, get, PUT, PATCH, delete, aggregate,
/// realtime events, the collections' aliases, and the profile. They sit behind the same router middleware as the contract's routes (request ids, problems, body limit,
/// authentication, rate limits), and here pass the same policy: an identity, the key's scope (`data:read`,
/// `data:write`) and the collection's tier feature, decided by `Plans.authorize` like every other route.
struct CollectionRoutes {
    let blueprint: Blueprint
    let feed: RecordFeed
    let database: any Database
    let plans: Plans
    let quotas: Quotas
    let clock: WallClock
    let maxBodyBytes: Int
    /// List totals, shared with the app's agent tools (their writes must move it on too).
    let counts: CountCache

    func register(on router: Router<AppRequestContext>) {
        for collection in blueprint.collections {
            let store = CollectionStore(collection: collection, blueprint: blueprint, db: database, clock: clock, counts: counts)
            let base = blueprint.prefix + collection.path
            let defaults: [(CollectionOperation, HTTPRequest.Method, String)] = [
                (.list, .get, base), (.create, .post, base), (.aggregate, .get, base + "/aggregate"),
                (.get, .get, base + "/{id}"), (.replace, .put, base + "/{id}"), (.update, .patch, base + "/{id}"),
                (.delete, .delete, base + "/{id}"),
            ]
            for (operation, method, path) in defaults {
                router.on(RouterPath(path), method: method, use: handler(operation, store: store, parameter: "id"))
            }
            router.get(RouterPath(base + "/events")) { request, _ in
                let caller = try await authorize(collection, write: false)
                let filter = try EventQuery(try parameters(request), context: store.filterContext(caller)).filter
                if let filter {
                    try store.check(filter, caller: caller)
                    try store.checkRealtime(filter, caller: caller)
                }
                let (bytes, end) = RecordEventStream.bytes(try await feed.subscribe(store, caller: caller, filter: filter))
                // The stream ends when the server shuts down: an open subscription must not hold shutdown up.
                return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                                body: ResponseBody { writer in
                                    try await withGracefulShutdownHandler {
                                        for await chunk in bytes { try await writer.write(chunk) }
                                    } onGracefulShutdown: {
                                        end()
                                    }
                                    try await writer.finish(nil)
                                })
            }
            for alias in collection.aliases {
                router.on(RouterPath(blueprint.prefix + alias.path), method: HTTPRequest.Method(alias.method) ?? .get,
                          use: handler(alias.operation, store: store, parameter: alias.parameter ?? "id"))
            }
        }
        if let profile = blueprint.profile {
            let store = CollectionStore(collection: profile, blueprint: blueprint, db: database, clock: clock, counts: counts)
            router.get(RouterPath(blueprint.prefix + profile.path)) { _, _ in
                json(.ok, try await store.profile(caller: try await authorize(profile, write: false)))
            }
            router.patch(RouterPath(blueprint.prefix + profile.path)) { request, _ in
                let caller = try await authorize(profile, write: true)
                return json(.ok, try await store.updateProfile(try await body(request), caller: caller))
            }
        }
    }

    /// One operation of a collection; `parameter` names the path segment that holds the record's id.
    private func handler(_ operation: CollectionOperation, store: CollectionStore, parameter: String)
        -> @Sendable (Request, AppRequestContext) async throws -> Response {
        let collection = store.collection
        return { request, context in
            let caller = try await authorize(collection, write: ![.list, .get, .aggregate].contains(operation))
            // Over the plan's storage, records can be read and deleted but not added or grown.
            if [.create, .replace, .update].contains(operation), collection.owner != .shared {
                try await quotas.admitStorage(user: try RequestScope.requireIdentity().user)
            }
            func id() throws -> String {
                guard let id = context.parameters.get(parameter) else { throw AppError.notFound("record") }
                return id
            }
            switch operation {
            case .list:
                let query = try ListQuery(try parameters(request), collection: collection, context: store.filterContext(caller))
                let page = try await store.list(query, caller: caller)
                return json(.ok, .object(["items": .array(page.items), "total": .int(Int64(page.total)),
                                          "page": .int(Int64(page.page)), "per_page": .int(Int64(page.perPage))]))
            case .create:
                return json(.created, try await store.create(try await body(request), caller: caller))
            case .aggregate:
                let query = try AggregateQuery(try parameters(request), collection: collection, context: store.filterContext(caller))
                return json(.ok, try await store.aggregate(query, caller: caller))
            case .get:
                let query = try RecordQuery(try parameters(request), collection: collection)
                return json(.ok, try await store.get(try id(), caller: caller, fields: query.fields, expand: query.expand))
            case .replace, .update:
                return json(.ok, try await store.update(try id(), try await body(request), replace: operation == .replace, caller: caller))
            case .delete:
                try await store.delete(try id(), caller: caller)
                return Response(status: .noContent)
            }
        }
    }

    /// The one policy: an identity, the scope an API key needs, the tier's feature. The caller's profile comes along
    /// when the app's rules read it.
    private func authorize(_ collection: CollectionSpec, write: Bool) async throws -> Caller {
        let identity = try RequestScope.requireIdentity()
        try plans.authorize(identity, scope: write ? "data:write" : "data:read", feature: collection.feature)
        return try await Caller.of(identity.user, in: blueprint, db: database)
    }

    /// The query's parameters by name, read as the contract's routes read them.
    private func parameters(_ request: Request) throws -> [String: [String]] {
        try QueryString.byName(request.uri.query)
    }

    private func body(_ request: Request) async throws -> JSONValue {
        try await JSONBody.read(request, maxBytes: maxBodyBytes)
    }

    private func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        JSONBody.response(status, value)
    }
}

/// A subscriber's events as a `text/event-stream`: `ready` once subscribed, then each change, and a comment every
/// 15 seconds of silence so that proxies keep the connection open.
enum RecordEventStream {
    /// The stream, and what ends it.
    static func bytes(_ events: AsyncStream<RecordEvent>) -> (AsyncStream<ByteBuffer>, @Sendable () -> Void) {
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        do {
            continuation.yield(ByteBuffer(string: "event: ready\ndata: {}\n\n"))
            let task = Task {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await event in events {
                            continuation.yield(ByteBuffer(string: "event: \(event.name)\ndata: \(event.data.jsonString)\n\n"))
                        }
                    }
                    group.addTask {
                        while true {
                            do { try await Task.sleep(for: EventStream.keepAliveInterval) } catch { return }
                            continuation.yield(ByteBuffer(string: EventStream.keepAliveComment))
                        }
                    }
                    await group.next()
                    group.cancelAll()
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        return (stream, { continuation.finish() })
    }
}
