//! The `[identity]` and `[password]` configuration sections.

use rempart_model::RoleName;
use rempart_model::password_policy::PasswordPolicy;
use serde::{Deserialize, Serialize};
use time::Duration;

use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

use crate::identity::password::HashParams;

/// Login, sessions, lockout, MFA and separation of duties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Argon2id memory in KiB (OWASP minimum 19456).
    pub hash_memory_kib: u32,
    /// Argon2id passes.
    pub hash_iterations: u32,
    /// Argon2id lanes.
    pub hash_parallelism: u32,
    /// Password hashes computed at once; further logins wait their turn,
    /// so memory is bounded by this, not by the number of attempts.
    pub hash_concurrency: usize,
    /// A session unused this long ends.
    pub session_idle_secs: u64,
    /// A session ends this long after login, used or not.
    pub session_absolute_secs: u64,
    /// Sensitive actions need a password or second factor proved this
    /// recently.
    pub step_up_secs: u64,
    /// Failed logins for one account within the window before a lockout.
    pub lockout_attempts: u32,
    /// Failed logins from one source address within the window before the
    /// source is locked out.
    pub source_attempts: u32,
    pub lockout_window_secs: u64,
    /// The first lockout's length; each further one doubles it, up to a day.
    pub lockout_secs: u64,
    /// The issuer shown by authenticator apps.
    pub mfa_issuer: String,
    /// Whether every tenant user must use a second factor too (staff
    /// holding a privileged permission always must).
    pub tenant_mfa_required: bool,
    /// Pairs of roles no one may hold at once, `a:b` separated by commas.
    pub separation_of_duties: String,
    /// Most emergency (break-glass) accounts that may exist.
    pub break_glass_max: u32,
    /// The WebAuthn relying party id (a domain, e.g. `rempart.example.com`);
    /// empty: WebAuthn is off.
    pub webauthn_rp_id: String,
    /// The origin browsers reach Rempart at (e.g.
    /// `https://rempart.example.com`); set together with `webauthn_rp_id`.
    pub webauthn_origin: String,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        let hash = HashParams::default();
        Self {
            hash_memory_kib: hash.memory_kib,
            hash_iterations: hash.iterations,
            hash_parallelism: hash.parallelism,
            hash_concurrency: 4,
            session_idle_secs: 30 * 60,
            session_absolute_secs: 12 * 3600,
            step_up_secs: 5 * 60,
            lockout_attempts: 5,
            source_attempts: 50,
            lockout_window_secs: 15 * 60,
            lockout_secs: 15 * 60,
            mfa_issuer: "Rempart".to_owned(),
            tenant_mfa_required: false,
            separation_of_duties: "security-admin:auditor".to_owned(),
            break_glass_max: 2,
            webauthn_rp_id: String::new(),
            webauthn_origin: String::new(),
        }
    }
}

/// Two roles that no one may hold at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SodRule {
    pub a: RoleName,
    pub b: RoleName,
}

impl SodRule {
    /// Whether holding `held` forbids being granted `wanted`.
    pub fn forbids(&self, held: &RoleName, wanted: &RoleName) -> bool {
        (held == &self.a && wanted == &self.b) || (held == &self.b && wanted == &self.a)
    }
}

impl std::fmt::Display for SodRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} and {} may not be held together", self.a, self.b)
    }
}

impl IdentityConfig {
    pub fn hash_params(&self) -> HashParams {
        HashParams {
            memory_kib: self.hash_memory_kib,
            iterations: self.hash_iterations,
            parallelism: self.hash_parallelism,
        }
    }

    pub fn session_idle(&self) -> Duration {
        secs(self.session_idle_secs)
    }

    pub fn session_absolute(&self) -> Duration {
        secs(self.session_absolute_secs)
    }

    pub fn step_up(&self) -> Duration {
        secs(self.step_up_secs)
    }

    pub fn lockout_window(&self) -> Duration {
        secs(self.lockout_window_secs)
    }

    /// How long the `n`-th lockout (from 0) lasts: doubling, at most a day.
    pub fn lockout_duration(&self, n: u32) -> Duration {
        let base = secs(self.lockout_secs);
        let factor = 1_i32 << n.min(16);
        (base * factor).min(Duration::days(1))
    }

    /// The separation-of-duty rules; the error names the bad entry.
    pub fn sod_rules(&self) -> Result<Vec<SodRule>, String> {
        self.separation_of_duties
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (a, b) = pair
                    .split_once(':')
                    .ok_or_else(|| format!("{pair:?} is not a pair of roles written a:b"))?;
                let parse =
                    |r: &str| RoleName::parse(r.trim()).map_err(|e| format!("{pair:?}: {e}"));
                let (a, b) = (parse(a)?, parse(b)?);
                if a == b {
                    return Err(format!("{pair:?} names the same role twice"));
                }
                Ok(SodRule { a, b })
            })
            .collect()
    }

    /// The checks that types alone cannot express, as (key, message).
    pub fn validate(&self, policy: &PasswordPolicy) -> Result<(), (&'static str, String)> {
        if !self.hash_params().meets_minimum() {
            return Err((
                "identity.hash_memory_kib",
                "Argon2id parameters below OWASP's minimum (19456 KiB with 2 passes, or an equivalent)".to_owned(),
            ));
        }
        if !(1..=256).contains(&self.hash_concurrency) {
            return Err(("identity.hash_concurrency", "between 1 and 256".to_owned()));
        }
        if self.session_idle_secs == 0 || self.session_idle_secs > self.session_absolute_secs {
            return Err((
                "identity.session_idle_secs",
                "more than 0 and at most identity.session_absolute_secs".to_owned(),
            ));
        }
        if self.lockout_attempts == 0 || self.source_attempts == 0 {
            return Err((
                "identity.lockout_attempts",
                "lockout_attempts and source_attempts are at least 1".to_owned(),
            ));
        }
        if let Err(e) = self.sod_rules() {
            return Err(("identity.separation_of_duties", e));
        }
        if let Err(e) = relying_party(self) {
            return Err(("identity.webauthn_origin", e));
        }
        if policy.min_length > policy.max_length || policy.min_length < 8 {
            return Err((
                "password.min_length",
                "at least 8 and at most password.max_length".to_owned(),
            ));
        }
        if policy.min_strength > 4 {
            return Err(("password.min_strength", "a zxcvbn score, 0 to 4".to_owned()));
        }
        Ok(())
    }
}

fn secs(n: u64) -> Duration {
    Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The relying party the configuration describes: `Ok(None)` when WebAuthn
/// is off (both keys empty), an error naming what is wrong otherwise.
pub(crate) fn relying_party(config: &IdentityConfig) -> Result<Option<Webauthn>, String> {
    let rp_id = config.webauthn_rp_id.trim();
    let origin = config.webauthn_origin.trim();
    match (rp_id.is_empty(), origin.is_empty()) {
        (true, true) => return Ok(None),
        (false, false) => {}
        _ => {
            return Err(
                "identity.webauthn_rp_id and identity.webauthn_origin are set together".to_owned(),
            );
        }
    }
    let url = Url::parse(origin).map_err(|e| format!("{origin:?} is not a URL: {e}"))?;
    WebauthnBuilder::new(rp_id, &url)
        .and_then(|b| b.rp_name(&config.mfa_issuer).build())
        .map(Some)
        .map_err(|e| {
            format!("{origin:?} is not a valid origin for the relying party {rp_id:?}: {e}")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        IdentityConfig::default()
            .validate(&PasswordPolicy::default())
            .unwrap();
    }

    #[test]
    fn sod_pairs_parse_and_name_bad_entries() {
        let mut c = IdentityConfig {
            separation_of_duties: "security-admin:auditor, hr:access-reviewer".to_owned(),
            ..IdentityConfig::default()
        };
        let rules = c.sod_rules().unwrap();
        assert_eq!(rules.len(), 2);
        let admin = RoleName::parse("security-admin").unwrap();
        let auditor = RoleName::parse("auditor").unwrap();
        assert!(rules[0].forbids(&auditor, &admin));
        c.separation_of_duties = "security-admin".to_owned();
        assert!(c.sod_rules().unwrap_err().contains("security-admin"));
        c.separation_of_duties = "a:a".to_owned();
        assert!(c.sod_rules().is_err());
    }

    #[test]
    fn lockouts_escalate_to_a_day() {
        let c = IdentityConfig::default();
        assert_eq!(c.lockout_duration(0), Duration::minutes(15));
        assert_eq!(c.lockout_duration(1), Duration::minutes(30));
        assert_eq!(c.lockout_duration(30), Duration::days(1));
    }
}
