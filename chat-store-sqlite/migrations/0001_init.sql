-- Accounts. Uniqueness is on the canonical (lower-case) forms; the typed
-- forms are kept for display.
CREATE TABLE users (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    username           TEXT    NOT NULL,
    username_canonical TEXT    NOT NULL UNIQUE,
    email              TEXT    NOT NULL,
    email_canonical    TEXT    NOT NULL UNIQUE,
    password_hash      TEXT    NOT NULL,
    created_at         INTEGER NOT NULL -- microseconds since the Unix epoch
);

-- Sessions are found by the SHA-256 of their token; the token itself is
-- never stored.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   BLOB    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);
CREATE INDEX sessions_by_created ON sessions (created_at);

-- A conversation has members; a direct conversation is the unique pair
-- (direct_low < direct_high) of its two members. Group rooms can be added
-- as another kind without changing what the other tables mean.
CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL CHECK (kind IN ('direct')),
    direct_low  INTEGER REFERENCES users (id),
    direct_high INTEGER REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    CHECK (kind <> 'direct' OR (direct_low IS NOT NULL AND direct_low < direct_high))
);
CREATE UNIQUE INDEX conversations_direct_pair
    ON conversations (direct_low, direct_high) WHERE kind = 'direct';

-- Membership with the member's read mark. `last_message_id` repeats the
-- conversation's newest message id so that one index orders a user's
-- conversations by recency.
CREATE TABLE members (
    conversation_id      INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_read_message_id INTEGER NOT NULL DEFAULT 0,
    last_message_id      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_by_user_recency ON members (user_id, last_message_id DESC);

-- Messages. AUTOINCREMENT ids are never reused and, with a single writer,
-- grow in commit order.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id       INTEGER NOT NULL REFERENCES users (id),
    recipient_id    INTEGER REFERENCES users (id),
    body            TEXT    NOT NULL,
    sent_at         INTEGER NOT NULL,
    client_id       TEXT
);
-- History pages and unread counts (covering for the count).
CREATE INDEX messages_by_conversation ON messages (conversation_id, id, sender_id);
-- Idempotent sends.
CREATE UNIQUE INDEX messages_by_client_id ON messages (sender_id, client_id)
    WHERE client_id IS NOT NULL;

-- Substring search: a trigram index over the case-folded text, keyed by
-- message id (rowid). Folding happens in chat-core so every store agrees.
CREATE VIRTUAL TABLE message_search USING fts5 (
    body_folded,
    tokenize = 'trigram case_sensitive 1'
);
