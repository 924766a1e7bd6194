//! Roles, grants, separation of duties, API tokens and session management
//! (controls AC-2, AC-6, DV-4).
//!
//! A grant is refused, with the rule named, when it would let someone
//! grant to themselves, grant more than they hold in that scope
//! (escalation), give a tenant user a scope outside their tenant, or join
//! two roles a separation-of-duty rule keeps apart.
//!
//! Invariant 8 (a credential never exceeds its parent): a token, a grant
//! or a custom role carries at most the authority of the credential that
//! makes it, as that credential is cut (tenant, permissions, networks,
//! expiry); refusals name the rule `no-escalation`.

use std::collections::HashMap;

use rempart_model::authority::uncovered;
use rempart_model::{
    Action, Cut, Environment, Grant, Outcome, Permission, PermissionSet, PrincipalId, Role,
    RoleName, Scope, Tenant, TenantId,
};
use rempart_store::{
    AccountKind, GrantRecord, PrincipalRecord, RoleRecord, StoreError, TokenRecord,
};
use secrecy::SecretString;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::Refusal;
use super::administrators::Removal;
use super::login::SessionView;
use crate::kernel::actor::{Actor, Credential};
use crate::kernel::audit_chain::Draft;
use crate::kernel::context::RequestContext;
use crate::kernel::details::Details;
use crate::kernel::error::ServiceError;
use crate::kernel::secret::{self, SecretKind};
use crate::kernel::visibility::{Sight, Unseen, Why, no_account};
use crate::service::Rempart;

/// The longest an API token may live.
const TOKEN_MAX_LIFETIME: Duration = Duration::days(366);
/// The lifetime of a token created without one.
pub(crate) const TOKEN_DEFAULT_LIFETIME: Duration = Duration::days(90);

/// A credential to revoke.
#[derive(Debug, Clone, Copy)]
enum Revocable {
    Token(Uuid),
    Session(Uuid),
}

#[derive(Debug, Clone)]
pub struct NewRole {
    pub name: RoleName,
    pub permissions: PermissionSet,
    pub description: String,
}

/// A role, built-in or custom, as listed.
#[derive(Debug, Clone)]
pub struct RoleView {
    pub name: RoleName,
    pub permissions: PermissionSet,
    pub builtin: bool,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct NewGrant {
    pub principal: PrincipalId,
    pub role: RoleName,
    pub scope: Scope,
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    /// Whose token: the caller's own when `None`; a service account's
    /// (with `user.update` staff-wide).
    pub holder: Option<PrincipalId>,
    /// `None`: the default lifetime (90 days, and never past the expiry
    /// of the asking token).
    pub expires_in: Option<Duration>,
    /// Cut the holder's permissions to these.
    pub permissions: Option<PermissionSet>,
    /// Bind the token to one tenant.
    pub tenant: Option<TenantId>,
    /// The networks the token may be used from.
    pub allow_list: Option<rempart_model::AllowList>,
}

/// An allow-list as stored: its networks, space-separated.
fn allow_list_text(list: &rempart_model::AllowList) -> String {
    list.entries()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn builtin_description(role: Role) -> &'static str {
    match role {
        Role::SecurityAdmin => "Runs the programme: tenants, keys, access",
        Role::Auditor => "Read-only access to evidence and the audit trail",
        Role::AccessReviewer => "Reviews who holds what; changes nothing",
        Role::IncidentCommander => "Leads incidents: audit trail, session revocation",
        Role::Hr => "Joiners and leavers: creates, suspends, terminates accounts",
        Role::Support => "Sees tenants and accounts, never data in clear",
        Role::TenantAdmin => "Administers one tenant's users and their roles",
        Role::TenantMember => "An ordinary user of a tenant",
        Role::Application => "A machine calling the API for a tenant",
    }
}

impl Rempart {
    /// Defines a custom role. Needs `role.manage` staff-wide and a recent
    /// login; built-in names are reserved.
    pub async fn create_role(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        new: NewRole,
    ) -> Result<RoleView, ServiceError> {
        let now = self.kernel.clock.now();
        let target = format!("role:{}", new.name);
        self.authorize(
            actor,
            ctx,
            now,
            Permission::RoleManage,
            (&Scope::Global, None),
            Action::RoleCreate,
            &target,
        )
        .await?;
        self.require_step_up(actor, ctx, now, Action::RoleCreate, &target)
            .await?;
        if new.name.builtin().is_some() {
            return Err(ServiceError::Invalid {
                field: "name",
                message: format!("{} is a built-in role", new.name),
            });
        }
        if new.permissions.is_empty() {
            return Err(ServiceError::Invalid {
                field: "permissions",
                message: "a role carries at least one permission".to_owned(),
            });
        }
        if new.description.chars().count() > 500 {
            return Err(ServiceError::Invalid {
                field: "description",
                message: "at most 500 characters".to_owned(),
            });
        }
        // A role is granted anywhere: it carries only what the creating
        // credential holds staff-wide.
        if let Some(missing) = new
            .permissions
            .iter()
            .find(|p| !actor.may(*p, &Scope::Global, None, now))
        {
            let refused = self
                .refuse_rule(
                    actor,
                    ctx,
                    now,
                    Refusal {
                        action: Action::RoleCreate,
                        target,
                        tenant: None,
                        reason: &format!(
                            "the asking credential does not hold {missing} staff-wide, which the role would carry"
                        ),
                    },
                    "no-escalation",
                )
                .await?;
            return Err(refused);
        }
        let record = RoleRecord {
            name: new.name,
            permissions: new.permissions,
            description: new.description,
            created_at: now,
        };
        let mut tx = self.kernel.store.begin().await?;
        match tx.insert_role(&record).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => {
                return Err(ServiceError::Invalid {
                    field: "name",
                    message: format!("a role named {} exists", record.name),
                });
            }
            Err(e) => return Err(e.into()),
        }
        let draft = Draft::new(actor.audit_name(), Action::RoleCreate, Outcome::Success)
            .target(target)
            .details(Details::field("permissions", record.permissions.to_names()));
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok(RoleView {
            name: record.name,
            permissions: record.permissions,
            builtin: false,
            description: record.description,
        })
    }

    /// Every role, built-in then custom. Needs `role.read` in some scope.
    pub async fn list_roles(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
    ) -> Result<Vec<RoleView>, ServiceError> {
        let now = self.kernel.clock.now();
        if actor.tenant_filter(Permission::RoleRead, now).is_none() {
            self.authorize(
                actor,
                ctx,
                now,
                Permission::RoleRead,
                (&Scope::Global, None),
                Action::RoleList,
                "roles",
            )
            .await?;
        }
        let mut tx = self.kernel.store.begin().await?;
        let custom = tx.roles().await?;
        let draft = Draft::new(actor.audit_name(), Action::RoleList, Outcome::Success);
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        let mut roles: Vec<RoleView> = Role::ALL
            .iter()
            .map(|r| RoleView {
                name: r.name(),
                permissions: r.permissions(),
                builtin: true,
                description: builtin_description(*r).to_owned(),
            })
            .collect();
        roles.extend(custom.into_iter().map(|r| RoleView {
            name: r.name,
            permissions: r.permissions,
            builtin: false,
            description: r.description,
        }));
        Ok(roles)
    }

    /// Grants a role in a scope. Needs `grant.manage` over the scope and a
    /// recent login, and passes the access rules (module docs).
    #[allow(
        clippy::too_many_lines,
        reason = "one flow read top to bottom: each refusal is recorded where it happens"
    )]
    pub async fn grant_role(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        new: NewGrant,
    ) -> Result<GrantRecord, ServiceError> {
        let now = self.kernel.clock.now();
        let target = format!("principal:{}", new.principal);
        // A tenant or an account the granter does not see is not found.
        let environment = match &new.scope {
            Scope::Tenant(t) => Some(
                self.tenant_in_sight(actor, ctx, now, *t, Action::GrantCreate)
                    .await?,
            ),
            _ => None,
        };
        let (holder, _, _) = self
            .account_in_sight(
                actor,
                ctx,
                now,
                new.principal,
                Sight::Account,
                no_account(new.principal, Action::GrantCreate),
            )
            .await?;
        let mut tx = self.kernel.store.begin_read().await?;
        let custom = match new.role.builtin() {
            Some(_) => None,
            None => tx.role(&new.role).await?,
        };
        let held = tx.grant_records_of(new.principal).await?;
        drop(tx);
        let tenant = match new.scope {
            Scope::Tenant(t) => Some(t),
            _ => None,
        };
        self.authorize(
            actor,
            ctx,
            now,
            Permission::GrantManage,
            (&new.scope, environment.as_ref()),
            Action::GrantCreate,
            &target,
        )
        .await?;
        self.require_step_up(actor, ctx, now, Action::GrantCreate, &target)
            .await?;
        let permissions = match (new.role.builtin(), custom) {
            (Some(role), _) => role.permissions(),
            (None, Some(custom)) => custom.permissions,
            (None, None) => {
                self.refuse_for(
                    actor,
                    ctx,
                    now,
                    Refusal {
                        action: Action::GrantCreate,
                        target,
                        tenant,
                        reason: &format!("unknown role {}", new.role),
                    },
                )
                .await?;
                return Err(ServiceError::Invalid {
                    field: "role",
                    message: format!("unknown role {}", new.role),
                });
            }
        };
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(ServiceError::Invalid {
                field: "expires_at",
                message: "the expiry is in the past".to_owned(),
            });
        }
        let rule: Option<(&'static str, String)> = if new.principal == actor.principal {
            Some((
                "no-self-grant",
                "no one grants a role to themselves".to_owned(),
            ))
        } else if let Some(missing) = uncovered(
            &[Grant {
                role: new.role.clone(),
                permissions,
                scope: new.scope.clone(),
                expires_at: new.expires_at,
            }],
            actor.grants(),
            new.expires_at,
            now,
            |_| environment.clone(),
        ) {
            // Judged against the credential's cut grants, and over the
            // grant's whole life: a grant outliving the granter's own is
            // an escalation in time.
            let message = if missing.held_now {
                format!(
                    "the granter holds {} in that scope for less time than the grant would last, which {} carries",
                    missing.permission, new.role
                )
            } else {
                format!(
                    "the granter does not hold {} in that scope, which {} carries",
                    missing.permission, new.role
                )
            };
            Some(("no-escalation", message))
        } else if holder.kind == AccountKind::TenantUser && tenant != holder.tenant {
            Some((
                "tenant-boundary",
                "a tenant user's grants stay within their tenant".to_owned(),
            ))
        } else {
            self.sod_conflict(&held, &new.role, now)?
                .map(|message| ("separation-of-duties", message))
        };
        if let Some((rule, reason)) = rule {
            let refused = self
                .refuse_rule(
                    actor,
                    ctx,
                    now,
                    Refusal {
                        action: Action::GrantCreate,
                        target,
                        tenant,
                        reason: &reason,
                    },
                    rule,
                )
                .await?;
            return Err(refused);
        }
        let record = GrantRecord {
            id: self.kernel.clock.new_id(),
            principal: new.principal,
            grant: Grant {
                role: new.role,
                permissions,
                scope: new.scope,
                expires_at: new.expires_at,
            },
            created_at: now,
            granted_by: Some(actor.principal),
        };
        let mut tx = self.kernel.store.begin().await?;
        tx.insert_grant_record(&record).await?;
        let draft = Draft::new(actor.audit_name(), Action::GrantCreate, Outcome::Success)
            .target(format!("grant:{}", record.id))
            .details(Details::field(
                "grant",
                format!("{} to principal:{}", record.grant.role, record.principal),
            ))
            .in_tenant(tenant);
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// The separation-of-duty rule that holding `held` and being granted
    /// `wanted` would break, as a message.
    fn sod_conflict(
        &self,
        held: &[GrantRecord],
        wanted: &RoleName,
        now: OffsetDateTime,
    ) -> Result<Option<String>, ServiceError> {
        let rules = self
            .identity
            .config
            .sod_rules()
            .map_err(|message| ServiceError::Invalid {
                field: "identity.separation_of_duties",
                message,
            })?;
        for grant in held.iter().filter(|g| g.grant.is_active(now)) {
            if let Some(rule) = rules.iter().find(|r| r.forbids(&grant.grant.role, wanted)) {
                return Ok(Some(format!(
                    "{rule}: the account holds {} (grant {})",
                    grant.grant.role, grant.id
                )));
            }
        }
        Ok(None)
    }

    /// Revokes a grant. Needs `grant.manage` over its scope and a recent
    /// login; takes effect on the holder's next request, on every replica.
    pub async fn revoke_grant(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        grant: Uuid,
    ) -> Result<(), ServiceError> {
        let now = self.kernel.clock.now();
        let target = format!("grant:{grant}");
        let mut tx = self.kernel.store.begin_read().await?;
        let found = tx.grant_record(grant).await?;
        let environment = match found.as_ref().map(|g| &g.grant.scope) {
            Some(Scope::Tenant(t)) => tx.tenant(*t).await?.map(|t| t.environment),
            _ => None,
        };
        drop(tx);
        // Seen by its holder, and by whoever reads accounts or manages
        // grants in its scope; otherwise not found.
        let seen = match found {
            None => Err(Why::Absent),
            Some(g)
                if g.principal == actor.principal
                    || Sight::Grant.seen_by(actor, &g.grant.scope, environment.as_ref(), now) =>
            {
                Ok(g)
            }
            Some(g) => Err(Why::OutOfScope(match g.grant.scope {
                Scope::Tenant(t) => Some(t),
                _ => None,
            })),
        };
        let record = match seen {
            Ok(record) => record,
            Err(why) => {
                let unseen = Unseen {
                    action: Action::GrantRevoke,
                    target,
                    answer: ServiceError::NotFound {
                        what: format!("grant {grant}"),
                    },
                };
                return Err(self.unseen(actor, ctx, now, why, unseen).await?);
            }
        };
        self.authorize(
            actor,
            ctx,
            now,
            Permission::GrantManage,
            (&record.grant.scope, environment.as_ref()),
            Action::GrantRevoke,
            &target,
        )
        .await?;
        self.require_step_up(actor, ctx, now, Action::GrantRevoke, &target)
            .await?;
        let mut tx = self.kernel.store.begin().await?;
        if self
            .removes_last_administrator(tx.as_mut(), Removal::Grant(grant))
            .await?
        {
            drop(tx);
            let tenant = match record.grant.scope {
                Scope::Tenant(t) => Some(t),
                _ => None,
            };
            let refused = self
                .refuse_rule(
                    actor,
                    ctx,
                    now,
                    Refusal {
                        action: Action::GrantRevoke,
                        target,
                        tenant,
                        reason: "it is the last grant of grant.manage and user.update staff-wide, without expiry, of an active account; grant them to another account first",
                    },
                    "last-administrator",
                )
                .await?;
            return Err(refused);
        }
        tx.delete_grant(grant).await?;
        let mut draft = Draft::new(actor.audit_name(), Action::GrantRevoke, Outcome::Success)
            .target(target)
            .details(Details::field(
                "grant",
                format!("{} of principal:{}", record.grant.role, record.principal),
            ));
        if let Scope::Tenant(t) = record.grant.scope {
            draft = draft.tenant(t);
        }
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The grants of an account. The caller's own, or with `user.read` over
    /// the account.
    pub async fn list_grants(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        principal: PrincipalId,
    ) -> Result<Vec<GrantRecord>, ServiceError> {
        let now = self.kernel.clock.now();
        let target = format!("principal:{principal}");
        if principal != actor.principal {
            let (_, scope, env) = self
                .account_in_sight(
                    actor,
                    ctx,
                    now,
                    principal,
                    Sight::Account,
                    no_account(principal, Action::GrantList),
                )
                .await?;
            self.authorize(
                actor,
                ctx,
                now,
                Permission::UserRead,
                (&scope, env.as_ref()),
                Action::GrantList,
                &target,
            )
            .await?;
        }
        let mut tx = self.kernel.store.begin().await?;
        let grants = tx.grant_records_of(principal).await?;
        let draft =
            Draft::new(actor.audit_name(), Action::GrantList, Outcome::Success).target(target);
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok(grants)
    }

    /// Creates an API token (the secret is returned once, stored hashed).
    /// For the caller, or for a service account with `user.update`
    /// staff-wide; from a session, after a recent login.
    pub async fn create_token(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        new: NewToken,
    ) -> Result<(TokenRecord, SecretString), ServiceError> {
        let now = self.kernel.clock.now();
        let holder_id = new.holder.unwrap_or(actor.principal);
        let target = format!("principal:{holder_id}");
        // An account the caller does not see is not found, whatever its
        // kind.
        let (holder, _, _) = self
            .account_in_sight(
                actor,
                ctx,
                now,
                holder_id,
                Sight::Account,
                no_account(holder_id, Action::TokenCreate),
            )
            .await?;
        if holder_id != actor.principal {
            if holder.kind != AccountKind::Service {
                return Err(ServiceError::Invalid {
                    field: "holder",
                    message: "tokens are made for oneself or for a service account".to_owned(),
                });
            }
            self.authorize(
                actor,
                ctx,
                now,
                Permission::UserUpdate,
                (&Scope::Global, None),
                Action::TokenCreate,
                &target,
            )
            .await?;
        }
        self.require_step_up(actor, ctx, now, Action::TokenCreate, &target)
            .await?;
        if holder.break_glass {
            return Err(ServiceError::Invalid {
                field: "holder",
                message: "emergency accounts log in interactively; they have no API tokens"
                    .to_owned(),
            });
        }
        let name = token_name(&new.name)?;
        let lifetime = token_lifetime(actor, new.expires_in, now)?;
        // A tenant the caller cannot see answers as one that does not exist,
        // before anything is said about the cut.
        let tenant = match new.tenant {
            Some(t) => {
                self.tenant_in_sight(actor, ctx, now, t, Action::TokenCreate)
                    .await?;
                Some(self.tenant_record(t).await?)
            }
            None => None,
        };
        let cut = Cut {
            tenant: new.tenant,
            permissions: new.permissions,
            networks: new.allow_list.clone(),
            expires_at: Some(now + lifetime),
        };
        if let Some(reason) = self
            .token_excess(actor, &holder, &cut, tenant.as_ref(), now)
            .await?
        {
            return Err(self
                .refuse_excess(
                    actor,
                    ctx,
                    now,
                    (Action::TokenCreate, target, new.tenant),
                    &reason,
                )
                .await?);
        }
        let secret = secret::generate(SecretKind::ApiToken)?;
        let record = TokenRecord {
            id: self.kernel.clock.new_id(),
            principal: holder_id,
            hash: secret::fingerprint(&secret),
            name,
            created_at: now,
            expires_at: Some(now + lifetime),
            revoked_at: None,
            last_used_at: None,
            tenant: new.tenant,
            permissions: new.permissions,
            allow_list: new.allow_list.as_ref().map(allow_list_text),
        };
        let mut tx = self.kernel.store.begin().await?;
        tx.insert_token(&record).await?;
        let draft = Draft::new(actor.audit_name(), Action::TokenCreate, Outcome::Success)
            .target(format!("token:{}", record.id));
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok((record, secret))
    }

    async fn tenant_record(&self, id: TenantId) -> Result<Tenant, ServiceError> {
        let mut tx = self.kernel.store.begin_read().await?;
        let found = tx.tenant(id).await?;
        drop(tx);
        found.ok_or(ServiceError::TenantNotFound)
    }

    /// Refuses (and records) what would carry more than the asking
    /// credential: the rule `no-escalation`.
    async fn refuse_excess(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        now: OffsetDateTime,
        (action, target, tenant): (Action, String, Option<TenantId>),
        reason: &str,
    ) -> Result<ServiceError, ServiceError> {
        self.refuse_rule(
            actor,
            ctx,
            now,
            Refusal {
                action,
                target,
                tenant,
                reason,
            },
            "no-escalation",
        )
        .await
    }

    /// How a new token for `holder`, cut to `cut`, would carry more than
    /// the asking credential (invariant 8), as a refusal's reason; `None`
    /// when it would not. Three checks: the declared cut within the asking
    /// credential's (which holds whatever is granted later); a tenant
    /// binding only to a tenant the asking credential holds a grant in; and
    /// the grants the token would carry now covered by the asking
    /// credential's until the token expires (a service account's grants
    /// are not the asker's).
    async fn token_excess(
        &self,
        actor: &Actor,
        holder: &PrincipalRecord,
        cut: &Cut,
        tenant: Option<&Tenant>,
        now: OffsetDateTime,
    ) -> Result<Option<String>, ServiceError> {
        if let Some(excess) = cut.exceeds(actor.cut()) {
            return Ok(Some(excess.to_string()));
        }
        if let Some(tenant) = tenant {
            let target = Scope::Tenant(tenant.id);
            let holds = actor
                .grants()
                .iter()
                .any(|g| g.is_active(now) && g.scope.covers(&target, Some(&tenant.environment)));
            if !holds {
                return Ok(Some(format!(
                    "the asking credential holds no grant in tenant {}",
                    tenant.id
                )));
            }
        }
        let mut tx = self.kernel.store.begin_read().await?;
        let grants = tx.grants_of(holder.id).await?;
        let carried = super::login::restrict(grants, cut.permissions, tenant);
        let mut environments: HashMap<TenantId, Environment> = HashMap::new();
        for grant in &carried {
            if let Scope::Tenant(t) = grant.scope
                && !environments.contains_key(&t)
                && let Some(found) = tx.tenant(t).await?
            {
                environments.insert(t, found.environment);
            }
        }
        drop(tx);
        Ok(
            uncovered(&carried, actor.grants(), cut.expires_at, now, |t| {
                environments.get(&t).cloned()
            })
            .map(|missing| {
                format!("the token would carry more than the asking credential: {missing}")
            }),
        )
    }

    /// Whose credentials a listing shows (the caller's own when `None`),
    /// and its audit target: another account's needs `user.read` over it.
    async fn holder_for_listing(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        now: OffsetDateTime,
        holder: Option<PrincipalId>,
        action: Action,
    ) -> Result<(PrincipalId, String), ServiceError> {
        let holder = holder.unwrap_or(actor.principal);
        let target = format!("principal:{holder}");
        if holder != actor.principal {
            let (_, scope, env) = self
                .account_in_sight(
                    actor,
                    ctx,
                    now,
                    holder,
                    Sight::Account,
                    no_account(holder, action),
                )
                .await?;
            self.authorize(
                actor,
                ctx,
                now,
                Permission::UserRead,
                (&scope, env.as_ref()),
                action,
                &target,
            )
            .await?;
        }
        Ok((holder, target))
    }

    /// The API tokens of an account: the caller's own, or with `user.read`
    /// over the account.
    pub async fn list_tokens(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        holder: Option<PrincipalId>,
    ) -> Result<Vec<TokenRecord>, ServiceError> {
        let now = self.kernel.clock.now();
        let (holder, target) = self
            .holder_for_listing(actor, ctx, now, holder, Action::TokenList)
            .await?;
        let mut tx = self.kernel.store.begin().await?;
        let tokens = tx.tokens_of(holder).await?;
        let draft =
            Draft::new(actor.audit_name(), Action::TokenList, Outcome::Success).target(target);
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok(tokens)
    }
    /// Revokes an API token: one's own, or anyone's with `session.revoke`
    /// over the holder. The next request with it fails, on every replica.
    pub async fn revoke_token(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        token: Uuid,
    ) -> Result<(), ServiceError> {
        self.revoke_credential(actor, ctx, Revocable::Token(token))
            .await
    }

    /// The live sessions of an account: the caller's own, or with
    /// `user.read` over the account.
    pub async fn list_sessions(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        holder: Option<PrincipalId>,
    ) -> Result<Vec<SessionView>, ServiceError> {
        let now = self.kernel.clock.now();
        let (holder, target) = self
            .holder_for_listing(actor, ctx, now, holder, Action::SessionList)
            .await?;
        let mut tx = self.kernel.store.begin().await?;
        let sessions = tx.sessions_of(holder, now).await?;
        let draft =
            Draft::new(actor.audit_name(), Action::SessionList, Outcome::Success).target(target);
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        let current = match actor.credential {
            Credential::Session { id, .. } => Some(id),
            Credential::Token(_) => None,
        };
        Ok(sessions
            .into_iter()
            .map(|s| SessionView {
                id: s.id,
                principal: s.principal,
                stage: s.stage,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                source: s.source,
                current: Some(s.id) == current,
            })
            .collect())
    }
    /// Ends a session: one's own, or anyone's with `session.revoke` over
    /// the holder.
    pub async fn revoke_session(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        session: Uuid,
    ) -> Result<(), ServiceError> {
        self.revoke_credential(actor, ctx, Revocable::Session(session))
            .await
    }

    /// The one revocation path of tokens and sessions: find the holder,
    /// authorize (one's own, or `session.revoke` over the holder), revoke
    /// and audit in one transaction.
    async fn revoke_credential(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        credential: Revocable,
    ) -> Result<(), ServiceError> {
        let now = self.kernel.clock.now();
        let (kind, id, action) = match credential {
            Revocable::Token(id) => ("token", id, Action::TokenRevoke),
            Revocable::Session(id) => ("session", id, Action::SessionRevoke),
        };
        let target = format!("{kind}:{id}");
        let mut tx = self.kernel.store.begin_read().await?;
        let holder = match credential {
            Revocable::Token(id) => tx.token(id).await?.map(|t| t.principal),
            Revocable::Session(id) => tx.session(id).await?.map(|s| s.principal),
        };
        drop(tx);
        // Not there, or held by an account the caller does not see: the
        // same answer.
        let unseen = Unseen {
            action,
            target: target.clone(),
            answer: ServiceError::NotFound {
                what: format!("{kind} {id}"),
            },
        };
        let Some(holder) = holder else {
            return Err(self.unseen(actor, ctx, now, Why::Absent, unseen).await?);
        };
        self.authorize_revocation(actor, ctx, now, (holder, id), unseen)
            .await?;
        let mut tx = self.kernel.store.begin().await?;
        match credential {
            Revocable::Token(id) => tx.revoke_token(id, now).await?,
            Revocable::Session(id) => tx.revoke_session(id, now).await?,
        };
        let draft = Draft::new(actor.audit_name(), action, Outcome::Success).target(target);
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One's own credentials, or `session.revoke` over the holder. A
    /// credential cut to one tenant or some permissions revokes itself, but
    /// its holder's other credentials only with `session.revoke` in its
    /// cut (invariant 8). Another account's credential is first looked up
    /// through the visibility rule: out of sight, it answers as absent.
    async fn authorize_revocation(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        now: OffsetDateTime,
        (holder, credential): (PrincipalId, Uuid),
        unseen: Unseen,
    ) -> Result<(), ServiceError> {
        if holder == actor.principal && (credential == actor.token || !actor.cut().narrows_what()) {
            return Ok(());
        }
        let (action, target) = (unseen.action, unseen.target.clone());
        let (scope, env) = if holder == actor.principal {
            let mut tx = self.kernel.store.begin_read().await?;
            let found = tx.principal(holder).await?;
            drop(tx);
            let account = found.ok_or_else(|| ServiceError::NotFound {
                what: format!("principal {holder}"),
            })?;
            self.account_scope(&account).await?
        } else {
            let (_, scope, env) = self
                .account_in_sight(actor, ctx, now, holder, Sight::Credential, unseen)
                .await?;
            (scope, env)
        };
        self.authorize(
            actor,
            ctx,
            now,
            Permission::SessionRevoke,
            (&scope, env.as_ref()),
            action,
            &target,
        )
        .await
    }
}

/// The cut of a stored API token: what its actor carries besides its
/// holder's grants (see [`Actor::cut`]). Networks that no longer parse are
/// left out, as the check at use leaves them out.
pub(crate) fn token_cut(token: &TokenRecord) -> Cut {
    Cut {
        tenant: token.tenant,
        permissions: token.permissions,
        networks: token.allow_list.as_deref().map(|list| {
            let nets = list
                .split_whitespace()
                .filter(|n| n.parse::<ipnet::IpNet>().is_ok());
            rempart_model::AllowList::parse(nets)
                .unwrap_or_else(|_| rempart_model::AllowList::none())
        }),
        expires_at: token.expires_at,
    }
}

/// A token's name: 1 to 100 characters, trimmed.
fn token_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ServiceError::Invalid {
            field: "name",
            message: "1 to 100 characters".to_owned(),
        });
    }
    Ok(name.to_owned())
}

/// A new token's lifetime: as asked, 1 to 366 days; by default 90 days,
/// stopping at the asking token's expiry (a lifetime asked for explicitly
/// past it is refused as `no-escalation` afterwards).
fn token_lifetime(
    actor: &Actor,
    asked: Option<Duration>,
    now: OffsetDateTime,
) -> Result<Duration, ServiceError> {
    let lifetime = asked.unwrap_or_else(|| {
        actor
            .cut()
            .expires_at
            .map_or(TOKEN_DEFAULT_LIFETIME, |until| {
                TOKEN_DEFAULT_LIFETIME.min(until - now)
            })
    });
    if lifetime <= Duration::ZERO || lifetime > TOKEN_MAX_LIFETIME {
        return Err(ServiceError::Invalid {
            field: "expires_in_days",
            message: "a token lives 1 to 366 days".to_owned(),
        });
    }
    Ok(lifetime)
}
