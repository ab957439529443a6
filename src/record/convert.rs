//! Typed conversion with a spreadsheet's semantics: one cell becomes the
//! [`Value`] its target column's [`SqlType`] stores, or a reason a person
//! accepts for why it cannot (`3000000000 is out of range for integer`).
//! The caller names the cell and column around the reason.
//!
//! (Interim: only the text types convert; the typed conversions land next.)

use super::cell_text;
use crate::model::{Cell, SqlType, Value};

/// Options that change how text is read as a typed value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertOptions {
    /// A chrono format (`%d/%m/%Y`) for dates written as text in another
    /// layout than ISO 8601 (`--date-format`); never guessed.
    pub date_format: Option<String>,
}

/// Converts `cell` for a column of type `ty`: `Ok(Value::Null)` for an
/// empty cell (the caller decides whether NULL is allowed), `Err(reason)`
/// when the value does not fit the type.
pub fn convert(cell: &Cell, ty: &SqlType, _opts: &ConvertOptions) -> Result<Value, String> {
    let text = cell_text(cell)?;
    let Some(text) = text else {
        return Ok(Value::Null);
    };
    if ty.is_text() {
        return Ok(Value::Text(text));
    }
    Err(format!("{ty} columns are not supported yet"))
}
