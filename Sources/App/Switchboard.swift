import API
import Agents
import AsyncHTTPClient
import Blueprints
import Connectors
import Core
import Foundation
import Hummingbird
import HummingbirdWebSocket
import LLM
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals
import Storage
import Vault

/// A built server: the HTTP application and what it owns. `run` serves until SIGTERM/SIGINT, lets in-flight
/// requests and running turns finish, then closes the model clients and the database.
public struct Switchboard: Sendable {
    public static let version = "0.1.0"

    public let application: Application<PathAliasResponder>
    public let database: any Database
    public let accounts: Accounts
    public let orchestrator: Orchestrator
    public let integrations: Integrations
    let shutdownTimeout: Duration

    /// Serves until SIGTERM or SIGINT. Shutdown waits for open requests and streams, but not for ever: after
    /// `http.shutdown_timeout_seconds` they are cancelled, and if a connection still lingers a little later (the
    /// HTTP server does not always close an idle keep-alive connection it was asked to), the process closes the
    /// database and exits anyway. A process that ignores SIGTERM gets killed mid-write; this one never does.
    public func run() async throws {
        let logger = application.logger
        var configuration = ServiceGroupConfiguration(services: [application], logger: logger)
        configuration.maximumGracefulShutdownDuration = shutdownTimeout
        let group = ServiceGroup(configuration: configuration)
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        do {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                tasks.addTask {
                    for await signal in signals {
                        logger.info("shutting down", metadata: ["signal": "\(signal)"])
                        await group.triggerGracefulShutdown()
                        try await Task.sleep(for: shutdownTimeout + .seconds(2))
                        logger.warning("connections outlived the shutdown timeout; stopping without them")
                        await close()
                        logger.info("stopped")
                        JSONLogHandler.flush()
                        exit(0)
                    }
                }
                try await tasks.next()
                tasks.cancelAll()
            }
        } catch is CancellationError {
            // The graceful shutdown ran out of time and was escalated: that is still a shutdown.
        } catch {
            await close()
            throw error
        }
        await close()
        logger.info("stopped")
        JSONLogHandler.flush()
    }

    /// Lets running turns finish (stopping them cleanly after a while), then releases the model clients and the
    /// database.
    public func close() async {
        // Turns whose clients went away get as long as requests did; then they are stopped and stored as they are.
        await orchestrator.stopRunningTurns(timeout: shutdownTimeout)
        await orchestrator.router.shutdown()
        try? await database.close()
    }

    /// Opens (and migrates) the store, loads the signing key and wires every route.
    public static func build(settings: Settings, logger: Logger, clock: WallClock = .system,
                             httpClient: HTTPClient = .shared) async throws -> Switchboard {
        let addresses = ClientAddressResolver(trustedProxies: settings.trustedProxies)
        let database = try await openDatabase(url: settings.databaseURL, sqlitePath: settings.sqlitePath,
                                              maxConnections: settings.databaseMaxConnections, logger: logger)
        do {
            do {
                try await Migrator(database: database, migrations: Schema.migrations, logger: logger).migrate()
            } catch {
                // PostgreSQL errors describe themselves opaquely on purpose; at start-up the details are what an
                // operator needs (they hold no password).
                throw StartupError(message: "cannot migrate the \(database.engine.rawValue) database: \(String(reflecting: error))")
            }
            let blueprint = try await loadBlueprint(settings: settings, database: database, clock: clock, logger: logger)
            // The blueprint's agents join the configured ones.
            var settings = settings
            if let blueprint { settings.agents = try agents(settings: settings, blueprint: blueprint, database: database, clock: clock) }
            let flows = try blueprint.map { try Self.flows($0, agents: settings.agents, models: settings.models.map(\.name)) } ?? []
            let counts = CountCache()
            let signingKey = try settings.jwtPrivateKey.map(SigningKey.init(base64:))
                ?? SigningKey.loadOrCreate(path: settings.signingKeyPath)
            let accounts = await Accounts(database: database, settings: settings.accounts, signingKey: signingKey,
                                          httpClient: httpClient, clock: clock, logger: logger)
            let conversations = Conversations(database: database, agents: Set(settings.agents.map(\.name) + flows.map(\.name)), clock: clock)
            let integrations = Integrations(database: database, vault: Vault(provider: try await VaultSetup.keyProvider(settings)), clock: clock)
            try await VaultSetup.checkKeys(integrations)
            let google = GoogleAPI(settings: settings.connectors, client: httpClient)
            // A blueprint's user-owned records count toward the storage quota with conversations; a team's records
            // count toward the member who created them.
            let recordTables = (blueprint?.tables ?? []).filter { $0.owner != .shared }.map { collection in
                Quotas.RecordTable(name: collection.table, textColumns: collection.fields.filter { $0.kind == .text || $0.kind == .json }.map(\.name))
            }
            let quotas = Quotas(db: database, plans: settings.plans, clock: clock, recordTables: recordTables)
            let embedder = Embedder(settings.memoryEmbeddingConfig, policy: settings.retry, client: httpClient)
            let memories = Memories(embedder: embedder, db: database, quotas: quotas, settings: settings.memory, clock: clock)
            let appTools = blueprint.map {
                collectionTools($0, database: database, counts: counts, accounts: accounts, plans: settings.plans, quotas: quotas, clock: clock)
                    + $0.clientTools.map { ClientTool(spec: $0) as any Tool }
            }
            let orchestrator = try await buildOrchestrator(settings: settings, database: database, conversations: conversations,
                                                           tools: connectorTools(google: google, integrations: integrations) + (appTools ?? [])
                                                               + MemoryTool.all(memories: memories, accounts: accounts), flows: flows,
                                                           environment: ToolEnvironment(name: blueprint?.name, flags: blueprint?.flags ?? [:]),
                                                           memory: AgentMemoryService(memories: memories),
                                                           policy: PlanPolicy(plans: settings.plans, quotas: quotas), clock: clock, logger: logger)
            for route in blueprint?.chatRoutes ?? [] where orchestrator.agents[route.agent] == nil && orchestrator.flows[route.agent] == nil {
                await orchestrator.router.shutdown()
                throw StartupError(message: "blueprint chat_routes \(route.method) \(route.path): there is no agent '\(route.agent)' (agents: "
                                   + orchestrator.agents.keys.sorted().joined(separator: ", ") + ")")
            }
            do {
                let handler = APIHandler(accounts: accounts, database: database, conversations: conversations, orchestrator: orchestrator,
                                         integrations: integrations, teams: Teams(db: database, clock: clock), memories: memories, app: blueprint,
                                         validator: IntegrationValidator(integrations: integrations, api: google),
                                         plans: settings.plans, quotas: quotas, usage: UsageStore(db: database),
                                         billing: Billing(db: database, plans: settings.plans, settings: settings.billing, client: httpClient,
                                                          clock: clock, logger: logger),
                                         prices: settings.prices, clock: clock)
                // SQLite serves one process: its limits live in memory. PostgreSQL may serve many: there they live in the database.
                var limiter: (any RateLimiter)?
                if settings.rateLimitEnabled {
                    limiter = database.engine == .postgres
                        ? DatabaseRateLimiter(db: database, databaseClock: clock.isSystem) as any RateLimiter : LocalRateLimiter()
                }
                let feed = blueprint.map { RecordFeed(blueprint: $0, db: database, clock: clock) }
                let chatRoutes = blueprint.map {
                    ChatRoutes(blueprint: $0, orchestrator: orchestrator, conversations: conversations.store, plans: settings.plans, clock: clock,
                               maxBodyBytes: settings.maxBodyBytes,
                               planMode: $0.plans.map { [blueprint = $0] book in
                                   PlanMode(book: book, blueprint: blueprint, orchestrator: orchestrator, plans: settings.plans,
                                            guardWords: settings.chat.guardWords, logger: logger)
                               })
                }
                let responder = try buildResponder(settings: settings, handler: handler, blueprint: blueprint, chatRoutes: chatRoutes, feed: feed,
                                                   counts: counts, limiter: limiter,
                                                   clock: clock, addresses: addresses, logger: logger)
                let webSocketRouter = Router(context: AppRequestContext.self)
                webSocketRouter.add(middleware: RequestScopeMiddleware(addresses: addresses, logger: logger))
                if !Self.replacesPlatformSocket(blueprint) {
                    ChatSocket.platform(accounts: accounts, orchestrator: orchestrator, plans: settings.plans, limiter: limiter, clock: clock, logger: logger)
                        .register(on: webSocketRouter)
                }
                if let chatRoutes {
                    for route in chatRoutes.blueprint.chatRoutes where route.method == ChatRoute.webSocket {
                        chatRoutes.socket(route, accounts: accounts, limiter: limiter, logger: logger).register(on: webSocketRouter)
                    }
                }
                var services: [any Service] = feed.map { [RecordFeedService(feed: $0, logger: logger)] } ?? []
                if let blueprint, blueprint.sendsWebhooks {
                    services.append(WebhookWorker(database: database, client: httpClient, clock: clock, logger: logger,
                                                  retryBase: .milliseconds(settings.webhookRetryMilliseconds)))
                }
                let application = Application(
                    responder: responder,
                    server: HeadWatch.server(webSocketRouter: webSocketRouter, socketPaths: Set(Self.socketPaths(blueprint).keys), configuration: .init(
                        http1: .init(idleTimeout: .seconds(Int64(settings.httpIdleTimeoutSeconds))),
                        // A ping every 30 s keeps idle sockets alive through proxies and finds dead peers.
                        ws: .init(maxFrameSize: ChatSocket.maxFrameBytes, autoPing: .enabled(timePeriod: .seconds(30))))),
                    configuration: ApplicationConfiguration(address: .hostname(settings.httpHost, port: settings.httpPort),
                                                            serverName: "Switchboard"),
                    services: services,
                    onServerRunning: { channel in
                        logger.info("listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")",
                                                            "database": "\(database.engine.rawValue)"])
                    },
                    logger: logger
                )
                return Switchboard(application: application, database: database, accounts: accounts, orchestrator: orchestrator,
                                   integrations: integrations, shutdownTimeout: .seconds(settings.httpShutdownTimeoutSeconds))
            } catch {
                await orchestrator.router.shutdown()
                throw error
            }
        } catch {
            try? await database.close()
            throw error
        }
    }

    /// The models, the tools and the agents. Configuration mistakes (an unreadable script or key file, an agent
    /// naming a tool that does not exist) stop start-up with a message.
    static func buildOrchestrator(settings: Settings, database: any Database, conversations: Conversations, tools extra: [any Tool], flows: [AgentFlow] = [],
                                  environment: ToolEnvironment = .init(), memory: (any AgentMemory)? = nil,
                                  policy: any TurnPolicy, clock: WallClock, logger: Logger) async throws -> Orchestrator {
        let all: [any Tool] = [CurrentTimeTool(clock: clock), ConversationSearchTool(conversations: conversations.store)] + extra
        var named = Set<String>()
        for tool in all where !named.insert(tool.name).inserted {
            throw StartupError(message: "two tools are named \(tool.name) (a blueprint collection's tool and a platform tool, say): rename the collection")
        }
        let tools = ToolRegistry(all)
        for agent in settings.agents {
            for tool in agent.tools where tools.tool(named: tool) == nil {
                throw StartupError(message: "agents.\(agent.name).tools: there is no tool '\(tool)' (tools: \(tools.names.joined(separator: ", ")))")
            }
        }
        let router: ModelRouter
        do {
            router = try await ModelRouter.build(configs: settings.models, defaultModel: settings.defaultModel, policy: settings.retry, logger: logger)
        } catch let error as ModelConfigError {
            throw StartupError(message: error.description)
        }
        return Orchestrator(router: router, tools: tools, agents: settings.agents, flows: flows, defaultAgent: settings.defaultAgent,
                            environment: environment, memory: memory,
                            conversations: conversations.store, approvals: ApprovalStore(db: database), usage: UsageStore(db: database),
                            settings: settings.chat,
                            policy: policy, clock: clock, logger: logger)
    }

    /// The configured agents and the blueprint's; a blueprint agent may not take a configured agent's name or name a
    /// model that is not configured.
    static func agents(settings: Settings, blueprint: Blueprint, database: any Database, clock: WallClock) throws -> [AgentDefinition] {
        var agents = settings.agents
        for agent in blueprint.agents {
            if agents.contains(where: { $0.name == agent.name }) {
                throw StartupError(message: "blueprint agents.\(agent.name): an agent of that name is configured already")
            }
            if let model = agent.model, !settings.models.contains(where: { $0.name == model }) {
                throw StartupError(message: "blueprint agents.\(agent.name).model: there is no model '\(model)' (models: "
                                   + settings.models.map(\.name).joined(separator: ", ") + ")")
            }
            var definition = AgentDefinition(name: agent.name, description: agent.description, model: agent.model, systemPrompt: "",
                                             tools: agent.tools, maxIterations: agent.maxIterations,
                                             approvals: RecordApprovalCondition.rules(agent, blueprint: blueprint, clock: clock),
                                             prompt: BlueprintPrompt(blueprint: blueprint, agent: agent, database: database, clock: clock),
                                             sanitize: agent.sanitize, memory: MemoryMode(rawValue: agent.memory) ?? .off)
            definition.output = agent.outputFormat
            agents.append(definition)
        }
        return agents
    }

    /// What the blueprint adds to the served contract fits it: no route of the platform taken, every platform alias
    /// standing for an operation that exists. (`blueprint check` runs this; `serve` meets it building the router.)
    public static func checkContract(_ blueprint: Blueprint) throws {
        _ = try OpenAPIDocument(blueprint: blueprint)
    }

    /// The chat sockets, which answer GET (the upgrade) only: the platform's, and the blueprint's WebSocket chat routes.
    static func socketPaths(_ blueprint: Blueprint?) -> [String: [String]] {
        let routes = blueprint.map { blueprint in blueprint.chatRoutes.filter { $0.method == ChatRoute.webSocket }.map { blueprint.prefix + $0.path } } ?? []
        return Dictionary((routes + [ChatSocket.platformPath]).map { ($0, ["get"]) }) { first, _ in first }
    }

    /// Whether a WebSocket chat route of the blueprint takes the platform socket's path (and so replaces it).
    static func replacesPlatformSocket(_ blueprint: Blueprint?) -> Bool {
        guard let blueprint else { return false }
        return blueprint.chatRoutes.contains { $0.method == ChatRoute.webSocket && blueprint.prefix + $0.path == ChatSocket.platformPath }
    }

    /// The blueprint's router and pipelines, over agents that exist and with models that do.
    static func flows(_ blueprint: Blueprint, agents: [AgentDefinition], models: [String]) throws -> [AgentFlow] {
        var flows: [AgentFlow] = []
        if let router = blueprint.router {
            flows.append(.router(AgentRouter(name: BlueprintRouter.name, description: router.description, model: router.model,
                                             agents: router.agents, fallback: router.fallback)))
        }
        flows += blueprint.pipelines.map { pipeline in
            .pipeline(AgentPipeline(name: pipeline.name, description: pipeline.description, agents: pipeline.agents,
                                    synthesize: pipeline.synthesize, model: pipeline.model))
        }
        for flow in flows {
            let at = flow.name == BlueprintRouter.name ? "router" : "pipelines.\(flow.name)"
            // A router may hand a message to a pipeline as to an agent.
            let pipelines = flow.name == BlueprintRouter.name ? blueprint.pipelines.map(\.name) : []
            for name in flow.agents where !agents.contains(where: { $0.name == name }) && !pipelines.contains(name) {
                throw StartupError(message: "blueprint \(at): there is no agent '\(name)' (agents: \(agents.map(\.name).joined(separator: ", ")))")
            }
            if agents.contains(where: { $0.name == flow.name }) {
                throw StartupError(message: "blueprint \(at): an agent is named \(flow.name) already")
            }
        }
        var declared: [(at: String, model: String)] = []
        if let model = blueprint.router?.model { declared.append(("router", model)) }
        for pipeline in blueprint.pipelines { if let model = pipeline.model { declared.append(("pipelines.\(pipeline.name)", model)) } }
        for (at, name) in declared where !models.contains(name) {
            throw StartupError(message: "blueprint \(at).model: there is no model '\(name)' (models: \(models.joined(separator: ", ")))")
        }
        return flows
    }

    /// The tools of the blueprint's collections that its agents use.
    static func collectionTools(_ blueprint: Blueprint, database: any Database, counts: CountCache, accounts: Accounts, plans: Plans,
                                quotas: Quotas, clock: WallClock) -> [any Tool] {
        let used = Set(blueprint.agents.flatMap(\.tools))
        return blueprint.collections.flatMap { collection in
            let store = CollectionStore(collection: collection, blueprint: blueprint, db: database, clock: clock, counts: counts)
            return ToolOperation.allCases.filter { used.contains($0.toolName(collection.name)) }.map { operation in
                CollectionTool(store: store, operation: operation, accounts: accounts, plans: plans, quotas: quotas, database: database) as any Tool
            }
        }
    }

    /// The Google Analytics and BigQuery tools, acting with the caller's own service account.
    static func connectorTools(google: GoogleAPI, integrations: Integrations) -> [any Tool] {
        [QueryGA4Tool(api: google, integrations: integrations), GA4MetadataTool(api: google, integrations: integrations),
         BigQueryListDatasetsTool(api: google, integrations: integrations), BigQueryListTablesTool(api: google, integrations: integrations),
         BigQueryTableSchemaTool(api: google, integrations: integrations), BigQueryDryRunTool(api: google, integrations: integrations),
         BigQueryQueryTool(api: google, integrations: integrations)]
    }

    /// The blueprint to serve, if any: checked, its additive schema changes applied (destructive ones refused), its
    /// seeds loaded. Any problem stops start-up with the blueprint's own line-numbered messages.
    static func loadBlueprint(settings: Settings, database: any Database, clock: WallClock, logger: Logger) async throws -> Blueprint? {
        guard let directory = settings.blueprintDirectory else { return nil }
        do {
            var blueprint = try BlueprintLoader.load(directory: directory)
            blueprint.flags.merge(settings.flags.filter { blueprint.flags[$0.key] != nil }) { $1 }
            let unset = blueprint.webhookSecrets.filter { (ProcessInfo.processInfo.environment[$0] ?? "").isEmpty }
            if !unset.isEmpty {
                throw StartupError(message: "blueprint \(directory): webhooks sign with \(unset.sorted().joined(separator: ", ")), which is not set in the environment")
            }
            try await CollectionSchema.apply(blueprint, db: database, allowDestructive: false, clock: clock, logger: logger)
            logger.info("serving blueprint", metadata: ["app": "\(blueprint.name)", "collections": "\(blueprint.collections.count)"])
            return blueprint
        } catch let error as BlueprintError {
            throw StartupError(message: "blueprint \(directory):\n" + error.description)
        }
    }

    static func buildResponder(settings: Settings, handler: APIHandler, blueprint: Blueprint?, chatRoutes: ChatRoutes?, feed: RecordFeed?, counts: CountCache,
                               limiter: (any RateLimiter)?,
                               clock: WallClock, addresses: ClientAddressResolver, logger: Logger) throws -> PathAliasResponder {
        let accounts = handler.accounts
        let router = Router(context: AppRequestContext.self)
        if !settings.corsOrigins.isEmpty {
            router.add(middleware: CORSMiddleware(origins: Set(settings.corsOrigins)))
        }
        let document = try OpenAPIDocument(blueprint: blueprint, builtinAccounts: settings.accounts.mode == .builtin)
        let clientStorage = blueprint.flatMap { $0.clientStorage ? $0 : nil }.map { _ in
            ClientStorage(db: handler.database, blobs: settings.blobStore(), plans: settings.plans, settings: settings.storage,
                          clock: clock)
        }
        // Public routes need no identity and are never rate limited.
        let publicPaths = NameSet(document.publicPaths.union(["/openapi.json", "/docs"]))
        router.add(middleware: RequestScopeMiddleware(addresses: addresses, logger: logger, intake: .init(
            allowedMethods: AllowedMethods(paths: document.methodsByPath.merging(
                ["/openapi.json": ["get"], "/docs": ["get"]].merging(Self.socketPaths(blueprint)) { $0 + $1 }
            ) { $0 + $1 }),
            bodyLimit: BodyLimit(maxBytes: settings.maxBodyBytes, overrides: clientStorage.map {
                ClientStorageRoutes.bodyLimits(prefix: blueprint?.prefix ?? "", storage: $0)
            } ?? [:], rawBodyPaths: ["/api/v1/billing/webhook"]),
            authentication: Authentication(accounts: accounts, publicPaths: publicPaths),
            rateLimit: limiter.map { RateLimit(limiter: $0, plans: settings.plans, clock: clock) })))

        // Compact JSON: pretty-printing costs time and bytes on every response.
        let transport = RouterTransport(router: router)
        try handler.registerHandlers(on: transport, configuration: .init(dateTranscoder: RFC3339DateTranscoder(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes]), middlewares: [
            OperationChecksMiddleware(publicOperations: NameSet(document.publicOperations), access: AccessRules(plans: settings.plans),
                                      query: QueryValidation(rules: document.queryRules), maxBytes: settings.maxBodyBytes,
                                      orchestrator: handler.orchestrator),
        ])

        chatRoutes?.register(on: router)
        if let clientStorage { ClientStorageRoutes(prefix: blueprint?.prefix ?? "", storage: clientStorage, plans: settings.plans).register(on: router) }
        if let blueprint, let feed {
            CollectionRoutes(blueprint: blueprint, feed: feed, database: handler.database, plans: settings.plans, quotas: handler.quotas,
                             clock: clock, maxBodyBytes: settings.maxBodyBytes, counts: counts).register(on: router)
        }

        let spec = ByteBuffer(bytes: try document.json())
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: spec))
        }
        if !Self.replacesPlatformSocket(blueprint) { ChatSocket.registerFallback(ChatSocket.platformPath, on: router) }
        router.get("/docs") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: DocsPage.html)))
        }
        return PathAliasResponder(router: router.buildResponder(), staticRoutes: transport.staticRoutes.routes, aliases: document.aliases,
                                  epochExpiry: blueprint?.epochTokenExpiry ?? false)
    }
}

public struct StartupError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
