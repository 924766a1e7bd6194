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
use std::sync::{Mutex, RwLock};

use rempart_crypto::{
    Binding, DataKeyId, Environment as KeyEnvironment, KeyFileProvider, PassphraseProvider,
    Purpose, RootKeyProvider, SealDescription, ShamirProvider,
};
pub use rempart_crypto::{CryptoError, KdfParams, Keyring, KeyringStatus, ShareText};
use rempart_model::{Environment, Tenant};
use rempart_store::{DATA_KEY_ID_LEN, DataKeyVersionCount};
use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use serde::{Deserialize, Serialize};

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

/// Where the root key comes from when the keyring is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyringProvider {
    /// A key file, mode 0600 (zero setup; put it on another disk or use a
    /// KMS in production).
    KeyFile,
    /// A passphrase stretched by Argon2id.
    Passphrase,
    /// k-of-n Shamir shares of the root key.
    Shamir,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyringConfig {
    /// The sealed keyring file; unset: `keyring.rmk` in `data_dir`.
    pub path: Option<PathBuf>,
    /// The root key source used by `rempart init` (or first `serve`).
    pub provider: KeyringProvider,
    /// The root key file (provider `key-file`); unset: `root.key` in `data_dir`.
    pub key_file: Option<PathBuf>,
    /// Shares needed to unseal (provider `shamir`).
    pub shamir_threshold: u8,
    /// Shares handed out (provider `shamir`).
    pub shamir_shares: u8,
}

impl Default for KeyringConfig {
    fn default() -> Self {
        Self {
            path: None,
            provider: KeyringProvider::KeyFile,
            key_file: None,
            shamir_threshold: 3,
            shamir_shares: 5,
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
    /// The source the keyring settings name (a passphrase must be supplied).
    pub fn from_config(
        config: &KeyringConfig,
        passphrase: Option<SecretString>,
    ) -> Result<Self, KeyError> {
        Ok(match config.provider {
            KeyringProvider::KeyFile => Self::KeyFile,
            KeyringProvider::Passphrase => Self::Passphrase {
                passphrase: passphrase.ok_or(KeyError::PassphraseNeeded)?,
                kdf: KdfParams::default(),
            },
            KeyringProvider::Shamir => Self::Shamir {
                threshold: config.shamir_threshold,
                shares: config.shamir_shares,
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

impl crate::kernel::error::DomainError for KeyError {
    fn problem_type(&self) -> crate::kernel::error::ProblemType {
        use crate::kernel::error::{ErrorKind as K, ProblemType};
        match self.kind() {
            KeyErrorKind::Sealed => {
                ProblemType::new(K::Unavailable, "keyring-sealed", "keyring sealed")
            }
            // One unseal attempt (an Argon2id run) takes about a second.
            KeyErrorKind::Busy => ProblemType::new(
                K::TooMany {
                    retry_after_secs: 1,
                },
                "unseal-busy",
                "Unseal in progress",
            ),
            KeyErrorKind::Refused => {
                ProblemType::new(K::BadRequest, "unseal-refused", "The keyring did not open")
            }
            KeyErrorKind::Invalid => ProblemType::new(
                K::Invalid,
                "invalid-key-request",
                "The key request is not valid",
            ),
            KeyErrorKind::Conflict => ProblemType::new(
                K::Conflict,
                "key-state-conflict",
                "The keyring's state does not allow this",
            ),
            KeyErrorKind::Gone => ProblemType::new(
                K::Gone,
                "tenant-shredded",
                "The tenant's keys were shredded",
            ),
            KeyErrorKind::Undecryptable => {
                ProblemType::new(K::Invalid, "undecryptable", "The ciphertext does not open")
            }
            KeyErrorKind::Internal => ProblemType::new(K::Internal, "internal", "Internal error"),
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
        source: &KeyringConfig,
        passphrase: Option<SecretString>,
        now: OffsetDateTime,
    ) -> Result<(Self, bool), KeyError> {
        if location.path.exists() {
            return Ok((Self::load(location, passphrase)?, false));
        }
        let source = match source.provider {
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

pub(crate) fn key_environment(environment: &Environment) -> Result<KeyEnvironment, KeyError> {
    Ok(KeyEnvironment::new(environment.as_str())?)
}

pub(crate) fn binding_for(tenant: &Tenant, purpose: &str) -> Result<Binding, KeyError> {
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

pub(crate) fn system_environment() -> Environment {
    Environment::production()
}

pub(crate) fn key_id_text(id: &[u8; DATA_KEY_ID_LEN]) -> String {
    DataKeyId::from_bytes(*id).to_string()
}
