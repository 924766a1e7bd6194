//! Password policy (controls AC-5, CR-1): complexity, rotation, no reuse.
//!
//! A pure rule set. The caller measures what needs measuring (a strength
//! score, membership of the common-password list, reuse against stored
//! hashes) and passes the results in; this module decides, and names every
//! rule a candidate breaks so that each refusal says why. Where several
//! policies apply (staff-wide and a tenant's own), [`PasswordPolicy::strictest`]
//! combines them rule by rule.
//!
//! NIST SP 800-63B argues against composition rules and forced rotation;
//! the statement Rempart implements asks for both. Both are available and
//! off by default; length, strength, the common-password list and history
//! are on.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent switches, one per configuration key"
)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode scalar values).
    pub min_length: u32,
    /// Most characters: long enough for passphrases, short enough that
    /// hashing cannot be used to tie up the server.
    pub max_length: u32,
    /// Lowest zxcvbn strength score accepted, 0 (any) to 4.
    pub min_strength: u8,
    /// Refuse passwords on the shipped list of common and breached ones.
    pub reject_common: bool,
    /// Refuse passwords that contain the login name (or its local part).
    pub reject_identifier: bool,
    /// How many previous passwords cannot be reused (0: no history).
    pub history: u32,
    /// Days after which a password must be changed at the next login.
    pub max_age_days: Option<u32>,
    pub require_lowercase: bool,
    pub require_uppercase: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 12,
            max_length: 256,
            min_strength: 3,
            reject_common: true,
            reject_identifier: true,
            history: 5,
            max_age_days: None,
            require_lowercase: false,
            require_uppercase: false,
            require_digit: false,
            require_symbol: false,
        }
    }
}

/// A rule a candidate password breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum PasswordRule {
    #[error("a password has at least {min} characters")]
    TooShort { min: u32 },
    #[error("a password has at most {max} characters")]
    TooLong { max: u32 },
    #[error("the password is too easy to guess (strength {score} of 4, at least {min} needed)")]
    TooWeak { score: u8, min: u8 },
    #[error("the password is on the list of common or breached passwords")]
    Common,
    #[error("the password contains the login name")]
    ContainsIdentifier,
    #[error("the password was used before (the last {within} cannot be reused)")]
    Reused { within: u32 },
    #[error("a password needs a lowercase letter")]
    MissingLowercase,
    #[error("a password needs an uppercase letter")]
    MissingUppercase,
    #[error("a password needs a digit")]
    MissingDigit,
    #[error("a password needs a symbol")]
    MissingSymbol,
}

/// What the caller measured about a candidate password.
#[derive(Clone, Copy)]
pub struct Measured {
    /// zxcvbn score, 0 to 4.
    pub strength: u8,
    /// On the common or breached list.
    pub common: bool,
    /// Equal to one of the last `history` passwords.
    pub reused: bool,
}

impl std::fmt::Debug for Measured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Measured")
            .field("strength", &self.strength)
            .field("common", &self.common)
            .field("reused", &self.reused)
            .finish()
    }
}

impl PasswordPolicy {
    /// The policy that refuses whatever any of `policies` refuses.
    pub fn strictest<'a>(policies: impl IntoIterator<Item = &'a PasswordPolicy>) -> Self {
        let mut policies = policies.into_iter();
        let Some(first) = policies.next() else {
            return Self::default();
        };
        policies.fold(first.clone(), |a, b| Self {
            min_length: a.min_length.max(b.min_length),
            max_length: a.max_length.min(b.max_length),
            min_strength: a.min_strength.max(b.min_strength),
            reject_common: a.reject_common || b.reject_common,
            reject_identifier: a.reject_identifier || b.reject_identifier,
            history: a.history.max(b.history),
            max_age_days: match (a.max_age_days, b.max_age_days) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            },
            require_lowercase: a.require_lowercase || b.require_lowercase,
            require_uppercase: a.require_uppercase || b.require_uppercase,
            require_digit: a.require_digit || b.require_digit,
            require_symbol: a.require_symbol || b.require_symbol,
        })
    }

    /// Checks the rules that need the password itself; a policy whose
    /// minimum exceeds its maximum refuses everything.
    pub fn check(
        &self,
        password: &str,
        identifier: &str,
        measured: Measured,
    ) -> Result<(), Vec<PasswordRule>> {
        let mut broken = Vec::new();
        let length = u32::try_from(password.chars().count()).unwrap_or(u32::MAX);
        if length < self.min_length {
            broken.push(PasswordRule::TooShort {
                min: self.min_length,
            });
        }
        if length > self.max_length {
            broken.push(PasswordRule::TooLong {
                max: self.max_length,
            });
        }
        if measured.strength < self.min_strength {
            broken.push(PasswordRule::TooWeak {
                score: measured.strength,
                min: self.min_strength,
            });
        }
        if self.reject_common && measured.common {
            broken.push(PasswordRule::Common);
        }
        if self.reject_identifier && contains_identifier(password, identifier) {
            broken.push(PasswordRule::ContainsIdentifier);
        }
        if self.history > 0 && measured.reused {
            broken.push(PasswordRule::Reused {
                within: self.history,
            });
        }
        let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
        if self.require_lowercase && !has(|c| c.is_lowercase()) {
            broken.push(PasswordRule::MissingLowercase);
        }
        if self.require_uppercase && !has(|c| c.is_uppercase()) {
            broken.push(PasswordRule::MissingUppercase);
        }
        if self.require_digit && !has(char::is_ascii_digit) {
            broken.push(PasswordRule::MissingDigit);
        }
        if self.require_symbol && !has(|c| !c.is_alphanumeric() && !c.is_whitespace()) {
            broken.push(PasswordRule::MissingSymbol);
        }
        if broken.is_empty() {
            Ok(())
        } else {
            Err(broken)
        }
    }

    /// Whether a password set at `changed_at` must be changed now.
    pub fn is_expired(&self, changed_at: OffsetDateTime, now: OffsetDateTime) -> bool {
        self.max_age_days
            .is_some_and(|days| now - changed_at >= Duration::days(i64::from(days)))
    }
}

/// Whether `password` contains the identifier, or the local part of an
/// e-mail identifier, ignoring case; parts shorter than 3 characters are
/// ignored (they would refuse too much).
fn contains_identifier(password: &str, identifier: &str) -> bool {
    let password = password.to_lowercase();
    let identifier = identifier.to_lowercase();
    let local = identifier.split('@').next().unwrap_or_default();
    [identifier.as_str(), local]
        .iter()
        .filter(|part| part.chars().count() >= 3)
        .any(|part| password.contains(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const STRONG: Measured = Measured {
        strength: 4,
        common: false,
        reused: false,
    };

    #[test]
    fn each_refusal_names_its_rule() {
        let policy = PasswordPolicy {
            require_uppercase: true,
            require_digit: true,
            require_symbol: true,
            ..PasswordPolicy::default()
        };
        assert_eq!(
            policy.check(
                "alice-short",
                "alice@example.com",
                Measured {
                    strength: 1,
                    common: true,
                    reused: true
                }
            ),
            Err(vec![
                PasswordRule::TooShort { min: 12 },
                PasswordRule::TooWeak { score: 1, min: 3 },
                PasswordRule::Common,
                PasswordRule::ContainsIdentifier,
                PasswordRule::Reused { within: 5 },
                PasswordRule::MissingUppercase,
                PasswordRule::MissingDigit,
            ])
        );
        assert_eq!(
            policy.check("Correct-horse-9-battery", "alice@example.com", STRONG),
            Ok(())
        );
    }

    #[test]
    fn the_strictest_rule_wins() {
        let staff = PasswordPolicy {
            min_length: 14,
            max_age_days: Some(365),
            ..PasswordPolicy::default()
        };
        let tenant = PasswordPolicy {
            min_length: 10,
            max_length: 64,
            history: 12,
            max_age_days: Some(90),
            require_symbol: true,
            ..PasswordPolicy::default()
        };
        let both = PasswordPolicy::strictest([&staff, &tenant]);
        assert_eq!(both.min_length, 14);
        assert_eq!(both.max_length, 64);
        assert_eq!(both.history, 12);
        assert_eq!(both.max_age_days, Some(90));
        assert!(both.require_symbol);
    }

    #[test]
    fn passwords_expire_after_their_maximum_age() {
        let policy = PasswordPolicy {
            max_age_days: Some(90),
            ..PasswordPolicy::default()
        };
        let set = datetime!(2026-01-01 00:00 UTC);
        assert!(!policy.is_expired(set, set + Duration::days(89)));
        assert!(policy.is_expired(set, set + Duration::days(90)));
        assert!(!PasswordPolicy::default().is_expired(set, set + Duration::days(10_000)));
    }

    proptest! {
        /// Whatever the strictest policy accepts, each policy accepts.
        #[test]
        fn strictest_accepts_only_what_all_accept(
            password in "\\PC{0,40}",
            a_min in 0_u32..30, b_min in 0_u32..30,
            a_sym: bool, b_digit: bool,
            strength in 0_u8..=4, common: bool, reused: bool,
        ) {
            let a = PasswordPolicy { min_length: a_min, require_symbol: a_sym, ..PasswordPolicy::default() };
            let b = PasswordPolicy { min_length: b_min, require_digit: b_digit, ..PasswordPolicy::default() };
            let m = Measured { strength, common, reused };
            let both = PasswordPolicy::strictest([&a, &b]);
            if both.check(&password, "user@example.com", m).is_ok() {
                prop_assert!(a.check(&password, "user@example.com", m).is_ok());
                prop_assert!(b.check(&password, "user@example.com", m).is_ok());
            }
        }
    }
}
