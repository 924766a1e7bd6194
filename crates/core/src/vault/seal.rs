//! Sealing and opening one tenant's vault values, within a gate's
//! transaction (controls DS-1, NS-2).
//!
//! A confidential or personal value is sealed as an envelope under a data
//! key of its tenant (created, wrapped and audited on first use by the
//! kernel): the key of the record's data subject when it has one (so that
//! erasing the subject destroys that key: crypto-shredding), otherwise the
//! tenant's `vault` key. The envelope's associated data binds it to the
//! collection, the record and the field (the tenant, the environment and
//! the key's version are bound by the envelope itself), so a value moved
//! to another record, field or tenant does not open.
//!
//! The vault's own keys (of blind indexes, subject fingerprints and
//! deterministic tokens) are 32 random bytes each, sealed the same way
//! under the tenant's `vault-keys` data key and stored by generation.

use std::collections::HashMap;

use aws_lc_rs::hmac;
use rempart_crypto::{DataKey, envelope_key_id};
use rempart_model::Tenant;
use rempart_store::{ReadTx, Tx, VaultKeyRow, VaultKeyState};
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::kernel::Kernel;
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;
use crate::kernel::keyring::KeyError;
use crate::vault::error::VaultError;

/// The data-key purpose of the values of records with no data subject.
pub(crate) const RECORDS: &str = "vault";
/// The data-key purpose that seals the vault's own keys.
const KEYS: &str = "vault-keys";
/// The prefix of a data subject's data-key purpose (then a random id).
pub(crate) const SUBJECT_PREFIX: &str = "vault-subject/";

/// The associated data of a field's envelope.
pub(crate) fn field_aad(collection: Uuid, record: Uuid, field: &str) -> Vec<u8> {
    format!("rempart/vault/v1\0{collection}\0{record}\0{field}").into_bytes()
}

fn key_aad(scope: &str, generation: u32) -> Vec<u8> {
    format!("rempart/vault-key/v1\0{scope}\0{generation}").into_bytes()
}

/// One generation of a vault key, open.
pub(crate) struct VaultKey {
    pub generation: u32,
    pub bits: u32,
    pub state: VaultKeyState,
    key: hmac::Key,
}

impl VaultKey {
    /// HMAC-SHA256 of `label ‖ 0 ‖ value` under this key.
    pub fn mac(&self, label: &str, value: &[u8]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(label.as_bytes());
        ctx.update(&[0]);
        ctx.update(value);
        ctx.sign().as_ref().to_vec()
    }
}

/// Seals and opens the values of one tenant for the length of one call;
/// unwrapped data keys are kept for the call only.
pub(crate) struct Sealer<'k> {
    kernel: &'k Kernel,
    pub tenant: Tenant,
    by_id: HashMap<[u8; 16], DataKey>,
    by_purpose: HashMap<String, [u8; 16]>,
}

impl<'k> Sealer<'k> {
    pub fn new(kernel: &'k Kernel, tenant: Tenant) -> Self {
        Self {
            kernel,
            tenant,
            by_id: HashMap::new(),
            by_purpose: HashMap::new(),
        }
    }

    /// Seals `plaintext` under the tenant's data key for `purpose`.
    pub async fn seal(
        &mut self,
        tx: &mut dyn Tx,
        ctx: &RequestContext,
        now: OffsetDateTime,
        purpose: &str,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let id = if let Some(id) = self.by_purpose.get(purpose) {
            *id
        } else {
            let key = self
                .kernel
                .tenant_data_key(tx, ctx, now, &self.tenant, purpose)
                .await?;
            let id = *key.id().as_bytes();
            self.by_id.insert(id, key);
            self.by_purpose.insert(purpose.to_owned(), id);
            id
        };
        let key = self.by_id.get(&id).ok_or(KeyError::UnknownDataKey)?;
        Ok(key.encrypt(aad, plaintext).map_err(KeyError::from)?)
    }

    /// Opens an envelope of this tenant. One that does not authenticate
    /// (tampered, moved, or sealed under a destroyed key) is an error.
    pub async fn open(
        &mut self,
        tx: &mut dyn ReadTx,
        aad: &[u8],
        envelope: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        let id = *envelope_key_id(envelope)
            .map_err(|_| VaultError::Tampered)?
            .as_bytes();
        if !self.by_id.contains_key(&id) {
            let key = self
                .kernel
                .tenant_key_of(tx, &self.tenant, envelope)
                .await?;
            self.by_id.insert(id, key);
        }
        let key = self.by_id.get(&id).ok_or(KeyError::UnknownDataKey)?;
        key.decrypt(aad, envelope)
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Tampered.into())
    }

    /// Stores the usage counts of the keys that sealed, for their bound.
    pub async fn finish(self, tx: &mut dyn Tx) -> Result<(), ServiceError> {
        for id in self.by_purpose.values() {
            if let Some(key) = self.by_id.get(id) {
                tx.set_data_key_encryptions(id, key.usage().encryptions)
                    .await?;
            }
        }
        Ok(())
    }

    /// The open generations of the vault key `scope`, oldest first.
    pub async fn vault_keys(
        &mut self,
        tx: &mut dyn ReadTx,
        scope: &str,
    ) -> Result<Vec<VaultKey>, ServiceError> {
        let rows = tx.vault_keys(self.tenant.id, scope).await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            keys.push(self.open_vault_key(tx, &row).await?);
        }
        Ok(keys)
    }

    /// The vault key `scope`'s generations, its first created (active,
    /// keeping `bits`) if it has none yet.
    pub async fn vault_keys_or_create(
        &mut self,
        tx: &mut dyn Tx,
        ctx: &RequestContext,
        now: OffsetDateTime,
        scope: &str,
        bits: u32,
    ) -> Result<Vec<VaultKey>, ServiceError> {
        let keys = self.vault_keys(tx, scope).await?;
        if !keys.is_empty() {
            return Ok(keys);
        }
        self.create_vault_key(tx, ctx, now, scope, 1, bits, VaultKeyState::Active)
            .await?;
        self.vault_keys(tx, scope).await
    }

    /// Makes and stores generation `generation` of the vault key `scope`.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_vault_key(
        &mut self,
        tx: &mut dyn Tx,
        ctx: &RequestContext,
        now: OffsetDateTime,
        scope: &str,
        generation: u32,
        bits: u32,
        state: VaultKeyState,
    ) -> Result<bool, ServiceError> {
        let mut secret = Zeroizing::new([0_u8; 32]);
        aws_lc_rs::rand::fill(secret.as_mut()).map_err(|_| ServiceError::RandomUnavailable)?;
        let sealed = self
            .seal(
                tx,
                ctx,
                now,
                KEYS,
                &key_aad(scope, generation),
                secret.as_ref(),
            )
            .await?;
        let row = VaultKeyRow {
            tenant: self.tenant.id,
            scope: scope.to_owned(),
            generation,
            bits,
            sealed,
            state,
            created_at: now,
        };
        // A concurrent first use stored its own: this one is dropped and
        // the caller reads that one.
        Ok(tx.insert_vault_key(&row).await?)
    }

    async fn open_vault_key(
        &mut self,
        tx: &mut dyn ReadTx,
        row: &VaultKeyRow,
    ) -> Result<VaultKey, ServiceError> {
        let secret = self
            .open(tx, &key_aad(&row.scope, row.generation), &row.sealed)
            .await?;
        Ok(VaultKey {
            generation: row.generation,
            bits: row.bits,
            state: row.state,
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
        })
    }
}
