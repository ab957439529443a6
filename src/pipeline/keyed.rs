//! The key of an upsert, skip-existing or replace import, checked by the
//! reader before the database sees a row: the key is settled when the
//! header is found ([`resolve_key`]), a row with an empty key cell is
//! rejected (upsert and skip-existing: it could match no row), and the
//! same key twice in the file is rejected naming the row that had it first
//! (`--duplicates reject`, the default) or let through to be applied in
//! file order (`--duplicates last`).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

use super::ImportError;
use crate::model::{Record, TableSchema, Value};
use crate::record::HeaderMap;
use crate::sink::merge::{resolve_key, Duplicates, Merge, ModeOptions};

/// The reader's key check of one import.
pub(super) struct KeyCheck {
    opts: ModeOptions,
    table: Arc<TableSchema>,
    /// Where the settled key goes for the writers (upsert, skip-existing).
    merge: Option<Arc<Merge>>,
    /// The key's columns and their slots in every record.
    names: Vec<String>,
    slots: Vec<usize>,
    /// Each key seen, with the row that had it first.
    seen: HashMap<Vec<String>, u32>,
}

impl KeyCheck {
    /// The check for `opts`, `None` for append (no key).
    pub fn new(
        opts: &ModeOptions,
        table: Arc<TableSchema>,
        merge: Option<Arc<Merge>>,
    ) -> Option<KeyCheck> {
        (opts.mode != crate::sink::merge::Mode::Append).then(|| KeyCheck {
            opts: opts.clone(),
            table,
            merge,
            names: Vec::new(),
            slots: Vec::new(),
            seen: HashMap::new(),
        })
    }

    /// Settles the key from the columns the header maps: an error (no
    /// key, a key the file does not map) stops the import before any row
    /// is written.
    pub fn on_header(&mut self, map: &HeaderMap) -> Result<(), ImportError> {
        let mapped: Vec<&str> = map.target.columns.iter().map(|c| c.name.as_str()).collect();
        let key = resolve_key(
            &self.table,
            self.opts.key.as_deref(),
            Some(&mapped),
            self.opts.mode.merges(),
        )
        .map_err(ImportError::Table)?;
        let Some(key) = key else {
            return Ok(());
        };
        self.slots = key
            .iter()
            .filter_map(|k| mapped.iter().position(|m| m == k))
            .collect();
        if let Some(merge) = &self.merge {
            let _ = merge.key.set(key.clone());
        }
        self.names = key;
        Ok(())
    }

    /// Why `record` must be rejected, if it must.
    pub fn check(&mut self, record: &Record) -> Result<(), String> {
        if self.slots.is_empty() {
            return Ok(());
        }
        let empty = self
            .slots
            .iter()
            .position(|&s| matches!(record.values[s], Value::Null));
        if let Some(i) = empty {
            if self.opts.mode.merges() {
                return Err(format!(
                    "key column {} is empty: the row cannot be matched to a stored row",
                    self.names[i]
                ));
            }
            // replace: an empty key never collides (NULLs are distinct).
            return Ok(());
        }
        if self.opts.duplicates == Duplicates::Last {
            return Ok(());
        }
        let values: Vec<String> = self
            .slots
            .iter()
            .map(|&s| record.values[s].display())
            .collect();
        match self.seen.entry(values) {
            Entry::Occupied(first) => Err(format!(
                "duplicate key ({}) = ({}): row {} has the same key (use --duplicates last \
                 to let the last row win)",
                self.names.join(", "),
                first.key().join(", "),
                first.get()
            )),
            Entry::Vacant(v) => {
                v.insert(record.row);
                Ok(())
            }
        }
    }
}
