//! `sheetpipe import FILE …`: one import, a progress bar on a terminal, the
//! tutorial's stats (or one JSON object with `--json`), and an exit code
//! that says how it went (see [`crate::pipeline::ImportError::exit_code`]).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use super::{LimitArgs, PoolArgs};
use crate::model::TableSchema;
use crate::pipeline::{self, Control, ImportJob, ImportReport, Method, Plan, Status};
use crate::record::{HeaderOptions, Rules};
use crate::sink::{DatabaseUrl, Sink};
use crate::source::SourceOptions;

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
    /// Rows per unit (default: 100 for batch, 2000 for copy).
    #[arg(long, env = "SHEETPIPE_BATCH_SIZE")]
    pub batch_size: Option<usize>,
    /// postgres://… or sqlite://path (default: ./sheetpipe.db).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Sheet to read, by name or 1-based position (default: the first
    /// visible worksheet). A name may start with `-` (`--sheet -2024`).
    #[arg(long, allow_hyphen_values = true)]
    pub sheet: Option<String>,
    /// Row number of the header (default: found among the first 20 rows).
    #[arg(long)]
    pub header_row: Option<u32>,
    /// Map headers to fields: 'Header=field,Other Header=field'.
    #[arg(long)]
    pub map: Option<String>,
    /// Read and validate everything, print the header mapping, counts and
    /// rejects, write nothing (no database connection).
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write every rejected row to this CSV file.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Longest accepted cell value, in characters (longer → row rejected).
    #[arg(long, env = "SHEETPIPE_MAX_CELL_CHARS", default_value_t = Rules::default().max_cell_chars)]
    pub max_cell_chars: usize,
    /// Reader limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// The PostgreSQL connection pool.
    #[command(flatten)]
    pub pool: PoolArgs,
}

/// Runs `import`.
pub async fn run(args: ImportArgs) -> ExitCode {
    let fail = |code: u8, message: String, json: bool| {
        if json {
            println!("{}", json!({ "error": message }));
        }
        eprintln!("error: {message}");
        ExitCode::from(code)
    };
    let header = match HeaderOptions::new(args.header_row, args.map.as_deref())
        .and_then(|h| h.check(&TableSchema::businesses()).map(|()| h))
    {
        Ok(h) => h,
        Err(e) => return fail(2, e, args.json),
    };
    let sink = if args.dry_run {
        None
    } else {
        let url = match DatabaseUrl::parse(args.database_url.as_deref()) {
            Ok(u) => u,
            Err(e) => return fail(2, e.to_string(), args.json),
        };
        match Sink::connect_with(&url, args.pool.options()).await {
            Ok(s) => Some(s),
            Err(e) => return fail(5, format!("{} ({})", e, url.redacted()), args.json),
        }
    };
    let isolation = match args.limits.isolation() {
        Ok(i) => i,
        Err(e) => {
            return fail(
                1,
                format!("cannot find this executable to isolate the reader: {e}"),
                args.json,
            )
        }
    };
    let plan = Plan::new(args.method, args.workers, args.batch_size);
    let job = ImportJob {
        path: args.file.clone(),
        source: SourceOptions {
            sheet: args.sheet.clone(),
            limits: args.limits.limits(),
            isolation,
            ..SourceOptions::default()
        },
        rules: Rules {
            max_cell_chars: args.max_cell_chars,
            ..Rules::default()
        },
        max_reported: 100,
        rejects_file: args.rejects.clone(),
        header,
        dry_run: args.dry_run,
        ..ImportJob::new(&args.file)
    };
    let ctl = Control::default();
    let interrupt = {
        let cancel = ctl.cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };
    let bar = (!args.json && std::io::stdout().is_terminal()).then(|| progress_bar(&ctl));
    let report = match &sink {
        Some(sink) => pipeline::run(job, &plan, sink, &ctl).await,
        None => pipeline::dry_run(job, &plan, &ctl).await,
    };
    interrupt.abort();
    if let Some((bar, ticker)) = bar {
        ticker.abort();
        bar.finish_and_clear();
    }
    print_report(&args, &report);
    crate::bench::measure::report_peak_rss();
    match (&report.status, &report.error) {
        (Status::Completed, _) => ExitCode::SUCCESS,
        (_, Some(e)) => ExitCode::from(e.exit_code()),
        _ => ExitCode::from(EXIT_CANCELLED),
    }
}

fn progress_bar(ctl: &Control) -> (indicatif::ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = ctl.progress.clone();
    let b = bar.clone();
    let ticker = tokio::spawn(async move {
        loop {
            let p = progress.snapshot();
            b.set_length(p.bytes_total);
            b.set_position(p.bytes_read.min(p.bytes_total));
            b.set_message(format!(
                "{} rows read, {} inserted, {} rejected",
                p.rows_read, p.inserted, p.rejected
            ));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (bar, ticker)
}

fn print_report(args: &ImportArgs, report: &ImportReport) {
    use std::fmt::Write as _;
    let mut out = String::new();
    if args.json {
        let _ = writeln!(out, "{}", report.to_json());
    } else {
        let s = report.stats();
        let _ = writeln!(out, "{} (method: {})", report.message(), report.method);
        let _ = writeln!(out, "  total_records:      {}", s.total_records);
        let _ = writeln!(out, "  success_count:      {}", s.success_count);
        let _ = writeln!(out, "  error_count:        {}", s.error_count);
        let took = crate::pipeline::human_duration(report.duration);
        let _ = writeln!(out, "  duration:           {took}");
        let _ = writeln!(out, "  records_per_second: {:.2}", s.records_per_second);
        if let Some(h) = &report.header {
            let _ = writeln!(out, "Header (row {}):", h.row);
            for (column, header, field) in h.mapping() {
                let _ = writeln!(out, "  {column} {header:?} -> {field}");
            }
        }
        for w in &report.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        if !report.ignored_columns.is_empty() {
            let _ = writeln!(
                out,
                "  ignored columns:    {}",
                report.ignored_columns.join(", ")
            );
        }
        if !report.rejected_rows.is_empty() {
            let _ = writeln!(
                out,
                "Rejected rows (first {} of {}):",
                report.rejected_rows.len().min(20),
                report.rejected
            );
            for r in report.rejected_rows.iter().take(20) {
                let _ = writeln!(out, "  {}: {} (value: {:?})", r.place(), r.reason, r.value);
            }
        }
        if let Some(path) = &args.rejects {
            let _ = writeln!(out, "Every rejected row: {}", path.display());
        }
    }
    // A closed stdout (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    if let Some(e) = &report.error {
        eprintln!("error: {}: {e}", args.file.display());
    }
}
