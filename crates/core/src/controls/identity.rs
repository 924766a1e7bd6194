//! The identity domain's control checks: second factors on privileged
//! accounts and the admin allow-list (AC-1, NS-3), grants as the only
//! source of permissions (AC-2), passwords under the current policy (AC-5,
//! CR-1), and separation of duties (DV-4). Each reads the accounts, their
//! grants and credentials in one read transaction.

use async_trait::async_trait;
use rempart_model::{Environment, Role};
use rempart_store::{
    AccountFilter, AccountKind, GrantRecord, PrincipalRecord, PrincipalState, TenantFilter,
};
use time::{Duration, OffsetDateTime};

use super::{ControlCheck, Finding, Registered};
use crate::identity::password::HashParams;
use crate::kernel::error::ServiceError;
use crate::service::Rempart;

pub(super) fn checks() -> Vec<Registered> {
    vec![
        Registered::new("identity", &["AC-1", "NS-3"], PrivilegedAccessNeedsMfa),
        Registered::new("identity", &["AC-2"], GrantsAreTheOnlySource),
        Registered::new("identity", &["AC-5", "CR-1"], PasswordsFollowPolicy),
        Registered::new("identity", &["DV-4"], SeparationOfDuties),
    ]
}

/// Grants unused this long are flagged by AC-2's test.
const STALE_GRANT: Duration = Duration::days(90);

/// Every account with its grants, in one read.
pub(super) async fn accounts_with_grants(
    core: &Rempart,
    filter: AccountFilter,
) -> Result<Vec<(PrincipalRecord, Vec<GrantRecord>)>, ServiceError> {
    let mut tx = core.kernel.read().await?;
    let accounts = tx.list_principals(&filter).await?;
    let mut out = Vec::with_capacity(accounts.len());
    for account in accounts {
        let grants = tx.grant_records_of(account.id).await?;
        out.push((account, grants));
    }
    Ok(out)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// AC-1 and NS-3: every privileged staff account has a second factor, and
/// the admin plane accepts only allow-listed sources once production data
/// exists.
struct PrivilegedAccessNeedsMfa;

#[async_trait]
impl ControlCheck for PrivilegedAccessNeedsMfa {
    async fn run(&self, core: &Rempart, now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let staff = accounts_with_grants(core, AccountFilter::Staff).await?;
        let mut findings = Vec::new();
        let mut privileged = 0;
        let mut tx = core.kernel.read().await?;
        for (account, grants) in &staff {
            let holds_privilege = account.state == PrincipalState::Active
                && grants
                    .iter()
                    .any(|g| g.grant.is_active(now) && g.grant.permissions.is_privileged());
            if !holds_privilege {
                continue;
            }
            privileged += 1;
            let totp = tx
                .totp(account.id)
                .await?
                .is_some_and(|t| t.confirmed_at.is_some());
            let keys = tx.webauthn_credentials(account.id).await?.len();
            if !totp && keys == 0 {
                findings.push(format!(
                    "{}: privileged, and no second factor enrolled",
                    account.name
                ));
            }
        }
        let production = tx
            .list_tenants(&TenantFilter::Environments(vec![Environment::production()]))
            .await?
            .len();
        drop(tx);
        let allow_list = match &core.identity.admin_sources {
            None => "no admin allow-list".to_owned(),
            Some(list) => format!(
                "admin allow-list of {}",
                plural(list.entries().len(), "range", "ranges")
            ),
        };
        if production > 0 {
            match &core.identity.admin_sources {
                None => findings.push(
                    "production tenants exist and the admin plane has no allow-list (access.admin_allow_list)".to_owned(),
                ),
                Some(list) if list.is_empty() || list.allows_any() => findings.push(
                    "production tenants exist and the admin allow-list admits every address".to_owned(),
                ),
                Some(_) => {}
            }
        }
        Ok(Finding::from_findings(
            findings,
            format!(
                "{} among {}, each checked for a confirmed TOTP or a security key; {}; {}",
                plural(privileged, "privileged account", "privileged accounts"),
                plural(staff.len(), "staff account", "staff accounts"),
                allow_list,
                plural(production, "production tenant", "production tenants"),
            ),
        ))
    }
}

/// AC-2: permissions come only from grants, and grants only to accounts
/// that may hold them: no active grant on a suspended or terminated
/// account, no staff-wide grant on a tenant user, no grant of a role that
/// does not exist.
struct GrantsAreTheOnlySource;

#[async_trait]
impl ControlCheck for GrantsAreTheOnlySource {
    async fn run(&self, core: &Rempart, now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let accounts = accounts_with_grants(core, AccountFilter::All).await?;
        let mut tx = core.kernel.read().await?;
        let roles = tx.roles().await?;
        drop(tx);
        let mut findings = Vec::new();
        let mut active_grants = 0;
        let mut security_admins = 0;
        let mut old_grants = 0;
        for (account, grants) in &accounts {
            for record in grants.iter().filter(|g| g.grant.is_active(now)) {
                active_grants += 1;
                let grant = &record.grant;
                if account.state != PrincipalState::Active {
                    findings.push(format!(
                        "{}: {} account still holds an active grant of {}",
                        account.name,
                        account.state.as_str(),
                        grant.role
                    ));
                }
                if account.kind == AccountKind::TenantUser
                    && matches!(grant.scope, rempart_model::Scope::Global)
                {
                    findings.push(format!(
                        "{}: a tenant user holds {} staff-wide",
                        account.name, grant.role
                    ));
                }
                let known = grant.role.as_str().parse::<Role>().is_ok()
                    || roles.iter().any(|r| r.name == grant.role);
                if !known {
                    findings.push(format!(
                        "{}: holds {}, a role that does not exist",
                        account.name, grant.role
                    ));
                }
                if grant.role == Role::SecurityAdmin.name()
                    && account.state == PrincipalState::Active
                {
                    security_admins += 1;
                }
                if now - record.created_at >= STALE_GRANT {
                    old_grants += 1;
                }
            }
        }
        Ok(Finding::from_findings(
            findings,
            format!(
                "{} of {}; {} held by active accounts; {} older than 90 days (grant use is not recorded yet, so unused grants cannot be told apart)",
                plural(active_grants, "active grant", "active grants"),
                plural(accounts.len(), "account", "accounts"),
                plural(
                    security_admins,
                    "security-admin grant",
                    "security-admin grants"
                ),
                plural(old_grants, "grant", "grants"),
            ),
        ))
    }
}

/// AC-5 and CR-1: every active password is an Argon2id hash with at least
/// the configured parameters, and within the policy's maximum age (the
/// tenant's own policy for its users). A hash made with older parameters
/// is replaced at its holder's next login; until then it is a finding.
struct PasswordsFollowPolicy;

#[async_trait]
impl ControlCheck for PasswordsFollowPolicy {
    async fn run(&self, core: &Rempart, now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let mut tx = core.kernel.read().await?;
        let accounts = tx.list_principals(&AccountFilter::All).await?;
        let current = core.identity.hasher.params();
        let mut findings = Vec::new();
        let mut passwords = 0;
        for account in accounts
            .iter()
            .filter(|a| a.state == PrincipalState::Active)
        {
            let Some(password) = tx.password(account.id).await? else {
                continue;
            };
            passwords += 1;
            match HashParams::of_phc(&password.hash) {
                None => findings.push(format!(
                    "{}: the stored hash is not Argon2id version 19",
                    account.name
                )),
                Some(params) if !params.at_least(current) => findings.push(format!(
                    "{}: hashed with weaker parameters than the current ones (re-hashed at the next login)",
                    account.name
                )),
                Some(_) => {}
            }
            let access = core.access_of(tx.as_mut(), account).await?;
            let policy = core.policy_with(&access);
            if policy.is_expired(password.changed_at, now) {
                findings.push(format!(
                    "{}: password older than the policy's maximum age",
                    account.name
                ));
            }
        }
        Ok(Finding::from_findings(
            findings,
            format!(
                "{} of active accounts against Argon2id {} and each one's password policy",
                plural(passwords, "password", "passwords"),
                current.describe(),
            ),
        ))
    }
}

/// DV-4: no account holds two roles a separation-of-duty rule keeps apart.
struct SeparationOfDuties;

#[async_trait]
impl ControlCheck for SeparationOfDuties {
    async fn run(&self, core: &Rempart, now: OffsetDateTime) -> Result<Finding, ServiceError> {
        let rules = core.sod_rules()?;
        let accounts = accounts_with_grants(core, AccountFilter::All).await?;
        let mut findings = Vec::new();
        for (account, grants) in accounts
            .iter()
            .filter(|(a, _)| a.state == PrincipalState::Active)
        {
            let held: Vec<_> = grants
                .iter()
                .filter(|g| g.grant.is_active(now))
                .map(|g| &g.grant.role)
                .collect();
            for rule in &rules {
                if held.contains(&&rule.a) && held.contains(&&rule.b) {
                    findings.push(format!(
                        "{}: holds both {} and {}",
                        account.name, rule.a, rule.b
                    ));
                }
            }
        }
        Ok(Finding::from_findings(
            findings,
            format!(
                "{} against {}",
                plural(accounts.len(), "account's grants", "accounts' grants"),
                plural(
                    rules.len(),
                    "separation-of-duty rule",
                    "separation-of-duty rules"
                ),
            ),
        ))
    }
}
