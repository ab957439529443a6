//! Numbers, cell kind by cell kind: smallint/integer/bigint, numeric,
//! real and double precision.

use super::tests::{c, text};
use crate::model::{Cell, SqlType, Value};

const INTS: [SqlType; 3] = [SqlType::SmallInt, SqlType::Integer, SqlType::BigInt];

fn numeric(p: u16, s: u16) -> SqlType {
    SqlType::Numeric {
        precision: Some(p),
        scale: Some(s),
    }
}

const ANY_NUMERIC: SqlType = SqlType::Numeric {
    precision: None,
    scale: None,
};

#[test]
fn integer_columns_take_whole_numbers_from_int_float_and_text_cells() {
    for ty in &INTS {
        assert_eq!(c(&Cell::Int(42), ty), Ok(Value::Int(42)), "{ty}");
        assert_eq!(c(&Cell::Float(3.0), ty), Ok(Value::Int(3)), "{ty}");
        assert_eq!(c(&Cell::Float(-3.0), ty), Ok(Value::Int(-3)), "{ty}");
        assert_eq!(c(&text("42"), ty), Ok(Value::Int(42)), "{ty}");
        assert_eq!(c(&text(" -7 "), ty), Ok(Value::Int(-7)), "{ty}");
        assert_eq!(c(&text("+7"), ty), Ok(Value::Int(7)), "{ty}");
        assert_eq!(c(&text("007"), ty), Ok(Value::Int(7)), "{ty}");
        assert_eq!(c(&text("42.00"), ty), Ok(Value::Int(42)), "{ty}");
        assert_eq!(c(&text("-0"), ty), Ok(Value::Int(0)), "{ty}");
    }
}

#[test]
fn a_float_that_is_whole_only_by_its_artefact_still_counts_as_whole() {
    // 4.35 * 100 = 434.99999999999994: the sheet shows 435.
    let f = 4.35 * 100.0;
    assert_ne!(f, 435.0);
    assert_eq!(c(&Cell::Float(f), &SqlType::Integer), Ok(Value::Int(435)));
}

#[test]
fn integer_columns_refuse_fractions_booleans_dates_and_other_text() {
    for ty in &INTS {
        let err = c(&Cell::Float(3.5), ty).unwrap_err();
        assert_eq!(
            err,
            format!("3.5 is not a whole number; {ty} holds whole numbers only")
        );
        let err = c(&text("2.50"), ty).unwrap_err();
        assert!(err.contains("2.50 is not a whole number"), "{err}");
        let err = c(&Cell::Bool(true), ty).unwrap_err();
        assert_eq!(err, "TRUE is a boolean, not a number");
        let err = c(&Cell::DateTime("2024-01-02".into()), ty).unwrap_err();
        assert_eq!(err, "2024-01-02 is a date, not a number");
        assert_eq!(c(&text("abc"), ty).unwrap_err(), "'abc' is not a number");
        assert_eq!(c(&text("12%"), ty).unwrap_err(), "'12%' is not a number");
        for bad in ["-", ".", "1.2.3", "--1", "0x10", "1 000"] {
            assert!(c(&text(bad), ty).is_err(), "{bad} for {ty}");
        }
    }
}

#[test]
fn thousands_separators_are_refused_with_a_hint_rather_than_guessed() {
    // 1,234 is a thousand in one locale and 1.234 in another.
    let err = c(&text("1,234"), &SqlType::Integer).unwrap_err();
    assert!(err.contains("without thousands separators"), "{err}");
    let err = c(&text("1,5"), &numeric(12, 2)).unwrap_err();
    assert!(err.contains("with '.' for decimals"), "{err}");
}

#[test]
fn exponent_notation_is_refused_for_exact_types() {
    for ty in [
        SqlType::Integer,
        SqlType::BigInt,
        numeric(12, 2),
        ANY_NUMERIC,
    ] {
        let err = c(&text("1.23457E+11"), &ty).unwrap_err();
        assert!(err.contains("exponent notation"), "{ty}: {err}");
    }
}

#[test]
fn each_integer_type_checks_its_own_range() {
    let smallint = &SqlType::SmallInt;
    assert_eq!(c(&Cell::Int(32767), smallint), Ok(Value::Int(32767)));
    assert_eq!(c(&text("-32768"), smallint), Ok(Value::Int(-32768)));
    assert_eq!(
        c(&Cell::Int(32768), smallint).unwrap_err(),
        "32768 is out of range for smallint"
    );
    assert_eq!(
        c(&Cell::Float(-40000.0), smallint).unwrap_err(),
        "-40000 is out of range for smallint"
    );
    assert_eq!(
        c(&Cell::Int(3_000_000_000), &SqlType::Integer).unwrap_err(),
        "3000000000 is out of range for integer"
    );
    assert_eq!(
        c(&Cell::Int(3_000_000_000), &SqlType::BigInt),
        Ok(Value::Int(3_000_000_000))
    );
    assert_eq!(
        c(&text("9223372036854775807"), &SqlType::BigInt),
        Ok(Value::Int(i64::MAX))
    );
    assert_eq!(
        c(&text("-9223372036854775808"), &SqlType::BigInt),
        Ok(Value::Int(i64::MIN))
    );
    for big in ["9223372036854775808", "123456789012345678901234567890"] {
        let err = c(&text(big), &SqlType::BigInt).unwrap_err();
        assert_eq!(err, format!("{big} is out of range for bigint"));
    }
}

#[test]
fn a_digit_string_beyond_2_pow_53_is_exact_in_bigint() {
    let n = (1_i64 << 53) + 1;
    assert_eq!(
        c(&text(&n.to_string()), &SqlType::BigInt),
        Ok(Value::Int(n))
    );
}

#[test]
fn numeric_keeps_exact_digits_and_applies_the_scale() {
    let ty = numeric(12, 2);
    let n = |s: &str| Ok(Value::Numeric(s.into()));
    assert_eq!(c(&text("12.3"), &ty), n("12.30"));
    assert_eq!(c(&text("-0.5"), &ty), n("-0.50"));
    assert_eq!(c(&text("007.10"), &ty), n("7.10"));
    assert_eq!(c(&text(".5"), &ty), n("0.50"));
    assert_eq!(c(&text("5."), &ty), n("5.00"));
    assert_eq!(c(&text("-0.00"), &ty), n("0.00"));
    assert_eq!(c(&Cell::Int(42), &ty), n("42.00"));
    assert_eq!(c(&text("9999999999.99"), &ty), n("9999999999.99"));
    // Extra decimals are accepted only when they are zeros.
    assert_eq!(c(&text("1.2300"), &ty), n("1.23"));
    assert_eq!(c(&text("2.0"), &numeric(5, 0)), n("2"));
}

#[test]
fn a_float_artefact_becomes_the_number_the_sheet_shows_in_numeric() {
    let f = 0.1 + 0.2;
    assert_eq!(f.to_string(), "0.30000000000000004");
    assert_eq!(
        c(&Cell::Float(f), &numeric(12, 2)),
        Ok(Value::Numeric("0.30".into()))
    );
    assert_eq!(
        c(&Cell::Float(f), &ANY_NUMERIC),
        Ok(Value::Numeric("0.3".into()))
    );
    assert_eq!(
        c(&Cell::Float(5551234567.0), &ANY_NUMERIC),
        Ok(Value::Numeric("5551234567".into()))
    );
}

#[test]
fn numeric_never_rounds_a_significant_digit() {
    let err = c(&text("12.345"), &numeric(12, 2)).unwrap_err();
    assert_eq!(
        err,
        "12.345 has 3 decimal places; numeric(12,2) holds 2 (sheetpipe does not round)"
    );
    let err = c(&Cell::Float(1.005), &numeric(12, 2)).unwrap_err();
    assert!(err.starts_with("1.005 has 3 decimal places"), "{err}");
    let err = c(&text("1.5"), &numeric(5, 0)).unwrap_err();
    assert!(err.contains("numeric(5,0) holds 0"), "{err}");
}

#[test]
fn numeric_refuses_too_many_integer_digits() {
    let err = c(&text("12345678901"), &numeric(12, 2)).unwrap_err();
    assert_eq!(
        err,
        "12345678901 has 11 digits before the decimal point; numeric(12,2) holds at most 10"
    );
    let precision_only = SqlType::Numeric {
        precision: Some(3),
        scale: None,
    };
    assert_eq!(
        c(&text("999"), &precision_only),
        Ok(Value::Numeric("999".into()))
    );
    assert!(c(&text("1000"), &precision_only).is_err());
    // numeric(2,5) holds values below 0.001.
    assert_eq!(
        c(&text("0.00099"), &numeric(2, 5)),
        Ok(Value::Numeric("0.00099".into()))
    );
    let err = c(&text("0.001"), &numeric(2, 5)).unwrap_err();
    assert!(err.contains("below 1e-3"), "{err}");
}

#[test]
fn unconstrained_numeric_keeps_every_digit_as_written() {
    let long = "123456789012345678901234567890.000100";
    assert_eq!(
        c(&text(long), &ANY_NUMERIC),
        Ok(Value::Numeric(long.into()))
    );
    assert_eq!(
        c(&text("+00.50"), &ANY_NUMERIC),
        Ok(Value::Numeric("0.50".into()))
    );
}

#[test]
fn numeric_refuses_booleans_and_dates() {
    for cell in [
        Cell::Bool(false),
        Cell::DateTime("2024-01-02T10:00:00".into()),
    ] {
        assert!(c(&cell, &numeric(12, 2)).is_err(), "{cell:?}");
    }
}

#[test]
fn double_takes_a_float_cell_as_is_and_text_only_when_exact() {
    let d = &SqlType::Double;
    let f = 0.1 + 0.2;
    assert_eq!(c(&Cell::Float(f), d), Ok(Value::Float(f)));
    assert_eq!(c(&Cell::Int(-12), d), Ok(Value::Float(-12.0)));
    assert_eq!(c(&text("0.1"), d), Ok(Value::Float(0.1)));
    assert_eq!(c(&text("1.5e3"), d), Ok(Value::Float(1500.0)));
    assert_eq!(c(&text("-2.50"), d), Ok(Value::Float(-2.5)));
    assert_eq!(c(&text("1e20"), d), Ok(Value::Float(1e20)));
    assert_eq!(
        c(&text("9007199254740992"), d),
        Ok(Value::Float(9007199254740992.0))
    );
}

#[test]
fn a_digit_string_a_double_cannot_hold_is_refused_naming_why() {
    let d = &SqlType::Double;
    let err = c(&text("9007199254740993"), d).unwrap_err();
    assert_eq!(
        err,
        "9007199254740993 would be stored as 9007199254740992 in double precision, losing digits; use numeric"
    );
    let err = c(&Cell::Int((1 << 53) + 1), d).unwrap_err();
    assert!(err.contains("losing digits"), "{err}");
    for lossy in ["1.234567890123456789", "12345678901234567890", "1e-400"] {
        assert!(
            c(&text(lossy), d).unwrap_err().contains("losing digits"),
            "{lossy}"
        );
    }
    assert_eq!(
        c(&text("1e400"), d).unwrap_err(),
        "1e400 is out of range for double precision"
    );
}

#[test]
fn real_takes_only_what_survives_a_32_bit_float() {
    let r = &SqlType::Real;
    assert_eq!(c(&Cell::Float(0.1), r), Ok(Value::Float(0.1)));
    assert_eq!(c(&Cell::Float(0.1 + 0.2), r), Ok(Value::Float(0.1 + 0.2)));
    assert_eq!(c(&text("123.456"), r), Ok(Value::Float(123.456)));
    assert_eq!(c(&Cell::Int(16_777_216), r), Ok(Value::Float(16_777_216.0)));
    let err = c(&Cell::Int(16_777_217), r).unwrap_err();
    assert_eq!(
        err,
        "16777217 would be stored as 16777216 in real, losing digits; use numeric or double precision"
    );
    assert!(c(&Cell::Float(1.23456789), r).is_err());
    assert!(c(&text("1e39"), r)
        .unwrap_err()
        .contains("out of range for real"));
}

#[test]
fn float_columns_refuse_booleans_dates_and_words() {
    for ty in [SqlType::Real, SqlType::Double] {
        assert_eq!(
            c(&Cell::Bool(true), &ty).unwrap_err(),
            "TRUE is a boolean, not a number"
        );
        assert!(c(&Cell::DateTime("2024-01-02".into()), &ty).is_err());
        for word in ["NaN", "inf", "Infinity", "1,5"] {
            assert!(c(&text(word), &ty).is_err(), "{word}");
        }
        assert!(c(&Cell::Float(f64::NAN), &ty).is_err());
    }
}

#[test]
fn floats_take_every_digit_they_can_hold_back_exactly() {
    let d = &SqlType::Double;
    for exact in [
        "0.123456789012345",
        "0.30000000000000004",
        "-1.7976931348623157e308",
        "5e-324",
    ] {
        let want: f64 = exact.parse().expect("a float");
        assert_eq!(c(&text(exact), d), Ok(Value::Float(want)), "{exact}");
    }
    let r = &SqlType::Real;
    for exact in ["1234567", "0.0001234", "-3.4028235e38", "0.000"] {
        let want: f64 = exact.parse().expect("a float");
        assert_eq!(c(&text(exact), r), Ok(Value::Float(want)), "{exact}");
    }
    assert!(c(&text("1.23456789"), r).is_err());
    assert!(c(&text("1e-46"), r).is_err());
}

/// The whole-float shortcut of integer columns: the same values and the
/// same refusals as the text path, -0 included.
#[test]
fn whole_float_cells_reach_integer_columns_without_text() {
    assert_eq!(c(&Cell::Float(-0.0), &SqlType::Integer), Ok(Value::Int(0)));
    let big = 999_999_999_999_999.0;
    assert_eq!(
        c(&Cell::Float(big), &SqlType::BigInt),
        Ok(Value::Int(999_999_999_999_999))
    );
    assert_eq!(
        c(&Cell::Float(3e9), &SqlType::Integer),
        Err("3000000000 is out of range for integer".into())
    );
    assert_eq!(
        c(&Cell::Float(40_000.0), &SqlType::SmallInt),
        Err("40000 is out of range for smallint".into())
    );
    // 2^53 + 2 is past the shortcut (≥ 10^15): the text path, as before.
    assert_eq!(
        c(&Cell::Float(9_007_199_254_740_994.0), &SqlType::BigInt),
        Ok(Value::Int(9_007_199_254_740_990))
    );
}

/// Amounts as a typed sheet holds them (cents / 100 as a double) encode
/// for numeric(12,2) to exactly the bytes of the amount written as text.
#[test]
fn float_amounts_encode_as_their_two_decimals() {
    use crate::sink::postgres::encode::put_field;
    use rand::{Rng, SeedableRng};
    let ty = numeric(12, 2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    for _ in 0..20_000 {
        let cents: i64 = rng.gen_range(-99_999_999_999..100_000_000_000);
        let written = format!(
            "{}{}.{:02}",
            if cents < 0 { "-" } else { "" },
            cents.abs() / 100,
            cents.abs() % 100
        );
        let (mut a, mut b) = (bytes::BytesMut::new(), bytes::BytesMut::new());
        let from_float = c(&Cell::Float(cents as f64 / 100.0), &ty).unwrap();
        put_field(&mut a, &from_float, &ty).unwrap();
        put_field(&mut b, &c(&text(&written), &ty).unwrap(), &ty).unwrap();
        assert_eq!(a, b, "{written}");
    }
}
