//! The analytics writer, written once for both databases: a batch's raw rows go in multi-row
//! INSERTs; its aggregates are first merged in Rust (grouped by bucket and dimensions), then the
//! stored rows they touch are read in bulk, merged with them (the latency histogram cannot be
//! merged in SQL), and written back with one multi-row upsert per chunk.
//!
//! The adapter runs [`write_events`] inside a transaction that holds its analytics write lock, so
//! the read-merge-write of an aggregate row never races another writer.

use crate::sql::{Bind, Query, Run, Sql};
use crate::{Columns, db};
use keyway_domain::analytics::{Granularity, LatencyHistogram, canonical_tags};
use keyway_store::{AnalyticsTable, RatelimitEvent, StoreError, StoreResult, VerificationEvent};
use std::collections::HashMap;
use std::fmt::Write;

/// What the analytics statements bind beyond [`Sql`]: floats, tag lists, and the bind limit.
pub trait AnalyticsDb: Sql {
    /// The most bind parameters one statement may carry.
    const MAX_BINDS: usize;
    /// Whether placeholders are numbered (`$1`); SQLite's anonymous `?` are bound by position,
    /// where numbered ones are looked up one by one, quadratic in a statement of thousands.
    const NUMBERED: bool;
    fn bind_f64<'q>(q: Query<'q, Self>, v: f64) -> Query<'q, Self>;
    /// A tag list as the `tags` column stores it (JSON text on SQLite, `TEXT[]` on PostgreSQL).
    fn bind_tags<'q>(q: Query<'q, Self>, tags: &'q [String]) -> Query<'q, Self>;
}

#[cfg(feature = "sqlite")]
impl AnalyticsDb for sqlx::Sqlite {
    // SQLITE_MAX_VARIABLE_NUMBER of the bundled SQLite.
    const MAX_BINDS: usize = 32_766;
    const NUMBERED: bool = false;
    fn bind_f64<'q>(q: Query<'q, Self>, v: f64) -> Query<'q, Self> {
        q.bind(v)
    }
    fn bind_tags<'q>(q: Query<'q, Self>, tags: &'q [String]) -> Query<'q, Self> {
        q.bind(serde_json::to_string(tags).expect("a list of strings serializes"))
    }
}

#[cfg(feature = "postgres")]
impl AnalyticsDb for sqlx::Postgres {
    // The wire protocol counts parameters in an i16.
    const MAX_BINDS: usize = 32_767;
    const NUMBERED: bool = true;
    fn bind_f64<'q>(q: Query<'q, Self>, v: f64) -> Query<'q, Self> {
        q.bind(v)
    }
    fn bind_tags<'q>(q: Query<'q, Self>, tags: &'q [String]) -> Query<'q, Self> {
        q.bind(tags)
    }
}

/// Rows per multi-row statement at most: past a few hundred, a longer statement saves nothing and
/// costs parse time.
const ROWS_PER_STATEMENT: usize = 500;

/// Writes a batch on `conn` (a transaction the caller commits).
pub async fn write_events<DB: AnalyticsDb>(
    conn: &mut DB::Connection,
    verifications: &[VerificationEvent],
    ratelimits: &[RatelimitEvent],
) -> StoreResult<()> {
    write_family::<DB, Verifications>(conn, verifications).await?;
    write_family::<DB, Ratelimits>(conn, ratelimits).await
}

/// Deletes the rows of `table` older than `cutoff`.
pub async fn delete_before<DB: AnalyticsDb>(
    conn: &mut DB::Connection,
    table: AnalyticsTable,
    cutoff: i64,
) -> StoreResult<u64> {
    let sql = format!("DELETE FROM {} WHERE time < $1", table.physical_name());
    sqlx::query::<DB>(&sql).arg(cutoff).run(conn).await
}

/// The grouping columns of one aggregate row: the bucket, the text dimensions, and for
/// verifications the canonical tag list.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Dims<'a> {
    time: i64,
    text: Vec<&'a str>,
    tags: Option<Vec<String>>,
}

/// An aggregate row's values: the additive columns and the latency histogram.
#[derive(Debug)]
struct Totals {
    sums: Vec<i64>,
    latency: LatencyHistogram,
}

/// One kind of event and its tables, as the generic writer needs it.
trait Family {
    type Event;
    /// Whether the aggregates group by `tags`.
    const TAGS: bool;
    const RAW_COLUMNS: &'static [&'static str];
    const TEXT_DIMS: &'static [&'static str];
    const SUMS: &'static [&'static str];
    fn table(granularity: Option<Granularity>) -> AnalyticsTable;
    fn bind_raw<'q, DB: AnalyticsDb>(q: Query<'q, DB>, e: &'q Self::Event) -> Query<'q, DB>;
    fn time(e: &Self::Event) -> i64;
    fn text_dims(e: &Self::Event) -> Vec<&str>;
    fn tags(e: &Self::Event) -> &[String];
    fn add_sums(e: &Self::Event, sums: &mut [i64]);
    fn latency(e: &Self::Event) -> f64;
}

struct Verifications;

impl Family for Verifications {
    type Event = VerificationEvent;
    const TAGS: bool = true;
    const RAW_COLUMNS: &'static [&'static str] = &[
        "request_id",
        "time",
        "workspace_id",
        "key_space_id",
        "identity_id",
        "external_id",
        "key_id",
        "region",
        "source",
        "outcome",
        "tags",
        "spent_credits",
        "latency",
    ];
    const TEXT_DIMS: &'static [&'static str] =
        &["workspace_id", "key_space_id", "identity_id", "external_id", "key_id", "outcome", "source"];
    const SUMS: &'static [&'static str] = &["count", "spent_credits"];

    fn table(granularity: Option<Granularity>) -> AnalyticsTable {
        AnalyticsTable::Verifications(granularity)
    }
    fn bind_raw<'q, DB: AnalyticsDb>(q: Query<'q, DB>, e: &'q VerificationEvent) -> Query<'q, DB> {
        let q = q
            .arg(&e.request_id)
            .arg(e.time)
            .arg(&e.workspace_id)
            .arg(&e.key_space_id)
            .arg(&e.identity_id)
            .arg(&e.external_id)
            .arg(&e.key_id)
            .arg(&e.region)
            .arg(&e.source)
            .arg(&e.outcome);
        DB::bind_f64(DB::bind_tags(q, &e.tags).arg(e.spent_credits), e.latency)
    }
    fn time(e: &VerificationEvent) -> i64 {
        e.time
    }
    fn text_dims(e: &VerificationEvent) -> Vec<&str> {
        vec![&e.workspace_id, &e.key_space_id, &e.identity_id, &e.external_id, &e.key_id, &e.outcome, &e.source]
    }
    fn tags(e: &VerificationEvent) -> &[String] {
        &e.tags
    }
    fn add_sums(e: &VerificationEvent, sums: &mut [i64]) {
        sums[0] += 1;
        sums[1] += e.spent_credits;
    }
    fn latency(e: &VerificationEvent) -> f64 {
        e.latency
    }
}

struct Ratelimits;

impl Family for Ratelimits {
    type Event = RatelimitEvent;
    const TAGS: bool = false;
    const RAW_COLUMNS: &'static [&'static str] = &[
        "request_id",
        "time",
        "workspace_id",
        "namespace_id",
        "identifier",
        "passed",
        "latency",
        "override_id",
        "\"limit\"",
        "remaining",
        "reset_at",
        "tokens",
    ];
    const TEXT_DIMS: &'static [&'static str] = &["workspace_id", "namespace_id", "identifier"];
    const SUMS: &'static [&'static str] = &["passed", "total", "passed_tokens", "total_tokens"];

    fn table(granularity: Option<Granularity>) -> AnalyticsTable {
        AnalyticsTable::Ratelimits(granularity)
    }
    fn bind_raw<'q, DB: AnalyticsDb>(q: Query<'q, DB>, e: &'q RatelimitEvent) -> Query<'q, DB> {
        let q =
            q.arg(&e.request_id).arg(e.time).arg(&e.workspace_id).arg(&e.namespace_id).arg(&e.identifier).arg(e.passed);
        DB::bind_f64(q, e.latency).arg(&e.override_id).arg(e.limit).arg(e.remaining).arg(e.reset_at).arg(e.tokens)
    }
    fn time(e: &RatelimitEvent) -> i64 {
        e.time
    }
    fn text_dims(e: &RatelimitEvent) -> Vec<&str> {
        vec![&e.workspace_id, &e.namespace_id, &e.identifier]
    }
    fn tags(_: &RatelimitEvent) -> &[String] {
        &[]
    }
    fn add_sums(e: &RatelimitEvent, sums: &mut [i64]) {
        let passed = i64::from(e.passed);
        sums[0] += passed;
        sums[1] += 1;
        sums[2] += passed * e.tokens;
        sums[3] += e.tokens;
    }
    fn latency(e: &RatelimitEvent) -> f64 {
        e.latency
    }
}

async fn write_family<DB: AnalyticsDb, F: Family>(conn: &mut DB::Connection, events: &[F::Event]) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    insert_raw::<DB, F>(conn, events).await?;
    for granularity in Granularity::ALL {
        let mut groups = group::<F>(events, granularity);
        let table = F::table(Some(granularity)).physical_name();
        merge_stored::<DB, F>(conn, table, &mut groups).await?;
        upsert::<DB, F>(conn, table, &groups).await?;
    }
    Ok(())
}

/// `($1, $2, ..), ($n, ..)` (or `?`): `rows` groups of `width` placeholders.
fn placeholders<DB: AnalyticsDb>(out: &mut String, rows: usize, width: usize) {
    for row in 0..rows {
        out.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..width {
            let sep = if col == 0 { "" } else { ", " };
            if DB::NUMBERED {
                write!(out, "{sep}${}", row * width + col + 1).expect("writing to a String");
            } else {
                write!(out, "{sep}?").expect("writing to a String");
            }
        }
        out.push(')');
    }
}

fn chunk_rows<DB: AnalyticsDb>(width: usize) -> usize {
    (DB::MAX_BINDS / width).min(ROWS_PER_STATEMENT)
}

async fn insert_raw<DB: AnalyticsDb, F: Family>(conn: &mut DB::Connection, events: &[F::Event]) -> StoreResult<()> {
    let columns = F::RAW_COLUMNS.join(", ");
    for chunk in events.chunks(chunk_rows::<DB>(F::RAW_COLUMNS.len())) {
        let mut sql = format!("INSERT INTO {} ({columns}) VALUES ", F::table(None).physical_name());
        placeholders::<DB>(&mut sql, chunk.len(), F::RAW_COLUMNS.len());
        let q = chunk.iter().fold(sqlx::query::<DB>(&sql), |q, e| F::bind_raw(q, e));
        q.run(conn).await?;
    }
    Ok(())
}

fn group<F: Family>(events: &[F::Event], granularity: Granularity) -> Vec<(Dims<'_>, Totals)> {
    let mut index: HashMap<Dims<'_>, usize> = HashMap::new();
    let mut groups: Vec<(Dims<'_>, Totals)> = Vec::new();
    for e in events {
        let dims = Dims {
            time: granularity.bucket_start(F::time(e)),
            text: F::text_dims(e),
            tags: F::TAGS.then(|| canonical_tags(F::tags(e))),
        };
        let slot = *index.entry(dims).or_insert_with_key(|dims| {
            let fresh = Totals { sums: vec![0; F::SUMS.len()], latency: LatencyHistogram::new() };
            groups.push((Dims { time: dims.time, text: dims.text.clone(), tags: dims.tags.clone() }, fresh));
            groups.len() - 1
        });
        let totals = &mut groups[slot].1;
        F::add_sums(e, &mut totals.sums);
        totals.latency.record(F::latency(e));
    }
    groups
}

fn dim_columns<F: Family>() -> Vec<&'static str> {
    let mut columns = vec!["time"];
    columns.extend_from_slice(F::TEXT_DIMS);
    if F::TAGS {
        columns.push("tags");
    }
    columns
}

fn bind_dims<'q, DB: AnalyticsDb>(q: Query<'q, DB>, dims: &'q Dims<'_>) -> Query<'q, DB> {
    let q = dims.text.iter().fold(q.arg(dims.time), |q, text| q.arg(*text));
    match &dims.tags {
        Some(tags) => DB::bind_tags(q, tags),
        None => q,
    }
}

/// Folds the stored aggregate rows that `groups` touch into them: one read per chunk, matching
/// rows back to groups by their position in the chunk (`i`), so no dimension is decoded.
async fn merge_stored<DB: AnalyticsDb, F: Family>(
    conn: &mut DB::Connection,
    table: &str,
    groups: &mut [(Dims<'_>, Totals)],
) -> StoreResult<()> {
    let dims = dim_columns::<F>();
    let width = dims.len() + 1;
    let select: String = F::SUMS.iter().map(|c| format!("t.{c} AS {c}, ")).collect();
    let join = dims.iter().map(|c| format!("t.{c} = v.{c}")).collect::<Vec<_>>().join(" AND ");
    let rows = chunk_rows::<DB>(width);
    for (chunk_no, chunk) in groups.chunks_mut(rows).enumerate() {
        let mut sql = format!("WITH v (i, {}) AS (VALUES ", dims.join(", "));
        placeholders::<DB>(&mut sql, chunk.len(), width);
        write!(sql, ") SELECT v.i AS i, {select}t.latency_state AS latency_state FROM v JOIN {table} t ON {join}")
            .expect("writing to a String");
        let q = chunk.iter().enumerate().fold(sqlx::query::<DB>(&sql), |q, (i, (d, _))| bind_dims(q.arg(i as i64), d));
        let stored = q.all(conn).await?;
        for row in stored {
            let i = column_i64(&row, "i")?;
            let (_, totals) = usize::try_from(i)
                .ok()
                .and_then(|i| chunk.get_mut(i))
                .ok_or_else(|| StoreError::Corrupt(format!("aggregate match {i} in chunk {chunk_no}")))?;
            for (sum, column) in totals.sums.iter_mut().zip(F::SUMS) {
                *sum += column_i64(&row, column)?;
            }
            let bytes = row.bytes("latency_state").map_err(db)?.unwrap_or_default();
            let stored = LatencyHistogram::from_bytes(&bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            totals.latency.merge(&stored);
        }
    }
    Ok(())
}

fn column_i64(row: &impl Columns, column: &str) -> StoreResult<i64> {
    row.i64(column).map_err(db)?.ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
}

/// Writes the merged aggregate rows, replacing the stored ones.
async fn upsert<DB: AnalyticsDb, F: Family>(
    conn: &mut DB::Connection,
    table: &str,
    groups: &[(Dims<'_>, Totals)],
) -> StoreResult<()> {
    let dims = dim_columns::<F>();
    let values: Vec<&str> =
        F::SUMS.iter().copied().chain(["latency_avg", "latency_p75", "latency_p99", "latency_state"]).collect();
    let width = dims.len() + values.len();
    let columns = dims.iter().chain(&values).copied().collect::<Vec<_>>().join(", ");
    let set = values.iter().map(|c| format!("{c} = excluded.{c}")).collect::<Vec<_>>().join(", ");
    let states: Vec<Vec<u8>> = groups.iter().map(|(_, t)| t.latency.to_bytes()).collect();
    let rows = chunk_rows::<DB>(width);
    for (chunk, states) in groups.chunks(rows).zip(states.chunks(rows)) {
        let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
        placeholders::<DB>(&mut sql, chunk.len(), width);
        write!(sql, " ON CONFLICT ({}) DO UPDATE SET {set}", dims.join(", ")).expect("writing to a String");
        let mut q = sqlx::query::<DB>(&sql);
        for ((d, totals), state) in chunk.iter().zip(states) {
            q = totals.sums.iter().fold(bind_dims(q, d), |q, sum| q.arg(*sum));
            let h = &totals.latency;
            q = DB::bind_f64(DB::bind_f64(DB::bind_f64(q, h.mean()), h.quantile(0.75)), h.quantile(0.99)).arg(state);
        }
        q.run(conn).await?;
    }
    Ok(())
}
