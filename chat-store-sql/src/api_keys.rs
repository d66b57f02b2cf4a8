//! Keys of the server API: the same SQL on every database.

use chat_core::backend::corrupt;
use chat_core::ports::NewApiKey;
use chat_core::{ApiKey, ApiScopes, Result, Timestamp, TokenHash};

use crate::SqlStore;
use crate::args;
use crate::db::{SqlPool, SqlRow};

const COLUMNS: &str = "id, name, scopes, created_at, revoked_at";

fn api_key(row: &impl SqlRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.int("id")?,
        name: row.text("name")?,
        scopes: ApiScopes::parse(&row.text("scopes")?).map_err(|e| corrupt("scopes", e))?,
        created_at: Timestamp::from_unix_micros(row.int("created_at")?),
        revoked_at: row.opt_int("revoked_at")?.map(Timestamp::from_unix_micros),
    })
}

/// [`ApiKeyStore::insert_api_key`](chat_core::ports::ApiKeyStore::insert_api_key) in SQL.
pub async fn insert_api_key(store: &impl SqlStore, key: NewApiKey) -> Result<ApiKey> {
    let scopes = key.scopes.to_list();
    let row = store
        .writer()
        .fetch_one(
            crate::Stmt::assembled(format!(
                "INSERT INTO api_keys (key_hash, name, scopes, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
            )),
            args![
                key.hash.as_bytes().as_slice(),
                key.name.as_str(),
                &scopes,
                key.created_at.unix_micros()
            ],
        )
        .await?;
    api_key(&row)
}

/// [`ApiKeyStore::find_api_key`](chat_core::ports::ApiKeyStore::find_api_key) in SQL.
pub async fn find_api_key(store: &impl SqlStore, hash: &TokenHash) -> Result<Option<ApiKey>> {
    let row = store
        .reader()
        .fetch_optional(
            crate::Stmt::assembled(format!(
                "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
            )),
            args![hash.as_bytes().as_slice()],
        )
        .await?;
    row.as_ref().map(api_key).transpose()
}

/// [`ApiKeyStore::list_api_keys`](chat_core::ports::ApiKeyStore::list_api_keys) in SQL.
pub async fn list_api_keys(store: &impl SqlStore) -> Result<Vec<ApiKey>> {
    let rows = store
        .reader()
        .fetch_all(
            crate::Stmt::assembled(format!("SELECT {COLUMNS} FROM api_keys ORDER BY id")),
            args![],
        )
        .await?;
    rows.iter().map(api_key).collect()
}

/// [`ApiKeyStore::revoke_api_key`](chat_core::ports::ApiKeyStore::revoke_api_key) in SQL.
pub async fn revoke_api_key(store: &impl SqlStore, id: i64, at: Timestamp) -> Result<bool> {
    let revoked = store
        .writer()
        .execute(
            "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL".into(),
            args![id, at.unix_micros()],
        )
        .await?;
    Ok(revoked > 0)
}
