//! The vocabulary of the audit trail: what was done, and how it ended.
//! The tamper-evident log itself lives in the `audit` crate.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An audited action. The string form is stable: detections, searches and
/// exports match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "bootstrap.issue")]
    BootstrapIssue,
    #[serde(rename = "bootstrap.exchange")]
    BootstrapExchange,
    #[serde(rename = "auth.token")]
    AuthToken,
    #[serde(rename = "tenant.create")]
    TenantCreate,
    #[serde(rename = "tenant.list")]
    TenantList,
    #[serde(rename = "audit.search")]
    AuditSearch,
    #[serde(rename = "audit.proof")]
    AuditProof,
    #[serde(rename = "audit.verify")]
    AuditVerify,
    #[serde(rename = "audit.export")]
    AuditExport,
    #[serde(rename = "keys.init")]
    KeysInit,
    #[serde(rename = "keys.unseal")]
    KeysUnseal,
    #[serde(rename = "keys.status")]
    KeysStatus,
    #[serde(rename = "keys.rotate")]
    KeysRotate,
    #[serde(rename = "keys.rewrap")]
    KeysRewrap,
    #[serde(rename = "keys.retire")]
    KeysRetire,
    #[serde(rename = "keys.reseal")]
    KeysReseal,
    #[serde(rename = "keys.shred")]
    KeysShred,
    #[serde(rename = "keys.data_key.create")]
    DataKeyCreate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BootstrapIssue => "bootstrap.issue",
            Self::BootstrapExchange => "bootstrap.exchange",
            Self::AuthToken => "auth.token",
            Self::TenantCreate => "tenant.create",
            Self::TenantList => "tenant.list",
            Self::AuditSearch => "audit.search",
            Self::AuditProof => "audit.proof",
            Self::AuditVerify => "audit.verify",
            Self::AuditExport => "audit.export",
            Self::KeysInit => "keys.init",
            Self::KeysUnseal => "keys.unseal",
            Self::KeysStatus => "keys.status",
            Self::KeysRotate => "keys.rotate",
            Self::KeysRewrap => "keys.rewrap",
            Self::KeysRetire => "keys.retire",
            Self::KeysReseal => "keys.reseal",
            Self::KeysShred => "keys.shred",
            Self::DataKeyCreate => "keys.data_key.create",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an audited attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done, and committed with its event.
    Success,
    /// Refused by authentication or authorization; nothing changed.
    Denied,
    /// Attempted and failed; nothing changed.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "denied" => Some(Self::Denied),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
