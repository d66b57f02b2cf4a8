//! The host application's policy over HTTP and the WebSocket: a refusal is
//! a typed `403 refused` (an `error` frame with the send's client id), a
//! rewrite is what everyone receives, and `/metrics` counts both.

use std::sync::Arc;

use async_trait::async_trait;
use chat_core::{MessageText, Policy, Proposal, Result, Verdict};
use chat_test_support::{TestServer, expect_frame, send_frame};
use serde_json::json;

/// Refuses sends to carol, masks "darn", refuses groups named "secret".
struct HostRules;

#[async_trait]
impl Policy for HostRules {
    async fn decide(&self, proposal: &Proposal<'_>) -> Result<Verdict> {
        Ok(match proposal {
            Proposal::Send { to: Some(to), .. } if to.username().as_str() == "carol" => {
                Verdict::Refuse {
                    reason: "carol takes no messages".into(),
                }
            }
            Proposal::Send { text, .. } if text.as_str().contains("darn") => Verdict::Rewrite {
                text: MessageText::parse(text.as_str().replace("darn", "d**n"))?,
            },
            Proposal::CreateGroup { title, .. } if title.as_str() == "secret" => Verdict::Refuse {
                reason: "no secret groups".into(),
            },
            _ => Verdict::Allow,
        })
    }
}

#[tokio::test]
async fn the_hosts_policy_refuses_and_rewrites_over_http_and_websocket() {
    let server = TestServer::builder()
        .policy(Arc::new(HostRules))
        .start()
        .await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    server.user("carol").await;
    let (status, _, body) = server
        .post_as(
            &alice,
            "/api/conversations/carol/messages",
            json!({ "text": "hello" }),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        (
            body["error"]["code"].as_str(),
            body["error"]["message"].as_str()
        ),
        (Some("refused"), Some("carol takes no messages"))
    );
    let (status, _, body) = server
        .post_as(
            &alice,
            "/api/groups",
            json!({ "title": "secret", "members": [] }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("refused"))
    );

    let (mut a, _) = server.ws_ready(&alice, "").await;
    let (mut b, _) = server.ws_ready(&bob, "").await;
    send_frame(
        &mut a,
        json!({ "type": "send", "to": "carol", "text": "hi", "client_id": "a-1" }),
    )
    .await;
    let error = expect_frame(&mut a, "error").await;
    assert_eq!(
        (error["client_id"].as_str(), error["code"].as_str()),
        (Some("a-1"), Some("refused"))
    );
    send_frame(
        &mut a,
        json!({ "type": "send", "to": "bob", "text": "oh darn", "client_id": "a-2" }),
    )
    .await;
    assert_eq!(
        expect_frame(&mut a, "ack").await["message"]["text"],
        "oh d**n"
    );
    assert_eq!(
        expect_frame(&mut b, "message").await["message"]["text"],
        "oh d**n"
    );

    assert_eq!(server.counter("chat_policy_refused_total"), 3);
    assert_eq!(server.counter("chat_policy_seconds_count"), 4);
}
