//! `sheetpipe import FILE …`: one import, a progress bar on a terminal, the
//! tutorial's stats (or one JSON object with `--json`), and an exit code
//! that says how it went (see [`crate::pipeline::ImportError::exit_code`]).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_json::json;

use super::import_text::{print_report, progress_bar};
use super::{LimitArgs, PoolArgs};
use crate::model::{load_schema_file, TableSchema};
use crate::pipeline::{
    self, Control, ErrorBudget, ImportJob, ImportReport, Method, Plan, Status, TableSpec,
};
use crate::record::{ConvertOptions, HeaderOptions, Rules};
use crate::sink::imports::{now, ImportEnd, ImportRow};
use crate::sink::merge::ModeOptions;
use crate::sink::{same_file, DatabaseUrl, Sink};
use crate::source::{self, SourceOptions};

/// Exit code of an import stopped by ctrl-c.
pub const EXIT_CANCELLED: u8 = 130;

/// The help of `import FILE`, from the one list of formats.
fn file_help() -> String {
    let list = crate::source::Format::extension_list();
    format!("The spreadsheet ({list}); its content decides the format")
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The spreadsheet (the extensions of `Format::READABLE`); its content
    /// decides the format.
    #[arg(help = file_help())]
    pub file: PathBuf,
    /// Import strategy.
    #[arg(long, value_enum, default_value_t = Method::Copy)]
    pub method: Method,
    /// Writer tasks (default: the method's; cores for concurrent and batch).
    #[arg(long, env = "SHEETPIPE_WORKERS")]
    pub workers: Option<usize>,
    /// Rows per unit (default: 100 for batch; 2000 for copy, 10000 for a
    /// copy append or replace into MySQL/MariaDB).
    #[arg(long, env = "SHEETPIPE_BATCH_SIZE")]
    pub batch_size: Option<usize>,
    /// postgres://…, mysql://… (or mariadb://…) or sqlite://path (default: ./sheetpipe.db).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Sheet to read, by name or 1-based position (default: the first
    /// visible worksheet). A name may start with `-` (`--sheet -2024`).
    #[arg(long, allow_hyphen_values = true)]
    pub sheet: Option<String>,
    /// Row number of the header (default: found among the first 20 rows).
    #[arg(long)]
    pub header_row: Option<u32>,
    /// Map headers to fields: 'Header=field,Other Header=field'; 'Header=-'
    /// ignores a header.
    #[arg(long)]
    pub map: Option<String>,
    /// Import into this existing table (its columns and types are read
    /// from the database) instead of the `businesses` preset.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// A declared table (docs/SCHEMA.md): columns, types, header aliases
    /// and rules; created when missing. The file names the table.
    #[arg(long, value_name = "FILE.toml", conflicts_with_all = ["table", "create"])]
    pub schema: Option<PathBuf>,
    /// With --table: create the table when it is missing, its columns and
    /// types inferred from every row of the file (see --infer-rows).
    #[arg(long, requires = "table")]
    pub create: bool,
    /// With --create: infer the types from the first N data rows only (a
    /// later value that does not fit is rejected, naming its cell).
    #[arg(long, value_name = "N", requires = "create")]
    pub infer_rows: Option<u64>,
    /// With --create: the type of one of the new table's columns,
    /// COLUMN=TYPE (the column's name as --dry-run --create shows it; the
    /// type as in a schema file: integer, numeric(12,2), text, …), over
    /// the inferred one. Repeat for more columns.
    #[arg(long = "type", value_name = "COLUMN=TYPE", requires = "create",
          value_parser = |s: &str| pipeline::parse_column_type(s, '='))]
    pub types: Vec<(String, crate::model::SqlType)>,
    /// Read dates written as text in this layout (chrono format, e.g.
    /// %d/%m/%Y); ISO 8601 is always read, no other layout is guessed.
    #[arg(long, value_name = "FORMAT")]
    pub date_format: Option<String>,
    /// Read and validate everything, print the header mapping, counts and
    /// rejects, write nothing (no database connection).
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write every rejected row to this file: .xlsx (text cells, the bad
    /// cell highlighted with a note; fix it and import it again) when the
    /// name ends in .xlsx, else CSV.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Longest accepted cell value, in characters (longer → row rejected).
    #[arg(long, env = "SHEETPIPE_MAX_CELL_CHARS", default_value_t = Rules::default().max_cell_chars)]
    pub max_cell_chars: usize,
    /// Stop the import when more than N rows are rejected (exit code 6).
    #[arg(long, env = "SHEETPIPE_MAX_ERRORS", value_name = "N")]
    pub max_errors: Option<u64>,
    /// Stop the import when more than this share of the rows judged so far
    /// is rejected: 0.05 or 5% (judged after 100 rows, and at the end;
    /// exit code 6).
    #[arg(long, env = "SHEETPIPE_MAX_ERROR_RATE", value_name = "R", value_parser = ErrorBudget::parse_rate)]
    pub max_error_rate: Option<f64>,
    /// Reader limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Import the file even if the same file (by SHA-256) was already
    /// imported completely into the same table (otherwise refused, exit 7).
    #[arg(long)]
    pub allow_reimport: bool,
    /// How rows whose key already exists are treated: append (insert
    /// every row, the default), upsert, skip-existing or replace (see
    /// docs/MODES.md).
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// The key rows are matched on: COL[,COL] (default: the primary key,
    /// or the one unique constraint the file maps).
    #[arg(long, value_name = "COLS")]
    pub key: Option<String>,
    /// The same key twice in the file: reject (the later rows, the
    /// default) or last (the last row wins).
    #[arg(long, value_name = "RULE")]
    pub duplicates: Option<String>,
    /// In an upsert, what an empty cell does to a stored row: null (sets
    /// NULL, the default) or keep (keeps the stored value).
    #[arg(long, value_name = "RULE")]
    pub empty_cells: Option<String>,
    /// The PostgreSQL connection pool.
    #[command(flatten)]
    pub pool: PoolArgs,
}

/// Runs `import`: checks the arguments and the file (before any database
/// is touched), connects, records the import in the `imports` history,
/// runs it, records its end, prints the report.
pub async fn run(args: ImportArgs) -> ExitCode {
    let job = match prepare(&args) {
        Ok(job) => job,
        Err(failure) => return failure.print(&args),
    };
    let mut hashed_beside: Option<tokio::task::JoinHandle<()>> = None;
    let target = if args.dry_run {
        None
    } else {
        // The file is hashed while the connection is made.
        let hashing = hash_file(&args);
        let checked =
            !(args.allow_reimport || same_file::reimport_allowed(Some(job.mode.mode.as_str())));
        let started = match connect(&args).await {
            Ok(sink) if checked => match same_file(&job, &sink, hashing).await {
                Ok(sha256) => record_start(&args, &job, sink, sha256).await,
                Err(failure) => Err(failure),
            },
            Ok(sink) => {
                // No same-file check waits for the hash: it is computed
                // beside the import and recorded once known (before the
                // import's end is).
                let started = record_start(&args, &job, sink, String::new()).await;
                if let Ok((sink, id)) = &started {
                    hashed_beside =
                        Some(tokio::spawn(record_hash(sink.clone(), id.clone(), hashing)));
                }
                started
            }
            Err(failure) => Err(failure),
        };
        match started {
            Ok(t) => Some(t),
            Err(failure) => return failure.print(&args),
        }
    };
    // This process's hold on the import while it runs (undo tells a
    // killed import from a running one by it); released when it ends.
    let hold = match &target {
        Some((sink, id)) => sink.hold_import(id, &table_name(&job)).await.ok(),
        None => None,
    };
    // A dry run reads the database only to know an existing table.
    let reading = match (&target, job.spec.is_preset()) {
        (None, false) => match connect_to_read(&args).await {
            Ok(sink) => sink,
            Err((code, message)) => return Failure::new(code, message).print(&args),
        },
        _ => None,
    };
    let plan = Plan::new(args.method, args.workers, args.batch_size);
    let report = execute(&args, job, &plan, target.as_ref(), reading.as_ref()).await;
    if let Some(hashed) = hashed_beside {
        let _ = hashed.await;
    }
    if let Some((sink, id)) = &target {
        record_end(sink, id, &report).await;
    }
    drop(hold);
    print_report(&args, &report, target.as_ref().map(|(_, id)| id.as_str()));
    crate::bench::measure::report_peak_rss();
    match (&report.status, &report.error) {
        (Status::Completed, _) => ExitCode::SUCCESS,
        (_, Some(e)) => ExitCode::from(e.exit_code()),
        _ => ExitCode::from(EXIT_CANCELLED),
    }
}

/// Why `import` stopped before it started.
struct Failure {
    code: u8,
    message: String,
    /// The message is about the file (it is then named before it).
    about_file: bool,
    /// More fields of the `--json` object.
    json: Option<serde_json::Value>,
}

impl Failure {
    fn new(code: u8, message: String) -> Failure {
        Failure {
            code,
            message,
            about_file: false,
            json: None,
        }
    }

    /// Adds the fields of `extra` (an object) to the `--json` object.
    fn with_json(mut self, extra: serde_json::Value) -> Failure {
        self.json = Some(extra);
        self
    }

    /// One line on stderr; with --json also the object on stdout (a file
    /// error names the file in its `file`).
    fn print(self, args: &ImportArgs) -> ExitCode {
        let file = args.file.display().to_string();
        if args.json {
            let mut v = json!({ "error": self.message });
            if self.about_file {
                v["file"] = json!(file);
            }
            if let Some(serde_json::Value::Object(extra)) = self.json {
                for (k, x) in extra {
                    v[k] = x;
                }
            }
            println!("{v}");
        }
        match self.about_file {
            true => eprintln!("error: {file}: {}", self.message),
            false => eprintln!("error: {}", self.message),
        }
        ExitCode::from(self.code)
    }
}

/// The job the arguments describe, once the file has been checked — before
/// any database is touched, so a bad file never creates one.
fn prepare(args: &ImportArgs) -> Result<ImportJob, Failure> {
    let (header, budget) = options(args).map_err(|e| Failure::new(2, e))?;
    let isolation = args.limits.isolation().map_err(|e| {
        Failure::new(
            1,
            format!("cannot find this executable to isolate the reader: {e}"),
        )
    })?;
    let source = SourceOptions {
        sheet: args.sheet.clone(),
        limits: args.limits.limits(),
        isolation,
        ..SourceOptions::default()
    };
    if let Err(e) = source::check(&args.file, &source) {
        let e = pipeline::ImportError::from(e);
        return Err(Failure {
            about_file: true,
            ..Failure::new(e.exit_code(), e.to_string())
        });
    }
    let spec = match &args.schema {
        Some(file) => TableSpec::Declared(Arc::new(
            load_schema_file(file).map_err(|e| Failure::new(2, e))?,
        )),
        None => TableSpec::from_words(args.table.as_deref(), args.create, args.infer_rows)
            .and_then(|s| s.with_types(args.types.clone()))
            .map_err(|e| Failure::new(2, e))?,
    };
    let mode = ModeOptions::from_words(
        args.mode.as_deref(),
        args.key.as_deref(),
        args.duplicates.as_deref(),
        args.empty_cells.as_deref(),
    )
    .map_err(|e| Failure::new(2, e))?;
    let convert = match &args.date_format {
        Some(f) => ConvertOptions::with_date_format(f)
            .map_err(|e| Failure::new(2, format!("--date-format: {e}")))?,
        None => ConvertOptions::default(),
    };
    Ok(ImportJob {
        source,
        spec,
        rules: Rules {
            max_cell_chars: args.max_cell_chars,
            convert,
        },
        rejects_files: args.rejects.iter().cloned().collect(),
        header,
        dry_run: args.dry_run,
        budget,
        mode,
        ..ImportJob::new(&args.file)
    })
}

/// The header options and the error budget, or why they are wrong.
fn options(args: &ImportArgs) -> Result<(HeaderOptions, ErrorBudget), String> {
    let header = HeaderOptions::new(args.header_row, args.map.as_deref())?;
    // The preset's columns are known now; another table's once it is read.
    if args.table.is_none() && args.schema.is_none() {
        header.check(&TableSchema::businesses())?;
    }
    let budget = ErrorBudget::new(args.max_errors, args.max_error_rate)?;
    Ok((header, budget))
}

/// Connects to the database.
async fn connect(args: &ImportArgs) -> Result<Sink, Failure> {
    let url = DatabaseUrl::parse(args.database_url.as_deref())
        .map_err(|e| Failure::new(2, e.to_string()))?;
    Sink::connect_with(&url, args.pool.options())
        .await
        .map_err(|e| Failure::new(5, format!("{} ({})", e, url.redacted())))
}

/// The file's SHA-256 and how long it took, computed on the blocking pool.
type Hashing = tokio::task::JoinHandle<(std::io::Result<String>, std::time::Duration)>;

/// Starts hashing the file (see [`same_file`]).
fn hash_file(args: &ImportArgs) -> Hashing {
    let path = args.file.clone();
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let sha = crate::source::digest::sha256_file(&path);
        (sha, started.elapsed())
    })
}

/// Records the hash of an import that did not wait for it (a failure is
/// a warning: the same-file check only ever reads completed imports).
async fn record_hash(sink: Sink, id: String, hashing: Hashing) {
    match hashed(hashing).await {
        Ok(sha) => {
            if let Err(e) = sink.set_import_sha256(&id, &sha).await {
                tracing::warn!(error = %e, "cannot record the file's SHA-256");
            }
        }
        Err(failure) => tracing::warn!(error = %failure.message, "cannot hash the file"),
    }
}

/// The hash [`hash_file`] computed, or why there is none (the file could
/// not be read: exit 3, naming it).
async fn hashed(hashing: Hashing) -> Result<String, Failure> {
    match hashing.await {
        Ok((Ok(sha), took)) => {
            tracing::debug!(sha256 = %sha, took_ms = took.as_millis() as u64, "file hashed");
            Ok(sha)
        }
        Ok((Err(e), _)) => Err(Failure {
            about_file: true,
            ..Failure::new(3, format!("cannot read the file: {e}"))
        }),
        Err(e) => Err(Failure::new(1, format!("hashing the file failed: {e}"))),
    }
}

/// The file's SHA-256 (read once before the import), after checking that
/// it was not already imported completely into the job's table (see
/// `sink::same_file`): such an append is refused before any row is
/// written. Only called when the check applies (an append without
/// `--allow-reimport`); other imports hash beside the import
/// ([`record_hash`]).
async fn same_file(job: &ImportJob, sink: &Sink, hashing: Hashing) -> Result<String, Failure> {
    let sha256 = hashed(hashing).await?;
    match sink.completed_import_of(&sha256, &table_name(job)).await {
        Ok(None) => Ok(sha256),
        Ok(Some(earlier)) => Err(Failure {
            about_file: true,
            ..Failure::new(
                same_file::EXIT_SAME_FILE,
                format!("{earlier}; pass --allow-reimport to import it anyway"),
            )
        }
        .with_json(json!({
            "previous_import": {
                "id": earlier.previous.id,
                "finished_at": earlier.when(),
                "inserted": earlier.previous.inserted,
                "filename": earlier.previous.filename,
                "table": earlier.table,
            },
            "sha256": earlier.previous.sha256,
        }))),
        Err(e) => Err(Failure::new(
            5,
            format!("cannot read the imports history: {e}"),
        )),
    }
}

/// The table the import writes to, by the name it was given (`--table`,
/// `--schema`'s), else the preset's.
fn table_name(job: &ImportJob) -> String {
    job.spec
        .name()
        .map_or_else(|| job.table.name.clone(), str::to_string)
}

/// Records the import as `running` in the database's `imports` history.
/// Returns the sink writing through the import's ledger (counts exact even
/// if this process is killed) and the import's id.
async fn record_start(
    args: &ImportArgs,
    job: &ImportJob,
    sink: Sink,
    sha256: String,
) -> Result<(Sink, String), Failure> {
    let id = uuid::Uuid::new_v4().to_string();
    let at = now();
    let row = ImportRow {
        id: id.clone(),
        filename: args.file.display().to_string(),
        sha256,
        method: args.method.name().to_string(),
        mode: job.mode.mode.as_str().to_string(),
        status: "running".to_string(),
        bytes: std::fs::metadata(&args.file).map_or(0, |m| m.len() as i64),
        rows_read: 0,
        inserted: 0,
        updated: 0,
        skipped: 0,
        rejected: 0,
        created_at: at.clone(),
        started_at: Some(at.clone()),
        finished_at: None,
        error: None,
        rejects_removed_at: None,
        instance_id: None,
        table_name: Some(table_name(job)),
        rejects_files: job
            .rejects_files
            .iter()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
            .map(|p| p.display().to_string())
            .collect(),
        owner: None,
    };
    let recorded = match sink.insert_import(&row).await {
        Ok(()) => sink.start_import(&id, &at).await,
        Err(e) => Err(e),
    };
    recorded.map_err(|e| {
        Failure::new(
            5,
            format!("cannot record the import in the imports table: {e}"),
        )
    })?;
    Ok((sink.with_ledger(&id), id))
}

/// For a dry run into a table of the user's: the database, to read the
/// table's definition from (nothing is written to it). `None` when it is a
/// SQLite file that does not exist yet: it has no tables, so none is
/// opened (and none created).
async fn connect_to_read(args: &ImportArgs) -> Result<Option<Sink>, (u8, String)> {
    let url = DatabaseUrl::parse(args.database_url.as_deref()).map_err(|e| (2, e.to_string()))?;
    if let DatabaseUrl::Sqlite(path) = &url {
        if !path.exists() {
            return match (&args.table, args.create) {
                (Some(table), false) if args.schema.is_none() => Err((
                    3,
                    format!(
                        "table {table} does not exist: the SQLite database {} does not exist yet",
                        path.display()
                    ),
                )),
                _ => Ok(None),
            };
        }
    }
    Sink::connect_with(&url, args.pool.options())
        .await
        .map(Some)
        .map_err(|e| (5, format!("{} ({})", e, url.redacted())))
}

/// The backend the URL names ("postgres", "sqlite", "mysql").
fn backend_of(args: &ImportArgs) -> &'static str {
    match DatabaseUrl::parse(args.database_url.as_deref()) {
        Ok(DatabaseUrl::Postgres(_)) => "postgres",
        Ok(DatabaseUrl::Mysql(_)) => "mysql",
        _ => "sqlite",
    }
}

/// Runs the import under ctrl-c and, on a terminal, a progress bar.
async fn execute(
    args: &ImportArgs,
    job: ImportJob,
    plan: &Plan,
    target: Option<&(Sink, String)>,
    reading: Option<&Sink>,
) -> ImportReport {
    let ctl = Control::default();
    let interrupt = {
        let cancel = ctl.cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };
    let bar =
        (!args.json && std::io::stdout().is_terminal()).then(|| progress_bar(&ctl, args.dry_run));
    let report = match (target, reading) {
        (Some((sink, _)), _) | (None, Some(sink)) => pipeline::run(job, plan, sink, &ctl).await,
        (None, None) => pipeline::dry_run_for(job, plan, &ctl, backend_of(args)).await,
    };
    interrupt.abort();
    if let Some((bar, ticker)) = bar {
        ticker.abort();
        bar.finish_and_clear();
    }
    report
}

/// Records the end of the import in its `imports` row (a failure to do so
/// is a warning: the rows and the report are what matter).
async fn record_end(sink: &Sink, id: &str, report: &ImportReport) {
    let status = match report.status {
        Status::Completed => "completed",
        Status::Failed => "failed",
        Status::Cancelled => "cancelled",
    };
    let error = match (&report.error, report.status) {
        (Some(e), _) => Some(e.to_string()),
        (None, Status::Cancelled) => Some("cancelled by ctrl-c".to_string()),
        _ => None,
    };
    let at = now();
    let end = ImportEnd {
        status,
        rows_read: report.rows_read as i64,
        inserted: report.inserted as i64,
        updated: report.updated as i64,
        skipped: report.skipped as i64,
        rejected: report.rejected as i64,
        finished_at: &at,
        error: error.as_deref(),
    };
    if let Err(e) = sink.finish_import(id, &end).await {
        tracing::warn!(error = %e, "cannot record the end of the import");
    }
}
