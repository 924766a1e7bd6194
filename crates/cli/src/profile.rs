//! CLI profiles: where a server is and the API token to use with it.
//!
//! `$XDG_CONFIG_HOME/rempart/profiles.toml` (or `~/.config/…`), written
//! with mode 0600 through a temporary file and a rename, so that a token is
//! never readable by another user, even for a moment. A profile file that
//! other users can read is refused, as ssh refuses a readable key.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    profiles: BTreeMap<String, StoredProfile>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredProfile {
    server: String,
    token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ca_cert: Option<PathBuf>,
}

// Tokens are never printed.
rempart_model::debug_fields!(StoredProfile { server, ca_cert });

impl std::fmt::Debug for ProfileFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.profiles.iter()).finish()
    }
}

/// A profile as the client uses it.
#[derive(Debug)]
pub struct Profile {
    pub server: String,
    pub token: SecretString,
    pub ca_cert: Option<PathBuf>,
}

pub fn path() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(
            std::env::var_os("HOME")
                .ok_or_else(|| anyhow!("HOME is not set; set XDG_CONFIG_HOME"))?,
        )
        .join(".config"),
    };
    Ok(base.join("rempart").join("profiles.toml"))
}

fn read(path: &Path) -> anyhow::Result<ProfileFile> {
    let metadata = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ProfileFile::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if metadata.permissions().mode() & 0o077 != 0 {
        bail!(
            "{} is readable by other users; it holds API tokens: run chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        anyhow!(
            "{} is not a valid profile file: {}",
            path.display(),
            e.message()
        )
    })
}

/// Loads a profile by name; `None` if the file or the profile is absent.
pub fn load(name: &str) -> anyhow::Result<Option<Profile>> {
    let file = read(&path()?)?;
    Ok(file.profiles.get(name).map(|p| Profile {
        server: p.server.clone(),
        token: SecretString::from(p.token.clone()),
        ca_cert: p.ca_cert.clone(),
    }))
}

/// Saves a profile (replacing one of the same name), mode 0600.
pub fn save(
    name: &str,
    server: &str,
    token: &str,
    ca_cert: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    let path = path()?;
    let mut file = read(&path)?;
    file.profiles.insert(
        name.to_owned(),
        StoredProfile {
            server: server.to_owned(),
            token: token.to_owned(),
            ca_cert: ca_cert.map(Path::to_path_buf),
        },
    );
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("no directory for {}", path.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let text = toml::to_string_pretty(&file).context("cannot encode the profile file")?;
    let tmp = dir.join(".profiles.toml.tmp");
    let _ = fs::remove_file(&tmp);
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
