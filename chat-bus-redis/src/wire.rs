//! What crosses Redis: a wire type of its own, with a version, so that the
//! domain types can change without a process misreading another's events.
//!
//! Every event is `{"v": 2, "event": {"kind": …, …}}`. A process reads only
//! its own version: an event of another (a process of another release on
//! the same Redis) is dropped and logged as such, never half-understood. A
//! change to this format is a new version, and processes of two versions
//! do not hear each other: upgrade them together.
//!
//! What is read is validated again like a row of a store: names, texts and
//! client ids are parsed by the domain's own rules.

use chat_core::backend::{StoredMessage, stored_user};
use chat_core::{
    ConversationId, Emoji, EventKind, Everyone, GroupEvent, GroupTitle, Mentions, Message,
    MessageId, Position, Quote, Reaction, ReadCount, SessionId, Timestamp, User, UserId,
};
use serde::{Deserialize, Serialize};

/// The version this process speaks: 2 since groups (a message's group
/// event, a read mark without a peer, typing in a group, read counts), 3
/// since replies, edits, deletes and reactions (a message's quote, thread,
/// edit, deletion, reactions and mentions; a revised message; a reaction;
/// a disabled account; bans and slow mode in groups).
pub(crate) const VERSION: u8 = 3;

#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u8,
    event: WireEvent,
}

/// Just the version, read first.
#[derive(Deserialize)]
struct Version {
    v: u8,
}

#[derive(Serialize, Deserialize)]
struct WireUser {
    id: i64,
    name: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireEvent {
    Message(WireMessage),
    Revised {
        message: WireMessage,
        position: i64,
    },
    Reacted {
        conversation: i64,
        message: i64,
        reactions: Vec<(String, u64)>,
        position: i64,
        by: WireUser,
        emoji: String,
        added: bool,
    },
    Read {
        conversation: i64,
        by: WireUser,
        with: Option<WireUser>,
        up_to: i64,
        position: i64,
    },
    Typing {
        from: WireUser,
        to: WireUser,
    },
    GroupTyping {
        from: WireUser,
        group: i64,
    },
    ReadBy {
        conversation: i64,
        /// Message ids with their counts.
        counts: Vec<(i64, u64)>,
    },
    Presence {
        user: WireUser,
        online: bool,
    },
    SessionEnded {
        session: i64,
    },
    AccountDisabled {
        user: i64,
    },
}

#[derive(Serialize, Deserialize)]
struct WireMessage {
    id: i64,
    conversation: i64,
    sender: WireUser,
    recipient: Option<WireUser>,
    text: String,
    sent_at: i64,
    client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<WireGroupEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply_to: Option<WireQuote>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thread_root: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    edited_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted_at: Option<i64>,
    /// Emoji with their counts (`me` never crosses Redis: events are
    /// shared by every member).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    reactions: Vec<(String, u64)>,
    /// The members it names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mentions: Vec<WireUser>,
    /// `@all` or `@here`, where its sender may call everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    everyone: Option<Everyone>,
}

/// A reply's quote of its parent.
#[derive(Serialize, Deserialize)]
struct WireQuote {
    id: i64,
    sender: WireUser,
    excerpt: Option<String>,
}

fn message(message: &Message) -> WireMessage {
    WireMessage {
        id: message.id().get(),
        conversation: message.conversation().get(),
        sender: user(message.sender()),
        recipient: message.recipient().map(user),
        text: message.text().as_str().to_owned(),
        sent_at: message.sent_at().unix_micros(),
        client_id: message.client_id().map(|c| c.as_str().to_owned()),
        event: message.event().map(group_event),
        reply_to: message.reply_to().map(|quote| WireQuote {
            id: quote.id.get(),
            sender: user(&quote.sender),
            excerpt: quote.excerpt.clone(),
        }),
        thread_root: message.thread_root().map(MessageId::get),
        edited_at: message.edited_at().map(Timestamp::unix_micros),
        deleted_at: message.deleted_at().map(Timestamp::unix_micros),
        reactions: wire_reactions(message.reactions()),
        mentions: message.mentions().users.iter().map(user).collect(),
        everyone: message.mentions().everyone,
    }
}

/// Reactions as they cross Redis: emoji with counts (`me` never does:
/// events are shared by every member).
fn wire_reactions(reactions: &[Reaction]) -> Vec<(String, u64)> {
    reactions
        .iter()
        .map(|r| (r.emoji.as_str().to_owned(), r.count))
        .collect()
}

fn domain_reactions(reactions: Vec<(String, u64)>) -> Result<Vec<Reaction>, WireError> {
    reactions
        .into_iter()
        .map(|(emoji, count)| {
            Ok(Reaction {
                emoji: Emoji::parse(emoji).map_err(|e| WireError::Malformed(e.to_string()))?,
                count,
                me: None,
            })
        })
        .collect()
}

fn domain_message(wire: WireMessage) -> Result<Message, WireError> {
    let malformed = |e: chat_core::ChatError| WireError::Malformed(e.to_string());
    let event = wire.event.map(domain_group_event).transpose()?;
    let quote = match wire.reply_to {
        Some(quote) => Some(Quote {
            id: MessageId::new(quote.id),
            sender: domain_user(quote.sender)?,
            excerpt: quote.excerpt,
        }),
        None => None,
    };
    Ok(StoredMessage {
        id: wire.id,
        conversation_id: wire.conversation,
        sender_id: wire.sender.id,
        sender_username: wire.sender.name,
        recipient_id: wire.recipient.as_ref().map(|r| r.id),
        recipient_username: wire.recipient.map(|r| r.name),
        body: wire.text,
        sent_at: wire.sent_at,
        client_id: wire.client_id,
        edited_at: wire.edited_at,
        deleted_at: wire.deleted_at,
    }
    .into_message()
    .map_err(malformed)?
    .with_event(event)
    .with_stored_reply(quote, wire.thread_root.map(MessageId::new))
    .with_reactions(domain_reactions(wire.reactions)?)
    .with_mentions(Mentions {
        users: wire
            .mentions
            .into_iter()
            .map(domain_user)
            .collect::<Result<_, _>>()?,
        everyone: wire.everyone,
    }))
}

/// A group's change, as a system message carries it.
#[derive(Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
enum WireGroupEvent {
    Created { title: String },
    Renamed { title: String },
    Added { user: WireUser },
    Invited { user: WireUser },
    Joined,
    Left,
    Removed { user: WireUser },
    RoleChanged { user: WireUser, role: String },
    Muted { user: WireUser, until: Option<i64> },
    Unmuted { user: WireUser },
    Declined,
    Banned { user: WireUser, until: Option<i64> },
    Unbanned { user: WireUser },
    SlowMode { seconds: Option<u32> },
}

fn group_event(event: &GroupEvent) -> WireGroupEvent {
    match event {
        GroupEvent::Created { title } => WireGroupEvent::Created {
            title: title.as_str().to_owned(),
        },
        GroupEvent::Renamed { title } => WireGroupEvent::Renamed {
            title: title.as_str().to_owned(),
        },
        GroupEvent::Added { user: who } => WireGroupEvent::Added { user: user(who) },
        GroupEvent::Invited { user: who } => WireGroupEvent::Invited { user: user(who) },
        GroupEvent::Joined => WireGroupEvent::Joined,
        GroupEvent::Left => WireGroupEvent::Left,
        GroupEvent::Removed { user: who } => WireGroupEvent::Removed { user: user(who) },
        GroupEvent::RoleChanged { user: who, role } => WireGroupEvent::RoleChanged {
            user: user(who),
            role: role.as_str().to_owned(),
        },
        GroupEvent::Muted { user: who, until } => WireGroupEvent::Muted {
            user: user(who),
            until: until.map(chat_core::Timestamp::unix_micros),
        },
        GroupEvent::Unmuted { user: who } => WireGroupEvent::Unmuted { user: user(who) },
        GroupEvent::Declined => WireGroupEvent::Declined,
        GroupEvent::Banned { user: who, until } => WireGroupEvent::Banned {
            user: user(who),
            until: until.map(chat_core::Timestamp::unix_micros),
        },
        GroupEvent::Unbanned { user: who } => WireGroupEvent::Unbanned { user: user(who) },
        GroupEvent::SlowModeSet { slow_mode } => WireGroupEvent::SlowMode {
            seconds: slow_mode.map(chat_core::SlowMode::secs),
        },
    }
}

fn domain_group_event(event: WireGroupEvent) -> Result<GroupEvent, WireError> {
    let malformed = |e: chat_core::ChatError| WireError::Malformed(e.to_string());
    Ok(match event {
        WireGroupEvent::Created { title } => GroupEvent::Created {
            title: GroupTitle::parse(title).map_err(malformed)?,
        },
        WireGroupEvent::Renamed { title } => GroupEvent::Renamed {
            title: GroupTitle::parse(title).map_err(malformed)?,
        },
        WireGroupEvent::Added { user } => GroupEvent::Added {
            user: domain_user(user)?,
        },
        WireGroupEvent::Invited { user } => GroupEvent::Invited {
            user: domain_user(user)?,
        },
        WireGroupEvent::Joined => GroupEvent::Joined,
        WireGroupEvent::Left => GroupEvent::Left,
        WireGroupEvent::Removed { user } => GroupEvent::Removed {
            user: domain_user(user)?,
        },
        WireGroupEvent::RoleChanged { user, role } => GroupEvent::RoleChanged {
            user: domain_user(user)?,
            role: role.parse().map_err(malformed)?,
        },
        WireGroupEvent::Muted { user, until } => GroupEvent::Muted {
            user: domain_user(user)?,
            until: until.map(chat_core::Timestamp::from_unix_micros),
        },
        WireGroupEvent::Unmuted { user } => GroupEvent::Unmuted {
            user: domain_user(user)?,
        },
        WireGroupEvent::Declined => GroupEvent::Declined,
        WireGroupEvent::Banned { user, until } => GroupEvent::Banned {
            user: domain_user(user)?,
            until: until.map(chat_core::Timestamp::from_unix_micros),
        },
        WireGroupEvent::Unbanned { user } => GroupEvent::Unbanned {
            user: domain_user(user)?,
        },
        WireGroupEvent::SlowMode { seconds } => GroupEvent::SlowModeSet {
            slow_mode: seconds
                .map(chat_core::SlowMode::from_secs)
                .transpose()
                .map_err(malformed)?,
        },
    })
}

/// Why an event read from Redis was dropped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    /// Another version of the format: a process of another release.
    #[error("an event of wire version {0}; this process speaks version {VERSION}")]
    Version(u8),
    /// Not an event of this version, or one that breaks a domain rule.
    #[error("a malformed event: {0}")]
    Malformed(String),
}

fn user(user: &User) -> WireUser {
    WireUser {
        id: user.id().get(),
        name: user.username().as_str().to_owned(),
    }
}

fn domain_user(user: WireUser) -> Result<User, WireError> {
    stored_user(user.id, user.name).map_err(|e| WireError::Malformed(e.to_string()))
}

/// `kind` as it crosses Redis.
pub(crate) fn encode(kind: &EventKind) -> Result<Vec<u8>, serde_json::Error> {
    let event = match kind {
        EventKind::Message { message: m } => WireEvent::Message(message(m)),
        EventKind::Revised {
            message: m,
            position,
        } => WireEvent::Revised {
            message: message(m),
            position: position.get(),
        },
        EventKind::Reacted {
            conversation,
            message: m,
            reactions,
            position,
            by,
            emoji,
            added,
        } => WireEvent::Reacted {
            conversation: conversation.get(),
            message: m.get(),
            reactions: wire_reactions(reactions),
            position: position.get(),
            by: user(by),
            emoji: emoji.as_str().to_owned(),
            added: *added,
        },
        EventKind::Read {
            conversation,
            by,
            with,
            up_to,
            position,
        } => WireEvent::Read {
            conversation: conversation.get(),
            by: user(by),
            with: with.as_ref().map(user),
            up_to: up_to.get(),
            position: position.get(),
        },
        EventKind::Typing { from, to } => WireEvent::Typing {
            from: user(from),
            to: user(to),
        },
        EventKind::GroupTyping { from, group } => WireEvent::GroupTyping {
            from: user(from),
            group: group.get(),
        },
        EventKind::ReadBy {
            conversation,
            counts,
        } => WireEvent::ReadBy {
            conversation: conversation.get(),
            counts: counts
                .iter()
                .map(|c| (c.message.get(), c.read_by))
                .collect(),
        },
        EventKind::Presence { user: who, online } => WireEvent::Presence {
            user: user(who),
            online: *online,
        },
        EventKind::SessionEnded { session } => WireEvent::SessionEnded {
            session: session.get(),
        },
        EventKind::AccountDisabled { user } => WireEvent::AccountDisabled { user: user.get() },
    };
    serde_json::to_vec(&Envelope { v: VERSION, event })
}

/// An event read from Redis, validated.
pub(crate) fn decode(bytes: &[u8]) -> Result<EventKind, WireError> {
    let version: Version =
        serde_json::from_slice(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    if version.v != VERSION {
        return Err(WireError::Version(version.v));
    }
    let envelope: Envelope =
        serde_json::from_slice(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    Ok(match envelope.event {
        WireEvent::Message(message) => EventKind::Message {
            message: domain_message(message)?,
        },
        WireEvent::Revised { message, position } => EventKind::Revised {
            message: domain_message(message)?,
            position: Position::new(position),
        },
        WireEvent::Reacted {
            conversation,
            message,
            reactions,
            position,
            by,
            emoji,
            added,
        } => EventKind::Reacted {
            conversation: ConversationId::new(conversation),
            message: MessageId::new(message),
            reactions: domain_reactions(reactions)?,
            position: Position::new(position),
            by: domain_user(by)?,
            emoji: Emoji::parse(emoji).map_err(|e| WireError::Malformed(e.to_string()))?,
            added,
        },
        WireEvent::Read {
            conversation,
            by,
            with,
            up_to,
            position,
        } => EventKind::Read {
            conversation: ConversationId::new(conversation),
            by: domain_user(by)?,
            with: with.map(domain_user).transpose()?,
            up_to: MessageId::new(up_to),
            position: Position::new(position),
        },
        WireEvent::Typing { from, to } => EventKind::Typing {
            from: domain_user(from)?,
            to: domain_user(to)?,
        },
        WireEvent::GroupTyping { from, group } => EventKind::GroupTyping {
            from: domain_user(from)?,
            group: ConversationId::new(group),
        },
        WireEvent::ReadBy {
            conversation,
            counts,
        } => EventKind::ReadBy {
            conversation: ConversationId::new(conversation),
            counts: counts
                .into_iter()
                .map(|(message, read_by)| ReadCount {
                    message: MessageId::new(message),
                    read_by,
                })
                .collect(),
        },
        WireEvent::Presence { user, online } => EventKind::Presence {
            user: domain_user(user)?,
            online,
        },
        WireEvent::SessionEnded { session } => EventKind::SessionEnded {
            session: SessionId::new(session),
        },
        WireEvent::AccountDisabled { user } => EventKind::AccountDisabled {
            user: UserId::new(user),
        },
    })
}

#[cfg(test)]
mod tests {
    use chat_core::{ClientMessageId, Message, MessageText, Timestamp, Username};

    use super::*;

    fn someone(id: i64, name: &str) -> User {
        User::new(UserId::new(id), Username::parse(name).unwrap())
    }

    #[test]
    fn every_kind_reads_back_as_itself() {
        let (alice, bob) = (someone(1, "alice"), someone(2, "bob"));
        let kinds = [
            EventKind::Message {
                message: Message::new(
                    MessageId::new(7),
                    ConversationId::new(3),
                    alice.clone(),
                    Some(bob.clone()),
                    MessageText::parse("hi \"there\"\nüñí").unwrap(),
                    Timestamp::from_unix_micros(1_700_000_000_000_000),
                    Some(ClientMessageId::parse("c-1").unwrap()),
                ),
            },
            EventKind::Read {
                conversation: ConversationId::new(3),
                by: bob.clone(),
                with: Some(alice.clone()),
                up_to: MessageId::new(7),
                position: Position::new(8),
            },
            EventKind::Typing {
                from: alice.clone(),
                to: bob.clone(),
            },
            EventKind::Presence {
                user: bob.clone(),
                online: true,
            },
            EventKind::Read {
                conversation: ConversationId::new(4),
                by: bob.clone(),
                with: None,
                up_to: MessageId::new(9),
                position: Position::new(10),
            },
            EventKind::GroupTyping {
                from: alice.clone(),
                group: ConversationId::new(4),
            },
            EventKind::ReadBy {
                conversation: ConversationId::new(4),
                counts: vec![
                    ReadCount {
                        message: MessageId::new(9),
                        read_by: 2,
                    },
                    ReadCount {
                        message: MessageId::new(11),
                        read_by: 0,
                    },
                ],
            },
            EventKind::SessionEnded {
                session: SessionId::new(9),
            },
            EventKind::AccountDisabled {
                user: UserId::new(4),
            },
        ];
        // A reply, edited; then deleted.
        let parent = Message::new(
            MessageId::new(20),
            ConversationId::new(3),
            bob.clone(),
            Some(alice.clone()),
            MessageText::parse("lunch?").unwrap(),
            Timestamp::from_unix_micros(1),
            None,
        );
        let reply = Message::new(
            MessageId::new(21),
            ConversationId::new(3),
            alice.clone(),
            Some(bob.clone()),
            MessageText::parse("yes").unwrap(),
            Timestamp::from_unix_micros(2),
            None,
        )
        .with_reply(Some(chat_core::Reply::to(&parent, parent.sender().id())))
        .edited(
            MessageText::parse("yes!").unwrap(),
            Timestamp::from_unix_micros(3),
        );
        let kinds = kinds.into_iter().chain([
            EventKind::Message {
                message: reply.clone(),
            },
            EventKind::Revised {
                message: reply.clone(),
                position: Position::new(22),
            },
            EventKind::Message {
                message: reply.clone().with_reactions(vec![Reaction {
                    emoji: Emoji::parse("🎉").unwrap(),
                    count: 1,
                    me: None,
                }]),
            },
            EventKind::Reacted {
                conversation: ConversationId::new(3),
                message: MessageId::new(21),
                reactions: vec![Reaction {
                    emoji: Emoji::parse("👍🏽").unwrap(),
                    count: 2,
                    me: None,
                }],
                position: Position::new(24),
                by: bob.clone(),
                emoji: Emoji::parse("👍🏽").unwrap(),
                added: true,
            },
            EventKind::Revised {
                message: reply.deleted(Timestamp::from_unix_micros(4)),
                position: Position::new(23),
            },
        ]);
        let title = GroupTitle::parse("Team \"A\"").unwrap();
        let events = [
            GroupEvent::Created {
                title: title.clone(),
            },
            GroupEvent::Renamed { title },
            GroupEvent::Added { user: bob.clone() },
            GroupEvent::Invited { user: bob.clone() },
            GroupEvent::Joined,
            GroupEvent::Left,
            GroupEvent::Removed { user: bob.clone() },
            GroupEvent::RoleChanged {
                user: bob.clone(),
                role: chat_core::Role::Admin,
            },
            GroupEvent::Muted {
                user: bob.clone(),
                until: Some(Timestamp::from_unix_micros(1_800_000_000_000_000)),
            },
            GroupEvent::Muted {
                user: bob.clone(),
                until: None,
            },
            GroupEvent::Unmuted { user: bob.clone() },
            GroupEvent::Declined,
        ];
        let system = events.into_iter().map(|event| EventKind::Message {
            message: Message::new(
                MessageId::new(11),
                ConversationId::new(4),
                alice.clone(),
                None,
                MessageText::parse(event.describe(&alice)).unwrap(),
                Timestamp::from_unix_micros(1),
                None,
            )
            .with_event(Some(event)),
        });
        for kind in kinds.into_iter().chain(system) {
            let bytes = encode(&kind).unwrap();
            assert_eq!(decode(&bytes).unwrap(), kind);
        }
    }

    #[test]
    fn another_version_or_a_broken_rule_is_refused_clearly() {
        let other = br#"{"v":2,"event":{"kind":"whatever_v2_had"}}"#;
        assert!(matches!(decode(other), Err(WireError::Version(2))));
        let bad_name = br#"{"v":3,"event":{"kind":"typing","from":{"id":1,"name":"no spaces allowed"},"to":{"id":2,"name":"bob"}}}"#;
        assert!(matches!(decode(bad_name), Err(WireError::Malformed(_))));
        let empty_text = br#"{"v":3,"event":{"kind":"message","id":1,"conversation":1,"sender":{"id":1,"name":"alice"},"recipient":null,"text":"   ","sent_at":0,"client_id":null}}"#;
        assert!(matches!(decode(empty_text), Err(WireError::Malformed(_))));
        let bad_title = br#"{"v":3,"event":{"kind":"message","id":1,"conversation":1,"sender":{"id":1,"name":"alice"},"recipient":null,"text":"x","sent_at":0,"client_id":null,"event":{"change":"renamed","title":""}}}"#;
        assert!(matches!(decode(bad_title), Err(WireError::Malformed(_))));
        assert!(matches!(decode(b"not json"), Err(WireError::Malformed(_))));
        // The domain's own serialization is not the wire format.
        assert!(decode(br#"{"kind":"session_ended","session":1}"#).is_err());
    }
}
