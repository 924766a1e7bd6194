//! Identity commands: `login`, `logout`, `password`, `step-up`,
//! `user`, `role`, `grant`, `token`, `mfa`, `session`. All are clients of
//! the API. Passwords and codes are read from the terminal with echo off,
//! or, with `--stdin`, one per line from standard input (for scripts);
//! they are never printed. Generated secrets (a new token, an enrolment
//! URI, recovery codes) are shown once, as the server returns them.

use std::io::{BufRead as _, Write as _};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::{Client, DEFAULT_SERVER};
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

#[derive(Serialize)]
struct LoginRequest<'a> {
    name: &'a str,
    password: &'a str,
    return_token: bool,
}

impl std::fmt::Debug for LoginRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginRequest(redacted)")
    }
}

#[derive(Deserialize)]
struct LoginResponse {
    stage: String,
    token: Option<String>,
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
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
    let server = args
        .client
        .server
        .clone()
        .or_else(|| stored.as_ref().map(|p| p.server.clone()))
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let ca = args
        .client
        .ca_cert
        .clone()
        .or_else(|| stored.as_ref().and_then(|p| p.ca_cert.clone()));
    let anonymous = Client::anonymous(&server, ca.as_deref())?;
    let password = input.secret("Password (input hidden): ")?;
    let answer: LoginResponse = anonymous
        .post(
            "/api/v1/auth/login",
            &LoginRequest {
                name: &args.user,
                password: password.expose_secret(),
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
                        &json!({"code": code.expose_secret()}),
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
                let _: Value = client
                    .post(
                        "/api/v1/auth/password",
                        &json!({
                            "current_password": password.expose_secret(),
                            "new_password": new.expose_secret(),
                        }),
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
    let enrolment: Value = client.post("/api/v1/mfa/totp", &json!({})).await?;
    show_secret(field(&enrolment, "uri").as_str().unwrap_or_default());
    output::note(&format!(
        "secret for manual entry: {}",
        field(&enrolment, "secret").as_str().unwrap_or_default()
    ));
    let code = input.secret("Code from the authenticator (input hidden): ")?;
    let codes: Value = client
        .post(
            "/api/v1/mfa/totp/confirm",
            &json!({"code": code.expose_secret()}),
        )
        .await?;
    output::note("Recovery codes (each works once; shown once; keep them offline):");
    for code in field(&codes, "recovery_codes")
        .as_array()
        .into_iter()
        .flatten()
    {
        show_secret(code.as_str().unwrap_or_default());
    }
    // The server moved the session on; ask where it stands.
    let sessions: Value = client.get("/api/v1/sessions").await.unwrap_or(Value::Null);
    let stage = field(&sessions, "sessions")
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| field(s, "current") == true)
        .and_then(|s| field(s, "stage").as_str())
        .unwrap_or("change_password")
        .to_owned();
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
        tenant: Option<String>,
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
        tenant: Option<String>,
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

fn user_rows(users: &[Value]) -> Vec<Vec<String>> {
    users
        .iter()
        .map(|u| {
            vec![
                text(field(u, "id")),
                text(field(u, "name")),
                text(field(u, "kind")),
                text(field(u, "state")),
                text(field(u, "tenant")),
            ]
        })
        .collect()
}

/// A field of a JSON object, or null.
fn field<'a>(value: &'a Value, name: &str) -> &'a Value {
    value.get(name).unwrap_or(&Value::Null)
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// Prints the array `key` of `list`: as JSON, or as a table of the given
/// (header, field) columns.
fn print_columns(
    json: bool,
    list: &Value,
    key: &str,
    columns: &[(&str, &str)],
) -> anyhow::Result<()> {
    let items = field(list, key);
    let rows: Vec<Vec<String>> = items
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            columns
                .iter()
                .map(|(_, name)| text(field(item, name)))
                .collect()
        })
        .collect();
    let header: Vec<&str> = columns.iter().map(|(header, _)| *header).collect();
    print(json, items, &header, &rows)
}

fn print(json: bool, value: &Value, header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    if json {
        output::line(&serde_json::to_string_pretty(value)?);
    } else {
        output::table(header, rows);
    }
    Ok(())
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
    const HEADER: &[&str] = &["ID", "NAME", "KIND", "STATE", "TENANT"];
    let client = Client::from_args(args)?;
    let state = |user: &str, state: &str| {
        let path = format!("/api/v1/users/{}/state", segment(user));
        let body = json!({"state": state});
        (path, body)
    };
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
            let created: Value = client
                .post(
                    "/api/v1/users",
                    &json!({
                        "name": name,
                        "kind": kind.replace('-', "_"),
                        "tenant": tenant,
                        "email": email,
                        "display_name": display_name,
                        "password": password.as_ref().map(ExposeSecret::expose_secret),
                        "temporary_password": !permanent,
                        "break_glass": break_glass,
                    }),
                )
                .await?;
            print(
                args.json,
                &created,
                HEADER,
                &user_rows(std::slice::from_ref(&created)),
            )
        }
        UserCommand::List { tenant } => {
            let path = match tenant {
                Some(t) => format!("/api/v1/users?tenant={}", segment(&t)),
                None => "/api/v1/users".to_owned(),
            };
            let list: Value = client.get(&path).await?;
            let users = field(&list, "users")
                .as_array()
                .cloned()
                .unwrap_or_default();
            print(args.json, field(&list, "users"), HEADER, &user_rows(&users))
        }
        UserCommand::Suspend { user } => {
            let (path, body) = state(&user, "suspended");
            let updated: Value = client.put(&path, &body).await?;
            print(
                args.json,
                &updated,
                HEADER,
                &user_rows(std::slice::from_ref(&updated)),
            )
        }
        UserCommand::Activate { user } => {
            let (path, body) = state(&user, "active");
            let updated: Value = client.put(&path, &body).await?;
            print(
                args.json,
                &updated,
                HEADER,
                &user_rows(std::slice::from_ref(&updated)),
            )
        }
        UserCommand::Terminate { user } => {
            let (path, body) = state(&user, "terminated");
            let updated: Value = client.put(&path, &body).await?;
            print(
                args.json,
                &updated,
                HEADER,
                &user_rows(std::slice::from_ref(&updated)),
            )
        }
        UserCommand::ResetPassword { user, stdin } => {
            let password = Input { stdin }.new_password("Temporary password")?;
            let (): () = client
                .put(
                    &format!("/api/v1/users/{}/password", segment(&user)),
                    &json!({"password": password.expose_secret()}),
                )
                .await?;
            output::note(&format!(
                "password set for {user}; it must be changed at the next login"
            ));
            Ok(())
        }
        UserCommand::ResetMfa { user } => {
            client
                .delete(&format!("/api/v1/users/{}/mfa", segment(&user)))
                .await?;
            output::note(&format!("second factor removed for {user}"));
            Ok(())
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
    let roles: Vec<Value> = match command {
        RoleCommand::List => {
            let list: Value = client.get("/api/v1/roles").await?;
            field(&list, "roles")
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
        RoleCommand::Create {
            name,
            permissions,
            description,
        } => vec![
            client
                .post(
                    "/api/v1/roles",
                    &json!({"name": name, "permissions": permissions, "description": description}),
                )
                .await?,
        ],
    };
    let rows: Vec<Vec<String>> = roles
        .iter()
        .map(|r| {
            let permissions: Vec<String> = field(r, "permissions")
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            vec![
                text(field(r, "name")),
                if field(r, "builtin") == true {
                    "built-in"
                } else {
                    "custom"
                }
                .to_owned(),
                permissions.join(" "),
            ]
        })
        .collect();
    print(
        args.json,
        &Value::Array(roles),
        &["ROLE", "KIND", "PERMISSIONS"],
        &rows,
    )
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
        #[arg(long, value_name = "TIME")]
        expires: Option<String>,
    },
    /// Lists an account's grants.
    List { user: String },
    /// Revokes a grant.
    Revoke { id: String },
}

fn grant_rows(grants: &[Value]) -> Vec<Vec<String>> {
    grants
        .iter()
        .map(|g| {
            vec![
                text(field(g, "id")),
                text(field(g, "user")),
                text(field(g, "role")),
                text(field(g, "scope")),
                text(field(g, "expires_at")),
            ]
        })
        .collect()
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
            let created: Value = client
                .post(
                    "/api/v1/grants",
                    &json!({"user": user, "role": role, "scope": scope, "expires_at": expires}),
                )
                .await?;
            print(
                args.json,
                &created,
                HEADER,
                &grant_rows(std::slice::from_ref(&created)),
            )
        }
        GrantCommand::List { user } => {
            let list: Value = client
                .get(&format!("/api/v1/users/{}/grants", segment(&user)))
                .await?;
            let grants = field(&list, "grants")
                .as_array()
                .cloned()
                .unwrap_or_default();
            print(
                args.json,
                field(&list, "grants"),
                HEADER,
                &grant_rows(&grants),
            )
        }
        GrantCommand::Revoke { id } => {
            client
                .delete(&format!("/api/v1/grants/{}", segment(&id)))
                .await?;
            output::note(&format!("grant {id} revoked"));
            Ok(())
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
        tenant: Option<String>,
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
            let created: Value = client
                .post(
                    "/api/v1/tokens",
                    &json!({
                        "name": name,
                        "holder": holder,
                        "expires_in_days": days,
                        "permissions": (!permissions.is_empty()).then_some(permissions),
                        "tenant": tenant,
                        "allow_list": (!allow.is_empty()).then_some(allow),
                    }),
                )
                .await?;
            output::note(&format!(
                "token {} created, expires {}; shown once:",
                text(field(&created, "id")),
                text(field(&created, "expires_at"))
            ));
            show_secret(field(&created, "token").as_str().unwrap_or_default());
            Ok(())
        }
        TokenCommand::List { user } => {
            let path = match user {
                Some(u) => format!("/api/v1/tokens?user={}", segment(&u)),
                None => "/api/v1/tokens".to_owned(),
            };
            let list: Value = client.get(&path).await?;
            print_columns(
                args.json,
                &list,
                "tokens",
                &[
                    ("ID", "id"),
                    ("NAME", "name"),
                    ("EXPIRES", "expires_at"),
                    ("REVOKED", "revoked_at"),
                    ("LAST USED", "last_used_at"),
                ],
            )
        }
        TokenCommand::Revoke { id } => {
            client
                .delete(&format!("/api/v1/tokens/{}", segment(&id)))
                .await?;
            output::note(&format!("token {id} revoked"));
            Ok(())
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
            let list: Value = client.get("/api/v1/mfa/webauthn").await?;
            print_columns(
                args.json,
                &list,
                "credentials",
                &[
                    ("ID", "id"),
                    ("NAME", "name"),
                    ("REGISTERED", "created_at"),
                    ("LAST USED", "last_used_at"),
                ],
            )
        }
        MfaCommand::RemoveKey { id } => {
            client
                .delete(&format!("/api/v1/mfa/webauthn/{}", segment(&id)))
                .await?;
            output::note(&format!("security key {id} removed"));
            Ok(())
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Lists live sessions (yours, or another account's by id).
    List {
        #[arg(long, value_name = "USER_ID")]
        user: Option<String>,
    },
    /// Ends a session.
    Revoke { id: String },
}

pub async fn session(command: SessionCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let client = Client::from_args(args)?;
    match command {
        SessionCommand::List { user } => {
            let path = match user {
                Some(u) => format!("/api/v1/sessions?user={}", segment(&u)),
                None => "/api/v1/sessions".to_owned(),
            };
            let list: Value = client.get(&path).await?;
            let rows: Vec<Vec<String>> = field(&list, "sessions")
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    vec![
                        text(field(s, "id")),
                        text(field(s, "source")),
                        text(field(s, "last_seen_at")),
                        text(field(s, "expires_at")),
                        if field(s, "current") == true { "*" } else { "" }.to_owned(),
                    ]
                })
                .collect();
            print(
                args.json,
                field(&list, "sessions"),
                &["ID", "SOURCE", "LAST SEEN", "EXPIRES", "CURRENT"],
                &rows,
            )
        }
        SessionCommand::Revoke { id } => {
            client
                .delete(&format!("/api/v1/sessions/{}", segment(&id)))
                .await?;
            output::note(&format!("session {id} ended"));
            Ok(())
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
            &json!({"current_password": current.expose_secret(), "new_password": new.expose_secret()}),
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
            &json!({
                "password": password.expose_secret(),
                "code": code.as_ref().map(ExposeSecret::expose_secret),
            }),
        )
        .await?;
    output::note("re-authenticated");
    Ok(())
}

/// `rempart logout`: ends the profile's session.
pub async fn logout(args: &ClientArgs) -> anyhow::Result<()> {
    let client = Client::from_args(args)?;
    let (): () = client.post("/api/v1/auth/logout", &json!({})).await?;
    output::note("logged out");
    Ok(())
}
