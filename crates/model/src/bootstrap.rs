//! The bootstrap credential: how the first administrator comes to exist.
//!
//! On first start Rempart issues one random credential, stores only its
//! hash, and prints it once. It is single use and expires after a day.

use time::{Duration, OffsetDateTime};

/// How long a bootstrap credential stays valid.
pub const BOOTSTRAP_TTL: Duration = Duration::hours(24);

/// The state of an issued credential, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapCredential {
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

/// Why a presented credential cannot be exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BootstrapRefusal {
    #[error("the bootstrap credential is not valid")]
    Unknown,
    #[error("the bootstrap credential was already used")]
    AlreadyUsed,
    #[error("the bootstrap credential has expired")]
    Expired,
}

impl BootstrapCredential {
    pub fn check(&self, now: OffsetDateTime) -> Result<(), BootstrapRefusal> {
        if self.used_at.is_some() {
            Err(BootstrapRefusal::AlreadyUsed)
        } else if now >= self.expires_at {
            Err(BootstrapRefusal::Expired)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn single_use_and_expiring() {
        let issued = datetime!(2026-11-27 00:00 UTC);
        let cred = BootstrapCredential {
            expires_at: issued + BOOTSTRAP_TTL,
            used_at: None,
        };
        assert_eq!(cred.check(issued), Ok(()));
        assert_eq!(
            cred.check(issued + BOOTSTRAP_TTL),
            Err(BootstrapRefusal::Expired)
        );
        let used = BootstrapCredential {
            used_at: Some(issued),
            ..cred
        };
        assert_eq!(used.check(issued), Err(BootstrapRefusal::AlreadyUsed));
    }
}
