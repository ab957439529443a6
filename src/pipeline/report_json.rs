//! The report as JSON: the tutorial's response object (`message`,
//! `method`, `stats`) plus what sheetpipe adds (first rejected rows, sheet,
//! header mapping, warnings). One shape for `import --json`, `POST /upload`
//! and the job status, so the CLI and the HTTP layer only print it.

use serde_json::json;

use super::{ImportError, ImportReport, Status};

impl ImportReport {
    /// The `message` field: the tutorial's words on success.
    pub fn message(&self) -> &'static str {
        match self.status {
            Status::Completed if self.dry_run => "Dry run completed: nothing was written",
            Status::Completed => "Import completed successfully",
            Status::Cancelled if self.dry_run => "Dry run cancelled",
            Status::Cancelled => "Import cancelled",
            Status::Failed if matches!(self.error, Some(ImportError::TooManyRejected(_))) => {
                if self.dry_run {
                    "Dry run stopped: too many rejected rows"
                } else {
                    "Import stopped: too many rejected rows"
                }
            }
            Status::Failed if self.dry_run => "Dry run failed",
            Status::Failed => "Import failed",
        }
    }

    /// The JSON object printed by `import --json` and answered by the service.
    pub fn to_json(&self) -> serde_json::Value {
        let mut out = json!({
            "message": self.message(),
            "method": self.method,
            "mode": self.mode,
            "stats": self.stats(),
            "rejected": self.rejected_rows.iter().map(|r| json!({
                "cell": r.place(),
                "row": r.row,
                "column": r.column,
                "value": r.value,
                "reason": r.reason,
            })).collect::<Vec<_>>(),
            // `rejected` holds the first `max_reported` (100): say when
            // there are more (every one is in the reject report).
            "rejected_truncated": self.rejected > self.rejected_rows.len() as u64,
            // The sheet read; "" for CSV, which has none.
            "sheet": self.sheet,
        });
        if let Some(db) = &self.database {
            out["database"] = json!(db);
        }
        if !self.table.is_empty() {
            out["table"] = json!(self.table);
        }
        // The CREATE TABLE run for this import (or, dry, that would run).
        if let Some(ddl) = &self.ddl {
            out["ddl"] = json!(ddl);
        }
        if !self.ignored_columns.is_empty() {
            out["ignored_columns"] = json!(self.ignored_columns);
        }
        if let Some(h) = self.header.as_ref().filter(|h| !h.suggestions.is_empty()) {
            out["suggestions"] = json!(h
                .suggestions
                .iter()
                .map(|(header, column)| json!({"header": header, "did_you_mean": column}))
                .collect::<Vec<_>>());
        }
        if let Some(h) = &self.header {
            out["header"] = json!({
                "row": h.row,
                "mapping": h.mapping().into_iter().map(|(column, header, field)| json!({
                    "column": column, "header": header, "field": field,
                })).collect::<Vec<_>>(),
            });
        }
        if !self.warnings.is_empty() {
            out["warnings"] = json!(self.warnings);
        }
        if self.dry_run {
            out["dry_run"] = json!(true);
        }
        if let Some(row) = self.resume_from_row {
            out["resume_from_row"] = json!(row);
        }
        if let Some(e) = &self.error {
            out["error"] = json!(e.to_string());
        }
        out
    }
}
