//! Who takes part in a thread, as appends record it: a reply's sender
//! (who has read the thread up to their reply) and the sender of its root.

use crate::domain::{MessageId, NewMessage, UserId};

/// A participant's read mark in a thread, as an append writes it: it
/// never moves back, and a zero mark only makes a participant of `user`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadRead {
    /// Who.
    pub user: UserId,
    /// The thread's root.
    pub root: MessageId,
    /// Read up to here (zero: nothing yet).
    pub up_to: MessageId,
}

/// The thread read marks of a batch's new messages (each with its id, or
/// the ordinal a statement turns into one): one per user and thread, the
/// highest, so that one statement never touches a row twice.
pub fn thread_reads<'a>(
    fresh: impl IntoIterator<Item = (&'a NewMessage, MessageId)>,
) -> Vec<ThreadRead> {
    let mut reads: Vec<ThreadRead> = Vec::new();
    let mut note = |read: ThreadRead| match reads
        .iter_mut()
        .find(|r| r.user == read.user && r.root == read.root)
    {
        Some(known) => known.up_to = known.up_to.max(read.up_to),
        None => reads.push(read),
    };
    for (new, id) in fresh {
        let Some(reply) = &new.reply else { continue };
        note(ThreadRead {
            user: new.sender.id(),
            root: reply.thread_root,
            up_to: id,
        });
        note(ThreadRead {
            user: reply.root_sender,
            root: reply.thread_root,
            up_to: MessageId::ZERO,
        });
    }
    reads
}
