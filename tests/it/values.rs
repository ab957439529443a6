//! Excel's value semantics on real .xlsx files written here with
//! rust_xlsxwriter: what each kind of cell becomes in the table, which
//! cells reject their row and how the rejection names them, where the
//! header is, and which rows are not data.

use std::path::Path;

use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook, Worksheet};
use sheetpipe::pipeline::{self, Control, ImportJob, ImportReport, Method, Plan, Status};

use crate::helpers::{tempdir, TestDb};

/// Writes a one-sheet workbook (`Sheet1`) filled by `fill`.
pub fn xlsx(path: &Path, fill: impl FnOnce(&mut Worksheet)) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Sheet1").unwrap();
    fill(ws);
    wb.save(path).unwrap();
}

/// Rewrites one part of a zip (xlsx) file, replacing `from` by `to` — for
/// what rust_xlsxwriter cannot write: 1904 workbooks and formulas saved
/// without a cached value.
pub fn patch_zip(path: &Path, part: &str, from: &str, to: &str) {
    use std::io::{Read, Write};
    let bytes = std::fs::read(path).unwrap();
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut zout = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..zin.len() {
        let mut entry = zin.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == part {
            let text = String::from_utf8(data).unwrap();
            assert!(text.contains(from), "{part} has no {from:?}:\n{text}");
            data = text.replace(from, to).into_bytes();
        }
        zout.start_file(name, opts).unwrap();
        zout.write_all(&data).unwrap();
    }
    zout.finish().unwrap();
}

/// Imports `path` into a fresh SQLite database with `configure`d options.
pub async fn import(path: &Path, configure: impl FnOnce(&mut ImportJob)) -> (ImportReport, TestDb) {
    let db = TestDb::sqlite();
    let mut job = ImportJob::new(path);
    configure(&mut job);
    let plan = Plan::new(Method::Batch, Some(2), None);
    let report = pipeline::run(job, &plan, &db.sink().await, &Control::default()).await;
    (report, db)
}

/// `SELECT <cols> FROM businesses ORDER BY id` as text.
pub async fn table(db: &TestDb, cols: &str) -> Vec<Vec<Option<String>>> {
    db.query(&format!("SELECT {cols} FROM businesses ORDER BY id"))
        .await
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[tokio::test]
async fn numbers_dates_booleans_and_text_read_as_a_person_sees_them() {
    let dir = tempdir();
    let file = dir.path().join("v.xlsx");
    xlsx(&file, |ws| {
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let stamp = Format::new().set_num_format("dd/mm/yyyy hh:mm");
        let time = Format::new().set_num_format("hh:mm:ss");
        for (c, h) in ["name", "phone", "category", "description", "city"]
            .iter()
            .enumerate()
        {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        ws.write_string(1, 0, "\u{a0}Acme\u{2003}").unwrap();
        ws.write_number(1, 1, 5551234567.0).unwrap();
        ws.write_boolean(1, 2, true).unwrap();
        ws.write_datetime_with_format(1, 3, ExcelDateTime::from_ymd(2024, 3, 15).unwrap(), &date)
            .unwrap();
        ws.write_string(1, 4, " 00123 ").unwrap();
        ws.write_string(2, 0, "Beta").unwrap();
        ws.write_number(2, 1, 0.1 + 0.2).unwrap();
        ws.write_boolean(2, 2, false).unwrap();
        let dt = ExcelDateTime::from_ymd(2023, 12, 31)
            .unwrap()
            .and_hms(23, 59, 0)
            .unwrap();
        ws.write_datetime_with_format(2, 3, dt, &stamp).unwrap();
        ws.write_string(2, 4, "line 1\nline 2").unwrap();
        ws.write_string(3, 0, "Gamma").unwrap();
        ws.write_number(3, 1, 1234567.891).unwrap();
        ws.write_number(3, 2, 1e15).unwrap();
        let t = ExcelDateTime::from_hms(13, 45, 30).unwrap();
        ws.write_datetime_with_format(3, 3, t, &time).unwrap();
        ws.write_number_with_format(3, 4, 45366.0, &date).unwrap();
    });
    let (report, db) = import(&file, |_| {}).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    assert_eq!((report.rows_read, report.inserted), (3, 3));
    assert_eq!(
        table(&db, "name, phone, category, description, city").await,
        vec![
            vec![
                s("Acme"),
                s("5551234567"),
                s("TRUE"),
                s("2024-03-15"),
                s("00123")
            ],
            vec![
                s("Beta"),
                s("0.3"),
                s("FALSE"),
                s("2023-12-31T23:59:00"),
                s("line 1\nline 2")
            ],
            vec![
                s("Gamma"),
                s("1234567.891"),
                s("1000000000000000"),
                s("13:45:30"),
                s("2024-03-15")
            ],
        ]
    );
}

#[tokio::test]
async fn a_1904_workbook_reads_its_dates_in_the_1904_system() {
    let dir = tempdir();
    let file = dir.path().join("d1904.xlsx");
    xlsx(&file, |ws| {
        let date = Format::new().set_num_format("yyyy-mm-dd");
        ws.write_string(0, 0, "name").unwrap();
        ws.write_string(0, 1, "description").unwrap();
        ws.write_string(1, 0, "Acme").unwrap();
        // Serial 45366 is 2024-03-15 counted from 1900, 2028-03-16 from 1904.
        ws.write_number_with_format(1, 1, 45366.0, &date).unwrap();
    });
    patch_zip(
        &file,
        "xl/workbook.xml",
        "<workbookPr ",
        "<workbookPr date1904=\"1\" ",
    );
    let (report, db) = import(&file, |_| {}).await;
    assert_eq!(report.inserted, 1, "{:?}", report.error);
    assert_eq!(table(&db, "description").await, vec![vec![s("2028-03-16")]]);
}

#[tokio::test]
async fn formulas_give_their_cached_value_or_reject_the_row() {
    let dir = tempdir();
    let file = dir.path().join("f.xlsx");
    xlsx(&file, |ws| {
        ws.write_string(0, 0, "name").unwrap();
        ws.write_string(0, 1, "phone").unwrap();
        ws.write_formula(
            1,
            0,
            Formula::new("=\"Acme\"&\" Inc\"").set_result("Acme Inc"),
        )
        .unwrap();
        ws.write_formula(1, 1, Formula::new("=2+3").set_result("5"))
            .unwrap();
        ws.write_string(2, 0, "Beta").unwrap();
        // Saved with the cached value 0; the patch below removes it.
        ws.write_formula(2, 1, Formula::new("=A2&B2")).unwrap();
        ws.write_string(3, 0, "Gamma").unwrap();
        ws.write_formula(3, 1, Formula::new("=1/0").set_result("#DIV/0!"))
            .unwrap();
        ws.write_string(4, 0, "Delta").unwrap();
        ws.write_formula(4, 1, Formula::new("=NA()").set_result("#N/A"))
            .unwrap();
    });
    patch_zip(
        &file,
        "xl/worksheets/sheet1.xml",
        "<f>A2&amp;B2</f><v>0</v>",
        "<f>A2&amp;B2</f>",
    );
    let (report, db) = import(&file, |_| {}).await;
    assert_eq!(
        (report.rows_read, report.inserted, report.rejected),
        (4, 1, 3)
    );
    assert_eq!(
        table(&db, "name, phone").await,
        vec![vec![s("Acme Inc"), s("5")]]
    );
    let r = &report.rejected_rows;
    assert_eq!((r[0].row, r[0].column.as_str()), (3, "B (phone)"));
    assert!(
        r[0].reason
            .starts_with("the cell Sheet1!B3 holds the formula =A2&B2 with no cached value"),
        "{}",
        r[0].reason
    );
    assert_eq!(
        r[1].reason,
        "the cell Sheet1!B4 holds the error value #DIV/0!"
    );
    assert_eq!(
        (r[1].sheet.as_str(), r[1].value.as_str()),
        ("Sheet1", "#DIV/0!")
    );
    assert_eq!(r[2].reason, "the cell Sheet1!B5 holds the error value #N/A");
}

#[tokio::test]
async fn rich_text_is_plain_and_merged_cells_give_the_top_left_value() {
    let dir = tempdir();
    let file = dir.path().join("m.xlsx");
    xlsx(&file, |ws| {
        let bold = Format::new().set_bold();
        let plain = Format::new();
        ws.merge_range(0, 0, 0, 2, "Directory (title merged over A1:C1)", &plain)
            .unwrap();
        ws.write_string(1, 0, "name").unwrap();
        ws.write_string(1, 1, "category").unwrap();
        ws.write_string(1, 2, "city").unwrap();
        ws.write_rich_string(2, 0, &[(&bold, "Acme"), (&plain, " Corp")])
            .unwrap();
        ws.merge_range(2, 1, 4, 1, "Retail", &plain).unwrap();
        ws.merge_range(2, 2, 2, 3, "Paris", &plain).unwrap();
        ws.write_string(3, 0, "Beta").unwrap();
        ws.write_string(4, 0, "Gamma").unwrap();
        ws.write_string(5, 0, "Delta").unwrap();
    });
    let (report, db) = import(&file, |_| {}).await;
    assert_eq!(report.inserted, 4, "{:?}", report.error);
    assert_eq!(report.header.as_ref().unwrap().row, 2);
    assert_eq!(
        table(&db, "name, category, city").await,
        vec![
            vec![s("Acme Corp"), s("Retail"), s("Paris")],
            vec![s("Beta"), s("Retail"), None],
            vec![s("Gamma"), s("Retail"), None],
            vec![s("Delta"), None, None],
        ]
    );
}

#[tokio::test]
async fn blank_and_phantom_rows_and_cells_beyond_the_header_are_not_data() {
    let dir = tempdir();
    let file = dir.path().join("p.xlsx");
    xlsx(&file, |ws| {
        let fmt = Format::new().set_bold();
        ws.write_string(0, 0, "Company").unwrap();
        ws.write_string(0, 1, "Town").unwrap();
        ws.write_string(1, 0, "Acme").unwrap();
        ws.write_string(1, 5, "beyond the header").unwrap();
        ws.write_string(3, 0, " \u{a0} ").unwrap();
        ws.write_string(4, 0, "Beta").unwrap();
        ws.write_string(4, 1, "Oslo").unwrap();
        for r in 10..200 {
            ws.write_blank(r, 0, &fmt).unwrap();
            ws.write_blank(r, 1, &fmt).unwrap();
        }
    });
    let (report, db) = import(&file, |_| {}).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    assert_eq!(
        (report.rows_read, report.inserted, report.rejected),
        (2, 2, 0)
    );
    assert_eq!(db.count().await, 2);
}

#[tokio::test]
async fn header_row_and_map_options_pick_and_name_the_columns() {
    let dir = tempdir();
    let file = dir.path().join("h.xlsx");
    xlsx(&file, |ws| {
        ws.write_string(0, 0, "name").unwrap();
        ws.write_string(0, 1, "city").unwrap();
        ws.write_string(1, 0, "Acme").unwrap();
        ws.write_string(2, 0, "Firma").unwrap();
        ws.write_string(2, 1, "Ort").unwrap();
        ws.write_string(3, 0, "Beta").unwrap();
        ws.write_string(3, 1, "Bern").unwrap();
    });
    let (report, db) = import(&file, |job| {
        job.header =
            sheetpipe::record::HeaderOptions::new(Some(3), Some("Firma=name,Ort=city")).unwrap();
    })
    .await;
    assert_eq!(
        (report.rows_read, report.inserted),
        (1, 1),
        "{:?}",
        report.error
    );
    assert_eq!(
        table(&db, "name, city").await,
        vec![vec![s("Beta"), s("Bern")]]
    );
}

#[tokio::test]
async fn two_columns_for_one_field_stop_the_import_naming_both() {
    let dir = tempdir();
    let file = dir.path().join("dup.xlsx");
    xlsx(&file, |ws| {
        ws.write_string(0, 0, "Company").unwrap();
        ws.write_string(0, 1, "Business Name").unwrap();
        ws.write_string(1, 0, "Acme").unwrap();
    });
    let (report, db) = import(&file, |_| {}).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.unwrap().to_string();
    assert!(
        err.contains("A (Company) and B (Business Name) both map to 'name'"),
        "{err}"
    );
    assert_eq!(db.count().await, 0);
}

#[tokio::test]
async fn a_cell_over_the_length_limit_rejects_its_row_and_is_never_cut() {
    // The default limit (32 KiB) is above Excel's own cell limit (32767
    // characters), so it is met in CSV; xlsx meets a configured limit.
    let dir = tempdir();
    let csv = dir.path().join("long.csv");
    let long = "x".repeat(32 * 1024 + 1);
    std::fs::write(
        &csv,
        format!("name,notes\nAcme,{long}\nBeta,{}\n", &long[1..]),
    )
    .unwrap();
    let (report, db) = import(&csv, |_| {}).await;
    assert_eq!((report.inserted, report.rejected), (1, 1));
    let r = &report.rejected_rows[0];
    assert_eq!((r.row, r.column.as_str()), (2, "B (notes)"));
    assert!(r.reason.contains("32769 characters"), "{}", r.reason);
    assert_eq!(
        r.value.len(),
        long.len(),
        "the original value is reported whole"
    );
    assert_eq!(
        table(&db, "length(description)").await,
        vec![vec![s("32768")]]
    );

    let file = dir.path().join("long.xlsx");
    xlsx(&file, |ws| {
        ws.write_string(0, 0, "name").unwrap();
        ws.write_string(0, 1, "notes").unwrap();
        ws.write_string(1, 0, "Acme").unwrap();
        ws.write_string(1, 1, "é".repeat(101)).unwrap();
    });
    let (report, db) = import(&file, |job| job.rules.max_cell_chars = 100).await;
    assert_eq!((report.inserted, report.rejected), (0, 1));
    assert!(report.rejected_rows[0].reason.contains("101 characters"));
    assert_eq!(db.count().await, 0);
}
