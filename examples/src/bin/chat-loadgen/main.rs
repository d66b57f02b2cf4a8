//! `chat-loadgen`: a load generator that speaks the public protocol (HTTP
//! signup and login, then WebSockets), so that anyone can reproduce the
//! figures of `docs/benchmarks.md` against any deployment.
//!
//! Scenarios:
//!
//! - `pairs`: P direct-message pairs, one connection per user; every user
//!   sends to its peer, `--rate` messages per second in all.
//! - `fanout`: one sender and N connections of one receiving user (one
//!   person on many devices); every message reaches all N.
//! - `room`: one group of N members, one connection each, M of them
//!   sending to the group; every message reaches the N − 1 others.
//! - `idle`: N connections held open; with `--server-pid`, the server's
//!   memory per connection, read from `/proc`.
//!
//! Sending is open-loop: message k of a sender is due at start + k/rate
//! whatever happened before, and its latency is measured from that due
//! time to its arrival at each receiver (HDR histogram). Every message
//! carries its sender and sequence number, so losses and duplicates are
//! counted exactly. A progress line goes to stderr every second; a table
//! and one JSON line go to stdout at the end.
//!
//! The server's limits must allow the load: see `docs/benchmarks.md` for
//! the flags each scenario needs.
//!
//! With `--target reference`, `fanout`, `pairs` and `room` drive the bare reference
//! broadcast server (`benches/limit-server`) instead: rooms of
//! `ws://host/ws/ROOM` where every text frame goes to every member, no
//! accounts, no storage. A message counts as acknowledged once written.
//! The same clock, histograms and loss counts, so the two can be compared.

mod client;
mod report;
mod run;

use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use futures::StreamExt;
use tokio::sync::watch;
use tokio::time::Instant;

use client::{Server, Socket};
use report::Report;
use run::{Clock, Counters, Sending};

#[derive(Parser)]
#[command(
    version,
    about = "Load generator for the chat server's public protocol"
)]
struct Args {
    /// The server's base URL; give it several times to spread connections
    /// over several servers of one chat (round robin: in `pairs`, the two
    /// users of a pair land on different servers).
    #[arg(long = "url", default_value = "http://127.0.0.1:8080", global = true)]
    urls: Vec<String>,

    /// How long to send, in seconds.
    #[arg(long, default_value_t = 20, global = true)]
    duration: u64,

    /// How long to wait for messages still in flight after sending stops,
    /// in seconds.
    #[arg(long, default_value_t = 10, global = true)]
    drain: u64,

    /// Prefix of the load-test usernames (accounts are reused across runs).
    #[arg(long, default_value = "lg", global = true)]
    users: String,

    /// Connections opened (and accounts signed in) at once while setting up.
    #[arg(long, default_value_t = 64, global = true)]
    setup_concurrency: usize,

    /// What serves the load: the chat server, or the bare reference
    /// broadcast server (`fanout` and `pairs` only).
    #[arg(long, value_enum, default_value_t = Target::Chat, global = true)]
    target: Target,

    #[command(subcommand)]
    scenario: Scenario,
}

/// What serves the load.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Target {
    /// The chat server: accounts, then its WebSocket protocol.
    Chat,
    /// The bare reference broadcast server: rooms, raw text frames.
    Reference,
}

#[derive(Subcommand)]
enum Scenario {
    /// Direct-message pairs, each user sending to its peer.
    Pairs {
        /// Number of pairs (two users and two connections each).
        #[arg(long, default_value_t = 500)]
        pairs: usize,
        /// Messages per second offered, all senders together.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
    },
    /// One sender, N receiving connections of one user.
    Fanout {
        /// Receiving connections.
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        /// Messages per second sent (deliveries per second = rate × N).
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
    },
    /// One group of N members, M of them sending to it.
    Room {
        /// Members, one connection each (the server's
        /// `--max-group-members` must allow them).
        #[arg(long, default_value_t = 1000)]
        members: usize,
        /// How many of them send.
        #[arg(long, default_value_t = 1)]
        senders: usize,
        /// Messages per second, all senders together (deliveries per
        /// second = rate × (members − 1)).
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
    },
    /// Connections held open and idle.
    Idle {
        /// Connections to hold.
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        /// Connections per account (the server's `--ws-sockets-per-user`
        /// must allow it).
        #[arg(long, default_value_t = 16)]
        per_user: usize,
        /// The server's process id, to read its memory from /proc.
        #[arg(long)]
        server_pid: Option<u32>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(report) => match report.print() {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("chat-loadgen: {error}");
                std::process::ExitCode::FAILURE
            }
        },
        Err(message) => {
            eprintln!("chat-loadgen: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<Report, String> {
    let servers = args
        .urls
        .iter()
        .map(|url| Server::new(url))
        .collect::<Result<Vec<_>, _>>()?;
    let server = servers.first().ok_or("no --url")?.clone();
    let reference = args.target == Target::Reference;
    match args.scenario {
        Scenario::Pairs { pairs, rate } => {
            let names: Vec<String> = (0..pairs * 2)
                .map(|i| format!("{}-p{i}", args.users))
                .collect();
            let sockets = if reference {
                let rooms: Vec<String> = (0..pairs * 2)
                    .map(|i| format!("{}-pair{}", args.users, i / 2))
                    .collect();
                join_all(&servers, &rooms, args.setup_concurrency).await?
            } else {
                let tokens = sessions(&server, &names, args.setup_concurrency).await?;
                connect_all(&servers, &tokens, args.setup_concurrency).await?
            };
            let per_sender = rate / (pairs * 2).max(1) as f64;
            let plans = (0..pairs * 2)
                .map(|i| {
                    Some(Sending {
                        to: names[i ^ 1].clone(),
                        group: None,
                        sender: i,
                        rate: per_sender,
                        phase: i as f64 / (pairs * 2) as f64,
                        raw: reference,
                    })
                })
                .collect();
            let mut report = drive(&args, sockets, plans, 1).await.offered(rate);
            report.scenario = format!(
                "pairs: {pairs} pairs, {} connections, {rate} msg/s offered",
                pairs * 2
            );
            Ok(report)
        }
        Scenario::Fanout { connections, rate } => {
            let sender = format!("{}-fan-sender", args.users);
            let receiver = format!("{}-fan-receiver", args.users);
            let sockets = if reference {
                let room = vec![format!("{}-fan", args.users); connections + 1];
                join_all(&servers, &room, args.setup_concurrency).await?
            } else {
                let tokens = sessions(&server, &[sender, receiver.clone()], 2).await?;
                let mut receiving = vec![tokens[1].clone(); connections];
                receiving.insert(0, tokens[0].clone());
                connect_all(&servers, &receiving, args.setup_concurrency).await?
            };
            let mut plans: Vec<Option<Sending>> = (0..=connections).map(|_| None).collect();
            plans[0] = Some(Sending {
                to: receiver,
                group: None,
                sender: 0,
                rate,
                phase: 0.0,
                raw: reference,
            });
            let mut report = drive(&args, sockets, plans, connections as u64)
                .await
                .offered(rate);
            report.scenario =
                format!("fanout: 1 sender, {connections} receiving connections, {rate} msg/s");
            Ok(report)
        }
        Scenario::Room {
            members,
            senders,
            rate,
        } => {
            let members = members.max(2);
            let senders = senders.clamp(1, members);
            let (sockets, group) = if reference {
                let room = vec![format!("{}-room", args.users); members];
                (
                    join_all(&servers, &room, args.setup_concurrency).await?,
                    None,
                )
            } else {
                let names: Vec<String> = (0..members)
                    .map(|i| format!("{}-room{i}", args.users))
                    .collect();
                let tokens = sessions(&server, &names, args.setup_concurrency).await?;
                let group = server.room(&tokens).await?;
                let sockets = connect_all(&servers, &tokens, args.setup_concurrency).await?;
                (sockets, Some(group))
            };
            let per_sender = rate / senders as f64;
            let plans = (0..members)
                .map(|i| {
                    (i < senders).then(|| Sending {
                        to: String::new(),
                        group,
                        sender: i,
                        rate: per_sender,
                        phase: i as f64 / senders as f64,
                        raw: reference,
                    })
                })
                .collect();
            let recipients = members as u64 - 1;
            let mut report = drive(&args, sockets, plans, recipients).await.offered(rate);
            report.scenario =
                format!("room: {members} members, {senders} sending, {rate} msg/s to the group");
            Ok(report)
        }
        Scenario::Idle { .. } if reference => {
            Err("the reference server is measured with fanout, pairs and room only".into())
        }
        Scenario::Idle {
            connections,
            per_user,
            server_pid,
        } => {
            let per_user = per_user.max(1);
            let accounts = connections.div_ceil(per_user);
            let names: Vec<String> = (0..accounts)
                .map(|i| format!("{}-idle{i}", args.users))
                .collect();
            let tokens = sessions(&server, &names, args.setup_concurrency).await?;
            let before = server_pid.map(report::rss_bytes).transpose()?;
            let all: Vec<String> = (0..connections)
                .map(|i| tokens[i / per_user].clone())
                .collect();
            let started = Instant::now();
            let sockets = connect_all(&servers, &all, args.setup_concurrency).await?;
            let setup = started.elapsed();
            let after = server_pid.map(report::rss_bytes).transpose()?;
            let mut report = Report::idle(connections, setup, before, after);
            report.scenario = format!("idle: {connections} connections, {per_user} per account");
            for socket in sockets {
                client::close(socket).await;
            }
            Ok(report)
        }
    }
}

/// A session token for each name, signing up where needed.
/// How many sign-ups and logins run at once: the server hashes at most two
/// passwords per client address at a time, and refuses a third at once.
const SIGN_INS_AT_ONCE: usize = 2;

async fn sessions(
    server: &Server,
    names: &[String],
    concurrency: usize,
) -> Result<Vec<String>, String> {
    eprintln!("signing in {} accounts…", names.len());
    futures::stream::iter(names.iter().map(|name| server.session(name)))
        .buffered(concurrency.clamp(1, SIGN_INS_AT_ONCE))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// One ready WebSocket per token, in order, spread over `servers`.
async fn connect_all(
    servers: &[Server],
    tokens: &[String],
    concurrency: usize,
) -> Result<Vec<Socket>, String> {
    eprintln!("opening {} connections…", tokens.len());
    let count = servers.len().max(1);
    let connecting = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| servers[i % count].connect(token));
    futures::stream::iter(connecting)
        .buffered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// One WebSocket per room name, in order, on the reference server.
async fn join_all(
    servers: &[Server],
    rooms: &[String],
    concurrency: usize,
) -> Result<Vec<Socket>, String> {
    eprintln!(
        "opening {} connections to the reference server…",
        rooms.len()
    );
    let count = servers.len().max(1);
    let joining = rooms
        .iter()
        .enumerate()
        .map(|(i, room)| servers[i % count].join(room));
    futures::stream::iter(joining)
        .buffered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Runs the send phase and the drain, and gathers every receiver's view.
/// `recipients` is how many connections should receive each message.
async fn drive(
    args: &Args,
    sockets: Vec<Socket>,
    plans: Vec<Option<Sending>>,
    recipients: u64,
) -> Report {
    let counters = Arc::new(Counters::default());
    let clock = Clock::start();
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let send_until = started + Duration::from_secs(args.duration);
    let tasks: Vec<_> = sockets
        .into_iter()
        .zip(plans)
        .map(|(socket, plan)| {
            run::start(
                socket,
                plan,
                clock,
                send_until,
                stopped.clone(),
                Arc::clone(&counters),
            )
        })
        .collect();
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    let drain_until = send_until + Duration::from_secs(args.drain);
    loop {
        progress.tick().await;
        let now = Instant::now();
        report::progress(&counters, now.duration_since(started));
        // Settled: every send answered, every acknowledged message delivered.
        let acked = Counters::get(&counters.acked);
        let answered = acked + Counters::get(&counters.errors) >= Counters::get(&counters.sent);
        let settled = answered && Counters::get(&counters.received) >= acked * recipients;
        if now >= drain_until || (now >= send_until && settled) {
            break;
        }
    }
    let sending = started.elapsed().min(Duration::from_secs(args.duration));
    let _ = stop.send(true);
    let mut trackers = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Ok(tracker) = task.await {
            trackers.push(tracker);
        }
    }
    Report::from_run(&counters, trackers, sending, recipients)
}
