use super::*;
use crate::model::{Cell, Value};
use crate::record::cell_text;
use crate::record::convert::{convert, ConvertOptions};
use crate::sink::sqlite::values::check_exact;

pub(super) fn t(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

pub(super) fn dt(s: &str) -> Cell {
    Cell::DateTime(s.to_string())
}

fn names(headers: &[&str]) -> Vec<String> {
    column_names(&headers.iter().map(|h| h.to_string()).collect::<Vec<_>>())
}

fn numeric(p: u16, s: u16) -> SqlType {
    SqlType::Numeric {
        precision: Some(p),
        scale: Some(s),
    }
}

/// Infers the types of `columns` (each a column's cells, top to bottom)
/// for PostgreSQL and checks the guarantee on every cell, for PostgreSQL
/// and for SQLite: it converts to its column's type, a number keeps its
/// value, and SQLite stores it exactly.
pub(super) fn infer(columns: &[Vec<Cell>]) -> Vec<SqlType> {
    infer_both(columns).0
}

/// The types inferred for SQLite (checked as [`infer`] checks).
fn infer_sqlite(columns: &[Vec<Cell>]) -> Vec<SqlType> {
    infer_both(columns).1
}

fn infer_both(columns: &[Vec<Cell>]) -> (Vec<SqlType>, Vec<SqlType>) {
    let height = columns.iter().map(Vec::len).max().unwrap_or(0);
    let mut inferrer = Inferrer::new();
    for r in 0..height {
        let cells = columns
            .iter()
            .map(|c| c.get(r).cloned().unwrap_or_default())
            .collect();
        inferrer.push(&RawRow {
            number: r as u32 + 2,
            cells,
        });
    }
    let names: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
    let postgres = inferrer.clone().finish(&names);
    let sqlite = inferrer.finish_for_sqlite(&names);
    for ((pg, lite), cells) in postgres.iter().zip(&sqlite).zip(columns) {
        for cell in cells {
            assert_survives(cell, &pg.sql_type);
            assert_survives(cell, &lite.sql_type);
            if let Ok(value) = convert(cell, &lite.sql_type, &ConvertOptions::default()) {
                check_exact(&value, &lite.sql_type)
                    .unwrap_or_else(|why| panic!("{cell:?} in SQLite: {why}"));
            }
        }
    }
    let types = |columns: Vec<Column>| columns.into_iter().map(|c| c.sql_type).collect();
    (types(postgres), types(sqlite))
}

/// `convert` accepts `cell` for `ty`, and a number or text comes out with
/// the value it went in with (so `007` can never be inferred an integer).
fn assert_survives(cell: &Cell, ty: &SqlType) {
    let Ok(Some(text)) = cell_text(cell) else {
        return; // empty, error or formula without value: no claim
    };
    let value = convert(cell, ty, &ConvertOptions::default())
        .unwrap_or_else(|why| panic!("{cell:?} does not convert to {ty}: {why}"));
    let shown = value.display();
    match value {
        Value::Int(_) | Value::Numeric(_) => assert_eq!(
            decimal_value(&shown),
            decimal_value(&text),
            "{cell:?} as {ty} became {shown}"
        ),
        Value::Text(_) => assert_eq!(shown, text, "{cell:?} as {ty}"),
        _ => {}
    }
}

/// A decimal's text without trailing zeros after its point, and zero
/// without a sign.
fn decimal_value(s: &str) -> String {
    let s = match s.contains('.') {
        true => s.trim_end_matches('0').trim_end_matches('.'),
        false => s,
    };
    match s {
        "-0" => "0".to_string(),
        s => s.to_string(),
    }
}

#[test]
fn a_column_whose_last_row_is_text_is_text() {
    let mut col: Vec<Cell> = (1..=5000).map(|i| Cell::Float(i as f64)).collect();
    col.push(t("n/a"));
    assert_eq!(infer(&[col]), [SqlType::Text]);
}

#[test]
fn leading_zeros_make_a_column_text() {
    let zip = vec![t("90210"), t("02134"), t("10001")];
    let code = vec![t("5"), t("007")];
    let decimal = vec![t("1.5"), t("01.5")];
    assert_eq!(
        infer(&[zip, code, decimal]),
        [SqlType::Text, SqlType::Text, SqlType::Text]
    );
}

#[test]
fn phone_numbers_are_text() {
    let intl = vec![t("+1 555 123 4567"), t("+15551234567")];
    let local = vec![t("555-1234"), t("555-9876")];
    let plus = vec![t("+44")];
    assert_eq!(
        infer(&[intl, local, plus]),
        [SqlType::Text, SqlType::Text, SqlType::Text]
    );
}

#[test]
fn digit_strings_beyond_2_53_are_bigint_exactly_and_beyond_i64_text() {
    let exact = vec![t("9007199254740993"), t("1")];
    let huge = vec![t("92233720368547758070"), t("1")];
    assert_eq!(infer(&[exact, huge]), [SqlType::BigInt, SqlType::Text]);
}

#[test]
fn integers_are_integer_in_i32_range_and_bigint_beyond() {
    let small = vec![Cell::Float(2147483647.0), Cell::Int(-2147483648), t("12")];
    let big = vec![Cell::Float(3000000000.0), Cell::Int(1)];
    assert_eq!(infer(&[small, big]), [SqlType::Integer, SqlType::BigInt]);
}

#[test]
fn float_artefacts_do_not_widen_the_scale() {
    let sum = vec![Cell::Float(0.1 + 0.2), Cell::Float(12.25), Cell::Float(3.0)];
    assert_eq!(infer(&[sum]), [numeric(18, 2)]);
}

#[test]
fn decimals_are_numeric_with_the_scale_written_and_headroom() {
    let amounts = vec![t("12.50"), Cell::Float(1234.5), t("-3")];
    let wide = vec![t("1234567890123456.125"), t("0.5")];
    assert_eq!(infer(&[amounts, wide]), [numeric(18, 2), numeric(19, 3)]);
}

#[test]
fn large_number_cells_are_numeric_as_excel_shows_them() {
    let col = vec![Cell::Float(1e20), Cell::Float(1234567890123456.0)];
    assert_eq!(infer(&[col]), [numeric(21, 0)]);
}

#[test]
fn decimals_beyond_15_significant_digits_are_numeric_in_postgres_and_text_in_sqlite() {
    let long = vec![t("1234567890123456.125"), t("0.5")];
    let tiny = vec![Cell::Float(1e-310)];
    let short = vec![t("12.50"), Cell::Float(0.1 + 0.2), t("123456789012345678")];
    let columns = [long, tiny, short];
    assert_eq!(
        infer(&columns),
        [numeric(19, 3), numeric(310, 310), numeric(20, 2)]
    );
    assert_eq!(
        infer_sqlite(&columns),
        [SqlType::Text, SqlType::Text, numeric(20, 2)]
    );
}

#[test]
fn mixed_dates_and_text_are_text() {
    let col = vec![dt("2024-01-15"), t("2024-02-01"), t("soon")];
    assert_eq!(infer(&[col]), [SqlType::Text]);
}

#[test]
fn date_cells_are_date_a_time_of_day_anywhere_makes_timestamp_and_times_are_time() {
    let dates = vec![dt("2024-01-15"), t("2024-02-29")];
    let stamps = vec![dt("2024-01-15"), dt("2024-01-15T10:30:00")];
    let text_stamps = vec![t("2024-01-15 10:30:00"), t("2024-01-15T10:30")];
    let times = vec![dt("10:30:00"), t("23:59:59.5"), t("09:00")];
    let durations = vec![dt("PT10H30M0S"), t("PT8H0M0.250S")];
    assert_eq!(
        infer(&[dates, stamps, text_stamps, times, durations]),
        [
            SqlType::Date,
            SqlType::Timestamp,
            SqlType::Timestamp,
            SqlType::Time,
            SqlType::Time
        ]
    );
}

#[test]
fn only_real_iso_dates_are_dates() {
    let feb30 = vec![t("2024-02-30")];
    let day_first = vec![t("15/01/2024")];
    let duration = vec![dt("PT255H10M10S")];
    let zoned = vec![t("2024-01-15T10:30:00Z"), t("2024-01-15T12:30:00+02:00")];
    let mixed_zone = vec![t("2024-01-15T10:30:00Z"), t("2024-01-15T10:30:00")];
    assert_eq!(
        infer(&[feb30, day_first, duration, zoned, mixed_zone]),
        [
            SqlType::Text,
            SqlType::Text,
            SqlType::Text,
            SqlType::TimestampTz,
            SqlType::Text
        ]
    );
}

#[test]
fn booleans_come_from_bool_cells_and_true_false_text_only() {
    let cells = vec![Cell::Bool(true), t("FALSE"), t(" true ")];
    let ones = vec![t("1"), t("0")];
    let yes = vec![t("yes"), t("no")];
    assert_eq!(
        infer(&[cells, ones, yes]),
        [SqlType::Boolean, SqlType::Integer, SqlType::Text]
    );
}

#[test]
fn uuids_are_uuid() {
    let col = vec![
        t("67e55044-10b1-426f-9247-bb680e5fe0c8"),
        t("67E55044-10B1-426F-9247-BB680E5FE0C8"),
    ];
    assert_eq!(infer(&[col]), [SqlType::Uuid]);
}

#[test]
fn empty_cells_and_errors_are_ignored_and_an_empty_column_is_text() {
    let gaps = vec![
        Cell::Empty,
        Cell::Int(4),
        t("  "),
        Cell::Error("#N/A".into()),
    ];
    let empty = vec![Cell::Empty, t(" ")];
    let errors = vec![Cell::Error("#REF!".into())];
    assert_eq!(
        infer(&[gaps, empty, errors]),
        [SqlType::Integer, SqlType::Text, SqlType::Text]
    );
}

#[test]
fn numbers_and_booleans_mixed_are_text() {
    assert_eq!(
        infer(&[vec![Cell::Int(1), Cell::Bool(true)]]),
        [SqlType::Text]
    );
}

#[test]
fn created_columns_are_nullable_without_default_and_follow_the_names() {
    let mut inferrer = Inferrer::new();
    inferrer.push(&RawRow {
        number: 2,
        cells: vec![Cell::Int(1), Cell::Empty, t("x")],
    });
    assert!(inferrer.has_values(0) && !inferrer.has_values(1) && !inferrer.has_values(5));
    let columns = inferrer.finish(&names(&["Order ID", "", "Note", "Extra"]));
    let got: Vec<String> = columns.iter().map(Column::describe).collect();
    assert_eq!(
        got,
        [
            "order_id integer",
            "column_b text",
            "note text",
            "extra text"
        ]
    );
    assert!(columns.iter().all(|c| c.nullable && !c.has_default));
}

#[test]
fn headers_become_snake_case_names() {
    assert_eq!(
        names(&[
            "Order ID",
            "Amount (€)",
            "E-Mail",
            "2024 Sales",
            "ÜberPreis"
        ]),
        [
            "order_id",
            "amount",
            "e_mail",
            "col_2024_sales",
            "uber_preis"
        ]
    );
    assert_eq!(
        names(&[
            "OrderID",
            "HTTPServer",
            "customer_Name",
            "  Straße  ",
            "Имя"
        ]),
        ["order_id", "http_server", "customer_name", "strasse", "имя"]
    );
}

#[test]
fn an_empty_header_is_named_after_its_column_letter() {
    assert_eq!(
        names(&["a", "b", "", "€", "x"]),
        ["a", "b", "column_c", "column_d", "x"]
    );
}

#[test]
fn duplicate_headers_are_numbered_without_taking_another_header_s_name() {
    assert_eq!(
        names(&["Amount", "amount", "AMOUNT", "amount_2"]),
        ["amount", "amount_3", "amount_4", "amount_2"]
    );
}

#[test]
fn names_are_cut_to_63_bytes_on_a_character_boundary_and_stay_unique() {
    let long = "é".repeat(40) + "x"; // folds to 41 bytes: kept
    let longer = "Ж".repeat(40); // 80 bytes: cut to 31 characters
    let got = names(&[&long, &longer, &longer]);
    assert_eq!(got[0], "e".repeat(40) + "x");
    assert_eq!(got[1], "ж".repeat(31));
    assert_eq!(got[2], "ж".repeat(30) + "_2");
    assert!(got.iter().all(|n| n.len() <= MAX_NAME_BYTES));
}
