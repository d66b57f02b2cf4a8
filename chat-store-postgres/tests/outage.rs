//! PostgreSQL going away and coming back: calls fail fast as unavailable,
//! nothing acknowledged is lost, and the store recovers by itself.
//!
//! The test runs its own PostgreSQL server (initdb + pg_ctl), listening only
//! on a Unix socket in its own directory (no port to pick, or to lose to
//! another process between a stop and a start), as the postgres user when
//! run as root.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::testkit::Harness;
use chat_core::{ChatError, HistoryQuery, Store};
use chat_store_postgres::{PgOptions, PgStore};

/// The directory of PostgreSQL's server programs, if installed.
fn bin_dir() -> Option<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|v| v.join("bin"))
        .find(|bin| bin.join("pg_ctl").exists())
}

struct Server {
    bin: PathBuf,
    data: PathBuf,
}

fn as_postgres(program: &Path) -> Command {
    let is_root = std::env::var("USER").is_ok_and(|u| u == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if is_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl Server {
    fn start(&self) {
        let status = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-l"])
            .arg(self.data.join("log"))
            .arg("-o")
            .arg(format!("-k {} -c listen_addresses=''", self.data.display()))
            .arg("start")
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl start failed");
    }

    fn stop(&self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .status();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_unavailable_then_heals_without_losing_acknowledged_messages() {
    let Some(bin) = bin_dir() else {
        chat_test_support::services::missing(
            "PostgreSQL server programs",
            "/usr/lib/postgresql",
            "not installed",
        );
        return;
    };
    let data = std::env::temp_dir().join(format!("chat-pg-outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    let _ = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(&data)
        .status();
    let init = as_postgres(&bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "-D"])
        .arg(data.join("db"))
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let server = Server {
        bin,
        data: data.join("db"),
    };
    server.start();

    let url = format!(
        "postgres:///postgres?user=postgres&host={}",
        server.data.display()
    );
    let store = PgStore::open_with(PgOptions::new(&url).acquire_timeout(Duration::from_secs(2)))
        .await
        .unwrap();
    let h = Harness::new(Arc::new(store) as Arc<dyn Store>);
    let alice = h.user("alice").await;
    h.signup("bob").await;
    let mut acknowledged = Vec::new();
    for n in 0..5 {
        acknowledged.push(h.send(&alice, "bob", &format!("before {n}")).await.id());
    }

    server.stop();
    let started = Instant::now();
    let failed = h.chat.send(&alice, "bob", "during".into(), None).await;
    assert!(
        matches!(failed, Err(ChatError::Unavailable { .. })),
        "{failed:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "failing took {:?}",
        started.elapsed()
    );
    let read = h
        .chat
        .history(&alice, "bob", &HistoryQuery::default())
        .await;
    assert!(
        matches!(read, Err(ChatError::Unavailable { .. })),
        "{read:?}"
    );

    server.start();
    // The pool reconnects by itself: retry until it does, bounded.
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        match h.chat.send(&alice, "bob", "after".into(), None).await {
            Ok(sent) => break sent.message,
            Err(ChatError::Unavailable { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(other) => panic!("the store did not recover: {other:?}"),
        }
    };
    let history = h
        .chat
        .history(&alice, "bob", &HistoryQuery::default())
        .await
        .unwrap();
    let ids: Vec<_> = history.items.iter().map(|m| m.id()).collect();
    for id in &acknowledged {
        assert!(ids.contains(id), "acknowledged message {id} was lost");
    }
    assert_eq!(ids.last(), Some(&after.id()));
    assert!(!history.items.iter().any(|m| m.text().as_str() == "during"));
}
