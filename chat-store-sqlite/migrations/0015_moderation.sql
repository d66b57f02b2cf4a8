-- Operators' moderation: administrators (made from the server's command
-- line), disabled accounts, and the audit log of what administrators did.
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

CREATE INDEX users_admins ON users (id) WHERE is_admin <> 0;

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    actor_id   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    action     TEXT    NOT NULL,
    user_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    message_id INTEGER,
    reason     TEXT
);
