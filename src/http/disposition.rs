//! The client's filename from a multipart part's `Content-Disposition`
//! header, including the RFC 5987 / RFC 6266 form `filename*=UTF-8''…`
//! (percent-encoded, what browsers and curl send for non-ASCII names),
//! which axum's multipart parser does not read. When both are present,
//! `filename*` wins (RFC 6266 §4.3); without it, the plain `filename` the
//! parser found is used.

/// The filename `filename*` gives in this `Content-Disposition` value, if
/// it is there and decodes (UTF-8 or ISO-8859-1, as RFC 5987 allows).
pub fn extended_filename(disposition: &str) -> Option<String> {
    params(disposition).into_iter().find_map(|(name, value)| {
        if name.eq_ignore_ascii_case("filename*") {
            decode_ext_value(value)
        } else {
            None
        }
    })
}

/// `charset'language'percent-encoded` → text.
fn decode_ext_value(value: &str) -> Option<String> {
    let mut parts = value.trim().splitn(3, '\'');
    let (charset, _language, encoded) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = percent_decode(encoded)?;
    if charset.eq_ignore_ascii_case("utf-8") {
        String::from_utf8(bytes).ok()
    } else if charset.eq_ignore_ascii_case("iso-8859-1") {
        Some(bytes.into_iter().map(char::from).collect())
    } else {
        None
    }
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// The `name=value` parameters after the disposition type, split on `;`
/// outside quoted strings (a quoted `filename` may hold `;`).
fn params(disposition: &str) -> Vec<(&str, &str)> {
    let mut pieces = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in disposition.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                pieces.push(&disposition[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&disposition[start..]);
    pieces
        .into_iter()
        .filter_map(|piece| piece.split_once('='))
        .map(|(name, value)| (name.trim(), value.trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rfc_5987_filename_is_percent_decoded_as_utf8() {
        let h = "form-data; name=\"file\"; filename*=UTF-8''B%C3%BCro%20Liste.csv";
        assert_eq!(extended_filename(h).as_deref(), Some("Büro Liste.csv"));
        let h = "form-data; name=file; filename*=iso-8859-1'de'B%FCro.tsv";
        assert_eq!(extended_filename(h).as_deref(), Some("Büro.tsv"));
    }

    #[test]
    fn a_quoted_filename_with_semicolons_does_not_hide_the_extended_one() {
        let h = r#"form-data; name="file"; filename="a;b\".xlsx"; filename*=UTF-8''%E2%82%AC.xlsm"#;
        assert_eq!(extended_filename(h).as_deref(), Some("€.xlsm"));
    }

    #[test]
    fn without_a_decodable_extended_filename_there_is_none() {
        assert_eq!(extended_filename("form-data; filename=\"a.csv\""), None);
        assert_eq!(
            extended_filename("form-data; filename*=UTF-8''%zz.csv"),
            None
        );
        assert_eq!(
            extended_filename("form-data; filename*=UTF-8''%FF.csv"),
            None
        );
        assert_eq!(
            extended_filename("form-data; filename*=KOI8-R''a.csv"),
            None
        );
        assert_eq!(extended_filename("form-data; filename*=a.csv"), None);
    }
}
