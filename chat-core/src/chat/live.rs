//! The delivery stream a transport forwards: every committed change of the
//! user's conversations once, in order, with no gap, live or replayed from
//! the change log; and what is not stored (typing, presence) as it comes.

use std::collections::VecDeque;

use futures::StreamExt;

use super::{Chat, Subscription};
use crate::domain::{ClientMessageId, Cursor, Message, Position};
use crate::error::Result;
use crate::event::{Event, EventKind, SharedEvent};
use crate::ports::{Delivery, PageLimit};
use crate::session::Session;

/// How many positions delivered above the floor a stream remembers, to
/// skip them when it replays after a lag.
const RECENT: usize = 1024;

/// An emptied queue of ready items that a replay grew past four times this
/// many shrinks back to it.
const KEPT_READY: usize = 16;

/// How many live copies of the user's own messages a stream holds while
/// its transport's sends are committing: twice the sends a transport may
/// have running ([`Live::MAX_SENDING`]), since copies of the user's
/// messages from other devices are held too while any send runs.
const HELD: usize = 2 * Live::MAX_SENDING;

/// Where a new [`Live`] stream starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// From now: nothing is replayed.
    Now,
    /// After a cursor this service gave out: every change since it is
    /// replayed first. A cursor of another store, or one beyond the newest
    /// change, starts with [`Item::Resync`].
    Cursor(Cursor),
    /// After the message with this id (a message id is a position): the
    /// older clients' recovery point.
    Message(crate::domain::MessageId),
}

/// What a [`Live`] stream yields.
#[derive(Clone, Debug)]
pub enum Item {
    /// A committed change (a message, a read mark) with its cursor.
    Change {
        /// The event, shared by every stream that heard it live.
        event: SharedEvent,
        /// Where a client that has seen it resumes.
        cursor: Cursor,
        /// Whether it comes from the change log rather than live: a
        /// transport writes replayed changes as the client takes them
        /// (they may be many), live ones at once.
        replayed: bool,
    },
    /// Something that is not stored: typing, presence.
    Notice(SharedEvent),
    /// Too much was missed to replay (or the client's cursor is not one of
    /// this store's): the client reloads what it shows by other means, then
    /// goes on from `cursor`.
    Resync {
        /// Where the stream goes on from.
        cursor: Cursor,
    },
}

/// Where a replay stands.
#[derive(Clone, Copy, Debug)]
enum Replay {
    /// The next page starts after this position; `sent` changes so far.
    After { position: Position, sent: usize },
    /// Past the replay limit: move the floor to the head and say so.
    Resync,
}

/// The stream of one session's deliveries; see [`Chat::live`].
///
/// The rules it keeps, so that no transport writes them again:
/// - it subscribes before it reads the store, so nothing committed in
///   between is missed;
/// - every committed change is yielded once, in order of position where it
///   replays, live ones as they come, never one at or below the floor twice;
/// - a lag (a bus queue overflowing, a lost connection to the bus) replays
///   from the floor, skipping what was already delivered;
/// - a replay longer than the limit ends with [`Item::Resync`];
/// - while its transport's sends are committing ([`Live::sending`]), a
///   live copy of the user's own message that may be one of them is held
///   until they end ([`Live::sent`]): the transport answers its own sends
///   with acknowledgements, and their copies are dropped.
///
/// `next` is cancel-safe: a transport may poll it in a `select!`.
pub struct Live {
    chat: Chat,
    session: Session,
    events: Subscription,
    epoch: u32,
    head: Cursor,
    /// Every change at or below it was delivered, or came before the start.
    floor: Position,
    /// Positions delivered above the floor, in order (they arrive nearly
    /// in order, so keeping them sorted costs an append).
    recent: VecDeque<Position>,
    replay: Option<Replay>,
    replay_limit: usize,
    ready: VecDeque<Item>,
    /// The running sends' client ids (`None`: a send without one), in the
    /// order they started.
    sending: VecDeque<Option<ClientMessageId>>,
    held: Vec<SharedEvent>,
    ended: bool,
}

impl Chat {
    /// Opens the delivery stream of the session's user, starting at
    /// `resume`; past `replay_limit` replayed changes, it says
    /// [`Item::Resync`] instead of replaying more. The stream ends when the
    /// session logs out.
    ///
    /// # Errors
    /// [`ChatError::Unavailable`](crate::ChatError::Unavailable) if the bus
    /// or the store is down.
    pub async fn live(
        &self,
        session: &Session,
        resume: Resume,
        replay_limit: usize,
    ) -> Result<Live> {
        let events = self.subscribe(session).await?;
        let head = self.head().await?;
        let mut live = Live {
            chat: self.clone(),
            session: session.clone(),
            events,
            epoch: head.epoch(),
            head,
            floor: head.position(),
            recent: VecDeque::new(),
            replay: None,
            replay_limit,
            ready: VecDeque::new(),
            sending: VecDeque::new(),
            held: Vec::new(),
            ended: false,
        };
        let from = match resume {
            Resume::Now => None,
            Resume::Message(id) => Some(Position::from(id).min(head.position())),
            Resume::Cursor(cursor) => match self.position_of(cursor).await? {
                Some(position) if position <= head.position() => Some(position),
                _ => {
                    live.ready.push_back(Item::Resync { cursor: head });
                    None
                }
            },
        };
        if let Some(position) = from
            && position < head.position()
        {
            live.replay = Some(Replay::After { position, sent: 0 });
        }
        Ok(live)
    }
}

impl Live {
    /// How many sends a transport may have running at once on one stream
    /// ([`Live::sending`] without [`Live::sent`] yet); the stream holds the
    /// live copies of that many and more.
    pub const MAX_SENDING: usize = 256;

    /// The newest change when the stream opened: what a client resumes
    /// from if it sees nothing else.
    pub fn head(&self) -> Cursor {
        self.head
    }

    /// The cursor of `position` in this stream's store.
    pub fn cursor(&self, position: Position) -> Cursor {
        Cursor::new(position, self.epoch)
    }

    /// The next delivery; `None` once the session has logged out.
    ///
    /// # Errors
    /// What the store reports while replaying: the transport should close,
    /// and its client resume later.
    pub async fn next(&mut self) -> Option<Result<Item>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                // A replay grew the queue: give the memory back once read.
                if self.ready.is_empty() && self.ready.capacity() > 4 * KEPT_READY {
                    self.ready.shrink_to(KEPT_READY);
                }
                return Some(Ok(item));
            }
            if let Some(replay) = self.replay {
                if let Err(error) = self.replay_step(replay).await {
                    return Some(Err(error));
                }
                continue;
            }
            if self.ended {
                return None;
            }
            match self.events.next().await {
                None => {
                    self.ended = true;
                    return None;
                }
                Some(Delivery::Lagged) => {
                    self.replay = Some(Replay::After {
                        position: self.floor,
                        sent: 0,
                    });
                }
                Some(Delivery::Event(event)) => {
                    if let Some(item) = self.on_event(event) {
                        return Some(Ok(item));
                    }
                }
            }
        }
    }

    /// Says that the transport started a send of the user's with
    /// `client_id`: until its [`Live::sent`], live copies of the user's
    /// messages that may be it are held back. A transport may have several
    /// sends running; they end in the order they started.
    pub fn sending(&mut self, client_id: Option<ClientMessageId>) {
        self.sending.push_back(client_id);
    }

    /// Says that the oldest running send ended, storing `message` (`None`
    /// if it failed). The transport acknowledges it itself, so the stream
    /// never delivers it; held messages that no running send may be follow
    /// in order.
    pub fn sent(&mut self, message: Option<&Message>) {
        self.sending.pop_front();
        if let Some(message) = message {
            self.remember(message.position());
        }
        for event in std::mem::take(&mut self.held) {
            if self.may_be_a_running_send(&event) {
                self.held.push(event);
                continue;
            }
            let Some(position) = event.kind().position() else {
                continue;
            };
            if position <= self.floor || self.delivered(position) {
                continue;
            }
            self.remember(position);
            self.ready.push_back(Item::Change {
                event,
                cursor: self.cursor(position),
                replayed: false,
            });
        }
    }

    /// A live event: a change above the floor not delivered yet, or a
    /// notice.
    fn on_event(&mut self, event: SharedEvent) -> Option<Item> {
        let Some(position) = event.kind().position() else {
            return Some(Item::Notice(event));
        };
        if self.may_be_a_running_send(&event) && self.held.len() < HELD {
            self.held.push(event);
            return None;
        }
        if position <= self.floor || self.delivered(position) {
            return None;
        }
        self.remember(position);
        Some(Item::Change {
            event,
            cursor: self.cursor(position),
            replayed: false,
        })
    }

    /// One page of a replay (or its end in a resync); changes nothing until
    /// the store has answered, so that a cancelled call loses nothing.
    async fn replay_step(&mut self, replay: Replay) -> Result<()> {
        let (after, mut sent) = match replay {
            Replay::After { position, sent } => (position, sent),
            Replay::Resync => {
                let head = self.chat.head().await?;
                self.floor = self.floor.max(head.position());
                self.forget_below_floor();
                self.replay = None;
                self.ready.push_back(Item::Resync {
                    cursor: self.cursor(self.floor),
                });
                return Ok(());
            }
        };
        let page = self
            .chat
            .changes(&self.session, after, PageLimit::LARGEST)
            .await?;
        let mut last = after;
        for change in page.items {
            let position = change.position();
            last = position;
            if self.delivered(position) {
                continue;
            }
            let event = Event::new(EventKind::from(change));
            // A membership change heard only in the replay (its live copy
            // was lost to a lag) still moves what the stream listens to.
            self.events.follow(event.kind());
            if self.may_be_a_running_send(&event) && self.held.len() < HELD {
                self.held.push(event);
                continue;
            }
            self.ready.push_back(Item::Change {
                event,
                cursor: self.cursor(position),
                replayed: true,
            });
            sent += 1;
        }
        self.floor = self.floor.max(last);
        self.replay = if !page.has_more {
            self.forget_below_floor();
            None
        } else if sent >= self.replay_limit {
            Some(Replay::Resync)
        } else {
            Some(Replay::After {
                position: last,
                sent,
            })
        };
        Ok(())
    }

    /// Whether `event` is a message of the user's that a running send may
    /// be committing.
    fn may_be_a_running_send(&self, event: &Event) -> bool {
        if self.sending.is_empty() {
            return false;
        }
        let EventKind::Message { message } = event.kind() else {
            return false;
        };
        if message.sender().id() != self.session.user().id() {
            return false;
        }
        self.sending.iter().any(|sending| match sending {
            None => true,
            Some(client_id) => message.client_id() == Some(client_id),
        })
    }

    /// Whether `position`, above the floor, was delivered.
    fn delivered(&self, position: Position) -> bool {
        match self.recent.back() {
            // The usual case: newer than everything delivered.
            Some(newest) if *newest < position => false,
            None => false,
            Some(_) => self.recent.binary_search(&position).is_ok(),
        }
    }

    fn remember(&mut self, position: Position) {
        match self.recent.back() {
            Some(newest) if *newest >= position => match self.recent.binary_search(&position) {
                Ok(_) => return,
                Err(at) => self.recent.insert(at, position),
            },
            _ => self.recent.push_back(position),
        }
        // Past what it remembers, the oldest delivered position becomes the
        // floor: a replay after a lag starts above it rather than deliver
        // it again. (A change below it that has not arrived yet would be
        // skipped by such a replay; it would have to come more than
        // `RECENT` deliveries late.)
        if self.recent.len() > RECENT
            && let Some(oldest) = self.recent.pop_front()
        {
            self.floor = self.floor.max(oldest);
        }
    }

    fn forget_below_floor(&mut self) {
        let floor = self.floor;
        let keep_from = self.recent.partition_point(|p| *p <= floor);
        self.recent.drain(..keep_from);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::time::Duration;

    use super::{Item, KEPT_READY, RECENT, Resume};
    use crate::MemoryStore;
    use crate::testkit::Harness;

    #[tokio::test]
    async fn a_replay_after_a_lag_delivers_nothing_twice_however_much_was_delivered_live() {
        let h = Harness::with_bus_capacity(Arc::new(MemoryStore::new()), 16);
        let alice = h.user("alice").await;
        let bob = h.user("bob").await;
        let mut live = h.chat.live(&bob, Resume::Now, 100_000).await.unwrap();
        let mut seen = HashSet::new();
        let take = async |live: &mut super::Live, seen: &mut HashSet<_>| {
            let item = tokio::time::timeout(Duration::from_secs(10), live.next())
                .await
                .expect("a delivery")
                .expect("the stream goes on")
                .unwrap();
            if let Item::Change { event, .. } = item {
                let position = event.kind().position().unwrap();
                assert!(seen.insert(position), "{position:?} delivered twice");
            }
        };
        // More live deliveries than the stream remembers, taken as they
        // come.
        let live_ones = RECENT + 100;
        for n in 0..live_ones {
            h.send(&alice, "bob", &format!("m{n}")).await;
            take(&mut live, &mut seen).await;
        }
        // Then more than the bus holds while the stream is not read: a
        // lag, and a replay from the change log.
        for n in 0..40 {
            h.send(&alice, "bob", &format!("late {n}")).await;
        }
        while seen.len() < live_ones + 40 {
            take(&mut live, &mut seen).await;
        }
    }

    #[tokio::test]
    async fn the_queue_a_replay_filled_shrinks_back_once_read() {
        let h = Harness::new(Arc::new(MemoryStore::new()));
        let alice = h.user("alice").await;
        let bob = h.user("bob").await;
        for n in 0..300 {
            h.send(&alice, "bob", &format!("m{n}")).await;
        }
        let start = crate::domain::MessageId::new(0);
        let mut live = h
            .chat
            .live(&bob, Resume::Message(start), 100_000)
            .await
            .unwrap();
        let mut read = 0;
        while read < 300 {
            let item = tokio::time::timeout(Duration::from_secs(10), live.next())
                .await
                .expect("a delivery")
                .expect("the stream goes on")
                .unwrap();
            if matches!(item, Item::Change { .. }) {
                read += 1;
            }
            assert!(live.ready.capacity() >= live.ready.len());
        }
        assert!(live.ready.is_empty());
        assert!(
            live.ready.capacity() <= KEPT_READY,
            "{} slots kept",
            live.ready.capacity()
        );
    }

    #[tokio::test]
    async fn a_send_dropped_before_it_ends_is_still_delivered_live() {
        let h = Harness::new(Arc::new(MemoryStore::new()));
        let alice = h.user("alice").await;
        let bob = h.user("bob").await;
        let mut live = h.chat.live(&bob, Resume::Now, 100).await.unwrap();
        // The client that sent it goes away while it commits.
        let sending = h
            .chat
            .start_send(&alice, "bob", "sent, then gone".into(), None)
            .await
            .unwrap();
        drop(sending);
        let item = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("the message was published")
            .expect("the stream goes on")
            .unwrap();
        let Item::Change { event, .. } = item else {
            panic!("expected the message, got {item:?}");
        };
        assert!(
            matches!(event.kind(), crate::EventKind::Message { message } if message.text().as_str() == "sent, then gone"),
            "{event:?}"
        );
    }

    #[tokio::test]
    async fn copies_of_every_running_send_are_held_even_behind_another_devices_messages() {
        use futures::FutureExt;

        let h = Harness::new(Arc::new(MemoryStore::new()));
        let alice = h.user("alice").await;
        h.user("bob").await;
        let mut live = h.chat.live(&alice, Resume::Now, 10_000).await.unwrap();
        let running = super::Live::MAX_SENDING;
        for _ in 0..running {
            live.sending(None);
        }
        // While the transport's sends run, as many messages come from the
        // user's other device first, then the copies of the sends.
        for n in 0..running {
            h.send(&alice, "bob", &format!("other {n}")).await;
        }
        let mut own = Vec::new();
        for n in 0..running {
            own.push(h.send(&alice, "bob", &format!("own {n}")).await);
        }
        assert!(
            live.next().now_or_never().is_none(),
            "everything is held while the sends run"
        );
        for message in &own {
            live.sent(Some(message));
        }
        let mut delivered = Vec::new();
        while let Some(Some(item)) = live.next().now_or_never() {
            if let Item::Change { event, .. } = item.unwrap()
                && let crate::EventKind::Message { message } = event.kind()
            {
                delivered.push(message.text().as_str().to_owned());
            }
        }
        let expected: Vec<String> = (0..running).map(|n| format!("other {n}")).collect();
        assert_eq!(
            delivered, expected,
            "the other device's, once; no copy of a send"
        );
    }

    #[tokio::test]
    async fn a_cursor_beyond_the_store_resumes_with_a_resync_not_past_what_is_stored() {
        use crate::domain::{Message, MessageId, MessageText, Timestamp};
        use crate::event::{Event, EventKind};
        use crate::ports::{Bus, Topic};

        let bus = Arc::new(crate::LocalBus::default());
        let h = Harness::with_bus(Arc::new(MemoryStore::new()), bus.clone());
        let alice = h.user("alice").await;
        let bob = h.user("bob").await;
        let first = h.send(&alice, "bob", "real").await;
        let mut live = h.chat.live(&bob, Resume::Now, 100).await.unwrap();
        // A message event with an id far beyond the store's (forged, or
        // from a broken process) reaches the stream and gives the client a
        // cursor beyond everything stored.
        let forged = Message::new(
            MessageId::new(1 << 40),
            first.conversation(),
            alice.user().clone(),
            Some(bob.user().clone()),
            MessageText::parse("forged").unwrap(),
            Timestamp::from_unix_micros(0),
            None,
        );
        bus.publish(
            &[Topic::user(bob.user().id())],
            Event::new(EventKind::Message { message: forged }),
        )
        .await
        .unwrap();
        let Some(Ok(Item::Change { cursor, .. })) = live.next().await else {
            panic!("the forged event was not delivered");
        };
        let after = h.send(&alice, "bob", "after").await;
        // Resuming from it does not skip what was stored since: the stream
        // says to resync, at the store's real head.
        let mut resumed = h
            .chat
            .live(&bob, Resume::Cursor(cursor), 100)
            .await
            .unwrap();
        match resumed.next().await {
            Some(Ok(Item::Resync { cursor })) => {
                assert_eq!(cursor.position(), after.position());
            }
            other => panic!("expected a resync, got {other:?}"),
        }
    }
}
