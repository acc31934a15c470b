-- ghlsync durable core, SQLite flavour. Times are epoch milliseconds.
CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    system TEXT NOT NULL,
    kind TEXT NOT NULL,
    location_id TEXT,
    company_id TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    status_reason TEXT,
    scopes TEXT NOT NULL DEFAULT '',
    token_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE secrets (
    connection_id TEXT NOT NULL,
    name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, name)
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    connection_id TEXT,
    received_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (source, event_id)
);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    connection_id TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (queue, status, run_at);

CREATE TABLE links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    a_connection TEXT NOT NULL,
    a_type TEXT NOT NULL,
    a_id TEXT NOT NULL,
    b_connection TEXT NOT NULL,
    b_type TEXT NOT NULL,
    b_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (a_connection, a_type, a_id, b_connection, b_type),
    UNIQUE (b_connection, b_type, b_id, a_connection, a_type)
);

CREATE TABLE echo_ledger (
    connection_id TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    remote_updated_at TEXT,
    written_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, object_type, object_id)
);

CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE run_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id BIGINT,
    flow TEXT NOT NULL,
    record TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX run_log_job ON run_log (job_id);
CREATE INDEX run_log_record ON run_log (record);

CREATE TABLE rate_budgets (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    used BIGINT NOT NULL
);
