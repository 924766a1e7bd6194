//! Control checks of how this replica runs: readiness reflects what a
//! request needs (AS-3), and credentials never travel in clear beyond
//! loopback (DS-4). They read the replica's deployment facts and probe the
//! database and the keyring as the readiness endpoint does.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{ControlCheck, Finding, Registered};
use crate::kernel::error::ServiceError;
use crate::service::Rempart;

pub(super) fn checks() -> Vec<Registered> {
    vec![
        Registered::new("operations", &["AS-3"], ReadinessReflectsDependencies),
        Registered::new("operations", &["DS-4"], CredentialsOnlyOverTls),
    ]
}

/// AS-3: the replica reports ready only when the database answers and the
/// keyring is unsealed (what `/readyz` answers), so a load balancer sends
/// it traffic only then. Fails while either is down, naming which.
struct ReadinessReflectsDependencies;

#[async_trait]
impl ControlCheck for ReadinessReflectsDependencies {
    async fn run(&self, core: &Rempart, _now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let mut findings = Vec::new();
        let database = if core.ready().await.is_ok() {
            "the database answered"
        } else {
            findings.push("the database does not answer: /readyz answers 503".to_owned());
            "the database did not answer"
        };
        let keyring = if core.kernel.keys.is_sealed() {
            findings
                .push("the keyring is sealed: /readyz answers 503 until it is unsealed".to_owned());
            "the keyring is sealed"
        } else {
            "the keyring is unsealed"
        };
        Ok(Finding::from_findings(
            findings,
            format!("{database}; {keyring}; /readyz answers 200 only when both hold"),
        ))
    }
}

/// DS-4: password and token routes refuse plain HTTP from anywhere but
/// loopback (the server's transport guard); this replica either terminates
/// TLS, sits behind a declared TLS-terminating proxy, or listens on
/// loopback only.
struct CredentialsOnlyOverTls;

#[async_trait]
impl ControlCheck for CredentialsOnlyOverTls {
    async fn run(&self, core: &Rempart, _now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let facts = &core.deployment;
        let how = if facts.tls {
            "this replica terminates TLS"
        } else if facts.behind_tls_proxy {
            "a TLS-terminating proxy is declared in front (only its forwarded scheme counts as TLS)"
        } else if facts.listens_on_loopback {
            "this replica listens on loopback only"
        } else {
            ""
        };
        let findings = if how.is_empty() {
            vec!["plain HTTP on a non-loopback address with no TLS and no TLS proxy".to_owned()]
        } else {
            Vec::new()
        };
        Ok(Finding::from_findings(
            findings,
            format!(
                "{}; credential routes refuse plain HTTP from non-loopback clients",
                if how.is_empty() { "no TLS" } else { how }
            ),
        ))
    }
}
