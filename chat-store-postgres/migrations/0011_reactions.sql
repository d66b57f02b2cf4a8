-- Reactions: at most one of each emoji per user and message. `position` is
-- the change that added it, so a message's emoji are listed in the order
-- they were first used. A reaction's change is the message's `revision`,
-- as for edits and deletes.
CREATE TABLE reactions (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji      TEXT   NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);
