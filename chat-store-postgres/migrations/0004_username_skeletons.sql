-- What each username looks like (chat_core::Username::skeleton, the same
-- steps in SQL): signup refuses a name that reads like one already taken.
-- Not unique: names stored before the rule may share a skeleton. Lower
-- case by the C collation: ASCII only, as in Rust, whatever the database's.
ALTER TABLE users ADD COLUMN username_skeleton TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE users SET username_skeleton =
    replace(replace(replace(
        replace(replace(replace(lower(username COLLATE "C"), '0', 'o'), '1', 'l'), 'i', 'l'),
        'rn', 'm'), 'vv', 'w'), 'cl', 'd');
CREATE INDEX users_by_skeleton ON users (username_skeleton);
