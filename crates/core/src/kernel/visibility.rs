//! Out of scope looks like not there (invariant 8, control AC-2): what a
//! caller may know exists.
//!
//! A caller sees an object when it holds, in the object's scope, a
//! permission that reads that kind of object ([`Sight`]). An object it does
//! not see is answered exactly like one that does not exist: the same
//! error, built only from the id the caller gave, so that an id of another
//! tenant tells nothing (neither that it exists nor what kind of account it
//! names). Only then is the permission for the action itself checked: a
//! caller that sees an object but may not act on it is refused with 403.
//!
//! An attempt on an object the caller does not see, absent or out of scope,
//! is recorded as a refusal in both cases alike (one event each, the same
//! action and target), so the audit log does not tell them apart to anyone
//! who watches it grow either; the sealed reason says which it was, and an
//! attempt on another tenant's object is recorded in that tenant, where its
//! own administrators see it.

use rempart_model::{Environment, Permission, PrincipalId, Scope, Tenant, TenantId};
use rempart_store::{AccountKind, PrincipalRecord};
use time::OffsetDateTime;

use crate::kernel::actor::Actor;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::Gate;
use crate::kernel::liveness::Reach;
use crate::kernel::target::Target;

/// Kinds of objects, by the permissions that let a caller know one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sight {
    /// A tenant: any permission in it (a grant there already names it:
    /// `whoami` lists it).
    Tenant,
    /// An account, and what hangs off it (its grants, password, second
    /// factors, state): `user.read` over it.
    Account,
    /// A token or session, by its holder: `user.read` or `session.revoke`
    /// over the holder.
    Credential,
    /// A grant, by its scope: `user.read` or `grant.manage` there.
    Grant,
    /// An audit event, by its tenant: `audit.search` or `audit.proof`.
    AuditEvent,
}

impl Sight {
    fn readers(self) -> &'static [Permission] {
        match self {
            Self::Tenant => Permission::ALL,
            Self::Account => &[Permission::UserRead],
            Self::Credential => &[Permission::UserRead, Permission::SessionRevoke],
            Self::Grant => &[Permission::UserRead, Permission::GrantManage],
            Self::AuditEvent => &[Permission::AuditSearch, Permission::AuditProof],
        }
    }

    /// Whether `actor` may know that an object of this kind in `scope`
    /// exists.
    pub(crate) fn seen_by(
        self,
        actor: &Actor,
        scope: &Scope,
        environment: Option<&Environment>,
        now: OffsetDateTime,
    ) -> bool {
        self.readers()
            .iter()
            .any(|p| actor.may(*p, scope, environment, now))
    }
}

/// Why an object was not seen, as sealed in the refusal.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Why {
    Absent,
    /// It exists, in this tenant when it belongs to one (its
    /// administrators see the attempt).
    OutOfScope(Option<TenantId>),
}

/// The scope an account lives in, and its environment: a tenant user's
/// tenant, or staff-wide.
pub(crate) async fn account_scope_in(
    tx: &mut dyn rempart_store::ReadTx,
    account: &PrincipalRecord,
) -> Result<(Scope, Option<Environment>), ServiceError> {
    let (scope, tenant) = account_home_in(tx, account).await?;
    Ok((scope, tenant.map(|t| t.environment)))
}

/// The scope an account lives in, and its tenant (shredded or not): a
/// tenant user's tenant, or staff-wide.
pub(crate) async fn account_home_in(
    tx: &mut dyn rempart_store::ReadTx,
    account: &PrincipalRecord,
) -> Result<(Scope, Option<Tenant>), ServiceError> {
    match (account.kind, account.tenant) {
        (AccountKind::TenantUser, Some(tenant)) => {
            Ok((Scope::Tenant(tenant), tx.tenant(tenant).await?))
        }
        _ => Ok((Scope::Global, None)),
    }
}

impl<M, S> Gate<'_, M, S> {
    /// Refuses an attempt on an object the caller does not see, absent or
    /// out of scope alike: recorded against the call's target (as the
    /// caller named it), in the object's tenant when it has one, with the
    /// reason sealed; `answer` is what an absent object gets.
    pub(crate) async fn unseen(mut self, why: Why, answer: ServiceError) -> ServiceError {
        let reason = match why {
            Why::Absent => "not found",
            Why::OutOfScope(tenant) => {
                self.call.tenant = tenant;
                "outside the caller's scope"
            }
        };
        self.refuse(reason, answer).await
    }

    /// The environment of `tenant`, if the caller sees the tenant and it
    /// is live ([`Gate::live_tenant`]): otherwise the attempt is refused
    /// with `TenantNotFound`, as for a tenant that does not exist, or, to
    /// a caller who sees it, as gone (410) once it was crypto-shredded.
    pub(crate) async fn tenant_in_sight(
        self,
        tenant: TenantId,
    ) -> Result<(Self, Environment), ServiceError> {
        let (gate, tenant) = self.live_tenant(tenant).await?;
        Ok((gate, tenant.environment))
    }

    /// The tenant `id`, if the caller sees it, shredded or not; otherwise
    /// the attempt is refused with `TenantNotFound` naming `tenant:<id>`,
    /// as for a tenant that does not exist. On success the call's target
    /// is left as it was.
    pub(crate) async fn tenant_seen(
        mut self,
        id: TenantId,
    ) -> Result<(Self, Tenant), ServiceError> {
        let now = self.now();
        let actor = self.caller().actor();
        let found = self.read().tenant(id).await?;
        let why = match found {
            Some(t)
                if actor.is_some_and(|actor| {
                    Sight::Tenant.seen_by(actor, &Scope::Tenant(id), Some(&t.environment), now)
                }) =>
            {
                return Ok((self, t));
            }
            Some(_) => Why::OutOfScope(Some(id)),
            None => Why::Absent,
        };
        self.on(Target::Tenant(id));
        Err(self.unseen(why, ServiceError::TenantNotFound).await)
    }

    /// The account `id`, with its scope and environment, if the caller sees
    /// it as `sight` ([`Sight::Account`], or [`Sight::Credential`] for the
    /// holder of a credential); one's own account is always in sight.
    /// Otherwise the attempt is refused with `answer`. An account of a
    /// crypto-shredded tenant is gone (410) to a call that would use it,
    /// and still found by one that only narrows access ([`Reach`]).
    pub(crate) async fn account_in_sight(
        mut self,
        id: PrincipalId,
        sight: Sight,
        reach: Reach,
        answer: ServiceError,
    ) -> Result<(Self, Placed), ServiceError> {
        let now = self.now();
        let actor = self.caller().actor();
        let found = self.read().principal(id).await?;
        let home = match &found {
            Some(account) => Some(account_home_in(self.read(), account).await?),
            None => None,
        };
        let why = match (found, home) {
            (Some(account), Some((scope, tenant)))
                if actor.is_some_and(|actor| {
                    let environment = tenant.as_ref().map(|t| &t.environment);
                    id == actor.principal || sight.seen_by(actor, &scope, environment, now)
                }) =>
            {
                let gate = match reach {
                    Reach::Use => self.live(tenant.as_ref()).await?,
                    Reach::Narrow => self,
                };
                let placed = Placed {
                    account,
                    scope,
                    environment: tenant.map(|t| t.environment),
                };
                return Ok((gate, placed));
            }
            (Some(account), _) => Why::OutOfScope(account.tenant),
            (None, _) => Why::Absent,
        };
        Err(self.unseen(why, answer).await)
    }
}

/// An account and where it lives: the scope and environment a
/// permission over it is checked in.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    pub account: PrincipalRecord,
    pub scope: Scope,
    pub environment: Option<Environment>,
}

/// The answer to an account that is not there or not in sight.
pub(crate) fn account_not_found(id: PrincipalId) -> ServiceError {
    ServiceError::NotFound {
        what: format!("principal {id}"),
    }
}
