//! The store's one transaction type, generic over the engine, and the
//! sealed statement interface every domain's traits are written against.
//!
//! A domain (tenants, identity, keys, audit) declares its reads and its
//! writes as traits whose methods are provided: the SQL text and the row
//! mapping, written once, on [`SqlRead`] (run a statement, read its rows
//! through [`Columns`]) and [`SqlWrite`] (run a change). Both engines run
//! the same text (numbered `$n` parameters work on both). [`EngineTx`]
//! implements the two for every sqlx database that decodes and encodes the
//! store's types ([`Db`]); the engines (`sqlite.rs`, `postgres.rs`) only
//! open connections and transactions. No macro is involved.
//!
//! A read trait's methods can only read: [`SqlRead`] has no way to run a
//! change, and a read transaction ([`ReadTx`](crate::ReadTx)) has none of
//! the write traits. These two traits are public in a private module: no
//! caller outside the store can name them, so none can run SQL of its own.
//!
//! # The auth epoch moves in one place
//!
//! A change that can end or narrow what a cached authentication holds (a
//! revocation, a suspension, a session's new stage, a grant given or
//! taken, a tenant's access settings) marks its statement
//! [`Stmt::invalidates_auth`]. A transaction that ran a marked statement
//! moves the auth epoch once, in [`EngineTx::commit`], just before
//! committing, and returns only after outlasting every replica's lease on
//! the epoch (invariant 7, [`auth_lease`](crate::auth_lease)). Nothing else
//! moves it; a transaction dropped without committing moves nothing.

mod columns;
mod pool;
mod statement;
mod values;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Database, Encode, Executor, IntoArguments, Type};
use uuid::Uuid;

pub use columns::Columns;
pub use pool::{Backend, EngineStore, pool_options};
pub use statement::{Param, Stmt};
pub use values::{after_i64, lookup_i64, opt_to_micros, to_i64, to_micros, to_u64};

use crate::auth_lease::AuthLease;
use crate::{Engine, StoreError};

/// How many of a statement's rows the caller reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    All,
    /// The first row, if any (the rest are not read).
    First,
}

/// What [`SqlRead::fetch`] hands each row to.
pub type EachRow<'f> = dyn for<'r> FnMut(&'r dyn Columns) -> Result<(), StoreError> + Send + 'f;

/// Running statements that read. Sealed (module documentation).
#[async_trait]
pub trait SqlRead: Send {
    /// The engine, for the rare statement whose text differs.
    fn engine(&self) -> Engine;

    /// Runs `stmt` and hands each row read to `each`, in order.
    async fn fetch(
        &mut self,
        stmt: Stmt<'_>,
        rows: Rows,
        each: &mut EachRow<'_>,
    ) -> Result<(), StoreError>;
}

/// Running changes. Sealed (module documentation).
#[async_trait]
pub trait SqlWrite: SqlRead {
    /// Runs `stmt`; answers how many rows it changed.
    async fn execute(&mut self, stmt: Stmt<'_>) -> Result<u64, StoreError>;
}

/// A row mapping: reads a row's columns into a record.
pub trait RowMap<T>: Fn(&dyn Columns) -> Result<T, StoreError> + Send + Sync {}

impl<T, F: Fn(&dyn Columns) -> Result<T, StoreError> + Send + Sync> RowMap<T> for F {}

/// Rows mapped to records: what a domain's provided methods call.
pub trait Fetch: SqlRead {
    /// The rows asked for, each mapped by `map`.
    fn mapped<'a, T: Send + 'a>(
        &'a mut self,
        stmt: Stmt<'a>,
        rows: Rows,
        map: impl RowMap<T> + 'a,
    ) -> impl Future<Output = Result<Vec<T>, StoreError>> + Send + 'a {
        async move {
            let mut out = Vec::new();
            let mut each = |row: &dyn Columns| {
                out.push(map(row)?);
                Ok(())
            };
            self.fetch(stmt, rows, &mut each).await?;
            Ok(out)
        }
    }

    /// Every row.
    fn all<'a, T: Send + 'a>(
        &'a mut self,
        stmt: Stmt<'a>,
        map: impl RowMap<T> + 'a,
    ) -> impl Future<Output = Result<Vec<T>, StoreError>> + Send + 'a {
        self.mapped(stmt, Rows::All, map)
    }

    /// The first row, if there is one.
    fn optional<'a, T: Send + 'a>(
        &'a mut self,
        stmt: Stmt<'a>,
        map: impl RowMap<T> + 'a,
    ) -> impl Future<Output = Result<Option<T>, StoreError>> + Send + 'a {
        async move { Ok(self.mapped(stmt, Rows::First, map).await?.pop()) }
    }

    /// The first row, which must be there.
    fn one<'a, T: Send + 'a>(
        &'a mut self,
        stmt: Stmt<'a>,
        map: impl RowMap<T> + 'a,
    ) -> impl Future<Output = Result<T, StoreError>> + Send + 'a {
        async move {
            let row = self.optional(stmt, map).await?;
            row.ok_or_else(|| sqlx::Error::RowNotFound.into())
        }
    }
}

impl<S: SqlRead + ?Sized> Fetch for S {}

/// How many rows a change touched, whatever the engine.
pub trait RowsAffected {
    fn affected(&self) -> u64;
}

/// A sqlx database the store runs on: it binds the store's parameter
/// types, decodes its column types, and runs statements on a connection.
/// Implemented for every database that can (SQLite and PostgreSQL), so
/// that the rest of the store asks only `D: Db`.
pub trait Db: Database<Row: Columns> {
    /// Runs a change; answers how many rows it touched.
    fn run<'c>(
        conn: &'c mut Self::Connection,
        stmt: Stmt<'c>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 'c;

    /// A sqlx query of `stmt`'s text with its parameters bound.
    fn query(stmt: Stmt<'_>) -> sqlx::query::Query<'static, Self, Self::Arguments>;

    /// Runs a statement; answers its rows (at most one for [`Rows::First`]).
    fn rows<'c>(
        conn: &'c mut Self::Connection,
        stmt: Stmt<'c>,
        rows: Rows,
    ) -> impl Future<Output = Result<Vec<Self::Row>, StoreError>> + Send + 'c;
}

impl<D> Db for D
where
    D: Database<Row: Columns, QueryResult: RowsAffected>,
    D::Arguments: IntoArguments<D>,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> Option<bool>: Encode<'q, D> + Type<D>,
    for<'q> Option<i32>: Encode<'q, D> + Type<D>,
    for<'q> Option<i64>: Encode<'q, D> + Type<D>,
    for<'q> Option<&'q str>: Encode<'q, D> + Type<D>,
    for<'q> Option<&'q [u8]>: Encode<'q, D> + Type<D>,
    for<'q> Option<Uuid>: Encode<'q, D> + Type<D>,
{
    fn query(stmt: Stmt<'_>) -> sqlx::query::Query<'static, D, D::Arguments> {
        let (sql, params) = stmt.into_parts();
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for param in params {
            query = match param {
                Param::Bool(v) => query.bind(v),
                Param::I32(v) => query.bind(v),
                Param::I64(v) => query.bind(v),
                Param::Text(v) => query.bind(v.as_deref()),
                Param::Bytes(v) => query.bind(v.as_deref()),
                Param::Uuid(v) => query.bind(v),
            };
        }
        query
    }

    fn run<'c>(
        conn: &'c mut Self::Connection,
        stmt: Stmt<'c>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 'c {
        let query = D::query(stmt);
        async move { Ok(conn.execute(query).await?.affected()) }
    }

    fn rows<'c>(
        conn: &'c mut Self::Connection,
        stmt: Stmt<'c>,
        rows: Rows,
    ) -> impl Future<Output = Result<Vec<Self::Row>, StoreError>> + Send + 'c {
        let query = D::query(stmt);
        async move {
            Ok(match rows {
                Rows::All => conn.fetch_all(query).await?,
                Rows::First => conn.fetch_optional(query).await?.into_iter().collect(),
            })
        }
    }
}

/// The statement that moves the auth epoch: [`EngineTx::commit`] alone
/// runs it.
const MOVE_AUTH_EPOCH: &str = "UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1";

/// A transaction on one engine: every domain's reads and writes, and the
/// commit. Opened for reading, it is handed out only as a
/// [`ReadTx`](crate::ReadTx).
pub struct EngineTx<D: Database> {
    inner: sqlx::Transaction<'static, D>,
    engine: Engine,
    /// This replica's lease on the auth epoch.
    lease: Arc<AuthLease>,
    /// Whether a statement run here invalidates cached authentications:
    /// the commit moves the auth epoch.
    invalidates_auth: bool,
}

impl<D: Database> EngineTx<D> {
    pub(crate) fn new(
        inner: sqlx::Transaction<'static, D>,
        engine: Engine,
        lease: Arc<AuthLease>,
    ) -> Self {
        Self {
            inner,
            engine,
            lease,
            invalidates_auth: false,
        }
    }
}

impl<D: Db> EngineTx<D> {
    /// Commits. If the transaction invalidated cached authentications, it
    /// moves the auth epoch first, in the transaction, and returns once no
    /// replica can still trust a read of the epoch from before it
    /// (invariant 7): the one place the epoch moves (module documentation).
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        let Self {
            mut inner,
            lease,
            invalidates_auth,
            ..
        } = self;
        if invalidates_auth {
            D::run(&mut inner, Stmt::new(MOVE_AUTH_EPOCH)).await?;
        }
        inner.commit().await?;
        if invalidates_auth {
            lease.outlast().await;
        }
        Ok(())
    }
}

impl<D: Database> fmt::Debug for EngineTx<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineTx")
            .field("engine", &self.engine)
            .field("invalidates_auth", &self.invalidates_auth)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<D: Db> SqlRead for EngineTx<D> {
    fn engine(&self) -> Engine {
        self.engine
    }

    async fn fetch(
        &mut self,
        stmt: Stmt<'_>,
        rows: Rows,
        each: &mut EachRow<'_>,
    ) -> Result<(), StoreError> {
        let invalidates_auth = stmt.invalidates_auth_flag();
        for row in D::rows(&mut self.inner, stmt, rows).await? {
            each(&row)?;
        }
        self.invalidates_auth |= invalidates_auth;
        Ok(())
    }
}

#[async_trait]
impl<D: Db> SqlWrite for EngineTx<D> {
    async fn execute(&mut self, stmt: Stmt<'_>) -> Result<u64, StoreError> {
        let invalidates_auth = stmt.invalidates_auth_flag();
        let affected = D::run(&mut self.inner, stmt).await?;
        self.invalidates_auth |= invalidates_auth;
        Ok(affected)
    }
}
