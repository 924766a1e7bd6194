//! The error answers several routes document in the same words, each
//! written once: a route lists the type in its `responses(...)` and the
//! OpenAPI document carries the answer as a problem document
//! (`application/problem+json`), as if the route had spelt it out. Answers
//! a route words its own way stay in its `responses(...)`.

use utoipa::IntoResponses;

use crate::problem::Problem;

/// A token-only route called without a valid token.
#[derive(Debug, IntoResponses)]
#[response(
    status = 401,
    description = "No valid token",
    content_type = "application/problem+json"
)]
pub struct NoValidToken(pub Problem);

/// A route that takes a token or a session, called with neither.
#[derive(Debug, IntoResponses)]
#[response(
    status = 401,
    description = "No valid credential",
    content_type = "application/problem+json"
)]
pub struct NoValidCredential(pub Problem);

/// A second factor (or the step-up proof) refused.
#[derive(Debug, IntoResponses)]
#[response(
    status = 401,
    description = "Refused (second-factor-refused)",
    content_type = "application/problem+json"
)]
pub struct SecondFactorRefused(pub Problem);

/// The caller's grants do not carry what the route needs.
#[derive(Debug, IntoResponses)]
#[response(
    status = 403,
    description = "Not allowed",
    content_type = "application/problem+json"
)]
pub struct NotAllowed(pub Problem);

/// A key administration route without `keys.manage` (control DS-7).
#[derive(Debug, IntoResponses)]
#[response(
    status = 403,
    description = "The token's grants do not carry keys.manage",
    content_type = "application/problem+json"
)]
pub struct NoKeysManage(pub Problem);

/// The account named in the path does not exist for the caller.
#[derive(Debug, IntoResponses)]
#[response(
    status = 404,
    description = "No such account, or one outside the caller's scope",
    content_type = "application/problem+json"
)]
pub struct AccountNotFound(pub Problem);

/// The tenant named does not exist for the caller.
#[derive(Debug, IntoResponses)]
#[response(
    status = 404,
    description = "No such tenant, or one outside the caller's scope (tenant-not-found)",
    content_type = "application/problem+json"
)]
pub struct TenantNotFound(pub Problem);

/// The tenant named, or the tenant of what is named, was crypto-shredded:
/// gone for good, with `shredded_at` in the problem document.
#[derive(Debug, IntoResponses)]
#[response(
    status = 410,
    description = "The tenant was crypto-shredded: its data is gone for good (tenant-shredded, with shredded_at)",
    content_type = "application/problem+json"
)]
pub struct TenantShredded(pub Problem);

/// WebAuthn is not configured on this server.
#[derive(Debug, IntoResponses)]
#[response(
    status = 409,
    description = "WebAuthn is not configured (webauthn-not-configured)",
    content_type = "application/problem+json"
)]
pub struct WebauthnNotConfigured(pub Problem);

/// A field of the request is not valid.
#[derive(Debug, IntoResponses)]
#[response(
    status = 422,
    description = "A field is not valid",
    content_type = "application/problem+json"
)]
pub struct InvalidField(pub Problem);

/// The account in the path is named by a login name that does not parse.
#[derive(Debug, IntoResponses)]
#[response(
    status = 422,
    description = "The login name is not valid (user)",
    content_type = "application/problem+json"
)]
pub struct InvalidLoginName(pub Problem);

/// A login step refused while the account is locked out (control AC-1).
#[derive(Debug, IntoResponses)]
#[response(
    status = 429,
    description = "Locked out (locked-out)",
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds until the lockout ends"))
)]
pub struct LockedOut(pub Problem);

/// A password refused while the account is locked out (control AC-1).
#[derive(Debug, IntoResponses)]
#[response(
    status = 429,
    description = "Locked out after repeated failures (locked-out)",
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds until the lockout ends"))
)]
pub struct LockedOutAfterFailures(pub Problem);

/// The keyring is sealed: nothing that needs a key can run.
#[derive(Debug, IntoResponses)]
#[response(
    status = 503,
    description = "The keyring is sealed",
    content_type = "application/problem+json"
)]
pub struct KeyringSealed(pub Problem);
