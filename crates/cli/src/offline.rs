//! Offline commands: they act on the data directory or database directly,
//! and record what they did in the audit log like any other action.

use std::sync::Arc;

use anyhow::Context as _;
use rempart_core::config::Overrides;
use rempart_core::{BootstrapStatus, Config, Rempart, SystemClock};
use rempart_store::Store;
use secrecy::ExposeSecret;

use crate::{ConfigArgs, output};

pub fn load_config(
    args: &ConfigArgs,
    listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<Config> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        database_url: args.database_url.clone(),
        listen,
    };
    Ok(Config::load(
        args.config.as_deref(),
        std::env::vars(),
        &overrides,
    )?)
}

/// Opens the database, creating the data directory (mode 0700) for SQLite
/// and the database file (mode 0600: SQLite gives its WAL and shared-memory
/// files the database file's mode).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if config.uses_data_dir_database() {
        create_data_dir(&config.data_dir)?;
        create_private_file(&config.data_dir.join("rempart.db"))?;
    }
    let store =
        rempart_store::connect(&config.database_url(), config.database.max_connections).await?;
    Ok(store)
}

/// Creates `path` empty with mode 0600 if it does not exist yet.
fn create_private_file(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

fn create_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

pub async fn migrate(args: &ConfigArgs) -> anyhow::Result<()> {
    let config = load_config(args, None)?;
    let store = open_store(&config).await?;
    let status = store.migrate().await;
    store.close().await;
    let status = status?;
    output::line(&if status.applied_any() {
        format!(
            "migrated the schema from version {} to {}",
            status.before, status.after
        )
    } else {
        format!("the schema is up to date (version {})", status.after)
    });
    Ok(())
}

pub async fn reissue_bootstrap(args: &ConfigArgs) -> anyhow::Result<()> {
    let config = load_config(args, None)?;
    let store = open_store(&config).await?;
    store.schema_version().await?.check_current()?;
    let core = Rempart::new(store, Arc::new(SystemClock));
    let status = core.reissue_bootstrap().await;
    core.close().await;
    match status? {
        BootstrapStatus::Issued {
            credential,
            expires_at,
        } => print_credential(credential.expose_secret(), expires_at),
        _ => output::line("an administrator exists already: nothing to reissue"),
    }
    Ok(())
}

/// Shows a bootstrap credential, once, on the terminal (never in a log).
pub fn print_credential(credential: &str, expires_at: time::OffsetDateTime) {
    let expires = expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    output::line("");
    output::line(
        "  No administrator exists yet. This one-time bootstrap credential creates the first one:",
    );
    output::line("");
    output::line(&format!("      {credential}"));
    output::line("");
    output::line(&format!(
        "  It is shown only now, and expires at {expires}. Use it with:"
    ));
    output::line("      rempart bootstrap --administrator you@example.com");
    output::line("");
}
