//! What `import` shows a person: the progress bar on a terminal, and the
//! final summary — sized to fit a 30-line terminal (the listed rejects are
//! capped and point to `--rejects` / `--json` for the rest) — or, for a
//! failed import, one line on stderr: `error: FILE: why`.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use super::import::ImportArgs;
use crate::pipeline::{Control, ImportError, ImportReport, Status};

/// Lines the whole summary may take.
pub const SUMMARY_LINES: usize = 30;
/// Rejected rows listed at most (fewer when the header mapping is long).
pub const LISTED_REJECTS: usize = 10;
/// Reader warnings listed at most.
const LISTED_WARNINGS: usize = 3;

/// The progress bar (percentage and ETA of the reader's position through
/// the sheet) and the task that refreshes it every 100 ms.
pub fn progress_bar(
    ctl: &Control,
    dry_run: bool,
) -> (indicatif::ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = ctl.progress.clone();
    let b = bar.clone();
    let written = if dry_run { "valid" } else { "inserted" };
    let ticker = tokio::spawn(async move {
        loop {
            let p = progress.snapshot();
            // The reader's own measure (csv: bytes of the file; xlsx: of the
            // inflated sheet; other formats: sheet rows).
            b.set_length(p.total);
            b.set_position(p.done.min(p.total));
            b.set_message(format!(
                "{} rows read, {} {written}, {} rejected",
                p.rows_read, p.inserted, p.rejected
            ));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (bar, ticker)
}

/// Prints the report: JSON (`--json`) or the text summary on stdout, and
/// for a failed import one line on stderr.
pub fn print_report(args: &ImportArgs, report: &ImportReport, import_id: Option<&str>) {
    let file = args.file.display().to_string();
    let failure = report.error.as_ref().map(|e| format!("{file}: {e}"));
    let out = if args.json {
        let mut v = report.to_json();
        v["file"] = json!(file);
        if let Some(id) = import_id {
            v["import_id"] = json!(id);
        }
        format!("{v}\n")
    } else if report.status == Status::Failed && !over_budget(report) {
        String::new()
    } else {
        ddl_lines(report) + &summary(args, report, import_id)
    };
    // A closed stdout (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    if let Some(f) = failure {
        eprintln!("error: {f}{}", committed_before(report));
    }
}

/// The CREATE TABLE of a created table (in a dry run, of the one that
/// would be created), in full, before the summary.
fn ddl_lines(report: &ImportReport) -> String {
    match &report.ddl {
        Some(ddl) if report.dry_run => format!("Would create table {}:\n{ddl};\n", report.table),
        Some(ddl) => format!("Created table {}:\n{ddl};\n", report.table),
        None => String::new(),
    }
}

fn over_budget(report: &ImportReport) -> bool {
    matches!(report.error, Some(ImportError::TooManyRejected(_)))
}

/// For a failed import that had committed rows: how many, where, and from
/// which row to re-run (one line's tail).
fn committed_before(report: &ImportReport) -> String {
    if report.inserted == 0 || report.dry_run {
        return String::new();
    }
    let mut s = format!(
        " ({} rows were imported into {} in {} before it stopped",
        report.inserted,
        report.table,
        report.database.as_deref().unwrap_or("the database")
    );
    if let Some(row) = report.resume_from_row {
        let _ = write!(s, "; re-run from row {row}");
    }
    s.push(')');
    s
}

/// The text summary, at most [`SUMMARY_LINES`] lines.
fn summary(args: &ImportArgs, report: &ImportReport, import_id: Option<&str>) -> String {
    let mut lines = stats_lines(report);
    lines.push(outcome_line(report, import_id));
    if let Some(row) = report.resume_from_row {
        lines.push(format!(
            "Stopped early: every row before row {row} is inserted or rejected; re-run from row {row}"
        ));
    }
    lines.extend(header_lines(report));
    let rejects = reject_lines(report, SUMMARY_LINES.saturating_sub(lines.len() + 1));
    lines.extend(rejects.0);
    match (&args.rejects, rejects.1) {
        (Some(path), _) => lines.push(format!("Every rejected row: {}", path.display())),
        (None, true) => lines.push("Every rejected row: use --rejects FILE.csv (or --json)".into()),
        (None, false) => {}
    }
    let mut out = String::new();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    out
}

fn stats_lines(report: &ImportReport) -> Vec<String> {
    let s = report.stats();
    let valid = if report.dry_run { " (valid)" } else { "" };
    let mut lines = vec![
        format!("{} (method: {})", report.message(), report.method),
        format!("  total_records:      {}", s.total_records),
        format!("  success_count:      {}{valid}", s.success_count),
        format!("  error_count:        {}", s.error_count),
    ];
    if report.mode != crate::sink::merge::Mode::Append {
        lines.push(format!(
            "  mode:               {} (inserted {}, updated {}, skipped {})",
            report.mode.as_str(),
            s.inserted,
            s.updated,
            s.skipped
        ));
    }
    if s.unprocessed > 0 {
        lines.push(format!("  unprocessed:        {}", s.unprocessed));
    }
    let took = crate::pipeline::human_duration(report.duration);
    lines.push(format!("  duration:           {took}"));
    lines.push(format!("  records_per_second: {:.2}", s.records_per_second));
    lines
}

/// Where the rows went — or, plainly, that none did.
fn outcome_line(report: &ImportReport, import_id: Option<&str>) -> String {
    let table = &report.table;
    if report.dry_run {
        return format!(
            "Nothing was written (dry run): {} rows valid for {table}, {} rejected",
            report.inserted, report.rejected
        );
    }
    let into = format!(
        "{table} in {}",
        report.database.as_deref().unwrap_or("the database")
    );
    let recorded = import_id
        .map(|id| format!(" (import {id}, recorded in its imports table)"))
        .unwrap_or_default();
    if report.updated + report.skipped > 0 {
        return format!(
            "Imported into {into} ({}): {} rows inserted, {} updated, {} skipped{recorded}",
            report.mode.as_str(),
            report.inserted,
            report.updated,
            report.skipped
        );
    }
    match (report.inserted, report.rows_read, report.rejected) {
        (0, 0, _) => {
            format!("Nothing was imported into {into}: the sheet has no data rows{recorded}")
        }
        (0, n, r) if r == n => {
            format!("Nothing was imported into {into}: all {n} rows were rejected{recorded}")
        }
        (0, _, _) => format!("Nothing was imported into {into}{recorded}"),
        (n, _, _) => format!("Imported {n} rows into {into}{recorded}"),
    }
}

fn header_lines(report: &ImportReport) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(h) = &report.header {
        lines.push(format!("Header (row {}):", h.row));
        for (column, header, field) in h.mapping() {
            lines.push(format!("  {column} {header:?} -> {field}"));
        }
    }
    if !report.ignored_columns.is_empty() {
        let described = match &report.header {
            Some(h) => h.ignored_described(),
            None => report.ignored_columns.clone(),
        };
        lines.push(format!("  ignored columns:    {}", described.join(", ")));
    }
    let shown = report.warnings.iter().take(LISTED_WARNINGS);
    lines.extend(shown.map(|w| format!("  warning: {w}")));
    if report.warnings.len() > LISTED_WARNINGS {
        let more = report.warnings.len() - LISTED_WARNINGS;
        lines.push(format!("  … and {more} more warnings (--json lists them)"));
    }
    lines
}

/// The listed rejects within `room` lines (one of them the title), and
/// whether some were left out.
fn reject_lines(report: &ImportReport, room: usize) -> (Vec<String>, bool) {
    if report.rejected == 0 {
        return (Vec::new(), false);
    }
    let n = LISTED_REJECTS
        .min(room.saturating_sub(1))
        .max(3)
        .min(report.rejected_rows.len());
    let mut lines = vec![format!("Rejected rows (first {n} of {}):", report.rejected)];
    for r in report.rejected_rows.iter().take(n) {
        lines.push(format!(
            "  {}: {} (value: {:?})",
            r.place(),
            r.reason,
            r.value
        ));
    }
    (lines, (n as u64) < report.rejected)
}
