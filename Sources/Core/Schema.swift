import Storage

/// Every migration, in order. Append; never edit one that has shipped.
///
/// Ids are lowercase UUID strings and times are milliseconds since 1970 in BIGINT columns, so both engines store and
/// compare them identically. Text searched without regard to case is stored folded by Swift (`*_folded` columns):
/// SQLite's LOWER() folds ASCII only, PostgreSQL's all of Unicode, and search must not depend on the engine.
public enum Schema {
    public static let migrations: [Migration] = [
        Migration(version: 1, name: "accounts") { _ in
            [
                """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY,
                    email TEXT UNIQUE,
                    password_hash TEXT,
                    name TEXT,
                    tier TEXT NOT NULL,
                    external_subject TEXT UNIQUE,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    created_at BIGINT NOT NULL,
                    refreshed_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    revoked_at BIGINT,
                    revoked_reason TEXT,
                    user_agent TEXT,
                    ip_address TEXT
                )
                """,
                "CREATE INDEX sessions_user ON sessions (user_id, created_at)",
                """
                CREATE TABLE refresh_tokens (
                    id TEXT PRIMARY KEY,
                    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                    token_hash TEXT NOT NULL UNIQUE,
                    parent_id TEXT,
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id)",
                """
                CREATE TABLE auth_attempts (
                    bucket TEXT NOT NULL,
                    occurred_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX auth_attempts_bucket ON auth_attempts (bucket, occurred_at)",
            ]
        },
        Migration(version: 2, name: "conversations") { _ in
            [
                """
                CREATE TABLE conversations (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    title TEXT,
                    title_folded TEXT,
                    agent TEXT,
                    metadata TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    turn_id TEXT,
                    turn_expires_at BIGINT,
                    last_seq BIGINT NOT NULL
                )
                """,
                "CREATE INDEX conversations_user ON conversations (user_id, updated_at)",
                "CREATE INDEX conversations_running ON conversations (user_id, turn_expires_at)",
                """
                CREATE TABLE messages (
                    id TEXT PRIMARY KEY,
                    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    turn_id TEXT NOT NULL,
                    seq BIGINT NOT NULL,
                    role TEXT NOT NULL,
                    parts TEXT NOT NULL,
                    text_folded TEXT NOT NULL,
                    model TEXT,
                    provider TEXT,
                    status TEXT NOT NULL,
                    finish_reason TEXT,
                    input_tokens BIGINT NOT NULL,
                    output_tokens BIGINT NOT NULL,
                    cached_input_tokens BIGINT NOT NULL,
                    cache_write_tokens BIGINT NOT NULL,
                    reasoning_tokens BIGINT NOT NULL,
                    error_code TEXT,
                    error_message TEXT,
                    created_at BIGINT NOT NULL,
                    completed_at BIGINT,
                    UNIQUE (conversation_id, seq)
                )
                """,
                "CREATE INDEX messages_user ON messages (user_id, created_at)",
                """
                CREATE TABLE usage_daily (
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    day TEXT NOT NULL,
                    model TEXT NOT NULL,
                    requests BIGINT NOT NULL,
                    input_tokens BIGINT NOT NULL,
                    output_tokens BIGINT NOT NULL,
                    cached_input_tokens BIGINT NOT NULL,
                    cache_write_tokens BIGINT NOT NULL,
                    reasoning_tokens BIGINT NOT NULL,
                    PRIMARY KEY (user_id, day, model)
                )
                """,
            ]
        },
        Migration(version: 3, name: "integrations") { _ in
            [
                """
                CREATE TABLE integrations (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL,
                    metadata TEXT NOT NULL,
                    secret_version BIGINT NOT NULL,
                    key_id TEXT NOT NULL,
                    wrapped_key TEXT NOT NULL,
                    ciphertext TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX integrations_user ON integrations (user_id, created_at)",
                "CREATE INDEX integrations_key ON integrations (key_id)",
            ]
        },
        Migration(version: 4, name: "plans") { _ in
            [
                "ALTER TABLE users ADD COLUMN seats BIGINT NOT NULL DEFAULT 1",
                """
                CREATE TABLE rate_limits (
                    key TEXT PRIMARY KEY,
                    tat BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE token_usage_monthly (
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    month TEXT NOT NULL,
                    tokens BIGINT NOT NULL,
                    PRIMARY KEY (user_id, month)
                )
                """,
                """
                CREATE TABLE quota_debits (
                    turn_id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    month TEXT NOT NULL,
                    tokens BIGINT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    prefix TEXT NOT NULL UNIQUE,
                    secret_hash TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT,
                    last_used_at BIGINT,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX api_keys_user ON api_keys (user_id, created_at)",
                """
                CREATE TABLE subscriptions (
                    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
                    stripe_customer_id TEXT,
                    stripe_subscription_id TEXT UNIQUE,
                    tier TEXT,
                    status TEXT NOT NULL,
                    seats BIGINT NOT NULL,
                    current_period_end BIGINT,
                    cancel_at_period_end BIGINT NOT NULL,
                    last_event_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX subscriptions_customer ON subscriptions (stripe_customer_id)",
                """
                CREATE TABLE stripe_events (
                    id TEXT PRIMARY KEY,
                    type TEXT NOT NULL,
                    created BIGINT NOT NULL,
                    processed_at BIGINT NOT NULL
                )
                """,
            ]
        },
        // The limiter's rows are rewritten by every request and worthless after a crash: on PostgreSQL they need no
        // write-ahead log (a crash empties the table, which only resets everyone's allowance).
        Migration(version: 5, name: "unlogged_rate_limits") { engine in
            engine == .postgres ? ["ALTER TABLE rate_limits SET UNLOGGED"] : []
        },
        // Administrators write shared blueprint collections; blueprints record the schema changes they applied.
        Migration(version: 6, name: "blueprints") { _ in
            [
                "ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user'",
                """
                CREATE TABLE blueprint_migrations (
                    app TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    statements TEXT NOT NULL,
                    applied_at BIGINT NOT NULL,
                    PRIMARY KEY (app, version)
                )
                """,
            ]
        },
        // Webhooks that blueprint hooks send: written in the transaction of the change they report, delivered after
        // commit by a worker, retried with backoff, so none is lost when a process stops.
        Migration(version: 7, name: "webhook_outbox") { _ in
            [
                """
                CREATE TABLE webhook_outbox (
                    id TEXT PRIMARY KEY,
                    app TEXT NOT NULL,
                    url TEXT NOT NULL,
                    secret_env TEXT,
                    event TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    attempts BIGINT NOT NULL,
                    next_attempt_at BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    delivered_at BIGINT,
                    failed_at BIGINT,
                    last_error TEXT
                )
                """,
                "CREATE INDEX webhook_outbox_due ON webhook_outbox (delivered_at, failed_at, next_attempt_at)",
            ]
        },
        // Changes to blueprint records, for realtime subscribers in every process; kept for minutes only.
        // `seq` orders them (a record's changes are serialized by its row, so their order is the commit order).
        Migration(version: 8, name: "record_events") { engine in
            [
                """
                CREATE TABLE record_events (
                    seq \(engine == .postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"),
                    app TEXT NOT NULL,
                    collection TEXT NOT NULL,
                    event TEXT NOT NULL,
                    record_id TEXT NOT NULL,
                    before TEXT,
                    after TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX record_events_recent ON record_events (app, created_at)",
            ]
        },
        // Teams: members with roles, and invitations by email. Blueprint collections owned by teams point here, so a
        // deleted team takes its records with it.
        Migration(version: 9, name: "teams") { _ in
            [
                """
                CREATE TABLE teams (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE team_members (
                    team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    role TEXT NOT NULL,
                    joined_at BIGINT NOT NULL,
                    PRIMARY KEY (team_id, user_id)
                )
                """,
                "CREATE INDEX team_members_user ON team_members (user_id, team_id)",
                """
                CREATE TABLE team_invitations (
                    id TEXT PRIMARY KEY,
                    team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
                    email TEXT NOT NULL,
                    role TEXT NOT NULL,
                    invited_by TEXT REFERENCES users(id) ON DELETE SET NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX team_invitations_email ON team_invitations (team_id, email)",
                "CREATE INDEX team_invitations_invitee ON team_invitations (email, created_at)",
            ]
        },
        // How many writes each blueprint's collections have committed, in a few rows per app (so that concurrent
        // writers rarely wait on one another): list totals are remembered until the sum moves, across processes.
        Migration(version: 10, name: "blueprint_versions") { _ in
            [
                """
                CREATE TABLE blueprint_versions (
                    app TEXT NOT NULL,
                    shard BIGINT NOT NULL,
                    version BIGINT NOT NULL,
                    PRIMARY KEY (app, shard)
                )
                """,
            ]
        },
        Migration(version: 11, name: "tool_approvals") { _ in
            [
                // A tool call waiting for (or given) its user's decision: it outlives the turn that paused, and a restart.
                """
                CREATE TABLE tool_approvals (
                    id TEXT PRIMARY KEY,
                    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    turn_id TEXT NOT NULL,
                    message_id TEXT NOT NULL,
                    seq BIGINT NOT NULL,
                    call_id TEXT NOT NULL,
                    tool TEXT NOT NULL,
                    arguments TEXT NOT NULL,
                    agent TEXT NOT NULL,
                    model TEXT NOT NULL,
                    status TEXT NOT NULL,
                    decided_arguments TEXT,
                    reason TEXT,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    decided_at BIGINT
                )
                """,
                "CREATE INDEX tool_approvals_conversation ON tool_approvals (conversation_id, seq)",
            ]
        },
        Migration(version: 12, name: "route_conversations") { _ in
            [
                // The conversation a blueprint's chat route uses for a user who names none.
                """
                CREATE TABLE route_conversations (
                    app TEXT NOT NULL,
                    route TEXT NOT NULL,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                    PRIMARY KEY (app, route, user_id)
                )
                """,
            ]
        },
        Migration(version: 13, name: "message_agent") { _ in
            // The agent that wrote an assistant message: a router's choice and each step of a pipeline stay on record.
            ["ALTER TABLE messages ADD COLUMN agent TEXT"]
        },
        Migration(version: 14, name: "memories") { _ in
            [
                // Embeddings as base64 float32 text: one type on both engines, read whole into an index anyway.
                """
                CREATE TABLE memories (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    namespace TEXT NOT NULL,
                    text TEXT NOT NULL,
                    text_folded TEXT NOT NULL,
                    tags TEXT NOT NULL,
                    metadata TEXT NOT NULL,
                    embedding TEXT NOT NULL,
                    model TEXT NOT NULL,
                    dimensions BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX memories_user ON memories (user_id, namespace, created_at)",
                """
                CREATE TABLE memory_versions (
                    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
                    version BIGINT NOT NULL
                )
                """,
            ]
        },
        Migration(version: 15, name: "client_storage") { _ in
            // Client-encrypted storage: metadata here, the bytes in the blob store. Usage is counted per user in the
            // transaction of each write, so a quota holds exactly, whatever runs at once.
            [
                """
                CREATE TABLE client_records (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    table_name TEXT NOT NULL,
                    checksum TEXT NOT NULL,
                    size_bytes BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX client_records_user ON client_records (user_id, table_name, created_at)",
                """
                CREATE TABLE client_backups (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    version BIGINT NOT NULL,
                    timestamp BIGINT NOT NULL,
                    checksum TEXT NOT NULL,
                    size_bytes BIGINT NOT NULL,
                    chunk_count BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    UNIQUE (user_id, timestamp)
                )
                """,
                """
                CREATE TABLE client_storage_usage (
                    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
                    records_bytes BIGINT NOT NULL,
                    backup_bytes BIGINT NOT NULL
                )
                """,
            ]
        },
        Migration(version: 16, name: "client_vectors") { _ in
            [
                // The client's own ids; vectors as base64 float32 text, as memories keep theirs.
                """
                CREATE TABLE client_vectors (
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    id TEXT NOT NULL,
                    checksum TEXT NOT NULL,
                    size_bytes BIGINT NOT NULL,
                    vector TEXT NOT NULL,
                    dimensions BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (user_id, id)
                )
                """,
            ]
        },
    ]
}
