//! Merged ranges of one .xlsb worksheet, found before its cells stream.
//!
//! calamine's xlsb reader exposes no merged cells, so the sheet's BIFF12
//! record stream is walked once more here. A record is a record type (one
//! or two bytes, seven bits each) and a size (one to four bytes, seven bits
//! each) before its body ([MS-XLSB] 2.1.4). The merged ranges come after
//! the cell data: BrtBeginMergeCells, one BrtMergeCell per range (an RfX:
//! rwFirst, rwLast, colFirst, colLast as four u32), BrtEndMergeCells. Only
//! record headers are decoded, bodies are skipped in the read buffer, so
//! the cost is one more inflate of the part. The part is found as calamine
//! finds it: the sheet's BrtBundleSh in `xl/workbook.bin` names a
//! relationship in `xl/_rels/workbook.bin.rels`.
//!
//! Damage: when the parts leading to the sheet cannot be resolved there
//! are no merges (calamine resolves the same parts and reports what is
//! wrong when it reads the cells). A record stream that ends inside a
//! record, a BrtMergeCell shorter than 16 bytes or with a first row or
//! column after its last, or more than [`MAX_RANGES`] ranges spanning rows,
//! is a `Corrupt` error naming the sheet. The zip guard has already capped
//! what the part inflates to, which bounds the time spent.

use std::io::{BufRead, BufReader, Read, Seek};
use std::path::Path;

use calamine::Dimensions;

use crate::source::xlsx::merges::{rel_target, MAX_PART_BYTES};
use crate::source::SourceError;

/// Most merged ranges spanning several rows kept for one sheet (16 bytes
/// each); more is refused rather than silently dropped.
pub(crate) const MAX_RANGES: usize = 1_000_000;

/// Largest BrtBundleSh body read (a sheet name is at most 31 characters).
const MAX_BUNDLE_BYTES: u32 = 64 * 1024;

const BRT_BUNDLE_SH: u16 = 0x009C;
const BRT_END_BUNDLE_SHS: u16 = 0x0090;
const BRT_MERGE_CELL: u16 = 0x00B0;
const BRT_END_MERGE_CELLS: u16 = 0x00B2;

/// The merged ranges of `sheet` that span several rows (the only ones that
/// fill anything, see `cells::RowAssembler`).
pub(crate) fn merged_ranges(path: &Path, sheet: &str) -> Result<Vec<Dimensions>, SourceError> {
    let Some((mut zip, part)) = open_sheet_part(path, sheet) else {
        return Ok(Vec::new());
    };
    let Ok(entry) = zip.by_name(&part) else {
        return Ok(Vec::new());
    };
    find_merges(BufReader::with_capacity(64 * 1024, entry)).map_err(|message| {
        SourceError::Corrupt {
            format: "xlsb",
            message: format!("the merged cells of sheet {sheet:?}: {message}"),
        }
    })
}

type Zip = zip::ZipArchive<BufReader<std::fs::File>>;

/// The open archive and the path of `sheet`'s part in it.
fn open_sheet_part(path: &Path, sheet: &str) -> Option<(Zip, String)> {
    let file = std::fs::File::open(path).ok()?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).ok()?;
    let workbook = read_bytes(&mut zip, "xl/workbook.bin")?;
    let rid = sheet_rid(&workbook, sheet)?;
    let rels = String::from_utf8(read_bytes(&mut zip, "xl/_rels/workbook.bin.rels")?).ok()?;
    let target = rel_target(&rels, &rid)?;
    let part = match target.strip_prefix('/') {
        Some(abs) => abs.to_string(),
        None => format!("xl/{target}"),
    };
    Some((zip, part))
}

fn read_bytes<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, name: &str) -> Option<Vec<u8>> {
    let entry = zip.by_name(name).ok()?;
    let mut bytes = Vec::new();
    entry.take(MAX_PART_BYTES).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// The relationship id of the sheet called `sheet`: its BrtBundleSh
/// (hsState u32, iTabID u32, strRelID, strName) in workbook.bin.
fn sheet_rid(workbook: &[u8], sheet: &str) -> Option<String> {
    let mut records = Records::new(workbook);
    let mut body = Vec::new();
    while let Some((typ, len)) = records.header().ok()? {
        match typ {
            BRT_BUNDLE_SH if len <= MAX_BUNDLE_BYTES => {
                body.resize(len as usize, 0);
                records.read(&mut body).ok()?;
                let mut at = 8;
                let rid = wide_str(&body, &mut at)?;
                let name = wide_str(&body, &mut at)?;
                if name.as_deref() == Some(sheet) {
                    return rid;
                }
            }
            BRT_END_BUNDLE_SHS => return None,
            _ => records.skip(len).ok()?,
        }
    }
    None
}

/// An XLWideString or XLNullableWideString at `*at` (a u32 count of
/// UTF-16 code units, 0xFFFFFFFF for null, then the units); `Some(None)`
/// for null, `None` when the bytes run out.
fn wide_str(body: &[u8], at: &mut usize) -> Option<Option<String>> {
    let count = u32::from_le_bytes(body.get(*at..*at + 4)?.try_into().ok()?);
    *at += 4;
    if count == u32::MAX {
        return Some(None);
    }
    let end = at.checked_add(usize::try_from(count).ok()?.checked_mul(2)?)?;
    let units: Vec<u16> = body
        .get(*at..end)?
        .chunks_exact(2)
        .map(|u| u16::from_le_bytes([u[0], u[1]]))
        .collect();
    *at = end;
    Some(Some(String::from_utf16_lossy(&units)))
}

/// Walks a sheet's record stream and collects every BrtMergeCell that
/// spans more than one row.
fn find_merges(input: impl BufRead) -> Result<Vec<Dimensions>, String> {
    let mut records = Records::new(input);
    let mut out = Vec::new();
    while let Some((typ, len)) = records.header()? {
        if typ != BRT_MERGE_CELL {
            records.skip(len)?;
            if typ == BRT_END_MERGE_CELLS {
                // A worksheet holds one collection of merged cells.
                break;
            }
            continue;
        }
        let at = records.offset;
        if len < 16 {
            return Err(format!(
                "the BrtMergeCell record at byte {at} holds {len} bytes instead of 16"
            ));
        }
        let mut rfx = [0u8; 16];
        records.read(&mut rfx)?;
        records.skip(len - 16)?;
        let field = |i: usize| u32::from_le_bytes(rfx[i * 4..i * 4 + 4].try_into().expect("4"));
        let (rw_first, rw_last, col_first, col_last) = (field(0), field(1), field(2), field(3));
        if rw_first > rw_last || col_first > col_last {
            return Err(format!(
                "the BrtMergeCell record at byte {at} has rows {rw_first}-{rw_last} and columns {col_first}-{col_last}"
            ));
        }
        if rw_last > rw_first {
            if out.len() == MAX_RANGES {
                return Err(format!(
                    "more than {MAX_RANGES} merged ranges span several rows"
                ));
            }
            out.push(Dimensions::new((rw_first, col_first), (rw_last, col_last)));
        }
    }
    Ok(out)
}

/// A BIFF12 record stream: headers decoded, bodies read or skipped.
struct Records<R> {
    input: R,
    /// Bytes consumed so far (for messages).
    offset: u64,
}

impl<R: BufRead> Records<R> {
    fn new(input: R) -> Self {
        Records { input, offset: 0 }
    }

    fn byte(&mut self) -> Result<Option<u8>, String> {
        let buf = self.input.fill_buf().map_err(|e| e.to_string())?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        self.input.consume(1);
        self.offset += 1;
        Ok(Some(b))
    }

    fn must_byte(&mut self) -> Result<u8, String> {
        self.byte()?.ok_or_else(|| {
            format!(
                "the stream ends inside a record header at byte {}",
                self.offset
            )
        })
    }

    /// The next record's type and body size; `None` at the end of the
    /// stream (between records).
    fn header(&mut self) -> Result<Option<(u16, u32)>, String> {
        let Some(first) = self.byte()? else {
            return Ok(None);
        };
        let mut typ = u16::from(first & 0x7F);
        if first & 0x80 != 0 {
            typ |= u16::from(self.must_byte()? & 0x7F) << 7;
        }
        let mut len = 0u32;
        for i in 0..4 {
            let b = self.must_byte()?;
            len |= u32::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        Ok(Some((typ, len)))
    }

    fn read(&mut self, out: &mut [u8]) -> Result<(), String> {
        self.input
            .read_exact(out)
            .map_err(|_| format!("the stream ends inside a record at byte {}", self.offset))?;
        self.offset += out.len() as u64;
        Ok(())
    }

    fn skip(&mut self, len: u32) -> Result<(), String> {
        let mut left = len as usize;
        while left > 0 {
            let buf = self.input.fill_buf().map_err(|e| e.to_string())?;
            if buf.is_empty() {
                return Err(format!(
                    "the stream ends inside a record at byte {} ({left} bytes missing)",
                    self.offset
                ));
            }
            let n = buf.len().min(left);
            self.input.consume(n);
            self.offset += n as u64;
            left -= n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{xlsb_record, xlsb_sheet, XlsbCell};
    use std::io::Read;

    fn merge(r0: u32, r1: u32, c0: u32, c1: u32) -> Vec<u8> {
        let body: Vec<u8> = [r0, r1, c0, c1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        xlsb_record(BRT_MERGE_CELL, &body)
    }

    #[test]
    fn record_headers_use_seven_bit_groups() {
        // 0xB0 needs two type bytes; a 200-byte body needs two size bytes.
        let rec = xlsb_record(0xB0, &[7u8; 200]);
        assert_eq!(&rec[..4], &[0xB0, 0x01, 0xC8, 0x01]);
        let mut records = Records::new(&rec[..]);
        assert_eq!(records.header().unwrap(), Some((0xB0, 200)));
        records.skip(200).unwrap();
        assert_eq!(records.header().unwrap(), None);
    }

    #[test]
    fn ranges_spanning_rows_are_found_after_the_cell_data() {
        let rows = [vec![XlsbCell::Text("a")], vec![XlsbCell::Number(2.0)]];
        let stream = xlsb_sheet(&rows, &[(1, 3, 1, 1), (0, 0, 0, 2), (4, 9, 0, 1)]);
        assert_eq!(
            find_merges(&stream[..]).unwrap(),
            vec![
                Dimensions::new((1, 1), (3, 1)),
                Dimensions::new((4, 0), (9, 1))
            ]
        );
    }

    #[test]
    fn a_broken_stream_is_an_error_and_a_sheet_without_merges_has_none() {
        let stream = xlsb_sheet(&[vec![XlsbCell::Text("a")]], &[(1, 3, 1, 1)]);
        let cut = stream.len() - 10;
        let err = find_merges(&stream[..cut]).unwrap_err();
        assert!(err.contains("ends inside a record"), "{err}");
        let short = xlsb_record(BRT_MERGE_CELL, &[0; 12]);
        assert!(find_merges(&short[..]).unwrap_err().contains("12 bytes"));
        let backwards = merge(5, 2, 0, 0);
        assert!(find_merges(&backwards[..])
            .unwrap_err()
            .contains("rows 5-2"));
        let plain = xlsb_sheet(&[vec![XlsbCell::Text("a")]], &[]);
        assert_eq!(find_merges(&plain[..]).unwrap(), vec![]);
    }

    #[test]
    fn the_number_of_ranges_is_capped() {
        let one = merge(0, 1, 0, 0);
        let mut stream = Vec::with_capacity(one.len() * (MAX_RANGES + 1));
        for _ in 0..=MAX_RANGES {
            stream.extend_from_slice(&one);
        }
        let err = find_merges(&stream[..]).unwrap_err();
        assert!(err.contains("more than 1000000"), "{err}");
        // Ranges within one row cost nothing and do not count.
        let flat = merge(3, 3, 0, 5).repeat(MAX_RANGES + 1);
        assert_eq!(find_merges(&flat[..]).unwrap(), vec![]);
    }

    /// Every record of every worksheet part of calamine's .xlsb test files
    /// (saved by Excel): the walk reads each stream to its end, none holds
    /// a merged-cells record, and every sheet reads as having no merges.
    #[test]
    fn the_corpus_xlsb_files_walk_cleanly_and_have_no_merged_cells() {
        use calamine::Reader;
        let Some(corpus) = crate::testkit::corpus_or_skip() else {
            return;
        };
        let dir = corpus.join("calamine-tests/tests");
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "xlsb") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let Ok(mut zip) = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()) else {
                // The encrypted one is an OLE2 container, not a zip.
                assert_eq!(name, "pass_protected.xlsb");
                continue;
            };
            files += 1;
            let parts: Vec<String> = zip
                .file_names()
                .map(|n| n.unwrap().to_string())
                .filter(|n| n.starts_with("xl/worksheets/") && n.ends_with(".bin"))
                .collect();
            assert!(!parts.is_empty(), "{name}");
            for part in parts {
                let mut bytes = Vec::new();
                zip.by_name(&part).unwrap().read_to_end(&mut bytes).unwrap();
                let mut records = Records::new(&bytes[..]);
                let mut count = 0;
                while let Some((typ, len)) = records.header().unwrap() {
                    assert!(
                        !(0xB0..=0xB2).contains(&typ),
                        "{name} {part}: merged-cells record {typ:#x}"
                    );
                    records.skip(len).unwrap();
                    count += 1;
                }
                assert!(count > 0, "{name} {part}");
            }
            let wb = calamine::open_workbook::<calamine::Xlsb<_>, _>(&path).unwrap();
            for sheet in wb.sheet_names() {
                assert_eq!(
                    merged_ranges(&path, &sheet).unwrap(),
                    vec![],
                    "{name} {sheet}"
                );
                assert!(open_sheet_part(&path, &sheet).is_some(), "{name} {sheet}");
            }
        }
        assert!(files >= 10, "only {files} xlsb files in {dir:?}");
    }

    #[test]
    fn sheet_names_resolve_to_relationship_ids() {
        let workbook = crate::testkit::xlsb_workbook(&["Notes", "A & B"]);
        assert_eq!(sheet_rid(&workbook, "A & B").as_deref(), Some("rId2"));
        assert_eq!(sheet_rid(&workbook, "Notes").as_deref(), Some("rId1"));
        assert_eq!(sheet_rid(&workbook, "Other"), None);
        assert_eq!(sheet_rid(&workbook[..workbook.len() / 2], "A & B"), None);
    }
}
