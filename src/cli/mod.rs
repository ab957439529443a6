//! The command line: parses arguments, builds library objects, prints.
//! No import logic lives here.

mod bench;
mod generate;
mod import;
mod import_text;
mod imports;
mod keys;
mod serve;
mod undo;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::pipeline::Method;
use crate::source::Limits;

/// `--method` values: the pipeline's [`Method`] as clap sees it, here so
/// that the pipeline knows nothing of clap.
impl clap::ValueEnum for Method {
    fn value_variants<'a>() -> &'a [Self] {
        &Method::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.summary()))
    }
}

/// sheetpipe: import spreadsheets into PostgreSQL, MySQL/MariaDB or SQLite.
#[derive(Debug, Parser)]
#[command(name = "sheetpipe", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import a spreadsheet into a table: the `businesses` preset, or any
    /// table with --table or --schema.
    Import(import::ImportArgs),
    /// List the imports history (newest first), or `show ID` for one.
    Imports(imports::ImportsArgs),
    /// Undo an import: delete the rows it inserted, restore the rows it
    /// updated or replaced (refused when they were changed since).
    Undo(undo::UndoArgs),
    /// Generate a realistic business directory (.xlsx or .csv).
    Generate(generate::GenerateArgs),
    /// Run the HTTP service (POST /upload, background imports, /health).
    Serve(serve::ServeArgs),
    /// Internal: read FILE in this (isolated) process and stream its rows
    /// to stdout for the parent import (see `source::isolate`).
    #[command(name = "__read", hide = true)]
    Read(ReadArgs),
    /// Measure every strategy against the database's own floor (psql \copy;
    /// on MySQL/MariaDB, LOAD DATA LOCAL INFILE).
    Bench(bench::BenchArgs),
    /// Manage the service's API keys (create, list, revoke).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

/// Arguments of the hidden `__read` subcommand.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The file.
    pub file: std::path::PathBuf,
    /// Sheet to read (given as `--sheet=NAME`, so any name passes).
    #[arg(long, allow_hyphen_values = true)]
    pub sheet: Option<String>,
    /// The parent's limits, as JSON.
    #[arg(long)]
    pub limits_json: String,
}

/// Runs the hidden `__read` subcommand (no async runtime needed).
pub fn read_child(args: &ReadArgs) -> ExitCode {
    let limits = match serde_json::from_str::<Limits>(&args.limits_json) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: bad --limits-json: {e}");
            return ExitCode::from(2);
        }
    };
    ExitCode::from(crate::source::isolate::serve(
        &args.file,
        args.sheet.clone(),
        limits,
    ))
}

/// The PostgreSQL connection pool's bound, shared by `import` and `serve`
/// (see `sink::pool`; SQLite ignores it).
#[derive(Debug, Clone, Args)]
pub struct PoolArgs {
    /// Most PostgreSQL connections this process holds at once (writers,
    /// history and /health share them; writers get all but one).
    #[arg(long, env = "SHEETPIPE_MAX_CONNECTIONS", default_value_t = crate::sink::pool::DEFAULT_MAX_CONNECTIONS,
          value_parser = at_least_one)]
    pub max_connections: usize,
    /// Seconds to wait for a free PostgreSQL connection before an import's
    /// first writer (or a history call) fails saying so.
    #[arg(long, env = "SHEETPIPE_POOL_TIMEOUT", default_value_t = crate::sink::pool::DEFAULT_POOL_TIMEOUT_SECS)]
    pub pool_timeout: u64,
}

/// A count that must be 1 or more.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of 1 or more")),
    }
}

impl PoolArgs {
    /// The pool options these flags describe.
    pub fn options(&self) -> crate::sink::PoolOptions {
        crate::sink::PoolOptions {
            max_connections: self.max_connections,
            timeout: std::time::Duration::from_secs(self.pool_timeout),
        }
    }
}

/// Reader limits, shared by every command that reads files. Every flag
/// also reads an environment variable; docs/ROBUSTNESS.md explains each.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Largest input file, in bytes.
    #[arg(long, env = "SHEETPIPE_MAX_FILE_BYTES", default_value_t = Limits::default().max_file_bytes)]
    pub max_file_bytes: u64,
    /// Most data rows in one sheet.
    #[arg(long, env = "SHEETPIPE_MAX_ROWS", default_value_t = Limits::default().max_rows)]
    pub max_rows: u64,
    /// Most columns in one row.
    #[arg(long, env = "SHEETPIPE_MAX_COLUMNS", default_value_t = Limits::default().max_columns)]
    pub max_columns: u32,
    /// Largest single cell the reader will hold, in bytes.
    #[arg(long, env = "SHEETPIPE_MAX_CELL_BYTES", default_value_t = Limits::default().max_cell_bytes)]
    pub max_cell_bytes: usize,
    /// Most entries in a zip container (xlsx, xlsb, ods).
    #[arg(long, env = "SHEETPIPE_MAX_ZIP_ENTRIES", default_value_t = Limits::default().max_zip_entries)]
    pub max_zip_entries: usize,
    /// Most bytes one zip entry may really inflate to.
    #[arg(long, env = "SHEETPIPE_MAX_ENTRY_BYTES", default_value_t = Limits::default().max_entry_bytes)]
    pub max_entry_bytes: u64,
    /// Most bytes all zip entries together may really inflate to.
    #[arg(long, env = "SHEETPIPE_MAX_INFLATED_BYTES", default_value_t = Limits::default().max_inflated_bytes)]
    pub max_inflated_bytes: u64,
    /// Largest inflated/compressed ratio of one zip entry (past 1 MiB).
    #[arg(long, env = "SHEETPIPE_MAX_INFLATE_RATIO", default_value_t = Limits::default().max_inflate_ratio)]
    pub max_inflate_ratio: u64,
    /// Most strings in the shared-strings table (declared or counted).
    #[arg(long, env = "SHEETPIPE_MAX_SHARED_STRINGS", default_value_t = Limits::default().max_shared_strings)]
    pub max_shared_strings: u64,
    /// Most bytes the shared-strings part may inflate to.
    #[arg(long, env = "SHEETPIPE_MAX_SHARED_STRINGS_BYTES", default_value_t = Limits::default().max_shared_strings_bytes)]
    pub max_shared_strings_bytes: u64,
    /// Longest reading time of one import, in seconds.
    #[arg(long, env = "SHEETPIPE_MAX_SECONDS", default_value_t = Limits::default().max_seconds)]
    pub max_seconds: u64,
    /// Address-space ceiling of the isolated reader process, in bytes.
    #[arg(long, env = "SHEETPIPE_MAX_READER_MEMORY", default_value_t = Limits::default().max_reader_memory)]
    pub max_reader_memory: u64,
    /// Largest single row, all its cells together, in bytes.
    #[arg(long, env = "SHEETPIPE_MAX_ROW_BYTES", default_value_t = Limits::default().max_row_bytes)]
    pub max_row_bytes: u64,
    /// Parse the file in a separate process under the memory and time
    /// limits, so that a parser crash fails only this import.
    #[arg(long, env = "SHEETPIPE_ISOLATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub isolate: bool,
}

impl LimitArgs {
    /// The limits these flags describe.
    pub fn limits(&self) -> Limits {
        Limits {
            max_file_bytes: self.max_file_bytes,
            max_rows: self.max_rows,
            max_columns: self.max_columns,
            max_cell_bytes: self.max_cell_bytes,
            max_zip_entries: self.max_zip_entries,
            max_inflated_bytes: self.max_inflated_bytes,
            max_inflate_ratio: self.max_inflate_ratio,
            max_entry_bytes: self.max_entry_bytes,
            max_shared_strings: self.max_shared_strings,
            max_shared_strings_bytes: self.max_shared_strings_bytes,
            max_seconds: self.max_seconds,
            max_reader_memory: self.max_reader_memory,
            max_row_bytes: self.max_row_bytes,
        }
    }

    /// The isolation these flags ask for: this executable, or none.
    pub fn isolation(&self) -> Result<Option<crate::source::Isolation>, std::io::Error> {
        if self.isolate {
            crate::source::Isolation::current_exe().map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Runs the parsed command and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Import(args) => import::run(args).await,
        Command::Imports(args) => imports::run(args).await,
        Command::Undo(args) => undo::run(args).await,
        Command::Generate(args) => generate::run(args),
        Command::Serve(args) => serve::run(args).await,
        Command::Read(args) => read_child(&args),
        Command::Bench(args) => bench::run(args).await,
        Command::Keys(cmd) => keys::run(cmd).await,
    }
}

/// How log lines are written (`serve --log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Plain text (colours only on a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

/// The log format `command` asks for (text unless `serve --log-format json`).
pub fn log_format(command: &Command) -> LogFormat {
    match command {
        Command::Serve(args) => args.log_format,
        _ => LogFormat::Text,
    }
}

/// The log filter when `RUST_LOG` is unset: a server logs one line per
/// request (an import's own steps are at debug), plus warnings and errors;
/// the other commands only warnings.
pub fn default_log_filter(command: &Command) -> &'static str {
    match command {
        Command::Serve(_) => "info,tokio_postgres=warn",
        _ => "warn",
    }
}
