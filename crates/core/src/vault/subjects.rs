//! Data subjects: the people records are about. Each subject's records are
//! sealed under a data key of its own, so that erasing the subject is
//! crypto-shredding (control DS-6): its records, their blind-index entries
//! and its tokens are deleted, and its data key is destroyed, so that no
//! copy of its ciphertext (a backup, a dump) opens again. The subject is
//! found by a keyed hash of its identifier (its fingerprint); the name of
//! its data key is random, so that once erased nothing confirms which
//! identifier it was. A disposal record says what was destroyed and when.

use rempart_model::vault::Purpose;
use rempart_model::{Action, Permission, TenantId};
use rempart_store::{DisposalRow, Tx};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::kernel::actor::Actor;
use crate::kernel::context::RequestContext;
use crate::kernel::details::Details;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Cleared, Gate, Write};
use crate::kernel::target::Target;
use crate::service::Rempart;
use crate::vault::corrupt;
use crate::vault::error::VaultError;
use crate::vault::records::RecordView;
use crate::vault::seal::{RECORDS, SUBJECT_PREFIX, Sealer};
use crate::vault::view::Reader;
use crate::vault::{Collection, collection_of, enter};

/// The scope of the key of subject fingerprints.
const FINGERPRINTS: &str = "subject";

/// What an erasure destroyed (an entry of the disposal register).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposal {
    pub id: Uuid,
    pub tenant: TenantId,
    pub kind: String,
    pub what: String,
    pub records: u64,
    pub keys_destroyed: u64,
    pub disposed_at: OffsetDateTime,
    pub disposed_by: String,
}

impl From<DisposalRow> for Disposal {
    fn from(row: DisposalRow) -> Self {
        Self {
            id: row.id,
            tenant: row.tenant,
            kind: row.kind,
            what: row.what,
            records: row.records,
            keys_destroyed: row.keys_destroyed,
            disposed_at: row.disposed_at,
            disposed_by: row.disposed_by,
        }
    }
}

/// Everything held about a data subject, in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectExport {
    pub records: Vec<RecordView>,
    pub exported_at: OffsetDateTime,
}

/// Checks a subject identifier: 1 to 200 characters, no control
/// characters.
pub(crate) fn check_subject(subject: &str) -> Result<&str, VaultError> {
    let valid =
        (1..=200).contains(&subject.chars().count()) && !subject.chars().any(char::is_control);
    if valid {
        Ok(subject)
    } else {
        Err(VaultError::InvalidSubject)
    }
}

/// The fingerprint of `subject` under an existing key, if there is one.
async fn fingerprint(
    sealer: &mut Sealer<'_>,
    tx: &mut dyn rempart_store::ReadTx,
    subject: &str,
) -> Result<Option<Vec<u8>>, ServiceError> {
    let keys = sealer.vault_keys(tx, FINGERPRINTS).await?;
    Ok(keys.first().map(|k| k.mac("subject", subject.as_bytes())))
}

/// For a record about `subject`: its fingerprint and the purpose of the
/// data key that seals its values (both made on the subject's first
/// record). For a record about no one: no fingerprint, the tenant's
/// `vault` key.
pub(crate) async fn subject_key_or_create(
    gate: &mut Gate<'_, Write, Cleared>,
    sealer: &mut Sealer<'_>,
    subject: Option<&str>,
) -> Result<(Option<Vec<u8>>, String), ServiceError> {
    let Some(subject) = subject else {
        return Ok((None, RECORDS.to_owned()));
    };
    let subject = check_subject(subject)?;
    let ctx = gate.ctx().clone();
    let now = gate.now();
    let keys = sealer
        .vault_keys_or_create(gate.tx(), &ctx, now, FINGERPRINTS, 0)
        .await?;
    let key = keys
        .first()
        .ok_or_else(|| corrupt("the subject key is missing"))?;
    let fingerprint = key.mac("subject", subject.as_bytes());
    let tenant = sealer.tenant.id;
    if let Some(purpose) = gate.read().vault_subject_key(tenant, &fingerprint).await? {
        return Ok((Some(fingerprint), purpose));
    }
    let purpose = format!("{SUBJECT_PREFIX}{}", Uuid::new_v4().simple());
    let tx: &mut dyn Tx = gate.tx();
    if !tx
        .insert_vault_subject(tenant, &fingerprint, &purpose, now)
        .await?
    {
        // A concurrent first record of the same subject won: use its key.
        let stored = tx.vault_subject_key(tenant, &fingerprint).await?;
        let stored = stored.ok_or_else(|| corrupt("a subject vanished"))?;
        return Ok((Some(fingerprint), stored));
    }
    Ok((Some(fingerprint), purpose))
}

impl Rempart {
    /// Erases everything held about `subject` in `tenant` (crypto-
    /// shredding its data key) and records the disposal. Erasing a
    /// subject that is not held changes nothing and says so alike
    /// (no record). Needs `vault.subject.erase`.
    pub async fn erase_subject(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        subject: &str,
    ) -> Result<Disposal, ServiceError> {
        let subject = check_subject(subject)?;
        let call = Call::by(actor, ctx, Action::VaultSubjectErase)
            .on(Target::UnknownSubject)
            .in_tenant(Some(tenant));
        let gate = self.kernel.write(call).await?;
        let (mut gate, found) = enter(gate, tenant, Permission::VaultSubjectErase).await?;
        let mut sealer = Sealer::new(&self.kernel, found);
        let fingerprint = fingerprint(&mut sealer, gate.read(), subject).await?;
        let purpose = match &fingerprint {
            Some(f) => gate.read().vault_subject_key(tenant, f).await?,
            None => None,
        };
        let now = gate.now();
        let mut disposal = Disposal {
            id: self.kernel.clock.new_id(),
            tenant,
            kind: "subject".to_owned(),
            what: "a data subject not held: nothing to destroy".to_owned(),
            records: 0,
            keys_destroyed: 0,
            disposed_at: now,
            disposed_by: actor.audit_name(),
        };
        if let (Some(fingerprint), Some(purpose)) = (fingerprint, purpose) {
            let handle = purpose.trim_start_matches(SUBJECT_PREFIX).to_owned();
            disposal.records = gate.tx().delete_vault_subject(tenant, &fingerprint).await?;
            disposal.keys_destroyed =
                u64::from(gate.tx().delete_data_key_for(tenant, &purpose).await?);
            disposal.what =
                format!("data subject {handle}: its records, index entries, tokens and data key");
            gate.tx()
                .insert_vault_disposal(&DisposalRow {
                    id: disposal.id,
                    tenant,
                    kind: disposal.kind.clone(),
                    what: disposal.what.clone(),
                    records: disposal.records,
                    keys_destroyed: disposal.keys_destroyed,
                    disposed_at: now,
                    disposed_by: disposal.disposed_by.clone(),
                })
                .await?;
            gate.on(Target::VaultSubject(handle));
        }
        let mut details = serde_json::Map::new();
        details.insert("records".into(), disposal.records.into());
        details.insert("keys_destroyed".into(), disposal.keys_destroyed.into());
        gate.details(Details::new(&details));
        gate.commit().await?;
        tracing::warn!(tenant = %tenant, records = disposal.records, "data subject erased");
        Ok(disposal)
    }

    /// Everything held about `subject` in `tenant`, every field in clear.
    /// Needs `vault.subject.export`; audited with the purpose
    /// `data_subject_request`.
    pub async fn export_subject(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        subject: &str,
    ) -> Result<SubjectExport, ServiceError> {
        let subject = check_subject(subject)?;
        let call = Call::by(actor, ctx, Action::VaultSubjectExport)
            .on(Target::UnknownSubject)
            .in_tenant(Some(tenant));
        let gate = self.kernel.audited_read(call).await?;
        let (mut gate, found) = enter(gate, tenant, Permission::VaultSubjectExport).await?;
        let mut sealer = Sealer::new(&self.kernel, found);
        let fingerprint = fingerprint(&mut sealer, gate.read(), subject).await?;
        let rows = match &fingerprint {
            Some(f) => gate.read().vault_records_of_subject(tenant, f).await?,
            None => Vec::new(),
        };
        let mut collections: Vec<Collection> = Vec::new();
        let mut records = Vec::with_capacity(rows.len());
        let purpose =
            Purpose::parse("data_subject_request").map_err(|_| VaultError::InvalidSubject)?;
        for row in &rows {
            if !collections.iter().any(|c| c.id == row.collection) {
                for stored in gate.read().vault_collections(tenant).await? {
                    if stored.id == row.collection {
                        let schema = gate.read().vault_schema(stored.id, stored.version).await?;
                        if let Some(schema) = schema {
                            collections.push(collection_of(&stored, &schema)?);
                        }
                    }
                }
            }
            let Some(collection) = collections.iter().find(|c| c.id == row.collection) else {
                continue;
            };
            let reader = Reader::everything(collection, purpose.clone());
            records.push(
                reader
                    .render(&mut sealer, gate.read(), collection, row)
                    .await?,
            );
        }
        if let Some(f) = &fingerprint
            && let Some(purpose) = gate.read().vault_subject_key(tenant, f).await?
        {
            gate.on(Target::VaultSubject(
                purpose.trim_start_matches(SUBJECT_PREFIX).to_owned(),
            ));
        }
        let mut details = serde_json::Map::new();
        details.insert("records".into(), records.len().into());
        details.insert("purpose".into(), purpose.as_str().into());
        gate.details(Details::new(&details));
        let exported_at = gate.now();
        gate.commit().await?;
        Ok(SubjectExport {
            records,
            exported_at,
        })
    }

    /// The disposal register of `tenant`, newest first: the evidence of its
    /// erasures (control DS-6). Needs `vault.subject.erase`.
    pub async fn disposals(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
    ) -> Result<Vec<Disposal>, ServiceError> {
        let call = Call::by(actor, ctx, Action::VaultDisposalList).in_tenant(Some(tenant));
        let gate = self.kernel.audited_read(call).await?;
        let (mut gate, _) = enter(gate, tenant, Permission::VaultSubjectErase).await?;
        let rows = gate.read().vault_disposals(Some(tenant)).await?;
        gate.commit().await?;
        Ok(rows.into_iter().map(Disposal::from).collect())
    }
}
