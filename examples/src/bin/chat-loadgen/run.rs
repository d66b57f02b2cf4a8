//! Connections at work: open-loop senders, receivers that measure latency
//! and count every message, and the shared counters behind the progress
//! line.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::client::{self, Received, Socket};

/// Counters every connection adds to.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) duplicates: AtomicU64,
}

impl Counters {
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The clock every sender and receiver of this process shares: due times
/// and arrival times are microseconds since it started. Its start in
/// wall-clock milliseconds names the run.
#[derive(Clone, Copy)]
pub(crate) struct Clock(Instant, u64);

impl Clock {
    pub(crate) fn start() -> Self {
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        Self(Instant::now(), run)
    }

    fn micros(self, at: Instant) -> i64 {
        i64::try_from(at.duration_since(self.0).as_micros()).unwrap_or(i64::MAX)
    }
}

/// What one connection sends: to whom, how fast, as which sender.
pub(crate) struct Sending {
    pub(crate) to: String,
    /// The group to send to instead of `to`.
    pub(crate) group: Option<i64>,
    pub(crate) sender: usize,
    pub(crate) rate: f64,
    /// Where in its period this sender's first message falls, from 0 up to
    /// 1: senders spread over the period instead of all sending at once,
    /// so the offered load is smooth rather than a burst every period.
    pub(crate) phase: f64,
    /// Raw text frames to the reference server (acknowledged once written)
    /// instead of the chat's `send` frames.
    pub(crate) raw: bool,
}

/// What a receiver saw: latencies, and which messages of each sender.
pub(crate) struct Tracker {
    pub(crate) latency: Histogram<u64>,
    /// From a message's due time to its sender's `ack` (the commit).
    pub(crate) ack_latency: Histogram<u64>,
    seen: HashMap<usize, Vec<u64>>,
    pub(crate) error_codes: HashMap<String, u64>,
}

impl Tracker {
    fn new() -> Self {
        Self {
            latency: latency_histogram(),
            ack_latency: latency_histogram(),
            seen: HashMap::new(),
            error_codes: HashMap::new(),
        }
    }

    /// Records one message; false if this receiver had it already.
    fn record(&mut self, sender: usize, seq: u64, latency_micros: u64) -> bool {
        let bits = self.seen.entry(sender).or_default();
        let (word, bit) = (usize::try_from(seq / 64).unwrap_or(usize::MAX), seq % 64);
        if word >= bits.len() {
            bits.resize(word + 1, 0);
        }
        if bits[word] & (1 << bit) != 0 {
            return false;
        }
        bits[word] |= 1 << bit;
        let _ = self.latency.record(latency_micros.max(1));
        true
    }
}

/// 1 µs to 10 min, three significant figures.
pub(crate) fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// Starts one connection's work: its receiver until `stop` turns true, and
/// its sender (if any) until `send_until`.
pub(crate) fn start(
    socket: Socket,
    sending: Option<Sending>,
    clock: Clock,
    send_until: Instant,
    stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
) -> JoinHandle<Tracker> {
    let (mut sink, mut stream) = socket.split();
    let (frames, mut outgoing) = tokio::sync::mpsc::channel::<Frame>(64);
    let sender_counters = Arc::clone(&counters);
    // On the reference server, every member of a room hears the sender's
    // own message too: not a delivery the chat would make.
    let own = sending.as_ref().map(|s| s.sender);
    let acked_on_write = sending.as_ref().is_some_and(|s| s.raw);
    if let Some(sending) = sending {
        tokio::spawn(async move {
            let period = Duration::from_secs_f64(1.0 / sending.rate.max(0.001));
            let start = Instant::now() + period.mul_f64(sending.phase.clamp(0.0, 1.0));
            for seq in 0u64.. {
                let due = start + period.mul_f64(seq as f64);
                if due >= send_until {
                    break;
                }
                tokio::time::sleep_until(due).await;
                let frame = if sending.raw {
                    client::raw_frame(sending.sender, seq, clock.micros(due))
                } else {
                    client::send_frame(
                        &sending.to,
                        sending.group,
                        clock.1,
                        sending.sender,
                        seq,
                        clock.micros(due),
                    )
                };
                if frames.send(frame).await.is_err() {
                    break;
                }
                Counters::add(&sender_counters.sent);
            }
        });
    } else {
        drop(frames);
    }
    tokio::spawn(async move {
        let mut tracker = Tracker::new();
        let mut stop = stop;
        let mut outgoing_open = true;
        loop {
            tokio::select! {
                frame = outgoing.recv(), if outgoing_open => match frame {
                    Some(frame) => {
                        if sink.send(frame).await.is_err() {
                            break;
                        }
                        if acked_on_write {
                            Counters::add(&counters.acked);
                        }
                    }
                    None => outgoing_open = false,
                },
                frame = stream.next() => match frame {
                    Some(Ok(Frame::Text(text))) => match client::parse(&text) {
                        Received::Message { sender, .. } if Some(sender) == own => {}
                        Received::Message { sender, seq, due_micros } => {
                            let latency = clock.micros(Instant::now()).saturating_sub(due_micros);
                            if tracker.record(sender, seq, u64::try_from(latency).unwrap_or(0)) {
                                Counters::add(&counters.received);
                            } else {
                                Counters::add(&counters.duplicates);
                            }
                        }
                        Received::Ack { due_micros } => {
                            Counters::add(&counters.acked);
                            if let Some(due) = due_micros {
                                let latency = clock.micros(Instant::now()).saturating_sub(due);
                                let _ = tracker.ack_latency.record(u64::try_from(latency).unwrap_or(0).max(1));
                            }
                        }
                        Received::Error(code) => {
                            Counters::add(&counters.errors);
                            *tracker.error_codes.entry(code).or_default() += 1;
                        }
                        Received::Other => {}
                    },
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        Counters::add(&counters.errors);
                        *tracker.error_codes.entry("connection_lost".into()).or_default() += 1;
                        break;
                    }
                },
                // Stop is only ever set, once.
                _ = stop.changed() => break,
            }
        }
        let _ = sink.close().await;
        tracker
    })
}
