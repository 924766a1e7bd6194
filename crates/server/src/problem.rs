//! RFC 9457 problem details: the one answer to every error.
//!
//! Every domain error and every extractor rejection becomes a [`Problem`]
//! here, in one place, so that all routes answer bad input the same way
//! (invariant 5). A problem never carries a secret: messages come from
//! error types that are written not to hold any, and server-side failures
//! are logged with the request id and answered with a generic text.
//! Every refusal by a limit (a login or second-factor lockout, a source
//! throttle, a busy unseal) is a 429 with `Retry-After` in seconds, from
//! the lockout's end, so that a client knows when to try again.

use std::borrow::Cow;
use std::num::NonZeroU64;
use std::ops::{Deref, DerefMut};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rempart_api::problem::{FieldError, Problem as Document};
use rempart_core::ServiceError;
use rempart_store::StoreError;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// An error answer: the RFC 9457 problem document (`rempart_api`'s, which
/// it dereferences to) and what its HTTP answer adds to it, the
/// `WWW-Authenticate` and `Retry-After` headers. In the OpenAPI document
/// it is the problem document's schema.
#[derive(Debug, Clone)]
pub struct Problem {
    document: Document,
    authenticate: bool,
    /// Seconds until a limit lets the caller try again (`Retry-After`).
    retry_after: Option<NonZeroU64>,
}

impl Deref for Problem {
    type Target = Document;

    fn deref(&self) -> &Document {
        &self.document
    }
}

impl DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut Document {
        &mut self.document
    }
}

impl PartialSchema for Problem {
    fn schema() -> RefOr<Schema> {
        Document::schema()
    }
}

impl ToSchema for Problem {
    fn name() -> Cow<'static, str> {
        Document::name()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        Document::schemas(schemas);
    }
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            document: Document::new(status.as_u16(), slug, title, detail),
            authenticate: false,
            retry_after: None,
        }
    }

    /// A 429: a limit refuses until `retry_after_secs` from now (at least
    /// one second, so that a client never retries at once).
    pub fn too_many(
        slug: &str,
        title: &str,
        detail: impl Into<String>,
        retry_after_secs: u64,
    ) -> Self {
        let mut problem = Self::new(StatusCode::TOO_MANY_REQUESTS, slug, title, detail);
        problem.retry_after = NonZeroU64::new(retry_after_secs.max(1));
        problem
    }

    /// The `Retry-After` this problem carries, in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after.map(NonZeroU64::get)
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut problem = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "A field is not valid",
            format!("{field}: {message}"),
        );
        problem.errors.push(FieldError {
            field: field.to_owned(),
            message,
        });
        problem
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        let mut problem = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            detail,
        );
        problem.authenticate = true;
        problem
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no such resource",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed to complete the request; the request id in the response headers finds it in the logs",
        )
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.document.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let authenticate = self.authenticate;
        let retry_after = self.retry_after;
        let mut response = (status, Json(self.document)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rempart\""),
            );
        }
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.get()));
        }
        response
    }
}

impl From<ServiceError> for Problem {
    fn from(err: ServiceError) -> Self {
        match &err {
            ServiceError::Unauthenticated => Self::unauthenticated(err.to_string()),
            ServiceError::Forbidden { .. } => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Permission denied",
                err.to_string(),
            ),
            ServiceError::BootstrapRefused(_) => Self::new(
                StatusCode::FORBIDDEN,
                "bootstrap-refused",
                "Bootstrap credential refused",
                err.to_string(),
            ),
            ServiceError::TenantNameTaken { .. } | ServiceError::PrincipalNameTaken { .. } => {
                Self::new(
                    StatusCode::CONFLICT,
                    "name-taken",
                    "Name already taken",
                    err.to_string(),
                )
            }
            ServiceError::Invalid { field, message } => Self::invalid_field(field, message.clone()),
            ServiceError::Store(StoreError::Unreachable { .. }) => {
                tracing::error!(error = %err, "database unreachable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "the database cannot be reached; try again later",
                )
            }
            ServiceError::NotFound { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                err.to_string(),
            ),
            ServiceError::TenantNotFound => Self::new(
                StatusCode::NOT_FOUND,
                "tenant-not-found",
                "No such tenant",
                err.to_string(),
            ),
            ServiceError::Keys(key) => Self::from_key_error(key),
            ServiceError::WebauthnNotConfigured => Self::new(
                StatusCode::CONFLICT,
                "webauthn-not-configured",
                "WebAuthn is not configured",
                err.to_string(),
            ),
            ServiceError::LoginFailed
            | ServiceError::LockedOut { .. }
            | ServiceError::PasswordRefused { .. }
            | ServiceError::SecondFactorRefused(_)
            | ServiceError::LoginIncomplete { .. }
            | ServiceError::StepUpRequired
            | ServiceError::RuleRefused { .. }
            | ServiceError::SourceNotAllowed { .. } => Self::from_identity_error(&err),
            ServiceError::Store(_)
            | ServiceError::RandomUnavailable
            | ServiceError::AuditLog(_)
            | ServiceError::ControlCatalogue(_) => {
                tracing::error!(error = %err, "request failed");
                Self::internal()
            }
        }
    }
}

impl Problem {
    /// The mapping of identity errors: login, policy, rules.
    fn from_identity_error(err: &ServiceError) -> Self {
        match err {
            ServiceError::LoginFailed => Self::new(
                StatusCode::UNAUTHORIZED,
                "login-failed",
                "Login failed",
                err.to_string(),
            ),
            ServiceError::LockedOut { retry_after_secs } => Self::too_many(
                "locked-out",
                "Too many failed attempts",
                err.to_string(),
                *retry_after_secs,
            ),
            ServiceError::PasswordRefused { rules } => {
                let mut problem = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "password-refused",
                    "Password refused by the policy",
                    err.to_string(),
                );
                problem.errors = rules
                    .iter()
                    .map(|rule| FieldError {
                        field: "password".to_owned(),
                        message: rule.to_string(),
                    })
                    .collect();
                problem
            }
            ServiceError::SecondFactorRefused(_) => Self::new(
                StatusCode::UNAUTHORIZED,
                "second-factor-refused",
                "Second factor refused",
                err.to_string(),
            ),
            ServiceError::LoginIncomplete { .. } => Self::new(
                StatusCode::FORBIDDEN,
                "login-incomplete",
                "Login not finished",
                err.to_string(),
            ),
            ServiceError::StepUpRequired => Self::new(
                StatusCode::FORBIDDEN,
                "step-up-required",
                "Recent login needed",
                err.to_string(),
            ),
            ServiceError::RuleRefused { .. } => Self::new(
                StatusCode::FORBIDDEN,
                "rule-refused",
                "Refused by an access rule",
                err.to_string(),
            ),
            ServiceError::SourceNotAllowed { .. } => Self::new(
                StatusCode::FORBIDDEN,
                "source-not-allowed",
                "Source address not allowed",
                err.to_string(),
            ),
            _ => Self::internal(),
        }
    }
}

impl Problem {
    /// The one mapping of keyring errors. Messages come from
    /// error types written to hold no key material.
    fn from_key_error(err: &rempart_core::keys::KeyError) -> Self {
        use rempart_core::keys::KeyErrorKind as K;
        let detail = err.to_string();
        match err.kind() {
            K::Sealed => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "keyring-sealed",
                "keyring sealed",
                detail,
            ),
            // One unseal attempt (an Argon2id run) takes about a second.
            K::Busy => Self::too_many("unseal-busy", "Unseal in progress", detail, 1),
            K::Refused => Self::new(
                StatusCode::BAD_REQUEST,
                "unseal-refused",
                "The keyring did not open",
                detail,
            ),
            K::Invalid => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-key-request",
                "The key request is not valid",
                detail,
            ),
            K::Conflict => Self::new(
                StatusCode::CONFLICT,
                "key-state-conflict",
                "The keyring's state does not allow this",
                detail,
            ),
            K::Gone => Self::new(
                StatusCode::GONE,
                "tenant-shredded",
                "The tenant's keys were shredded",
                detail,
            ),
            K::Undecryptable => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "undecryptable",
                "The ciphertext does not open",
                detail,
            ),
            K::Internal => {
                tracing::error!(error = %err, "keyring failure");
                Self::internal()
            }
        }
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "expected a body with Content-Type: application/json",
            ),
            JsonRejection::JsonSyntaxError(e) => Self::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "Malformed JSON",
                e.body_text(),
            ),
            JsonRejection::JsonDataError(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "The body does not match the expected shape",
                e.body_text(),
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body-too-large",
                    "Body too large",
                    "the request body exceeds the configured limit (server.body_limit_bytes)",
                )
            }
            other => Self::new(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "Bad request",
                other.body_text(),
            ),
        }
    }
}
