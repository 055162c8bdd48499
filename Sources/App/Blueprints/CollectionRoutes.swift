import Blueprints
import Core
import Foundation
import HTTPTypes
import Hummingbird
import LLM
import NIOCore
import Storage

/// A blueprint's collections as routes: list, create, get, PUT, PATCH, delete and aggregate under the app's prefix.
/// They sit behind the same router middleware as the contract's routes (request ids, problems, body limit,
/// authentication, rate limits), and here pass the same policy: an identity, the key's scope (`data:read`,
/// `data:write`) and the collection's tier feature, decided by `Plans.authorize` like every other route.
struct CollectionRoutes {
    let blueprint: Blueprint
    let database: any Database
    let plans: Plans
    let clock: WallClock
    let maxBodyBytes: Int

    func register(on router: Router<AppRequestContext>) {
        for collection in blueprint.collections {
            let store = CollectionStore(collection: collection, db: database, clock: clock)
            let path = RouterPath(blueprint.prefix + collection.path)
            let item = RouterPath(blueprint.prefix + collection.path + "/:id")
            router.get(path) { request, _ in
                let caller = try authorize(collection, write: false)
                let query = try ListQuery(parameters(request), collection: collection, context: filterContext(caller))
                let page = try await store.list(query, caller: caller)
                return json(.ok, .object(["items": .array(page.items), "total": .int(Int64(page.total)),
                                          "page": .int(Int64(page.page)), "per_page": .int(Int64(page.perPage))]))
            }
            router.post(path) { request, _ in
                let caller = try authorize(collection, write: true)
                return json(.created, try await store.create(try await body(request), caller: caller))
            }
            router.get(RouterPath(blueprint.prefix + collection.path + "/aggregate")) { request, _ in
                let caller = try authorize(collection, write: false)
                let query = try AggregateQuery(parameters(request), collection: collection, context: filterContext(caller))
                return json(.ok, try await store.aggregate(query, caller: caller))
            }
            router.get(item) { request, context in
                let caller = try authorize(collection, write: false)
                var fields: Set<String>?
                let query = parameters(request)
                for name in query.keys where name != "fields" {
                    throw AppError.validation([FieldError(field: name, code: "unknown_parameter", message: "is not a parameter of this route")])
                }
                if let list = query["fields"] {
                    fields = Set(list.joined(separator: ",").split(separator: ",").map(String.init))
                }
                return json(.ok, try await store.get(try id(context), caller: caller, fields: fields))
            }
            router.put(item) { request, context in
                let caller = try authorize(collection, write: true)
                return json(.ok, try await store.update(try id(context), try await body(request), replace: true, caller: caller))
            }
            router.patch(item) { request, context in
                let caller = try authorize(collection, write: true)
                return json(.ok, try await store.update(try id(context), try await body(request), replace: false, caller: caller))
            }
            router.delete(item) { _, context in
                let caller = try authorize(collection, write: true)
                try await store.delete(try id(context), caller: caller)
                return Response(status: .noContent)
            }
        }
    }

    /// The one policy: an identity, the scope an API key needs, the tier's feature.
    private func authorize(_ collection: CollectionSpec, write: Bool) throws -> Caller {
        let identity = try RequestScope.requireIdentity()
        try plans.authorize(identity, scope: write ? "data:write" : "data:read", feature: collection.feature)
        return Caller(id: identity.user.id, isAdmin: identity.user.isAdmin)
    }

    private func filterContext(_ caller: Caller) -> FilterContext {
        let user = RequestScope.current?.identity?.user
        return FilterContext(nowMillis: clock.now.millis,
                             auth: ["id": .string(caller.id), "role": .string(user?.role ?? "user"), "tier": .string(user?.tier ?? "")])
    }

    private func parameters(_ request: Request) -> [String: [String]] {
        var query: [String: [String]] = [:]
        for (key, value) in request.uri.queryParameters {
            query[String(key).removingPercentEncoding ?? String(key), default: []].append(String(value))
        }
        return query
    }

    private func id(_ context: AppRequestContext) throws -> String {
        guard let id = context.parameters.get("id") else { throw AppError.notFound("record") }
        return id
    }

    private func body(_ request: Request) async throws -> JSONValue {
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/json" else {
            throw AppError(status: 415, code: "unsupported_media_type", title: "Unsupported media type",
                           detail: "Send the body as application/json.")
        }
        let buffer = try await request.body.collect(upTo: maxBodyBytes)
        guard let value = JSONValue.parse(Data(buffer.readableBytesView)) else {
            throw AppError.badRequest("The request body is not valid JSON.", code: "malformed_body")
        }
        return value
    }

    private func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.jsonString)))
    }
}
