-- no-transaction
-- Users a host application brings: known by the host's id, with a display
-- name, and no email or password. SQLite cannot drop NOT NULL in place, so
-- the table is rebuilt (the documented procedure: foreign keys off, so that
-- dropping the old table deletes nothing through ON DELETE CASCADE; one
-- transaction; every reference to `users` then names the new table).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE users_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    username           TEXT    NOT NULL,
    username_canonical TEXT    NOT NULL UNIQUE,
    -- NULL for a host's user; a password account has both.
    email              TEXT,
    email_canonical    TEXT    UNIQUE,
    password_hash      TEXT,
    created_at         INTEGER NOT NULL,
    username_skeleton  TEXT    NOT NULL DEFAULT '',
    -- The host's id of the user (a token's `sub`); NULL for a password
    -- account.
    external_id        TEXT    UNIQUE,
    display_name       TEXT,
    CHECK ((email IS NULL) = (email_canonical IS NULL)),
    CHECK (external_id IS NOT NULL OR (email IS NOT NULL AND password_hash IS NOT NULL))
);
INSERT INTO users_new (id, username, username_canonical, email, email_canonical,
                       password_hash, created_at, username_skeleton)
    SELECT id, username, username_canonical, email, email_canonical,
           password_hash, created_at, username_skeleton
    FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_by_skeleton ON users (username_skeleton);

COMMIT;
PRAGMA foreign_keys = ON;
