//! A small pull parser for the XML parts of an .xlsx workbook, built for
//! the hot path: it hands out tags and text as slices of its own buffer
//! (no allocation per event), refills that buffer from the inflating zip
//! entry, and refuses what spreadsheets never need (`<!DOCTYPE>`, hence
//! entity bombs). A tag longer than [`MAX_TAG`] or a text run longer than
//! the caller's cap is an error, so memory stays bounded whatever the file.
//!
//! It is not a validating parser: it is exact about where tags, text,
//! comments, CDATA sections and processing instructions begin and end
//! (quotes included), which is all the workbook readers need. Element and
//! attribute names are matched by their local name, so `x:c` reads as `c`.

pub(super) mod scan;

use std::io::Read;

/// Longest tag kept whole; a longer one is refused as malformed.
pub const MAX_TAG: usize = 1 << 20;

/// What can stop a parse.
#[derive(Debug)]
pub enum XmlError {
    /// The bytes are not the XML the reader expects.
    Malformed(String),
    /// A text run is longer than the caller's cap (raw bytes, before
    /// entities are decoded).
    TextTooLong(u64),
    /// Reading the underlying stream failed (a limit, a damaged entry).
    Io(std::io::Error),
}

impl From<std::io::Error> for XmlError {
    fn from(e: std::io::Error) -> Self {
        XmlError::Io(e)
    }
}

/// One parse event; slices borrow the parser's buffer until the next call.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// `<name attrs…>` or, with `empty`, `<name attrs…/>`. `name` is the
    /// local name (prefix dropped).
    Start {
        name: &'a [u8],
        attrs: &'a [u8],
        empty: bool,
    },
    /// `</name>` (local name).
    End { name: &'a [u8] },
    /// Character data between tags, still escaped.
    Text(&'a [u8]),
    /// The content of a CDATA section (never escaped).
    CData(&'a [u8]),
    /// The end of the part.
    Eof,
}

/// The pull parser over `R`.
pub struct Xml<R> {
    src: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    max_text: usize,
}

const CHUNK: usize = 64 * 1024;

impl<R: Read> Xml<R> {
    /// A parser whose text runs may be at most `max_text` raw bytes.
    pub fn new(src: R, max_text: usize) -> Self {
        Xml {
            src,
            buf: vec![0; CHUNK * 2],
            pos: 0,
            end: 0,
            eof: false,
            max_text,
        }
    }

    /// Reads more bytes, keeping `self.pos..self.end`; false at the end.
    fn fill(&mut self) -> Result<bool, XmlError> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.buf.len() - self.end < CHUNK {
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
        let n = self.src.read(&mut self.buf[self.end..])?;
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.end += n;
        Ok(true)
    }

    /// The next event.
    pub fn next(&mut self) -> Result<Event<'_>, XmlError> {
        loop {
            if self.pos == self.end && !self.fill()? {
                return Ok(Event::Eof);
            }
            if self.buf[self.pos] != b'<' {
                // Text up to the next '<' (or the end of the part).
                let mut from = self.pos;
                let stop = loop {
                    if let Some(i) = memchr::memchr(b'<', &self.buf[from..self.end]) {
                        break from + i;
                    }
                    if self.end - self.pos > self.max_text {
                        return Err(XmlError::TextTooLong((self.end - self.pos) as u64));
                    }
                    let seen = self.end - self.pos;
                    if !self.fill()? {
                        break self.end;
                    }
                    from = self.pos + seen;
                };
                if stop - self.pos > self.max_text {
                    return Err(XmlError::TextTooLong((stop - self.pos) as u64));
                }
                let start = self.pos;
                self.pos = stop;
                return Ok(Event::Text(&self.buf[start..stop]));
            }
            // A markup construct starting at pos.
            while self.end - self.pos < 9 && self.fill()? {}
            let head = &self.buf[self.pos..self.end];
            if head.starts_with(b"<!--") {
                self.skip_past(b"-->", 4)?;
                continue;
            }
            if head.starts_with(b"<![CDATA[") {
                let end = self.find_from(b"]]>", 9, self.max_text.saturating_add(12))?;
                let (start, stop) = (self.pos + 9, end);
                self.pos = end + 3;
                return Ok(Event::CData(&self.buf[start..stop]));
            }
            if head.starts_with(b"<!") {
                return Err(XmlError::Malformed(
                    "it carries an XML document type declaration (<!DOCTYPE>/<!ENTITY>), \
                     which spreadsheets never need and entity-expansion attacks do"
                        .into(),
                ));
            }
            if head.starts_with(b"<?") {
                self.skip_past(b"?>", 2)?;
                continue;
            }
            let close = self.tag_end()?;
            let start = self.pos + 1;
            self.pos = close + 1;
            let tag = &self.buf[start..close];
            if let Some(rest) = tag.strip_prefix(b"/") {
                let name = local(trim_end(rest));
                return Ok(Event::End { name });
            }
            let (tag, empty) = match tag.strip_suffix(b"/") {
                Some(t) => (t, true),
                None => (tag, false),
            };
            let split = tag
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .unwrap_or(tag.len());
            return Ok(Event::Start {
                name: local(&tag[..split]),
                attrs: &tag[split..],
                empty,
            });
        }
    }

    /// The index of the `>` closing the tag at `pos`, quotes respected.
    fn tag_end(&mut self) -> Result<usize, XmlError> {
        let mut at = self.pos + 1;
        let mut quote = 0u8;
        loop {
            let hay = &self.buf[at..self.end];
            let found = if quote == 0 {
                memchr::memchr3(b'>', b'"', b'\'', hay)
            } else {
                memchr::memchr(quote, hay)
            };
            match found {
                Some(i) => {
                    let b = hay[i];
                    at += i + 1;
                    if quote != 0 {
                        quote = 0;
                    } else if b == b'>' {
                        return Ok(at - 1);
                    } else {
                        quote = b;
                    }
                }
                None => {
                    let done = at - self.pos;
                    if done > MAX_TAG {
                        return Err(XmlError::Malformed(format!(
                            "a tag longer than {MAX_TAG} bytes"
                        )));
                    }
                    if !self.fill()? {
                        return Err(XmlError::Malformed("the part ends inside a tag".into()));
                    }
                    at = self.pos + done;
                }
            }
        }
    }

    /// The index of `needle` at or after `pos + skip`, reading on as
    /// needed but never holding more than `cap` bytes.
    fn find_from(&mut self, needle: &[u8], skip: usize, cap: usize) -> Result<usize, XmlError> {
        let mut from = skip;
        loop {
            let hay = &self.buf[self.pos + from..self.end];
            if let Some(i) = memchr::memmem::find(hay, needle) {
                return Ok(self.pos + from + i);
            }
            let held = self.end - self.pos;
            if held > cap {
                return Err(XmlError::TextTooLong(held as u64));
            }
            from = held.saturating_sub(needle.len() - 1).max(skip);
            if !self.fill()? {
                return Err(XmlError::Malformed(format!(
                    "the part ends before {:?}",
                    String::from_utf8_lossy(needle)
                )));
            }
        }
    }

    fn skip_past(&mut self, needle: &[u8], skip: usize) -> Result<(), XmlError> {
        let at = self.find_from(needle, skip, MAX_TAG)?;
        self.pos = at + needle.len();
        Ok(())
    }

    /// The longest text run (raw bytes) this parser holds.
    pub fn max_text(&self) -> usize {
        self.max_text
    }

    /// Skips the rest of the element whose start tag was just read.
    pub fn skip_element(&mut self) -> Result<(), XmlError> {
        self.walk_element(None)
    }

    /// Appends the decoded text of the element whose start tag was just
    /// read (text and CDATA, nested tags skipped) to `out`, up to its end.
    /// The whole text is held to the parser's text cap, however many runs
    /// (split by comments or CDATA sections) it arrives in.
    pub fn read_text_into(&mut self, out: &mut String) -> Result<(), XmlError> {
        self.walk_element(Some(out))
    }

    /// Reads up to the end of the current element, keeping its own text in
    /// `out` when given.
    fn walk_element(&mut self, mut out: Option<&mut String>) -> Result<(), XmlError> {
        let mut depth = 1usize;
        let cap = self.max_text;
        loop {
            let event = self.next()?;
            match (event, out.as_deref_mut()) {
                (Event::Text(t), Some(out)) if depth == 1 => decode_into(t, out)?,
                (Event::CData(t), Some(out)) if depth == 1 => push_utf8(t, out)?,
                (Event::Start { empty: false, .. }, _) => depth += 1,
                (Event::End { .. }, _) => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                (Event::Eof, _) => {
                    return Err(XmlError::Malformed(
                        "the part ends inside an element".into(),
                    ))
                }
                _ => {}
            }
            if let Some(out) = out.as_deref() {
                if out.len() > cap {
                    return Err(XmlError::TextTooLong(out.len() as u64));
                }
            }
        }
    }
}

fn trim_end(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &b[..n]
}

/// The local part of a possibly prefixed name.
pub fn local(name: &[u8]) -> &[u8] {
    match memchr::memchr(b':', name) {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// Attributes of a start tag as (name, raw value) pairs; names keep their
/// prefix (`r:id`), values are still escaped.
pub fn attrs(mut rest: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        rest = &rest[start..];
        let eq = memchr::memchr(b'=', rest)?;
        let name = trim_end(&rest[..eq]);
        let after = &rest[eq + 1..];
        let q = after.iter().position(|b| !b.is_ascii_whitespace())?;
        let quote = after[q];
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let value_start = q + 1;
        let len = memchr::memchr(quote, &after[value_start..])?;
        let value = &after[value_start..value_start + len];
        rest = &after[value_start + len + 1..];
        Some((name, value))
    })
}

/// The raw value of the attribute called exactly `name`.
pub fn attr<'a>(tag_attrs: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    attrs(tag_attrs).find(|(n, _)| *n == name).map(|(_, v)| v)
}

fn push_utf8(bytes: &[u8], out: &mut String) -> Result<(), XmlError> {
    let s = std::str::from_utf8(bytes)
        .map_err(|_| XmlError::Malformed("text that is not UTF-8".into()))?;
    push_normalized(s, out);
    Ok(())
}

/// XML's end-of-line rule: CR LF and a lone CR read as LF.
fn push_normalized(s: &str, out: &mut String) {
    if memchr::memchr(b'\r', s.as_bytes()).is_none() {
        out.push_str(s);
        return;
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
}

/// Appends escaped character data to `out`, decoding the five named
/// entities and character references.
pub fn decode_into(raw: &[u8], out: &mut String) -> Result<(), XmlError> {
    let mut rest = raw;
    while let Some(i) = memchr::memchr(b'&', rest) {
        push_utf8(&rest[..i], out)?;
        rest = &rest[i..];
        let semi = memchr::memchr(b';', rest)
            .filter(|&s| s <= 12)
            .ok_or_else(|| XmlError::Malformed("an unterminated '&' entity".into()))?;
        let entity = &rest[1..semi];
        let c = match entity {
            b"lt" => '<',
            b"gt" => '>',
            b"amp" => '&',
            b"quot" => '"',
            b"apos" => '\'',
            _ => char_ref(entity).ok_or_else(|| {
                XmlError::Malformed(format!(
                    "an unknown entity &{};",
                    String::from_utf8_lossy(entity)
                ))
            })?,
        };
        out.push(c);
        rest = &rest[semi + 1..];
    }
    push_utf8(rest, out)
}

fn char_ref(entity: &[u8]) -> Option<char> {
    let digits = entity.strip_prefix(b"#")?;
    let text = std::str::from_utf8(digits).ok()?;
    let code = match text.strip_prefix('x').or_else(|| text.strip_prefix('X')) {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => text.parse().ok()?,
    };
    char::from_u32(code)
}

/// OOXML's own escape for characters XML cannot carry: `_x000D_` is a
/// carriage return, `_x005F_` an underscore (so `_x005F_x000D_` is the
/// literal text `_x000D_`). UTF-16 surrogate pairs combine; a lone
/// surrogate reads as U+FFFD.
pub fn unescape_ooxml(s: &mut String) {
    if !s.contains("_x") {
        return;
    }
    let src = std::mem::take(s);
    let bytes = src.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    let unit_at = |i: usize| -> Option<u16> {
        let b = bytes.get(i..i + 7)?;
        if &b[..2] != b"_x" || b[6] != b'_' {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&b[2..6]).ok()?, 16).ok()
    };
    while let Some(off) = memchr::memmem::find(&bytes[i..], b"_x") {
        let at = i + off;
        let Some(unit) = unit_at(at) else {
            i = at + 2;
            continue;
        };
        s.push_str(&src[copied..at]);
        let mut next = at + 7;
        let c = match unit {
            0xD800..=0xDBFF => match unit_at(next) {
                Some(low @ 0xDC00..=0xDFFF) => {
                    next += 7;
                    let code =
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
                }
                _ => char::REPLACEMENT_CHARACTER,
            },
            0xDC00..=0xDFFF => char::REPLACEMENT_CHARACTER,
            u => char::from_u32(u32::from(u)).unwrap_or(char::REPLACEMENT_CHARACTER),
        };
        s.push(c);
        i = next;
        copied = next;
    }
    s.push_str(&src[copied..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(xml: &str, chunk: usize) -> Vec<String> {
        struct Slow<'a>(&'a [u8], usize);
        impl Read for Slow<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.1.min(self.0.len()).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut p = Xml::new(Slow(xml.as_bytes(), chunk), 1000);
        let mut out = Vec::new();
        loop {
            let e = p.next().unwrap();
            let s = match e {
                Event::Start { name, attrs, empty } => format!(
                    "<{}{}{}>",
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(attrs),
                    if empty { "/" } else { "" }
                ),
                Event::End { name } => format!("</{}>", String::from_utf8_lossy(name)),
                Event::Text(t) => format!("T:{}", String::from_utf8_lossy(t)),
                Event::CData(t) => format!("C:{}", String::from_utf8_lossy(t)),
                Event::Eof => break,
            };
            out.push(s);
        }
        out
    }

    #[test]
    fn events_are_the_same_whatever_the_read_sizes() {
        let xml = r#"<?xml version="1.0"?><!-- a > comment --><x:c r="A1" t='s' q="a>b"><v>1&amp;2</v><t><![CDATA[<raw>]]></t><e/></x:c>"#;
        let want = events(xml, 1 << 20);
        assert_eq!(
            want,
            [
                r#"<c r="A1" t='s' q="a>b">"#,
                "<v>",
                "T:1&amp;2",
                "</v>",
                "<t>",
                "C:<raw>",
                "</t>",
                "<e/>",
                "</c>"
            ]
        );
        for chunk in [1, 2, 3, 7, 64] {
            assert_eq!(events(xml, chunk), want, "chunk {chunk}");
        }
    }

    #[test]
    fn a_doctype_is_refused() {
        let mut p = Xml::new(
            &b"<?xml version='1.0'?><!DOCTYPE z [<!ENTITY a 'b'>]><z/>"[..],
            100,
        );
        assert!(matches!(p.next(), Err(XmlError::Malformed(m)) if m.contains("<!DOCTYPE>")));
    }

    #[test]
    fn a_text_run_over_the_cap_is_refused_before_it_is_held() {
        let long = format!("<t>{}</t>", "a".repeat(5000));
        let mut p = Xml::new(long.as_bytes(), 1000);
        assert!(matches!(p.next(), Ok(Event::Start { .. })));
        assert!(matches!(p.next(), Err(XmlError::TextTooLong(n)) if n > 1000));
    }

    #[test]
    fn a_text_split_into_many_runs_is_held_to_the_cap_as_a_whole() {
        let xml = format!("<v>{}</v>", "aaaaaaaa<!---->".repeat(200));
        let mut p = Xml::new(xml.as_bytes(), 1000);
        assert!(matches!(p.next(), Ok(Event::Start { .. })));
        let mut out = String::new();
        assert!(matches!(p.read_text_into(&mut out), Err(XmlError::TextTooLong(n)) if n > 1000));
        assert!(out.len() <= 1008);
    }

    #[test]
    fn attributes_and_entities_decode() {
        let a: Vec<_> = attrs(br#" r="A1"  r:id = 'rId2' t="s""#).collect();
        assert_eq!(
            a,
            [(&b"r"[..], &b"A1"[..]), (b"r:id", b"rId2"), (b"t", b"s")]
        );
        let mut s = String::new();
        decode_into(b"a&lt;b&#10;&#x41;&quot;\r\nz", &mut s).unwrap();
        assert_eq!(s, "a<b\nA\"\nz");
        let mut s = "a_x000D_b_x005F_x000D_c_xD83D__xDE00__x12".to_string();
        unescape_ooxml(&mut s);
        assert_eq!(s, "a\rb_x000D_c\u{1F600}_x12");
    }
}
