-- The shared per-location rate budget hands out evenly spaced send times ("slots")
-- instead of counting requests per fixed window: our windows would not line up with
-- the API's, and two half-windows could put twice the limit into one of its windows.
-- `next_at` is the first slot not yet handed out (epoch ms).
DROP TABLE rate_budgets;
CREATE TABLE rate_slots (
    key TEXT PRIMARY KEY,
    next_at BIGINT NOT NULL
);
