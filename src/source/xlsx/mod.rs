//! Streaming .xlsx/.xlsm reader on our own XML pull parser
//! ([`super::xml`]): cells arrive in XML order and are grouped into rows,
//! so memory holds one row plus the shared-strings arena, never the sheet.
//!
//! Why not calamine here (it still reads .xls, .xlsb and .ods): on the
//! fast path the reader is the import's bottleneck on 2 cores
//! (docs/BENCHMARKS.md). Reading the sheet ourselves lets one inflate pass
//! do the zip guard's checks on the sheet and the shared strings (cell
//! references, shared-string indexes, text sizes, `<!DOCTYPE>`) as it
//! parses, instead of a second full inflate and tokenize beforehand, and
//! keeps the shared strings in one arena (`xlsx_book`). The values follow
//! calamine's rules, which `tests/it/xlsx_reader.rs` checks cell by cell
//! against calamine on every .xlsx of the shared corpus.
//!
//! A formula saved without a cached value (files written by libraries
//! that do not calculate) is seen as such and its row rejected, instead of
//! reading as an empty cell.

pub(super) mod book;
mod compare;
pub(super) mod merges;
mod sst;

#[doc(hidden)]
pub use compare::read_both_ways;

use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use calamine::{ExcelDateTime, ExcelDateTimeType};

use self::book::{corrupt, entry_index, io_error, xml_error, Book, Capped, NumberKind};
use self::sst::{read_rich, SharedStrings};
use super::cells::{open_buffered, pick_sheet, RowAssembler};
use super::progress::{CountingRead, ProgressUnit};
use super::xml::{self, Event, Xml, XmlError};
use super::{Format, Limits, RowReader, SourceError, SourceOptions};
use crate::model::{Cell, RawRow};

/// Reads one worksheet of an .xlsx/.xlsm workbook.
pub struct XlsxReader {
    path: PathBuf,
    sheet: String,
    /// The zip entry of the sheet's XML.
    pub(super) part: String,
    book: Book,
    strings: SharedStrings,
    /// Bytes the zip guard and the shared strings inflated before the sheet.
    inflated: u64,
    opts: SourceOptions,
}

impl XlsxReader {
    /// Opens the workbook, resolves the sheet (first visible worksheet by
    /// default), runs the zip guard over every other part, and reads the
    /// styles and shared strings.
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self, SourceError> {
        let mut book = Book::open(path)?;
        let metas: Vec<_> = book.sheets.iter().map(|s| s.meta.clone()).collect();
        let sheet = pick_sheet(&metas, opts.sheet.as_deref())?;
        let part = book
            .sheets
            .iter()
            .find(|s| s.meta.name == sheet)
            .and_then(|s| s.part.clone())
            .ok_or_else(|| corrupt(format!("the workbook names no part for sheet {sheet:?}")))?;
        // The sheet and the shared strings are inflated (once) by us below,
        // under the same limits; the guard inflates and judges the rest.
        // Other worksheets are never read, so they are not inflated at all.
        let mut deferred: Vec<String> = book.sheets.iter().filter_map(|s| s.part.clone()).collect();
        deferred.extend(book.sst_part.clone());
        let mut inflated =
            super::zipguard::check_archive(&mut book.zip, Format::Xlsx, &opts.limits, &deferred)?;
        book.read_styles()?;
        let strings = match book.sst_part.clone() {
            Some(sst) => {
                let (table, n) =
                    read_entry(&mut book.zip, &sst, &opts.limits, inflated, true, |src| {
                        SharedStrings::read(&sst, src, &opts.limits)
                    })?;
                inflated += n;
                let mut table = table.unwrap_or_default();
                table.shrink();
                table
            }
            None => SharedStrings::default(),
        };
        Ok(XlsxReader {
            path: path.to_path_buf(),
            sheet,
            part,
            book,
            strings,
            inflated,
            opts: opts.clone(),
        })
    }
}

/// Opens zip entry `name` through [`Capped`] and hands it to `f`; returns
/// `f`'s result (`None` when the entry is absent) and the bytes inflated.
pub(super) fn read_entry<R: Read + std::io::Seek, T>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    limits: &Limits,
    before: u64,
    shared_strings: bool,
    f: impl FnOnce(&mut dyn Read) -> Result<T, SourceError>,
) -> Result<(Option<T>, u64), SourceError> {
    let Some(index) = entry_index(zip, name) else {
        return Ok((None, 0));
    };
    let entry = zip
        .by_index(index)
        .map_err(|e| corrupt(format!("zip entry {name} cannot be read ({e})")))?;
    let declared = entry.size();
    limits.check_entry_bytes(name, declared)?;
    limits.check_inflated_bytes(before.saturating_add(declared))?;
    let mut capped = Capped {
        name: name.to_string(),
        compressed: entry.compressed_size(),
        inner: entry,
        before,
        read: 0,
        limits,
        shared_strings,
    };
    let out = f(&mut capped)?;
    Ok((Some(out), capped.read))
}

impl RowReader for XlsxReader {
    fn format(&self) -> Format {
        Format::Xlsx
    }

    fn sheet_name(&self) -> &str {
        &self.sheet
    }

    fn read(&mut self, emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>) -> Result<(), SourceError> {
        let limits = self.opts.limits.clone();
        let part = self.part.clone();
        // Merged ranges first: their XML comes after the rows. This pass
        // also inflates the whole sheet through the limits and checks its
        // declared size and CRC, as the zip guard does for other parts.
        let (merges, sheet_bytes) = read_entry(
            &mut self.book.zip,
            &part,
            &limits,
            self.inflated,
            false,
            |src| {
                let merges = self::merges::find_merges(&mut *src);
                let mut rest = [0u8; 8192];
                while src.read(&mut rest).map_err(|e| io_error(&part, e))? > 0 {}
                Ok(merges)
            },
        )?;
        let merges = merges.unwrap_or_default();
        if merges.len() > super::xlsb::merges::MAX_RANGES {
            return Err(corrupt(format!(
                "{part}: more than {} merged ranges span several rows",
                super::xlsb::merges::MAX_RANGES
            )));
        }
        let mut zip = zip::ZipArchive::new(open_buffered(&self.path)?)
            .map_err(|e| corrupt(format!("the zip container is unreadable ({e})")))?;
        let sheet = SheetRead {
            book: &self.book,
            strings: &self.strings,
            limits: &limits,
            part: &part,
        };
        let mut rows = RowAssembler::new(&limits, merges);
        // Progress: the sheet's XML inflated so far, of its size (the first
        // pass measured it; the compressed file says nothing).
        self.opts.progress.start(ProgressUnit::Bytes, sheet_bytes);
        let progress = self.opts.progress.clone();
        let (done, _) = read_entry(&mut zip, &part, &limits, self.inflated, false, |src| {
            let mut counted = CountingRead {
                inner: src,
                progress,
                read: 0,
            };
            sheet.cells(&mut counted, &mut rows, emit)
        })?;
        if done == Some(ControlFlow::Continue(())) {
            rows.finish(emit);
        }
        Ok(())
    }
}

/// The cell type attribute (`t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Shared,
    Inline,
    Bool,
    Error,
    Str,
    Date,
}

struct SheetRead<'a> {
    book: &'a Book,
    strings: &'a SharedStrings,
    limits: &'a Limits,
    part: &'a str,
}

impl SheetRead<'_> {
    fn bad(&self, what: String) -> SourceError {
        corrupt(format!("{}: {what}", self.part))
    }

    /// Streams the sheet's cells into `rows`.
    fn cells(
        &self,
        src: &mut dyn Read,
        rows: &mut RowAssembler<'_>,
        emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, SourceError> {
        let err = |e| xml_error(self.part, self.limits, e);
        let mut p = Xml::new(src, self.limits.max_cell_bytes);
        let (mut in_data, mut root_seen) = (false, false);
        // 0-based row of the current <row>, and the next row/column for
        // elements without a reference.
        let (mut row, mut next_row, mut next_col) = (0u32, 0u32, 0u32);
        let mut value = String::new();
        let mut formula = String::new();
        loop {
            let (attrs_r, attrs_s, kind, empty) = match p.next().map_err(err)? {
                Event::Start {
                    name: b"sheetData",
                    empty,
                    ..
                } => {
                    if empty {
                        return Ok(ControlFlow::Continue(()));
                    }
                    in_data = true;
                    continue;
                }
                Event::End { name: b"sheetData" } | Event::Eof => {
                    return Ok(ControlFlow::Continue(()))
                }
                Event::Start {
                    name: b"row",
                    attrs,
                    ..
                } if in_data => {
                    row = match xml::attr(attrs, b"r") {
                        Some(r) => match parse_u32(r).filter(|r| (1..=MAX_ROW).contains(r)) {
                            Some(r) => r - 1,
                            None => {
                                return Err(self.bad(format!(
                                "row number {:?} is not a row of a spreadsheet (1 to {MAX_ROW})",
                                String::from_utf8_lossy(r)
                            )))
                            }
                        },
                        None => next_row,
                    };
                    next_row = row.saturating_add(1);
                    next_col = 0;
                    continue;
                }
                Event::Start {
                    name: b"c",
                    attrs,
                    empty,
                } if in_data => {
                    let (mut r, mut s, mut t) = (None, None, None);
                    for (n, v) in xml::attrs(attrs) {
                        match n {
                            b"r" => r = Some(v),
                            b"s" => s = Some(v),
                            b"t" => t = Some(v),
                            _ => {}
                        }
                    }
                    let pos = match r {
                        Some(r) => match parse_ref(r) {
                            Some(pos) => Some(pos),
                            None => {
                                return Err(self.bad(format!(
                                    "cell reference {:?} is malformed or outside A1:XFD{MAX_ROW}",
                                    String::from_utf8_lossy(r)
                                )))
                            }
                        },
                        None => None,
                    };
                    let kind = match t {
                        None | Some(b"n") => Kind::Number,
                        Some(b"s") => Kind::Shared,
                        Some(b"inlineStr") => Kind::Inline,
                        Some(b"b") => Kind::Bool,
                        Some(b"e") => Kind::Error,
                        Some(b"str") => Kind::Str,
                        Some(b"d") => Kind::Date,
                        Some(other) => {
                            return Err(self.bad(format!(
                                "a cell has the unknown type t={:?}",
                                String::from_utf8_lossy(other)
                            )))
                        }
                    };
                    let style = s.and_then(parse_u32);
                    (pos, style, kind, empty)
                }
                // Inside the root, everything but <sheetData> is skipped whole.
                Event::Start { empty: false, .. } if !in_data => {
                    if root_seen {
                        p.skip_element().map_err(err)?;
                    }
                    root_seen = true;
                    continue;
                }
                _ => continue,
            };
            let (r, c) = attrs_r.unwrap_or((row, next_col));
            next_col = c.saturating_add(1);
            if empty {
                continue;
            }
            // The cell's children: <v>, <f>, <is> (others skipped).
            let (mut has_v, mut has_f, mut has_is) = (false, false, false);
            value.clear();
            formula.clear();
            loop {
                match p.next().map_err(err)? {
                    Event::Start {
                        name: name @ (b"v" | b"f"),
                        empty,
                        ..
                    } => {
                        let (seen, text) = match name {
                            b"v" => (&mut has_v, &mut value),
                            _ => (&mut has_f, &mut formula),
                        };
                        *seen = true;
                        if !empty {
                            p.read_text_into(text).map_err(err)?;
                        }
                    }
                    Event::Start {
                        name: b"is", empty, ..
                    } => {
                        has_is = true;
                        value.clear();
                        if !empty {
                            read_rich(&mut p, b"is", &mut value).map_err(err)?;
                        }
                    }
                    Event::Start { empty: false, .. } => p.skip_element().map_err(err)?,
                    Event::End { name: b"c" } => break,
                    Event::Eof => {
                        return Err(err(XmlError::Malformed(
                            "the part ends inside a cell".into(),
                        )))
                    }
                    _ => {}
                }
            }
            let cell = self.cell(kind, attrs_s, (r, c), has_v, has_is, &mut value)?;
            let cell = match cell {
                Cell::Empty if has_f => Cell::FormulaWithoutValue(std::mem::take(&mut formula)),
                cell => cell,
            };
            if rows.push(r, c, cell, emit)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
    }

    /// A cell's value from its type, style and text.
    fn cell(
        &self,
        kind: Kind,
        style: Option<u32>,
        pos: (u32, u32),
        has_v: bool,
        has_is: bool,
        value: &mut String,
    ) -> Result<Cell, SourceError> {
        let name = || cell_name(pos);
        Ok(match kind {
            Kind::Inline if has_is => Cell::Text(std::mem::take(value)),
            Kind::Inline => Cell::Empty,
            _ if !has_v => Cell::Empty,
            Kind::Shared => {
                if value.is_empty() {
                    return Ok(Cell::Empty);
                }
                let index = value.parse::<usize>().map_err(|_| {
                    self.bad(format!(
                        "cell {} has the shared-string index {value:?}, which is not a number",
                        name()
                    ))
                })?;
                match self.strings.get(index) {
                    Some(s) => Cell::Text(s.to_string()),
                    None => {
                        return Err(self.bad(format!(
                            "cell {} names shared string #{index}, but the table holds {}",
                            name(),
                            self.strings.len()
                        )))
                    }
                }
            }
            Kind::Bool => match value.as_str() {
                "1" | "true" => Cell::Bool(true),
                "0" | "false" => Cell::Bool(false),
                other => {
                    return Err(self.bad(format!(
                        "cell {} holds {other:?}, which is not a boolean",
                        name()
                    )))
                }
            },
            Kind::Error => Cell::Error(std::mem::take(value)),
            Kind::Str => {
                xml::unescape_ooxml(value);
                Cell::Text(std::mem::take(value))
            }
            Kind::Date if value.is_empty() => Cell::Empty,
            Kind::Date => Cell::DateTime(std::mem::take(value)),
            Kind::Number if value.is_empty() => Cell::Empty,
            Kind::Number => match value.trim().parse::<f64>() {
                Ok(n) => {
                    let number_kind = match style {
                        Some(s) => self.book.styles.get(s as usize).copied(),
                        None => Some(NumberKind::Plain),
                    };
                    let date = |t| {
                        super::cells::convert(&calamine::DataRef::DateTime(ExcelDateTime::new(
                            n,
                            t,
                            self.book.is_1904,
                        )))
                    };
                    match number_kind {
                        Some(NumberKind::DateTime) => date(ExcelDateTimeType::DateTime),
                        Some(NumberKind::Duration) => date(ExcelDateTimeType::TimeDelta),
                        _ => Cell::Float(n),
                    }
                }
                // Not a number: keep what the file says rather than guess.
                Err(_) => Cell::Text(std::mem::take(value)),
            },
        })
    }
}

/// Largest row number in a spreadsheet.
const MAX_ROW: u32 = 1_048_576;
/// Largest column number (XFD).
const MAX_COLUMN: u32 = 16_384;

fn parse_u32(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0')),
    )
}

/// `A1` … `XFD1048576` → 0-based (row, column).
fn parse_ref(r: &[u8]) -> Option<(u32, u32)> {
    let letters = r.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    if !(1..=3).contains(&letters) {
        return None;
    }
    let column = r[..letters].iter().fold(0u32, |acc, b| {
        acc * 26 + u32::from(b.to_ascii_uppercase() - b'A') + 1
    });
    let row = parse_u32(&r[letters..])?;
    ((1..=MAX_COLUMN).contains(&column) && (1..=MAX_ROW).contains(&row))
        .then(|| (row - 1, column - 1))
}

/// `A1` notation for 0-based (row, column).
fn cell_name((r, c): (u32, u32)) -> String {
    let mut letters = Vec::new();
    let mut n = c + 1;
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8_lossy(&letters), r + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_within_the_grid_only() {
        assert_eq!(parse_ref(b"A1"), Some((0, 0)));
        assert_eq!(parse_ref(b"XFD1048576"), Some((1_048_575, 16_383)));
        for bad in [
            &b"XFE1"[..],
            b"A0",
            b"A1048577",
            b"1A",
            b"AAAA1",
            b"A",
            b"A1x",
        ] {
            assert_eq!(parse_ref(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(cell_name((213, 3)), "D214");
        assert_eq!(cell_name((0, 26)), "AA1");
        assert_eq!(cell_name((0, 16_383)), "XFD1");
    }
}
