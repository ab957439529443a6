//! `sheetpipe imports [show ID]`: the `imports` history from the command
//! line — the offline view of `GET /imports` and `GET /imports/{id}`, on
//! the same table, so CLI and service imports are listed together.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::http::imports::{row_json, rows_read, stored};
use crate::sink::imports::ImportRow;
use crate::sink::{DatabaseUrl, Sink};

/// Exit code of `imports show ID` for an id the history does not have.
pub const EXIT_NO_IMPORT: u8 = 3;

/// Arguments of `imports`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct ImportsArgs {
    /// What to show (default: the list).
    #[command(subcommand)]
    pub action: Option<ImportsAction>,
    /// postgres://…, mysql://… or sqlite://path (default: ./sheetpipe.db).
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Print JSON (the shape of `GET /imports` / `GET /imports/{id}`).
    #[arg(long, global = true)]
    pub json: bool,
    /// Imports listed, newest first.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
    /// Newest imports skipped before the list starts.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..))]
    pub offset: i64,
}

/// The subcommands of `imports`.
#[derive(Debug, Subcommand)]
pub enum ImportsAction {
    /// Every field of one import, and where its reject reports are.
    Show {
        /// The import's id (printed by `import`, `import_id` in its JSON).
        id: String,
    },
}

/// Runs `imports`.
pub async fn run(args: ImportsArgs) -> ExitCode {
    match history(&args).await {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err((code, message)) => {
            if args.json {
                println!("{}", json!({ "error": message }));
            }
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

/// What `imports` prints, or its exit code and why.
async fn history(args: &ImportsArgs) -> Result<String, (u8, String)> {
    let url = DatabaseUrl::parse(args.database_url.as_deref()).map_err(|e| (2, e.to_string()))?;
    if let DatabaseUrl::Sqlite(path) = &url {
        // Listing must not create an empty database in the wrong directory.
        if !path.exists() {
            return Err((
                5,
                format!(
                    "no SQLite database at {}: nothing was imported there \
                     (give --database-url or DATABASE_URL)",
                    path.display()
                ),
            ));
        }
    }
    let sink = Sink::connect(&url)
        .await
        .map_err(|e| (5, format!("{e} ({})", url.redacted())))?;
    let db = |e: crate::sink::DbError| (5, format!("{e} ({})", url.redacted()));
    match &args.action {
        None => {
            let (rows, total) = sink
                .list_imports(args.limit, args.offset)
                .await
                .map_err(db)?;
            Ok(match args.json {
                true => format!("{}\n", list_json(&rows, total, args)),
                false => list_text(&rows, total, args, &url.redacted()),
            })
        }
        Some(ImportsAction::Show { id }) => {
            let Some(row) = sink.get_import(id.trim()).await.map_err(db)? else {
                return Err((
                    EXIT_NO_IMPORT,
                    format!("no import with id {id} in {}", url.redacted()),
                ));
            };
            Ok(match args.json {
                true => format!("{}\n", show_json(&row)),
                false => show_text(&row),
            })
        }
    }
}

/// The import's mode (`append` for rows recorded before the column).
fn mode(row: &ImportRow) -> &str {
    &row.mode
}

/// The table of a row (rows recorded before the column existed all went
/// to `businesses`).
fn table(row: &ImportRow) -> &str {
    row.table_name.as_deref().unwrap_or("businesses")
}

fn list_json(rows: &[ImportRow], total: i64, args: &ImportsArgs) -> Value {
    let imports: Vec<Value> = rows.iter().map(row_json).collect();
    json!({
        "imports": imports,
        "limit": args.limit,
        "offset": args.offset,
        "total": total,
    })
}

/// One line per import, newest first, under a header.
fn list_text(rows: &[ImportRow], total: i64, args: &ImportsArgs, db: &str) -> String {
    if rows.is_empty() {
        return match total {
            0 => format!("No imports recorded in {db}.\n"),
            _ => format!(
                "No imports past the first {} ({total} in {db}).\n",
                args.offset
            ),
        };
    }
    let mut lines: Vec<[String; 11]> = vec![[
        "ID", "TIME", "FILE", "TABLE", "MODE", "READ", "INSERTED", "UPDATED", "SKIPPED",
        "REJECTED", "STATUS",
    ]
    .map(String::from)];
    for r in rows {
        lines.push([
            r.id.clone(),
            r.created_at.clone(),
            short(&r.filename, 40),
            table(r).to_string(),
            mode(r).to_string(),
            rows_read(r).to_string(),
            r.inserted.to_string(),
            r.updated.to_string(),
            r.skipped.to_string(),
            r.rejected.to_string(),
            r.status.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..11)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let mut line = String::new();
        for (i, cell) in l.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            match i {
                // Counts right-aligned.
                5..=9 => {
                    let _ = write!(line, "{}{cell}  ", " ".repeat(pad));
                }
                _ => {
                    let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
                }
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let shown = args.offset + rows.len() as i64;
    if shown < total {
        let _ = writeln!(
            out,
            "{} of {total} imports shown; --offset {shown} for the next",
            rows.len()
        );
    }
    out
}

/// At most `max` characters of `s`, the cut marked with `…`.
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let keep: String = s.chars().take(max - 1).collect();
    format!("{keep}…")
}

/// A reject report of the import, as found on this machine.
fn report_state(path: &str, row: &ImportRow) -> (bool, Option<u64>, String) {
    match std::fs::metadata(path) {
        Ok(m) => (true, Some(m.len()), format!("present, {} bytes", m.len())),
        Err(_) => match &row.rejects_removed_at {
            Some(at) => (
                false,
                None,
                format!("removed at {at} after the retention period (--keep-rejects-days)"),
            ),
            None => (false, None, "not found on this machine".to_string()),
        },
    }
}

fn show_json(row: &ImportRow) -> Value {
    let mut v = row_json(row);
    let reports: Vec<Value> = row
        .rejects_files
        .iter()
        .map(|p| {
            let (exists, bytes, state) = report_state(p, row);
            json!({ "path": p, "exists": exists, "bytes": bytes, "state": state })
        })
        .collect();
    v["rejects_reports"] = json!(reports);
    v
}

/// Every field, one per line.
fn show_text(row: &ImportRow) -> String {
    let v = row_json(row);
    let stats = &v["stats"];
    let read = rows_read(row);
    let or_dash = |x: &Option<String>| x.clone().unwrap_or_else(|| "-".to_string());
    let mut fields: Vec<(&str, String)> = vec![
        ("file", row.filename.clone()),
        ("sha256", non_empty(&row.sha256)),
        ("table", table(row).to_string()),
        ("method", row.method.clone()),
        ("mode", mode(row).to_string()),
        ("status", row.status.clone()),
        ("bytes", row.bytes.to_string()),
        ("rows read", read.to_string()),
        ("inserted", row.inserted.to_string()),
        ("updated", row.updated.to_string()),
        ("skipped", row.skipped.to_string()),
        ("rejected", row.rejected.to_string()),
        (
            "unprocessed",
            (read - stored(row) - row.rejected).to_string(),
        ),
        ("created", row.created_at.clone()),
        ("started", or_dash(&row.started_at)),
        ("finished", or_dash(&row.finished_at)),
    ];
    if let Some(d) = stats["duration"].as_str() {
        fields.push(("duration", d.to_string()));
    }
    fields.push(("error", or_dash(&row.error)));
    if let Some(i) = &row.instance_id {
        fields.push(("instance", i.clone()));
    }
    if row.rejects_files.is_empty() {
        let none = match &row.rejects_removed_at {
            Some(at) => format!("removed at {at} (--keep-rejects-days)"),
            None => "none requested (import --rejects FILE)".to_string(),
        };
        fields.push(("reject report", none));
    }
    for p in &row.rejects_files {
        let (_, _, state) = report_state(p, row);
        fields.push(("reject report", format!("{p} ({state})")));
    }
    let mut out = format!("Import {}\n", row.id);
    for (k, x) in fields {
        let _ = writeln!(out, "  {:<14} {x}", format!("{k}:"));
    }
    out
}

fn non_empty(s: &str) -> String {
    match s {
        "" => "- (not recorded)".to_string(),
        s => s.to_string(),
    }
}
