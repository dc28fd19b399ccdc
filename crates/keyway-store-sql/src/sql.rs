//! The bounds generic statements need, bundled: [`Sql`] holds for any sqlx database that can bind
//! and run what the statements use, so generic code states `B: Backend` (or `DB: Sql`) and nothing else (Rust
//! does not carry a trait's where-clauses over to its users, so they cannot live on the trait).

use crate::columns::Columns;
use keyway_domain::time::UnixMs;
use keyway_store::{StoreError, StoreResult};
use sqlx::pool::PoolConnection;
use sqlx::{Database, Encode, Executor, IntoArguments, Transaction, Type};
use std::future::Future;
use std::pin::Pin;

/// A statement with its arguments, on database `DB`.
pub type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>;

type Fut<'c, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// A connection of a backend's database (a transaction or a pooled connection derefs to one).
pub type Conn<B> = <<B as Backend>::Db as Database>::Connection;

/// A write transaction of a backend's database.
pub type Tx<B> = Transaction<'static, <B as Backend>::Db>;

/// A storage adapter as the shared statements see it: its database, the SQL fragments that differ,
/// and where reads and writes run.
pub trait Backend: Send + Sync + 'static {
    type Db: Sql;
    /// A key's columns, decoded by [`crate::rows::key`]; `FROM` [`crate::rows::KEY_FROM`].
    const KEY_COLUMNS: &'static str;
    /// An identity's columns (`FROM identities i`), decoded by [`crate::rows::identity`].
    const IDENTITY_COLUMNS: &'static str;
    /// A role's columns with its permissions (`FROM roles r`), decoded by [`crate::rows::role`].
    const ROLE_COLUMNS: &'static str;
    /// What a `SELECT` of a read-modify-write ends with to lock its rows until the transaction ends
    /// (empty where [`Backend::write_tx`] already holds the database's write lock).
    const FOR_UPDATE: &'static str;
    /// What a `SELECT` ends with to lock its rows but pass over rows another transaction holds, so
    /// that concurrent batch jobs (one per node) take disjoint rows (empty where
    /// [`Backend::write_tx`] already holds the database's write lock, which serializes them).
    const SKIP_LOCKED: &'static str;
    /// `LIKE` ignoring case (SQLite's own `LIKE` does, for ASCII: external ids are ASCII by the
    /// API's rules, and ids always are).
    const ILIKE: &'static str;
    /// What a `SELECT` ends with to keep the rows it read from being deleted (not changed) until
    /// the transaction ends, as an RBAC write does with the permissions and roles it links (empty
    /// where [`Backend::write_tx`] already holds the database's write lock).
    const KEY_SHARE: &'static str;

    /// A subquery of the texts of the JSON array bound at `param` (such as `$2`), for `IN (…)`.
    fn json_texts(param: &str) -> String;

    /// A connection for reads, which see the last committed state.
    fn read_conn(&self) -> impl Future<Output = StoreResult<PoolConnection<Self::Db>>> + Send;
    /// A transaction for a write, committed (with its audit events) by [`crate::audit::commit`].
    fn write_tx(&self) -> impl Future<Output = StoreResult<Tx<Self>>> + Send;
    /// Moves the last-used times of `table`'s rows forward (never back), for a batch of
    /// `(id, time)` in id order with each id once: a bulk write, which the databases spell apart.
    fn record_usage(
        &self,
        table: &'static str,
        usage: &[(&str, UnixMs)],
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A sqlx database that binds and runs everything the shared statements use.
pub trait Sql: Database<Row: Columns> {
    fn bind_text<'q>(q: Query<'q, Self>, v: Option<&'q str>) -> Query<'q, Self>;
    fn bind_string<'q>(q: Query<'q, Self>, v: Option<String>) -> Query<'q, Self>;
    fn bind_i64<'q>(q: Query<'q, Self>, v: Option<i64>) -> Query<'q, Self>;
    fn bind_i32<'q>(q: Query<'q, Self>, v: Option<i32>) -> Query<'q, Self>;
    fn bind_i16<'q>(q: Query<'q, Self>, v: Option<i16>) -> Query<'q, Self>;
    fn bind_bool<'q>(q: Query<'q, Self>, v: Option<bool>) -> Query<'q, Self>;
    fn bind_bytes<'q>(q: Query<'q, Self>, v: Option<&'q [u8]>) -> Query<'q, Self>;
    fn execute<'q: 'c, 'c>(q: Query<'q, Self>, c: &'c mut Self::Connection) -> Fut<'c, u64>;
    fn fetch_optional<'q: 'c, 'c>(q: Query<'q, Self>, c: &'c mut Self::Connection) -> Fut<'c, Option<Self::Row>>;
    fn fetch_all<'q: 'c, 'c>(q: Query<'q, Self>, c: &'c mut Self::Connection) -> Fut<'c, Vec<Self::Row>>;
}

impl<DB> Sql for DB
where
    DB: Database<Row: Columns>,
    DB::QueryResult: Affected,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i32>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i16>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<bool>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
{
    fn bind_text<'q>(q: Query<'q, Self>, v: Option<&'q str>) -> Query<'q, Self> {
        q.bind(v)
    }
    fn bind_string<'q>(q: Query<'q, Self>, v: Option<String>) -> Query<'q, Self> {
        q.bind(v)
    }
    fn bind_i64<'q>(q: Query<'q, Self>, v: Option<i64>) -> Query<'q, Self> {
        q.bind(v)
    }
    fn bind_i32<'q>(q: Query<'q, Self>, v: Option<i32>) -> Query<'q, Self> {
        q.bind(v)
    }
    fn bind_i16<'q>(q: Query<'q, Self>, v: Option<i16>) -> Query<'q, Self> {
        q.bind(v)
    }
    fn bind_bool<'q>(q: Query<'q, Self>, v: Option<bool>) -> Query<'q, Self> {
        q.bind(v)
    }
    fn bind_bytes<'q>(q: Query<'q, Self>, v: Option<&'q [u8]>) -> Query<'q, Self> {
        q.bind(v)
    }
    fn execute<'q: 'c, 'c>(q: Query<'q, Self>, c: &'c mut Self::Connection) -> Fut<'c, u64> {
        Box::pin(async move { Ok(q.execute(c).await?.rows()) })
    }
    fn fetch_optional<'q: 'c, 'c>(q: Query<'q, Self>, c: &'c mut Self::Connection) -> Fut<'c, Option<Self::Row>> {
        Box::pin(q.fetch_optional(c))
    }
    fn fetch_all<'q: 'c, 'c>(q: Query<'q, Self>, c: &'c mut Self::Connection) -> Fut<'c, Vec<Self::Row>> {
        Box::pin(q.fetch_all(c))
    }
}

/// How many rows a statement changed (sqlx reports it per database, not through `Database`).
pub trait Affected {
    fn rows(&self) -> u64;
}

#[cfg(feature = "sqlite")]
impl Affected for sqlx::sqlite::SqliteQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

#[cfg(feature = "postgres")]
impl Affected for sqlx::postgres::PgQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

/// A value a shared statement binds.
pub trait Value<'q>: 'q {
    fn bind_to<DB: Sql>(self, q: Query<'q, DB>) -> Query<'q, DB>;
}

macro_rules! values {
    ($($t:ty => $bind:ident $(via $conv:expr)?;)*) => {$(
        impl<'q> Value<'q> for $t {
            fn bind_to<DB: Sql>(self, q: Query<'q, DB>) -> Query<'q, DB> {
                DB::$bind(q, Some(self)$(.map($conv))?)
            }
        }
        impl<'q> Value<'q> for Option<$t> {
            fn bind_to<DB: Sql>(self, q: Query<'q, DB>) -> Query<'q, DB> {
                DB::$bind(q, self$(.map($conv))?)
            }
        }
    )*};
}

values! {
    &'q str => bind_text;
    &'q String => bind_text via String::as_str;
    String => bind_string;
    i64 => bind_i64;
    i32 => bind_i32;
    i16 => bind_i16;
    bool => bind_bool;
    &'q [u8] => bind_bytes;
    &'q Vec<u8> => bind_bytes via Vec::as_slice;
}

impl<'q> Value<'q> for &'q Option<String> {
    fn bind_to<DB: Sql>(self, q: Query<'q, DB>) -> Query<'q, DB> {
        DB::bind_text(q, self.as_deref())
    }
}

/// Binding for statements generic over the database (sqlx's own `bind` needs the concrete one).
pub trait Bind<'q> {
    fn arg(self, v: impl Value<'q>) -> Self;
}

impl<'q, DB: Sql> Bind<'q> for Query<'q, DB> {
    fn arg(self, v: impl Value<'q>) -> Self {
        v.bind_to(self)
    }
}

/// Running a statement generic over the database, with errors mapped by [`db`].
pub trait Run<'q, DB: Sql> {
    /// Runs it; the number of rows it changed.
    fn run<'c>(self, c: &'c mut DB::Connection) -> impl Future<Output = StoreResult<u64>> + Send + 'c
    where
        'q: 'c;
    fn optional<'c>(self, c: &'c mut DB::Connection) -> impl Future<Output = StoreResult<Option<DB::Row>>> + Send + 'c
    where
        'q: 'c;
    fn all<'c>(self, c: &'c mut DB::Connection) -> impl Future<Output = StoreResult<Vec<DB::Row>>> + Send + 'c
    where
        'q: 'c;
}

impl<'q, DB: Sql> Run<'q, DB> for Query<'q, DB> {
    fn run<'c>(self, c: &'c mut DB::Connection) -> impl Future<Output = StoreResult<u64>> + Send + 'c
    where
        'q: 'c,
    {
        let fut = DB::execute(self, c);
        async move { fut.await.map_err(db) }
    }
    fn optional<'c>(self, c: &'c mut DB::Connection) -> impl Future<Output = StoreResult<Option<DB::Row>>> + Send + 'c
    where
        'q: 'c,
    {
        let fut = DB::fetch_optional(self, c);
        async move { fut.await.map_err(db) }
    }
    fn all<'c>(self, c: &'c mut DB::Connection) -> impl Future<Output = StoreResult<Vec<DB::Row>>> + Send + 'c
    where
        'q: 'c,
    {
        let fut = DB::fetch_all(self, c);
        async move { fut.await.map_err(db) }
    }
}

/// Maps a sqlx error: a uniqueness violation is a `Conflict` the caller can act on (named by its
/// constraint where the database reports one), anything else a backend failure.
pub fn db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.constraint().map_or_else(|| d.message().to_owned(), str::to_owned))
        }
        // The pool had no connection to give within its acquire timeout: overload, not a fault.
        sqlx::Error::PoolTimedOut => StoreError::Unavailable,
        _ => StoreError::backend(e),
    }
}
