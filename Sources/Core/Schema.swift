import Storage

/// Every migration, in order. Append; never edit one that has shipped.
///
/// Ids are lowercase UUID strings and times are milliseconds since 1970 in BIGINT columns, so both engines store and
/// compare them identically.
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
    ]
}
