//! Crash-safe replacement of small secret files (the sealed keyring).
//!
//! Invariant: a reader sees either the old file or the new one, never a mix,
//! and a failed write leaves the old file intact. The new content goes to a
//! temporary file in the same directory, created with mode 0600, fsynced,
//! renamed over the target, and the directory is fsynced so the rename is
//! durable.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{CryptoError, Result};

/// Opens `path` for writing as a new file readable only by its owner.
pub(crate) fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Atomically replaces `path` with `bytes`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| CryptoError::io("write", path, std::io::ErrorKind::InvalidInput.into()))?;
    let mut suffix = [0u8; 8];
    aws_lc_rs::rand::fill(&mut suffix).map_err(|_| CryptoError::RandomUnavailable)?;
    let suffix = suffix.iter().fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    });
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{suffix}"));
    let tmp = dir.join(tmp_name);

    let result = write_then_rename(&tmp, path, bytes);
    if result.is_err() {
        // Best effort: the old file is untouched whatever happens here.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(&dir)
}

fn write_then_rename(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = create_private(tmp).map_err(|e| CryptoError::io("create", tmp, e))?;
    file.write_all(bytes)
        .map_err(|e| CryptoError::io("write", tmp, e))?;
    file.sync_all()
        .map_err(|e| CryptoError::io("fsync", tmp, e))?;
    drop(file);
    fs::rename(tmp, path).map_err(|e| CryptoError::io("rename over", path, e))
}

fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| CryptoError::io("fsync directory", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn failed_write_leaves_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        write_atomic(&path, b"old").unwrap();
        // Renaming a file over a non-empty directory fails.
        let target = dir.path().join("occupied");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), b"x").unwrap();
        assert!(write_atomic(&target, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2,
            "temp file removed"
        );
    }
}
