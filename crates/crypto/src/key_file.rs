//! Root key from a key file (the zero-setup default).
//!
//! The file holds one line, `rempart-root-key-1-<base64url>` (32 bytes,
//! unpadded base64url), is created with mode 0600 and never overwritten, and
//! is refused when group or others may read it. Invariant: the key bytes are
//! only ever held in a zeroizing buffer.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::atomic_file::create_private;
use crate::error::{CryptoError, Result};
use crate::root_key::{ProviderKind, RootKeyProvider};
use crate::secret::{KeyBytes, RootKey};

const PREFIX: &str = "rempart-root-key-1-";

/// A root key read from (or written to) a key file.
#[derive(Debug)]
pub struct KeyFileProvider {
    key: RootKey,
}

impl KeyFileProvider {
    /// Creates `path` with a new random root key; refuses to overwrite.
    pub fn create(path: &Path) -> Result<Self> {
        let key = KeyBytes::random()?;
        let text = Zeroizing::new(format!(
            "{PREFIX}{}\n",
            URL_SAFE_NO_PAD.encode(key.expose())
        ));
        let mut file = create_private(path).map_err(|e| CryptoError::io("create", path, e))?;
        file.write_all(text.as_bytes())
            .map_err(|e| CryptoError::io("write", path, e))?;
        file.sync_all()
            .map_err(|e| CryptoError::io("fsync", path, e))?;
        Ok(Self { key: RootKey(key) })
    }

    /// Reads the root key from `path`.
    pub fn load(path: &Path) -> Result<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| CryptoError::io("read", path, e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(CryptoError::KeyFileTooOpen {
                    path: path.to_path_buf(),
                    mode: mode & 0o777,
                });
            }
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| CryptoError::io("read", path, e))?,
        );
        let malformed = || CryptoError::MalformedKeyFile {
            path: path.to_path_buf(),
        };
        let encoded = text.trim().strip_prefix(PREFIX).ok_or_else(malformed)?;
        let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(encoded).map_err(|_| malformed())?);
        let key = KeyBytes::from_slice(&bytes).ok_or_else(malformed)?;
        Ok(Self { key: RootKey(key) })
    }

    /// A provider for a root key already in memory (tests, migrations).
    pub fn from_root_key(key: RootKey) -> Self {
        Self { key }
    }
}

impl RootKeyProvider for KeyFileProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::KeyFile
    }

    fn new_seal(&self) -> Result<(Vec<u8>, RootKey)> {
        Ok((Vec::new(), self.key.clone()))
    }

    fn unseal(&self, params: &[u8]) -> Result<RootKey> {
        if !params.is_empty() {
            return Err(CryptoError::Malformed {
                what: "keyring header",
                reason: "key-file provider takes no parameters",
            });
        }
        Ok(self.key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_load_gives_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let created = KeyFileProvider::create(&path).unwrap();
        let loaded = KeyFileProvider::load(&path).unwrap();
        assert_eq!(created.key.0.expose(), loaded.key.0.expose());
        assert!(KeyFileProvider::create(&path).is_err(), "never overwrites");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn refuses_world_readable_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        KeyFileProvider::create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            KeyFileProvider::load(&path),
            Err(CryptoError::KeyFileTooOpen { mode: 0o644, .. })
        ));
    }

    #[test]
    fn rejects_malformed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        std::fs::write(&path, "rempart-root-key-1-AAAA\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let err = KeyFileProvider::load(&path).unwrap_err();
        assert!(matches!(err, CryptoError::MalformedKeyFile { .. }));
        assert!(!err.to_string().contains("AAAA"));
    }
}
