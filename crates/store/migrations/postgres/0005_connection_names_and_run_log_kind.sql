-- Connections get a plain API base URL (it was a vault secret named `base_url`: not
-- a secret, and the store moves it into this column when it opens) and a unique
-- human name. Existing rows are named after their id.
ALTER TABLE connections ADD COLUMN base_url TEXT;
ALTER TABLE connections ADD COLUMN name TEXT;
UPDATE connections SET name = id;
ALTER TABLE connections ALTER COLUMN name SET NOT NULL;
CREATE UNIQUE INDEX connections_name ON connections (name);

-- The run log records the job kind and, separately, the sync flow. Until now the
-- `flow` column held the job kind: it moves to `kind`, and `flow` starts empty.
ALTER TABLE run_log ADD COLUMN kind TEXT NOT NULL DEFAULT '';
UPDATE run_log SET kind = flow, flow = '';
