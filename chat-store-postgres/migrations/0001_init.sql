-- Requires the pg_trgm extension (created by the store before migrating).

-- Accounts. Canonical (lower-case) forms are unique and use the C collation,
-- so that prefix ranges and ordering are bytewise, as in every store.
CREATE TABLE users (
    id                 BIGSERIAL PRIMARY KEY,
    username           TEXT   NOT NULL,
    username_canonical TEXT   COLLATE "C" NOT NULL UNIQUE,
    email              TEXT   NOT NULL,
    email_canonical    TEXT   NOT NULL UNIQUE,
    password_hash      TEXT   NOT NULL,
    created_at         BIGINT NOT NULL -- microseconds since the Unix epoch
);

-- Sessions are found by the SHA-256 of their token.
CREATE TABLE sessions (
    id           BIGSERIAL PRIMARY KEY,
    token_hash   BYTEA  NOT NULL UNIQUE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);
CREATE INDEX sessions_by_created ON sessions (created_at);

-- A direct conversation is the unique pair (direct_low < direct_high).
CREATE TABLE conversations (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT   NOT NULL CHECK (kind IN ('direct')),
    direct_low  BIGINT REFERENCES users (id),
    direct_high BIGINT REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    CHECK (kind <> 'direct' OR (direct_low IS NOT NULL AND direct_low < direct_high))
);
CREATE UNIQUE INDEX conversations_direct_pair
    ON conversations (direct_low, direct_high) WHERE kind = 'direct';

-- Membership, read marks, and the conversation's newest message id
-- repeated per member so one index orders a user's conversations.
CREATE TABLE members (
    conversation_id      BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id              BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_read_message_id BIGINT NOT NULL DEFAULT 0,
    last_message_id      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_by_user_recency ON members (user_id, last_message_id DESC);

-- The message id clock: one row, advanced inside each append transaction.
-- Its row lock is held until commit, so ids are handed out in commit order
-- across every server process (a sequence would not be).
CREATE TABLE message_clock (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    last_id   BIGINT  NOT NULL
);
INSERT INTO message_clock (singleton, last_id) VALUES (TRUE, 0);

CREATE TABLE messages (
    id              BIGINT PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id       BIGINT NOT NULL REFERENCES users (id),
    recipient_id    BIGINT REFERENCES users (id),
    body            TEXT   NOT NULL,
    body_folded     TEXT   NOT NULL, -- chat-core's case folding of body, for search
    sent_at         BIGINT NOT NULL,
    client_id       TEXT
);
-- History pages and unread counts.
CREATE INDEX messages_by_conversation ON messages (conversation_id, id) INCLUDE (sender_id);
-- Idempotent sends.
CREATE UNIQUE INDEX messages_by_client_id ON messages (sender_id, client_id)
    WHERE client_id IS NOT NULL;
-- Substring search.
CREATE INDEX messages_search ON messages USING gin (body_folded gin_trgm_ops);
