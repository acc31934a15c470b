-- Admin accounts: people who log in to the admin UI (role `admin` changes things,
-- `viewer` only reads), their server-side sessions, API tokens for scripts and the
-- one-time setup link of a fresh install. Only hashes of sessions, tokens and
-- setup links are kept; passwords are Argon2id PHC strings.
CREATE TABLE admin_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE admin_sessions (
    id_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX admin_sessions_user ON admin_sessions (user_name);
CREATE TABLE api_tokens (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE TABLE admin_setup (
    token_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
