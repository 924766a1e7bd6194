//! The login-name key: what the login throttle is keyed by, so that
//! nothing typed into a login box is kept in clear (controls AC-1, DS-4).
//!
//! A password typed into the name field is a common slip; the throttle
//! counts failures per typed name, unknown names included (a lockout must
//! reveal nothing about which accounts exist), so it would keep that
//! password. The throttle therefore stores `HMAC-SHA256(key, name)` of the
//! normalised name, never the name. The key is 32 random bytes in a file
//! (mode 0600) beside the keyring, not in the database, so that a copy of
//! the database alone cannot test guesses against the stored hashes. It is
//! not inside the sealed keyring on purpose: logins are throttled while the
//! keyring is sealed too. Replicas share it as they share the keyring, and
//! the database keeps a check value (an HMAC of a fixed label) so that a
//! replica holding another key refuses to start instead of counting
//! failures apart from the others.

use std::path::Path;

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

/// Bytes in a login-name key.
pub const LOGIN_KEY_LEN: usize = 32;

/// The label whose HMAC is the key's check value in the database.
const CHECK_LABEL: &[u8] = b"rempart login-name key check v1";

/// The domain separation of throttle hashes.
const NAME_LABEL: &[u8] = b"rempart login name v1\0";

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LoginKeyError {
    #[error("the operating system's random generator failed")]
    RandomUnavailable,
    #[error("cannot read the login-name key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the login-name key {path} is not {LOGIN_KEY_LEN} bytes long")]
    Malformed { path: String },
    #[error("cannot write the login-name key {path}: {message}")]
    Write { path: String, message: String },
}

/// The HMAC key of throttle names. Never printed, never stored in the
/// database.
#[derive(Clone)]
pub struct LoginKey {
    key: hmac::Key,
    /// The key's check value, hex: safe to store and compare.
    check: String,
}

rempart_model::debug_fields!(LoginKey {});

impl LoginKey {
    fn from_bytes(bytes: &[u8]) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, bytes);
        let check = hex_of(hmac::sign(&key, CHECK_LABEL).as_ref());
        Self { key, check }
    }

    /// A random key held in memory only: the default of a service built
    /// without a key file (tests, offline commands). Its counters do not
    /// survive the process and are not shared with a replica; `rempart
    /// serve` always loads the key file instead.
    pub fn ephemeral() -> Self {
        // Two version-4 UUIDs: 244 bits from the operating system's
        // generator, without a fallible call in a constructor.
        let mut bytes = Zeroizing::new([0_u8; LOGIN_KEY_LEN]);
        for (chunk, id) in bytes
            .chunks_mut(16)
            .zip([uuid::Uuid::new_v4(), uuid::Uuid::new_v4()])
        {
            chunk.copy_from_slice(id.as_bytes());
        }
        Self::from_bytes(bytes.as_ref())
    }

    /// Reads the key at `path`, creating it (mode 0600, atomically) on
    /// first start. Returns the key and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), LoginKeyError> {
        let shown = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                if bytes.len() != LOGIN_KEY_LEN {
                    return Err(LoginKeyError::Malformed { path: shown });
                }
                Ok((Self::from_bytes(&bytes), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = Zeroizing::new([0_u8; LOGIN_KEY_LEN]);
                aws_lc_rs::rand::fill(bytes.as_mut())
                    .map_err(|_| LoginKeyError::RandomUnavailable)?;
                rempart_crypto::write_atomic(path, bytes.as_ref()).map_err(|e| {
                    LoginKeyError::Write {
                        path: shown,
                        message: e.to_string(),
                    }
                })?;
                Ok((Self::from_bytes(bytes.as_ref()), true))
            }
            Err(source) => Err(LoginKeyError::Read {
                path: shown,
                source,
            }),
        }
    }

    /// The throttle key of a typed login name: trimmed and lower-cased
    /// (as account names compare), then keyed-hashed.
    pub fn throttle_key(&self, typed: &str) -> String {
        let normalised = typed.trim().to_lowercase();
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(NAME_LABEL);
        ctx.update(normalised.as_bytes());
        format!("account:{}", hex_of(ctx.sign().as_ref()))
    }

    /// The value the database keeps to tell replicas' keys apart.
    pub fn check_value(&self) -> &str {
        &self.check
    }
}

fn hex_of(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_then_hashed_under_the_key() {
        let key = LoginKey::ephemeral();
        let typed = key.throttle_key("  Alice@Example.COM ");
        assert_eq!(typed, key.throttle_key("alice@example.com"));
        assert!(!typed.contains("alice"));
        assert_eq!(typed.len(), "account:".len() + 64);
        let other = LoginKey::ephemeral();
        assert_ne!(typed, other.throttle_key("alice@example.com"));
        assert_ne!(key.check_value(), other.check_value());
    }

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("login.key");
        let (first, created) = LoginKey::load_or_create(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, created) = LoginKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first.throttle_key("bob"), again.throttle_key("bob"));
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            LoginKey::load_or_create(&path),
            Err(LoginKeyError::Malformed { .. })
        ));
    }
}
