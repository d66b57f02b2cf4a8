//! Support for the scale benchmark (`examples/src/bin/store-scale.rs`):
//! synthetic data loaded in bulk, and the plans of the hot queries. Not
//! part of the stable API.

use chat_store_sql::{CONVERSATIONS, SqlStore, sqlite_error};
use sqlx::{AssertSqlSafe, Row};

use crate::SqliteStore;
use crate::messages::{MESSAGES_SINCE, READS_SINCE, Search, history_sql};

impl SqliteStore {
    /// Loads the same synthetic data as the PostgreSQL store's
    /// `load_synthetic`: `users` users, five direct conversations each,
    /// `per_conversation` messages in each, interleaved by id, one in a
    /// thousand containing "needle"; all but the last three messages of
    /// each conversation read.
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
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?1) \
             INSERT INTO users (username, username_canonical, email, email_canonical, password_hash, created_at) \
             SELECT 'user' || n, 'user' || n, 'user' || n || '@example.test', 'user' || n || '@example.test', ?3, 0 FROM g",
            "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < 5) \
             INSERT OR IGNORE INTO conversations (kind, direct_low, direct_high, created_at) \
             SELECT DISTINCT 'direct', min(u.id, v.id), max(u.id, v.id), 0 \
             FROM users u CROSS JOIN k JOIN users v ON v.id = ((u.id - 1 + k.n) % ?1) + 1",
            "INSERT INTO members (conversation_id, user_id) \
             SELECT id, direct_low FROM conversations UNION ALL SELECT id, direct_high FROM conversations",
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?2) \
             INSERT INTO messages (conversation_id, sender_id, recipient_id, body, sent_at, client_id) \
             SELECT c.id, \
                    CASE WHEN g.n % 2 = 0 THEN c.direct_low ELSE c.direct_high END, \
                    CASE WHEN g.n % 2 = 0 THEN c.direct_high ELSE c.direct_low END, \
                    'message ' || g.n || ' about ' || hex(randomblob(16)) || \
                        CASE WHEN (c.id * 7 + g.n * 13) % 1000 = 0 THEN ' Needle' ELSE '' END, \
                    g.n * 1000000, NULL \
             FROM g CROSS JOIN conversations c ORDER BY g.n, c.id",
            "UPDATE messages SET body_folded = lower(body)",
            "UPDATE message_clock SET last_id = (SELECT max(id) FROM messages)",
            "INSERT INTO message_search (rowid, body_folded) SELECT id, body_folded FROM messages",
            "UPDATE members SET \
                last_message_id = (SELECT max(id) FROM messages x WHERE x.conversation_id = members.conversation_id), \
                last_read_message_id = (SELECT id FROM messages x WHERE x.conversation_id = members.conversation_id \
                                        ORDER BY id DESC LIMIT 1 OFFSET 3)",
            "ANALYZE",
        ];
        let mut writer = self.writer().acquire().await.map_err(sqlite_error)?;
        for step in steps {
            sqlx::query(step)
                .bind(users)
                .bind(per_conversation)
                .bind(password_hash)
                .execute(&mut *writer)
                .await
                .map_err(sqlite_error)?;
        }
        Ok(())
    }

    /// `EXPLAIN QUERY PLAN` of each hot query, by name.
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
            (
                "history (newest page)",
                history_sql(false, Search::None),
                None,
            ),
            (
                "search (\"needle\")",
                history_sql(false, Search::Trigram),
                Some("\"needle\""),
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
        for (name, sql, term) in queries {
            let mut query = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
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
                    .bind(term)
            };
            let mut reader = self.reader().acquire().await.map_err(sqlite_error)?;
            let rows = query.fetch_all(&mut *reader).await.map_err(sqlite_error)?;
            let plan = rows
                .iter()
                .map(|row| row.try_get::<String, _>("detail").unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            plans.push((name, plan));
        }
        Ok(plans)
    }
}
