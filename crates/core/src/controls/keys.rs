//! The keys domain's control check: separate keys per environment, and no
//! key ever leaves the keyring (DS-7). Runs only while the keyring is
//! unsealed: a sealed keyring cannot be looked into, and the check says so
//! instead of passing.

use async_trait::async_trait;
use rempart_crypto::Keyring;
use time::OffsetDateTime;

use super::{ControlCheck, Finding, Registered};
use crate::kernel::error::ServiceError;
use crate::kernel::keyring::KeyError;
use crate::service::Rempart;

pub(super) fn checks() -> Vec<Registered> {
    vec![Registered::new(
        "keys",
        &["DS-7"],
        EnvironmentsHaveTheirOwnKeys,
    )]
}

/// DS-7: no key-encryption key is shared between two environments
/// (production and development above all), and each environment has its
/// own. Key bytes are compared inside the keyring, in constant time; only
/// a count comes out.
struct EnvironmentsHaveTheirOwnKeys;

#[async_trait]
impl ControlCheck for EnvironmentsHaveTheirOwnKeys {
    async fn run(&self, core: &Rempart, _now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let looked = core.kernel.keys.with_keyring(|keyring: &Keyring| {
            Ok((keyring.status()?, keyring.keks_shared_across_environments()))
        });
        let (status, shared) = match looked {
            Ok(found) => found,
            Err(KeyError::Sealed) => {
                return Ok(Finding::not_run(
                    "the keyring is sealed: unseal it to check key separation",
                    "keyring",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let mut findings = Vec::new();
        if shared > 0 {
            findings.push(format!(
                "{shared} pair(s) of key-encryption keys are shared between environments"
            ));
        }
        for env in status.environments.iter().filter(|e| e.keks.is_empty()) {
            findings.push(format!(
                "environment {} holds no key-encryption key",
                env.environment
            ));
        }
        let keks: usize = status.environments.iter().map(|e| e.keks.len()).sum();
        let names: Vec<String> = status
            .environments
            .iter()
            .map(|e| e.environment.to_string())
            .collect();
        Ok(Finding::from_findings(
            findings,
            format!(
                "{keks} key-encryption key versions across environments {} compared pairwise; no route or command returns key material (the keyring has no export)",
                names.join(", ")
            ),
        ))
    }
}
