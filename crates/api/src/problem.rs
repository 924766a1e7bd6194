//! RFC 9457 problem details: the document every error of the API is
//! (`application/problem+json`). The server builds them from its errors
//! and answers them with their status and headers; a client reads them to
//! say what went wrong.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Where problem types are documented: a problem's `type` is this followed
/// by its slug (`…/problems/not-found`).
pub const TYPE_BASE: &str = "https://rempart.dev/problems/";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; stable, documented in `docs/api-errors.md`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For validation problems: which field, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For `tenant-shredded`: when the tenant was crypto-shredded, in RFC
    /// 3339 (an extension member, RFC 9457 section 3.2).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub shredded_at: Option<OffsetDateTime>,
}

/// Which field of a request is not valid, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl Problem {
    /// A problem of the type `slug` (documented in `docs/api-errors.md`).
    pub fn new(status: u16, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("{TYPE_BASE}{slug}"),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            errors: Vec::new(),
            shredded_at: None,
        }
    }

    /// The problem type's slug (`not-found`), when it is one of Rempart's.
    pub fn slug(&self) -> Option<&str> {
        self.kind.strip_prefix(TYPE_BASE)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// A problem round-trips, `type` named as RFC 9457 has it and empty
    /// field errors left out.
    #[test]
    fn a_problem_round_trips() {
        let problem = Problem::new(404, "not-found", "Not found", "no such resource");
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["type"], "https://rempart.dev/problems/not-found");
        assert!(json.get("errors").is_none());
        assert!(json.get("shredded_at").is_none());
        let back: Problem = serde_json::from_value(json).unwrap();
        assert_eq!(back, problem);
        assert_eq!(back.slug(), Some("not-found"));
    }

    /// The time a tenant was shredded is an RFC 3339 member of its problem.
    #[test]
    fn a_shredded_tenant_problem_says_when() {
        let mut problem = Problem::new(410, "tenant-shredded", "Gone", "gone for good");
        problem.shredded_at = Some(time::macros::datetime!(2026-11-27 09:30:00.5 UTC));
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["shredded_at"], "2026-11-27T09:30:00.5Z");
        let back: Problem = serde_json::from_value(json).unwrap();
        assert_eq!(back, problem);
    }
}
