//! The gate: the one way a domain changes state (invariants 1 and 2).
//!
//! ```text
//! kernel.write(call)          opens the write transaction
//!   .authorize(perm, scope)   decides inside it; a refusal is recorded
//!                             in a transaction of its own, the change
//!                             rolled back, and the answer returned
//!   gate.tx()                 the domain's body: only a cleared gate
//!                             hands out the write transaction
//!   gate.commit()             appends the audit event, then commits
//! ```
//!
//! The states are types: a [`Gate`] in state [`Open`] reads but cannot
//! write; only [`Gate::authorize`] (or [`Gate::clear`], for a caller with
//! no account whose secret the body checks, or for Rempart's own work)
//! moves it to [`Cleared`], whose [`Gate::tx`] writes. Dropping a gate rolls
//! its transaction back and leaves no event: a failure (bad input, a
//! conflict) changes nothing. A refusal ([`Gate::refuse`]) is recorded the
//! same way wherever it is decided: an event with outcome `denied`, the
//! caller, action and target, and the reason sealed in its details.
//! [`Kernel::audited_read`] is the read twin: the same checks and event,
//! and a transaction the domain can only read from.

use std::marker::PhantomData;

use rempart_model::{Action, Environment, Outcome, Permission, PrincipalId, Scope, TenantId};
use rempart_store::{ReadTx, Tx};
use time::OffsetDateTime;

use super::Kernel;
use super::actor::Actor;
use super::audit_chain::Draft;
use super::context::RequestContext;
use super::details::Details;
use super::error::ServiceError;
use super::target::Target;

/// Who asks for a change.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// An authenticated principal.
    Actor(&'a Actor),
    /// Someone not authenticated: a login, an unseal, a bootstrap exchange.
    Anonymous,
    /// The holder of a credential being authenticated, not yet admitted
    /// (an inactive account, a source off its allow-list), or the account
    /// whose password a login has just checked: named as the actor would
    /// be, holding no permission.
    Holder(PrincipalId),
    /// Rempart itself: start-up, the sequencer, scheduled work.
    System,
    /// An operator on the host, with the keyring files (init, reseal).
    Offline,
    /// The bootstrap credential, while it makes the first administrator.
    Bootstrap,
}

impl<'a> Caller<'a> {
    /// The caller as the audit log names it.
    pub fn audit_name(&self) -> String {
        match self {
            Self::Actor(actor) => actor.audit_name(),
            Self::Anonymous => "anonymous".to_owned(),
            Self::Holder(id) => Target::Principal(*id).to_string(),
            Self::System => "system".to_owned(),
            Self::Offline => "offline".to_owned(),
            Self::Bootstrap => "bootstrap".to_owned(),
        }
    }

    pub fn actor(&self) -> Option<&'a Actor> {
        match self {
            Self::Actor(actor) => Some(actor),
            _ => None,
        }
    }
}

/// What is asked: by whom, from where, which action, on what.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub(super) caller: Caller<'a>,
    ctx: RequestContext,
    action: Action,
    pub(super) target: Option<Target>,
    pub(super) tenant: Option<TenantId>,
}

impl<'a> Call<'a> {
    pub fn new(caller: Caller<'a>, ctx: &RequestContext, action: Action) -> Self {
        Self {
            caller,
            ctx: ctx.clone(),
            action,
            target: None,
            tenant: None,
        }
    }

    /// A call by an authenticated principal.
    pub fn by(actor: &'a Actor, ctx: &RequestContext, action: Action) -> Self {
        Self::new(Caller::Actor(actor), ctx, action)
    }

    /// Rempart's own work, with no request behind it.
    pub fn system(action: Action) -> Self {
        Self::new(Caller::System, &RequestContext::system(), action)
    }

    #[must_use]
    pub fn on(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// The tenant the event belongs to (its administrators see it).
    #[must_use]
    pub fn in_tenant(mut self, tenant: Option<TenantId>) -> Self {
        self.tenant = tenant;
        self
    }

    /// The event that records this call with `outcome` (and `details`),
    /// and the request it came in.
    fn into_event(self, outcome: Outcome, details: Option<Details>) -> (RequestContext, Draft) {
        let mut draft =
            Draft::new(self.caller.audit_name(), self.action, outcome).in_tenant(self.tenant);
        if let Some(target) = self.target {
            draft = draft.target(target);
        }
        if let Some(details) = details {
            draft = draft.details(details);
        }
        (self.ctx, draft)
    }
}

/// Why a call with no authorization check may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clearance {
    /// The body checks a secret the caller presents (a password, the
    /// bootstrap credential, an unseal share) and records a failure with
    /// [`Gate::commit_as`] or [`Gate::refuse`].
    Credential,
    /// Rempart's own work, or an operator on the host.
    Internal,
    /// The caller acts on itself only (its own session, its own factors),
    /// which its authentication already proved.
    Own,
    /// The body reads only what the caller's grants select: the filter,
    /// built from the grants, is part of the query (a listing).
    Scoped,
}

/// Not yet authorized: reads only.
#[derive(Debug)]
pub struct Open;
/// Authorized: the body may write.
#[derive(Debug)]
pub struct Cleared;
/// A gate over a write transaction.
#[derive(Debug)]
pub struct Write;
/// An audited read: the event is written, the domain only reads.
#[derive(Debug)]
pub struct Read;

/// A transaction on its way through the gate; see the module comment.
pub struct Gate<'a, M, S> {
    kernel: &'a Kernel,
    tx: Box<dyn Tx>,
    pub(super) call: Call<'a>,
    now: OffsetDateTime,
    details: Option<Details>,
    /// Events the call set off besides its own ([`Gate::also`]).
    also: Vec<(RequestContext, Draft)>,
    _state: PhantomData<(M, S)>,
}

impl<M, S> std::fmt::Debug for Gate<'_, M, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("action", &self.call.action)
            .field("target", &self.call.target)
            .finish_non_exhaustive()
    }
}

impl Kernel {
    /// Opens the gate for a state change.
    pub async fn write<'a>(
        &'a self,
        call: Call<'a>,
    ) -> Result<Gate<'a, Write, Open>, ServiceError> {
        self.open(call).await
    }

    /// Opens the gate for a read that must leave an audit event (a search
    /// of the log, a read of personal data): the same authorization and
    /// event as a change, and a transaction the domain only reads from.
    pub async fn audited_read<'a>(
        &'a self,
        call: Call<'a>,
    ) -> Result<Gate<'a, Read, Open>, ServiceError> {
        self.open(call).await
    }

    async fn open<'a, M>(&'a self, call: Call<'a>) -> Result<Gate<'a, M, Open>, ServiceError> {
        let now = self.clock.now();
        let tx = self.store.begin().await?;
        Ok(Gate {
            kernel: self,
            tx,
            call,
            now,
            details: None,
            also: Vec::new(),
            _state: PhantomData,
        })
    }

    /// Records a refusal decided outside any gate (an unknown credential,
    /// a refused unseal), the way [`Gate::refuse`] records one.
    pub async fn record_refusal(
        &self,
        call: Call<'_>,
        outcome: Outcome,
        reason: &str,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let (ctx, draft) = call.into_event(outcome, Some(Details::reason(reason)));
        let mut tx = self.store.begin().await?;
        self.append_audit(tx.as_mut(), &ctx, now, draft).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl<'a, M, S> Gate<'a, M, S> {
    /// The time of the call: one instant for its checks, change and event.
    pub fn now(&self) -> OffsetDateTime {
        self.now
    }

    pub fn ctx(&self) -> &RequestContext {
        &self.call.ctx
    }

    pub fn caller(&self) -> Caller<'a> {
        self.call.caller
    }

    pub fn kernel(&self) -> &'a Kernel {
        self.kernel
    }

    /// Reads within the gate's transaction.
    pub fn read(&mut self) -> &mut dyn ReadTx {
        self.tx.as_mut()
    }

    /// Names the target once the body has found it.
    pub fn on(&mut self, target: Target) {
        self.call.target = Some(target);
    }

    /// The tenant the event belongs to.
    pub fn in_tenant(&mut self, tenant: Option<TenantId>) {
        self.call.tenant = tenant;
    }

    /// Refuses: the transaction is rolled back, the refusal recorded in a
    /// transaction of its own (reason sealed in its details), and `answer`
    /// returned for the caller (a failure to record it is returned
    /// instead: an unrecorded refusal is not silent).
    pub async fn refuse(self, reason: &str, answer: impl Into<ServiceError>) -> ServiceError {
        self.record(Outcome::Denied, reason, answer.into()).await
    }

    /// Refuses with a named rule (separation of duties, no self-grant,
    /// no escalation …): the answer names the rule.
    pub async fn refuse_rule(self, rule: &'static str, message: impl Into<String>) -> ServiceError {
        let message = message.into();
        let reason = format!("rule {rule}: {message}");
        self.refuse(&reason, ServiceError::RuleRefused { rule, message })
            .await
    }

    /// A check beyond the permission (a recent login, an uncut
    /// credential): passes, or refuses with `reason` and `answer`.
    pub async fn ensure(
        self,
        holds: bool,
        reason: &str,
        answer: impl FnOnce() -> ServiceError,
    ) -> Result<Self, ServiceError> {
        if holds {
            Ok(self)
        } else {
            Err(self.refuse(reason, answer()).await)
        }
    }

    /// Records the attempt with `outcome` and the reason, without the
    /// change, and returns `answer`.
    pub async fn record(
        self,
        outcome: Outcome,
        reason: &str,
        answer: ServiceError,
    ) -> ServiceError {
        let Self {
            kernel, tx, call, ..
        } = self;
        drop(tx);
        match kernel.record_refusal(call, outcome, reason).await {
            Ok(()) => answer,
            Err(e) => e,
        }
    }

    fn into_state<T>(self) -> Gate<'a, M, T> {
        Gate {
            kernel: self.kernel,
            tx: self.tx,
            call: self.call,
            now: self.now,
            details: self.details,
            also: self.also,
            _state: PhantomData,
        }
    }
}

impl<'a, M> Gate<'a, M, Open> {
    /// Deny by default (invariant 2): the caller's grants carry
    /// `permission` over `scope` now, or the refusal is recorded (in the
    /// scope's tenant, naming the missing permission) and `Forbidden`
    /// answered. A caller with no account holds no permission.
    pub async fn authorize(
        self,
        permission: Permission,
        scope: &Scope,
        environment: Option<&Environment>,
    ) -> Result<Gate<'a, M, Cleared>, ServiceError> {
        let allowed = self
            .call
            .caller
            .actor()
            .is_some_and(|actor| actor.may(permission, scope, environment, self.now));
        if allowed {
            return Ok(self.into_state());
        }
        let mut gate = self;
        if gate.call.tenant.is_none()
            && let Scope::Tenant(tenant) = scope
        {
            gate.call.tenant = Some(*tenant);
        }
        let reason = format!("permission {permission} needed");
        Err(gate
            .refuse(&reason, ServiceError::Forbidden { permission })
            .await)
    }

    /// Clears a call that no grant decides (see [`Clearance`]).
    pub fn clear(self, _why: Clearance) -> Gate<'a, M, Cleared> {
        self.into_state()
    }
}

impl Gate<'_, Write, Cleared> {
    /// The write transaction: only an authorized gate hands it out.
    pub fn tx(&mut self) -> &mut dyn Tx {
        self.tx.as_mut()
    }
}

impl<'a, M> Gate<'a, M, Cleared> {
    /// Details for the event, sealed under the tenant's key at append.
    pub fn details(&mut self, details: Details) {
        self.details = Some(details);
    }

    /// Names the caller once the body has proved who it is (the account
    /// whose password a login checked, the bootstrap credential): the
    /// event names it; a refusal recorded before names the caller the
    /// gate opened with.
    pub fn by(&mut self, caller: Caller<'a>) {
        self.call.caller = caller;
    }

    /// Another event the call sets off (the lockout a failure caused, the
    /// alarm of an emergency account's login): appended after the call's
    /// own when it commits, in the same transaction, with `call`'s caller,
    /// context, action, target and tenant. A refusal records neither.
    pub fn also(&mut self, call: Call<'_>, outcome: Outcome, details: Option<Details>) {
        self.also.push(call.into_event(outcome, details));
    }

    /// Appends the event (outcome `success`) and commits: the change and
    /// its record, together or not at all.
    pub async fn commit(self) -> Result<(), ServiceError> {
        self.commit_as(Outcome::Success).await
    }

    /// Commits with another outcome: a failure the domain records along
    /// with a change of its own (a failed login and its counters).
    pub async fn commit_as(self, outcome: Outcome) -> Result<(), ServiceError> {
        let Self {
            kernel,
            mut tx,
            call,
            now,
            details,
            also,
            ..
        } = self;
        let (ctx, draft) = call.into_event(outcome, details);
        kernel.append_audit(tx.as_mut(), &ctx, now, draft).await?;
        for (ctx, draft) in also {
            kernel.append_audit(tx.as_mut(), &ctx, now, draft).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
