//! The customer-data vault over HTTP (controls DS-1, DS-2, DS-5, DS-6,
//! NS-2): collections and their schemas, records with optimistic
//! concurrency (`ETag` and `If-Match` carry a record's version), searches,
//! and the data-subject requests. Every call is authorized and audited by
//! the service layer; these handlers only translate.
//!
//! Personal data never travels in a URL: search values and subject
//! identifiers are POST bodies. A record is replaced only at the version
//! its writer read: `PUT` without `If-Match` is refused (428) before
//! anything is looked at.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rempart_api::vault::{
    Collection, CollectionList, DEFAULT_PAGE, Disposal, DisposalList, Field, FieldClass, FieldType,
    MAX_PAGE, NewCollection, Record, RecordList, RecordListQuery, RecordPage, RecordQuery,
    RecordRef, RecordWrite, SchemaChange, SchemaStep, SearchRequest, SubjectExport, SubjectRequest,
};
use rempart_core::vault as core;
use rempart_model::TenantId;
use rempart_model::vault::{self as model, CollectionName, FieldName, Purpose};
use serde_json::Value;
use utoipa::IntoResponses;
use uuid::Uuid;

use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Ctx};
use crate::problem::Problem;
use crate::routes::answers::{KeyringSealed, NoValidCredential, TenantNotFound};
use crate::state::AppState;

/// A collection or one of its records that the caller cannot see.
#[derive(Debug, IntoResponses)]
#[response(
    status = 404,
    description = "No such tenant or collection, or one outside the caller's scope (tenant-not-found, unknown-collection)",
    content_type = "application/problem+json"
)]
pub struct NoCollection(pub Problem);

/// A record the caller cannot see.
#[derive(Debug, IntoResponses)]
#[response(
    status = 404,
    description = "No such tenant, collection or record, or one outside the caller's scope (tenant-not-found, unknown-collection, unknown-record)",
    content_type = "application/problem+json"
)]
pub struct NoRecord(pub Problem);

/// A version named by `If-Match` that is no longer the stored one.
#[derive(Debug, IntoResponses)]
#[response(
    status = 412,
    description = "Changed since that version was read (stale-version): read it again and reapply the change",
    content_type = "application/problem+json"
)]
pub struct StaleVersion(pub Problem);

/// Record values that do not fit the schema, or a bad read option.
#[derive(Debug, IntoResponses)]
#[response(
    status = 422,
    description = "The values do not fit the collection's schema, `errors` naming each field and why (invalid-record), or a field of the request is not valid (invalid-field)",
    content_type = "application/problem+json"
)]
pub struct InvalidRecord(pub Problem);

/// A read option (`fields`, `purpose`, `after`, `limit`) that is not valid.
#[derive(Debug, IntoResponses)]
#[response(
    status = 422,
    description = "A read option is not valid: an unknown purpose, a malformed field name or page size (invalid-field)",
    content_type = "application/problem+json"
)]
pub struct InvalidReadOption(pub Problem);

/// A read that would show sensitive personal data in clear without a
/// stated purpose, or a permission the caller lacks.
#[derive(Debug, IntoResponses)]
#[response(
    status = 403,
    description = "No vault read permission in the tenant (forbidden), or sensitive fields would be shown in clear without a purpose (purpose-required): state one with `purpose`, or leave them out with `fields`",
    content_type = "application/problem+json"
)]
pub struct ReadRefused(pub Problem);

fn class_of(class: FieldClass) -> model::Class {
    match class {
        FieldClass::Public => model::Class::Public,
        FieldClass::Internal => model::Class::Internal,
        FieldClass::Confidential => model::Class::Confidential,
        FieldClass::Pii => model::Class::Pii,
        FieldClass::SensitivePii => model::Class::SensitivePii,
    }
}

fn class_view(class: model::Class) -> FieldClass {
    match class {
        model::Class::Public => FieldClass::Public,
        model::Class::Internal => FieldClass::Internal,
        model::Class::Confidential => FieldClass::Confidential,
        model::Class::Pii => FieldClass::Pii,
        model::Class::SensitivePii => FieldClass::SensitivePii,
    }
}

fn type_of(ty: FieldType) -> model::FieldType {
    match ty {
        FieldType::String => model::FieldType::String,
        FieldType::Integer => model::FieldType::Integer,
        FieldType::Decimal => model::FieldType::Decimal,
        FieldType::Boolean => model::FieldType::Boolean,
        FieldType::Date => model::FieldType::Date,
        FieldType::Timestamp => model::FieldType::Timestamp,
        FieldType::Email => model::FieldType::Email,
        FieldType::Phone => model::FieldType::Phone,
        FieldType::Json => model::FieldType::Json,
    }
}

fn type_view(ty: model::FieldType) -> FieldType {
    match ty {
        model::FieldType::String => FieldType::String,
        model::FieldType::Integer => FieldType::Integer,
        model::FieldType::Decimal => FieldType::Decimal,
        model::FieldType::Boolean => FieldType::Boolean,
        model::FieldType::Date => FieldType::Date,
        model::FieldType::Timestamp => FieldType::Timestamp,
        model::FieldType::Email => FieldType::Email,
        model::FieldType::Phone => FieldType::Phone,
        model::FieldType::Json => FieldType::Json,
    }
}

fn field_name(what: &str, raw: &str) -> Result<FieldName, Problem> {
    FieldName::parse(raw).map_err(|e| Problem::invalid_field(what, e.to_string()))
}

fn field_of(field: Field) -> Result<model::Field, Problem> {
    Ok(model::Field {
        name: FieldName::try_from(field.name)
            .map_err(|e| Problem::invalid_field("fields", e.to_string()))?,
        ty: type_of(field.ty),
        class: class_of(field.class),
        required: field.required,
        searchable: field.searchable,
        max_length: field.max_length,
        deprecated: field.deprecated,
    })
}

fn field_view(field: &model::Field) -> Field {
    Field {
        name: field.name.to_string(),
        ty: type_view(field.ty),
        class: class_view(field.class),
        required: field.required,
        searchable: field.searchable,
        max_length: field.max_length,
        deprecated: field.deprecated,
    }
}

fn step_of(step: SchemaStep) -> Result<model::SchemaStep, Problem> {
    Ok(match step {
        SchemaStep::Add { field } => model::SchemaStep::Add {
            field: field_of(field)?,
        },
        SchemaStep::Reclassify { field, class } => model::SchemaStep::Reclassify {
            field: field_name("steps", &field)?,
            class: class_of(class),
        },
        SchemaStep::Deprecate { field } => model::SchemaStep::Deprecate {
            field: field_name("steps", &field)?,
        },
    })
}

fn collection_view(c: core::Collection) -> Collection {
    Collection {
        id: c.id,
        name: c.name.into(),
        version: c.schema.version,
        fields: c.schema.fields.iter().map(field_view).collect(),
        created_at: c.created_at,
    }
}

fn record_view(r: core::RecordView) -> Record {
    Record {
        id: r.id,
        collection: r.collection.to_string(),
        version: r.version,
        has_subject: r.has_subject,
        values: r.values,
        masked: r.masked,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

fn disposal_view(d: core::Disposal) -> Disposal {
    Disposal {
        id: d.id,
        tenant: d.tenant.0,
        kind: d.kind,
        what: d.what,
        records: d.records,
        keys_destroyed: d.keys_destroyed,
        disposed_at: d.disposed_at,
        disposed_by: d.disposed_by,
    }
}

/// The read options of a request: the fields asked for (comma-separated
/// in a query) and the stated purpose.
fn read_options(
    fields: Option<Vec<String>>,
    purpose: Option<&str>,
) -> Result<core::ReadOptions, Problem> {
    let fields = match fields {
        Some(names) => {
            let names: Vec<String> = names
                .iter()
                .map(|n| n.trim())
                .filter(|n| !n.is_empty())
                .map(|n| field_name("fields", n).map(String::from))
                .collect::<Result<_, _>>()?;
            if names.is_empty() {
                return Err(Problem::invalid_field(
                    "fields",
                    "name at least one field, or leave `fields` out for all of them",
                ));
            }
            Some(names)
        }
        None => None,
    };
    let purpose = purpose
        .map(|p| Purpose::parse(p).map_err(|e| Problem::invalid_field("purpose", e.to_string())))
        .transpose()?;
    Ok(core::ReadOptions { purpose, fields })
}

fn split_fields(fields: Option<&str>) -> Option<Vec<String>> {
    fields.map(|f| f.split(',').map(str::to_owned).collect())
}

/// The version an `If-Match` header names: one strong entity tag,
/// `"<version>"`, as an `ETag` gave it.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(str::trim)
        .and_then(|v| v.strip_prefix('"'))
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            Problem::invalid_field(
                "If-Match",
                "expected the entity tag a read answered, such as \"3\"",
            )
        })
}

fn etag(version: u64) -> Result<HeaderValue, Problem> {
    HeaderValue::from_str(&format!("\"{version}\"")).map_err(|_| Problem::internal())
}

/// A record write's content as the service takes it.
fn record_write(body: RecordWrite) -> core::RecordWrite {
    core::RecordWrite {
        subject: body.subject,
        values: Value::Object(body.values),
    }
}

/// Declares a collection: every field with a type and a class (control
/// DS-5). Needs `vault.schema.manage` in the tenant.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/vault/collections", tag = "vault",
    params(("tenant" = Uuid, Path, description = "The tenant")),
    request_body = NewCollection,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "The collection, at schema version 1", body = Collection),
        NoValidCredential,
        (status = 403, description = "No vault.schema.manage in the tenant", body = Problem, content_type = "application/problem+json"),
        TenantNotFound,
        (status = 409, description = "A collection of that name exists in the tenant (collection-exists)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A name or field is not valid (invalid-field), or the schema breaks a rule, `errors` naming the field (invalid-schema)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_collection(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(tenant): ApiPath<Uuid>,
    ApiJson(body): ApiJson<NewCollection>,
) -> Result<(StatusCode, Json<Collection>), Problem> {
    let name = CollectionName::parse(&body.name)
        .map_err(|e| Problem::invalid_field("name", e.to_string()))?;
    let fields = body
        .fields
        .into_iter()
        .map(field_of)
        .collect::<Result<_, _>>()?;
    let collection = state
        .core
        .create_collection(&actor, &ctx, TenantId(tenant), name, fields)
        .await?;
    Ok((StatusCode::CREATED, Json(collection_view(collection))))
}

/// The tenant's collections and their current schemas (no customer data).
/// Needs `vault.read.internal` in the tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/vault/collections", tag = "vault",
    params(("tenant" = Uuid, Path, description = "The tenant")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The collections, by name", body = CollectionList),
        NoValidCredential,
        (status = 403, description = "No vault.read.internal in the tenant", body = Problem, content_type = "application/problem+json"),
        TenantNotFound,
    ))]
pub async fn collections(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(tenant): ApiPath<Uuid>,
) -> Result<Json<CollectionList>, Problem> {
    let found = state
        .core
        .collections(&actor, &ctx, TenantId(tenant))
        .await?;
    Ok(Json(CollectionList {
        collections: found.into_iter().map(collection_view).collect(),
    }))
}

/// One collection and its current schema. Needs `vault.read.internal` in
/// the tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/vault/collections/{collection}", tag = "vault",
    params(
        ("tenant" = Uuid, Path, description = "The tenant"),
        ("collection" = String, Path, description = "The collection's name"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The collection", body = Collection),
        NoValidCredential,
        (status = 403, description = "No vault.read.internal in the tenant", body = Problem, content_type = "application/problem+json"),
        NoCollection,
    ))]
pub async fn collection(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath((tenant, name)): ApiPath<(Uuid, String)>,
) -> Result<Json<Collection>, Problem> {
    let found = state
        .core
        .collection(&actor, &ctx, TenantId(tenant), &name)
        .await?;
    Ok(Json(collection_view(found)))
}

/// Changes a collection's schema (add, reclassify, deprecate fields),
/// making its next version; stored values whose class crosses the
/// encryption boundary are re-sealed or opened in the same transaction.
/// `If-Match: "<version>"` (or `expected_version`) refuses the change if
/// the schema moved on. Needs `vault.schema.manage`, and
/// `vault.schema.downgrade` to lower a class.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/vault/collections/{collection}/schema", tag = "vault",
    params(
        ("tenant" = Uuid, Path, description = "The tenant"),
        ("collection" = String, Path, description = "The collection's name"),
        ("If-Match" = Option<String>, Header, description = "The schema version the change was written against, as `\"<version>\"`"),
    ),
    request_body = SchemaChange,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The collection at its new version", body = Collection),
        NoValidCredential,
        (status = 403, description = "No vault.schema.manage in the tenant, or no vault.schema.downgrade for a lowered class", body = Problem, content_type = "application/problem+json"),
        NoCollection,
        StaleVersion,
        (status = 422, description = "A step breaks a rule, `errors` naming the field (invalid-schema), or a field of the request is not valid (invalid-field)", body = Problem, content_type = "application/problem+json"),
        KeyringSealed,
    ))]
pub async fn change_schema(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath((tenant, name)): ApiPath<(Uuid, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SchemaChange>,
) -> Result<Json<Collection>, Problem> {
    let from_header = if_match(&headers)?
        .map(|v| {
            u32::try_from(v).map_err(|_| Problem::invalid_field("If-Match", "no such version"))
        })
        .transpose()?;
    let expected = match (from_header, body.expected_version) {
        (Some(a), Some(b)) if a != b => {
            return Err(Problem::invalid_field(
                "expected_version",
                "If-Match names another version",
            ));
        }
        (a, b) => a.or(b),
    };
    let steps = body
        .steps
        .into_iter()
        .map(step_of)
        .collect::<Result<_, _>>()?;
    let changed = state
        .core
        .change_schema(&actor, &ctx, TenantId(tenant), &name, steps, expected)
        .await?;
    Ok(Json(collection_view(changed)))
}

/// Stores a record, checked against the collection's current schema; its
/// confidential and personal values are sealed before they reach the
/// database. Needs `vault.record.write`.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/vault/collections/{collection}/records", tag = "vault",
    params(
        ("tenant" = Uuid, Path, description = "The tenant"),
        ("collection" = String, Path, description = "The collection's name"),
    ),
    request_body = RecordWrite,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "The record's id and version", body = RecordRef,
            headers(
                ("ETag" = String, description = "The record's version, `\"<version>\"`, for If-Match"),
                ("Location" = String, description = "The record"),
            )),
        NoValidCredential,
        (status = 403, description = "No vault.record.write in the tenant", body = Problem, content_type = "application/problem+json"),
        NoCollection,
        InvalidRecord,
        KeyringSealed,
    ))]
pub async fn create_record(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath((tenant, name)): ApiPath<(Uuid, String)>,
    ApiJson(body): ApiJson<RecordWrite>,
) -> Result<Response, Problem> {
    let created = state
        .core
        .create_record(&actor, &ctx, TenantId(tenant), &name, record_write(body))
        .await?;
    let location = format!(
        "/api/v1/tenants/{tenant}/vault/collections/{name}/records/{}",
        created.id
    );
    let location = HeaderValue::from_str(&location).map_err(|_| Problem::internal())?;
    Ok((
        StatusCode::CREATED,
        [
            (header::ETAG, etag(created.version)?),
            (header::LOCATION, location),
        ],
        Json(RecordRef {
            id: created.id,
            version: created.version,
        }),
    )
        .into_response())
}

/// A page of the collection's records, in id order, as the caller sees
/// them: each field in clear, masked or left out by its class. Needs
/// `vault.read.internal`; sensitive fields in clear need a `purpose`.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/vault/collections/{collection}/records", tag = "vault",
    params(
        ("tenant" = Uuid, Path, description = "The tenant"),
        ("collection" = String, Path, description = "The collection's name"),
        RecordListQuery,
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of records", body = RecordPage),
        NoValidCredential,
        ReadRefused,
        NoCollection,
        InvalidReadOption,
        KeyringSealed,
    ))]
pub async fn list_records(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath((tenant, name)): ApiPath<(Uuid, String)>,
    ApiQuery(query): ApiQuery<RecordListQuery>,
) -> Result<Json<RecordPage>, Problem> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::invalid_field(
            "limit",
            format!("expected 1 to {MAX_PAGE}"),
        ));
    }
    let options = read_options(
        split_fields(query.fields.as_deref()),
        query.purpose.as_deref(),
    )?;
    let page = state
        .core
        .list_records(
            &actor,
            &ctx,
            TenantId(tenant),
            &name,
            query.after,
            limit,
            options,
        )
        .await?;
    Ok(Json(RecordPage {
        records: page.records.into_iter().map(record_view).collect(),
        next: page.next,
    }))
}

/// One record as the caller sees it, with its version as `ETag`. Needs
/// `vault.read.internal`; sensitive fields in clear need a `purpose`.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/vault/collections/{collection}/records/{record}", tag = "vault",
    params(
        ("tenant" = Uuid, Path, description = "The tenant"),
        ("collection" = String, Path, description = "The collection's name"),
        ("record" = Uuid, Path, description = "The record"),
        RecordQuery,
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The record", body = Record,
            headers(("ETag" = String, description = "The record's version, `\"<version>\"`, for If-Match"))),
        NoValidCredential,
        ReadRefused,
        NoRecord,
        InvalidReadOption,
        KeyringSealed,
    ))]
pub async fn read_record(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath((tenant, name, id)): ApiPath<(Uuid, String, Uuid)>,
    ApiQuery(query): ApiQuery<RecordQuery>,
) -> Result<Response, Problem> {
    let options = read_options(
        split_fields(query.fields.as_deref()),
        query.purpose.as_deref(),
    )?;
    let record = state
        .core
        .read_record(&actor, &ctx, TenantId(tenant), &name, id, options)
        .await?;
    let tag = etag(record.version)?;
    Ok(([(header::ETAG, tag)], Json(record_view(record))).into_response())
}

/// Replaces a record's values, only at the version its writer read:
/// `If-Match: "<version>"` is required (428 without it, 412 when stale).
/// Needs `vault.record.write`.
#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/vault/collections/{collection}/records/{record}", tag = "vault",
    params(
        ("tenant" = Uuid, Path, description = "The tenant"),
        ("collection" = String, Path, description = "The collection's name"),
        ("record" = Uuid, Path, description = "The record"),
        ("If-Match" = String, Header, description = "The version read, as its `ETag` gave it: `\"<version>\"`"),
    ),
    request_body = RecordWrite,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The record's new version", body = RecordRef,
            headers(("ETag" = String, description = "The record's new version"))),
        NoValidCredential,
        (status = 403, description = "No vault.record.write in the tenant", body = Problem, content_type = "application/problem+json"),
        NoRecord,
        StaleVersion,
        InvalidRecord,
        (status = 428, description = "No If-Match header (precondition-required): read the record, then send its ETag", body = Problem, content_type = "application/problem+json"),
        KeyringSealed,
    ))]
pub async fn update_record(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath((tenant, name, id)): ApiPath<(Uuid, String, Uuid)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RecordWrite>,
) -> Result<Response, Problem> {
    let Some(expected) = if_match(&headers)? else {
        return Err(Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "Precondition required",
            "a record is replaced only at the version its writer read: send If-Match with the ETag its read answered, such as If-Match: \"3\"",
        ));
    };
    let updated = state
        .core
        .update_record(
            &actor,
            &ctx,
            TenantId(tenant),
            &name,
            id,
            expected,
            record_write(body),
        )
        .await?;
    let tag = etag(updated.version)?;
    let body = RecordRef {
        id: updated.id,
        version: updated.version,
    };
    Ok(([(header::ETAG, tag)], Json(body)).into_response())
}

/// Deletes a record, its values and its index entries; with `If-Match`,
/// only at that version. Needs `vault.record.delete`.
#[utoipa::path(delete, path = "/api/v1/tenants/{tenant}/vault/collections/{collection}/records/{record}", tag = "vault",
    params(
        ("tenant" = Uuid, Path, description = "The tenant"),
        ("collection" = String, Path, description = "The collection's name"),
        ("record" = Uuid, Path, description = "The record"),
        ("If-Match" = Option<String>, Header, description = "Delete only at this version, `\"<version>\"`"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Deleted"),
        NoValidCredential,
        (status = 403, description = "No vault.record.delete in the tenant", body = Problem, content_type = "application/problem+json"),
        NoRecord,
        StaleVersion,
        (status = 422, description = "If-Match is not an entity tag this server gave (invalid-field)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_record(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath((tenant, name, id)): ApiPath<(Uuid, String, Uuid)>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let expected = if_match(&headers)?;
    state
        .core
        .delete_record(&actor, &ctx, TenantId(tenant), &name, id, expected)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The records whose searchable field equals a value, through the field's
/// blind index. The value travels in the body, never in a URL. Needs
/// `vault.search`; sensitive fields in clear need a `purpose`.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/vault/collections/{collection}/search", tag = "vault",
    params(
        ("tenant" = Uuid, Path, description = "The tenant"),
        ("collection" = String, Path, description = "The collection's name"),
    ),
    request_body = SearchRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The records found, as the caller sees them", body = RecordList),
        NoValidCredential,
        (status = 403, description = "No vault.search in the tenant (forbidden), or sensitive fields would be shown in clear without a purpose (purpose-required)", body = Problem, content_type = "application/problem+json"),
        NoCollection,
        (status = 422, description = "The field is not searchable (not-searchable), the value does not fit it (invalid-record), or a read option is not valid (invalid-field)", body = Problem, content_type = "application/problem+json"),
        KeyringSealed,
    ))]
pub async fn search(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath((tenant, name)): ApiPath<(Uuid, String)>,
    ApiJson(body): ApiJson<SearchRequest>,
) -> Result<Json<RecordList>, Problem> {
    let options = read_options(body.fields, body.purpose.as_deref())?;
    let found = state
        .core
        .search_records(
            &actor,
            &ctx,
            TenantId(tenant),
            &name,
            &body.field,
            &body.value,
            options,
        )
        .await?;
    Ok(Json(RecordList {
        records: found.into_iter().map(record_view).collect(),
    }))
}

/// Erases everything held about a data subject: its records, index
/// entries and tokens, and its data key is destroyed (crypto-shredding),
/// so that no copy of its ciphertext opens again. A subject that is not
/// held answers alike. Needs `vault.subject.erase`.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/vault/subjects/erase", tag = "vault",
    params(("tenant" = Uuid, Path, description = "The tenant")),
    request_body = SubjectRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "What was destroyed", body = Disposal),
        NoValidCredential,
        (status = 403, description = "No vault.subject.erase in the tenant", body = Problem, content_type = "application/problem+json"),
        TenantNotFound,
        (status = 422, description = "Not a subject identifier: 1 to 200 characters, no control characters (invalid-subject)", body = Problem, content_type = "application/problem+json"),
        KeyringSealed,
    ))]
pub async fn erase_subject(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(tenant): ApiPath<Uuid>,
    ApiJson(body): ApiJson<SubjectRequest>,
) -> Result<Json<Disposal>, Problem> {
    let disposal = state
        .core
        .erase_subject(&actor, &ctx, TenantId(tenant), &body.subject)
        .await?;
    Ok(Json(disposal_view(disposal)))
}

/// Everything held about a data subject, every field in clear (audited
/// with the purpose `data_subject_request`). Needs
/// `vault.subject.export`.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/vault/subjects/export", tag = "vault",
    params(("tenant" = Uuid, Path, description = "The tenant")),
    request_body = SubjectRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The subject's records", body = SubjectExport),
        NoValidCredential,
        (status = 403, description = "No vault.subject.export in the tenant", body = Problem, content_type = "application/problem+json"),
        TenantNotFound,
        (status = 422, description = "Not a subject identifier: 1 to 200 characters, no control characters (invalid-subject)", body = Problem, content_type = "application/problem+json"),
        KeyringSealed,
    ))]
pub async fn export_subject(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(tenant): ApiPath<Uuid>,
    ApiJson(body): ApiJson<SubjectRequest>,
) -> Result<Json<SubjectExport>, Problem> {
    let export = state
        .core
        .export_subject(&actor, &ctx, TenantId(tenant), &body.subject)
        .await?;
    Ok(Json(SubjectExport {
        records: export.records.into_iter().map(record_view).collect(),
        exported_at: export.exported_at,
    }))
}

/// The tenant's disposal register, newest first: the evidence of its
/// erasures (control DS-6). Needs `vault.subject.erase`.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/vault/disposals", tag = "vault",
    params(("tenant" = Uuid, Path, description = "The tenant")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The disposals", body = DisposalList),
        NoValidCredential,
        (status = 403, description = "No vault.subject.erase in the tenant", body = Problem, content_type = "application/problem+json"),
        TenantNotFound,
    ))]
pub async fn disposals(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(tenant): ApiPath<Uuid>,
) -> Result<Json<DisposalList>, Problem> {
    let found = state.core.disposals(&actor, &ctx, TenantId(tenant)).await?;
    Ok(Json(DisposalList {
        disposals: found.into_iter().map(disposal_view).collect(),
    }))
}
