//! A session's live event stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::future::BoxFuture;
use tracing::warn;

use super::Chat;
use crate::domain::{ClientAddress, ConversationId, GroupEvent, SessionId, UserId};
use crate::error::Result;
use crate::event::EventKind;
use crate::ports::{Action, Delivery, EventStream, Topic};
use crate::session::Session;

/// The live events of one session's user: messages in any of their
/// conversations (from any of their devices), read marks, typing; their
/// own topic and the topics of the groups they are a member of, followed
/// as they join and leave.
///
/// Ends when the session logs out. A [`Delivery::Lagged`] means events may
/// be missing: recover with [`Chat::changes`]. [`Chat::live`] does that,
/// and everything else a transport needs. Joining a group yields a
/// `Lagged` once its topic is subscribed, so that what the group said in
/// between is recovered too.
pub struct Subscription {
    chat: Chat,
    user: UserId,
    events: EventStream,
    /// The topics of the user's groups.
    groups: Vec<(ConversationId, EventStream)>,
    /// Where the next poll of the groups' topics starts, so that a busy
    /// group does not starve the others.
    turn: usize,
    /// A group's topic being subscribed after the user joined it.
    joining: Option<(ConversationId, BoxFuture<'static, Result<EventStream>>)>,
    /// Groups joined while another was being subscribed.
    to_join: Vec<ConversationId>,
    session: SessionId,
    ended: bool,
}

impl Chat {
    /// Counts one live connection (a WebSocket, or another long-lived
    /// stream) opened by the session's user from `client`, against the
    /// user's limit and the client address's: a transport asks before it
    /// accepts one.
    ///
    /// # Errors
    /// [`ChatError::RateLimited`](crate::ChatError::RateLimited) when either is over its limit.
    pub async fn check_connection(&self, session: &Session, client: &ClientAddress) -> Result<()> {
        let limiter = &self.inner.limiter;
        limiter
            .check(Action::ConnectPerUser, &session.user().id().to_string())
            .await?;
        limiter
            .check(Action::ConnectPerClient, &client.address_key())
            .await
    }

    /// Subscribes to the session user's events. Everything published after
    /// this returns is delivered, so subscribe first, then read the store
    /// (e.g. [`Chat::changes`]) and de-duplicate by position; or let
    /// [`Chat::live`] do it.
    ///
    /// # Errors
    /// [`ChatError::Unavailable`](crate::ChatError::Unavailable) if the bus
    /// or the store is down.
    pub async fn subscribe(&self, session: &Session) -> Result<Subscription> {
        let user = session.user().id();
        let events = self.inner.bus.subscribe(&Topic::user(user)).await?;
        let mut groups = Vec::new();
        for group in self.inner.store.groups_of(user).await? {
            let stream = self
                .inner
                .bus
                .subscribe(&Topic::conversation(group))
                .await?;
            groups.push((group, stream));
        }
        Ok(Subscription {
            chat: self.clone(),
            user,
            events,
            groups,
            turn: 0,
            joining: None,
            to_join: Vec::new(),
            session: session.id(),
            ended: false,
        })
    }
}

/// What an event means for the topics a subscription listens to.
enum Membership {
    Joined(ConversationId),
    Left(ConversationId),
}

impl Subscription {
    fn membership(&self, event: &EventKind) -> Option<Membership> {
        let EventKind::Message { message } = event else {
            return None;
        };
        let me = self.user;
        let group = message.conversation();
        match message.event()? {
            GroupEvent::Added { user } if user.id() == me => Some(Membership::Joined(group)),
            GroupEvent::Joined if message.sender().id() == me => Some(Membership::Joined(group)),
            GroupEvent::Removed { user } if user.id() == me => Some(Membership::Left(group)),
            GroupEvent::Left if message.sender().id() == me => Some(Membership::Left(group)),
            _ => None,
        }
    }

    /// Follows what `event` changes of the user's groups: joined, it starts
    /// listening to the group's topic; removed or left, it stops (a group
    /// being subscribed is given up too). The stream does this for every
    /// event it yields; [`Live`](super::Live) also for the changes it
    /// replays, whose live copies a lag may have lost.
    pub(crate) fn follow(&mut self, event: &EventKind) {
        match self.membership(event) {
            Some(Membership::Joined(group)) => self.join(group),
            Some(Membership::Left(group)) => {
                self.groups.retain(|(g, _)| *g != group);
                self.to_join.retain(|g| *g != group);
                if self.joining.as_ref().is_some_and(|(g, _)| *g == group) {
                    self.joining = None;
                    if let Some(next) = self.to_join.pop() {
                        self.join(next);
                    }
                }
            }
            None => {}
        }
    }

    /// Starts subscribing to a group's topic, unless it is listened to
    /// already or another subscription is under way (then it waits).
    fn join(&mut self, group: ConversationId) {
        if self.groups.iter().any(|(g, _)| *g == group) {
            return;
        }
        if self.joining.is_some() {
            if !self.to_join.contains(&group) {
                self.to_join.push(group);
            }
            return;
        }
        let bus = self.chat.inner.bus.clone();
        self.joining = Some((
            group,
            Box::pin(async move { bus.subscribe(&Topic::conversation(group)).await }),
        ));
    }

    /// What a listened topic yields next, the user's own first, then the
    /// groups' in turn.
    fn poll_topics(&mut self, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        if let Poll::Ready(delivery) = self.events.as_mut().poll_next(cx) {
            return Poll::Ready(delivery);
        }
        let count = self.groups.len();
        for i in 0..count {
            let index = (self.turn + i) % count;
            match self.groups[index].1.as_mut().poll_next(cx) {
                Poll::Ready(Some(delivery)) => {
                    self.turn = (index + 1) % count;
                    return Poll::Ready(Some(delivery));
                }
                // A group's topic never ends by itself; treat it as lost.
                Poll::Ready(None) => {
                    drop(self.groups.swap_remove(index));
                    return Poll::Ready(Some(Delivery::Lagged));
                }
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }
}

impl Stream for Subscription {
    type Item = Delivery;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        if self.ended {
            return Poll::Ready(None);
        }
        loop {
            if let Some((group, joining)) = self.joining.as_mut()
                && let Poll::Ready(subscribed) = joining.as_mut().poll(cx)
            {
                let group = *group;
                self.joining = None;
                match subscribed {
                    Ok(stream) => self.groups.push((group, stream)),
                    Err(error) => {
                        warn!(%error, %group, "could not follow a group joined; it is heard of again on reconnect");
                    }
                }
                if let Some(next) = self.to_join.pop() {
                    self.join(next);
                }
                // What the group said between the join and now comes
                // from the change log.
                return Poll::Ready(Some(Delivery::Lagged));
            }
            match self.poll_topics(cx) {
                Poll::Ready(Some(Delivery::Event(event))) => {
                    match event.kind() {
                        EventKind::SessionEnded { session } => {
                            if *session == self.session {
                                self.ended = true;
                                return Poll::Ready(None);
                            }
                            // Another session of the same user ending is not ours.
                            continue;
                        }
                        EventKind::AccountDisabled { user } if *user == self.user => {
                            self.ended = true;
                            return Poll::Ready(None);
                        }
                        // Their own typing comes back on the group's topic.
                        EventKind::GroupTyping { from, .. } if from.id() == self.user => continue,
                        _ => {}
                    }
                    self.follow(event.kind());
                    return Poll::Ready(Some(Delivery::Event(event)));
                }
                other => return other,
            }
        }
    }
}
