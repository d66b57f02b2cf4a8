-- Operators' moderation: administrators (made from the server's command
-- line), disabled accounts, and the audit log of what administrators did.
ALTER TABLE users ADD COLUMN is_admin BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN disabled_at BIGINT;

CREATE INDEX users_admins ON users (id) WHERE is_admin;

CREATE TABLE audit_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor_id   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    action     TEXT   NOT NULL,
    user_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    message_id BIGINT,
    reason     TEXT
);
