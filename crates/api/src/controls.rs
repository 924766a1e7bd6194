//! The control checks: which controls to check, and one result per
//! control (pass, fail with findings, or not run with the reason), each
//! with the evidence it looked at.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Which controls to check; all that have a check when empty or absent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckControlsRequest {
    /// Control ids, as in the catalogue (`AC-1`).
    #[serde(default)]
    #[schema(value_type = Vec<String>, example = json!(["AC-1", "ML-7"]))]
    pub controls: Vec<String>,
}

/// One control's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ControlResultView {
    /// `AC-1`.
    pub control: String,
    /// The claim of the statement the control stands for.
    pub claim: String,
    /// `pass`, `fail` or `not_run`.
    pub result: String,
    /// What does not hold (on `fail`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    /// Why the check could not look (on `not_run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the check examined.
    pub evidence: String,
}

/// A run of the control checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ControlReportView {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub checked_at: OffsetDateTime,
    /// Whether every control checked passed.
    pub all_pass: bool,
    pub results: Vec<ControlResultView>,
}
