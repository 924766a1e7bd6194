//! TOTP second factor (RFC 6238; control AC-1).
//!
//! Secrets are 160 random bits from the operating system; enrolment gives
//! an `otpauth://` URI that standard authenticator apps accept (SHA-1, six
//! digits, 30-second steps: what they all implement). A code is accepted
//! within one step of clock skew, compared in constant time (totp-rs), and
//! never twice: the caller stores the last accepted step and passes it back
//! (RFC 6238 §5.2), so a code seen over a shoulder or replayed from a log
//! is refused.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

/// Bytes of a TOTP secret (RFC 4226 recommends 160 bits).
pub const SECRET_LEN: usize = 20;

/// A TOTP secret; wiped from memory when dropped, never printed.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(redacted)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpRefusal {
    #[error("a TOTP code is six digits")]
    Malformed,
    #[error("the TOTP code is not valid now")]
    Wrong,
    #[error("this TOTP code was already used; wait for the next one")]
    Replayed,
}

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("the operating system's random generator failed")]
    RandomUnavailable,
    #[error("the TOTP secret or account is not valid: {0}")]
    Invalid(String),
}

impl TotpSecret {
    pub fn generate() -> Result<Self, TotpError> {
        let mut bytes = Zeroizing::new(vec![0_u8; SECRET_LEN]);
        SystemRandom::new()
            .fill(bytes.as_mut_slice())
            .map_err(|_| TotpError::RandomUnavailable)?;
        Ok(Self(bytes))
    }

    /// From stored bytes (the caller keeps them encrypted at rest).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TotpError> {
        if bytes.len() < 16 {
            return Err(TotpError::Invalid(
                "a TOTP secret is at least 128 bits".to_owned(),
            ));
        }
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// The bytes, for the caller to encrypt and store.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, issuer: &str, account: &str) -> Result<Totp, TotpError> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_secret(self.0.to_vec())
            .with_issuer(Some(issuer))
            .with_account_name(account)
            .build()
            .map_err(|e| TotpError::Invalid(e.to_string()))
    }

    /// The `otpauth://totp/…` URI to show once, as text or QR code.
    pub fn enrolment_uri(&self, issuer: &str, account: &str) -> Result<String, TotpError> {
        self.totp(issuer, account)?
            .to_url()
            .map_err(|e| TotpError::Invalid(e.to_string()))
    }

    /// Checks `code` at `now`; returns the step it matched, which the
    /// caller must store as the new `last_step`.
    pub fn verify(
        &self,
        code: &str,
        now: OffsetDateTime,
        last_step: Option<u64>,
    ) -> Result<u64, TotpRefusal> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TotpRefusal::Malformed);
        }
        let totp = self
            .totp("rempart", "check")
            .map_err(|_| TotpRefusal::Wrong)?;
        let seconds = u64::try_from(now.unix_timestamp()).map_err(|_| TotpRefusal::Wrong)?;
        let step = totp.check(code, seconds).ok_or(TotpRefusal::Wrong)?;
        if last_step.is_some_and(|last| step <= last) {
            return Err(TotpRefusal::Replayed);
        }
        Ok(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// The RFC 6238 appendix B secret (SHA-1) and its published codes,
    /// truncated to six digits.
    #[test]
    fn rfc_6238_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap();
        for (unix, code) in [
            (59_i64, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            let now = OffsetDateTime::from_unix_timestamp(unix).unwrap();
            assert!(secret.verify(code, now, None).is_ok(), "{unix}");
        }
    }

    #[test]
    fn a_code_is_accepted_once() {
        let secret = TotpSecret::generate().unwrap();
        let now = datetime!(2026-11-27 12:00:10 UTC);
        let totp = secret.totp("rempart", "a").unwrap();
        let seconds = u64::try_from(now.unix_timestamp()).unwrap();
        let code = totp.generate(seconds).to_string();
        let step = secret.verify(&code, now, None).unwrap();
        assert_eq!(
            secret.verify(&code, now, Some(step)),
            Err(TotpRefusal::Replayed)
        );
        // One step of skew either way, no more.
        let later = now + time::Duration::seconds(30);
        assert!(
            secret
                .verify(&totp.generate(seconds + 30).to_string(), later, Some(step))
                .is_ok()
        );
        let far = now + time::Duration::seconds(120);
        assert_eq!(secret.verify(&code, far, None), Err(TotpRefusal::Wrong));
        assert_eq!(
            secret.verify("12345", now, None),
            Err(TotpRefusal::Malformed)
        );
        assert_eq!(
            secret.verify("12a456", now, None),
            Err(TotpRefusal::Malformed)
        );
    }

    #[test]
    fn enrolment_uri_is_what_authenticators_read() {
        let secret = TotpSecret::generate().unwrap();
        let uri = secret
            .enrolment_uri("Rempart", "alice@example.com")
            .unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Rempart:alice%40example.com?secret="),
            "{uri}"
        );
        assert!(uri.contains("issuer=Rempart"), "{uri}");
        assert!(!format!("{secret:?}").contains(&uri[uri.find("secret=").unwrap() + 7..][..8]));
    }
}
