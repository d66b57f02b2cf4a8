//! Redis for tests: key prefixes of their own on the shared server, and a
//! server of a test's own that it can stop and start again.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{WAIT, services, unique};

/// A key prefix no other test uses.
pub fn prefix(name: &str) -> String {
    unique(&format!("chat-test-{name}"))
}

/// Whether a Redis server answers at `url`.
pub async fn answers(url: &str) -> bool {
    let Ok(client) = ::redis::Client::open(url) else {
        return false;
    };
    let attempt = async {
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        ::redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .ok()
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .is_some()
}

/// A `redis-server` of the test's own, on a Unix socket in a directory of
/// its own: no port to pick and lose to another process, and it comes back
/// at the same address after [`PrivateRedis::stop`].
pub struct PrivateRedis {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one, or `None` (skipped) when `redis-server` is not installed.
    pub async fn start() -> Option<Self> {
        if !services::program("redis-server") {
            return None;
        }
        let mut redis = Self {
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        redis.resume().await;
        Some(redis)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    /// Kills the server.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
        let _ = std::fs::remove_file(self.socket());
    }

    /// Starts it again, at the same address, and waits until it answers.
    pub async fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .arg("--port")
            .arg("0")
            .arg("--unixsocket")
            .arg(self.socket())
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let url = self.url();
        let deadline = tokio::time::Instant::now() + WAIT;
        while !answers(&url).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not start at {url}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
