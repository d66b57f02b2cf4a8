-- Operators' moderation: administrators (made from the server's command
-- line), disabled accounts, the audit log of what administrators did, and
-- the queue of users' reports.
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
    report_id  BIGINT,
    reason     TEXT
);

-- A report of a message (`message_id`, with its conversation and its text
-- as it was, `excerpt`; `user_id` is its sender) or of a user (`user_id`).
-- A reporter has one open report of each target: the partial unique
-- indexes.
CREATE TABLE reports (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              BIGINT NOT NULL,
    reporter_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id      BIGINT,
    conversation_id BIGINT,
    excerpt         TEXT,
    reason          TEXT NOT NULL,
    resolved_at     BIGINT,
    resolved_by     BIGINT REFERENCES users (id) ON DELETE SET NULL,
    resolution      TEXT
);

CREATE UNIQUE INDEX reports_open_of_message ON reports (reporter_id, message_id)
    WHERE resolved_at IS NULL AND message_id IS NOT NULL;
CREATE UNIQUE INDEX reports_open_of_user ON reports (reporter_id, user_id)
    WHERE resolved_at IS NULL AND message_id IS NULL;
CREATE INDEX reports_open ON reports (id) WHERE resolved_at IS NULL;
