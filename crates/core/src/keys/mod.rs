//! The keys domain: the keyring's administration in the running service:
//! unsealing, status, rotation, re-wrapping, retirement and
//! crypto-shredding (controls CR-1, DS-4, DS-7). The keyring itself and
//! envelope encryption are the kernel's ([`crate::kernel::keyring`],
//! [`crate::kernel::envelopes`]); this domain authorizes and audits what
//! operators do with them.
//!
//! Invariant 4 ("keys stay in the keyring"): nothing here returns or logs key
//! bytes; statuses carry versions, dates and counts only. Each
//! administrative action passes the gate: authorized and audited in the
//! same database transaction as its database change (invariant 1). A
//! change to the keyring file is saved just before that transaction
//! commits, so a failure before it leaves nothing; each action says what a
//! failure after it leaves. An unseal has no account: the keyring checks
//! the secret offered, and a refused one is recorded as a failure.

pub use crate::kernel::keyring::{
    CryptoError, KdfParams, KeyError, KeyErrorKind, KeyVault, Keyring, KeyringLocation,
    KeyringStatus, KeysStatus, MAX_REWRAP_BATCH, RewrapBatch, RootKeySource, SYSTEM_ENVIRONMENT,
    SealStatus, ShareText, UnsealInput,
};

use std::sync::Arc;

use rempart_crypto::{Environment as KeyEnvironment, WrappedDataKey};
use rempart_model::{Action, Environment, Outcome, Permission, Scope, Tenant, TenantId};
use rempart_store::{DATA_KEY_ID_LEN, ReadTx};

use crate::kernel::actor::Actor;
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Caller, Clearance};
use crate::kernel::keyring::key_environment;
use crate::kernel::liveness::live;
use crate::kernel::target::Target;
use crate::kernel::{Cleared, Gate, Write};
use crate::service::Rempart;

impl Rempart {
    /// The keyring this service uses.
    pub fn keys(&self) -> &KeyVault {
        &self.kernel.keys
    }

    /// Uses `keys` as the keyring.
    #[must_use]
    pub fn with_keys(mut self, keys: Arc<KeyVault>) -> Self {
        self.kernel.keys = keys;
        self
    }

    /// Enrols a new tenant in the keyring of its environment (adding the
    /// environment's first KEK if it has none). Idempotent. A
    /// crypto-shredded tenant is never enrolled again: gone.
    pub(crate) fn enroll_tenant(&self, tenant: &Tenant) -> Result<(), ServiceError> {
        live(tenant)?;
        let environment = key_environment(&tenant.environment)?;
        let at = tenant.created_at;
        self.kernel.keys.change(|keyring| {
            if !keyring.environments().any(|e| *e == environment) {
                keyring.add_environment(&environment, at)?;
            }
            match keyring.enroll_tenant(&environment, tenant.id.0, at) {
                Ok(()) | Err(CryptoError::TenantAlreadyEnrolled { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            }
        })?;
        Ok(())
    }

    /// Records an offline key operation (init, reseal) in the audit log,
    /// by `offline`. `target` is `"keyring"`, the one object an offline key
    /// operation acts on; any other is refused as invalid.
    pub async fn record_offline_key_action(
        &self,
        action: Action,
        target: &str,
    ) -> Result<(), ServiceError> {
        if target != Target::Keyring.to_string() {
            return Err(ServiceError::Invalid {
                field: "target",
                message: format!("an offline key operation acts on the keyring, not {target:?}"),
            });
        }
        let call =
            Call::new(Caller::Offline, &RequestContext::system(), action).on(Target::Keyring);
        // The operator on the host proved itself with the keyring's files.
        let gate = self.kernel.write(call).await?.clear(Clearance::Internal);
        gate.commit().await
    }

    /// Offers a passphrase or a share to a sealed keyring (unauthenticated,
    /// like Vault's unseal). Completion and refusals are audited.
    pub async fn unseal(
        &self,
        ctx: &RequestContext,
        input: UnsealInput,
    ) -> Result<SealStatus, ServiceError> {
        let was_sealed = self.kernel.keys.is_sealed();
        let keys = Arc::clone(&self.kernel.keys);
        let result = tokio::task::spawn_blocking(move || keys.unseal(input))
            .await
            .map_err(|_| ServiceError::from(KeyError::from(CryptoError::Backend)))?;
        let call = Call::new(Caller::Anonymous, ctx, Action::KeysUnseal).on(Target::Keyring);
        match result {
            Ok(status) => {
                if was_sealed && !status.sealed {
                    tracing::info!("keyring unsealed");
                    self.record_unsealed(call).await?;
                }
                Ok(status)
            }
            Err(e) => {
                if e.kind() == KeyErrorKind::Refused {
                    tracing::warn!(error = %e, "unseal refused");
                    self.kernel
                        .record_refusal(call, Outcome::Failed, &e.to_string())
                        .await?;
                }
                Err(e.into())
            }
        }
    }

    /// Records the unsealing, with the audit public key (not secret) for
    /// offline verification without unsealing.
    async fn record_unsealed(&self, call: Call<'_>) -> Result<(), ServiceError> {
        // The keyring itself checked the secret offered.
        let mut gate = self.kernel.write(call).await?.clear(Clearance::Credential);
        if let Some(key) = crate::kernel::signing_key::keyring_public_key(&self.kernel.keys) {
            let record = crate::kernel::signing_key::key_record(&key, gate.now());
            gate.tx().record_audit_key(&record).await?;
        }
        gate.commit().await
    }

    /// The gate for `action` on the keys of `environment`: `keys.manage`
    /// over the environment, or the refusal is recorded against it.
    async fn manage_keys<'a>(
        &'a self,
        actor: &'a Actor,
        ctx: &RequestContext,
        environment: &Environment,
        action: Action,
    ) -> Result<Gate<'a, Write, Cleared>, ServiceError> {
        let call = Call::by(actor, ctx, action).on(Target::Environment(environment.clone()));
        let scope = Scope::Environment(environment.clone());
        self.kernel
            .write(call)
            .await?
            .authorize(Permission::KeysManage, &scope, Some(environment))
            .await
    }

    /// Versions, dates, usage counts and seal state; never key bytes.
    /// Needs `keys.read` staff-wide.
    pub async fn keys_status(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
    ) -> Result<KeysStatus, ServiceError> {
        let call = Call::by(actor, ctx, Action::KeysStatus).on(Target::Keyring);
        let mut gate = self
            .kernel
            .audited_read(call)
            .await?
            .authorize(Permission::KeysRead, &Scope::Global, None)
            .await?;
        let keyring = match self.kernel.keys.with_keyring(Keyring::status) {
            Ok(status) => Some(status),
            Err(KeyError::Sealed) => None,
            Err(e) => return Err(e.into()),
        };
        let data_keys = gate.read().data_key_versions().await?;
        gate.commit().await?;
        Ok(KeysStatus {
            seal: self.kernel.keys.seal_status(),
            keyring,
            data_keys,
        })
    }

    /// Adds a KEK version to `environment`; new wrappings use it. Needs
    /// `keys.manage` on the environment.
    pub async fn rotate_kek(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        environment: &Environment,
    ) -> Result<u32, ServiceError> {
        let mut gate = self
            .manage_keys(actor, ctx, environment, Action::KeysRotate)
            .await?;
        let now = gate.now();
        let env = key_environment(environment)?;
        let version = self
            .encryption_version(&env)?
            .map_or(1, |v| v.saturating_add(1));
        gate.on(Target::Kek {
            environment: environment.clone(),
            version,
        });
        // The keyring is saved before the event and the commit: a failure
        // before the save leaves nothing; one after it leaves an unused,
        // harmless KEK version.
        let version = self.kernel.keys.change(|k| Ok(k.rotate(&env, now)?))?;
        gate.commit().await?;
        Ok(version)
    }

    /// The KEK version `env` encrypts under now; `None` if the keyring
    /// has no KEK for it yet.
    fn encryption_version(&self, env: &KeyEnvironment) -> Result<Option<u32>, ServiceError> {
        let status = self.kernel.keys.with_keyring(Keyring::status)?;
        let current = status.environments.iter().find(|e| e.environment == *env);
        Ok(current.map(|e| e.encryption_version))
    }

    /// Re-wraps up to `limit` stored data keys of `environment` that are
    /// under an older KEK version, after the cursor `after`. The work list
    /// is "keys below the newest version", so an interrupted re-wrap resumes
    /// by running again. Needs `keys.manage` on the environment.
    pub async fn rewrap_data_keys(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        environment: &Environment,
        after: Option<[u8; DATA_KEY_ID_LEN]>,
        limit: u32,
    ) -> Result<RewrapBatch, ServiceError> {
        let mut gate = self
            .manage_keys(actor, ctx, environment, Action::KeysRewrap)
            .await?;
        if !(1..=MAX_REWRAP_BATCH).contains(&limit) {
            return Err(ServiceError::Invalid {
                field: "limit",
                message: format!("expected 1 to {MAX_REWRAP_BATCH}"),
            });
        }
        let env = key_environment(environment)?;
        let version = self.encryption_version(&env)?.ok_or_else(|| {
            KeyError::from(CryptoError::UnknownEnvironment {
                environment: environment.to_string(),
            })
        })?;
        let now = gate.now();
        let batch = gate
            .tx()
            .data_keys_to_rewrap(environment.as_str(), version, after.as_ref(), limit)
            .await?;
        let mut rewrapped = 0u64;
        let mut last = None;
        for record in &batch {
            let wrapped =
                WrappedDataKey::from_bytes(record.wrapped.clone()).map_err(KeyError::from)?;
            let new = self.kernel.keys.with_keyring(|k| k.rewrap(&wrapped))?;
            gate.tx()
                .update_wrapped_data_key(&record.id, new.as_bytes(), new.kek_version(), now)
                .await?;
            rewrapped += 1;
            last = Some(record.id);
        }
        let remaining = data_keys_below(gate.read(), environment, version).await?;
        gate.on(Target::Rewrap {
            environment: environment.clone(),
            version,
            rewrapped,
        });
        if rewrapped > 0 {
            // Persist the KEK's wrap counter with the batch.
            self.kernel.keys.change(|_| Ok(()))?;
        }
        gate.commit().await?;
        let full = u32::try_from(batch.len()).unwrap_or(u32::MAX) >= limit;
        Ok(RewrapBatch {
            environment: environment.clone(),
            encryption_version: version,
            rewrapped,
            next: if full && remaining > 0 { last } else { None },
            remaining,
        })
    }

    /// Retires KEK versions below `min_version` of `environment`: keys they
    /// wrapped no longer unwrap. Refused while stored data keys are still
    /// under them. Needs `keys.manage` on the environment.
    pub async fn retire_keks(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        environment: &Environment,
        min_version: u32,
    ) -> Result<(), ServiceError> {
        let mut gate = self
            .manage_keys(actor, ctx, environment, Action::KeysRetire)
            .await?;
        let env = key_environment(environment)?;
        let count = data_keys_below(gate.read(), environment, min_version).await?;
        if count > 0 {
            return Err(KeyError::StillInUse {
                environment: environment.to_string(),
                min_version,
                count,
            }
            .into());
        }
        gate.on(Target::MinVersion {
            environment: environment.clone(),
            min_version,
        });
        self.kernel
            .keys
            .change(|k| Ok(k.set_min_decryption_version(&env, min_version)?))?;
        gate.commit().await?;
        Ok(())
    }

    /// Crypto-shreds a tenant: destroys its tenant key, deletes its
    /// wrapped data keys and records when, so that its data and every
    /// backup of it become unreadable and the tenant is closed for good
    /// (every later use of it is gone, 410: [`crate::kernel::liveness`]).
    /// Irreversible; `confirm` must repeat the tenant id. A tenant already
    /// shredded is gone too, and nothing changes. Needs `keys.shred` on the
    /// tenant.
    pub async fn shred_tenant(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        confirm: &str,
    ) -> Result<(), ServiceError> {
        let call = Call::by(actor, ctx, Action::KeysShred).on(Target::Tenant(tenant));
        let mut gate = self.kernel.write(call).await?;
        let found = gate.read().tenant(tenant).await?;
        let environment = found.as_ref().map(|t| &t.environment);
        let gate = gate
            .authorize(Permission::KeysShred, &Scope::Tenant(tenant), environment)
            .await?;
        let Some(found) = found else {
            return Err(ServiceError::TenantNotFound);
        };
        let mut gate = gate.live(Some(&found)).await?;
        if confirm != tenant.to_string() {
            return Err(KeyError::ConfirmationMismatch {
                expected: tenant.to_string(),
            }
            .into());
        }
        let env = key_environment(&found.environment)?;
        let now = gate.now();
        // Recorded first: the row is held from here, so that a transaction
        // storing a new data key for the tenant either committed before
        // (and its key is deleted below) or sees the shred.
        if !gate.tx().set_tenant_shredded(tenant, now).await? {
            // Shredded by a concurrent call since it was read: gone, as
            // above.
            let found = gate.read().tenant(tenant).await?;
            return match gate.live(found.as_ref()).await {
                Err(gone) => Err(gone),
                Ok(_) => Err(ServiceError::TenantNotFound),
            };
        }
        gate.tx().delete_data_keys_of_tenant(tenant).await?;
        gate.in_tenant(Some(tenant));
        // Shredded last, just before the event and the commit: if they then
        // fail, the tenant's data is unreadable all the same (the intended,
        // irreversible outcome) but its wrapped keys stay in the database
        // and it is not recorded as shredded (shredding it again records
        // it). A tenant the keyring shredded before the database recorded
        // shreds is recorded now.
        self.kernel
            .keys
            .change(|k| match k.shred_tenant(&env, tenant.0, now) {
                Ok(()) | Err(CryptoError::TenantShredded { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            })?;
        gate.commit().await?;
        tracing::warn!(tenant = %tenant, "tenant crypto-shredded");
        Ok(())
    }
}

/// How many stored data keys of `environment` are wrapped under a KEK
/// version below `version`.
async fn data_keys_below(
    tx: &mut dyn ReadTx,
    environment: &Environment,
    version: u32,
) -> Result<u64, ServiceError> {
    Ok(tx
        .data_key_versions()
        .await?
        .iter()
        .filter(|c| c.environment == environment.as_str() && c.kek_version < version)
        .map(|c| c.data_keys)
        .sum())
}

impl Rempart {
    /// Encrypts `plaintext` for `record` of `tenant` under the tenant's
    /// data key for `purpose` (see [`Kernel::encrypt_for_tenant`]).
    ///
    /// [`Kernel::encrypt_for_tenant`]: crate::kernel::Kernel::encrypt_for_tenant
    pub async fn encrypt_for_tenant(
        &self,
        ctx: &RequestContext,
        tenant: TenantId,
        purpose: &str,
        record: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        self.kernel
            .encrypt_for_tenant(ctx, tenant, purpose, record, plaintext)
            .await
    }

    /// Opens an envelope made by [`Rempart::encrypt_for_tenant`].
    pub async fn decrypt_for_tenant(
        &self,
        tenant: TenantId,
        purpose: &str,
        record: &[u8],
        envelope: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        self.kernel
            .decrypt_for_tenant(tenant, purpose, record, envelope)
            .await
    }
}
