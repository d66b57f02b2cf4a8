-- Whether a member has sent a message in the conversation. Presence and
-- typing pass only between members who both have: one unsolicited message
-- shows the sender nothing of the recipient.
ALTER TABLE members ADD COLUMN has_spoken INTEGER NOT NULL DEFAULT 0;
UPDATE members
   SET has_spoken = EXISTS (
       SELECT 1 FROM messages m
        WHERE m.conversation_id = members.conversation_id
          AND m.sender_id = members.user_id);
