-- Replies, edits and deletes.
--
-- A reply names its parent (`reply_to`, in the same conversation) and the
-- first message of its thread (`thread_root`). An edit replaces the text
-- (earlier versions are not kept) and sets `edited_at`; a delete empties
-- the text and its folded copy (so the search index forgets it) and sets
-- `deleted_at` and who deleted it. Either change takes a position from
-- the clock, kept as the message's `revision`: only its newest change is
-- kept, and recovery replays it.
ALTER TABLE messages
    ADD COLUMN reply_to    BIGINT,
    ADD COLUMN thread_root BIGINT,
    ADD COLUMN edited_at   BIGINT,
    ADD COLUMN deleted_at  BIGINT,
    ADD COLUMN deleted_by  BIGINT,
    ADD COLUMN revision    BIGINT NOT NULL DEFAULT 0;

-- Only changed messages are indexed: the feed reads them by position,
-- recovery by conversation and position.
CREATE INDEX messages_by_revision ON messages (revision) WHERE revision > 0;
CREATE INDEX messages_revised_in_conversation ON messages (conversation_id, revision)
    WHERE revision > 0;
-- Unread counts leave deleted messages out.
CREATE INDEX messages_deleted_in_conversation ON messages (conversation_id, id)
    WHERE deleted_at IS NOT NULL;
-- A thread's replies.
CREATE INDEX messages_by_thread ON messages (thread_root, id) WHERE thread_root IS NOT NULL;
