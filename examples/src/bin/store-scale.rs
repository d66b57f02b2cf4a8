//! Scale check of a store: loads synthetic data (by default 2 000 users,
//! 10 000 conversations, 1 000 000 messages) into an empty database, prints
//! the plans of the hot queries, then times them through the `Chat` API.
//!
//! ```sh
//! cargo run --release -p examples --bin store-scale -- --database-url sqlite:///tmp/scale.db
//! cargo run --release -p examples --bin store-scale -- --database-url postgres://postgres@127.0.0.1/chat_scale
//! ```

#![allow(clippy::print_stdout)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::{
    Argon2Hasher, Chat, ConversationQuery, GovernorLimiter, HistoryQuery, MessageId, PageLimit,
    Password, PasswordHasher, Rate, RateLimits, SearchPattern, Store,
};
use chat_store_postgres::PgStore;
use chat_store_sqlite::SqliteStore;
use clap::Parser;

/// Loads synthetic data into an empty store and times its hot queries.
#[derive(Debug, Parser)]
struct Args {
    /// An empty database: `sqlite:///path/scale.db` or `postgres://…`.
    #[arg(long)]
    database_url: String,
    /// Users; each has five conversations.
    #[arg(long, default_value_t = 2000)]
    users: i64,
    /// Messages per conversation.
    #[arg(long, default_value_t = 100)]
    per_conversation: i64,
    /// Timed runs of each query.
    #[arg(long, default_value_t = 100)]
    samples: usize,
}

const PASSWORD: &str = "scale test password";

enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let backend = if args.database_url.starts_with("sqlite:") {
        Backend::Sqlite(SqliteStore::open(&args.database_url).await?)
    } else {
        Backend::Postgres(PgStore::open(&args.database_url).await?)
    };
    let hasher = Argon2Hasher::with_params(8, 1, 1)?;
    let hash = hasher.hash(&Password::parse(PASSWORD)?).await?;
    let conversations = args.users * 5;
    let messages = conversations * args.per_conversation;
    println!(
        "loading {} users, {conversations} conversations, {messages} messages…",
        args.users
    );
    let started = Instant::now();
    let store: Arc<dyn Store> = match &backend {
        Backend::Sqlite(s) => {
            s.load_synthetic(args.users, args.per_conversation, hash.as_str())
                .await?;
            Arc::new(s.clone())
        }
        Backend::Postgres(s) => {
            s.load_synthetic(args.users, args.per_conversation, hash.as_str())
                .await?;
            Arc::new(s.clone())
        }
    };
    println!("loaded in {:.1} s\n", started.elapsed().as_secs_f64());

    let limits = RateLimits::all(Rate::new(1_000_000, Duration::from_micros(1)));
    let chat = Chat::builder(store)
        .hasher(Arc::new(hasher))
        .limiter(Arc::new(GovernorLimiter::new(limits)))
        .build();
    let me = chat.login("user1", PASSWORD.into(), "scale").await?.session;
    // A conversation of one message, beside the million: what a search in
    // it costs must not depend on the rest of the store.
    let form = chat_core::SignupForm {
        email: "loner@example.test".into(),
        username: "loner".into(),
        password: PASSWORD.into(),
        confirm_password: PASSWORD.into(),
    };
    chat.signup(form, "scale").await?;
    chat.send(&me, "loner", "one message about a needle".into(), None)
        .await?;
    let page = chat.history(&me, "user2", &HistoryQuery::default()).await?;
    let conversation = page.items.first().map_or(0, |m| m.conversation().get());
    let middle = MessageId::new(messages / 2);

    let plans = match &backend {
        Backend::Sqlite(s) => {
            s.explain_hot_queries(me.user().id().get(), conversation)
                .await?
        }
        Backend::Postgres(s) => {
            s.explain_hot_queries(me.user().id().get(), conversation)
                .await?
        }
    };
    for (name, plan) in plans {
        println!("-- {name}\n{plan}\n");
    }

    let search = |term: &str| HistoryQuery {
        search: SearchPattern::parse(term).ok(),
        ..HistoryQuery::default()
    };
    let (latest, needle, short) = (HistoryQuery::default(), search("needle"), search("ab"));
    let recent = ConversationQuery::default();
    println!("| query | median | p90 |\n|---|---:|---:|");
    time("history, newest 50", args.samples, || {
        chat.history(&me, "user2", &latest)
    })
    .await?;
    time("search \"needle\" (trigram index)", args.samples, || {
        chat.history(&me, "user2", &needle)
    })
    .await?;
    time("search \"ab\" (two letters)", args.samples, || {
        chat.history(&me, "user2", &short)
    })
    .await?;
    let (common, rare) = (search("message"), search("needle"));
    time(
        "one-message conversation, search \"message\" (in every message of the store)",
        args.samples,
        || chat.history(&me, "loner", &common),
    )
    .await?;
    time(
        "one-message conversation, search \"needle\" (in one message in a thousand)",
        args.samples,
        || chat.history(&me, "loner", &rare),
    )
    .await?;
    time(
        "100-message conversation, search \"message\" (in every message of the store)",
        args.samples,
        || chat.history(&me, "user2", &common),
    )
    .await?;
    time("conversations with unread counts", args.samples, || {
        chat.conversations(&me, &recent)
    })
    .await?;
    time(
        "recovery (changes since), 200 messages",
        args.samples,
        || chat.changes(&me, middle.into(), PageLimit::LARGEST),
    )
    .await?;
    time("send (one sender)", args.samples, || {
        chat.send(&me, "user2", "a timed message".into(), None)
    })
    .await?;
    Ok(())
}

async fn time<T, F, Fut>(name: &str, samples: usize, mut run: F) -> chat_core::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = chat_core::Result<T>>,
{
    run().await?;
    let mut took = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        run().await?;
        took.push(started.elapsed());
    }
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    println!("| {name} | {:.2} ms | {:.2} ms |", ms(at(0.5)), ms(at(0.9)));
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
