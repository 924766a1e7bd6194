//! Keyring commands. `init` and `keys reseal` are offline: they
//! act on the keyring file and record what they did in the audit log.
//! `unseal` talks to the server's unauthenticated unseal endpoint; the other
//! `keys` commands are API clients, authorized and audited like any caller.
//! Secrets (passphrases, shares) are read with masked input or from
//! REMPART_KEYRING_PASSPHRASE, and never echoed; shares are shown once.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use rempart_api::keys::{
    EnvironmentRequest, KeysStatusView, RetireRequest, RetireResponse, RewrapRequest,
    RewrapResponse, RotateResponse, SealStatusView, ShredRequest, ShredResponse, UnsealRequest,
};
use rempart_core::config::KeyringProvider;
use rempart_core::keys::{KeyVault, RootKeySource};
use rempart_core::{Clock as _, Rempart, SystemClock};
use rempart_model::Action;
use secrecy::{ExposeSecret as _, SecretString};

use crate::client::{Client, DEFAULT_SERVER};
use crate::{ClientArgs, ConfigArgs, offline, output};

const PASSPHRASE_VARIABLE: &str = "REMPART_KEYRING_PASSPHRASE";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProviderArg {
    KeyFile,
    Passphrase,
    Shamir,
}

impl From<ProviderArg> for KeyringProvider {
    fn from(p: ProviderArg) -> Self {
        match p {
            ProviderArg::KeyFile => Self::KeyFile,
            ProviderArg::Passphrase => Self::Passphrase,
            ProviderArg::Shamir => Self::Shamir,
        }
    }
}

/// How the new root key is made (`init`, `keys reseal`).
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Root key source [default: keyring.provider, else key-file].
    #[arg(long, value_enum)]
    provider: Option<ProviderArg>,
    /// Shares needed to unseal (shamir) [default: keyring.shamir_threshold].
    #[arg(long)]
    threshold: Option<u8>,
    /// Shares to hand out (shamir) [default: keyring.shamir_shares].
    #[arg(long)]
    shares: Option<u8>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct UnsealArgs {
    /// The server's address [default: http://127.0.0.1:8700].
    #[arg(long, env = "REMPART_URL", value_name = "URL")]
    server: Option<String>,
    /// A PEM CA certificate to trust for the server's TLS certificate.
    #[arg(long, env = "REMPART_CA_CERT", value_name = "FILE")]
    ca_cert: Option<std::path::PathBuf>,
    /// Forget the shares entered so far, then stop.
    #[arg(long)]
    reset: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Key versions, creation dates, usage counts and seal state (never key bytes).
    Status,
    /// Add a key-encryption key version to an environment.
    Rotate {
        #[arg(long)]
        environment: String,
    },
    /// Re-wrap every stored data key under its environment's newest KEK
    /// version (online, resumable: run it again after an interruption).
    Rewrap {
        /// Only this environment [default: all].
        #[arg(long)]
        environment: Option<String>,
        /// Data keys per batch (1 to 1000).
        #[arg(long, default_value_t = 100)]
        batch: u32,
    },
    /// Retire KEK versions below --min-version (rewrap first).
    Retire {
        #[arg(long)]
        environment: String,
        #[arg(long)]
        min_version: u32,
    },
    /// Crypto-shred a tenant: its data and backups become unreadable. Irreversible.
    Shred {
        #[arg(long)]
        tenant: uuid::Uuid,
        /// Repeat the tenant id to confirm.
        #[arg(long, value_name = "TENANT_ID")]
        confirm: String,
    },
    /// Offline: re-seal the keyring under a new key file, passphrase or share split.
    Reseal {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        source: SourceArgs,
    },
}

fn passphrase_from_env() -> Option<SecretString> {
    std::env::var(PASSPHRASE_VARIABLE)
        .ok()
        .filter(|p| !p.is_empty())
        .map(SecretString::from)
}

fn prompt(text: &str) -> anyhow::Result<SecretString> {
    let value = rpassword::prompt_password(text).context("cannot read from the terminal")?;
    Ok(SecretString::from(value.trim().to_owned()))
}

fn new_passphrase() -> anyhow::Result<SecretString> {
    if let Some(p) = passphrase_from_env() {
        return Ok(p);
    }
    let first = prompt("New keyring passphrase (input hidden): ")?;
    if first.expose_secret().chars().count() < 12 {
        bail!("the passphrase is too short: use at least 12 characters");
    }
    let again = prompt("Repeat the passphrase: ")?;
    if first.expose_secret() != again.expose_secret() {
        bail!("the passphrases differ; nothing was changed");
    }
    Ok(first)
}

fn source(config: &rempart_core::Config, args: &SourceArgs) -> anyhow::Result<RootKeySource> {
    let provider = args.provider.map_or(config.keyring.provider, Into::into);
    Ok(match provider {
        KeyringProvider::KeyFile => RootKeySource::KeyFile,
        KeyringProvider::Passphrase => RootKeySource::Passphrase {
            passphrase: new_passphrase()?,
            kdf: rempart_crypto_defaults(),
        },
        KeyringProvider::Shamir => RootKeySource::Shamir {
            threshold: args.threshold.unwrap_or(config.keyring.shamir_threshold),
            shares: args.shares.unwrap_or(config.keyring.shamir_shares),
        },
    })
}

fn rempart_crypto_defaults() -> rempart_core::keys::KdfParams {
    rempart_core::keys::KdfParams::default()
}

fn show_shares(shares: &[rempart_core::keys::ShareText], threshold: usize) {
    if shares.is_empty() {
        return;
    }
    output::line("");
    output::line(&format!(
        "  The root key is split into {} shares; any {threshold} unseal the keyring.",
        shares.len()
    ));
    output::line("  Each is shown only now: give each to a different holder.");
    output::line("");
    for (n, share) in shares.iter().enumerate() {
        output::line(&format!("  Share {}: {}", n + 1, share.expose()));
    }
    output::line("");
}

async fn offline_core(config: &rempart_core::Config) -> anyhow::Result<Rempart> {
    let store = offline::open_store(config).await?;
    store.migrate().await?;
    Ok(Rempart::new(store, Arc::new(SystemClock)))
}

/// `rempart init`: creates the sealed keyring.
pub async fn init(args: InitArgs) -> anyhow::Result<()> {
    let config = offline::load_config(&args.config, None)?;
    let core = offline_core(&config).await?;
    let source = source(&config, &args.source)?;
    let location = config.keyring_location();
    let (vault, shares) = KeyVault::init(location.clone(), &source, SystemClock.now())?;
    let core = core.with_keys(Arc::new(vault));
    core.record_offline_key_action(Action::KeysInit, "keyring")
        .await?;
    // The audit public key (not secret), for offline verification.
    core.record_audit_public_key().await?;
    core.close().await;
    output::line(&format!(
        "Created the keyring {} (production and development KEKs).",
        location.path.display()
    ));
    if let RootKeySource::KeyFile = source {
        output::note(&format!(
            "The root key is in {} (mode 0600). In production keep it on another disk than the data, or use a KMS.",
            location.key_file.display()
        ));
    }
    if let RootKeySource::Shamir { threshold, .. } = source {
        show_shares(&shares, usize::from(threshold));
    }
    Ok(())
}

/// `rempart unseal`: prompts for the passphrase or shares, one by one.
pub async fn unseal(args: UnsealArgs) -> anyhow::Result<()> {
    let server = args.server.unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let client = Client::anonymous(&server, args.ca_cert.as_deref())?;
    let mut status: SealStatusView = client.get("/api/v1/sys/seal-status").await?;
    if args.reset {
        let _: SealStatusView = client
            .post(
                "/api/v1/sys/unseal",
                &UnsealRequest {
                    reset: true,
                    ..UnsealRequest::default()
                },
            )
            .await?;
        output::line("Forgot the shares entered so far.");
        return Ok(());
    }
    while status.sealed {
        status = match status.provider.as_str() {
            "passphrase" => {
                let passphrase = match passphrase_from_env() {
                    Some(p) => p,
                    None => prompt("Keyring passphrase (input hidden): ")?,
                };
                client
                    .post(
                        "/api/v1/sys/unseal",
                        &UnsealRequest {
                            passphrase: Some(passphrase.expose_secret().to_owned()),
                            ..UnsealRequest::default()
                        },
                    )
                    .await?
            }
            "shamir" => {
                let share = prompt(&format!(
                    "Share {} of {} (input hidden): ",
                    status.shares_entered + 1,
                    status.threshold.unwrap_or(0)
                ))?;
                client
                    .post(
                        "/api/v1/sys/unseal",
                        &UnsealRequest {
                            share: Some(share.expose_secret().to_owned()),
                            ..UnsealRequest::default()
                        },
                    )
                    .await?
            }
            other => bail!("this keyring ({other}) is not unsealed through the API"),
        };
    }
    output::line("The keyring is unsealed.");
    Ok(())
}

/// `rempart keys …`.
pub async fn keys(command: KeysCommand, args: &ClientArgs) -> anyhow::Result<()> {
    if let KeysCommand::Reseal { config, source } = &command {
        return reseal(config, source).await;
    }
    let client = Client::from_args(args)?;
    match command {
        KeysCommand::Status => {
            let status: KeysStatusView = client.get("/api/v1/keys").await?;
            print_status(&status, args.json)?;
        }
        KeysCommand::Rotate { environment } => {
            let response: RotateResponse = client
                .post(
                    "/api/v1/keys/rotate",
                    &EnvironmentRequest {
                        environment: environment.clone(),
                    },
                )
                .await?;
            output::line(&format!(
                "{environment}: new KEK version {}; run `rempart keys rewrap` to move stored data keys to it.",
                response.version
            ));
        }
        KeysCommand::Rewrap { environment, batch } => {
            let environments = if let Some(e) = environment {
                vec![e]
            } else {
                let status: KeysStatusView = client.get("/api/v1/keys").await?;
                status
                    .environments
                    .into_iter()
                    .map(|e| e.environment)
                    .collect()
            };
            for environment in environments {
                rewrap(&client, &environment, batch).await?;
            }
        }
        KeysCommand::Retire {
            environment,
            min_version,
        } => {
            let _: RetireResponse = client
                .post(
                    "/api/v1/keys/retire",
                    &RetireRequest {
                        environment: environment.clone(),
                        min_version,
                    },
                )
                .await?;
            output::line(&format!(
                "{environment}: KEK versions below {min_version} are retired."
            ));
        }
        KeysCommand::Shred { tenant, confirm } => {
            let _: ShredResponse = client
                .post("/api/v1/keys/shred", &ShredRequest { tenant, confirm })
                .await?;
            output::line(&format!(
                "Tenant {tenant} is crypto-shredded: its data and backups can no longer be read."
            ));
        }
        KeysCommand::Reseal { .. } => {}
    }
    Ok(())
}

fn print_status(status: &KeysStatusView, json: bool) -> anyhow::Result<()> {
    if json {
        output::line(&serde_json::to_string_pretty(status)?);
        return Ok(());
    }
    output::line(&format!(
        "Keyring: {} ({}){}",
        if status.seal.sealed {
            "sealed"
        } else {
            "unsealed"
        },
        status.seal.provider,
        status
            .tenants_enrolled
            .map(|n| format!(", {n} tenants enrolled"))
            .unwrap_or_default()
    ));
    let rows: Vec<Vec<String>> = status
        .environments
        .iter()
        .flat_map(|e| {
            e.keks.iter().map(|k| {
                vec![
                    e.environment.clone(),
                    k.version.to_string(),
                    output::time(k.created_at),
                    format!("{}/{}", k.wraps, k.wrap_limit),
                    k.stored_data_keys.to_string(),
                    if k.retired {
                        "retired".to_owned()
                    } else if k.version == e.encryption_version {
                        "encrypting".to_owned()
                    } else {
                        "decrypt only".to_owned()
                    },
                ]
            })
        })
        .collect();
    output::table(
        &[
            "ENVIRONMENT",
            "VERSION",
            "CREATED",
            "WRAPS",
            "DATA KEYS",
            "STATE",
        ],
        &rows,
    );
    Ok(())
}

async fn rewrap(client: &Client, environment: &str, batch: u32) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} data keys")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(environment.to_owned());
    let mut after: Option<String> = None;
    let mut done = 0u64;
    loop {
        let response: RewrapResponse = client
            .post(
                "/api/v1/keys/rewrap",
                &RewrapRequest {
                    environment: environment.to_owned(),
                    after: after.clone(),
                    limit: Some(batch),
                },
            )
            .await?;
        done += response.rewrapped;
        bar.set_length(done + response.remaining);
        bar.set_position(done);
        match response.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    bar.finish();
    output::line(&format!(
        "{environment}: {done} data keys re-wrapped; none left under older versions."
    ));
    Ok(())
}

async fn reseal(config_args: &ConfigArgs, args: &SourceArgs) -> anyhow::Result<()> {
    let config = offline::load_config(config_args, None)?;
    let location = config.keyring_location();
    let vault = KeyVault::load(location.clone(), passphrase_from_env())?;
    let status = vault.seal_status();
    if status.sealed {
        match status.provider {
            "passphrase" => {
                let p = prompt("Current keyring passphrase (input hidden): ")?;
                vault.unseal(rempart_core::keys::UnsealInput::Passphrase(p))?;
            }
            "shamir" => {
                let threshold = usize::from(status.threshold.unwrap_or(0));
                let mut shares = Vec::new();
                for n in 1..=threshold {
                    shares.push(prompt(&format!(
                        "Current share {n} of {threshold} (input hidden): "
                    ))?);
                }
                vault.unseal_with_shares(&shares)?;
            }
            _ => bail!("cannot open this keyring"),
        }
    }
    let source = source(&config, args)?;
    let core = offline_core(&config).await?;
    let shares = vault.reseal(&source)?;
    let core = core.with_keys(Arc::new(vault));
    core.record_offline_key_action(Action::KeysReseal, "keyring")
        .await?;
    core.record_audit_public_key().await?;
    core.close().await;
    output::line(&format!(
        "Re-sealed the keyring {} under a new root key; KEKs and data keys are unchanged.",
        location.path.display()
    ));
    if let RootKeySource::Shamir { threshold, .. } = source {
        show_shares(&shares, usize::from(threshold));
        output::line("  The old shares no longer open the keyring.");
    }
    Ok(())
}
