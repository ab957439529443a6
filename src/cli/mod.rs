//! The command line: parses arguments, builds library objects, prints.
//! No import logic lives here.

mod generate;
mod import;
mod serve;

/// The report as one JSON object (`import --json`, and the HTTP answers).
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::source::Limits;

/// sheetpipe: import spreadsheets into PostgreSQL or SQLite.
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
    /// Import a spreadsheet into the `businesses` table.
    Import(import::ImportArgs),
    /// Generate a realistic business directory (.xlsx or .csv).
    Generate(generate::GenerateArgs),
    /// Run the HTTP service (POST /upload, background imports, /health).
    Serve(serve::ServeArgs),
}

/// Reader limits, shared by every command that reads files.
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
}

impl LimitArgs {
    /// The limits these flags describe.
    pub fn limits(&self) -> Limits {
        Limits {
            max_file_bytes: self.max_file_bytes,
            max_rows: self.max_rows,
            max_columns: self.max_columns,
            max_cell_bytes: self.max_cell_bytes,
            ..Limits::default()
        }
    }
}

/// Runs the parsed command and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Import(args) => import::run(args).await,
        Command::Generate(args) => generate::run(args),
        Command::Serve(args) => serve::run(args).await,
    }
}

/// The log filter when `RUST_LOG` is unset: a server logs one line per
/// request and per import step; the other commands only warnings.
pub fn default_log_filter(command: &Command) -> &'static str {
    match command {
        Command::Serve(_) => "info,tokio_postgres=warn",
        _ => "warn",
    }
}
