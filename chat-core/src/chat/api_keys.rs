//! Keys of the server API: made, listed and revoked by the operator,
//! presented by the host application's back end.

use tracing::info;

use super::Chat;
use crate::domain::{ApiKey, ApiKeySecret, ApiScope, ApiScopes};
use crate::error::{ChatError, Result};
use crate::ports::NewApiKey;

impl Chat {
    /// Makes a key named `name` with `scopes` (`feed,send`, as an operator
    /// writes them). The secret is returned once and never stored: only its
    /// hash is.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `scope` or `name` (1 to 100
    /// characters); what the store reports.
    pub async fn create_api_key(&self, name: &str, scopes: &str) -> Result<(ApiKey, ApiKeySecret)> {
        let scopes = ApiScopes::parse(scopes)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ChatError::invalid(
                "name",
                "must be 1 to 100 characters on one line",
            ));
        }
        let secret = ApiKeySecret::generate()?;
        let key = self
            .inner
            .store
            .insert_api_key(NewApiKey {
                hash: secret.hash(),
                name: name.to_owned(),
                scopes,
                created_at: self.inner.clock.now(),
            })
            .await?;
        info!(
            key = key.id,
            name = key.name,
            scopes = key.scopes.to_list(),
            "API key made"
        );
        Ok((key, secret))
    }

    /// The key `raw` is, if it may use `scope`.
    ///
    /// # Errors
    /// [`ChatError::Unauthenticated`] for anything but a live key;
    /// [`ChatError::Forbidden`] for a key without `scope`.
    pub async fn api_key(&self, raw: &str, scope: ApiScope) -> Result<ApiKey> {
        let secret = ApiKeySecret::parse(raw)?;
        let key = self
            .inner
            .store
            .find_api_key(&secret.hash())
            .await?
            .ok_or(ChatError::Unauthenticated)?;
        if !key.scopes.allows(scope) {
            return Err(ChatError::Forbidden);
        }
        Ok(key)
    }

    /// Every key, revoked ones included, oldest first (never a secret).
    ///
    /// # Errors
    /// What the store reports.
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>> {
        self.inner.store.list_api_keys().await
    }

    /// Revokes the key `id`: it stops working at once, on every process.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] when there is no such live key.
    pub async fn revoke_api_key(&self, id: i64) -> Result<()> {
        if self
            .inner
            .store
            .revoke_api_key(id, self.inner.clock.now())
            .await?
        {
            info!(key = id, "API key revoked");
            Ok(())
        } else {
            Err(ChatError::NotFound)
        }
    }
}
