//! Transport limits over real sockets: slow or silent clients, oversize and
//! fragmented messages, too many headers or sockets, expired sessions.

use std::time::Duration;

use chat_core::ChatConfig;
use chat_http::HttpConfig;
use chat_test_support::{TestServer, WAIT, eventually, expect_frame, send_frame, try_send_frame};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

#[tokio::test]
async fn a_user_may_hold_only_so_many_sockets() {
    let mut config = HttpConfig::default();
    config.websocket.max_per_user = 2;
    let server = TestServer::builder().http(config).start().await;
    let alice = server.user("alice").await;
    let first = server.ws(&alice, "").await;
    let _second = server.ws(&alice, "").await;
    assert_eq!(server.refused_upgrade(&alice).await, 429);
    drop(first);
    eventually("the first socket is released", || {
        server.http.open_websockets() == 1
    })
    .await;
    let mut third = server.ws(&alice, "").await;
    expect_frame(&mut third, "ready").await;
}

#[tokio::test]
async fn a_client_that_never_answers_pings_is_closed() {
    let mut config = HttpConfig::default();
    config.websocket.ping_interval = Duration::from_millis(100);
    config.websocket.idle_timeout = Duration::from_millis(300);
    let server = TestServer::builder().http(config).start().await;
    let alice = server.user("alice").await;
    let mut ws = server.ws(&alice, "").await;
    expect_frame(&mut ws, "ready").await;
    // Read nothing more (so no pong goes back) until the server gives up.
    eventually("the silent socket is closed", || {
        server.http.open_websockets() == 0
    })
    .await;
    // What is left to read ends with the server's close frame, unless the
    // client's belated pong hits the closed socket first.
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => {
                assert_eq!(frame.unwrap().code, CloseCode::Policy);
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(tokio_tungstenite::tungstenite::Error::Io(_))) | None => break,
            other => panic!("expected the socket to be closed, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn fragments_count_toward_the_message_cap() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut ws = server.ws(&alice, "").await;
    expect_frame(&mut ws, "ready").await;
    let part = vec![b'x'; 6 * 1024];
    ws.send(Message::Frame(Frame::message(
        part.clone(),
        OpCode::Data(Data::Text),
        false,
    )))
    .await
    .unwrap();
    ws.send(Message::Frame(Frame::message(
        part.clone(),
        OpCode::Data(Data::Continue),
        false,
    )))
    .await
    .unwrap();
    ws.send(Message::Frame(Frame::message(
        part,
        OpCode::Data(Data::Continue),
        true,
    )))
    .await
    .unwrap();
    let close = chat_test_support::expect_close(&mut ws)
        .await
        .expect("a close frame");
    assert_eq!(close.code, CloseCode::Size);
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let mut config = HttpConfig::default();
    config.header_timeout = Duration::from_millis(300);
    let server = TestServer::builder().http(config).start().await;
    let mut stream = tokio::net::TcpStream::connect(&server.host).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Never finish the head: the server must hang up on its own.
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("the server kept a slowloris open")
        .ok();
    let text = String::from_utf8_lossy(&rest);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}

#[tokio::test]
async fn too_many_headers_are_refused() {
    let server = TestServer::start().await;
    let mut request = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for n in 0..100 {
        request.push_str(&format!("x-filler-{n}: y\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    let mut stream = tokio::net::TcpStream::connect(&server.host).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .ok();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
}

#[tokio::test]
async fn a_session_reaching_its_absolute_timeout_closes_its_sockets() {
    // Idle longer than absolute, so that only the absolute timeout applies.
    let chat_config = ChatConfig::default()
        .with_session_idle_timeout(Duration::from_secs(60 * 24 * 3600))
        .with_session_absolute_timeout(Duration::from_secs(30 * 24 * 3600));
    let server = TestServer::builder()
        .manual_clock()
        .chat_config(chat_config)
        .start()
        .await;
    let alice = server.user("alice").await;
    // One second before the session ends, however long the upgrade takes.
    server
        .clock()
        .advance(Duration::from_secs(30 * 24 * 3600 - 1));
    let (mut ws, _) = server.ws_ready(&alice, "").await;
    let close = chat_test_support::expect_close(&mut ws)
        .await
        .expect("a close frame");
    assert_eq!(
        (close.code, close.reason.as_str()),
        (CloseCode::Policy, "session expired")
    );
}

#[tokio::test]
async fn a_session_deleted_elsewhere_closes_its_sockets_at_the_next_ping() {
    let server = TestServer::builder()
        .websocket(|ws| ws.ping_interval = Duration::from_millis(100))
        .start()
        .await;
    let alice = server.user("alice").await;
    let (mut ws, _) = server.ws_ready(&alice, "").await;
    // Another server process deletes the session in the shared store: no
    // event reaches this process, only the re-check at the next ping.
    let session = server.chat.authenticate(&alice.token).await.unwrap();
    chat_core::ports::SessionStore::delete_session(&server.store, session.id())
        .await
        .unwrap();
    let close = chat_test_support::expect_close(&mut ws)
        .await
        .expect("a close frame");
    assert_eq!(
        (close.code, close.reason.as_str()),
        (CloseCode::Policy, "session ended")
    );
}

#[tokio::test]
async fn a_frame_always_speaks_for_its_session() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mut a = server.ws(&alice, "").await;
    let mut b = server.ws(&bob, "").await;
    expect_frame(&mut a, "ready").await;
    expect_frame(&mut b, "ready").await;
    send_frame(&mut a, json!({ "type": "send", "from": "bob", "to": "bob", "text": "who am I?", "client_id": "f" })).await;
    let ack = expect_frame(&mut a, "ack").await;
    assert_eq!(ack["message"]["from"], "alice");
    assert_eq!(
        expect_frame(&mut b, "message").await["message"]["from"],
        "alice"
    );
}

#[tokio::test]
async fn a_flooding_user_is_limited_and_others_are_served() {
    let mut config = HttpConfig::default();
    config.websocket.frames_per_second = 5;
    config.websocket.frame_burst = 5;
    let server = TestServer::builder().http(config).start().await;
    let flooder = server.user("flooder").await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mut flood = server.ws(&flooder, "").await;
    expect_frame(&mut flood, "ready").await;
    for _ in 0..200 {
        // The server may close before the last of them: not an error here.
        if !try_send_frame(&mut flood, json!({ "type": "typing", "to": "alice" })).await {
            break;
        }
    }
    // The flooder hears "slow down" and is cut off; others chat on.
    let mut limited = false;
    let close = loop {
        match tokio::time::timeout(WAIT, flood.next()).await.unwrap() {
            Some(Ok(Message::Text(text))) => limited |= text.as_str().contains("rate_limited"),
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(limited, "the flooder was never told to slow down");
    assert_eq!(close.unwrap().code, CloseCode::Policy);
    let mut b = server.ws(&bob, "").await;
    expect_frame(&mut b, "ready").await;
    server.send(&alice, "bob", "still fine").await;
    assert_eq!(
        expect_frame(&mut b, "message").await["message"]["text"],
        "still fine"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_nothing_is_dropped_once_the_close_timeout_passes() {
    let server = TestServer::builder()
        .websocket(|ws| {
            ws.outbound_queue = 8;
            ws.close_timeout = Duration::from_millis(200);
        })
        .start()
        .await;
    let alice = server.user("alice").await;
    let silent = server.user("silent").await;
    let _never_read = server.ws_small_buffer(&silent).await;
    server
        .send_until_a_slow_reader_is_cut_off(&alice, "silent")
        .await;
    // Its socket stays open on the client's side, unread: the server lets
    // go of the connection anyway.
    eventually("the connection is dropped", || {
        server.http.open_websockets() == 0
    })
    .await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_a_408() {
    let mut config = HttpConfig::default();
    config.body_timeout = Duration::from_millis(300);
    let server = TestServer::builder().http(config).start().await;
    // The head announces 100 bytes; 10 come, then nothing.
    let answer = chat_test_support::raw(
        &server.host,
        b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\"",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_takes_no_bytes_is_dropped_by_the_write_deadline() {
    let server = TestServer::builder()
        .http({
            let mut config = HttpConfig::default();
            config.write_timeout = Duration::from_millis(300);
            config
        })
        // A queue so long that the slow-consumer rule never comes into it.
        .websocket(|ws| {
            ws.outbound_queue = 1_000_000;
            ws.max_per_user = 1;
        })
        .start()
        .await;
    let alice = server.user("alice").await;
    let silent = server.user("silent").await;
    let _never_read = server.ws_small_buffer(&silent).await;
    let text = "w".repeat(3900);
    let mut sent = 0;
    while server.http.open_websockets() > 0 {
        assert!(sent < 20_000, "the connection was never dropped");
        server.send(&alice, "silent", &text).await;
        sent += 1;
    }
    assert_eq!(server.counter("chat_websocket_slow_consumer_total"), 0);
    // Its place in the user's cap (one socket here) is free again.
    server.ws_ready(&silent, "").await;
}

#[tokio::test]
async fn a_plain_http_client_that_reads_no_answers_is_dropped_by_the_write_deadline() {
    let server = TestServer::builder()
        .http({
            let mut config = HttpConfig::default();
            config.write_timeout = Duration::from_millis(300);
            config
        })
        .start()
        .await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.host.parse().unwrap()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // Pipelined requests for a sizeable answer, none of whose answers is
    // ever read: far more than every buffer between them holds.
    let requests = tokio::spawn(async move {
        let request = b"GET /api/openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n";
        for _ in 0..5_000 {
            if writer.write_all(request).await.is_err() {
                break;
            }
        }
        writer
    });
    eventually("the connection is open", || {
        server.counter("chat_connections_open") == 1
    })
    .await;
    eventually("the stuck connection is dropped", || {
        server.counter("chat_connections_open") == 0
    })
    .await;
    // What it had written is there, then the end.
    let mut answers = Vec::new();
    let read = tokio::time::timeout(WAIT, reader.read_to_end(&mut answers)).await;
    assert!(
        matches!(read, Ok(Ok(_)) | Ok(Err(_))),
        "the connection ended"
    );
    requests.abort();
}

#[tokio::test]
async fn a_logged_out_socket_that_takes_no_bytes_is_dropped_and_frees_its_place() {
    let server = TestServer::builder()
        .http({
            let mut config = HttpConfig::default();
            // Far beyond the test: only the close timeout can end it.
            config.write_timeout = Duration::from_secs(600);
            config
        })
        .websocket(|ws| {
            ws.outbound_queue = 1_000_000;
            ws.close_timeout = Duration::from_millis(300);
            ws.max_per_user = 1;
        })
        .start()
        .await;
    let alice = server.user("alice").await;
    let silent = server.user("silent").await;
    let _never_read = server.ws_small_buffer(&silent).await;
    // More than every buffer between them holds (about 12 MB).
    let text = "w".repeat(3900);
    for _ in 0..3000 {
        server.send(&alice, "silent", &text).await;
    }
    let (status, _, _) = server
        .post(
            "/api/logout",
            json!({}),
            &[("authorization", &silent.bearer())],
        )
        .await;
    assert_eq!(status, 204);
    eventually("the stuck socket is dropped", || {
        server.http.open_websockets() == 0
    })
    .await;
    let again = server.login("silent").await;
    server.ws_ready(&again, "").await;
}

#[tokio::test]
async fn past_its_connection_cap_the_server_closes_new_connections_at_once() {
    let mut config = HttpConfig::default();
    config.max_connections = 3;
    let server = TestServer::builder().http(config).start().await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(&server.host).await.unwrap());
    }
    eventually("three connections are open", || {
        server.counter("chat_connections_open") == 3
    })
    .await;
    let mut refused = tokio::net::TcpStream::connect(&server.host).await.unwrap();
    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(WAIT, refused.read(&mut buffer))
        .await
        .expect("the refused connection is closed at once");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert_eq!(server.counter("chat_connections_refused_total"), 1);
    // A slot freed is a slot taken.
    drop(held.pop());
    eventually("the connection is gone", || {
        server.counter("chat_connections_open") == 2
    })
    .await;
    assert_eq!(server.get("/healthz", &[]).await.0, 200);
}

#[tokio::test]
async fn websockets_keep_their_place_under_the_connection_cap() {
    const CAP: u64 = 4;
    let mut config = HttpConfig::default();
    config.max_connections = CAP as usize;
    let server = TestServer::builder().http(config).start().await;
    let alice = server.user("alice").await;
    // The test's HTTP client keeps its connection for the next request.
    let kept = server.counter("chat_connections_open");
    assert!(kept < CAP - 1, "{kept} connections kept by the client");
    let mut sockets = Vec::new();
    for _ in kept..CAP {
        sockets.push(server.ws_ready(&alice, "").await.0);
    }
    // Upgraded, the HTTP connections' own tasks are done: the sockets
    // still hold their places.
    eventually("the sockets keep their places", || {
        server.counter("chat_connections_open") == CAP
    })
    .await;
    let mut refused = tokio::net::TcpStream::connect(&server.host).await.unwrap();
    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(WAIT, refused.read(&mut buffer))
        .await
        .expect("the connection past the cap is closed at once");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert_eq!(server.counter("chat_connections_refused_total"), 1);
    drop(sockets.pop());
    eventually("a socket's place is given back", || {
        server.counter("chat_connections_open") == CAP - 1
    })
    .await;
}
