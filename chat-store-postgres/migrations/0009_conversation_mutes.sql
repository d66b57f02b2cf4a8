-- Conversations a member muted for themselves: no offline notice about
-- them reaches the host until `until` (NULL: until unmuted).
CREATE TABLE conversation_mutes (
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    until           BIGINT,
    PRIMARY KEY (user_id, conversation_id)
);
