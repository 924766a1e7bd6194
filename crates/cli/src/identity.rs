//! Identity commands: `login`, `logout`, `password`, `step-up`,
//! `user`, `role`, `grant`, `token`, `mfa`, `session`. All are clients of
//! the API. Passwords and codes are read from the terminal with echo off,
//! or, with `--stdin`, one per line from standard input (for scripts);
//! they are never printed. Generated secrets (a new token, an enrolment
//! URI, recovery codes) are shown once, as the server returns them.

use std::io::{BufRead as _, Write as _};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use rempart_api::identity::{
    ChangePasswordRequest, CodeRequest, CreateGrantRequest, CreateRoleRequest, CreateTokenRequest,
    CreateUserRequest, CreatedToken, GrantList, GrantView, LoginRequest, LoginResponse,
    RecoveryCodesResponse, ResetPasswordRequest, RoleList, RoleViewWire, SessionList,
    SessionListQuery, SetStateRequest, StepUpRequest, TokenList, TokenListQuery,
    TotpEnrolmentResponse, UserList, UserListQuery, UserView, WebauthnCredentialList,
};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::client::{Client, server_of};
use crate::{ClientArgs, output, profile};

/// Where secrets come from: the terminal (echo off) or standard input.
struct Input {
    stdin: bool,
}

impl Input {
    fn secret(&self, prompt: &str) -> anyhow::Result<SecretString> {
        let text = if self.stdin {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read standard input")?;
            line
        } else {
            rpassword::prompt_password(prompt).context("cannot read from the terminal")?
        };
        let text = text.trim().to_owned();
        if text.is_empty() {
            bail!("nothing was entered");
        }
        Ok(SecretString::from(text))
    }

    /// A new password, asked twice on a terminal.
    fn new_password(&self, what: &str) -> anyhow::Result<SecretString> {
        let first = self.secret(&format!("{what} (input hidden): "))?;
        if !self.stdin {
            let again = self.secret("Repeat it: ")?;
            if again.expose_secret() != first.expose_secret() {
                bail!("the two entries differ");
            }
        }
        Ok(first)
    }
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The login name.
    #[arg(long, value_name = "NAME")]
    user: String,
    /// Read the password, codes and new passwords from standard input, one
    /// per line, instead of the terminal.
    #[arg(long)]
    stdin: bool,
    #[command(flatten)]
    client: ClientArgs,
}

fn show_secret(text: &str) {
    output::line(text);
    let _ = std::io::stdout().flush();
}

/// `rempart login`: the password, then whatever the server asks next (a
/// second factor, enrolling one, a new password), then the session is
/// saved in the profile (mode 0600) for the commands that follow.
pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let input = Input { stdin: args.stdin };
    let stored = profile::load(&args.client.profile).ok().flatten();
    let (server, ca) = server_of(&args.client, stored.as_ref());
    let anonymous = Client::anonymous(&server, ca.as_deref())?;
    let password = input.secret("Password (input hidden): ")?;
    let answer: LoginResponse = anonymous
        .post(
            "/api/v1/auth/login",
            &LoginRequest {
                name: args.user.clone(),
                password: password.expose_secret().to_owned(),
                return_token: true,
            },
        )
        .await?;
    let session = SecretString::from(answer.token.context("the server returned no session")?);
    let client = Client::anonymous(&server, ca.as_deref())?.with_token(session.clone());
    let mut stage = answer.stage;
    loop {
        match stage.as_str() {
            "full" => break,
            "second_factor" => {
                let code = input.secret("Authenticator or recovery code (input hidden): ")?;
                let next: LoginResponse = client
                    .post(
                        "/api/v1/auth/second-factor",
                        &CodeRequest {
                            code: code.expose_secret().to_owned(),
                        },
                    )
                    .await?;
                stage = next.stage;
            }
            "enrol_mfa" => {
                output::note(
                    "This account needs a second factor. Add this to an authenticator app (shown once):",
                );
                stage = enrol(&client, &input).await?;
            }
            "change_password" => {
                output::note("This password must be changed now.");
                let new = input.new_password("New password")?;
                let (): () = client
                    .post(
                        "/api/v1/auth/password",
                        &ChangePasswordRequest {
                            current_password: password.expose_secret().to_owned(),
                            new_password: new.expose_secret().to_owned(),
                        },
                    )
                    .await?;
                "full".clone_into(&mut stage);
            }
            other => bail!("the server asked for an unknown login step {other:?}"),
        }
    }
    let saved = profile::save(
        &args.client.profile,
        &server,
        session.expose_secret(),
        ca.as_deref(),
    )?;
    output::note(&format!(
        "logged in as {}; session saved in {} (profile {:?})",
        args.user,
        saved.display(),
        args.client.profile
    ));
    Ok(())
}

/// Enrols a TOTP authenticator and confirms it; prints the recovery codes.
/// Returns the session's next stage.
async fn enrol(client: &Client, input: &Input) -> anyhow::Result<String> {
    let enrolment: TotpEnrolmentResponse = client.post_empty("/api/v1/mfa/totp").await?;
    show_secret(&enrolment.uri);
    output::note(&format!("secret for manual entry: {}", enrolment.secret));
    let code = input.secret("Code from the authenticator (input hidden): ")?;
    let codes: RecoveryCodesResponse = client
        .post(
            "/api/v1/mfa/totp/confirm",
            &CodeRequest {
                code: code.expose_secret().to_owned(),
            },
        )
        .await?;
    output::note("Recovery codes (each works once; shown once; keep them offline):");
    for code in &codes.recovery_codes {
        show_secret(code);
    }
    // The server moved the session on; ask where it stands.
    let sessions: Option<SessionList> = client.get("/api/v1/sessions").await.ok();
    let stage = sessions
        .into_iter()
        .flat_map(|list| list.sessions)
        .find(|s| s.current)
        .map_or_else(|| "change_password".to_owned(), |s| s.stage);
    Ok(stage)
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Creates an account.
    Create {
        /// Its login name (an e-mail address, usually).
        name: String,
        /// staff, tenant-user or service.
        #[arg(long, default_value = "staff")]
        kind: String,
        /// The tenant of a tenant user.
        #[arg(long, value_name = "TENANT_ID")]
        tenant: Option<Uuid>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        /// Set an initial password (prompted, or from standard input with
        /// --stdin).
        #[arg(long)]
        password: bool,
        /// The initial password is not temporary (no change at first login).
        #[arg(long, requires = "password")]
        permanent: bool,
        /// A named emergency (break-glass) account.
        #[arg(long)]
        break_glass: bool,
        #[arg(long)]
        stdin: bool,
    },
    /// Lists accounts (staff-wide, or one tenant's users).
    List {
        #[arg(long, value_name = "TENANT_ID")]
        tenant: Option<Uuid>,
    },
    /// Suspends an account: its sessions end, its tokens are revoked.
    Suspend { user: String },
    /// Reactivates a suspended account.
    Activate { user: String },
    /// Terminates an account for good: its sessions end, its tokens are
    /// revoked.
    Terminate { user: String },
    /// Sets a temporary password the holder changes at the next login.
    ResetPassword {
        user: String,
        #[arg(long)]
        stdin: bool,
    },
    /// Removes an account's authenticator and recovery codes.
    ResetMfa { user: String },
}

const USER_HEADER: &[&str] = &["ID", "NAME", "KIND", "STATE", "TENANT"];

fn user_row(u: &UserView) -> Vec<String> {
    vec![
        u.id.to_string(),
        u.name.clone(),
        u.kind.clone(),
        u.state.clone(),
        output::cell(u.tenant),
    ]
}

/// Prints an answer: as JSON, or as a table of the given rows.
fn print<T: serde::Serialize>(
    json: bool,
    value: &T,
    header: &[&str],
    rows: &[Vec<String>],
) -> anyhow::Result<()> {
    if json {
        output::json(value)
    } else {
        output::table(header, rows);
        Ok(())
    }
}

/// The table rows of a list, one per item.
fn rows<T>(items: &[T], row: impl Fn(&T) -> Vec<String>) -> Vec<Vec<String>> {
    items.iter().map(row).collect()
}

/// Deletes what `path` names, then says what was done.
async fn delete_noting(client: &Client, path: &str, done: &str) -> anyhow::Result<()> {
    client.delete(path).await?;
    output::note(done);
    Ok(())
}

/// Sets an account's state, then prints the account.
async fn set_state(client: &Client, json: bool, user: &str, state: &str) -> anyhow::Result<()> {
    let path = format!("/api/v1/users/{}/state", segment(user));
    let body = SetStateRequest {
        state: state.to_owned(),
    };
    let updated: UserView = client.put(&path, &body).await?;
    print(json, &updated, USER_HEADER, &[user_row(&updated)])
}

/// Escapes a user name or id for a URL path segment.
fn segment(user: &str) -> String {
    user.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[allow(clippy::too_many_lines, reason = "one arm per subcommand")]
pub async fn user(command: UserCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let client = Client::from_args(args)?;
    match command {
        UserCommand::Create {
            name,
            kind,
            tenant,
            email,
            display_name,
            password,
            permanent,
            break_glass,
            stdin,
        } => {
            let password = if password {
                Some(Input { stdin }.new_password("Initial password")?)
            } else {
                None
            };
            let created: UserView = client
                .post(
                    "/api/v1/users",
                    &CreateUserRequest {
                        name,
                        kind: kind.replace('-', "_"),
                        tenant,
                        email,
                        display_name,
                        password: password.as_ref().map(|p| p.expose_secret().to_owned()),
                        temporary_password: !permanent,
                        break_glass,
                    },
                )
                .await?;
            print(args.json, &created, USER_HEADER, &[user_row(&created)])
        }
        UserCommand::List { tenant } => {
            let list: UserList = client
                .get_with("/api/v1/users", &UserListQuery { tenant })
                .await?;
            let rows = rows(&list.users, user_row);
            print(args.json, &list.users, USER_HEADER, &rows)
        }
        UserCommand::Suspend { user } => set_state(&client, args.json, &user, "suspended").await,
        UserCommand::Activate { user } => set_state(&client, args.json, &user, "active").await,
        UserCommand::Terminate { user } => set_state(&client, args.json, &user, "terminated").await,
        UserCommand::ResetPassword { user, stdin } => {
            let password = Input { stdin }.new_password("Temporary password")?;
            let (): () = client
                .put(
                    &format!("/api/v1/users/{}/password", segment(&user)),
                    &ResetPasswordRequest {
                        password: password.expose_secret().to_owned(),
                    },
                )
                .await?;
            output::note(&format!(
                "password set for {user}; it must be changed at the next login"
            ));
            Ok(())
        }
        UserCommand::ResetMfa { user } => {
            let path = format!("/api/v1/users/{}/mfa", segment(&user));
            delete_noting(&client, &path, &format!("second factor removed for {user}")).await
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Lists roles and their permissions.
    List,
    /// Defines a custom role.
    Create {
        name: String,
        /// A permission it carries (repeat the flag for several).
        #[arg(long = "permission", value_name = "PERMISSION", required = true)]
        permissions: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
}

pub async fn role(command: RoleCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let client = Client::from_args(args)?;
    let roles: Vec<RoleViewWire> = match command {
        RoleCommand::List => client.get::<RoleList>("/api/v1/roles").await?.roles,
        RoleCommand::Create {
            name,
            permissions,
            description,
        } => vec![
            client
                .post(
                    "/api/v1/roles",
                    &CreateRoleRequest {
                        name,
                        permissions,
                        description,
                    },
                )
                .await?,
        ],
    };
    let rows = rows(&roles, |r| {
        vec![
            r.name.clone(),
            if r.builtin { "built-in" } else { "custom" }.to_owned(),
            r.permissions.join(" "),
        ]
    });
    print(args.json, &roles, &["ROLE", "KIND", "PERMISSIONS"], &rows)
}

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Grants a role to an account in a scope.
    Add {
        /// The account (id or login name).
        user: String,
        role: String,
        /// global, tenant:<id> or environment:<name>.
        #[arg(long, default_value = "global")]
        scope: String,
        /// RFC 3339 time the grant ends.
        #[arg(long, value_name = "TIME", value_parser = rfc3339)]
        expires: Option<OffsetDateTime>,
    },
    /// Lists an account's grants.
    List { user: String },
    /// Revokes a grant.
    Revoke { id: String },
}

/// A time given on the command line, in RFC 3339.
fn rfc3339(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| "expected an RFC 3339 time, such as 2030-01-31T18:00:00Z".to_owned())
}

fn grant_row(g: &GrantView) -> Vec<String> {
    vec![
        g.id.to_string(),
        g.user.to_string(),
        g.role.clone(),
        g.scope.clone(),
        output::time_cell(g.expires_at),
    ]
}

pub async fn grant(command: GrantCommand, args: &ClientArgs) -> anyhow::Result<()> {
    const HEADER: &[&str] = &["ID", "USER", "ROLE", "SCOPE", "EXPIRES"];
    let client = Client::from_args(args)?;
    match command {
        GrantCommand::Add {
            user,
            role,
            scope,
            expires,
        } => {
            let created: GrantView = client
                .post(
                    "/api/v1/grants",
                    &CreateGrantRequest {
                        user,
                        role,
                        scope,
                        expires_at: expires,
                    },
                )
                .await?;
            print(args.json, &created, HEADER, &[grant_row(&created)])
        }
        GrantCommand::List { user } => {
            let list: GrantList = client
                .get(&format!("/api/v1/users/{}/grants", segment(&user)))
                .await?;
            let rows = rows(&list.grants, grant_row);
            print(args.json, &list.grants, HEADER, &rows)
        }
        GrantCommand::Revoke { id } => {
            let path = format!("/api/v1/grants/{}", segment(&id));
            delete_noting(&client, &path, &format!("grant {id} revoked")).await
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Creates an API token (shown once).
    Create {
        name: String,
        /// A service account to make it for (default: yourself).
        #[arg(long)]
        holder: Option<String>,
        /// Lifetime in days, 1 to 366 (default: 90, and never past the
        /// expiry of the token you use).
        #[arg(long)]
        days: Option<u32>,
        /// Limit it to this permission (repeat for several).
        #[arg(long = "permission", value_name = "PERMISSION")]
        permissions: Vec<String>,
        /// Bind it to one tenant.
        #[arg(long, value_name = "TENANT_ID")]
        tenant: Option<Uuid>,
        /// A network it may be used from (repeat for several).
        #[arg(long = "allow", value_name = "CIDR")]
        allow: Vec<String>,
    },
    /// Lists tokens (never their secrets).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revokes a token.
    Revoke { id: String },
}

pub async fn token(command: TokenCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let client = Client::from_args(args)?;
    match command {
        TokenCommand::Create {
            name,
            holder,
            days,
            permissions,
            tenant,
            allow,
        } => {
            let created: CreatedToken = client
                .post(
                    "/api/v1/tokens",
                    &CreateTokenRequest {
                        name,
                        holder,
                        expires_in_days: days,
                        permissions: (!permissions.is_empty()).then_some(permissions),
                        tenant,
                        allow_list: (!allow.is_empty()).then_some(allow),
                    },
                )
                .await?;
            output::note(&format!(
                "token {} created, expires {}; shown once:",
                created.view.id,
                output::time_cell(created.view.expires_at)
            ));
            show_secret(&created.token);
            Ok(())
        }
        TokenCommand::List { user } => {
            let list: TokenList = client
                .get_with("/api/v1/tokens", &TokenListQuery { user })
                .await?;
            let rows = rows(&list.tokens, |t| {
                vec![
                    t.id.to_string(),
                    t.name.clone(),
                    output::time_cell(t.expires_at),
                    output::time_cell(t.revoked_at),
                    output::time_cell(t.last_used_at),
                ]
            });
            print(
                args.json,
                &list.tokens,
                &["ID", "NAME", "EXPIRES", "REVOKED", "LAST USED"],
                &rows,
            )
        }
        TokenCommand::Revoke { id } => {
            let path = format!("/api/v1/tokens/{}", segment(&id));
            delete_noting(&client, &path, &format!("token {id} revoked")).await
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Enrols a TOTP authenticator for yourself.
    Enrol {
        #[arg(long)]
        stdin: bool,
    },
    /// Lists your security keys and passkeys (registered from a browser).
    Keys,
    /// Removes one of your security keys or passkeys (a lost one); needs a
    /// recent login, and refuses your last second factor.
    RemoveKey { id: String },
}

pub async fn mfa(command: MfaCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let client = Client::from_args(args)?;
    match command {
        MfaCommand::Enrol { stdin } => {
            enrol(&client, &Input { stdin }).await?;
            Ok(())
        }
        MfaCommand::Keys => {
            let list: WebauthnCredentialList = client.get("/api/v1/mfa/webauthn").await?;
            let rows = rows(&list.credentials, |c| {
                vec![
                    c.id.to_string(),
                    c.name.clone(),
                    output::time(c.created_at),
                    output::time_cell(c.last_used_at),
                ]
            });
            print(
                args.json,
                &list.credentials,
                &["ID", "NAME", "REGISTERED", "LAST USED"],
                &rows,
            )
        }
        MfaCommand::RemoveKey { id } => {
            let path = format!("/api/v1/mfa/webauthn/{}", segment(&id));
            delete_noting(&client, &path, &format!("security key {id} removed")).await
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Lists live sessions (yours, or another account's by id).
    List {
        #[arg(long, value_name = "USER_ID")]
        user: Option<Uuid>,
    },
    /// Ends a session.
    Revoke { id: String },
}

pub async fn session(command: SessionCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let client = Client::from_args(args)?;
    match command {
        SessionCommand::List { user } => {
            let list: SessionList = client
                .get_with("/api/v1/sessions", &SessionListQuery { user })
                .await?;
            let rows = rows(&list.sessions, |s| {
                vec![
                    s.id.to_string(),
                    output::cell(s.source.as_deref()),
                    output::time(s.last_seen_at),
                    output::time(s.expires_at),
                    if s.current { "*" } else { "" }.to_owned(),
                ]
            });
            print(
                args.json,
                &list.sessions,
                &["ID", "SOURCE", "LAST SEEN", "EXPIRES", "CURRENT"],
                &rows,
            )
        }
        SessionCommand::Revoke { id } => {
            let path = format!("/api/v1/sessions/{}", segment(&id));
            delete_noting(&client, &path, &format!("session {id} ended")).await
        }
    }
}

#[derive(Debug, Args)]
pub struct SecretArgs {
    #[arg(long)]
    stdin: bool,
    #[command(flatten)]
    client: ClientArgs,
}

/// `rempart password`: changes your own password.
pub async fn password(args: SecretArgs) -> anyhow::Result<()> {
    let client = Client::from_args(&args.client)?;
    let input = Input { stdin: args.stdin };
    let current = input.secret("Current password (input hidden): ")?;
    let new = input.new_password("New password")?;
    let (): () = client
        .post(
            "/api/v1/auth/password",
            &ChangePasswordRequest {
                current_password: current.expose_secret().to_owned(),
                new_password: new.expose_secret().to_owned(),
            },
        )
        .await?;
    output::note("password changed; your other sessions ended");
    Ok(())
}

/// `rempart step-up`: proves your identity again before a sensitive
/// action.
pub async fn step_up(args: SecretArgs) -> anyhow::Result<()> {
    let client = Client::from_args(&args.client)?;
    let input = Input { stdin: args.stdin };
    let password = input.secret("Password (input hidden): ")?;
    let code = input
        .secret("Authenticator code, or Enter if none (input hidden): ")
        .ok();
    let (): () = client
        .post(
            "/api/v1/auth/step-up",
            &StepUpRequest {
                password: password.expose_secret().to_owned(),
                code: code.as_ref().map(|c| c.expose_secret().to_owned()),
            },
        )
        .await?;
    output::note("re-authenticated");
    Ok(())
}

/// `rempart logout`: ends the profile's session.
pub async fn logout(args: &ClientArgs) -> anyhow::Result<()> {
    let client = Client::from_args(args)?;
    let (): () = client.post_empty("/api/v1/auth/logout").await?;
    output::note("logged out");
    Ok(())
}
