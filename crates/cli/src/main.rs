//! `rempart`: the one binary. `serve` runs the server; administration
//! commands are clients of its API (authorized and audited like any other
//! caller); only offline commands (`migrate`, `bootstrap --reissue`,
//! `config`) read the configuration or the data directory directly.

mod admin;
mod audit;
mod client;
mod config_cmd;
mod controls;
mod identity;
mod keys;
mod offline;
mod output;
mod profile;
mod serve;
mod vault;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Rempart makes a SaaS company's security statement true, and proves it.
///
/// Start here: `rempart serve` on a fresh machine creates ./rempart-data,
/// serves on http://127.0.0.1:8700 and prints a one-time bootstrap
/// credential; `rempart bootstrap --administrator you@example.com` turns it
/// into the first administrator and saves its API token in your CLI
/// profile; then `rempart tenant create …`.
#[derive(Debug, Parser)]
#[command(
    name = "rempart",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the configuration comes from (for `serve` and offline commands).
#[derive(Debug, Clone, Args)]
struct ConfigArgs {
    /// The TOML configuration file. Every key can also be set by a
    /// REMPART_… environment variable (see docs/configuration.md).
    #[arg(long, env = "REMPART_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The data directory (default ./rempart-data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Use this database instead of SQLite in the data directory
    /// (postgres://USER@HOST/DATABASE).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

/// How to reach a running server (for administration commands).
#[derive(Debug, Clone, Args)]
struct ClientArgs {
    /// The server's address [default: the profile's, else http://127.0.0.1:8700].
    #[arg(long, env = "REMPART_URL", value_name = "URL", global = true)]
    server: Option<String>,
    /// The CLI profile holding the server address and API token.
    #[arg(
        long,
        env = "REMPART_PROFILE",
        default_value = "default",
        global = true
    )]
    profile: String,
    /// A PEM CA certificate to trust for the server's TLS certificate.
    #[arg(long, env = "REMPART_CA_CERT", value_name = "FILE", global = true)]
    ca_cert: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (creates the data directory and database on first start).
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
        /// Listen on this address instead of the configured one.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Apply database migrations, then exit (offline).
    Migrate {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Check or show the configuration (offline).
    Config {
        #[command(subcommand)]
        command: config_cmd::ConfigCommand,
    },
    /// Create the first administrator from the bootstrap credential that
    /// `rempart serve` printed at first start; saves its API token in the
    /// CLI profile. The credential is read without echo.
    Bootstrap(admin::BootstrapArgs),
    /// Create and list tenants (the organizations whose data Rempart holds).
    Tenant {
        #[command(subcommand)]
        command: admin::TenantCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The tamper-evident audit log: verify it (from the database or an
    /// export), export it, search it, print its verification key.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Create the sealed keyring (offline): root key from a key file, a
    /// passphrase (prompted, or REMPART_KEYRING_PASSPHRASE), or k-of-n
    /// Shamir shares shown once.
    Init(keys::InitArgs),
    /// Unseal the server's keyring: prompts for the passphrase, or for the
    /// shares one by one (input hidden).
    Unseal(keys::UnsealArgs),
    /// Key status, rotation, re-wrapping, retirement, re-sealing and
    /// crypto-shredding.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Logs in (password, then a second factor) and saves the session.
    Login(identity::LoginArgs),
    /// Ends the profile's session.
    Logout {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Changes your own password.
    Password(identity::SecretArgs),
    /// Proves your identity again before a sensitive action.
    StepUp(identity::SecretArgs),
    /// Accounts: staff, tenant users, service accounts.
    User {
        #[command(subcommand)]
        command: identity::UserCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Roles and their permissions.
    Role {
        #[command(subcommand)]
        command: identity::RoleCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Grants of roles in scopes.
    Grant {
        #[command(subcommand)]
        command: identity::GrantCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: identity::TokenCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Second factors.
    Mfa {
        #[command(subcommand)]
        command: identity::MfaCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Login sessions.
    Session {
        #[command(subcommand)]
        command: identity::SessionCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The controls of the security statement, checked against live state.
    Controls {
        #[command(subcommand)]
        command: controls::ControlsCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The customer-data vault: collections, records, searches, and
    /// data-subject requests (export, erasure).
    Vault {
        #[command(subcommand)]
        command: vault::VaultCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return output::fail(&anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { config, listen } => serve::run(&config, listen).await,
            Command::Migrate { config } => offline::migrate(&config).await,
            Command::Config { command } => config_cmd::run(command),
            Command::Bootstrap(args) => admin::bootstrap(args).await,
            Command::Tenant { command, client } => admin::tenant(command, &client).await,
            Command::Audit { command } => audit::run(command).await,
            Command::Init(args) => keys::init(args).await,
            Command::Unseal(args) => keys::unseal(args).await,
            Command::Keys { command, client } => keys::keys(command, &client).await,
            Command::Login(args) => identity::login(args).await,
            Command::Logout { client } => identity::logout(&client).await,
            Command::Password(args) => identity::password(args).await,
            Command::StepUp(args) => identity::step_up(args).await,
            Command::User { command, client } => identity::user(command, &client).await,
            Command::Role { command, client } => identity::role(command, &client).await,
            Command::Grant { command, client } => identity::grant(command, &client).await,
            Command::Token { command, client } => identity::token(command, &client).await,
            Command::Mfa { command, client } => identity::mfa(command, &client).await,
            Command::Session { command, client } => identity::session(command, &client).await,
            Command::Controls { command, client } => controls::controls(command, &client).await,
            Command::Vault { command, client } => vault::vault(command, &client).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => output::fail(&e),
    }
}
