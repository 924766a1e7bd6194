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
    let config = load_config_quietly(args, listen)?;
    for name in &config.ignored_variables {
        output::note(&ignored_variable_warning(name));
    }
    Ok(config)
}

/// The warning for a `REMPART_…` variable that is not configuration.
pub fn ignored_variable_warning(name: &str) -> String {
    format!(
        "warning: ignoring {name}: not a Rempart variable (see docs/configuration.md for the known ones)"
    )
}

/// Loads the configuration, leaving the warnings about ignored variables
/// to the caller (`serve` logs them once logging is set up).
pub fn load_config_quietly(
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
        create_data_dir(config)?;
        create_private_file(&config.data_dir.join("rempart.db"))?;
    }
    let store =
        rempart_store::connect(&config.database_url(), config.database.max_connections).await?;
    Ok(store)
}

/// The service over the configured database, for work done without a
/// server: the schema must be current (`rempart migrate` makes it so).
pub async fn open_core(config: &Config) -> anyhow::Result<Rempart> {
    let store = open_store(config).await?;
    store.schema_version().await?.check_current()?;
    Ok(Rempart::new(store, Arc::new(SystemClock)))
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

/// Creates the data directory (mode 0700) if it does not exist yet.
pub fn create_data_dir(config: &Config) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    let dir = &config.data_dir;
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
    let core = open_core(&config).await?;
    let status = core.reissue_bootstrap().await;
    core.close().await;
    match status? {
        BootstrapStatus::Issued {
            credential,
            expires_at,
        } => show_credential(&config, credential.expose_secret(), expires_at)?,
        _ => output::line("an administrator exists already: nothing to reissue"),
    }
    Ok(())
}

/// The file a bootstrap credential is written to when standard output is
/// not a terminal.
pub const CREDENTIAL_FILE: &str = "bootstrap-credential";

/// Shows a bootstrap credential once, never into a log: printed when
/// standard output is a terminal; otherwise (a service manager's journal,
/// a redirection) written to `data_dir/bootstrap-credential`, mode 0600,
/// and only that file's path printed.
pub fn show_credential(
    config: &Config,
    credential: &str,
    expires_at: time::OffsetDateTime,
) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    let expires = expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if std::io::stdout().is_terminal() {
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
        return Ok(());
    }
    create_data_dir(config)?;
    let path = std::path::absolute(config.data_dir.join(CREDENTIAL_FILE))
        .context("cannot name the bootstrap credential file")?;
    write_private(&path, format!("{credential}\n").as_bytes())?;
    output::line("");
    output::line(
        "  No administrator exists yet. Standard output is not a terminal, so the one-time bootstrap",
    );
    output::line(
        "  credential that creates the first one is not printed: it is in this file, readable by its owner only:",
    );
    output::line("");
    output::line(&format!("      {}", path.display()));
    output::line("");
    output::line(&format!(
        "  It expires at {expires}. Use it, then delete the file:"
    ));
    output::line(&format!(
        "      rempart bootstrap --administrator you@example.com --credential-stdin < {}",
        path.display()
    ));
    output::line("");
    Ok(())
}

/// Writes `bytes` to a new file at `path` readable and writable by its
/// owner only, replacing an older one (a reissued credential).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot replace {}", path.display())),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}
