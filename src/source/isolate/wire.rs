//! The framing an isolated reader process uses to stream rows back to its
//! parent over a pipe: one tag byte per frame, little-endian integers,
//! length-prefixed UTF-8.
//!
//! ```text
//! 'O' format:u8 sheet:str          opened (always first, or 'E')
//! 'R' number:u32 n:u32 cell*n      a row; cell = kind:u8 payload
//! 'P' bytes:u64                    bytes of the file consumed so far
//! 'W' text:str                     a reader warning (after the rows)
//! 'D'                              done, no error
//! 'E' json:str                     stopped with this SourceError
//! ```

use std::io::{self, BufRead, Read, Write};

use serde_json::json;

use crate::model::{Cell, RawRow};
use crate::source::{Format, LimitExceeded, ProgressUnit, ReadPosition, SourceError};

/// One decoded frame.
#[derive(Debug)]
pub enum Frame {
    /// The file was opened: its format and sheet.
    Opened(Format, String),
    /// A row.
    Row(RawRow),
    /// How far the reader is (see `source::progress`).
    Progress(ReadPosition),
    /// A reader warning.
    Warning(String),
    /// The reader finished.
    Done,
    /// The reader stopped with an error.
    Error(SourceError),
}

const FORMATS: [Format; 8] = [
    Format::Xlsx,
    Format::Xlsb,
    Format::Xls,
    Format::Ods,
    Format::Csv,
    Format::Encrypted,
    Format::OtherZip,
    Format::Binary,
];

fn put_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    out.write_all(&(s.len() as u32).to_le_bytes())?;
    out.write_all(s.as_bytes())
}

/// Writes the 'O' frame.
pub fn write_opened(out: &mut impl Write, format: Format, sheet: &str) -> io::Result<()> {
    let index = FORMATS.iter().position(|f| *f == format).unwrap_or(0) as u8;
    out.write_all(&[b'O', index])?;
    put_str(out, sheet)
}

/// Writes an 'R' frame.
pub fn write_row(out: &mut impl Write, row: &RawRow) -> io::Result<()> {
    out.write_all(b"R")?;
    out.write_all(&row.number.to_le_bytes())?;
    out.write_all(&(row.cells.len() as u32).to_le_bytes())?;
    for cell in &row.cells {
        match cell {
            Cell::Empty => out.write_all(&[0])?,
            Cell::Text(s) => (out.write_all(&[1])?, put_str(out, s)?).1,
            Cell::Int(i) => (out.write_all(&[2])?, out.write_all(&i.to_le_bytes())?).1,
            Cell::Float(f) => (out.write_all(&[3])?, out.write_all(&f.to_le_bytes())?).1,
            Cell::Bool(b) => out.write_all(&[4, u8::from(*b)])?,
            Cell::DateTime(s) => (out.write_all(&[5])?, put_str(out, s)?).1,
            Cell::Error(s) => (out.write_all(&[6])?, put_str(out, s)?).1,
            Cell::FormulaWithoutValue(s) => (out.write_all(&[7])?, put_str(out, s)?).1,
        }
    }
    Ok(())
}

/// Writes a 'P' frame: done and total (u64 each), then the unit's code.
pub fn write_progress(out: &mut impl Write, at: ReadPosition) -> io::Result<()> {
    out.write_all(b"P")?;
    out.write_all(&at.done.to_le_bytes())?;
    out.write_all(&at.total.to_le_bytes())?;
    out.write_all(&[at.unit.code()])
}

/// Writes a 'W' frame.
pub fn write_warning(out: &mut impl Write, text: &str) -> io::Result<()> {
    out.write_all(b"W")?;
    put_str(out, text)
}

/// Writes the 'D' frame.
pub fn write_done(out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"D")
}

/// Writes an 'E' frame.
pub fn write_error(out: &mut impl Write, e: &SourceError) -> io::Result<()> {
    let value = match e {
        SourceError::Io { path, source } => {
            json!({"io": {"path": path, "message": source.to_string()}})
        }
        SourceError::Empty => json!({"empty": null}),
        SourceError::Unsupported(m) => json!({"unsupported": m}),
        SourceError::Corrupt { format, message } => {
            json!({"corrupt": {"format": format, "message": message}})
        }
        SourceError::SheetNotFound { wanted, available } => {
            json!({"sheet": {"wanted": wanted, "available": available}})
        }
        SourceError::Limit(l) => {
            json!({"limit": {"what": l.what, "limit": l.limit, "flag": l.flag}})
        }
    };
    out.write_all(b"E")?;
    put_str(out, &value.to_string())
}

/// Most bytes one string in a frame may claim (a corrupt stream is refused
/// before allocating what it claims).
const MAX_STR: u32 = 1 << 30;

fn get<const N: usize>(input: &mut impl Read) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    input.read_exact(&mut b)?;
    Ok(b)
}

fn get_str(input: &mut impl BufRead) -> io::Result<String> {
    let len = u32::from_le_bytes(get(input)?);
    if len > MAX_STR {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "oversized string frame",
        ));
    }
    // Copied straight out of the reader's buffer: a zeroed buffer
    // (`vec![0; len]` + `read_exact`) cost a `calloc` per cell, and
    // `read_to_end` a probing read (docs/BENCHMARKS.md, "Businesses: before
    // and after").
    let len = len as usize;
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let n = chunk.len().min(len - buf.len());
        buf.extend_from_slice(&chunk[..n]);
        input.consume(n);
    }
    String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Reads the next frame; `Ok(None)` at a clean end of stream.
pub fn read_frame(input: &mut impl BufRead) -> io::Result<Option<Frame>> {
    let mut tag = [0u8; 1];
    if input.read(&mut tag)? == 0 {
        return Ok(None);
    }
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    Ok(Some(match tag[0] {
        b'O' => {
            let [index] = get::<1>(input)?;
            let format = *FORMATS
                .get(index as usize)
                .ok_or_else(|| bad("bad format"))?;
            Frame::Opened(format, get_str(input)?)
        }
        b'R' => {
            let number = u32::from_le_bytes(get(input)?);
            let n = u32::from_le_bytes(get(input)?);
            let mut cells = Vec::with_capacity(n.min(1 << 14) as usize);
            for _ in 0..n {
                let [kind] = get::<1>(input)?;
                cells.push(match kind {
                    0 => Cell::Empty,
                    1 => Cell::Text(get_str(input)?),
                    2 => Cell::Int(i64::from_le_bytes(get(input)?)),
                    3 => Cell::Float(f64::from_le_bytes(get(input)?)),
                    4 => Cell::Bool(get::<1>(input)?[0] != 0),
                    5 => Cell::DateTime(get_str(input)?),
                    6 => Cell::Error(get_str(input)?),
                    7 => Cell::FormulaWithoutValue(get_str(input)?),
                    _ => return Err(bad("bad cell kind")),
                });
            }
            Frame::Row(RawRow { number, cells })
        }
        b'P' => {
            let done = u64::from_le_bytes(get(input)?);
            let total = u64::from_le_bytes(get(input)?);
            let [unit] = get::<1>(input)?;
            Frame::Progress(ReadPosition {
                done,
                total,
                unit: ProgressUnit::from_code(unit),
            })
        }
        b'W' => Frame::Warning(get_str(input)?),
        b'D' => Frame::Done,
        b'E' => Frame::Error(decode_error(&get_str(input)?)),
        _ => return Err(bad("bad frame tag")),
    }))
}

fn decode_error(text: &str) -> SourceError {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    if let Some(io) = v.get("io") {
        SourceError::Io {
            path: s(&io["path"]),
            source: io::Error::other(s(&io["message"])),
        }
    } else if v.get("empty").is_some() {
        SourceError::Empty
    } else if let Some(m) = v.get("unsupported") {
        SourceError::Unsupported(s(m))
    } else if let Some(c) = v.get("corrupt") {
        let name = s(&c["format"]);
        let format = FORMATS
            .iter()
            .map(|f| f.name())
            .find(|n| *n == name)
            .unwrap_or("spreadsheet");
        SourceError::Corrupt {
            format,
            message: s(&c["message"]),
        }
    } else if let Some(sh) = v.get("sheet") {
        SourceError::SheetNotFound {
            wanted: s(&sh["wanted"]),
            available: sh["available"]
                .as_array()
                .map(|a| a.iter().map(s).collect())
                .unwrap_or_default(),
        }
    } else if let Some(l) = v.get("limit") {
        SourceError::Limit(LimitExceeded {
            what: s(&l["what"]),
            limit: l["limit"].as_u64().unwrap_or_default(),
            flag: crate::source::limits::static_flag(&s(&l["flag"])),
        })
    } else {
        SourceError::Corrupt {
            format: "spreadsheet",
            message: format!("the reader process sent an unreadable error: {text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_errors_survive_the_pipe() {
        let row = RawRow {
            number: 7,
            cells: vec![
                Cell::Empty,
                Cell::Text("Açme".into()),
                Cell::Int(-3),
                Cell::Float(2.5),
                Cell::Bool(true),
                Cell::DateTime("2024-01-02".into()),
                Cell::Error("#N/A".into()),
                Cell::FormulaWithoutValue("=A1".into()),
            ],
        };
        let limit = SourceError::Limit(LimitExceeded {
            what: "the number of rows (11)".into(),
            limit: 10,
            flag: "--max-rows / SHEETPIPE_MAX_ROWS",
        });
        let mut buf = Vec::new();
        write_opened(&mut buf, Format::Xlsx, "Sheet1").unwrap();
        write_row(&mut buf, &row).unwrap();
        let at = ReadPosition {
            done: 99,
            total: 400,
            unit: ProgressUnit::Rows,
        };
        write_progress(&mut buf, at).unwrap();
        write_warning(&mut buf, "decoded as Windows-1252").unwrap();
        write_error(&mut buf, &limit).unwrap();
        write_done(&mut buf).unwrap();
        let mut input = &buf[..];
        assert!(
            matches!(read_frame(&mut input).unwrap(), Some(Frame::Opened(Format::Xlsx, s)) if s == "Sheet1")
        );
        assert!(matches!(read_frame(&mut input).unwrap(), Some(Frame::Row(r)) if r == row));
        assert!(matches!(
            read_frame(&mut input).unwrap(),
            Some(Frame::Progress(p)) if p == at
        ));
        assert!(
            matches!(read_frame(&mut input).unwrap(), Some(Frame::Warning(w)) if w == "decoded as Windows-1252")
        );
        match read_frame(&mut input).unwrap() {
            Some(Frame::Error(e)) => assert_eq!(e.to_string(), limit.to_string()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(read_frame(&mut input).unwrap(), Some(Frame::Done)));
        assert!(read_frame(&mut input).unwrap().is_none());
    }
}
