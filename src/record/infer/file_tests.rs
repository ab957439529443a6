//! Inference over real files: an orders workbook written by
//! rust_xlsxwriter (number, date, date-time, boolean and text cells) and
//! the same rows as CSV (all text), each read by sheetpipe's own readers.

use super::tests::infer;
use super::*;
use crate::model::Cell;
use crate::record::cell_text;
use crate::source::{self, SourceOptions};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use std::path::Path;

const HEADERS: [&str; 10] = [
    "Order ID",
    "Order Date",
    "Amount (€)",
    "Customer",
    "ZIP",
    "Paid",
    "Shipped At",
    "Qty",
    "",
    "Phone",
];

/// The columns the file should give, whichever format holds it.
fn expected() -> Vec<String> {
    [
        "order_id bigint",
        "order_date date",
        "amount numeric(18,2)",
        "customer text",
        "zip text",
        "paid boolean",
        "shipped_at timestamp",
        "qty text",
        "column_i integer",
        "phone text",
    ]
    .map(String::from)
    .to_vec()
}

/// Row `i` (0-based data row) of the orders sheet; the last row's `Qty`
/// is `n/a`, so that column is text however many numbers come before.
fn zip(i: u32) -> String {
    format!("{:05}", 1000 + i * 7)
}

fn write_xlsx(path: &Path, rows: u32) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for i in 0..rows {
        let r = i + 1;
        ws.write_number(r, 0, 3_000_000_000.0 + f64::from(i))
            .unwrap();
        let day = ExcelDateTime::from_ymd(2024, 1 + (i % 12) as u8, 1 + (i % 28) as u8).unwrap();
        ws.write_datetime_with_format(r, 1, &day, &date).unwrap();
        ws.write_number(r, 2, f64::from(i) * 0.1 + 0.25).unwrap();
        ws.write_string(r, 3, format!("Customer {i}")).unwrap();
        ws.write_string(r, 4, zip(i)).unwrap();
        ws.write_boolean(r, 5, i % 2 == 0).unwrap();
        let at = day.clone().and_hms(10, (i % 60) as u8, 0).unwrap();
        ws.write_datetime_with_format(r, 6, &at, &stamp).unwrap();
        match i + 1 == rows {
            true => ws.write_string(r, 7, "n/a").unwrap(),
            false => ws.write_number(r, 7, f64::from(i % 9)).unwrap(),
        };
        ws.write_number(r, 8, f64::from(i)).unwrap();
        ws.write_string(r, 9, format!("+1 555 {:04}", i)).unwrap();
    }
    wb.save(path).unwrap();
}

fn write_csv(path: &Path, rows: u32) {
    let mut out = csv::Writer::from_path(path).unwrap();
    out.write_record(HEADERS).unwrap();
    for i in 0..rows {
        let day = format!("2024-{:02}-{:02}", 1 + i % 12, 1 + i % 28);
        let qty = match i + 1 == rows {
            true => "n/a".to_string(),
            false => (i % 9).to_string(),
        };
        out.write_record([
            (3_000_000_000u64 + u64::from(i)).to_string(),
            day.clone(),
            format!("{:.2}", f64::from(i) * 0.1 + 0.25),
            format!("Customer {i}"),
            zip(i),
            ["TRUE", "false"][i as usize % 2].to_string(),
            format!("{day} 10:{:02}:00", i % 60),
            qty,
            i.to_string(),
            format!("+1 555 {:04}", i),
        ])
        .unwrap();
    }
    out.flush().unwrap();
}

/// Reads `path` with sheetpipe's reader; names from row 1, types from the
/// rest (checked cell by cell against `convert` by `infer`).
fn infer_file(path: &Path) -> Vec<String> {
    let mut reader = source::open(path, &SourceOptions::default()).unwrap();
    let mut rows = Vec::new();
    reader
        .read(&mut |row| {
            rows.push(row);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    let header: Vec<String> = rows[0]
        .cells
        .iter()
        .map(|c| cell_text(c).ok().flatten().unwrap_or_default())
        .collect();
    let width = header.len();
    let columns: Vec<Vec<Cell>> = (0..width)
        .map(|c| {
            let cell = |r: &RawRow| r.cells.get(c).cloned().unwrap_or_default();
            rows[1..].iter().map(cell).collect()
        })
        .collect();
    let types = infer(&columns);
    column_names(&header)
        .iter()
        .zip(types)
        .map(|(name, ty)| format!("{name} {ty}"))
        .collect()
}

#[test]
fn an_orders_workbook_gives_the_table_a_person_would_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.xlsx");
    write_xlsx(&path, 300);
    assert_eq!(infer_file(&path), expected());
}

#[test]
fn the_same_orders_as_csv_give_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.csv");
    write_csv(&path, 300);
    assert_eq!(infer_file(&path), expected());
}
