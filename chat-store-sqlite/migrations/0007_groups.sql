-- no-transaction
-- Group conversations. `conversations.kind` may now be 'group'; SQLite
-- cannot change a CHECK constraint in place, so the table is rebuilt (the
-- documented procedure: foreign keys off, so that dropping the old table
-- deletes nothing through ON DELETE CASCADE; one transaction).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE conversations_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL CHECK (kind IN ('direct', 'group')),
    direct_low      INTEGER REFERENCES users (id),
    direct_high     INTEGER REFERENCES users (id),
    created_at      INTEGER NOT NULL,
    -- A group's title, creator and settings.
    title           TEXT,
    -- The title folded for search (chat_core::fold_for_search).
    title_folded    TEXT,
    creator_id      INTEGER REFERENCES users (id),
    history         TEXT    CHECK (history IN ('joined', 'shared')),
    join_policy     TEXT    CHECK (join_policy IN ('private', 'discoverable')),
    announcement    INTEGER NOT NULL DEFAULT 0,
    -- A group's newest message (a direct conversation's members each keep
    -- theirs instead), its newest change of membership or title (changes
    -- decided against an older one are refused), and its member count.
    last_message_id INTEGER NOT NULL DEFAULT 0,
    version         INTEGER NOT NULL DEFAULT 0,
    member_count    INTEGER NOT NULL DEFAULT 0,
    CHECK (kind <> 'direct' OR (direct_low IS NOT NULL AND direct_low < direct_high)),
    CHECK (kind <> 'group' OR (title IS NOT NULL AND creator_id IS NOT NULL
                               AND history IS NOT NULL AND join_policy IS NOT NULL))
);
INSERT INTO conversations_new (id, kind, direct_low, direct_high, created_at)
    SELECT id, kind, direct_low, direct_high, created_at FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;
CREATE UNIQUE INDEX conversations_direct_pair
    ON conversations (direct_low, direct_high) WHERE kind = 'direct';
-- The directory of groups anyone may join.
CREATE INDEX conversations_discoverable
    ON conversations (member_count) WHERE join_policy = 'discoverable';

-- A group's members, current and former, kept apart from the two members
-- of direct conversations: a group message moves one head (the group's),
-- never one row per member. `joined`, `visible_from` and `left_at` are
-- positions in the change log: a member reads from `visible_from` (zero
-- where the group shares its whole history) up to `left_at` (NULL while
-- they are a member).
CREATE TABLE group_members (
    conversation_id      INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id              INTEGER NOT NULL REFERENCES users (id),
    role                 TEXT    NOT NULL CHECK (role IN ('member', 'admin', 'owner')),
    joined               INTEGER NOT NULL,
    visible_from         INTEGER NOT NULL,
    left_at              INTEGER,
    -- Whether they left by being removed (not by leaving): only an
    -- invitation brings them back.
    removed              INTEGER NOT NULL DEFAULT 0,
    last_read_message_id INTEGER NOT NULL DEFAULT 0,
    has_spoken           INTEGER NOT NULL DEFAULT 0,
    muted_until          INTEGER,
    -- The position of the member's newest read change.
    last_change          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members (user_id, last_change);

-- Invitations not answered yet.
CREATE TABLE invitations (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    invited_by      INTEGER NOT NULL REFERENCES users (id),
    position        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX invitations_by_user ON invitations (user_id, position);

-- A group's system messages (created, added, removed…) keep the change
-- they report as JSON; their text describes it for clients that show text.
ALTER TABLE messages ADD COLUMN event TEXT;

COMMIT;
PRAGMA foreign_keys = ON;
