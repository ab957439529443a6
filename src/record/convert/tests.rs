//! Conversion, cell kind by cell kind × type: what every type does with an
//! empty cell, white space, error cells and formulas without a value; the
//! text, boolean, uuid and json types. Numbers and dates have their own
//! files (`number_tests.rs`, `datetime_tests.rs`).

use super::{convert, ConvertOptions};
use crate::model::{Cell, SqlType, Value};

/// Converts with the default options (no `--date-format`).
pub(super) fn c(cell: &Cell, ty: &SqlType) -> Result<Value, String> {
    convert(cell, ty, &ConvertOptions::default())
}

/// A text cell.
pub(super) fn text(s: &str) -> Cell {
    Cell::Text(s.into())
}

/// One of every type.
pub(super) fn every_type() -> Vec<SqlType> {
    vec![
        SqlType::SmallInt,
        SqlType::Integer,
        SqlType::BigInt,
        SqlType::Numeric {
            precision: Some(12),
            scale: Some(2),
        },
        SqlType::Numeric {
            precision: None,
            scale: None,
        },
        SqlType::Real,
        SqlType::Double,
        SqlType::Boolean,
        SqlType::Date,
        SqlType::Timestamp,
        SqlType::TimestampTz,
        SqlType::Time,
        SqlType::Uuid,
        SqlType::Json,
        SqlType::Jsonb,
        SqlType::Text,
        SqlType::Varchar(Some(40)),
        SqlType::Varchar(None),
        SqlType::Char(Some(3)),
        SqlType::Char(None),
    ]
}

#[test]
fn an_empty_or_blank_cell_is_null_in_every_type() {
    for ty in every_type() {
        for cell in [
            Cell::Empty,
            text(""),
            text(" \t\u{a0}\u{200B}"),
            Cell::DateTime(String::new()),
        ] {
            assert_eq!(c(&cell, &ty), Ok(Value::Null), "{cell:?} for {ty}");
        }
    }
}

#[test]
fn error_cells_and_formulas_without_a_value_are_refused_in_every_type() {
    for ty in every_type() {
        let err = c(&Cell::Error("#REF!".into()), &ty).unwrap_err();
        assert_eq!(err, "holds the error value #REF!", "{ty}");
        let err = c(&Cell::FormulaWithoutValue("SUM(A1:A3)".into()), &ty).unwrap_err();
        assert!(
            err.starts_with("holds the formula =SUM(A1:A3) with no cached value"),
            "{ty}: {err}"
        );
        let err = c(&Cell::FormulaWithoutValue(String::new()), &ty).unwrap_err();
        assert!(
            err.starts_with("holds a formula with no cached value"),
            "{ty}: {err}"
        );
    }
}

#[test]
fn text_is_trimmed_before_every_type_reads_it() {
    assert_eq!(
        c(&text("\u{FEFF} 42 \n"), &SqlType::Integer),
        Ok(Value::Int(42))
    );
    assert_eq!(c(&text("  yes "), &SqlType::Boolean), Ok(Value::Bool(true)));
    assert_eq!(
        c(&text(" ab "), &SqlType::Text),
        Ok(Value::Text("ab".into()))
    );
}

#[test]
fn text_columns_store_what_the_cell_shows() {
    let t = &SqlType::Text;
    let s = |v: &str| Ok(Value::Text(v.into()));
    assert_eq!(c(&text("00123"), t), s("00123"));
    assert_eq!(c(&Cell::Int(42), t), s("42"));
    assert_eq!(c(&Cell::Float(5551234567.0), t), s("5551234567"));
    assert_eq!(c(&Cell::Float(0.1 + 0.2), t), s("0.3"));
    assert_eq!(c(&Cell::Bool(true), t), s("TRUE"));
    assert_eq!(c(&Cell::Bool(false), t), s("FALSE"));
    assert_eq!(c(&Cell::DateTime("2024-01-02".into()), t), s("2024-01-02"));
}

#[test]
fn leading_zeros_survive_into_text_columns() {
    for ty in [
        SqlType::Text,
        SqlType::Varchar(Some(10)),
        SqlType::Char(Some(5)),
    ] {
        assert_eq!(
            c(&text("00042"), &ty),
            Ok(Value::Text("00042".into())),
            "{ty}"
        );
    }
}

#[test]
fn bounded_text_counts_characters_not_bytes() {
    let v40 = &SqlType::Varchar(Some(40));
    let forty = "é".repeat(40);
    assert_eq!(c(&text(&forty), v40), Ok(Value::Text(forty.clone())));
    let err = c(&text(&format!("{forty}x")), v40).unwrap_err();
    assert_eq!(err, "the text is 41 characters long; varchar(40) holds 40");
    let err = c(&Cell::Int(1234), &SqlType::Char(Some(3))).unwrap_err();
    assert_eq!(err, "the text is 4 characters long; char(3) holds 3");
    assert_eq!(
        c(&text("x"), &SqlType::Char(None)),
        Ok(Value::Text("x".into()))
    );
    assert!(c(&text("xy"), &SqlType::Char(None))
        .unwrap_err()
        .contains("char holds 1"));
    let long = "y".repeat(100_000);
    assert_eq!(
        c(&text(&long), &SqlType::Varchar(None)),
        Ok(Value::Text(long))
    );
}

#[test]
fn booleans_come_from_boolean_cells_ones_and_zeros_and_words() {
    let b = &SqlType::Boolean;
    assert_eq!(c(&Cell::Bool(true), b), Ok(Value::Bool(true)));
    assert_eq!(c(&Cell::Bool(false), b), Ok(Value::Bool(false)));
    assert_eq!(c(&Cell::Int(1), b), Ok(Value::Bool(true)));
    assert_eq!(c(&Cell::Float(0.0), b), Ok(Value::Bool(false)));
    for yes in ["true", "TRUE", "True", "yes", "YES", "y", "Y", "t", "1"] {
        assert_eq!(c(&text(yes), b), Ok(Value::Bool(true)), "{yes}");
    }
    for no in ["false", "FALSE", "No", "n", "N", "f", "0"] {
        assert_eq!(c(&text(no), b), Ok(Value::Bool(false)), "{no}");
    }
}

#[test]
fn anything_else_is_not_a_boolean() {
    let b = &SqlType::Boolean;
    let err = c(&text("maybe"), b).unwrap_err();
    assert_eq!(
        err,
        "'maybe' is not a boolean (expected TRUE/FALSE, yes/no, y/n, t/f or 1/0)"
    );
    assert!(c(&Cell::Int(2), b)
        .unwrap_err()
        .starts_with("2 is not a boolean"));
    assert!(c(&Cell::Float(0.5), b).is_err());
    for word in ["on", "off", "oui", "10", "yess"] {
        assert!(c(&text(word), b).is_err(), "{word}");
    }
    let err = c(&Cell::DateTime("2024-01-02".into()), b).unwrap_err();
    assert_eq!(err, "2024-01-02 is a date, not a boolean");
}

#[test]
fn uuids_are_read_in_every_common_spelling_and_stored_canonically() {
    let u = &SqlType::Uuid;
    let want = Ok(Value::Uuid(
        uuid::Uuid::parse_str("123e4567-e89b-12d3-a456-426614174000").expect("valid"),
    ));
    for spelling in [
        "123e4567-e89b-12d3-a456-426614174000",
        "123E4567-E89B-12D3-A456-426614174000",
        "123e4567e89b12d3a456426614174000",
        "{123e4567-e89b-12d3-a456-426614174000}",
        "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
    ] {
        assert_eq!(c(&text(spelling), u), want, "{spelling}");
    }
}

#[test]
fn a_uuid_column_refuses_other_text_numbers_and_booleans() {
    let u = &SqlType::Uuid;
    let err = c(&text("123e4567-e89b-12d3-a456"), u).unwrap_err();
    assert!(
        err.starts_with("'123e4567-e89b-12d3-a456' is not a UUID"),
        "{err}"
    );
    assert!(c(&text("g23e4567e89b12d3a456426614174000"), u).is_err());
    assert_eq!(
        c(&Cell::Int(7), u).unwrap_err(),
        "7 is a number, not a UUID"
    );
    assert_eq!(
        c(&Cell::Bool(true), u).unwrap_err(),
        "TRUE is a boolean, not a UUID"
    );
}

#[test]
fn json_is_validated_and_kept_as_written() {
    for ty in [SqlType::Json, SqlType::Jsonb] {
        let j = |s: &str| Ok(Value::Json(s.into()));
        assert_eq!(
            c(&text(r#" {"a": [1, 2.5, null]} "#), &ty),
            j(r#"{"a": [1, 2.5, null]}"#)
        );
        assert_eq!(c(&text(r#""plain string""#), &ty), j(r#""plain string""#));
        assert_eq!(c(&text("1e400"), &ty), j("1e400"));
        assert_eq!(c(&Cell::Int(42), &ty), j("42"));
        assert_eq!(c(&Cell::Float(0.1 + 0.2), &ty), j("0.3"));
        assert_eq!(c(&Cell::Bool(true), &ty), j("true"));
        let err = c(&text("{a: 1}"), &ty).unwrap_err();
        assert!(
            err.starts_with("'{a: 1}' is not valid JSON: key must be a string"),
            "{err}"
        );
        assert!(c(&text("[1, 2"), &ty).is_err());
        assert!(c(&text("plain"), &ty).is_err());
        assert!(c(&Cell::DateTime("2024-01-02".into()), &ty).is_err());
    }
}

#[test]
fn jsonb_refuses_the_nul_character_that_json_keeps() {
    let nul = r#"{"k": "a\u0000b"}"#;
    assert_eq!(c(&text(nul), &SqlType::Json), Ok(Value::Json(nul.into())));
    let err = c(&text(nul), &SqlType::Jsonb).unwrap_err();
    assert!(
        err.ends_with("holds the character U+0000, which jsonb cannot store"),
        "{err}"
    );
    // An escaped backslash before u0000 is not the NUL character.
    let not_nul = r#"{"k": "a\\u0000b"}"#;
    assert_eq!(
        c(&text(not_nul), &SqlType::Jsonb),
        Ok(Value::Json(not_nul.into()))
    );
}

#[test]
fn every_cell_kind_meets_every_type_as_the_type_table_says() {
    // Columns: the number 1 as an integer cell, as a float cell, as text;
    // a date cell; a boolean cell. O converts, X is refused with a reason.
    let kinds = [
        Cell::Int(1),
        Cell::Float(1.0),
        text("1"),
        Cell::DateTime("2024-01-02".into()),
        Cell::Bool(true),
    ];
    let table = [
        "OOOXX", "OOOXX", "OOOXX", // smallint, integer, bigint
        "OOOXX", "OOOXX", // numeric(12,2), numeric
        "OOOXX", "OOOXX", // real, double
        "OOOXO", // boolean
        "XXXOX", "XXXOX", "XXXOX", // date, timestamp, timestamptz
        "XXXXX", // time (a date cell is not a time of day)
        "XXXXX", // uuid
        "OOOXO", "OOOXO", // json, jsonb
        "OOOOO", "OOOOO", "OOOOO", // text, varchar(40), varchar
        "OOOXX", // char(3): the date (10 characters) and TRUE (4) do not fit
        "OOOXX", // char is char(1)
    ];
    let types = every_type();
    assert_eq!(types.len(), table.len());
    for (ty, row) in types.iter().zip(table) {
        for (cell, want) in kinds.iter().zip(row.chars()) {
            let got = c(cell, ty);
            match want {
                'O' => assert!(got.is_ok(), "{cell:?} for {ty}: {got:?}"),
                _ => assert!(!got.clone().unwrap_err().is_empty(), "{cell:?} for {ty}"),
            }
        }
    }
}

#[test]
fn no_text_makes_any_type_panic() {
    // Multi-byte characters at every position of date-, time-, number-
    // and duration-shaped text, for every type.
    let shapes = [
        "2024-01-02T10:30:00.123+02:00",
        "10:30:00",
        "PT10H30M1.5S",
        "-12.50e3",
        "{123e4567-e89b-12d3-a456-426614174000}",
    ];
    let opts = ConvertOptions::with_date_format("%d/%m/%Y").expect("valid");
    for shape in shapes {
        for at in 0..=shape.len() {
            for insert in ["é", "€", "😀", ":", "-"] {
                let mut s = shape.to_string();
                s.insert_str(at, insert);
                for ty in every_type() {
                    let _ = convert(&text(&s), &ty, &opts);
                    let _ = convert(&Cell::DateTime(s.clone()), &ty, &opts);
                }
                let mut cut = shape[..at].to_string();
                cut.push_str(insert);
                for ty in every_type() {
                    let _ = c(&text(&cut), &ty);
                }
            }
        }
    }
}
