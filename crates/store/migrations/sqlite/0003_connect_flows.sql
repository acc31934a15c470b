-- OAuth connect flows in progress, in the database rather than one server's memory:
-- a callback may land on any server instance, or after a restart. The `state` and
-- the admin session are kept only as SHA-256 hashes.
CREATE TABLE connect_flows (
    state_hash TEXT PRIMARY KEY,
    system TEXT NOT NULL,
    session_hash TEXT,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX connect_flows_created ON connect_flows (created_at);
