//! The customer-data vault (controls DS-1, DS-2, DS-5, DS-6, NS-2): per
//! tenant, collections with a declared, versioned schema, and records
//! whose confidential and personal fields are sealed before they reach the
//! database. The class of each field decides who reads it in clear, who
//! sees it masked, whether a purpose must be stated, and how it is erased
//! (`docs/vault.md`).
//!
//! Every call passes the gate in the tenant's scope: the tenant must be in
//! the caller's sight (out of scope looks like not there, invariant 8),
//! then the call's permission is checked. Every read is audited, with the
//! fields it revealed and the stated purpose sealed in its details.

pub mod error;
mod records;
mod seal;
mod subjects;
pub(crate) mod view;

use rempart_model::vault::{CollectionName, Field, Schema, SchemaStep};
use rempart_model::{Action, Permission, Scope, Tenant, TenantId};
use rempart_store::{CollectionRow, ReadTx, SchemaRow, StoreError};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::kernel::actor::Actor;
use crate::kernel::context::RequestContext;
use crate::kernel::details::Details;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Cleared, Gate, Open};
use crate::kernel::target::Target;
use crate::service::Rempart;
use crate::vault::error::VaultError;

pub use records::{ReadOptions, RecordPage, RecordRef, RecordView, RecordWrite};
pub use subjects::{Disposal, SubjectExport};

/// A stored vault row that does not read back as written.
pub(crate) fn corrupt(what: &str) -> ServiceError {
    StoreError::Corrupt(what.to_owned()).into()
}

/// A collection and its current schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub id: Uuid,
    pub tenant: TenantId,
    pub name: CollectionName,
    pub schema: Schema,
    pub created_at: OffsetDateTime,
}

/// Opens a vault call on `tenant`: the tenant must be in the caller's
/// sight, then the caller must hold `permission` there.
async fn enter<M>(
    gate: Gate<'_, M, Open>,
    tenant: TenantId,
    permission: Permission,
) -> Result<(Gate<'_, M, Cleared>, Tenant), ServiceError> {
    let (gate, environment) = gate.tenant_in_sight(tenant).await?;
    let mut gate = gate
        .authorize(permission, &Scope::Tenant(tenant), Some(&environment))
        .await?;
    let found = gate.read().tenant(tenant).await?;
    let tenant = found.ok_or(ServiceError::TenantNotFound)?;
    Ok((gate, tenant))
}

/// The collection `name` of `tenant` and its current schema, or a recorded
/// refusal naming the unknown collection.
async fn collection_in<'a, M>(
    gate: Gate<'a, M, Cleared>,
    tenant: TenantId,
    name: &str,
) -> Result<(Gate<'a, M, Cleared>, Collection), ServiceError> {
    let mut gate = gate;
    let found = load_collection(gate.read(), tenant, name).await?;
    if let Some(collection) = found {
        return Ok((gate, collection));
    }
    let answer = VaultError::UnknownCollection {
        name: name.chars().take(64).collect(),
    };
    Err(gate.refuse("unknown collection", answer).await)
}

async fn load_collection(
    tx: &mut dyn ReadTx,
    tenant: TenantId,
    name: &str,
) -> Result<Option<Collection>, ServiceError> {
    let Some(row) = tx.vault_collection(tenant, name).await? else {
        return Ok(None);
    };
    let schema = tx
        .vault_schema(row.id, row.version)
        .await?
        .ok_or_else(|| corrupt("a collection's current schema is missing"))?;
    Ok(Some(collection_of(&row, &schema)?))
}

fn collection_of(row: &CollectionRow, schema: &SchemaRow) -> Result<Collection, ServiceError> {
    let fields: Vec<Field> = serde_json::from_str(&schema.fields)
        .map_err(|_| corrupt("a stored schema does not parse"))?;
    let name = CollectionName::parse(&row.name).map_err(|e| corrupt(&e.to_string()))?;
    Ok(Collection {
        id: row.id,
        tenant: row.tenant,
        name,
        schema: Schema {
            version: schema.version,
            fields,
        },
        created_at: row.created_at,
    })
}

fn schema_row(
    collection: Uuid,
    schema: &Schema,
    at: OffsetDateTime,
) -> Result<SchemaRow, ServiceError> {
    let fields = serde_json::to_string(&schema.fields)
        .map_err(|_| corrupt("a schema does not serialise"))?;
    Ok(SchemaRow {
        collection,
        version: schema.version,
        fields,
        created_at: at,
    })
}

impl Rempart {
    /// Declares a collection in `tenant`. Needs `vault.schema.manage`.
    pub async fn create_collection(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        name: CollectionName,
        fields: Vec<Field>,
    ) -> Result<Collection, ServiceError> {
        let schema = Schema::first(fields).map_err(VaultError::from)?;
        let call = Call::by(actor, ctx, Action::VaultCollectionCreate)
            .on(Target::VaultCollection(name.to_string()))
            .in_tenant(Some(tenant));
        let gate = self.kernel.write(call).await?;
        let (mut gate, _) = enter(gate, tenant, Permission::VaultSchemaManage).await?;
        if gate
            .read()
            .vault_collection(tenant, name.as_str())
            .await?
            .is_some()
        {
            return Err(VaultError::CollectionExists {
                name: name.to_string(),
            }
            .into());
        }
        let collection = Collection {
            id: self.kernel.clock.new_id(),
            tenant,
            name,
            schema,
            created_at: gate.now(),
        };
        let row = CollectionRow {
            id: collection.id,
            tenant,
            name: collection.name.to_string(),
            version: 1,
            created_at: collection.created_at,
        };
        let schema = schema_row(collection.id, &collection.schema, collection.created_at)?;
        gate.tx().insert_vault_collection(&row, &schema).await?;
        gate.details(schema_details(&collection.schema, None));
        gate.commit().await?;
        Ok(collection)
    }

    /// The collections of `tenant`. Needs `vault.read.internal` (a schema
    /// holds no customer data).
    pub async fn collections(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
    ) -> Result<Vec<Collection>, ServiceError> {
        let call = Call::by(actor, ctx, Action::VaultCollectionRead).in_tenant(Some(tenant));
        let gate = self.kernel.audited_read(call).await?;
        let (mut gate, _) = enter(gate, tenant, Permission::VaultReadInternal).await?;
        let rows = gate.read().vault_collections(tenant).await?;
        let mut collections = Vec::with_capacity(rows.len());
        for row in rows {
            let schema = gate
                .read()
                .vault_schema(row.id, row.version)
                .await?
                .ok_or_else(|| corrupt("a collection's current schema is missing"))?;
            collections.push(collection_of(&row, &schema)?);
        }
        gate.commit().await?;
        Ok(collections)
    }

    /// The collection `name` of `tenant`. Needs `vault.read.internal`.
    pub async fn collection(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        name: &str,
    ) -> Result<Collection, ServiceError> {
        let call = Call::by(actor, ctx, Action::VaultCollectionRead)
            .on(Target::VaultCollection(name.chars().take(64).collect()))
            .in_tenant(Some(tenant));
        let gate = self.kernel.audited_read(call).await?;
        let (gate, _) = enter(gate, tenant, Permission::VaultReadInternal).await?;
        let (gate, collection) = collection_in(gate, tenant, name).await?;
        gate.commit().await?;
        Ok(collection)
    }

    /// Changes the schema of the collection `name`: the steps apply to its
    /// current version, which must be `expected` when given. Needs
    /// `vault.schema.manage`, and `vault.schema.downgrade` as well when a
    /// class goes down (then recorded as a high-severity event). Stored
    /// values of fields whose class crosses the encryption boundary are
    /// re-sealed or opened in the same transaction.
    pub async fn change_schema(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        name: &str,
        steps: Vec<SchemaStep>,
        expected: Option<u32>,
    ) -> Result<Collection, ServiceError> {
        let call = Call::by(actor, ctx, Action::VaultSchemaChange)
            .on(Target::VaultCollection(name.chars().take(64).collect()))
            .in_tenant(Some(tenant));
        let gate = self.kernel.write(call).await?;
        let (gate, found) = enter(gate, tenant, Permission::VaultSchemaManage).await?;
        let (mut gate, collection) = collection_in(gate, tenant, name).await?;
        let current = collection.schema.version;
        if let Some(expected) = expected
            && expected != current
        {
            return Err(VaultError::StaleSchema { expected, current }.into());
        }
        let change = collection.schema.apply(&steps).map_err(VaultError::from)?;
        if change.needs_downgrade() {
            let permission = Permission::VaultSchemaDowngrade;
            let held = actor.may(
                permission,
                &Scope::Tenant(tenant),
                Some(&found.environment),
                gate.now(),
            );
            let reason = "permission vault.schema.downgrade needed";
            gate = gate
                .ensure(held, reason, || ServiceError::Forbidden { permission })
                .await?;
            let downgrade = Call::by(actor, ctx, Action::VaultSchemaDowngrade)
                .on(Target::VaultCollection(collection.name.to_string()))
                .in_tenant(Some(tenant));
            let names: Vec<String> = change.downgraded.iter().map(ToString::to_string).collect();
            let details = Details::field("fields", names.join(","));
            gate.also(downgrade, rempart_model::Outcome::Success, Some(details));
        }
        let now = gate.now();
        let moved = gate
            .tx()
            .set_vault_collection_version(tenant, collection.id, current, change.next.version)
            .await?;
        if !moved {
            return Err(VaultError::StaleSchema {
                expected: current,
                current: current.saturating_add(1),
            }
            .into());
        }
        gate.tx()
            .insert_vault_schema(&schema_row(collection.id, &change.next, now)?)
            .await?;
        if !change.reencrypted.is_empty() {
            records::reseal_collection(&self.kernel, &mut gate, &found, &collection, &change.next)
                .await?;
        }
        gate.details(schema_details(&change.next, Some(current)));
        gate.commit().await?;
        Ok(Collection {
            schema: change.next,
            ..collection
        })
    }
}

/// The audit details of a schema version: field names, types and classes
/// (no customer data).
fn schema_details(schema: &Schema, previous: Option<u32>) -> Details {
    let fields: Vec<serde_json::Value> = schema
        .fields
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name.as_str(),
                "type": f.ty.as_str(),
                "class": f.class.as_str(),
                "deprecated": f.deprecated,
            })
        })
        .collect();
    let mut object = serde_json::Map::new();
    object.insert("version".into(), schema.version.into());
    if let Some(previous) = previous {
        object.insert("previous".into(), previous.into());
    }
    object.insert("fields".into(), fields.into());
    Details::new(&object)
}
