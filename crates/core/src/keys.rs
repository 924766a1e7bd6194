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

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rempart_crypto::{
    Binding, DataKeyId, Environment as KeyEnvironment, KeyFileProvider, PassphraseProvider,
    Purpose, RootKeyProvider, SealDescription, ShamirProvider, WrappedDataKey, envelope_key_id,
};
pub use rempart_crypto::{CryptoError, KdfParams, Keyring, KeyringStatus, ShareText};
use rempart_model::{Action, Environment, Outcome, Permission, Scope, Tenant, TenantId};
use rempart_store::{DATA_KEY_ID_LEN, DataKeyRecord, DataKeyVersionCount};
use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::actor::Actor;
use crate::audit_log::Draft;
use crate::config::{Config, KeyringProvider};
use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::service::Rempart;

/// The environments every new keyring starts with, each with its own KEK.
const INITIAL_ENVIRONMENTS: [&str; 2] = ["production", "development"];

/// Most data keys one re-wrap call handles (one transaction).
pub const MAX_REWRAP_BATCH: u32 = 1000;

/// Where the sealed keyring and its key file live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringLocation {
    pub path: PathBuf,
    pub key_file: PathBuf,
}

impl KeyringLocation {
    pub fn from_config(config: &Config) -> Self {
        Self {
            path: config.keyring_path(),
            key_file: config.keyring_key_file(),
        }
    }
}

/// A new root key source, for `init` and `reseal`.
#[derive(Debug)]
pub enum RootKeySource {
    /// A new key file (mode 0600) at the location's `key_file`.
    KeyFile,
    /// A passphrase, stretched with `kdf`.
    Passphrase {
        passphrase: SecretString,
        kdf: KdfParams,
    },
    /// A new k-of-n split; the shares are returned once.
    Shamir { threshold: u8, shares: u8 },
}

impl RootKeySource {
    /// The source the configuration names (a passphrase must be supplied).
    pub fn from_config(
        config: &Config,
        passphrase: Option<SecretString>,
    ) -> Result<Self, KeyError> {
        Ok(match config.keyring.provider {
            KeyringProvider::KeyFile => Self::KeyFile,
            KeyringProvider::Passphrase => Self::Passphrase {
                passphrase: passphrase.ok_or(KeyError::PassphraseNeeded)?,
                kdf: KdfParams::default(),
            },
            KeyringProvider::Shamir => Self::Shamir {
                threshold: config.keyring.shamir_threshold,
                shares: config.keyring.shamir_shares,
            },
        })
    }
}

/// What an operator offers to open a sealed keyring.
#[derive(Debug)]
pub enum UnsealInput {
    Passphrase(SecretString),
    /// One share; the server keeps it in memory until the threshold.
    Share(SecretString),
    /// Forget the shares entered so far.
    Reset,
}

/// Seal state, readable without authentication (like Vault's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealStatus {
    pub sealed: bool,
    /// `key-file`, `passphrase`, `shamir`, or `none` (no keyring configured).
    pub provider: &'static str,
    /// Shares needed (Shamir).
    pub threshold: Option<u8>,
    /// Shares entered so far (Shamir, while sealed).
    pub shares_entered: usize,
}

/// What `keys status` reports: never key bytes.
#[derive(Debug, Clone)]
pub struct KeysStatus {
    pub seal: SealStatus,
    /// Versions, dates and usage of every KEK (absent while sealed).
    pub keyring: Option<KeyringStatus>,
    /// Stored data keys per environment and KEK version.
    pub data_keys: Vec<DataKeyVersionCount>,
}

/// One re-wrap batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrapBatch {
    pub environment: Environment,
    /// The KEK version data keys are now wrapped under.
    pub encryption_version: u32,
    pub rewrapped: u64,
    /// Where the next batch starts; `None` when none remain.
    pub next: Option<[u8; DATA_KEY_ID_LEN]>,
    /// Data keys still under an older version, after this batch.
    pub remaining: u64,
}

/// What went wrong with the keyring, in the operator's words. Messages
/// never carry key material (CryptoError's contract, and ours).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("keyring sealed: unseal it with `rempart unseal`")]
    Sealed,
    #[error("no keyring at {path}: run `rempart init` to create one")]
    Missing { path: PathBuf },
    #[error("a keyring already exists at {path}; nothing was changed")]
    Exists { path: PathBuf },
    #[error(
        "the keyring is sealed with a passphrase: set REMPART_KEYRING_PASSPHRASE or run `rempart init`, which prompts for it"
    )]
    PassphraseNeeded,
    #[error(
        "a Shamir keyring is created by `rempart init`, which shows each share once; `serve` does not create it"
    )]
    SharesNeedInit,
    #[error("an unseal attempt is already in progress; try again in a moment")]
    Busy,
    #[error(
        "{count} data keys of {environment} are still wrapped under versions below {min_version}: run `rempart keys rewrap` first"
    )]
    StillInUse {
        environment: String,
        min_version: u32,
        count: u64,
    },
    #[error("confirmation does not match: pass --confirm {expected} to shred this tenant")]
    ConfirmationMismatch { expected: String },
    #[error(
        "the keyring file {path} was re-sealed under another root key since this process opened it (`keys reseal`?): restart and unseal to use it; nothing was changed"
    )]
    ChangedOnDisk { path: PathBuf },
    #[error("no data key of this tenant made this ciphertext")]
    UnknownDataKey,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// How the server should answer a key error (one mapping, in the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyErrorKind {
    /// 503: the keyring must be unsealed first.
    Sealed,
    /// 429: retry shortly.
    Busy,
    /// 400: the passphrase, share or key file does not open the keyring.
    Refused,
    /// 422: bad input.
    Invalid,
    /// 409: the state does not allow it (yet).
    Conflict,
    /// 410: the tenant was crypto-shredded.
    Gone,
    /// 422: the ciphertext or wrapped key does not open.
    Undecryptable,
    /// 500: the keyring file or the system failed.
    Internal,
}

impl KeyError {
    pub fn kind(&self) -> KeyErrorKind {
        use CryptoError as C;
        match self {
            Self::Sealed | Self::Missing { .. } => KeyErrorKind::Sealed,
            Self::Busy => KeyErrorKind::Busy,
            Self::PassphraseNeeded | Self::SharesNeedInit => KeyErrorKind::Refused,
            Self::Exists { .. } | Self::StillInUse { .. } | Self::ChangedOnDisk { .. } => {
                KeyErrorKind::Conflict
            }
            Self::ConfirmationMismatch { .. } => KeyErrorKind::Invalid,
            Self::UnknownDataKey => KeyErrorKind::Undecryptable,
            Self::Crypto(e) => match e {
                C::RootKeyRejected
                | C::CorruptShare { .. }
                | C::DuplicateShare { .. }
                | C::MixedShareSplits { .. }
                | C::NotEnoughShares { .. }
                | C::SharesForAnotherKeyring
                | C::RootKeyProviderMismatch { .. } => KeyErrorKind::Refused,
                C::InvalidEnvironmentName { .. }
                | C::InvalidPurpose { .. }
                | C::UnknownEnvironment { .. }
                | C::UnknownKekVersion { .. }
                | C::InvalidMinDecryptionVersion { .. }
                | C::InvalidShareSplit { .. }
                | C::InvalidKdfParameters { .. } => KeyErrorKind::Invalid,
                C::EnvironmentExists { .. }
                | C::RotationRequired { .. }
                | C::TenantNotEnrolled { .. }
                | C::TenantAlreadyEnrolled { .. } => KeyErrorKind::Conflict,
                C::TenantShredded { .. } => KeyErrorKind::Gone,
                C::KekVersionRetired { .. }
                | C::BindingMismatch
                | C::DecryptionFailed
                | C::Truncated { .. }
                | C::Malformed { .. }
                | C::UnsupportedVersion { .. } => KeyErrorKind::Undecryptable,
                _ => KeyErrorKind::Internal,
            },
        }
    }
}

fn provider_name(description: &SealDescription) -> &'static str {
    match description {
        SealDescription::KeyFile => "key-file",
        SealDescription::Passphrase { .. } => "passphrase",
        SealDescription::Shamir { .. } => "shamir",
        _ => "unknown",
    }
}

enum VaultState {
    Unconfigured,
    Sealed {
        description: SealDescription,
        shares: Vec<Zeroizing<String>>,
    },
    Open(Keyring),
}

/// The process's keyring: sealed, or open in memory.
pub struct KeyVault {
    location: Option<KeyringLocation>,
    state: RwLock<VaultState>,
    /// One unseal attempt at a time: each passphrase try costs an Argon2id
    /// run, which an unauthenticated caller must not multiply.
    unseal_gate: Mutex<()>,
    /// SHA-256 of the keyring file as this process last read or wrote it:
    /// a change is refused if the file changed since (an offline `keys
    /// reseal`, another process), instead of overwriting it.
    on_disk: Mutex<Option<[u8; 32]>>,
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

impl std::fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVault")
            .field("location", &self.location)
            .field("seal", &self.seal_status())
            .finish_non_exhaustive()
    }
}

impl KeyVault {
    /// No keyring: every operation needing keys answers "keyring sealed".
    pub fn unconfigured() -> Self {
        Self {
            location: None,
            state: RwLock::new(VaultState::Unconfigured),
            unseal_gate: Mutex::new(()),
            on_disk: Mutex::new(None),
        }
    }

    fn with_state(location: KeyringLocation, state: VaultState, on_disk: &[u8]) -> Self {
        Self {
            location: Some(location),
            state: RwLock::new(state),
            unseal_gate: Mutex::new(()),
            on_disk: Mutex::new(Some(digest(on_disk))),
        }
    }

    fn remember_disk(&self, bytes: &[u8]) {
        *self
            .on_disk
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(digest(bytes));
    }

    /// Creates a new keyring (KEKs for production and development) sealed
    /// by `source`. Refuses, changing nothing, if a keyring exists. Returns
    /// the Shamir shares to show once (empty for other sources).
    pub fn init(
        location: KeyringLocation,
        source: &RootKeySource,
        now: OffsetDateTime,
    ) -> Result<(Self, Vec<ShareText>), KeyError> {
        if location.path.exists() {
            return Err(KeyError::Exists {
                path: location.path,
            });
        }
        let mut environments = Vec::new();
        for name in INITIAL_ENVIRONMENTS {
            environments.push(KeyEnvironment::new(name)?);
        }
        let (provider, shares) = new_provider(&location, source, false)?;
        let keyring = Keyring::create(provider.as_ref(), &environments, now)?;
        let sealed = keyring.to_sealed_bytes()?;
        rempart_crypto::write_atomic(&location.path, &sealed)?;
        Ok((
            Self::with_state(location, VaultState::Open(keyring), &sealed),
            shares,
        ))
    }

    /// Reads the keyring at `location`: opened at once with a key file, or
    /// with `passphrase` when given; otherwise left sealed until unsealed.
    /// A corrupt or truncated keyring is an error, and is never replaced.
    pub fn load(
        location: KeyringLocation,
        passphrase: Option<SecretString>,
    ) -> Result<Self, KeyError> {
        let sealed = read_keyring(&location.path)?;
        let description = rempart_crypto::describe_sealed(&sealed)?;
        let keyring = match (&description, passphrase) {
            (SealDescription::KeyFile, _) => Some(Keyring::open(
                &sealed,
                &KeyFileProvider::load(&location.key_file)?,
            )?),
            (SealDescription::Passphrase { .. }, Some(passphrase)) => Some(Keyring::open(
                &sealed,
                &PassphraseProvider::new(passphrase, KdfParams::default()),
            )?),
            _ => None,
        };
        let state = match keyring {
            Some(keyring) => VaultState::Open(keyring),
            None => VaultState::Sealed {
                description,
                shares: Vec::new(),
            },
        };
        Ok(Self::with_state(location, state, &sealed))
    }

    /// What `serve` does: loads the keyring, or on first start creates one
    /// when that needs no operator input shown once (key file, or a
    /// passphrase from the environment). Returns whether it created one.
    pub fn open_or_create(
        location: KeyringLocation,
        source: &Config,
        passphrase: Option<SecretString>,
        now: OffsetDateTime,
    ) -> Result<(Self, bool), KeyError> {
        if location.path.exists() {
            return Ok((Self::load(location, passphrase)?, false));
        }
        let source = match source.keyring.provider {
            KeyringProvider::Shamir => return Err(KeyError::SharesNeedInit),
            _ => RootKeySource::from_config(source, passphrase)?,
        };
        let (vault, _shares) = Self::init(location, &source, now)?;
        Ok((vault, true))
    }

    fn location(&self) -> Result<&KeyringLocation, KeyError> {
        self.location.as_ref().ok_or(KeyError::Sealed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, VaultState> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, VaultState> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn seal_status(&self) -> SealStatus {
        match &*self.read() {
            VaultState::Unconfigured => SealStatus {
                sealed: true,
                provider: "none",
                threshold: None,
                shares_entered: 0,
            },
            VaultState::Sealed {
                description,
                shares,
            } => SealStatus {
                sealed: true,
                provider: provider_name(description),
                threshold: match description {
                    SealDescription::Shamir { threshold, .. } => Some(*threshold),
                    _ => None,
                },
                shares_entered: shares.len(),
            },
            VaultState::Open(keyring) => {
                let description = keyring.status().map(|s| s.seal).ok();
                SealStatus {
                    sealed: false,
                    provider: description.as_ref().map_or("unknown", provider_name),
                    threshold: match description {
                        Some(SealDescription::Shamir { threshold, .. }) => Some(threshold),
                        _ => None,
                    },
                    shares_entered: 0,
                }
            }
        }
    }

    pub fn is_sealed(&self) -> bool {
        !matches!(&*self.read(), VaultState::Open(_))
    }

    /// Runs `f` on the open keyring, after picking up any change another
    /// process saved to the keyring file.
    pub fn with_keyring<R>(
        &self,
        f: impl FnOnce(&Keyring) -> Result<R, CryptoError>,
    ) -> Result<R, KeyError> {
        self.refresh()?;
        match &*self.read() {
            VaultState::Open(keyring) => Ok(f(keyring)?),
            _ => Err(KeyError::Sealed),
        }
    }

    /// Changes the keyring copy-on-write: `f` changes a copy, the copy is
    /// saved atomically, and only then replaces the keyring in memory.
    pub fn change<R>(
        &self,
        f: impl FnOnce(&mut Keyring) -> Result<R, KeyError>,
    ) -> Result<R, KeyError> {
        let path = self.location()?.path.clone();
        // Replicas sharing the keyring file take turns: read, change, save
        // under one exclusive lock, so no process loses another's change.
        let _lock = lock_keyring(&path)?;
        self.refresh()?;
        let mut state = self.write();
        let VaultState::Open(keyring) = &mut *state else {
            return Err(KeyError::Sealed);
        };
        let current = read_keyring(&path)?;
        let known = *self
            .on_disk
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if known != Some(digest(&current)) {
            return Err(KeyError::ChangedOnDisk { path });
        }
        let mut copy = keyring.try_clone()?;
        let result = f(&mut copy)?;
        let sealed = copy.to_sealed_bytes()?;
        rempart_crypto::write_atomic(&path, &sealed)?;
        self.remember_disk(&sealed);
        *keyring = copy;
        Ok(result)
    }

    /// Offers a passphrase or a share. Wrong input is refused and changes
    /// nothing (a wrong share is not kept; shares that turn out not to open
    /// the keyring are all forgotten). CPU-heavy for a passphrase (Argon2id):
    /// call it off the async runtime.
    pub fn unseal(&self, input: UnsealInput) -> Result<SealStatus, KeyError> {
        let Ok(_gate) = self.unseal_gate.try_lock() else {
            return Err(KeyError::Busy);
        };
        let path = self.location()?.path.clone();
        if !self.is_sealed() {
            return Ok(self.seal_status());
        }
        match input {
            UnsealInput::Reset => {
                if let VaultState::Sealed { shares, .. } = &mut *self.write() {
                    shares.clear();
                }
            }
            UnsealInput::Passphrase(passphrase) => {
                let sealed = read_keyring(&path)?;
                let provider = PassphraseProvider::new(passphrase, KdfParams::default());
                let keyring = Keyring::open(&sealed, &provider)?;
                self.remember_disk(&sealed);
                *self.write() = VaultState::Open(keyring);
            }
            UnsealInput::Share(share) => {
                let mut entered: Vec<Zeroizing<String>> = match &*self.read() {
                    VaultState::Sealed { shares, .. } => shares.clone(),
                    _ => Vec::new(),
                };
                entered.push(Zeroizing::new(share.expose_secret().trim().to_owned()));
                let texts: Vec<&str> = entered.iter().map(|s| s.as_str()).collect();
                match ShamirProvider::combine(&texts) {
                    Err(CryptoError::NotEnoughShares { .. }) => {
                        if let VaultState::Sealed { shares, .. } = &mut *self.write() {
                            *shares = entered;
                        }
                    }
                    Err(e) => return Err(e.into()),
                    Ok(provider) => {
                        let opened = read_keyring(&path)
                            .and_then(|b| Ok((Keyring::open(&b, &provider)?, b)));
                        match opened {
                            Ok((keyring, sealed)) => {
                                self.remember_disk(&sealed);
                                *self.write() = VaultState::Open(keyring);
                            }
                            Err(e) => {
                                if let VaultState::Sealed { shares, .. } = &mut *self.write() {
                                    shares.clear();
                                }
                                return Err(e);
                            }
                        }
                    }
                }
            }
        }
        Ok(self.seal_status())
    }

    /// Offline: re-seals the keyring (opened with `current`) under a new root
    /// key source. KEKs and data keys are untouched. A new key file is
    /// written beside the old one and moved into place only after the
    /// keyring is saved. Returns new Shamir shares to show once.
    pub fn reseal(&self, source: &RootKeySource) -> Result<Vec<ShareText>, KeyError> {
        let location = self.location()?.clone();
        let (provider, shares) = new_provider(&location, source, true)?;
        self.change(|keyring| Ok(keyring.reseal(provider.as_ref())?))?;
        if matches!(source, RootKeySource::KeyFile) {
            let next = next_key_file(&location.key_file);
            std::fs::rename(&next, &location.key_file).map_err(|e| CryptoError::Io {
                action: "move into place",
                path: next,
                source: e,
            })?;
        }
        Ok(shares)
    }

    /// Offline: opens a sealed keyring with all the shares at once.
    pub fn unseal_with_shares(&self, shares: &[SecretString]) -> Result<(), KeyError> {
        for share in shares {
            self.unseal(UnsealInput::Share(share.clone()))?;
        }
        if self.is_sealed() {
            let given = shares.len();
            let threshold = self.seal_status().threshold.unwrap_or(0);
            return Err(CryptoError::NotEnoughShares { given, threshold }.into());
        }
        Ok(())
    }
}

impl KeyVault {
    /// Picks up a change that another process (a replica sharing the
    /// keyring file) saved, by opening the file with the root key already
    /// in memory. A file re-sealed under another root key is not opened:
    /// that needs a restart and an unseal.
    fn refresh(&self) -> Result<(), KeyError> {
        let Some(location) = &self.location else {
            return Ok(());
        };
        if !matches!(&*self.read(), VaultState::Open(_)) {
            return Ok(());
        }
        let current = read_keyring(&location.path)?;
        let now_on_disk = digest(&current);
        let known = *self
            .on_disk
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if known == Some(now_on_disk) {
            return Ok(());
        }
        let mut state = self.write();
        let VaultState::Open(keyring) = &mut *state else {
            return Ok(());
        };
        let fresh = keyring
            .reopen(&current)
            .map_err(|_| KeyError::ChangedOnDisk {
                path: location.path.clone(),
            })?;
        *keyring = fresh;
        self.remember_disk(&current);
        Ok(())
    }
}

/// An exclusive lock on `<keyring>.lock`, held while a change is read,
/// made and saved; released when dropped.
fn lock_keyring(path: &Path) -> Result<std::fs::File, KeyError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let io = |source| -> KeyError {
        CryptoError::Io {
            action: "lock",
            path: lock_path.clone(),
            source,
        }
        .into()
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io)?;
    file.lock().map_err(io)?;
    Ok(file)
}

fn read_keyring(path: &Path) -> Result<Vec<u8>, KeyError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(KeyError::Missing {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(CryptoError::Io {
            action: "read",
            path: path.to_path_buf(),
            source: e,
        }
        .into()),
    }
}

fn next_key_file(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

fn new_provider(
    location: &KeyringLocation,
    source: &RootKeySource,
    beside: bool,
) -> Result<(Box<dyn RootKeyProvider>, Vec<ShareText>), KeyError> {
    Ok(match source {
        RootKeySource::KeyFile => {
            let path = if beside {
                next_key_file(&location.key_file)
            } else {
                location.key_file.clone()
            };
            (Box::new(KeyFileProvider::create(&path)?), Vec::new())
        }
        RootKeySource::Passphrase { passphrase, kdf } => (
            Box::new(PassphraseProvider::new(passphrase.clone(), *kdf)),
            Vec::new(),
        ),
        RootKeySource::Shamir { threshold, shares } => {
            let (provider, texts) = ShamirProvider::split(*threshold, *shares)?;
            (Box::new(provider), texts)
        }
    })
}

fn key_environment(environment: &Environment) -> Result<KeyEnvironment, KeyError> {
    Ok(KeyEnvironment::new(environment.as_str())?)
}

fn binding_for(tenant: &Tenant, purpose: &str) -> Result<Binding, KeyError> {
    Ok(Binding::new(
        key_environment(&tenant.environment)?,
        Some(tenant.id.0),
        Purpose::new(purpose)?,
    ))
}

/// The environment whose KEK wraps system-wide data keys (data of no
/// tenant, such as the details of audit events with no tenant): every
/// keyring has it from creation.
pub const SYSTEM_ENVIRONMENT: &str = "production";

fn system_environment() -> Environment {
    Environment::production()
}

fn key_id_text(id: &[u8; DATA_KEY_ID_LEN]) -> String {
    DataKeyId::from_bytes(*id).to_string()
}

impl Rempart {
    /// The keyring this service uses.
    pub fn keys(&self) -> &KeyVault {
        &self.keys
    }

    /// Uses `keys` as the keyring.
    #[must_use]
    pub fn with_keys(mut self, keys: Arc<KeyVault>) -> Self {
        self.keys = keys;
        self
    }

    /// Enrols a new tenant in the keyring of its environment (adding the
    /// environment's first KEK if it has none). Idempotent.
    pub(crate) fn enroll_tenant(&self, tenant: &Tenant) -> Result<(), KeyError> {
        let environment = key_environment(&tenant.environment)?;
        let at = tenant.created_at;
        self.keys.change(|keyring| {
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
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let draft = Draft::new("offline", action, Outcome::Success).target(target);
        self.audit
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
        let was_sealed = self.keys.is_sealed();
        let keys = Arc::clone(&self.keys);
        let result = tokio::task::spawn_blocking(move || keys.unseal(input))
            .await
            .map_err(|_| ServiceError::Keys(CryptoError::Backend.into()))?;
        let now = self.clock.now();
        match result {
            Ok(status) => {
                if was_sealed && !status.sealed {
                    tracing::info!("keyring unsealed");
                    let draft = Draft::new("anonymous", Action::KeysUnseal, Outcome::Success)
                        .target("keyring");
                    let mut tx = self.store.begin().await?;
                    // The audit public key (not secret), for offline
                    // verification without unsealing.
                    if let Some(key) = crate::audit_key::keyring_public_key(&self.keys) {
                        tx.record_audit_key(&crate::audit_key::key_record(&key, now))
                            .await?;
                    }
                    self.audit.append(tx.as_mut(), ctx, now, draft).await?;
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
        let now = self.clock.now();
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
        let now = self.clock.now();
        let keyring = match self.keys.with_keyring(Keyring::status) {
            Ok(status) => Some(status),
            Err(KeyError::Sealed) => None,
            Err(e) => return Err(e.into()),
        };
        let mut tx = self.store.begin().await?;
        let data_keys = tx.data_key_versions().await?;
        let draft =
            Draft::new(actor.audit_name(), Action::KeysStatus, Outcome::Success).target("keyring");
        self.audit.append(tx.as_mut(), ctx, now, draft).await?;
        tx.commit().await?;
        Ok(KeysStatus {
            seal: self.keys.seal_status(),
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
        let now = self.clock.now();
        let env = key_environment(environment)?;
        let mut tx = self.store.begin().await?;
        // The audit event is written first and committed after the keyring
        // is saved: a failure before the save leaves nothing; a commit that
        // fails after it leaves an unused, harmless KEK version.
        let version = self
            .keys
            .with_keyring(Keyring::status)?
            .environments
            .iter()
            .find(|e| e.environment == env)
            .map_or(1, |e| e.encryption_version.saturating_add(1));
        let draft = Draft::new(actor.audit_name(), Action::KeysRotate, Outcome::Success)
            .target(format!("environment:{environment}/kek:{version}"));
        self.audit.append(tx.as_mut(), ctx, now, draft).await?;
        let version = self.keys.change(|k| Ok(k.rotate(&env, now)?))?;
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
        let now = self.clock.now();
        let env = key_environment(environment)?;
        let version = self
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
        let mut tx = self.store.begin().await?;
        let batch = tx
            .data_keys_to_rewrap(environment.as_str(), version, after.as_ref(), limit)
            .await?;
        let mut rewrapped = 0u64;
        let mut last = None;
        for record in &batch {
            let wrapped =
                WrappedDataKey::from_bytes(record.wrapped.clone()).map_err(KeyError::from)?;
            let new = self.keys.with_keyring(|k| k.rewrap(&wrapped))?;
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
        self.audit.append(tx.as_mut(), ctx, now, draft).await?;
        if rewrapped > 0 {
            // Persist the KEK's wrap counter with the batch.
            self.keys.change(|_| Ok(()))?;
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
        let now = self.clock.now();
        let env = key_environment(environment)?;
        let mut tx = self.store.begin().await?;
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
        self.audit.append(tx.as_mut(), ctx, now, draft).await?;
        self.keys
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
        let now = self.clock.now();
        let audit_target = format!("tenant:{tenant}");
        let mut tx = self.store.begin().await?;
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
        let mut tx = self.store.begin().await?;
        tx.delete_data_keys_of_tenant(tenant).await?;
        let draft = Draft::new(actor.audit_name(), Action::KeysShred, Outcome::Success)
            .target(audit_target)
            .tenant(tenant);
        self.audit.append(tx.as_mut(), ctx, now, draft).await?;
        // Shredded last, just before the commit: if the commit then fails,
        // the tenant's data is unreadable all the same (the intended,
        // irreversible outcome) but its wrapped keys stay in the database.
        self.keys
            .change(|k| Ok(k.shred_tenant(&env, tenant.0, now)?))?;
        tx.commit().await?;
        tracing::warn!(tenant = %tenant, "tenant crypto-shredded");
        Ok(())
    }

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
        let Some(tenant) = tx.tenant(tenant).await? else {
            return Err(ServiceError::TenantNotFound);
        };
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
    /// The caller encrypts and then stores the key's usage count.
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
    /// [`Rempart::tenant_data_key`] otherwise.
    pub(crate) async fn system_data_key(
        &self,
        tx: &mut dyn rempart_store::Tx,
        ctx: &RequestContext,
        now: OffsetDateTime,
        purpose: &str,
    ) -> Result<rempart_crypto::DataKey, ServiceError> {
        self.owned_data_key(tx, ctx, now, None, purpose).await
    }

    async fn owned_data_key(
        &self,
        tx: &mut dyn rempart_store::Tx,
        ctx: &RequestContext,
        now: OffsetDateTime,
        tenant: Option<&Tenant>,
        purpose: &str,
    ) -> Result<rempart_crypto::DataKey, ServiceError> {
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
            let mut draft = Draft::new("system", Action::DataKeyCreate, Outcome::Success)
                .target(format!("data-key:{}/purpose:{purpose}", key_id_text(&id)));
            if let Some(t) = tenant {
                draft = draft.tenant(t.id);
            }
            self.audit.append(tx, ctx, now, draft).await?;
            key
        };
        Ok(key)
    }

    /// Decrypts an envelope made with the system-wide data key for
    /// `purpose`, for the same record.
    pub(crate) async fn decrypt_system(
        &self,
        purpose: &str,
        record: &[u8],
        envelope: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let id = envelope_key_id(envelope).map_err(KeyError::from)?;
        let mut tx = self.store.begin().await?;
        let stored = tx
            .system_data_key_by_id(id.as_bytes())
            .await?
            .ok_or(KeyError::UnknownDataKey)?;
        drop(tx);
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

    /// Decrypts an envelope made by [`Rempart::encrypt_for_tenant`] for the
    /// same tenant, purpose and record. An envelope of another tenant or
    /// environment does not open.
    pub async fn decrypt_for_tenant(
        &self,
        tenant: TenantId,
        purpose: &str,
        record: &[u8],
        envelope: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let id = envelope_key_id(envelope).map_err(KeyError::from)?;
        let mut tx = self.store.begin().await?;
        let Some(tenant) = tx.tenant(tenant).await? else {
            return Err(ServiceError::TenantNotFound);
        };
        let stored = tx
            .data_key_by_id(tenant.id, id.as_bytes())
            .await?
            .ok_or(KeyError::UnknownDataKey)?;
        drop(tx);
        let binding = binding_for(&tenant, purpose)?;
        let wrapped = WrappedDataKey::from_bytes(stored.wrapped).map_err(KeyError::from)?;
        let key = self
            .keys
            .with_keyring(|k| k.unwrap_data_key(&wrapped, &binding, stored.encryptions))?;
        Ok(key.decrypt(record, envelope).map_err(KeyError::from)?)
    }
}
