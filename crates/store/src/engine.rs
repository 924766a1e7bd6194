//! The one implementation of [`Store`](crate::Store) and [`Tx`](crate::Tx),
//! instantiated for each engine.
//!
//! Both engines run the same SQL text; what differs is passed in: how a
//! write transaction begins, and how the audit head is locked. Times are
//! stored as microseconds since the Unix epoch on both engines.

use time::OffsetDateTime;

use crate::StoreError;

pub(crate) fn to_micros(t: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(t.unix_timestamp_nanos() / 1_000)
        .map_err(|_| StoreError::corrupt("time out of range"))
}

pub(crate) fn from_micros(micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| StoreError::corrupt("time out of range"))
}

pub(crate) fn opt_from_micros(micros: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    micros.map(from_micros).transpose()
}

pub(crate) fn opt_to_micros(t: Option<OffsetDateTime>) -> Result<Option<i64>, StoreError> {
    t.map(to_micros).transpose()
}

pub(crate) fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::corrupt("sequence number out of range"))
}

/// A sequence number or size to look up: one no row can hold (above
/// `i64::MAX`) finds nothing, rather than being an error.
pub(crate) fn lookup_i64(n: u64) -> Option<i64> {
    i64::try_from(n).ok()
}

/// A lower bound ("after this seq"): past every row a column can hold, it
/// is the largest value the column can hold.
pub(crate) fn after_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::corrupt("negative count or sequence number"))
}

pub(crate) fn hash32(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| StoreError::corrupt("a stored hash is not 32 bytes"))
}

/// Generates the `Tx` implementation for one engine.
///
/// `$tx` is the transaction wrapper type, `$db` the sqlx database, and
/// `$lock_head` the statement that reads the audit head and holds it until
/// the transaction ends.
macro_rules! engine_impl {
    ($tx:ident, $db:ty, $lock_head:expr) => {
        /// A transaction on this engine.
        pub struct $tx {
            inner: sqlx::Transaction<'static, $db>,
            lease: std::sync::Arc<crate::auth_lease::AuthLease>,
            /// Whether this transaction moved the auth epoch.
            moved_epoch: bool,
        }

        impl $tx {
            fn new(
                inner: sqlx::Transaction<'static, $db>,
                lease: std::sync::Arc<crate::auth_lease::AuthLease>,
            ) -> Self {
                Self {
                    inner,
                    lease,
                    moved_epoch: false,
                }
            }

            /// Moves the auth epoch: every replica's cached authentications
            /// are read again once this commits ([`crate::auth_lease`]).
            async fn move_auth_epoch(&mut self) -> Result<(), StoreError> {
                sqlx::query("UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1")
                    .execute(&mut *self.inner)
                    .await?;
                self.moved_epoch = true;
                Ok(())
            }
        }

        impl std::fmt::Debug for $tx {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($tx))
            }
        }

        fn tenant_from_row(row: &<$db as sqlx::Database>::Row) -> Result<Tenant, StoreError> {
            use sqlx::Row as _;
            Ok(Tenant {
                id: TenantId(row.try_get("id")?),
                name: TenantName::parse(&row.try_get::<String, _>("name")?)
                    .map_err(StoreError::corrupt)?,
                region: Region::parse(&row.try_get::<String, _>("region")?)
                    .map_err(StoreError::corrupt)?,
                environment: Environment::parse(&row.try_get::<String, _>("environment")?)
                    .map_err(StoreError::corrupt)?,
                created_at: from_micros(row.try_get("created_at")?)?,
            })
        }

        fn token_from_row(row: &<$db as sqlx::Database>::Row) -> Result<TokenRecord, StoreError> {
            use sqlx::Row as _;
            Ok(TokenRecord {
                id: row.try_get("id")?,
                principal: PrincipalId(row.try_get("principal_id")?),
                hash: hash32(&row.try_get::<Vec<u8>, _>("token_hash")?)?,
                name: row.try_get("name")?,
                created_at: from_micros(row.try_get("created_at")?)?,
                expires_at: opt_from_micros(row.try_get("expires_at")?)?,
                revoked_at: opt_from_micros(row.try_get("revoked_at")?)?,
                last_used_at: opt_from_micros(row.try_get("last_used_at")?)?,
                tenant: row.try_get::<Option<Uuid>, _>("tenant_id")?.map(TenantId),
                permissions: row
                    .try_get::<Option<String>, _>("permissions")?
                    .map(|names| rempart_model::PermissionSet::parse(names.split_whitespace()))
                    .transpose()
                    .map_err(StoreError::corrupt)?,
                allow_list: row.try_get("allow_list")?,
            })
        }

        fn bootstrap_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<BootstrapRecord, StoreError> {
            use sqlx::Row as _;
            Ok(BootstrapRecord {
                id: row.try_get("id")?,
                hash: hash32(&row.try_get::<Vec<u8>, _>("secret_hash")?)?,
                created_at: from_micros(row.try_get("created_at")?)?,
                expires_at: from_micros(row.try_get("expires_at")?)?,
                used_at: opt_from_micros(row.try_get("used_at")?)?,
            })
        }

        fn audit_from_row(row: &<$db as sqlx::Database>::Row) -> Result<AuditRecord, StoreError> {
            use sqlx::Row as _;
            Ok(AuditRecord {
                seq: to_u64(row.try_get("seq")?)?,
                time: from_micros(row.try_get("time")?)?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                tenant: row.try_get("tenant_id")?,
                outcome: row.try_get("outcome")?,
                request_id: row.try_get("request_id")?,
                source: row.try_get("source")?,
                details: row.try_get("details")?,
                id: row.try_get("event_id")?,
                prev_hash: hash32(&row.try_get::<Vec<u8>, _>("prev_hash")?)?,
                hash: hash32(&row.try_get::<Vec<u8>, _>("hash")?)?,
            })
        }

        fn pending_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<crate::PendingAuditRecord, StoreError> {
            use sqlx::Row as _;
            Ok(crate::PendingAuditRecord {
                order: to_u64(row.try_get("id")?)?,
                id: row.try_get("event_id")?,
                time: from_micros(row.try_get("time")?)?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                tenant: row.try_get("tenant_id")?,
                outcome: row.try_get("outcome")?,
                request_id: row.try_get("request_id")?,
                source: row.try_get("source")?,
                details: row.try_get("details")?,
            })
        }

        fn push_tenant_filter(
            query: &mut sqlx::QueryBuilder<$db>,
            filter: &TenantFilter,
        ) {
            fn push_ids(query: &mut sqlx::QueryBuilder<$db>, ids: &[TenantId]) {
                if ids.is_empty() {
                    query.push("1 = 0");
                    return;
                }
                query.push("id IN (");
                let mut list = query.separated(", ");
                for id in ids {
                    list.push_bind(id.0);
                }
                query.push(")");
            }
            fn push_envs(query: &mut sqlx::QueryBuilder<$db>, envs: &[Environment]) {
                if envs.is_empty() {
                    query.push("1 = 0");
                    return;
                }
                query.push("environment IN (");
                let mut list = query.separated(", ");
                for env in envs {
                    list.push_bind(env.as_str().to_owned());
                }
                query.push(")");
            }
            match filter {
                TenantFilter::All => {}
                TenantFilter::Only(ids) => {
                    query.push(" WHERE ");
                    push_ids(query, ids);
                }
                TenantFilter::Environments(envs) => {
                    query.push(" WHERE ");
                    push_envs(query, envs);
                }
                TenantFilter::Union(ids, envs) => {
                    query.push(" WHERE (");
                    push_ids(query, ids);
                    query.push(") OR (");
                    push_envs(query, envs);
                    query.push(")");
                }
            }
        }

        #[async_trait]
        impl Tx for $tx {
            async fn commit(self: Box<Self>) -> Result<(), StoreError> {
                let Self {
                    inner,
                    lease,
                    moved_epoch,
                } = *self;
                inner.commit().await?;
                if moved_epoch {
                    // A revocation returns once no replica can still trust
                    // a read of the epoch from before it (invariant 7).
                    lease.outlast().await;
                }
                Ok(())
            }

            async fn insert_tenant(&mut self, tenant: &Tenant) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO tenants (id, name, name_key, region, environment, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(tenant.id.0)
                .bind(tenant.name.as_str())
                .bind(tenant.name.uniqueness_key())
                .bind(tenant.region.as_str())
                .bind(tenant.environment.as_str())
                .bind(to_micros(tenant.created_at)?)
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn insert_principal(
                &mut self,
                principal: &PrincipalRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO principals (id, name, name_key, state, created_at, kind, tenant_id, \
                     email, display_name, break_glass) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(principal.id.0)
                .bind(principal.name.as_str())
                .bind(principal.name.uniqueness_key())
                .bind(principal.state.as_str())
                .bind(to_micros(principal.created_at)?)
                .bind(principal.kind.as_str())
                .bind(principal.tenant.map(|t| t.0))
                .bind(principal.email.as_deref())
                .bind(principal.display_name.as_deref())
                .bind(principal.break_glass)
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn insert_grant(
                &mut self,
                id: Uuid,
                principal: PrincipalId,
                grant: &Grant,
                created_at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                use crate::identity::IdentityTx as _;
                self.insert_grant_record(&crate::identity::GrantRecord {
                    id,
                    principal,
                    grant: grant.clone(),
                    created_at,
                    granted_by: None,
                })
                .await
            }

            async fn insert_token(&mut self, token: &TokenRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO api_tokens (id, principal_id, token_hash, name, created_at, expires_at, \
                     revoked_at, last_used_at, tenant_id, permissions, allow_list) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(token.id)
                .bind(token.principal.0)
                .bind(token.hash.as_slice())
                .bind(token.name.as_str())
                .bind(to_micros(token.created_at)?)
                .bind(opt_to_micros(token.expires_at)?)
                .bind(opt_to_micros(token.revoked_at)?)
                .bind(opt_to_micros(token.last_used_at)?)
                .bind(token.tenant.map(|t| t.0))
                .bind(token.permissions.map(rempart_model::PermissionSet::to_names))
                .bind(token.allow_list.as_deref())
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn touch_token(&mut self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
                sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                    .bind(to_micros(at)?)
                    .bind(id)
                    .execute(&mut *self.inner)
                    .await?;
                Ok(())
            }

            async fn insert_bootstrap(&mut self, record: &BootstrapRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO bootstrap_credentials (id, secret_hash, created_at, expires_at, used_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(record.id)
                .bind(record.hash.as_slice())
                .bind(to_micros(record.created_at)?)
                .bind(to_micros(record.expires_at)?)
                .bind(opt_to_micros(record.used_at)?)
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn mark_bootstrap_used(
                &mut self,
                id: Uuid,
                at: OffsetDateTime,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE bootstrap_credentials SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
                )
                .bind(to_micros(at)?)
                .bind(id)
                .execute(&mut *self.inner)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn lock_audit_head(&mut self) -> Result<AuditHead, StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query($lock_head)
                    .fetch_one(&mut *self.inner)
                    .await?;
                Ok(AuditHead {
                    seq: to_u64(row.try_get("seq")?)?,
                    hash: hash32(&row.try_get::<Vec<u8>, _>("hash")?)?,
                })
            }

            async fn append_audit(&mut self, event: &AuditRecord) -> Result<(), StoreError> {
                let seq = to_i64(event.seq)?;
                sqlx::query(
                    "INSERT INTO audit_events (seq, time, actor, action, target, tenant_id, outcome, request_id, source, details, prev_hash, hash, event_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(seq)
                .bind(to_micros(event.time)?)
                .bind(event.actor.as_str())
                .bind(event.action.as_str())
                .bind(event.target.as_deref())
                .bind(event.tenant)
                .bind(event.outcome.as_str())
                .bind(event.request_id.as_deref())
                .bind(event.source.as_deref())
                .bind(event.details.as_deref())
                .bind(event.prev_hash.as_slice())
                .bind(event.hash.as_slice())
                .bind(event.id)
                .execute(&mut *self.inner)
                .await?;
                let moved = sqlx::query(
                    "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3",
                )
                .bind(seq)
                .bind(event.hash.as_slice())
                .bind(seq - 1)
                .execute(&mut *self.inner)
                .await?;
                if moved.rows_affected() == 1 {
                    Ok(())
                } else {
                    Err(StoreError::corrupt(
                        "the audit head moved during the transaction; it was not locked",
                    ))
                }
            }

            async fn insert_audit_pending(
                &mut self,
                event: &crate::PendingAuditRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO audit_pending (event_id, time, actor, action, target, tenant_id, outcome, request_id, source, details) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(event.id)
                .bind(to_micros(event.time)?)
                .bind(event.actor.as_str())
                .bind(event.action.as_str())
                .bind(event.target.as_deref())
                .bind(event.tenant)
                .bind(event.outcome.as_str())
                .bind(event.request_id.as_deref())
                .bind(event.source.as_deref())
                .bind(event.details.as_deref())
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn take_audit_pending(
                &mut self,
                limit: u32,
            ) -> Result<Vec<crate::PendingAuditRecord>, StoreError> {
                let rows = sqlx::query(
                    "DELETE FROM audit_pending WHERE id IN (SELECT id FROM audit_pending ORDER BY id LIMIT $1) \
                     RETURNING id, event_id, time, actor, action, target, tenant_id, outcome, request_id, source, details",
                )
                .bind(i64::from(limit))
                .fetch_all(&mut *self.inner)
                .await?;
                let mut out = rows
                    .iter()
                    .map(pending_from_row)
                    .collect::<Result<Vec<_>, StoreError>>()?;
                // RETURNING gives no order.
                out.sort_unstable_by_key(|p| p.order);
                Ok(out)
            }

            async fn append_audit_batch(&mut self, events: &[AuditRecord]) -> Result<(), StoreError> {
                let (Some(first), Some(last)) = (events.first(), events.last()) else {
                    return Ok(());
                };
                let before = to_i64(first.seq)? - 1;
                let last_seq = to_i64(last.seq)?;
                // At most 13 parameters a row: 64 rows stay far below both
                // engines' limits on bound parameters.
                for chunk in events.chunks(64) {
                    let mut rows = Vec::with_capacity(chunk.len());
                    for e in chunk {
                        rows.push((to_i64(e.seq)?, to_micros(e.time)?, e));
                    }
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO audit_events (seq, time, actor, action, target, tenant_id, outcome, request_id, source, details, prev_hash, hash, event_id) ",
                    );
                    query.push_values(rows, |mut row, (seq, time, e)| {
                        row.push_bind(seq)
                            .push_bind(time)
                            .push_bind(e.actor.clone())
                            .push_bind(e.action.clone())
                            .push_bind(e.target.clone())
                            .push_bind(e.tenant)
                            .push_bind(e.outcome.clone())
                            .push_bind(e.request_id.clone())
                            .push_bind(e.source.clone())
                            .push_bind(e.details.clone())
                            .push_bind(e.prev_hash.to_vec())
                            .push_bind(e.hash.to_vec())
                            .push_bind(e.id);
                    });
                    query.build().execute(&mut *self.inner).await?;
                }
                let moved = sqlx::query(
                    "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3",
                )
                .bind(last_seq)
                .bind(last.hash.as_slice())
                .bind(before)
                .execute(&mut *self.inner)
                .await?;
                if moved.rows_affected() == 1 {
                    Ok(())
                } else {
                    Err(StoreError::corrupt(
                        "the audit head moved during the transaction; it was not locked",
                    ))
                }
            }

            async fn insert_audit_nodes(
                &mut self,
                nodes: &[(u32, u64, [u8; 32])],
            ) -> Result<(), StoreError> {
                if nodes.is_empty() {
                    return Ok(());
                }
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO audit_nodes (level, idx, hash) ",
                );
                let mut bad = None;
                query.push_values(nodes, |mut row, (level, index, hash)| {
                    let index = to_i64(*index).unwrap_or_else(|e| {
                        bad = Some(e);
                        0
                    });
                    row.push_bind(i32::try_from(*level).unwrap_or(i32::MAX))
                        .push_bind(index)
                        .push_bind(hash.to_vec());
                });
                if let Some(e) = bad {
                    return Err(e);
                }
                query.build().execute(&mut *self.inner).await?;
                Ok(())
            }

            async fn insert_audit_checkpoint(
                &mut self,
                cp: &crate::CheckpointRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO audit_checkpoints (number, size, key_id, root, time, prev_hash, signature) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(to_i64(cp.number)?)
                .bind(to_i64(cp.size)?)
                .bind(cp.key_id.as_slice())
                .bind(cp.root.as_slice())
                .bind(to_micros(cp.time)?)
                .bind(cp.prev_hash.as_slice())
                .bind(cp.signature.as_slice())
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn insert_data_key(&mut self, key: &crate::DataKeyRecord) -> Result<bool, StoreError> {
                // Both unique keys (a tenant's purpose, and the system's
                // purpose) end in "do nothing": on PostgreSQL the insert
                // waits for a concurrent one of the same key and then yields
                // to it, instead of failing the transaction.
                let done = sqlx::query(
                    "INSERT INTO data_keys (id, tenant_id, environment, purpose, kek_version, wrapped, encryptions, created_at, rewrapped_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                )
                .bind(key.id.as_slice())
                .bind(key.tenant.map(|t| t.0))
                .bind(key.environment.as_str())
                .bind(key.purpose.as_str())
                .bind(i64::from(key.kek_version))
                .bind(key.wrapped.as_slice())
                .bind(to_i64(key.encryptions)?)
                .bind(to_micros(key.created_at)?)
                .bind(opt_to_micros(key.rewrapped_at)?)
                .execute(&mut *self.inner)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn record_audit_key(
                &mut self,
                key: &crate::AuditKeyRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO audit_keys (key_id, public_key, recorded_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING",
                )
                .bind(key.key_id.as_slice())
                .bind(key.public_key.as_slice())
                .bind(to_micros(key.recorded_at)?)
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn record_audit_key_certificate(
                &mut self,
                certificate: &crate::AuditKeyCertificateRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO audit_key_certificates (key_id, public_key, certified_by, certificate, recorded_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_id) DO NOTHING",
                )
                .bind(certificate.key_id.as_slice())
                .bind(certificate.public_key.as_slice())
                .bind(certificate.certified_by.as_slice())
                .bind(certificate.certificate.as_slice())
                .bind(to_micros(certificate.recorded_at)?)
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn set_data_key_encryptions(
                &mut self,
                id: &[u8; crate::DATA_KEY_ID_LEN],
                encryptions: u64,
            ) -> Result<(), StoreError> {
                sqlx::query("UPDATE data_keys SET encryptions = $1 WHERE id = $2")
                    .bind(to_i64(encryptions)?)
                    .bind(id.as_slice())
                    .execute(&mut *self.inner)
                    .await?;
                Ok(())
            }

            async fn update_wrapped_data_key(
                &mut self,
                id: &[u8; crate::DATA_KEY_ID_LEN],
                wrapped: &[u8],
                kek_version: u32,
                at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE data_keys SET wrapped = $1, kek_version = $2, rewrapped_at = $3 WHERE id = $4",
                )
                .bind(wrapped)
                .bind(i64::from(kek_version))
                .bind(to_micros(at)?)
                .bind(id.as_slice())
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn acquire_ship_lease(
                &mut self,
                sink: &str,
                holder: &str,
                now: OffsetDateTime,
                until: OffsetDateTime,
            ) -> Result<Option<crate::ShipCursor>, StoreError> {
                sqlx::query(
                    "INSERT INTO audit_shipping (sink, shipped_seq, shipped_checkpoint) \
                     VALUES ($1, 0, 0) ON CONFLICT (sink) DO NOTHING",
                )
                .bind(sink)
                .execute(&mut *self.inner)
                .await?;
                let taken = sqlx::query(
                    "UPDATE audit_shipping SET lease_holder = $1, lease_until = $2 \
                     WHERE sink = $3 AND (lease_holder IS NULL OR lease_holder = $1 \
                     OR lease_until IS NULL OR lease_until <= $4)",
                )
                .bind(holder)
                .bind(to_micros(until)?)
                .bind(sink)
                .bind(to_micros(now)?)
                .execute(&mut *self.inner)
                .await?;
                if taken.rows_affected() != 1 {
                    return Ok(None);
                }
                self.ship_cursor(sink).await
            }

            async fn advance_ship_cursor(
                &mut self,
                sink: &str,
                holder: &str,
                from: (u64, u64),
                to: (u64, u64),
                now: OffsetDateTime,
            ) -> Result<bool, StoreError> {
                let moved = sqlx::query(
                    "UPDATE audit_shipping SET shipped_seq = $1, shipped_checkpoint = $2, shipped_at = $3 \
                     WHERE sink = $4 AND lease_holder = $5 AND shipped_seq = $6 AND shipped_checkpoint = $7",
                )
                .bind(to_i64(to.0)?)
                .bind(to_i64(to.1)?)
                .bind(to_micros(now)?)
                .bind(sink)
                .bind(holder)
                .bind(to_i64(from.0)?)
                .bind(to_i64(from.1)?)
                .execute(&mut *self.inner)
                .await?;
                Ok(moved.rows_affected() == 1)
            }

            async fn release_ship_lease(
                &mut self,
                sink: &str,
                holder: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE audit_shipping SET lease_holder = NULL, lease_until = NULL \
                     WHERE sink = $1 AND lease_holder = $2",
                )
                .bind(sink)
                .bind(holder)
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn delete_data_keys_of_tenant(&mut self, tenant: TenantId) -> Result<u64, StoreError> {
                let done = sqlx::query("DELETE FROM data_keys WHERE tenant_id = $1")
                    .bind(tenant.0)
                    .execute(&mut *self.inner)
                    .await?;
                Ok(done.rows_affected())
            }
        }

        #[async_trait]
        impl ReadTx for $tx {
            async fn list_tenants(
                &mut self,
                filter: &TenantFilter,
            ) -> Result<Vec<Tenant>, StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, name, region, environment, created_at FROM tenants",
                );
                push_tenant_filter(&mut query, filter);
                query.push(" ORDER BY name_key");
                let rows = query.build().fetch_all(&mut *self.inner).await?;
                rows.iter().map(tenant_from_row).collect()
            }

            async fn count_tenants(&mut self) -> Result<u64, StoreError> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
                    .fetch_one(&mut *self.inner)
                    .await?;
                to_u64(n)
            }

            async fn tenant(&mut self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, name, region, environment, created_at FROM tenants WHERE id = $1",
                )
                .bind(id.0)
                .fetch_optional(&mut *self.inner)
                .await?;
                row.as_ref().map(tenant_from_row).transpose()
            }

            async fn count_principals(&mut self) -> Result<u64, StoreError> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM principals")
                    .fetch_one(&mut *self.inner)
                    .await?;
                to_u64(n)
            }

            async fn principal(
                &mut self,
                id: PrincipalId,
            ) -> Result<Option<PrincipalRecord>, StoreError> {
                let row = sqlx::query(concat!("SELECT ", crate::identity::principal_columns!(), " FROM principals WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&mut *self.inner)
                    .await?;
                row.as_ref().map(principal_from_row).transpose()
            }

            async fn grants_of(&mut self, principal: PrincipalId) -> Result<Vec<Grant>, StoreError> {
                use crate::identity::IdentityReadTx as _;
                Ok(self
                    .grant_records_of(principal)
                    .await?
                    .into_iter()
                    .map(|record| record.grant)
                    .collect())
            }

            async fn token_by_hash(
                &mut self,
                hash: &[u8; 32],
            ) -> Result<Option<TokenRecord>, StoreError> {
                let row = sqlx::query(concat!("SELECT ", crate::identity::token_columns!(), " FROM api_tokens WHERE token_hash = $1"))
                .bind(hash.as_slice())
                .fetch_optional(&mut *self.inner)
                .await?;
                row.as_ref().map(token_from_row).transpose()
            }

            async fn bootstrap_by_hash(
                &mut self,
                hash: &[u8; 32],
            ) -> Result<Option<BootstrapRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, secret_hash, created_at, expires_at, used_at \
                     FROM bootstrap_credentials WHERE secret_hash = $1",
                )
                .bind(hash.as_slice())
                .fetch_optional(&mut *self.inner)
                .await?;
                row.as_ref().map(bootstrap_from_row).transpose()
            }

            async fn latest_bootstrap(&mut self) -> Result<Option<BootstrapRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, secret_hash, created_at, expires_at, used_at \
                     FROM bootstrap_credentials ORDER BY created_at DESC LIMIT 1",
                )
                .fetch_optional(&mut *self.inner)
                .await?;
                row.as_ref().map(bootstrap_from_row).transpose()
            }

            async fn audit_pending(
                &mut self,
                limit: u32,
            ) -> Result<Vec<crate::PendingAuditRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, event_id, time, actor, action, target, tenant_id, outcome, request_id, source, details \
                     FROM audit_pending ORDER BY id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&mut *self.inner)
                .await?;
                rows.iter().map(pending_from_row).collect()
            }

            async fn audit_events(
                &mut self,
                after_seq: u64,
                limit: u32,
            ) -> Result<Vec<AuditRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT seq, time, actor, action, target, tenant_id, outcome, request_id, source, details, event_id, prev_hash, hash \
                     FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(crate::engine::after_i64(after_seq))
                .bind(i64::from(limit))
                .fetch_all(&mut *self.inner)
                .await?;
                rows.iter().map(audit_from_row).collect()
            }

            async fn audit_event_hashes(
                &mut self,
                seqs: &[u64],
            ) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
                use sqlx::Row as _;
                let mut out = Vec::with_capacity(seqs.len());
                // Chunks of 32: few distinct statement texts to prepare.
                for chunk in seqs.chunks(32) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT seq, hash FROM audit_events WHERE seq IN (",
                    );
                    let mut list = query.separated(", ");
                    for seq in chunk {
                        list.push_bind(to_i64(*seq)?);
                    }
                    query.push(")");
                    for row in query.build().fetch_all(&mut *self.inner).await? {
                        out.push((
                            to_u64(row.try_get("seq")?)?,
                            hash32(&row.try_get::<Vec<u8>, _>("hash")?)?,
                        ));
                    }
                }
                Ok(out)
            }

            async fn audit_nodes(
                &mut self,
                keys: &[(u32, u64)],
            ) -> Result<Vec<(u32, u64, [u8; 32])>, StoreError> {
                use sqlx::Row as _;
                let mut out = Vec::with_capacity(keys.len());
                for chunk in keys.chunks(200) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT level, idx, hash FROM audit_nodes WHERE ",
                    );
                    let mut first = true;
                    for (level, index) in chunk {
                        if !first {
                            query.push(" OR ");
                        }
                        first = false;
                        query
                            .push("(level = ")
                            .push_bind(i32::try_from(*level).unwrap_or(i32::MAX))
                            .push(" AND idx = ")
                            .push_bind(to_i64(*index)?)
                            .push(")");
                    }
                    let rows = query.build().fetch_all(&mut *self.inner).await?;
                    for row in &rows {
                        let level: i32 = row.try_get("level")?;
                        out.push((
                            u32::try_from(level)
                                .map_err(|_| StoreError::corrupt("negative Merkle level"))?,
                            to_u64(row.try_get("idx")?)?,
                            hash32(&row.try_get::<Vec<u8>, _>("hash")?)?,
                        ));
                    }
                }
                Ok(out)
            }

            async fn audit_event(
                &mut self,
                seq: u64,
            ) -> Result<Option<AuditRecord>, StoreError> {
                let Some(seq) = crate::engine::lookup_i64(seq) else {
                    return Ok(None);
                };
                let row = sqlx::query(
                    "SELECT seq, time, actor, action, target, tenant_id, outcome, request_id, source, details, event_id, prev_hash, hash \
                     FROM audit_events WHERE seq = $1",
                )
                .bind(seq)
                .fetch_optional(&mut *self.inner)
                .await?;
                row.as_ref().map(audit_from_row).transpose()
            }

            async fn latest_audit_key(
                &mut self,
            ) -> Result<Option<crate::AuditKeyRecord>, StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query(
                    "SELECT key_id, public_key, recorded_at FROM audit_keys \
                     ORDER BY recorded_at DESC, key_id DESC LIMIT 1",
                )
                .fetch_optional(&mut *self.inner)
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let key_id: Vec<u8> = row.try_get("key_id")?;
                Ok(Some(crate::AuditKeyRecord {
                    key_id: <[u8; 8]>::try_from(key_id.as_slice())
                        .map_err(|_| StoreError::corrupt("a stored key id is not 8 bytes"))?,
                    public_key: hash32(&row.try_get::<Vec<u8>, _>("public_key")?)?,
                    recorded_at: from_micros(row.try_get("recorded_at")?)?,
                }))
            }

            async fn audit_key(
                &mut self,
                key_id: [u8; 8],
            ) -> Result<Option<crate::AuditKeyRecord>, StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query(
                    "SELECT public_key, recorded_at FROM audit_keys WHERE key_id = $1",
                )
                .bind(key_id.as_slice())
                .fetch_optional(&mut *self.inner)
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                Ok(Some(crate::AuditKeyRecord {
                    key_id,
                    public_key: hash32(&row.try_get::<Vec<u8>, _>("public_key")?)?,
                    recorded_at: from_micros(row.try_get("recorded_at")?)?,
                }))
            }

            async fn audit_key_certificates(
                &mut self,
            ) -> Result<Vec<crate::AuditKeyCertificateRecord>, StoreError> {
                use sqlx::Row as _;
                let rows = sqlx::query(
                    "SELECT key_id, public_key, certified_by, certificate, recorded_at \
                     FROM audit_key_certificates ORDER BY recorded_at, key_id",
                )
                .fetch_all(&mut *self.inner)
                .await?;
                let id8 = |bytes: Vec<u8>| {
                    <[u8; 8]>::try_from(bytes.as_slice())
                        .map_err(|_| StoreError::corrupt("a stored key id is not 8 bytes"))
                };
                rows.iter()
                    .map(|row| {
                        Ok(crate::AuditKeyCertificateRecord {
                            key_id: id8(row.try_get("key_id")?)?,
                            public_key: hash32(&row.try_get::<Vec<u8>, _>("public_key")?)?,
                            certified_by: id8(row.try_get("certified_by")?)?,
                            certificate: row.try_get("certificate")?,
                            recorded_at: from_micros(row.try_get("recorded_at")?)?,
                        })
                    })
                    .collect()
            }

            async fn last_audit_checkpoint(
                &mut self,
            ) -> Result<Option<crate::CheckpointRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT number, size, key_id, root, time, prev_hash, signature \
                     FROM audit_checkpoints ORDER BY number DESC LIMIT 1",
                )
                .fetch_optional(&mut *self.inner)
                .await?;
                row.as_ref().map($tx::checkpoint_from_row).transpose()
            }

            async fn audit_checkpoints(
                &mut self,
                after_number: u64,
                limit: u32,
            ) -> Result<Vec<crate::CheckpointRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT number, size, key_id, root, time, prev_hash, signature \
                     FROM audit_checkpoints WHERE number > $1 ORDER BY number LIMIT $2",
                )
                .bind(to_i64(after_number)?)
                .bind(i64::from(limit))
                .fetch_all(&mut *self.inner)
                .await?;
                rows.iter().map($tx::checkpoint_from_row).collect()
            }

            async fn audit_checkpoint_of_size(
                &mut self,
                size: u64,
            ) -> Result<Option<crate::CheckpointRecord>, StoreError> {
                let Some(size) = crate::engine::lookup_i64(size) else {
                    return Ok(None);
                };
                let row = sqlx::query(
                    "SELECT number, size, key_id, root, time, prev_hash, signature \
                     FROM audit_checkpoints WHERE size = $1",
                )
                .bind(size)
                .fetch_optional(&mut *self.inner)
                .await?;
                row.as_ref().map($tx::checkpoint_from_row).transpose()
            }

            async fn search_audit(
                &mut self,
                q: &crate::AuditQuery,
                scope: &TenantFilter,
            ) -> Result<Vec<AuditRecord>, StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "SELECT seq, time, actor, action, target, tenant_id, outcome, request_id, source, details, event_id, prev_hash, hash \
                     FROM audit_events WHERE seq > ",
                );
                query.push_bind(crate::engine::after_i64(q.after_seq));
                if let Some(since) = q.since {
                    query.push(" AND time >= ").push_bind(to_micros(since)?);
                }
                if let Some(until) = q.until {
                    query.push(" AND time < ").push_bind(to_micros(until)?);
                }
                if let Some(actor) = &q.actor {
                    query.push(" AND actor = ").push_bind(actor.clone());
                }
                if let Some(action) = &q.action {
                    query.push(" AND action = ").push_bind(action.clone());
                }
                if let Some(tenant) = q.tenant {
                    query.push(" AND tenant_id = ").push_bind(tenant);
                }
                if let Some(outcome) = &q.outcome {
                    query.push(" AND outcome = ").push_bind(outcome.clone());
                }
                // The caller's scope, in the query itself (invariant 2).
                let push_ids = |query: &mut sqlx::QueryBuilder<$db>, ids: &[TenantId]| {
                    if ids.is_empty() {
                        query.push("1 = 0");
                        return;
                    }
                    query.push("tenant_id IN (");
                    let mut list = query.separated(", ");
                    for id in ids {
                        list.push_bind(id.0);
                    }
                    query.push(")");
                };
                let push_envs = |query: &mut sqlx::QueryBuilder<$db>, envs: &[Environment]| {
                    if envs.is_empty() {
                        query.push("1 = 0");
                        return;
                    }
                    query.push("tenant_id IN (SELECT id FROM tenants WHERE environment IN (");
                    let mut list = query.separated(", ");
                    for env in envs {
                        list.push_bind(env.as_str().to_owned());
                    }
                    query.push("))");
                };
                match scope {
                    TenantFilter::All => {}
                    TenantFilter::Only(ids) => {
                        query.push(" AND ");
                        push_ids(&mut query, ids);
                    }
                    TenantFilter::Environments(envs) => {
                        query.push(" AND ");
                        push_envs(&mut query, envs);
                    }
                    TenantFilter::Union(ids, envs) => {
                        query.push(" AND ((");
                        push_ids(&mut query, ids);
                        query.push(") OR (");
                        push_envs(&mut query, envs);
                        query.push("))");
                    }
                }
                query.push(" ORDER BY seq LIMIT ").push_bind(i64::from(q.limit));
                let rows = query.build().fetch_all(&mut *self.inner).await?;
                rows.iter().map(audit_from_row).collect()
            }

            async fn data_key_for(
                &mut self,
                tenant: TenantId,
                purpose: &str,
            ) -> Result<Option<crate::DataKeyRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, tenant_id, environment, purpose, kek_version, wrapped, encryptions, created_at, rewrapped_at \
                     FROM data_keys WHERE tenant_id = $1 AND purpose = $2",
                )
                .bind(tenant.0)
                .bind(purpose)
                .fetch_optional(&mut *self.inner)
                .await?;
                row.as_ref().map(data_key_from_row).transpose()
            }

            async fn system_data_key_for(
                &mut self,
                purpose: &str,
            ) -> Result<Option<crate::DataKeyRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, tenant_id, environment, purpose, kek_version, wrapped, encryptions, created_at, rewrapped_at \
                     FROM data_keys WHERE tenant_id IS NULL AND purpose = $1",
                )
                .bind(purpose)
                .fetch_optional(&mut *self.inner)
                .await?;
                row.as_ref().map(data_key_from_row).transpose()
            }

            async fn system_data_key_by_id(
                &mut self,
                id: &[u8; crate::DATA_KEY_ID_LEN],
            ) -> Result<Option<crate::DataKeyRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, tenant_id, environment, purpose, kek_version, wrapped, encryptions, created_at, rewrapped_at \
                     FROM data_keys WHERE tenant_id IS NULL AND id = $1",
                )
                .bind(id.as_slice())
                .fetch_optional(&mut *self.inner)
                .await?;
                row.as_ref().map(data_key_from_row).transpose()
            }

            async fn data_key_by_id(
                &mut self,
                tenant: TenantId,
                id: &[u8; crate::DATA_KEY_ID_LEN],
            ) -> Result<Option<crate::DataKeyRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, tenant_id, environment, purpose, kek_version, wrapped, encryptions, created_at, rewrapped_at \
                     FROM data_keys WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.0)
                .bind(id.as_slice())
                .fetch_optional(&mut *self.inner)
                .await?;
                row.as_ref().map(data_key_from_row).transpose()
            }

            async fn data_keys_to_rewrap(
                &mut self,
                environment: &str,
                below_version: u32,
                after: Option<&[u8; crate::DATA_KEY_ID_LEN]>,
                limit: u32,
            ) -> Result<Vec<crate::DataKeyRecord>, StoreError> {
                let after: &[u8] = after.map_or(&[], |a| a.as_slice());
                let rows = sqlx::query(
                    "SELECT id, tenant_id, environment, purpose, kek_version, wrapped, encryptions, created_at, rewrapped_at \
                     FROM data_keys WHERE environment = $1 AND kek_version < $2 AND id > $3 ORDER BY id LIMIT $4",
                )
                .bind(environment)
                .bind(i64::from(below_version))
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&mut *self.inner)
                .await?;
                rows.iter().map(data_key_from_row).collect()
            }

            async fn audit_head(&mut self) -> Result<AuditHead, StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
                    .fetch_one(&mut *self.inner)
                    .await?;
                Ok(AuditHead {
                    seq: to_u64(row.try_get("seq")?)?,
                    hash: hash32(&row.try_get::<Vec<u8>, _>("hash")?)?,
                })
            }

            async fn data_key_versions(
                &mut self,
            ) -> Result<Vec<crate::DataKeyVersionCount>, StoreError> {
                use sqlx::Row as _;
                let rows = sqlx::query(
                    "SELECT environment, kek_version, COUNT(*) AS n FROM data_keys \
                     GROUP BY environment, kek_version ORDER BY environment, kek_version",
                )
                .fetch_all(&mut *self.inner)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(crate::DataKeyVersionCount {
                            environment: row.try_get("environment")?,
                            kek_version: u32::try_from(row.try_get::<i64, _>("kek_version")?)
                                .map_err(|_| StoreError::corrupt("KEK version out of range"))?,
                            data_keys: to_u64(row.try_get("n")?)?,
                        })
                    })
                    .collect()
            }

            async fn ship_cursor(
                &mut self,
                sink: &str,
            ) -> Result<Option<crate::ShipCursor>, StoreError> {
                use sqlx::Row as _;
                let Some(row) = sqlx::query(
                    "SELECT sink, shipped_seq, shipped_checkpoint, lease_holder, lease_until, shipped_at \
                     FROM audit_shipping WHERE sink = $1",
                )
                .bind(sink)
                .fetch_optional(&mut *self.inner)
                .await?
                else {
                    return Ok(None);
                };
                Ok(Some(crate::ShipCursor {
                    sink: row.try_get("sink")?,
                    shipped_seq: to_u64(row.try_get("shipped_seq")?)?,
                    shipped_checkpoint: to_u64(row.try_get("shipped_checkpoint")?)?,
                    lease_holder: row.try_get("lease_holder")?,
                    lease_until: opt_from_micros(row.try_get("lease_until")?)?,
                    shipped_at: opt_from_micros(row.try_get("shipped_at")?)?,
                }))
            }
        }

        impl $tx {
            fn checkpoint_from_row(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<crate::CheckpointRecord, StoreError> {
                use sqlx::Row as _;
                let key_id: Vec<u8> = row.try_get("key_id")?;
                Ok(crate::CheckpointRecord {
                    number: to_u64(row.try_get("number")?)?,
                    size: to_u64(row.try_get("size")?)?,
                    key_id: <[u8; 8]>::try_from(key_id.as_slice())
                        .map_err(|_| StoreError::corrupt("a stored key id is not 8 bytes"))?,
                    root: hash32(&row.try_get::<Vec<u8>, _>("root")?)?,
                    time: from_micros(row.try_get("time")?)?,
                    prev_hash: hash32(&row.try_get::<Vec<u8>, _>("prev_hash")?)?,
                    signature: row.try_get("signature")?,
                })
            }
        }

        fn data_key_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<crate::DataKeyRecord, StoreError> {
            use sqlx::Row as _;
            Ok(crate::DataKeyRecord {
                id: <[u8; crate::DATA_KEY_ID_LEN]>::try_from(row.try_get::<Vec<u8>, _>("id")?.as_slice())
                    .map_err(|_| StoreError::corrupt("a data key id is not 16 bytes"))?,
                tenant: row.try_get::<Option<uuid::Uuid>, _>("tenant_id")?.map(TenantId),
                environment: Environment::parse(&row.try_get::<String, _>("environment")?)
                    .map_err(StoreError::corrupt)?,
                purpose: row.try_get("purpose")?,
                kek_version: u32::try_from(row.try_get::<i64, _>("kek_version")?)
                    .map_err(|_| StoreError::corrupt("KEK version out of range"))?,
                wrapped: row.try_get("wrapped")?,
                encryptions: to_u64(row.try_get("encryptions")?)?,
                created_at: from_micros(row.try_get("created_at")?)?,
                rewrapped_at: opt_from_micros(row.try_get("rewrapped_at")?)?,
            })
        }
    };
}

pub(crate) use engine_impl;
