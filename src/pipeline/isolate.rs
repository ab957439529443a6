//! Writing a unit so that bad rows never cost good ones: when the database
//! refuses a multi-row unit because of its data, split it in halves and
//! retry each, down to single rows, which are then rejected with the
//! database's own reason. Every row of the unit ends inserted or rejected.

use crate::model::{Record, Target};
use crate::sink::{DbError, WriteKind, Writer};

/// What became of one unit.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UnitOutcome {
    /// Rows committed.
    pub inserted: usize,
    /// Rows refused, by index in the unit, with the database's reason.
    pub rejected: Vec<(usize, String)>,
    /// After a fatal error: the index of the first row not written. Rows
    /// are written in order (bisection retries left halves first), so every
    /// row before it is inserted or rejected and none from it on.
    pub unwritten: Option<usize>,
}

/// Writes `rows` into `target` with `kind`, isolating rows the database refuses.
///
/// Per-row kinds write one row per statement. A fatal error stops at once;
/// rows committed before it are counted by the caller from earlier units
/// only, because this unit's partial progress is returned with the error.
pub async fn write_unit(
    writer: &mut Writer,
    rows: &[Record],
    kind: WriteKind,
    target: &Target,
) -> Result<UnitOutcome, (UnitOutcome, DbError)> {
    let mut out = UnitOutcome::default();
    if kind == WriteKind::PerRow {
        for (i, row) in rows.iter().enumerate() {
            match writer.write(std::slice::from_ref(row), kind, target).await {
                Ok(Ok(())) => out.inserted += 1,
                Ok(Err(reason)) => out.rejected.push((i, reason)),
                Err(e) => {
                    out.unwritten = Some(i);
                    return Err((out, e));
                }
            }
        }
        return Ok(out);
    }
    // Ranges still to write, last popped first: pushed in reverse order so
    // rows are retried in their original order.
    let mut todo = vec![(0, rows.len())];
    while let Some((start, end)) = todo.pop() {
        match writer.write(&rows[start..end], kind, target).await {
            Ok(Ok(())) => out.inserted += end - start,
            Ok(Err(reason)) if end - start == 1 => out.rejected.push((start, reason)),
            Ok(Err(_)) => {
                let mid = start + (end - start) / 2;
                todo.push((mid, end));
                todo.push((start, mid));
            }
            Err(e) => {
                out.unwritten = Some(start);
                return Err((out, e));
            }
        }
    }
    Ok(out)
}
