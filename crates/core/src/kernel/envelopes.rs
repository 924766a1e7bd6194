//! The keyring in the running service: sealing and unsealing, tenant
//! enrolment, rotation, re-wrapping, retirement, crypto-shredding, and
//! envelope encryption of tenant data through stored wrapped data keys.
//!
//! Invariant 4 ("keys stay in the keyring"): nothing here returns or logs key
//! bytes; statuses carry versions, dates and counts only; partial Shamir
//! shares live in zeroizing memory until the threshold is reached. Every
//! change to the keyring is copy-on-write: the change is made on a copy,
//! the copy is saved atomically, and only then replaces the keyring in
//! memory, so that a failed save leaves memory and disk as they were
//! (invariant 5). Each administrative action is authorized and audited in
//! the same database transaction as its database change (invariant 1).

use rempart_crypto::{Binding, Purpose, WrappedDataKey, envelope_key_id};
pub use rempart_crypto::{CryptoError, KdfParams, Keyring, KeyringStatus, ShareText};
use rempart_model::{Action, Outcome, Tenant, TenantId};
use rempart_store::{DataKeyRecord, ReadTx};
use time::OffsetDateTime;

use crate::kernel::Kernel;
use crate::kernel::audit_chain::Draft;
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;
use crate::kernel::keyring::{
    KeyError, binding_for, key_environment, key_id_text, system_environment,
};
use crate::kernel::liveness::live;
use crate::kernel::target::Target;

impl Kernel {
    /// Encrypts `plaintext` for `record` of `tenant`, under the tenant's data
    /// key for `purpose` (created, wrapped and stored on first use, audited).
    /// The caller (a vault service) authorizes and audits the access itself.
    pub async fn encrypt_for_tenant(
        &self,
        ctx: &RequestContext,
        tenant: TenantId,
        purpose: &str,
        record: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let tenant = Kernel::live_tenant(tx.as_mut(), tenant).await?;
        let key = self
            .tenant_data_key(tx.as_mut(), ctx, now, &tenant, purpose)
            .await?;
        let envelope = key.encrypt(record, plaintext).map_err(KeyError::from)?;
        tx.set_data_key_encryptions(key.id().as_bytes(), key.usage().encryptions)
            .await?;
        tx.commit().await?;
        Ok(envelope)
    }

    /// The data key of `tenant` for `purpose` within `tx`: unwrapped from
    /// the database, or created, wrapped, stored and audited on first use.
    /// The caller encrypts and then stores the key's usage count. A
    /// crypto-shredded tenant has none, and never gets a new one: gone
    /// (410, see [`crate::kernel::liveness`]).
    pub(crate) async fn tenant_data_key(
        &self,
        tx: &mut dyn rempart_store::Tx,
        ctx: &RequestContext,
        now: OffsetDateTime,
        tenant: &Tenant,
        purpose: &str,
    ) -> Result<rempart_crypto::DataKey, ServiceError> {
        self.owned_data_key(tx, ctx, now, Some(tenant), purpose)
            .await
    }

    /// The system-wide data key for `purpose` (data of no tenant), wrapped
    /// under the KEK of [`SYSTEM_ENVIRONMENT`]; like
    /// [`Kernel::tenant_data_key`] otherwise.
    pub(crate) async fn system_data_key(
        &self,
        tx: &mut dyn rempart_store::Tx,
        ctx: &RequestContext,
        now: OffsetDateTime,
        purpose: &str,
    ) -> Result<rempart_crypto::DataKey, ServiceError> {
        self.owned_data_key(tx, ctx, now, None, purpose).await
    }

    /// The data key of `tenant` (or the system's) for `purpose`; a
    /// shredded tenant is refused, as the copy given says, and again as its
    /// row says, held, before a new key is stored (a shred committed
    /// meanwhile, on any replica, is seen; one still running waits for this
    /// transaction and deletes what it stored).
    async fn owned_data_key(
        &self,
        tx: &mut dyn rempart_store::Tx,
        ctx: &RequestContext,
        now: OffsetDateTime,
        tenant: Option<&Tenant>,
        purpose: &str,
    ) -> Result<rempart_crypto::DataKey, ServiceError> {
        if let Some(t) = tenant {
            live(t)?;
        }
        let environment = tenant.map_or_else(system_environment, |t| t.environment.clone());
        let binding = Binding::new(
            key_environment(&environment)?,
            tenant.map(|t| t.id.0),
            Purpose::new(purpose).map_err(KeyError::from)?,
        );
        let stored = match tenant {
            Some(t) => tx.data_key_for(t.id, purpose).await?,
            None => tx.system_data_key_for(purpose).await?,
        };
        let unwrap = |stored: DataKeyRecord| {
            let wrapped = WrappedDataKey::from_bytes(stored.wrapped).map_err(KeyError::from)?;
            self.keys
                .with_keyring(|k| k.unwrap_data_key(&wrapped, &binding, stored.encryptions))
        };
        let key = if let Some(stored) = stored {
            unwrap(stored)?
        } else {
            if let Some(t) = tenant {
                Kernel::live_tenant_held(tx, t.id).await?;
            }
            let (key, wrapped) = self.keys.with_keyring(|k| k.new_data_key(&binding))?;
            let id = *key.id().as_bytes();
            let inserted = tx
                .insert_data_key(&DataKeyRecord {
                    id,
                    tenant: tenant.map(|t| t.id),
                    environment,
                    purpose: purpose.to_owned(),
                    kek_version: wrapped.kek_version(),
                    wrapped: wrapped.into_bytes(),
                    encryptions: 0,
                    created_at: now,
                    rewrapped_at: None,
                })
                .await?;
            if !inserted {
                // A concurrent transaction stored the first key of this
                // purpose and committed: use it (the new one was never
                // stored, so nothing encrypted under it exists).
                let stored = match tenant {
                    Some(t) => tx.data_key_for(t.id, purpose).await?,
                    None => tx.system_data_key_for(purpose).await?,
                };
                let stored = stored.ok_or_else(|| {
                    rempart_store::StoreError::Corrupt(
                        "a data key that conflicted on insert cannot be read".to_owned(),
                    )
                })?;
                return Ok(unwrap(stored)?);
            }
            // Recorded in the caller's transaction, by the system: the key
            // is created for the caller's change and stored with it.
            let target = Target::DataKey {
                id: key_id_text(&id),
                purpose: purpose.to_owned(),
            };
            let draft = Draft::new("system", Action::DataKeyCreate, Outcome::Success)
                .target(target)
                .in_tenant(tenant.map(|t| t.id));
            self.audit.append(tx, ctx, now, draft).await?;
            key
        };
        Ok(key)
    }

    /// Decrypts an envelope made with the system-wide data key for
    /// `purpose`, for the same record, reading the wrapped key within `tx`
    /// (a gate's: no second transaction while one is open).
    pub(crate) async fn decrypt_system_in(
        &self,
        tx: &mut dyn ReadTx,
        purpose: &str,
        record: &[u8],
        envelope: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let id = envelope_key_id(envelope).map_err(KeyError::from)?;
        let stored = tx
            .system_data_key_by_id(id.as_bytes())
            .await?
            .ok_or(KeyError::UnknownDataKey)?;
        let binding = Binding::new(
            key_environment(&stored.environment)?,
            None,
            Purpose::new(purpose).map_err(KeyError::from)?,
        );
        let wrapped = WrappedDataKey::from_bytes(stored.wrapped).map_err(KeyError::from)?;
        let key = self
            .keys
            .with_keyring(|k| k.unwrap_data_key(&wrapped, &binding, stored.encryptions))?;
        Ok(key.decrypt(record, envelope).map_err(KeyError::from)?)
    }

    /// Decrypts an envelope made by [`Kernel::encrypt_for_tenant`] for the
    /// same tenant, purpose and record. An envelope of another tenant or
    /// environment does not open.
    pub async fn decrypt_for_tenant(
        &self,
        tenant: TenantId,
        purpose: &str,
        record: &[u8],
        envelope: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let mut tx = self.store.begin_read().await?;
        self.decrypt_for_tenant_in(tx.as_mut(), tenant, purpose, record, envelope)
            .await
    }

    /// [`Kernel::decrypt_for_tenant`], reading the tenant and its wrapped
    /// key within `tx` (a gate's: no second transaction while one is open).
    /// A crypto-shredded tenant's envelopes are gone (410).
    pub(crate) async fn decrypt_for_tenant_in(
        &self,
        tx: &mut dyn ReadTx,
        tenant: TenantId,
        purpose: &str,
        record: &[u8],
        envelope: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let id = envelope_key_id(envelope).map_err(KeyError::from)?;
        let tenant = Kernel::live_tenant(tx, tenant).await?;
        let stored = tx
            .data_key_by_id(tenant.id, id.as_bytes())
            .await?
            .ok_or(KeyError::UnknownDataKey)?;
        let binding = binding_for(&tenant, purpose)?;
        let wrapped = WrappedDataKey::from_bytes(stored.wrapped).map_err(KeyError::from)?;
        let key = self
            .keys
            .with_keyring(|k| k.unwrap_data_key(&wrapped, &binding, stored.encryptions))?;
        Ok(key.decrypt(record, envelope).map_err(KeyError::from)?)
    }

    /// The data key of `tenant` that made `envelope`, whatever its purpose
    /// (the stored key names it), read within `tx` (a gate's: no second
    /// transaction while one is open). A key of another tenant, or one
    /// destroyed by crypto-shredding, is not found.
    pub(crate) async fn tenant_key_of(
        &self,
        tx: &mut dyn ReadTx,
        tenant: &Tenant,
        envelope: &[u8],
    ) -> Result<rempart_crypto::DataKey, ServiceError> {
        let id = envelope_key_id(envelope).map_err(KeyError::from)?;
        let stored = tx
            .data_key_by_id(tenant.id, id.as_bytes())
            .await?
            .ok_or(KeyError::UnknownDataKey)?;
        let binding = binding_for(tenant, &stored.purpose)?;
        let wrapped = WrappedDataKey::from_bytes(stored.wrapped).map_err(KeyError::from)?;
        Ok(self
            .keys
            .with_keyring(|k| k.unwrap_data_key(&wrapped, &binding, stored.encryptions))?)
    }
}
