//! Telling the host application about members who were away when a
//! message reached them (to push a notification to their phone).

use async_trait::async_trait;

use crate::domain::{ConversationId, ExternalId, MessageId, MessageText, Timestamp, User};

/// A member was not there when messages reached them (no live connection,
/// or none active within `ChatConfig::active_window`), and had not read
/// them a while later.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OfflineNotice {
    /// Stable for this notice (`offline-<user>-<conversation>-<message>`):
    /// the same on every retry, so that a receiver drops duplicates.
    pub id: String,
    /// Who was away.
    pub recipient: User,
    /// The host's id for them, for a user the host brought: whom to push
    /// to.
    pub recipient_external_id: Option<ExternalId>,
    /// Where the messages are.
    pub conversation: ConversationId,
    /// The newest of them.
    pub message: MessageId,
    /// Its sender.
    pub sender: User,
    /// How many messages of the conversation this notice stands for (a
    /// burst makes one notice).
    pub messages: u32,
    /// The recipient's unread messages over every conversation (first 200
    /// conversations), for a badge.
    pub unread_total: u64,
    /// The newest message's text, only when the service is configured to
    /// pass it on (push payloads travel through third parties).
    pub text: Option<MessageText>,
    /// When the newest message was sent.
    pub sent_at: Timestamp,
}

/// Where notices of members away go: a push service, a webhook.
#[async_trait]
pub trait OfflineNotifier: Send + Sync + 'static {
    /// Takes one notice. Called in a task of its own, once per notice;
    /// hand it off quickly (to a queue of your own), since the service
    /// does not wait for delivery.
    async fn notify(&self, notice: OfflineNotice);
}
