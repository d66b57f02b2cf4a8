-- Users a host application brings: known by the host's id, with a display
-- name, and no email or password.
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE users ALTER COLUMN email_canonical DROP NOT NULL;
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
-- The host's id of the user (a token's `sub`); NULL for a password account.
ALTER TABLE users ADD COLUMN external_id TEXT UNIQUE;
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD CONSTRAINT users_email_pairs
    CHECK ((email IS NULL) = (email_canonical IS NULL));
ALTER TABLE users ADD CONSTRAINT users_have_a_way_in
    CHECK (external_id IS NOT NULL OR (email IS NOT NULL AND password_hash IS NOT NULL));
