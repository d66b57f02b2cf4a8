//! The writing half of a connection: a bounded queue drained by one task
//! into batched socket writes, with a side door for the closing frame.
//!
//! A write takes every frame already queued. With a write delay, the writer
//! also waits that long after the first frame for more to join it: fewer,
//! larger writes (and TCP segments) when frames come fast, at the price of
//! that much added latency.

use futures::{Sink, SinkExt};
use hyper_tungstenite::tungstenite::Message;
use hyper_tungstenite::tungstenite::protocol::CloseFrame;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

/// Why a frame could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Full {
    /// The client is not reading fast enough.
    Slow,
    /// The writer has stopped (the socket is gone).
    Closed,
}

/// The connection's handle on its writer.
pub(super) struct Outbound {
    frames: mpsc::Sender<Message>,
    close: Option<oneshot::Sender<CloseFrame>>,
}

impl Outbound {
    /// Starts the writer on `sink` with room for `capacity` frames, waiting
    /// `delay` after a first frame for others to share its write.
    pub(super) fn start<S>(
        sink: S,
        capacity: usize,
        delay: Duration,
    ) -> (Self, tokio::task::JoinHandle<()>)
    where
        S: Sink<Message> + Unpin + Send + 'static,
    {
        let (frames, queue) = mpsc::channel(capacity.max(1));
        let (close, closing) = oneshot::channel();
        let writer = tokio::spawn(write(sink, queue, closing, delay));
        (
            Self {
                frames,
                close: Some(close),
            },
            writer,
        )
    }

    /// Queues a frame without waiting.
    pub(super) fn push(&self, frame: Message) -> Result<(), Full> {
        self.frames.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Full::Slow,
            mpsc::error::TrySendError::Closed(_) => Full::Closed,
        })
    }

    /// Queues a frame, waiting for room: for replays, which the client's
    /// reading paces (a stuck client's socket is dropped by the write
    /// deadline, which ends the wait).
    pub(super) async fn send(&self, frame: Message) -> Result<(), Full> {
        self.frames.send(frame).await.map_err(|_| Full::Closed)
    }

    /// Closes the socket with `code` and `reason`: after the frames already
    /// queued (a flooding client still reads why it was refused), or ahead
    /// of them when the queue is full (a client too slow to read them).
    pub(super) fn close(&mut self, code: CloseCode, reason: &'static str) {
        let Some(close) = self.close.take() else {
            return;
        };
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        if let Err(refused) = self.frames.try_send(Message::Close(Some(frame)))
            && let Message::Close(Some(frame)) = refused.into_inner()
        {
            let _ = close.send(frame);
        }
    }
}

async fn write<S>(
    mut sink: S,
    mut queue: mpsc::Receiver<Message>,
    closing: oneshot::Receiver<CloseFrame>,
    delay: Duration,
) where
    S: Sink<Message> + Unpin,
{
    // Dropping the handle without a close frame lets the queue drain first.
    let mut closing = Some(closing);
    loop {
        let frame = tokio::select! {
            biased;
            close = async {
                match closing.as_mut() {
                    Some(receiver) => receiver.await,
                    None => std::future::pending().await,
                }
            }, if closing.is_some() => {
                match close {
                    Ok(frame) => {
                        let _ = sink.send(Message::Close(Some(frame))).await;
                        let _ = sink.close().await;
                        return;
                    }
                    Err(_) => {
                        closing = None;
                        continue;
                    }
                }
            }
            frame = queue.recv() => frame,
        };
        let Some(frame) = frame else {
            let _ = sink.close().await;
            return;
        };
        // Batch: feed everything already queued, then flush once.
        if sink.feed(frame).await.is_err() {
            return;
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        while let Ok(frame) = queue.try_recv() {
            if sink.feed(frame).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

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
        let (out, writer) = Outbound::start(Stuck, capacity, Duration::ZERO);
        // The writer takes a first frame and hangs on the socket with it.
        out.push(Message::Text("first".into())).unwrap();
        let taken = async {
            while out.frames.capacity() < capacity {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), taken)
            .await
            .unwrap();
        for n in 0..capacity {
            assert_eq!(out.push(Message::Text(n.to_string().into())), Ok(()));
        }
        assert_eq!(out.push(Message::Text("one more".into())), Err(Full::Slow));
        writer.abort();
    }
}
