//! The bytes in flight of one import: every unit between the reader and
//! the writers, and every rejection on its way to the collector, holds a
//! share of a fixed budget ([`super::Plan::bytes_in_flight`]) until it has
//! been written (or dropped). The reader waits when the budget is spent, so
//! the memory an import holds in rows is bounded in bytes, not only in
//! rows, whatever the cells' sizes and the number of writers.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::model::{Record, Rejection};
use tokio_util::sync::CancellationToken;

/// A budget of bytes, counted in KiB (a semaphore's permits).
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    kib: Arc<Semaphore>,
    cap_kib: u32,
}

/// A share of the budget, given back when dropped.
#[derive(Debug)]
pub(crate) struct Held {
    _permit: OwnedSemaphorePermit,
}

impl Budget {
    /// A budget of `bytes` (at least 1 KiB).
    pub(crate) fn new(bytes: usize) -> Budget {
        let cap_kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX >> 3)
            .clamp(1, Semaphore::MAX_PERMITS as u32);
        Budget {
            kib: Arc::new(Semaphore::new(cap_kib as usize)),
            cap_kib,
        }
    }

    /// Waits for `bytes` of the budget (one thing larger than the whole
    /// budget takes all of it); `None` when `stop` is cancelled first.
    pub(crate) async fn take(&self, bytes: usize, stop: &CancellationToken) -> Option<Held> {
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, self.cap_kib);
        tokio::select! {
            biased;
            _ = stop.cancelled() => None,
            permit = self.kib.clone().acquire_many_owned(kib) => permit.ok().map(|p| Held { _permit: p }),
        }
    }

    /// [`Budget::take`] from a blocking thread (the reader stage).
    pub(crate) fn take_blocking(&self, bytes: usize, stop: &CancellationToken) -> Option<Held> {
        futures::executor::block_on(self.take(bytes, stop))
    }
}

/// A unit of rows on its way to a writer, with its share of the budget.
#[derive(Debug)]
pub(crate) struct Unit {
    /// The rows.
    pub rows: Vec<Record>,
    held: Held,
}

impl Unit {
    /// `rows` holding `held`.
    pub(crate) fn new(rows: Vec<Record>, held: Held) -> Unit {
        Unit { rows, held }
    }

    /// Drops the rows, keeping their share of the budget.
    pub(crate) fn release(self) -> Held {
        self.held
    }
}

/// About how many bytes a record holds (its text and its fixed part).
pub(crate) fn record_bytes(r: &Record) -> usize {
    r.size_bytes()
}

/// About how many bytes a rejection holds.
pub(crate) fn rejection_bytes(r: &Rejection) -> usize {
    std::mem::size_of::<Rejection>()
        + r.sheet.len()
        + r.column.len()
        + r.value.len()
        + r.reason.len()
        + r.original.iter().map(|v| v.len() + 24).sum::<usize>()
}

/// Longest offending value (in characters) a rejection keeps once it is
/// only shown (the first rejections of the report: text output, JSON, job
/// status): twice the default cell rule, so a value rejected for its length
/// is still shown whole. The reject files get every value whole.
pub const SHOWN_VALUE_CHARS: usize = 64 * 1024;

/// Longest original cell, and most cells, a shown rejection keeps.
const SHOWN_ORIGINAL_CHARS: usize = 1_024;
const SHOWN_ORIGINAL_CELLS: usize = 256;

/// Cuts a shown rejection (with `…`), so that the rejections a report
/// keeps cannot hold megabytes each: at most ~0.5 MB, 200 of them at once.
pub(crate) fn shrink_for_report(r: &mut Rejection) {
    cut(&mut r.value, SHOWN_VALUE_CHARS);
    r.original.truncate(SHOWN_ORIGINAL_CELLS);
    r.original
        .iter_mut()
        .for_each(|v| cut(v, SHOWN_ORIGINAL_CHARS));
}

fn cut(v: &mut String, chars: usize) {
    if v.len() > chars {
        if let Some((at, _)) = v.char_indices().nth(chars) {
            v.truncate(at);
            v.push('…');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_budget_waits_until_a_share_is_given_back() {
        let budget = Budget::new(4 << 10);
        let stop = CancellationToken::new();
        let a = budget.take(3 << 10, &stop).await.unwrap();
        // 3 KiB of 4 held: 2 KiB must wait; it is served once `a` is dropped.
        let waiting = {
            let (budget, stop) = (budget.clone(), stop.clone());
            tokio::spawn(async move { budget.take(2 << 10, &stop).await.is_some() })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(a);
        assert!(waiting.await.unwrap());
        // Bigger than the whole budget: takes all of it rather than waiting forever.
        assert!(budget.take(1 << 30, &stop).await.is_some());
    }

    #[test]
    fn shown_rejections_are_cut_to_a_bounded_size() {
        let mut r = Rejection {
            sheet: String::new(),
            row: 2,
            column: "A (name)".into(),
            value: "é".repeat(100_000),
            reason: "too long".into(),
            original: vec!["é".repeat(5_000); 300],
        };
        r.original[1] = "short".into();
        shrink_for_report(&mut r);
        assert_eq!(r.value.chars().count(), SHOWN_VALUE_CHARS + 1);
        assert!(r.value.ends_with('…'));
        assert_eq!(r.original.len(), 256);
        assert_eq!(r.original[0].chars().count(), 1_025);
        assert_eq!(r.original[1], "short");
        // A value just over the 32 Ki-character rule is shown whole.
        let mut r2 = Rejection {
            value: "x".repeat(32 * 1024 + 1),
            original: vec![],
            ..r
        };
        shrink_for_report(&mut r2);
        assert_eq!(r2.value.len(), 32 * 1024 + 1);
    }

    #[tokio::test]
    async fn a_cancelled_import_stops_waiting_for_the_budget() {
        let budget = Budget::new(1024);
        let stop = CancellationToken::new();
        let _all = budget.take(1024, &stop).await.unwrap();
        stop.cancel();
        assert!(budget.take(1, &stop).await.is_none());
    }
}
