use super::*;

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
    let err = HeaderMap::from_row("S", &row(1, vec![text("Company"), text("City")])).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("Company, City"), "{msg}");
    assert!(msg.contains("name, category, phone"), "{msg}");
}

#[test]
fn two_columns_for_one_field_are_refused_naming_both() {
    let err = HeaderMap::from_row("S", &row(1, vec![text("name"), text("NAME")])).unwrap_err();
    assert_eq!(
        err,
        HeaderError::Duplicate {
            field: "name",
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
    assert_eq!(rec.business.name(), "Acme");
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
    assert_eq!(rec.business.fields[NAME].as_deref(), Some("Acme"));
    assert_eq!(rec.business.fields[5].as_deref(), Some("Paris"));
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
    assert_eq!(rec.business.fields[1], None);
    assert_eq!(rec.business.fields[EMAIL], None);
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
}

#[test]
fn emails_must_look_like_local_at_domain_tld() {
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
