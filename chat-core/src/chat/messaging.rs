//! Messages, conversations, read marks and typing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tracing::{instrument, warn};

use super::Chat;
use crate::domain::is_username_char;
use crate::domain::{
    Change, ClientMessageId, ConversationId, ConversationSummary, Cursor, Message, MessageId,
    MessageText, NewMessage, Position, SummaryKind, User, Username,
};
use crate::error::{ChatError, Result};
use crate::event::{Event, EventKind, SharedEvent};
use crate::ports::{
    Action, Appended, ConversationQuery, HistoryQuery, Page, PageLimit, Proposal, Topic,
};
use crate::session::Session;

/// A send that has its place in the commit order: it ends, as
/// [`Chat::send`] does, once the message is committed and published. See
/// [`Chat::start_send`]. Dropping it does not take the message back: the
/// rest of the send (the commit, then the publish to whoever is online)
/// goes on in a task of its own.
#[must_use = "a send ends only when awaited"]
pub struct Sending(Option<Pin<Box<dyn Future<Output = Result<Sent>> + Send>>>);

impl Sending {
    /// The rest of a send, to run when awaited (or in a task of its own
    /// if dropped first).
    pub(super) fn new(rest: impl Future<Output = Result<Sent>> + Send + 'static) -> Self {
        Self(Some(Box::pin(rest)))
    }
}

impl Future for Sending {
    type Output = Result<Sent>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(rest) = self.0.as_mut() else {
            return Poll::Ready(Err(ChatError::internal("a send polled after it ended")));
        };
        let sent = std::task::ready!(rest.as_mut().poll(cx));
        self.0 = None;
        Poll::Ready(sent)
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        // The message will be committed whatever happens to this handle
        // (a client gone, a request cancelled): publish it then, or
        // members online would hear of it only on their next resume.
        if let Some(rest) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = rest.await;
            });
        }
    }
}

impl std::fmt::Debug for Sending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sending")
    }
}

/// A message as its sender writes it, before anything is checked: what
/// [`Chat::send_draft`] and its siblings take.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Draft {
    /// The text.
    pub text: String,
    /// The sender's idempotency key: a send repeated with it stores
    /// nothing new.
    pub client_id: Option<String>,
    /// The message it replies to, in the same conversation.
    pub reply_to: Option<MessageId>,
}

impl Draft {
    /// A draft of `text`, with no client id, replying to nothing.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// The draft with an idempotency key.
    #[must_use]
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The draft as a reply to `parent`.
    #[must_use]
    pub fn replying_to(mut self, parent: MessageId) -> Self {
        self.reply_to = Some(parent);
        self
    }
}

/// The outcome of [`Chat::send`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The stored message.
    pub message: Message,
    /// `false` when the client id was already used: `message` is the
    /// original and nothing new was stored or published.
    pub created: bool,
}

impl Chat {
    /// Sends a direct message from the session's user to `to`.
    ///
    /// The message is committed, then published to both members' topics.
    /// Sending again with the same `client_id` returns the original message
    /// (`created: false`) and stores and publishes nothing.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `to`, `text` or `client_id` (including
    /// a message to oneself, and a client id already used for a message to
    /// someone else); [`ChatError::NotFound`] if `to` does not exist;
    /// [`ChatError::RateLimited`].
    pub async fn send(
        &self,
        session: &Session,
        to: &str,
        text: String,
        client_id: Option<String>,
    ) -> Result<Sent> {
        self.start_send(session, to, text, client_id).await?.await
    }

    /// [`Chat::send`] in two steps, for a transport that pipelines a
    /// client's sends: returns once the message is checked and has its
    /// place in the commit order, with the rest of the send to await
    /// ([`Sending`]). Sends started one after another commit in that order,
    /// so the next may start before the last has committed.
    ///
    /// # Errors
    /// As [`Chat::send`], for what is checked before the commit.
    pub async fn start_send(
        &self,
        session: &Session,
        to: &str,
        text: String,
        client_id: Option<String>,
    ) -> Result<Sending> {
        let draft = Draft {
            text,
            client_id,
            reply_to: None,
        };
        self.start_send_draft(session, to, draft).await
    }

    /// Sends `draft` to `to` as [`Chat::send`] does, and may reply to an
    /// earlier message of their conversation ([`Draft::reply_to`]).
    ///
    /// # Errors
    /// As [`Chat::send`]; [`ChatError::InvalidInput`] on `reply_to` for a
    /// message of another conversation (or none).
    pub async fn send_draft(&self, session: &Session, to: &str, draft: Draft) -> Result<Sent> {
        self.start_send_draft(session, to, draft).await?.await
    }

    /// [`Chat::send_draft`] in two steps, as [`Chat::start_send`].
    ///
    /// # Errors
    /// As [`Chat::send_draft`], for what is checked before the commit.
    #[instrument(skip_all, fields(user = %session.user().id()))]
    pub async fn start_send_draft(
        &self,
        session: &Session,
        to: &str,
        draft: Draft,
    ) -> Result<Sending> {
        let sender = session.user();
        let to = Username::parse_field(to, "to")?;
        let text = MessageText::parse(draft.text)?;
        let client_id = draft.client_id.map(ClientMessageId::parse).transpose()?;
        if to.canonical() == sender.username().canonical() {
            return Err(ChatError::invalid(
                "to",
                "you cannot send a message to yourself",
            ));
        }
        self.inner
            .limiter
            .check(Action::SendPerUser, &sender.id().to_string())
            .await?;
        let recipient = self.find_user(&to).await?;
        self.check_not_blocked(sender, &recipient).await?;
        // The host decides before anything is written: a first message
        // refused leaves no conversation behind.
        let existing = self.find_direct_conversation(sender, &recipient).await?;
        let reply = match draft.reply_to {
            Some(parent) => Some(self.reply_in(existing, parent, None).await?),
            None => None,
        };
        let text = self
            .consult(Proposal::Send {
                from: sender,
                conversation: existing,
                to: Some(&recipient),
                text: &text,
            })
            .await?
            .unwrap_or(text);
        let conversation = match existing {
            Some(conversation) => conversation,
            None => self.direct_conversation(sender, &recipient).await?,
        };
        let mentioned = self.direct_mentions(&text, sender, &recipient);
        let committing = self
            .inner
            .appends
            .enqueue(NewMessage {
                conversation,
                sender: sender.clone(),
                recipient: Some(recipient.clone()),
                text,
                sent_at: self.inner.clock.now(),
                client_id,
                reply,
                mentioned,
            })
            .await?;
        let topics = vec![Topic::user(sender.id()), Topic::user(recipient.id())];
        Ok(self.finish_send(
            committing,
            conversation,
            topics,
            "already used for a message to someone else",
        ))
    }

    /// The rest of a send that has its place in the commit order: the
    /// commit's answer, and for a message stored now its one publish to
    /// `topics`. A known client id that named a message of another
    /// conversation is refused with `reused`.
    pub(super) fn finish_send(
        &self,
        committing: crate::backend::Committing,
        conversation: ConversationId,
        topics: Vec<Topic>,
        reused: &'static str,
    ) -> Sending {
        let chat = self.clone();
        Sending::new(async move {
            match committing.await? {
                Appended::Existing(message) => {
                    if message.conversation() != conversation {
                        return Err(ChatError::invalid("client_id", reused));
                    }
                    Ok(Sent {
                        message,
                        created: false,
                    })
                }
                Appended::Created(message) => {
                    let event = Event::new(EventKind::Message {
                        message: message.clone(),
                    });
                    chat.publish(&topics, event).await;
                    chat.look_for_the_away(&message);
                    Ok(Sent {
                        message,
                        created: true,
                    })
                }
            }
        })
    }

    /// A page of the conversation between the session's user and `peer`,
    /// chronological; see [`HistoryQuery`].
    ///
    /// A search (a query with a term) counts against the user's search
    /// limit.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `peer`; [`ChatError::NotFound`] if
    /// `peer` does not exist or is the user; [`ChatError::RateLimited`] for
    /// a search over the limit.
    pub async fn history(
        &self,
        session: &Session,
        peer: &str,
        query: &HistoryQuery,
    ) -> Result<Page<Message>> {
        let peer = self.find_peer(session, peer).await?;
        if query.search.is_some() {
            self.inner
                .limiter
                .check(Action::SearchPerUser, &session.user().id().to_string())
                .await?;
        }
        match self.find_direct_conversation(session.user(), &peer).await? {
            Some(conversation) => {
                let page = self.inner.store.list_messages(conversation, query).await?;
                Ok(Page {
                    items: self
                        .with_details(Some(session.user().id()), page.items)
                        .await?,
                    has_more: page.has_more,
                })
            }
            None => Ok(Page {
                items: Vec::new(),
                has_more: false,
            }),
        }
    }

    /// The session user's conversations, most recent first, with their last
    /// message, unread count and, where both have spoken, whether the peer is
    /// online.
    ///
    /// # Errors
    /// What the store reports.
    pub async fn conversations(
        &self,
        session: &Session,
        query: &ConversationQuery,
    ) -> Result<Page<ConversationSummary>> {
        let mut page = self
            .inner
            .store
            .list_conversations(session.user().id(), query)
            .await?;
        // Presence shows only where both have spoken; so does how far the
        // peer has read (it says when they were here).
        let mut peers = Vec::new();
        for summary in &mut page.items {
            if let SummaryKind::Direct {
                peer,
                peer_read_up_to,
                mutual,
                ..
            } = &mut summary.kind
            {
                if *mutual {
                    peers.push(peer.id());
                } else {
                    *peer_read_up_to = MessageId::ZERO;
                }
            }
        }
        match self.inner.presence.online(&peers).await {
            Ok(online) => {
                let mutual = page.items.iter_mut().filter_map(|c| match &mut c.kind {
                    SummaryKind::Direct {
                        mutual: true,
                        online,
                        ..
                    } => Some(online),
                    _ => None,
                });
                for (shown, online) in mutual.zip(online) {
                    *shown = online;
                }
            }
            // Presence is a nicety: the list is still right without it.
            Err(error) => warn!(%error, "presence unavailable; listing everyone as offline"),
        }
        Ok(page)
    }

    /// Other users whose name starts with `prefix` (case-insensitive), by
    /// name, for starting a conversation. Never includes the user.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `q` if the prefix is longer than a
    /// username or holds a character no username has.
    pub async fn directory(
        &self,
        session: &Session,
        prefix: &str,
        limit: PageLimit,
    ) -> Result<Vec<User>> {
        let prefix = prefix.trim();
        if prefix.chars().count() > Username::MAX_LEN || !prefix.chars().all(is_username_char) {
            return Err(ChatError::invalid(
                "q",
                "must be the start of a username: letters, digits, '_', '.' or '-'",
            ));
        }
        self.inner
            .store
            .list_users(&prefix.to_ascii_lowercase(), session.user().id(), limit)
            .await
    }

    /// Marks the conversation with `peer` read up to `up_to` (clamped to its
    /// last message; a read mark never moves back) and tells both members'
    /// connections. Returns the read mark.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] if there is no conversation with `peer`.
    pub async fn mark_read(
        &self,
        session: &Session,
        peer: &str,
        up_to: MessageId,
    ) -> Result<MessageId> {
        let me = session.user();
        let peer = self.find_peer(session, peer).await?;
        let conversation = self
            .find_direct_conversation(me, &peer)
            .await?
            .ok_or(ChatError::NotFound)?;
        let mark = self
            .inner
            .store
            .mark_read(conversation, me.id(), up_to)
            .await?;
        if let Some(position) = mark.moved {
            let event = Event::new(EventKind::Read {
                conversation,
                by: me.clone(),
                with: Some(peer.clone()),
                up_to: mark.up_to,
                position,
            });
            // A read mark says the reader is here, now: only to a peer who
            // may see their presence (both have spoken) and neither blocks;
            // the reader's own devices always hear of it.
            if self.is_mutual(conversation).await?
                && self.check_not_blocked(me, &peer).await.is_ok()
            {
                self.publish_to(&[me, &peer], event).await;
            } else {
                self.publish_to(&[me], event).await;
            }
        }
        Ok(mark.up_to)
    }

    /// Tells `peer`'s connections that the user is typing. Not stored.
    ///
    /// Only where both have sent a message in their conversation: to anyone
    /// else it is dropped, with no sign of it to the sender (who learns
    /// nothing about the peer from it).
    ///
    /// # Errors
    /// [`ChatError::NotFound`] if `peer` does not exist or is the user;
    /// [`ChatError::RateLimited`].
    pub async fn typing(&self, session: &Session, peer: &str) -> Result<()> {
        let me = session.user();
        let peer = self.find_peer(session, peer).await?;
        self.inner
            .limiter
            .check(Action::TypingPerUser, &me.id().to_string())
            .await?;
        let Some(conversation) = self.find_direct_conversation(me, &peer).await? else {
            return Ok(());
        };
        if !self.is_mutual(conversation).await? {
            return Ok(());
        }
        if self.check_not_blocked(me, &peer).await.is_err() {
            return Ok(());
        }
        let event = Event::new(EventKind::Typing {
            from: me.clone(),
            to: peer.clone(),
        });
        self.inner
            .bus
            .publish(&[Topic::user(peer.id())], event)
            .await
    }

    /// Every change of the user's conversations with a position above
    /// `after`, by position: what a reconnecting client missed (messages,
    /// and read marks, the peer's only where both have written). With
    /// `has_more`, fetch the next page from the last position returned. A
    /// message id is a position, so `after` may be the last message id a
    /// client saw.
    ///
    /// # Errors
    /// What the store reports.
    pub async fn changes(
        &self,
        session: &Session,
        after: Position,
        limit: PageLimit,
    ) -> Result<Page<Change>> {
        let page = self
            .inner
            .store
            .changes_since(session.user().id(), after, limit)
            .await?;
        Ok(Page {
            items: self
                .changes_with_details(session.user().id(), page.items)
                .await?,
            has_more: page.has_more,
        })
    }

    /// The cursor of the newest committed change of the whole store: a
    /// client that has seen everything up to now resumes from it.
    ///
    /// # Errors
    /// What the store reports.
    pub async fn head(&self) -> Result<Cursor> {
        let head = self.inner.store.head().await?;
        self.cursor_at(head).await
    }

    /// The cursor of `position` in this service's store.
    ///
    /// # Errors
    /// What the store reports (the store's epoch is read once).
    pub async fn cursor_at(&self, position: Position) -> Result<Cursor> {
        Ok(Cursor::new(position, self.epoch().await?))
    }

    /// Where `cursor` points in this service's store, or `None` if it is
    /// another store's (clients then start over).
    ///
    /// # Errors
    /// What the store reports.
    pub async fn position_of(&self, cursor: Cursor) -> Result<Option<Position>> {
        Ok((cursor.epoch() == self.epoch().await?).then_some(cursor.position()))
    }

    /// The store's epoch: drawn once, kept in the store, the same for every
    /// process on it.
    async fn epoch(&self) -> Result<u32> {
        self.inner
            .epoch
            .get_or_try_init(|| async {
                let mut candidate = [0u8; 4];
                getrandom::fill(&mut candidate).map_err(ChatError::internal)?;
                let stored = self
                    .inner
                    .store
                    .shared_secret("store-epoch", &candidate)
                    .await?;
                let bytes: [u8; 4] = stored
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| ChatError::internal("the stored epoch is too short"))?;
                Ok(u32::from_be_bytes(bytes))
            })
            .await
            .copied()
    }

    /// The newest message id in any of the user's conversations, or zero.
    ///
    /// # Errors
    /// What the store reports.
    pub async fn last_message_id(&self, session: &Session) -> Result<MessageId> {
        self.inner.store.last_message_id(session.user().id()).await
    }

    pub(super) async fn find_user(&self, username: &Username) -> Result<User> {
        if let Some(user) = self.inner.users.get(username) {
            return Ok(user);
        }
        let user = self
            .inner
            .store
            .find_user_by_username(username)
            .await?
            .map(|stored| stored.account.user().clone())
            .ok_or(ChatError::NotFound)?;
        self.inner.users.put(&user);
        Ok(user)
    }

    /// The direct conversation of two users, created on first use.
    async fn direct_conversation(&self, a: &User, b: &User) -> Result<ConversationId> {
        if let Some(conversation) = self.inner.pairs.get(a.id(), b.id()) {
            return Ok(conversation);
        }
        let conversation = self
            .inner
            .store
            .direct_conversation(a.id(), b.id(), self.inner.clock.now())
            .await?;
        self.inner.pairs.put(a.id(), b.id(), conversation);
        Ok(conversation)
    }

    /// The direct conversation of two users, if they have one.
    pub(super) async fn find_direct_conversation(
        &self,
        a: &User,
        b: &User,
    ) -> Result<Option<ConversationId>> {
        if let Some(conversation) = self.inner.pairs.get(a.id(), b.id()) {
            return Ok(Some(conversation));
        }
        let found = self
            .inner
            .store
            .find_direct_conversation(a.id(), b.id())
            .await?;
        if let Some(conversation) = found {
            self.inner.pairs.put(a.id(), b.id(), conversation);
        }
        Ok(found)
    }

    /// Whether every member of `conversation` has sent a message in it: only
    /// then do they see each other's presence, typing and read marks.
    pub(super) async fn is_mutual(&self, conversation: ConversationId) -> Result<bool> {
        let members = self.inner.store.members(conversation).await?;
        Ok(members.len() > 1 && members.iter().all(|m| m.has_spoken))
    }

    /// The other member of a direct conversation, named by the caller.
    async fn find_peer(&self, session: &Session, peer: &str) -> Result<User> {
        let peer = Username::parse_field(peer, "peer")?;
        if peer.canonical() == session.user().username().canonical() {
            return Err(ChatError::NotFound);
        }
        self.find_user(&peer).await
    }

    /// Publishes after a commit: a bus failure is logged, not returned, as
    /// the store already holds the truth and subscribers recover from it.
    async fn publish_to(&self, users: &[&User], event: SharedEvent) {
        let topics: Vec<Topic> = users.iter().map(|u| Topic::user(u.id())).collect();
        self.publish(&topics, event).await;
    }

    /// Publishes to `topics` after a commit, as [`Chat::publish_to`] does.
    pub(super) async fn publish(&self, topics: &[Topic], event: SharedEvent) {
        if let Err(error) = self.inner.bus.publish(topics, event).await {
            warn!(%error, "publish failed after commit; subscribers will recover from the store");
        }
    }
}
