//! RFC 9457 problem details: the document every error of the API is
//! (`application/problem+json`). The server builds them from its errors
//! and answers them with their status and headers; a client reads them to
//! say what went wrong.

use serde::{Deserialize, Serialize};
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
        let back: Problem = serde_json::from_value(json).unwrap();
        assert_eq!(back, problem);
        assert_eq!(back.slug(), Some("not-found"));
    }
}
