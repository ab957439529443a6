//! The shared-strings table of an .xlsx workbook, kept as one text arena
//! plus an end offset per string: ~4 bytes of overhead per string where a
//! `Vec<String>` costs ~40 (docs/BENCHMARKS.md, "Memory"). Read through
//! the capped entry reader, with the zip guard's shared-strings limits
//! applied as it goes.

use std::io::Read;

use super::book::{corrupt, xml_error};
use crate::source::xml::{self, Event, Xml, XmlError};
use crate::source::{Limits, SourceError};

/// The shared-strings table: one text arena and each string's end.
#[derive(Debug, Default)]
pub(crate) struct SharedStrings {
    text: String,
    ends: Vec<u32>,
}

impl SharedStrings {
    /// How many strings the table holds.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// String `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] as usize,
        };
        Some(&self.text[start..end])
    }

    /// Reads the table from `src` (an inflating, capped zip entry).
    pub(crate) fn read(part: &str, src: impl Read, limits: &Limits) -> Result<Self, SourceError> {
        let err = |e| xml_error(part, limits, e);
        let mut table = SharedStrings::default();
        let mut p = Xml::new(src, limits.max_cell_bytes);
        let mut item = String::new();
        loop {
            match p.next().map_err(err)? {
                Event::Start {
                    name: b"sst",
                    attrs,
                    ..
                } => {
                    let declared = xml::attr(attrs, b"uniqueCount")
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    if let Some(declared) = declared {
                        limits.check_shared_strings("declared uniqueCount", declared)?;
                    }
                }
                Event::Start {
                    name: b"si", empty, ..
                } => {
                    item.clear();
                    if !empty {
                        read_rich(&mut p, b"si", &mut item).map_err(err)?;
                    }
                    table.push(&item, limits, part)?;
                }
                Event::Eof => return Ok(table),
                _ => {}
            }
        }
    }

    fn push(&mut self, s: &str, limits: &Limits, part: &str) -> Result<(), SourceError> {
        limits.check_shared_strings("number of strings", self.ends.len() as u64 + 1)?;
        if s.len() > limits.max_cell_bytes {
            return Err(xml_error(
                part,
                limits,
                XmlError::TextTooLong(s.len() as u64),
            ));
        }
        self.text.push_str(s);
        let end = u32::try_from(self.text.len()).map_err(|_| {
            corrupt(format!(
                "{part}: the shared strings hold more than 4 GiB of text"
            ))
        })?;
        self.ends.push(end);
        Ok(())
    }

    /// Releases the spare capacity the arena grew by doubling.
    pub(crate) fn shrink(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// Reads a string item (`<si>` or `<is>`, whose start tag was just read)
/// into `out`: plain `<t>` or rich-text runs concatenated, phonetic runs
/// (`<rPh>`) left out. A `<t>` without `xml:space="preserve"` loses its
/// surrounding ASCII whitespace, as Excel shows it.
pub(crate) fn read_rich<R: Read>(
    p: &mut Xml<R>,
    container: &[u8],
    out: &mut String,
) -> Result<(), XmlError> {
    let mut run = String::new();
    loop {
        match p.next()? {
            Event::Start {
                name: b"t",
                attrs,
                empty,
            } => {
                if empty {
                    continue;
                }
                let preserve = xml::attr(attrs, b"xml:space") == Some(b"preserve");
                run.clear();
                p.read_text_into(&mut run)?;
                let run_text = if preserve {
                    run.as_str()
                } else {
                    run.trim_matches([' ', '\t', '\r', '\n'])
                };
                out.push_str(run_text);
                if out.len() > p.max_text() {
                    return Err(XmlError::TextTooLong(out.len() as u64));
                }
            }
            Event::Start {
                name: b"rPh",
                empty: false,
                ..
            } => p.skip_element()?,
            Event::End { name } if name == container => break,
            Event::Eof => return Err(XmlError::Malformed("the part ends inside a string".into())),
            _ => {}
        }
    }
    xml::unescape_ooxml(out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_strings_keep_rich_runs_and_drop_phonetic_ones() {
        let xml = r#"<sst uniqueCount="4"><si><t>plain</t></si><si><r><t xml:space="preserve">Bold </t></r><r><rPr><b/></rPr><t>run</t></r><rPh><t>ルビ</t></rPh></si><si/><si><t>a_x000D_b&amp;c</t></si></sst>"#;
        let t = SharedStrings::read("sst", xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(
            (0..4).map(|i| t.get(i).unwrap()).collect::<Vec<_>>(),
            ["plain", "Bold run", "", "a\rb&c"]
        );
        assert_eq!(t.get(4), None);
    }

    #[test]
    fn a_string_of_many_runs_is_held_to_the_cell_limit_as_a_whole() {
        let limits = Limits {
            max_cell_bytes: 1000,
            ..Limits::default()
        };
        let runs = "<r><t>aaaaaaaaaa</t></r>".repeat(200);
        let xml = format!("<sst><si>{runs}</si></sst>");
        let e = SharedStrings::read("sst", xml.as_bytes(), &limits).unwrap_err();
        assert!(e.to_string().contains("--max-cell-bytes"), "{e}");
    }

    #[test]
    fn the_declared_count_and_the_real_count_are_held_to_the_limit() {
        let limits = Limits {
            max_shared_strings: 2,
            ..Limits::default()
        };
        let declared = r#"<sst uniqueCount="1000000"><si><t>a</t></si></sst>"#;
        let e = SharedStrings::read("sst", declared.as_bytes(), &limits).unwrap_err();
        assert!(e.to_string().contains("uniqueCount"), "{e}");
        let real = "<sst><si><t>a</t></si><si><t>b</t></si><si><t>c</t></si></sst>";
        let e = SharedStrings::read("sst", real.as_bytes(), &limits).unwrap_err();
        assert!(e.to_string().contains("number of strings"), "{e}");
    }
}
