-- Secrets the service derives keys from (the key that signs device tokens),
-- created by the first process that needs one and shared by all.
CREATE TABLE secrets (
    name  TEXT  PRIMARY KEY,
    value BYTEA NOT NULL
);
