//! The workbook-level parts of an .xlsx file, read by our own parser
//! ([`super::xml`]) rather than calamine's: where each sheet's XML lives
//! (relationships), the sheets' names, kinds and visibility, the 1900/1904
//! date system, and which cell styles are dates or durations (styles.xml);
//! and the zip plumbing the reader shares. The shared strings
//! (`xlsx_sst`) and the chosen sheet are inflated through [`Capped`],
//! which applies the zip guard's limits as the bytes arrive, so the guard
//! does not inflate them a second time.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use calamine::{Sheet, SheetType, SheetVisible};

use crate::source::xml::{self, Event, Xml, XmlError};
use crate::source::{LimitExceeded, Limits, SourceError};

/// Largest workbook.xml, styles or relationships part we read.
const MAX_META_BYTES: u64 = 64 << 20;

/// What a cell style says about a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberKind {
    Plain,
    DateTime,
    Duration,
}

/// A sheet of the workbook and where its XML lives.
#[derive(Debug, Clone)]
pub(crate) struct SheetEntry {
    pub meta: Sheet,
    /// The zip entry of its XML (`xl/worksheets/sheet1.xml`).
    pub part: Option<String>,
}

/// The workbook-level facts the sheet reader needs.
#[derive(Debug)]
pub(crate) struct Book {
    pub sheets: Vec<SheetEntry>,
    pub is_1904: bool,
    /// The number kind of each cell style (`s` attribute), by index.
    pub styles: Vec<NumberKind>,
    /// The shared-strings part, if any.
    pub sst_part: Option<String>,
    styles_part: Option<String>,
    /// The container, open for the parts read after the structure.
    pub zip: zip::ZipArchive<BufReader<File>>,
}

pub(crate) fn corrupt(message: impl Into<String>) -> SourceError {
    SourceError::Corrupt {
        format: "xlsx",
        message: message.into(),
    }
}

/// Maps a parse error in `part` to the import's error.
pub(crate) fn xml_error(part: &str, limits: &Limits, e: XmlError) -> SourceError {
    match e {
        XmlError::Malformed(m) => corrupt(format!("{part}: {m}")),
        XmlError::TextTooLong(len) => SourceError::Limit(LimitExceeded {
            what: format!("a text of at least {len} bytes in {part}"),
            limit: limits.max_cell_bytes as u64,
            flag: "--max-cell-bytes / SHEETPIPE_MAX_CELL_BYTES",
        }),
        XmlError::Io(e) => io_error(part, e),
    }
}

/// An I/O error from a [`Capped`] entry: a limit, or a damaged entry.
pub(crate) fn io_error(part: &str, e: std::io::Error) -> SourceError {
    match e.get_ref().and_then(|i| i.downcast_ref::<LimitExceeded>()) {
        Some(limit) => SourceError::Limit(limit.clone()),
        None => corrupt(format!("zip entry {part} is damaged or truncated ({e})")),
    }
}

/// The zip entry called `name`, ignoring case and `\` separators when
/// there is no exact match (writers differ).
pub(crate) fn entry_index<R: Read + Seek>(zip: &zip::ZipArchive<R>, name: &str) -> Option<usize> {
    zip.index_for_name(name).or_else(|| {
        (0..zip.len()).find(|&i| {
            zip.name_for_index(i)
                .and_then(Result::ok)
                .is_some_and(|n| n.replace('\\', "/").eq_ignore_ascii_case(name))
        })
    })
}

/// Opens the zip container at `path` (for `format`'s messages).
pub(crate) fn open_zip(
    path: &Path,
    format: crate::source::Format,
) -> Result<zip::ZipArchive<BufReader<File>>, SourceError> {
    let file = File::open(path).map_err(|source| SourceError::Io {
        path: path.display().to_string(),
        source,
    })?;
    zip::ZipArchive::new(BufReader::new(file)).map_err(|e| SourceError::Corrupt {
        format: format.name(),
        message: format!("the zip container is unreadable ({e})"),
    })
}

/// Reads a small XML part whole (capped), or `None` when it is absent.
fn small_part<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Option<Vec<u8>>, SourceError> {
    let Some(i) = entry_index(zip, name) else {
        return Ok(None);
    };
    let entry = zip
        .by_index(i)
        .map_err(|e| corrupt(format!("zip entry {name} cannot be read ({e})")))?;
    let mut bytes = Vec::new();
    entry
        .take(MAX_META_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| corrupt(format!("zip entry {name} is damaged or truncated ({e})")))?;
    if bytes.len() as u64 > MAX_META_BYTES {
        return Err(corrupt(format!(
            "{name} is larger than {MAX_META_BYTES} bytes, which no workbook needs"
        )));
    }
    Ok(Some(bytes))
}

/// Parses `bytes` calling `f` with each start tag's local name and raw
/// attributes.
fn each_start(
    part: &str,
    bytes: &[u8],
    mut f: impl FnMut(&[u8], &[u8]),
) -> Result<(), SourceError> {
    let mut p = Xml::new(bytes, MAX_META_BYTES as usize);
    loop {
        match p
            .next()
            .map_err(|e| xml_error(part, &Limits::default(), e))?
        {
            Event::Start { name, attrs, .. } => f(name, attrs),
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

fn attr_text(attrs: &[u8], name: &[u8]) -> Option<String> {
    let raw = xml::attr(attrs, name)?;
    let mut s = String::new();
    xml::decode_into(raw, &mut s).ok()?;
    Some(s)
}

/// A relationship: (id, type, target).
type Rel = (String, String, String);

fn relationships(part: &str, bytes: &[u8]) -> Result<Vec<Rel>, SourceError> {
    let mut rels = Vec::new();
    each_start(part, bytes, |name, attrs| {
        if name == b"Relationship" {
            let get = |n: &[u8]| attr_text(attrs, n).unwrap_or_default();
            rels.push((get(b"Id"), get(b"Type"), get(b"Target")));
        }
    })?;
    Ok(rels)
}

/// `target` of a relationship of `source` (a part name) as a part name.
fn resolve(source: &str, target: &str) -> String {
    let mut parts: Vec<&str> = match target.strip_prefix('/') {
        Some(_) => Vec::new(),
        None => {
            let mut dir: Vec<&str> = source.split('/').collect();
            dir.pop();
            dir
        }
    };
    for seg in target.trim_start_matches('/').split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// The relationships part of `source`: `xl/workbook.xml` → `xl/_rels/workbook.xml.rels`.
fn rels_of(source: &str) -> String {
    match source.rsplit_once('/') {
        Some((dir, file)) => format!("{dir}/_rels/{file}.rels"),
        None => format!("_rels/{source}.rels"),
    }
}

impl Book {
    /// Reads the workbook's structure (not the shared strings).
    pub(crate) fn open(path: &Path) -> Result<Book, SourceError> {
        let mut zip = open_zip(path, crate::source::Format::Xlsx)?;
        let root = small_part(&mut zip, "_rels/.rels")?
            .map(|b| relationships("_rels/.rels", &b))
            .transpose()?
            .unwrap_or_default();
        let workbook_part = root
            .iter()
            .find(|(_, t, _)| t.ends_with("/officeDocument"))
            .map(|(_, _, target)| resolve("", target))
            .unwrap_or_else(|| "xl/workbook.xml".into());
        let workbook = small_part(&mut zip, &workbook_part)?
            .ok_or_else(|| corrupt(format!("the workbook part {workbook_part} is missing")))?;
        let rels_part = rels_of(&workbook_part);
        let rels = match small_part(&mut zip, &rels_part)? {
            Some(b) => relationships(&rels_part, &b)?,
            None => Vec::new(),
        };
        let by_type = |suffix: &str| {
            rels.iter()
                .find(|(_, t, _)| t.ends_with(suffix))
                .map(|(_, _, target)| resolve(&workbook_part, target))
        };
        // Without a relationship, the conventional name beside the
        // workbook part (some writers omit the relationship; calamine and
        // Excel's own reader look there too).
        let beside = |file: &str| {
            let name = resolve(&workbook_part, file);
            entry_index(&zip, &name).map(|_| name)
        };
        let sst_part = by_type("/sharedStrings").or_else(|| beside("sharedStrings.xml"));
        let styles_part = by_type("/styles").or_else(|| beside("styles.xml"));
        let mut book = Book {
            sheets: Vec::new(),
            is_1904: false,
            styles: Vec::new(),
            sst_part,
            styles_part,
            zip,
        };
        each_start(&workbook_part, &workbook, |name, attrs| match name {
            b"workbookPr" => {
                book.is_1904 =
                    matches!(xml::attr(attrs, b"date1904"), Some(b"1" | b"true" | b"on"));
            }
            b"sheet" => {
                let rid = xml::attrs(attrs)
                    .find(|(n, _)| n.ends_with(b":id"))
                    .and_then(|(_, v)| std::str::from_utf8(v).ok());
                let rel = rid.and_then(|rid| rels.iter().find(|(id, _, _)| id == rid));
                let typ = match rel.map(|(_, t, _)| t.rsplit('/').next().unwrap_or_default()) {
                    Some("chartsheet") => SheetType::ChartSheet,
                    Some("dialogsheet") => SheetType::DialogSheet,
                    Some("macrosheet") => SheetType::MacroSheet,
                    _ => SheetType::WorkSheet,
                };
                let visible = match xml::attr(attrs, b"state") {
                    Some(b"hidden") => SheetVisible::Hidden,
                    Some(b"veryHidden") => SheetVisible::VeryHidden,
                    _ => SheetVisible::Visible,
                };
                book.sheets.push(SheetEntry {
                    meta: Sheet {
                        name: attr_text(attrs, b"name").unwrap_or_default(),
                        typ,
                        visible,
                    },
                    part: rel.map(|(_, _, target)| resolve(&workbook_part, target)),
                });
            }
            _ => {}
        })?;
        Ok(book)
    }

    /// Reads styles.xml (already checked by the zip guard).
    pub(crate) fn read_styles(&mut self) -> Result<(), SourceError> {
        let Some(part) = self.styles_part.clone() else {
            return Ok(());
        };
        let Some(bytes) = small_part(&mut self.zip, &part)? else {
            return Ok(());
        };
        let mut custom: Vec<(u32, NumberKind)> = Vec::new();
        let mut xf_formats: Vec<u32> = Vec::new();
        let mut section = Vec::new();
        let mut p = Xml::new(&bytes[..], MAX_META_BYTES as usize);
        loop {
            match p
                .next()
                .map_err(|e| xml_error(&part, &Limits::default(), e))?
            {
                Event::Start { name, attrs, empty } => {
                    let id = || {
                        xml::attr(attrs, b"numFmtId")
                            .and_then(|v| std::str::from_utf8(v).ok())
                            .and_then(|v| v.trim().parse::<u32>().ok())
                    };
                    match name {
                        b"numFmt" => {
                            if let (Some(id), Some(code)) = (id(), attr_text(attrs, b"formatCode"))
                            {
                                custom.push((id, custom_format_kind(&code)));
                            }
                        }
                        b"xf" if section.last().map(Vec::as_slice) == Some(&b"cellXfs"[..]) => {
                            xf_formats.push(id().unwrap_or(0));
                        }
                        _ => {}
                    }
                    if !empty {
                        section.push(name.to_vec());
                    }
                }
                Event::End { .. } => {
                    section.pop();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        self.styles = xf_formats
            .into_iter()
            .map(|id| {
                custom
                    .iter()
                    .rev()
                    .find(|(c, _)| *c == id)
                    .map(|(_, k)| *k)
                    .unwrap_or_else(|| builtin_format_kind(id))
            })
            .collect();
        Ok(())
    }
}

/// Excel's built-in number formats that show dates and times (ECMA-376
/// 18.8.30, with the East Asian ids): 46 is `[h]:mm:ss`, a duration.
fn builtin_format_kind(id: u32) -> NumberKind {
    match id {
        14..=22 | 27..=36 | 45 | 47 | 50..=58 => NumberKind::DateTime,
        46 => NumberKind::Duration,
        _ => NumberKind::Plain,
    }
}

/// Whether a custom number format shows a date/time, a duration or a
/// plain number. Only the first section counts; literal text (quoted,
/// escaped with `\`, or the character after `_` and `*`) and bracketed
/// parts (colours, conditions, locales) are not format tokens, except an
/// elapsed-time bracket such as `[h]` or `[mm]`, which makes it a duration.
/// `AM/PM` and `A/P` make it a time.
pub(crate) fn custom_format_kind(code: &str) -> NumberKind {
    let mut chars = code.chars().peekable();
    let mut after_a = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' | '_' | '*' => {
                chars.next();
            }
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                }
            }
            ';' => return NumberKind::Plain,
            '[' => {
                let inner: String = chars.by_ref().take_while(|&b| b != ']').collect();
                let lower = inner.to_ascii_lowercase();
                let first = lower.chars().next();
                if matches!(first, Some('h' | 'm' | 's')) && lower.chars().all(|x| Some(x) == first)
                {
                    return NumberKind::Duration;
                }
            }
            'a' | 'A' if !after_a => after_a = true,
            'p' | 'P' | 'm' | 'M' | '/' if after_a => return NumberKind::DateTime,
            'd' | 'D' | 'm' | 'M' | 'h' | 'H' | 'y' | 'Y' | 's' | 'S' if !after_a => {
                return NumberKind::DateTime
            }
            _ => {}
        }
    }
    NumberKind::Plain
}

/// A zip entry's inflating reader that enforces the zip guard's limits on
/// the bytes it really produces: the entry's size, the workbook's total
/// (`before` counts what the guard already inflated), the inflate ratio,
/// and for the shared strings their size.
pub(crate) struct Capped<'l, R> {
    pub inner: R,
    pub name: String,
    pub compressed: u64,
    pub before: u64,
    pub read: u64,
    pub limits: &'l Limits,
    pub shared_strings: bool,
}

impl<R: Read> Read for Capped<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        let check = || -> Result<(), LimitExceeded> {
            self.limits.check_entry_bytes(&self.name, self.read)?;
            self.limits.check_inflated_bytes(self.before + self.read)?;
            self.limits
                .check_inflate_ratio(&self.name, self.read, self.compressed)?;
            if self.shared_strings {
                self.limits.check_shared_strings_bytes(self.read)?;
            }
            Ok(())
        };
        check().map_err(std::io::Error::other)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relationship_targets_resolve_against_their_source() {
        assert_eq!(
            resolve("xl/workbook.xml", "worksheets/sheet1.xml"),
            "xl/worksheets/sheet1.xml"
        );
        assert_eq!(
            resolve("xl/workbook.xml", "/xl/worksheets/s.xml"),
            "xl/worksheets/s.xml"
        );
        assert_eq!(resolve("xl/workbook.xml", "../other/s.xml"), "other/s.xml");
        assert_eq!(resolve("", "xl/workbook.xml"), "xl/workbook.xml");
        assert_eq!(rels_of("xl/workbook.xml"), "xl/_rels/workbook.xml.rels");
    }

    #[test]
    fn custom_formats_are_classified_like_excel_shows_them() {
        use NumberKind::*;
        for (code, kind) in [
            ("yyyy-mm-dd", DateTime),
            ("d/m/yy h:mm", DateTime),
            ("h:mm AM/PM", DateTime),
            ("[h]:mm:ss", Duration),
            ("[mm]:ss", Duration),
            ("[Red]0.00", Plain),
            ("[$-409]General", Plain),
            ("0.00\"days\"", Plain),
            ("#,##0;[Red]-#,##0", Plain),
            ("\\d0", Plain),
            ("_(* #,##0_)", Plain),
            ("@", Plain),
            ("[$-F800]dddd, mmmm dd, yyyy", DateTime),
        ] {
            assert_eq!(custom_format_kind(code), kind, "{code}");
        }
    }
}
