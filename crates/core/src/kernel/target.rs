//! What an audit event is about, typed: the one place where a target
//! becomes the text the audit log stores (`principal:<uuid>`,
//! `environment:<name>/kek:<n>`, …), so that every domain names the same
//! kind of object the same way and a reader of the log can parse it.

use std::fmt;
use std::net::IpAddr;

use rempart_model::{Environment, PrincipalId, RoleName, TenantId};
use uuid::Uuid;

/// The object of an audited action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tenant(TenantId),
    /// An account, staff or tenant user, by id.
    Principal(PrincipalId),
    /// An account by the name asked for (creation, before it has an id).
    User(String),
    /// The accounts, as a listing refused names them.
    Users,
    /// A login name, as its keyed hash (never the name in clear).
    Account(String),
    /// A login name that names no account (never the name in clear).
    UnknownLogin,
    Token(Uuid),
    Session(Uuid),
    Grant(Uuid),
    Role(RoleName),
    /// The roles, as a listing refused names them.
    Roles,
    /// A WebAuthn credential.
    Webauthn(Uuid),
    /// An account's TOTP authenticator.
    Totp(PrincipalId),
    /// A source address.
    Source(IpAddr),
    Environment(Environment),
    /// A KEK version of an environment.
    Kek {
        environment: Environment,
        version: u32,
    },
    /// A re-wrap batch: how many data keys moved to a KEK version.
    Rewrap {
        environment: Environment,
        version: u32,
        rewrapped: u64,
    },
    /// The retirement of an environment's KEK versions below a minimum.
    MinVersion {
        environment: Environment,
        min_version: u32,
    },
    /// A stored data key, by its text id, and the purpose it serves.
    DataKey {
        id: String,
        purpose: String,
    },
    /// The keyring as a whole (seal state, status).
    Keyring,
    /// A bootstrap credential.
    Bootstrap(Uuid),
    /// An audit-log signing key, by its key id.
    AuditSigningKey(String),
    /// The pending audit events chained by a sealing run.
    AuditPending(u64),
    AuditEvent(u64),
    /// The sealed details of an audit event.
    AuditEventDetails(u64),
    /// A consistency proof between two tree sizes.
    AuditConsistency {
        old: u64,
        new: u64,
    },
    /// The control catalogue (a check run).
    Controls,
    /// A vault collection, by name (unique in its tenant; the event names
    /// the tenant).
    VaultCollection(String),
    /// The records of a vault collection (a listing, a search).
    VaultRecords(String),
    VaultRecord(Uuid),
    /// A data subject, by the random id of its data key: never its
    /// identifier, which erasure must not leave behind.
    VaultSubject(String),
    /// A data subject not (or no longer) held: nothing to name.
    UnknownSubject,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tenant(id) => write!(f, "tenant:{id}"),
            Self::Principal(id) => write!(f, "principal:{id}"),
            Self::User(name) => write!(f, "user:{name}"),
            Self::Users => f.write_str("users"),
            Self::Account(hash) => write!(f, "account:{hash}"),
            Self::UnknownLogin => f.write_str("login:unknown"),
            Self::Token(id) => write!(f, "token:{id}"),
            Self::Session(id) => write!(f, "session:{id}"),
            Self::Grant(id) => write!(f, "grant:{id}"),
            Self::Role(name) => write!(f, "role:{name}"),
            Self::Roles => f.write_str("roles"),
            Self::Webauthn(id) => write!(f, "webauthn:{id}"),
            Self::Totp(id) => write!(f, "totp:{id}"),
            Self::Source(ip) => write!(f, "source:{ip}"),
            Self::Environment(env) => write!(f, "environment:{env}"),
            Self::Kek {
                environment,
                version,
            } => write!(f, "environment:{environment}/kek:{version}"),
            Self::Rewrap {
                environment,
                version,
                rewrapped,
            } => write!(
                f,
                "environment:{environment}/kek:{version}/rewrapped:{rewrapped}"
            ),
            Self::MinVersion {
                environment,
                min_version,
            } => write!(f, "environment:{environment}/min-version:{min_version}"),
            Self::DataKey { id, purpose } => write!(f, "data-key:{id}/purpose:{purpose}"),
            Self::Keyring => f.write_str("keyring"),
            Self::Bootstrap(id) => write!(f, "bootstrap:{id}"),
            Self::AuditSigningKey(id) => write!(f, "audit-signing-key:{id}"),
            Self::AuditPending(chained) => write!(f, "audit-pending:{chained}"),
            Self::AuditEvent(seq) => write!(f, "audit-event:{seq}"),
            Self::AuditEventDetails(seq) => write!(f, "audit-event:{seq}/details"),
            Self::AuditConsistency { old, new } => write!(f, "audit-consistency:{old}-{new}"),
            Self::Controls => f.write_str("controls"),
            Self::VaultCollection(name) => write!(f, "vault-collection:{name}"),
            Self::VaultRecords(name) => write!(f, "vault-collection:{name}/records"),
            Self::VaultRecord(id) => write!(f, "vault-record:{id}"),
            Self::VaultSubject(id) => write!(f, "vault-subject:{id}"),
            Self::UnknownSubject => f.write_str("vault-subject:unknown"),
        }
    }
}

impl From<Target> for String {
    fn from(target: Target) -> Self {
        target.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_keep_the_audit_log_text() {
        let id = Uuid::nil();
        assert_eq!(
            Target::Principal(PrincipalId(id)).to_string(),
            "principal:00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            Target::AuditEventDetails(7).to_string(),
            "audit-event:7/details"
        );
        let env = Environment::production();
        assert_eq!(
            Target::Rewrap {
                environment: env,
                version: 2,
                rewrapped: 10
            }
            .to_string(),
            "environment:production/kek:2/rewrapped:10"
        );
    }
}
