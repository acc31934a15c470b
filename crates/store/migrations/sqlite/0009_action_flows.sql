-- Action flows: a catalog trigger to a catalog action, with a mapping (a flow file
-- whose `[flow]` names both). `trigger_connection` is the account whose events
-- fire it (none for schedule and manual triggers), `action_connection` the one the
-- action runs through; `fired_at` is a schedule's last firing (epoch ms).
CREATE TABLE action_flows (
    id TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    trigger_id TEXT NOT NULL,
    trigger_connection TEXT,
    action_connection TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    fired_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX action_flows_trigger ON action_flows (trigger_id, enabled);
