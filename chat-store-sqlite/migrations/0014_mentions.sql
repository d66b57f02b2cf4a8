-- Mentions. `messages.mentions` is what a message shows (the members it
-- names, with their names, and `@all` or `@here`) as JSON; `mentions`
-- holds whose mention count each message adds to, read by the
-- conversation list from the reader's read mark on.
ALTER TABLE messages ADD COLUMN mentions TEXT;

CREATE TABLE mentions (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL,
    message_id      INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, conversation_id, message_id)
) WITHOUT ROWID;

CREATE INDEX mentions_by_message ON mentions (message_id);
