-- Keys of the server API, for a host application's back end. Only the
-- SHA-256 of each key's secret is kept; a revoked key stays listed.
CREATE TABLE api_keys (
    id         BIGSERIAL PRIMARY KEY,
    key_hash   BYTEA  NOT NULL UNIQUE,
    name       TEXT   NOT NULL,
    -- Comma-separated: feed, send, groups, users.
    scopes     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
