//! `sheetpipe generate FILE --rows N [--bad-rate F] [--seed S]`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::generate::{generate, GenerateOptions};

/// Arguments of `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output file: .xlsx, or .csv by extension.
    pub file: PathBuf,
    /// Data rows to write.
    #[arg(long, default_value_t = 10_000)]
    pub rows: u64,
    /// Share of invalid rows (0.0–1.0).
    #[arg(long, default_value_t = 0.0)]
    pub bad_rate: f64,
    /// Random seed; the same seed gives the same file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// xlsx: use a shared-strings table (Excel's usual layout) instead of
    /// inline strings.
    #[arg(long)]
    pub shared_strings: bool,
}

/// Runs `generate`.
pub fn run(args: GenerateArgs) -> ExitCode {
    if !(0.0..=1.0).contains(&args.bad_rate) {
        eprintln!("error: --bad-rate must be between 0 and 1");
        return ExitCode::from(2);
    }
    let opts = GenerateOptions {
        rows: args.rows,
        bad_rate: args.bad_rate,
        seed: args.seed,
        shared_strings: args.shared_strings,
    };
    match generate(&args.file, &opts) {
        Ok(summary) => {
            println!(
                "wrote {} ({} rows, {} invalid)",
                args.file.display(),
                summary.rows,
                summary.invalid
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e:#}", args.file.display());
            ExitCode::from(1)
        }
    }
}
