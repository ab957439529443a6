//! The zip guard: before any parser sees a zip-based workbook (xlsx, xlsb,
//! ods), walk its central directory and inflate every entry through a
//! capped, counting reader. It enforces the container limits on what the
//! entries *really* inflate to (declared sizes are never trusted, only
//! compared), rejects lying or inconsistent headers and truncated archives,
//! and reads the XML parts calamine will read with a streaming tokenizer:
//!
//! * any part: a `<!DOCTYPE` in its prologue is refused (entity bombs);
//! * shared strings: the declared `uniqueCount` (calamine reserves it
//!   before reading a row, calamine#684) and the real count of strings are
//!   held to `max_shared_strings`, the part's bytes to
//!   `max_shared_strings_bytes`, every string to `max_cell_bytes`;
//! * worksheets: every cell reference and row number must be well formed
//!   and inside Excel's grid, every shared-string index must be a plain
//!   number naming an existing string (calamine turns a non-numeric index
//!   into string #0: wrong data without an error), and no text run may be
//!   longer than `max_cell_bytes` — measured on the raw XML, so before any
//!   parser would hold it.
//!
//! Memory stays at one 64 KiB buffer plus one tag, whatever the file.
//!
//! The .xlsx reader is our own and applies these rules itself to the parts
//! it reads (the chosen sheet and the shared strings) as it inflates them,
//! so it calls [`check_except`] to leave those parts, and the worksheets it
//! never reads, out of this pass (docs/ROBUSTNESS.md).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::xml::scan::{self as xmlscan, Scanner, Visit};
use super::{Format, LimitExceeded, Limits, SourceError};

/// Which checks a part gets beyond the size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The shared-strings table.
    SharedStrings,
    /// A worksheet.
    Sheet,
    /// ODS content.xml: repeated rows and columns are expanded in counts.
    OdsContent,
    /// Any other XML part: prologue check.
    Xml,
    /// Binary or unknown: sizes only.
    Opaque,
}

fn classify(format: Format, name: &str) -> Part {
    let lower = name.to_ascii_lowercase();
    if format == Format::Xlsx && lower.ends_with("sharedstrings.xml") {
        Part::SharedStrings
    } else if format == Format::Xlsx && lower.contains("worksheets/") && lower.ends_with(".xml") {
        Part::Sheet
    } else if format == Format::Ods && lower == "content.xml" {
        Part::OdsContent
    } else if lower.ends_with(".xml") || lower.ends_with(".rels") || lower.ends_with(".vml") {
        Part::Xml
    } else {
        Part::Opaque
    }
}

/// Checks the zip container at `path` (already detected as `format`).
pub fn check(path: &Path, format: Format, limits: &Limits) -> Result<(), SourceError> {
    check_except(path, format, limits, &[]).map(|_| ())
}

/// [`check`], except for the entries named in `deferred`, which the
/// caller's own reader inflates under the same limits as it parses them
/// (the .xlsx reader does this for the sheet it reads and the shared
/// strings, so they are not inflated twice). Returns the bytes inflated.
pub fn check_except(
    path: &Path,
    format: Format,
    limits: &Limits,
    deferred: &[String],
) -> Result<u64, SourceError> {
    let mut zip = super::xlsx::book::open_zip(path, format)?;
    check_archive(&mut zip, format, limits, deferred)
}

/// [`check_except`] on an archive the caller already opened.
pub(crate) fn check_archive(
    zip: &mut zip::ZipArchive<BufReader<File>>,
    format: Format,
    limits: &Limits,
    deferred: &[String],
) -> Result<u64, SourceError> {
    let corrupt = |message: String| SourceError::Corrupt {
        format: format.name(),
        message,
    };
    limits.check_zip_entries(zip.len() as u64)?;
    // Entries sharing bytes are the "overlapping files" zip bomb.
    match zip.has_overlapping_files() {
        Ok(false) => {}
        Ok(true) => {
            return Err(corrupt(
                "zip entries overlap each other (a zip bomb)".into(),
            ))
        }
        Err(e) => return Err(corrupt(format!("the zip headers are inconsistent ({e})"))),
    }
    let mut order: Vec<(usize, Part)> = (0..zip.len())
        .filter_map(|i| {
            let name = zip
                .name_for_index(i)
                .and_then(Result::ok)
                .map(|n| n.to_string())
                .unwrap_or_default();
            let normal = name.replace('\\', "/");
            let skip = deferred.iter().any(|d| d.eq_ignore_ascii_case(&normal));
            (!skip).then(|| (i, classify(format, &name)))
        })
        .collect();
    // Shared strings first: worksheet indexes are checked against its count.
    order.sort_by_key(|(i, part)| (*part != Part::SharedStrings, *i));
    let (mut total, mut strings) = (0u64, 0u64);
    for (index, part) in order {
        let (inflated, counted) = check_entry(zip, index, part, format, limits, total, strings)?;
        total += inflated;
        strings += counted;
    }
    Ok(total)
}

/// Inflates and judges entry `index`; returns its real size and, for the
/// shared strings, how many strings it holds.
fn check_entry(
    zip: &mut zip::ZipArchive<BufReader<File>>,
    index: usize,
    part: Part,
    format: Format,
    limits: &Limits,
    total: u64,
    strings: u64,
) -> Result<(u64, u64), SourceError> {
    let corrupt = |message: String| SourceError::Corrupt {
        format: format.name(),
        message,
    };
    let mut entry = zip
        .by_index(index)
        .map_err(|e| corrupt(format!("zip entry #{index} cannot be read ({e})")))?;
    let name = entry.name().map(|n| n.to_string()).unwrap_or_default();
    if entry.is_dir() {
        return Ok((0, 0));
    }
    let declared = entry.size();
    let compressed = entry.compressed_size();
    // Declared sizes are only a shortcut to refuse early.
    limits.check_entry_bytes(&name, declared)?;
    limits.check_inflated_bytes(total.saturating_add(declared))?;
    let mut judge = Judge::new(part, &name, limits, strings);
    let inflated =
        inflate(&mut entry, &name, compressed, total, limits, &mut judge).map_err(|e| match e {
            Stop::Limit(l) => SourceError::Limit(l),
            Stop::Bad(m) => corrupt(m),
        })?;
    if inflated != declared {
        return Err(corrupt(format!(
            "zip entry {name} declares {declared} bytes but inflates to {inflated}"
        )));
    }
    let counted = if part == Part::SharedStrings {
        judge.strings
    } else {
        0
    };
    Ok((inflated, counted))
}

/// Why a scan stopped.
enum Stop {
    Limit(LimitExceeded),
    Bad(String),
}

impl From<LimitExceeded> for Stop {
    fn from(l: LimitExceeded) -> Stop {
        Stop::Limit(l)
    }
}

/// Inflates one entry in 64 KiB steps, checking every limit on the bytes
/// produced so far before asking for more, and feeding XML to `judge`.
fn inflate(
    entry: &mut impl Read,
    name: &str,
    compressed: u64,
    before: u64,
    limits: &Limits,
    judge: &mut Judge<'_>,
) -> Result<u64, Stop> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut scanner = Scanner::default();
    let mut n = 0u64;
    loop {
        let k = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) => {
                return Err(Stop::Bad(format!(
                    "zip entry {name} is damaged or truncated ({e})"
                )))
            }
        };
        n += k as u64;
        limits.check_entry_bytes(name, n)?;
        limits.check_inflated_bytes(before + n)?;
        limits.check_inflate_ratio(name, n, compressed)?;
        if judge.part == Part::SharedStrings {
            limits.check_shared_strings_bytes(n)?;
        }
        if judge.part != Part::Opaque && !judge.done {
            scanner.feed(&buf[..k], judge)?;
        }
    }
    if judge.part != Part::Opaque && !judge.done {
        scanner.finish(judge)?;
    }
    Ok(n)
}

/// Judges one XML part as its tags and text runs stream by.
struct Judge<'a> {
    part: Part,
    name: &'a str,
    limits: &'a Limits,
    /// Strings in the shared-strings table (worksheets check against it).
    known_strings: u64,
    /// Strings counted in this part (shared strings only).
    strings: u64,
    /// Prologue over and nothing more to check in this part.
    done: bool,
    /// Inside a `<c t="s">`: its reference, for messages.
    shared_cell: Option<String>,
    in_v: bool,
    v_seen: bool,
    /// ODS: rows so far in this table, counting repeats, before this row.
    ods_rows: u64,
    /// ODS: this row's repeat count and columns so far (with repeats).
    ods_repeat: u64,
    ods_columns: u64,
}

impl<'a> Judge<'a> {
    fn new(part: Part, name: &'a str, limits: &'a Limits, known_strings: u64) -> Self {
        Judge {
            part,
            name,
            limits,
            known_strings,
            strings: 0,
            done: false,
            shared_cell: None,
            in_v: false,
            v_seen: false,
            ods_rows: 0,
            ods_repeat: 1,
            ods_columns: 0,
        }
    }

    fn bad(&self, what: String) -> Stop {
        Stop::Bad(format!("{}: {what}", self.name))
    }

    fn prologue(&mut self, tag: &[u8], name: &[u8]) -> Result<(), Stop> {
        if tag.starts_with(b"!DOCTYPE") || tag.starts_with(b"!ENTITY") {
            return Err(self.bad(
                "it carries an XML document type declaration (<!DOCTYPE>/<!ENTITY>), \
                 which spreadsheets never need and entity-expansion attacks do"
                    .into(),
            ));
        }
        if !tag.starts_with(b"?") && !tag.starts_with(b"!") && !name.is_empty() {
            // The root element: no DOCTYPE can follow in a well-formed part.
            if matches!(self.part, Part::Xml) {
                self.done = true;
            }
        }
        Ok(())
    }

    fn shared_strings_tag(&mut self, tag: &[u8], name: &[u8], closing: bool) -> Result<(), Stop> {
        if closing {
            return Ok(());
        }
        if name == b"sst" {
            if let Some(declared) = xmlscan::attr(tag, b"uniqueCount").and_then(parse_u64) {
                self.limits
                    .check_shared_strings("declared uniqueCount", declared)?;
            }
        } else if name == b"si" {
            self.strings += 1;
            self.limits
                .check_shared_strings("number of strings", self.strings)?;
        }
        Ok(())
    }

    fn sheet_tag(&mut self, tag: &[u8], name: &[u8], closing: bool) -> Result<(), Stop> {
        match (name, closing) {
            (b"row", false) => {
                if let Some(r) = xmlscan::attr(tag, b"r") {
                    if parse_u64(r).is_none_or(|r| r == 0 || r > MAX_ROW) {
                        return Err(self.bad(format!(
                            "row number {:?} is not a row of a spreadsheet (1 to {MAX_ROW})",
                            String::from_utf8_lossy(r)
                        )));
                    }
                }
            }
            (b"c", false) => {
                let r = xmlscan::attr(tag, b"r");
                if let Some(r) = r {
                    if !valid_reference(r) {
                        return Err(self.bad(format!(
                            "cell reference {:?} is malformed or outside A1:XFD{MAX_ROW}",
                            String::from_utf8_lossy(r)
                        )));
                    }
                }
                let shared = xmlscan::attr(tag, b"t") == Some(b"s");
                self.shared_cell = (shared && !xmlscan::self_closing(tag))
                    .then(|| String::from_utf8_lossy(r.unwrap_or(b"(unnumbered)")).into_owned());
            }
            (b"c", true) => self.shared_cell = None,
            (b"v", false) => {
                self.in_v = !xmlscan::self_closing(tag);
                self.v_seen = false;
            }
            (b"v", true) => self.in_v = false,
            _ => {}
        }
        Ok(())
    }
}

impl Judge<'_> {
    /// ODS repeats (calamine#594): a row or cell may claim to repeat a
    /// billion times. Repeats are harmless while empty (calamine caps
    /// trailing ones); a *value* past `max_rows` rows or `max_columns`
    /// columns, once repeats are expanded, is refused before any reader
    /// expands them.
    fn ods_tag(&mut self, tag: &[u8], name: &[u8], closing: bool) -> Result<(), Stop> {
        let repeat = |attr: &[u8]| xmlscan::attr(tag, attr).and_then(parse_u64).unwrap_or(1);
        match (name, closing) {
            (b"table", false) => self.ods_rows = 0,
            (b"table-row", false) => {
                self.ods_repeat = repeat(b"number-rows-repeated").max(1);
                self.ods_columns = 0;
                if xmlscan::self_closing(tag) {
                    self.ods_rows = self.ods_rows.saturating_add(self.ods_repeat);
                }
            }
            (b"table-row", true) => {
                self.ods_rows = self.ods_rows.saturating_add(self.ods_repeat);
            }
            (b"table-cell" | b"covered-table-cell", false) => {
                let columns = repeat(b"number-columns-repeated").max(1);
                self.ods_columns = self.ods_columns.saturating_add(columns);
                let valued =
                    xmlscan::attr(tag, b"value-type").is_some() || !xmlscan::self_closing(tag);
                if valued {
                    let last_row = self.ods_rows.saturating_add(self.ods_repeat);
                    self.limits.check_rows(last_row)?;
                    let row = u32::try_from(last_row).unwrap_or(u32::MAX);
                    self.limits.check_columns(row, self.ods_columns)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Largest row number in a spreadsheet.
const MAX_ROW: u64 = 1_048_576;
/// Largest column number (XFD).
const MAX_COLUMN: u64 = 16_384;

fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// `A1` … `XFD1048576`: one to three letters, then a row number.
fn valid_reference(r: &[u8]) -> bool {
    let letters = r.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    if !(1..=3).contains(&letters) {
        return false;
    }
    let column = r[..letters].iter().fold(0u64, |acc, b| {
        acc * 26 + u64::from(b.to_ascii_uppercase() - b'A') + 1
    });
    let row = parse_u64(&r[letters..]);
    column <= MAX_COLUMN && row.is_some_and(|row| (1..=MAX_ROW).contains(&row))
}

impl Visit for Judge<'_> {
    type Error = Stop;

    fn tag(&mut self, tag: &[u8]) -> Result<(), Stop> {
        let (name, closing) = xmlscan::name(tag);
        self.prologue(tag, name)?;
        match self.part {
            Part::SharedStrings => self.shared_strings_tag(tag, name, closing),
            Part::Sheet => self.sheet_tag(tag, name, closing),
            Part::OdsContent => self.ods_tag(tag, name, closing),
            Part::Xml | Part::Opaque => Ok(()),
        }
    }

    fn text(&mut self, len: u64, head: &[u8]) -> Result<(), Stop> {
        self.text_growing(len)?;
        if self.in_v && !self.v_seen {
            self.v_seen = true;
            if let Some(cell) = &self.shared_cell {
                let index = (len as usize == head.len())
                    .then(|| parse_u64(head))
                    .flatten();
                match index {
                    Some(i) if i < self.known_strings => {}
                    Some(i) => {
                        return Err(self.bad(format!(
                            "cell {cell} names shared string #{i}, but the table holds {}",
                            self.known_strings
                        )))
                    }
                    None => {
                        return Err(self.bad(format!(
                            "cell {cell} has the shared-string index {:?}, which is not a number",
                            String::from_utf8_lossy(head)
                        )))
                    }
                }
            }
        }
        Ok(())
    }

    fn text_growing(&mut self, len: u64) -> Result<(), Stop> {
        if matches!(self.part, Part::SharedStrings | Part::Sheet)
            && len > self.limits.max_cell_bytes as u64
        {
            return Err(Stop::Limit(LimitExceeded {
                what: format!("a text of at least {len} bytes in {}", self.name),
                limit: self.limits.max_cell_bytes as u64,
                flag: "--max-cell-bytes / SHEETPIPE_MAX_CELL_BYTES",
            }));
        }
        Ok(())
    }

    fn malformed(&mut self, why: &str) -> Stop {
        self.bad(why.to_string())
    }
}

#[cfg(test)]
mod tests;
