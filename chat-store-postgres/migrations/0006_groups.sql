-- Group conversations: a conversation may now be a group, with a title, a
-- creator and settings; see the SQLite migration of the same name for what
-- each column means.
ALTER TABLE conversations DROP CONSTRAINT conversations_kind_check;
ALTER TABLE conversations
    ADD CONSTRAINT conversations_kind_check CHECK (kind IN ('direct', 'group')),
    ADD COLUMN title           TEXT,
    ADD COLUMN title_folded    TEXT,
    ADD COLUMN creator_id      BIGINT REFERENCES users (id),
    ADD COLUMN history         TEXT CHECK (history IN ('joined', 'shared')),
    ADD COLUMN join_policy     TEXT CHECK (join_policy IN ('private', 'discoverable')),
    ADD COLUMN announcement    BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN last_message_id BIGINT  NOT NULL DEFAULT 0,
    ADD COLUMN version         BIGINT  NOT NULL DEFAULT 0,
    ADD COLUMN member_count    BIGINT  NOT NULL DEFAULT 0,
    ADD CONSTRAINT conversations_group_fields CHECK (
        kind <> 'group' OR (title IS NOT NULL AND creator_id IS NOT NULL
                            AND history IS NOT NULL AND join_policy IS NOT NULL));

CREATE INDEX conversations_discoverable
    ON conversations (member_count) WHERE join_policy = 'discoverable';

CREATE TABLE group_members (
    conversation_id      BIGINT  NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id              BIGINT  NOT NULL REFERENCES users (id),
    role                 TEXT    NOT NULL CHECK (role IN ('member', 'admin', 'owner')),
    joined               BIGINT  NOT NULL,
    visible_from         BIGINT  NOT NULL,
    left_at              BIGINT,
    removed              BOOLEAN NOT NULL DEFAULT FALSE,
    last_read_message_id BIGINT  NOT NULL DEFAULT 0,
    has_spoken           BOOLEAN NOT NULL DEFAULT FALSE,
    muted_until          BIGINT,
    last_change          BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id, last_change);

CREATE TABLE invitations (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL REFERENCES users (id),
    invited_by      BIGINT NOT NULL REFERENCES users (id),
    position        BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX invitations_by_user ON invitations (user_id, position);

ALTER TABLE messages ADD COLUMN event TEXT;
