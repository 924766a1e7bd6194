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
use rempart_core::kernel::error::{ErrorKind, ProblemType};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// An error answer: the RFC 9457 problem document (`rempart_api`'s, which
/// it dereferences to) and what its HTTP answer adds to it, the
/// `WWW-Authenticate` and `Retry-After` headers. In the OpenAPI document
/// it is the problem document's schema.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Boxed: a `Problem` is the error of every handler's `Result`, kept
    /// small however many members the document grows.
    document: Box<Document>,
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
            document: Box::new(Document::new(status.as_u16(), slug, title, detail)),
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
        let mut response = (status, Json(*self.document)).into_response();
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
    /// The one mapping from errors to answers: each error names its
    /// problem type (slug, title, kind) in its own domain; the kind alone
    /// decides the status here, so a new domain adds nothing to this file.
    fn from(err: ServiceError) -> Self {
        let ProblemType { kind, slug, title } = err.problem_type();
        let detail = match (&err, kind) {
            (_, ErrorKind::Internal) => {
                tracing::error!(error = %err, "request failed");
                return Self::internal();
            }
            (ServiceError::Store(_), _) => {
                tracing::error!(error = %err, "database unreachable");
                "the database cannot be reached; try again later".to_owned()
            }
            _ => err.to_string(),
        };
        let mut problem = Self::new(status_of(kind), slug, title, detail);
        match kind {
            ErrorKind::Unauthenticated => problem.authenticate = true,
            ErrorKind::TooMany { retry_after_secs } => {
                problem.retry_after = NonZeroU64::new(retry_after_secs.max(1));
            }
            _ => {}
        }
        problem.shredded_at = err.shredded_at();
        problem.errors = err
            .field_reasons()
            .into_iter()
            .map(|reason| FieldError {
                field: reason.field,
                message: reason.message,
            })
            .collect();
        problem
    }
}

/// The HTTP status of each kind of error.
fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Unauthenticated | ErrorKind::Rejected => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use rempart_model::TenantId;
    use time::macros::datetime;

    use super::*;

    /// A crypto-shredded tenant is 410 Gone, and its problem document says
    /// when, as the extension member `shredded_at` in RFC 3339.
    #[test]
    fn a_shredded_tenant_is_gone_and_says_when() {
        let at = datetime!(2026-11-27 09:01:00.25 UTC);
        let problem = Problem::from(ServiceError::TenantShredded {
            tenant: TenantId(uuid::Uuid::nil()),
            shredded_at: at,
        });
        assert_eq!(problem.status(), StatusCode::GONE);
        assert_eq!(problem.slug(), Some("tenant-shredded"));
        assert!(
            problem.detail.contains("2026-11-27T09:01:00.25Z"),
            "{problem:?}"
        );
        let json = serde_json::to_value(&problem.document).unwrap();
        assert_eq!(json["shredded_at"], "2026-11-27T09:01:00.25Z");
        assert_eq!(json["status"], 410);
        // Any other problem carries no such member.
        let other = serde_json::to_value(&Problem::not_found().document).unwrap();
        assert!(other.get("shredded_at").is_none());
    }
}
