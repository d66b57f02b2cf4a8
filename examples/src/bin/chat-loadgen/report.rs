//! The end of a run: a table for people, one JSON line for scripts, and the
//! progress line while it runs.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::run::{Counters, Tracker, latency_histogram};

/// What a run measured.
pub(crate) struct Report {
    pub(crate) scenario: String,
    rows: Vec<(&'static str, String)>,
    json: serde_json::Value,
}

impl Report {
    /// The report of a sending scenario.
    pub(crate) fn from_run(
        counters: &Counters,
        trackers: Vec<Tracker>,
        sending: Duration,
        recipients: u64,
    ) -> Self {
        let mut latency = latency_histogram();
        let mut ack_latency = latency_histogram();
        let mut errors: HashMap<String, u64> = HashMap::new();
        for tracker in trackers {
            let _ = latency.add(&tracker.latency);
            let _ = ack_latency.add(&tracker.ack_latency);
            for (code, n) in tracker.error_codes {
                *errors.entry(code).or_default() += n;
            }
        }
        let sent = Counters::get(&counters.sent);
        let acked = Counters::get(&counters.acked);
        let received = Counters::get(&counters.received);
        let duplicates = Counters::get(&counters.duplicates);
        let expected = acked * recipients;
        let lost = expected.saturating_sub(received);
        let seconds = sending.as_secs_f64().max(f64::EPSILON);
        let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
        let ack_ms = |q: f64| ack_latency.value_at_quantile(q) as f64 / 1000.0;
        let rows = vec![
            ("sent", format!("{sent} ({:.0}/s)", sent as f64 / seconds)),
            (
                "acknowledged",
                format!("{acked} ({:.0}/s)", acked as f64 / seconds),
            ),
            (
                "delivered",
                format!("{received} ({:.0}/s)", received as f64 / seconds),
            ),
            ("lost", lost.to_string()),
            ("duplicated", duplicates.to_string()),
            ("errors", format!("{errors:?}")),
            ("latency p50", format!("{:.2} ms", ms(0.5))),
            ("latency p90", format!("{:.2} ms", ms(0.9))),
            ("latency p99", format!("{:.2} ms", ms(0.99))),
            (
                "latency max",
                format!("{:.2} ms", latency.max() as f64 / 1000.0),
            ),
            (
                "ack latency p50/p99",
                format!("{:.2} / {:.2} ms", ack_ms(0.5), ack_ms(0.99)),
            ),
        ];
        let json = json!({
            "seconds": seconds,
            "sent": sent,
            "acked": acked,
            "delivered": received,
            "delivered_per_second": received as f64 / seconds,
            "acked_per_second": acked as f64 / seconds,
            "lost": lost,
            "duplicated": duplicates,
            "errors": errors,
            "latency_ms": {"p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "max": latency.max() as f64 / 1000.0},
            "ack_latency_ms": {"p50": ack_ms(0.5), "p90": ack_ms(0.9), "p99": ack_ms(0.99), "max": ack_latency.max() as f64 / 1000.0},
        });
        Self {
            scenario: String::new(),
            rows,
            json,
        }
    }

    /// The report of the idle scenario.
    pub(crate) fn idle(
        connections: usize,
        setup: Duration,
        before: Option<u64>,
        after: Option<u64>,
    ) -> Self {
        let per_connection = match (before, after) {
            (Some(before), Some(after)) if connections > 0 => {
                Some(after.saturating_sub(before) / connections as u64)
            }
            _ => None,
        };
        let kib = |bytes: Option<u64>| {
            bytes.map_or("n/a".to_owned(), |b| {
                format!("{:.1} KiB", b as f64 / 1024.0)
            })
        };
        let rows = vec![
            ("connections", connections.to_string()),
            ("setup", format!("{:.1} s", setup.as_secs_f64())),
            ("server RSS before", kib(before)),
            ("server RSS after", kib(after)),
            ("server RSS per connection", kib(per_connection)),
        ];
        let json = json!({
            "connections": connections,
            "setup_seconds": setup.as_secs_f64(),
            "rss_before_bytes": before,
            "rss_after_bytes": after,
            "rss_per_connection_bytes": per_connection,
        });
        Self {
            scenario: String::new(),
            rows,
            json,
        }
    }

    /// Records the offered rate (messages per second).
    pub(crate) fn offered(mut self, rate: f64) -> Self {
        self.json["offered_per_second"] = rate.into();
        self
    }

    /// Prints the table, then the JSON line.
    pub(crate) fn print(&self) -> std::io::Result<()> {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", self.scenario)?;
        for (name, value) in &self.rows {
            writeln!(out, "  {name:<26} {value}")?;
        }
        let mut json = self.json.clone();
        json["scenario"] = self.scenario.clone().into();
        writeln!(out, "{json}")
    }
}

/// The progress line.
pub(crate) fn progress(counters: &Counters, elapsed: Duration) {
    eprintln!(
        "{:>5.1}s sent {} acked {} delivered {} duplicated {} errors {}",
        elapsed.as_secs_f64(),
        Counters::get(&counters.sent),
        Counters::get(&counters.acked),
        Counters::get(&counters.received),
        Counters::get(&counters.duplicates),
        Counters::get(&counters.errors),
    );
}

/// The resident memory of process `pid`, from /proc.
pub(crate) fn rss_bytes(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| format!("no VmRSS for process {pid}"))
}
