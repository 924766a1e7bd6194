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
    /// Chaining, offline, the events a stopped server left pending.
    #[serde(rename = "audit.seal_pending")]
    AuditSealPending,
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
    #[serde(rename = "user.create")]
    UserCreate,
    #[serde(rename = "user.list")]
    UserList,
    #[serde(rename = "user.state")]
    UserState,
    #[serde(rename = "password.set")]
    PasswordSet,
    #[serde(rename = "password.change")]
    PasswordChange,
    #[serde(rename = "tenant.access")]
    TenantAccess,
    #[serde(rename = "auth.throttle_purge")]
    ThrottlePurge,
    #[serde(rename = "auth.session")]
    AuthSession,
    #[serde(rename = "auth.login")]
    Login,
    #[serde(rename = "auth.second_factor")]
    LoginSecondFactor,
    #[serde(rename = "auth.lockout")]
    Lockout,
    #[serde(rename = "auth.logout")]
    Logout,
    #[serde(rename = "auth.break_glass")]
    BreakGlass,
    #[serde(rename = "auth.step_up")]
    StepUp,
    #[serde(rename = "session.list")]
    SessionList,
    #[serde(rename = "session.revoke")]
    SessionRevoke,
    #[serde(rename = "token.create")]
    TokenCreate,
    #[serde(rename = "token.list")]
    TokenList,
    #[serde(rename = "token.revoke")]
    TokenRevoke,
    #[serde(rename = "mfa.enrol")]
    MfaEnrol,
    #[serde(rename = "mfa.confirm")]
    MfaConfirm,
    #[serde(rename = "mfa.reset")]
    MfaReset,
    #[serde(rename = "mfa.recovery_codes")]
    RecoveryCodes,
    #[serde(rename = "role.create")]
    RoleCreate,
    #[serde(rename = "role.list")]
    RoleList,
    #[serde(rename = "grant.create")]
    GrantCreate,
    #[serde(rename = "grant.revoke")]
    GrantRevoke,
    #[serde(rename = "grant.list")]
    GrantList,
    #[serde(rename = "mfa.webauthn.register_start")]
    WebauthnRegisterStart,
    #[serde(rename = "mfa.webauthn.register")]
    WebauthnRegister,
    #[serde(rename = "mfa.webauthn.remove")]
    WebauthnRemove,
    #[serde(rename = "auth.webauthn.start")]
    WebauthnStart,
    #[serde(rename = "auth.webauthn")]
    Webauthn,
    /// A run of the control checks over live state.
    #[serde(rename = "controls.check")]
    ControlsCheck,
    #[serde(rename = "vault.collection.create")]
    VaultCollectionCreate,
    #[serde(rename = "vault.collection.read")]
    VaultCollectionRead,
    #[serde(rename = "vault.schema.change")]
    VaultSchemaChange,
    /// A field's class lowered: less protection for stored data.
    #[serde(rename = "vault.schema.downgrade")]
    VaultSchemaDowngrade,
    #[serde(rename = "vault.record.create")]
    VaultRecordCreate,
    #[serde(rename = "vault.record.read")]
    VaultRecordRead,
    #[serde(rename = "vault.record.update")]
    VaultRecordUpdate,
    #[serde(rename = "vault.record.delete")]
    VaultRecordDelete,
    #[serde(rename = "vault.record.list")]
    VaultRecordList,
    #[serde(rename = "vault.search")]
    VaultSearch,
    /// Many records' personal data read at once.
    #[serde(rename = "vault.bulk_read")]
    VaultBulkRead,
    /// Everything held about a data subject crypto-shredded.
    #[serde(rename = "vault.subject.erase")]
    VaultSubjectErase,
    #[serde(rename = "vault.subject.export")]
    VaultSubjectExport,
    #[serde(rename = "vault.disposal.list")]
    VaultDisposalList,
}

impl Action {
    /// Events a security team wants to hear about at once: an emergency
    /// account used, an account locked out, a tenant's keys destroyed.
    pub fn is_high_severity(self) -> bool {
        matches!(
            self,
            Self::BreakGlass
                | Self::Lockout
                | Self::KeysShred
                | Self::VaultSchemaDowngrade
                | Self::VaultBulkRead
                | Self::VaultSubjectErase
        )
    }

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
            Self::AuditSealPending => "audit.seal_pending",
            Self::KeysInit => "keys.init",
            Self::KeysUnseal => "keys.unseal",
            Self::KeysStatus => "keys.status",
            Self::KeysRotate => "keys.rotate",
            Self::KeysRewrap => "keys.rewrap",
            Self::KeysRetire => "keys.retire",
            Self::KeysReseal => "keys.reseal",
            Self::KeysShred => "keys.shred",
            Self::DataKeyCreate => "keys.data_key.create",
            Self::UserCreate => "user.create",
            Self::UserList => "user.list",
            Self::UserState => "user.state",
            Self::PasswordSet => "password.set",
            Self::PasswordChange => "password.change",
            Self::TenantAccess => "tenant.access",
            Self::ThrottlePurge => "auth.throttle_purge",
            Self::AuthSession => "auth.session",
            Self::Login => "auth.login",
            Self::LoginSecondFactor => "auth.second_factor",
            Self::Lockout => "auth.lockout",
            Self::Logout => "auth.logout",
            Self::BreakGlass => "auth.break_glass",
            Self::StepUp => "auth.step_up",
            Self::SessionList => "session.list",
            Self::SessionRevoke => "session.revoke",
            Self::TokenCreate => "token.create",
            Self::TokenList => "token.list",
            Self::TokenRevoke => "token.revoke",
            Self::MfaEnrol => "mfa.enrol",
            Self::MfaConfirm => "mfa.confirm",
            Self::MfaReset => "mfa.reset",
            Self::RecoveryCodes => "mfa.recovery_codes",
            Self::RoleCreate => "role.create",
            Self::RoleList => "role.list",
            Self::GrantCreate => "grant.create",
            Self::GrantRevoke => "grant.revoke",
            Self::GrantList => "grant.list",
            Self::WebauthnRegisterStart => "mfa.webauthn.register_start",
            Self::WebauthnRegister => "mfa.webauthn.register",
            Self::WebauthnRemove => "mfa.webauthn.remove",
            Self::WebauthnStart => "auth.webauthn.start",
            Self::Webauthn => "auth.webauthn",
            Self::ControlsCheck => "controls.check",
            Self::VaultCollectionCreate => "vault.collection.create",
            Self::VaultCollectionRead => "vault.collection.read",
            Self::VaultSchemaChange => "vault.schema.change",
            Self::VaultSchemaDowngrade => "vault.schema.downgrade",
            Self::VaultRecordCreate => "vault.record.create",
            Self::VaultRecordRead => "vault.record.read",
            Self::VaultRecordUpdate => "vault.record.update",
            Self::VaultRecordDelete => "vault.record.delete",
            Self::VaultRecordList => "vault.record.list",
            Self::VaultSearch => "vault.search",
            Self::VaultBulkRead => "vault.bulk_read",
            Self::VaultSubjectErase => "vault.subject.erase",
            Self::VaultSubjectExport => "vault.subject.export",
            Self::VaultDisposalList => "vault.disposal.list",
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
