-- Readiness writes one row here through the intake's own connection: "the journal
-- can take a write" is shown by a write, not by a read.
CREATE TABLE health (
    name TEXT PRIMARY KEY,
    at BIGINT NOT NULL
);
-- Claims walk queued jobs in (run_at, id) order and stop at the batch size; with id
-- in the index neither backend sorts the whole backlog to find the first few.
DROP INDEX jobs_ready;
CREATE INDEX jobs_ready ON jobs (queue, status, run_at, id);
-- Expired leases are found without scanning the queued jobs.
CREATE INDEX jobs_leases ON jobs (status, lease_expires_at);
