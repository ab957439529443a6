//! `sheetpipe bench [--rows 10000,100000,1000000] [--methods …] [--formats …]
//! [--into empty,filled] [--database-url URL] [--runs N] [--json]`: runs
//! [`crate::bench`] and prints its table (or one JSON object). Exit code 0
//! whenever the bench ran, however slow; non-zero only when it could not
//! run (no server, a failed import).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::bench::{self, BenchOptions, BenchTable, DataFormat, Scenario};
use crate::pipeline::Method;

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Row counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    pub rows: Vec<u64>,
    /// Methods to measure, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sequential,concurrent,batch,copy"
    )]
    pub methods: Vec<Method>,
    /// Input formats each method reads, comma-separated (`http`: the .xlsx
    /// through `POST /upload?method=M` of a `sheetpipe serve` child).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "xlsx,csv")]
    pub formats: Vec<DataFormat>,
    /// Table states to import into: empty, filled (already holding as many rows).
    #[arg(
        long = "into",
        value_enum,
        value_delimiter = ',',
        default_value = "empty,filled"
    )]
    pub scenarios: Vec<Scenario>,
    /// PostgreSQL (postgres://) or MariaDB/MySQL (mysql://) server to
    /// measure on (a scratch database is created there and dropped after).
    /// MariaDB's floor is `LOAD DATA LOCAL INFILE` by the `mariadb` client.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub database_url: String,
    /// The table to import into: businesses (the tutorial's), or orders (a
    /// typed table, imported with --table orders, from an .xlsx of typed cells).
    #[arg(long, value_enum, default_value = "businesses")]
    pub table: BenchTable,
    /// Also measure --create's inference: `copy --create` (table dropped
    /// first) against `copy --table` into the table it made, empty table.
    #[arg(long)]
    pub inference: bool,
    /// Runs per measurement; the table shows medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Skip sequential and concurrent above this many rows (they take minutes).
    #[arg(long, default_value_t = 10_000)]
    pub per_row_max_rows: u64,
    /// Generate the .xlsx with a shared-strings table (Excel's usual layout).
    #[arg(long)]
    pub shared_strings: bool,
    /// Keep the generated files here instead of a temporary directory.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Measure this spreadsheet (any format sheetpipe reads) instead of
    /// generated data; `--rows` is then ignored. Each case imports it (the
    /// `xlsx` format is shown as `file`); the floor and `csv` use the rows it
    /// stores, exported as a clean CSV
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `bench`.
pub async fn run(args: BenchArgs) -> ExitCode {
    if !args.database_url.starts_with("postgres") && !bench::table::is_mysql(&args.database_url) {
        eprintln!(
            "error: bench measures against PostgreSQL or MariaDB: give a postgres:// or mysql:// --database-url"
        );
        return ExitCode::from(2);
    }
    let bin = match std::env::current_exe() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot find the sheetpipe binary: {e}");
            return ExitCode::from(1);
        }
    };
    let opts = BenchOptions {
        rows: args.rows,
        methods: args.methods,
        formats: args.formats,
        scenarios: args.scenarios,
        database_url: args.database_url,
        table: args.table,
        inference: args.inference,
        runs: args.runs.max(1),
        per_row_max_rows: args.per_row_max_rows,
        shared_strings: args.shared_strings,
        bin,
        work_dir: args.work_dir,
        file: args.file,
    };
    let quiet = args.json;
    let mut note = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    match bench::run(&opts, &mut note).await {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                print!("{}", report.table());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if args.json {
                println!("{}", serde_json::json!({ "error": format!("{e:#}") }));
            }
            eprintln!("error: bench: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    /// `bench` alone, for parsing its arguments.
    #[derive(Debug, Parser)]
    struct Bench {
        #[command(flatten)]
        args: BenchArgs,
    }

    #[test]
    fn the_list_defaults_are_shown_comma_separated_as_they_are_typed() {
        let args = Bench::parse_from(["bench"]).args;
        assert_eq!(args.rows, [10_000, 100_000, 1_000_000]);
        assert_eq!(args.methods, Method::ALL);
        assert_eq!(args.formats, [DataFormat::Xlsx, DataFormat::Csv]);
        assert_eq!(args.scenarios, [Scenario::Empty, Scenario::Filled]);
        assert_eq!(args.table, BenchTable::Businesses);
        assert!(!args.inference);
        let help = Bench::command().render_long_help().to_string();
        for shown in [
            "[default: 10000,100000,1000000]",
            "[default: sequential,concurrent,batch,copy]",
            "[default: xlsx,csv]",
            "[default: empty,filled]",
        ] {
            assert!(help.contains(shown), "{shown} in:\n{help}");
        }
    }
}
