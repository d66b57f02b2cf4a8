//! One topic's broadcast queue: a ring that holds each delivery until every
//! subscriber has read it, growing under a burst up to a bound and giving
//! the memory back once it is read.
//!
//! `tokio::sync::broadcast` allocates its whole capacity when the channel is
//! made, so every topic with a subscriber (every online user) would pay for
//! the largest burst it may ever need to absorb. Here an idle topic holds
//! nothing; a burst costs a slot (24 bytes) per delivery not yet read by
//! all, up to the capacity, past which the slowest subscribers are told
//! they lagged.
//!
//! Publishing takes the ring's write lock once and wakes every waiting
//! subscriber; a subscriber reads under the read lock, cloning the
//! delivery (an `Arc`). Nothing is allocated per subscriber on either path:
//! the list of waiting subscribers' wakers keeps its capacity from one
//! publish to the next.
//!
//! The locks are never held together, and nothing but this module's own
//! code runs under them (wakers are woken after the list is released); a
//! lock poisoned by a panic elsewhere is used as it is, since every state
//! it guards is consistent between statements.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll, Waker};

use crate::ports::Delivery;

/// A ring that has shrunk to this many slots keeps them.
const KEPT_SLOTS: usize = 16;

pub(super) struct Channel {
    ring: RwLock<Ring>,
    waiters: Mutex<Waiters>,
    /// `Waiters::round`, readable without the lock: a receiver whose waker
    /// is registered in the current round has nothing to lock.
    round: AtomicU64,
    /// How many receivers there are: changed only under the ring's write
    /// lock, read without it.
    subscribers: AtomicUsize,
    capacity: usize,
}

struct Ring {
    slots: VecDeque<Slot>,
    /// The sequence number of `slots[0]`.
    first: u64,
    closed: bool,
}

struct Slot {
    delivery: Delivery,
    /// Subscribers that have not read it yet.
    unread: AtomicUsize,
}

#[derive(Default)]
struct Waiters {
    wakers: Vec<Waker>,
    /// The last list woken, emptied, kept for its capacity.
    spare: Vec<Waker>,
    /// Counts the times `wakers` was woken, so that a subscriber registers
    /// once per wait.
    round: u64,
}

impl Channel {
    pub(super) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            ring: RwLock::new(Ring {
                slots: VecDeque::new(),
                first: 0,
                closed: false,
            }),
            waiters: Mutex::new(Waiters::default()),
            round: AtomicU64::new(0),
            subscribers: AtomicUsize::new(0),
            capacity: capacity.max(1),
        })
    }

    /// Queues `delivery` for every current subscriber and wakes them.
    pub(super) fn send(&self, delivery: Delivery) {
        {
            let mut ring = self.write();
            let subscribers = self.subscriber_count();
            if subscribers == 0 || ring.closed {
                return;
            }
            ring.trim();
            if ring.slots.len() >= self.capacity {
                // The slowest subscribers lose it: they will see that they
                // lagged.
                ring.slots.pop_front();
                ring.first += 1;
            }
            let unread = AtomicUsize::new(subscribers);
            ring.slots.push_back(Slot { delivery, unread });
        }
        self.wake_all();
    }

    /// Ends every subscriber's stream once it has read what is queued.
    pub(super) fn close(&self) {
        self.write().closed = true;
        self.wake_all();
    }

    /// A new subscriber, which receives what is sent from now on.
    pub(super) fn subscribe(self: &Arc<Self>) -> Receiver {
        let next = {
            let ring = self.write();
            self.subscribers.fetch_add(1, Ordering::Relaxed);
            ring.next()
        };
        Receiver {
            channel: Arc::clone(self),
            next,
            registered: None,
        }
    }

    pub(super) fn subscriber_count(&self) -> usize {
        self.subscribers.load(Ordering::Relaxed)
    }

    fn wake_all(&self) {
        let mut woken = {
            let mut waiters = self.waiters();
            if waiters.wakers.is_empty() {
                return;
            }
            waiters.round += 1;
            self.round.store(waiters.round, Ordering::Release);
            let spare = std::mem::take(&mut waiters.spare);
            std::mem::replace(&mut waiters.wakers, spare)
        };
        for waker in woken.drain(..) {
            waker.wake();
        }
        let mut waiters = self.waiters();
        if waiters.spare.capacity() < woken.capacity() {
            waiters.spare = woken;
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Ring> {
        self.ring.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn waiters(&self) -> MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Ring {
    /// The sequence number the next delivery gets.
    fn next(&self) -> u64 {
        self.first + self.slots.len() as u64
    }

    /// Drops the deliveries at the front that every subscriber has read,
    /// and gives back the memory of a ring that a burst left mostly empty.
    fn trim(&mut self) {
        while self
            .slots
            .front()
            .is_some_and(|slot| slot.unread.load(Ordering::Acquire) == 0)
        {
            self.slots.pop_front();
            self.first += 1;
        }
        let capacity = self.slots.capacity();
        if capacity > KEPT_SLOTS && self.slots.len() < capacity / 4 {
            self.slots.shrink_to((self.slots.len() * 2).max(KEPT_SLOTS));
        }
    }
}

/// One subscriber's place in a [`Channel`].
pub(super) struct Receiver {
    channel: Arc<Channel>,
    /// The sequence number of the next delivery to read.
    next: u64,
    /// The round in which this receiver's waker was registered, and that
    /// waker.
    registered: Option<(u64, Waker)>,
}

impl Receiver {
    /// The next delivery, [`Delivery::Lagged`] if some were dropped before
    /// this receiver read them, or `None` once the channel is closed and
    /// read.
    pub(super) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        if let Some(received) = self.try_recv() {
            return Poll::Ready(received);
        }
        // Still registered with this task's waker in the current round:
        // the next send wakes it, so there is nothing to lock. (A send
        // that woke the round since has moved `round` on: then register.)
        if let Some((round, waker)) = &self.registered
            && *round == self.channel.round.load(Ordering::Acquire)
            && waker.will_wake(cx.waker())
        {
            return Poll::Pending;
        }
        let crowded = {
            let mut waiters = self.channel.waiters();
            let current = matches!(&self.registered,
                Some((round, waker)) if *round == waiters.round && waker.will_wake(cx.waker()));
            if !current {
                let waker = cx.waker().clone();
                waiters.wakers.push(waker.clone());
                self.registered = Some((waiters.round, waker));
            }
            // Receivers dropped, or polled by another task, since the last
            // send left their wakers behind.
            waiters.wakers.len() > 2 * self.channel.subscriber_count() + KEPT_SLOTS
        };
        if crowded {
            // Wake everyone: each live receiver registers once again, and
            // the stale wakers (and the tasks they hold) are let go.
            self.channel.wake_all();
        }
        // A delivery sent before the waker was registered woke no one.
        match self.try_recv() {
            Some(received) => Poll::Ready(received),
            None => Poll::Pending,
        }
    }

    /// `Some(Some(delivery))`, `Some(None)` when closed and read, `None`
    /// when there is nothing yet.
    fn try_recv(&mut self) -> Option<Option<Delivery>> {
        let ring = self.channel.read();
        if self.next < ring.first {
            self.next = ring.first;
            return Some(Some(Delivery::Lagged));
        }
        let index = usize::try_from(self.next - ring.first).unwrap_or(usize::MAX);
        let Some(slot) = ring.slots.get(index) else {
            return ring.closed.then_some(None);
        };
        let delivery = slot.delivery.clone();
        let last_reader = slot.unread.fetch_sub(1, Ordering::AcqRel) == 1;
        self.next += 1;
        if last_reader && index == 0 {
            // Read by all: let it go now rather than at the next send, so
            // that an idle topic holds no event.
            drop(ring);
            self.channel.write().trim();
        }
        Some(Some(delivery))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut ring = self.channel.write();
        let start = usize::try_from(self.next.saturating_sub(ring.first)).unwrap_or(usize::MAX);
        for slot in ring.slots.iter().skip(start) {
            slot.unread.fetch_sub(1, Ordering::AcqRel);
        }
        self.channel.subscribers.fetch_sub(1, Ordering::Relaxed);
        ring.trim();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use super::*;
    use crate::domain::SessionId;
    use crate::event::{Event, EventKind, SharedEvent};

    fn event(n: i64) -> SharedEvent {
        Event::new(EventKind::SessionEnded {
            session: SessionId::new(n),
        })
    }

    fn number(delivery: Option<Delivery>) -> i64 {
        match delivery {
            Some(Delivery::Event(event)) => match event.kind() {
                EventKind::SessionEnded { session } => session.get(),
                other => panic!("unexpected {other:?}"),
            },
            other => panic!("expected an event, got {other:?}"),
        }
    }

    fn poll(receiver: &mut Receiver) -> Poll<Option<Delivery>> {
        receiver.poll_recv(&mut Context::from_waker(Waker::noop()))
    }

    fn ready(receiver: &mut Receiver) -> Option<Delivery> {
        match poll(receiver) {
            Poll::Ready(delivery) => delivery,
            Poll::Pending => panic!("nothing to read"),
        }
    }

    fn held(channel: &Channel) -> (usize, usize) {
        let ring = channel.ring.read().unwrap();
        (ring.slots.len(), ring.slots.capacity())
    }

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct Counting(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Counting>, Waker) {
        let counter = Arc::new(Counting::default());
        let waker = Waker::from(Arc::clone(&counter));
        (counter, waker)
    }

    fn woken(counter: &Counting) -> usize {
        counter.0.load(Ordering::SeqCst)
    }

    #[test]
    fn each_subscriber_reads_every_delivery_in_order_from_when_it_subscribed() {
        let channel = Channel::new(8);
        channel.send(Delivery::Event(event(0)));
        let mut early = channel.subscribe();
        channel.send(Delivery::Event(event(1)));
        let mut late = channel.subscribe();
        channel.send(Delivery::Event(event(2)));
        assert_eq!(number(ready(&mut early)), 1);
        assert_eq!(number(ready(&mut early)), 2);
        assert!(poll(&mut early).is_pending());
        assert_eq!(number(ready(&mut late)), 2);
        assert!(poll(&mut late).is_pending());
        assert_eq!(held(&channel).0, 0, "every delivery was read by all");
    }

    #[test]
    fn a_delivery_read_by_every_subscriber_is_let_go_at_once() {
        let channel = Channel::new(8);
        let mut a = channel.subscribe();
        let mut b = channel.subscribe();
        let shared = event(7);
        channel.send(Delivery::Event(Arc::clone(&shared)));
        drop(ready(&mut a));
        assert_eq!(held(&channel).0, 1, "b has not read it");
        drop(ready(&mut b));
        assert_eq!(held(&channel).0, 0);
        assert_eq!(
            Arc::strong_count(&shared),
            1,
            "the idle topic holds no event"
        );
    }

    #[test]
    fn a_subscriber_more_than_capacity_behind_lags_then_reads_what_is_left() {
        let channel = Channel::new(4);
        let mut slow = channel.subscribe();
        let mut fast = channel.subscribe();
        for n in 0..10 {
            channel.send(Delivery::Event(event(n)));
            assert_eq!(number(ready(&mut fast)), n, "the fast one misses nothing");
        }
        assert_eq!(held(&channel).0, 4, "bounded by the capacity");
        assert!(matches!(ready(&mut slow), Some(Delivery::Lagged)));
        for n in 6..10 {
            assert_eq!(number(ready(&mut slow)), n);
        }
        assert!(poll(&mut slow).is_pending());
        assert_eq!(held(&channel).0, 0);
    }

    #[test]
    fn a_subscriber_exactly_capacity_behind_has_not_lagged() {
        let channel = Channel::new(4);
        let mut receiver = channel.subscribe();
        for n in 0..4 {
            channel.send(Delivery::Event(event(n)));
        }
        for n in 0..4 {
            assert_eq!(number(ready(&mut receiver)), n);
        }
    }

    #[test]
    fn a_burst_grows_the_ring_and_reading_it_gives_the_memory_back() {
        let channel = Channel::new(4096);
        let mut receiver = channel.subscribe();
        for n in 0..2000 {
            channel.send(Delivery::Event(event(n)));
        }
        let (len, capacity) = held(&channel);
        assert_eq!(len, 2000, "a burst within the capacity loses nothing");
        assert!(capacity >= 2000);
        for n in 0..2000 {
            assert_eq!(number(ready(&mut receiver)), n);
        }
        let (len, capacity) = held(&channel);
        assert_eq!(len, 0);
        assert!(capacity <= 64, "shrunk back to {capacity} slots");
    }

    #[test]
    fn a_subscriber_that_leaves_unread_does_not_hold_the_ring() {
        let channel = Channel::new(64);
        let mut reader = channel.subscribe();
        let leaver = channel.subscribe();
        for n in 0..10 {
            channel.send(Delivery::Event(event(n)));
        }
        for _ in 0..10 {
            drop(ready(&mut reader));
        }
        assert_eq!(held(&channel).0, 10, "the other subscriber has read none");
        drop(leaver);
        assert_eq!(held(&channel).0, 0);
        assert_eq!(channel.subscriber_count(), 1);
    }

    #[test]
    fn closing_wakes_a_waiting_subscriber_and_ends_its_stream() {
        let channel = Channel::new(8);
        let mut receiver = channel.subscribe();
        let (counter, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        assert!(receiver.poll_recv(&mut cx).is_pending());
        channel.close();
        assert_eq!(woken(&counter), 1);
        assert!(ready(&mut receiver).is_none());
        channel.send(Delivery::Event(event(1)));
        assert!(ready(&mut receiver).is_none(), "nothing after the end");
    }

    #[test]
    fn a_send_wakes_each_waiting_subscriber_once() {
        let channel = Channel::new(8);
        let mut a = channel.subscribe();
        let mut b = channel.subscribe();
        let (counter, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        assert!(a.poll_recv(&mut cx).is_pending());
        assert!(
            a.poll_recv(&mut cx).is_pending(),
            "polled again, same waker"
        );
        assert!(b.poll_recv(&mut cx).is_pending());
        assert_eq!(channel.waiters.lock().unwrap().wakers.len(), 2);
        channel.send(Delivery::Event(event(1)));
        assert_eq!(woken(&counter), 2, "one wake-up per waiting subscriber");
        assert_eq!(number(ready(&mut a)), 1);
        assert_eq!(number(ready(&mut b)), 1);
    }

    #[test]
    fn wakers_left_behind_by_receivers_that_went_away_do_not_pile_up() {
        let channel = Channel::new(8);
        let mut idle = channel.subscribe();
        let (_, waker) = counting();
        assert!(
            idle.poll_recv(&mut Context::from_waker(&waker))
                .is_pending()
        );
        for _ in 0..1_000 {
            // A client that connects, waits and goes, again and again,
            // with no send in between.
            let mut passing = channel.subscribe();
            let (_, waker) = counting();
            assert!(
                passing
                    .poll_recv(&mut Context::from_waker(&waker))
                    .is_pending()
            );
        }
        // And a receiver polled by ever new tasks.
        for _ in 0..1_000 {
            let (_, waker) = counting();
            assert!(
                idle.poll_recv(&mut Context::from_waker(&waker))
                    .is_pending()
            );
        }
        let kept = channel.waiters.lock().unwrap().wakers.len();
        assert!(kept <= 2 + KEPT_SLOTS + 1, "{kept} wakers kept");
    }

    #[test]
    fn closing_ends_the_stream_after_what_was_queued() {
        let channel = Channel::new(8);
        let mut receiver = channel.subscribe();
        channel.send(Delivery::Event(event(1)));
        channel.close();
        assert_eq!(number(ready(&mut receiver)), 1);
        assert!(ready(&mut receiver).is_none());
    }

    #[tokio::test]
    async fn a_waiting_subscriber_is_woken_by_a_send_from_another_task() {
        let channel = Channel::new(8);
        let mut receiver = channel.subscribe();
        let reader =
            tokio::spawn(async move { std::future::poll_fn(|cx| receiver.poll_recv(cx)).await });
        // Let the reader register its waker before the send, then send.
        tokio::task::yield_now().await;
        channel.send(Delivery::Event(event(3)));
        let received = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("the send woke the reader")
            .unwrap();
        assert_eq!(number(received), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_send_wakes_a_reader_on_the_other_thread() {
        // Ping-pong: each send comes while the reader, on the other
        // thread, waits or is about to; a lost wake-up hangs the round.
        const ROUNDS: i64 = 20_000;
        let channel = Channel::new(8);
        let mut receiver = channel.subscribe();
        let (ack, mut acks) = tokio::sync::mpsc::channel(1);
        let reader = tokio::spawn(async move {
            for expected in 0..ROUNDS {
                let delivery = std::future::poll_fn(|cx| receiver.poll_recv(cx)).await;
                assert_eq!(number(delivery), expected);
                ack.send(()).await.unwrap();
            }
        });
        let rounds = async {
            for n in 0..ROUNDS {
                channel.send(Delivery::Event(event(n)));
                acks.recv().await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(60), rounds)
            .await
            .expect("every send woke the reader");
        reader.await.unwrap();
        assert_eq!(held(&channel).0, 0);
    }
}
