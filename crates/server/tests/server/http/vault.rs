//! The customer-data vault over HTTP, on both engines: a collection with
//! classified fields, a record about a data subject written by the
//! application, read in clear (sensitive data only with a purpose) and
//! masked by support, found by a blind-index search, updated only at the
//! version read, refused whole when a field is bad, invisible to another
//! tenant, exported and erased by the privacy officer; every call audited,
//! and no stored personal or confidential value ever in the database as
//! written.

use rempart_core::RequestContext;
use rempart_model::{Permission, PermissionSet, Role, Scope, TenantId};
use rempart_store::TokenRecord;
use rempart_testkit::fixtures::principal_with;
use rempart_testkit::http::{Answer, Http as _, send, tenant};
use rempart_testkit::{Engine, TestServer, both_engines};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

/// The values written, as they would show in a dump if stored in clear.
const EMAIL: &str = "jane.roe.7341@example.org";
const PHONE: &str = "+33612345678";
const SSN: &str = "178-05-1120-93";
const BALANCE: &str = "98765.4321";
const SUBJECT: &str = "cust-1";

/// The token `principal_with` gives `name`.
fn token(name: &str) -> String {
    format!("rmp_at_{name}-token-for-tests-only")
}

/// A principal holding `role` in `tenant`; its token.
async fn holder(server: &TestServer, name: &str, role: Role, tenant: Uuid) -> String {
    principal_with(
        &server.core,
        server.store.as_ref(),
        server.core.clock(),
        &RequestContext::system(),
        name,
        &[(role, Scope::Tenant(TenantId(tenant)))],
    )
    .await;
    token(name)
}

/// Whether `dump` holds `value`, in any case.
fn holds(dump: &[u8], value: &str) -> bool {
    dump.windows(value.len())
        .any(|w| w.eq_ignore_ascii_case(value.as_bytes()))
}

/// Asserts that the database, as a dump or its files show it, holds none
/// of the personal or confidential values written, and (so that the
/// search can be trusted) holds `clear`, values stored in clear.
fn nothing_in_clear(server: &TestServer, when: &str, clear: &[&str]) {
    let dump = server.database.dump();
    for value in clear {
        assert!(holds(&dump, value), "{when}: {value:?} is not in the dump");
    }
    for value in [EMAIL, PHONE, SSN, BALANCE, SUBJECT, "Jane Roe"] {
        assert!(
            !holds(&dump, value),
            "{when}: {value:?} is in the database in clear"
        );
    }
}

/// `method path` as `token` with `If-Match: if_match` and `body`.
async fn conditional(
    server: &TestServer,
    method: Method,
    token: &str,
    path: &str,
    if_match: &str,
    body: Option<&Value>,
) -> Answer {
    let mut request = server
        .request(method, token, path)
        .header("if-match", if_match);
    if let Some(body) = body {
        request = request.json(body);
    }
    send(request).await
}

/// The field names a problem's `errors` lists.
fn fields_named(problem: &Value) -> Vec<String> {
    let mut names: Vec<String> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn customers() -> Value {
    json!({"name": "customers", "fields": [
        {"name": "email", "type": "email", "class": "pii", "required": true, "searchable": 1_000_000},
        {"name": "phone", "type": "phone", "class": "pii"},
        {"name": "ssn", "type": "string", "class": "sensitive_pii"},
        {"name": "plan", "type": "string", "class": "internal"},
        {"name": "balance", "type": "decimal", "class": "confidential"},
        {"name": "full_name", "type": "string", "class": "pii"},
    ]})
}

#[allow(clippy::too_many_lines, reason = "one scenario, told in order")]
async fn the_vault_path(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let admin = server.admin_token().await;
    let created = |name: &str| {
        let server = &server;
        let admin = admin.clone();
        let body = tenant(name, "eu");
        async move {
            let t = server
                .post(&admin, "/api/v1/tenants", &body)
                .await
                .expect(201);
            Uuid::parse_str(t["id"].as_str().unwrap()).unwrap()
        }
    };
    let acme = created("Acme").await;
    let globex = created("Globex").await;
    let owner = holder(&server, "acme-admin", Role::TenantAdmin, acme).await;
    let app = holder(&server, "acme-app", Role::Application, acme).await;
    let support = holder(&server, "acme-support", Role::Support, acme).await;
    let officer = holder(&server, "acme-dpo", Role::PrivacyOfficer, acme).await;
    let intruder = holder(&server, "globex-app", Role::Application, globex).await;
    let vault = format!("/api/v1/tenants/{acme}/vault");
    let records = format!("{vault}/collections/customers/records");

    // The collection: every field typed and classified. A field without a
    // class, or too few distinct values to hide behind a blind index, is
    // refused and nothing is declared.
    let collection = server
        .post(&owner, &format!("{vault}/collections"), &customers())
        .await
        .expect(201);
    assert_eq!(collection["name"], "customers");
    assert_eq!(collection["version"], 1);
    assert_eq!(collection["fields"][0]["class"], "pii");
    assert_eq!(collection["fields"][0]["searchable"], 1_000_000);
    assert_eq!(collection["fields"][2]["class"], "sensitive_pii");
    let unclassified = json!({"name": "leads", "fields": [{"name": "email", "type": "email"}]});
    server
        .post(&owner, &format!("{vault}/collections"), &unclassified)
        .await
        .problem(422, "invalid-body");
    let tiny = json!({"name": "leads", "fields": [
        {"name": "flag", "type": "string", "class": "internal", "searchable": 10}]});
    let refused = server
        .post(&owner, &format!("{vault}/collections"), &tiny)
        .await
        .problem(422, "invalid-schema");
    assert_eq!(fields_named(&refused), ["flag"]);
    server
        .post(&owner, &format!("{vault}/collections"), &customers())
        .await
        .problem(409, "collection-exists");
    let listed = server
        .get(&support, &format!("{vault}/collections"))
        .await
        .expect(200);
    assert_eq!(listed["collections"].as_array().unwrap().len(), 1);
    // The application writes records, never schemas.
    let leads = json!({"name": "leads", "fields": [
        {"name": "note", "type": "string", "class": "internal"}]});
    server
        .post(&app, &format!("{vault}/collections"), &leads)
        .await
        .problem(403, "forbidden");

    // The application stores a record about a data subject.
    let values = json!({"email": EMAIL, "phone": "+33 6 12 34 56 78", "ssn": SSN,
                        "plan": "gold-tier-x91", "balance": BALANCE, "full_name": "Jane Roe"});
    let answer = server
        .post(
            &app,
            &records,
            &json!({"subject": SUBJECT, "values": values}),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let etag = answer.header("etag").to_owned();
    let location = answer.header("location").to_owned();
    let reference = answer.expect(201);
    let id = reference["id"].as_str().unwrap().to_owned();
    let record = format!("{records}/{id}");
    assert_eq!(reference["version"], 1);
    assert_eq!(etag, "\"1\"");
    assert_eq!(location, record);
    nothing_in_clear(&server, "after the write", &["gold-tier-x91"]);

    // Sensitive data in clear needs a stated purpose; without one the read
    // is refused (and recorded), unless the sensitive fields are left out.
    server
        .get(&app, &record)
        .await
        .refusal(403, "purpose-required", "purpose");
    let bad = server
        .get(&app, &format!("{record}?purpose=because"))
        .await
        .problem(422, "invalid-field");
    assert_eq!(fields_named(&bad), ["purpose"]);
    let answer = server
        .get(&app, &format!("{record}?purpose=fraud_prevention"))
        .await;
    assert_eq!(answer.header("etag"), "\"1\"");
    let read = answer.expect(200);
    assert_eq!(read["values"]["email"], EMAIL);
    assert_eq!(read["values"]["phone"], PHONE);
    assert_eq!(read["values"]["ssn"], SSN);
    assert_eq!(read["values"]["plan"], "gold-tier-x91");
    assert_eq!(read["values"]["balance"], BALANCE);
    assert_eq!(read["masked"], json!([]));
    assert_eq!(read["has_subject"], true);
    assert_eq!(read["version"], 1);
    let some = server
        .get(&app, &format!("{record}?fields=email,plan"))
        .await
        .expect(200);
    assert_eq!(
        some["values"],
        json!({"email": EMAIL, "plan": "gold-tier-x91"})
    );

    // Support sees the shape of personal data, never the data.
    let masked = server.get(&support, &record).await.expect(200);
    assert_eq!(masked["values"]["email"], "j•••@example.org");
    assert_eq!(masked["values"]["phone"], "•••5678");
    assert_eq!(masked["values"]["ssn"], "•••");
    assert_eq!(masked["values"]["balance"], "•••");
    assert_eq!(masked["values"]["plan"], "gold-tier-x91");
    let mut shown: Vec<&str> = masked["masked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    shown.sort_unstable();
    assert_eq!(shown, ["balance", "email", "full_name", "phone", "ssn"]);

    // Search by e-mail, in another case, through the blind index; the
    // value travels in the body.
    let search = format!("{vault}/collections/customers/search");
    let lookup = json!({"field": "email", "value": EMAIL.to_uppercase()});
    let found = server.post(&support, &search, &lookup).await.expect(200);
    assert_eq!(found["records"].as_array().unwrap().len(), 1);
    assert_eq!(found["records"][0]["id"], id.as_str());
    assert_eq!(found["records"][0]["values"]["email"], "j•••@example.org");
    server
        .post(&app, &search, &lookup)
        .await
        .problem(403, "purpose-required");
    let lookup_clear = json!({"field": "email", "value": EMAIL.to_uppercase(),
                              "purpose": "account_management"});
    let found = server.post(&app, &search, &lookup_clear).await.expect(200);
    assert_eq!(found["records"][0]["values"]["ssn"], SSN);
    let other = json!({"field": "email", "value": "someone.else@example.org"});
    let none = server.post(&support, &search, &other).await.expect(200);
    assert_eq!(none["records"], json!([]));
    server
        .post(
            &support,
            &search,
            &json!({"field": "phone", "value": PHONE}),
        )
        .await
        .problem(422, "not-searchable");

    // Updates name the version read: none is 428, a stale one 412.
    let update = json!({"values": {"email": EMAIL, "plan": "platinum-tier-x92", "ssn": SSN,
                                   "balance": BALANCE, "phone": PHONE}});
    server
        .call(Method::PUT, &app, &record, Some(&update))
        .await
        .problem(428, "precondition-required");
    let answer = conditional(&server, Method::PUT, &app, &record, "\"1\"", Some(&update)).await;
    assert_eq!(answer.header("etag"), "\"2\"");
    assert_eq!(answer.expect(200)["version"], 2);
    conditional(&server, Method::PUT, &app, &record, "\"1\"", Some(&update))
        .await
        .problem(412, "stale-version");
    conditional(&server, Method::PUT, &app, &record, "soon", Some(&update))
        .await
        .problem(422, "invalid-field");
    nothing_in_clear(&server, "after the update", &["platinum-tier-x92"]);

    // A bad record names every bad field at once, and nothing is written.
    let bad = json!({"values": {"email": "not-an-address", "phone": "12", "balance": "lots",
                                "nope": 1}});
    let refused = server
        .post(&app, &records, &bad)
        .await
        .problem(422, "invalid-record");
    assert_eq!(
        fields_named(&refused),
        ["balance", "email", "nope", "phone"]
    );
    let refused = conditional(&server, Method::PUT, &app, &record, "\"2\"", Some(&bad))
        .await
        .problem(422, "invalid-record");
    assert_eq!(
        fields_named(&refused),
        ["balance", "email", "nope", "phone"]
    );
    let page = server
        .get(&app, &format!("{records}?fields=plan"))
        .await
        .expect(200);
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    assert_eq!(page["records"][0]["version"], 2);
    assert_eq!(
        page["records"][0]["values"],
        json!({"plan": "platinum-tier-x92"})
    );

    // A record about no one: deleted only at its version.
    let loose = server
        .post(
            &app,
            &records,
            &json!({"values": {"email": "desk@example.org", "plan": "free"}}),
        )
        .await
        .expect(201);
    let loose = format!("{records}/{}", loose["id"].as_str().unwrap());
    conditional(&server, Method::DELETE, &app, &loose, "\"7\"", None)
        .await
        .problem(412, "stale-version");
    let deleted = conditional(&server, Method::DELETE, &app, &loose, "\"1\"", None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    server
        .get(&app, &format!("{loose}?fields=plan"))
        .await
        .problem(404, "unknown-record");

    // Another tenant's application sees nothing of Acme's vault, and
    // Acme's record is not in its own collection of the same name.
    server
        .get(&intruder, &record)
        .await
        .problem(404, "tenant-not-found");
    server
        .get(&intruder, &format!("{vault}/collections/customers"))
        .await
        .problem(404, "tenant-not-found");
    server
        .post(&intruder, &search, &lookup)
        .await
        .problem(404, "tenant-not-found");
    let theirs = format!("/api/v1/tenants/{globex}/vault/collections");
    server
        .get(&intruder, &format!("{theirs}/customers/records/{id}"))
        .await
        .problem(404, "unknown-collection");
    server.post(&admin, &theirs, &customers()).await.expect(201);
    server
        .get(
            &intruder,
            &format!("{theirs}/customers/records/{id}?purpose=fraud_prevention"),
        )
        .await
        .problem(404, "unknown-record");

    // The data subject's requests: export, then erasure.
    let subject = json!({"subject": SUBJECT});
    server
        .post(&support, &format!("{vault}/subjects/export"), &subject)
        .await
        .problem(403, "forbidden");
    let export = server
        .post(&officer, &format!("{vault}/subjects/export"), &subject)
        .await
        .expect(200);
    assert_eq!(export["records"].as_array().unwrap().len(), 1);
    assert_eq!(export["records"][0]["values"]["email"], EMAIL);
    assert_eq!(export["records"][0]["values"]["ssn"], SSN);
    server
        .post(&app, &format!("{vault}/subjects/erase"), &subject)
        .await
        .problem(403, "forbidden");
    let disposal = server
        .post(&officer, &format!("{vault}/subjects/erase"), &subject)
        .await
        .expect(200);
    assert_eq!(disposal["kind"], "subject");
    assert_eq!(disposal["records"], 1);
    assert_eq!(disposal["keys_destroyed"], 1);
    assert_eq!(disposal["tenant"], acme.to_string());
    assert!(!disposal["what"].as_str().unwrap().contains(SUBJECT));

    // After erasure: no API yields the data.
    server
        .get(&app, &format!("{record}?purpose=fraud_prevention"))
        .await
        .problem(404, "unknown-record");
    let gone = server.post(&support, &search, &lookup).await.expect(200);
    assert_eq!(gone["records"], json!([]));
    let export = server
        .post(&officer, &format!("{vault}/subjects/export"), &subject)
        .await
        .expect(200);
    assert_eq!(export["records"], json!([]));
    let register = server
        .get(&officer, &format!("{vault}/disposals"))
        .await
        .expect(200);
    assert_eq!(register["disposals"].as_array().unwrap().len(), 1);
    for key in [
        "id",
        "kind",
        "what",
        "records",
        "keys_destroyed",
        "disposed_by",
    ] {
        assert_eq!(register["disposals"][0][key], disposal[key], "{key}");
    }
    nothing_in_clear(&server, "after the erasure", &["vault_disposals"]);

    // Erasing again answers like erasing someone never held.
    let again = server
        .post(&officer, &format!("{vault}/subjects/erase"), &subject)
        .await
        .expect(200);
    let never = server
        .post(
            &officer,
            &format!("{vault}/subjects/erase"),
            &json!({"subject": "never-held"}),
        )
        .await
        .expect(200);
    for key in ["kind", "what", "records", "keys_destroyed", "tenant"] {
        assert_eq!(again[key], never[key], "{key}");
    }
    assert_eq!(again["records"], 0);
    server
        .post(
            &officer,
            &format!("{vault}/subjects/erase"),
            &json!({"subject": ""}),
        )
        .await
        .problem(422, "invalid-subject");

    // Every call left its event, in order, refusals as denied.
    let expected = [
        ("vault.collection.create", "success"),
        ("vault.collection.read", "success"),
        ("vault.collection.create", "denied"),
        ("vault.record.create", "success"),
        ("vault.record.read", "denied"),
        ("vault.record.read", "success"),
        ("vault.record.read", "success"),
        ("vault.record.read", "success"),
        ("vault.search", "success"),
        ("vault.search", "denied"),
        ("vault.search", "success"),
        ("vault.search", "success"),
        ("vault.search", "denied"),
        ("vault.record.update", "success"),
        ("vault.record.update", "denied"),
        ("vault.record.create", "denied"),
        ("vault.record.update", "denied"),
        ("vault.record.list", "success"),
        ("vault.record.create", "success"),
        ("vault.record.delete", "denied"),
        ("vault.record.delete", "success"),
        ("vault.record.read", "denied"),
        ("vault.record.read", "denied"),
        ("vault.collection.read", "denied"),
        ("vault.search", "denied"),
        ("vault.record.read", "denied"),
        ("vault.collection.create", "success"),
        ("vault.record.read", "denied"),
        ("vault.subject.export", "denied"),
        ("vault.subject.export", "success"),
        ("vault.subject.erase", "denied"),
        ("vault.subject.erase", "success"),
        ("vault.record.read", "denied"),
        ("vault.search", "success"),
        ("vault.subject.export", "success"),
        ("vault.disposal.list", "success"),
        ("vault.subject.erase", "success"),
        ("vault.subject.erase", "success"),
    ];
    let events = server.audit_events().await;
    let vault_events: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.action.starts_with("vault."))
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    let mut rest = vault_events.iter();
    for want in &expected {
        assert!(
            rest.any(|got| got == want),
            "no {want:?} event in order: {vault_events:?}"
        );
    }
    let erased = events
        .iter()
        .find(|e| e.action == "vault.subject.erase" && e.outcome == "success")
        .unwrap();
    assert_eq!(erased.tenant, Some(acme));
    assert!(
        !erased
            .target
            .as_deref()
            .unwrap_or_default()
            .contains(SUBJECT),
        "{:?}",
        erased.target
    );
    let written = events
        .iter()
        .find(|e| e.action == "vault.record.create" && e.outcome == "success")
        .unwrap();
    assert_eq!(
        written.target.as_deref(),
        Some(&*format!("vault-record:{id}"))
    );
    server.stop().await;
}

both_engines!(the_vault_path);

/// Schema changes over HTTP: at the version read (`If-Match` or
/// `expected_version`), a class raised across the encryption boundary
/// re-seals stored values (which still read and are still found), a class
/// lowered only with `vault.schema.downgrade`. And a token limited to
/// fewer permissions than its holder's reads and writes no more.
async fn schema_changes_and_a_restricted_token(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let admin = server.admin_token().await;
    let acme = server
        .post(&admin, "/api/v1/tenants", &tenant("Acme", "eu"))
        .await
        .expect(201);
    let acme = Uuid::parse_str(acme["id"].as_str().unwrap()).unwrap();
    let owner = holder(&server, "acme-admin", Role::TenantAdmin, acme).await;
    let app = holder(&server, "acme-app", Role::Application, acme).await;
    let officer = holder(&server, "acme-dpo", Role::PrivacyOfficer, acme).await;
    let collections = format!("/api/v1/tenants/{acme}/vault/collections");
    server
        .post(&owner, &collections, &customers())
        .await
        .expect(201);
    let records = format!("{collections}/customers/records");
    let written = server
        .post(
            &app,
            &records,
            &json!({"values": {"email": EMAIL, "plan": "gold-tier-x91"}}),
        )
        .await
        .expect(201);
    let record = format!("{records}/{}", written["id"].as_str().unwrap());
    let schema = format!("{collections}/customers/schema");

    // Raise `plan` to confidential: its stored value is sealed now, and
    // the record still reads and is still found.
    let raise = json!({"steps": [{"op": "reclassify", "field": "plan", "class": "confidential"},
                                 {"op": "add", "field": {"name": "tier", "type": "integer",
                                                         "class": "internal"}}]});
    let changed = conditional(
        &server,
        Method::POST,
        &owner,
        &schema,
        "\"1\"",
        Some(&raise),
    )
    .await
    .expect(200);
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["fields"][3]["class"], "confidential");
    assert_eq!(changed["fields"].as_array().unwrap().len(), 7);
    let dump = server.database.dump();
    assert!(!holds(&dump, EMAIL));
    let read = server
        .get(&app, &format!("{record}?fields=email,plan"))
        .await
        .expect(200);
    assert_eq!(read["values"]["plan"], "gold-tier-x91");
    let search = format!("{collections}/customers/search");
    let found = server
        .post(
            &app,
            &search,
            &json!({"field": "email", "value": EMAIL, "fields": ["plan"]}),
        )
        .await
        .expect(200);
    assert_eq!(found["records"].as_array().unwrap().len(), 1);

    // Stale, contradictory or malformed versions change nothing.
    let deprecate = json!({"steps": [{"op": "deprecate", "field": "phone"}]});
    conditional(
        &server,
        Method::POST,
        &owner,
        &schema,
        "\"1\"",
        Some(&deprecate),
    )
    .await
    .problem(412, "stale-version");
    let both = json!({"steps": [{"op": "deprecate", "field": "phone"}], "expected_version": 1});
    conditional(&server, Method::POST, &owner, &schema, "\"2\"", Some(&both))
        .await
        .problem(422, "invalid-field");
    let unknown = json!({"steps": [{"op": "deprecate", "field": "nope"}]});
    server
        .post(&owner, &schema, &unknown)
        .await
        .problem(422, "invalid-schema");

    // Lowering a class needs vault.schema.downgrade: the tenant
    // administrator lacks it, the privacy officer lacks schema.manage.
    let lower = json!({"steps": [{"op": "reclassify", "field": "plan", "class": "internal"}],
                       "expected_version": 2});
    server
        .post(&owner, &schema, &lower)
        .await
        .problem(403, "forbidden");
    server
        .post(&officer, &schema, &lower)
        .await
        .problem(403, "forbidden");
    let now = server
        .get(&owner, &format!("{collections}/customers"))
        .await
        .expect(200);
    assert_eq!(now["version"], 2);
    assert_eq!(now["fields"][3]["class"], "confidential");

    // A token of the application limited to vault.read.internal gets
    // nothing more: personal and confidential fields are left out (its
    // holder reads them in clear, the token not even masked), writes are
    // refused.
    let holder = principal_with(
        &server.core,
        server.store.as_ref(),
        server.core.clock(),
        &RequestContext::system(),
        "acme-app-2",
        &[(Role::Application, Scope::Tenant(TenantId(acme)))],
    )
    .await;
    let narrow = "rmp_at_acme-app-narrow-for-tests-only";
    let mut tx = server.store.begin().await.unwrap();
    tx.insert_token(&TokenRecord {
        permissions: Some(PermissionSet::of(&[Permission::VaultReadInternal])),
        ..TokenRecord::unrestricted(
            Uuid::new_v4(),
            holder.principal,
            rempart_core::secret::fingerprint(&SecretString::from(narrow)),
            "read internal only",
            server.core.clock().now(),
        )
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let seen = server.get(narrow, &record).await.expect(200);
    assert_eq!(seen["values"], json!({}));
    assert_eq!(seen["masked"], json!([]));
    server
        .post(narrow, &records, &json!({"values": {"email": EMAIL}}))
        .await
        .problem(403, "forbidden");
    server.stop().await;
}

both_engines!(schema_changes_and_a_restricted_token);
