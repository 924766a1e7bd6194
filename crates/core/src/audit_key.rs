//! The audit signing key until the keyring holds it: an Ed25519 seed
//! generated once, from the operating system's random generator, and kept
//! in the data directory with mode 0600 (invariant 4: it never reaches a
//! log, an error or the API; only its public half is shown).
//!
//! This is a real key behind the audit crate's `Signer` trait; the keyring
//! replaces the file by implementing the same trait.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use rempart_audit::{Ed25519Signer, PublicKey, Signer as _};
use zeroize::Zeroizing;

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "audit-signing.key";

/// Why the key file cannot be used. Never holds key material.
#[derive(Debug, thiserror::Error)]
pub enum AuditKeyError {
    #[error("cannot {action} the audit signing key {path}: {reason}")]
    Io {
        action: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("the audit signing key {path} is not 32 bytes: it is damaged")]
    Malformed { path: PathBuf },
    #[error(
        "the audit signing key {path} can be read by other users (mode {mode:o}); make it 0600"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("the operating system's random generator failed")]
    Random,
    #[error("the audit signing key cannot be loaded: {0}")]
    Signer(String),
}

/// Where the key lives: `configured` if set, else `<data_dir>/audit-signing.key`.
pub fn key_path(data_dir: &Path, configured: Option<&Path>) -> PathBuf {
    configured.map_or_else(|| data_dir.join(KEY_FILE), Path::to_path_buf)
}

/// Loads the key, or creates it on first start. Two processes starting at
/// once agree on one key: the file appears complete or not at all (written
/// aside, then hard-linked into place, which fails if another won).
pub fn load_or_create(path: &Path) -> Result<Ed25519Signer, AuditKeyError> {
    if path.exists() {
        return load(path);
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(seed.as_mut()).map_err(|_| AuditKeyError::Random)?;
    let io = |action, e: std::io::Error| AuditKeyError::Io {
        action,
        path: path.to_owned(),
        reason: e.kind().to_string(),
    };
    let aside = path.with_extension(format!("tmp-{}", std::process::id()));
    {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&aside)
            .map_err(|e| io("create", e))?;
        file.write_all(seed.as_ref()).map_err(|e| io("write", e))?;
        file.sync_all().map_err(|e| io("write", e))?;
    }
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return load(path),
        Err(e) => return Err(io("create", e)),
    }
    Ed25519Signer::from_seed(&seed).map_err(|e| AuditKeyError::Signer(e.reason))
}

/// Loads an existing key; refuses one other users can read.
pub fn load(path: &Path) -> Result<Ed25519Signer, AuditKeyError> {
    let io = |action, e: std::io::Error| AuditKeyError::Io {
        action,
        path: path.to_owned(),
        reason: e.kind().to_string(),
    };
    let meta = std::fs::metadata(path).map_err(|e| io("read", e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(AuditKeyError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| io("read", e))?);
    let seed: Zeroizing<[u8; 32]> =
        Zeroizing::new(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| AuditKeyError::Malformed {
                    path: path.to_owned(),
                })?,
        );
    Ed25519Signer::from_seed(&seed).map_err(|e| AuditKeyError::Signer(e.reason))
}

/// The audit chain `rempart serve` runs with: the key file's signer (created
/// on first start) and the configured checkpoint intervals.
pub fn chain_for(config: &crate::Config) -> Result<crate::audit_log::AuditChain, AuditKeyError> {
    let path = key_path(&config.data_dir, config.audit.signing_key_file.as_deref());
    let signer = load_or_create(&path)?;
    Ok(crate::audit_log::AuditChain::new(
        Some(std::sync::Arc::new(signer)),
        config.audit.checkpoint_every_events,
        time::Duration::seconds(
            i64::try_from(config.audit.checkpoint_every_secs).unwrap_or(i64::MAX),
        ),
    ))
}

/// The public half of the key at `path`.
pub fn public_key(path: &Path) -> Result<PublicKey, AuditKeyError> {
    Ok(load(path)?.public_key())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let a = load_or_create(&path).unwrap().public_key();
        let b = load_or_create(&path).unwrap().public_key();
        assert_eq!(a, b);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(load(&path), Err(AuditKeyError::Malformed { .. })));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(load(&path), Err(AuditKeyError::TooOpen { .. })));
    }
}
