-- The change log: one sequence of positions for every committed change a
-- member's clients must learn about. A message's position is its id; other
-- changes (read marks) are rows of `changes`. Positions come from a
-- one-row clock advanced inside each writing transaction, so they grow in
-- commit order (one writer), and message ids are taken from it too.
CREATE TABLE message_clock (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    last_id   INTEGER NOT NULL
);
INSERT INTO message_clock (singleton, last_id)
SELECT 1, max(
    coalesce((SELECT max(id) FROM messages), 0),
    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0));

-- Changes other than messages. Only a member's newest read change is kept.
CREATE TABLE changes (
    position        INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL CHECK (kind IN ('read')),
    user_id         INTEGER NOT NULL REFERENCES users (id),
    message_id      INTEGER NOT NULL -- read: the member's read mark
);
CREATE INDEX changes_by_conversation ON changes (conversation_id, position);
CREATE INDEX changes_by_member ON changes (conversation_id, user_id, kind);

-- The newest change position of each member's conversation, so that
-- recovery reads only the conversations that have changed.
ALTER TABLE members ADD COLUMN last_change INTEGER NOT NULL DEFAULT 0;
CREATE INDEX members_by_user_change ON members (user_id, last_change);
