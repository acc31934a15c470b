-- The Health page's charts: one value per series per minute, written by whichever
-- worker samples that minute first (the primary key makes the others no-ops).
-- Series: `queue:<name>` (jobs queued or running), `done` and `dead` (jobs that
-- finished so in the minute before), `budget:<key>` (the rate budget's send time
-- reserved so far, ms: its growth per minute over 60,000 is the budget's use).
CREATE TABLE metric_samples (
    minute BIGINT NOT NULL,
    series TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (minute, series)
);
-- Send time each budget has handed out in all (ms), for `budget:<key>` samples.
ALTER TABLE rate_slots ADD COLUMN reserved_ms BIGINT NOT NULL DEFAULT 0;
-- Counting the jobs finished in a minute.
CREATE INDEX jobs_finished ON jobs (status, updated_at);
