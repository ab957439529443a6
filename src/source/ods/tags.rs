//! The tag-by-tag reading under the .ods scan (`ods_scan`): every tag's
//! inside and every run of text, streamed a buffer at a time, without an
//! XML parser — lenient on purpose: the scan only adds to what calamine
//! already read, so a damaged part yields less, never an error.

use std::io::Read;

/// Longest tag considered; longer ones (never ours) are skipped.
const MAX_TAG: usize = 64 * 1024;

/// The element name of a tag's inside (`table:table-row …`, `/text:p`).
pub(super) fn tag_name(tag: &str) -> &str {
    tag.trim_start_matches('/')
        .split([' ', '/', '\t', '\n', '\r'])
        .next()
        .unwrap_or("")
}

/// A piece of the XML: the inside of a tag, or (part of) the text between
/// two tags, raw (entities not decoded).
pub(super) enum Event<'a> {
    Tag(&'a str),
    Text(&'a [u8]),
}

/// Calls `f` with every tag and every run of text, streaming `input` a
/// buffer at a time (a run of text may arrive in several pieces).
pub(super) fn for_each_event(mut input: impl Read, mut f: impl FnMut(Event<'_>)) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut filled = 0usize;
    loop {
        if filled == buf.len() {
            // One tag fills the buffer: drop it and resynchronise.
            filled = 0;
        }
        let n = match input.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        let mut pos = 0;
        while let Some(open) = memchr::memchr(b'<', &buf[pos..filled]).map(|o| pos + o) {
            if open > pos {
                f(Event::Text(&buf[pos..open]));
            }
            let Some(close) = tag_end(&buf[open..filled]).map(|c| open + c) else {
                pos = if filled - open > MAX_TAG {
                    filled
                } else {
                    open
                };
                break;
            };
            if let Ok(tag) = std::str::from_utf8(&buf[open + 1..close]) {
                f(Event::Tag(tag));
            }
            pos = close + 1;
        }
        if memchr::memchr(b'<', &buf[pos..filled]).is_none() {
            if filled > pos {
                f(Event::Text(&buf[pos..filled]));
            }
            pos = filled;
        }
        buf.copy_within(pos..filled, 0);
        filled -= pos;
    }
}

/// The `>` ending the tag that starts `bytes`; a `>` inside a quoted
/// attribute value (`table:formula="of:=[.A1]>0"`) does not end it.
fn tag_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let found = at + memchr::memchr3(b'>', b'"', b'\'', &bytes[at..])?;
        match bytes[found] {
            b'>' => return Some(found),
            quote => at = found + 2 + memchr::memchr(quote, &bytes[found + 1..])?,
        }
    }
}

/// The attributes of a tag's inside (`name a="1" b='2'`) as (name, raw
/// value); stops at the first malformed one.
pub(super) fn attributes(tag: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = tag
        .split_once(|c: char| c.is_ascii_whitespace())
        .map_or("", |(_, r)| r);
    std::iter::from_fn(move || {
        let eq = rest.find('=')?;
        let name = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let body = &after[1..];
        let end = body.find(quote)?;
        rest = &body[end + 1..];
        Some((name, &body[..end]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_end_outside_quotes_and_attributes_are_read_whole() {
        assert_eq!(tag_end(br#"a x="1>2" y='>'>rest"#), Some(15));
        assert_eq!(tag_end(br#"a x="1>2"#), None);
        let tag =
            r#"table:table-cell table:formula='of:=[.A1]>"x"' office:value-type = "float" broken"#;
        let got: Vec<_> = attributes(tag).collect();
        assert_eq!(
            got,
            vec![
                ("table:formula", r#"of:=[.A1]>"x""#),
                ("office:value-type", "float")
            ]
        );
    }
}
