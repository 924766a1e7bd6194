//! Out of scope looks like not there (invariant 8), over HTTP, on both
//! engines: every operation of the OpenAPI document served at
//! `/api/v1/openapi.json` that takes an id (a path parameter, or a query
//! or body field naming an object) is called by tenant-A-scoped callers
//! with ids that exist elsewhere (in tenant B, or staff-wide) and with
//! random ids of the same shape, and the two answers must be the same
//! apart from the request id and the id itself where the answer repeats
//! it. The walk is generated from the document: a parameter or field the
//! rules below do not classify fails the test, so a new route is covered
//! the day it is added.
//!
//! Also here: sequence numbers and checkpoint sizes that no row can hold
//! (above 2^63 - 1) answer like absent ones, never 5xx.

use std::collections::BTreeSet;

use rempart_model::{PrincipalId, Role, Scope, TenantId};
use rempart_store::{TokenRecord, WebauthnCredentialRecord};
use rempart_testkit::fixtures::principal_with;
use rempart_testkit::http::{Http as _, operations, send};
use rempart_testkit::{Engine, PASSWORD, TestServer, both_engines};
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// The kinds of objects an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Tenant,
    Account,
    Grant,
    Token,
    Session,
    SecurityKey,
    AuditEvent,
    Collection,
    Record,
}

/// How a query parameter or body field is filled.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// It names an object of this kind, written with this template (`{}`:
    /// the id).
    Id(Kind, &'static str),
    /// It repeats another field (a confirmation).
    Mirror(&'static str),
    /// Not an id: an example value when the field is required.
    Value(fn() -> Value),
    /// Not an id, and never needed to reach the id decision.
    Omit,
}

/// The collection a path parameter belongs to (the segment before it)
/// decides what it names.
fn path_kind(path: &str, param: &str) -> Kind {
    let placeholder = format!("{{{param}}}");
    let segments: Vec<&str> = path.split('/').collect();
    let at = segments
        .iter()
        .position(|s| *s == placeholder)
        .unwrap_or_else(|| panic!("{path}: no {placeholder}"));
    let collection = at.checked_sub(1).map_or("", |i| segments[i]);
    match collection {
        "tenants" => Kind::Tenant,
        "users" => Kind::Account,
        "grants" => Kind::Grant,
        "tokens" => Kind::Token,
        "sessions" => Kind::Session,
        "webauthn" => Kind::SecurityKey,
        "events" => Kind::AuditEvent,
        "collections" => Kind::Collection,
        "records" => Kind::Record,
        other => panic!(
            "{path}: no rule for making ids of the path parameter {param} (collection {other:?}); \
             add one to path_kind in tests/server/http/scope.rs"
        ),
    }
}

/// Query parameters and body fields, by name. A vault data subject
/// (`subject`) is the application's own identifier of a person, found
/// through the tenant's keyed fingerprint: it names nothing across tenants
/// (the vault tests check that one not held answers like one never held).
/// The audit search's `actor`
/// is a filter over events the caller sees, each of which shows its actor
/// anyway (a staff administrator acting in tenant A is seen there), not
/// a lookup. Sequence numbers as cursors
/// (`after`) and checkpoint sizes (`checkpoint`, `from`, `to`) are
/// positions in the one, staff-wide log, not objects of a tenant: any
/// `audit.proof` holder may prove against any checkpoint.
fn field_rule(name: &str) -> Option<Rule> {
    Some(match name {
        "tenant" => Rule::Id(Kind::Tenant, "{}"),
        "user" | "holder" => Rule::Id(Kind::Account, "{}"),
        "scope" => Rule::Id(Kind::Tenant, "tenant:{}"),
        "confirm" => Rule::Mirror("tenant"),
        // Valid as a tenant, token, role or collection name, so that the
        // name's checks pass and the id decides.
        "name" => Rule::Value(|| json!("probe")),
        "kind" => Rule::Value(|| json!("tenant_user")),
        "role" => Rule::Value(|| json!("tenant-member")),
        "state" => Rule::Value(|| json!("suspended")),
        "password" => Rule::Value(|| json!(PASSWORD)),
        "fields" => Rule::Value(|| json!([{"name": "note", "type": "string", "class": "internal"}])),
        "steps" => Rule::Value(|| json!([{"op": "deprecate", "field": "note"}])),
        "values" => Rule::Value(|| json!({"note": "probe"})),
        "field" => Rule::Value(|| json!("note")),
        "value" => Rule::Value(|| json!("probe")),
        "subject" => Rule::Value(|| json!("probe-subject")),
        "temporary_password" | "break_glass" | "require_mfa" | "reset" => {
            Rule::Value(|| json!(false))
        }
        "email" | "display_name" | "expires_at" | "expires_in_days" | "permissions"
        | "allow_list" | "description" | "password_policy" | "since" | "until" | "actor"
        | "action" | "outcome" | "after" | "limit" | "checkpoint" | "from" | "to" | "code"
        | "current_password" | "new_password" | "return_token" | "credential" | "administrator"
        | "region" | "environment" | "passphrase" | "share" | "min_version" | "ceremony"
        | "expected_version" | "purpose"
        // Control ids name controls of the catalogue, not objects of a tenant.
        | "controls" => {
            Rule::Omit
        }
        _ => return None,
    })
}

/// Request headers, by name: an example value (none is an id).
fn header_rule(name: &str) -> Option<&'static str> {
    match name {
        // A record's version, as its ETag gives it.
        "If-Match" => Some("\"1\""),
        _ => None,
    }
}

/// One id slot of an operation.
#[derive(Debug, Clone)]
struct Slot {
    place: Place,
    name: String,
    kind: Kind,
    template: &'static str,
    /// The schema says it is a UUID (a login name would not parse).
    uuid_only: bool,
    required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Path,
    Query,
    Body,
}

/// An operation of the document, with its id slots and the body fields
/// it needs besides.
#[derive(Debug)]
struct Operation {
    method: reqwest::Method,
    path: String,
    slots: Vec<Slot>,
    /// Required body fields that are not ids, and mirrors.
    body: Map<String, Value>,
    mirrors: Vec<(String, &'static str)>,
    has_body: bool,
    /// Required request headers, with example values.
    headers: Vec<(String, &'static str)>,
}

fn schema_of<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn is_uuid(schema: &Value) -> bool {
    schema.get("format").and_then(Value::as_str) == Some("uuid")
}

/// Every operation of `doc` that takes an id.
fn operations_with_ids(doc: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    for (method, path, op) in operations(doc) {
        let mut operation = Operation {
            method,
            path: path.to_owned(),
            slots: Vec::new(),
            body: Map::new(),
            mirrors: Vec::new(),
            has_body: false,
            headers: Vec::new(),
        };
        // Required fields with no example: a failure only where ids
        // are probed.
        let mut missing = Vec::new();
        for param in op["parameters"].as_array().into_iter().flatten() {
            let name = param["name"].as_str().unwrap();
            let schema = schema_of(doc, &param["schema"]);
            let required = param["required"].as_bool().unwrap_or(false);
            match param["in"].as_str().unwrap() {
                "path" => operation.slots.push(Slot {
                    place: Place::Path,
                    name: name.to_owned(),
                    kind: path_kind(path, name),
                    template: "{}",
                    uuid_only: is_uuid(schema),
                    required: true,
                }),
                "query" => match field_rule(name) {
                    Some(Rule::Id(kind, template)) => operation.slots.push(Slot {
                        place: Place::Query,
                        name: name.to_owned(),
                        kind,
                        template,
                        uuid_only: is_uuid(schema),
                        required,
                    }),
                    Some(_) if required => missing.push(format!("query parameter {name}")),
                    Some(_) => {}
                    None => panic!(
                        "{path}: is the query parameter {name} an id? classify it in field_rule (tests/server/http/scope.rs)"
                    ),
                },
                "header" => match header_rule(name) {
                    Some(example) if required => operation.headers.push((name.to_owned(), example)),
                    Some(_) => {}
                    None => panic!(
                        "{path}: no example for the header {name}; add one to header_rule (tests/server/http/scope.rs)"
                    ),
                },
                _ => {}
            }
        }
        if let Some(body) = op["requestBody"]["content"]["application/json"]["schema"].as_object() {
            operation.has_body = true;
            let schema = schema_of(doc, &Value::Object(body.clone())).clone();
            let required: BTreeSet<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for (name, field) in schema["properties"].as_object().into_iter().flatten() {
                let required = required.contains(name.as_str());
                match field_rule(name) {
                    Some(Rule::Id(kind, template)) => operation.slots.push(Slot {
                        place: Place::Body,
                        name: name.clone(),
                        kind,
                        template,
                        uuid_only: is_uuid(schema_of(doc, field)),
                        required,
                    }),
                    Some(Rule::Mirror(of)) => operation.mirrors.push((name.clone(), of)),
                    Some(Rule::Value(example)) if required => {
                        operation.body.insert(name.clone(), example());
                    }
                    Some(Rule::Value(_) | Rule::Omit) if !required => {}
                    Some(_) => missing.push(format!("body field {name}")),
                    None => panic!(
                        "{path}: is the body field {name} an id? classify it in field_rule (tests/server/http/scope.rs)"
                    ),
                }
            }
        }
        if !operation.slots.is_empty() {
            assert!(
                missing.is_empty(),
                "{path}: no example for the required {missing:?} (field_rule in tests/server/http/scope.rs)"
            );
            found.push(operation);
        }
    }
    found
}

/// An id as sent: a UUID, a login name, a sequence number, or the name of
/// a vault collection.
#[derive(Debug, Clone)]
enum Id {
    Uuid(Uuid),
    Name(String),
    Seq(u64),
    Word(String),
}

impl Id {
    fn text(&self) -> String {
        match self {
            Self::Uuid(u) => u.to_string(),
            Self::Name(n) | Self::Word(n) => n.clone(),
            Self::Seq(s) => s.to_string(),
        }
    }

    /// A random id of the same shape, naming nothing.
    fn random_like(&self) -> Self {
        let fresh = Uuid::new_v4();
        match self {
            Self::Uuid(_) => Self::Uuid(fresh),
            Self::Name(_) => Self::Name(format!("nobody-{}@example.com", fresh.simple())),
            Self::Word(_) => Self::Word(format!("nobody_{}", fresh.simple())),
            // Well past the end of the log, below 2^63.
            Self::Seq(_) => Self::Seq(1_000_000_000 + u64::from(fresh.as_fields().0 % 1_000_000)),
        }
    }

    fn json(&self, template: &str) -> Value {
        match (self, template) {
            (Self::Seq(s), "{}") => json!(s),
            _ => json!(template.replace("{}", &self.text())),
        }
    }
}

/// The objects of the world the callers probe.
struct World {
    tenant_a: Uuid,
    tenant_b: Uuid,
    user_a: Uuid,
    user_b: Uuid,
    name_b: String,
    staff: Uuid,
    grant_a: Uuid,
    grant_b: Uuid,
    grant_staff: Uuid,
    token_a: Uuid,
    token_b: Uuid,
    token_staff: Uuid,
    session_a: Uuid,
    session_b: Uuid,
    key_b: Uuid,
    event_a: u64,
    event_b: u64,
    event_staff: u64,
    collection_a: String,
    collection_b: String,
    record_a: Uuid,
    record_b: Uuid,
}

impl World {
    /// The in-scope object of `kind`, to fill slots that are not probed.
    fn in_scope(&self, kind: Kind) -> Id {
        match kind {
            Kind::Tenant => Id::Uuid(self.tenant_a),
            Kind::Account => Id::Uuid(self.user_a),
            Kind::Grant => Id::Uuid(self.grant_a),
            Kind::Token => Id::Uuid(self.token_a),
            Kind::Session => Id::Uuid(self.session_a),
            Kind::SecurityKey => Id::Uuid(Uuid::new_v4()),
            Kind::AuditEvent => Id::Seq(self.event_a),
            Kind::Collection => Id::Word(self.collection_a.clone()),
            Kind::Record => Id::Uuid(self.record_a),
        }
    }

    /// Objects of `kind` outside tenant A's scope, each with what it is.
    fn elsewhere(&self, kind: Kind) -> Vec<(&'static str, Id)> {
        match kind {
            Kind::Tenant => vec![("tenant B", Id::Uuid(self.tenant_b))],
            Kind::Account => vec![
                ("a user of tenant B", Id::Uuid(self.user_b)),
                ("a user of tenant B, by name", Id::Name(self.name_b.clone())),
                ("a staff account", Id::Uuid(self.staff)),
            ],
            Kind::Grant => vec![
                ("a grant in tenant B", Id::Uuid(self.grant_b)),
                ("a staff-wide grant", Id::Uuid(self.grant_staff)),
            ],
            Kind::Token => vec![
                ("a token of a user of tenant B", Id::Uuid(self.token_b)),
                ("a staff token", Id::Uuid(self.token_staff)),
            ],
            Kind::Session => vec![("a session of a user of tenant B", Id::Uuid(self.session_b))],
            Kind::SecurityKey => {
                vec![("a security key of a user of tenant B", Id::Uuid(self.key_b))]
            }
            Kind::AuditEvent => vec![
                ("an event of tenant B", Id::Seq(self.event_b)),
                ("a staff-wide event", Id::Seq(self.event_staff)),
            ],
            Kind::Collection => vec![(
                "a vault collection of tenant B",
                Id::Word(self.collection_b.clone()),
            )],
            Kind::Record => vec![("a vault record of tenant B", Id::Uuid(self.record_b))],
        }
    }
}

async fn created(server: &TestServer, token: &str, path: &str, body: &Value) -> Value {
    let answer = server.post(token, path, body).await;
    assert!(
        matches!(answer.status, 200 | 201),
        "{path}: {} {}",
        answer.status,
        answer.text
    );
    answer.value()
}

fn uuid_of(value: &Value) -> Uuid {
    Uuid::parse_str(value.as_str().unwrap()).unwrap()
}

/// Logs `name` in (no second factor for tenant users here): the session
/// id and secret.
async fn log_in(server: &TestServer, name: &str) -> (Uuid, String) {
    let body = server.login(name, PASSWORD).await;
    assert_eq!(body["stage"], "full", "{body}");
    (
        uuid_of(&body["session_id"]),
        body["token"].as_str().unwrap().to_owned(),
    )
}

/// Tenants A and B, a user of each with a grant, a session and a token,
/// a security key of B's user, and the staff administrator's own.
#[allow(clippy::too_many_lines, reason = "one world, built in order")]
async fn build_world(server: &TestServer, admin: &str) -> World {
    let tenants = server.tenants(admin, &["Acme", "Globex"]).await;
    let (tenant_a, tenant_b) = (tenants[0], tenants[1]);
    let mut users = Vec::new();
    for (name, tenant) in [("ann@acme.test", tenant_a), ("bob@globex.test", tenant_b)] {
        let user = created(
            server,
            admin,
            "/api/v1/users",
            &json!({"name": name, "kind": "tenant_user", "tenant": tenant,
                    "password": PASSWORD, "temporary_password": false}),
        )
        .await;
        let grant = created(
            server,
            admin,
            "/api/v1/grants",
            &json!({"user": name, "role": "tenant-member", "scope": format!("tenant:{tenant}")}),
        )
        .await;
        let (session, secret) = log_in(server, name).await;
        let token = created(server, &secret, "/api/v1/tokens", &json!({"name": "own"})).await;
        users.push((
            uuid_of(&user["id"]),
            uuid_of(&grant["id"]),
            session,
            uuid_of(&token["id"]),
        ));
    }
    let (user_a, grant_a, session_a, token_a) = users[0];
    let (user_b, grant_b, session_b, token_b) = users[1];

    let whoami = server.get(admin, "/api/v1/auth/whoami").await.value();
    let staff = uuid_of(&whoami["id"]);
    let grants = server
        .get(admin, &format!("/api/v1/users/{staff}/grants"))
        .await;
    let grant_staff = uuid_of(&grants.value()["grants"][0]["id"]);
    let tokens = server.get(admin, "/api/v1/tokens").await.value();
    let token_staff = uuid_of(&tokens["tokens"][0]["id"]);

    // A security key of B's user, straight to the store: only its
    // existence matters here.
    let key_b = Uuid::new_v4();
    let mut tx = server.store.begin().await.unwrap();
    tx.insert_webauthn_credential(&WebauthnCredentialRecord {
        id: key_b,
        principal: PrincipalId(user_b),
        credential_id: key_b.as_bytes().to_vec(),
        name: "bob's key".to_owned(),
        passkey: "{}".to_owned(),
        counter: 0,
        created_at: server.core.clock().now(),
        last_used_at: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let events = server.audit_events().await;
    let created_in = |tenant: Uuid| {
        events
            .iter()
            .find(|e| e.action == "tenant.create" && e.tenant == Some(tenant))
            .unwrap()
            .seq
    };
    let event_staff = events.iter().find(|e| e.tenant.is_none()).unwrap().seq;
    let mut vault = Vec::new();
    for (tenant, name) in [(tenant_a, "a_people"), (tenant_b, "b_people")] {
        let collections = format!("/api/v1/tenants/{tenant}/vault/collections");
        let fields = json!([{"name": "note", "type": "string", "class": "internal"}]);
        created(
            server,
            admin,
            &collections,
            &json!({"name": name, "fields": fields}),
        )
        .await;
        let record = created(
            server,
            admin,
            &format!("{collections}/{name}/records"),
            &json!({"values": {"note": "kept"}}),
        )
        .await;
        vault.push((name.to_owned(), uuid_of(&record["id"])));
    }
    let (collection_b, record_b) = vault.pop().unwrap();
    let (collection_a, record_a) = vault.pop().unwrap();
    World {
        tenant_a,
        tenant_b,
        user_a,
        user_b,
        name_b: "bob@globex.test".to_owned(),
        staff,
        grant_a,
        grant_b,
        grant_staff,
        token_a,
        token_b,
        token_staff,
        session_a,
        session_b,
        key_b,
        event_a: created_in(tenant_a),
        event_b: created_in(tenant_b),
        event_staff,
        collection_a,
        collection_b,
        record_a,
        record_b,
    }
}

/// Tenant-A-scoped callers, by bearer token: an administrator of tenant
/// A, a plain member of it, and a staff administrator's token bound to
/// tenant A.
async fn callers(server: &TestServer, tenant_a: Uuid) -> Vec<(&'static str, String)> {
    let ctx = rempart_core::RequestContext::system();
    let scope = Scope::Tenant(TenantId(tenant_a));
    let mut out = Vec::new();
    for (label, name, role) in [
        ("tenant A's administrator", "a-admin", Role::SecurityAdmin),
        ("tenant A's member", "a-member", Role::TenantMember),
    ] {
        principal_with(
            &server.core,
            server.store.as_ref(),
            server.core.clock(),
            &ctx,
            name,
            &[(role, scope.clone())],
        )
        .await;
        out.push((label, format!("rmp_at_{name}-token-for-tests-only")));
    }
    let holder = principal_with(
        &server.core,
        server.store.as_ref(),
        server.core.clock(),
        &ctx,
        "bound-admin",
        &[(Role::SecurityAdmin, Scope::Global)],
    )
    .await;
    let secret = "rmp_at_bound-to-tenant-a-for-tests-only";
    let mut tx = server.store.begin().await.unwrap();
    tx.insert_token(&TokenRecord {
        tenant: Some(TenantId(tenant_a)),
        ..TokenRecord::unrestricted(
            Uuid::new_v4(),
            holder.principal,
            rempart_core::secret::fingerprint(&SecretString::from(secret)),
            "bound to tenant A",
            server.core.clock().now(),
        )
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    out.push((
        "a staff administrator's token bound to tenant A",
        secret.to_owned(),
    ));
    out
}

/// The request for `op` with `probe` in slot `probed` and the other slots
/// in scope (optional ones left out).
fn request_of(world: &World, op: &Operation, probed: usize, probe: &Id) -> (String, Option<Value>) {
    let mut path = op.path.clone();
    let mut query = Vec::new();
    let mut body = op.body.clone();
    for (i, slot) in op.slots.iter().enumerate() {
        let id = if i == probed {
            probe.clone()
        } else if slot.required {
            world.in_scope(slot.kind)
        } else {
            continue;
        };
        let value = id.json(slot.template);
        let text = match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match slot.place {
            Place::Path => path = path.replace(&format!("{{{}}}", slot.name), &text),
            Place::Query => query.push(format!("{}={text}", slot.name)),
            Place::Body => {
                body.insert(slot.name.clone(), value);
            }
        }
    }
    for (field, of) in &op.mirrors {
        if let Some(value) = body.get(*of).cloned() {
            body.insert(field.clone(), value);
        }
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    (path, op.has_body.then_some(Value::Object(body)))
}

/// `text` with every whole occurrence of `id` replaced by `<id>`.
fn without(text: &str, id: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(id) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + id.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        out.push_str(&rest[..at]);
        if word(before) || word(after) {
            out.push_str(id);
        } else {
            out.push_str("<id>");
        }
        rest = &rest[at + id.len()..];
    }
    out.push_str(rest);
    out
}

/// An answer as compared: status, the headers that are not per request,
/// and the body with the id it was asked about blanked.
async fn answer(
    server: &TestServer,
    token: &str,
    op: &Operation,
    path: &str,
    body: Option<&Value>,
    id: &Id,
) -> (u16, Vec<(String, String)>, String) {
    let mut request = server.request(op.method.clone(), token, path);
    for (name, value) in &op.headers {
        request = request.header(name.as_str(), *value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = send(request).await;
    let mut headers: Vec<(String, String)> = response
        .headers
        .iter()
        .filter(|(name, _)| !["date", "x-request-id", "content-length"].contains(&name.as_str()))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("?").to_owned()))
        .collect();
    headers.sort();
    (
        response.status,
        headers,
        without(&response.text, &id.text()),
    )
}

/// The rule, walked over the whole document for every tenant-A-scoped
/// caller.
async fn out_of_scope_answers_like_absent(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let admin = server.admin_token().await;
    let world = build_world(&server, &admin).await;
    let callers = callers(&server, world.tenant_a).await;
    let doc = server.openapi().await;
    let operations = operations_with_ids(&doc);
    let walked: BTreeSet<String> = operations
        .iter()
        .map(|op| format!("{} {}", op.method, op.path))
        .collect();
    for expected in [
        "PUT /api/v1/users/{user}/state",
        "POST /api/v1/grants",
        "POST /api/v1/tokens",
        "GET /api/v1/audit/events/{seq}/proof",
        "GET /api/v1/audit/events/{seq}/details",
        "PUT /api/v1/tenants/{id}/access",
        "PUT /api/v1/tenants/{tenant}/vault/collections/{collection}/records/{record}",
        "POST /api/v1/tenants/{tenant}/vault/collections/{collection}/search",
        "POST /api/v1/tenants/{tenant}/vault/subjects/erase",
    ] {
        assert!(
            walked.contains(expected),
            "{expected} not walked: {walked:?}"
        );
    }
    let mut compared = 0;
    for op in &operations {
        for (i, slot) in op.slots.iter().enumerate() {
            for (what, elsewhere) in world.elsewhere(slot.kind) {
                if slot.uuid_only && !matches!(elsewhere, Id::Uuid(_) | Id::Seq(_)) {
                    continue;
                }
                let random = elsewhere.random_like();
                for (caller, token) in &callers {
                    let (path_e, body_e) = request_of(&world, op, i, &elsewhere);
                    let (path_r, body_r) = request_of(&world, op, i, &random);
                    let there =
                        answer(&server, token, op, &path_e, body_e.as_ref(), &elsewhere).await;
                    let absent =
                        answer(&server, token, op, &path_r, body_r.as_ref(), &random).await;
                    let context = format!(
                        "{caller}: {} {} with {} = {what} ({path_e}) / a random id ({path_r})",
                        op.method, op.path, slot.name
                    );
                    assert!(
                        matches!(absent.0, 200 | 403 | 404),
                        "{context}: a random id should reach the decision on the id, got {absent:?}"
                    );
                    assert_eq!(there, absent, "{context}");
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 50, "only {compared} comparisons");
    server.stop().await;
}

/// Sequence numbers and checkpoint sizes no row can hold: as absent (404,
/// or an empty page after them), never 5xx; beyond u64, a clear 4xx.
async fn sequence_numbers_beyond_the_database_range(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let admin = server.admin_token().await;
    for seq in [
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
    ] {
        for path in [
            format!("/api/v1/audit/events/{seq}/details"),
            format!("/api/v1/audit/events/{seq}/proof"),
            format!("/api/v1/audit/events/1/proof?checkpoint={seq}"),
            format!("/api/v1/audit/consistency?from=1&to={seq}"),
        ] {
            let answer = server.get(&admin, &path).await;
            let (status, body) = (answer.status, answer.value());
            assert_eq!(status, 404, "{path}: {body}");
            assert!(
                body["type"].as_str().unwrap().ends_with("/not-found"),
                "{path}: {body}"
            );
        }
        let path = format!("/api/v1/audit/events?after={seq}");
        let answer = server.get(&admin, &path).await;
        let (status, body) = (answer.status, answer.value());
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["events"], json!([]), "{path}");
    }
    for path in [
        "/api/v1/audit/events/18446744073709551616/details",
        "/api/v1/audit/events/18446744073709551616/proof",
        "/api/v1/audit/events?after=18446744073709551616",
        "/api/v1/audit/events?after=-1",
    ] {
        let answer = server.get(&admin, path).await;
        let (status, body) = (answer.status, answer.value());
        assert!(matches!(status, 400 | 422), "{path}: {status} {body}");
        assert!(body["detail"].as_str().is_some(), "{path}: {body}");
    }
    server.stop().await;
}

both_engines!(
    out_of_scope_answers_like_absent,
    sequence_numbers_beyond_the_database_range,
);
