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
    Action, Cut, Environment, Grant, Permission, PermissionSet, PrincipalId, Role, RoleName, Scope,
    Tenant, TenantId,
};
use rempart_store::{
    AccountKind, GrantRecord, PrincipalRecord, ReadTx, RoleRecord, StoreError, TokenRecord,
};
use secrecy::SecretString;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::administrators::Removal;
use super::authorize_naming;
use super::config::SodRule;
use super::login::SessionView;
use crate::kernel::actor::{Actor, Credential};
use crate::kernel::context::RequestContext;
use crate::kernel::details::Details;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Clearance, Cleared, Gate, Open, Write};
use crate::kernel::liveness::Reach;
use crate::kernel::secret::{self, SecretKind};
use crate::kernel::target::Target;
use crate::kernel::visibility::{Sight, Why, account_not_found, account_scope_in};
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
        Role::PrivacyOfficer => "Answers data-subject requests; decides class downgrades",
    }
}

impl NewRole {
    /// Refuses what no role may be (no change, no event).
    fn check(&self) -> Result<(), ServiceError> {
        if self.name.builtin().is_some() {
            return Err(ServiceError::Invalid {
                field: "name",
                message: format!("{} is a built-in role", self.name),
            });
        }
        if self.permissions.is_empty() {
            return Err(ServiceError::Invalid {
                field: "permissions",
                message: "a role carries at least one permission".to_owned(),
            });
        }
        if self.description.chars().count() > 500 {
            return Err(ServiceError::Invalid {
                field: "description",
                message: "at most 500 characters".to_owned(),
            });
        }
        Ok(())
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
        let call = Call::by(actor, ctx, Action::RoleCreate).on(Target::Role(new.name.clone()));
        let gate = self
            .kernel
            .write(call)
            .await?
            .authorize(Permission::RoleManage, &Scope::Global, None)
            .await?;
        let mut gate = self.ensure_step_up(gate).await?;
        new.check()?;
        let now = gate.now();
        // A role is granted anywhere: it carries only what the creating
        // credential holds staff-wide.
        if let Some(missing) = new
            .permissions
            .iter()
            .find(|p| !actor.may(*p, &Scope::Global, None, now))
        {
            let message = format!(
                "the asking credential does not hold {missing} staff-wide, which the role would carry"
            );
            return Err(gate.refuse_rule("no-escalation", message).await);
        }
        let record = RoleRecord {
            name: new.name,
            permissions: new.permissions,
            description: new.description,
            created_at: now,
        };
        match gate.tx().insert_role(&record).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => {
                return Err(ServiceError::Invalid {
                    field: "name",
                    message: format!("a role named {} exists", record.name),
                });
            }
            Err(e) => return Err(e.into()),
        }
        gate.details(Details::field("permissions", record.permissions.to_names()));
        gate.commit().await?;
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
        let call = Call::by(actor, ctx, Action::RoleList);
        let gate = self.kernel.audited_read(call).await?;
        let mut gate = if actor
            .tenant_filter(Permission::RoleRead, gate.now())
            .is_some()
        {
            // Roles are defined once for every scope: `role.read` in any
            // scope reads them all.
            gate.clear(Clearance::Scoped)
        } else {
            authorize_naming(
                gate,
                Target::Roles,
                Permission::RoleRead,
                &Scope::Global,
                None,
            )
            .await?
        };
        let custom = gate.read().roles().await?;
        gate.commit().await?;
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
    pub async fn grant_role(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        new: NewGrant,
    ) -> Result<GrantRecord, ServiceError> {
        let call = Call::by(actor, ctx, Action::GrantCreate).on(Target::Principal(new.principal));
        let gate = self.kernel.write(call).await?;
        // A tenant or an account the granter does not see is not found; a
        // shredded tenant, or an account of one, is gone.
        let (gate, environment) = match &new.scope {
            Scope::Tenant(t) => {
                let (gate, environment) = gate.tenant_in_sight(*t).await?;
                (gate, Some(environment))
            }
            _ => (gate, None),
        };
        let (mut gate, holder) = gate
            .account_in_sight(
                new.principal,
                Sight::Account,
                Reach::Use,
                account_not_found(new.principal),
            )
            .await?;
        let custom = match new.role.builtin() {
            Some(_) => None,
            None => gate.read().role(&new.role).await?,
        };
        let held = gate.read().grant_records_of(new.principal).await?;
        let gate = gate
            .authorize(Permission::GrantManage, &new.scope, environment.as_ref())
            .await?;
        let mut gate = self.ensure_step_up(gate).await?;
        gate.in_tenant(tenant_of(&new.scope));
        let permissions = match (new.role.builtin(), custom) {
            (Some(role), _) => role.permissions(),
            (None, Some(custom)) => custom.permissions,
            (None, None) => {
                let message = format!("unknown role {}", new.role);
                let answer = ServiceError::Invalid {
                    field: "role",
                    message: message.clone(),
                };
                return Err(gate.refuse(&message, answer).await);
            }
        };
        let now = gate.now();
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(ServiceError::Invalid {
                field: "expires_at",
                message: "the expiry is in the past".to_owned(),
            });
        }
        let grant = Grant {
            role: new.role,
            permissions,
            scope: new.scope,
            expires_at: new.expires_at,
        };
        let rule = self.grant_rule(
            actor,
            &holder.account,
            &grant,
            &held,
            environment.as_ref(),
            now,
        )?;
        if let Some((rule, message)) = rule {
            return Err(gate.refuse_rule(rule, message).await);
        }
        let record = GrantRecord {
            id: self.kernel.clock.new_id(),
            principal: new.principal,
            grant,
            created_at: now,
            granted_by: Some(actor.principal),
        };
        gate.tx().insert_grant_record(&record).await?;
        let grant = format!(
            "{} to {}",
            record.grant.role,
            Target::Principal(record.principal)
        );
        gate.on(Target::Grant(record.id));
        gate.details(Details::field("grant", grant));
        gate.commit().await?;
        Ok(record)
    }

    /// The access rule that granting `grant` to `holder` (who holds
    /// `held`) would break, with its message: no self-grant, no
    /// escalation, the tenant boundary, separation of duties.
    fn grant_rule(
        &self,
        actor: &Actor,
        holder: &PrincipalRecord,
        grant: &Grant,
        held: &[GrantRecord],
        environment: Option<&Environment>,
        now: OffsetDateTime,
    ) -> Result<Option<(&'static str, String)>, ServiceError> {
        if holder.id == actor.principal {
            return Ok(Some((
                "no-self-grant",
                "no one grants a role to themselves".to_owned(),
            )));
        }
        // Judged against the credential's cut grants, and over the grant's
        // whole life: a grant outliving the granter's own is an escalation
        // in time.
        if let Some(missing) = uncovered(
            std::slice::from_ref(grant),
            actor.grants(),
            grant.expires_at,
            now,
            |_| environment.cloned(),
        ) {
            let message = if missing.held_now {
                format!(
                    "the granter holds {} in that scope for less time than the grant would last, which {} carries",
                    missing.permission, grant.role
                )
            } else {
                format!(
                    "the granter does not hold {} in that scope, which {} carries",
                    missing.permission, grant.role
                )
            };
            return Ok(Some(("no-escalation", message)));
        }
        if holder.kind == AccountKind::TenantUser && tenant_of(&grant.scope) != holder.tenant {
            return Ok(Some((
                "tenant-boundary",
                "a tenant user's grants stay within their tenant".to_owned(),
            )));
        }
        Ok(self
            .sod_conflict(held, &grant.role, now)?
            .map(|message| ("separation-of-duties", message)))
    }

    /// The configured separation-of-duty rules.
    pub(crate) fn sod_rules(&self) -> Result<Vec<SodRule>, ServiceError> {
        self.identity
            .config
            .sod_rules()
            .map_err(|message| ServiceError::Invalid {
                field: "identity.separation_of_duties",
                message,
            })
    }

    /// The separation-of-duty rule that holding `held` and being granted
    /// `wanted` would break, as a message.
    fn sod_conflict(
        &self,
        held: &[GrantRecord],
        wanted: &RoleName,
        now: OffsetDateTime,
    ) -> Result<Option<String>, ServiceError> {
        let rules = self.sod_rules()?;
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
        let call = Call::by(actor, ctx, Action::GrantRevoke).on(Target::Grant(grant));
        let mut gate = self.kernel.write(call).await?;
        let now = gate.now();
        let found = gate.read().grant_record(grant).await?;
        let environment = match found.as_ref().map(|g| &g.grant.scope) {
            Some(Scope::Tenant(t)) => gate.read().tenant(*t).await?.map(|t| t.environment),
            _ => None,
        };
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
            Some(g) => Err(Why::OutOfScope(tenant_of(&g.grant.scope))),
        };
        let record = match seen {
            Ok(record) => record,
            Err(why) => {
                let answer = ServiceError::NotFound {
                    what: format!("grant {grant}"),
                };
                return Err(gate.unseen(why, answer).await);
            }
        };
        let gate = gate
            .authorize(
                Permission::GrantManage,
                &record.grant.scope,
                environment.as_ref(),
            )
            .await?;
        let mut gate = self.ensure_step_up(gate).await?;
        gate.in_tenant(tenant_of(&record.grant.scope));
        if self
            .removes_last_administrator(gate.tx(), Removal::Grant(grant))
            .await?
        {
            return Err(gate
                .refuse_rule(
                    "last-administrator",
                    "it is the last grant of grant.manage and user.update staff-wide, without expiry, of an active account; grant them to another account first",
                )
                .await);
        }
        gate.tx().delete_grant(grant).await?;
        let revoked = format!(
            "{} of {}",
            record.grant.role,
            Target::Principal(record.principal)
        );
        gate.details(Details::field("grant", revoked));
        gate.commit().await?;
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
        let call = Call::by(actor, ctx, Action::GrantList).on(Target::Principal(principal));
        let gate = self.kernel.audited_read(call).await?;
        let mut gate = listed_holder(gate, principal).await?;
        let grants = gate.read().grant_records_of(principal).await?;
        gate.commit().await?;
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
        let holder_id = new.holder.unwrap_or(actor.principal);
        let call = Call::by(actor, ctx, Action::TokenCreate).on(Target::Principal(holder_id));
        let gate = self.kernel.write(call).await?;
        let (gate, holder) = self.token_holder(gate, holder_id).await?;
        let now = gate.now();
        let name = token_name(&new.name)?;
        let lifetime = token_lifetime(actor, new.expires_in, now)?;
        // A tenant the caller cannot see answers as one that does not exist,
        // before anything is said about the cut; a shredded one is gone.
        let (mut gate, tenant) = match new.tenant {
            Some(t) => {
                let (gate, tenant) = gate.live_tenant(t).await?;
                (gate, Some(tenant))
            }
            None => (gate, None),
        };
        let cut = Cut {
            tenant: new.tenant,
            permissions: new.permissions,
            networks: new.allow_list.clone(),
            expires_at: Some(now + lifetime),
        };
        if let Some(reason) =
            token_excess(gate.read(), actor, &holder, &cut, tenant.as_ref(), now).await?
        {
            gate.in_tenant(new.tenant);
            return Err(gate.refuse_rule("no-escalation", reason).await);
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
        gate.tx().insert_token(&record).await?;
        gate.on(Target::Token(record.id));
        gate.commit().await?;
        Ok((record, secret))
    }

    /// The holder of a new token, once the caller may make one for it: the
    /// caller itself, or a service account with `user.update` staff-wide;
    /// from a session, after a recent login. An account the caller does
    /// not see is not found, whatever its kind; an emergency account has
    /// no tokens.
    async fn token_holder<'a>(
        &self,
        gate: Gate<'a, Write, Open>,
        holder: PrincipalId,
    ) -> Result<(Gate<'a, Write, Cleared>, PrincipalRecord), ServiceError> {
        let (gate, placed) = gate
            .account_in_sight(
                holder,
                Sight::Account,
                Reach::Use,
                account_not_found(holder),
            )
            .await?;
        let own = gate
            .caller()
            .actor()
            .is_some_and(|actor| actor.principal == holder);
        let gate = if own {
            gate.clear(Clearance::Own)
        } else {
            if placed.account.kind != AccountKind::Service {
                return Err(ServiceError::Invalid {
                    field: "holder",
                    message: "tokens are made for oneself or for a service account".to_owned(),
                });
            }
            gate.authorize(Permission::UserUpdate, &Scope::Global, None)
                .await?
        };
        let gate = self.ensure_step_up(gate).await?;
        if placed.account.break_glass {
            return Err(ServiceError::Invalid {
                field: "holder",
                message: "emergency accounts log in interactively; they have no API tokens"
                    .to_owned(),
            });
        }
        Ok((gate, placed.account))
    }

    /// The API tokens of an account: the caller's own, or with `user.read`
    /// over the account.
    pub async fn list_tokens(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        holder: Option<PrincipalId>,
    ) -> Result<Vec<TokenRecord>, ServiceError> {
        let holder = holder.unwrap_or(actor.principal);
        let call = Call::by(actor, ctx, Action::TokenList).on(Target::Principal(holder));
        let gate = self.kernel.audited_read(call).await?;
        let mut gate = listed_holder(gate, holder).await?;
        let tokens = gate.read().tokens_of(holder).await?;
        gate.commit().await?;
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
        let holder = holder.unwrap_or(actor.principal);
        let call = Call::by(actor, ctx, Action::SessionList).on(Target::Principal(holder));
        let gate = self.kernel.audited_read(call).await?;
        let mut gate = listed_holder(gate, holder).await?;
        let now = gate.now();
        let sessions = gate.read().sessions_of(holder, now).await?;
        gate.commit().await?;
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
    /// and audit, in the gate's transaction.
    async fn revoke_credential(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        credential: Revocable,
    ) -> Result<(), ServiceError> {
        let (kind, id, action, target) = match credential {
            Revocable::Token(id) => ("token", id, Action::TokenRevoke, Target::Token(id)),
            Revocable::Session(id) => ("session", id, Action::SessionRevoke, Target::Session(id)),
        };
        let call = Call::by(actor, ctx, action).on(target);
        let mut gate = self.kernel.write(call).await?;
        let holder = match credential {
            Revocable::Token(id) => gate.read().token(id).await?.map(|t| t.principal),
            Revocable::Session(id) => gate.read().session(id).await?.map(|s| s.principal),
        };
        // Not there, or held by an account the caller does not see: the
        // same answer.
        let unseen = || ServiceError::NotFound {
            what: format!("{kind} {id}"),
        };
        let Some(holder) = holder else {
            return Err(gate.unseen(Why::Absent, unseen()).await);
        };
        let mut gate = authorize_revocation(gate, actor, (holder, id), unseen()).await?;
        let now = gate.now();
        match credential {
            Revocable::Token(id) => gate.tx().revoke_token(id, now).await?,
            Revocable::Session(id) => gate.tx().revoke_session(id, now).await?,
        };
        gate.commit().await
    }
}

/// The tenant a scope names, if it names one.
fn tenant_of(scope: &Scope) -> Option<TenantId> {
    match scope {
        Scope::Tenant(t) => Some(*t),
        _ => None,
    }
}

/// Clears a listing of `holder`'s grants or credentials: the caller's own,
/// or another account's with `user.read` over it (out of sight, it is not
/// found).
async fn listed_holder<M>(
    gate: Gate<'_, M, Open>,
    holder: PrincipalId,
) -> Result<Gate<'_, M, Cleared>, ServiceError> {
    let own = gate
        .caller()
        .actor()
        .is_some_and(|actor| actor.principal == holder);
    if own {
        return Ok(gate.clear(Clearance::Own));
    }
    let (gate, placed) = gate
        .account_in_sight(
            holder,
            Sight::Account,
            Reach::Use,
            account_not_found(holder),
        )
        .await?;
    gate.authorize(
        Permission::UserRead,
        &placed.scope,
        placed.environment.as_ref(),
    )
    .await
}

/// One's own credentials, or `session.revoke` over the holder. A
/// credential cut to one tenant or some permissions revokes itself, but
/// its holder's other credentials only with `session.revoke` in its cut
/// (invariant 8). Another account's credential is first looked up through
/// the visibility rule: out of sight, it answers as absent (`unseen`).
async fn authorize_revocation<'a>(
    mut gate: Gate<'a, Write, Open>,
    actor: &Actor,
    (holder, credential): (PrincipalId, Uuid),
    unseen: ServiceError,
) -> Result<Gate<'a, Write, Cleared>, ServiceError> {
    if holder == actor.principal && (credential == actor.token || !actor.cut().narrows_what()) {
        return Ok(gate.clear(Clearance::Own));
    }
    let (gate, scope, environment) = if holder == actor.principal {
        let found = gate.read().principal(holder).await?;
        let account = found.ok_or_else(|| account_not_found(holder))?;
        let (scope, environment) = account_scope_in(gate.read(), &account).await?;
        (gate, scope, environment)
    } else {
        // Revoking only narrows access: it still reaches the credentials
        // of a crypto-shredded tenant's accounts.
        let (gate, placed) = gate
            .account_in_sight(holder, Sight::Credential, Reach::Narrow, unseen)
            .await?;
        (gate, placed.scope, placed.environment)
    };
    gate.authorize(Permission::SessionRevoke, &scope, environment.as_ref())
        .await
}

/// How a new token for `holder`, cut to `cut`, would carry more than the
/// asking credential (invariant 8), as a refusal's reason; `None` when it
/// would not. Three checks: the declared cut within the asking
/// credential's (which holds whatever is granted later); a tenant binding
/// only to a tenant the asking credential holds a grant in; and the grants
/// the token would carry now covered by the asking credential's until the
/// token expires (a service account's grants are not the asker's). Read
/// in `tx`, the gate's transaction.
async fn token_excess(
    tx: &mut dyn ReadTx,
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
    Ok(
        uncovered(&carried, actor.grants(), cut.expires_at, now, |t| {
            environments.get(&t).cloned()
        })
        .map(|missing| format!("the token would carry more than the asking credential: {missing}")),
    )
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
