//! OpenDocument spreadsheets: calamine parses the sheet whole (see
//! `range.rs`); one scan of `content.xml` (`scan.rs`, on the lenient tag
//! tokenizer in `tags.rs`) finds what calamine does not report, handed to
//! the reader as blocks of found cells (`cells.rs`).

pub(super) mod cells;
pub(super) mod scan;
mod tags;
