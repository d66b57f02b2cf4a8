//! Writes this release's upgrade fixtures (see `chat_test_support::upgrade`):
//!
//! ```text
//! upgrade-fixture sqlite <dir>
//! upgrade-fixture postgres <dir> [admin URL, default: CHAT_TEST_POSTGRES_URL or the local server]
//! ```
//!
//! `<dir>` receives the database (`chat.db`, or `dump.sql` from `pg_dump`),
//! `rows.json` (every row as written) and `answers.json` (the sessions'
//! tokens and what every read answered). `scripts/upgrade-fixture.sh` runs
//! it from a checkout of the release.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chat_core::Store;
use chat_store_postgres::PgStore;
use chat_store_sqlite::SqliteStore;
use chat_test_support::{services, upgrade};
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: upgrade-fixture sqlite|postgres <dir> [admin URL]";
    let (Some(kind), Some(dir)) = (args.get(1), args.get(2)) else {
        panic!("{usage}");
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    match kind.as_str() {
        "sqlite" => sqlite(&dir).await,
        "postgres" => {
            let admin = args.get(3).cloned().unwrap_or_else(services::postgres_url);
            postgres(&dir, &admin).await;
        }
        _ => panic!("{usage}"),
    }
    println!("wrote the {kind} fixture to {}", dir.display());
}

/// Populates `store`, records what it answers; returns the answers file.
async fn scenario(store: Arc<dyn Store>) -> Value {
    let clock = upgrade::clock();
    let chat = upgrade::chat(store, clock.clone());
    let sessions = upgrade::populate(&chat, &clock).await;
    let answers = upgrade::answers(&chat, &sessions).await;
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "now": chat_core::Clock::now(clock.as_ref()).unix_micros(),
        "sessions": sessions,
        "answers": answers,
    })
}

fn write_json(path: &Path, value: &Value) {
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

async fn sqlite(dir: &Path) {
    let file = dir.join("chat.db");
    for stale in ["chat.db", "chat.db-wal", "chat.db-shm"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    let url = format!("sqlite://{}", file.display());
    let store = SqliteStore::open(&url).await.unwrap();
    let answers = scenario(Arc::new(store.clone())).await;
    store.close().await;
    // Fold the WAL into the file, so that the file alone is the database.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .unwrap();
    let rows = upgrade::sqlite_rows(&pool).await;
    pool.close().await;
    for stale in ["chat.db-wal", "chat.db-shm"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    write_json(&dir.join("rows.json"), &rows);
    write_json(&dir.join("answers.json"), &answers);
}

async fn postgres(dir: &Path, admin: &str) {
    let name = format!("chat_fixture_{}", std::process::id());
    let pool = sqlx::PgPool::connect(admin).await.unwrap();
    let create = format!("CREATE DATABASE {name}");
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&pool)
        .await
        .unwrap();
    let url = chat_test_support::postgres::database_url(admin, &name);
    let store = PgStore::open(&url).await.unwrap();
    let answers = scenario(Arc::new(store.clone())).await;
    store.close().await;
    let data = sqlx::PgPool::connect(&url).await.unwrap();
    let rows = upgrade::pg_rows(&data).await;
    data.close().await;
    let dump = std::process::Command::new("pg_dump")
        .args([
            "--no-owner",
            "--no-privileges",
            "--inserts",
            "--dbname",
            &url,
        ])
        .output()
        .expect("pg_dump");
    assert!(
        dump.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    std::fs::write(dir.join("dump.sql"), &dump.stdout).unwrap();
    let drop = format!("DROP DATABASE {name} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&pool)
        .await
        .unwrap();
    write_json(&dir.join("rows.json"), &rows);
    write_json(&dir.join("answers.json"), &answers);
}
