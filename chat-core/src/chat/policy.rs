//! Consulting the host's policy: bounded in time, with a chosen answer
//! when it fails, and measured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::warn;

use super::Chat;
use crate::domain::MessageText;
use crate::error::{ChatError, Result};
use crate::ports::{Proposal, Verdict};

/// What a failed or late policy call means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PolicyFailure {
    /// Refuse the action (`503 unavailable`): fail closed, the default.
    #[default]
    Refuse,
    /// Allow it, with a warning in the log: fail open.
    Allow,
}

/// How a policy call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyOutcome {
    /// Allowed as asked.
    Allowed,
    /// Allowed with another text.
    Rewritten,
    /// Refused by the policy.
    Refused,
    /// The policy failed or did not answer in time.
    Failed,
}

/// Told of every policy call: how long it took and how it ended (a
/// transport's metrics, see [`Chat::observe_policy`]).
pub type PolicyObserver = Arc<dyn Fn(Duration, PolicyOutcome) + Send + Sync>;

/// The longest refusal reason passed on to the user, in characters.
const MAX_REASON: usize = 200;

impl Chat {
    /// Has `observer` told of every policy call from now on. One observer
    /// per service: `false` (and nothing changes) if one is set already.
    pub fn observe_policy(&self, observer: PolicyObserver) -> bool {
        self.inner.policy_observer.set(observer).is_ok()
    }

    /// Puts `proposal` to the policy. `Ok(Some(text))`: a send goes with
    /// `text` instead.
    ///
    /// # Errors
    /// [`ChatError::Refused`] when the policy refuses;
    /// [`ChatError::Unavailable`] when it fails or is late and the
    /// configuration says to refuse then.
    pub(super) async fn consult(&self, proposal: Proposal<'_>) -> Result<Option<MessageText>> {
        let config = &self.inner.config;
        let started = Instant::now();
        let decided =
            tokio::time::timeout(config.policy_timeout, self.inner.policy.decide(&proposal)).await;
        let (outcome, answer) = match decided {
            Ok(Ok(Verdict::Allow)) => (PolicyOutcome::Allowed, Ok(None)),
            Ok(Ok(Verdict::Rewrite { text })) => (PolicyOutcome::Rewritten, Ok(Some(text))),
            Ok(Ok(Verdict::Refuse { reason })) => {
                let reason: String = reason.chars().take(MAX_REASON).collect();
                (PolicyOutcome::Refused, Err(ChatError::Refused { reason }))
            }
            Ok(Err(error)) => (PolicyOutcome::Failed, self.failed(error.to_string())),
            Err(_) => (
                PolicyOutcome::Failed,
                self.failed(format!("no answer within {:?}", config.policy_timeout)),
            ),
        };
        if let Some(observer) = self.inner.policy_observer.get() {
            observer(started.elapsed(), outcome);
        }
        answer
    }

    fn failed(&self, why: String) -> Result<Option<MessageText>> {
        match self.inner.config.policy_failure {
            PolicyFailure::Refuse => {
                warn!(why, "the policy failed: the action is refused");
                Err(ChatError::unavailable(format!("the policy failed: {why}")))
            }
            PolicyFailure::Allow => {
                warn!(why, "the policy failed: the action is allowed");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::ports::{HistoryQuery, Policy};
    use crate::testkit::Harness;
    use crate::{ChatConfig, GroupForm, MemoryStore};

    /// Refuses sends with "spam", masks "darn", refuses groups titled
    /// "secret" and adds of "mallory"; records every proposal it sees.
    #[derive(Default)]
    struct HostRules {
        seen: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Policy for HostRules {
        async fn decide(&self, proposal: &Proposal<'_>) -> Result<Verdict> {
            let (seen, verdict) = match proposal {
                Proposal::Send { from, to, text, .. } => {
                    let to = to.map_or("group", |u| u.username().as_str());
                    let verdict = if text.as_str().contains("spam") {
                        Verdict::Refuse {
                            reason: "no spam here".into(),
                        }
                    } else if text.as_str().contains("darn") {
                        Verdict::Rewrite {
                            text: MessageText::parse(text.as_str().replace("darn", "d**n"))?,
                        }
                    } else {
                        Verdict::Allow
                    };
                    (format!("send {} -> {to}", from.username()), verdict)
                }
                Proposal::Edit { from, text, .. } => (
                    format!("edit by {}", from.username()),
                    if text.as_str().contains("spam") {
                        Verdict::Refuse {
                            reason: "no spam here".into(),
                        }
                    } else {
                        Verdict::Allow
                    },
                ),
                Proposal::CreateGroup { title, members, .. } => (
                    format!("create {} with {}", title, members.len()),
                    if title.as_str() == "secret" {
                        Verdict::Refuse {
                            reason: "x".repeat(500),
                        }
                    } else {
                        Verdict::Allow
                    },
                ),
                Proposal::AddMember { user, .. } => (
                    format!("add {}", user.username()),
                    if user.username().as_str() == "mallory" {
                        Verdict::Refuse {
                            reason: "not mallory".into(),
                        }
                    } else {
                        Verdict::Allow
                    },
                ),
            };
            self.seen.lock().unwrap().push(seen);
            Ok(verdict)
        }
    }

    #[tokio::test]
    async fn the_host_refuses_rewrites_and_allows_before_anything_is_written() {
        let rules = Arc::new(HostRules::default());
        let store = Arc::new(MemoryStore::new());
        let h = Harness::with_policy(store.clone(), rules.clone(), ChatConfig::default());
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let heard = outcomes.clone();
        assert!(h.chat.observe_policy(Arc::new(move |_, outcome| {
            heard.lock().unwrap().push(outcome);
        })));
        assert!(!h.chat.observe_policy(Arc::new(|_, _| {})), "one observer");
        let alice = h.user("alice").await;
        let bob = h.user("bob").await;
        h.user("mallory").await;
        let refused = h
            .chat
            .send(&alice, "bob", "buy spam".into(), Some("c-1".into()))
            .await;
        assert!(
            matches!(&refused, Err(ChatError::Refused { reason }) if reason == "no spam here"),
            "{refused:?}"
        );
        // A first message refused leaves no conversation behind.
        use crate::ports::ConversationStore;
        assert_eq!(
            store
                .find_direct_conversation(alice.user().id(), bob.user().id())
                .await
                .unwrap(),
            None
        );
        let sent = h
            .chat
            .send(&alice, "bob", "oh darn".into(), None)
            .await
            .unwrap();
        assert_eq!(sent.message.text().as_str(), "oh d**n");
        h.send(&bob, "alice", "hi").await;
        let page = h
            .chat
            .history(&bob, "alice", &HistoryQuery::default())
            .await
            .unwrap();
        let texts: Vec<&str> = page.items.iter().map(|m| m.text().as_str()).collect();
        assert_eq!(texts, ["oh d**n", "hi"], "the refused send wrote nothing");
        // Groups: a refused creation writes nothing; the reason is bounded.
        let form = |title: &str| GroupForm {
            title: title.into(),
            members: vec!["bob".into()],
            ..GroupForm::default()
        };
        let secret = h.chat.create_group(&alice, form("secret")).await;
        assert!(
            matches!(&secret, Err(ChatError::Refused { reason }) if reason.len() == MAX_REASON)
        );
        let group = h.chat.create_group(&alice, form("open")).await.unwrap();
        assert!(matches!(
            h.chat.add_member(&alice, group.id, "mallory").await,
            Err(ChatError::Refused { .. })
        ));
        // Adds the caller may not make never reach the host.
        assert!(matches!(
            h.chat.add_member(&bob, group.id, "mallory").await,
            Err(ChatError::Forbidden)
        ));
        let spam = h
            .chat
            .send_to_group(&bob, group.id, "spam for all".into(), None)
            .await;
        assert!(matches!(spam, Err(ChatError::Refused { .. })));
        assert_eq!(
            *rules.seen.lock().unwrap(),
            [
                "send alice -> bob",
                "send alice -> bob",
                "send bob -> alice",
                "create secret with 1",
                "create open with 1",
                "add mallory",
                "send bob -> group",
            ]
        );
        use PolicyOutcome::*;
        assert_eq!(
            *outcomes.lock().unwrap(),
            [
                Refused, Rewritten, Allowed, Refused, Allowed, Refused, Refused
            ]
        );
    }

    /// Never answers.
    struct Stuck;

    #[async_trait]
    impl Policy for Stuck {
        async fn decide(&self, _: &Proposal<'_>) -> Result<Verdict> {
            std::future::pending().await
        }
    }

    /// Its own dependency is down.
    struct Broken;

    #[async_trait]
    impl Policy for Broken {
        async fn decide(&self, _: &Proposal<'_>) -> Result<Verdict> {
            Err(ChatError::unavailable("the host's rules service is down"))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_or_late_policy_refuses_or_allows_as_configured() {
        for (policy, failure) in [
            (Arc::new(Stuck) as Arc<dyn Policy>, PolicyFailure::Refuse),
            (Arc::new(Stuck), PolicyFailure::Allow),
            (Arc::new(Broken), PolicyFailure::Refuse),
            (Arc::new(Broken), PolicyFailure::Allow),
        ] {
            let config =
                ChatConfig::default().with_policy_limits(Duration::from_millis(300), failure);
            let h = Harness::with_policy(Arc::new(MemoryStore::new()), policy, config);
            let alice = h.user("alice").await;
            h.user("bob").await;
            let sent = h.chat.send(&alice, "bob", "hello".into(), None).await;
            match failure {
                PolicyFailure::Refuse => assert!(
                    matches!(sent, Err(ChatError::Unavailable { .. })),
                    "{sent:?}"
                ),
                PolicyFailure::Allow => assert!(sent.is_ok(), "{sent:?}"),
            }
        }
    }
}
