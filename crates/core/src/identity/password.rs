//! Password hashing (control AC-5): Argon2id, parameters at least OWASP's
//! minimum, hashes upgraded when the parameters change, and a bounded
//! number of hashes at once.
//!
//! Hashing is deliberately expensive in memory and time; each hash runs on
//! the blocking pool under a semaphore permit, so a flood of login attempts
//! waits in a queue (holding only their password) instead of allocating
//! `memory × attempts`. A login for an unknown account runs the same hash
//! against a dummy, so that it takes the same time as a wrong password
//! (no user enumeration by timing).

use std::sync::Arc;

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

/// Argon2id parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HashParams {
    /// Memory in KiB (OWASP minimum 19 MiB = 19456).
    pub memory_kib: u32,
    /// Passes over memory (OWASP minimum 2 at 19 MiB).
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error(
        "Argon2id parameters below the OWASP minimum (memory_kib >= 19456 and iterations >= 2, or memory_kib >= 7168 and iterations >= 5)"
    )]
    BelowMinimum,
    #[error("Argon2id parameters are not valid: {0}")]
    InvalidParams(String),
    #[error("the stored password hash is not a valid Argon2id PHC string")]
    MalformedHash,
    #[error("the operating system's random generator failed")]
    RandomUnavailable,
    #[error("password hashing was interrupted")]
    Interrupted,
}

impl HashParams {
    /// Whether these parameters meet OWASP's minimum for Argon2id (one of
    /// its equivalent configurations).
    pub fn meets_minimum(&self) -> bool {
        let m = self.memory_kib;
        let t = self.iterations;
        self.parallelism >= 1
            && ((m >= 47_104 && t >= 1)
                || (m >= 19_456 && t >= 2)
                || (m >= 12_288 && t >= 3)
                || (m >= 9_216 && t >= 4)
                || (m >= 7_168 && t >= 5))
    }

    /// The parameters a stored PHC string was made with, if it is an
    /// Argon2id hash of version 19 (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub fn of_phc(stored: &str) -> Option<Self> {
        let mut parts = stored.split('$');
        let (Some(""), Some("argon2id"), Some("v=19"), Some(params)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let mut found = Self {
            memory_kib: 0,
            iterations: 0,
            parallelism: 0,
        };
        for pair in params.split(',') {
            let (name, value) = pair.split_once('=')?;
            let value: u32 = value.parse().ok()?;
            match name {
                "m" => found.memory_kib = value,
                "t" => found.iterations = value,
                "p" => found.parallelism = value,
                _ => return None,
            }
        }
        (found.memory_kib > 0 && found.iterations > 0 && found.parallelism > 0).then_some(found)
    }

    /// Whether these parameters cost at least as much as `other` in memory
    /// and passes.
    pub fn at_least(&self, other: Self) -> bool {
        self.memory_kib >= other.memory_kib && self.iterations >= other.iterations
    }

    /// `m=19456 KiB, t=2, p=1`: for evidence and messages.
    pub fn describe(&self) -> String {
        format!(
            "m={} KiB, t={}, p={}",
            self.memory_kib, self.iterations, self.parallelism
        )
    }

    fn argon2(&self) -> Result<Argon2<'static>, PasswordError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// The parameter segment of a PHC string made with these parameters.
    fn phc_segment(&self) -> String {
        format!(
            "m={},t={},p={}",
            self.memory_kib, self.iterations, self.parallelism
        )
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// The hash was made with other parameters: re-hash the (correct)
    /// password with the current ones.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords with the configured parameters, at most
/// `concurrency` at a time.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: HashParams,
    permits: Arc<Semaphore>,
    dummy: Arc<String>,
    /// Argon2id computations so far (hashes and verifications): what lets
    /// a test prove that an unknown account costs the same work as a
    /// known one, without timing anything.
    computations: Arc<std::sync::atomic::AtomicU64>,
    /// Argon2 working memory, reused: at most one buffer per permit ever
    /// exists, so memory is `concurrency × memory_kib` whatever the number
    /// of attempts (a fresh 19 MiB allocation per hash would let the
    /// allocator keep freed buffers in per-thread arenas and grow).
    arena: Arc<Arena>,
}

/// Reusable Argon2 memory buffers. A buffer is wiped when given back (as
/// the argon2 crate wipes its own on drop): password-derived blocks do not
/// stay in memory between hashes.
#[derive(Default)]
struct Arena {
    free: std::sync::Mutex<Vec<Vec<Block>>>,
}

/// Never prints the buffers' contents.
impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let buffers = self.free.lock().map_or(0, |free| free.len());
        write!(f, "Arena({buffers} idle buffers)")
    }
}

impl Arena {
    /// A buffer of at least `blocks` blocks (taken under a permit).
    fn take(&self, blocks: usize) -> Vec<Block> {
        let mut buffer = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        if buffer.len() < blocks {
            buffer.resize(blocks, Block::new());
        }
        buffer
    }

    fn give(&self, mut buffer: Vec<Block>) {
        buffer.iter_mut().for_each(zeroize::Zeroize::zeroize);
        self.free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(buffer);
    }
}

/// Most memory a stored hash may ask for (1 GiB): a hash from a tampered
/// database cannot make a login allocate without bound.
const MAX_STORED_MEMORY_KIB: u32 = 1024 * 1024;

impl PasswordHasher {
    /// Refuses parameters below the OWASP minimum. `allow_weak` exists for
    /// tests only, where a 19 MiB hash per case would dominate the run.
    pub fn new(
        params: HashParams,
        concurrency: usize,
        allow_weak: bool,
    ) -> Result<Self, PasswordError> {
        if !allow_weak && !params.meets_minimum() {
            return Err(PasswordError::BelowMinimum);
        }
        let dummy = dummy_hash(params)?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: Arc::new(dummy),
            computations: Arc::default(),
            arena: Arc::default(),
        })
    }

    pub fn params(&self) -> HashParams {
        self.params
    }

    /// How many Argon2id computations this hasher has run.
    pub fn computations(&self) -> u64 {
        self.computations.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) for `password`.
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        let params = self.params;
        self.blocking(move |memory| {
            let salt = random_salt()?;
            let argon2 = params.argon2()?;
            let argon_params = argon2.params().clone();
            let mut out = zeroize::Zeroizing::new([0_u8; 32]);
            let blocks = memory
                .get_mut(..argon_params.block_count())
                .ok_or(PasswordError::Interrupted)?;
            argon2
                .hash_password_into_with_memory(
                    password.expose_secret().as_bytes(),
                    &salt,
                    out.as_mut(),
                    blocks,
                )
                .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
            let invalid = |e: &dyn std::fmt::Display| PasswordError::InvalidParams(e.to_string());
            let phc = PasswordHash {
                algorithm: Algorithm::Argon2id.ident(),
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(&argon_params).map_err(|e| invalid(&e))?,
                salt: Some(Salt::new(&salt).map_err(|e| invalid(&e))?),
                hash: Some(Output::new(out.as_ref()).map_err(|e| invalid(&e))?),
            };
            Ok(phc.to_string())
        })
        .await
    }

    /// Checks `password` against a stored PHC string.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: String,
    ) -> Result<Verification, PasswordError> {
        let current = self.params;
        self.blocking(move |memory| {
            let matches = verify_with(&stored, password.expose_secret().as_bytes(), memory)?;
            let needs_rehash = stored.split('$').nth(3) != Some(current.phc_segment().as_str())
                || stored.split('$').nth(2) != Some("v=19");
            Ok(Verification {
                matches,
                needs_rehash,
            })
        })
        .await
    }

    /// Runs a verification that cannot succeed, at the current cost: what a
    /// login for an unknown account does, so that it takes as long as one
    /// for a known account with a wrong password.
    pub async fn verify_dummy(&self, password: SecretString) -> Result<(), PasswordError> {
        self.verify(password, self.dummy.as_str().to_owned())
            .await
            .map(|_| ())
    }

    /// Runs `work` on the blocking pool under a permit, with a working
    /// buffer from the arena, returned afterwards.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Interrupted)?;
        self.computations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let arena = self.arena.clone();
        // Enough for the configured parameters; a stored hash with more
        // memory grows the buffer (up to the cap) inside `work`'s check.
        let blocks = usize::try_from(self.params.memory_kib).unwrap_or(usize::MAX);
        tokio::task::spawn_blocking(move || {
            let mut buffer = arena.take(blocks);
            let result = work(&mut buffer);
            arena.give(buffer);
            result
        })
        .await
        .map_err(|_| PasswordError::Interrupted)?
    }
}

/// Checks `password` against the PHC string `stored` in `memory` (grown
/// when the stored parameters need more), comparing in constant time.
fn verify_with(stored: &str, password: &[u8], memory: &mut [Block]) -> Result<bool, PasswordError> {
    let hash = PasswordHash::new(stored).map_err(|_| PasswordError::MalformedHash)?;
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return Err(PasswordError::MalformedHash);
    }
    let params = Params::try_from(&hash).map_err(|_| PasswordError::MalformedHash)?;
    if params.m_cost() > MAX_STORED_MEMORY_KIB {
        return Err(PasswordError::MalformedHash);
    }
    let version = hash
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|_| PasswordError::MalformedHash)?
        .unwrap_or(Version::V0x13);
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err(PasswordError::MalformedHash);
    };
    let blocks = params.block_count();
    let mut grown;
    let memory = if memory.len() >= blocks {
        memory
    } else {
        grown = vec![Block::new(); blocks];
        grown.as_mut_slice()
    };
    let mut out = zeroize::Zeroizing::new(vec![0_u8; expected.len()]);
    let block_slice = memory
        .get_mut(..blocks)
        .ok_or(PasswordError::MalformedHash)?;
    Argon2::new(Algorithm::Argon2id, version, params)
        .hash_password_into_with_memory(password, salt, out.as_mut_slice(), block_slice)
        .map_err(|_| PasswordError::MalformedHash)?;
    Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
}

/// The hash an unknown account is checked against: made with the current
/// parameters, so that checking it costs what a real check costs. Its salt
/// needs no randomness: it protects no password.
fn dummy_hash(params: HashParams) -> Result<String, PasswordError> {
    params
        .argon2()?
        .hash_password_with_salt(b"rempart-dummy-password", b"rempart-dummy-salt")
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::InvalidParams(e.to_string()))
}

impl Default for PasswordHasher {
    /// OWASP's parameters, as many hashes at once as there are cores.
    fn default() -> Self {
        let params = HashParams::default();
        Self {
            params,
            permits: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            )),
            // The default parameters are valid: this cannot fail.
            dummy: Arc::new(dummy_hash(params).unwrap_or_default()),
            computations: Arc::default(),
            arena: Arc::default(),
        }
    }
}

fn random_salt() -> Result<[u8; 16], PasswordError> {
    let mut salt = [0_u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| PasswordError::RandomUnavailable)?;
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    const FAST: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn owasp_minimum_is_enforced() {
        assert!(HashParams::default().meets_minimum());
        assert!(!FAST.meets_minimum());
        assert!(matches!(
            PasswordHasher::new(FAST, 1, false),
            Err(PasswordError::BelowMinimum)
        ));
    }

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let hasher = PasswordHasher::new(FAST, 2, true).unwrap();
        let a = hasher.hash(secret("correct horse")).await.unwrap();
        let b = hasher.hash(secret("correct horse")).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(!a.contains("correct horse"));
        let ok = hasher
            .verify(secret("correct horse"), a.clone())
            .await
            .unwrap();
        assert_eq!(
            ok,
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        let wrong = hasher.verify(secret("wrong horse"), a).await.unwrap();
        assert!(!wrong.matches);
        hasher.verify_dummy(secret("anything")).await.unwrap();
    }

    #[test]
    fn phc_parameters_are_read_back_and_compared() {
        let stored = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
        let params = HashParams::of_phc(stored).unwrap();
        assert_eq!(params, HashParams::default());
        assert!(params.at_least(HashParams::default()));
        let weaker = HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        assert!(params.at_least(weaker));
        assert!(!weaker.at_least(params));
        for bad in [
            "",
            "$argon2i$v=19$m=19456,t=2,p=1$s$h",
            "$argon2id$v=16$m=19456,t=2,p=1$s$h",
            "$argon2id$v=19$m=19456,t=2$s$h",
            "$argon2id$v=19$m=19456,t=x,p=1$s$h",
            "$argon2id$v=19$m=19456,t=2,p=1,q=3$s$h",
        ] {
            assert_eq!(HashParams::of_phc(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn changed_parameters_ask_for_a_rehash() {
        let old = PasswordHasher::new(FAST, 1, true).unwrap();
        let stored = old.hash(secret("pw")).await.unwrap();
        let new = PasswordHasher::new(
            HashParams {
                memory_kib: 128,
                ..FAST
            },
            1,
            true,
        )
        .unwrap();
        let v = new.verify(secret("pw"), stored).await.unwrap();
        assert_eq!(
            v,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
    }

    #[tokio::test]
    async fn malformed_hashes_are_errors_not_matches() {
        let hasher = PasswordHasher::new(FAST, 1, true).unwrap();
        for bad in [
            "",
            "plaintext",
            "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            "$2b$12$abcdefghijklmnopqrstuv",
        ] {
            assert!(
                matches!(
                    hasher.verify(secret("pw"), bad.to_owned()).await,
                    Err(PasswordError::MalformedHash)
                ),
                "{bad}"
            );
        }
    }

    /// The arena path writes and reads the same PHC strings as the crate's
    /// own hasher and verifier.
    #[tokio::test]
    async fn phc_strings_agree_with_the_argon2_crate() {
        use argon2::password_hash::PasswordVerifier as _;
        let hasher = PasswordHasher::new(FAST, 1, true).unwrap();
        let ours = hasher.hash(secret("correct horse")).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        let theirs = FAST
            .argon2()
            .unwrap()
            .hash_password_with_salt(b"correct horse", b"0123456789abcdef")
            .unwrap()
            .to_string();
        let check = hasher
            .verify(secret("correct horse"), theirs.clone())
            .await
            .unwrap();
        assert!(check.matches && !check.needs_rehash);
        let wrong = hasher.verify(secret("wrong"), theirs).await.unwrap();
        assert!(!wrong.matches);
        // A stored hash asking for more memory than allowed is refused.
        let greedy = "$argon2id$v=19$m=4194304,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(matches!(
            hasher.verify(secret("x"), greedy.to_owned()).await,
            Err(PasswordError::MalformedHash)
        ));
    }
}
