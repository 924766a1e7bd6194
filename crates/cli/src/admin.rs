//! Administration commands: clients of the API.

use std::io::Read as _;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use rempart_api::bootstrap::{BootstrapRequest, BootstrapResponse};
use rempart_api::tenants::{CreateTenantRequest, TenantAccessWire, TenantList, TenantView};
use rempart_model::password_policy::PasswordPolicy;
use secrecy::{ExposeSecret, SecretString};

use crate::client::{Client, DEFAULT_SERVER};
use crate::{ClientArgs, ConfigArgs, offline, output, profile};

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The first administrator's login name (usually an e-mail address).
    #[arg(long, value_name = "NAME", required_unless_present = "reissue")]
    administrator: Option<String>,
    /// Read the credential from standard input instead of prompting.
    #[arg(long)]
    credential_stdin: bool,
    /// Offline: issue a new bootstrap credential when the first one was
    /// lost or expired and no administrator exists yet. Acts on the data
    /// directory (or database) directly, and records that it did.
    #[arg(long, conflicts_with_all = ["administrator", "credential_stdin"])]
    reissue: bool,
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    client: ClientArgs,
}

pub async fn bootstrap(args: BootstrapArgs) -> anyhow::Result<()> {
    if args.reissue {
        return offline::reissue_bootstrap(&args.config).await;
    }
    let Some(administrator) = args.administrator.as_deref() else {
        bail!("--administrator is required");
    };
    let credential = if args.credential_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the credential from standard input")?;
        SecretString::from(text.trim().to_owned())
    } else {
        SecretString::from(
            rpassword::prompt_password("Bootstrap credential (input hidden): ")
                .context("cannot read the credential from the terminal")?
                .trim()
                .to_owned(),
        )
    };
    if credential.expose_secret().is_empty() {
        bail!("no credential given");
    }
    let server = args
        .client
        .server
        .clone()
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let client = Client::anonymous(&server, args.client.ca_cert.as_deref())?;
    let response: BootstrapResponse = client
        .post(
            "/api/v1/bootstrap",
            &BootstrapRequest {
                credential: credential.expose_secret().to_owned(),
                administrator: administrator.to_owned(),
            },
        )
        .await?;
    let token = SecretString::from(response.token);
    let saved = profile::save(
        &args.client.profile,
        &server,
        token.expose_secret(),
        args.client.ca_cert.as_deref(),
    )?;
    if args.client.json {
        output::line(&serde_json::to_string(&response.administrator)?);
    } else {
        output::line(&format!(
            "Administrator {} created (id {}).",
            response.administrator.name, response.administrator.id
        ));
        output::line(&format!(
            "Its API token is saved in profile {:?} of {} (mode 0600); it expires at {}.",
            args.client.profile,
            saved.display(),
            output::time(response.token_expires_at)
        ));
        output::line(
            "Before then, create the people who administer Rempart (`rempart user create`, `rempart grant add`), who log in with a password and second factor.",
        );
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Display name, unique regardless of case.
        #[arg(long)]
        name: String,
        /// Residency region, such as us, ca or eu-west-3: its data and
        /// backups stay there.
        #[arg(long)]
        region: String,
        /// Environment: production, development, or one you name.
        #[arg(long, default_value = "production")]
        environment: String,
    },
    /// List the tenants you may read.
    List,
    /// Show a tenant's access settings (password policy, allowed
    /// networks, required MFA).
    Access {
        /// The tenant's id.
        id: String,
    },
    /// Set a tenant's access settings (replaces them all).
    SetAccess {
        /// The tenant's id.
        id: String,
        /// Every user of the tenant must use a second factor.
        #[arg(long)]
        require_mfa: bool,
        /// A network its users may come from (repeat for several; none:
        /// any).
        #[arg(long = "allow", value_name = "CIDR")]
        allow: Vec<String>,
        /// A TOML file of password rules that tighten the baseline (the
        /// `[password]` keys: min_length, history, max_age_days …).
        #[arg(long, value_name = "FILE")]
        policy: Option<std::path::PathBuf>,
    },
}

pub async fn tenant(command: TenantCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let client = Client::from_args(args)?;
    let access = match &command {
        TenantCommand::Access { id } => Some(
            client
                .get::<TenantAccessWire>(&format!("/api/v1/tenants/{id}/access"))
                .await?,
        ),
        TenantCommand::SetAccess {
            id,
            require_mfa,
            allow,
            policy,
        } => {
            let password_policy = match policy {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    let rules: PasswordPolicy = toml::from_str(&text).with_context(|| {
                        format!("{} is not a TOML table of password rules", path.display())
                    })?;
                    Some(rules)
                }
                None => None,
            };
            Some(
                client
                    .put::<_, TenantAccessWire>(
                        &format!("/api/v1/tenants/{id}/access"),
                        &TenantAccessWire {
                            password_policy,
                            allow_list: (!allow.is_empty()).then(|| allow.clone()),
                            require_mfa: *require_mfa,
                        },
                    )
                    .await?,
            )
        }
        _ => None,
    };
    if let Some(access) = access {
        return output::json(&access);
    }
    let tenants = match command {
        TenantCommand::Create {
            name,
            region,
            environment,
        } => {
            let created: TenantView = client
                .post(
                    "/api/v1/tenants",
                    &CreateTenantRequest {
                        name,
                        region,
                        environment,
                    },
                )
                .await?;
            vec![created]
        }
        TenantCommand::List => client.get::<TenantList>("/api/v1/tenants").await?.tenants,
        TenantCommand::Access { .. } | TenantCommand::SetAccess { .. } => Vec::new(),
    };
    if args.json {
        output::line(&serde_json::to_string_pretty(&tenants)?);
    } else {
        let rows: Vec<Vec<String>> = tenants
            .into_iter()
            .map(|t| {
                vec![
                    t.id.to_string(),
                    t.name,
                    t.region,
                    t.environment,
                    output::time(t.created_at),
                    output::time_cell(t.shredded_at),
                ]
            })
            .collect();
        output::table(
            &["ID", "NAME", "REGION", "ENVIRONMENT", "CREATED", "SHREDDED"],
            &rows,
        );
    }
    Ok(())
}
