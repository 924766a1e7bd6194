//! The answers every operation can give because of what it takes, written
//! into the OpenAPI document so that it lists every status the server can
//! answer (the API contract is exact).
//!
//! The extractors refuse a request before its handler runs, the same way
//! for every route: a body that is not JSON, not sent as JSON, too large or
//! of the wrong shape (`ApiJson`); a path parameter that does not parse
//! (`ApiPath`) or names nothing; a query that does not parse (`ApiQuery`);
//! a missing or refused credential (`Authenticated`, `Partial`,
//! `SessionSecret`). Rather than repeat these answers in each route's
//! `responses(...)`, [`document_extractor_answers`] adds them to every
//! operation according to what it declares it takes: a request body, path
//! or query parameters, a security requirement. A status a route already
//! documents keeps its description, extended with the extractor's reason.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// One answer an extractor can give: its status, the problem type (the
/// last segment of its `type` URI, see docs/api-errors.md) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractorAnswer {
    pub status: u16,
    pub problem: &'static str,
    pub reason: &'static str,
}

const fn answer(status: u16, problem: &'static str, reason: &'static str) -> ExtractorAnswer {
    ExtractorAnswer {
        status,
        problem,
        reason,
    }
}

/// What a JSON body can be refused for (`ApiJson`).
pub const BODY: &[ExtractorAnswer] = &[
    answer(400, "malformed-json", "the body is not JSON"),
    answer(
        413,
        "body-too-large",
        "the body exceeds the configured limit (server.body_limit_bytes)",
    ),
    answer(
        415,
        "unsupported-media-type",
        "the body is not sent as Content-Type: application/json",
    ),
    answer(
        422,
        "invalid-body",
        "the body does not match its schema (a missing, unknown or mistyped field)",
    ),
];

/// What a path parameter can be refused for (`ApiPath`, and the lookup of
/// what it names).
pub const PATH: &[ExtractorAnswer] = &[
    answer(400, "bad-request", "a path parameter does not parse"),
    answer(
        404,
        "not-found",
        "nothing of that id (or name) exists for the caller",
    ),
];

/// What query parameters can be refused for (`ApiQuery`).
pub const QUERY: &[ExtractorAnswer] = &[answer(
    422,
    "invalid-field",
    "a query parameter does not parse, or is not one this operation takes",
)];

/// What a credential can be refused for (`Authenticated`, `Partial`,
/// `SessionSecret`).
pub const CREDENTIAL: &[ExtractorAnswer] = &[
    answer(
        401,
        "unauthenticated",
        "no credential, or an unknown, expired or revoked one",
    ),
    answer(
        403,
        "forbidden",
        "the credential may not do this: a permission it lacks (forbidden), a source address outside its networks (source-not-allowed), a login not finished (login-incomplete), or a request authenticated by the session cookie from another origin (cross-origin)",
    ),
];

/// The answers the extractors can give for an operation, from what it
/// declares it takes.
pub fn extractor_answers(operation: &Operation) -> Vec<ExtractorAnswer> {
    let takes = |place: ParameterIn| {
        operation.parameters.iter().flatten().any(|p| match p {
            RefOr::T(p) => p.parameter_in == place,
            RefOr::Ref(_) => false,
        })
    };
    let mut answers = Vec::new();
    if operation.request_body.is_some() {
        answers.extend_from_slice(BODY);
    }
    if takes(ParameterIn::Path) {
        answers.extend_from_slice(PATH);
    }
    if takes(ParameterIn::Query) {
        answers.extend_from_slice(QUERY);
    }
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        answers.extend_from_slice(CREDENTIAL);
    }
    answers
}

/// Every operation of the document, mutably.
fn operations_mut(doc: &mut OpenApi) -> impl Iterator<Item = &mut Operation> {
    doc.paths.paths.values_mut().flat_map(|item| {
        [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
            item.options.as_mut(),
            item.head.as_mut(),
            item.patch.as_mut(),
            item.trace.as_mut(),
        ]
        .into_iter()
        .flatten()
    })
}

/// Adds to every operation the answers its extractors can give: a new
/// status as a problem document, a status already documented with the
/// extractor's reason appended (unless its description names the problem
/// type already).
pub fn document_extractor_answers(doc: &mut OpenApi) {
    for operation in operations_mut(doc) {
        for answer in extractor_answers(operation) {
            let reason = format!("{} ({})", answer.reason, answer.problem);
            match operation
                .responses
                .responses
                .get_mut(&answer.status.to_string())
            {
                Some(RefOr::T(response)) => {
                    if !response.description.contains(answer.problem) {
                        let described = response.description.trim_end_matches('.');
                        response.description = format!("{described}; or {reason}");
                    }
                }
                Some(RefOr::Ref(_)) => {}
                None => {
                    let mut description = reason;
                    if let Some(first) = description.get(..1) {
                        description.replace_range(..1, &first.to_uppercase());
                    }
                    let response = ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/problem+json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("Problem")))
                                .build(),
                        )
                        .build();
                    operation
                        .responses
                        .responses
                        .insert(answer.status.to_string(), RefOr::T(response));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

    /// Every string value under `key`, anywhere in the document.
    fn values_of<'a>(key: &str, value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, value) in map {
                    match (k == key, value.as_str()) {
                        (true, Some(text)) => out.push(text),
                        _ => values_of(key, value, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| values_of(key, v, out)),
            _ => {}
        }
    }

    /// Every operation documents what its extractors can answer: a body
    /// 400, 413, 415 and 422; a path parameter 400 and 404; a query 422; a
    /// credential 401 and 403. Each such answer is a problem document.
    #[test]
    fn every_operation_documents_its_extractors_answers() {
        let doc = crate::openapi();
        let json = serde_json::to_value(&doc).unwrap();
        let mut checked = 0;
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                let params = operation["parameters"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let takes = |place: &str| params.iter().any(|p| p["in"] == place);
                let mut expected: Vec<u16> = Vec::new();
                if operation.get("requestBody").is_some() {
                    expected.extend([400, 413, 415, 422]);
                }
                if takes("path") {
                    expected.extend([400, 404]);
                }
                if takes("query") {
                    expected.push(422);
                }
                if operation["security"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty())
                {
                    expected.extend([401, 403]);
                }
                for status in expected {
                    let response = responses
                        .get(&status.to_string())
                        .unwrap_or_else(|| panic!("{method} {path} does not document {status}"));
                    assert!(
                        response["content"]["application/problem+json"]["schema"]["$ref"]
                            .as_str()
                            .is_some_and(|r| r.ends_with("/Problem")),
                        "{method} {path}: {status} is not documented as a problem document"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "only {checked} answers checked");
    }

    /// Every reference in the document names a schema it holds.
    #[test]
    fn every_reference_resolves() {
        let json = serde_json::to_value(crate::openapi()).unwrap();
        let mut found = Vec::new();
        values_of("$ref", &json, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let name = target.strip_prefix("#/components/schemas/").unwrap();
            assert!(
                json["components"]["schemas"].get(name).is_some(),
                "{target} does not resolve"
            );
        }
    }

    /// Every pattern in the document is a regular expression that
    /// compiles, and is anchored at both ends when it constrains a whole
    /// value.
    #[test]
    fn every_pattern_compiles() {
        let json = serde_json::to_value(crate::openapi()).unwrap();
        let mut found = Vec::new();
        values_of("pattern", &json, &mut found);
        assert!(found.len() > 5, "{found:?}");
        for pattern in found {
            assert!(regex::Regex::new(pattern).is_ok(), "{pattern}");
        }
    }

    /// A status a route documents itself keeps its description, with the
    /// extractor's reason appended once.
    #[test]
    fn a_documented_status_keeps_its_description() {
        let json = serde_json::to_value(crate::openapi()).unwrap();
        let unseal_400 =
            json["paths"]["/api/v1/sys/unseal"]["post"]["responses"]["400"]["description"]
                .as_str()
                .unwrap();
        assert!(
            unseal_400.starts_with("Wrong passphrase or share"),
            "{unseal_400}"
        );
        assert_eq!(
            unseal_400.matches("malformed-json").count(),
            1,
            "{unseal_400}"
        );
        let remove_400 =
            json["paths"]["/api/v1/mfa/webauthn/{id}"]["delete"]["responses"]["400"]["description"]
                .as_str()
                .unwrap();
        assert_eq!(
            remove_400, "The id is not a UUID (bad-request)",
            "a description naming the problem type is left alone"
        );
    }
}
