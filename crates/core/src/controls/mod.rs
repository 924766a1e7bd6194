//! The control registry: each domain declares the controls of the security
//! statement it enforces, each with a check over live state that answers
//! pass, fail or "could not run", always with the evidence it looked at.
//!
//! The catalogue itself is data (`rempart_model::control`); this module
//! runs the checks the domains register (`registry`), for a caller
//! holding `controls.check`, and records the run in the audit log
//! (invariant 1: a run is an action like any other, with its summary in the
//! event's sealed details). A check only reads: it opens read transactions
//! (`Kernel::read`) and never repairs what it finds.
//!
//! The checks live beside this module, one file per domain, until the
//! restructuring gives each domain its own folder; the registry is the one
//! list a new domain adds itself to.

mod audit;
pub(crate) mod deployment;
mod identity;
mod keys;
mod operations;
mod vault;

use std::collections::BTreeSet;

use async_trait::async_trait;
use rempart_model::control::{Catalogue, CheckOutcome, CheckResult, ControlId};
use rempart_model::{Action, Permission, Scope};
use time::OffsetDateTime;

use crate::kernel::actor::Actor;
use crate::kernel::context::RequestContext;
use crate::kernel::details::Details;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::Call;
use crate::kernel::target::Target;
use crate::service::Rempart;

pub use deployment::Deployment;

/// What one check concluded, before it is attached to the controls it
/// proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Pass, fail (with findings) or not run (with the reason).
    pub outcome: CheckOutcome,
    /// What was examined, in words.
    pub evidence: String,
}

impl Finding {
    /// Passes when `findings` is empty, fails with them otherwise.
    pub fn from_findings(findings: Vec<String>, evidence: impl Into<String>) -> Self {
        let outcome = if findings.is_empty() {
            CheckOutcome::Pass
        } else {
            CheckOutcome::Fail { findings }
        };
        Self {
            outcome,
            evidence: evidence.into(),
        }
    }

    /// The check could not look.
    pub fn not_run(reason: impl Into<String>, evidence: impl Into<String>) -> Self {
        Self {
            outcome: CheckOutcome::NotRun {
                reason: reason.into(),
            },
            evidence: evidence.into(),
        }
    }
}

/// A check over live state, owned by a domain.
#[async_trait]
pub(crate) trait ControlCheck: Send + Sync {
    /// Looks at live state. An error means the check could not run; it is
    /// reported as such, never as a pass.
    async fn run(&self, core: &Rempart, now: OffsetDateTime) -> Result<Finding, ServiceError>;
}

/// A check as its domain registers it: the domain that owns it, the
/// controls it proves (NS-3 is proved as AC-1 is; CR-1 as AC-5), and the
/// check itself.
pub(crate) struct Registered {
    domain: &'static str,
    controls: &'static [&'static str],
    check: Box<dyn ControlCheck>,
}

impl Registered {
    pub(crate) fn new(
        domain: &'static str,
        controls: &'static [&'static str],
        check: impl ControlCheck + 'static,
    ) -> Self {
        Self {
            domain,
            controls,
            check: Box::new(check),
        }
    }

    fn controls(&self) -> &'static [&'static str] {
        self.controls
    }

    fn domain(&self) -> &'static str {
        self.domain
    }

    async fn run(&self, core: &Rempart, now: OffsetDateTime) -> Result<Finding, ServiceError> {
        self.check.run(core, now).await
    }
}

/// Every registered check, domain by domain.
fn registry() -> Vec<Registered> {
    let mut checks = Vec::new();
    checks.extend(identity::checks());
    checks.extend(keys::checks());
    checks.extend(audit::checks());
    checks.extend(operations::checks());
    checks.extend(vault::checks());
    checks
}

/// The controls some domain checks, in the catalogue's order.
///
/// # Errors
/// If the shipped catalogue does not parse, or a check names a control the
/// catalogue lacks (both ruled out by this module's tests).
pub fn checked_controls() -> Result<Vec<ControlId>, ServiceError> {
    let catalogue = catalogue()?;
    let registered = registered_ids()?;
    Ok(catalogue
        .controls()
        .iter()
        .map(|c| c.id)
        .filter(|id| registered.contains(id))
        .collect())
}

fn catalogue() -> Result<&'static Catalogue, ServiceError> {
    Catalogue::builtin().map_err(|e| ControlError::Catalogue(e.to_string()).into())
}

fn registered_ids() -> Result<BTreeSet<ControlId>, ServiceError> {
    registry()
        .iter()
        .flat_map(|check| check.controls().iter())
        .map(|id| {
            id.parse::<ControlId>()
                .map_err(|e| ControlError::Catalogue(e.to_string()).into())
        })
        .collect()
}

/// A run of the control checks.
#[derive(Debug, Clone)]
pub struct ControlReport {
    /// When the checks ran.
    pub checked_at: OffsetDateTime,
    /// One result per control, in the catalogue's order.
    pub results: Vec<CheckResult>,
}

impl ControlReport {
    /// Whether every control checked passed.
    #[must_use]
    pub fn all_pass(&self) -> bool {
        self.results.iter().all(|r| r.outcome == CheckOutcome::Pass)
    }
}

impl Rempart {
    /// Runs the control checks (all of them, or those of `only`) and
    /// records the run. Needs `controls.check` staff-wide. A control that
    /// no domain checks yet is refused by name, so a caller never mistakes
    /// "not checked" for "passed".
    pub async fn check_controls(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        only: &[ControlId],
    ) -> Result<ControlReport, ServiceError> {
        let call = Call::by(actor, ctx, Action::ControlsCheck).on(Target::Controls);
        // Authorized before any check runs (a refusal is recorded here)
        // and again in the transaction that records the run. The checks
        // themselves run between the two with no transaction of the gate
        // open: they read the whole log, and an open write transaction
        // would hold the database's write lock (SQLite) all that time.
        let gate = self
            .kernel
            .audited_read(call.clone())
            .await?
            .authorize(Permission::ControlsCheck, &Scope::Global, None)
            .await?;
        let now = gate.now();
        drop(gate);
        let catalogue = catalogue()?;
        check_wanted(catalogue, only)?;
        let results = self.run_checks(catalogue, only, now).await;

        let mut gate = self
            .kernel
            .audited_read(call)
            .await?
            .authorize(Permission::ControlsCheck, &Scope::Global, None)
            .await?;
        gate.details(summary(&results));
        gate.commit().await?;
        Ok(ControlReport {
            checked_at: now,
            results,
        })
    }

    /// Runs the checks of the controls `only` names (all, when empty); one
    /// result per control, in the catalogue's order. A check that fails to
    /// read live state is reported as not run.
    async fn run_checks(
        &self,
        catalogue: &Catalogue,
        only: &[ControlId],
        now: OffsetDateTime,
    ) -> Vec<CheckResult> {
        let wanted = |id: &ControlId| only.is_empty() || only.contains(id);
        let mut results = Vec::new();
        for check in registry() {
            let ids: Vec<ControlId> = check
                .controls()
                .iter()
                .filter_map(|id| id.parse().ok())
                .filter(|id| wanted(id))
                .collect();
            if ids.is_empty() {
                continue;
            }
            let finding = match check.run(self, now).await {
                Ok(finding) => finding,
                Err(e) => Finding::not_run(
                    format!("the check failed to read live state: {e}"),
                    format!("{} domain", check.domain()),
                ),
            };
            for id in ids {
                results.push(CheckResult {
                    control: id,
                    outcome: finding.outcome.clone(),
                    evidence: finding.evidence.clone(),
                });
            }
        }
        let order = |id: ControlId| {
            catalogue
                .controls()
                .iter()
                .position(|c| c.id == id)
                .unwrap_or(usize::MAX)
        };
        results.sort_by_key(|r| order(r.control));
        results
    }
}

/// Refuses a control `only` names that the catalogue lacks, or that no
/// domain checks.
fn check_wanted(catalogue: &Catalogue, only: &[ControlId]) -> Result<(), ServiceError> {
    let registered = registered_ids()?;
    if let Some(unknown) = only.iter().find(|id| catalogue.get(**id).is_none()) {
        return Err(ServiceError::Invalid {
            field: "control",
            message: format!("{unknown} is not a control of the catalogue"),
        });
    }
    if let Some(unchecked) = only.iter().find(|id| !registered.contains(id)) {
        return Err(ServiceError::Invalid {
            field: "control",
            message: format!(
                "{unchecked} has no automated check yet (the checked controls are {})",
                registered
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(())
}

/// The run's summary, sealed in its event's details: how many controls
/// were checked, passed and not run, and which failed.
fn summary(results: &[CheckResult]) -> Details {
    let count = |f: fn(&CheckOutcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let failing: Vec<String> = results
        .iter()
        .filter(|r| matches!(r.outcome, CheckOutcome::Fail { .. }))
        .map(|r| r.control.to_string())
        .collect();
    let mut summary = serde_json::Map::new();
    summary.insert("checked".into(), results.len().into());
    summary.insert("passed".into(), count(|o| *o == CheckOutcome::Pass).into());
    summary.insert("failing".into(), failing.join(" ").into());
    summary.insert(
        "not_run".into(),
        count(|o| matches!(o, CheckOutcome::NotRun { .. })).into(),
    );
    Details::new(&summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_check_names_controls_of_the_catalogue() {
        let catalogue = Catalogue::builtin().expect("catalogue");
        let mut seen = BTreeSet::new();
        for check in registry() {
            assert!(
                !check.controls().is_empty(),
                "{} check names no control",
                check.domain()
            );
            for id in check.controls() {
                let id: ControlId = id.parse().expect("a canonical id");
                let control = catalogue.get(id).expect("in the catalogue");
                assert!(control.is_enforced(), "{id} is checked but not enforced");
                assert!(seen.insert(id), "{id} is checked twice");
            }
        }
        let expected = [
            "AC-1", "AC-2", "AC-5", "AC-6", "AS-3", "NS-3", "DS-4", "DS-7", "ML-2", "ML-7", "DV-4",
            "CR-1",
        ];
        for id in expected {
            assert!(seen.contains(&id.parse().expect("id")), "{id} has no check");
        }
    }
}

/// What the control registry can answer besides a report.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The control catalogue shipped in the binary does not parse, or a
    /// check names a control it lacks: a defect of the build, not of input.
    #[error("the control catalogue is broken: {0}")]
    Catalogue(String),
}

impl crate::kernel::error::DomainError for ControlError {
    fn problem_type(&self) -> crate::kernel::error::ProblemType {
        crate::kernel::error::ProblemType::new(
            crate::kernel::error::ErrorKind::Internal,
            "internal",
            "Internal error",
        )
    }
}
