use super::*;
use crate::model::TableSchema;
use std::sync::Arc;

const NAME: usize = 0;
const EMAIL: usize = 3;

/// The stored text of table column `name` in `rec`.
fn field(map: &HeaderMap, rec: &Record, name: &str) -> Option<String> {
    let slot = map.target.columns.iter().position(|c| c.name == name)?;
    match &rec.values[slot] {
        Value::Null => None,
        v => Some(v.display()),
    }
}

fn opts(map: Vec<(String, String)>) -> HeaderOptions {
    HeaderOptions {
        header_row: None,
        map,
        positions: None,
    }
}

fn preset() -> Arc<TableSchema> {
    Arc::new(TableSchema::businesses())
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

fn row(number: u32, cells: Vec<Cell>) -> RawRow {
    RawRow { number, cells }
}

fn header(names: &[&str]) -> HeaderMap {
    HeaderMap::from_row("Sheet1", &row(1, names.iter().map(|n| text(n)).collect())).unwrap()
}

#[test]
fn headers_match_ignoring_case_spaces_and_order() {
    let map = header(&["  EMAIL ", "Name", "\u{feff}city"]);
    assert_eq!(map.field_of_column, vec![Some(EMAIL), Some(NAME), Some(5)]);
}

#[test]
fn a_header_without_name_lists_what_was_found_and_expected() {
    let err = HeaderMap::from_row("S", &row(1, vec![text("Owner"), text("City")])).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("Owner, City"), "{msg}");
    assert!(msg.contains("name, category, phone"), "{msg}");
}

#[test]
fn two_columns_for_one_field_are_refused_naming_both() {
    let err = HeaderMap::from_row("S", &row(1, vec![text("name"), text("NAME")])).unwrap_err();
    assert_eq!(
        err,
        HeaderError::Duplicate {
            field: "name".into(),
            first: "A (name)".into(),
            second: "B (NAME)".into()
        }
    );
}

#[test]
fn unknown_columns_are_ignored_and_listed() {
    let map = header(&["name", "Owner"]);
    assert_eq!(map.ignored, vec!["Owner".to_string()]);
    let rec = map
        .record(&row(2, vec![text("Acme"), text("Bob")]), &Rules::default())
        .unwrap();
    assert_eq!(field(&map, &rec, "name").unwrap(), "Acme");
}

#[test]
fn cells_are_trimmed_of_spaces_tabs_and_nbsp() {
    let map = header(&["name", "city"]);
    let rec = map
        .record(
            &row(2, vec![text("\t Acme\u{a0}"), text("\u{a0}Paris  ")]),
            &Rules::default(),
        )
        .unwrap();
    assert_eq!(field(&map, &rec, "name").as_deref(), Some("Acme"));
    assert_eq!(field(&map, &rec, "city").as_deref(), Some("Paris"));
}

#[test]
fn a_missing_or_blank_name_is_rejected_with_row_and_column() {
    let map = header(&["city", "name"]);
    let rej = map
        .record(&row(7, vec![text("Paris"), text("   ")]), &Rules::default())
        .unwrap_err();
    assert_eq!(rej.row, 7);
    assert_eq!(rej.column, "B (name)");
    assert_eq!(rej.reason, "name is required");
    assert_eq!(rej.sheet, "Sheet1");
}

#[test]
fn a_row_missing_trailing_optional_cells_is_valid() {
    let map = header(&["name", "category", "phone", "email"]);
    let rec = map
        .record(&row(2, vec![text("Acme")]), &Rules::default())
        .unwrap();
    assert_eq!(field(&map, &rec, "category"), None);
    assert_eq!(field(&map, &rec, "email"), None);
}

#[test]
fn numbers_become_text_without_float_artefacts() {
    assert_eq!(format_number(5551234567.0), "5551234567");
    assert_eq!(format_number(0.1 + 0.2), "0.3");
    assert_eq!(format_number(-12.5), "-12.5");
    assert_eq!(format_number(1e15), "1000000000000000");
    assert_eq!(format_number(123456789012345678.0), "123456789012346000");
    assert_eq!(format_number(0.000001), "0.000001");
    assert_eq!(
        cell_text(&Cell::Float(5551234567.0)).unwrap().unwrap(),
        "5551234567"
    );
    assert_eq!(cell_text(&Cell::Int(42)).unwrap().unwrap(), "42");
}

#[test]
fn booleans_and_errors_have_fixed_meanings() {
    assert_eq!(cell_text(&Cell::Bool(true)).unwrap().unwrap(), "TRUE");
    let err = cell_text(&Cell::Error("#REF!".into())).unwrap_err();
    assert!(err.contains("#REF!"), "{err}");
    let map = header(&["name", "phone"]);
    let rej = map
        .record(
            &row(9, vec![text("Acme"), Cell::Error("#DIV/0!".into())]),
            &Rules::default(),
        )
        .unwrap_err();
    assert_eq!(rej.column, "B (phone)");
    assert_eq!(rej.value, "#DIV/0!");
    assert_eq!(
        rej.reason,
        "the cell Sheet1!B9 holds the error value #DIV/0!"
    );
    let rej = map
        .record(
            &row(
                4,
                vec![text("Acme"), Cell::FormulaWithoutValue("A1&B1".into())],
            ),
            &Rules::default(),
        )
        .unwrap_err();
    assert!(
        rej.reason
            .starts_with("the cell Sheet1!B4 holds the formula =A1&B1 with no cached value"),
        "{}",
        rej.reason
    );
}

#[test]
fn an_invalid_email_names_its_column_and_value() {
    let map = header(&["name", "category", "phone", "Email"]);
    let rej = map
        .record(
            &row(
                214,
                vec![text("Acme"), Cell::Empty, Cell::Empty, text("nope")],
            ),
            &Rules::default(),
        )
        .unwrap_err();
    assert_eq!(rej.column, "D (Email)");
    assert_eq!(rej.value, "nope");
    assert!(rej.reason.starts_with("invalid email"), "{}", rej.reason);
}

#[test]
fn an_overlong_cell_is_rejected_never_cut() {
    let map = header(&["name", "description"]);
    let rules = Rules {
        max_cell_chars: 10,
        ..Rules::default()
    };
    let rej = map
        .record(&row(2, vec![text("Acme"), text(&"x".repeat(11))]), &rules)
        .unwrap_err();
    assert!(rej.reason.contains("11 characters"), "{}", rej.reason);
}

#[test]
fn headers_are_normalized_and_matched_by_alias() {
    assert_eq!(
        normalize_header("\u{feff}  E-Mail__Address. "),
        "e mail address"
    );
    let map = header(&[
        "Business Name",
        "INDUSTRY",
        "Phone_Number",
        "e-mail",
        "Street  Address",
        "Town",
        "Country.Code",
        "Homepage",
        "notes",
    ]);
    let fields: Vec<Option<usize>> = (0..9).map(Some).collect();
    assert_eq!(map.field_of_column, fields);
    assert!(map.ignored.is_empty());
    let map = header(&["Company", "Tel", "Mail", "URL", "About"]);
    assert_eq!(
        map.mapping().into_iter().map(|m| m.2).collect::<Vec<_>>(),
        ["name", "phone", "email", "website", "description"]
    );
}

#[test]
fn an_explicit_map_wins_over_aliases_and_must_name_real_headers() {
    let map_spec = HeaderOptions::parse_map("Firma=name, Ort = city").unwrap();
    assert_eq!(
        map_spec,
        vec![
            ("Firma".into(), "name".into()),
            ("Ort".into(), "city".into())
        ]
    );
    let r = row(1, vec![text("Firma"), text("ORT"), text("Company")]);
    let map = HeaderMap::build("S", &r, &opts(map_spec.clone()), preset());
    assert_eq!(
        map.unwrap_err(),
        HeaderError::Duplicate {
            field: "name".into(),
            first: "A (Firma)".into(),
            second: "C (Company)".into()
        }
    );
    let r = row(1, vec![text("Firma"), text("ORT"), text("Owner")]);
    let map = HeaderMap::build("S", &r, &opts(map_spec.clone()), preset()).unwrap();
    assert_eq!(map.field_of_column, vec![Some(NAME), Some(5), None]);
    assert_eq!(map.ignored, vec!["Owner".to_string()]);
    let err =
        HeaderMap::build("S", &row(1, vec![text("name")]), &opts(map_spec), preset()).unwrap_err();
    assert!(err.to_string().contains("\"Firma\""), "{err}");
    let unknown = opts(HeaderOptions::parse_map("Firma=nom").unwrap());
    assert!(unknown.check(&TableSchema::businesses()).is_err());
    assert!(HeaderOptions::parse_map("Firma").is_err());
}

#[test]
fn the_header_is_found_below_title_rows() {
    let mut finder = HeaderFinder::new("S", &HeaderOptions::default());
    assert_eq!(finder.push(&row(1, vec![text("Directory 2024")])), Ok(None));
    assert_eq!(
        finder.push(&row(2, vec![text("City"), text("x")])),
        Ok(None)
    );
    let map = finder
        .push(&row(4, vec![text("Town"), text("Company")]))
        .unwrap()
        .unwrap();
    assert_eq!(map.row, 4);
    assert_eq!(map.field_of_column, vec![Some(5), Some(NAME)]);
}

#[test]
fn two_known_columns_without_name_make_a_header_that_lacks_name() {
    let mut finder = HeaderFinder::new("S", &HeaderOptions::default());
    let err = finder
        .push(&row(3, vec![text("Email"), text("Town")]))
        .unwrap_err();
    assert!(
        matches!(&err, HeaderError::MissingRequired { row: 3, missing, .. } if missing == &["name"]),
        "{err}"
    );
}

#[test]
fn no_header_in_twenty_rows_is_an_error_naming_the_first_row() {
    let mut finder = HeaderFinder::new("S", &HeaderOptions::default());
    assert_eq!(finder.push(&row(2, vec![text("Owner")])), Ok(None));
    let err = finder.push(&row(21, vec![text("name")])).unwrap_err();
    assert_eq!(
        err,
        HeaderError::NotFound {
            table: "businesses".into(),
            required: vec!["name".into()],
            row: 2,
            found: vec!["Owner".into()],
            expected: TableSchema::businesses()
                .columns
                .iter()
                .map(|c| c.name.clone())
                .collect(),
        }
    );
    let finder = HeaderFinder::new("S", &HeaderOptions::default());
    assert_eq!(finder.finish(), HeaderError::NoHeader);
}

#[test]
fn header_row_option_picks_the_row_and_skips_those_above() {
    let opts = HeaderOptions {
        header_row: Some(3),
        map: vec![],
        positions: None,
    };
    let mut finder = HeaderFinder::new("S", &opts);
    assert_eq!(
        finder.push(&row(1, vec![text("name"), text("city")])),
        Ok(None)
    );
    let map = finder.push(&row(3, vec![text("name")])).unwrap().unwrap();
    assert_eq!(map.row, 3);
    let mut finder = HeaderFinder::new("S", &opts);
    assert_eq!(
        finder.push(&row(4, vec![text("name")])),
        Err(HeaderError::BlankHeaderRow(3))
    );
}

#[test]
fn websites_are_validated_and_bare_domains_stored_as_https() {
    let map = header(&["name", "website"]);
    let rec = map
        .record(
            &row(2, vec![text("Acme"), text(" acme.com ")]),
            &Rules::default(),
        )
        .unwrap();
    assert_eq!(
        field(&map, &rec, "website").as_deref(),
        Some("https://acme.com")
    );
    let rej = map
        .record(
            &row(3, vec![text("Acme"), text("ftp://acme.com")]),
            &Rules::default(),
        )
        .unwrap_err();
    assert_eq!(rej.column, "B (website)");
    assert!(rej.reason.starts_with("invalid website"), "{}", rej.reason);
}

#[test]
fn an_overlong_name_is_rejected() {
    let map = header(&["name"]);
    let long = "n".repeat(501);
    let rej = map
        .record(&row(2, vec![text(&long)]), &Rules::default())
        .unwrap_err();
    assert_eq!(rej.reason, "name is longer than 500 characters");
    assert!(map
        .record(&row(2, vec![text(&long[..500])]), &Rules::default())
        .is_ok());
}

#[test]
fn inner_line_breaks_are_kept_and_unicode_spaces_trimmed() {
    let map = header(&["name", "description"]);
    let rec = map
        .record(
            &row(
                2,
                vec![text("\u{2003}Acme\u{202f}"), text(" line 1\nline 2\r\n ")],
            ),
            &Rules::default(),
        )
        .unwrap();
    assert_eq!(field(&map, &rec, "name").as_deref(), Some("Acme"));
    assert_eq!(
        field(&map, &rec, "description").as_deref(),
        Some("line 1\nline 2")
    );
}

#[test]
fn numbers_keep_fifteen_significant_digits_and_no_exponent() {
    assert_eq!(format_number(1234567.891), "1234567.891");
    assert_eq!(format_number(0.1 * 3.0), "0.3");
    assert_eq!(format_number(1.0 / 3.0), "0.333333333333333");
    assert_eq!(format_number(2.0 / 3.0 * 1000.0), "666.666666666667");
    assert_eq!(format_number(-0.0), "0");
    assert_eq!(format_number(100.0), "100");
    assert_eq!(
        format_number(12345678901234567890.0),
        "12345678901234600000"
    );
    assert_eq!(format_number(1.5e-7), "0.00000015");
    assert_eq!(format_number(4.35), "4.35");
    assert_eq!(format_number(1e300).len(), 301);
}

#[test]
fn header_options_come_from_the_users_words() {
    assert_eq!(
        HeaderOptions::new(Some(2), Some("Firma=name")),
        Ok(HeaderOptions {
            header_row: Some(2),
            map: vec![("Firma".into(), "name".into())],
            positions: None,
        })
    );
    assert!(HeaderOptions::new(Some(0), None).is_err());
    assert_eq!(HeaderOptions::new(None, None), Ok(HeaderOptions::default()));
}

#[test]
fn a_shared_formula_without_a_value_is_named_as_a_formula() {
    let err = cell_text(&Cell::FormulaWithoutValue(String::new())).unwrap_err();
    assert!(
        err.starts_with("holds a formula with no cached value"),
        "{err}"
    );
    assert_eq!(cell_display(&Cell::FormulaWithoutValue(String::new())), "");
}

#[test]
fn a_header_one_or_two_edits_from_a_column_is_suggested_never_mapped() {
    let map = header(&["name", "Categroy", "Adress", "Owner", "Cty"]);
    assert_eq!(map.field_of_column[1..], [None, None, None, None]);
    assert_eq!(
        map.suggestions,
        vec![
            ("Categroy".to_string(), "category".to_string()),
            ("Adress".to_string(), "address".to_string()),
            ("Cty".to_string(), "city".to_string()),
        ]
    );
    assert_eq!(
        map.ignored_described(),
        [
            "Categroy (did you mean category?)",
            "Adress (did you mean address?)",
            "Owner",
            "Cty (did you mean city?)"
        ]
    );
}

/// The shortest-form shortcut of `format_number` gives exactly what the
/// 15-digit rounding gives (the rule before the shortcut, kept here as the
/// reference), for random doubles of every magnitude and for the amounts a
/// typed sheet holds.
#[test]
fn format_number_shortcut_matches_the_fifteen_digit_rounding() {
    use rand::{Rng, SeedableRng};
    fn reference(f: f64) -> String {
        if !f.is_finite() {
            return f.to_string();
        }
        if f.fract() == 0.0 && f.abs() < 1e15 {
            return format!("{}", f as i64);
        }
        let rounded: f64 = format!("{f:.14e}").parse().unwrap_or(f);
        let s = format!("{rounded}");
        if s == "-0" {
            "0".into()
        } else {
            s
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for i in 0..200_000u64 {
        let f = match i % 4 {
            0 => f64::from_bits(rng.gen()),
            1 => rng.gen_range(-1e6..1e6),
            2 => rng.gen_range(1i64..10_000_000_000) as f64 / 100.0,
            _ => rng.gen::<f64>() * 10f64.powi(rng.gen_range(-30..30)),
        };
        assert_eq!(format_number(f), reference(f), "{f:e} ({:x})", f.to_bits());
    }
    for f in [
        0.1 + 0.2,
        1.0 / 3.0,
        2.0f64.powi(53) + 0.5,
        1e15 + 0.5,
        -0.0,
        5e-324,
    ] {
        assert_eq!(format_number(f), reference(f), "{f:e}");
    }
}

#[test]
fn take_record_moves_plain_texts_and_a_rejection_still_shows_every_cell() {
    let map = header(&["name", "category", "website", "email", "phone"]);
    let rules = Rules::default();
    let cells = vec![
        text("Acme"),
        text(" Tools "),
        text("acme.com"),
        text("info@acme.com"),
        Cell::Int(5550100),
    ];
    let rec = map.take_record(row(2, cells.clone()), &rules).unwrap();
    assert_eq!(rec, map.record(&row(2, cells), &rules).unwrap());
    assert_eq!(field(&map, &rec, "name").as_deref(), Some("Acme"));
    assert_eq!(field(&map, &rec, "category").as_deref(), Some("Tools"));
    assert_eq!(
        field(&map, &rec, "website").as_deref(),
        Some("https://acme.com")
    );
    assert_eq!(field(&map, &rec, "phone").as_deref(), Some("5550100"));

    // The name moved before the email was refused; the rejection shows it.
    let bad = vec![
        text("Acme"),
        text("Tools"),
        text("acme.com"),
        text("info@acme"),
    ];
    let rejection = map.take_record(row(3, bad.clone()), &rules).unwrap_err();
    assert_eq!(rejection, map.record(&row(3, bad), &rules).unwrap_err());
    assert_eq!(
        rejection.original,
        vec!["Acme", "Tools", "acme.com", "info@acme"]
    );
    assert_eq!(rejection.value, "info@acme");
    assert!(
        rejection.reason.contains("invalid email"),
        "{}",
        rejection.reason
    );

    // A name over the preset's length is refused with the text kept.
    let long = "x".repeat(600);
    let rejection = map
        .take_record(row(4, vec![text(&long), text("Tools")]), &rules)
        .unwrap_err();
    assert_eq!(rejection.value, long);
    assert_eq!(rejection.original, vec![long.clone(), "Tools".to_string()]);
}
