//! Column names for `--create`: a file's headers as the snake_case names a
//! person would type (`Order ID` → `order_id`, `ÜberPreis` → `uber_preis`),
//! unique, at most 63 bytes (PostgreSQL's identifier limit), one per
//! column, in the file's order.

use crate::model::column_letter;

/// PostgreSQL truncates identifiers longer than this many bytes.
pub const MAX_NAME_BYTES: usize = 63;

/// The column names for a header row, one per header, in order.
///
/// - snake_case: ASCII letters lowercased; Latin letters with accents
///   folded (`é` → `e`, `ß` → `ss`, `Æ` → `ae`); letters of other scripts
///   kept, lowercased (`Имя` → `имя`: PostgreSQL and SQLite accept them
///   quoted, and dropping them would lose the name); a word boundary inside
///   CamelCase (`OrderID`, `ÜberPreis`) becomes `_`; every run of other
///   characters (spaces, punctuation, symbols, `_`) becomes one `_`,
///   trimmed from both ends.
/// - A name starting with a digit gets the prefix `col_` (`2024 Sales` →
///   `col_2024_sales`), so it can be written unquoted.
/// - An empty name (an empty header, or one of symbols only such as `€`)
///   becomes `column_<letter>` (`column_c` for column C).
/// - Names are cut to 63 bytes on a character boundary.
/// - Duplicates get `_2`, `_3`, … (the first keeps its name), skipping any
///   name another header already has; suffixed names are cut so they stay
///   within 63 bytes.
/// - SQL reserved words are kept (`order`, `select`): the DDL quotes every
///   name.
pub fn column_names(headers: &[String]) -> Vec<String> {
    let base: Vec<String> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| base_name(h, i))
        .collect();
    let mut taken: std::collections::HashSet<String> = base.iter().cloned().collect();
    let mut first_seen = std::collections::HashSet::new();
    base.iter()
        .map(|name| {
            if first_seen.insert(name.as_str()) {
                return name.clone();
            }
            let unique = (2..)
                .map(|k| {
                    let suffix = format!("_{k}");
                    let stem = cut(name, MAX_NAME_BYTES - suffix.len());
                    format!("{}{suffix}", stem.trim_end_matches('_'))
                })
                .find(|candidate| !taken.contains(candidate))
                .expect("an unused suffix exists");
            taken.insert(unique.clone());
            unique
        })
        .collect()
}

/// One header's name before deduplication.
fn base_name(header: &str, index: usize) -> String {
    let snake = snake_case(header);
    let name = if snake.is_empty() {
        format!("column_{}", column_letter(index).to_ascii_lowercase())
    } else if snake.starts_with(|c: char| c.is_ascii_digit()) {
        format!("col_{snake}")
    } else {
        snake
    };
    cut(&name, MAX_NAME_BYTES).trim_end_matches('_').to_string()
}

/// The longest prefix of `s` of at most `max` bytes ending on a character
/// boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `Order ID` → `order_id`, `OrderID` → `order_id`, `E-Mail` → `e_mail`.
fn snake_case(header: &str) -> String {
    let chars: Vec<char> = header.chars().collect();
    let mut out = String::with_capacity(header.len());
    let mut gap = false;
    for (i, &c) in chars.iter().enumerate() {
        if !(c.is_ascii_digit() || c.is_alphabetic()) {
            gap = true;
            continue;
        }
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            // orderId, OrderID→order_id, HTTPServer→http_server, 2024Sales.
            if prev.is_lowercase() || (next_lower && (prev.is_uppercase() || prev.is_ascii_digit()))
            {
                gap = true;
            }
        }
        if gap && !out.is_empty() {
            out.push('_');
        }
        gap = false;
        match fold(c) {
            Some(ascii) => out.push_str(ascii),
            None => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// The ASCII spelling of a Latin letter with a diacritic (Latin-1 and
/// Latin Extended-A, either case), lowercased; `None` for anything else.
fn fold(c: char) -> Option<&'static str> {
    if c.is_ascii() {
        return None;
    }
    let folded = match c {
        'À'..='Å' | 'à'..='å' => "a",
        'Æ' | 'æ' => "ae",
        'Ç' | 'ç' => "c",
        'È'..='Ë' | 'è'..='ë' => "e",
        'Ì'..='Ï' | 'ì'..='ï' => "i",
        'Ð' | 'ð' => "d",
        'Ñ' | 'ñ' => "n",
        'Ò'..='Ö' | 'Ø' | 'ò'..='ö' | 'ø' => "o",
        'Ù'..='Ü' | 'ù'..='ü' => "u",
        'Ý' | 'ý' | 'ÿ' => "y",
        'Þ' | 'þ' => "th",
        'ß' => "ss",
        _ => return fold_extended_a(c),
    };
    Some(folded)
}

/// Latin Extended-A (U+0100–U+017F), which groups each base letter's
/// accented forms in one run of code points.
fn fold_extended_a(c: char) -> Option<&'static str> {
    let folded = match c as u32 {
        0x100..=0x105 => "a",
        0x106..=0x10D => "c",
        0x10E..=0x111 => "d",
        0x112..=0x11B => "e",
        0x11C..=0x123 => "g",
        0x124..=0x127 => "h",
        0x128..=0x131 => "i",
        0x132..=0x133 => "ij",
        0x134..=0x135 => "j",
        0x136..=0x138 => "k",
        0x139..=0x142 => "l",
        0x143..=0x14B => "n",
        0x14C..=0x151 => "o",
        0x152..=0x153 => "oe",
        0x154..=0x159 => "r",
        0x15A..=0x161 | 0x17F => "s",
        0x162..=0x167 => "t",
        0x168..=0x173 => "u",
        0x174..=0x175 => "w",
        0x176..=0x178 => "y",
        0x179..=0x17E => "z",
        _ => return None,
    };
    Some(folded)
}
