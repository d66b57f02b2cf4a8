-- Conversations a member muted for themselves: no offline notice about
-- them reaches the host until `until` (NULL: until unmuted).
CREATE TABLE conversation_mutes (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    until           INTEGER,
    PRIMARY KEY (user_id, conversation_id)
) WITHOUT ROWID;
