//! The import queue every `serve` instance on one PostgreSQL database
//! shares. A background upload is stored in the database itself — its
//! request in `sheetpipe_queue`, its bytes in `sheetpipe_uploads` as
//! [`CHUNK`]-sized `bytea` rows — in the same transaction as its `queued`
//! `imports` row, so any instance can run it. The instance that accepted
//! it runs it when it has a free slot ([`Sink::claim_own`]); any other
//! instance with a free slot may claim it first ([`Sink::claim_queued`],
//! `FOR UPDATE SKIP LOCKED`: two claimers never take one import, nor wait
//! on each other). The stored upload is deleted when the import ends.
//!
//! Resuming: every ledger entry records the first and last source row of
//! its write ([`Sink::committed`]); an import whose instance died (or gave
//! it back at shutdown) is queued again with its ledger kept, and whoever
//! claims it skips the valid rows inside those spans, so every row is
//! inserted once. SQLite and MySQL have no shared queue: their imports
//! run where they were accepted.

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::types::ToSql;

use super::imports::{pg_error, pg_insert, ImportRow};
use super::{DbError, Sink};

/// PostgreSQL DDL, idempotent (run with the `imports` DDL, last).
pub const POSTGRES: &str = "
ALTER TABLE import_ledger ADD COLUMN IF NOT EXISTS first_row INT;
ALTER TABLE import_ledger ADD COLUMN IF NOT EXISTS last_row INT;
CREATE TABLE IF NOT EXISTS sheetpipe_queue (
    import_id TEXT PRIMARY KEY,
    query     TEXT NOT NULL,
    ext       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sheetpipe_uploads (
    import_id TEXT NOT NULL,
    seq       INT NOT NULL,
    data      BYTEA NOT NULL,
    PRIMARY KEY (import_id, seq)
);
";

/// Bytes per `sheetpipe_uploads` row: 1 MiB.
pub const CHUNK: usize = 1 << 20;

/// A queued import an instance has just claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Its `imports` row (status now `running`, owned by the claimer).
    pub row: ImportRow,
    /// The upload's query string, as the client sent it.
    pub query: String,
    /// The upload's file extension (one sheetpipe reads).
    pub ext: String,
    /// A cancel was asked while it was queued.
    pub cancel_requested: bool,
}

/// What an import had committed before it was resumed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// Rows inserted.
    pub inserted: u64,
    /// Rows that updated a stored row (upsert).
    pub updated: u64,
    /// Rows skipped because their key exists (skip-existing).
    pub skipped: u64,
    /// The first and last source row of every committed write.
    pub spans: Vec<(u32, u32)>,
}

impl Committed {
    /// Whether source row `row` lies inside a committed write.
    pub fn covers(&self, row: u32) -> bool {
        self.spans.iter().any(|&(a, b)| a <= row && row <= b)
    }
}

impl Sink {
    /// Whether this database holds a queue shared by several instances.
    pub fn has_queue(&self) -> bool {
        matches!(self, Sink::Postgres(_))
    }

    /// Records `row` (`queued`) with its request and the file at `path`,
    /// in one transaction.
    pub async fn enqueue_import(
        &self,
        row: &ImportRow,
        query: &str,
        ext: &str,
        path: &Path,
    ) -> Result<(), DbError> {
        let Sink::Postgres(s) = self else {
            return self.insert_import(row).await;
        };
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| DbError::new(format!("cannot read the upload: {e}")))?;
        let mut c = s.connection().await?;
        let tx = c.transaction().await.map_err(pg_error)?;
        pg_insert(&tx, row).await?;
        tx.execute(
            "INSERT INTO sheetpipe_queue (import_id, query, ext) VALUES ($1, $2, $3)",
            &[&row.id, &query, &ext],
        )
        .await
        .map_err(pg_error)?;
        let mut buf = vec![0u8; CHUNK];
        for seq in 0i32.. {
            let n = read_full(&mut file, &mut buf).await?;
            if n == 0 {
                break;
            }
            tx.execute(
                "INSERT INTO sheetpipe_uploads (import_id, seq, data) VALUES ($1, $2, $3)",
                &[&row.id, &seq, &&buf[..n]],
            )
            .await
            .map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)
    }

    /// Starts import `id`, queued by instance `me`, unless another
    /// instance claimed it first (false).
    pub async fn claim_own(&self, id: &str, me: &str, at: &str) -> Result<bool, DbError> {
        let Sink::Postgres(s) = self else {
            return Ok(true);
        };
        let c = s.connection().await?;
        let n = c
            .execute(
                "UPDATE imports SET status = 'running', started_at = $3::text::timestamptz \
                 WHERE id = $1 AND instance_id = $2 AND status = 'queued'",
                &[&id, &me, &at],
            )
            .await
            .map_err(pg_error)?;
        Ok(n == 1)
    }

    /// Claims the oldest queued import not queued by `me` (accepted by a
    /// busy instance, given back, or left by a dead one) for `me`.
    pub async fn claim_queued(&self, me: &str, at: &str) -> Result<Option<Claimed>, DbError> {
        let Sink::Postgres(s) = self else {
            return Ok(None);
        };
        let sql = format!(
            "WITH pick AS (SELECT i.id FROM imports i JOIN sheetpipe_queue q ON q.import_id = i.id \
               WHERE i.status = 'queued' AND i.instance_id IS DISTINCT FROM $1 \
               ORDER BY i.seq LIMIT 1 FOR UPDATE OF i SKIP LOCKED), \
             claim AS (UPDATE imports SET status = 'running', instance_id = $1, \
               started_at = COALESCE(started_at, $2::text::timestamptz) \
               WHERE id IN (SELECT id FROM pick) RETURNING id) \
             {} WHERE id IN (SELECT id FROM claim)",
            super::imports::pg_select()
        );
        let c = s.connection().await?;
        let Some(r) = c.query_opt(&sql, &[&me, &at]).await.map_err(pg_error)? else {
            return Ok(None);
        };
        let mut row = super::imports::pg_row(&r);
        // The row as the claim left it (the select saw the snapshot before).
        row.status = "running".into();
        row.instance_id = Some(me.to_string());
        let q = c
            .query_one(
                "SELECT q.query, q.ext, i.cancel_requested FROM sheetpipe_queue q \
                 JOIN imports i ON i.id = q.import_id WHERE q.import_id = $1",
                &[&row.id],
            )
            .await
            .map_err(pg_error)?;
        Ok(Some(Claimed {
            row,
            query: q.get(0),
            ext: q.get(1),
            cancel_requested: q.get(2),
        }))
    }

    /// Writes the stored upload of import `id` into `dest`.
    pub async fn fetch_upload(&self, id: &str, dest: &Path) -> Result<u64, DbError> {
        let Sink::Postgres(s) = self else {
            return Err(DbError::new("no stored uploads on this database"));
        };
        let io = |e: std::io::Error| DbError::new(format!("cannot write the upload: {e}"));
        let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
        let c = s.connection().await?;
        let mut bytes = 0u64;
        for seq in 0i32.. {
            let Some(r) = c
                .query_opt(
                    "SELECT data FROM sheetpipe_uploads WHERE import_id = $1 AND seq = $2",
                    &[&id, &seq],
                )
                .await
                .map_err(pg_error)?
            else {
                break;
            };
            let data: &[u8] = r.get(0);
            file.write_all(data).await.map_err(io)?;
            bytes += data.len() as u64;
        }
        file.flush().await.map_err(io)?;
        Ok(bytes)
    }

    /// What import `id` had committed: its ledger's rows and spans.
    pub async fn committed(&self, id: &str) -> Result<Committed, DbError> {
        let Sink::Postgres(s) = self else {
            return Ok(Committed::default());
        };
        let c = s.connection().await?;
        let rows = c
            .query(
                "SELECT inserted, first_row, last_row, updated, skipped FROM import_ledger \
                 WHERE import_id = $1",
                &[&id],
            )
            .await
            .map_err(pg_error)?;
        let mut out = Committed::default();
        for r in rows {
            out.inserted += r.get::<_, i64>(0).max(0) as u64;
            out.updated += r.get::<_, i64>(3).max(0) as u64;
            out.skipped += r.get::<_, i64>(4).max(0) as u64;
            if let (Some(a), Some(b)) = (r.get::<_, Option<i32>>(1), r.get::<_, Option<i32>>(2)) {
                out.spans.push((a.max(0) as u32, b.max(0) as u32));
            }
        }
        Ok(out)
    }

    /// Gives import `id` of instance `me` back to the queue (it keeps its
    /// ledger, so whoever claims it next resumes it); whether it was.
    pub async fn requeue(&self, id: &str, me: &str) -> Result<bool, DbError> {
        let Sink::Postgres(s) = self else {
            return Ok(false);
        };
        let c = s.connection().await?;
        let n = c
            .execute(
                "UPDATE imports SET status = 'queued', instance_id = NULL WHERE id = $1 \
                 AND instance_id = $2 AND status IN ('queued', 'running') \
                 AND EXISTS (SELECT 1 FROM sheetpipe_queue q WHERE q.import_id = $1)",
                &[&id, &me],
            )
            .await
            .map_err(pg_error)?;
        Ok(n == 1)
    }

    /// Of `ids` (queued here), those another instance has claimed.
    pub async fn taken_from(&self, me: &str, ids: &[String]) -> Result<Vec<String>, DbError> {
        let Sink::Postgres(s) = self else {
            return Ok(Vec::new());
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let c = s.connection().await?;
        let rows = c
            .query(
                "SELECT id FROM imports WHERE id = ANY($1) AND instance_id IS DISTINCT FROM $2",
                &[&ids, &me],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Deletes the stored upload of import `id`, and every stored upload
    /// whose import has ended (left by a process killed in between).
    pub async fn drop_upload(&self, id: &str) -> Result<(), DbError> {
        let Sink::Postgres(s) = self else {
            return Ok(());
        };
        let c = s.connection().await?;
        let ended =
            "SELECT q.import_id FROM sheetpipe_queue q JOIN imports i ON i.id = q.import_id \
             WHERE i.status NOT IN ('queued', 'running')";
        let params: [&(dyn ToSql + Sync); 1] = [&id];
        c.execute(
            &format!(
                "DELETE FROM sheetpipe_uploads WHERE import_id = $1 OR import_id IN ({ended})"
            ),
            &params,
        )
        .await
        .map_err(pg_error)?;
        c.execute(
            &format!("DELETE FROM sheetpipe_queue WHERE import_id = $1 OR import_id IN ({ended})"),
            &params,
        )
        .await
        .map_err(pg_error)?;
        Ok(())
    }
}

/// Reads until `buf` is full or the file ends; the bytes read.
async fn read_full(file: &mut tokio::fs::File, buf: &mut [u8]) -> Result<usize, DbError> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]).await {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(DbError::new(format!("cannot read the upload: {e}"))),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::Committed;

    #[test]
    fn committed_spans_cover_their_rows_inclusively() {
        let c = Committed {
            inserted: 7,
            spans: vec![(2, 5), (9, 11)],
            ..Committed::default()
        };
        assert!(c.covers(2) && c.covers(5) && c.covers(10));
        assert!(!c.covers(1) && !c.covers(6) && !c.covers(12));
    }
}
