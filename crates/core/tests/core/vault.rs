//! The customer-data vault on both engines, through the service layer:
//! classified fields sealed before they reach the database, reads by
//! permission and purpose, masks, search on ciphertext, optimistic
//! concurrency, schema changes, tenant isolation, and erasure of a data
//! subject by crypto-shredding; bad input changes nothing.

use rempart_core::controls::ControlReport;
use rempart_core::vault::error::VaultError;
use rempart_core::vault::{ReadOptions, RecordRef, RecordView, RecordWrite};
use rempart_core::{Actor, RequestContext, ServiceError};
use rempart_model::control::{CheckOutcome, ControlId};
use rempart_model::vault::{Class, CollectionName, Field, FieldName, Purpose, SchemaStep};
use rempart_model::{Action, Environment, Outcome, Role, Scope, Tenant};
use rempart_testkit::{Engine, both_engines};
use serde_json::{Value, json};
use time::macros::datetime;
use uuid::Uuid;

use crate::support::{Fixture, context, domain_err, new_tenant};

fn ctx() -> RequestContext {
    context("req-vault", "192.0.2.30")
}

const EMAIL: &str = "Jane.Doe@Customer.test";
const PHONE: &str = "+33612345678";
const SSN: &str = "1-84-12-75-123-456";
const BALANCE: &str = "1234.56";

fn fields() -> Vec<Field> {
    serde_json::from_value(json!([
        {"name": "email", "type": "email", "class": "pii", "required": true, "searchable": 1_000_000},
        {"name": "phone", "type": "phone", "class": "pii"},
        {"name": "ssn", "type": "string", "class": "sensitive_pii"},
        {"name": "plan", "type": "string", "class": "internal"},
        {"name": "balance", "type": "decimal", "class": "confidential"},
        {"name": "score", "type": "integer", "class": "public"},
    ]))
    .unwrap()
}

fn customer() -> Value {
    json!({"email": EMAIL, "phone": PHONE, "ssn": SSN, "plan": "pro", "balance": BALANCE, "score": 7})
}

/// A tenant with a `customers` collection, and its application, support
/// and privacy officer.
struct Setup {
    f: Fixture,
    admin: Actor,
    tenant: Tenant,
    app: Actor,
    support: Actor,
    dpo: Actor,
}

impl Setup {
    /// Stores a record about `subject` in `customers` as `actor`.
    async fn create(
        &self,
        actor: &Actor,
        subject: &str,
        values: Value,
    ) -> Result<RecordRef, ServiceError> {
        let write = about(subject, values);
        let tenant = self.tenant.id;
        self.f
            .core
            .create_record(actor, &ctx(), tenant, "customers", write)
            .await
    }

    /// Reads record `id` of `customers` as `actor`.
    async fn read(
        &self,
        actor: &Actor,
        id: Uuid,
        options: ReadOptions,
    ) -> Result<RecordView, ServiceError> {
        let tenant = self.tenant.id;
        self.f
            .core
            .read_record(actor, &ctx(), tenant, "customers", id, options)
            .await
    }

    /// Looks `customers` up by `field` as support.
    async fn search(&self, field: &str, value: Value) -> Result<Vec<RecordView>, ServiceError> {
        let (support, tenant) = (&self.support, self.tenant.id);
        let none = ReadOptions::default();
        self.f
            .core
            .search_records(support, &ctx(), tenant, "customers", field, &value, none)
            .await
    }
}

async fn setup(engine: Engine) -> Option<Setup> {
    let f = Fixture::with_keys(engine, datetime!(2026-11-30 09:00 UTC)).await?;
    let admin = f.admin(&ctx()).await;
    let tenant = f
        .core
        .create_tenant(
            &admin,
            &ctx(),
            new_tenant("Acme", "eu-west", Environment::production()),
        )
        .await
        .unwrap();
    let scope = Scope::Tenant(tenant.id);
    let app = f
        .holder(&ctx(), "app", &[(Role::Application, scope.clone())])
        .await;
    let support = f
        .holder(&ctx(), "support", &[(Role::Support, scope.clone())])
        .await;
    let dpo = f
        .holder(&ctx(), "dpo", &[(Role::PrivacyOfficer, scope)])
        .await;
    f.core
        .create_collection(&admin, &ctx(), tenant.id, name("customers"), fields())
        .await
        .unwrap();
    Some(Setup {
        f,
        admin,
        tenant,
        app,
        support,
        dpo,
    })
}

fn field_name(s: &str) -> FieldName {
    FieldName::parse(s).unwrap()
}

fn name(s: &str) -> CollectionName {
    CollectionName::parse(s).unwrap()
}

fn about(subject: &str, values: Value) -> RecordWrite {
    RecordWrite {
        subject: Some(subject.to_owned()),
        values,
    }
}

fn purpose(p: &str) -> ReadOptions {
    ReadOptions {
        purpose: Some(Purpose::parse(p).unwrap()),
        fields: None,
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

async fn classified_values_never_reach_the_database_in_clear(engine: Engine) {
    let Some(s) = setup(engine).await else { return };
    let stored = s.create(&s.app, "cust-1", customer()).await.unwrap();
    assert_eq!(stored.version, 1);
    let dump = s.f.db.dump();
    for secret in [EMAIL, PHONE, SSN, BALANCE, "cust-1"] {
        assert!(
            !contains(&dump, secret),
            "{secret} is in the database in clear"
        );
    }
    // The internal field is stored in clear: the dump is a real one.
    assert!(contains(&dump, "\"pro\""));
}

async fn each_role_sees_what_its_class_permissions_allow(engine: Engine) {
    let Some(s) = setup(engine).await else { return };
    let id = s.create(&s.app, "cust-1", customer()).await.unwrap().id;
    // Sensitive data in clear needs a purpose: refused and recorded.
    let refused = s.read(&s.app, id, ReadOptions::default()).await;
    assert!(matches!(
        domain_err::<VaultError, _>(&refused),
        Some(VaultError::PurposeRequired)
    ));
    let app_view = s
        .read(&s.app, id, purpose("fraud_prevention"))
        .await
        .unwrap();
    assert_eq!(app_view.values["email"], json!("Jane.Doe@customer.test"));
    assert_eq!(app_view.values["ssn"], json!(SSN));
    assert_eq!(app_view.values["balance"], json!(BALANCE));
    assert!(app_view.masked.is_empty());
    // Leaving the sensitive field out needs no purpose.
    let only = ReadOptions {
        purpose: None,
        fields: Some(vec!["email".into(), "plan".into()]),
    };
    let narrow = s.read(&s.app, id, only).await.unwrap();
    assert_eq!(narrow.values.len(), 2);
    // Support sees shapes, never values.
    let support_view = s
        .read(&s.support, id, ReadOptions::default())
        .await
        .unwrap();
    assert_eq!(support_view.values["email"], json!("J•••@customer.test"));
    assert_eq!(support_view.values["phone"], json!("•••5678"));
    assert_eq!(support_view.values["ssn"], json!("•••"));
    assert_eq!(support_view.values["plan"], json!("pro"));
    assert_eq!(support_view.values["score"], json!(7));
    let mut masked = support_view.masked.clone();
    masked.sort();
    assert_eq!(masked, ["balance", "email", "phone", "ssn"]);
    // The purpose and the fields shown in clear are in the read's event.
    let audit = s.f.audit().await;
    let reads: Vec<_> = audit
        .iter()
        .filter(|e| e.action == Action::VaultRecordRead.as_str())
        .collect();
    assert_eq!(reads.len(), 4, "every read is audited, the refused one too");
    assert_eq!(reads[0].outcome, Outcome::Denied.as_str());
    assert!(
        reads
            .iter()
            .all(|e| e.target.as_deref() == Some(format!("vault-record:{id}").as_str()))
    );
}

async fn search_finds_exact_values_through_the_blind_index(engine: Engine) {
    let Some(s) = setup(engine).await else { return };
    for (i, email) in ["a@x.test", "b@x.test", EMAIL].iter().enumerate() {
        let mut values = customer();
        values["email"] = json!(email);
        s.create(&s.app, &format!("c{i}"), values).await.unwrap();
    }
    let found = s
        .search("email", json!("jane.doe@CUSTOMER.test"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].values["email"], json!("J•••@customer.test"));
    let none = s.search("email", json!("z@x.test")).await.unwrap();
    assert!(none.is_empty());
    let unmarked = s.search("phone", json!(PHONE)).await;
    assert!(matches!(
        domain_err::<VaultError, _>(&unmarked),
        Some(VaultError::NotSearchable { .. })
    ));
}

async fn updates_apply_only_to_the_version_read(engine: Engine) {
    let Some(s) = setup(engine).await else { return };
    let core = &s.f.core;
    let first = s.create(&s.app, "cust-1", customer()).await.unwrap();
    let mut values = customer();
    values["plan"] = json!("enterprise");
    let second = core
        .update_record(
            &s.app,
            &ctx(),
            s.tenant.id,
            "customers",
            first.id,
            1,
            about("cust-1", values.clone()),
        )
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    let stale = core
        .update_record(
            &s.app,
            &ctx(),
            s.tenant.id,
            "customers",
            first.id,
            1,
            about("cust-1", values),
        )
        .await;
    assert!(matches!(
        domain_err::<VaultError, _>(&stale),
        Some(VaultError::Stale {
            expected: 1,
            current: 2
        })
    ));
    let view = s
        .read(&s.support, first.id, ReadOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (view.version, &view.values["plan"]),
        (2, &json!("enterprise"))
    );
    // The old index entry went with the old value: search still finds one.
    let found = s.search("email", json!(EMAIL)).await.unwrap();
    assert_eq!(found.len(), 1);
}

async fn bad_records_are_refused_field_by_field_and_change_nothing(engine: Engine) {
    let Some(s) = setup(engine).await else { return };
    let core = &s.f.core;
    let bad = json!({"phone": "12", "plan": 3, "unknown": true});
    let refused = s.create(&s.app, "cust-1", bad).await;
    let Some(VaultError::Record(e)) = domain_err::<VaultError, _>(&refused) else {
        panic!("{refused:?}")
    };
    let text = e.to_string();
    for field in ["unknown", "email", "phone", "plan"] {
        assert!(text.contains(&format!("\"{field}\"")), "{text}");
    }
    let fields = refused.as_ref().unwrap_err().field_reasons();
    assert_eq!(fields.len(), 4);
    let page = core
        .list_records(
            &s.support,
            &ctx(),
            s.tenant.id,
            "customers",
            None,
            50,
            ReadOptions::default(),
        )
        .await
        .unwrap();
    assert!(page.records.is_empty());
    let unknown = core
        .create_record(
            &s.app,
            &ctx(),
            s.tenant.id,
            "nope",
            about("cust-1", customer()),
        )
        .await;
    assert!(matches!(
        domain_err::<VaultError, _>(&unknown),
        Some(VaultError::UnknownCollection { .. })
    ));
    // A field without a class cannot be declared.
    let classless: Result<Vec<Field>, _> =
        serde_json::from_value(json!([{"name": "x", "type": "string"}]));
    assert!(classless.is_err());
    // Support may not write.
    let forbidden = s.create(&s.support, "cust-1", customer()).await;
    assert!(matches!(forbidden, Err(ServiceError::Forbidden { .. })));
}

async fn another_tenant_sees_nothing(engine: Engine) {
    let Some(s) = setup(engine).await else { return };
    let core = &s.f.core;
    let id = s.create(&s.app, "cust-1", customer()).await.unwrap().id;
    let other = core
        .create_tenant(
            &s.admin,
            &ctx(),
            new_tenant("Globex", "eu-west", Environment::production()),
        )
        .await
        .unwrap();
    let intruder =
        s.f.holder(
            &ctx(),
            "intruder",
            &[(Role::Application, Scope::Tenant(other.id))],
        )
        .await;
    let read = s.read(&intruder, id, purpose("maintenance")).await;
    assert!(
        matches!(read, Err(ServiceError::TenantNotFound)),
        "{read:?}"
    );
    // Its own tenant has no such collection, let alone the record.
    let across = core
        .read_record(
            &intruder,
            &ctx(),
            other.id,
            "customers",
            id,
            purpose("maintenance"),
        )
        .await;
    assert!(matches!(
        domain_err::<VaultError, _>(&across),
        Some(VaultError::UnknownCollection { .. })
    ));
    let erase = core
        .erase_subject(&intruder, &ctx(), s.tenant.id, "cust-1")
        .await;
    assert!(matches!(erase, Err(ServiceError::TenantNotFound)));
}

async fn erasing_a_subject_shreds_its_key_and_leaves_nothing(engine: Engine) {
    let Some(s) = setup(engine).await else { return };
    let core = &s.f.core;
    let kept = s
        .create(&s.app, "cust-2", json!({"email": "other@x.test"}))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for plan in ["a", "b"] {
        let mut values = customer();
        values["plan"] = json!(plan);
        ids.push(s.create(&s.app, "cust-1", values).await.unwrap().id);
    }
    let exported = core
        .export_subject(&s.dpo, &ctx(), s.tenant.id, "cust-1")
        .await
        .unwrap();
    assert_eq!(exported.records.len(), 2);
    assert_eq!(exported.records[0].values["ssn"], json!(SSN));
    let before = s.f.db.dump();
    let disposal = core
        .erase_subject(&s.dpo, &ctx(), s.tenant.id, "cust-1")
        .await
        .unwrap();
    assert_eq!((disposal.records, disposal.keys_destroyed), (2, 1));
    assert!(!disposal.what.contains("cust-1"));
    for id in ids {
        let gone = s.read(&s.app, id, purpose("maintenance")).await;
        assert!(matches!(
            domain_err::<VaultError, _>(&gone),
            Some(VaultError::UnknownRecord)
        ));
    }
    let found = s.search("email", json!(EMAIL)).await.unwrap();
    assert!(found.is_empty());
    let after = core
        .export_subject(&s.dpo, &ctx(), s.tenant.id, "cust-1")
        .await
        .unwrap();
    assert!(after.records.is_empty());
    // Erasing again, or a subject never held, answers alike.
    let again = core
        .erase_subject(&s.dpo, &ctx(), s.tenant.id, "cust-1")
        .await
        .unwrap();
    let never = core
        .erase_subject(&s.dpo, &ctx(), s.tenant.id, "never-held")
        .await
        .unwrap();
    assert_eq!(
        (again.records, again.what.clone()),
        (never.records, never.what)
    );
    // The other subject's record is untouched.
    let other = s
        .read(&s.app, kept.id, purpose("maintenance"))
        .await
        .unwrap();
    assert_eq!(other.values["email"], json!("other@x.test"));
    // The register names the disposal; the log names the erasure.
    let register = core.disposals(&s.dpo, &ctx(), s.tenant.id).await.unwrap();
    assert_eq!(register.len(), 1);
    let audit = s.f.audit().await;
    assert!(audit.iter().any(|e| {
        e.action == Action::VaultSubjectErase.as_str()
            && e.target
                .as_deref()
                .is_some_and(|t| t.starts_with("vault-subject:"))
            && e.target.as_deref() != Some("vault-subject:unknown")
    }));
    // The dump taken before erasure held ciphertext only; after it, the
    // subject's ciphertext is gone too.
    assert!(!contains(&before, SSN));
    let dump = s.f.db.dump();
    assert!(!contains(&dump, SSN));
}

async fn schema_changes_are_versioned_and_downgrades_need_their_own_permission(engine: Engine) {
    let Some(s) = setup(engine).await else { return };
    let core = &s.f.core;
    let id = s.create(&s.app, "cust-1", customer()).await.unwrap().id;
    let tenant_admin =
        s.f.holder(
            &ctx(),
            "tadmin",
            &[(Role::TenantAdmin, Scope::Tenant(s.tenant.id))],
        )
        .await;
    let raise = vec![SchemaStep::Reclassify {
        field: field_name("plan"),
        class: Class::Confidential,
    }];
    let changed = core
        .change_schema(
            &tenant_admin,
            &ctx(),
            s.tenant.id,
            "customers",
            raise,
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(changed.schema.version, 2);
    // The stored value was sealed with the change: no longer in clear,
    // once SQLite's write-ahead log has been checkpointed (freed pages are
    // zeroed: secure_delete).
    if engine == Engine::Sqlite {
        s.f.db.execute(&["PRAGMA wal_checkpoint(TRUNCATE)"]).await;
    }
    assert!(!contains(&s.f.db.dump(), "\"pro\""));
    let view = s
        .read(&s.support, id, ReadOptions::default())
        .await
        .unwrap();
    assert_eq!(view.values["plan"], json!("•••"));
    let lower = vec![SchemaStep::Reclassify {
        field: field_name("plan"),
        class: Class::Internal,
    }];
    let refused = core
        .change_schema(
            &tenant_admin,
            &ctx(),
            s.tenant.id,
            "customers",
            lower.clone(),
            Some(2),
        )
        .await;
    assert!(
        matches!(refused, Err(ServiceError::Forbidden { .. })),
        "{refused:?}"
    );
    let stale = core
        .change_schema(
            &s.admin,
            &ctx(),
            s.tenant.id,
            "customers",
            lower.clone(),
            Some(1),
        )
        .await;
    assert!(matches!(
        domain_err::<VaultError, _>(&stale),
        Some(VaultError::StaleSchema { .. })
    ));
    core.change_schema(&s.admin, &ctx(), s.tenant.id, "customers", lower, Some(2))
        .await
        .unwrap();
    assert!(contains(&s.f.db.dump(), "\"pro\""));
    let audit = s.f.audit().await;
    let downgrade = audit
        .iter()
        .find(|e| e.action == Action::VaultSchemaDowngrade.as_str())
        .unwrap();
    assert_eq!(downgrade.outcome, Outcome::Success.as_str());
    assert!(Action::VaultSchemaDowngrade.is_high_severity());
}

async fn vault_checks_fail_once_the_vault_is_broken(engine: Engine) {
    let Some(s) = setup(engine).await else { return };
    let core = &s.f.core;
    s.create(&s.app, "cust-1", customer()).await.unwrap();
    let controls: Vec<ControlId> = ["DS-1", "DS-2", "DS-5", "DS-6", "NS-2", "DV-3", "CR-2"]
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    let run = || async {
        core.check_controls(&s.admin, &ctx(), &controls)
            .await
            .unwrap()
    };
    let failing = |report: &ControlReport| -> Vec<String> {
        report
            .results
            .iter()
            .filter(|r| r.outcome != CheckOutcome::Pass)
            .map(|r| r.control.to_string())
            .collect()
    };
    // Sound, except CR-2: the privacy officer and the administrator serve
    // subject requests without a second factor.
    assert_eq!(failing(&run().await), ["CR-2"]);
    core.drain_audit().await.unwrap();
    s.f.db
        .execute(&[
            r#"UPDATE vault_records SET fields = '{"email": {"v": "x@y.test"}}'"#,
            r#"UPDATE vault_schemas SET fields = '[{"name": "email", "type": "email"}]'"#,
            "DELETE FROM vault_subjects",
            "UPDATE data_keys SET environment = 'development' WHERE purpose = 'vault-keys'",
        ])
        .await;
    // DS-1 reads records against the current schema: with the schema
    // broken too, the clear value is found through DS-5's finding alone;
    // restore a parseable schema for the DS-1 check.
    let report = run().await;
    assert_eq!(failing(&report), ["DS-5", "DS-6", "DV-3", "CR-2"]);
    s.f.db
        .execute(&[r#"UPDATE vault_schemas SET fields = '[{"name": "email", "type": "email", "class": "pii"}]'"#])
        .await;
    let report = run().await;
    assert_eq!(
        failing(&report),
        ["NS-2", "DS-1", "DS-2", "DS-6", "DV-3", "CR-2"]
    );
}

both_engines!(
    vault_checks_fail_once_the_vault_is_broken,
    classified_values_never_reach_the_database_in_clear,
    each_role_sees_what_its_class_permissions_allow,
    search_finds_exact_values_through_the_blind_index,
    updates_apply_only_to_the_version_read,
    bad_records_are_refused_field_by_field_and_change_nothing,
    another_tenant_sees_nothing,
    erasing_a_subject_shreds_its_key_and_leaves_nothing,
    schema_changes_are_versioned_and_downgrades_need_their_own_permission,
);
