//! Configuration: one TOML file, every key overridable by a `REMPART_…`
//! environment variable, then by command-line flags.
//!
//! Bad configuration changes nothing (invariant 5): an unknown key, a value
//! of the wrong type, or an impossible value is refused with the key's name
//! and what was expected, before anything starts. Every key is listed in
//! [`KEYS`] with its environment variable, and documented in
//! `docs/configuration.md` (a test keeps the two in step).

pub use crate::kernel::keyring::{KeyringConfig, KeyringProvider};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rempart_model::AllowList;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite database and, later, the keyring and local backups live.
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    pub access: AccessConfig,
    pub log: LogConfig,
    pub audit: AuditConfig,
    pub keyring: KeyringConfig,
    /// Login, sessions, lockout, MFA, separation of duties.
    pub identity: crate::identity::IdentityConfig,
    /// The password policy for staff, and every tenant's baseline.
    pub password: rempart_model::password_policy::PasswordPolicy,
    /// `REMPART_…` variables that are neither a key nor a near miss of
    /// one (a user's own scripts may set such): ignored, and warned about
    /// by whoever loaded the configuration.
    #[serde(skip)]
    pub ignored_variables: Vec<String>,
}

/// The audit log: checkpoint intervals and the signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Sign a checkpoint every this many events.
    pub checkpoint_every_events: u64,
    /// Sign a checkpoint when the last one is this many seconds old and
    /// events follow it.
    pub checkpoint_every_secs: u64,
    /// The HTTPS sink the log is shipped to as it grows; unset: no shipping.
    pub ship_url: Option<String>,
    /// PEM CA certificate(s) the sink's certificate must chain to, instead
    /// of the system's roots.
    pub ship_ca_file: Option<PathBuf>,
    /// Events per batch at most (back-pressure: one batch in flight).
    pub ship_batch_size: u32,
    /// A file holding the bearer token sent to the sink; never logged.
    pub ship_auth_header_file: Option<PathBuf>,
}

impl AuditConfig {
    /// The shipping options this section asks for; `None` when no sink is
    /// configured.
    pub fn ship_options(&self) -> Option<crate::audit::ship::ShipOptions> {
        let url = self.ship_url.as_ref()?;
        let mut options = crate::audit::ship::ShipOptions::new(url.clone());
        options.ca_file.clone_from(&self.ship_ca_file);
        options.token_file.clone_from(&self.ship_auth_header_file);
        options.batch_size = self.ship_batch_size;
        Some(options)
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_every_events: 1000,
            checkpoint_every_secs: 60,
            ship_url: None,
            ship_ca_file: None,
            ship_batch_size: 500,
            ship_auth_header_file: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://…` to use PostgreSQL; empty for SQLite in `data_dir`.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// A TLS-terminating proxy sits in front: a non-loopback address may
    /// then listen without TLS. Needs the proxy in `trusted_proxies`.
    pub behind_tls_proxy: bool,
    /// The proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are
    /// believed; empty: none, the peer of the connection is the client.
    pub trusted_proxies: AllowList,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
}

/// Who may reach what, by source address (control NS-3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// The sources the admin plane accepts; empty: any source. Read it
    /// through [`AccessConfig::admin_sources`], which says so explicitly.
    pub admin_allow_list: AllowList,
}

impl AccessConfig {
    /// The allow-list of the admin plane: `None` when none is configured
    /// (any source), never an empty list meaning "everyone".
    pub fn admin_sources(&self) -> Option<&AllowList> {
        (!self.admin_allow_list.is_empty()).then_some(&self.admin_allow_list)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when standard error is not a terminal, text when it is.
    Auto,
    Json,
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter, such as `info` or `rempart_server=debug,info`.
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("rempart-data"),
            database: DatabaseConfig::default(),
            server: ServerConfig::default(),
            access: AccessConfig::default(),
            log: LogConfig::default(),
            audit: AuditConfig::default(),
            keyring: KeyringConfig::default(),
            identity: crate::identity::IdentityConfig::default(),
            password: rempart_model::password_policy::PasswordPolicy::default(),
            ignored_variables: Vec::new(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_connections: 10,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            behind_tls_proxy: false,
            trusted_proxies: AllowList::none(),
            tls_cert_file: None,
            tls_key_file: None,
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 30,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            level: "info".to_owned(),
        }
    }
}

/// The kind of value a key holds, to parse environment variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    String,
    Integer,
    Boolean,
    /// A list of strings; in a variable, comma-separated.
    List,
}

/// A configuration key: its dotted path, environment variable, kind, and
/// whether it can hold a secret (redacted by `config show`).
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub path: &'static str,
    pub env: &'static str,
    pub kind: KeyKind,
    pub secret: bool,
}

const fn key(path: &'static str, env: &'static str, kind: KeyKind, secret: bool) -> Key {
    Key {
        path,
        env,
        kind,
        secret,
    }
}

/// Every configuration key.
pub const KEYS: &[Key] = &[
    key("data_dir", "REMPART_DATA_DIR", KeyKind::String, false),
    key(
        "database.url",
        "REMPART_DATABASE_URL",
        KeyKind::String,
        true,
    ),
    key(
        "database.max_connections",
        "REMPART_DATABASE_MAX_CONNECTIONS",
        KeyKind::Integer,
        false,
    ),
    key(
        "server.listen",
        "REMPART_SERVER_LISTEN",
        KeyKind::String,
        false,
    ),
    key(
        "server.behind_tls_proxy",
        "REMPART_SERVER_BEHIND_TLS_PROXY",
        KeyKind::Boolean,
        false,
    ),
    key(
        "server.trusted_proxies",
        "REMPART_SERVER_TRUSTED_PROXIES",
        KeyKind::List,
        false,
    ),
    key(
        "server.tls_cert_file",
        "REMPART_SERVER_TLS_CERT_FILE",
        KeyKind::String,
        false,
    ),
    key(
        "server.tls_key_file",
        "REMPART_SERVER_TLS_KEY_FILE",
        KeyKind::String,
        false,
    ),
    key(
        "server.body_limit_bytes",
        "REMPART_SERVER_BODY_LIMIT_BYTES",
        KeyKind::Integer,
        false,
    ),
    key(
        "server.request_timeout_secs",
        "REMPART_SERVER_REQUEST_TIMEOUT_SECS",
        KeyKind::Integer,
        false,
    ),
    key(
        "server.shutdown_grace_secs",
        "REMPART_SERVER_SHUTDOWN_GRACE_SECS",
        KeyKind::Integer,
        false,
    ),
    key(
        "access.admin_allow_list",
        "REMPART_ACCESS_ADMIN_ALLOW_LIST",
        KeyKind::List,
        false,
    ),
    key("log.format", "REMPART_LOG_FORMAT", KeyKind::String, false),
    key("log.level", "REMPART_LOG_LEVEL", KeyKind::String, false),
    key(
        "audit.checkpoint_every_events",
        "REMPART_AUDIT_CHECKPOINT_EVERY_EVENTS",
        KeyKind::Integer,
        false,
    ),
    key(
        "audit.checkpoint_every_secs",
        "REMPART_AUDIT_CHECKPOINT_EVERY_SECS",
        KeyKind::Integer,
        false,
    ),
    key(
        "keyring.path",
        "REMPART_KEYRING_PATH",
        KeyKind::String,
        false,
    ),
    key(
        "keyring.provider",
        "REMPART_KEYRING_PROVIDER",
        KeyKind::String,
        false,
    ),
    key(
        "keyring.key_file",
        "REMPART_KEYRING_KEY_FILE",
        KeyKind::String,
        false,
    ),
    key(
        "keyring.shamir_threshold",
        "REMPART_KEYRING_SHAMIR_THRESHOLD",
        KeyKind::Integer,
        false,
    ),
    key(
        "keyring.shamir_shares",
        "REMPART_KEYRING_SHAMIR_SHARES",
        KeyKind::Integer,
        false,
    ),
    key(
        "audit.ship_url",
        "REMPART_AUDIT_SHIP_URL",
        KeyKind::String,
        false,
    ),
    key(
        "audit.ship_ca_file",
        "REMPART_AUDIT_SHIP_CA_FILE",
        KeyKind::String,
        false,
    ),
    key(
        "audit.ship_batch_size",
        "REMPART_AUDIT_SHIP_BATCH_SIZE",
        KeyKind::Integer,
        false,
    ),
    key(
        "audit.ship_auth_header_file",
        "REMPART_AUDIT_SHIP_AUTH_HEADER_FILE",
        KeyKind::String,
        false,
    ),
    key(
        "identity.hash_memory_kib",
        "REMPART_IDENTITY_HASH_MEMORY_KIB",
        KeyKind::Integer,
        false,
    ),
    key(
        "identity.hash_iterations",
        "REMPART_IDENTITY_HASH_ITERATIONS",
        KeyKind::Integer,
        false,
    ),
    key(
        "identity.hash_parallelism",
        "REMPART_IDENTITY_HASH_PARALLELISM",
        KeyKind::Integer,
        false,
    ),
    key(
        "identity.hash_concurrency",
        "REMPART_IDENTITY_HASH_CONCURRENCY",
        KeyKind::Integer,
        false,
    ),
    key(
        "identity.session_idle_secs",
        "REMPART_IDENTITY_SESSION_IDLE_SECS",
        KeyKind::Integer,
        false,
    ),
    key(
        "identity.session_absolute_secs",
        "REMPART_IDENTITY_SESSION_ABSOLUTE_SECS",
        KeyKind::Integer,
        false,
    ),
    key(
        "identity.step_up_secs",
        "REMPART_IDENTITY_STEP_UP_SECS",
        KeyKind::Integer,
        false,
    ),
    key(
        "identity.lockout_attempts",
        "REMPART_IDENTITY_LOCKOUT_ATTEMPTS",
        KeyKind::Integer,
        false,
    ),
    key(
        "identity.source_attempts",
        "REMPART_IDENTITY_SOURCE_ATTEMPTS",
        KeyKind::Integer,
        false,
    ),
    key(
        "identity.lockout_window_secs",
        "REMPART_IDENTITY_LOCKOUT_WINDOW_SECS",
        KeyKind::Integer,
        false,
    ),
    key(
        "identity.lockout_secs",
        "REMPART_IDENTITY_LOCKOUT_SECS",
        KeyKind::Integer,
        false,
    ),
    key(
        "identity.mfa_issuer",
        "REMPART_IDENTITY_MFA_ISSUER",
        KeyKind::String,
        false,
    ),
    key(
        "identity.tenant_mfa_required",
        "REMPART_IDENTITY_TENANT_MFA_REQUIRED",
        KeyKind::Boolean,
        false,
    ),
    key(
        "identity.separation_of_duties",
        "REMPART_IDENTITY_SEPARATION_OF_DUTIES",
        KeyKind::String,
        false,
    ),
    key(
        "identity.break_glass_max",
        "REMPART_IDENTITY_BREAK_GLASS_MAX",
        KeyKind::Integer,
        false,
    ),
    key(
        "password.min_length",
        "REMPART_PASSWORD_MIN_LENGTH",
        KeyKind::Integer,
        false,
    ),
    key(
        "password.max_length",
        "REMPART_PASSWORD_MAX_LENGTH",
        KeyKind::Integer,
        false,
    ),
    key(
        "password.min_strength",
        "REMPART_PASSWORD_MIN_STRENGTH",
        KeyKind::Integer,
        false,
    ),
    key(
        "password.reject_common",
        "REMPART_PASSWORD_REJECT_COMMON",
        KeyKind::Boolean,
        false,
    ),
    key(
        "password.reject_identifier",
        "REMPART_PASSWORD_REJECT_IDENTIFIER",
        KeyKind::Boolean,
        false,
    ),
    key(
        "password.history",
        "REMPART_PASSWORD_HISTORY",
        KeyKind::Integer,
        false,
    ),
    key(
        "password.max_age_days",
        "REMPART_PASSWORD_MAX_AGE_DAYS",
        KeyKind::Integer,
        false,
    ),
    key(
        "password.require_lowercase",
        "REMPART_PASSWORD_REQUIRE_LOWERCASE",
        KeyKind::Boolean,
        false,
    ),
    key(
        "password.require_uppercase",
        "REMPART_PASSWORD_REQUIRE_UPPERCASE",
        KeyKind::Boolean,
        false,
    ),
    key(
        "password.require_digit",
        "REMPART_PASSWORD_REQUIRE_DIGIT",
        KeyKind::Boolean,
        false,
    ),
    key(
        "password.require_symbol",
        "REMPART_PASSWORD_REQUIRE_SYMBOL",
        KeyKind::Boolean,
        false,
    ),
    key(
        "identity.webauthn_rp_id",
        "REMPART_IDENTITY_WEBAUTHN_RP_ID",
        KeyKind::String,
        false,
    ),
    key(
        "identity.webauthn_origin",
        "REMPART_IDENTITY_WEBAUTHN_ORIGIN",
        KeyKind::String,
        false,
    ),
];

/// `REMPART_…` variables that are not configuration keys: the CLI's own
/// client settings.
pub const CLIENT_VARIABLES: &[&str] = &[
    "REMPART_URL",
    "REMPART_TOKEN",
    "REMPART_CONFIG",
    "REMPART_PROFILE",
    "REMPART_CA_CERT",
    // The keyring passphrase, for automation: a secret, never a config key.
    "REMPART_KEYRING_PASSPHRASE",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    /// A `REMPART_…` variable that is not a key but nearly spells one: a
    /// typo that would silently leave the default in place.
    #[error(
        "{name} is not a known variable; did you mean {resembles}? (see docs/configuration.md)"
    )]
    NearMissVariable {
        name: String,
        resembles: &'static str,
    },
    #[error("{env} (the key {key}): expected {expected}, found {found:?}")]
    BadVariable {
        env: String,
        key: String,
        expected: &'static str,
        found: String,
    },
    #[error("{key}: {message}")]
    Impossible { key: &'static str, message: String },
}

/// Command-line overrides, applied last.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<SocketAddr>,
}

impl Config {
    /// Loads the configuration: defaults, then the file (if any), then
    /// `REMPART_…` variables from `env`, then `overrides`; and validates it.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let (mut table, origin) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
                    path: path.to_owned(),
                    reason: e.kind().to_string(),
                })?;
                let table: toml::Table =
                    toml::from_str(&text).map_err(|e| ConfigError::Invalid {
                        origin: path.display().to_string(),
                        message: one_line(&e.to_string()),
                    })?;
                // Check the file alone first, so its errors point at its lines.
                Self::from_table(table.clone(), &path.display().to_string())?;
                (table, path.display().to_string())
            }
            None => (toml::Table::new(), "configuration".to_owned()),
        };
        let ignored = apply_env(&mut table, env)?;
        let mut config = Self::from_table(table, &origin)?;
        config.ignored_variables = ignored;
        if let Some(dir) = &overrides.data_dir {
            config.data_dir.clone_from(dir);
        }
        if let Some(url) = &overrides.database_url {
            config.database.url.clone_from(url);
        }
        if let Some(listen) = overrides.listen {
            config.server.listen = listen;
        }
        config.validate()?;
        Ok(config)
    }

    fn from_table(table: toml::Table, origin: &str) -> Result<Self, ConfigError> {
        Config::deserialize(table).map_err(|e| ConfigError::Invalid {
            origin: origin.to_owned(),
            message: one_line(&e.to_string()),
        })
    }

    /// The checks that types alone cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let impossible = |key, message: &str| {
            Err(ConfigError::Impossible {
                key,
                message: message.to_owned(),
            })
        };
        if self.data_dir.as_os_str().is_empty() {
            return impossible(
                "data_dir",
                "expected a directory path, found an empty string",
            );
        }
        let url = &self.database.url;
        if !(url.is_empty()
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:"))
        {
            return impossible(
                "database.url",
                "expected postgres://USER@HOST/DATABASE, sqlite://PATH, or empty for SQLite in data_dir",
            );
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            return impossible(
                "database.max_connections",
                "expected an integer from 1 to 1000",
            );
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.server.body_limit_bytes) {
            return impossible(
                "server.body_limit_bytes",
                "expected an integer from 1024 to 67108864 (64 MiB)",
            );
        }
        if !(1..=3600).contains(&self.server.request_timeout_secs) {
            return impossible(
                "server.request_timeout_secs",
                "expected an integer from 1 to 3600",
            );
        }
        if self.server.shutdown_grace_secs > 3600 {
            return impossible(
                "server.shutdown_grace_secs",
                "expected an integer from 0 to 3600",
            );
        }
        match (&self.server.tls_cert_file, &self.server.tls_key_file) {
            (Some(_), None) => {
                return impossible(
                    "server.tls_key_file",
                    "expected a key file to go with server.tls_cert_file",
                );
            }
            (None, Some(_)) => {
                return impossible(
                    "server.tls_cert_file",
                    "expected a certificate file to go with server.tls_key_file",
                );
            }
            _ => {}
        }
        if !self.server.listen.ip().is_loopback()
            && !self.tls_enabled()
            && !self.server.behind_tls_proxy
        {
            return impossible(
                "server.listen",
                "refusing to listen on a non-loopback address without TLS: set server.tls_cert_file and server.tls_key_file, or set server.behind_tls_proxy = true if a TLS-terminating proxy is in front",
            );
        }
        self.validate_proxies()?;
        self.validate_audit_and_keyring()?;
        if let Err((key, message)) = self.identity.validate(&self.password) {
            return impossible(key, &message);
        }
        if let Err(e) = self.log.level.parse::<tracing_filter::Directives>() {
            return impossible("log.level", &e);
        }
        Ok(())
    }

    /// A declared TLS proxy must be trusted, or every request would seem to
    /// come from it over plain HTTP; and trusting every address would let
    /// any client name its own source.
    fn validate_proxies(&self) -> Result<(), ConfigError> {
        let proxies = &self.server.trusted_proxies;
        if self.server.behind_tls_proxy && proxies.is_empty() {
            return Err(ConfigError::Impossible {
                key: "server.trusted_proxies",
                message: "server.behind_tls_proxy = true needs the proxy's address here (for example [\"10.0.0.5\"]), so that its X-Forwarded-For and X-Forwarded-Proto are believed".to_owned(),
            });
        }
        if let Some(everything) = proxies.entries().iter().find(|net| net.prefix_len() == 0) {
            return Err(ConfigError::Impossible {
                key: "server.trusted_proxies",
                message: format!(
                    "{everything} trusts every address, so any client could choose the source address Rempart records; list the proxies' own addresses or networks"
                ),
            });
        }
        Ok(())
    }

    fn validate_audit_and_keyring(&self) -> Result<(), ConfigError> {
        let impossible = |key, message: &str| {
            Err(ConfigError::Impossible {
                key,
                message: message.to_owned(),
            })
        };
        if !(1..=10_000_000).contains(&self.audit.checkpoint_every_events) {
            return impossible(
                "audit.checkpoint_every_events",
                "expected an integer from 1 to 10000000",
            );
        }
        if !(1..=86_400).contains(&self.audit.checkpoint_every_secs) {
            return impossible(
                "audit.checkpoint_every_secs",
                "expected an integer from 1 to 86400 (one day)",
            );
        }
        let (k, n) = (self.keyring.shamir_threshold, self.keyring.shamir_shares);
        if !(2..=n).contains(&k) {
            return impossible(
                "keyring.shamir_threshold",
                "expected 2 <= keyring.shamir_threshold <= keyring.shamir_shares",
            );
        }
        if let Some(url) = &self.audit.ship_url
            && let Err(e) = crate::audit::ship::sink_url(url)
        {
            return impossible("audit.ship_url", &e.to_string());
        }
        if !(1..=crate::audit::ship::MAX_BATCH_SIZE).contains(&self.audit.ship_batch_size) {
            return impossible(
                "audit.ship_batch_size",
                "expected an integer from 1 to 10000",
            );
        }
        Ok(())
    }

    pub fn tls_enabled(&self) -> bool {
        self.server.tls_cert_file.is_some() && self.server.tls_key_file.is_some()
    }

    /// The database URL to open: the configured one, or SQLite in
    /// `data_dir`.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("rempart.db").display())
        } else {
            self.database.url.clone()
        }
    }

    /// The sealed keyring file.
    /// The audit chain `rempart serve` runs with: signed by the keyring's
    /// key (when open), with the configured checkpoint intervals.
    pub fn audit_chain(
        &self,
        vault: std::sync::Arc<crate::kernel::keyring::KeyVault>,
    ) -> crate::kernel::audit_chain::AuditChain {
        crate::kernel::audit_chain::AuditChain::with_keyring(
            vault,
            self.audit.checkpoint_every_events,
            time::Duration::seconds(
                i64::try_from(self.audit.checkpoint_every_secs).unwrap_or(i64::MAX),
            ),
        )
    }

    /// Where the sealed keyring and its key file live.
    pub fn keyring_location(&self) -> crate::kernel::keyring::KeyringLocation {
        crate::kernel::keyring::KeyringLocation {
            path: self.keyring_path(),
            key_file: self.keyring_key_file(),
        }
    }

    /// How this replica is deployed, as the control checks see it.
    pub fn deployment(&self) -> crate::controls::Deployment {
        crate::controls::Deployment {
            tls: self.tls_enabled(),
            behind_tls_proxy: self.server.behind_tls_proxy,
            listens_on_loopback: self.server.listen.ip().is_loopback(),
            audit_sinks: self.audit.ship_url.iter().cloned().collect(),
            checkpoint_every_secs: self.audit.checkpoint_every_secs,
        }
    }

    pub fn keyring_path(&self) -> PathBuf {
        self.keyring
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keyring.rmk"))
    }

    /// The root key file (provider `key-file`).
    pub fn keyring_key_file(&self) -> PathBuf {
        self.keyring
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("root.key"))
    }

    /// The login-name key (HMAC key of the login throttle): beside the
    /// keyring, and shared by replicas like it.
    pub fn login_key_file(&self) -> PathBuf {
        self.keyring_path().with_file_name("login.key")
    }

    /// Whether the state lives in `data_dir` (SQLite) rather than a server.
    pub fn uses_data_dir_database(&self) -> bool {
        self.database.url.is_empty()
    }

    /// The effective configuration as TOML, with secrets redacted.
    pub fn show_redacted(&self) -> String {
        let mut shown = self.clone();
        if !shown.database.url.is_empty() {
            shown.database.url = rempart_store::redact_url(&shown.database.url);
        }
        let mut text = toml::to_string_pretty(&shown).unwrap_or_default();
        if self.server.tls_cert_file.is_none() {
            let _ = writeln!(
                text,
                "\n# server.tls_cert_file and server.tls_key_file are not set: no TLS"
            );
        }
        text
    }
}

/// Applies `REMPART_…` variables to `table`, and answers the names of
/// those it ignored. A variable that is not a key but nearly spells one
/// (see [`near_miss`]) is refused, naming the key, so that a typo does not
/// silently leave a default in place; any other unknown variable (a path
/// a user's own scripts keep, say) is ignored, for the caller to warn.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, ConfigError> {
    let mut ignored = Vec::new();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with("REMPART_"))
        .filter(|(name, _)| !CLIENT_VARIABLES.contains(&name.as_str()))
        .filter(|(name, _)| !name.starts_with("REMPART_TEST_"))
        .collect();
    vars.sort();
    for (name, raw) in vars {
        let Some(key) = KEYS.iter().find(|k| k.env == name) else {
            if let Some(resembles) = near_miss(&name) {
                return Err(ConfigError::NearMissVariable { name, resembles });
            }
            ignored.push(name);
            continue;
        };
        let bad = |expected| ConfigError::BadVariable {
            env: name.clone(),
            key: key.path.to_owned(),
            expected,
            found: if key.secret {
                "(redacted)".to_owned()
            } else {
                raw.clone()
            },
        };
        let value = match key.kind {
            KeyKind::String => toml::Value::String(raw.clone()),
            KeyKind::Integer => {
                toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?)
            }
            KeyKind::Boolean => toml::Value::Boolean(match raw.trim() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err(bad("true or false")),
            }),
            KeyKind::List => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| toml::Value::String(item.to_owned()))
                    .collect(),
            ),
        };
        set_path(table, key.path, value);
    }
    Ok(ignored)
}

/// The known variable `name` nearly spells, if any: the same letters in
/// another case, or at most two edits (one for a short name) away, an
/// edit being a letter added, dropped, changed, or two swapped. Names are
/// compared after the `REMPART_` prefix, which every candidate shares.
pub fn near_miss(name: &str) -> Option<&'static str> {
    let typed = name
        .strip_prefix("REMPART_")
        .unwrap_or(name)
        .to_ascii_uppercase();
    let allowed = if typed.chars().count() <= 4 { 1 } else { 2 };
    KEYS.iter()
        .map(|k| k.env)
        .chain(CLIENT_VARIABLES.iter().copied())
        .filter(|known| *known != name)
        .map(|known| {
            let suffix = known.strip_prefix("REMPART_").unwrap_or(known);
            (edit_distance(&typed, suffix), known)
        })
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// The optimal string alignment distance between `a` and `b`
/// (Levenshtein with adjacent swaps), over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Two rows of the dynamic programme back: one for edits, two for swaps.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let left = row.last().copied().unwrap_or(usize::MAX);
            let up = previous.get(j + 1).copied().unwrap_or(usize::MAX);
            let diagonal = previous.get(j).copied().unwrap_or(usize::MAX);
            let mut best = (left + 1).min(up + 1).min(diagonal + cost);
            let swapped = i > 0 && j > 0 && a.get(i - 1) == Some(cb) && b.get(j - 1) == Some(ca);
            if swapped && let Some(two_back) = before.get(j - 1) {
                best = best.min(two_back + 1);
            }
            row.push(best);
        }
        before = std::mem::replace(&mut previous, row);
    }
    previous.get(b.len()).copied().unwrap_or(usize::MAX)
}

fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) {
    match path.split_once('.') {
        None => {
            table.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = table
                .entry(head.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = entry {
                set_path(inner, rest, value);
            }
        }
    }
}

/// TOML errors span several lines with a caret; keep them to one line for
/// a CLI's one-line reason, with the position.
fn one_line(message: &str) -> String {
    let mut parts = message.lines().map(str::trim).filter(|l| {
        !l.is_empty() && !l.starts_with('|') && !l.chars().all(|c| c == '^' || c == ' ')
    });
    let first = parts.next().unwrap_or_default().to_owned();
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        first
    } else {
        format!("{first} {}", rest.join(" "))
    }
}

mod tracing_filter {
    //! A minimal check of a log filter, so that `log.level` is refused at
    //! load time rather than when logging starts.

    use std::str::FromStr;

    pub(super) struct Directives;

    impl FromStr for Directives {
        type Err = String;

        fn from_str(s: &str) -> Result<Self, Self::Err> {
            const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];
            if s.trim().is_empty() {
                return Err("expected a level (error, warn, info, debug, trace) or a filter such as rempart=debug,info".to_owned());
            }
            for directive in s.split(',') {
                let level = directive
                    .rsplit_once('=')
                    .map_or(directive, |(_, l)| l)
                    .trim();
                if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
                    return Err(format!(
                        "expected a level (error, warn, info, debug, trace) or a filter such as rempart=debug,info, found {directive:?}"
                    ));
                }
            }
            Ok(Self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        Config::load(
            Some(file.path()),
            env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            &Overrides::default(),
        )
    }

    #[test]
    fn defaults_are_valid_and_on_loopback() {
        let config = Config::load(None, [], &Overrides::default()).unwrap();
        assert!(config.server.listen.ip().is_loopback());
        assert_eq!(config.database_url(), "sqlite://rempart-data/rempart.db");
    }

    #[test]
    fn a_typo_names_the_key() {
        let err = load_text("[server]\nlisten_addr = \"127.0.0.1:1\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `listen_addr`"), "{err}");
        assert!(err.contains("listen"), "{err}");
    }

    #[test]
    fn a_wrong_type_names_the_key_and_the_type() {
        let err = load_text("[database]\nmax_connections = \"ten\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_connections"), "{err}");
        assert!(err.contains("expected u32"), "{err}");
    }

    #[test]
    fn an_impossible_value_names_the_key() {
        let err = load_text("[database]\nmax_connections = 0\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("database.max_connections:"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let config = load_text(
            "[server]\nlisten = \"127.0.0.1:9000\"\n",
            &[
                ("REMPART_SERVER_LISTEN", "127.0.0.1:9001"),
                ("REMPART_DATABASE_MAX_CONNECTIONS", "3"),
            ],
        )
        .unwrap();
        assert_eq!(config.server.listen.port(), 9001);
        assert_eq!(config.database.max_connections, 3);
    }

    #[test]
    fn near_misses_are_refused_naming_the_key_and_others_ignored() {
        let err = load_text("", &[("REMPART_SERVER_LISTN", "x")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "REMPART_SERVER_LISTN is not a known variable; did you mean REMPART_SERVER_LISTEN? (see docs/configuration.md)"
        );
        for (typo, meant) in [
            ("REMPART_SERVER_LISTEN_", "REMPART_SERVER_LISTEN"),
            ("REMPART_DATA_DRI", "REMPART_DATA_DIR"),
            ("REMPART_server_listen", "REMPART_SERVER_LISTEN"),
            ("REMPART_URI", "REMPART_URL"),
            ("REMPART_LOG_LEVLE", "REMPART_LOG_LEVEL"),
            ("REMPART_KEYRING_PASPHRASE", "REMPART_KEYRING_PASSPHRASE"),
        ] {
            assert_eq!(near_miss(typo), Some(meant), "{typo}");
            let err = load_text("", &[(typo, "1")]).unwrap_err().to_string();
            assert!(err.contains(&format!("did you mean {meant}?")), "{err}");
        }
        // A user's own variables are not configuration: ignored, and
        // reported for a warning.
        let own = [
            ("REMPART_BIN", "/usr/local/bin/rempart"),
            ("REMPART_HOME", "/srv/rempart"),
            ("REMPART_VERSION_PIN", "0.3"),
        ];
        let config = load_text("", &own).unwrap();
        assert_eq!(
            config.ignored_variables,
            ["REMPART_BIN", "REMPART_HOME", "REMPART_VERSION_PIN"]
        );
        let mut plain = load_text("", &[]).unwrap();
        plain
            .ignored_variables
            .clone_from(&config.ignored_variables);
        assert_eq!(config, plain, "ignored variables change nothing");
        assert_eq!(edit_distance("ABCD", "ABDC"), 1);
        assert_eq!(edit_distance("", "ABC"), 3);
        assert_eq!(edit_distance("KITTEN", "SITTING"), 3);
    }

    #[test]
    fn mistyped_variables_are_refused() {
        let err = load_text("", &[("REMPART_SERVER_BEHIND_TLS_PROXY", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("true or false"), "{err}");
        let err = load_text("", &[("REMPART_DATABASE_URL", "mysql://u:hunter2@h/db")])
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn public_address_without_tls_is_refused_unless_behind_a_proxy() {
        let err = load_text("[server]\nlisten = \"0.0.0.0:8700\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("without TLS"), "{err}");
        assert!(err.contains("behind_tls_proxy"), "{err}");
        load_text(
            "[server]\nlisten = \"0.0.0.0:8700\"\nbehind_tls_proxy = true\ntrusted_proxies = [\"10.0.0.5\"]\n",
            &[],
        )
        .unwrap();
    }

    #[test]
    fn a_tls_proxy_must_be_trusted_and_trust_has_bounds() {
        let err = load_text(
            "[server]\nlisten = \"0.0.0.0:8700\"\nbehind_tls_proxy = true\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("server.trusted_proxies:"), "{err}");
        assert!(err.contains("behind_tls_proxy"), "{err}");
        for everything in ["0.0.0.0/0", "::/0"] {
            let err = load_text("", &[("REMPART_SERVER_TRUSTED_PROXIES", everything)])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("server.trusted_proxies:"), "{err}");
            assert!(err.contains("trusts every address"), "{err}");
        }
    }

    #[test]
    fn address_lists_from_the_file_and_from_variables() {
        let config = Config::load(None, [], &Overrides::default()).unwrap();
        assert!(config.server.trusted_proxies.is_empty());
        assert_eq!(config.access.admin_sources(), None, "empty: any source");

        let config = load_text(
            "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"fd00::1\"]\n[access]\nadmin_allow_list = [\"192.0.2.0/24\"]\n",
            &[],
        )
        .unwrap();
        assert!(
            config
                .server
                .trusted_proxies
                .contains("10.2.3.4".parse().unwrap())
        );
        assert!(
            config
                .server
                .trusted_proxies
                .contains("fd00::1".parse().unwrap())
        );
        let admin = config.access.admin_sources().unwrap();
        assert!(admin.contains("192.0.2.9".parse().unwrap()));
        assert!(!admin.contains("198.51.100.1".parse().unwrap()));

        // Variables: comma-separated, replacing the file's list.
        let config = load_text(
            "[server]\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
            &[
                ("REMPART_SERVER_TRUSTED_PROXIES", " 172.16.0.0/12 , ::1 "),
                ("REMPART_ACCESS_ADMIN_ALLOW_LIST", "2001:db8::/32"),
            ],
        )
        .unwrap();
        let proxies = &config.server.trusted_proxies;
        assert_eq!(proxies.entries().len(), 2);
        assert!(!proxies.contains("10.0.0.1".parse().unwrap()));
        assert!(proxies.contains("172.16.5.5".parse().unwrap()));
        let admin = config.access.admin_sources().unwrap();
        assert!(admin.contains("2001:db8::1".parse().unwrap()));
        // An empty variable empties the list.
        let config = load_text(
            "[access]\nadmin_allow_list = [\"192.0.2.0/24\"]\n",
            &[("REMPART_ACCESS_ADMIN_ALLOW_LIST", "")],
        )
        .unwrap();
        assert_eq!(config.access.admin_sources(), None);
    }

    #[test]
    fn a_bad_list_entry_is_named() {
        let err = load_text(
            "[access]\nadmin_allow_list = [\"10.0.0.0/8\", \"10.0.0.300\"]\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"10.0.0.300\""), "{err}");
        assert!(err.contains("admin_allow_list"), "{err}");
        let err = load_text(
            "",
            &[("REMPART_SERVER_TRUSTED_PROXIES", "10.0.0.1,proxy.internal")],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("entry 2 (\"proxy.internal\")"), "{err}");
        assert!(err.contains("trusted_proxies"), "{err}");
    }

    #[test]
    fn show_redacts_the_database_password() {
        let config = load_text(
            "[database]\nurl = \"postgres://rempart:hunter2@db/rempart\"\n",
            &[],
        )
        .unwrap();
        let shown = config.show_redacted();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("rempart:***@db"), "{shown}");
    }

    #[test]
    fn every_key_is_listed_and_documented() {
        let table = toml::Table::try_from(Config::default()).unwrap();
        let mut paths = Vec::new();
        for (k, v) in &table {
            match v {
                toml::Value::Table(inner) => paths.extend(inner.keys().map(|i| format!("{k}.{i}"))),
                _ => paths.push(k.clone()),
            }
        }
        for path in &paths {
            assert!(KEYS.iter().any(|k| k.path == path), "{path} is not in KEYS");
        }
        let docs = include_str!("../../../docs/configuration.md");
        for key in KEYS {
            assert!(
                docs.contains(&format!("`{}`", key.path)),
                "{} is not documented",
                key.path
            );
            assert!(docs.contains(key.env), "{} is not documented", key.env);
            let expected_env = format!("REMPART_{}", key.path.replace('.', "_").to_uppercase());
            assert_eq!(key.env, expected_env);
        }
    }
}
