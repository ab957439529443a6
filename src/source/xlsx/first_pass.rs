//! The sheet's first pass on a thread of its own, beside the second.
//!
//! `<mergeCells>` comes after `<sheetData>`, so the merged ranges are
//! found by a first pass over the whole sheet (`merges.rs`), which also
//! inflates it through the limits and checks its declared size and CRC.
//! That pass used to run before the second one began; now it runs on its
//! own thread while the second pass parses the rows, and the rows the
//! second pass assembles meanwhile wait here, in a buffer bounded by
//! [`MAX_WAITING_BYTES`] and by the reader's memory ceiling (the second
//! pass waits for the first when it is full). They are emitted, with the merged ranges filled, only once the
//! first pass has succeeded: as before, a sheet the first pass refuses
//! emits no row, and its error is the one reported, even when the second
//! pass fails too. docs/FORMATS.md and docs/BENCHMARKS.md ("The sheet's
//! two passes side by side") have the rest.

use std::ops::ControlFlow;
use std::path::Path;
use std::thread::JoinHandle;

use calamine::Dimensions;

use super::book::{corrupt, io_error};
use super::read_entry;
use crate::model::{Cell, RawRow};
use crate::source::cells::{open_buffered, Merges};
use crate::source::{Limits, SourceError};

/// Bytes of assembled rows (roughly: [`row_bytes`]) that may wait for the
/// first pass, and at most a sixteenth of the reader's memory ceiling
/// (`--max-reader-memory`: 16 MiB of its default 256 MiB); the second pass
/// then waits for it.
pub(super) const MAX_WAITING_BYTES: usize = 16 << 20;

/// The smallest reader memory ceiling under which the first pass gets a
/// thread: the thread, its inflater and the waiting rows took the 100k-row
/// .xlsx of docs/FORMATS.md from under 40 MiB of address space to 48–56
/// MiB, so a reader under a tighter ceiling runs the passes one after the
/// other, as it did before.
pub(super) const THREAD_FLOOR: u64 = 128 << 20;

/// The first pass of one sheet: running, or done and its merged ranges
/// applied to the rows as they are emitted.
pub(super) struct FirstPass {
    running: Option<JoinHandle<Result<Vec<Dimensions>, SourceError>>>,
    merges: Merges,
    waiting: Vec<RawRow>,
    waiting_bytes: usize,
    /// [`MAX_WAITING_BYTES`], or less under a tight memory ceiling.
    max_waiting: usize,
    failed: Option<SourceError>,
}

/// The first pass itself: the merged ranges of zip entry `part` of the
/// workbook at `path`, read through the limits (`before`: the bytes
/// inflated before the sheet), the whole entry inflated.
fn merges_of(
    path: &Path,
    part: &str,
    limits: &Limits,
    before: u64,
) -> Result<Vec<Dimensions>, SourceError> {
    let mut zip = zip::ZipArchive::new(open_buffered(path)?)
        .map_err(|e| corrupt(format!("the zip container is unreadable ({e})")))?;
    let (merges, _) = read_entry(&mut zip, part, limits, before, false, |src| {
        let merges = super::merges::find_merges(&mut *src);
        let mut rest = [0u8; 8192];
        while src.read(&mut rest).map_err(|e| io_error(part, e))? > 0 {}
        Ok(merges)
    })?;
    let merges = merges.unwrap_or_default();
    let max = crate::source::xlsb::merges::MAX_RANGES;
    if merges.len() > max {
        return Err(corrupt(format!(
            "{part}: more than {max} merged ranges span several rows"
        )));
    }
    Ok(merges)
}

/// Bytes one assembled row holds, roughly.
fn row_bytes(row: &RawRow) -> usize {
    let text = |c: &Cell| match c {
        Cell::Text(s) | Cell::DateTime(s) | Cell::Error(s) => s.len(),
        _ => 0,
    };
    std::mem::size_of::<RawRow>()
        + row
            .cells
            .iter()
            .map(|c| std::mem::size_of::<Cell>() + text(c))
            .sum::<usize>()
}

impl FirstPass {
    /// Starts the first pass of `part` on a thread (inline, before the
    /// second pass, under a ceiling below [`THREAD_FLOOR`] or when no
    /// thread can be had).
    pub(super) fn start(path: &Path, part: &str, limits: &Limits, before: u64) -> FirstPass {
        let mut pass = FirstPass {
            running: None,
            merges: Merges::new(Vec::new()),
            waiting: Vec::new(),
            waiting_bytes: 0,
            max_waiting: usize::try_from(limits.max_reader_memory / 16)
                .unwrap_or(usize::MAX)
                .min(MAX_WAITING_BYTES),
            failed: None,
        };
        let (p, name, l) = (path.to_path_buf(), part.to_string(), limits.clone());
        let spawned = match limits.max_reader_memory >= THREAD_FLOOR {
            true => std::thread::Builder::new()
                .name("xlsx-first-pass".into())
                .stack_size(1 << 20)
                .spawn(move || merges_of(&p, &name, &l, before)),
            false => Err(std::io::Error::other("a tight memory ceiling")),
        };
        match spawned {
            Ok(handle) => pass.running = Some(handle),
            Err(_) => pass.settle(merges_of(path, part, limits, before)),
        }
        pass
    }

    fn settle(&mut self, result: Result<Vec<Dimensions>, SourceError>) {
        match result {
            Ok(merges) => self.merges = Merges::new(merges),
            Err(e) => self.failed = Some(e),
        }
    }

    /// Waits for the first pass, if it runs.
    fn join(&mut self) {
        if let Some(handle) = self.running.take() {
            let result = handle
                .join()
                .unwrap_or_else(|_| Err(corrupt("the sheet's first pass failed".to_string())));
            self.settle(result);
        }
    }

    /// Emits the waiting rows, merged ranges filled.
    fn flush(&mut self, emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>) -> ControlFlow<()> {
        self.waiting_bytes = 0;
        for mut row in std::mem::take(&mut self.waiting) {
            self.merges.apply(&mut row);
            emit(row)?;
        }
        ControlFlow::Continue(())
    }

    /// Takes one row the second pass assembled: emitted once the first
    /// pass is done, waiting till then. `Break` when the consumer stopped
    /// or the first pass failed ([`FirstPass::finish`] says which).
    pub(super) fn row(
        &mut self,
        mut row: RawRow,
        emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if let Some(handle) = &self.running {
            if !handle.is_finished() && self.waiting_bytes < self.max_waiting {
                self.waiting_bytes += row_bytes(&row);
                self.waiting.push(row);
                return ControlFlow::Continue(());
            }
            self.join();
        }
        if self.failed.is_some() {
            return ControlFlow::Break(());
        }
        self.flush(emit)?;
        self.merges.apply(&mut row);
        emit(row)
    }

    /// Ends the sheet: `second` is how the second pass ended. The first
    /// pass's error comes first; else the rows still waiting are emitted
    /// (also those before an error of the second pass, as they would
    /// have been), and the second pass's error, if any, is returned.
    pub(super) fn finish<T>(
        mut self,
        second: Result<T, SourceError>,
        emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>,
    ) -> Result<T, SourceError> {
        self.join();
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let _ = self.flush(emit);
        second
    }
}
