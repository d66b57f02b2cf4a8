//! Offline notices as webhooks, to a real HTTP receiver on loopback: one
//! notice per burst, signed, retried after `500`s under the same id, and
//! counted in `/metrics`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chat_core::ChatConfig;
use chat_http::{HttpConfig, Webhook, WebhookConfig, sign_webhook};
use chat_test_support::{TestServer, WAIT};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

const SECRET: &[u8] = b"the webhook secret";

/// One request the receiver took: its headers of interest and its body.
#[derive(Clone, Debug)]
struct Taken {
    path: String,
    id: String,
    attempt: String,
    signature: String,
    content_type: String,
    body: Bytes,
}

/// A receiver on loopback that answers `500` to its first `failures`
/// requests, then `200`; what it took, in order.
async fn receiver(failures: usize) -> (String, watch::Receiver<Vec<Taken>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hooks/chat?source=test",
        listener.local_addr().unwrap()
    );
    let (tell, taken) = watch::channel(Vec::new());
    let tell = Arc::new(tell);
    let count = Arc::new(Mutex::new(0_usize));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (tell, count) = (Arc::clone(&tell), Arc::clone(&count));
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (tell, count) = (Arc::clone(&tell), Arc::clone(&count));
                    async move {
                        let path = request
                            .uri()
                            .path_and_query()
                            .map(|p| p.as_str().to_owned())
                            .unwrap_or_default();
                        let header = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned()
                        };
                        let mut taken = Taken {
                            path,
                            id: header("chat-webhook-id"),
                            attempt: header("chat-webhook-attempt"),
                            signature: header("chat-webhook-signature"),
                            content_type: header("content-type"),
                            body: Bytes::new(),
                        };
                        taken.body = request.into_body().collect().await.unwrap().to_bytes();
                        let n = {
                            let mut count = count.lock().unwrap();
                            *count += 1;
                            *count
                        };
                        tell.send_modify(|all| all.push(taken));
                        let status = if n <= failures {
                            StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            StatusCode::OK
                        };
                        let mut response = Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = status;
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, taken)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_away_makes_one_signed_webhook_retried_until_taken() {
    let (url, mut taken) = receiver(2).await;
    let mut config = WebhookConfig::new(url, SECRET.to_vec());
    config.first_retry = Duration::from_millis(20);
    let webhook = Webhook::start(config).unwrap();
    let mut http = HttpConfig::default();
    http.webhook = Some(Arc::clone(&webhook));
    let server = TestServer::builder()
        .http(http)
        .offline_notifier(webhook)
        .chat_config(ChatConfig::default().with_offline_notices(Duration::from_millis(200), false))
        .start()
        .await;
    let alice = server.user("alice").await;
    // Bob is the host's user: the notice names him by the host's id too.
    server
        .chat
        .upsert_user("crm-bob", "bob", None)
        .await
        .unwrap();
    for text in ["one", "two", "three"] {
        server.send(&alice, "bob", text).await;
    }
    // Two refusals, then taken: three attempts of one delivery.
    let all = tokio::time::timeout(WAIT, taken.wait_for(|all| all.len() >= 3))
        .await
        .expect("three attempts")
        .unwrap()
        .clone();
    assert_eq!(all.len(), 3, "{all:?}");
    let ids: Vec<&str> = all.iter().map(|t| t.id.as_str()).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]) && ids[0].starts_with("offline-"),
        "{ids:?}"
    );
    let attempts: Vec<&str> = all.iter().map(|t| t.attempt.as_str()).collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    for one in &all {
        assert_eq!(one.path, "/hooks/chat?source=test");
        assert_eq!(one.content_type, "application/json");
        // t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
        let (stamp, v1) = one.signature.split_once(",v1=").unwrap();
        let stamp: u64 = stamp.strip_prefix("t=").unwrap().parse().unwrap();
        assert_eq!(v1, sign_webhook(SECRET, stamp, &one.body));
        assert_ne!(v1, sign_webhook(b"another secret", stamp, &one.body));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now.abs_diff(stamp) < 60);
    }
    let body: Value = serde_json::from_slice(&all[2].body).unwrap();
    assert_eq!(body["type"], "message.offline");
    assert_eq!(body["recipient"]["username"], "bob");
    assert_eq!(body["recipient"]["external_id"], "crm-bob");
    assert!(body["sender"].get("external_id").is_none());
    assert!(body["recipient"]["id"].is_i64());
    assert_eq!(body["sender"]["username"], "alice");
    assert_eq!(
        (body["messages"].as_u64(), body["unread_total"].as_u64()),
        (Some(3), Some(3))
    );
    assert!(body["conversation_id"].is_i64() && body["message_id"].is_i64());
    assert!(body.get("text").is_none(), "no text unless configured");
    // Nothing more is sent: the next request the receiver gets is a new
    // notice's (after bob, away, gets another message later).
    server.send(&alice, "bob", "four").await;
    let next = tokio::time::timeout(WAIT, taken.wait_for(|all| all.len() >= 4))
        .await
        .expect("a fourth request")
        .unwrap()
        .clone();
    assert_eq!(next.len(), 4);
    assert_ne!(next[3].id, ids[0], "a new notice, not the old one again");
    assert_eq!(next[3].attempt, "1");
    assert_eq!(server.counter("chat_webhook_retried_total"), 2);
    assert!(server.counter("chat_webhook_sent_total") >= 1);
    assert_eq!(server.counter("chat_webhook_dropped_total"), 0);
}

/// Notices as the service hands them to its notifier.
#[derive(Default)]
struct Recorder(watch::Sender<Vec<chat_core::OfflineNotice>>);

#[async_trait::async_trait]
impl chat_core::OfflineNotifier for Recorder {
    async fn notify(&self, notice: chat_core::OfflineNotice) {
        self.0.send_modify(|all| all.push(notice));
    }
}

/// An open WebSocket counts as someone there only while its client says
/// so (`{"type":"active"}`, or any command) within the active window.
#[tokio::test]
async fn an_idle_websocket_does_not_keep_notices_away_and_an_active_one_does() {
    let recorder = Arc::new(Recorder::default());
    let mut notices = recorder.0.subscribe();
    let server = TestServer::builder()
        .manual_clock()
        .offline_notifier(recorder.clone())
        .chat_config(ChatConfig::default().with_offline_notices(Duration::from_millis(100), false))
        .start()
        .await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let (mut ws, _) = server.ws_ready(&bob, "").await;
    let minute = Duration::from_secs(61);
    // Connected just now: "one" tells nobody. Then idle past the window:
    // "two" is told.
    server.send(&alice, "bob", "one").await;
    server.clock().advance(minute);
    let two = server.send(&alice, "bob", "two").await;
    let told = tokio::time::timeout(WAIT, notices.wait_for(|all| !all.is_empty()))
        .await
        .expect("a notice")
        .unwrap()
        .clone();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].message.get(), two["id"].as_i64().unwrap());
    assert_eq!(
        told[0].messages, 1,
        "only \"two\": bob was there for \"one\""
    );
    // Bob's page says he is there (taken without an answer: the next frame
    // is the answer to what follows it), and he sends: both are signs.
    server.clock().advance(minute);
    chat_test_support::send_frame(&mut ws, serde_json::json!({"type": "active"})).await;
    chat_test_support::send_frame(&mut ws, serde_json::json!({"type": "nonsense"})).await;
    let answer = tokio::time::timeout(WAIT, async {
        loop {
            let frame = chat_test_support::next_frame(&mut ws).await;
            if frame["type"] != "message" {
                return frame;
            }
        }
    })
    .await
    .expect("an answer");
    assert_eq!(answer["type"], "error");
    assert_eq!(answer["message"], "unknown or malformed frame");
    chat_test_support::send_frame(
        &mut ws,
        serde_json::json!({"type": "send", "to": "alice", "text": "here", "client_id": "c1"}),
    )
    .await;
    tokio::time::timeout(WAIT, async {
        while chat_test_support::next_frame(&mut ws).await["type"] != "ack" {}
    })
    .await
    .expect("the send's ack");
    server.send(&alice, "bob", "three").await;
    // Idle again: "four" is told, and "three" never was.
    server.clock().advance(minute);
    let four = server.send(&alice, "bob", "four").await;
    let told = tokio::time::timeout(WAIT, notices.wait_for(|all| all.len() >= 2))
        .await
        .expect("a second notice")
        .unwrap()
        .clone();
    let ids: Vec<i64> = told.iter().map(|n| n.message.get()).collect();
    assert_eq!(
        ids,
        [two["id"].as_i64().unwrap(), four["id"].as_i64().unwrap()]
    );
}
