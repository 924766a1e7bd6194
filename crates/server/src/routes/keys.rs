//! The keyring over HTTP (control DS-7): seal status and unseal (unauthenticated,
//! like Vault's: the unsealer holds the secret, not a token), and the key
//! administration routes (status, rotate, re-wrap, retire, shred), each
//! authorized and audited by the service layer. No route returns key
//! material; the wire types (`rempart_api::keys`) carry versions, dates and
//! counts only.

use axum::Json;
use axum::extract::State;
use rempart_api::keys::{
    EnvironmentKeysView, EnvironmentRequest, KekView, KeysStatusView, RetireRequest,
    RetireResponse, RewrapRequest, RewrapResponse, RotateResponse, SealStatusView, ShredRequest,
    ShredResponse, UnsealRequest,
};
use rempart_core::keys::{MAX_REWRAP_BATCH, SealStatus, UnsealInput};
use rempart_model::{Environment, TenantId};
use secrecy::SecretString;

use crate::extract::{ApiJson, Authenticated, Ctx, SecureTransport};
use crate::problem::Problem;
use crate::routes::answers::{
    InvalidField, KeyringSealed, NoKeysManage, NoValidToken, TenantShredded,
};
use crate::state::AppState;

fn seal_status_view(s: &SealStatus) -> SealStatusView {
    SealStatusView {
        sealed: s.sealed,
        provider: s.provider.to_owned(),
        threshold: s.threshold,
        shares_entered: s.shares_entered,
    }
}

fn environment(name: &str) -> Result<Environment, Problem> {
    Environment::parse(name).map_err(|e| Problem::invalid_field("environment", e.to_string()))
}

fn cursor_from_hex(text: &str) -> Result<[u8; 16], Problem> {
    let invalid = || Problem::invalid_field("after", "expected the 32 hex digits of a cursor");
    let mut out = [0u8; 16];
    if text.len() != 32 || !text.is_ascii() {
        return Err(invalid());
    }
    for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks(2)) {
        let digits = std::str::from_utf8(pair).map_err(|_| invalid())?;
        *slot = u8::from_str_radix(digits, 16).map_err(|_| invalid())?;
    }
    Ok(out)
}

fn cursor_to_hex(cursor: &[u8; 16]) -> String {
    cursor.iter().fold(String::with_capacity(32), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Seal state: whether the keyring is sealed and what unsealing takes.
#[utoipa::path(get, path = "/api/v1/sys/seal-status", tag = "keys",
    responses((status = 200, description = "The seal state", body = SealStatusView)))]
pub async fn seal_status(State(state): State<AppState>) -> Json<SealStatusView> {
    Json(seal_status_view(&state.core.keys().seal_status()))
}

/// Unseals the keyring with its passphrase, or one Shamir share at a time
/// (the server keeps partial shares in memory only, until the threshold).
/// Unauthenticated, like Vault's unseal: the secret is the credential, so it
/// is accepted only over HTTPS or from the loopback interface.
#[utoipa::path(post, path = "/api/v1/sys/unseal", tag = "keys",
    request_body = UnsealRequest,
    responses(
        (status = 200, description = "The seal state after this input", body = SealStatusView),
        (status = 400, description = "Wrong passphrase or share; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sent over plain HTTP from another machine (insecure-transport)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not exactly one of passphrase, share, reset", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Another unseal attempt is in progress (unseal-busy)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    ))]
pub async fn unseal(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<UnsealRequest>,
) -> Result<Json<SealStatusView>, Problem> {
    let input = match (body.passphrase, body.share, body.reset) {
        (Some(p), None, false) => UnsealInput::Passphrase(SecretString::from(p)),
        (None, Some(s), false) => UnsealInput::Share(SecretString::from(s)),
        (None, None, true) => UnsealInput::Reset,
        _ => {
            return Err(Problem::invalid_field(
                "passphrase",
                "give exactly one of passphrase, share or reset",
            ));
        }
    };
    let status = state.core.unseal(&ctx, input).await?;
    Ok(Json(seal_status_view(&status)))
}

/// Key versions, creation dates, usage counts and seal state; never key
/// bytes. Needs `keys.read`.
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The keyring's status", body = KeysStatusView),
        NoValidToken,
        (status = 403, description = "The token's grants do not carry keys.read", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn status(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
) -> Result<Json<KeysStatusView>, Problem> {
    let status = state.core.keys_status(&actor, &ctx).await?;
    let stored = |env: &str, version: u32| {
        status
            .data_keys
            .iter()
            .filter(|c| c.environment == env && c.kek_version == version)
            .map(|c| c.data_keys)
            .sum()
    };
    let environments = status
        .keyring
        .as_ref()
        .map(|k| {
            k.environments
                .iter()
                .map(|e| EnvironmentKeysView {
                    environment: e.environment.as_str().to_owned(),
                    encryption_version: e.encryption_version,
                    min_decryption_version: e.min_decryption_version,
                    keks: e
                        .keks
                        .iter()
                        .map(|kek| KekView {
                            version: kek.version,
                            created_at: kek.created_at,
                            wraps: kek.usage.encryptions,
                            wrap_limit: kek.usage.limit,
                            rotation_due: kek.usage.rotation_due,
                            retired: kek.retired,
                            stored_data_keys: stored(e.environment.as_str(), kek.version),
                        })
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(KeysStatusView {
        seal: seal_status_view(&status.seal),
        environments,
        tenants_enrolled: status.keyring.as_ref().map(|k| k.tenants_enrolled),
        tenants_shredded: status.keyring.as_ref().map(|k| k.tenants_shredded),
    }))
}

/// Adds a key-encryption key version to an environment; new wrappings use
/// it, older versions still unwrap. Needs `keys.manage`.
#[utoipa::path(post, path = "/api/v1/keys/rotate", tag = "keys",
    request_body = EnvironmentRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new version", body = RotateResponse),
        NoValidToken,
        NoKeysManage,
        (status = 422, description = "Unknown environment", body = Problem, content_type = "application/problem+json"),
        KeyringSealed,
    ))]
pub async fn rotate(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<EnvironmentRequest>,
) -> Result<Json<RotateResponse>, Problem> {
    let env = environment(&body.environment)?;
    let version = state.core.rotate_kek(&actor, &ctx, &env).await?;
    Ok(Json(RotateResponse {
        environment: env.as_str().to_owned(),
        version,
    }))
}

/// Re-wraps one batch of stored data keys under the environment's newest
/// KEK version. Resumable: run again from the returned cursor, or from the
/// start (only keys still under older versions are listed). Needs
/// `keys.manage`.
#[utoipa::path(post, path = "/api/v1/keys/rewrap", tag = "keys",
    request_body = RewrapRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What this batch did", body = RewrapResponse),
        NoValidToken,
        NoKeysManage,
        InvalidField,
        KeyringSealed,
    ))]
pub async fn rewrap(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<RewrapRequest>,
) -> Result<Json<RewrapResponse>, Problem> {
    let env = environment(&body.environment)?;
    let after = body.after.as_deref().map(cursor_from_hex).transpose()?;
    let limit = body.limit.unwrap_or(100);
    if !(1..=MAX_REWRAP_BATCH).contains(&limit) {
        return Err(Problem::invalid_field(
            "limit",
            format!("expected 1 to {MAX_REWRAP_BATCH}"),
        ));
    }
    let batch = state
        .core
        .rewrap_data_keys(&actor, &ctx, &env, after, limit)
        .await?;
    Ok(Json(RewrapResponse {
        environment: batch.environment.as_str().to_owned(),
        encryption_version: batch.encryption_version,
        rewrapped: batch.rewrapped,
        next: batch.next.as_ref().map(cursor_to_hex),
        remaining: batch.remaining,
    }))
}

/// Retires every KEK version below `min_version`: keys they wrapped no
/// longer unwrap. Refused while stored data keys are still under them.
/// Needs `keys.manage`.
#[utoipa::path(post, path = "/api/v1/keys/retire", tag = "keys",
    request_body = RetireRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Retired", body = RetireResponse),
        NoValidToken,
        NoKeysManage,
        (status = 409, description = "Data keys are still wrapped under a version to retire", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A version out of range", body = Problem, content_type = "application/problem+json"),
        KeyringSealed,
    ))]
pub async fn retire(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<RetireRequest>,
) -> Result<Json<RetireResponse>, Problem> {
    let env = environment(&body.environment)?;
    state
        .core
        .retire_keks(&actor, &ctx, &env, body.min_version)
        .await?;
    Ok(Json(RetireResponse {
        environment: env.as_str().to_owned(),
        min_decryption_version: body.min_version,
    }))
}

/// Crypto-shreds a tenant: destroys its tenant key and its wrapped data
/// keys. Irreversible; `confirm` must repeat the tenant id. Needs
/// `keys.shred`.
#[utoipa::path(post, path = "/api/v1/keys/shred", tag = "keys",
    request_body = ShredRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Shredded", body = ShredResponse),
        NoValidToken,
        (status = 403, description = "The token's grants do not carry keys.shred", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        TenantShredded,
        (status = 422, description = "The confirmation does not match", body = Problem, content_type = "application/problem+json"),
        KeyringSealed,
    ))]
pub async fn shred(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<ShredRequest>,
) -> Result<Json<ShredResponse>, Problem> {
    state
        .core
        .shred_tenant(&actor, &ctx, TenantId(body.tenant), &body.confirm)
        .await?;
    Ok(Json(ShredResponse {
        tenant: body.tenant,
        shredded: true,
    }))
}
