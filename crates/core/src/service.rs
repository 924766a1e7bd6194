//! The service layer: the one path for state changes (invariant 1).
//!
//! Each method authenticates or authorizes, acts, and appends its audit
//! event in the same transaction. A refused attempt changes nothing and is
//! recorded as a refusal in its own transaction; a failed one (bad input, a
//! conflict) rolls back and leaves neither change nor event. The HTTP API,
//! the CLI and the scheduler all call these methods; none of them touches
//! the store directly.

use std::sync::Arc;

use rempart_model::bootstrap::{BOOTSTRAP_TTL, BootstrapCredential, BootstrapRefusal};
use rempart_model::{
    Action, Grant, NewTenant, Outcome, Permission, PrincipalId, PrincipalName, Role, Scope, Tenant,
    TenantId,
};
use rempart_store::{BootstrapRecord, PrincipalRecord, Store, StoreError, TokenRecord};
use secrecy::SecretString;
use time::{Duration, OffsetDateTime};

use crate::actor::Actor;
use crate::audit_log::{self, AuditChain, Draft};
use crate::clock::Clock;
use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::secret::{self, SecretKind};

/// How often a token's "last used" time is written: at most once a minute,
/// so that authenticating a request is not a write every time.
const TOKEN_TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// Rempart's services, over one store and one clock.
#[derive(Debug, Clone)]
pub struct Rempart {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<AuditChain>,
    /// The keyring; unconfigured (sealed) until `with_keys`.
    pub(crate) keys: Arc<crate::keys::KeyVault>,
    /// Identity settings and the password hasher.
    pub(crate) identity: Arc<crate::identity::Identity>,
    /// Authentication results of this replica, valid while the database's
    /// auth epoch does not move.
    pub(crate) auth_cache: Arc<crate::auth_cache::AuthCache>,
    /// How this replica is deployed, for the control checks.
    pub(crate) deployment: Arc<crate::controls::Deployment>,
}

/// What first start found or did about the first administrator.
#[derive(Debug)]
pub enum BootstrapStatus {
    /// An administrator exists; nothing to do.
    AdministratorExists,
    /// A credential was issued now; show it once.
    Issued {
        credential: SecretString,
        expires_at: OffsetDateTime,
    },
    /// A credential issued earlier is still valid (it is not shown again).
    Pending { expires_at: OffsetDateTime },
    /// The credential expired unused; `rempart bootstrap --reissue` issues
    /// another.
    Expired { expired_at: OffsetDateTime },
}

/// The first administrator and the API token the exchange yields.
#[derive(Debug)]
pub struct BootstrapResult {
    pub administrator: PrincipalRecord,
    pub token: SecretString,
    /// When the token expires: like every API token, it has a lifetime
    /// (the default, 90 days). The people who administer Rempart are
    /// created with it, and log in with a password and second factor.
    pub token_expires_at: OffsetDateTime,
}

impl Rempart {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            audit: Arc::new(AuditChain::default()),
            keys: Arc::new(crate::keys::KeyVault::unconfigured()),
            identity: Arc::new(crate::identity::Identity::default()),
            auth_cache: Arc::default(),
            deployment: Arc::default(),
        }
    }

    /// Tells the control checks how this replica is deployed.
    #[must_use]
    pub fn with_deployment(mut self, deployment: crate::controls::Deployment) -> Self {
        self.deployment = Arc::new(deployment);
        self
    }

    /// Uses these identity settings (the configuration's, or cheap hashing
    /// in tests).
    #[must_use]
    pub fn with_identity(mut self, identity: crate::identity::Identity) -> Self {
        self.identity = Arc::new(identity);
        self
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Whether the database answers (readiness).
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// Chains the pending audit events, then closes the store; in-flight
    /// transactions finish first.
    pub async fn close(&self) {
        if let Err(e) = self.drain_audit().await {
            tracing::warn!(error = %e, "pending audit events not chained; the next start chains them");
        }
        self.store.close().await;
    }

    // Authentication.

    /// Resolves a bearer secret (an API token, or a fully logged-in
    /// session) to an actor. An unknown, expired or revoked credential, or
    /// one whose holder is no longer active, is refused and the refusal
    /// recorded with the source address.
    pub async fn authenticate(
        &self,
        ctx: &RequestContext,
        token: &SecretString,
    ) -> Result<Actor, ServiceError> {
        use crate::auth_cache::{Cached, Entry};
        let now = self.clock.now();
        let key = (secret::fingerprint(token), ctx.source);
        // Read before the lookup: a change committed meanwhile moves the
        // epoch past this one, and the entry is not trusted again. The
        // store leases the read (rempart_store::auth_lease): never older
        // than the last revocation that has returned, on any replica.
        let epoch = self.store.auth_epoch().await?;
        let idle = self.identity.config.session_idle();
        if let Some(entry) = self.auth_cache.get(epoch, &key, now, idle) {
            self.touch_if_due(&key, &entry.credential, now).await?;
            return Ok(entry.actor);
        }
        let (actor, credential) = if secret::is_session(token) {
            let (actor, session) = self
                .authenticate_session(ctx, token, &[rempart_store::SessionStage::Full])
                .await?;
            let last_seen_at =
                if now - session.last_seen_at >= crate::identity::SESSION_TOUCH_INTERVAL {
                    now
                } else {
                    session.last_seen_at
                };
            let credential = Cached::Session {
                id: session.id,
                expires_at: session.expires_at,
                last_seen_at,
            };
            (actor, credential)
        } else {
            let (actor, record) = self.authenticate_token(ctx, token, now).await?;
            let credential = Cached::Token {
                id: record.id,
                expires_at: record.expires_at,
                last_used_at: record.last_used_at,
            };
            (actor, credential)
        };
        self.auth_cache.put(
            epoch,
            key,
            Entry {
                actor: actor.clone(),
                credential,
            },
        );
        Ok(actor)
    }

    /// Writes a cached credential's use when the last write is a minute
    /// old (an idle timeout is exact to the minute).
    async fn touch_if_due(
        &self,
        key: &([u8; 32], Option<std::net::IpAddr>),
        credential: &crate::auth_cache::Cached,
        now: OffsetDateTime,
    ) -> Result<(), ServiceError> {
        use crate::auth_cache::Cached;
        match *credential {
            Cached::Token {
                id, last_used_at, ..
            } if last_used_at.is_none_or(|at| now - at >= TOKEN_TOUCH_INTERVAL) => {
                let mut tx = self.store.begin().await?;
                tx.touch_token(id, now).await?;
                tx.commit().await?;
            }
            Cached::Session {
                id, last_seen_at, ..
            } if now - last_seen_at >= crate::identity::SESSION_TOUCH_INTERVAL => {
                let mut tx = self.store.begin().await?;
                tx.touch_session(id, now).await?;
                tx.commit().await?;
            }
            _ => return Ok(()),
        }
        self.auth_cache.touched(key, now);
        Ok(())
    }

    /// The API-token half of [`Rempart::authenticate`], from the database.
    /// Returns the token as it is now stored (its use recorded).
    async fn authenticate_token(
        &self,
        ctx: &RequestContext,
        token: &SecretString,
        now: OffsetDateTime,
    ) -> Result<(Actor, TokenRecord), ServiceError> {
        let hash = secret::fingerprint(token);
        // A read transaction: authenticating does not queue requests
        // behind SQLite's write lock.
        let mut tx = self.store.begin_read().await?;
        let found = tx.token_by_hash(&hash).await?;
        let usable = match &found {
            Some(t) => t.revoked_at.is_none() && t.expires_at.is_none_or(|at| now < at),
            None => false,
        };
        let principal = match (&found, usable) {
            (Some(t), true) => tx.principal(t.principal).await?,
            _ => None,
        };
        let (Some(token_record), Some(principal)) = (found, principal) else {
            drop(tx);
            self.refuse(
                ctx,
                now,
                Draft::new("anonymous", Action::AuthToken, Outcome::Denied),
            )
            .await?;
            return Err(ServiceError::Unauthenticated);
        };
        let mut tx = self
            .admit_holder(tx, ctx, now, &principal, Action::AuthToken)
            .await?;
        let grants = tx.grants_of(principal.id).await?;
        let grants = match self
            .token_grants(tx.as_mut(), ctx, &token_record, grants)
            .await
        {
            Ok(grants) => grants,
            Err(refusal) => {
                drop(tx);
                let draft = Draft::new(
                    format!("principal:{}", principal.id),
                    Action::AuthToken,
                    Outcome::Denied,
                )
                .target(format!("token:{}", token_record.id))
                .details(crate::audit_details::Details::reason(refusal.to_string()));
                self.refuse_with_details(ctx, now, draft).await?;
                return Err(refusal);
            }
        };
        drop(tx);
        let mut token_record = token_record;
        if token_record
            .last_used_at
            .is_none_or(|at| now - at >= TOKEN_TOUCH_INTERVAL)
        {
            let mut tx = self.store.begin().await?;
            tx.touch_token(token_record.id, now).await?;
            tx.commit().await?;
            token_record.last_used_at = Some(now);
        }
        let actor = Actor::new(principal.id, principal.name, token_record.id, grants)
            .with_cut(crate::identity::token_cut(&token_record));
        Ok((actor, token_record))
    }

    // Bootstrap.

    /// At start: issues the bootstrap credential if there is no
    /// administrator and none was issued yet.
    pub async fn ensure_bootstrap(&self) -> Result<BootstrapStatus, ServiceError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if tx.count_principals().await? > 0 {
            return Ok(BootstrapStatus::AdministratorExists);
        }
        match tx.latest_bootstrap().await? {
            Some(latest) if latest.used_at.is_none() && now < latest.expires_at => {
                Ok(BootstrapStatus::Pending {
                    expires_at: latest.expires_at,
                })
            }
            Some(latest) if latest.used_at.is_none() => Ok(BootstrapStatus::Expired {
                expired_at: latest.expires_at,
            }),
            _ => {
                let (credential, expires_at) = self.issue_bootstrap(tx.as_mut(), now).await?;
                tx.commit().await?;
                Ok(BootstrapStatus::Issued {
                    credential,
                    expires_at,
                })
            }
        }
    }

    /// Issues a new bootstrap credential while there is still no
    /// administrator (the offline recovery of a lost or expired one).
    pub async fn reissue_bootstrap(&self) -> Result<BootstrapStatus, ServiceError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if tx.count_principals().await? > 0 {
            return Ok(BootstrapStatus::AdministratorExists);
        }
        let (credential, expires_at) = self.issue_bootstrap(tx.as_mut(), now).await?;
        tx.commit().await?;
        Ok(BootstrapStatus::Issued {
            credential,
            expires_at,
        })
    }

    async fn issue_bootstrap(
        &self,
        tx: &mut dyn rempart_store::Tx,
        now: OffsetDateTime,
    ) -> Result<(SecretString, OffsetDateTime), ServiceError> {
        let credential = secret::generate(SecretKind::Bootstrap)?;
        let record = BootstrapRecord {
            id: self.clock.new_id(),
            hash: secret::fingerprint(&credential),
            created_at: now,
            expires_at: now + BOOTSTRAP_TTL,
            used_at: None,
        };
        tx.insert_bootstrap(&record).await?;
        let draft = Draft::new("system", Action::BootstrapIssue, Outcome::Success)
            .target(format!("bootstrap:{}", record.id));
        self.audit
            .append(tx, &RequestContext::system(), now, draft)
            .await?;
        Ok((credential, record.expires_at))
    }

    /// Exchanges the bootstrap credential for the first administrator and
    /// its first API token. Single use: a second exchange is refused.
    pub async fn exchange_bootstrap(
        &self,
        ctx: &RequestContext,
        credential: &SecretString,
        administrator: PrincipalName,
    ) -> Result<BootstrapResult, ServiceError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let refusal = match tx
            .bootstrap_by_hash(&secret::fingerprint(credential))
            .await?
        {
            None => Some(BootstrapRefusal::Unknown),
            Some(record) => {
                let state = BootstrapCredential {
                    expires_at: record.expires_at,
                    used_at: record.used_at,
                };
                match state.check(now) {
                    Err(refusal) => Some(refusal),
                    Ok(()) if !tx.mark_bootstrap_used(record.id, now).await? => {
                        Some(BootstrapRefusal::AlreadyUsed)
                    }
                    Ok(()) if tx.count_principals().await? > 0 => {
                        Some(BootstrapRefusal::AlreadyUsed)
                    }
                    Ok(()) => None,
                }
            }
        };
        if let Some(refusal) = refusal {
            drop(tx);
            let draft = Draft::new("anonymous", Action::BootstrapExchange, Outcome::Denied)
                .details(crate::audit_details::Details::reason(refusal.to_string()));
            self.refuse_with_details(ctx, now, draft).await?;
            return Err(ServiceError::BootstrapRefused(refusal));
        }

        let principal =
            PrincipalRecord::staff(PrincipalId(self.clock.new_id()), administrator, now);
        tx.insert_principal(&principal).await?;
        let grant = Grant::of(Role::SecurityAdmin, Scope::Global, None);
        tx.insert_grant(self.clock.new_id(), principal.id, &grant, now)
            .await?;
        let token = secret::generate(SecretKind::ApiToken)?;
        let token_expires_at = now + crate::identity::TOKEN_DEFAULT_LIFETIME;
        tx.insert_token(&TokenRecord {
            expires_at: Some(token_expires_at),
            ..TokenRecord::unrestricted(
                self.clock.new_id(),
                principal.id,
                secret::fingerprint(&token),
                "bootstrap",
                now,
            )
        })
        .await?;
        let draft = Draft::new("bootstrap", Action::BootstrapExchange, Outcome::Success)
            .target(format!("principal:{}", principal.id));
        self.audit.append(tx.as_mut(), ctx, now, draft).await?;
        tx.commit().await?;
        Ok(BootstrapResult {
            administrator: principal,
            token,
            token_expires_at,
        })
    }

    // Tenants.

    /// Creates a tenant. Needs `tenant.create` staff-wide or in the
    /// tenant's environment.
    pub async fn create_tenant(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        new: NewTenant,
    ) -> Result<Tenant, ServiceError> {
        let now = self.clock.now();
        let target = Scope::Environment(new.environment.clone());
        if !actor.may(Permission::TenantCreate, &target, None, now) {
            let draft = Draft::new(actor.audit_name(), Action::TenantCreate, Outcome::Denied)
                .target(format!("environment:{}", new.environment))
                .details(crate::audit_details::Details::reason(
                    "permission tenant.create needed",
                ));
            self.refuse_with_details(ctx, now, draft).await?;
            return Err(ServiceError::Forbidden {
                permission: Permission::TenantCreate,
            });
        }
        let tenant = Tenant {
            id: TenantId(self.clock.new_id()),
            name: new.name,
            region: new.region,
            environment: new.environment,
            created_at: now,
        };
        let mut tx = self.store.begin().await?;
        match tx.insert_tenant(&tenant).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => {
                return Err(ServiceError::TenantNameTaken {
                    name: tenant.name.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        // Enrolment in the keyring of the tenant's environment, saved
        // atomically before the commit (see keys.rs): a failure here rolls
        // the tenant back; a commit failing afterwards leaves only an inert
        // tenant key for an id that never exists.
        self.enroll_tenant(&tenant)?;
        let draft = Draft::new(actor.audit_name(), Action::TenantCreate, Outcome::Success)
            .target(format!("tenant:{}", tenant.id))
            .tenant(tenant.id);
        self.audit.append(tx.as_mut(), ctx, now, draft).await?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// Lists the tenants the actor may read, and only those: the scope is
    /// part of the query.
    pub async fn list_tenants(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
    ) -> Result<Vec<Tenant>, ServiceError> {
        let now = self.clock.now();
        let Some(filter) = actor.tenant_filter(Permission::TenantRead, now) else {
            let draft = Draft::new(actor.audit_name(), Action::TenantList, Outcome::Denied);
            self.refuse(ctx, now, draft).await?;
            return Err(ServiceError::Forbidden {
                permission: Permission::TenantRead,
            });
        };
        let mut tx = self.store.begin().await?;
        let tenants = tx.list_tenants(&filter).await?;
        let draft = Draft::new(actor.audit_name(), Action::TenantList, Outcome::Success);
        self.audit.append(tx.as_mut(), ctx, now, draft).await?;
        tx.commit().await?;
        Ok(tenants)
    }

    pub(crate) async fn refuse(
        &self,
        ctx: &RequestContext,
        now: OffsetDateTime,
        draft: Draft,
    ) -> Result<(), ServiceError> {
        audit_log::record_refusal(self.store.as_ref(), &self.audit, ctx, now, draft).await?;
        Ok(())
    }
}
