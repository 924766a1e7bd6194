//! The identity settings in force: the configuration, the staff password
//! policy, the password hasher, the admin-plane sources and the login-name
//! key. A leaf of the identity domain: the service facade holds it, so it
//! imports nothing that imports the facade.

use rempart_model::password_policy::PasswordPolicy;

use crate::identity::config::IdentityConfig;
use crate::identity::login_key::LoginKey;
use crate::identity::password::{HashParams, PasswordError, PasswordHasher};
use crate::kernel::context::RequestContext;

/// The identity settings in force and the password hasher they configure.
#[derive(Debug, Clone)]
pub struct Identity {
    pub(crate) config: IdentityConfig,
    /// The password policy for staff, and the baseline for every tenant.
    pub(crate) policy: PasswordPolicy,
    pub(crate) hasher: PasswordHasher,
    /// The sources staff may use the admin plane from; `None`: any.
    pub(crate) admin_sources: Option<rempart_model::AllowList>,
    /// Keys the login throttle, so that typed names are never stored.
    pub(crate) login_key: LoginKey,
}

impl Identity {
    /// Refuses hashing parameters below OWASP's minimum.
    pub fn new(config: IdentityConfig, policy: PasswordPolicy) -> Result<Self, PasswordError> {
        let hasher = PasswordHasher::new(config.hash_params(), config.hash_concurrency, false)?;
        Ok(Self::with_hasher(config, policy, hasher))
    }

    /// No admin allow-list and a fresh login key, until configured.
    fn with_hasher(config: IdentityConfig, policy: PasswordPolicy, hasher: PasswordHasher) -> Self {
        Self {
            config,
            policy,
            hasher,
            admin_sources: None,
            login_key: LoginKey::ephemeral(),
        }
    }

    /// Cheap hashing, for tests only.
    pub fn for_tests(config: IdentityConfig, policy: PasswordPolicy) -> Self {
        let weak = HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        #[allow(
            clippy::expect_used,
            reason = "constant parameters the argon2 crate accepts (m >= 8 p)"
        )]
        Self::for_tests_with(config, policy, weak).expect("valid constant parameters")
    }

    /// Hashing with `params`, below OWASP's minimum if need be: for tests
    /// only (a parameter change, cheaply).
    pub fn for_tests_with(
        config: IdentityConfig,
        policy: PasswordPolicy,
        params: HashParams,
    ) -> Result<Self, PasswordError> {
        let hasher = PasswordHasher::new(params, 4, true)?;
        Ok(Self::with_hasher(config, policy, hasher))
    }

    /// Staff may log in and use their credentials only from these sources
    /// (`access.admin_allow_list`; `None`: any).
    #[must_use]
    pub fn with_admin_sources(mut self, sources: Option<rempart_model::AllowList>) -> Self {
        self.admin_sources = sources;
        self
    }

    /// Keys the login throttle with `key` (the key file beside the
    /// keyring, shared by every replica).
    #[must_use]
    pub fn with_login_key(mut self, key: LoginKey) -> Self {
        self.login_key = key;
        self
    }

    /// Whether a staff account may act from `ctx`'s source.
    pub(crate) fn admin_source_allowed(&self, ctx: &RequestContext) -> bool {
        match &self.admin_sources {
            None => true,
            Some(list) => ctx.source.is_some_and(|ip| list.contains(ip)),
        }
    }

    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }
}

impl Default for Identity {
    /// The default settings with OWASP's hashing parameters.
    fn default() -> Self {
        Self {
            config: IdentityConfig::default(),
            policy: PasswordPolicy::default(),
            hasher: PasswordHasher::default(),
            admin_sources: None,
            login_key: LoginKey::ephemeral(),
        }
    }
}
