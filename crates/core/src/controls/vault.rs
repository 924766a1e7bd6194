//! The vault's control checks: every field classified (DS-5), every
//! classified value stored as ciphertext (DS-1, DS-2, NS-2), erasures
//! that leave no key behind (DS-6), data keys wrapped only for their
//! tenant's environment (DV-3), and data-subject requests served only by
//! verified people (CR-2). They read schemas, stored envelopes' shapes and
//! key metadata; never a value in clear.

use async_trait::async_trait;
use base64::Engine as _;
use rempart_model::Permission;
use rempart_model::vault::{Field, Schema};
use rempart_store::{AccountFilter, PrincipalState};
use time::OffsetDateTime;

use super::identity::accounts_with_grants;
use super::{ControlCheck, Finding, Registered};
use crate::kernel::error::ServiceError;
use crate::service::Rempart;
use crate::vault::view::{Stored, parse_stored};

pub(super) fn checks() -> Vec<Registered> {
    vec![
        Registered::new("vault", &["DS-5"], EveryFieldIsClassified),
        Registered::new(
            "vault",
            &["DS-1", "DS-2", "NS-2"],
            ClassifiedValuesAreSealed,
        ),
        Registered::new("vault", &["DS-6"], ErasuresLeaveNoKey),
        Registered::new("vault", &["DV-3"], DataKeysStayInTheirEnvironment),
        Registered::new("vault", &["CR-2"], SubjectRequestsNeedVerifiedStaff),
    ]
}

/// Records read per page by the checks that walk every record.
const PAGE: u32 = 1_000;

/// DS-5: the current schema of every collection declares a class for
/// every field (a stored schema that does not parse as classified fields
/// fails).
struct EveryFieldIsClassified;

#[async_trait]
impl ControlCheck for EveryFieldIsClassified {
    async fn run(&self, core: &Rempart, _now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let mut tx = core.kernel.read().await?;
        let schemas = tx.vault_current_schemas().await?;
        let mut findings = Vec::new();
        let mut fields = 0;
        for schema in &schemas {
            match serde_json::from_str::<Vec<Field>>(&schema.fields) {
                Ok(declared) => fields += declared.len(),
                Err(_) => findings.push(format!(
                    "collection {} (schema version {}): a field has no valid class",
                    schema.collection, schema.version
                )),
            }
        }
        Ok(Finding::from_findings(
            findings,
            format!(
                "{} collections' current schemas, {fields} fields, each with one of public, internal, confidential, pii, sensitive_pii",
                schemas.len()
            ),
        ))
    }
}

/// DS-1, DS-2, NS-2: every stored value of a confidential, pii or
/// sensitive_pii field is an envelope (base64 of a version-1 envelope),
/// never a clear value; and a remote database is reached over TLS.
struct ClassifiedValuesAreSealed;

#[async_trait]
impl ControlCheck for ClassifiedValuesAreSealed {
    async fn run(&self, core: &Rempart, _now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let mut tx = core.kernel.read().await?;
        let schemas: Vec<(uuid::Uuid, Schema)> = tx
            .vault_current_schemas()
            .await?
            .into_iter()
            .filter_map(|s| {
                let fields = serde_json::from_str(&s.fields).ok()?;
                Some((
                    s.collection,
                    Schema {
                        version: s.version,
                        fields,
                    },
                ))
            })
            .collect();
        let mut findings = Vec::new();
        let (mut records, mut sealed) = (0_u64, 0_u64);
        let mut after = None;
        loop {
            let rows = tx.vault_records_sample(after, PAGE).await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.id);
            for row in &rows {
                records += 1;
                let Some((_, schema)) = schemas.iter().find(|(c, _)| *c == row.collection) else {
                    continue;
                };
                for (name, value) in parse_stored(row)? {
                    let encrypted = schema.field(&name).is_some_and(|f| f.class.is_encrypted());
                    if !encrypted {
                        continue;
                    }
                    if is_envelope(&value) {
                        sealed += 1;
                    } else {
                        findings.push(format!(
                            "record {}: field {name} is stored in clear",
                            row.id
                        ));
                    }
                }
            }
        }
        Ok(Finding::from_findings(
            findings,
            format!(
                "{records} records, {sealed} classified values, each an envelope under a tenant data key"
            ),
        ))
    }
}

fn is_envelope(value: &Stored) -> bool {
    match value {
        Stored::Clear(_) => false,
        Stored::Sealed(text) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .is_ok_and(|bytes| {
                bytes.len() > rempart_crypto::ENVELOPE_OVERHEAD
                    && bytes.first() == Some(&rempart_crypto::ENVELOPE_VERSION)
                    && rempart_crypto::envelope_key_id(&bytes).is_ok()
            }),
    }
}

/// DS-6: every erasure destroyed its subject's key: no subject data key
/// outlives its subject; the disposal register says what went when.
struct ErasuresLeaveNoKey;

#[async_trait]
impl ControlCheck for ErasuresLeaveNoKey {
    async fn run(&self, core: &Rempart, _now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let mut tx = core.kernel.read().await?;
        let orphans = tx.vault_orphan_subject_keys().await?;
        let disposals = tx.vault_disposals(None).await?;
        let mut findings = Vec::new();
        if orphans > 0 {
            findings.push(format!(
                "{orphans} data subject key(s) outlive their subject: an erasure left its key"
            ));
        }
        Ok(Finding::from_findings(
            findings,
            format!(
                "{} disposals in the register; subject data keys matched against recorded subjects",
                disposals.len()
            ),
        ))
    }
}

/// DV-3: every tenant data key is wrapped under its tenant's environment,
/// so development keys never open production data.
struct DataKeysStayInTheirEnvironment;

#[async_trait]
impl ControlCheck for DataKeysStayInTheirEnvironment {
    async fn run(&self, core: &Rempart, _now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let mut tx = core.kernel.read().await?;
        let outside = tx.data_keys_outside_their_environment().await?;
        let counts = tx.data_key_versions().await?;
        let keys: u64 = counts.iter().map(|c| c.data_keys).sum();
        let mut findings = Vec::new();
        if outside > 0 {
            findings.push(format!(
                "{outside} tenant data key(s) are wrapped for another environment than their tenant's"
            ));
        }
        Ok(Finding::from_findings(
            findings,
            format!("{keys} data keys, each compared with its tenant's environment"),
        ))
    }
}

/// CR-2: data-subject requests (export, erasure) are served only by
/// people who proved who they are with a second factor.
struct SubjectRequestsNeedVerifiedStaff;

#[async_trait]
impl ControlCheck for SubjectRequestsNeedVerifiedStaff {
    async fn run(&self, core: &Rempart, now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let accounts = accounts_with_grants(core, AccountFilter::All).await?;
        let mut tx = core.kernel.read().await?;
        let mut findings = Vec::new();
        let mut holders = 0;
        for (account, grants) in &accounts {
            let serves = account.state == PrincipalState::Active
                && grants.iter().any(|g| {
                    g.grant.is_active(now)
                        && (g.grant.permissions.contains(Permission::VaultSubjectExport)
                            || g.grant.permissions.contains(Permission::VaultSubjectErase))
                });
            if !serves {
                continue;
            }
            holders += 1;
            let totp = tx
                .totp(account.id)
                .await?
                .is_some_and(|t| t.confirmed_at.is_some());
            if !totp && tx.webauthn_credentials(account.id).await?.is_empty() {
                findings.push(format!(
                    "{}: serves data-subject requests without a second factor",
                    account.name
                ));
            }
        }
        Ok(Finding::from_findings(
            findings,
            format!(
                "{holders} accounts that may export or erase a data subject's data, each checked for a second factor"
            ),
        ))
    }
}
