//! The same file twice: an append of a file whose SHA-256 was already
//! imported, completely and with rows inserted, into the same table would
//! add every one of its rows again. It is refused before any row is
//! written (CLI exit [`EXIT_SAME_FILE`], HTTP 409) unless the caller allows
//! it (`--allow-reimport`, `allow_reimport=true`) or the mode is one that
//! re-imports safely ([`reimport_allowed`]).
//!
//! "Completely" means the earlier import's status is `completed` and it
//! inserted at least one row: a failed or cancelled import, or one whose
//! every row was rejected, does not block the file (nothing, or only a
//! known prefix, is in the table; see `resume_from_row`). The check is made
//! when the import starts, not under a lock: two imports of the same file
//! started at the same moment both pass it.

use super::imports::ImportRow;
use super::{DbError, Sink};

/// Exit code of `import` refused because the same file was already
/// imported into the same table.
pub const EXIT_SAME_FILE: u8 = 7;

/// Whether `mode` may import a file already imported into the same table.
/// Only `append` (also the default when no mode is given) adds the rows
/// again; the re-import modes (`upsert`, `skip-existing`, `replace`) are
/// idempotent and allow it.
pub fn reimport_allowed(mode: Option<&str>) -> bool {
    !matches!(mode.map(str::trim), None | Some("") | Some("append"))
}

/// An earlier import of the same file into the same table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyImported {
    /// The earlier import.
    pub previous: ImportRow,
    /// The table both imports target.
    pub table: String,
}

impl AlreadyImported {
    /// When the earlier import ended (else when it was accepted).
    pub fn when(&self) -> &str {
        self.previous
            .finished_at
            .as_deref()
            .unwrap_or(&self.previous.created_at)
    }
}

impl std::fmt::Display for AlreadyImported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.previous;
        write!(
            f,
            "this file was already imported into {} by import {} at {} ({} rows \
             inserted, from {:?}); importing it again would add its rows again",
            self.table,
            p.id,
            self.when(),
            p.inserted,
            p.filename
        )
    }
}

/// The table an `imports` row names; rows recorded before the column
/// existed all went to the `businesses` preset.
const TABLE_OF_ROW: &str = "COALESCE(table_name, 'businesses')";

impl Sink {
    /// The newest completed import of the file `sha256` into `table` that
    /// inserted rows, if any.
    pub async fn completed_import_of(
        &self,
        sha256: &str,
        table: &str,
    ) -> Result<Option<AlreadyImported>, DbError> {
        if sha256.is_empty() {
            return Ok(None);
        }
        let filter = format!(
            "sha256 = {{s}} AND {TABLE_OF_ROW} = {{t}} AND status = 'completed' AND inserted > 0"
        );
        let found = match self {
            Sink::Postgres(s) => {
                let client = s.connection().await?;
                let sql = format!(
                    "{} WHERE {} ORDER BY seq DESC LIMIT 1",
                    super::imports::pg_select(),
                    filter.replace("{s}", "$1").replace("{t}", "$2")
                );
                let rows = client
                    .query(&sql, &[&sha256, &table])
                    .await
                    .map_err(super::imports::pg_error)?;
                rows.first().map(super::imports::pg_row)
            }
            Sink::Sqlite(s) => {
                let sql = format!(
                    "{} WHERE {} ORDER BY rowid DESC LIMIT 1",
                    super::imports::sqlite_select(),
                    filter.replace("{s}", "?1").replace("{t}", "?2")
                );
                let (sha, t) = (sha256.to_string(), table.to_string());
                s.with_conn(move |c| {
                    let mut stmt = c.prepare(&sql)?;
                    let mut rows = stmt.query_map([sha, t], super::imports::sqlite_row)?;
                    rows.next().transpose()
                })
                .await?
            }
            Sink::Mysql(s) => {
                let filter = filter.replace("{s}", "?").replace("{t}", "?");
                super::mysql::history::newest_where(s, &filter, (sha256, table)).await?
            }
        };
        Ok(found.map(|previous| AlreadyImported {
            previous,
            table: table.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_append_refuses_a_file_imported_before() {
        assert!(!reimport_allowed(None));
        assert!(!reimport_allowed(Some("append")));
        assert!(!reimport_allowed(Some("")));
        for mode in ["upsert", "skip-existing", "replace"] {
            assert!(reimport_allowed(Some(mode)), "{mode}");
        }
    }
}
