-- Secret keys in webhook callback paths (`/webhooks/lofty/<key>`): Lofty signs
-- nothing, so the unguessable path is what authenticates a delivery. Only the
-- SHA-256 of a key is here, to find its connection; the key itself is in the vault.
CREATE TABLE webhook_keys (
    key_hash TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
