//! `rempart serve`: first start creates everything; later starts reuse it.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use rempart_core::config::LogFormat;
use rempart_core::identity::LoginKey;
use rempart_core::keys::KeyVault;
use rempart_core::{BootstrapStatus, Config, Rempart, SystemClock};
use rempart_model::Action;
use rempart_server::Server;
use secrecy::ExposeSecret;
use secrecy::SecretString;
use tracing_subscriber::EnvFilter;

use crate::offline::{
    create_data_dir, ignored_variable_warning, load_config_quietly, open_store, show_credential,
};
use crate::{ConfigArgs, output};

pub async fn run(args: &ConfigArgs, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let config = load_config_quietly(args, listen)?;
    init_logging(&config);
    for name in &config.ignored_variables {
        tracing::warn!(variable = %name, "{}", ignored_variable_warning(name));
    }
    // Configuration checks first: a bad one creates nothing.
    if let Some(options) = config.audit.ship_options() {
        rempart_core::audit::ship::check(&options).context("audit shipping")?;
    }
    // Then, before anything else and whatever the database: the data
    // directory holds the keyring, the login-name key and the bootstrap
    // credential file (and the SQLite database), private from the start.
    create_data_dir(&config)?;
    let store = open_and_migrate(&config).await?;
    let core = Rempart::new(store, Arc::new(SystemClock))
        .with_identity(identity(&config)?)
        .with_deployment(config.deployment());
    ensure_login_key_shared(&core, &config).await?;
    let (core, vault) = open_keyring(&config, core).await?;
    // Checkpoints are signed by the keyring's audit key; while it is sealed
    // they wait, and the first one due after unsealing covers every event.
    if let Some(key) = core.record_audit_public_key().await? {
        tracing::info!(key_id = %key.key_id(), "audit checkpoints are signed by the keyring's key");
    }
    // While sealed, the key recorded earlier names the signer (shipping).
    let known = core.recorded_audit_public_key().await?;
    let core = core.with_audit(config.audit_chain(vault).with_known_public_key(known));
    // Events are recorded pending in their action's transaction; this task
    // chains them in batches (group commit), see rempart_core::kernel::audit_chain.
    let sequencer = {
        let core = core.clone();
        tokio::spawn(async move { core.run_audit_sequencer().await })
    };
    let checkpoints = tokio::spawn(crate::audit::checkpoint_task(
        core.clone(),
        config.audit.checkpoint_every_secs,
    ));
    let housekeeping = tokio::spawn(housekeeping(core.clone()));
    // A bad sink (URL, CA file, token file) stops the start here, before
    // anything is served.
    let shipper = config
        .audit
        .ship_options()
        .map(|options| rempart_core::audit::ship::Shipper::new(core.clone(), options))
        .transpose()
        .context("audit shipping")?
        .map(Arc::new);
    let shipping = shipper.clone().map(|shipper| {
        tracing::info!(sink = %shipper.sink(), "shipping the audit log");
        tokio::spawn(async move { shipper.run().await })
    });

    match core.ensure_bootstrap().await? {
        BootstrapStatus::Issued {
            credential,
            expires_at,
        } => {
            show_credential(&config, credential.expose_secret(), expires_at)?;
        }
        BootstrapStatus::Pending { expires_at } => {
            tracing::info!(%expires_at, "no administrator yet: the bootstrap credential printed at first start is still valid");
        }
        BootstrapStatus::Expired { expired_at } => {
            tracing::warn!(%expired_at, "no administrator yet and the bootstrap credential expired: run `rempart bootstrap --reissue`");
        }
        BootstrapStatus::AdministratorExists => {}
    }

    let server = Server::bind(&config, core.clone()).await?;
    let scheme = if server.is_tls() { "https" } else { "http" };
    tracing::info!(address = %server.local_addr(), tls = server.is_tls(), "serving");
    if std::io::stderr().is_terminal() {
        output::note(&format!(
            "Rempart is serving on {scheme}://{}",
            server.local_addr()
        ));
    }
    server
        .run(shutdown_signal())
        .await
        .context("the server failed")?;
    checkpoints.abort();
    housekeeping.abort();
    sequencer.abort();
    if let Some(task) = shipping {
        task.abort();
    }
    // Chain what is pending and sign what the last interval left unsigned
    // before stopping.
    if let Err(e) = core.drain_audit().await {
        tracing::warn!(error = %e, "pending audit events not chained; the next start chains them");
    }
    if let Err(e) = core.checkpoint_audit_if_due(true).await {
        tracing::warn!(error = %e, "no final audit checkpoint");
    }
    if let Some(shipper) = &shipper {
        // One last batch, so that the final checkpoint reaches the sink if
        // it answers quickly; what does not go now goes at the next start.
        match tokio::time::timeout(std::time::Duration::from_secs(5), shipper.ship_once()).await {
            Ok(Err(e)) => tracing::warn!(error = %e, "the last audit batch was not shipped"),
            Err(_) => tracing::warn!("the last audit batch timed out; it goes at the next start"),
            Ok(Ok(_)) => {}
        }
        // Let another replica take over at once rather than at lease expiry.
        if let Err(e) = shipper.release().await {
            tracing::warn!(error = %e, "the audit shipping lease was not released");
        }
    }
    core.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The identity settings, with the login-name key that keys the login
/// throttle (beside the keyring; created on first start).
/// The store, migrated to this binary's schema.
async fn open_and_migrate(config: &Config) -> anyhow::Result<Arc<dyn rempart_store::Store>> {
    let store = open_store(config).await?;
    let migrated = store.migrate().await?;
    if migrated.applied_any() {
        tracing::info!(
            from = migrated.before,
            to = migrated.after,
            "migrated the database schema"
        );
    }
    Ok(store)
}

fn identity(config: &Config) -> anyhow::Result<rempart_core::identity::Identity> {
    let path = config.login_key_file();
    let (login_key, created) = LoginKey::load_or_create(&path)?;
    if created {
        tracing::info!(path = %path.display(), "created the login-name key");
    }
    Ok(
        rempart_core::identity::Identity::new(config.identity.clone(), config.password.clone())
            .context("identity.hash_*")?
            .with_admin_sources(config.access.admin_sources().cloned())
            .with_login_key(login_key),
    )
}

/// Refuses to start with another login-name key than the other replicas
/// of this database: failures would be counted apart.
async fn ensure_login_key_shared(core: &Rempart, config: &Config) -> anyhow::Result<()> {
    if core.login_key_matches().await? {
        return Ok(());
    }
    anyhow::bail!(
        "the login-name key {} is not the one the other replicas of this database use: copy theirs here (failures would otherwise be counted apart)",
        config.login_key_file().display()
    )
}

/// Loads the keyring, or creates it on first start (key file, or a
/// passphrase from REMPART_KEYRING_PASSPHRASE). A keyring that needs a
/// passphrase or shares stays sealed until `rempart unseal`.
async fn open_keyring(config: &Config, core: Rempart) -> anyhow::Result<(Rempart, Arc<KeyVault>)> {
    let location = config.keyring_location();
    let passphrase = std::env::var("REMPART_KEYRING_PASSPHRASE")
        .ok()
        .filter(|p| !p.is_empty())
        .map(SecretString::from);
    let (vault, created) = KeyVault::open_or_create(
        location.clone(),
        &config.keyring,
        passphrase,
        core.clock().now(),
    )
    .with_context(|| format!("cannot open the keyring {}", location.path.display()))?;
    if created {
        core.record_offline_key_action(Action::KeysInit, "keyring")
            .await?;
        tracing::info!(path = %location.path.display(), "created the keyring");
        if vault.seal_status().provider == "key-file" {
            tracing::warn!(
                key_file = %location.key_file.display(),
                "the keyring's root key is in a file in the data directory: in production keep it on another disk, or use a KMS"
            );
        }
    }
    if vault.is_sealed() {
        tracing::warn!(
            "the keyring is sealed: run `rempart unseal`; until then /readyz answers 503"
        );
    }
    let vault = Arc::new(vault);
    Ok((core.with_keys(Arc::clone(&vault)), vault))
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_new(&config.log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match config.log.format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// Identity housekeeping: login failure counters idle for a day are
/// forgotten, every ten minutes.
async fn housekeeping(core: Rempart) {
    loop {
        rempart_core::clock::pause(std::time::Duration::from_mins(10)).await;
        match core.purge_login_throttle().await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "forgot idle login failure counters"),
            Err(e) => tracing::warn!(error = %e, "identity housekeeping failed; retrying later"),
        }
    }
}
