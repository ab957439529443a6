//! The schemas of the importer page's routes (`POST /preview`, `PUT
//! /mappings`), described by hand like the others (the bodies are built
//! with `json!`).

use std::collections::BTreeMap;

use utoipa::ToSchema;

use super::Table;

/// `POST /preview`: what an import of the file would do with its first rows.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Preview {
    /// The client's filename.
    pub filename: String,
    /// The workbook's sheets (empty for CSV).
    pub sheets: Vec<String>,
    /// The sheet read ("" for CSV).
    pub sheet: String,
    /// The target table; for one that does not exist, as `create=true`
    /// would infer it from the first rows.
    pub table: Table,
    /// Whether the table exists.
    pub table_exists: bool,
    /// For a table to create, the types its columns may be given with
    /// `types=` (empty when the table exists).
    pub column_types: Vec<String>,
    /// The header's row number (null when none was found).
    pub header_row: Option<u32>,
    /// The header texts, in column order.
    pub headers: Vec<String>,
    /// Each file column with the table column proposed for it.
    pub columns: Vec<PreviewColumn>,
    /// The key of these headers for `PUT /mappings`.
    pub headers_key: String,
    /// The matching saved for this table and these headers, if any.
    pub saved_mapping: Option<BTreeMap<String, String>>,
    /// The first data rows, each cell's reason when it would be rejected.
    pub rows: Vec<PreviewRow>,
    /// Why the header, as matched, cannot be imported (null when it can).
    pub error: Option<String>,
}

/// One column of the file.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PreviewColumn {
    /// Its letter (`A`, `B`, …).
    pub letter: String,
    /// Its header.
    pub header: String,
    /// The table column our header matching proposes (null: none).
    pub suggested: Option<String>,
}

/// One data row.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PreviewRow {
    /// Its row number in the sheet.
    pub row: u32,
    /// Its cells as text (as a spreadsheet shows them).
    pub cells: Vec<String>,
    /// For each cell, why it would be rejected (null: it is valid).
    pub errors: Vec<Option<String>>,
}

/// `PUT /mappings`: what was saved.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SavedMapping {
    /// The table.
    pub table: String,
    /// The key of the headers.
    pub headers_key: String,
    /// The matching: header → column or `-`.
    pub mapping: BTreeMap<String, String>,
}
