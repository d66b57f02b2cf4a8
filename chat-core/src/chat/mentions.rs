//! Mentions: the `@` words of a message matched with the members of its
//! conversation, so that only members are ever mentioned or counted.

use std::collections::HashSet;

use super::Chat;
use crate::domain::{
    ConversationId, Everyone, MentionWords, Mentioned, MessageText, Role, User, UserId,
};
use crate::error::Result;

impl Chat {
    /// Whom `text` mentions in the direct conversation of `sender` and
    /// `recipient`: at most the recipient (`@all` and `@here` are plain
    /// text there). No I/O.
    pub(super) fn direct_mentions(
        &self,
        text: &MessageText,
        sender: &User,
        recipient: &User,
    ) -> Mentioned {
        let words = MentionWords::of(text.as_str());
        if words.is_empty() {
            return Mentioned::default();
        }
        words.resolve(
            sender.id(),
            &[sender.clone(), recipient.clone()],
            false,
            |_| false,
        )
    }

    /// Whom `text` mentions in group `id`, sent by `sender` holding
    /// `role`: named current members, and where the role may call
    /// everyone, every member (`@all`) or those online now (`@here`).
    /// Reads the group only when the text has an `@` word.
    pub(super) async fn group_mentions(
        &self,
        id: ConversationId,
        text: &MessageText,
        sender: UserId,
        role: Role,
    ) -> Result<Mentioned> {
        let words = MentionWords::of(text.as_str());
        if words.is_empty() {
            return Ok(Mentioned::default());
        }
        let Some(group) = self.inner.store.group(id).await? else {
            return Ok(Mentioned::default());
        };
        let members: Vec<User> = group.members.iter().map(|m| m.user.clone()).collect();
        let may_call_everyone = role.calls_everyone();
        let online: HashSet<UserId> = if may_call_everyone && words.everyone == Some(Everyone::Here)
        {
            let ids: Vec<UserId> = members.iter().map(User::id).collect();
            let online = self.online(&ids).await?;
            ids.into_iter()
                .zip(online)
                .filter_map(|(id, online)| online.then_some(id))
                .collect()
        } else {
            HashSet::new()
        };
        Ok(words.resolve(sender, &members, may_call_everyone, |id| {
            online.contains(&id)
        }))
    }
}
