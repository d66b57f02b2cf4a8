//! Operators' moderation over the wire: only administrators (made by the
//! operator, never through the API) reach `/api/admin/…`; a disabled
//! account's sockets close and its credentials stop working at once,
//! passwords and host tokens alike; every act is in the audit log.

use chat_test_support::{Login, TestServer, expect_close, expect_frame};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

async fn disable(server: &TestServer, who: &Login, username: &str, body: Value) -> (u16, Value) {
    let (status, _, body) = server
        .post_as(who, &format!("/api/admin/users/{username}/disable"), body)
        .await;
    (status, body)
}

#[tokio::test]
async fn administrators_disable_delete_and_read_the_audit_log_and_nobody_else() {
    let server = TestServer::start().await;
    let admin = server.user("admin").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    // Before the operator grants the role, nobody passes; nor after, but
    // the administrator. A key of the server API acting as a user never does.
    assert_eq!(disable(&server, &admin, "carol", json!({})).await.0, 403);
    server.chat.grant_admin("admin").await.unwrap();
    let (status, body) = disable(&server, &bob, "carol", json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(server.get_as(&bob, "/api/admin/audit").await.0, 403);
    let (_, send_key) = server
        .chat
        .create_api_key("send", "send,groups")
        .await
        .unwrap();
    let bearer = format!("Bearer {}", send_key.expose());
    let (status, _, _) = server
        .post(
            "/api/admin/users/carol/disable",
            json!({}),
            &[("authorization", &bearer), ("chat-act-as", "admin")],
        )
        .await;
    assert_eq!(status, 403, "an API key cannot act as an administrator");
    // Bad input is typed.
    let (status, body) = disable(&server, &admin, "carol", json!({"reason": ""})).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("reason"))
    );
    assert_eq!(disable(&server, &admin, "nobody", json!({})).await.0, 404);
    assert_eq!(disable(&server, &admin, "admin", json!({})).await.0, 409);

    // Carol is disabled: her socket closes, her token and a new login fail.
    let abuse = server.send(&carol, "bob", "abuse").await;
    let (mut carols, _) = server.ws_ready(&carol, "").await;
    let (status, body) = disable(&server, &admin, "CAROL", json!({"reason": "spam"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["account"]["username"], "carol");
    assert!(body["account"]["disabled_at"].is_string());
    let close = expect_close(&mut carols).await.expect("a close frame");
    assert_eq!(
        (u16::from(close.code), close.reason.as_str()),
        (1008, "logged out")
    );
    assert_eq!(server.get_as(&carol, "/api/me").await.0, 401);
    let (status, _, body) = server.try_login("carol", chat_test_support::PASSWORD).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("account_disabled"))
    );
    let (status, _, body) = server.try_login("carol", "a wrong password!").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );

    // The administrator deletes her message from a conversation they are
    // not in: Bob hears of it live.
    let (mut bobs, _) = server.ws_ready(&bob, "").await;
    let (status, _, body) = server
        .delete_as(
            &admin,
            &format!("/api/admin/messages/{}?reason=abuse", abuse["id"]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["message"]["deleted_at"].is_string());
    let deleted = expect_frame(&mut bobs, "deleted").await;
    assert_eq!(deleted["message"]["id"], abuse["id"]);
    assert_eq!(
        server
            .delete_as(&bob, &format!("/api/admin/messages/{}", abuse["id"]))
            .await
            .0,
        403
    );
    assert_eq!(
        server
            .delete_as(&admin, "/api/admin/messages/999999")
            .await
            .0,
        404
    );

    // Enabled again, she logs in anew.
    let (status, _, body) = server
        .post_as(&admin, "/api/admin/users/carol/enable", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["account"]["disabled_at"], Value::Null);
    server.login("carol").await;

    // The log, newest first, paged.
    let (status, _, log) = server.get_as(&admin, "/api/admin/audit?limit=2").await;
    assert_eq!(status, 200, "{log}");
    let actions: Vec<_> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["enable_account", "delete_message"]);
    assert_eq!(log["entries"][1]["reason"], "abuse");
    assert_eq!(log["entries"][1]["user"], "carol");
    assert_eq!(log["entries"][1]["actor"], "admin");
    assert_eq!(log["entries"][1]["message_id"], abuse["id"]);
    assert_eq!(log["has_more"], true);
    let before = log["entries"][1]["id"].as_i64().unwrap();
    let (_, _, older) = server
        .get_as(&admin, &format!("/api/admin/audit?before={before}"))
        .await;
    let actions: Vec<_> = older["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["disable_account", "grant_admin"]);
    assert_eq!(older["entries"][1]["actor"], Value::Null);
    assert_eq!(
        server.get_as(&admin, "/api/admin/audit?before=x").await.0,
        400
    );
}

#[tokio::test]
async fn a_disabled_host_user_is_refused_with_a_valid_token() {
    let server = crate::tokens::server().await;
    let admin = server.user("admin").await;
    server.chat.grant_admin("admin").await.unwrap();
    let token = crate::tokens::sign(Algorithm::HS256, &crate::tokens::claims("host|9", "hosted"));
    let bearer = format!("Bearer {token}");
    let (status, _, _) = server.get("/api/me", &[("authorization", &bearer)]).await;
    assert_eq!(status, 200);
    let (status, body) = disable(&server, &admin, "hosted", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = server.get("/api/me", &[("authorization", &bearer)]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("account_disabled"))
    );
}

#[tokio::test]
async fn reports_reach_the_administrators_queue_only() {
    let server = TestServer::start().await;
    let admin = server.user("admin").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let mallory = server.user("mallory").await;
    server.chat.grant_admin("admin").await.unwrap();
    let abuse = server.send(&carol, "bob", "abuse").await;
    let report = |who: &Login, body: Value| {
        let (server, who) = (&server, who.clone());
        async move {
            let (status, _, body) = server.post_as(&who, "/api/reports", body).await;
            (status, body)
        }
    };
    // Only what the reporter may read; one target; a reason.
    let (status, _) = report(&mallory, json!({"message_id": abuse["id"], "reason": "x"})).await;
    assert_eq!(status, 404);
    let (status, body) = report(&bob, json!({"reason": "x"})).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("message_id"))
    );
    let (status, body) = report(
        &bob,
        json!({"message_id": abuse["id"], "username": "carol", "reason": "x"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = report(&bob, json!({"message_id": abuse["id"], "reason": ""})).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("reason"))
    );
    let (status, filed) = report(&bob, json!({"message_id": abuse["id"], "reason": "abuse"})).await;
    assert_eq!(status, 201, "{filed}");
    assert_eq!(filed["report"]["user"], "carol");
    assert_eq!(filed["report"]["message"]["text"], "abuse");
    assert_eq!(filed["report"]["resolution"], Value::Null);
    let (status, of_user) = report(&mallory, json!({"username": "carol", "reason": "spam"})).await;
    assert_eq!(status, 201, "{of_user}");
    // The queue is the administrators' alone.
    assert_eq!(server.get_as(&bob, "/api/admin/reports").await.0, 403);
    let (status, _, queue) = server.get_as(&admin, "/api/admin/reports").await;
    assert_eq!(status, 200, "{queue}");
    let ids: Vec<_> = queue["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(
        ids,
        [
            of_user["report"]["id"].clone(),
            filed["report"]["id"].clone()
        ]
    );
    assert_eq!(
        server
            .get_as(&admin, "/api/admin/reports?status=maybe")
            .await
            .0,
        400
    );
    let path = format!("/api/admin/reports/{}/resolve", filed["report"]["id"]);
    let (status, _, _) = server.post_as(&bob, &path, json!({})).await;
    assert_eq!(status, 403);
    let (status, _, resolved) = server
        .post_as(&admin, &path, json!({"resolution": "account warned"}))
        .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["report"]["resolution"]["by"], "admin");
    assert_eq!(resolved["report"]["resolution"]["note"], "account warned");
    let (status, _, _) = server
        .post_as(&admin, "/api/admin/reports/999999/resolve", json!({}))
        .await;
    assert_eq!(status, 404);
    let (_, _, open) = server.get_as(&admin, "/api/admin/reports").await;
    assert_eq!(open["reports"].as_array().unwrap().len(), 1);
    let (_, _, all) = server.get_as(&admin, "/api/admin/reports?status=all").await;
    assert_eq!(all["reports"].as_array().unwrap().len(), 2);
    let (_, _, log) = server.get_as(&admin, "/api/admin/audit").await;
    assert_eq!(log["entries"][0]["action"], "resolve_report");
    assert_eq!(log["entries"][0]["report_id"], filed["report"]["id"]);
}

#[tokio::test]
async fn group_admins_ban_and_slow_the_group_down_over_http_and_the_websocket() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    for (who, name) in [(&bob, "bob"), (&carol, "carol")] {
        server.acquaint(&alice, "alice", who, name).await;
    }
    let group = server.make_group(&alice, "Team", &["bob", "carol"]).await;
    let path = format!("/api/groups/{group}");
    // Slow mode, by an admin; never by a member; bad values are typed.
    let (status, _, _) = server
        .patch_as(&carol, &path, json!({"slow_mode_seconds": 60}))
        .await;
    assert_eq!(status, 403);
    for bad in [
        json!({"slow_mode_seconds": 0}),
        json!({"slow_mode_seconds": 45}),
        json!({}),
    ] {
        let (status, _, body) = server.patch_as(&alice, &path, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _, body) = server
        .patch_as(&alice, &path, json!({"slow_mode_seconds": 60}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["conversation"]["slow_mode_seconds"], 60);
    // A member's second message within the minute is refused, on HTTP and
    // on the WebSocket alike; the owner is not bound.
    let send = |who: &Login, text: &str| {
        let (server, who, text) = (&server, who.clone(), text.to_owned());
        async move {
            let (status, headers, body) = server
                .post_as(
                    &who,
                    &format!("/api/groups/{group}/messages"),
                    json!({ "text": text }),
                )
                .await;
            (status, headers.get("retry-after").is_some(), body)
        }
    };
    let (status, _, first) = server
        .post_as(
            &carol,
            &format!("/api/groups/{group}/messages"),
            json!({"text": "one", "client_id": "c-1"}),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    let (status, retry_after, body) = send(&carol, "two").await;
    assert_eq!((status, retry_after), (429, true), "{body}");
    let (mut carols, _) = server.ws_ready(&carol, "").await;
    chat_test_support::send_frame(
        &mut carols,
        json!({"type": "send", "conversation_id": group, "text": "three", "client_id": "c-3"}),
    )
    .await;
    let refused = expect_frame(&mut carols, "error").await;
    assert_eq!(refused["code"], "rate_limited");
    assert_eq!(refused["client_id"], "c-3");
    // A retry of the message sent is answered with it, as any retry.
    chat_test_support::send_frame(
        &mut carols,
        json!({"type": "send", "conversation_id": group, "text": "one", "client_id": "c-1"}),
    )
    .await;
    let ack = expect_frame(&mut carols, "ack").await;
    assert!(first["message"]["id"].is_i64(), "{first}");
    assert_eq!(ack["message"]["id"], first["message"]["id"], "{ack}");
    assert_eq!(send(&alice, "owner one").await.0, 201);
    assert_eq!(send(&alice, "owner two").await.0, 201);
    let (status, _, body) = server
        .patch_as(&alice, &path, json!({"slow_mode_seconds": null}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["conversation"]["slow_mode_seconds"], Value::Null);

    // A ban: out at once, told as a system message, listed for admins.
    let ban = format!("/api/groups/{group}/bans/bob");
    let (status, _, _) = server.put_as(&carol, &ban, json!({})).await;
    assert_eq!(status, 403);
    let (status, _, body) = server
        .put_as(&alice, &ban, json!({"until": "2000-01-01T00:00:00Z"}))
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("until"))
    );
    let (mut bobs, _) = server.ws_ready(&bob, "").await;
    let (status, _, body) = server
        .put_as(&alice, &ban, json!({"until": "2099-01-01T00:00:00Z"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["conversation"]["bans"][0]["username"], "bob");
    assert_eq!(
        body["conversation"]["bans"][0]["until"],
        "2099-01-01T00:00:00Z"
    );
    let told = expect_frame(&mut bobs, "message").await;
    assert_eq!(told["message"]["event"]["type"], "banned");
    assert_eq!(told["message"]["event"]["user"], "bob");
    let (status, _, _) = send(&bob, "let me in").await;
    assert_eq!(status, 404);
    let (status, _, body) = server
        .post_as(
            &alice,
            &format!("{path}/members"),
            json!({"username": "bob"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let (_, _, seen) = server.get_as(&carol, &path).await;
    assert!(
        seen["conversation"].get("bans").is_none(),
        "members do not see bans"
    );
    let (status, _, body) = server.delete_as(&alice, &ban).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["conversation"].get("bans").is_none());
}
