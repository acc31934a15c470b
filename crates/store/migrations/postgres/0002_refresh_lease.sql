-- Token refreshes take a short lease on the connection instead of holding a
-- database lock across the HTTP call to the token endpoint.
ALTER TABLE connections ADD COLUMN refresh_lease_until BIGINT;
ALTER TABLE connections ADD COLUMN refresh_lease_owner TEXT;
