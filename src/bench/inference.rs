//! `bench --inference`: what `--create`'s inference pass costs. Per format
//! (.xlsx, .csv), two cases run in each run, into an empty table:
//!
//! * `copy --create`: the table `<table>_inferred_<format>` is dropped,
//!   then `sheetpipe import FILE --table T --create` infers its columns from
//!   every row of the file (one extra read) and creates it;
//! * `copy --table`: the table the first case just made (the same shape,
//!   no indexes) is emptied, then `sheetpipe import FILE --table T` writes
//!   into it.
//!
//! The ratio of the two medians (`create_vs_table` in the report) is the
//! cost of inference and creation.

use super::table::BenchTable;
use super::{Case, DataFormat, Env};
use crate::pipeline::Method;

/// Which side of the comparison a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Inference {
    /// `--table T --create`, T dropped first.
    Create,
    /// `--table T`, T (made by the `Create` case) emptied first.
    Existing,
}

/// The table a format's inference cases import into.
pub fn table_name(table: BenchTable, format: DataFormat) -> String {
    format!("{}_inferred_{}", table.name(), format.name())
}

/// The inference cases for `formats` (http has none): create, then existing.
pub fn cases(formats: &[DataFormat]) -> Vec<Case> {
    let mut out = Vec::new();
    for &format in formats.iter().filter(|f| **f != DataFormat::Http) {
        for inference in [Inference::Create, Inference::Existing] {
            out.push(Case {
                method: Method::Copy,
                format,
                inference: Some(inference),
            });
        }
    }
    out
}

/// The import's arguments beside the file for `case`'s table.
pub fn import_args(table: BenchTable, case: &Case) -> Vec<String> {
    match case.inference {
        None => table.import_args(),
        Some(side) => {
            let mut args = vec!["--table".into(), table_name(table, case.format)];
            if side == Inference::Create {
                args.push("--create".into());
            }
            args
        }
    }
}

/// Drops (`Create`) or empties (`Existing`) the case's table; returns the
/// table whose rows the import must leave.
pub(super) async fn prepare(env: &Env<'_>, case: &Case, side: Inference) -> anyhow::Result<String> {
    let name = table_name(env.opts.table, case.format);
    match side {
        Inference::Create => env.db.drop_table(&name).await?,
        Inference::Existing => env.db.truncate(&name).await?,
    }
    env.db.checkpoint().await;
    Ok(name)
}
