//! Mentions: `@username`, `@all` and `@here` in a message's text.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::{User, UserId, Username, is_username_char};

/// A mention of everyone in a group, which only its admins and owner may
/// make (from anyone else it is plain text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Everyone {
    /// `@all`: every member.
    All,
    /// `@here`: the members online when it is sent.
    Here,
}

impl Everyone {
    /// Its name on the wire and in the text (`all`, `here`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Here => "here",
        }
    }
}

/// Whom a message mentions, as stored with it: the members it names (by
/// user id, with the name they had), and whether it calls everyone.
/// Only members of the conversation at the time are ever recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mentions {
    /// The members named with `@username`, in order of first mention.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<User>,
    /// `@all` or `@here`, where the sender may call everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub everyone: Option<Everyone>,
}

impl Mentions {
    /// Whether it mentions nobody.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.everyone.is_none()
    }

    /// Whether the `@` word `word` (as [`at_words`] gives it) is one of
    /// these mentions: a named member, or `all`/`here` when it called
    /// everyone.
    pub fn covers(&self, word: &str) -> bool {
        self.everyone
            .is_some_and(|e| e.as_str().eq_ignore_ascii_case(word))
            || self
                .users
                .iter()
                .any(|u| u.username().as_str().eq_ignore_ascii_case(word))
    }

    /// Whether `user` is named (not counting `@all` and `@here`).
    pub fn names(&self, user: UserId) -> bool {
        self.users.iter().any(|u| u.id() == user)
    }
}

/// A message's mentions with whom they reach: the members whose mention
/// count grows (the named ones, and for `@all` every member, for `@here`
/// those online; never the sender, never a non-member).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mentioned {
    /// What the message shows.
    pub mentions: Mentions,
    /// Whose mention count it adds to, each once.
    pub reached: Vec<UserId>,
}

impl Mentioned {
    /// Whether it mentions nobody.
    pub fn is_empty(&self) -> bool {
        self.mentions.is_empty() && self.reached.is_empty()
    }
}

/// The `@` words of `text`, in order: each one's byte range (its `@`
/// included) and the word after the `@`. A word starts with `@` at the
/// start of the text or after a character that cannot be part of a
/// username, and runs over username characters; dots and dashes at its
/// end are punctuation (`@bob.`). What [`MentionWords::of`] reads, and
/// what a page highlights.
pub fn at_words(text: &str) -> impl Iterator<Item = (Range<usize>, &str)> + '_ {
    let mut previous: Option<char> = None;
    let any = text.contains('@');
    text.char_indices()
        .take_while(move |_| any)
        .filter_map(move |(at, c)| {
            let starts = c == '@' && !previous.is_some_and(|p| is_username_char(p) || p == '@');
            previous = Some(c);
            if !starts {
                return None;
            }
            let rest = &text[at + 1..];
            let end = rest
                .find(|c: char| !is_username_char(c))
                .unwrap_or(rest.len());
            let word = rest[..end].trim_end_matches(['.', '-']);
            (!word.is_empty()).then(|| (at..at + 1 + word.len(), word))
        })
}

/// The `@` words of a text, before they are matched with members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MentionWords {
    /// The names after `@` that are valid usernames, each once (by
    /// canonical name), in order, at most [`MentionWords::MAX_NAMES`].
    pub names: Vec<Username>,
    /// Whether `@all` or `@here` appears (`@all` wins when both do).
    pub everyone: Option<Everyone>,
}

impl MentionWords {
    /// The most names one message may mention; later ones are plain text.
    pub const MAX_NAMES: usize = 50;

    /// The `@` words of `text`. A mention starts with `@` at the start of
    /// the text or after a character that cannot be part of a username
    /// (so `mail@example.com` mentions nobody), and runs over username
    /// characters; dots and dashes at its end are punctuation (`@bob.`).
    pub fn of(text: &str) -> Self {
        let mut words = Self::default();
        let mut seen = Vec::new();
        for (_, word) in at_words(text) {
            match word.to_ascii_lowercase().as_str() {
                "all" => words.everyone = Some(Everyone::All),
                "here" => {
                    words.everyone.get_or_insert(Everyone::Here);
                }
                _ => {
                    if words.names.len() >= Self::MAX_NAMES {
                        continue;
                    }
                    if let Ok(name) = Username::parse(word) {
                        let canonical = name.canonical();
                        if !seen.contains(&canonical) {
                            seen.push(canonical);
                            words.names.push(name);
                        }
                    }
                }
            }
        }
        words
    }

    /// Whether the text has no `@` word.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.everyone.is_none()
    }

    /// Matches the words with `members` (the conversation's current
    /// members, the sender among them): named members are mentioned and
    /// reached; with `everyone` allowed, `@all` reaches every member and
    /// `@here` those for whom `online` says so. The sender is never
    /// reached; names of non-members mention nobody.
    pub fn resolve(
        &self,
        sender: UserId,
        members: &[User],
        may_call_everyone: bool,
        online: impl Fn(UserId) -> bool,
    ) -> Mentioned {
        let users: Vec<User> = self
            .names
            .iter()
            .filter_map(|name| {
                let canonical = name.canonical();
                members
                    .iter()
                    .find(|m| m.username().canonical() == canonical)
                    .cloned()
            })
            .collect();
        let everyone = self.everyone.filter(|_| may_call_everyone);
        let mut reached: Vec<UserId> = match everyone {
            Some(Everyone::All) => members.iter().map(User::id).collect(),
            Some(Everyone::Here) => members
                .iter()
                .map(User::id)
                .filter(|&id| online(id))
                .chain(users.iter().map(User::id))
                .collect(),
            None => users.iter().map(User::id).collect(),
        };
        reached.retain(|&id| id != sender);
        reached.sort_unstable();
        reached.dedup();
        Mentioned {
            mentions: Mentions { users, everyone },
            reached,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        MentionWords::of(text)
            .names
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect()
    }

    fn user(id: i64, name: &str) -> User {
        User::new(UserId::new(id), Username::parse(name).unwrap())
    }

    #[test]
    fn finds_names_after_an_at_sign_that_starts_a_word() {
        assert_eq!(names("@alice hi"), ["alice"]);
        assert_eq!(names("hi @Bob, and (@carol)!"), ["Bob", "carol"]);
        assert_eq!(names("thanks @dave."), ["dave"]);
        assert_eq!(names("mail me at eve@example.com"), Vec::<String>::new());
        assert_eq!(names("@@alice @x @"), Vec::<String>::new());
        assert_eq!(names("@alice @ALICE @alice"), ["alice"]);
        assert!(MentionWords::of("no mentions").is_empty());
    }

    #[test]
    fn at_words_give_the_ranges_a_page_highlights() {
        let text = "hé @bob, @all. a@b @-";
        let words: Vec<_> = at_words(text).map(|(r, w)| (&text[r], w)).collect();
        assert_eq!(words, [("@bob", "bob"), ("@all", "all")]);
        let mentions = Mentions {
            users: vec![user(2, "Bob")],
            everyone: None,
        };
        assert!(mentions.covers("bob") && !mentions.covers("all"));
    }

    #[test]
    fn all_wins_over_here_and_names_are_capped() {
        assert_eq!(MentionWords::of("@here @all").everyone, Some(Everyone::All));
        assert_eq!(MentionWords::of("hey @HERE").everyone, Some(Everyone::Here));
        let many: String = (0..80).map(|i| format!("@user{i} ")).collect();
        assert_eq!(MentionWords::of(&many).names.len(), MentionWords::MAX_NAMES);
    }

    #[test]
    fn only_members_are_mentioned_and_the_sender_is_never_reached() {
        let members = [user(1, "alice"), user(2, "bob"), user(3, "carol")];
        let words = MentionWords::of("@bob @alice @mallory");
        let mentioned = words.resolve(UserId::new(1), &members, false, |_| false);
        assert_eq!(mentioned.mentions.users, [user(2, "bob"), user(1, "alice")]);
        assert_eq!(mentioned.reached, [UserId::new(2)]);
    }

    #[test]
    fn everyone_needs_the_permission_and_here_reaches_those_online() {
        let members = [user(1, "alice"), user(2, "bob"), user(3, "carol")];
        let all = MentionWords::of("@all");
        let plain = all.resolve(UserId::new(1), &members, false, |_| true);
        assert!(plain.is_empty());
        let called = all.resolve(UserId::new(1), &members, true, |_| false);
        assert_eq!(called.mentions.everyone, Some(Everyone::All));
        assert_eq!(called.reached, [UserId::new(2), UserId::new(3)]);
        let here = MentionWords::of("@here @carol")
            .resolve(UserId::new(1), &members, true, |id| id == UserId::new(2));
        assert_eq!(here.reached, [UserId::new(2), UserId::new(3)]);
    }
}
