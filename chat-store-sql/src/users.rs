//! Accounts and sessions: the same SQL on every database.

use chat_core::backend::corrupt;
use chat_core::ports::{ExternalUser, NewUser, PageLimit, SessionRecord, StoredUser};
use chat_core::{
    Account, ChatError, DisplayName, Email, ExternalId, PasswordHash, Result, SessionId, Timestamp,
    TokenHash, User, UserId, Username,
};

use crate::SqlStore;
use crate::args;
use crate::db::{SqlPool, SqlRow};
use crate::rows::user;

/// A row with the columns of [`ACCOUNT`].
fn stored_user(row: &impl SqlRow) -> Result<StoredUser> {
    let user = user(row, "id", "username")?;
    let created_at = Timestamp::from_unix_micros(row.int("created_at")?);
    let account = match row.opt_text("email")? {
        Some(email) => Account::new(
            user,
            Email::parse(email).map_err(|e| corrupt("email", e))?,
            created_at,
        ),
        None => Account::external(user, created_at),
    };
    let display_name = row
        .opt_text("display_name")?
        .map(|name| DisplayName::parse(name).map_err(|e| corrupt("display_name", e)))
        .transpose()?;
    let external_id = row
        .opt_text("external_id")?
        .map(|id| ExternalId::parse(id).map_err(|e| corrupt("external_id", e)))
        .transpose()?;
    Ok(StoredUser {
        account: account
            .with_display_name(display_name)
            .with_external_id(external_id)
            .with_standing(
                row.flag("is_admin")?,
                row.opt_int("disabled_at")?.map(Timestamp::from_unix_micros),
            ),
        password_hash: row.opt_text("password_hash")?.map(PasswordHash::from_phc),
    })
}

/// [`UserStore::ping`](chat_core::ports::UserStore::ping) in SQL.
pub async fn ping(store: &impl SqlStore) -> Result<()> {
    store
        .reader()
        .fetch_one("SELECT 1 AS one".into(), args![])
        .await?;
    Ok(())
}

/// [`UserStore::insert_user`](chat_core::ports::UserStore::insert_user) in SQL.
pub async fn insert_user(store: &impl SqlStore, new: NewUser) -> Result<Account> {
    let sql = "INSERT INTO users (username, username_canonical, email, email_canonical, \
               password_hash, created_at, username_skeleton) \
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
    let canonical = new.username.canonical();
    let email = new.email.canonical();
    let skeleton = new.username.skeleton();
    let inserted = store
        .writer()
        .insert_unique(
            sql.into(),
            args![
                new.username.as_str(),
                &canonical,
                new.email.as_str(),
                &email,
                new.password_hash.as_str(),
                new.created_at.unix_micros(),
                &skeleton,
            ],
        )
        .await?;
    let id = match inserted {
        Ok(row) => row.int("id")?,
        Err(constraint) if constraint.contains("username_canonical") => {
            return Err(ChatError::UsernameTaken);
        }
        Err(constraint) if constraint.contains("email_canonical") => {
            return Err(ChatError::EmailTaken);
        }
        Err(constraint) => {
            return Err(ChatError::internal(format!(
                "unique constraint {constraint} violated"
            )));
        }
    };
    Ok(Account::new(
        User::new(UserId::new(id), new.username),
        new.email,
        new.created_at,
    ))
}

/// The columns of an account.
const ACCOUNT_COLUMNS: &str = "id, username, email, password_hash, created_at, display_name, \
     external_id, is_admin, disabled_at";
const ACCOUNT: &str = "SELECT id, username, email, password_hash, created_at, display_name, \
     external_id, is_admin, disabled_at FROM users";

/// [`UserStore::upsert_external_user`](chat_core::ports::UserStore::upsert_external_user) in SQL:
/// an update of the known user, else an insert that a racing insert of
/// the same id turns into that update.
pub async fn upsert_external_user(store: &impl SqlStore, new: ExternalUser) -> Result<Account> {
    let display_name = new.display_name.as_ref().map(DisplayName::as_str);
    let updated = store
        .writer()
        .fetch_optional(
            crate::Stmt::assembled(format!(
                "UPDATE users SET display_name = COALESCE($2, display_name) \
                 WHERE external_id = $1 RETURNING {ACCOUNT_COLUMNS}"
            )),
            args![new.external_id.as_str(), display_name],
        )
        .await?;
    if let Some(row) = updated {
        return stored_user(&row).map(|s| s.account);
    }
    let Some(username) = &new.username else {
        return Err(ChatError::invalid(
            "username",
            "a new user needs a valid username",
        ));
    };
    let canonical = username.canonical();
    let skeleton = username.skeleton();
    let inserted = store
        .writer()
        .insert_unique(
            crate::Stmt::assembled(format!(
                "INSERT INTO users (username, username_canonical, created_at, \
                 username_skeleton, external_id, display_name) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (external_id) DO UPDATE \
                 SET display_name = COALESCE(excluded.display_name, users.display_name) \
                 RETURNING {ACCOUNT_COLUMNS}"
            )),
            args![
                username.as_str(),
                &canonical,
                new.at.unix_micros(),
                &skeleton,
                new.external_id.as_str(),
                display_name,
            ],
        )
        .await?;
    match inserted {
        Ok(row) => stored_user(&row).map(|s| s.account),
        Err(constraint) if constraint.contains("username_canonical") => {
            // A racing first sight of the same id may have taken the name
            // (PostgreSQL checks every unique index, not only the one the
            // conflict clause names): then the user is that one.
            let row = store
                .writer()
                .fetch_optional(
                    crate::Stmt::assembled(format!("{ACCOUNT} WHERE external_id = $1")),
                    args![new.external_id.as_str()],
                )
                .await?;
            match row {
                Some(row) => stored_user(&row).map(|s| s.account),
                None => Err(ChatError::UsernameTaken),
            }
        }
        Err(constraint) => Err(ChatError::internal(format!(
            "unique constraint {constraint} violated"
        ))),
    }
}

/// [`UserStore::find_user_by_username`](chat_core::ports::UserStore::find_user_by_username) in SQL.
pub async fn find_user_by_username(
    store: &impl SqlStore,
    username: &Username,
) -> Result<Option<StoredUser>> {
    let sql = crate::Stmt::assembled(format!("{ACCOUNT} WHERE username_canonical = $1"));
    let canonical = username.canonical();
    let row = store
        .reader()
        .fetch_optional(sql, args![&canonical])
        .await?;
    row.as_ref().map(stored_user).transpose()
}

/// [`UserStore::find_account`](chat_core::ports::UserStore::find_account) in SQL.
pub async fn find_account(store: &impl SqlStore, id: UserId) -> Result<Option<Account>> {
    let sql = crate::Stmt::assembled(format!("{ACCOUNT} WHERE id = $1"));
    let row = store.reader().fetch_optional(sql, args![id.get()]).await?;
    Ok(row
        .as_ref()
        .map(stored_user)
        .transpose()?
        .map(|s| s.account))
}

/// [`UserStore::find_user_by_external_id`](chat_core::ports::UserStore::find_user_by_external_id) in SQL.
pub async fn find_user_by_external_id(
    store: &impl SqlStore,
    id: &ExternalId,
) -> Result<Option<Account>> {
    let sql = crate::Stmt::assembled(format!("{ACCOUNT} WHERE external_id = $1"));
    let row = store
        .reader()
        .fetch_optional(sql, args![id.as_str()])
        .await?;
    Ok(row
        .as_ref()
        .map(stored_user)
        .transpose()?
        .map(|s| s.account))
}

/// [`UserStore::look_alike_exists`](chat_core::ports::UserStore::look_alike_exists) in SQL.
pub async fn look_alike_exists(store: &impl SqlStore, username: &Username) -> Result<bool> {
    let skeleton = username.skeleton();
    let row = store
        .reader()
        .fetch_one(
            "SELECT EXISTS (SELECT 1 FROM users WHERE username_skeleton = $1) AS found".into(),
            args![&skeleton],
        )
        .await?;
    row.flag("found")
}

/// [`UserStore::email_exists`](chat_core::ports::UserStore::email_exists) in SQL.
pub async fn email_exists(store: &impl SqlStore, email: &Email) -> Result<bool> {
    let canonical = email.canonical();
    let row = store
        .reader()
        .fetch_one(
            "SELECT EXISTS (SELECT 1 FROM users WHERE email_canonical = $1) AS found".into(),
            args![&canonical],
        )
        .await?;
    row.flag("found")
}

/// [`UserStore::shared_secret`](chat_core::ports::UserStore::shared_secret) in SQL.
pub async fn shared_secret(store: &impl SqlStore, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
    let row = store
        .writer()
        .fetch_one(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = secrets.value RETURNING value"
                .into(),
            args![name, candidate],
        )
        .await?;
    row.bytes("value")
}

/// [`UserStore::list_users`](chat_core::ports::UserStore::list_users) in SQL.
pub async fn list_users(
    store: &impl SqlStore,
    prefix: &str,
    except: UserId,
    limit: PageLimit,
) -> Result<Vec<User>> {
    // Canonical names are ASCII below DEL, so [prefix, prefix || DEL) is
    // exactly the names starting with prefix: an index range.
    let end = format!("{prefix}\u{7f}");
    let rows = store
        .reader()
        .fetch_all(
            "SELECT id, username FROM users \
             WHERE username_canonical >= $1 AND username_canonical < $2 AND id <> $3 \
             ORDER BY username_canonical LIMIT $4"
                .into(),
            args![prefix, &end, except.get(), i64::from(limit.get())],
        )
        .await?;
    rows.iter().map(|row| user(row, "id", "username")).collect()
}

/// [`SessionStore::insert_session`](chat_core::ports::SessionStore::insert_session) in SQL.
pub async fn insert_session(
    store: &impl SqlStore,
    token: &TokenHash,
    user: UserId,
    at: Timestamp,
) -> Result<SessionId> {
    let row = store
        .writer()
        .fetch_one(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $3) RETURNING id"
                .into(),
            args![token.as_bytes().as_slice(), user.get(), at.unix_micros()],
        )
        .await?;
    Ok(SessionId::new(row.int("id")?))
}

/// [`SessionStore::find_session`](chat_core::ports::SessionStore::find_session) in SQL.
pub async fn find_session(
    store: &impl SqlStore,
    token: &TokenHash,
) -> Result<Option<SessionRecord>> {
    let row = store
        .reader()
        .fetch_optional(
            "SELECT s.id, s.created_at, s.last_seen_at, u.id AS user_id, u.username \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND u.disabled_at IS NULL"
                .into(),
            args![token.as_bytes().as_slice()],
        )
        .await?;
    row.map(|row| {
        Ok(SessionRecord {
            id: SessionId::new(row.int("id")?),
            user: user(&row, "user_id", "username")?,
            created_at: Timestamp::from_unix_micros(row.int("created_at")?),
            last_seen_at: Timestamp::from_unix_micros(row.int("last_seen_at")?),
        })
    })
    .transpose()
}

/// [`SessionStore::touch_session`](chat_core::ports::SessionStore::touch_session) in SQL.
pub async fn touch_session(store: &impl SqlStore, id: SessionId, at: Timestamp) -> Result<()> {
    store
        .writer()
        .execute(
            "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2".into(),
            args![id.get(), at.unix_micros()],
        )
        .await?;
    Ok(())
}

/// [`SessionStore::delete_session`](chat_core::ports::SessionStore::delete_session) in SQL.
pub async fn delete_session(store: &impl SqlStore, id: SessionId) -> Result<()> {
    store
        .writer()
        .execute("DELETE FROM sessions WHERE id = $1".into(), args![id.get()])
        .await?;
    Ok(())
}

/// [`SessionStore::delete_expired_sessions`](chat_core::ports::SessionStore::delete_expired_sessions) in SQL.
pub async fn delete_expired_sessions(
    store: &impl SqlStore,
    idle_before: Timestamp,
    created_before: Timestamp,
) -> Result<u64> {
    store
        .writer()
        .execute(
            "DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2".into(),
            args![idle_before.unix_micros(), created_before.unix_micros()],
        )
        .await
}
