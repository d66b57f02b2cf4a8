//! Support for the scale benchmark (`examples/src/bin/store-scale.rs`):
//! synthetic data loaded in bulk, and the plans of the hot queries. Not
//! part of the stable API.

use chat_store_sql::{CONVERSATIONS, SqlStore, postgres_error};
use sqlx::{AssertSqlSafe, Row};

use crate::PgStore;
use crate::messages::{MESSAGES_SINCE, READS_SINCE, history_sql};

impl PgStore {
    /// Loads `users` users named `user1…` (all with `password_hash`), five
    /// direct conversations per user (`users * 5` in all), and
    /// `per_conversation` messages in each, interleaved by id; about one
    /// message in a thousand contains the word "needle". Every user has
    /// read all but the last three messages of each conversation.
    ///
    /// # Errors
    /// What the database reports.
    #[doc(hidden)]
    pub async fn load_synthetic(
        &self,
        users: i64,
        per_conversation: i64,
        password_hash: &str,
    ) -> chat_core::Result<()> {
        let steps = [
            "INSERT INTO users (username, username_canonical, email, email_canonical, password_hash, created_at) \
             SELECT 'user' || g, 'user' || g, 'user' || g || '@example.test', 'user' || g || '@example.test', $3, 0 \
             FROM generate_series(1, $1) g",
            "INSERT INTO conversations (kind, direct_low, direct_high, created_at) \
             SELECT DISTINCT 'direct', LEAST(u.id, v.id), GREATEST(u.id, v.id), 0 \
             FROM users u CROSS JOIN generate_series(1, 5) k \
             JOIN users v ON v.id = ((u.id - 1 + k) % $1) + 1 \
             ON CONFLICT DO NOTHING",
            "INSERT INTO members (conversation_id, user_id) \
             SELECT id, direct_low FROM conversations UNION ALL SELECT id, direct_high FROM conversations",
            "INSERT INTO messages (id, conversation_id, sender_id, recipient_id, body, body_folded, sent_at, client_id) \
             SELECT row_number() OVER (ORDER BY g, c.id), c.id, \
                    CASE WHEN g % 2 = 0 THEN c.direct_low ELSE c.direct_high END, \
                    CASE WHEN g % 2 = 0 THEN c.direct_high ELSE c.direct_low END, \
                    t.body, lower(t.body), g * 1000000, NULL \
             FROM conversations c CROSS JOIN generate_series(1, $2) g \
             CROSS JOIN LATERAL (SELECT 'message ' || g || ' about ' || md5(c.id::text || g::text) || \
                 CASE WHEN (c.id * 7 + g * 13) % 1000 = 0 THEN ' Needle' ELSE '' END AS body) t",
            "UPDATE members m SET last_message_id = x.last, last_read_message_id = x.read \
             FROM (SELECT conversation_id, max(id) AS last, \
                          (array_agg(id ORDER BY id DESC))[4] AS read \
                   FROM messages GROUP BY conversation_id) x \
             WHERE x.conversation_id = m.conversation_id",
            "UPDATE message_clock SET last_id = (SELECT coalesce(max(id), 0) FROM messages)",
            "ANALYZE",
        ];
        for step in steps {
            sqlx::query(step)
                .bind(users)
                .bind(per_conversation)
                .bind(password_hash)
                .execute(self.writer())
                .await
                .map_err(postgres_error)?;
        }
        Ok(())
    }

    /// `EXPLAIN` of each hot query for `user` and `conversation`, by name.
    ///
    /// # Errors
    /// What the database reports.
    #[doc(hidden)]
    pub async fn explain_hot_queries(
        &self,
        user: i64,
        conversation: i64,
    ) -> chat_core::Result<Vec<(&'static str, String)>> {
        let queries = [
            ("history (newest page)", history_sql(false, false), None),
            (
                "search (\"needle\")",
                history_sql(false, true),
                Some("%needle%"),
            ),
            (
                "conversations with unread counts",
                CONVERSATIONS.to_owned(),
                None,
            ),
            (
                "since (recovery: messages)",
                MESSAGES_SINCE.to_owned(),
                None,
            ),
            ("since (recovery: read marks)", READS_SINCE.to_owned(), None),
        ];
        let mut plans = Vec::new();
        for (name, sql, pattern) in queries {
            let mut query = sqlx::query(AssertSqlSafe(format!("EXPLAIN {sql}")));
            query = if name.starts_with("since") {
                query.bind(user).bind(0_i64).bind(201_i64).bind(i64::MAX)
            } else if name.starts_with("conversations") {
                query.bind(user).bind(i64::MAX).bind(51_i64)
            } else {
                query
                    .bind(conversation)
                    .bind(0_i64)
                    .bind(i64::MAX)
                    .bind(51_i64)
                    .bind(pattern)
            };
            let rows = query
                .fetch_all(self.reader())
                .await
                .map_err(postgres_error)?;
            let plan = rows
                .iter()
                .map(|row| row.try_get::<String, _>(0).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            plans.push((name, plan));
        }
        Ok(plans)
    }
}
