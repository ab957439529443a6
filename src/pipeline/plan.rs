//! A strategy is a configuration of the one pipeline: which write kind, how
//! many rows per unit, how many writers.

use serde::Serialize;

use crate::sink::WriteKind;

/// The import methods. The first three are the tutorial's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// One INSERT per row, each its own transaction, one writer.
    Sequential,
    /// One INSERT per row, each its own transaction, a pool of writers.
    Concurrent,
    /// Multi-row INSERTs of `batch_size` rows, a pool of writers.
    Batch,
    /// Binary COPY (PostgreSQL) / streamed LOAD DATA LOCAL INFILE (MySQL, MariaDB) / one prepared transaction per chunk (SQLite).
    Copy,
}

impl Method {
    /// Every method, for messages that list them.
    pub const ALL: [Method; 4] = [
        Method::Sequential,
        Method::Concurrent,
        Method::Batch,
        Method::Copy,
    ];

    /// The lowercase name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Method::Sequential => "sequential",
            Method::Concurrent => "concurrent",
            Method::Batch => "batch",
            Method::Copy => "copy",
        }
    }

    /// What the method does, in one line (the CLI's help).
    pub fn summary(self) -> &'static str {
        match self {
            Method::Sequential => "One INSERT per row, each its own transaction, one writer",
            Method::Concurrent => "One INSERT per row, each its own transaction, a pool of writers",
            Method::Batch => "Multi-row INSERTs of `batch_size` rows, a pool of writers",
            Method::Copy => {
                "Binary COPY (PostgreSQL) / streamed LOAD DATA LOCAL INFILE (MySQL, MariaDB) / one prepared transaction per chunk (SQLite)"
            }
        }
    }

    /// Parses a method name (case-insensitive).
    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The tutorial's default method (its `/upload` without `?method=`).
impl Default for Method {
    fn default() -> Self {
        Method::Batch
    }
}

/// The machine's core count (at least 1).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How one import runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The strategy asked for.
    pub method: Method,
    /// How each unit is written.
    #[serde(skip)]
    pub kind: WriteKind,
    /// Rows per unit sent to a writer (a copy's default may be the sink's
    /// own instead: [`Plan::unit_rows`]).
    pub batch_size: usize,
    /// Whether `batch_size` was asked for (`--batch-size`, the server's
    /// setting) rather than taken from the method's default.
    #[serde(skip)]
    pub batch_size_asked: bool,
    /// Writer tasks, each with its own connection.
    pub workers: usize,
    /// A unit is sent once its rows hold this many bytes, even short of
    /// `batch_size` rows ([`UNIT_BYTES`]).
    #[serde(skip)]
    pub unit_bytes: usize,
    /// Most bytes of rows (units and rejections) one import holds between
    /// its reader and its writers / collector ([`BYTES_IN_FLIGHT`]).
    #[serde(skip)]
    pub bytes_in_flight: usize,
}

/// Default [`Plan::unit_bytes`]: 8 MiB. A 2,000-row COPY unit of ordinary
/// rows (~0.5 KB) is ~1 MB, so only rows of large cells reach it.
pub const UNIT_BYTES: usize = 8 << 20;

/// Default [`Plan::bytes_in_flight`]: 64 MiB per import, whatever the
/// number of writers (docs/ROBUSTNESS.md, "Memory").
pub const BYTES_IN_FLIGHT: usize = 64 << 20;

/// Rows per COPY unit, chosen by measurement (docs/BENCHMARKS.md): large
/// enough that per-COPY overhead (statement start, commit) is lost in the
/// noise even at 1M rows, small enough that the first COPY starts after
/// ~20 ms of parsing (loading overlaps parsing sooner), a refused unit is
/// cheap to bisect, and the units in flight stay a few MB.
pub const COPY_CHUNK: usize = 2_000;

/// Rows per copy unit of an append or a replace on MySQL/MariaDB (`LOAD
/// DATA LOCAL`), measured there apart from [`COPY_CHUNK`] (docs/BENCHMARKS.md,
/// "Huge pages, and larger LOAD DATA units"): a fifth as many loads,
/// commits (each waits for InnoDB's redo-log flush), ledger rows and
/// warning checks, so a 1M-row load takes about a sixth less of the
/// server's CPU (20,000 leaves too few units at 100k rows for two writers
/// to overlap).
pub const MYSQL_COPY_CHUNK: usize = 10_000;

/// Largest multi-row unit. A writer sends a unit as one INSERT when the
/// backend's parameter limit allows (PostgreSQL 65,535, SQLite 32,766
/// values: 3,640 rows of the nine business columns), else as several in
/// one transaction, so a unit stays one atomic write whatever the width.
pub const MAX_BATCH: usize = 10_000;

impl Plan {
    /// The tutorial's defaults for `method`, with optional overrides.
    /// Sequential always has one writer; per-row methods send one row per
    /// unit; multi-row units are capped at the parameter limit.
    pub fn new(method: Method, workers: Option<usize>, batch_size: Option<usize>) -> Plan {
        let workers = workers.filter(|&w| w > 0);
        let batch_size = batch_size.filter(|&b| b > 0);
        let (kind, batch, writers) = match method {
            Method::Sequential => (WriteKind::PerRow, 1, 1),
            Method::Concurrent => (WriteKind::PerRow, 1, workers.unwrap_or_else(cores)),
            Method::Batch => (
                WriteKind::MultiRow,
                batch_size.unwrap_or(100).min(MAX_BATCH),
                workers.unwrap_or_else(cores),
            ),
            Method::Copy => (
                WriteKind::Copy,
                batch_size.unwrap_or(COPY_CHUNK),
                workers.unwrap_or(2),
            ),
        };
        Plan {
            method,
            kind,
            batch_size: batch,
            batch_size_asked: batch_size.is_some(),
            workers: writers,
            unit_bytes: UNIT_BYTES,
            bytes_in_flight: BYTES_IN_FLIGHT,
        }
    }

    /// Rows per unit of a `mode` import into `sink`: `batch_size`, unless
    /// this is a copy whose size nobody asked for and the sink wants its
    /// own ([`crate::sink::Sink::copy_rows`]).
    pub fn unit_rows(&self, sink: &crate::sink::Sink, mode: crate::sink::merge::Mode) -> usize {
        self.sinks_copy_rows(sink, mode).unwrap_or(self.batch_size)
    }

    /// The sink's own copy unit, when this is a copy whose size nobody
    /// asked for and the sink has one.
    fn sinks_copy_rows(
        &self,
        sink: &crate::sink::Sink,
        mode: crate::sink::merge::Mode,
    ) -> Option<usize> {
        match self.kind {
            WriteKind::Copy if !self.batch_size_asked => sink.copy_rows(mode),
            _ => None,
        }
    }

    /// Rows of the first unit: an eighth of [`Plan::unit_rows`] when that
    /// is the sink's own copy size (MySQL's 10,000-row `LOAD DATA`), each
    /// next unit twice as large up to it, so that the server starts on
    /// rows while the reader makes the rest; otherwise every unit is
    /// [`Plan::unit_rows`] from the first (an asked `--batch-size` holds
    /// for every unit).
    pub fn first_unit_rows(
        &self,
        sink: &crate::sink::Sink,
        mode: crate::sink::merge::Mode,
    ) -> usize {
        match self.sinks_copy_rows(sink, mode) {
            Some(rows) => (rows / RAMP).max(1),
            None => self.batch_size,
        }
    }
}

/// How much smaller than the rest the first of a ramp of units is
/// ([`Plan::first_unit_rows`]).
const RAMP: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_are_configurations_of_one_pipeline() {
        let seq = Plan::new(Method::Sequential, Some(8), Some(50));
        assert_eq!(
            (seq.kind, seq.batch_size, seq.workers),
            (WriteKind::PerRow, 1, 1)
        );
        let con = Plan::new(Method::Concurrent, Some(3), None);
        assert_eq!(
            (con.kind, con.batch_size, con.workers),
            (WriteKind::PerRow, 1, 3)
        );
        let bat = Plan::new(Method::Batch, None, None);
        assert_eq!(
            (bat.kind, bat.batch_size, bat.workers),
            (WriteKind::MultiRow, 100, cores())
        );
        let big = Plan::new(Method::Batch, None, Some(1_000_000));
        assert_eq!(big.batch_size, MAX_BATCH);
    }

    #[test]
    fn methods_parse_case_insensitively() {
        assert_eq!(Method::parse("Batch"), Some(Method::Batch));
        assert_eq!(Method::parse("bulk"), None);
    }
}
