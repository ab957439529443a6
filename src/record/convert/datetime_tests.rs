//! Dates and times, cell kind by cell kind: date, timestamp, timestamptz
//! and time, from the reader's date cells, ISO 8601 text and text in a
//! `--date-format` layout.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use super::tests::{c, text};
use super::{convert, ConvertOptions};
use crate::model::{Cell, SqlType, Value};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid")
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> NaiveDateTime {
    date(y, m, d).and_hms_opt(h, min, s).expect("valid")
}

fn hms(h: u32, m: u32, s: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, s).expect("valid")
}

fn utc(t: NaiveDateTime) -> Value {
    Value::TimestampTz(DateTime::<Utc>::from_naive_utc_and_offset(t, Utc))
}

fn dt(s: &str) -> Cell {
    Cell::DateTime(s.into())
}

fn with_format(cell: &Cell, ty: &SqlType, fmt: &str) -> Result<Value, String> {
    let opts = ConvertOptions {
        date_format: Some(fmt.into()),
    };
    convert(cell, ty, &opts)
}

#[test]
fn a_date_column_takes_date_cells_and_iso_text() {
    let d = &SqlType::Date;
    assert_eq!(c(&dt("2024-01-02"), d), Ok(Value::Date(date(2024, 1, 2))));
    assert_eq!(
        c(&text("2024-02-29"), d),
        Ok(Value::Date(date(2024, 2, 29)))
    );
    // A date-time at midnight loses nothing.
    assert_eq!(
        c(&dt("2024-01-02T00:00:00"), d),
        Ok(Value::Date(date(2024, 1, 2)))
    );
    assert_eq!(c(&text("1900-01-01"), d), Ok(Value::Date(date(1900, 1, 1))));
}

#[test]
fn dates_from_a_1904_workbook_arrive_as_the_readers_iso_text() {
    // The reader applies the date system (source/cells.rs tests both):
    // serial 0 of a 1904 workbook is this date cell.
    assert_eq!(
        c(&dt("1904-01-01"), &SqlType::Date),
        Ok(Value::Date(date(1904, 1, 1)))
    );
    let ms = date(2024, 1, 2)
        .and_hms_milli_opt(12, 0, 0, 500)
        .expect("valid");
    assert_eq!(
        c(&dt("2024-01-02T12:00:00.500"), &SqlType::Timestamp),
        Ok(Value::Timestamp(ms))
    );
}

#[test]
fn a_date_column_refuses_what_would_lose_a_time_of_day() {
    let d = &SqlType::Date;
    let err = c(&dt("2024-01-02T10:30:00"), d).unwrap_err();
    assert_eq!(
        err,
        "2024-01-02T10:30:00 has a time of day (10:30:00); a date column would lose it"
    );
    assert_eq!(
        c(&dt("10:30:00"), d).unwrap_err(),
        "10:30:00 is a time of day, not a date"
    );
    assert_eq!(
        c(&dt("PT36H0M0S"), d).unwrap_err(),
        "PT36H0M0S is a duration, not a date"
    );
}

#[test]
fn impossible_dates_are_refused_naming_what_is_wrong() {
    let d = &SqlType::Date;
    assert_eq!(
        c(&text("2024-13-01"), d).unwrap_err(),
        "2024-13-01 is not a valid date: there is no month 13"
    );
    assert_eq!(
        c(&text("2023-02-29"), d).unwrap_err(),
        "2023-02-29 is not a valid date: February 2023 has 28 days"
    );
    assert!(c(&text("2024-04-31"), d)
        .unwrap_err()
        .contains("April 2024 has 30 days"));
    assert!(c(&text("2024-01-02T25:00:00"), &SqlType::Timestamp)
        .unwrap_err()
        .contains("is not a valid time of day"));
    assert!(c(&text("23:59:60"), &SqlType::Time).is_err());
}

#[test]
fn day_first_text_without_a_date_format_is_refused_with_a_hint() {
    for ty in [SqlType::Date, SqlType::Timestamp, SqlType::TimestampTz] {
        let err = c(&text("03/04/2024"), &ty).unwrap_err();
        assert!(
            err.starts_with("'03/04/2024' is not an ISO 8601 date"),
            "{err}"
        );
        assert!(err.contains("pass --date-format"), "{err}");
        assert!(err.contains("never guessed"), "{err}");
    }
    assert!(c(&text("2024/01/02"), &SqlType::Date).is_err());
    assert!(c(&text("next tuesday"), &SqlType::Date).is_err());
}

#[test]
fn a_date_format_reads_other_layouts_and_iso_still_works() {
    let d = &SqlType::Date;
    assert_eq!(
        with_format(&text("03/04/2024"), d, "%d/%m/%Y"),
        Ok(Value::Date(date(2024, 4, 3)))
    );
    assert_eq!(
        with_format(&text("03/04/2024"), d, "%m/%d/%Y"),
        Ok(Value::Date(date(2024, 3, 4)))
    );
    assert_eq!(
        with_format(&text("2024-01-02"), d, "%d/%m/%Y"),
        Ok(Value::Date(date(2024, 1, 2)))
    );
    let ts = &SqlType::Timestamp;
    assert_eq!(
        with_format(&text("03.04.2024 17:05"), ts, "%d.%m.%Y %H:%M"),
        Ok(Value::Timestamp(at(2024, 4, 3, 17, 5, 0)))
    );
    assert_eq!(
        with_format(&text("03/04/2024"), ts, "%d/%m/%Y"),
        Ok(Value::Timestamp(at(2024, 4, 3, 0, 0, 0)))
    );
    let err = with_format(&text("13/13/2024"), d, "%d/%m/%Y").unwrap_err();
    assert_eq!(
        err,
        "'13/13/2024' is neither ISO 8601 nor in the layout of --date-format %d/%m/%Y"
    );
}

#[test]
fn a_timestamp_column_takes_date_times_and_dates_at_midnight() {
    let ts = &SqlType::Timestamp;
    let want = |t| Ok(Value::Timestamp(t));
    assert_eq!(
        c(&dt("2024-01-02T10:30:05"), ts),
        want(at(2024, 1, 2, 10, 30, 5))
    );
    assert_eq!(c(&dt("2024-01-02"), ts), want(at(2024, 1, 2, 0, 0, 0)));
    assert_eq!(
        c(&text("2024-01-02 10:30"), ts),
        want(at(2024, 1, 2, 10, 30, 0))
    );
    let frac = date(2024, 1, 2)
        .and_hms_micro_opt(10, 30, 5, 123_456)
        .expect("valid");
    assert_eq!(c(&text("2024-01-02T10:30:05.123456"), ts), want(frac));
    assert_eq!(c(&text("2024-01-02T10:30:05.123456000"), ts), want(frac));
}

#[test]
fn a_timestamp_refuses_times_alone_offsets_and_sub_microseconds() {
    let ts = &SqlType::Timestamp;
    assert_eq!(
        c(&dt("10:30:00"), ts).unwrap_err(),
        "10:30:00 is a time of day without a date"
    );
    let err = c(&text("2024-01-02T10:30:00+02:00"), ts).unwrap_err();
    assert!(
        err.contains("has a UTC offset (+02:00)") && err.contains("use timestamptz"),
        "{err}"
    );
    let err = c(&text("2024-01-02T10:30:00.1234567"), ts).unwrap_err();
    assert!(
        err.contains("more than 6 decimal places of seconds"),
        "{err}"
    );
    assert!(c(&dt("PT1H0M0S"), ts)
        .unwrap_err()
        .contains("is a duration"));
}

#[test]
fn timestamptz_reads_naive_values_as_utc_and_converts_offsets() {
    let tz = &SqlType::TimestampTz;
    assert_eq!(
        c(&dt("2024-01-02T10:30:00"), tz),
        Ok(utc(at(2024, 1, 2, 10, 30, 0)))
    );
    assert_eq!(c(&dt("2024-01-02"), tz), Ok(utc(at(2024, 1, 2, 0, 0, 0))));
    assert_eq!(
        c(&text("2024-01-02T10:30:00Z"), tz),
        Ok(utc(at(2024, 1, 2, 10, 30, 0)))
    );
    assert_eq!(
        c(&text("2024-01-02T10:30:00+02:00"), tz),
        Ok(utc(at(2024, 1, 2, 8, 30, 0)))
    );
    assert_eq!(
        c(&text("2024-01-02 01:00:00-0530"), tz),
        Ok(utc(at(2024, 1, 2, 6, 30, 0)))
    );
    assert_eq!(
        c(&text("2024-01-01T23:00:00-03"), tz),
        Ok(utc(at(2024, 1, 2, 2, 0, 0)))
    );
    assert!(c(&text("2024-01-02T10:30:00+25:00"), tz).is_err());
}

#[test]
fn a_time_column_takes_times_day_zero_date_times_and_short_durations() {
    let t = &SqlType::Time;
    assert_eq!(c(&dt("10:30:00"), t), Ok(Value::Time(hms(10, 30, 0))));
    assert_eq!(c(&text("07:05"), t), Ok(Value::Time(hms(7, 5, 0))));
    assert_eq!(
        c(&dt("1899-12-31T10:30:00"), t),
        Ok(Value::Time(hms(10, 30, 0)))
    );
    assert_eq!(
        c(&dt("1899-12-30T23:59:59"), t),
        Ok(Value::Time(hms(23, 59, 59)))
    );
    // ODS time cells arrive as durations.
    assert_eq!(c(&text("PT12H30M00S"), t), Ok(Value::Time(hms(12, 30, 0))));
    let ms = NaiveTime::from_hms_milli_opt(0, 0, 1, 500).expect("valid");
    assert_eq!(c(&dt("PT0H0M1.500S"), t), Ok(Value::Time(ms)));
    let us = NaiveTime::from_hms_micro_opt(10, 10, 10, 123_456).expect("valid");
    assert_eq!(c(&text("PT10H10M10.123456S"), t), Ok(Value::Time(us)));
    assert_eq!(c(&text("P0DT1H"), t), Ok(Value::Time(hms(1, 0, 0))));
    let err = c(&text("PT1H0M0.1234567S"), t).unwrap_err();
    assert!(err.contains("more than 6 decimal places"), "{err}");
    assert!(c(&text("PT1.5H"), t).is_err());
}

#[test]
fn a_time_column_refuses_dates_long_durations_and_numbers() {
    let t = &SqlType::Time;
    let err = c(&dt("2024-01-02T10:30:00"), t).unwrap_err();
    assert_eq!(
        err,
        "2024-01-02T10:30:00 has a date (2024-01-02); a time column would lose it"
    );
    assert_eq!(
        c(&dt("2024-01-02"), t).unwrap_err(),
        "2024-01-02 is a date, not a time of day"
    );
    assert!(c(&dt("PT36H0M0S"), t)
        .unwrap_err()
        .contains("outside 0 to 24 hours"));
    assert!(c(&dt("-PT1H0M0S"), t).is_err());
    let err = c(&Cell::Float(0.5), t).unwrap_err();
    assert_eq!(
        err,
        "0.5 is a number, not a time; format the cell as a time"
    );
    assert!(c(&text("10:30 pm"), t)
        .unwrap_err()
        .contains("--date-format"));
}

#[test]
fn a_number_is_not_a_date() {
    for ty in [SqlType::Date, SqlType::Timestamp, SqlType::TimestampTz] {
        let err = c(&Cell::Float(45293.0), &ty).unwrap_err();
        assert_eq!(
            err,
            "45293 is a number, not a date; format the cell as a date"
        );
        assert!(c(&Cell::Int(20240102), &ty).is_err());
        let err = c(&Cell::Bool(true), &ty).unwrap_err();
        assert_eq!(err, "TRUE is a boolean, not a date or time");
    }
}

#[test]
fn a_date_cell_with_text_that_is_not_iso_is_refused_as_such() {
    let err = c(&dt("sometime"), &SqlType::Date).unwrap_err();
    assert_eq!(
        err,
        "the date cell holds 'sometime', which is not ISO 8601 date/time text"
    );
}

#[test]
fn a_date_format_is_checked_once_before_any_row() {
    for good in [
        "%d/%m/%Y",
        "%m/%d/%Y %H:%M",
        "%d.%m.%Y %H:%M:%S %z",
        "%H.%M",
    ] {
        let opts = ConvertOptions::with_date_format(good).unwrap();
        assert_eq!(opts.date_format.as_deref(), Some(good));
    }
    let err = ConvertOptions::with_date_format("%d/%m/%Q").unwrap_err();
    assert!(err.contains("is not a valid format"), "{err}");
    let err = ConvertOptions::with_date_format("%d/%m").unwrap_err();
    assert!(err.contains("does not name a whole date"), "{err}");
    assert!(err.contains("'15/03'"), "{err}");
}
