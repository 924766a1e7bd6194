//! The local provider: a directory on a local or mounted file system.
//!
//! Writes go to a temporary file beside the target (`name#N`) that is
//! renamed over it once complete, and are flushed to disk (file and
//! directory) before they are acknowledged; a failed or dropped upload
//! removes its temporary file. Empty directories are removed after a
//! delete.

use std::path::Path;
use std::sync::Arc;

use object_store::local::LocalFileSystem;

use super::Backend;
use crate::error::ObjectError;

/// Opens the directory `dir`, which must exist: a missing directory (an
/// unmounted volume) is an error, not something to create silently.
pub fn open(dir: &Path) -> Result<Backend, ObjectError> {
    if !dir.is_dir() {
        return Err(ObjectError::Config(format!(
            "the object directory {} does not exist or is not a directory",
            dir.display()
        )));
    }
    let store = LocalFileSystem::new_with_prefix(dir)
        .map_err(|e| {
            ObjectError::Config(format!(
                "the object directory {} cannot be opened: {e}",
                dir.display()
            ))
        })?
        .with_fsync(true)
        .with_automatic_cleanup(true);
    Ok(Backend::new(
        Arc::new(store),
        format!("local directory {}", dir.display()),
    ))
}
