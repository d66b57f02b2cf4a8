-- A group's admins ban people for a time (kept out until `until`; NULL:
-- until lifted) and set slow mode (a member sends at most one message per
-- `slow_mode_secs`; NULL: off).
ALTER TABLE conversations ADD COLUMN slow_mode_secs INTEGER;

CREATE TABLE group_bans (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until           INTEGER,
    position        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
