//! Several `serve` instances on one PostgreSQL database: each registers in
//! `sheetpipe_instances` and renews a heartbeat; each import row names the
//! instance running it. An import is only ever rewritten by another
//! instance once its owner's lease has expired (no heartbeat for the lease
//! time, judged by the database's clock), one import per statement, the
//! ledger folded in the same statement — so a live import is never touched
//! and two sweepers never deadlock. A cancel asked of an instance that does
//! not run the import is left in `imports.cancel_requested` for the owner,
//! which reads it with its heartbeat.
//!
//! SQLite serves one instance (`serve` holds a lock file): its sweep marks
//! every unfinished import failed, as there can be no other server, except
//! those a live CLI process is running (its pid in `sheetpipe_undo`). On
//! PostgreSQL a CLI import (no instance) is live while its advisory lock
//! is held ([`NOT_A_LIVE_CLI`]).

use std::time::Duration;

use tokio_postgres::types::ToSql;

use super::imports::pg_error;
use super::{DbError, Sink};

/// PostgreSQL DDL, idempotent (run with the `imports` DDL).
pub const POSTGRES: &str = "
CREATE TABLE IF NOT EXISTS sheetpipe_instances (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
ALTER TABLE imports ADD COLUMN IF NOT EXISTS instance_id TEXT;
ALTER TABLE imports ADD COLUMN IF NOT EXISTS cancel_requested BOOLEAN NOT NULL DEFAULT false;
";

/// True when the whole schema is there: its newest parts (the queue's
/// `sheetpipe_uploads`, this module's column, the history's `table_name`
/// and `rejects_files`, created in the same transaction as their index,
/// and the re-import modes' `mode`, `updated` and `skipped` in `imports`
/// and `updated`, `skipped` in `import_ledger`) exist, and so the older
/// ones.
pub const SCHEMA_PRESENT: &str = "SELECT to_regclass('sheetpipe_uploads') IS NOT NULL \
     AND to_regclass('sheetpipe_instances') IS NOT NULL AND (SELECT count(*) FROM \
     information_schema.columns WHERE table_schema = current_schema() \
     AND table_name = 'imports' AND column_name IN ('cancel_requested', \
     'table_name', 'rejects_files', 'mode', 'updated', 'skipped')) = 6 \
     AND (SELECT count(*) FROM information_schema.columns \
     WHERE table_schema = current_schema() AND table_name = 'import_ledger' \
     AND column_name IN ('updated', 'skipped')) = 2";

/// Default lease: an instance silent for this long is taken for dead.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// "The owner of `imports` row i is not a live instance" (`$1`: lease secs).
const OWNER_GONE: &str = "NOT EXISTS (SELECT 1 FROM sheetpipe_instances s \
     WHERE s.id = i.instance_id AND s.heartbeat_at > now() - make_interval(secs => $1))";

/// "Import i is not queued for anyone to claim" (a stored upload given
/// back has no owner, and waits for a claimer, not for the sweep).
pub(crate) const NOT_FOR_ANYONE: &str = "NOT (i.instance_id IS NULL AND i.status = 'queued' \
     AND EXISTS (SELECT 1 FROM sheetpipe_queue q WHERE q.import_id = i.id))";

/// "Import i is not a CLI import whose process still runs it": the CLI
/// holds an advisory lock (class [`HOLD_CLASS`], key `hashtext(id)`) on a
/// connection of its own from just after it records the import until it
/// has recorded the end (`sink/postgres/undo.rs`), so a live CLI import,
/// which names no instance, is not taken for one a dead server left.
pub(crate) const NOT_A_LIVE_CLI: &str =
    "NOT (i.instance_id IS NULL AND EXISTS (SELECT 1 FROM pg_locks l \
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
     AND l.classid = 8158234 AND l.objid = hashtext(i.id)::oid))";

/// The lock class [`NOT_A_LIVE_CLI`] names, as the CLI takes it.
const _: () = assert!(super::postgres::undo::HOLD_CLASS == 8_158_234);

/// Why an interrupted import failed; `n` is the committed count.
const REASON: &str = "'interrupted: the server stopped while this import was ' || i.status || \
     '; ' || (n.n + n.u + n.k) || ' rows had been committed (counted in inserted, updated \
     and skipped); \
     the rest of the file was not imported'";

impl Sink {
    /// Registers instance `id` (or renews it) with a fresh heartbeat.
    pub async fn register_instance(&self, id: &str, host: &str) -> Result<(), DbError> {
        let Sink::Postgres(s) = self else {
            return Ok(());
        };
        let pid = i64::from(std::process::id());
        let c = s.connection().await?;
        c.execute(
            "INSERT INTO sheetpipe_instances (id, host, pid) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
            &[&id, &host, &pid],
        )
        .await
        .map_err(pg_error)?;
        Ok(())
    }

    /// Renews instance `id`'s lease; the ids of its unfinished imports
    /// whose cancel was asked of another instance.
    pub async fn heartbeat(&self, id: &str) -> Result<Vec<String>, DbError> {
        let Sink::Postgres(s) = self else {
            return Ok(Vec::new());
        };
        let c = s.connection().await?;
        c.execute(
            "UPDATE sheetpipe_instances SET heartbeat_at = now() WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(pg_error)?;
        let rows = c
            .query(
                "SELECT id FROM imports WHERE instance_id = $1 AND cancel_requested \
                 AND status IN ('queued', 'running')",
                &[&id],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Removes instance `id` (a clean exit: every import of it has ended).
    pub async fn deregister_instance(&self, id: &str) -> Result<(), DbError> {
        let Sink::Postgres(s) = self else {
            return Ok(());
        };
        let c = s.connection().await?;
        c.execute("DELETE FROM sheetpipe_instances WHERE id = $1", &[&id])
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    /// Asks the instance running import `id` to cancel it; whether the
    /// import was still unfinished.
    pub async fn request_cancel(&self, id: &str) -> Result<bool, DbError> {
        let Sink::Postgres(s) = self else {
            return Ok(false);
        };
        let c = s.connection().await?;
        let n = c
            .execute(
                "UPDATE imports SET cancel_requested = true \
                 WHERE id = $1 AND status IN ('queued', 'running')",
                &[&id],
            )
            .await
            .map_err(pg_error)?;
        Ok(n > 0)
    }

    /// Marks failed the unfinished imports whose instance's lease expired
    /// (or that name none), each with its ledger folded into `inserted` in
    /// the same statement. Returns how many were marked.
    pub async fn sweep_expired(&self, lease: Duration, at: &str) -> Result<u64, DbError> {
        match self {
            // One instance per MySQL database (no leases yet): at start every
            // unfinished import is a previous process's.
            Sink::Mysql(s) => super::mysql::history::interrupt_unfinished(s, at).await,
            Sink::Postgres(s) => {
                let secs = lease.as_secs_f64();
                let c = s.connection().await?;
                let sql = format!(
                    "SELECT i.id FROM imports i WHERE i.status IN ('queued', 'running') AND {OWNER_GONE} \
                     AND {NOT_FOR_ANYONE} AND {NOT_A_LIVE_CLI}"
                );
                let ids = c.query(&sql, &[&secs]).await.map_err(pg_error)?;
                let fold = fold_sql();
                let mut marked = 0;
                for row in ids {
                    let id: String = row.get(0);
                    // Its upload is stored: queued again, ledger kept, for
                    // another instance to resume.
                    if c.execute(REQUEUE, &[&secs, &id]).await.map_err(pg_error)? > 0 {
                        continue;
                    }
                    let params: [&(dyn ToSql + Sync); 3] = [&secs, &id, &at];
                    marked += c.execute(&fold, &params).await.map_err(pg_error)?;
                }
                Ok(marked)
            }
            Sink::Sqlite(s) => {
                let sql = "UPDATE imports SET error = 'interrupted: the server stopped while \
                     this import was ' || status || '; ' || (inserted + updated + skipped) || \
                     ' rows had been committed (counted in inserted, updated and skipped); \
                     the rest of the file was not imported', \
                     status = 'failed', finished_at = ?1, \
                     rows_read = max(rows_read, inserted + updated + skipped + rejected) \
                     WHERE status IN ('queued', 'running') AND id NOT IN (SELECT value FROM json_each(?2))";
                let at = at.to_string();
                s.with_conn(move |c| {
                    // A CLI import still running beside this server is live.
                    let live = super::sqlite::undo::live_cli_imports(c)?;
                    let live = serde_json::to_string(&live).unwrap_or_else(|_| "[]".into());
                    c.execute(sql, [at, live]).map(|n| n as u64)
                })
                .await
            }
        }
    }
}

/// One import (`$2`) whose upload is stored queued again for anyone,
/// only if its owner is still gone (`$1` lease secs) and it was not
/// already queued for anyone.
const REQUEUE: &str = "UPDATE imports i SET status = 'queued', instance_id = NULL \
     WHERE i.id = $2 AND i.status IN ('queued', 'running') AND i.instance_id IS NOT NULL \
     AND EXISTS (SELECT 1 FROM sheetpipe_queue q WHERE q.import_id = i.id) \
     AND NOT EXISTS (SELECT 1 FROM sheetpipe_instances s WHERE s.id = i.instance_id \
       AND s.heartbeat_at > now() - make_interval(secs => $1))";

/// One import (`$2`) failed with its ledger folded, atomically, only if its
/// owner is still gone (`$1` lease secs, `$3` the time): the ledger rows
/// are deleted only when the update happens, in the same snapshot.
fn fold_sql() -> String {
    format!(
        "WITH target AS (SELECT i.id FROM imports i WHERE i.id = $2 \
           AND i.status IN ('queued', 'running') AND {OWNER_GONE} AND {NOT_FOR_ANYONE} \
           AND {NOT_A_LIVE_CLI} FOR UPDATE), \
         l AS (DELETE FROM import_ledger WHERE import_id IN (SELECT id FROM target) \
           RETURNING import_id, inserted, updated, skipped, xid), \
         kept AS (INSERT INTO sheetpipe_undo_xids (import_id, xid) \
           SELECT DISTINCT import_id, xid FROM l WHERE xid IS NOT NULL), \
         n AS (SELECT i.inserted + COALESCE((SELECT sum(inserted) FROM l), 0)::bigint AS n, \
           i.updated + COALESCE((SELECT sum(updated) FROM l), 0)::bigint AS u, \
           i.skipped + COALESCE((SELECT sum(skipped) FROM l), 0)::bigint AS k \
           FROM imports i WHERE i.id = $2) \
         UPDATE imports i SET inserted = n.n, updated = n.u, skipped = n.k, \
           rows_read = GREATEST(i.rows_read, n.n + n.u + n.k + i.rejected), \
           status = 'failed', finished_at = $3::text::timestamptz, error = {REASON} \
         FROM n WHERE i.id IN (SELECT id FROM target)"
    )
}
