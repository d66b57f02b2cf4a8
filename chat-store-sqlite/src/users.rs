//! Accounts and sessions.

use async_trait::async_trait;
use chat_core::ports::{NewUser, PageLimit, SessionRecord, SessionStore, StoredUser, UserStore};
use chat_core::{
    Account, ChatError, Email, PasswordHash, Result, SessionId, Timestamp, TokenHash, User, UserId,
    Username,
};
use sqlx::AssertSqlSafe;
use sqlx::sqlite::SqliteRow;

use crate::SqliteStore;
use chat_core::domain::corrupt;

use crate::error::to_chat;
use crate::rows::{get, user};

const ACCOUNT_COLUMNS: &str = "id, username, email, password_hash, created_at";

fn stored_user(row: &SqliteRow) -> Result<StoredUser> {
    let email: String = get(row, "email")?;
    let account = Account::new(
        user(row, "id", "username")?,
        Email::parse(email).map_err(|e| corrupt("email", e))?,
        Timestamp::from_unix_micros(get(row, "created_at")?),
    );
    let hash: String = get(row, "password_hash")?;
    Ok(StoredUser {
        account,
        password_hash: PasswordHash::from_phc(hash),
    })
}

fn insert_conflict(error: sqlx::Error) -> ChatError {
    if let sqlx::Error::Database(db) = &error
        && db.is_unique_violation()
    {
        if db.message().contains("username_canonical") {
            return ChatError::UsernameTaken;
        }
        if db.message().contains("email_canonical") {
            return ChatError::EmailTaken;
        }
    }
    to_chat(error)
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(self.reader())
            .await
            .map_err(to_chat)?;
        Ok(())
    }

    async fn insert_user(&self, new: NewUser) -> Result<Account> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, username_canonical, email, email_canonical, password_hash, created_at, username_skeleton) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        )
        .bind(new.username.as_str())
        .bind(new.username.canonical())
        .bind(new.email.as_str())
        .bind(new.email.canonical())
        .bind(new.password_hash.as_str())
        .bind(new.created_at.unix_micros())
        .bind(new.username.skeleton())
        .fetch_one(self.writer())
        .await
        .map_err(insert_conflict)?;
        Ok(Account::new(
            User::new(UserId::new(id), new.username),
            new.email,
            new.created_at,
        ))
    }

    async fn find_user_by_username(&self, username: &Username) -> Result<Option<StoredUser>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE username_canonical = ?1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(username.canonical())
            .fetch_optional(self.reader())
            .await
            .map_err(to_chat)?;
        row.as_ref().map(stored_user).transpose()
    }

    async fn look_alike_exists(&self, username: &Username) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM users WHERE username_skeleton = ?1 LIMIT 1")
                .bind(username.skeleton())
                .fetch_optional(self.reader())
                .await
                .map_err(to_chat)?;
        Ok(found.is_some())
    }

    async fn email_exists(&self, email: &Email) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM users WHERE email_canonical = ?1")
                .bind(email.canonical())
                .fetch_optional(self.reader())
                .await
                .map_err(to_chat)?;
        Ok(found.is_some())
    }

    async fn shared_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        sqlx::query_scalar(
            "INSERT INTO secrets (name, value) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET value = secrets.value RETURNING value",
        )
        .bind(name)
        .bind(candidate)
        .fetch_one(self.writer())
        .await
        .map_err(to_chat)
    }

    async fn find_account(&self, id: UserId) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = ?1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.get())
            .fetch_optional(self.reader())
            .await
            .map_err(to_chat)?;
        Ok(row
            .as_ref()
            .map(stored_user)
            .transpose()?
            .map(|s| s.account))
    }

    async fn list_users(
        &self,
        prefix: &str,
        except: UserId,
        limit: PageLimit,
    ) -> Result<Vec<User>> {
        // Canonical names are ASCII below DEL, so [prefix, prefix || DEL) is
        // exactly the names starting with prefix: an index range.
        let rows = sqlx::query(
            "SELECT id, username FROM users \
             WHERE username_canonical >= ?1 AND username_canonical < ?2 AND id <> ?3 \
             ORDER BY username_canonical LIMIT ?4",
        )
        .bind(prefix)
        .bind(format!("{prefix}\u{7f}"))
        .bind(except.get())
        .bind(i64::from(limit.get()))
        .fetch_all(self.reader())
        .await
        .map_err(to_chat)?;
        rows.iter().map(|row| user(row, "id", "username")).collect()
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(
        &self,
        token: &TokenHash,
        user: UserId,
        at: Timestamp,
    ) -> Result<SessionId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at) \
             VALUES (?1, ?2, ?3, ?3) RETURNING id",
        )
        .bind(token.as_bytes().as_slice())
        .bind(user.get())
        .bind(at.unix_micros())
        .fetch_one(self.writer())
        .await
        .map_err(to_chat)?;
        Ok(SessionId::new(id))
    }

    async fn find_session(&self, token: &TokenHash) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT s.id, s.created_at, s.last_seen_at, u.id AS user_id, u.username \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
        )
        .bind(token.as_bytes().as_slice())
        .fetch_optional(self.reader())
        .await
        .map_err(to_chat)?;
        row.map(|row| {
            Ok(SessionRecord {
                id: SessionId::new(get(&row, "id")?),
                user: user(&row, "user_id", "username")?,
                created_at: Timestamp::from_unix_micros(get(&row, "created_at")?),
                last_seen_at: Timestamp::from_unix_micros(get(&row, "last_seen_at")?),
            })
        })
        .transpose()
    }

    async fn touch_session(&self, id: SessionId, at: Timestamp) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id = ?1")
            .bind(id.get())
            .bind(at.unix_micros())
            .execute(self.writer())
            .await
            .map_err(to_chat)?;
        Ok(())
    }

    async fn delete_session(&self, id: SessionId) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = ?1")
            .bind(id.get())
            .execute(self.writer())
            .await
            .map_err(to_chat)?;
        Ok(())
    }

    async fn delete_expired_sessions(
        &self,
        idle_before: Timestamp,
        created_before: Timestamp,
    ) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < ?1 OR created_at < ?2")
            .bind(idle_before.unix_micros())
            .bind(created_before.unix_micros())
            .execute(self.writer())
            .await
            .map_err(to_chat)?;
        Ok(done.rows_affected())
    }
}
