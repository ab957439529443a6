//! A small streaming XML tokenizer for the zip guard: it sees every tag and
//! the length of every text run of a part as the part inflates, holding at
//! most one tag (capped) and the first bytes of one text run — never a whole
//! text node, however long. It is not a parser: it only needs to be exact
//! about where tags and text begin and end (quotes, comments, CDATA), so the
//! guard can judge a part before calamine reads it.

/// Longest tag kept whole; a longer one is refused as malformed.
pub const MAX_TAG: usize = 1 << 20;
/// How many leading bytes of a text run are kept for inspection.
pub const TEXT_HEAD: usize = 32;

/// Receives tags and text runs.
pub trait Visit {
    /// The error a visit may stop the scan with.
    type Error;
    /// A tag without its `<` and `>`: `c r="A1" t="s"`, `/c`, `v`, `?xml …?`.
    fn tag(&mut self, tag: &[u8]) -> Result<(), Self::Error>;
    /// A text run (or CDATA section) ended: its length and first bytes.
    fn text(&mut self, len: u64, head: &[u8]) -> Result<(), Self::Error>;
    /// A text run grew to `len` bytes and is still going (for early limits).
    fn text_growing(&mut self, len: u64) -> Result<(), Self::Error>;
    /// A tag could not be tokenised (too long).
    fn malformed(&mut self, why: &str) -> Self::Error;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    Tag { quote: u8 },
    Comment,
    CData,
}

/// The tokenizer's state between chunks.
#[derive(Debug)]
pub struct Scanner {
    state: State,
    tag: Vec<u8>,
    text_len: u64,
    head: Vec<u8>,
    /// Last three bytes seen inside a comment or CDATA section.
    tail: [u8; 3],
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            state: State::Text,
            tag: Vec::new(),
            text_len: 0,
            head: Vec::with_capacity(TEXT_HEAD),
            tail: [0; 3],
        }
    }
}

impl Scanner {
    /// Feeds the next chunk of the part.
    pub fn feed<V: Visit>(&mut self, chunk: &[u8], v: &mut V) -> Result<(), V::Error> {
        let mut rest = chunk;
        while !rest.is_empty() {
            rest = match self.state {
                State::Text => match memchr::memchr(b'<', rest) {
                    Some(i) => {
                        self.push_text(&rest[..i], v)?;
                        self.end_text(v)?;
                        self.state = State::Tag { quote: 0 };
                        self.tag.clear();
                        &rest[i + 1..]
                    }
                    None => {
                        self.push_text(rest, v)?;
                        &[]
                    }
                },
                // Plain element tags (most of the bytes) jump from quote to
                // quote; `<!…` and `<?…` go byte by byte.
                State::Tag { quote: 0 }
                    if self.tag.first().is_some_and(u8::is_ascii_alphabetic)
                        || self.tag.first() == Some(&b'/') =>
                {
                    match memchr::memchr3(b'>', b'"', b'\'', rest) {
                        Some(i) => {
                            self.extend_tag(&rest[..i], v)?;
                            self.tag_byte(rest[i], 0, v)?;
                            &rest[i + 1..]
                        }
                        None => {
                            self.extend_tag(rest, v)?;
                            &[]
                        }
                    }
                }
                State::Tag { quote } if quote != 0 => match memchr::memchr(quote, rest) {
                    Some(i) => {
                        self.extend_tag(&rest[..i], v)?;
                        self.tag_byte(rest[i], quote, v)?;
                        &rest[i + 1..]
                    }
                    None => {
                        self.extend_tag(rest, v)?;
                        &[]
                    }
                },
                State::Tag { quote } => {
                    self.tag_byte(rest[0], quote, v)?;
                    &rest[1..]
                }
                State::Comment => {
                    if self.shift(rest[0]) == *b"-->" {
                        self.state = State::Text;
                    }
                    &rest[1..]
                }
                State::CData => {
                    let b = rest[0];
                    if self.shift(b) == *b"]]>" {
                        // "]]" were counted as text: take them back.
                        self.text_len = self.text_len.saturating_sub(2);
                        self.head
                            .truncate(self.text_len.min(TEXT_HEAD as u64) as usize);
                        self.state = State::Text;
                    } else {
                        self.push_text(&[b], v)?;
                    }
                    &rest[1..]
                }
            };
        }
        Ok(())
    }

    /// Ends the part: a trailing text run is reported.
    pub fn finish<V: Visit>(&mut self, v: &mut V) -> Result<(), V::Error> {
        self.end_text(v)
    }

    fn tag_byte<V: Visit>(&mut self, b: u8, quote: u8, v: &mut V) -> Result<(), V::Error> {
        if quote == 0 && b == b'>' {
            self.state = State::Text;
            return v.tag(&self.tag);
        }
        let quote = match (quote, b) {
            (0, b'"' | b'\'') if !self.tag.starts_with(b"!") => b,
            (q, b) if q == b => 0,
            (q, _) => q,
        };
        self.state = State::Tag { quote };
        if self.tag.len() >= MAX_TAG {
            return Err(v.malformed("a tag longer than 1 MiB"));
        }
        self.tag.push(b);
        if self.tag == b"!--" {
            self.state = State::Comment;
            self.tail = [0; 3];
        } else if self.tag == b"![CDATA[" {
            self.state = State::CData;
            self.tail = [0; 3];
        }
        Ok(())
    }

    fn shift(&mut self, b: u8) -> [u8; 3] {
        self.tail = [self.tail[1], self.tail[2], b];
        self.tail
    }

    fn push_text<V: Visit>(&mut self, bytes: &[u8], v: &mut V) -> Result<(), V::Error> {
        let before = self.text_len;
        self.text_len += bytes.len() as u64;
        let room = TEXT_HEAD.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        if before >> 16 != self.text_len >> 16 {
            v.text_growing(self.text_len)?;
        }
        Ok(())
    }

    /// Appends bytes that contain no `>` or quote to the current tag.
    fn extend_tag<V: Visit>(&mut self, bytes: &[u8], v: &mut V) -> Result<(), V::Error> {
        if self.tag.len() + bytes.len() > MAX_TAG {
            return Err(v.malformed("a tag longer than 1 MiB"));
        }
        self.tag.extend_from_slice(bytes);
        Ok(())
    }

    fn end_text<V: Visit>(&mut self, v: &mut V) -> Result<(), V::Error> {
        if self.text_len > 0 {
            let (len, head) = (self.text_len, std::mem::take(&mut self.head));
            self.text_len = 0;
            let result = v.text(len, &head);
            self.head = head;
            self.head.clear();
            result?;
        }
        Ok(())
    }
}

/// The element name of a tag (`c` for `x:c r="A1"`), without any namespace
/// prefix, and whether it is a closing tag.
pub fn name(tag: &[u8]) -> (&[u8], bool) {
    let (closing, rest) = match tag.strip_prefix(b"/") {
        Some(rest) => (true, rest),
        None => (false, tag),
    };
    let end = rest
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'/')
        .unwrap_or(rest.len());
    let full = &rest[..end];
    let local = match full.iter().rposition(|b| *b == b':') {
        Some(i) => &full[i + 1..],
        None => full,
    };
    (local, closing)
}

/// True for `<x/>`.
pub fn self_closing(tag: &[u8]) -> bool {
    tag.ends_with(b"/")
}

/// The raw value of attribute `wanted` (local name, any prefix).
pub fn attr<'t>(tag: &'t [u8], wanted: &[u8]) -> Option<&'t [u8]> {
    let mut i = tag
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(tag.len());
    while i < tag.len() {
        while i < tag.len() && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < tag.len() && tag[i] != b'=' && !tag[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &tag[start..i];
        while i < tag.len() && (tag[i].is_ascii_whitespace() || tag[i] == b'=') {
            i += 1;
        }
        let quote = *tag.get(i)?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let vstart = i + 1;
        let vlen = tag[vstart..].iter().position(|b| *b == quote)?;
        let local = match key.iter().rposition(|b| *b == b':') {
            Some(k) => &key[k + 1..],
            None => key,
        };
        if local == wanted {
            return Some(&tag[vstart..vstart + vlen]);
        }
        i = vstart + vlen + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Log(Vec<String>);

    impl Visit for Log {
        type Error = String;
        fn tag(&mut self, tag: &[u8]) -> Result<(), String> {
            self.0.push(format!("<{}>", String::from_utf8_lossy(tag)));
            Ok(())
        }
        fn text(&mut self, len: u64, head: &[u8]) -> Result<(), String> {
            self.0
                .push(format!("{len}:{}", String::from_utf8_lossy(head)));
            Ok(())
        }
        fn text_growing(&mut self, _: u64) -> Result<(), String> {
            Ok(())
        }
        fn malformed(&mut self, why: &str) -> String {
            why.to_string()
        }
    }

    fn scan_in_chunks(xml: &[u8], chunk: usize) -> Vec<String> {
        let (mut s, mut log) = (Scanner::default(), Log::default());
        for part in xml.chunks(chunk) {
            s.feed(part, &mut log).unwrap();
        }
        s.finish(&mut log).unwrap();
        log.0
    }

    #[test]
    fn tags_text_quotes_comments_and_cdata_split_anywhere() {
        let xml = br#"<?xml v="1"?><c r="A1" t='s' x="a>b"><!-- <no> --><v>12</v><t><![CDATA[x<y]]></t></c>"#;
        let expected = scan_in_chunks(xml, xml.len());
        assert_eq!(
            expected,
            [
                r#"<?xml v="1"?>"#,
                r#"<c r="A1" t='s' x="a>b">"#,
                "<v>",
                "2:12",
                "</v>",
                "<t>",
                "3:x<y",
                "</t>",
                "</c>"
            ]
        );
        for chunk in 1..8 {
            assert_eq!(scan_in_chunks(xml, chunk), expected, "chunk {chunk}");
        }
    }

    #[test]
    fn names_and_attributes_ignore_namespace_prefixes() {
        assert_eq!(name(b"x:c r=\"A1\""), (&b"c"[..], false));
        assert_eq!(name(b"/x:row"), (&b"row"[..], true));
        assert_eq!(attr(b"c r=\"B7\" t = 's'", b"t"), Some(&b"s"[..]));
        assert_eq!(attr(b"c x:r=\"B7\"", b"r"), Some(&b"B7"[..]));
        assert_eq!(attr(b"c r=\"B7\"", b"t"), None);
        assert!(self_closing(b"c r=\"A1\"/"));
    }
}
