//! The argon2id password hasher.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{
    PasswordHash as PhcHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::{Password, PasswordHash};
use crate::error::{ChatError, Result};
use crate::ports::PasswordHasher;

/// argon2id on tokio's blocking pool, at most `concurrency` hashes at once.
///
/// The default parameters are OWASP's minimum for argon2id: 19 MiB of
/// memory, 2 iterations, 1 lane. A caller that waits longer than the queue
/// timeout for a slot gets [`ChatError::Unavailable`], so a login flood costs
/// bounded memory and CPU.
#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    slots: Arc<Semaphore>,
    queue_timeout: Duration,
}

impl Argon2Hasher {
    /// OWASP's memory cost, in KiB.
    pub const MEMORY_KIB: u32 = 19 * 1024;
    /// OWASP's iteration count.
    pub const ITERATIONS: u32 = 2;
    /// OWASP's parallelism.
    pub const PARALLELISM: u32 = 1;
    /// How long a caller waits for a hashing slot by default.
    pub const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

    /// The recommended hasher: OWASP parameters, one slot per CPU, a
    /// five-second queue timeout.
    pub fn new() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        let params = Params::new(Self::MEMORY_KIB, Self::ITERATIONS, Self::PARALLELISM, None)
            .unwrap_or_default();
        Self {
            params,
            slots: Arc::new(Semaphore::new(cpus)),
            queue_timeout: Self::QUEUE_TIMEOUT,
        }
    }

    /// A hasher with other cost parameters (memory in KiB).
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `argon2` if argon2 rejects them.
    pub fn with_params(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| ChatError::invalid("argon2", e.to_string()))?;
        Ok(Self {
            params,
            ..Self::new()
        })
    }

    /// Allows `slots` hashes at once, each caller waiting at most
    /// `queue_timeout` for one.
    pub fn with_concurrency(mut self, slots: usize, queue_timeout: Duration) -> Self {
        self.slots = Arc::new(Semaphore::new(slots.max(1)));
        self.queue_timeout = queue_timeout;
        self
    }

    /// Takes its slots from `slots`, shared with whatever else holds it
    /// (other hashers, or the host's own password hashing): one CPU budget
    /// for all the hashing in the process. The queue timeout is unchanged.
    pub fn with_slots(mut self, slots: Arc<Semaphore>) -> Self {
        self.slots = slots;
        self
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit> {
        match tokio::time::timeout(self.queue_timeout, Arc::clone(&self.slots).acquire_owned())
            .await
        {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(ChatError::internal(closed)),
            Err(_) => Err(ChatError::unavailable("password hashing queue is full")),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let permit = self.slot().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(ChatError::internal)?
    }
}

impl Default for Argon2Hasher {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash> {
        let password = password.clone();
        let params = self.params.clone();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            let phc = Self::argon2(params)
                .hash_password(password.expose_bytes(), &salt)
                .map_err(|e| ChatError::internal(e.to_string()))?;
            Ok(PasswordHash::from_phc(phc.to_string()))
        })
        .await
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool> {
        let password = password.clone();
        let hash = hash.clone();
        let params = self.params.clone();
        self.run(move || {
            let parsed =
                PhcHash::new(hash.as_str()).map_err(|e| ChatError::internal(e.to_string()))?;
            // The parameters stored in the hash win over `params`.
            match Self::argon2(params).verify_password(password.expose_bytes(), &parsed) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::Password) => Ok(false),
                Err(e) => Err(ChatError::internal(e.to_string())),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn default_hashes_are_owasp_argon2id_with_unique_salts() {
        let hasher = Argon2Hasher::new();
        let password = Password::parse("correct horse battery staple").unwrap();
        let a = hasher.hash(&password).await.unwrap();
        let b = hasher.hash(&password).await.unwrap();
        assert!(
            a.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            a.as_str()
        );
        assert_ne!(a, b, "salts must differ");
        assert!(hasher.verify(&password, &a).await.unwrap());
        let wrong = Password::parse("correct horse battery stapler").unwrap();
        assert!(!hasher.verify(&wrong, &a).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_is_unavailable_not_unbounded() {
        let hasher = Argon2Hasher::with_params(8, 1, 1)
            .unwrap()
            .with_concurrency(1, Duration::from_millis(10));
        let held = hasher.slot().await.unwrap();
        let password = Password::parse("abcdefgh-1").unwrap();
        let err = hasher.hash(&password).await.unwrap_err();
        assert!(matches!(err, ChatError::Unavailable { .. }));
        drop(held);
        assert!(hasher.hash(&password).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn by_default_a_caller_waits_five_seconds_for_a_slot_then_is_unavailable() {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        let slots = Arc::new(Semaphore::new(cpus));
        let hasher = Argon2Hasher::new().with_slots(Arc::clone(&slots));
        let busy = Arc::clone(&slots)
            .acquire_many_owned(cpus as u32)
            .await
            .unwrap();
        let password = Password::parse("abcdefgh-1").unwrap();
        let started = tokio::time::Instant::now();
        let err = hasher.hash(&password).await.unwrap_err();
        assert!(matches!(err, ChatError::Unavailable { .. }), "{err:?}");
        assert_eq!(started.elapsed(), Argon2Hasher::QUEUE_TIMEOUT);
        assert_eq!(Argon2Hasher::QUEUE_TIMEOUT, Duration::from_secs(5));
        // A caller that gets a slot within the timeout is served.
        let waiting = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.slot().await.map(drop) }
        });
        tokio::time::sleep(Duration::from_millis(4_900)).await;
        drop(busy);
        assert!(waiting.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn one_slot_per_cpu_by_default() {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        assert_eq!(Argon2Hasher::new().slots.available_permits(), cpus);
    }

    #[tokio::test]
    async fn malformed_hash_is_an_error_not_a_mismatch() {
        let hasher = Argon2Hasher::with_params(8, 1, 1).unwrap();
        let password = Password::parse("abcdefgh-1").unwrap();
        let err = hasher
            .verify(&password, &PasswordHash::from_phc("nonsense"))
            .await;
        assert!(matches!(err, Err(ChatError::Internal { .. })));
    }
}
