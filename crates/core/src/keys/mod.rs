//! The keys domain: the keyring's administration in the running service:
//! unsealing, status, rotation, re-wrapping, retirement and
//! crypto-shredding (controls CR-1, DS-4, DS-7). The keyring itself and
//! envelope encryption are the kernel's ([`crate::kernel::keyring`],
//! [`crate::kernel::envelopes`]); this domain authorizes and audits what
//! operators do with them.
//!
//! Invariant 4 ("keys stay in the keyring"): nothing here returns or logs key
//! bytes; statuses carry versions, dates and counts only. Each
//! administrative action is authorized and audited in the same database
//! transaction as its database change (invariant 1).

pub use crate::kernel::keyring::{
    CryptoError, KdfParams, KeyError, KeyErrorKind, KeyVault, Keyring, KeyringLocation,
    KeyringStatus, KeysStatus, MAX_REWRAP_BATCH, RewrapBatch, RootKeySource, SYSTEM_ENVIRONMENT,
    SealStatus, ShareText, UnsealInput,
};

use std::sync::Arc;

use rempart_crypto::WrappedDataKey;
use rempart_model::{Action, Environment, Outcome, Permission, Scope, Tenant, TenantId};
use rempart_store::DATA_KEY_ID_LEN;

use crate::kernel::actor::Actor;
use crate::kernel::audit_chain::Draft;
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;
use crate::kernel::keyring::key_environment;
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
    /// environment's first KEK if it has none). Idempotent.
    pub(crate) fn enroll_tenant(&self, tenant: &Tenant) -> Result<(), KeyError> {
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
        })
    }

    /// Records an offline key operation (init, reseal) in the audit log.
    pub async fn record_offline_key_action(
        &self,
        action: Action,
        target: &str,
    ) -> Result<(), ServiceError> {
        let now = self.kernel.clock.now();
        let mut tx = self.kernel.store.begin().await?;
        let draft = Draft::new("offline", action, Outcome::Success).target(target);
        self.kernel
            .audit
            .append(tx.as_mut(), &RequestContext::system(), now, draft)
            .await?;
        tx.commit().await?;
        Ok(())
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
            .map_err(|_| ServiceError::Keys(CryptoError::Backend.into()))?;
        let now = self.kernel.clock.now();
        match result {
            Ok(status) => {
                if was_sealed && !status.sealed {
                    tracing::info!("keyring unsealed");
                    let draft = Draft::new("anonymous", Action::KeysUnseal, Outcome::Success)
                        .target("keyring");
                    let mut tx = self.kernel.store.begin().await?;
                    // The audit public key (not secret), for offline
                    // verification without unsealing.
                    if let Some(key) =
                        crate::audit::signing_key::keyring_public_key(&self.kernel.keys)
                    {
                        tx.record_audit_key(&crate::audit::signing_key::key_record(&key, now))
                            .await?;
                    }
                    self.kernel
                        .audit
                        .append(tx.as_mut(), ctx, now, draft)
                        .await?;
                    tx.commit().await?;
                }
                Ok(status)
            }
            Err(e) => {
                if e.kind() == KeyErrorKind::Refused {
                    tracing::warn!(error = %e, "unseal refused");
                    let draft = Draft::new("anonymous", Action::KeysUnseal, Outcome::Failed)
                        .target("keyring");
                    self.refuse(ctx, now, draft).await?;
                }
                Err(e.into())
            }
        }
    }

    async fn authorize_keys(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        permission: Permission,
        action: Action,
        target: (Scope, Option<&Environment>),
        audit_target: &str,
    ) -> Result<(), ServiceError> {
        let now = self.kernel.clock.now();
        if actor.may(permission, &target.0, target.1, now) {
            return Ok(());
        }
        let draft = Draft::new(actor.audit_name(), action, Outcome::Denied).target(audit_target);
        self.refuse(ctx, now, draft).await?;
        Err(ServiceError::Forbidden { permission })
    }

    /// `keys.manage` on `environment`, or a recorded refusal of `action`.
    async fn authorize_manage(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        environment: &Environment,
        action: Action,
    ) -> Result<(), ServiceError> {
        let scope = (Scope::Environment(environment.clone()), Some(environment));
        self.authorize_keys(
            actor,
            ctx,
            Permission::KeysManage,
            action,
            scope,
            &format!("environment:{environment}"),
        )
        .await
    }

    /// Versions, dates, usage counts and seal state; never key bytes.
    /// Needs `keys.read` staff-wide.
    pub async fn keys_status(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
    ) -> Result<KeysStatus, ServiceError> {
        let target = (Scope::Global, None);
        self.authorize_keys(
            actor,
            ctx,
            Permission::KeysRead,
            Action::KeysStatus,
            target,
            "keyring",
        )
        .await?;
        let now = self.kernel.clock.now();
        let keyring = match self.kernel.keys.with_keyring(Keyring::status) {
            Ok(status) => Some(status),
            Err(KeyError::Sealed) => None,
            Err(e) => return Err(e.into()),
        };
        let mut tx = self.kernel.store.begin().await?;
        let data_keys = tx.data_key_versions().await?;
        let draft =
            Draft::new(actor.audit_name(), Action::KeysStatus, Outcome::Success).target("keyring");
        self.kernel
            .audit
            .append(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
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
        self.authorize_manage(actor, ctx, environment, Action::KeysRotate)
            .await?;
        let now = self.kernel.clock.now();
        let env = key_environment(environment)?;
        let mut tx = self.kernel.store.begin().await?;
        // The audit event is written first and committed after the keyring
        // is saved: a failure before the save leaves nothing; a commit that
        // fails after it leaves an unused, harmless KEK version.
        let version = self
            .kernel
            .keys
            .with_keyring(Keyring::status)?
            .environments
            .iter()
            .find(|e| e.environment == env)
            .map_or(1, |e| e.encryption_version.saturating_add(1));
        let draft = Draft::new(actor.audit_name(), Action::KeysRotate, Outcome::Success)
            .target(format!("environment:{environment}/kek:{version}"));
        self.kernel
            .audit
            .append(tx.as_mut(), ctx, now, draft)
            .await?;
        let version = self.kernel.keys.change(|k| Ok(k.rotate(&env, now)?))?;
        tx.commit().await?;
        Ok(version)
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
        self.authorize_manage(actor, ctx, environment, Action::KeysRewrap)
            .await?;
        if !(1..=MAX_REWRAP_BATCH).contains(&limit) {
            return Err(ServiceError::Invalid {
                field: "limit",
                message: format!("expected 1 to {MAX_REWRAP_BATCH}"),
            });
        }
        let now = self.kernel.clock.now();
        let env = key_environment(environment)?;
        let version = self
            .kernel
            .keys
            .with_keyring(Keyring::status)?
            .environments
            .into_iter()
            .find(|e| e.environment == env)
            .map(|e| e.encryption_version)
            .ok_or_else(|| {
                KeyError::from(CryptoError::UnknownEnvironment {
                    environment: environment.to_string(),
                })
            })?;
        let mut tx = self.kernel.store.begin().await?;
        let batch = tx
            .data_keys_to_rewrap(environment.as_str(), version, after.as_ref(), limit)
            .await?;
        let mut rewrapped = 0u64;
        let mut last = None;
        for record in &batch {
            let wrapped =
                WrappedDataKey::from_bytes(record.wrapped.clone()).map_err(KeyError::from)?;
            let new = self.kernel.keys.with_keyring(|k| k.rewrap(&wrapped))?;
            tx.update_wrapped_data_key(&record.id, new.as_bytes(), new.kek_version(), now)
                .await?;
            rewrapped += 1;
            last = Some(record.id);
        }
        let remaining: u64 = tx
            .data_key_versions()
            .await?
            .iter()
            .filter(|c| c.environment == environment.as_str() && c.kek_version < version)
            .map(|c| c.data_keys)
            .sum();
        let draft = Draft::new(actor.audit_name(), Action::KeysRewrap, Outcome::Success).target(
            format!("environment:{environment}/kek:{version}/rewrapped:{rewrapped}"),
        );
        self.kernel
            .audit
            .append(tx.as_mut(), ctx, now, draft)
            .await?;
        if rewrapped > 0 {
            // Persist the KEK's wrap counter with the batch.
            self.kernel.keys.change(|_| Ok(()))?;
        }
        tx.commit().await?;
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
        self.authorize_manage(actor, ctx, environment, Action::KeysRetire)
            .await?;
        let now = self.kernel.clock.now();
        let env = key_environment(environment)?;
        let mut tx = self.kernel.store.begin().await?;
        let count: u64 = tx
            .data_key_versions()
            .await?
            .iter()
            .filter(|c| c.environment == environment.as_str() && c.kek_version < min_version)
            .map(|c| c.data_keys)
            .sum();
        if count > 0 {
            return Err(KeyError::StillInUse {
                environment: environment.to_string(),
                min_version,
                count,
            }
            .into());
        }
        let draft = Draft::new(actor.audit_name(), Action::KeysRetire, Outcome::Success).target(
            format!("environment:{environment}/min-version:{min_version}"),
        );
        self.kernel
            .audit
            .append(tx.as_mut(), ctx, now, draft)
            .await?;
        self.kernel
            .keys
            .change(|k| Ok(k.set_min_decryption_version(&env, min_version)?))?;
        tx.commit().await?;
        Ok(())
    }

    /// Crypto-shreds a tenant: destroys its tenant key and deletes its
    /// wrapped data keys, so that its data and every backup of it become
    /// unreadable. Irreversible; `confirm` must repeat the tenant id. Needs
    /// `keys.shred` on the tenant.
    pub async fn shred_tenant(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        confirm: &str,
    ) -> Result<(), ServiceError> {
        let now = self.kernel.clock.now();
        let audit_target = format!("tenant:{tenant}");
        let mut tx = self.kernel.store.begin().await?;
        let found = tx.tenant(tenant).await?;
        drop(tx);
        let scope = (
            Scope::Tenant(tenant),
            found.as_ref().map(|t| &t.environment),
        );
        self.authorize_keys(
            actor,
            ctx,
            Permission::KeysShred,
            Action::KeysShred,
            scope,
            &audit_target,
        )
        .await?;
        let Some(found) = found else {
            return Err(ServiceError::TenantNotFound);
        };
        if confirm != tenant.to_string() {
            return Err(KeyError::ConfirmationMismatch {
                expected: tenant.to_string(),
            }
            .into());
        }
        let env = key_environment(&found.environment)?;
        let mut tx = self.kernel.store.begin().await?;
        tx.delete_data_keys_of_tenant(tenant).await?;
        let draft = Draft::new(actor.audit_name(), Action::KeysShred, Outcome::Success)
            .target(audit_target)
            .tenant(tenant);
        self.kernel
            .audit
            .append(tx.as_mut(), ctx, now, draft)
            .await?;
        // Shredded last, just before the commit: if the commit then fails,
        // the tenant's data is unreadable all the same (the intended,
        // irreversible outcome) but its wrapped keys stay in the database.
        self.kernel
            .keys
            .change(|k| Ok(k.shred_tenant(&env, tenant.0, now)?))?;
        tx.commit().await?;
        tracing::warn!(tenant = %tenant, "tenant crypto-shredded");
        Ok(())
    }
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
