//! The query plans of the hot queries: each must be served by an index,
//! never by a scan of a whole table.

use chat_store_sql::{CONVERSATIONS, PEERS, SqlStore};
use sqlx::{AssertSqlSafe, Row};

use crate::SqliteStore;
use crate::messages::{MESSAGES_SINCE, RANGE_SIZE_SQL, READS_SINCE, Search, history_sql};

async fn plan(store: &SqliteStore, sql: String, binds: usize) -> String {
    let mut query = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
    for n in 0..binds {
        query = query.bind(i64::try_from(n).unwrap_or(0));
    }
    let rows = query
        .fetch_all(&mut *store.reader().acquire().await.unwrap())
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_indexed(plan: &str, must_use: &[&str]) {
    for line in plan.lines() {
        // A scan of a virtual table's match or of a bounded subquery's rows
        // (also one named, as a co-routine) is not a scan of a table.
        let co_routine = line
            .strip_prefix("SCAN ")
            .is_some_and(|name| plan.contains(&format!("CO-ROUTINE {name}")));
        let full_scan = line.starts_with("SCAN ")
            && !line.contains("VIRTUAL TABLE")
            && !line.starts_with("SCAN (subquery")
            && !co_routine;
        assert!(
            !full_scan || line.starts_with("SCAN CONSTANT"),
            "full scan in:\n{plan}"
        );
    }
    for index in must_use {
        assert!(plan.contains(index), "{index} not used in:\n{plan}");
    }
}

#[tokio::test]
async fn hot_queries_use_their_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("plans.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let cases = [
        (
            "history",
            history_sql(false, Search::None),
            4,
            vec!["messages_by_conversation"],
        ),
        (
            "history forward",
            history_sql(true, Search::None),
            4,
            vec!["messages_by_conversation"],
        ),
        (
            "search",
            history_sql(false, Search::Trigram),
            6,
            vec![
                "SCAN s VIRTUAL TABLE INDEX 0:M1",
                "SEARCH msg USING INTEGER PRIMARY KEY",
            ],
        ),
        (
            "short search",
            history_sql(false, Search::Scan),
            5,
            vec!["messages_by_conversation"],
        ),
        (
            "conversations",
            CONVERSATIONS.to_owned(),
            3,
            vec![
                "members_by_user_recency",
                "messages_by_conversation",
                "SEARCH n USING PRIMARY KEY (user_id=? AND conversation_id=? AND message_id>?)",
            ],
        ),
        (
            "since: messages",
            MESSAGES_SINCE.to_owned(),
            4,
            vec!["members_by_user_recency", "messages_by_conversation"],
        ),
        (
            "since: read marks",
            READS_SINCE.to_owned(),
            4,
            vec!["members_by_user_change", "changes_by_conversation"],
        ),
        (
            "since: group messages",
            crate::messages::STATEMENTS.group_messages_since.to_owned(),
            4,
            vec!["group_members_by_user", "messages_by_conversation"],
        ),
        (
            "since: own read marks in groups",
            crate::messages::STATEMENTS.group_reads_since.to_owned(),
            4,
            vec!["group_members_by_user", "changes_by_member"],
        ),
        (
            "conversations: groups",
            chat_store_sql::GROUP_CONVERSATIONS.to_owned(),
            3,
            vec![
                "group_members_by_user",
                "messages_by_conversation",
                "SEARCH n USING PRIMARY KEY (user_id=? AND conversation_id=? AND message_id>? AND message_id<?)",
            ],
        ),
        (
            "since: changes to messages",
            crate::messages::STATEMENTS.revisions_since.to_owned(),
            4,
            vec!["members_by_user_change", "messages_revised_in_conversation"],
        ),
        (
            "since: changes to group messages",
            crate::messages::STATEMENTS.group_revisions_since.to_owned(),
            4,
            vec!["group_members_by_user", "messages_revised_in_conversation"],
        ),
        (
            "feed: changes to messages",
            chat_store_sql::FEED_REVISIONS.to_owned(),
            3,
            vec!["messages_by_revision"],
        ),
        (
            "conversations: deleted messages left out of unread counts",
            CONVERSATIONS.to_owned(),
            3,
            vec!["messages_deleted_in_conversation"],
        ),
        (
            "reactions of a page of messages",
            chat_store_sql::reactions_sql(3),
            4,
            vec!["SEARCH reactions USING PRIMARY KEY (message_id=?)"],
        ),
        (
            "threads rooted at a page of messages",
            chat_store_sql::thread_summaries_sql(3),
            3,
            vec!["messages_by_thread"],
        ),
        (
            "a thread's replies, newest first",
            chat_store_sql::thread_messages_sql(false),
            4,
            vec!["messages_by_thread"],
        ),
        (
            "the threads a user takes part in",
            chat_store_sql::THREADS_OF.to_owned(),
            2,
            vec![
                "SEARCH t USING PRIMARY KEY (user_id=?)",
                "messages_by_thread",
            ],
        ),
        (
            "conversation peers",
            PEERS.to_owned(),
            1,
            vec!["SEARCH m USING INDEX members_by_user"],
        ),
        (
            "search: the size of the range, to choose the plan",
            RANGE_SIZE_SQL.to_owned(),
            4,
            vec!["messages_by_conversation"],
        ),
    ];
    for (name, sql, binds, indexes) in cases {
        let plan = plan(&store, sql, binds).await;
        println!("-- {name}\n{plan}\n");
        assert_indexed(&plan, &indexes);
    }
}
