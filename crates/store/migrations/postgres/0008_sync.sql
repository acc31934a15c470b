-- The sync engine's state.
-- A flow: a sync file switched on between two connections.
CREATE TABLE flows (
    id TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    left_connection TEXT NOT NULL,
    right_connection TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- A linked pair of a flow: the two record ids, the shadow (the last synced value
-- of every mapped field), the last known state and version of each side, and the
-- fingerprint of what we last wrote to each side (echo recognition).
CREATE TABLE sync_pairs (
    id BIGSERIAL PRIMARY KEY,
    flow_id TEXT NOT NULL,
    left_id TEXT NOT NULL,
    right_id TEXT NOT NULL,
    shadow TEXT NOT NULL,
    left_state TEXT NOT NULL,
    right_state TEXT NOT NULL,
    left_version BIGINT,
    right_version BIGINT,
    left_written TEXT,
    right_written TEXT,
    updated_at BIGINT NOT NULL,
    UNIQUE (flow_id, left_id),
    UNIQUE (flow_id, right_id)
);
-- The engine's own index of both sides by normalised match key: first-time
-- matching reads it instead of the APIs.
CREATE TABLE sync_index (
    flow_id TEXT NOT NULL,
    side TEXT NOT NULL,
    key_name TEXT NOT NULL,
    key_value TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (flow_id, side, key_name, key_value, record_id)
);
CREATE INDEX sync_index_record ON sync_index (flow_id, side, record_id);
-- Every decision about a record, for `ghlsync history`.
CREATE TABLE history (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    flow_id TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    diffs TEXT NOT NULL,
    api_status INT,
    api_message TEXT,
    subject TEXT NOT NULL
);
CREATE INDEX history_subject ON history (subject, at);
CREATE INDEX history_source ON history (source, at);
CREATE INDEX history_target ON history (target, at);
CREATE INDEX history_at ON history (at);
-- What waits for a person: ambiguous matches, conflicts under rule review, deletes.
CREATE TABLE reviews (
    id BIGSERIAL PRIMARY KEY,
    flow_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    settled_at BIGINT
);
CREATE INDEX reviews_status ON reviews (status, created_at);
-- Short leases that keep two jobs for one pair (or one new person) apart.
CREATE TABLE sync_locks (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- The last known state of every record a flow has seen, paired or not (filled by
-- webhooks, reads, our own writes and the backfill): a match to a record seen
-- before costs no API read.
CREATE TABLE sync_records (
    flow_id TEXT NOT NULL,
    side TEXT NOT NULL,
    record_id TEXT NOT NULL,
    state TEXT NOT NULL,
    version BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (flow_id, side, record_id)
);
