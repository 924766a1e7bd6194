//! The audit domain's control checks: the log verifies end to end (ML-7);
//! its details are stored encrypted and it ships only over TLS (ML-2); no
//! secret landed in it (AC-6). Each reads the log in pages, in read
//! transactions.

use async_trait::async_trait;
use rempart_store::AuditRecord;
use time::{Duration, OffsetDateTime};

use super::{ControlCheck, Finding, Registered};
use crate::kernel::error::ServiceError;
use crate::service::Rempart;

pub(super) fn checks() -> Vec<Registered> {
    vec![
        Registered::new("audit", &["ML-7"], LogVerifies),
        Registered::new("audit", &["ML-2"], LogEncryptedAndShippedOverTls),
        Registered::new("audit", &["AC-6"], NoSecretInTheLog),
    ]
}

/// Events read per transaction.
const PAGE: u32 = 5_000;

/// Events whose sealed details AC-6 opens and reads (the most recent ones):
/// opening every detail of a long log would make the check cost as much as
/// the log is old.
const DETAILS_SCANNED: u64 = 2_000;

/// The text prefixes of Rempart's own secrets (API tokens, bootstrap
/// credentials, sessions): what a leak of one would contain.
const SECRET_PREFIXES: [&str; 3] = ["rmp_at_", "rmp_boot_", "rmp_ses_"];

fn holds_secret(text: &str) -> bool {
    SECRET_PREFIXES.iter().any(|prefix| text.contains(prefix))
}

/// Calls `visit` on every chained event, page by page.
async fn each_event(
    core: &Rempart,
    mut visit: impl FnMut(&AuditRecord),
) -> Result<u64, ServiceError> {
    let mut after = 0;
    loop {
        let page = {
            let mut tx = core.kernel.read().await?;
            tx.audit_events(after, PAGE).await?
        };
        let Some(last) = page.last() else {
            return Ok(after);
        };
        after = last.seq;
        page.iter().for_each(&mut visit);
    }
}

/// ML-7: the whole log in the database verifies against the keyring's
/// audit public key: every event hashed and chained, every checkpoint
/// signed and matching its Merkle root.
struct LogVerifies;

#[async_trait]
impl ControlCheck for LogVerifies {
    async fn run(&self, core: &Rempart, now: OffsetDateTime) -> Result<Finding, ServiceError> {
        // The signer's key; else the keyring's; else the one recorded in
        // the database (a sealed keyring).
        let key = match core.audit_public_key() {
            Some(key) => Some(key),
            None => match crate::kernel::signing_key::keyring_public_key(&core.kernel.keys) {
                Some(key) => Some(key),
                None => core.recorded_audit_public_key().await?,
            },
        };
        let Some(key) = key else {
            return Ok(Finding::not_run(
                "no audit public key is known: the keyring is sealed and none is recorded",
                "audit log",
            ));
        };
        Ok(match core.verify_audit_log(&key).await? {
            Ok(report) => {
                // Events past the last checkpoint are chained but nothing
                // signed vouches for them yet: normal for a checkpoint
                // interval, a finding once the oldest is older than two
                // intervals and a minute (a sealed keyring, a stopped
                // checkpoint task).
                let unsigned = report.events.saturating_sub(report.checkpointed);
                let limit = Duration::seconds(
                    i64::try_from(core.deployment.checkpoint_every_secs.saturating_mul(2))
                        .unwrap_or(i64::MAX / 2),
                ) + Duration::minutes(1);
                let mut findings = Vec::new();
                if unsigned > 0 {
                    let oldest = {
                        let mut tx = core.kernel.read().await?;
                        tx.audit_event(report.checkpointed + 1).await?
                    };
                    if let Some(oldest) = oldest.filter(|e| now - e.time > limit) {
                        findings.push(format!(
                            "{unsigned} events are chained but no signed checkpoint covers them; the oldest, event {}, is {} minutes old (is the keyring sealed?)",
                            oldest.seq,
                            (now - oldest.time).whole_minutes()
                        ));
                    }
                }
                Finding::from_findings(
                    findings,
                    format!(
                        "{} events chained and {} checkpoints verified against the audit public key; {} events after the last checkpoint",
                        report.events, report.checkpoints, unsigned
                    ),
                )
            }
            Err(problem) => Finding::from_findings(
                vec![problem.to_string()],
                "the audit log, from its first event",
            ),
        })
    }
}

/// ML-2: every event's details are an encryption envelope (AES-256-GCM
/// under a data key), never plain text; and every sink the log ships to is
/// reached over TLS.
struct LogEncryptedAndShippedOverTls;

#[async_trait]
impl ControlCheck for LogEncryptedAndShippedOverTls {
    async fn run(&self, core: &Rempart, _now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let mut findings = Vec::new();
        let mut with_details = 0u64;
        let mut plain = Vec::new();
        let events = each_event(core, |event| {
            if let Some(details) = &event.details {
                with_details += 1;
                if rempart_crypto::envelope_key_id(details).is_err() {
                    plain.push(event.seq);
                }
            }
        })
        .await?;
        if let Some(first) = plain.first() {
            findings.push(format!(
                "{} events hold details that are not an encryption envelope (first: event {first})",
                plain.len()
            ));
        }
        for sink in &core.deployment.audit_sinks {
            if crate::audit::ship::sink_url(sink).is_err() {
                findings.push(format!(
                    "audit sink {} is not an https URL",
                    rempart_store::redact_url(sink)
                ));
            }
        }
        Ok(Finding::from_findings(
            findings,
            format!(
                "{events} events, {with_details} with sealed details, each parsed as an envelope; {} audit sink(s) configured, each checked for https",
                core.deployment.audit_sinks.len()
            ),
        ))
    }
}

/// AC-6: no secret of Rempart's (token, bootstrap credential, session) in
/// any event's clear fields, nor in the sealed details of the most recent
/// events (opened while the keyring is unsealed). Passwords have no shape
/// to look for: they never reach the log by construction (secret types
/// print as redacted), which the tests of each login path check.
struct NoSecretInTheLog;

#[async_trait]
impl ControlCheck for NoSecretInTheLog {
    async fn run(&self, core: &Rempart, _now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let mut leaks = Vec::new();
        let events = each_event(core, |event| {
            let clear = [
                Some(event.actor.as_str()),
                event.target.as_deref(),
                event.source.as_deref(),
                event.request_id.as_deref(),
            ];
            if clear.into_iter().flatten().any(holds_secret) {
                leaks.push(event.seq);
            }
        })
        .await?;
        let mut findings: Vec<String> = leaks
            .iter()
            .map(|seq| format!("event {seq}: a secret in a clear field"))
            .collect();

        let sealed = core.kernel.keys.is_sealed();
        let mut opened = 0u64;
        if !sealed {
            let after = events.saturating_sub(DETAILS_SCANNED);
            let page = {
                let mut tx = core.kernel.read().await?;
                tx.audit_events(after, u32::try_from(DETAILS_SCANNED).unwrap_or(u32::MAX))
                    .await?
            };
            for event in page.iter().filter(|e| e.details.is_some()) {
                // A detail that no longer opens (a shredded tenant's) holds
                // nothing anyone can read.
                if let Ok(Some(plain)) = core.kernel.open_audit_details(event).await {
                    opened += 1;
                    if holds_secret(&String::from_utf8_lossy(&plain)) {
                        findings.push(format!("event {}: a secret in its details", event.seq));
                    }
                }
            }
        }
        let details = if sealed {
            "details not opened (the keyring is sealed)".to_owned()
        } else {
            format!(
                "the sealed details of the last {opened} events with details opened and scanned"
            )
        };
        Ok(Finding::from_findings(
            findings,
            format!(
                "{events} events' actor, target, source and request id scanned for token, bootstrap and session secrets; {details}; process logs are not scanned here (secret types print as redacted)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised_by_their_prefix() {
        assert!(holds_secret("Bearer rmp_at_abc"));
        assert!(holds_secret("rmp_boot_x"));
        assert!(holds_secret("{\"cookie\":\"rmp_ses_q\"}"));
        assert!(!holds_secret(
            "principal:0190c0de-0000-7000-8000-000000000001"
        ));
        assert!(!holds_secret("rmp_recovery"));
    }
}
