-- Operators' moderation: administrators (made from the server's command
-- line), disabled accounts, the audit log of what administrators did, and
-- the queue of users' reports.
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
    report_id  INTEGER,
    reason     TEXT
);

-- A report of a message (`message_id`, with its conversation and its text
-- as it was, `excerpt`; `user_id` is its sender) or of a user (`user_id`).
-- A reporter has one open report of each target: the partial unique
-- indexes.
CREATE TABLE reports (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    reporter_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id      INTEGER,
    conversation_id INTEGER,
    excerpt         TEXT,
    reason          TEXT NOT NULL,
    resolved_at     INTEGER,
    resolved_by     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    resolution      TEXT
);

CREATE UNIQUE INDEX reports_open_of_message ON reports (reporter_id, message_id)
    WHERE resolved_at IS NULL AND message_id IS NOT NULL;
CREATE UNIQUE INDEX reports_open_of_user ON reports (reporter_id, user_id)
    WHERE resolved_at IS NULL AND message_id IS NULL;
CREATE INDEX reports_open ON reports (id) WHERE resolved_at IS NULL;
