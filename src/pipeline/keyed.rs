//! The key of an upsert, skip-existing or replace import, checked by the
//! reader before the database sees a row: the key is settled when the
//! header is found ([`resolve_key`]), a row with an empty key cell is
//! rejected (upsert and skip-existing: it could match no row), and the
//! same key twice in the file is rejected naming the row that had it first
//! (`--duplicates reject`, the default) or let through to be applied in
//! file order (`--duplicates last`).

use std::collections::hash_map::{Entry, RandomState};
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
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
    /// Each key seen, with the row that had it first: the key's
    /// [`fingerprint`](KeyCheck::fingerprint), 128 bits of two SipHashes
    /// keyed at random per import (so a file cannot aim at collisions; two
    /// different keys share one with a chance of about n² / 2¹²⁹ — for a
    /// billion rows, 10⁻²¹), instead of the key's text: one 32-byte slot a
    /// key, not three allocations.
    seen: HashMap<u128, u32, BuildHasherDefault<Fingerprint>>,
    /// The two SipHash keys.
    hashers: (RandomState, RandomState),
}

/// The map's hasher of a fingerprint: it already is a keyed hash.
#[derive(Default)]
struct Fingerprint(u64);

impl Hasher for Fingerprint {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
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
            seen: HashMap::default(),
            hashers: (RandomState::new(), RandomState::new()),
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

    /// The key of `record` as 128 bits: its values as text (as they are
    /// shown; text, decimals and JSON hashed in place), each closed by a
    /// byte no UTF-8 text holds, through both hashers.
    fn fingerprint(&self, record: &Record) -> u128 {
        let (mut a, mut b) = (self.hashers.0.build_hasher(), self.hashers.1.build_hasher());
        for &s in &self.slots {
            let shown;
            let text = match &record.values[s] {
                Value::Text(t) | Value::Numeric(t) | Value::Json(t) => t.as_str(),
                other => {
                    shown = other.display();
                    shown.as_str()
                }
            };
            for h in [&mut a, &mut b] {
                h.write(text.as_bytes());
                h.write_u8(0xff);
            }
        }
        (u128::from(a.finish()) << 64) | u128::from(b.finish())
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
        match self.seen.entry(self.fingerprint(record)) {
            Entry::Occupied(first) => Err(format!(
                "duplicate key ({}) = ({}): row {} has the same key (use --duplicates last \
                 to let the last row win)",
                self.names.join(", "),
                self.slots
                    .iter()
                    .map(|&s| record.values[s].display())
                    .collect::<Vec<_>>()
                    .join(", "),
                first.get()
            )),
            Entry::Vacant(v) => {
                v.insert(record.row);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TableSchema;
    use crate::sink::merge::Mode;

    fn check() -> KeyCheck {
        let opts = ModeOptions {
            mode: Mode::Upsert,
            ..Default::default()
        };
        let mut k = KeyCheck::new(&opts, Arc::new(TableSchema::businesses()), None).unwrap();
        k.names = vec!["a".into(), "b".into()];
        k.slots = vec![0, 1];
        k
    }

    fn record(row: u32, a: Value, b: Value) -> Record {
        Record {
            row,
            values: vec![a, b],
        }
    }

    #[test]
    fn the_same_key_twice_is_found_and_values_that_only_join_alike_are_not() {
        let text = |s: &str| Value::Text(s.into());
        let mut k = check();
        assert_eq!(k.check(&record(2, text("a"), text("bc"))), Ok(()));
        // "a" + "bc" and "ab" + "c" read alike when joined: not the same key.
        assert_eq!(k.check(&record(3, text("ab"), text("c"))), Ok(()));
        assert_eq!(k.check(&record(4, Value::Int(7), text(""))), Ok(()));
        let again = k.check(&record(5, text("a"), text("bc"))).unwrap_err();
        assert!(
            again.contains("= (a, bc): row 2 has the same key"),
            "{again}"
        );
        // Values compare as they are shown: the integer 7 is the text "7".
        let shown = k.check(&record(6, text("7"), text(""))).unwrap_err();
        assert!(shown.contains("row 4"), "{shown}");
        assert_eq!(k.seen.len(), 3);
    }
}
