//! PostgreSQL writers on tokio-postgres: per-row INSERT (prepared once),
//! multi-row INSERT (prepared per row count, cached), and binary COPY
//! (encoded by [`copy_binary`], streamed one COPY per unit).

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{pin_mut, SinkExt};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Config, Statement};

pub mod copy_binary;
pub mod encode;
pub mod introspect;
mod merge;
pub mod pool;
pub(crate) mod undo;

use super::schema::{self, quote_table};
use super::{DbError, WriteKind, WriteResult};
use crate::model::{Record, Target, Value};
use pool::{PgPool, PoolOptions, Pooled, Wait};

/// Most parameters in one statement (PostgreSQL's protocol limit).
pub const MAX_PARAMS: usize = 65_535;

/// Parameters a ledgered INSERT adds: the import id, and the first and
/// last source row of the write (a resumed import skips those rows; see
/// [`crate::sink::queue`]).
const LEDGER_PARAMS: usize = 3;

/// Most rows of `target` in one multi-row INSERT (parameters are kept for
/// the ledger's entry).
pub fn max_multi_row(target: &Target) -> usize {
    ((MAX_PARAMS - LEDGER_PARAMS) / target.columns.len().max(1)).max(1)
}

/// The first and last source row of a write, as the ledger records them.
pub(super) fn row_span(rows: &[Record]) -> (i32, i32) {
    let row = |r: Option<&Record>| r.map_or(0, |r| i32::try_from(r.row).unwrap_or(i32::MAX));
    (row(rows.first()), row(rows.last()))
}

/// A PostgreSQL database with the schema ensured, and the bounded pool of
/// connections every clone shares (see [`pool`]).
#[derive(Clone)]
pub struct PgSink {
    pool: PgPool,
    /// The import whose committed count each write records in
    /// `import_ledger`, in the rows' own statement or transaction (see
    /// [`super::Sink::with_ledger`]).
    ledger: Option<std::sync::Arc<str>>,
    /// The upsert or skip-existing import its writers write for.
    merge: Option<std::sync::Arc<crate::sink::merge::Merge>>,
    /// Set once the `businesses` preset's table is known to exist, so that
    /// only the first import of a process pays for ensuring it.
    preset_ready: std::sync::Arc<tokio::sync::OnceCell<()>>,
    /// Where the rows go, for messages (no password).
    location: std::sync::Arc<str>,
    /// The connection settings (for a connection of its own, outside the
    /// pool: [`undo::hold`]).
    config: std::sync::Arc<Config>,
}

/// With a ledger, an INSERT of `rows` rows also appends its count to
/// `import_ledger`, in the same statement: one round trip, autocommit,
/// atomic. The ledger is append-only, so concurrent writers never wait on
/// one another's row lock (an `UPDATE imports SET inserted = inserted + n`
/// made every per-row writer queue on one row).
fn insert_sql(target: &Target, rows: usize, ledgered: bool) -> String {
    let insert = schema::insert_sql(target, rows, true);
    if !ledgered {
        return insert;
    }
    let id = rows * target.columns.len() + 1;
    format!(
        "WITH ins AS ({insert} RETURNING 1) \
         INSERT INTO import_ledger (import_id, inserted, first_row, last_row) \
         SELECT ${id}, count(*), ${}::int, ${}::int FROM ins",
        id + 1,
        id + 2
    )
}

impl PgSink {
    /// Builds the pool and creates the schema on one of its connections
    /// (under an advisory lock, so that concurrent first imports do not race
    /// on CREATE TABLE).
    pub async fn connect(url: &str, options: PoolOptions) -> Result<PgSink, DbError> {
        let mut config: Config = url
            .parse()
            .map_err(|e| DbError::new(format!("invalid PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let sink = PgSink {
            location: location_of(&config).into(),
            config: std::sync::Arc::new(config.clone()),
            pool: PgPool::new(config, options)?,
            ledger: None,
            merge: None,
            preset_ready: Default::default(),
        };
        let client = sink.pool.get().await?;
        // DDL takes table locks even when it changes nothing (ALTER TABLE:
        // ACCESS EXCLUSIVE, CREATE INDEX IF NOT EXISTS: SHARE): run it only
        // when the newest object is missing, so that an instance starting
        // beside running imports never queues behind or ahead of their
        // writes (that made 40P01 deadlocks).
        let present = client
            .query_one(super::instances::SCHEMA_PRESENT, &[])
            .await
            .map_err(fatal)?;
        if !present.get::<_, bool>(0) {
            client
                .batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock(7158234); {} {} {} COMMIT;",
                    super::imports::POSTGRES,
                    super::instances::POSTGRES,
                    super::queue::POSTGRES
                ))
                .await
                .map_err(fatal)?;
        }
        // The API keys and `imports.owner`, checked on their own.
        super::keys::ensure_postgres(&client).await?;
        // Undo's tables and the ledger's transaction ids, likewise.
        undo::ensure(&client).await?;
        Ok(sink)
    }

    async fn client(&self) -> Result<Pooled, DbError> {
        self.pool.get().await
    }

    /// A writer holding a pooled connection (and a writer slot) until it is
    /// dropped; `wait` says how long to wait for one.
    pub async fn writer(&self, wait: Wait) -> Result<PgWriter, DbError> {
        let client = self.pool.writer(wait).await?;
        Ok(PgWriter {
            client,
            target: None,
            multi: HashMap::new(),
            merges: HashMap::new(),
            ledger: self.ledger.as_deref().map(str::to_string),
            merge: self.merge.clone(),
            merged: (0, 0),
            stage: None,
            copy_prepared: None,
        })
    }

    /// How many writers may hold connections at once (all imports together).
    pub fn writer_slots(&self) -> usize {
        self.pool.options().writer_slots()
    }

    /// `SELECT 1` on a pooled connection.
    pub async fn ping(&self) -> Result<(), DbError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(fatal)?;
        Ok(())
    }

    /// A pooled connection for other tables (the `imports` history).
    pub(super) async fn connection(&self) -> Result<Pooled, DbError> {
        self.client().await
    }

    /// Creates the `businesses` preset's table and indexes if missing.
    pub async fn ensure_businesses(&self) -> Result<(), DbError> {
        self.preset_ready
            .get_or_try_init(|| async {
                let client = self.client().await?;
                client
                    .batch_execute(&format!(
                        "BEGIN; SELECT pg_advisory_xact_lock(7158234); {} COMMIT;",
                        schema::POSTGRES
                    ))
                    .await
                    .map_err(fatal)
            })
            .await
            .map(drop)
    }

    /// Rows in `table`.
    pub async fn count_rows(&self, table: &str) -> Result<i64, DbError> {
        let client = self.client().await?;
        let sql = format!("SELECT count(*) FROM {}", quote_table(table));
        let row = client.query_one(&sql, &[]).await.map_err(fatal)?;
        Ok(row.get(0))
    }
}

/// One writer's connection and its prepared statements (confined to it).
pub struct PgWriter {
    client: Pooled,
    /// The target the statements below were prepared for (one import has
    /// one target; a new one clears them).
    target: Option<Target>,
    /// INSERTs prepared so far, by row count.
    multi: HashMap<usize, Statement>,
    /// Upserts or skip-existing INSERTs prepared so far, by row count.
    merges: HashMap<usize, Statement>,
    /// The import to record committed counts for in `import_ledger`.
    ledger: Option<String>,
    /// How rows whose key exists are treated (none: append).
    merge: Option<std::sync::Arc<crate::sink::merge::Merge>>,
    /// Rows updated and skipped by committed merge writes, not yet taken.
    merged: (u64, u64),
    /// The TEMP table this connection's merge units COPY into (made for
    /// the current target; see `merge.rs`).
    stage: Option<String>,
    /// The last table's prepared `COPY` and its text.
    copy_prepared: Option<(String, Statement)>,
}

impl PgSink {
    /// Where the rows go, for messages: `postgres://user@host:port/db`
    /// (no password).
    pub fn location(&self) -> String {
        self.location.to_string()
    }
}

/// `postgres://user@host:port/db` for `config`.
fn location_of(config: &Config) -> String {
    use tokio_postgres::config::Host;
    {
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_string(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or_default();
        let db = config.get_dbname().unwrap_or(user);
        let at = if user.is_empty() {
            String::new()
        } else {
            format!("{user}@")
        };
        format!("postgres://{at}{host}:{port}/{db}")
    }
}

impl PgSink {
    /// This sink with every write's count also recorded in
    /// `import_ledger` for `import_id`, atomically with the rows.
    pub fn with_ledger(&self, import_id: &str) -> PgSink {
        PgSink {
            ledger: Some(import_id.into()),
            ..self.clone()
        }
    }

    /// This sink without a ledger (a replace's staging writes: counted
    /// when the swap commits, see [`crate::sink::replace`]).
    pub(crate) fn without_ledger(&self) -> PgSink {
        PgSink {
            ledger: None,
            ..self.clone()
        }
    }

    /// This sink with its writers upserting or skipping existing rows.
    pub fn with_merge(&self, merge: std::sync::Arc<crate::sink::merge::Merge>) -> PgSink {
        PgSink {
            merge: Some(merge),
            ..self.clone()
        }
    }
}

impl PgWriter {
    /// Writes `rows` into `target` atomically; with a ledger, the count is
    /// recorded in `import_ledger` by the same statement (INSERTs) or
    /// transaction (COPY, or INSERTs split by the parameter limit), so the
    /// ledger always equals what the table holds — even if this process is
    /// killed the next instant.
    pub async fn write(
        &mut self,
        rows: &[Record],
        kind: WriteKind,
        target: &Target,
    ) -> WriteResult {
        // Until the write has ended cleanly the connection may be inside a
        // transaction or a COPY: if this future is dropped, or the write
        // fails, the connection is closed rather than handed to another user.
        self.client.discard_on_drop(true);
        let (result, clean) = self.write_atomic(rows, kind, target).await;
        self.client.discard_on_drop(result.is_err() || !clean);
        result
    }

    /// The write, and whether the connection is left clean (outside any
    /// transaction) — not so when a ROLLBACK after a refused write failed.
    async fn write_atomic(
        &mut self,
        rows: &[Record],
        kind: WriteKind,
        target: &Target,
    ) -> (WriteResult, bool) {
        if self.target.as_ref() != Some(target) {
            self.multi.clear();
            self.merges.clear();
            self.stage = None;
            self.target = Some(target.clone());
        }
        if let Some(merge) = self.merge.clone() {
            if rows.is_empty() {
                return (Ok(Ok(())), true);
            }
            return self.merge_write(rows, kind, target, &merge).await;
        }
        let copy = kind == WriteKind::Copy && rows.len() > 1;
        let ledger_row = copy && self.ledger.is_some();
        let split = !copy && rows.len() > max_multi_row(target);
        if !ledger_row && !split {
            return (classify(self.write_rows(rows, kind, target).await), true);
        }
        if ledger_row {
            return self.copy_ledgered(rows, target).await;
        }
        if let Err(e) = self.client.batch_execute("BEGIN").await {
            return (Err(fatal(e)), false);
        }
        let result = classify(self.write_rows(rows, kind, target).await);
        if matches!(result, Ok(Ok(()))) {
            let committed = self.client.batch_execute("COMMIT").await;
            let clean = committed.is_ok();
            return (committed.map(Ok).map_err(fatal), clean);
        }
        let clean = self.client.batch_execute("ROLLBACK").await.is_ok();
        (result, clean)
    }

    /// A COPY unit with its ledger row, in one transaction and three round
    /// trips: `BEGIN` sent with the COPY's start, the ledger's `INSERT`
    /// and the `COMMIT` sent with its end (one simple query; the server
    /// skips both when the COPY failed, and the transaction is rolled
    /// back). Each round trip costs both processes a context switch:
    /// docs/BENCHMARKS.md, "Businesses: before and after".
    async fn copy_ledgered(&mut self, rows: &[Record], target: &Target) -> (WriteResult, bool) {
        let statement = match self.copy_statement(target).await {
            Ok(s) => s,
            Err(e) => return (classify(Err(e)), true),
        };
        let id = self.ledger.as_deref().unwrap_or_default();
        let (first, last) = row_span(rows);
        let tail = format!(
            "INSERT INTO import_ledger (import_id, inserted, first_row, last_row) \
             VALUES ({}, {}, {first}, {last}); COMMIT",
            crate::sink::ddl::quote_literal(id),
            rows.len()
        );
        let client: &tokio_postgres::Client = &self.client;
        let (begun, copied) = futures::join!(
            client.batch_execute("BEGIN"),
            copy_rows(client, &statement, rows, target, Some(&tail))
        );
        let result = match (begun, copied) {
            (Err(e), _) => Err(fatal(e)),
            (Ok(()), Ok(Ok(Ok(())))) => return (Ok(Ok(())), true),
            (Ok(()), Ok(Ok(Err(e)))) => Err(fatal(e)),
            (Ok(()), copied) => classify(copied.map(|r| r.map(drop))),
        };
        let clean = self.client.batch_execute("ROLLBACK").await.is_ok();
        (result, clean)
    }

    async fn write_rows(
        &mut self,
        rows: &[Record],
        kind: WriteKind,
        target: &Target,
    ) -> Result<Result<(), String>, tokio_postgres::Error> {
        match (kind, rows.len()) {
            (_, 0) => Ok(Ok(())),
            (WriteKind::Copy, n) if n > 1 => self.copy(rows, target).await,
            // Per-row units come one row at a time; several rows must still
            // be one atomic write (the caller holds a transaction when they
            // span several statements).
            _ => {
                for part in rows.chunks(max_multi_row(target)) {
                    self.insert(part, target).await?;
                }
                Ok(Ok(()))
            }
        }
    }

    /// One (multi-row) INSERT: atomic by itself.
    async fn insert(
        &mut self,
        rows: &[Record],
        target: &Target,
    ) -> Result<(), tokio_postgres::Error> {
        let stmt = match self.multi.get(&rows.len()) {
            Some(s) => s.clone(),
            None => {
                let ledger = if self.ledger.is_some() {
                    LEDGER_PARAMS
                } else {
                    0
                };
                let width = rows.len() * target.columns.len() + ledger;
                let sql = insert_sql(target, rows.len(), self.ledger.is_some());
                let s = self
                    .client
                    .prepare_typed(&sql, &vec![Type::TEXT; width])
                    .await?;
                // Keep the cache small: full batches, plus the odd short ones.
                if self.multi.len() > 8 {
                    self.multi.clear();
                }
                self.multi.insert(rows.len(), s.clone());
                s
            }
        };
        let texts: Vec<Option<std::borrow::Cow<'_, str>>> = rows
            .iter()
            .flat_map(|r| r.values.iter().map(pg_text))
            .collect();
        let mut params: Vec<&(dyn ToSql + Sync)> = texts.iter().map(|t| t as _).collect();
        let (first, last) = row_span(rows);
        let span = [first.to_string(), last.to_string()];
        if let Some(id) = &self.ledger {
            params.push(id);
            params.extend(span.iter().map(|t| t as &(dyn ToSql + Sync)));
        }
        self.client.execute(&stmt, &params).await.map(drop)
    }

    /// One binary COPY for the unit, streamed in [`copy_binary::SEND_CHUNK`]
    /// pieces. Atomic: COPY is one statement, so a refused row aborts it
    /// all. A value that cannot be encoded as its column's type refuses the
    /// unit as data (the caller isolates the row).
    async fn copy(
        &mut self,
        rows: &[Record],
        target: &Target,
    ) -> Result<Result<(), String>, tokio_postgres::Error> {
        let statement = self.copy_statement(target).await?;
        Ok(copy_rows(&self.client, &statement, rows, target, None)
            .await?
            .map(|r| r.expect("no statement after the COPY")))
    }
}

impl PgWriter {
    /// The `COPY … FROM STDIN (FORMAT binary)` of `target`'s columns,
    /// prepared once per connection and table (a `COPY` by its text is
    /// prepared anew every time: one more round trip per unit).
    async fn copy_statement(
        &mut self,
        target: &Target,
    ) -> Result<Statement, tokio_postgres::Error> {
        let sql = format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            quote_table(&target.table),
            schema::column_list(target)
        );
        if let Some((known, statement)) = &self.copy_prepared {
            if *known == sql {
                return Ok(statement.clone());
            }
        }
        let statement = self.client.prepare(&sql).await?;
        self.copy_prepared = Some((sql, statement.clone()));
        Ok(statement)
    }
}

/// One binary COPY of `rows`, streamed in [`copy_binary::SEND_CHUNK`]
/// pieces. Atomic: COPY is one statement, so a refused row aborts it all. A
/// value that cannot be encoded as its column's type refuses the unit as
/// data (`Ok(Err(why))`; the caller isolates the row). With `then`, that
/// simple query is sent right behind the COPY's end, before its answer is
/// awaited, and its own outcome is the inner result (run only when the COPY
/// succeeded).
async fn copy_rows(
    client: &tokio_postgres::Client,
    statement: &Statement,
    rows: &[Record],
    target: &Target,
    then: Option<&str>,
) -> Result<Result<Result<(), tokio_postgres::Error>, String>, tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(statement).await?;
    pin_mut!(sink);
    let mut buf = BytesMut::with_capacity(copy_binary::SEND_CHUNK + 4096);
    copy_binary::header(&mut buf);
    for r in rows {
        if let Err(why) = copy_binary::row(&mut buf, r, target) {
            // Dropping the sink without finishing aborts the COPY.
            return Ok(Err(why));
        }
        if buf.len() >= copy_binary::SEND_CHUNK {
            sink.as_mut().send(buf.split().freeze()).await?;
        }
    }
    copy_binary::trailer(&mut buf);
    sink.as_mut().send(buf.freeze()).await?;
    let Some(then) = then else {
        sink.finish().await?;
        return Ok(Ok(Ok(())));
    };
    let (finished, after) = futures::join!(sink.finish(), client.batch_execute(then));
    finished?;
    Ok(Ok(after))
}

/// A value as the text PostgreSQL parses back exactly (`None` = NULL):
/// ISO 8601 dates, canonical decimals, the shortest round-trip form of a
/// float. Text, decimals and JSON are borrowed, not copied: this runs for
/// every value of the per-row and multi-row INSERT paths.
fn pg_text(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::Text(s) | Value::Numeric(s) | Value::Json(s) => Some(s.as_str().into()),
        Value::Float(f) if f.is_nan() => Some("NaN".into()),
        Value::Float(f) if f.is_infinite() => {
            Some(if *f > 0.0 { "Infinity" } else { "-Infinity" }.into())
        }
        Value::Float(f) => Some(f.to_string().into()),
        Value::TimestampTz(t) => Some(t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string().into()),
        other => Some(other.display().into()),
    }
}

/// Data errors (SQLSTATE classes 22 "data exception" and 23 "integrity
/// constraint violation") are about rows; anything else stops the import.
fn classify(result: Result<Result<(), String>, tokio_postgres::Error>) -> WriteResult {
    match result {
        Ok(r) => Ok(r),
        Err(e) => match e.as_db_error() {
            Some(db) if matches!(&db.code().code()[..2], "22" | "23") => {
                let mut reason = db.message().to_string();
                if let Some(detail) = db.detail() {
                    reason.push_str(": ");
                    reason.push_str(detail);
                }
                Ok(Err(format!("rejected by the database: {reason}")))
            }
            _ => Err(fatal(e)),
        },
    }
}

fn fatal(e: tokio_postgres::Error) -> DbError {
    DbError::new(describe(&e))
}

/// The server's own words when it sent any, else the driver's error with
/// its causes ("error connecting to server: Connection refused").
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    if e.is_closed() {
        return "the connection to PostgreSQL was closed (the server ended the session)".into();
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
