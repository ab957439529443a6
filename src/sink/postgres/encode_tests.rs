//! Exact bytes of every binary encoder, against PostgreSQL's `*_send`
//! output (the numeric cases were checked with `numeric_send` in psql).

use bytes::BytesMut;
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};

use super::put_field;
use crate::model::{SqlType, Value};

fn field(value: Value, ty: SqlType) -> Vec<u8> {
    let mut buf = BytesMut::new();
    put_field(&mut buf, &value, &ty).unwrap_or_else(|e| panic!("{value:?} as {ty}: {e}"));
    buf.to_vec()
}

fn err(value: Value, ty: SqlType) -> String {
    let mut buf = BytesMut::new();
    put_field(&mut buf, &value, &ty).expect_err("must be refused")
}

/// Length prefix then payload.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

fn numeric(text: &str) -> Vec<u8> {
    field(
        Value::Numeric(text.into()),
        SqlType::Numeric {
            precision: None,
            scale: None,
        },
    )
}

/// ndigits, weight, sign, dscale, digits — as numeric_send writes them.
fn numeric_bytes(weight: i16, negative: bool, dscale: u16, digits: &[i16]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&(digits.len() as i16).to_be_bytes());
    p.extend_from_slice(&weight.to_be_bytes());
    p.extend_from_slice(&(if negative { 0x4000u16 } else { 0 }).to_be_bytes());
    p.extend_from_slice(&dscale.to_be_bytes());
    for d in digits {
        p.extend_from_slice(&d.to_be_bytes());
    }
    framed(&p)
}

#[test]
fn null_is_length_minus_one_whatever_the_type() {
    assert_eq!(field(Value::Null, SqlType::Uuid), (-1i32).to_be_bytes());
    assert_eq!(field(Value::Null, SqlType::Integer), (-1i32).to_be_bytes());
}

#[test]
fn integers_are_big_endian_in_their_width_and_range_checked() {
    assert_eq!(
        field(Value::Int(-2), SqlType::SmallInt),
        framed(&[0xff, 0xfe])
    );
    assert_eq!(
        field(Value::Int(i64::from(i32::MIN)), SqlType::Integer),
        framed(&[0x80, 0, 0, 0])
    );
    assert_eq!(
        field(Value::Int(i64::MAX), SqlType::BigInt),
        framed(&i64::MAX.to_be_bytes())
    );
    assert_eq!(
        err(Value::Int(32_768), SqlType::SmallInt),
        "32768 is out of range for smallint"
    );
    assert_eq!(
        err(Value::Int(3_000_000_000), SqlType::Integer),
        "3000000000 is out of range for integer"
    );
}

#[test]
fn floats_are_ieee_754_big_endian() {
    assert_eq!(
        field(Value::Float(1.5), SqlType::Real),
        framed(&1.5f32.to_be_bytes())
    );
    assert_eq!(
        field(Value::Float(-0.1), SqlType::Double),
        framed(&(-0.1f64).to_be_bytes())
    );
    assert_eq!(
        err(Value::Float(1e39), SqlType::Real),
        "1000000000000000000000000000000000000000 is out of range for real"
    );
}

#[test]
fn numeric_zero_has_no_digits_and_keeps_its_scale() {
    assert_eq!(numeric("0"), numeric_bytes(0, false, 0, &[]));
    assert_eq!(numeric("0.00"), numeric_bytes(0, false, 2, &[]));
    assert_eq!(numeric("-0.0"), numeric_bytes(0, false, 1, &[]));
}

#[test]
fn numeric_digits_are_base_10000_groups_aligned_on_the_point() {
    assert_eq!(numeric("-0.5"), numeric_bytes(-1, true, 1, &[5000]));
    assert_eq!(numeric("0.0001"), numeric_bytes(-1, false, 4, &[1]));
    assert_eq!(numeric("0.00001"), numeric_bytes(-2, false, 5, &[1000]));
    assert_eq!(numeric("1"), numeric_bytes(0, false, 0, &[1]));
    assert_eq!(numeric("10000"), numeric_bytes(1, false, 0, &[1]));
    assert_eq!(numeric("12.30"), numeric_bytes(0, false, 2, &[12, 3000]));
    assert_eq!(
        numeric("-123456.789"),
        numeric_bytes(1, true, 3, &[12, 3456, 7890])
    );
    assert_eq!(
        numeric("123456789012345678901234567890.12345"),
        numeric_bytes(
            7,
            false,
            5,
            &[12, 3456, 7890, 1234, 5678, 9012, 3456, 7890, 1234, 5000]
        )
    );
    assert_eq!(
        numeric("100000000.000000001"),
        numeric_bytes(2, false, 9, &[1, 0, 0, 0, 0, 1000])
    );
    assert_eq!(
        numeric("007.5"),
        numeric("7.5"),
        "leading zeros are no digits"
    );
}

#[test]
fn numeric_text_that_is_no_decimal_is_refused() {
    let ty = SqlType::Numeric {
        precision: Some(10),
        scale: Some(2),
    };
    for bad in ["", "-", ".", "1e5", "1.2.3", "12a", " 1"] {
        let e = err(Value::Numeric(bad.into()), ty.clone());
        assert!(e.contains("is not a decimal number"), "{bad:?}: {e}");
    }
}

#[test]
fn booleans_are_one_byte() {
    assert_eq!(field(Value::Bool(true), SqlType::Boolean), framed(&[1]));
    assert_eq!(field(Value::Bool(false), SqlType::Boolean), framed(&[0]));
}

#[test]
fn dates_are_days_since_2000_and_refused_before_4714_bc() {
    let d = |y, m, day| Value::Date(NaiveDate::from_ymd_opt(y, m, day).unwrap());
    assert_eq!(
        field(d(2000, 1, 1), SqlType::Date),
        framed(&0i32.to_be_bytes())
    );
    assert_eq!(
        field(d(1999, 12, 31), SqlType::Date),
        framed(&(-1i32).to_be_bytes())
    );
    assert_eq!(
        field(d(1, 1, 1), SqlType::Date),
        framed(&(-730_119i32).to_be_bytes())
    );
    assert_eq!(
        field(d(-4713, 11, 24), SqlType::Date),
        framed(&(-2_451_545i32).to_be_bytes())
    );
    assert!(err(d(-4713, 11, 23), SqlType::Date).contains("before 4714-11-24 BC"));
}

#[test]
fn timestamps_are_microseconds_since_2000_utc_for_timestamptz() {
    let t = NaiveDate::from_ymd_opt(2000, 1, 2)
        .unwrap()
        .and_hms_micro_opt(0, 0, 1, 250)
        .unwrap();
    let want = framed(&(86_400_000_000i64 + 1_000_250).to_be_bytes());
    assert_eq!(field(Value::Timestamp(t), SqlType::Timestamp), want);
    let tz = Utc.from_utc_datetime(&t);
    assert_eq!(field(Value::TimestampTz(tz), SqlType::TimestampTz), want);
    let before = NaiveDate::from_ymd_opt(-4714, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    assert!(err(Value::Timestamp(before), SqlType::Timestamp).contains("outside the range"));
}

#[test]
fn times_are_microseconds_since_midnight_rounded_from_nanoseconds() {
    let t = NaiveTime::from_hms_nano_opt(10, 30, 0, 1_500).unwrap();
    assert_eq!(
        field(Value::Time(t), SqlType::Time),
        framed(&(37_800_000_002i64).to_be_bytes())
    );
}

#[test]
fn times_past_24_00_are_refused_and_rounding_may_reach_24_00() {
    let leap = NaiveTime::from_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap();
    assert!(err(Value::Time(leap), SqlType::Time).contains("outside the range"));
    let last = NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).unwrap();
    assert_eq!(
        field(Value::Time(last), SqlType::Time),
        framed(&86_400_000_000i64.to_be_bytes()),
        "rounds up to 24:00:00, which PostgreSQL holds"
    );
}

#[test]
fn uuids_are_their_16_bytes_and_jsonb_has_a_version_byte() {
    let u = uuid::Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff);
    assert_eq!(field(Value::Uuid(u), SqlType::Uuid), framed(u.as_bytes()));
    let j = r#"{"a":"ü"}"#;
    assert_eq!(
        field(Value::Json(j.into()), SqlType::Json),
        framed(j.as_bytes())
    );
    let mut jb = vec![1u8];
    jb.extend_from_slice(j.as_bytes());
    assert_eq!(field(Value::Json(j.into()), SqlType::Jsonb), framed(&jb));
}

#[test]
fn text_types_send_utf8() {
    for ty in [
        SqlType::Text,
        SqlType::Varchar(Some(3)),
        SqlType::Char(None),
    ] {
        assert_eq!(field(Value::Text("🦆".into()), ty), framed("🦆".as_bytes()));
    }
}

#[test]
fn a_value_of_another_type_is_refused_naming_both() {
    assert_eq!(
        err(Value::Text("12".into()), SqlType::Integer),
        "a text value cannot be written to a column of type integer"
    );
    assert!(err(
        Value::Int(1),
        SqlType::Numeric {
            precision: None,
            scale: None
        }
    )
    .contains("integer value"));
    assert!(err(Value::Json("1".into()), SqlType::Text).contains("json value"));
}
