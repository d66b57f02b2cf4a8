//! A terminal chat with one person: every line you type goes to them,
//! everything that reaches you is printed. The connection comes back by
//! itself when the server restarts, and lines typed meanwhile go out
//! once it is back.
//!
//! ```sh
//! cargo run -p chat-client --example chat -- http://127.0.0.1:8080 alice 'her password' bob
//! ```

#![allow(clippy::print_stdout)]

use chat_client::{Client, LiveEvent, ServerEvent, To};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, username, password, peer] = args.as_slice() else {
        return Err("usage: chat <server URL> <username> <password> <peer>".into());
    };
    let client = Client::new(url)?;
    let session = client.login(username, password).await?;
    let mut live = session.live().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => match line? {
                Some(text) if !text.trim().is_empty() => {
                    live.send(To::User(peer.clone()), &text).await?;
                }
                Some(_) => {}
                None => break,
            },
            event = live.next() => match event {
                Some(LiveEvent::Event(ServerEvent::Message { message, .. })) => {
                    println!("{} {}: {}", message.sent_at, message.from, message.text);
                }
                Some(LiveEvent::Event(ServerEvent::Error { message, .. })) => println!("! {message}"),
                Some(LiveEvent::Disconnected { .. }) => println!("… reconnecting"),
                Some(LiveEvent::Connected) => println!("… connected ({} waiting to go)", live.pending()),
                Some(LiveEvent::SessionEnded) | None => {
                    println!("the session is over");
                    break;
                }
                Some(_) => {}
            },
        }
    }
    live.close().await;
    Ok(())
}
