//! The argon2id password hasher.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash as PhcHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
///
/// Memory: each hash works in a 19 MiB area taken from a pool of areas the
/// hasher keeps, one per hash that ran at once, never more; they are reused,
/// not allocated again. So the hasher's memory is at most its concurrency
/// times the memory cost, however many passwords it hashes (allocating an
/// area per hash made the allocator keep each one, per thread of the
/// blocking pool).
#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    slots: Arc<Semaphore>,
    queue_timeout: Duration,
    areas: Arc<WorkAreas>,
}

/// argon2's work areas, reused from hash to hash.
#[derive(Default)]
struct WorkAreas {
    free: Mutex<Vec<Vec<Block>>>,
}

impl WorkAreas {
    /// An area of `blocks` blocks: one kept from an earlier hash, or a new
    /// one.
    fn take(&self, blocks: usize) -> Vec<Block> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        match free.iter().position(|area| area.len() == blocks) {
            Some(found) => free.swap_remove(found),
            None => vec![Block::default(); blocks],
        }
    }

    /// Keeps `area` for the next hash. Only areas of the hasher's own
    /// parameters are kept (an old hash with other parameters verifies in
    /// an area of its own, freed afterwards).
    fn give_back(&self, area: Vec<Block>, usual: usize) {
        if area.len() == usual {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            free.push(area);
        }
    }

    /// How many areas are kept (for tests).
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.free.lock().map_or(0, |free| free.len())
    }
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
            areas: Arc::default(),
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

/// `bytes` of base64 (a PHC salt) decoded.
fn salt_bytes<'a>(
    salt: argon2::password_hash::Salt<'_>,
    buffer: &'a mut [u8; 64],
) -> Result<&'a [u8]> {
    salt.decode_b64(buffer)
        .map(|b| b as &[u8])
        .map_err(|e| ChatError::internal(e.to_string()))
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash> {
        let password = password.clone();
        let params = self.params.clone();
        let areas = Arc::clone(&self.areas);
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            let mut buffer = [0u8; 64];
            let salt_bytes = salt_bytes(salt.as_salt(), &mut buffer)?;
            let length = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
            let usual = params.block_count();
            let mut area = areas.take(usual);
            let output = Output::init_with(length, |out| {
                Self::argon2(params.clone())
                    .hash_password_into_with_memory(
                        password.expose_bytes(),
                        salt_bytes,
                        out,
                        &mut area,
                    )
                    .map_err(|_| argon2::password_hash::Error::Crypto)
            });
            areas.give_back(area, usual);
            let output = output.map_err(|e| ChatError::internal(e.to_string()))?;
            let phc = PhcHash {
                algorithm: Algorithm::Argon2id.ident(),
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(&params)
                    .map_err(|e| ChatError::internal(e.to_string()))?,
                salt: Some(salt.as_salt()),
                hash: Some(output),
            };
            Ok(PasswordHash::from_phc(phc.to_string()))
        })
        .await
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool> {
        let password = password.clone();
        let hash = hash.clone();
        let usual = self.params.block_count();
        let areas = Arc::clone(&self.areas);
        self.run(move || {
            let broken = |e: argon2::password_hash::Error| ChatError::internal(e.to_string());
            let parsed = PhcHash::new(hash.as_str()).map_err(broken)?;
            // The parameters stored in the hash win over the hasher's.
            let params = Params::try_from(&parsed).map_err(broken)?;
            let algorithm = Algorithm::try_from(parsed.algorithm).map_err(broken)?;
            let version = parsed
                .version
                .map(Version::try_from)
                .transpose()
                .map_err(|e| ChatError::internal(e.to_string()))?
                .unwrap_or_default();
            let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
                return Err(ChatError::internal("a stored hash without salt or output"));
            };
            let mut buffer = [0u8; 64];
            let salt_bytes = salt_bytes(salt, &mut buffer)?;
            let mut area = areas.take(params.block_count());
            let mut computed = vec![0u8; expected.len()];
            let done = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
                password.expose_bytes(),
                salt_bytes,
                &mut computed,
                &mut area,
            );
            areas.give_back(area, usual);
            done.map_err(|e| ChatError::internal(e.to_string()))?;
            // `Output`'s equality is constant-time.
            let computed = Output::new(&computed).map_err(broken)?;
            Ok(computed == expected)
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
    async fn work_areas_are_reused_and_bounded_by_the_concurrency() {
        let hasher = Argon2Hasher::with_params(64, 1, 1)
            .unwrap()
            .with_concurrency(2, Duration::from_secs(5));
        let password = Password::parse("abcdefgh-1").unwrap();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (hasher, password) = (hasher.clone(), password.clone());
            tasks.push(tokio::spawn(async move {
                let hash = hasher.hash(&password).await.unwrap();
                assert!(hasher.verify(&password, &hash).await.unwrap());
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let kept = hasher.areas.kept();
        assert!((1..=2).contains(&kept), "{kept} areas for two slots");
        // A hash made by another hasher with other parameters still
        // verifies, in an area of its own that is not kept.
        let other = Argon2Hasher::with_params(32, 1, 1).unwrap();
        let foreign = other.hash(&password).await.unwrap();
        assert!(hasher.verify(&password, &foreign).await.unwrap());
        assert_eq!(hasher.areas.kept(), kept);
    }

    #[tokio::test]
    async fn hashes_verify_with_the_argon2_crate_and_the_other_way_round() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = Argon2Hasher::with_params(64, 2, 1).unwrap();
        let password = Password::parse("correct horse").unwrap();
        let ours = hasher.hash(&password).await.unwrap();
        let parsed = PhcHash::new(ours.as_str()).unwrap();
        assert!(
            Argon2::default()
                .verify_password(password.expose_bytes(), &parsed)
                .is_ok()
        );
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2Hasher::argon2(Params::new(64, 2, 1, None).unwrap())
            .hash_password(password.expose_bytes(), &salt)
            .unwrap()
            .to_string();
        let theirs = PasswordHash::from_phc(theirs);
        assert!(hasher.verify(&password, &theirs).await.unwrap());
        let wrong = Password::parse("correct horse!").unwrap();
        assert!(!hasher.verify(&wrong, &theirs).await.unwrap());
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
