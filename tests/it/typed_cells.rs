//! Real cells through the real readers into typed values: a workbook
//! written by rust_xlsxwriter (and the same file switched to the 1904 date
//! system), the public corpus's date files, and CSV text — each cell
//! converted for a column type exactly as an import converts it.

use std::ops::ControlFlow;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rust_xlsxwriter::{ExcelDateTime, Format, Formula};
use sheetpipe::model::{Cell, SqlType, Value};
use sheetpipe::record::convert::{convert, ConvertOptions};
use sheetpipe::source::{self, SourceOptions};

use crate::helpers::tempdir;
use crate::values::{patch_zip, xlsx};

/// Every row's cells, by row number (1-based) and column (0-based).
fn cells(path: &Path) -> Vec<Vec<Cell>> {
    let mut reader = source::open(path, &SourceOptions::default()).unwrap();
    let mut rows = Vec::new();
    reader
        .read(&mut |row| {
            let at = row.number as usize - 1;
            if rows.len() <= at {
                rows.resize(at + 1, Vec::new());
            }
            rows[at] = row.cells;
            ControlFlow::Continue(())
        })
        .unwrap();
    rows
}

fn to(cell: &Cell, ty: &SqlType) -> Result<Value, String> {
    convert(cell, ty, &ConvertOptions::default())
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn stamp(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    day(y, m, d).and_hms_opt(h, min, 0).unwrap()
}

fn numeric(p: u16, s: u16) -> SqlType {
    SqlType::Numeric {
        precision: Some(p),
        scale: Some(s),
    }
}

/// One row of every kind of cell: A 42, B 3.5, C "007", D TRUE,
/// E 2024-03-15, F 2024-03-15 10:30, G 18:00, H =0.1+0.2, I a 16-digit
/// code as text, J #DIV/0!.
fn typed_workbook(path: &Path) {
    xlsx(path, |ws| {
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let when = Format::new().set_num_format("yyyy-mm-dd hh:mm");
        let time = Format::new().set_num_format("hh:mm");
        ws.write_number(0, 0, 42.0).unwrap();
        ws.write_number(0, 1, 3.5).unwrap();
        ws.write_string(0, 2, "007").unwrap();
        ws.write_boolean(0, 3, true).unwrap();
        let d = ExcelDateTime::from_ymd(2024, 3, 15).unwrap();
        ws.write_datetime_with_format(0, 4, &d, &date).unwrap();
        let dt = d.clone().and_hms(10, 30, 0).unwrap();
        ws.write_datetime_with_format(0, 5, &dt, &when).unwrap();
        let t = ExcelDateTime::from_hms(18, 0, 0).unwrap();
        ws.write_datetime_with_format(0, 6, &t, &time).unwrap();
        let sum = Formula::new("=0.1+0.2").set_result("0.30000000000000004");
        ws.write_formula(0, 7, sum).unwrap();
        ws.write_string(0, 8, "9007199254740993").unwrap();
        let div = Formula::new("=1/0").set_result("#DIV/0!");
        ws.write_formula(0, 9, div).unwrap();
    });
}

#[test]
fn xlsx_numbers_text_and_booleans_convert_exactly_or_say_why_not() {
    let dir = tempdir();
    let file = dir.path().join("typed.xlsx");
    typed_workbook(&file);
    let row = &cells(&file)[0];
    assert_eq!(to(&row[0], &SqlType::Integer), Ok(Value::Int(42)));
    assert_eq!(
        to(&row[0], &numeric(12, 2)),
        Ok(Value::Numeric("42.00".into()))
    );
    assert_eq!(to(&row[0], &SqlType::Text), Ok(Value::Text("42".into())));
    let err = to(&row[1], &SqlType::Integer).unwrap_err();
    assert_eq!(
        err,
        "3.5 is not a whole number; integer holds whole numbers only"
    );
    assert_eq!(to(&row[1], &SqlType::Double), Ok(Value::Float(3.5)));
    assert_eq!(to(&row[2], &SqlType::Integer), Ok(Value::Int(7)));
    assert_eq!(to(&row[2], &SqlType::Text), Ok(Value::Text("007".into())));
    assert_eq!(to(&row[3], &SqlType::Boolean), Ok(Value::Bool(true)));
    assert_eq!(
        to(&row[3], &SqlType::Integer).unwrap_err(),
        "TRUE is a boolean, not a number"
    );
    assert_eq!(
        to(&row[7], &numeric(12, 2)),
        Ok(Value::Numeric("0.30".into()))
    );
    assert_eq!(to(&row[7], &SqlType::Double), Ok(Value::Float(0.1 + 0.2)));
    assert_eq!(
        to(&row[8], &SqlType::BigInt),
        Ok(Value::Int(9_007_199_254_740_993))
    );
    assert!(to(&row[8], &SqlType::Double)
        .unwrap_err()
        .contains("losing digits"));
    for ty in [SqlType::Integer, SqlType::Date, SqlType::Text] {
        assert_eq!(
            to(&row[9], &ty).unwrap_err(),
            "holds the error value #DIV/0!",
            "{ty}"
        );
    }
}

#[test]
fn xlsx_dates_datetimes_and_times_convert_in_the_1900_system() {
    let dir = tempdir();
    let file = dir.path().join("typed.xlsx");
    typed_workbook(&file);
    let row = &cells(&file)[0];
    assert_eq!(
        to(&row[4], &SqlType::Date),
        Ok(Value::Date(day(2024, 3, 15)))
    );
    assert_eq!(
        to(&row[4], &SqlType::Timestamp),
        Ok(Value::Timestamp(stamp(2024, 3, 15, 0, 0)))
    );
    let err = to(&row[4], &SqlType::Integer).unwrap_err();
    assert_eq!(err, "2024-03-15 is a date, not a number");
    assert_eq!(
        to(&row[5], &SqlType::Timestamp),
        Ok(Value::Timestamp(stamp(2024, 3, 15, 10, 30)))
    );
    assert!(to(&row[5], &SqlType::Date)
        .unwrap_err()
        .contains("a date column would lose it"));
    let six = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
    assert_eq!(to(&row[6], &SqlType::Time), Ok(Value::Time(six)));
    assert_eq!(
        to(&row[6], &SqlType::Date).unwrap_err(),
        "18:00:00 is a time of day, not a date"
    );
}

#[test]
fn the_same_cells_in_a_1904_workbook_give_1904_dates_and_the_same_times() {
    let dir = tempdir();
    let file = dir.path().join("typed1904.xlsx");
    typed_workbook(&file);
    patch_zip(
        &file,
        "xl/workbook.xml",
        "<workbookPr ",
        "<workbookPr date1904=\"1\" ",
    );
    let row = &cells(&file)[0];
    // The serials rust_xlsxwriter wrote count from 1900; read from 1904
    // they are 1462 days later, while a time without a date stays a time.
    assert_eq!(
        to(&row[4], &SqlType::Date),
        Ok(Value::Date(day(2028, 3, 16)))
    );
    assert_eq!(
        to(&row[5], &SqlType::Timestamp),
        Ok(Value::Timestamp(stamp(2028, 3, 16, 10, 30)))
    );
    let six = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
    assert_eq!(to(&row[6], &SqlType::Time), Ok(Value::Time(six)));
}

#[test]
fn corpus_date_files_convert_in_every_format_and_date_system() {
    let Some(dir) = crate::corpus::corpus_or_skip_part(None) else {
        return;
    };
    let corpus = |f: &str| dir.join(f);
    for file in ["date.xlsx", "date_1904.xlsx", "date.xlsb", "date_1904.xls"] {
        let rows = cells(&corpus(&format!("calamine-tests/tests/{file}")));
        assert_eq!(
            to(&rows[0][0], &SqlType::Date),
            Ok(Value::Date(day(2021, 1, 1))),
            "{file}"
        );
        let err = to(&rows[2][0], &SqlType::Time).unwrap_err();
        assert!(err.contains("outside 0 to 24 hours"), "{file}: {err}");
    }
    let ods = cells(&corpus("calamine-tests/tests/date.ods"));
    let at = day(2021, 1, 1).and_hms_opt(10, 10, 10).unwrap();
    assert_eq!(
        to(&ods[1][0], &SqlType::Timestamp),
        Ok(Value::Timestamp(at))
    );
    let micro = NaiveTime::from_hms_micro_opt(10, 10, 10, 123_456).unwrap();
    assert_eq!(to(&ods[3][0], &SqlType::Time), Ok(Value::Time(micro)));
    let iso = cells(&corpus("calamine-tests/tests/date_iso.xlsx"));
    assert_eq!(
        to(&iso[0][0], &SqlType::Date),
        Ok(Value::Date(day(2021, 1, 1)))
    );
    assert_eq!(
        to(&iso[1][0], &SqlType::Timestamp),
        Ok(Value::Timestamp(at))
    );
    assert_eq!(to(&iso[2][0], &SqlType::Time), Ok(Value::Time(at.time())));
}

#[test]
fn csv_text_is_iso_always_and_another_layout_only_with_a_date_format() {
    let dir = tempdir();
    let file = dir.path().join("dates.csv");
    std::fs::write(&file, "2024-03-15,15/03/2024,0042,1e3\n").unwrap();
    let row = &cells(&file)[0];
    assert_eq!(
        to(&row[0], &SqlType::Date),
        Ok(Value::Date(day(2024, 3, 15)))
    );
    let err = to(&row[1], &SqlType::Date).unwrap_err();
    assert!(err.contains("--date-format"), "{err}");
    let day_first = ConvertOptions {
        date_format: Some("%d/%m/%Y".into()),
    };
    assert_eq!(
        convert(&row[1], &SqlType::Date, &day_first),
        Ok(Value::Date(day(2024, 3, 15)))
    );
    assert_eq!(to(&row[2], &SqlType::Text), Ok(Value::Text("0042".into())));
    assert_eq!(to(&row[2], &SqlType::SmallInt), Ok(Value::Int(42)));
    assert_eq!(to(&row[3], &SqlType::Double), Ok(Value::Float(1000.0)));
    assert!(to(&row[3], &SqlType::Integer)
        .unwrap_err()
        .contains("exponent notation"));
}
