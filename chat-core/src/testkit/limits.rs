//! The rate-limiter suite: what every [`RateLimiter`] backend does, called
//! directly on a limiter with [`suite_limits`]; and scenarios of the
//! service's login limits over any limiter (run by the service suite on
//! the in-process limiter, and by the Redis crate on its own), given a
//! harness whose limiter enforces the [`RateLimits`] passed alongside.

use std::sync::Arc;
use std::time::Duration;

use crate::testkit::harness::{Harness, PASSWORD};
use crate::{Action, ChatError, Client, Rate, RateLimiter, RateLimits};

/// The limits a limiter under the suite enforces: small bursts and long
/// periods, so that no case depends on how fast it runs.
pub fn suite_limits() -> RateLimits {
    RateLimits {
        login_per_username: Rate::new(3, Duration::from_secs(3600)),
        send_per_user: Rate::new(2, Duration::from_secs(3600)),
        ..super::harness::generous_limits()
    }
}

/// A key may take its burst, then waits about a period; other keys and
/// other actions are not touched by it, and refused attempts spend nothing.
pub async fn the_burst_passes_then_the_key_waits(limiter: Arc<dyn RateLimiter>) {
    for _ in 0..3 {
        limiter
            .check(Action::LoginPerUsername, "alice")
            .await
            .unwrap();
    }
    for _ in 0..5 {
        match limiter.check(Action::LoginPerUsername, "alice").await {
            Err(ChatError::RateLimited { retry_after }) => assert!(
                retry_after > Duration::ZERO && retry_after <= Duration::from_secs(3600),
                "{retry_after:?}"
            ),
            other => panic!("past the burst: {other:?}"),
        }
    }
    for _ in 0..3 {
        limiter
            .check(Action::LoginPerUsername, "bob")
            .await
            .unwrap();
    }
    for _ in 0..2 {
        limiter.check(Action::SendPerUser, "alice").await.unwrap();
    }
    assert!(matches!(
        limiter.check(Action::SendPerUser, "alice").await,
        Err(ChatError::RateLimited { .. })
    ));
}

fn refused(result: crate::Result<crate::Login>) -> bool {
    matches!(result, Err(ChatError::RateLimited { .. }))
}

fn wrong(result: crate::Result<crate::Login>) -> bool {
    matches!(result, Err(ChatError::InvalidCredentials))
}

/// Someone else's failed guesses at an account, from clients it does not
/// know, spend the account's shared login limit; a device of the owner's
/// that logged in before still gets in, and a device's own failures count
/// against that device alone. A device token helps only the account it was
/// issued for, and a forged one not at all. (Each client below is in a
/// network of its own, so that only the limits under test apply.)
pub async fn a_known_device_logs_in_while_its_account_is_under_attack(
    h: &Harness,
    limits: &RateLimits,
) {
    h.signup("alice").await;
    h.signup("bob").await;
    let home = h
        .chat
        .login("alice", PASSWORD.into(), Client::new("10.0.1.1"))
        .await
        .unwrap();
    let laptop = h
        .chat
        .login("alice", PASSWORD.into(), Client::new("10.0.2.1"))
        .await
        .unwrap();
    // The attack: wrong passwords from addresses all over the place.
    let attempts = limits.login_per_username.burst.saturating_sub(2);
    for n in 0..attempts {
        let attacker = Client::new(format!("10.1.{n}.1").as_str());
        assert!(wrong(
            h.chat.login("alice", "guess".repeat(3), attacker).await
        ));
    }
    let stranger = Client::new("10.2.0.1");
    assert!(
        refused(h.chat.login("alice", PASSWORD.into(), stranger).await),
        "an unknown client meets the account's spent limit, even with the password"
    );
    // The owner's devices are not locked out.
    let device = Client::new("10.3.0.1").with_device(home.device.expose());
    let again = h
        .chat
        .login("alice", PASSWORD.into(), device)
        .await
        .unwrap();
    // A device that guesses wrong spends its own limit only.
    for _ in 0..limits.login_per_device.burst {
        let guessing = Client::new("10.4.0.1").with_device(again.device.expose());
        assert!(wrong(
            h.chat
                .login("alice", "not it at all".into(), guessing)
                .await
        ));
    }
    let guessing = Client::new("10.4.0.1").with_device(again.device.expose());
    assert!(refused(
        h.chat.login("alice", PASSWORD.into(), guessing).await
    ));
    let other = Client::new("10.5.0.1").with_device(laptop.device.expose());
    h.chat.login("alice", PASSWORD.into(), other).await.unwrap();
    // Alice's token is no key to bob's account; a forged token is none.
    for n in 0..limits.login_per_username.burst {
        let attacker = Client::new(format!("10.6.{n}.1").as_str());
        assert!(wrong(
            h.chat.login("bob", "guess".repeat(3), attacker).await
        ));
    }
    let borrowed = Client::new("10.7.0.1").with_device(home.device.expose());
    assert!(refused(
        h.chat.login("bob", PASSWORD.into(), borrowed).await
    ));
    let forged = Client::new("10.8.0.1").with_device(format!("{}x", home.device.expose()));
    assert!(refused(
        h.chat.login("alice", PASSWORD.into(), forged).await
    ));
}

/// Login attempts count per client address and per network as well: the
/// /64s of one IPv6 /48 (or the addresses of one IPv4 /24) share the
/// network's limit.
pub async fn login_attempts_count_per_network(h: &Harness, limits: &RateLimits) {
    h.signup("alice").await;
    let network = limits.login_per_network.burst;
    for n in 0..network {
        let address = format!("2001:db8:7:{:x}::1", n + 1);
        let name = format!("nobody{n}");
        assert!(wrong(
            h.chat
                .login(&name, "a wrong password".into(), address.as_str())
                .await
        ));
    }
    let neighbour = Client::new("2001:db8:7:ffff::1");
    assert!(refused(
        h.chat.login("alice", PASSWORD.into(), neighbour).await
    ));
    let elsewhere = Client::new("2001:db8:8::1");
    h.chat
        .login("alice", PASSWORD.into(), elsewhere)
        .await
        .unwrap();
}

/// A key allowed once per period waits for the rest of it; other keys and
/// other periods are counted apart.
pub async fn once_per_period_then_the_key_waits(limiter: Arc<dyn RateLimiter>) {
    let hour = Duration::from_secs(3600);
    limiter.check_every("group-1:alice", hour).await.unwrap();
    match limiter.check_every("group-1:alice", hour).await {
        Err(ChatError::RateLimited { retry_after }) => assert!(
            retry_after > Duration::from_secs(3000) && retry_after <= hour,
            "{retry_after:?}"
        ),
        other => panic!("within the period: {other:?}"),
    }
    limiter.check_every("group-1:bob", hour).await.unwrap();
    limiter
        .check_every("group-1:alice", 2 * hour)
        .await
        .unwrap();
    // The actions' own counts are another matter.
    limiter
        .check(Action::SendPerUser, "group-1:alice")
        .await
        .unwrap();
}
