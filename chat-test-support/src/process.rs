//! The reference `chat-server` binary as a child process: started with
//! flags, found by the address it prints, its log kept, stopped by signal.

use std::ops::Deref;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::{Client, WAIT};

/// Flags that lift the limits a test does not mean to meet.
pub const GENEROUS: [&str; 8] = [
    "--send-rate",
    "10000",
    "--login-burst",
    "10000",
    "--login-client-burst",
    "10000",
    "--signup-burst",
    "10000",
];

/// A running `chat-server`. Derefs to its [`Client`]; killed when dropped.
pub struct ServerProcess {
    /// Talks to it (`base` is `https://…` when it serves TLS).
    pub client: Client,
    child: Child,
    /// Every line it logged so far; bumped on each.
    log: watch::Receiver<Vec<String>>,
    /// Reads the log until the process closes it.
    reader: tokio::task::JoinHandle<()>,
}

impl ServerProcess {
    /// Starts `binary` with [`GENEROUS`] limits and `args` on a free
    /// loopback port, and waits until it says where it listens.
    pub async fn start(binary: &str, args: &[&str]) -> Self {
        let mut all: Vec<&str> = vec!["--listen", "127.0.0.1:0"];
        all.extend(GENEROUS);
        all.extend(args);
        Self::spawn(binary, None, &all).await
    }

    /// The process's resident memory, in bytes (`VmRSS` of `/proc`).
    ///
    /// # Panics
    /// If the process is gone or `/proc` cannot be read.
    pub fn resident_bytes(&self) -> u64 {
        let pid = self.child.id().expect("the server is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status");
        kib * 1024
    }

    /// Starts `binary` with exactly `args`, in `dir` when given, and waits
    /// until it says where it listens.
    pub async fn spawn(binary: &str, dir: Option<&Path>, args: &[&str]) -> Self {
        let mut command = Command::new(binary);
        command
            .args(args)
            .env_remove("CHAT_DATABASE_URL")
            .env_remove("CHAT_LISTEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let mut child = command.spawn().unwrap();
        let (sender, log) = watch::channel(Vec::new());
        let mut reader = BufReader::new(child.stderr.take().unwrap()).lines();
        // Keep draining the log so the server never blocks on it.
        let reader = tokio::spawn(async move {
            while let Ok(Some(line)) = reader.next_line().await {
                sender.send_modify(|lines| lines.push(line));
            }
        });
        let mut server = Self {
            client: Client::new("0.0.0.0:0"),
            child,
            log,
            reader,
        };
        let line = server.wait_for_log("; open http").await;
        let url = line
            .split("open ")
            .nth(1)
            .unwrap()
            .trim()
            .trim_end_matches('/');
        let host = url.split("://").nth(1).unwrap();
        server.client = Client::new(host);
        server.client.base = url.to_owned();
        server
    }

    /// The first log line containing `needle`, waiting (bounded) for it.
    ///
    /// # Panics
    /// If the server exits or nothing matches within [`WAIT`].
    pub async fn wait_for_log(&mut self, needle: &str) -> String {
        let found = tokio::time::timeout(
            WAIT,
            self.log
                .wait_for(|lines| lines.iter().any(|l| l.contains(needle))),
        )
        .await
        .is_ok_and(|seen| seen.is_ok());
        let lines = self.log.borrow().clone();
        match found {
            true => lines
                .into_iter()
                .find(|l| l.contains(needle))
                .unwrap_or_default(),
            false => panic!(
                "chat-server never logged {needle:?}; its log:\n{}",
                lines.join("\n")
            ),
        }
    }

    /// Every line logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.borrow().clone()
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit; its exit
    /// status and its whole log.
    pub async fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().expect("the server is running").to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(status.success(), "kill -TERM {pid} failed");
        let exit = tokio::time::timeout(WAIT * 2, self.child.wait())
            .await
            .expect("chat-server did not stop after SIGTERM")
            .unwrap();
        tokio::time::timeout(WAIT, &mut self.reader)
            .await
            .expect("the log did not end with the process")
            .unwrap();
        (exit, self.log())
    }
}

impl Deref for ServerProcess {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}
