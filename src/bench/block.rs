//! The inputs of one table block — a workbook (generated, or the user's
//! file) and the clean CSV of the rows it stores — and the reset of the
//! table before each measurement.

use std::path::{Path, PathBuf};

use super::table::BenchTable;
use super::{measure, orders, Case, DataFormat, Env, Scenario};
use crate::generate::{generate, GenerateOptions};
use crate::pipeline::Method;

/// A block's files.
pub(super) struct Files {
    pub csv: PathBuf,
    pub xlsx: PathBuf,
    /// What the `filled` scenario loads first: the same rows (`csv`), or
    /// for a table keyed by the file's own column the same rows with other
    /// keys.
    pub prefill: PathBuf,
}

impl Files {
    pub fn of(&self, format: DataFormat) -> &Path {
        match format {
            DataFormat::Xlsx | DataFormat::Http => &self.xlsx,
            DataFormat::Csv => &self.csv,
        }
    }
}

/// One table block: its inputs, the data rows the workbook holds, and how
/// many of them sheetpipe stores and rejects.
pub(super) struct Block {
    pub files: Files,
    pub rows: u64,
    pub stored: u64,
    pub rejected: u64,
}

impl Block {
    /// Clean generated data of `rows` rows for `table`, as .xlsx and .csv.
    pub fn generated(
        dir: &Path,
        table: BenchTable,
        rows: u64,
        shared_strings: bool,
    ) -> anyhow::Result<Block> {
        let name = table.name();
        let csv = dir.join(format!("bench-{name}-{rows}.csv"));
        let files = Files {
            xlsx: dir.join(format!("bench-{name}-{rows}.xlsx")),
            prefill: match table {
                BenchTable::Businesses => csv.clone(),
                BenchTable::Orders => dir.join(format!("bench-{name}-{rows}-prefill.csv")),
            },
            csv,
        };
        match table {
            BenchTable::Businesses => {
                let opts = GenerateOptions {
                    rows,
                    bad_rate: 0.0,
                    seed: 42,
                    shared_strings,
                };
                generate(&files.csv, &opts)?;
                generate(&files.xlsx, &opts)?;
            }
            BenchTable::Orders => orders::generate(&files.csv, &files.xlsx, &files.prefill, rows)?,
        }
        Ok(Block {
            files,
            rows,
            stored: rows,
            rejected: 0,
        })
    }

    /// The user's `file`: imported once (untimed) to learn its counts, and
    /// the rows it stored exported, in file order, as the clean CSV.
    pub async fn from_file(env: &Env<'_>, dir: &Path, file: &Path) -> anyhow::Result<Block> {
        reset(env, Scenario::Empty, file).await?;
        let case = Case::plain(Method::Copy, DataFormat::Xlsx);
        let first = super::import(env, case, file).await?;
        if first.success_count == 0 {
            anyhow::bail!("{}: sheetpipe stores no row of it", file.display());
        }
        let csv = dir.join("bench-file.csv");
        let super::table::Db::Postgres(client) = &env.db else {
            anyhow::bail!("--file is measured on PostgreSQL only");
        };
        measure::copy_csv_to_file(client, &csv).await?;
        Ok(Block {
            files: Files {
                prefill: csv.clone(),
                csv,
                xlsx: file.to_path_buf(),
            },
            rows: first.total_records,
            stored: first.success_count,
            rejected: first.error_count,
        })
    }

    /// The (total, stored, rejected) counts an import of `format` must report.
    pub fn expected(&self, format: DataFormat) -> (u64, u64, u64) {
        match format {
            DataFormat::Csv => (self.stored, self.stored, 0),
            DataFormat::Xlsx | DataFormat::Http => (self.rows, self.stored, self.rejected),
        }
    }
}

/// Empties the table (ids restart); for `Filled`, loads `prefill` once and
/// settles the table so the measured import meets it settled. Returns the
/// rows the table now holds. A checkpoint (when permitted) keeps the
/// previous step's dirty pages from being flushed during the measurement.
pub(super) async fn reset(
    env: &Env<'_>,
    scenario: Scenario,
    prefill: &Path,
) -> anyhow::Result<u64> {
    let table = env.opts.table;
    env.db.truncate(table.name()).await?;
    if scenario == Scenario::Filled {
        env.db.prefill(env.url, table, prefill).await?;
        env.db.settle(table.name()).await?;
    }
    env.db.checkpoint().await;
    env.db.count(table.name()).await
}
