//! What an import's mode (docs/MODES.md) adds around the pipeline: the
//! checks made before any row is read, the writers' merge state, and for
//! `replace` the staging table and the one transaction that swaps it in.

use std::sync::Arc;

use super::collect::Collected;
use super::keyed::KeyCheck;
use super::{ImportError, ImportJob};
use crate::model::Target;
use crate::sink::merge::{resolve_key, Merge, Mode};
use crate::sink::Sink;

/// An import's mode, ready to run.
pub(super) struct Prepared {
    /// The sink the writers use (with the merge state for upsert and
    /// skip-existing).
    pub sink: Sink,
    /// The key check the reader makes.
    pub keys: Option<KeyCheck>,
    /// Replace: the staging table the writers load.
    pub staging: Option<String>,
    /// The units must be written in file order: one writer.
    pub one_writer: bool,
}

/// Checks the mode against the database and the table (before any row is
/// read) and sets up what it needs.
pub(super) async fn prepare(job: &ImportJob, sink: &Sink) -> Result<Prepared, ImportError> {
    let opts = &job.mode;
    sink.supports_mode(opts.mode).map_err(ImportError::Table)?;
    if opts.mode != Mode::Append {
        // `--key` naming no column or no unique index: refused now.
        resolve_key(&job.table, opts.key.as_deref(), None, false).map_err(ImportError::Table)?;
    }
    let merge = opts.mode.merges().then(|| Arc::new(Merge::new(opts)));
    let staging = match opts.mode {
        Mode::Replace => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            Some(sink.begin_replace(&job.table.name, &id).await?)
        }
        _ => None,
    };
    Ok(Prepared {
        sink: match (&merge, &staging) {
            (Some(m), _) => sink.with_merge(m.clone()),
            // Staged rows are not in the table: the swap counts them.
            (None, Some(_)) => sink.staging_sink(),
            (None, None) => sink.clone(),
        },
        keys: KeyCheck::new(opts, job.table.clone(), merge),
        staging,
        one_writer: opts.in_file_order(),
    })
}

/// Replace: swaps the staged rows in when the import `ok` (completed),
/// else drops them; either way `collected.inserted` ends as the rows the
/// table now holds from the file. Other modes: nothing to do.
pub(super) async fn finish(
    staging: Option<String>,
    sink: &Sink,
    target: Option<&Target>,
    collected: &mut Collected,
    ok: bool,
) -> Option<ImportError> {
    let staging = staging?;
    let table = target.map(|t| t.table.clone());
    let swapped = match (ok, target, table) {
        (true, Some(t), Some(table)) => {
            let cols: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
            Some(sink.finish_replace(&table, &staging, &cols).await)
        }
        _ => None,
    };
    match swapped {
        Some(Ok(n)) => {
            collected.inserted = n;
            None
        }
        other => {
            collected.inserted = 0;
            let _ = sink.drop_staging(&staging).await;
            other.and_then(Result::err).map(ImportError::from)
        }
    }
}
