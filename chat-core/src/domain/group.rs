//! What a group conversation is made of: its title and its members' roles.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{ConversationId, MessageId, Position, User, UserId};
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
        super::line::visible_line("title", raw.into(), Self::MAX_LEN).map(Self)
    }

    /// The title.
    pub fn as_str(&self) -> &str {
        &self.0
    }
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

    /// Whether this role may call everyone with `@all` and `@here`.
    pub fn calls_everyone(self) -> bool {
        self >= Role::Admin
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

/// Which history a member who joins sees, chosen when the group is made
/// (as Matrix's history visibility).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryVisibility {
    /// From the moment they joined (the default).
    #[default]
    Joined,
    /// The whole history, from the group's creation.
    Shared,
}

impl HistoryVisibility {
    /// The name on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Joined => "joined",
            Self::Shared => "shared",
        }
    }
}

impl FromStr for HistoryVisibility {
    type Err = ChatError;

    /// # Errors
    /// [`ChatError::InvalidInput`] on field `history` for anything but
    /// `joined` or `shared`.
    fn from_str(raw: &str) -> Result<Self> {
        [Self::Joined, Self::Shared]
            .into_iter()
            .find(|v| v.as_str() == raw)
            .ok_or_else(|| ChatError::invalid("history", "must be joined or shared"))
    }
}

/// How people come into a group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum JoinPolicy {
    /// By invitation only (the default).
    #[default]
    Private,
    /// Listed in the group directory; anyone may join.
    Discoverable,
}

impl JoinPolicy {
    /// The name on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Discoverable => "discoverable",
        }
    }
}

impl FromStr for JoinPolicy {
    type Err = ChatError;

    /// # Errors
    /// [`ChatError::InvalidInput`] on field `join_policy` for anything but
    /// `private` or `discoverable`.
    fn from_str(raw: &str) -> Result<Self> {
        [Self::Private, Self::Discoverable]
            .into_iter()
            .find(|v| v.as_str() == raw)
            .ok_or_else(|| ChatError::invalid("join_policy", "must be private or discoverable"))
    }
}

/// A group's settings, chosen when it is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupSettings {
    /// Which history a member who joins later sees.
    pub history: HistoryVisibility,
    /// How people come in.
    pub join_policy: JoinPolicy,
    /// Whether only admins and the owner send.
    pub announcement: bool,
    /// Slow mode: a member (not an admin or the owner) sends at most one
    /// message per this many seconds; `None`: off.
    pub slow_mode: Option<SlowMode>,
}

/// A group's slow mode: at most one message per member per period, one of
/// [`SlowMode::CHOICES`] (seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct SlowMode(u32);

impl SlowMode {
    /// The periods a group may choose, in seconds: from 5 s to a day (a
    /// short list, so that limiters keep one count per period).
    pub const CHOICES: [u32; 10] = [5, 10, 15, 30, 60, 120, 300, 900, 3600, 86_400];

    /// Validates a period in seconds.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `slow_mode_seconds` for any other
    /// than [`SlowMode::CHOICES`].
    pub fn from_secs(secs: u32) -> Result<Self> {
        if Self::CHOICES.contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(ChatError::invalid(
                "slow_mode_seconds",
                "must be one of 5, 10, 15, 30, 60, 120, 300, 900, 3600 or 86400",
            ))
        }
    }

    /// The period in seconds.
    pub fn secs(self) -> u32 {
        self.0
    }

    /// The period.
    pub fn period(self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.0))
    }
}

impl TryFrom<u32> for SlowMode {
    type Error = ChatError;
    fn try_from(value: u32) -> Result<Self> {
        Self::from_secs(value)
    }
}

impl From<SlowMode> for u32 {
    fn from(value: SlowMode) -> Self {
        value.0
    }
}

/// Someone banned from a group: removed (if a member), and nobody adds or
/// invites them, nor do they join, until the ban ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupBan {
    /// Who.
    pub user: User,
    /// Until when; `None` until unbanned.
    pub until: Option<crate::domain::Timestamp>,
}

impl GroupBan {
    /// Whether the ban holds at `now`.
    pub fn holds(&self, now: crate::domain::Timestamp) -> bool {
        self.until.is_none_or(|until| until > now)
    }
}

/// A change to a group's membership or title, as it stands in the history
/// (a system message whose sender is who made the change) and as members
/// hear of it live.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GroupEvent {
    /// The group was made with this title.
    Created {
        /// Its first title.
        title: GroupTitle,
    },
    /// The group was renamed.
    Renamed {
        /// The new title.
        title: GroupTitle,
    },
    /// `user` was added as a member.
    Added {
        /// Who.
        user: User,
    },
    /// `user` was invited: they become a member once they accept.
    Invited {
        /// Who.
        user: User,
    },
    /// The sender accepted an invitation, or joined a discoverable group.
    Joined,
    /// The sender left.
    Left,
    /// `user` was removed.
    Removed {
        /// Who.
        user: User,
    },
    /// `user` now holds `role`.
    RoleChanged {
        /// Whose role.
        user: User,
        /// The new role.
        role: Role,
    },
    /// `user` may not send until `until` (`None`: until unmuted); a mute
    /// that has passed, or `Muted` with `until` in the past, unmutes.
    Muted {
        /// Who.
        user: User,
        /// Until when; `None` for no end.
        until: Option<crate::domain::Timestamp>,
    },
    /// `user` may send again.
    Unmuted {
        /// Who.
        user: User,
    },
    /// The sender turned an invitation down.
    Declined,
    /// `user` was banned until `until` (`None`: until unbanned): removed
    /// if a member, and kept out.
    Banned {
        /// Who.
        user: User,
        /// Until when; `None` for no end.
        until: Option<crate::domain::Timestamp>,
    },
    /// `user`'s ban was lifted (they come back only if added, invited or,
    /// in a discoverable group they left by themselves, joining).
    Unbanned {
        /// Who.
        user: User,
    },
    /// Slow mode was set (`Some`) or turned off.
    SlowModeSet {
        /// The new period; `None`: off.
        slow_mode: Option<SlowMode>,
    },
}

impl GroupEvent {
    /// The event as a line of text by `actor`, for clients that show text
    /// only: the system message's text.
    pub fn describe(&self, actor: &User) -> String {
        let actor = actor.username().as_str();
        match self {
            Self::Created { title } => format!("{actor} created the group \"{title}\""),
            Self::Renamed { title } => format!("{actor} renamed the group to \"{title}\""),
            Self::Added { user } => format!("{actor} added {}", user.username().as_str()),
            Self::Invited { user } => format!("{actor} invited {}", user.username().as_str()),
            Self::Joined => format!("{actor} joined"),
            Self::Left => format!("{actor} left"),
            Self::Removed { user } => format!("{actor} removed {}", user.username().as_str()),
            Self::RoleChanged { user, role } => {
                format!(
                    "{actor} made {} {}",
                    user.username().as_str(),
                    role_phrase(*role)
                )
            }
            Self::Muted { user, until } => match until {
                Some(until) => format!(
                    "{actor} muted {} until {}",
                    user.username().as_str(),
                    until.to_rfc3339()
                ),
                None => format!("{actor} muted {}", user.username().as_str()),
            },
            Self::Unmuted { user } => format!("{actor} unmuted {}", user.username().as_str()),
            Self::Declined => format!("{actor} declined the invitation"),
            Self::Banned { user, until } => match until {
                Some(until) => format!(
                    "{actor} banned {} until {}",
                    user.username().as_str(),
                    until.to_rfc3339()
                ),
                None => format!("{actor} banned {}", user.username().as_str()),
            },
            Self::Unbanned { user } => {
                format!("{actor} lifted the ban on {}", user.username().as_str())
            }
            Self::SlowModeSet { slow_mode } => match slow_mode {
                Some(period) => format!(
                    "{actor} turned on slow mode: one message every {} s",
                    period.secs()
                ),
                None => format!("{actor} turned off slow mode"),
            },
        }
    }

    /// The user the event is about other than its actor, if any.
    pub fn subject(&self) -> Option<&User> {
        match self {
            Self::Added { user }
            | Self::Invited { user }
            | Self::Removed { user }
            | Self::RoleChanged { user, .. }
            | Self::Muted { user, .. }
            | Self::Unmuted { user }
            | Self::Banned { user, .. }
            | Self::Unbanned { user } => Some(user),
            Self::Created { .. }
            | Self::Renamed { .. }
            | Self::Joined
            | Self::Left
            | Self::Declined
            | Self::SlowModeSet { .. } => None,
        }
    }
}

fn role_phrase(role: Role) -> &'static str {
    match role {
        Role::Member => "a member",
        Role::Admin => "an admin",
        Role::Owner => "the owner",
    }
}

/// A current member of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMember {
    /// Who.
    pub user: User,
    /// Their role.
    pub role: Role,
    /// The position of the change that made them a member: they joined
    /// after every change before it.
    pub joined: Position,
    /// Their read mark.
    pub read_up_to: MessageId,
    /// Whether they have sent a message in the group.
    pub has_spoken: bool,
    /// Until when they may not send (`None`: not muted; a time in the
    /// past is no mute either).
    pub muted_until: Option<crate::domain::Timestamp>,
}

/// A group as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Its conversation.
    pub id: ConversationId,
    /// Its title.
    pub title: GroupTitle,
    /// Who made it.
    pub creator: User,
    /// Its settings.
    pub settings: GroupSettings,
    /// The current members, the longest-standing first.
    pub members: Vec<GroupMember>,
    /// Who is invited and has not answered yet.
    pub invited: Vec<User>,
    /// Former members who left by themselves.
    pub left: Vec<UserId>,
    /// Former members who were removed: only an invitation brings them
    /// back.
    pub removed: Vec<UserId>,
    /// Bans, ended ones included until lifted.
    pub bans: Vec<GroupBan>,
    /// The position of its newest change of membership or title: a change
    /// written against an older version is refused
    /// ([`ChatError::Conflict`]), so two changes never both apply to the
    /// same state.
    pub version: Position,
}

impl Group {
    /// The current member `user`, if they are one.
    pub fn member(&self, user: UserId) -> Option<&GroupMember> {
        self.members.iter().find(|m| m.user.id() == user)
    }

    /// Whether `user` is invited.
    pub fn is_invited(&self, user: UserId) -> bool {
        self.invited.iter().any(|u| u.id() == user)
    }

    /// Whether `user` is banned at `now`.
    pub fn bans(&self, user: UserId, now: crate::domain::Timestamp) -> bool {
        self.bans
            .iter()
            .any(|b| b.user.id() == user && b.holds(now))
    }

    /// Whether `user` was a member and left or was removed.
    pub fn is_former(&self, user: UserId) -> bool {
        self.left.contains(&user) || self.removed.contains(&user)
    }

    /// The owner.
    pub fn owner(&self) -> Option<&GroupMember> {
        self.members.iter().find(|m| m.role == Role::Owner)
    }
}

/// What a user may see of a conversation they are or were a member of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    /// Their role (in a direct conversation: [`Role::Member`]).
    pub role: Role,
    /// The oldest position they may read (zero: the whole history).
    pub visible_from: Position,
    /// For a former member, the position of the change that ended their
    /// membership: they read nothing after it.
    pub left_at: Option<Position>,
    /// Until when they may not send (muted with no end: the largest
    /// timestamp).
    pub muted_until: Option<crate::domain::Timestamp>,
    /// Whether the conversation is announcement-only: only admins and the
    /// owner send.
    pub announcement: bool,
    /// The group's slow mode, if on (it binds members, not admins or the
    /// owner).
    pub slow_mode: Option<SlowMode>,
    /// Their read mark.
    pub read_up_to: MessageId,
}

impl Membership {
    /// Whether they are a member now.
    pub fn is_current(&self) -> bool {
        self.left_at.is_none()
    }

    /// Whether they may send now: a current member, not muted, and an
    /// admin or the owner where the group is announcement-only.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for a former member (as for someone who
    /// never was one), [`ChatError::Forbidden`] for a member who may not.
    pub fn may_send(&self, now: crate::domain::Timestamp) -> Result<()> {
        if !self.is_current() {
            return Err(ChatError::NotFound);
        }
        if self.announcement && !self.role.manages_the_group() {
            return Err(ChatError::Forbidden);
        }
        if self.muted_until.is_some_and(|until| until > now) {
            return Err(ChatError::Forbidden);
        }
        Ok(())
    }

    /// Whether `position` lies in what they may read.
    pub fn sees(&self, position: Position) -> bool {
        position >= self.visible_from && self.left_at.is_none_or(|left| position <= left)
    }
}

/// An invitation a user has not answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// The group.
    pub group: ConversationId,
    /// Its title.
    pub title: GroupTitle,
    /// Who invited them.
    pub by: User,
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
