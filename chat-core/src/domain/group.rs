//! What a group conversation is made of: its title and its members' roles.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, Result};

/// A group's title: 1 to 100 Unicode scalar values after trimming, on one
/// line, with at least one visible character, and no control or invisible
/// formatting characters (the bidirectional ones could make a title read
/// as something it is not).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GroupTitle(String);

impl GroupTitle {
    /// The longest title accepted, in Unicode scalar values.
    pub const MAX_LEN: usize = 100;

    /// Validates `raw`, trimming surrounding whitespace.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `title` if it is empty after
    /// trimming, longer than [`GroupTitle::MAX_LEN`], or holds a control
    /// or bidirectional formatting character.
    pub fn parse(raw: impl Into<String>) -> Result<Self> {
        let raw = raw.into();
        let title = raw.trim();
        if title.is_empty() {
            return Err(ChatError::invalid("title", "must not be empty"));
        }
        if title.chars().take(Self::MAX_LEN + 1).count() > Self::MAX_LEN {
            return Err(ChatError::invalid(
                "title",
                format!("must be at most {} characters long", Self::MAX_LEN),
            ));
        }
        if title
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
        {
            return Err(ChatError::invalid(
                "title",
                "must be one line without control characters",
            ));
        }
        if title.chars().any(is_format) {
            return Err(ChatError::invalid(
                "title",
                "must not contain invisible formatting characters",
            ));
        }
        if title.chars().all(|c| c.is_whitespace() || is_blank(c)) {
            return Err(ChatError::invalid("title", "must have a visible character"));
        }
        if title.len() == raw.len() {
            Ok(Self(raw))
        } else {
            Ok(Self(title.to_owned()))
        }
    }

    /// The title.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Invisible formatting characters (Unicode's category Cf): the controls
/// of the bidirectional algorithm (which can make a title read as
/// something it is not), zero-width characters, the soft hyphen, tags.
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}')
}

/// Letters and symbols that show as nothing.
fn is_blank(c: char) -> bool {
    matches!(
        c,
        '\u{115F}' | '\u{1160}' | '\u{2800}' | '\u{3164}' | '\u{FFA0}'
    )
}

impl fmt::Debug for GroupTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupTitle({:?})", self.0)
    }
}

impl fmt::Display for GroupTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for GroupTitle {
    type Error = ChatError;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(value)
    }
}

impl From<GroupTitle> for String {
    fn from(value: GroupTitle) -> Self {
        value.0
    }
}

/// A member's role in a group. A group has exactly one owner; admins and
/// the owner manage its members; only the owner changes roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A member: reads, sends, leaves.
    Member,
    /// Also renames the group, and adds and removes members.
    Admin,
    /// Also changes roles and hands the group over; exactly one per group.
    Owner,
}

impl Role {
    /// Every role, from the least to the most powerful.
    pub const ALL: [Role; 3] = [Role::Member, Role::Admin, Role::Owner];

    /// The role's name on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// Whether this role renames the group and adds members.
    pub fn manages_the_group(self) -> bool {
        self >= Role::Admin
    }

    /// Whether this role may remove a member holding `other`: the owner
    /// removes anyone but itself (it leaves, or hands the group over
    /// first), an admin removes members only.
    pub fn may_remove(self, other: Role) -> bool {
        match self {
            Role::Owner => other != Role::Owner,
            Role::Admin => other == Role::Member,
            Role::Member => false,
        }
    }

    /// Whether this role changes other members' roles.
    pub fn changes_roles(self) -> bool {
        self == Role::Owner
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ChatError;

    /// # Errors
    /// [`ChatError::InvalidInput`] on field `role` for anything but
    /// `member`, `admin` or `owner`.
    fn from_str(raw: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == raw)
            .ok_or_else(|| ChatError::invalid("role", "must be member, admin or owner"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str) -> bool {
        matches!(
            GroupTitle::parse(raw),
            Err(ChatError::InvalidInput { field: "title", .. })
        )
    }

    #[test]
    fn titles_are_trimmed_and_kept_as_written() {
        assert_eq!(GroupTitle::parse("  Team  ").unwrap().as_str(), "Team");
        assert_eq!(
            GroupTitle::parse("Ünïcødé ✓ 日本").unwrap().as_str(),
            "Ünïcødé ✓ 日本"
        );
    }

    #[test]
    fn titles_are_one_line_of_at_most_100_characters() {
        assert!(refused(""));
        assert!(refused("   "));
        assert!(
            GroupTitle::parse("é".repeat(100)).is_ok(),
            "counted in characters, not bytes"
        );
        assert!(refused(&"é".repeat(101)));
        assert!(refused("two\nlines"));
        assert!(refused("tab\there"));
        assert!(refused("nul\u{0}"));
    }

    #[test]
    fn titles_cannot_reorder_themselves_on_screen() {
        // "Admins" with a right-to-left override reads as something else.
        assert!(refused("\u{202E}snimdA"));
        assert!(refused("a\u{2067}b"));
        assert!(refused("a\u{200F}b"));
    }

    #[test]
    fn titles_have_something_to_see_and_nothing_hidden() {
        assert!(refused("\u{200B}"), "a zero-width space alone");
        assert!(refused("\u{3164}\u{2800}"), "fillers that show as nothing");
        assert!(refused("a\u{2028}b"), "a line separator");
        assert!(refused("a\u{00AD}b"), "a soft hyphen");
        assert!(refused("team\u{E0041}"), "a tag character");
        assert!(refused("\u{FEFF}team"));
    }

    #[test]
    fn titles_round_trip_through_json_and_are_checked_on_the_way_in() {
        let title = GroupTitle::parse("Team").unwrap();
        assert_eq!(serde_json::to_string(&title).unwrap(), "\"Team\"");
        assert_eq!(
            serde_json::from_str::<GroupTitle>("\"Team\"").unwrap(),
            title
        );
        assert!(serde_json::from_str::<GroupTitle>("\"\"").is_err());
    }

    #[test]
    fn roles_read_and_print_as_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
        }
        assert!(matches!(
            "Owner".parse::<Role>(),
            Err(ChatError::InvalidInput { field: "role", .. })
        ));
    }

    #[test]
    fn admins_and_the_owner_manage_and_only_the_owner_changes_roles() {
        assert!(!Role::Member.manages_the_group());
        assert!(Role::Admin.manages_the_group());
        assert!(Role::Owner.manages_the_group());
        assert!(Role::Owner.changes_roles());
        assert!(!Role::Admin.changes_roles());
        assert!(!Role::Member.changes_roles());
    }

    #[test]
    fn who_may_remove_whom() {
        use Role::{Admin, Member, Owner};
        let allowed = [(Owner, Admin), (Owner, Member), (Admin, Member)];
        for remover in Role::ALL {
            for removed in Role::ALL {
                assert_eq!(
                    remover.may_remove(removed),
                    allowed.contains(&(remover, removed)),
                    "{remover} removing {removed}"
                );
            }
        }
    }
}
