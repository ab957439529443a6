//! Email and website rules: one syntactically valid address; an http(s)
//! URL or a bare domain (stored as `https://domain`).

/// Why a domain is not one, or `Ok` for `example.com`, `sub.example.co.uk`:
/// dotted labels of letters, digits and `-`, ending in a top-level domain
/// of at least two letters (every top-level domain there is has two or
/// more). The reason names the domain, and its last label when that is
/// what is wrong.
fn check_domain(domain: &str) -> Result<(), String> {
    // This runs for every row with an email or website: one pass over an
    // ASCII domain that passes; the checks below only when it does not
    // (they say why).
    if plain_domain(domain) {
        return Ok(());
    }
    domain_reason(domain)
}

/// [`check_domain`] without the fast pass.
fn domain_reason(domain: &str) -> Result<(), String> {
    let labels = domain.split('.').count();
    if labels < 2 || domain.split('.').any(str::is_empty) {
        return Err(format!("the domain '{domain}' must look like example.com"));
    }
    let tld = domain.rsplit('.').next().unwrap_or_default();
    if !tld.chars().all(|c| c.is_alphabetic()) {
        return Err(format!(
            "the domain '{domain}' ends in '.{tld}', which is not a top-level domain \
             (those are letters only, such as .com)"
        ));
    }
    if tld.chars().count() < 2 {
        return Err(format!(
            "the domain '{domain}' has a one-letter top-level domain '.{tld}', \
             and none exists (they have two letters or more, such as .com or .de)"
        ));
    }
    if !domain
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
    {
        return Err(format!(
            "the domain '{domain}' has characters a domain cannot have"
        ));
    }
    Ok(())
}

/// True when `domain` is ASCII and passes every check of
/// [`check_domain`]: two or more non-empty labels of letters, digits and
/// `-`, the last one of two or more letters. (For ASCII, `is_alphabetic`
/// and `is_alphanumeric` are the ASCII tests.) `false` says nothing: the
/// full check decides.
fn plain_domain(domain: &str) -> bool {
    let bytes = domain.as_bytes();
    let mut dots = 0;
    let mut label_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'.' {
            if i == label_start {
                return false;
            }
            dots += 1;
            label_start = i + 1;
        } else if !(b.is_ascii_alphanumeric() || b == b'-') {
            return false;
        }
    }
    let tld = &bytes[label_start..];
    dots >= 1 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)
}

/// True when `email` is ASCII and passes every check of [`check_email`]
/// (one `@`, no `,` or `;`, no white space, something before the `@`, a
/// valid domain after it). `false` says nothing: the full check decides.
fn plain_email(email: &str) -> bool {
    let bytes = email.as_bytes();
    let mut at = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'@' if at.is_none() => at = Some(i),
            b'@' | b',' | b';' => return false,
            // ASCII's white space by `char::is_whitespace` (which, unlike
            // `u8::is_ascii_whitespace`, counts U+000B).
            b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' => return false,
            0x80.. => return false,
            _ => {}
        }
    }
    match at {
        Some(i) if i > 0 => plain_domain(&email[i + 1..]),
        _ => false,
    }
}

/// `local@domain.tld`: exactly one address — one `@`, no spaces, no list
/// separators — and a valid domain.
pub fn check_email(email: &str) -> Result<(), String> {
    if plain_email(email) {
        return Ok(());
    }
    email_reason(email)
}

/// [`check_email`] without the fast pass.
fn email_reason(email: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid email address: {why}"));
    if email.contains([',', ';']) || email.matches('@').count() > 1 {
        return bad("one address per cell, found more than one");
    }
    if email.chars().any(char::is_whitespace) {
        return bad("it contains spaces");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return bad("it has no '@'");
    };
    if local.is_empty() {
        return bad("nothing before '@'");
    }
    domain_reason(domain).or_else(|why| bad(&why))
}

/// An http(s) URL is kept as is (`Ok(None)`); a bare domain, optionally
/// with a path, becomes `https://` + it (`Ok(Some(url))`); anything else
/// is refused with a reason.
pub fn normalize_website(site: &str) -> Result<Option<String>, String> {
    let bad = |why: &str| Err(format!("invalid website: {why}"));
    if site.chars().any(char::is_whitespace) {
        return bad("it contains spaces");
    }
    let has = |scheme: &str| {
        site.get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
    };
    let (rest, bare) = if has("https://") {
        (&site[8..], false)
    } else if has("http://") {
        (&site[7..], false)
    } else if site.contains("://") {
        return bad("only http:// and https:// addresses are accepted");
    } else {
        (site, true)
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if bare && (authority.contains('@') || authority.contains(':')) {
        return bad("expected an http(s) URL or a domain such as example.com");
    }
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, port))
            if !bare && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            h
        }
        _ => host,
    };
    let is_ipv4 = host.split('.').count() == 4 && host.split('.').all(|p| p.parse::<u8>().is_ok());
    if !(is_ipv4 || (!bare && host == "localhost")) {
        if let Err(why) = check_domain(host) {
            return bad(&why);
        }
    }
    Ok(bare.then(|| format!("https://{site}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_must_be_one_valid_address() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org", "x@exa-mple.io"] {
            assert!(check_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "plain",
            "@x.com",
            "a@b",
            "a@@b.com",
            "a@b.c",
            "a b@c.com",
            "a@.com",
            "a@b..com",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_email("a@b.c").unwrap_err(),
            "invalid email address: the domain 'b.c' has a one-letter top-level domain '.c', \
             and none exists (they have two letters or more, such as .com or .de)"
        );
        let err = check_email("a@b.123").unwrap_err();
        assert!(
            err.contains("'b.123' ends in '.123', which is not"),
            "{err}"
        );
        let err = check_email("a@b").unwrap_err();
        assert!(err.contains("'b' must look like example.com"), "{err}");
        for two in ["a@b.com, c@d.com", "a@b.com;c@d.com", "a@b.com c@d.com"] {
            let err = check_email(two).unwrap_err();
            assert!(err.contains("more than one"), "{two}: {err}");
        }
    }

    #[test]
    fn the_fast_passes_accept_only_what_the_full_checks_accept() {
        let samples = [
            "a@b.co",
            "a@b.c",
            "a@b",
            "@b.com",
            "a@@b.com",
            "a@b..com",
            "a@.com",
            "a@b.com.",
            "a@b.c0m",
            "a@b-.com",
            "a@-b.com",
            "a@b_c.com",
            "a b@c.com",
            "a\u{b}b@c.com",
            "a\u{c}@c.com",
            "a,b@c.com",
            "a;b@c.com",
            "ä@b.com",
            "a@bü.com",
            "a@b.de",
            "first.last+tag@sub.example.org",
            "x@exa-mple.io",
            "a@b.xn--p1ai",
            "a@1.2.3.4",
            "a@b.c\u{a0}",
            "",
            "@",
            ".",
            "b.co",
            "b..co",
            ".b.co",
            "b.co.",
            "b.c",
            "b.co1",
            "exa-mple.io",
            "b_c.com",
            "b.COM",
            "localhost",
            "ü.de",
            "b.de\t",
        ];
        for s in samples {
            if plain_email(s) {
                assert_eq!(email_reason(s), Ok(()), "{s:?}");
            }
            if plain_domain(s) {
                assert_eq!(domain_reason(s), Ok(()), "{s:?}");
            }
            assert_eq!(check_email(s).is_ok(), email_reason(s).is_ok(), "{s:?}");
            assert_eq!(check_domain(s).is_ok(), domain_reason(s).is_ok(), "{s:?}");
        }
        assert!(plain_email("first.last+tag@sub.example.org"));
        assert!(plain_domain("sub.example.co.uk"));
    }

    #[test]
    fn websites_are_http_urls_or_bare_domains_made_https() {
        assert_eq!(normalize_website("https://acme.com/x?y=1"), Ok(None));
        assert_eq!(normalize_website("HTTP://Acme.com:8080/"), Ok(None));
        assert_eq!(
            normalize_website("acme.com"),
            Ok(Some("https://acme.com".into()))
        );
        assert_eq!(
            normalize_website("www.acme.co.uk/about"),
            Ok(Some("https://www.acme.co.uk/about".into()))
        );
        for bad in [
            "ftp://acme.com",
            "acme",
            "javascript:alert(1)",
            "https://",
            "not a url",
            "http://acme",
            "user@acme.com",
        ] {
            assert!(normalize_website(bad).is_err(), "{bad}");
        }
    }
}
