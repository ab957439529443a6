//! Streaming CSV/TSV reader on the `csv` crate: one reused `ByteRecord`, so
//! memory holds one record. The delimiter (comma, semicolon, tab, pipe) is
//! sniffed from the first 64 KiB ([`sniff_delimiter`]). Text is UTF-8 with
//! or without a BOM, or UTF-16 LE/BE with a BOM (transcoded to UTF-8 as it
//! streams, [`Utf16Reader`]). A field that is not valid UTF-8 is decoded as
//! Windows-1252 — the usual encoding of CSV saved by Excel on Windows — and
//! the report carries a warning saying so and where it first happened.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::progress::{CountingRead, ProgressUnit};
use super::{Format, Limits, RowReader, SourceError, SourceOptions};
use crate::model::{Cell, RawRow};

/// How much of the file the delimiter sniffer looks at.
const SNIFF_BYTES: usize = 64 * 1024;

/// The end of the parser's input as seen so far, and where its line
/// breaks are.
#[derive(Debug, Default)]
struct Tail {
    /// Bytes handed to the parser.
    total: AtomicU64,
    /// The last of them.
    last: std::sync::atomic::AtomicU8,
    /// The input is exhausted.
    eof: std::sync::atomic::AtomicBool,
    /// Line breaks (`\n`, `\r\n` or a lone `\r`, as a spreadsheet program
    /// counts them) handed to the parser.
    breaks: std::sync::Mutex<Breaks>,
}

/// Line breaks by byte offset: those not yet passed by the parser (at most
/// one read-ahead buffer's worth) and the count of those it has passed.
#[derive(Debug, Default)]
struct Breaks {
    ahead: std::collections::VecDeque<u64>,
    passed: u64,
    /// The last byte seen was `\r` (a `\n` next is the same break).
    after_cr: bool,
}

impl Tail {
    /// True when a record ending at byte `pos` is the file's last line and
    /// has no line break after it.
    fn ends_unterminated_at(&self, pos: u64) -> bool {
        self.eof.load(Ordering::Relaxed)
            && pos == self.total.load(Ordering::Relaxed)
            && !matches!(self.last.load(Ordering::Relaxed), b'\n' | b'\r')
    }

    /// Notes the line breaks of `bytes`, which start at byte `at`.
    fn note(&self, at: u64, bytes: &[u8]) {
        let mut breaks = self.breaks.lock().unwrap_or_else(|e| e.into_inner());
        for i in memchr::memchr2_iter(b'\r', b'\n', bytes) {
            let after_cr = if i == 0 {
                breaks.after_cr
            } else {
                bytes[i - 1] == b'\r'
            };
            if bytes[i] == b'\r' || !after_cr {
                breaks.ahead.push_back(at + i as u64);
            }
        }
        if let Some(&b) = bytes.last() {
            breaks.after_cr = b == b'\r';
        }
    }

    /// The line (1-based) that byte `pos` of the input is on, for positions
    /// that never decrease.
    fn line_at(&self, pos: u64) -> u64 {
        let mut breaks = self.breaks.lock().unwrap_or_else(|e| e.into_inner());
        while breaks.ahead.front().is_some_and(|&b| b < pos) {
            breaks.ahead.pop_front();
            breaks.passed += 1;
        }
        1 + breaks.passed
    }
}

/// Line breaks inside one field, counted as [`Tail`] counts them.
fn breaks_in(field: &[u8]) -> u64 {
    memchr::memchr2_iter(b'\r', b'\n', field)
        .filter(|&i| field[i] == b'\r' || i == 0 || field[i - 1] != b'\r')
        .count() as u64
}

/// Passes bytes to the parser, noting the [`Tail`].
struct TailReader {
    inner: Box<dyn Read + Send>,
    tail: Arc<Tail>,
}

impl Read for TailReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match n {
            0 => self.tail.eof.store(true, Ordering::Relaxed),
            _ => {
                let at = self.tail.total.fetch_add(n as u64, Ordering::Relaxed);
                self.tail.note(at, &buf[..n]);
                self.tail.last.store(buf[n - 1], Ordering::Relaxed);
            }
        }
        Ok(n)
    }
}

/// Reads a delimited text file.
pub struct CsvReader {
    reader: csv::Reader<Box<dyn Read + Send>>,
    /// What the csv parser has been fed: tells whether the last record
    /// ended with a line break (for row numbering).
    tail: Arc<Tail>,
    limits: Limits,
    encoding: &'static str,
    /// Fields decoded as Windows-1252, and the first row holding one.
    fallback: (u64, u32),
}

impl CsvReader {
    /// Opens the file: detects the encoding from its BOM and sniffs the
    /// delimiter.
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self, SourceError> {
        let io = |source| SourceError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        (&mut file)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(io)?;
        let (encoding, bom): (Option<&'static encoding_rs::Encoding>, u64) = match head.as_slice() {
            [0xEF, 0xBB, 0xBF, ..] => (None, 3),
            [0xFF, 0xFE, ..] => (Some(encoding_rs::UTF_16LE), 2),
            [0xFE, 0xFF, ..] => (Some(encoding_rs::UTF_16BE), 2),
            _ => (None, 0),
        };
        file.seek(SeekFrom::Start(bom)).map_err(io)?;
        // Progress: bytes of the file handed to the decoder and parser
        // (their buffers are small, so this is close to what was parsed).
        let size = file.metadata().map_err(io)?.len();
        opts.progress.start(ProgressUnit::Bytes, size);
        let file = CountingRead {
            inner: BufReader::with_capacity(256 * 1024, file),
            progress: opts.progress.clone(),
            read: bom,
        };
        let (input, sample, name): (Box<dyn Read + Send>, Vec<u8>, &'static str) = match encoding {
            Some(enc) => {
                let (text, _) = enc.decode_without_bom_handling(&head[2..]);
                (
                    Box::new(Utf16Reader::new(file, enc)),
                    text.into_owned().into_bytes(),
                    enc.name(),
                )
            }
            None => (Box::new(file), head[bom as usize..].to_vec(), "UTF-8"),
        };
        let tail = Arc::new(Tail::default());
        let input: Box<dyn Read + Send> = Box::new(TailReader {
            inner: input,
            tail: tail.clone(),
        });
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(sniff_delimiter(&sample, head.len() == SNIFF_BYTES))
            .from_reader(input);
        Ok(CsvReader {
            reader,
            tail,
            limits: opts.limits.clone(),
            encoding: name,
            fallback: (0, 0),
        })
    }

    /// One field as a cell: UTF-8, else Windows-1252 (counted).
    fn field(&mut self, number: u32, field: &[u8]) -> Cell {
        if field.is_empty() {
            return Cell::Empty;
        }
        match std::str::from_utf8(field) {
            Ok(s) => Cell::Text(s.to_string()),
            Err(_) => {
                if self.fallback.0 == 0 {
                    self.fallback.1 = number;
                }
                self.fallback.0 += 1;
                let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(field);
                Cell::Text(text.into_owned())
            }
        }
    }
}

impl RowReader for CsvReader {
    fn format(&self) -> Format {
        Format::Csv
    }

    fn sheet_name(&self) -> &str {
        ""
    }

    fn read(&mut self, emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>) -> Result<(), SourceError> {
        let mut record = csv::ByteRecord::new();
        // Row numbers as a spreadsheet program shows the file: blank lines
        // are rows (the csv crate skips them, so count physical lines), and
        // a quoted field's inner line breaks stay inside one row (so
        // subtract those seen in earlier records).
        let mut inner_breaks: u64 = 0;
        loop {
            match self.reader.read_byte_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) => {
                    return Err(SourceError::Corrupt {
                        format: "csv",
                        message: e.to_string(),
                    })
                }
            }
            // The record's position is where the reader started, before any
            // skipped blank lines; its end is exact: the line after its
            // terminator (the same line when the file ends without one).
            // Lines are counted here, not by the csv crate (which counts
            // only `\n`), so CRLF, CR-only and LF files number alike.
            let breaks: u64 = record.iter().map(breaks_in).sum();
            let end_byte = self.reader.position().byte();
            let end = self.tail.line_at(end_byte);
            let terminated = !self.tail.ends_unterminated_at(end_byte);
            let first_line = end - breaks - u64::from(terminated);
            let number = u32::try_from(first_line.saturating_sub(inner_breaks)).unwrap_or(u32::MAX);
            inner_breaks += breaks;
            self.limits.check_rows(number as u64)?;
            self.limits.check_columns(number, record.len() as u64)?;
            let mut cells = Vec::with_capacity(record.len());
            for field in record.iter() {
                self.limits.check_cell_bytes(number, field.len())?;
                cells.push(self.field(number, field));
            }
            if emit(RawRow { number, cells }).is_break() {
                return Ok(());
            }
        }
    }

    fn warnings(&self) -> Vec<String> {
        match self.fallback {
            (0, _) => Vec::new(),
            (fields, row) => vec![format!(
                "the file is not valid {}: {fields} field(s), the first in row {row}, were decoded as Windows-1252",
                self.encoding
            )],
        }
    }
}

/// Picks the delimiter among comma, semicolon, tab and pipe: the one that
/// splits the most sample lines into the same number of fields (quotes
/// respected); ties go to the earlier candidate, no hit at all to comma.
/// `truncated` drops the sample's last, possibly partial, line.
pub fn sniff_delimiter(sample: &[u8], truncated: bool) -> u8 {
    const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
    let mut lines: Vec<[usize; 4]> = Vec::new();
    let mut counts = [0usize; 4];
    let (mut quoted, mut blank) = (false, true);
    for &b in sample {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => {
                if !blank {
                    lines.push(counts);
                }
                (counts, blank) = ([0; 4], true);
                continue;
            }
            _ if quoted => {}
            _ => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
        }
        blank = false;
    }
    if !blank && !truncated {
        lines.push(counts);
    }
    lines.truncate(100);
    let score = |i: usize| {
        let mut freq: Vec<(usize, usize)> = Vec::new();
        for n in lines.iter().map(|l| l[i]).filter(|&n| n > 0) {
            match freq.iter_mut().find(|(k, _)| *k == n) {
                Some((_, f)) => *f += 1,
                None => freq.push((n, 1)),
            }
        }
        freq.into_iter()
            .map(|(n, f)| (f, n))
            .max()
            .unwrap_or((0, 0))
    };
    let mut best = (0usize, (0usize, 0usize));
    for i in 0..CANDIDATES.len() {
        let s = score(i);
        if s > best.1 {
            best = (i, s);
        }
    }
    CANDIDATES[best.0]
}

/// Transcodes UTF-16 (LE or BE, BOM already skipped) to UTF-8 as it is
/// read, a buffer at a time.
pub struct Utf16Reader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: BufRead> Utf16Reader<R> {
    /// Wraps `inner`, which yields `encoding` bytes.
    pub fn new(inner: R, encoding: &'static encoding_rs::Encoding) -> Self {
        Utf16Reader {
            inner,
            decoder: encoding.new_decoder_without_bom_handling(),
            out: Vec::with_capacity(64 * 1024),
            pos: 0,
            done: false,
        }
    }

    fn refill(&mut self) -> std::io::Result<()> {
        let input = self.inner.fill_buf()?;
        let last = input.is_empty();
        let mut buf = std::mem::take(&mut self.out);
        buf.clear();
        buf.resize(input.len() * 3 / 2 + 16, 0);
        let (_, read, written, _) = self.decoder.decode_to_utf8(input, &mut buf, last);
        buf.truncate(written);
        self.inner.consume(read);
        self.out = buf;
        self.pos = 0;
        self.done = last;
        Ok(())
    }
}

impl<R: BufRead> Read for Utf16Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_numbers_count_blank_lines_but_not_breaks_inside_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        for ending in ["\n", ""] {
            let text = format!("title\n\nname,notes\nA,\"two\nlines\"\n\r\nB,x{ending}");
            std::fs::write(&path, text).unwrap();
            let mut reader = CsvReader::open(&path, &SourceOptions::default()).unwrap();
            let mut numbers = Vec::new();
            reader
                .read(&mut |row| {
                    numbers.push(row.number);
                    ControlFlow::Continue(())
                })
                .unwrap();
            assert_eq!(numbers, vec![1, 3, 4, 6], "ending {ending:?}");
        }
    }

    /// `text` in each encoding a CSV comes in: UTF-8 with and without BOM,
    /// UTF-16 LE and BE with BOM.
    fn encoded(text: &str) -> Vec<(&'static str, Vec<u8>)> {
        let utf16 = |le: bool| -> Vec<u8> {
            let bom: &[u8] = if le { &[0xFF, 0xFE] } else { &[0xFE, 0xFF] };
            let units = text.encode_utf16();
            let body = units.flat_map(move |u| if le { u.to_le_bytes() } else { u.to_be_bytes() });
            bom.iter().copied().chain(body).collect()
        };
        vec![
            ("UTF-8", text.as_bytes().to_vec()),
            ("UTF-8 BOM", [b"\xEF\xBB\xBF", text.as_bytes()].concat()),
            ("UTF-16LE", utf16(true)),
            ("UTF-16BE", utf16(false)),
        ]
    }

    #[test]
    fn row_numbers_are_the_same_for_lf_crlf_and_cr_in_every_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        for eol in ["\n", "\r\n", "\r"] {
            for last in [eol, ""] {
                let text =
                    format!("title{eol}{eol}name,notes{eol}A,\"two{eol}lines\"{eol}{eol}B,x{last}");
                for (encoding, bytes) in encoded(&text) {
                    std::fs::write(&path, bytes).unwrap();
                    let mut reader = CsvReader::open(&path, &SourceOptions::default()).unwrap();
                    let mut rows = Vec::new();
                    reader
                        .read(&mut |row| {
                            rows.push((row.number, row.cells.len()));
                            ControlFlow::Continue(())
                        })
                        .unwrap();
                    let case = format!("{eol:?} (last {last:?}) in {encoding}");
                    assert_eq!(rows, vec![(1, 1), (3, 2), (4, 2), (6, 2)], "{case}");
                }
            }
        }
    }

    #[test]
    fn a_quoted_line_break_keeps_its_own_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.csv");
        std::fs::write(&path, "name\r\n\"a\r\nb\"\r\nc\r\n").unwrap();
        let mut reader = CsvReader::open(&path, &SourceOptions::default()).unwrap();
        let mut rows = Vec::new();
        reader
            .read(&mut |row| {
                rows.push((row.number, crate::record::cell_display(&row.cells[0])));
                ControlFlow::Continue(())
            })
            .unwrap();
        let expected = [(1, "name"), (2, "a\r\nb"), (3, "c")];
        assert_eq!(rows, expected.map(|(n, s)| (n, s.to_string())));
    }

    #[test]
    fn the_delimiter_is_the_one_that_splits_lines_consistently() {
        assert_eq!(sniff_delimiter(b"name,city\nAcme,Paris\n", false), b',');
        assert_eq!(
            sniff_delimiter(b"name;city\nAcme, Inc;Paris\n", false),
            b';'
        );
        assert_eq!(
            sniff_delimiter(b"name\tcity\n\"a,b\"\tParis\n", false),
            b'\t'
        );
        assert_eq!(sniff_delimiter(b"Title\nname|city|x\na|b|c\n", false), b'|');
        assert_eq!(sniff_delimiter(b"name\nAcme\n", false), b',');
    }

    #[test]
    fn utf16_is_transcoded_to_utf8_across_buffer_boundaries() {
        let text = "name,city\nCaf\u{e9} \u{1F600},Z\u{fc}rich\n".repeat(5000);
        for (enc, bytes) in [
            (
                encoding_rs::UTF_16LE,
                text.encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<_>>(),
            ),
            (
                encoding_rs::UTF_16BE,
                text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            ),
        ] {
            let inner = BufReader::with_capacity(7, bytes.as_slice());
            let mut out = String::new();
            Utf16Reader::new(inner, enc)
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(out, text);
        }
    }
}
