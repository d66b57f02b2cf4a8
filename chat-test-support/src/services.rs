//! The real services the tests talk to, and what happens without them.
//!
//! A test that needs PostgreSQL or Redis asks [`postgres`](fn@postgres) or [`redis`](fn@redis)
//! (or the macros [`require_postgres!`](crate::require_postgres) and
//! [`require_redis!`](crate::require_redis)). When nothing accepts
//! connections at the configured address, the test is skipped, and says so
//! on the terminal (not in the output the test runner captures and hides);
//! with `CHAT_TEST_REQUIRE_SERVICES=1`, as in CI, it fails instead.
//!
//! Only "nothing accepts connections" counts as missing. Whatever goes
//! wrong after connecting (a migration, a query) is the test's failure.

use std::io::Write;
use std::time::Duration;

/// The PostgreSQL server of the tests: `CHAT_TEST_POSTGRES_URL`, by default
/// the local one.
pub fn postgres_url() -> String {
    std::env::var("CHAT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The Redis server of the tests: `CHAT_TEST_REDIS_URL`, by default the
/// local one.
pub fn redis_url() -> String {
    std::env::var("CHAT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Whether a missing service fails the test (CI) instead of skipping it.
pub fn required() -> bool {
    std::env::var("CHAT_TEST_REQUIRE_SERVICES").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The PostgreSQL URL if a server accepts connections there (else the test
/// is skipped or, when required, fails).
pub async fn postgres() -> Option<String> {
    let url = postgres_url();
    available("PostgreSQL", &url, 5432).await.then_some(url)
}

/// The Redis URL if a server accepts connections there (else the test is
/// skipped or, when required, fails).
pub async fn redis() -> Option<String> {
    let url = redis_url();
    available("Redis", &url, 6379).await.then_some(url)
}

/// Whether a program the test needs is installed (else the test is skipped
/// or, when required, fails).
pub fn program(name: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()));
    if !found {
        missing(name, "PATH", "not installed");
    }
    found
}

/// Whether `service` accepts connections at `url`; says why not otherwise.
pub async fn available(service: &str, url: &str, default_port: u16) -> bool {
    match connect(url, default_port).await {
        Ok(()) => true,
        Err(why) => {
            missing(service, url, &why);
            false
        }
    }
}

/// Skips (saying so) or, when services are required, fails.
pub fn missing(service: &str, at: &str, why: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    assert!(
        !required(),
        "{test}: {service} is required (CHAT_TEST_REQUIRE_SERVICES) but not usable at {at}: {why}"
    );
    // Written to the terminal directly: the test runner captures and hides
    // what `eprintln!` prints in a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: no {service} at {at} ({why}); set CHAT_TEST_REQUIRE_SERVICES=1 to fail instead"
    );
}

/// Opens and closes one connection to the server `url` names: TCP to its
/// host and port, or the Unix socket of a `unix` URL or a PostgreSQL
/// `host=/dir` parameter.
async fn connect(url: &str, default_port: u16) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
    let socket_dir = parsed
        .query_pairs()
        .find(|(key, _)| key == "host")
        .map(|(_, dir)| dir.into_owned())
        .filter(|dir| dir.starts_with('/'));
    let port = parsed.port().unwrap_or(default_port);
    let attempt = async {
        if parsed.scheme().contains("unix") {
            tokio::net::UnixStream::connect(parsed.path())
                .await
                .map(drop)
        } else if let Some(dir) = socket_dir {
            tokio::net::UnixStream::connect(format!("{dir}/.s.PGSQL.{port}"))
                .await
                .map(drop)
        } else {
            let host = parsed.host_str().unwrap_or("127.0.0.1");
            tokio::net::TcpStream::connect((host, port)).await.map(drop)
        }
    };
    match tokio::time::timeout(Duration::from_secs(3), attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("no answer within 3 s".into()),
    }
}

/// The PostgreSQL URL, or returns from the test (skipped) when no server
/// answers.
#[macro_export]
macro_rules! require_postgres {
    () => {
        match $crate::services::postgres().await {
            Some(url) => url,
            None => return,
        }
    };
}

/// The Redis URL, or returns from the test (skipped) when no server
/// answers.
#[macro_export]
macro_rules! require_redis {
    () => {
        match $crate::services::redis().await {
            Some(url) => url,
            None => return,
        }
    };
}
