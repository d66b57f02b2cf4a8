/// The statements whose SQL differs between databases: the set-based
/// statements of a batch (rows travel as one JSON array, unpacked by each
/// database's own JSON functions) and the recovery reads (whose join order
/// SQLite must be told).
#[derive(Debug)]
pub struct Statements {
    /// The messages stored under idempotency keys, with the message
    /// columns (`crate::MESSAGE_COLUMNS`): `$1` a JSON array of
    /// `[sender_id, client_id]`.
    pub stored_by_client_id: &'static str,
    /// Inserts messages, skipping any whose idempotency key is taken: `$1` a
    /// JSON array of `[id, conversation_id, sender_id, recipient_id, body,
    /// body_folded, sent_at, client_id, reply_to, thread_root, mentions]`,
    /// in order.
    pub insert_messages: &'static str,
    /// Records whose mention count messages add to, skipping rows that
    /// exist: `$1` a JSON array of `[message_id, conversation_id,
    /// user_id]`.
    pub insert_mentions: &'static str,
    /// Moves thread read marks forward (making participants of their
    /// users): `$1` a JSON array of `[user_id, root_id, read_up_to]`, one
    /// per user and root.
    pub upsert_thread_reads: &'static str,
    /// Indexes the messages with ids from `$1` to `$2` for search, inside
    /// the batch's transaction; `None` where the index follows by itself.
    pub index_messages: Option<&'static str>,
    /// Takes message `$1`'s text out of the search index, before it is
    /// edited or deleted; `None` where the index follows by itself.
    pub unindex_message: Option<&'static str>,
    /// Moves every member's `last_message_id` forward: `$1` a JSON array of
    /// `[conversation_id, message_id]`.
    pub move_heads: &'static str,
    /// Moves senders' read marks forward and marks them as having spoken:
    /// `$1` a JSON array of `[conversation_id, user_id, message_id]`.
    pub mark_senders: &'static str,
    /// Messages of the user's conversations after a position, by id, with
    /// the message columns: `$1` user, `$2` after, `$3` limit, `$4` the head (nothing above it).
    pub messages_since: &'static str,
    /// Read changes of the user's conversations after a position, by
    /// position, the user's own and those of members of conversations where
    /// everyone has spoken: `$1` user, `$2` after, `$3` limit, `$4` the head (nothing above it); columns
    /// `position, conversation_id, up_to, by_id, by_username, with_id,
    /// with_username`.
    pub reads_since: &'static str,
    /// The pairs of `$1`, a JSON array of `[conversation_id, sender_id]`
    /// (a batch's group messages), whose sender is not a current member of
    /// the group; columns `conversation_id, sender_id`.
    pub outsiders: &'static str,
    /// Moves groups' heads forward: `$1` a JSON array of
    /// `[conversation_id, message_id]`.
    pub move_group_heads: &'static str,
    /// Moves senders' read marks in groups forward and marks them as having
    /// spoken: `$1` a JSON array of `[conversation_id, user_id, message_id]`.
    pub mark_group_senders: &'static str,
    /// Messages of the user's groups after a position that the user may
    /// read, by id, with the message columns: `$1` user, `$2` after, `$3`
    /// limit, `$4` the head (nothing above it).
    pub group_messages_since: &'static str,
    /// The newest changes (edits, deletes) of messages of the user's direct
    /// conversations, after a position, by position, with the message
    /// columns: `$1` user, `$2` after, `$3` limit, `$4` the head; and
    /// `revision`, the change's position.
    pub revisions_since: &'static str,
    /// The newest changes of messages of the user's groups that the user
    /// may read, after a position, by position, as
    /// [`Statements::revisions_since`].
    pub group_revisions_since: &'static str,
    /// The user's own read changes in groups after a position, by
    /// position: `$1` user, `$2` after, `$3` limit, `$4` the head (nothing above it); columns `position,
    /// conversation_id, up_to, by_id, by_username`.
    pub group_reads_since: &'static str,
}
