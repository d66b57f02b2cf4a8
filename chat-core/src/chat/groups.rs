//! Group conversations: making them, their members and roles, sending,
//! reading and typing in them. Every rule of who may do what lives here;
//! the store writes a decided change only if the group is still as it was
//! read (its version), so two changes never both apply to one state.

use tracing::instrument;

use super::Chat;
use super::messaging::{Draft, Sending, Sent};
use crate::domain::{
    ClientMessageId, ConversationId, Group, GroupEvent, GroupMember, GroupSettings, GroupTitle,
    HistoryVisibility, Invitation, JoinPolicy, Membership, Message, MessageId, MessageText,
    NewEvent, NewMessage, Role, User, UserId, Username,
};
use crate::error::{ChatError, Result};
use crate::event::{Event, EventKind};
use crate::ports::{Action, GroupChange, HistoryQuery, NewGroup, Page, Proposal, Topic};
use crate::session::Session;

/// How many times a change is decided again after a concurrent change to
/// the same group won the race.
const ATTEMPTS: usize = 16;

/// Up to this many members, typing in a group reaches every member online;
/// in a larger group it is dropped (announcing every keystroke to
/// thousands costs more than it tells).
pub const GROUP_TYPING_LIMIT: usize = 100;

/// What a user asks for when making a group.
#[derive(Clone, Debug, Default)]
pub struct GroupForm {
    /// The title, as typed.
    pub title: String,
    /// Usernames to bring in: added at once where the consent rule allows,
    /// invited otherwise.
    pub members: Vec<String>,
    /// Which history a member who joins later sees.
    pub history: HistoryVisibility,
    /// How people come in.
    pub join_policy: JoinPolicy,
    /// Whether only admins and the owner send.
    pub announcement: bool,
}

/// A member as the service shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView {
    /// Who.
    pub user: User,
    /// Their role.
    pub role: Role,
    /// Whether they are online (a member asking sees every member's; an
    /// outsider sees no one's).
    pub online: bool,
    /// Whether they are muted now (shown to admins and the owner, and to
    /// the member themself; `false` to anyone else).
    pub muted: bool,
}

/// A group as the service shows it to one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupView {
    /// The conversation.
    pub id: ConversationId,
    /// The title.
    pub title: GroupTitle,
    /// The settings.
    pub settings: GroupSettings,
    /// The members, longest-standing first (empty for a former member).
    pub members: Vec<MemberView>,
    /// Who is invited (shown to members only).
    pub invited: Vec<User>,
    /// The asking user's role: `None` if they are not a member (invited,
    /// former, or looking at a discoverable group).
    pub role: Option<Role>,
    /// Who is banned now (shown to admins and the owner only).
    pub bans: Vec<crate::domain::GroupBan>,
}

/// Whom a change adds directly, and whom it may only invite.
enum Entry {
    Add(User),
    Invite(User),
}

impl Chat {
    /// Makes a group owned by the session's user, with `form.members`
    /// added where the consent rule allows (they share a direct
    /// conversation with the user in which both have written, and never
    /// left or were removed from this group: a new group, so they have
    /// not) and invited otherwise.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `title` or `members` (a name that is
    /// not a username, or the user's own); [`ChatError::NotFound`] if a
    /// member does not exist; [`ChatError::TooManyMembers`] past the cap.
    #[instrument(skip_all, fields(user = %session.user().id()))]
    pub async fn create_group(&self, session: &Session, form: GroupForm) -> Result<GroupView> {
        let me = session.user();
        let title = GroupTitle::parse(form.title)?;
        let mut members: Vec<User> = Vec::new();
        let mut invited: Vec<User> = Vec::new();
        for name in &form.members {
            let name = Username::parse_field(name, "members")?;
            if name.canonical() == me.username().canonical() {
                return Err(ChatError::invalid(
                    "members",
                    "you are a member of the groups you make",
                ));
            }
            let user = self.find_user(&name).await?;
            if members.iter().chain(&invited).any(|u| u.id() == user.id()) {
                continue;
            }
            match self.entry_for(me, user).await? {
                Entry::Add(user) => members.push(user),
                Entry::Invite(user) => invited.push(user),
            }
        }
        if members.len() + 1 > self.inner.config.max_group_members {
            return Err(ChatError::TooManyMembers {
                max: self.inner.config.max_group_members,
            });
        }
        self.inner
            .limiter
            .check(Action::SendPerUser, &me.id().to_string())
            .await?;
        let named: Vec<User> = members.iter().chain(&invited).cloned().collect();
        self.consult(Proposal::CreateGroup {
            by: me,
            title: &title,
            members: &named,
        })
        .await?;
        let (id, events) = self
            .inner
            .store
            .create_group(NewGroup {
                title,
                creator: me.clone(),
                settings: GroupSettings {
                    history: form.history,
                    join_policy: form.join_policy,
                    announcement: form.announcement,
                    slow_mode: None,
                },
                members,
                invited,
                at: self.inner.clock.now(),
            })
            .await?;
        self.publish_group_events(id, &events).await;
        self.group_view(session, id).await
    }

    /// The group as the session's user may see it: members see everything;
    /// an invitee, a former member or anyone looking at a discoverable
    /// group sees its title and settings.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for anyone else, whether or not the group
    /// exists.
    pub async fn group(&self, session: &Session, id: ConversationId) -> Result<GroupView> {
        self.group_view(session, id).await
    }

    /// Renames the group (admins and the owner).
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `title`; [`ChatError::NotFound`] for a
    /// non-member; [`ChatError::Forbidden`] for a member who may not.
    pub async fn rename_group(
        &self,
        session: &Session,
        id: ConversationId,
        title: String,
    ) -> Result<GroupView> {
        let title = GroupTitle::parse(title)?;
        let me = session.user();
        self.change(session, id, |group| {
            let role = member_role(group, me.id())?;
            if !role.manages_the_group() {
                return Err(ChatError::Forbidden);
            }
            if group.title == title {
                return Ok(Vec::new());
            }
            Ok(vec![GroupEvent::Renamed {
                title: title.clone(),
            }])
        })
        .await?;
        self.group_view(session, id).await
    }

    /// Brings `username` into the group (admins and the owner): added at
    /// once where the consent rule allows, invited otherwise. Adding a
    /// member again changes nothing.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for a non-member, or if `username` does not
    /// exist; [`ChatError::Forbidden`] for a member who may not add;
    /// [`ChatError::TooManyMembers`] past the cap; [`ChatError::RateLimited`]
    /// (adds count as sends).
    pub async fn add_member(
        &self,
        session: &Session,
        id: ConversationId,
        username: &str,
    ) -> Result<GroupView> {
        let me = session.user();
        let name = Username::parse_field(username, "username")?;
        let user = self.find_user(&name).await?;
        // An add or an invitation reaches its user live: it counts as a
        // send, so that nobody floods others with invitations.
        self.inner
            .limiter
            .check(Action::SendPerUser, &me.id().to_string())
            .await?;
        // The host is asked only about adds the caller may make (the
        // change below decides again, against the group as it stands).
        let membership = self.membership(session, id).await?;
        if !membership.is_current() {
            return Err(ChatError::NotFound);
        }
        if !membership.role.manages_the_group() {
            return Err(ChatError::Forbidden);
        }
        self.consult(Proposal::AddMember {
            by: me,
            group: id,
            user: &user,
        })
        .await?;
        // Whether they share a direct conversation in which both have
        // written is not the group's to change; whether they left or were
        // removed before is, and is decided from the group as read.
        let entry = self.entry_for(me, user).await?;
        let max = self.inner.config.max_group_members;
        let now = self.inner.clock.now();
        self.change(session, id, |group| {
            let role = member_role(group, me.id())?;
            if !role.manages_the_group() {
                return Err(ChatError::Forbidden);
            }
            let (Entry::Add(user) | Entry::Invite(user)) = &entry;
            if group.bans(user.id(), now) {
                return Err(ChatError::conflict(
                    "they are banned from this group: lift the ban first",
                ));
            }
            let entry = match &entry {
                Entry::Add(user) if group.is_former(user.id()) => Entry::Invite(user.clone()),
                Entry::Add(user) => Entry::Add(user.clone()),
                Entry::Invite(user) => Entry::Invite(user.clone()),
            };
            Ok(match &entry {
                Entry::Add(user) | Entry::Invite(user) if group.member(user.id()).is_some() => {
                    Vec::new()
                }
                Entry::Add(user) => {
                    if group.members.len() >= max {
                        return Err(ChatError::TooManyMembers { max });
                    }
                    vec![GroupEvent::Added { user: user.clone() }]
                }
                Entry::Invite(user) if group.is_invited(user.id()) => Vec::new(),
                Entry::Invite(user) => vec![GroupEvent::Invited { user: user.clone() }],
            })
        })
        .await?;
        self.group_view(session, id).await
    }

    /// Removes `username` from the group; the session's own name leaves
    /// it. Admins remove members, the owner removes admins and members; an
    /// invitation is withdrawn the same way. When the owner leaves,
    /// ownership passes to the longest-standing admin, or else to the
    /// longest-standing member.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for a non-member, or if `username` is
    /// neither a member nor invited; [`ChatError::Forbidden`] for a member
    /// who may not remove them; [`ChatError::Conflict`] for removing the
    /// owner.
    pub async fn remove_member(
        &self,
        session: &Session,
        id: ConversationId,
        username: &str,
    ) -> Result<Option<GroupView>> {
        let me = session.user();
        let name = Username::parse_field(username, "username")?;
        let leaving = name.canonical() == me.username().canonical();
        let user = if leaving {
            me.clone()
        } else {
            self.find_user(&name).await?
        };
        self.change(session, id, |group| {
            if leaving && group.member(me.id()).is_none() && group.is_invited(me.id()) {
                // Turning an invitation down.
                return Ok(vec![GroupEvent::Declined]);
            }
            let role = member_role(group, me.id())?;
            if leaving {
                return Ok(leave(group, me.id()));
            }
            if group.is_invited(user.id()) && group.member(user.id()).is_none() {
                return if role.manages_the_group() {
                    Ok(vec![GroupEvent::Removed { user: user.clone() }])
                } else {
                    Err(ChatError::Forbidden)
                };
            }
            let target = group.member(user.id()).ok_or(ChatError::NotFound)?;
            if target.role == Role::Owner {
                return Err(ChatError::conflict(
                    "the owner cannot be removed; they hand the group over first",
                ));
            }
            if !role.may_remove(target.role) {
                return Err(ChatError::Forbidden);
            }
            Ok(vec![GroupEvent::Removed { user: user.clone() }])
        })
        .await?;
        if leaving {
            Ok(None)
        } else {
            self.group_view(session, id).await.map(Some)
        }
    }

    /// Gives `username` a role (the owner only). Making someone the owner
    /// hands the group over: the former owner becomes an admin.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for a non-member, or if `username` is not a
    /// member; [`ChatError::Forbidden`] for anyone but the owner;
    /// [`ChatError::Conflict`] for the owner changing their own role (they
    /// hand the group over instead).
    pub async fn set_role(
        &self,
        session: &Session,
        id: ConversationId,
        username: &str,
        role: Role,
    ) -> Result<GroupView> {
        let me = session.user();
        let name = Username::parse_field(username, "username")?;
        self.change(session, id, |group| {
            let my_role = member_role(group, me.id())?;
            let target = member_named(group, &name)?;
            if !my_role.changes_roles() {
                return Err(ChatError::Forbidden);
            }
            if target.user.id() == me.id() {
                return Err(ChatError::conflict(
                    "the owner keeps the role until they hand the group over",
                ));
            }
            if target.role == role {
                return Ok(Vec::new());
            }
            let mut events = vec![GroupEvent::RoleChanged {
                user: target.user.clone(),
                role,
            }];
            if role == Role::Owner {
                events.push(GroupEvent::RoleChanged {
                    user: me.clone(),
                    role: Role::Admin,
                });
            }
            Ok(events)
        })
        .await?;
        self.group_view(session, id).await
    }

    /// Mutes `username` in the group until `until` (`None`: until unmuted):
    /// they read but do not send, typing included. Admins mute members, the
    /// owner admins too; nobody mutes the owner.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `until` if it is not in the future;
    /// [`ChatError::NotFound`] for a non-member, or if `username` is not a
    /// member; [`ChatError::Forbidden`] for a member who may not.
    pub async fn mute_member(
        &self,
        session: &Session,
        id: ConversationId,
        username: &str,
        until: Option<crate::domain::Timestamp>,
    ) -> Result<GroupView> {
        if until.is_some_and(|until| until <= self.inner.clock.now()) {
            return Err(ChatError::invalid("muted_until", "must be in the future"));
        }
        self.moderate(session, id, username, |user| GroupEvent::Muted {
            user,
            until,
        })
        .await
    }

    /// Lets `username` send again; the same roles as [`Chat::mute_member`].
    ///
    /// # Errors
    /// As [`Chat::mute_member`].
    pub async fn unmute_member(
        &self,
        session: &Session,
        id: ConversationId,
        username: &str,
    ) -> Result<GroupView> {
        self.moderate(session, id, username, |user| GroupEvent::Unmuted { user })
            .await
    }

    async fn moderate(
        &self,
        session: &Session,
        id: ConversationId,
        username: &str,
        event: impl Fn(User) -> GroupEvent,
    ) -> Result<GroupView> {
        let me = session.user();
        let name = Username::parse_field(username, "username")?;
        self.change(session, id, |group| {
            let my_role = member_role(group, me.id())?;
            let target = member_named(group, &name)?;
            if !my_role.may_remove(target.role) {
                return Err(ChatError::Forbidden);
            }
            Ok(vec![event(target.user.clone())])
        })
        .await?;
        self.group_view(session, id).await
    }

    /// Joins the group: accepts an invitation, or joins a discoverable
    /// group. Joining a group one is a member of changes nothing.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] if the user is neither invited nor looking
    /// at a discoverable group (whether or not it exists);
    /// [`ChatError::TooManyMembers`] past the cap; [`ChatError::RateLimited`]
    /// (joins count as sends).
    pub async fn join_group(&self, session: &Session, id: ConversationId) -> Result<GroupView> {
        let me = session.user();
        // A join is a change every member hears of: it counts as a send.
        self.inner
            .limiter
            .check(Action::SendPerUser, &me.id().to_string())
            .await?;
        let max = self.inner.config.max_group_members;
        let now = self.inner.clock.now();
        self.change(session, id, |group| {
            if group.member(me.id()).is_some() {
                return Ok(Vec::new());
            }
            // Kept out while banned, as if the group were not there.
            if group.bans(me.id(), now) {
                return Err(ChatError::NotFound);
            }
            // Open to anyone, but not to someone removed from it (only an
            // invitation brings them back), and not once everyone left.
            let open = group.settings.join_policy == JoinPolicy::Discoverable
                && !group.removed.contains(&me.id())
                && !group.members.is_empty();
            if !open && !group.is_invited(me.id()) {
                return Err(ChatError::NotFound);
            }
            if group.members.len() >= max {
                return Err(ChatError::TooManyMembers { max });
            }
            Ok(vec![GroupEvent::Joined])
        })
        .await?;
        self.group_view(session, id).await
    }

    /// The directory: discoverable groups whose title contains `term`
    /// (case-insensitively; empty: all), the largest first.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `q` for a term longer than a title.
    pub async fn group_directory(
        &self,
        _session: &Session,
        term: &str,
        limit: crate::ports::PageLimit,
    ) -> Result<Vec<crate::ports::GroupListing>> {
        let term = term.trim();
        if term.chars().count() > GroupTitle::MAX_LEN {
            return Err(ChatError::invalid(
                "q",
                format!("must be at most {} characters long", GroupTitle::MAX_LEN),
            ));
        }
        self.inner
            .store
            .discoverable_groups(&crate::domain::fold_for_search(term), limit)
            .await
    }

    /// The invitations the session's user has not answered, newest first.
    ///
    /// # Errors
    /// What the store reports.
    pub async fn invitations(&self, session: &Session) -> Result<Vec<Invitation>> {
        self.inner.store.invitations(session.user().id()).await
    }

    /// Sends a message to a group the session's user is a member of: it
    /// is committed once and published once, on the group's topic.
    /// Sending again with the same `client_id` returns the original.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `text` or `client_id`;
    /// [`ChatError::NotFound`] for a non-member (also one removed while the
    /// message was on its way); [`ChatError::Forbidden`] for a member who
    /// may not send (an announcement-only group, a mute);
    /// [`ChatError::RateLimited`], also within the group's slow mode
    /// ([`Chat::set_slow_mode`]) since the member's last message there.
    pub async fn send_to_group(
        &self,
        session: &Session,
        id: ConversationId,
        text: String,
        client_id: Option<String>,
    ) -> Result<Sent> {
        self.start_send_to_group(session, id, text, client_id)
            .await?
            .await
    }

    /// [`Chat::send_to_group`] in two steps, as [`Chat::start_send`].
    ///
    /// # Errors
    /// As [`Chat::send_to_group`], for what is checked before the commit.
    pub async fn start_send_to_group(
        &self,
        session: &Session,
        id: ConversationId,
        text: String,
        client_id: Option<String>,
    ) -> Result<Sending> {
        let draft = Draft {
            text,
            client_id,
            reply_to: None,
        };
        self.start_send_draft_to_group(session, id, draft).await
    }

    /// Sends `draft` to the group as [`Chat::send_to_group`] does, and may
    /// reply to an earlier message of the group the sender may read.
    ///
    /// # Errors
    /// As [`Chat::send_to_group`]; [`ChatError::InvalidInput`] on
    /// `reply_to` for a message of another conversation (or none).
    pub async fn send_draft_to_group(
        &self,
        session: &Session,
        id: ConversationId,
        draft: Draft,
    ) -> Result<Sent> {
        self.start_send_draft_to_group(session, id, draft)
            .await?
            .await
    }

    /// [`Chat::send_draft_to_group`] in two steps, as [`Chat::start_send`].
    ///
    /// # Errors
    /// As [`Chat::send_draft_to_group`], for what is checked before the
    /// commit.
    #[instrument(skip_all, fields(user = %session.user().id()))]
    pub async fn start_send_draft_to_group(
        &self,
        session: &Session,
        id: ConversationId,
        draft: Draft,
    ) -> Result<Sending> {
        let sender = session.user();
        let text = MessageText::parse(draft.text)?;
        let client_id = draft.client_id.map(ClientMessageId::parse).transpose()?;
        let membership = self.membership(session, id).await?;
        membership.may_send(self.inner.clock.now())?;
        self.inner
            .limiter
            .check(Action::SendPerUser, &sender.id().to_string())
            .await?;
        let reply = match draft.reply_to {
            Some(parent) => Some(self.reply_in(Some(id), parent, Some(&membership)).await?),
            None => None,
        };
        let text = self
            .consult(Proposal::Send {
                from: sender,
                conversation: Some(id),
                to: None,
                text: &text,
            })
            .await?
            .unwrap_or(text);
        let mentioned = self
            .group_mentions(id, &text, sender.id(), membership.role)
            .await?;
        // Last of the checks: a send refused for another reason does not
        // spend the member's slow-mode turn.
        self.check_slow_mode(session, id, &membership, client_id.as_ref())
            .await?;
        let committing = self
            .inner
            .appends
            .enqueue(NewMessage {
                conversation: id,
                sender: sender.clone(),
                recipient: None,
                text,
                sent_at: self.inner.clock.now(),
                client_id,
                reply,
                mentioned,
            })
            .await?;
        Ok(self.finish_send(
            committing,
            id,
            vec![Topic::conversation(id)],
            "already used for a message elsewhere",
        ))
    }

    /// A page of the group's messages that the session's user may read
    /// (members: from when they joined, or all of it where history is
    /// shared; former members: up to when they left).
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for anyone who never was a member;
    /// [`ChatError::RateLimited`] for a search over the limit.
    pub async fn group_history(
        &self,
        session: &Session,
        id: ConversationId,
        query: &HistoryQuery,
    ) -> Result<Page<Message>> {
        let membership = self.membership(session, id).await?;
        if query.search.is_some() {
            self.inner
                .limiter
                .check(Action::SearchPerUser, &session.user().id().to_string())
                .await?;
        }
        let mut query = query.clone();
        // Only what the member may read: above `floor`, up to `left_at`.
        // A page read forward starts above the floor; one read backward
        // (the newest first) keeps its direction, and what lies below the
        // floor is cut from it.
        let floor = MessageId::new(membership.visible_from.get().saturating_sub(1));
        if let Some(after) = query.after {
            query.after = Some(after.max(floor));
        }
        if let Some(left) = membership.left_at {
            let ceiling = MessageId::new(left.get().saturating_add(1));
            query.before = Some(query.before.map_or(ceiling, |before| before.min(ceiling)));
        }
        let mut page = self.inner.store.list_messages(id, &query).await?;
        if !query.reads_forward() {
            let fetched = page.items.len();
            page.items.retain(|m| m.id() > floor);
            if page.items.len() < fetched {
                page.has_more = false;
            }
        }
        page.items = self
            .with_details(Some(session.user().id()), page.items)
            .await?;
        Ok(page)
    }

    /// How many members other than its sender have read each of
    /// `messages` of the group (by their read marks), in order: "read by
    /// N", aggregated, never who. `None` for a system message.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for anyone who never was a member.
    pub async fn read_by(
        &self,
        session: &Session,
        id: ConversationId,
        messages: &[Message],
    ) -> Result<Vec<Option<u64>>> {
        self.membership(session, id).await?;
        let members = self.inner.store.members(id).await?;
        Ok(super::read_counts::count_reads(&members, messages))
    }

    /// Marks the group read up to `up_to` for the session's user; their
    /// own devices hear of it. Returns the read mark.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for anyone who never was a member.
    pub async fn mark_group_read(
        &self,
        session: &Session,
        id: ConversationId,
        up_to: MessageId,
    ) -> Result<MessageId> {
        let me = session.user();
        let before = self.membership(session, id).await?.read_up_to;
        let mark = self.inner.store.mark_read(id, me.id(), up_to).await?;
        if let Some(position) = mark.moved {
            self.tally_reads_later(id, before, mark.up_to);
            let event = Event::new(EventKind::Read {
                conversation: id,
                by: me.clone(),
                with: None,
                up_to: mark.up_to,
                position,
            });
            self.publish(&[Topic::user(me.id())], event).await;
        }
        Ok(mark.up_to)
    }

    /// Tells the group's members online that the user is typing, in groups
    /// of up to [`GROUP_TYPING_LIMIT`] members (dropped in larger ones, and
    /// from anyone who may not send). Not stored.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for a non-member; [`ChatError::RateLimited`].
    pub async fn group_typing(&self, session: &Session, id: ConversationId) -> Result<()> {
        let me = session.user();
        let membership = self.membership(session, id).await?;
        if !membership.is_current() {
            return Err(ChatError::NotFound);
        }
        self.inner
            .limiter
            .check(Action::TypingPerUser, &me.id().to_string())
            .await?;
        if membership.may_send(self.inner.clock.now()).is_err() {
            return Ok(());
        }
        let members = self.inner.store.members(id).await?.len();
        if members > GROUP_TYPING_LIMIT {
            return Ok(());
        }
        let event = Event::new(EventKind::GroupTyping {
            from: me.clone(),
            group: id,
        });
        self.publish(&[Topic::conversation(id)], event).await;
        Ok(())
    }

    /// Sends to a conversation named by its id, a group or a direct
    /// conversation of the user's: [`Chat::start_send_to_group`] or
    /// [`Chat::start_send`] to its other member.
    ///
    /// # Errors
    /// As those; [`ChatError::NotFound`] for a conversation the user is
    /// not in.
    pub async fn start_send_in(
        &self,
        session: &Session,
        id: ConversationId,
        text: String,
        client_id: Option<String>,
    ) -> Result<Sending> {
        let draft = Draft {
            text,
            client_id,
            reply_to: None,
        };
        self.start_send_draft_in(session, id, draft).await
    }

    /// [`Chat::start_send_in`] with a [`Draft`]: a reply, perhaps.
    ///
    /// # Errors
    /// As [`Chat::start_send_draft_to_group`] and
    /// [`Chat::start_send_draft`].
    pub async fn start_send_draft_in(
        &self,
        session: &Session,
        id: ConversationId,
        draft: Draft,
    ) -> Result<Sending> {
        match self.direct_peer(session, id).await? {
            Some(peer) => {
                self.start_send_draft(session, peer.username().as_str(), draft)
                    .await
            }
            None => self.start_send_draft_to_group(session, id, draft).await,
        }
    }

    /// Typing in a conversation named by its id: [`Chat::group_typing`]
    /// or [`Chat::typing`] to its other member.
    ///
    /// # Errors
    /// As those.
    pub async fn typing_in(&self, session: &Session, id: ConversationId) -> Result<()> {
        match self.direct_peer(session, id).await? {
            Some(peer) => self.typing(session, peer.username().as_str()).await,
            None => self.group_typing(session, id).await,
        }
    }

    /// A read mark in a conversation named by its id:
    /// [`Chat::mark_group_read`] or [`Chat::mark_read`].
    ///
    /// # Errors
    /// As those.
    pub async fn mark_read_in(
        &self,
        session: &Session,
        id: ConversationId,
        up_to: MessageId,
    ) -> Result<MessageId> {
        match self.direct_peer(session, id).await? {
            Some(peer) => {
                self.mark_read(session, peer.username().as_str(), up_to)
                    .await
            }
            None => self.mark_group_read(session, id, up_to).await,
        }
    }

    /// The other member, if `id` is a direct conversation of the user's;
    /// `None` for anything else (a group, or nothing the user may see).
    async fn direct_peer(&self, session: &Session, id: ConversationId) -> Result<Option<User>> {
        let me = session.user().id();
        if self.inner.store.membership(id, me).await?.is_some() {
            return Ok(None);
        }
        let members = self.inner.store.members(id).await?;
        if members.len() == 2 && members.iter().any(|m| m.user.id() == me) {
            return Ok(members.into_iter().map(|m| m.user).find(|u| u.id() != me));
        }
        Ok(None)
    }

    /// The session user's membership of `id`, current or former.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] if they never were a member.
    pub(super) async fn membership(
        &self,
        session: &Session,
        id: ConversationId,
    ) -> Result<Membership> {
        self.inner
            .store
            .membership(id, session.user().id())
            .await?
            .ok_or(ChatError::NotFound)
    }

    /// Whether `user` may be added by `adder` directly (they share a direct
    /// conversation in which both have written, and `user` did not leave
    /// or get removed from the group before), or only invited.
    async fn entry_for(&self, adder: &User, user: User) -> Result<Entry> {
        // Nobody is brought into a group by someone they block.
        self.check_not_blocked(adder, &user).await?;
        let mutual = match self.find_direct_conversation(adder, &user).await? {
            Some(conversation) => self.is_mutual(conversation).await?,
            None => false,
        };
        Ok(if mutual {
            Entry::Add(user)
        } else {
            Entry::Invite(user)
        })
    }

    /// Decides a change with `decide` from the group as stored and writes
    /// it if the group has not changed meanwhile (deciding again if it
    /// has); publishes its system messages.
    pub(super) async fn change(
        &self,
        session: &Session,
        id: ConversationId,
        decide: impl Fn(&Group) -> Result<Vec<GroupEvent>>,
    ) -> Result<Vec<Message>> {
        let me = session.user();
        for _ in 0..ATTEMPTS {
            let group = self
                .inner
                .store
                .group(id)
                .await?
                .ok_or(ChatError::NotFound)?;
            let events = decide(&group)?;
            if events.is_empty() {
                return Ok(Vec::new());
            }
            let change = GroupChange {
                group: id,
                version: group.version,
                at: self.inner.clock.now(),
                events: events
                    .into_iter()
                    .map(|event| NewEvent {
                        event,
                        actor: me.clone(),
                    })
                    .collect(),
            };
            match self.inner.store.change_group(change).await {
                Ok(written) => {
                    self.publish_group_events(id, &written).await;
                    return Ok(written);
                }
                // Another change came first: decide again from it.
                Err(ChatError::Conflict { .. }) => tokio::task::yield_now().await,
                Err(error) => return Err(error),
            }
        }
        Err(ChatError::conflict(
            "the group kept changing; try again in a moment",
        ))
    }

    /// Publishes a group's system messages: once on its topic, and to the
    /// user each is about (an added or invited user is not listening to
    /// the group yet; a removed one hears of it on the group's topic, as
    /// it is published before they stop listening).
    async fn publish_group_events(&self, id: ConversationId, events: &[Message]) {
        for message in events {
            let mut topics = vec![Topic::conversation(id)];
            if let Some(GroupEvent::Added { user } | GroupEvent::Invited { user }) = message.event()
            {
                topics.push(Topic::user(user.id()));
            }
            if let Some(GroupEvent::Joined) = message.event() {
                topics.push(Topic::user(message.sender().id()));
            }
            let event = Event::new(EventKind::Message {
                message: message.clone(),
            });
            self.publish(&topics, event).await;
        }
    }

    pub(super) async fn group_view(
        &self,
        session: &Session,
        id: ConversationId,
    ) -> Result<GroupView> {
        let me = session.user().id();
        let group = self
            .inner
            .store
            .group(id)
            .await?
            .ok_or(ChatError::NotFound)?;
        let role = group.member(me).map(|m| m.role);
        let visible = role.is_some()
            || group.is_invited(me)
            || group.settings.join_policy == JoinPolicy::Discoverable
            || self
                .inner
                .store
                .membership(id, me)
                .await?
                .is_some_and(|m| !m.is_current());
        if !visible {
            return Err(ChatError::NotFound);
        }
        let (members, invited) = if role.is_some() || group.is_invited(me) {
            // Presence of members only on request (this call), never
            // pushed, and only to members (not to an invitee).
            let ids: Vec<UserId> = if role.is_some() {
                group.members.iter().map(|m| m.user.id()).collect()
            } else {
                Vec::new()
            };
            let online = match self.inner.presence.online(&ids).await {
                Ok(online) => online,
                Err(error) => {
                    tracing::warn!(%error, "presence unavailable; listing everyone as offline");
                    Vec::new()
                }
            };
            let now = self.inner.clock.now();
            let moderator = role.is_some_and(Role::manages_the_group);
            let members = group
                .members
                .iter()
                .zip(online.into_iter().chain(std::iter::repeat(false)))
                .map(|(m, online): (&GroupMember, bool)| MemberView {
                    user: m.user.clone(),
                    role: m.role,
                    online,
                    muted: (moderator || m.user.id() == me)
                        && m.muted_until.is_some_and(|until| until > now),
                })
                .collect();
            let invited = if role.is_some() {
                group.invited.clone()
            } else {
                Vec::new()
            };
            (members, invited)
        } else {
            (Vec::new(), Vec::new())
        };
        let now = self.inner.clock.now();
        let bans = if role.is_some_and(Role::manages_the_group) {
            group.bans.into_iter().filter(|b| b.holds(now)).collect()
        } else {
            Vec::new()
        };
        Ok(GroupView {
            id,
            title: group.title,
            settings: group.settings,
            members,
            invited,
            role,
            bans,
        })
    }
}

/// The role of the current member `user`.
///
/// # Errors
/// [`ChatError::NotFound`] for anyone else.
pub(super) fn member_role(group: &Group, user: UserId) -> Result<Role> {
    group
        .member(user)
        .map(|m| m.role)
        .ok_or(ChatError::NotFound)
}

/// The current member called `name`.
///
/// # Errors
/// [`ChatError::NotFound`] if there is none.
fn member_named<'g>(group: &'g Group, name: &Username) -> Result<&'g GroupMember> {
    group
        .members
        .iter()
        .find(|m| m.user.username().canonical() == name.canonical())
        .ok_or(ChatError::NotFound)
}

/// The events of `user` leaving: the owner hands the group over first, to
/// the longest-standing admin or else the longest-standing member.
fn leave(group: &Group, user: UserId) -> Vec<GroupEvent> {
    let mut events = Vec::new();
    let owner_leaves = group.member(user).is_some_and(|m| m.role == Role::Owner);
    if owner_leaves {
        let others = group.members.iter().filter(|m| m.user.id() != user);
        let heir = others
            .clone()
            .find(|m| m.role == Role::Admin)
            .or_else(|| others.clone().next());
        if let Some(heir) = heir {
            events.push(GroupEvent::RoleChanged {
                user: heir.user.clone(),
                role: Role::Owner,
            });
        }
    }
    events.push(GroupEvent::Left);
    // The last member leaving ends the group: its invitations go with it.
    if group.members.iter().all(|m| m.user.id() == user) {
        events.extend(group.invited.iter().map(|invitee| GroupEvent::Removed {
            user: invitee.clone(),
        }));
    }
    events
}
