//! PostgreSQL writers on tokio-postgres: per-row INSERT (prepared once),
//! multi-row INSERT (prepared per row count, cached), and binary COPY
//! (encoded by [`copy_binary`], streamed one COPY per unit).

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{pin_mut, SinkExt};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Statement};

pub mod copy_binary;
pub mod encode;

use super::schema::{self, COLUMNS};
use super::{DbError, WriteKind, WriteResult};
use crate::model::Record;

/// Most rows in one multi-row INSERT: PostgreSQL allows 65,535 parameters.
pub const MAX_MULTI_ROW: usize = 65_535 / 9;

/// A PostgreSQL database with the schema ensured.
#[derive(Clone)]
pub struct PgSink {
    config: Config,
    /// The import whose committed count each write records in
    /// `import_ledger`, in the rows' own statement or transaction (see
    /// [`super::Sink::with_ledger`]).
    ledger: Option<std::sync::Arc<str>>,
}

/// With a ledger, an INSERT of `rows` rows also appends its count to
/// `import_ledger`, in the same statement: one round trip, autocommit,
/// atomic. The ledger is append-only, so concurrent writers never wait on
/// one another's row lock (an `UPDATE imports SET inserted = inserted + n`
/// made every per-row writer queue on one row).
fn insert_sql(rows: usize, ledgered: bool) -> String {
    let insert = schema::insert_sql(rows, true);
    if !ledgered {
        return insert;
    }
    format!(
        "WITH ins AS ({insert} RETURNING 1) \
         INSERT INTO import_ledger (import_id, inserted) SELECT ${}, count(*) FROM ins",
        rows * 9 + 1
    )
}

impl PgSink {
    /// Connects once to create the schema (under an advisory lock, so that
    /// concurrent first imports do not race on CREATE TABLE).
    pub async fn connect(url: &str) -> Result<PgSink, DbError> {
        let mut config: Config = url
            .parse()
            .map_err(|e| DbError::new(format!("invalid PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let sink = PgSink {
            config,
            ledger: None,
        };
        let client = sink.client().await?;
        client
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock(7158234); {} {} COMMIT;",
                schema::POSTGRES,
                super::imports::POSTGRES
            ))
            .await
            .map_err(fatal)?;
        Ok(sink)
    }

    async fn client(&self) -> Result<Client, DbError> {
        let (client, connection) =
            self.config.connect(NoTls).await.map_err(|e| {
                DbError::new(format!("cannot connect to PostgreSQL: {}", describe(&e)))
            })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "postgres connection ended");
            }
        });
        Ok(client)
    }

    /// A writer with its own connection.
    pub async fn writer(&self) -> Result<PgWriter, DbError> {
        let client = self.client().await?;
        let insert_one = client
            .prepare(&insert_sql(1, self.ledger.is_some()))
            .await
            .map_err(fatal)?;
        Ok(PgWriter {
            client,
            insert_one,
            multi: HashMap::new(),
            ledger: self.ledger.as_deref().map(str::to_string),
        })
    }

    /// `SELECT 1` on a fresh connection.
    pub async fn ping(&self) -> Result<(), DbError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(fatal)?;
        Ok(())
    }

    /// A fresh connection for other tables (the `imports` history).
    pub(super) async fn connection(&self) -> Result<Client, DbError> {
        self.client().await
    }

    /// Rows in `businesses`.
    pub async fn count_rows(&self) -> Result<i64, DbError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT count(*) FROM businesses", &[])
            .await
            .map_err(fatal)?;
        Ok(row.get(0))
    }
}

/// One writer's connection and its prepared statements (confined to it).
pub struct PgWriter {
    client: Client,
    insert_one: Statement,
    /// Multi-row INSERTs prepared so far, by row count.
    multi: HashMap<usize, Statement>,
    /// The import to record committed counts for in `import_ledger`.
    ledger: Option<String>,
}

impl PgSink {
    /// Where the rows go, for messages: `postgres://user@host:port/db`
    /// (no password).
    pub fn location(&self) -> String {
        use tokio_postgres::config::Host;
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_string(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let user = self.config.get_user().unwrap_or_default();
        let db = self.config.get_dbname().unwrap_or(user);
        let at = if user.is_empty() {
            String::new()
        } else {
            format!("{user}@")
        };
        format!("postgres://{at}{host}:{port}/{db}")
    }

    /// This sink with every write's count also recorded in
    /// `import_ledger` for `import_id`, atomically with the rows.
    pub fn with_ledger(&self, import_id: &str) -> PgSink {
        PgSink {
            config: self.config.clone(),
            ledger: Some(import_id.into()),
        }
    }
}

impl PgWriter {
    /// Writes `rows` atomically; with a ledger, the count is recorded in
    /// `import_ledger` by the same statement (INSERTs) or transaction
    /// (COPY), so the ledger always equals what the table holds — even if
    /// this process is killed the next instant.
    pub async fn write(&mut self, rows: &[Record], kind: WriteKind) -> WriteResult {
        if self.ledger.is_none() || kind != WriteKind::Copy || rows.len() < 2 {
            return self.write_rows(rows, kind).await;
        }
        self.client.batch_execute("BEGIN").await.map_err(fatal)?;
        let result = match self.write_rows(rows, kind).await {
            Ok(Ok(())) => {
                let n = rows.len() as i64;
                let counted = self
                    .client
                    .execute(
                        "INSERT INTO import_ledger (import_id, inserted) VALUES ($1, $2)",
                        &[&self.ledger, &n],
                    )
                    .await;
                match counted {
                    Ok(_) => self.client.batch_execute("COMMIT").await.map_err(fatal),
                    Err(e) => Err(fatal(e)),
                }
                .map(Ok)
            }
            other => other,
        };
        if !matches!(result, Ok(Ok(()))) {
            let _ = self.client.batch_execute("ROLLBACK").await;
        }
        result
    }

    async fn write_rows(&mut self, rows: &[Record], kind: WriteKind) -> WriteResult {
        let result = match (kind, rows.len()) {
            (_, 0) => return Ok(Ok(())),
            (_, 1) => {
                let params = params(rows, &self.ledger);
                self.client
                    .execute(&self.insert_one, &params)
                    .await
                    .map(drop)
            }
            // Callers send per-row units one row at a time; several rows
            // must still be one atomic write.
            (WriteKind::PerRow | WriteKind::MultiRow, _) => self.multi_row(rows).await,
            (WriteKind::Copy, _) => self.copy(rows).await,
        };
        classify(result)
    }

    /// One multi-row INSERT: atomic by itself. Units are capped at
    /// [`MAX_MULTI_ROW`] by the plan (see `pipeline::Plan::new`).
    async fn multi_row(&mut self, rows: &[Record]) -> Result<(), tokio_postgres::Error> {
        assert!(
            rows.len() <= MAX_MULTI_ROW,
            "multi-row unit over the parameter limit"
        );
        let stmt = match self.multi.get(&rows.len()) {
            Some(s) => s.clone(),
            None => {
                let s = self
                    .client
                    .prepare(&insert_sql(rows.len(), self.ledger.is_some()))
                    .await?;
                // Keep the cache small: full batches, plus the odd short ones.
                if self.multi.len() > 8 {
                    self.multi.clear();
                }
                self.multi.insert(rows.len(), s.clone());
                s
            }
        };
        self.client
            .execute(&stmt, &params(rows, &self.ledger))
            .await
            .map(drop)
    }

    /// One binary COPY for the unit, streamed in [`copy_binary::SEND_CHUNK`]
    /// pieces. Atomic: COPY is one statement, so a refused row aborts it all.
    async fn copy(&mut self, rows: &[Record]) -> Result<(), tokio_postgres::Error> {
        let sink = self
            .client
            .copy_in::<_, Bytes>(&format!(
                "COPY businesses ({COLUMNS}) FROM STDIN (FORMAT binary)"
            ))
            .await?;
        pin_mut!(sink);
        let mut buf = BytesMut::with_capacity(copy_binary::SEND_CHUNK + 4096);
        copy_binary::header(&mut buf);
        for r in rows {
            copy_binary::row(&mut buf, r);
            if buf.len() >= copy_binary::SEND_CHUNK {
                sink.as_mut().send(buf.split().freeze()).await?;
            }
        }
        copy_binary::trailer(&mut buf);
        sink.as_mut().send(buf.freeze()).await?;
        sink.finish().await?;
        Ok(())
    }
}

/// The nine fields of every row, then the ledger's import id if any.
fn params<'a>(rows: &'a [Record], ledger: &'a Option<String>) -> Vec<&'a (dyn ToSql + Sync)> {
    let mut out: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(rows.len() * 9 + 1);
    for r in rows {
        for f in &r.business.fields {
            out.push(f);
        }
    }
    if let Some(id) = ledger {
        out.push(id);
    }
    out
}

/// Data errors (SQLSTATE classes 22 "data exception" and 23 "integrity
/// constraint violation") are about rows; anything else stops the import.
fn classify(result: Result<(), tokio_postgres::Error>) -> WriteResult {
    match result {
        Ok(()) => Ok(Ok(())),
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
fn describe(e: &tokio_postgres::Error) -> String {
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
