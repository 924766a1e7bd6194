//! Bearer secrets: API tokens and the bootstrap credential.
//!
//! Each is 32 random bytes from the operating system's generator, shown
//! once as text with a prefix that says what it is (so that secret
//! scanners can find leaked ones), and stored only as its SHA-256. A
//! 256-bit random secret needs no slow hash: there is nothing to guess.
//! Lookups go by hash, so comparing the presented secret never touches the
//! stored one; what a timing difference could reveal is a prefix of a hash.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// What kind of secret, and its text prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    ApiToken,
    Bootstrap,
    /// A login session (cookie or bearer).
    Session,
}

impl SecretKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::ApiToken => "rmp_at_",
            Self::Bootstrap => "rmp_boot_",
            Self::Session => "rmp_ses_",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random generator failed")]
pub struct RandomUnavailable;

/// Generates a new secret of `kind`.
pub fn generate(kind: SecretKind) -> Result<SecretString, RandomUnavailable> {
    let mut bytes = Zeroizing::new([0_u8; 32]);
    SystemRandom::new()
        .fill(bytes.as_mut())
        .map_err(|_| RandomUnavailable)?;
    let text = format!(
        "{}{}",
        kind.prefix(),
        URL_SAFE_NO_PAD.encode(bytes.as_ref())
    );
    Ok(SecretString::from(text))
}

/// Whether a presented secret is a session secret (else an API token).
pub fn is_session(secret: &SecretString) -> bool {
    secret
        .expose_secret()
        .trim()
        .starts_with(SecretKind::Session.prefix())
}

/// The stored form of a presented secret.
pub fn fingerprint(secret: &SecretString) -> [u8; 32] {
    Sha256::digest(secret.expose_secret().trim().as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_stored_as_hashes() {
        let a = generate(SecretKind::ApiToken).unwrap();
        let b = generate(SecretKind::ApiToken).unwrap();
        assert!(a.expose_secret().starts_with("rmp_at_"));
        assert_eq!(a.expose_secret().len(), "rmp_at_".len() + 43);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert!(!format!("{a:?}").contains(&a.expose_secret()[7..]));
    }
}
