//! The keyring: per-environment versioned key-encryption keys (KEKs), tenant
//! keys, the audit signing key, and the operations on them.
//!
//! Invariants: no method returns key bytes (only `DataKey`s that can encrypt,
//! wrapped keys, and the audit signing capability); the newest KEK version
//! of an environment encrypts, versions below the minimum decryption version
//! refuse to unwrap; each KEK counts its wrappings and refuses past its usage
//! bound; a shredded tenant's wrapped keys never unwrap again. Persistence is
//! in `keyring_file`; this module does no I/O.

use std::collections::BTreeMap;
use std::path::Path;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::aead;
use crate::binding::Binding;
use crate::envelope::{DataKey, DataKeyId};
use crate::environment::Environment;
use crate::error::{CryptoError, Result};
use crate::root_key::{ProviderKind, RootKeyProvider, SealDescription};
use crate::secret::{KeyBytes, RootKey};
use crate::signing::{AuditSigningKey, PUBLIC_KEY_LEN};
use crate::usage::{KeyUsage, UsageBound, UsageCounter};
use crate::wrapped_key::{WrappedDataKey, wrapping_key};

/// One key-encryption key version.
#[derive(Debug)]
pub(crate) struct Kek {
    pub(crate) key: KeyBytes,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) wraps: UsageCounter,
}

/// The KEK versions of one environment.
#[derive(Debug)]
pub(crate) struct EnvironmentKeys {
    pub(crate) encryption_version: u32,
    pub(crate) min_decryption_version: u32,
    pub(crate) keks: BTreeMap<u32, Kek>,
}

/// A tenant key: mixed into the wrapping key of the tenant's data keys.
#[derive(Debug)]
pub(crate) struct TenantKey {
    pub(crate) key: KeyBytes,
    pub(crate) enrolled_at: OffsetDateTime,
}

/// The root key and provider parameters the keyring was last sealed with,
/// kept so `save` can re-seal after a change without asking the operator.
#[derive(Debug)]
pub(crate) struct SealContext {
    pub(crate) kind: ProviderKind,
    pub(crate) params: Vec<u8>,
    pub(crate) root: RootKey,
}

/// An open (unsealed) keyring.
#[derive(Debug)]
pub struct Keyring {
    pub(crate) environments: BTreeMap<Environment, EnvironmentKeys>,
    pub(crate) tenants: BTreeMap<(Environment, Uuid), TenantKey>,
    pub(crate) shredded: BTreeMap<(Environment, Uuid), OffsetDateTime>,
    pub(crate) audit: AuditSigningKey,
    pub(crate) bound: UsageBound,
    pub(crate) seal: SealContext,
}

/// What `status()` reports: versions, dates, counts and seal state, no bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyringStatus {
    /// How the keyring is sealed.
    pub seal: SealDescription,
    /// One entry per environment, by name.
    pub environments: Vec<EnvironmentStatus>,
    /// The audit checkpoint verification key.
    pub audit_public_key: [u8; PUBLIC_KEY_LEN],
    /// Tenants holding a tenant key, all environments.
    pub tenants_enrolled: usize,
    /// Tenants whose keys were shredded, all environments.
    pub tenants_shredded: usize,
    /// The usage bound applied to KEKs and data keys.
    pub usage_bound: UsageBound,
}

/// Status of one environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvironmentStatus {
    /// The environment.
    pub environment: Environment,
    /// The KEK version new wrappings use.
    pub encryption_version: u32,
    /// Versions below this refuse to unwrap.
    pub min_decryption_version: u32,
    /// Every KEK version still held, ascending.
    pub keks: Vec<KekStatus>,
}

/// Status of one KEK version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KekStatus {
    /// Version number (from 1).
    pub version: u32,
    /// When it was created (as passed by the caller).
    pub created_at: OffsetDateTime,
    /// Wrappings performed and whether rotation is due.
    pub usage: KeyUsage,
    /// Below the minimum decryption version.
    pub retired: bool,
}

impl EnvironmentKeys {
    fn new(created_at: OffsetDateTime) -> Result<Self> {
        let kek = Kek {
            key: KeyBytes::random()?,
            created_at,
            wraps: UsageCounter::new(0),
        };
        Ok(Self {
            encryption_version: 1,
            min_decryption_version: 1,
            keks: BTreeMap::from([(1, kek)]),
        })
    }
}

impl Keyring {
    /// Creates a keyring with one KEK (version 1) per environment and a new
    /// audit signing key, sealed by `provider`.
    pub fn create(
        provider: &dyn RootKeyProvider,
        environments: &[Environment],
        created_at: OffsetDateTime,
    ) -> Result<Self> {
        let (params, root) = provider.new_seal()?;
        let mut envs = BTreeMap::new();
        for environment in environments {
            envs.insert(environment.clone(), EnvironmentKeys::new(created_at)?);
        }
        Ok(Self {
            environments: envs,
            tenants: BTreeMap::new(),
            shredded: BTreeMap::new(),
            audit: AuditSigningKey::generate()?,
            bound: UsageBound::default(),
            seal: SealContext {
                kind: provider.kind(),
                params,
                root,
            },
        })
    }

    /// Opens sealed keyring bytes with `provider`.
    pub fn open(sealed: &[u8], provider: &dyn RootKeyProvider) -> Result<Self> {
        crate::keyring_file::open(sealed, provider)
    }

    /// Opens sealed keyring bytes with this keyring's own root key: another
    /// process's save of the same keyring. Refused (`RootKeyRejected`) when
    /// the bytes are sealed under another root key.
    pub fn reopen(&self, sealed: &[u8]) -> Result<Self> {
        Ok(crate::keyring_file::reopen(sealed, &self.seal)?.with_usage_bound(self.bound))
    }

    /// Reads and opens the keyring file at `path`.
    pub fn load(path: &Path, provider: &dyn RootKeyProvider) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| CryptoError::io("read", path, e))?;
        Self::open(&bytes, provider)
    }

    /// The sealed form, under the current root key with a fresh nonce.
    pub fn to_sealed_bytes(&self) -> Result<Vec<u8>> {
        crate::keyring_file::seal(self, aead::random_nonce()?)
    }

    /// Atomically writes the sealed form to `path` (mode 0600).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::atomic_file::write_atomic(path, &self.to_sealed_bytes()?)
    }

    /// Switches to a new root key (new key file, passphrase or share split).
    /// KEKs and data keys are untouched; call `save` afterwards.
    pub fn reseal(&mut self, provider: &dyn RootKeyProvider) -> Result<()> {
        let (params, root) = provider.new_seal()?;
        self.seal = SealContext {
            kind: provider.kind(),
            params,
            root,
        };
        Ok(())
    }

    /// An independent copy, for copy-on-write changes: the caller changes
    /// the copy, saves it, and only then replaces the original, so that a
    /// failed save leaves the keyring in memory as it is on disk.
    pub fn try_clone(&self) -> Result<Self> {
        let body = crate::keyring_file::encode_body(self)?;
        let seal = SealContext {
            kind: self.seal.kind,
            params: self.seal.params.clone(),
            root: self.seal.root.clone(),
        };
        Ok(crate::keyring_file::decode_body(&body, seal)?.with_usage_bound(self.bound))
    }

    /// Every secret this keyring holds (root key, KEKs, tenant keys, audit
    /// seed), for tests that prove none of them leaks. Only with the
    /// `leak-test` feature, which no shipped build enables.
    #[cfg(feature = "leak-test")]
    #[doc(hidden)]
    pub fn secrets_for_leak_test(&self) -> Vec<[u8; crate::secret::KEY_LEN]> {
        let mut out = vec![*self.seal.root.0.expose(), *self.audit.seed().expose()];
        for env in self.environments.values() {
            out.extend(env.keks.values().map(|k| *k.key.expose()));
        }
        out.extend(self.tenants.values().map(|t| *t.key.expose()));
        out
    }

    /// The raw bytes of a wrapped data key, for leak tests only.
    #[cfg(feature = "leak-test")]
    #[doc(hidden)]
    pub fn data_key_for_leak_test(
        &self,
        wrapped: &WrappedDataKey,
    ) -> Result<[u8; crate::secret::KEY_LEN]> {
        Ok(*self.unwrap_bytes(wrapped)?.expose())
    }

    /// Replaces the usage bound (tests use a small one).
    #[must_use]
    pub fn with_usage_bound(mut self, bound: UsageBound) -> Self {
        self.bound = bound;
        self
    }

    fn env(&self, environment: &Environment) -> Result<&EnvironmentKeys> {
        self.environments
            .get(environment)
            .ok_or_else(|| CryptoError::UnknownEnvironment {
                environment: environment.to_string(),
            })
    }

    fn env_mut(&mut self, environment: &Environment) -> Result<&mut EnvironmentKeys> {
        self.environments
            .get_mut(environment)
            .ok_or_else(|| CryptoError::UnknownEnvironment {
                environment: environment.to_string(),
            })
    }

    /// Adds an environment with KEK version 1.
    pub fn add_environment(
        &mut self,
        environment: &Environment,
        created_at: OffsetDateTime,
    ) -> Result<()> {
        if self.environments.contains_key(environment) {
            return Err(CryptoError::EnvironmentExists {
                environment: environment.to_string(),
            });
        }
        self.environments
            .insert(environment.clone(), EnvironmentKeys::new(created_at)?);
        Ok(())
    }

    /// Adds a new KEK version that wraps from now on; older versions still
    /// unwrap. Returns the new version.
    pub fn rotate(&mut self, environment: &Environment, created_at: OffsetDateTime) -> Result<u32> {
        let env = self.env_mut(environment)?;
        let version = env
            .keks
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .checked_add(1)
            .ok_or(CryptoError::Malformed {
                what: "keyring",
                reason: "KEK version counter exhausted",
            })?;
        env.keks.insert(
            version,
            Kek {
                key: KeyBytes::random()?,
                created_at,
                wraps: UsageCounter::new(0),
            },
        );
        env.encryption_version = version;
        Ok(version)
    }

    /// Retires every KEK version below `version`: keys they wrapped refuse to
    /// unwrap (rewrap them first). Retirement only moves forward.
    pub fn set_min_decryption_version(
        &mut self,
        environment: &Environment,
        version: u32,
    ) -> Result<()> {
        let env = self.env_mut(environment)?;
        if version < env.min_decryption_version || version > env.encryption_version {
            return Err(CryptoError::InvalidMinDecryptionVersion {
                environment: environment.to_string(),
                requested: version,
                current: env.min_decryption_version,
                encryption_version: env.encryption_version,
            });
        }
        env.min_decryption_version = version;
        Ok(())
    }

    /// Destroys the key bytes of retired KEK versions, so that wrapped keys
    /// still under them (in the database or its backups) can never be
    /// unwrapped. Returns how many versions were destroyed.
    pub fn purge_retired(&mut self, environment: &Environment) -> Result<usize> {
        let env = self.env_mut(environment)?;
        let min = env.min_decryption_version;
        let before = env.keks.len();
        env.keks.retain(|&version, _| version >= min);
        Ok(before - env.keks.len())
    }

    /// Gives `tenant` a tenant key in `environment`; required before wrapping
    /// data keys bound to the tenant.
    pub fn enroll_tenant(
        &mut self,
        environment: &Environment,
        tenant: Uuid,
        enrolled_at: OffsetDateTime,
    ) -> Result<()> {
        self.env(environment)?;
        let slot = (environment.clone(), tenant);
        if self.shredded.contains_key(&slot) {
            return Err(CryptoError::TenantShredded {
                environment: environment.to_string(),
                tenant,
            });
        }
        if self.tenants.contains_key(&slot) {
            return Err(CryptoError::TenantAlreadyEnrolled {
                environment: environment.to_string(),
                tenant,
            });
        }
        self.tenants.insert(
            slot,
            TenantKey {
                key: KeyBytes::random()?,
                enrolled_at,
            },
        );
        Ok(())
    }

    /// Crypto-shreds a tenant: destroys its tenant key (zeroized) and records
    /// the shredding. Every data key of the tenant, wherever a wrapped copy
    /// survives, becomes unrecoverable once no older keyring copy remains.
    pub fn shred_tenant(
        &mut self,
        environment: &Environment,
        tenant: Uuid,
        shredded_at: OffsetDateTime,
    ) -> Result<()> {
        let slot = (environment.clone(), tenant);
        if self.tenants.remove(&slot).is_none() {
            return Err(if self.shredded.contains_key(&slot) {
                CryptoError::TenantShredded {
                    environment: environment.to_string(),
                    tenant,
                }
            } else {
                CryptoError::TenantNotEnrolled {
                    environment: environment.to_string(),
                    tenant,
                }
            });
        }
        self.shredded.insert(slot, shredded_at);
        Ok(())
    }

    fn tenant_key(&self, binding: &Binding) -> Result<Option<&KeyBytes>> {
        let Some(tenant) = binding.tenant else {
            return Ok(None);
        };
        let slot = (binding.environment.clone(), tenant);
        if let Some(key) = self.tenants.get(&slot) {
            return Ok(Some(&key.key));
        }
        let environment = binding.environment.to_string();
        Err(if self.shredded.contains_key(&slot) {
            CryptoError::TenantShredded {
                environment,
                tenant,
            }
        } else {
            CryptoError::TenantNotEnrolled {
                environment,
                tenant,
            }
        })
    }

    fn kek_for_decryption(&self, environment: &Environment, version: u32) -> Result<&Kek> {
        let env = self.env(environment)?;
        if version < env.min_decryption_version {
            return Err(CryptoError::KekVersionRetired {
                environment: environment.to_string(),
                version,
                min_decryption_version: env.min_decryption_version,
            });
        }
        env.keks
            .get(&version)
            .ok_or_else(|| CryptoError::UnknownKekVersion {
                environment: environment.to_string(),
                version,
            })
    }

    /// Wraps `data_key` under the encryption version of its environment.
    fn wrap(
        &self,
        id: DataKeyId,
        binding: &Binding,
        data_key: &KeyBytes,
        nonce: Option<[u8; aead::NONCE_LEN]>,
    ) -> Result<WrappedDataKey> {
        let env = self.env(&binding.environment)?;
        let version = env.encryption_version;
        let kek = env
            .keks
            .get(&version)
            .ok_or_else(|| CryptoError::UnknownKekVersion {
                environment: binding.environment.to_string(),
                version,
            })?;
        let tenant_key = self.tenant_key(binding)?;
        kek.wraps.reserve(self.bound)?;
        let cipher = aead::cipher(&wrapping_key(&kek.key, tenant_key)?)?;
        let mut bytes = WrappedDataKey::header(id, binding, version);
        let aad = [crate::wrapped_key::WRAPPED_KEY_AAD_LABEL, &bytes].concat();
        let nonce = match nonce {
            Some(nonce) => nonce,
            None => aead::random_nonce()?,
        };
        bytes.extend_from_slice(&nonce);
        aead::seal_append(&cipher, nonce, &aad, data_key.expose(), &mut bytes)?;
        WrappedDataKey::from_bytes(bytes)
    }

    /// Unwraps the raw data key bytes, checking retirement and shredding.
    fn unwrap_bytes(&self, wrapped: &WrappedDataKey) -> Result<KeyBytes> {
        let binding = wrapped.binding();
        let kek = self.kek_for_decryption(&binding.environment, wrapped.kek_version())?;
        let tenant_key = self.tenant_key(binding)?;
        let cipher = aead::cipher(&wrapping_key(&kek.key, tenant_key)?)?;
        let mut buf = zeroize::Zeroizing::new(wrapped.sealed().to_vec());
        aead::open_in_place(&cipher, wrapped.nonce(), &wrapped.aad(), &mut buf)?;
        KeyBytes::from_slice(&buf).ok_or(CryptoError::Malformed {
            what: "wrapped data key",
            reason: "unwrapped key is not 32 bytes",
        })
    }

    /// Creates a data key for `binding`: returns it ready to use, and wrapped
    /// for the caller to store.
    pub fn new_data_key(&self, binding: &Binding) -> Result<(DataKey, WrappedDataKey)> {
        let id = DataKeyId::random()?;
        let key = KeyBytes::random()?;
        let wrapped = self.wrap(id, binding, &key, None)?;
        Ok((
            DataKey::new(id, binding.clone(), &key, 0, self.bound)?,
            wrapped,
        ))
    }

    /// Unwraps a stored data key, checking it is bound to `expected`.
    /// `prior_encryptions` is the usage count the caller persisted.
    pub fn unwrap_data_key(
        &self,
        wrapped: &WrappedDataKey,
        expected: &Binding,
        prior_encryptions: u64,
    ) -> Result<DataKey> {
        if wrapped.binding() != expected {
            return Err(CryptoError::BindingMismatch);
        }
        let key = self.unwrap_bytes(wrapped)?;
        DataKey::new(
            wrapped.id(),
            expected.clone(),
            &key,
            prior_encryptions,
            self.bound,
        )
    }

    /// Re-wraps a stored data key under the newest KEK version of its
    /// environment. The data key (and so every envelope) is unchanged and
    /// its bytes never leave this crate.
    pub fn rewrap(&self, wrapped: &WrappedDataKey) -> Result<WrappedDataKey> {
        let key = self.unwrap_bytes(wrapped)?;
        self.wrap(wrapped.id(), wrapped.binding(), &key, None)
    }

    /// The audit-log checkpoint signing key.
    pub fn audit_signing_key(&self) -> &AuditSigningKey {
        &self.audit
    }

    /// The environments in the keyring.
    pub fn environments(&self) -> impl Iterator<Item = &Environment> {
        self.environments.keys()
    }

    /// Versions, creation dates, usage counts and seal state; never bytes.
    pub fn status(&self) -> Result<KeyringStatus> {
        let environments = self
            .environments
            .iter()
            .map(|(name, env)| EnvironmentStatus {
                environment: name.clone(),
                encryption_version: env.encryption_version,
                min_decryption_version: env.min_decryption_version,
                keks: env
                    .keks
                    .iter()
                    .map(|(&version, kek)| KekStatus {
                        version,
                        created_at: kek.created_at,
                        usage: self.bound.report(kek.wraps.get()),
                        retired: version < env.min_decryption_version,
                    })
                    .collect(),
            })
            .collect();
        Ok(KeyringStatus {
            seal: SealDescription::from_header(self.seal.kind, &self.seal.params)?,
            environments,
            audit_public_key: self.audit.public_key(),
            tenants_enrolled: self.tenants.len(),
            tenants_shredded: self.shredded.len(),
            usage_bound: self.bound,
        })
    }

    /// Key separation between environments (control DS-7): the number of
    /// pairs of key-encryption keys, across two different environments,
    /// that hold the same bytes. Zero on a sound keyring. Compares in
    /// constant time and answers a count only, never which bytes.
    #[must_use]
    pub fn keks_shared_across_environments(&self) -> usize {
        use subtle::ConstantTimeEq;
        let all: Vec<(&Environment, &Kek)> = self
            .environments
            .iter()
            .flat_map(|(name, env)| env.keks.values().map(move |kek| (name, kek)))
            .collect();
        let mut shared = 0;
        for (i, (env_a, kek_a)) in all.iter().enumerate() {
            for (env_b, kek_b) in all.iter().skip(i + 1) {
                let same = kek_a.key.expose().ct_eq(kek_b.key.expose());
                if env_a != env_b && bool::from(same) {
                    shared += 1;
                }
            }
        }
        shared
    }

    #[cfg(test)]
    pub(crate) fn wrap_with_nonce(
        &self,
        id: DataKeyId,
        binding: &Binding,
        key: [u8; crate::secret::KEY_LEN],
        nonce: [u8; aead::NONCE_LEN],
    ) -> Result<WrappedDataKey> {
        self.wrap(id, binding, &KeyBytes::from_array(key), Some(nonce))
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test set-up; a panic is the failure report"
    )]

    use super::*;
    use crate::{KeyFileProvider, RootKey};

    #[test]
    fn environments_never_share_a_kek_and_a_copied_one_is_counted() {
        let provider = KeyFileProvider::from_root_key(RootKey::generate().unwrap());
        let prod = Environment::production();
        let dev = Environment::development();
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let mut ring = Keyring::create(&provider, &[prod.clone(), dev.clone()], t0).unwrap();
        assert_eq!(ring.keks_shared_across_environments(), 0);

        // Two versions of one environment are not "shared across".
        let copy = |ring: &Keyring, env: &Environment| {
            KeyBytes::from_array(*ring.environments[env].keks[&1].key.expose())
        };
        let add_version_2 = |ring: &mut Keyring, env: &Environment, key: KeyBytes| {
            let kek = Kek {
                key,
                created_at: t0,
                wraps: UsageCounter::new(0),
            };
            ring.environments.get_mut(env).unwrap().keks.insert(2, kek);
        };
        let same_env = copy(&ring, &prod);
        add_version_2(&mut ring, &prod, same_env);
        assert_eq!(ring.keks_shared_across_environments(), 0);

        // Development holding production's key is what DS-7 forbids.
        let leaked = copy(&ring, &prod);
        add_version_2(&mut ring, &dev, leaked);
        assert_eq!(ring.keks_shared_across_environments(), 2);
    }
}
