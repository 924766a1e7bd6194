//! The authenticated caller, and the deny-by-default decision
//! (invariant 2).

use std::sync::Arc;

use rempart_model::grant_index::GrantIndex;
use rempart_model::{
    Cut, Environment, Grant, Permission, PrincipalId, PrincipalName, Scope, TenantId,
};
use rempart_store::TenantFilter;
use time::OffsetDateTime;
use uuid::Uuid;

/// How the actor proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An API token (machines, and the bootstrap administrator).
    Token(Uuid),
    /// A login session; `authenticated_at` is the last proof of identity
    /// (password or second factor), for step-up.
    Session {
        id: Uuid,
        authenticated_at: OffsetDateTime,
    },
}

/// Who is acting: a principal, through one credential, with the grants it
/// held when the request was authenticated (indexed once, so that each
/// decision is two hash lookups whatever the number of grants), already
/// cut down by the credential, and the cut itself: whatever the actor
/// creates is judged against both (invariant 8).
#[derive(Debug, Clone)]
pub struct Actor {
    pub principal: PrincipalId,
    pub name: PrincipalName,
    /// The credential's id (token or session).
    pub token: Uuid,
    pub credential: Credential,
    /// Shared: a cached actor is copied per request without copying its
    /// grants or their index.
    grants: Arc<[Grant]>,
    index: Arc<GrantIndex>,
    cut: Arc<Cut>,
}

impl Actor {
    /// An actor authenticated by the API token `token`.
    pub fn new(
        principal: PrincipalId,
        name: PrincipalName,
        token: Uuid,
        grants: Vec<Grant>,
    ) -> Self {
        Self::with_credential(principal, name, Credential::Token(token), grants)
    }

    pub fn with_credential(
        principal: PrincipalId,
        name: PrincipalName,
        credential: Credential,
        grants: Vec<Grant>,
    ) -> Self {
        let index = Arc::new(GrantIndex::new(&grants));
        let grants: Arc<[Grant]> = grants.into();
        let token = match credential {
            Credential::Token(id) | Credential::Session { id, .. } => id,
        };
        Self {
            principal,
            name,
            token,
            credential,
            grants,
            index,
            cut: Arc::new(Cut::none()),
        }
    }

    /// The same actor, its credential cut to `cut` (an API token's
    /// tenant, permissions, networks and expiry). The grants given to
    /// [`Actor::new`] must already be cut to it.
    #[must_use]
    pub fn with_cut(mut self, cut: Cut) -> Self {
        self.cut = Arc::new(cut);
        self
    }

    /// What the credential is cut to: nothing for a login session (the
    /// holder in person), the token's own cut for an API token.
    pub fn cut(&self) -> &Cut {
        &self.cut
    }

    /// Whether the actor proved its identity within `window` of `now`:
    /// sessions must have (step-up); API tokens are machine credentials
    /// and carry no interactive proof, so they pass.
    pub fn recently_authenticated(&self, now: OffsetDateTime, window: time::Duration) -> bool {
        match self.credential {
            Credential::Token(_) => true,
            Credential::Session {
                authenticated_at, ..
            } => now - authenticated_at <= window,
        }
    }

    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// The actor as the audit log names it.
    pub fn audit_name(&self) -> String {
        format!("principal:{}", self.principal)
    }

    pub fn may(
        &self,
        permission: Permission,
        target: &Scope,
        target_environment: Option<&Environment>,
        now: OffsetDateTime,
    ) -> bool {
        self.index
            .allows(permission, target, target_environment, now)
    }

    /// The tenants this actor may see with `permission`, as a storage
    /// filter; `None` when it may see none.
    pub fn tenant_filter(
        &self,
        permission: Permission,
        now: OffsetDateTime,
    ) -> Option<TenantFilter> {
        let mut tenants: Vec<TenantId> = Vec::new();
        let mut environments: Vec<Environment> = Vec::new();
        for grant in self.grants.iter() {
            if !grant.is_active(now) || !grant.permissions.contains(permission) {
                continue;
            }
            match &grant.scope {
                Scope::Global => return Some(TenantFilter::All),
                Scope::Tenant(t) => tenants.push(*t),
                Scope::Environment(e) => environments.push(e.clone()),
            }
        }
        match (tenants.is_empty(), environments.is_empty()) {
            (true, true) => None,
            (false, true) => Some(TenantFilter::Only(tenants)),
            (true, false) => Some(TenantFilter::Environments(environments)),
            (false, false) => Some(TenantFilter::Union(tenants, environments)),
        }
    }
}
