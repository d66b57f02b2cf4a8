//! The writing half of a connection, driven by the connection's own task:
//! a bounded queue of frames, moved into the socket as the socket takes
//! them, flushed once per batch.
//!
//! No writer task of its own: a delivery is queued and written in the same
//! wake-up of the connection's task (one hand-off less per frame than a
//! queue to a second task). A socket that takes nothing leaves its frames
//! queued; past the queue's bound the connection is too slow.
//!
//! A write takes every frame already queued. With a write delay, the writer
//! also waits that long after the first frame for more to join it: fewer,
//! larger writes (and TCP segments) when frames come fast, at the price of
//! that much added latency.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Sink;
use hyper_tungstenite::tungstenite::Message;
use hyper_tungstenite::tungstenite::protocol::CloseFrame;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio::time::Sleep;

/// An emptied queue that a burst grew past four times this many frames
/// shrinks back to it.
const KEPT_FRAMES: usize = 16;
/// Why a frame could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Full {
    /// The client is not reading fast enough.
    Slow,
}

/// The socket failed: the client is gone.
#[derive(Debug)]
pub(super) struct Gone;

/// A connection's outbound side: the socket's sink and what waits for it.
pub(super) struct Outbound<S> {
    sink: S,
    queue: VecDeque<Message>,
    capacity: usize,
    /// Frames handed to the sink since its last flush.
    unflushed: bool,
    delay: Duration,
    /// While a write waits for more frames to join it.
    gathering: Option<Pin<Box<Sleep>>>,
}

impl<S> Outbound<S>
where
    S: Sink<Message> + Unpin,
{
    /// The outbound side of `sink`, with room for `capacity` frames,
    /// waiting `delay` after a first frame for others to share its write.
    pub(super) fn new(sink: S, capacity: usize, delay: Duration) -> Self {
        Self {
            sink,
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            unflushed: false,
            delay,
            gathering: None,
        }
    }

    /// Queues a frame; it is written when the connection's task next
    /// drives the socket ([`Outbound::poll_write`]).
    pub(super) fn push(&mut self, frame: Message) -> Result<(), Full> {
        if self.queue.len() >= self.capacity {
            return Err(Full::Slow);
        }
        self.queue.push_back(frame);
        Ok(())
    }

    /// Whether another frame may be queued.
    pub(super) fn has_room(&self) -> bool {
        self.queue.len() < self.capacity
    }

    /// Whether everything queued is written and flushed.
    pub(super) fn is_idle(&self) -> bool {
        self.queue.is_empty() && !self.unflushed
    }

    /// Frames waiting for the socket.
    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Moves queued frames into the socket as it takes them, then flushes:
    /// ready once everything is written, pending while the socket takes no
    /// more (or while a write delay gathers frames).
    pub(super) fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Gone>> {
        if !self.delay.is_zero() && !self.unflushed && !self.queue.is_empty() {
            let timer = self
                .gathering
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(self.delay)));
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.gathering = None;
        }
        while !self.queue.is_empty() {
            match Pin::new(&mut self.sink).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(Err(Gone)),
                Poll::Pending => break,
            }
            let Some(frame) = self.queue.pop_front() else {
                break;
            };
            if Pin::new(&mut self.sink).start_send(frame).is_err() {
                return Poll::Ready(Err(Gone));
            }
            self.unflushed = true;
        }
        if self.unflushed {
            match Pin::new(&mut self.sink).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => return Poll::Ready(Err(Gone)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.queue.is_empty() {
            // A burst grew the queue: give the memory back once it is out.
            if self.queue.capacity() > 4 * KEPT_FRAMES {
                self.queue.shrink_to(KEPT_FRAMES);
            }
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    /// Writes until everything queued is out (or the socket fails).
    pub(super) async fn drain(&mut self) -> Result<(), Gone> {
        poll_fn(|cx| self.poll_write(cx)).await
    }

    /// Queues `frame`, first writing until there is room for it: for
    /// replays, which the client's reading paces.
    pub(super) async fn push_when_room(&mut self, frame: Message) -> Result<(), Gone> {
        poll_fn(|cx| {
            if self.queue.len() < self.capacity {
                return Poll::Ready(Ok(()));
            }
            match self.poll_write(cx) {
                Poll::Ready(Err(gone)) => Poll::Ready(Err(gone)),
                Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
                Poll::Pending if self.queue.len() < self.capacity => Poll::Ready(Ok(())),
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        self.queue.push_back(frame);
        Ok(())
    }

    /// Closes the socket with `code` and `reason`: after the frames already
    /// queued (a flooding client still reads why it was refused), or ahead
    /// of them when the queue is full (a client too slow to read them);
    /// `None` closes without a close frame. Waits for the socket to take it
    /// all; the caller bounds the wait.
    pub(super) async fn close(mut self, close: Option<(CloseCode, &'static str)>) {
        if let Some((code, reason)) = close {
            if self.queue.len() >= self.capacity {
                self.queue.clear();
            }
            self.queue.push_back(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })));
        }
        if self.drain().await.is_ok() {
            let _ = poll_fn(|cx| Pin::new(&mut self.sink).poll_close(cx)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WebSocketLimits;

    /// A socket whose peer never reads: it takes no frame, ever.
    struct Stuck;

    impl Sink<Message> for Stuck {
        type Error = std::io::Error;

        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Pending
        }

        fn start_send(self: Pin<&mut Self>, _: Message) -> std::io::Result<()> {
            Ok(())
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Pending
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn by_default_512_frames_wait_for_a_stuck_socket_then_it_is_too_slow() {
        let capacity = WebSocketLimits::default().outbound_queue;
        assert_eq!(capacity, 512);
        let mut out = Outbound::new(Stuck, capacity, Duration::ZERO);
        for n in 0..capacity {
            assert_eq!(out.push(Message::Text(n.to_string().into())), Ok(()));
        }
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(
            out.poll_write(&mut cx).is_pending(),
            "the socket takes nothing"
        );
        assert_eq!(out.queued(), capacity);
        assert_eq!(out.push(Message::Text("one more".into())), Err(Full::Slow));
    }

    /// A socket that takes everything, and remembers it.
    #[derive(Default)]
    struct Taking {
        frames: Vec<Message>,
        flushes: usize,
    }

    impl Sink<Message> for Taking {
        type Error = std::io::Error;

        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn start_send(mut self: Pin<&mut Self>, frame: Message) -> std::io::Result<()> {
            self.frames.push(frame);
            Ok(())
        }

        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_queue_grown_by_a_burst_shrinks_back_once_written() {
        let mut out = Outbound::new(Taking::default(), 512, Duration::ZERO);
        for n in 0..500 {
            out.push(Message::Text(n.to_string().into())).unwrap();
        }
        assert!(out.queue.capacity() >= 500);
        out.drain().await.unwrap();
        assert_eq!(out.sink.frames.len(), 500);
        assert!(
            out.queue.capacity() <= KEPT_FRAMES,
            "{} slots kept",
            out.queue.capacity()
        );
    }

    #[tokio::test]
    async fn what_is_queued_is_written_in_order_with_one_flush_per_batch() {
        let mut out = Outbound::new(Taking::default(), 8, Duration::ZERO);
        for n in 0..3 {
            out.push(Message::Text(n.to_string().into())).unwrap();
        }
        out.drain().await.unwrap();
        assert!(out.is_idle());
        assert_eq!(out.sink.frames.len(), 3);
        assert_eq!(out.sink.flushes, 1, "one flush for the three");
        for n in 0..8 {
            out.push(Message::Text(n.to_string().into())).unwrap();
        }
        out.push_when_room(Message::Text("paced".into()))
            .await
            .unwrap();
        out.drain().await.unwrap();
        assert_eq!(out.sink.frames.len(), 12);
        assert_eq!(out.sink.frames[11], Message::Text("paced".into()));
    }
}
