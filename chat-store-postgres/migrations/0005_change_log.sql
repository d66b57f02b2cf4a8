-- The change log: one sequence of positions for every committed change a
-- member's clients must learn about. A message's position is its id; other
-- changes (read marks) are rows of `changes`. Their positions come from the
-- message clock, like message ids, so they grow in commit order across
-- every process.

-- Changes other than messages. Only a member's newest read change is kept.
CREATE TABLE changes (
    position        BIGINT PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    kind            TEXT   NOT NULL CHECK (kind IN ('read')),
    user_id         BIGINT NOT NULL REFERENCES users (id),
    message_id      BIGINT NOT NULL -- read: the member's read mark
);
CREATE INDEX changes_by_conversation ON changes (conversation_id, position);
CREATE INDEX changes_by_member ON changes (conversation_id, user_id, kind);

-- The newest change position of each member's conversation, so that
-- recovery reads only the conversations that have changed.
ALTER TABLE members ADD COLUMN last_change BIGINT NOT NULL DEFAULT 0;
CREATE INDEX members_by_user_change ON members (user_id, last_change);
