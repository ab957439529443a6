//! `sheetpipe undo ID [--force]`: the offline `POST /imports/{id}/undo`
//! (docs/UNDO.md).

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use crate::sink::undo::{UndoError, UndoOutcome};
use crate::sink::{DatabaseUrl, Sink};

/// Exit code: rows the import wrote were changed since (`--force` undoes
/// the others).
pub const EXIT_CHANGED: u8 = 8;
/// Exit code: the import cannot be undone (already undone, still running,
/// no undo data on this database).
pub const EXIT_REFUSED: u8 = 9;

/// Arguments of `undo`.
#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The import's id (printed by `import`, `import_id` in its JSON, listed
    /// by `sheetpipe imports`).
    pub id: String,
    /// Undo the rows still as the import left them even when others were
    /// changed since (those are left as they are now).
    #[arg(long)]
    pub force: bool,
    /// postgres://…, mysql://… or sqlite://path (default: ./sheetpipe.db).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Print the outcome as JSON (the answer of `POST /imports/{id}/undo`).
    #[arg(long)]
    pub json: bool,
}

/// Runs `undo`.
pub async fn run(args: UndoArgs) -> ExitCode {
    match undo(&args).await {
        Ok(done) => {
            if args.json {
                println!("{}", json!(done));
            } else {
                println!("{}", text(&done));
            }
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

fn text(d: &UndoOutcome) -> String {
    let mut out = format!(
        "undid import {} ({}, {}): {} row(s) deleted, {} restored",
        d.import_id, d.mode, d.table, d.deleted, d.restored
    );
    if d.kept > 0 {
        out.push_str(&format!(
            "; {} row(s) changed since were left as they are",
            d.kept
        ));
    }
    out
}

async fn undo(args: &UndoArgs) -> Result<UndoOutcome, (u8, String)> {
    let url = DatabaseUrl::parse(args.database_url.as_deref()).map_err(|e| (2, e.to_string()))?;
    if let DatabaseUrl::Sqlite(path) = &url {
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
    let id = args.id.trim();
    sink.undo_import(id, args.force).await.map_err(|e| match e {
        UndoError::NoImport(_) => (
            super::imports::EXIT_NO_IMPORT,
            format!("no import with id {id} in {}", url.redacted()),
        ),
        UndoError::Changed { message, .. } => (EXIT_CHANGED, message),
        UndoError::Refused(m) | UndoError::Unsupported(m) => (EXIT_REFUSED, m),
        UndoError::Db(e) => (5, format!("{e} ({})", url.redacted())),
    })
}
