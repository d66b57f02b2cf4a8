//! The server's frames, typed.

use serde::Deserialize;

/// A user as the server shows them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct User {
    /// The id.
    pub id: i64,
    /// The username.
    pub username: String,
    /// The display name, for the caller's own account, if any.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A message.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Message {
    /// The id, increasing in commit order.
    pub id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// The sender's username.
    pub from: String,
    /// The recipient's username, in a direct conversation.
    #[serde(default)]
    pub to: Option<String>,
    /// The text.
    pub text: String,
    /// When it was sent (RFC 3339).
    pub sent_at: String,
    /// The sender's idempotency key.
    #[serde(default)]
    pub client_id: Option<String>,
    /// For a group's system message, the change it reports.
    #[serde(default)]
    pub event: Option<serde_json::Value>,
    /// For a reply, the message it answers, quoted as it is now.
    #[serde(default)]
    pub reply_to: Option<Box<Quote>>,
    /// For a reply, the first message of its thread.
    #[serde(default)]
    pub thread_root: Option<i64>,
    /// When its sender last edited it (RFC 3339).
    #[serde(default)]
    pub edited_at: Option<String>,
    /// When it was deleted (RFC 3339): a tombstone, with an empty text.
    #[serde(default)]
    pub deleted_at: Option<String>,
    /// Its reactions, one per emoji in the order first used.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    /// The usernames of the members it mentions.
    #[serde(default)]
    pub mentions: Vec<String>,
    /// `all` or `here` when a group's admin or owner called everyone.
    #[serde(default)]
    pub mention_everyone: Option<String>,
    /// On a thread's root, in reads (not in live frames): its replies.
    #[serde(default)]
    pub thread: Option<Thread>,
}

/// A thread's root: how many replies, and the newest.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Thread {
    /// How many replies (deleted ones left out).
    pub replies: u64,
    /// The newest reply's id.
    pub last_reply_id: i64,
    /// When it was sent (RFC 3339).
    pub last_reply_at: String,
}

/// One emoji's reactions to a message.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Reaction {
    /// The emoji.
    pub emoji: String,
    /// How many reacted with it.
    pub count: u64,
    /// Whether the reader is one of them; `None` in live frames.
    #[serde(default)]
    pub me: Option<bool>,
}

/// The message a reply answers, as it is now.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Quote {
    /// Its id.
    pub id: i64,
    /// Its sender's username.
    pub from: String,
    /// The start of its text; `None` once it was deleted.
    #[serde(default)]
    pub text: Option<String>,
    /// Whether it was deleted.
    pub deleted: bool,
}

/// How many members have read one of the user's messages in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct ReadCount {
    /// The message.
    pub id: i64,
    /// How many members other than the sender read it.
    pub read_by: u64,
}

/// A frame the server sends (`docs/protocol.md`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerEvent {
    /// Always first on a connection.
    Ready {
        /// The connection's user.
        user: User,
        /// The newest message id in any of the user's conversations.
        last_message_id: i64,
        /// Where the stream stands.
        cursor: String,
    },
    /// A message in one of the user's conversations.
    Message {
        /// The message.
        message: Message,
        /// Its place in the change log.
        cursor: String,
    },
    /// A message was edited: how it is now.
    Edited {
        /// The message.
        message: Message,
        /// The change's place in the change log.
        cursor: String,
    },
    /// A message was deleted: its tombstone.
    Deleted {
        /// The tombstone.
        message: Message,
        /// The change's place in the change log.
        cursor: String,
    },
    /// Someone added or took away a reaction.
    Reaction {
        /// The conversation.
        conversation_id: i64,
        /// The message.
        message_id: i64,
        /// Its reactions now (without `me`).
        #[serde(default)]
        reactions: Vec<Reaction>,
        /// Who reacted.
        user: String,
        /// With what.
        emoji: String,
        /// Whether it was added (or taken away).
        added: bool,
        /// The change's place in the change log.
        cursor: String,
    },
    /// One of this connection's sends is stored.
    Ack {
        /// The send's key.
        client_id: Option<String>,
        /// The stored message.
        message: Message,
        /// Its place in the change log.
        cursor: String,
    },
    /// A frame failed (a send's carries its `client_id`).
    Error {
        /// The send's key, for a send.
        #[serde(default)]
        client_id: Option<String>,
        /// The stable code.
        code: String,
        /// A sentence for people.
        message: String,
        /// The field at fault.
        #[serde(default)]
        field: Option<String>,
    },
    /// Someone is typing.
    Typing {
        /// Who.
        from: String,
        /// The group, for typing in a group.
        #[serde(default)]
        conversation_id: Option<i64>,
    },
    /// A read mark moved.
    Read {
        /// The conversation.
        conversation_id: i64,
        /// Who read.
        by: String,
        /// The other member, in a direct conversation.
        #[serde(default)]
        with: Option<String>,
        /// Up to which message.
        up_to: i64,
        /// Its place in the change log.
        cursor: String,
    },
    /// How many members have read the user's messages in a group.
    ReadBy {
        /// The group.
        conversation_id: i64,
        /// The messages.
        messages: Vec<ReadCount>,
    },
    /// A conversation peer came online or went offline.
    Presence {
        /// Who.
        user: String,
        /// Whether they are online now.
        online: bool,
    },
    /// A fresh token was taken.
    Auth {
        /// When it expires.
        expires_at: String,
    },
    /// Too much was missed to replay: reload by HTTP, then go on from
    /// `cursor` (the connection does).
    Resync {
        /// Where the stream goes on from.
        cursor: String,
    },
    /// A frame of a newer server this client does not know.
    #[serde(other)]
    Unknown,
}

impl ServerEvent {
    /// The frame's place in the change log, if it has one.
    pub fn cursor(&self) -> Option<&str> {
        match self {
            Self::Ready { cursor, .. }
            | Self::Message { cursor, .. }
            | Self::Edited { cursor, .. }
            | Self::Deleted { cursor, .. }
            | Self::Reaction { cursor, .. }
            | Self::Ack { cursor, .. }
            | Self::Read { cursor, .. }
            | Self::Resync { cursor } => Some(cursor),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_of_the_protocol_parse_and_unknown_ones_do_not_fail() {
        let message: ServerEvent = serde_json::from_str(
            r#"{"type":"message","message":{"id":41,"conversation_id":3,"from":"bob","to":"alice","text":"are you there?","sent_at":"2026-11-26T10:59:58.000001Z","client_id":null},"cursor":"41-5f1c09a2"}"#,
        )
        .unwrap();
        assert_eq!(message.cursor(), Some("41-5f1c09a2"));
        let ServerEvent::Message { message, .. } = message else {
            panic!("not a message")
        };
        assert_eq!((message.id, message.from.as_str()), (41, "bob"));
        let error: ServerEvent = serde_json::from_str(
            r#"{"type":"error","client_id":"c-18","code":"invalid_input","message":"m","field":"text"}"#,
        )
        .unwrap();
        assert!(matches!(error, ServerEvent::Error { ref code, .. } if code == "invalid_input"));
        let future: ServerEvent =
            serde_json::from_str(r#"{"type":"poll","question":"x"}"#).unwrap();
        assert_eq!(future, ServerEvent::Unknown);
    }
}
