//! The columns of the `imports` history, listed once: every backend's
//! SELECT of an [`ImportRow`] and its row reader come from [`ROW`], and
//! every INSERT of a new import from [`INSERTED`], so a column added to
//! the history is added here and in the DDL, not in six statements.

use super::imports::{decode_files, ImportRow};

/// The columns an [`ImportRow`] is read from, in the readers' order.
pub const ROW: [&str; 21] = [
    "id",
    "filename",
    "sha256",
    "method",
    "mode",
    "status",
    "bytes",
    "rows_read",
    "inserted",
    "updated",
    "skipped",
    "rejected",
    "created_at",
    "started_at",
    "finished_at",
    "error",
    "rejects_removed_at",
    "instance_id",
    "table_name",
    "rejects_files",
    "owner",
];

/// The columns a newly accepted import is recorded with, in the order of
/// [`insert_values`] (PostgreSQL adds `instance_id`).
pub const INSERTED: [&str; 11] = [
    "id",
    "filename",
    "sha256",
    "method",
    "mode",
    "status",
    "bytes",
    "created_at",
    "table_name",
    "rejects_files",
    "owner",
];

/// Index of `name` in [`ROW`].
fn at(name: &str) -> usize {
    ROW.iter().position(|c| *c == name).unwrap_or(usize::MAX)
}

/// The counts PostgreSQL and MySQL also keep in `import_ledger` while an
/// import runs (folded into the row when it ends).
const LEDGERED: [&str; 3] = ["inserted", "updated", "skipped"];

const PG_TS: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'";

/// PostgreSQL: `SELECT … FROM imports`, the running import's counts with
/// its ledger's added and the timestamps as RFC 3339 text.
pub fn pg_select() -> String {
    let cols: Vec<String> = ROW
        .iter()
        .map(|&c| match c {
            c if LEDGERED.contains(&c) => format!(
                "{c} + COALESCE((SELECT sum(l.{c}) FROM import_ledger l \
                 WHERE l.import_id = imports.id), 0)::bigint"
            ),
            "created_at" | "started_at" | "finished_at" | "rejects_removed_at" => {
                format!("to_char({c} AT TIME ZONE 'UTC', {PG_TS})")
            }
            c => c.to_string(),
        })
        .collect();
    format!("SELECT {} FROM imports", cols.join(", "))
}

/// SQLite: `SELECT … FROM imports` (one instance: no `instance_id`).
pub fn sqlite_select() -> String {
    select_without_instance()
}

/// MySQL: `SELECT … FROM imports` (one instance: no `instance_id`).
pub fn mysql_select() -> String {
    select_without_instance()
}

fn select_without_instance() -> String {
    let cols: Vec<&str> = ROW
        .iter()
        .map(|&c| if c == "instance_id" { "NULL" } else { c })
        .collect();
    format!("SELECT {} FROM imports", cols.join(", "))
}

/// `INSERT INTO imports (…) VALUES (…)` of [`INSERTED`] plus `extra`
/// columns, with `placeholder(i)` for the i-th (1-based) value and
/// `cast(column)` appended to it (PostgreSQL's timestamps).
pub fn insert_sql(
    extra: &[&str],
    placeholder: impl Fn(usize) -> String,
    cast: impl Fn(&str) -> &'static str,
) -> String {
    let cols: Vec<&str> = INSERTED.iter().chain(extra).copied().collect();
    let values: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{}{}", placeholder(i + 1), cast(c)))
        .collect();
    format!(
        "INSERT INTO imports ({}) VALUES ({})",
        cols.join(", "),
        values.join(", ")
    )
}

/// Reads one row's columns by name: `get(i)` the value of column `i` of
/// [`ROW`].
pub fn read_row<E>(mut get: impl Getter<E>) -> Result<ImportRow, E> {
    Ok(ImportRow {
        id: get.text(at("id"))?,
        filename: get.text(at("filename"))?,
        sha256: get.text(at("sha256"))?,
        method: get.text(at("method"))?,
        // Rows recorded before the column existed were all appends.
        mode: get
            .opt_text(at("mode"))?
            .unwrap_or_else(|| "append".to_string()),
        status: get.text(at("status"))?,
        bytes: get.int(at("bytes"))?,
        rows_read: get.int(at("rows_read"))?,
        inserted: get.int(at("inserted"))?,
        updated: get.int(at("updated"))?,
        skipped: get.int(at("skipped"))?,
        rejected: get.int(at("rejected"))?,
        created_at: get.text(at("created_at"))?,
        started_at: get.opt_text(at("started_at"))?,
        finished_at: get.opt_text(at("finished_at"))?,
        error: get.opt_text(at("error"))?,
        rejects_removed_at: get.opt_text(at("rejects_removed_at"))?,
        instance_id: get.opt_text(at("instance_id"))?,
        table_name: get.opt_text(at("table_name"))?,
        rejects_files: decode_files(get.opt_text(at("rejects_files"))?),
        owner: get.opt_text(at("owner"))?,
    })
}

/// What [`read_row`] needs of a backend's row.
pub trait Getter<E> {
    /// A text column.
    fn text(&mut self, i: usize) -> Result<String, E>;
    /// A nullable text column.
    fn opt_text(&mut self, i: usize) -> Result<Option<String>, E>;
    /// A BIGINT column.
    fn int(&mut self, i: usize) -> Result<i64, E>;
}

/// PostgreSQL's rows (`get` panics on a wrong type, as before: the SELECT
/// is ours).
pub struct PgGet<'a>(pub &'a tokio_postgres::Row);

impl Getter<std::convert::Infallible> for PgGet<'_> {
    fn text(&mut self, i: usize) -> Result<String, std::convert::Infallible> {
        Ok(self.0.get(i))
    }
    fn opt_text(&mut self, i: usize) -> Result<Option<String>, std::convert::Infallible> {
        Ok(self.0.get(i))
    }
    fn int(&mut self, i: usize) -> Result<i64, std::convert::Infallible> {
        Ok(self.0.get(i))
    }
}

/// SQLite's rows.
pub struct SqliteGet<'a, 'b>(pub &'a rusqlite::Row<'b>);

impl Getter<rusqlite::Error> for SqliteGet<'_, '_> {
    fn text(&mut self, i: usize) -> rusqlite::Result<String> {
        self.0.get(i)
    }
    fn opt_text(&mut self, i: usize) -> rusqlite::Result<Option<String>> {
        self.0.get(i)
    }
    fn int(&mut self, i: usize) -> rusqlite::Result<i64> {
        self.0.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_select_names_every_column_once_in_the_readers_order() {
        for sql in [pg_select(), sqlite_select(), mysql_select()] {
            assert!(sql.starts_with("SELECT id, filename, sha256, method, mode, status"));
            assert!(
                sql.ends_with("table_name, rejects_files, owner FROM imports"),
                "{sql}"
            );
        }
        assert!(pg_select().contains("sum(l.updated)"));
        assert!(sqlite_select().contains("rejects_removed_at, NULL, table_name"));
        let ins = insert_sql(&["instance_id"], |i| format!("${i}"), |_| "");
        assert!(
            ins.ends_with(
                "owner, instance_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            "{ins}"
        );
    }
}
