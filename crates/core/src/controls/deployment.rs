//! What the control checks need to know about how this process was
//! deployed, taken from its configuration at start (`rempart serve`): the
//! facts that live in the configuration file rather than the database.
//! A process that was not told (a test, an offline command) checks against
//! the defaults below, which claim nothing: no TLS, no sink.

/// How this replica is deployed, as far as the controls are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// This process terminates TLS itself (`server.tls_cert_file`).
    pub tls: bool,
    /// A TLS-terminating proxy is declared in front
    /// (`server.behind_tls_proxy`).
    pub behind_tls_proxy: bool,
    /// Whether the listener is a loopback address only.
    pub listens_on_loopback: bool,
    /// The audit log's shipping sinks, as configured (URLs).
    pub audit_sinks: Vec<String>,
    /// How often a checkpoint is signed (`audit.checkpoint_every_secs`).
    pub checkpoint_every_secs: u64,
}

impl Default for Deployment {
    fn default() -> Self {
        Self {
            tls: false,
            behind_tls_proxy: false,
            listens_on_loopback: false,
            audit_sinks: Vec::new(),
            checkpoint_every_secs: 60,
        }
    }
}
