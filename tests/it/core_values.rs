//! Issue 2's value rules, end to end through a real .xlsx and the pipeline:
//! trimming, numbers as text, formulas by cached value, short rows, blank
//! rows.

use rust_xlsxwriter::{Formula, Workbook};
use sheetpipe::pipeline::{self, Control, ImportJob, Method, Plan, Status};

use crate::helpers::{tempdir, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cells_become_the_text_a_person_reads_in_the_sheet() {
    let dir = tempdir();
    let path = dir.path().join("values.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["Name", "Phone", "City", "Description"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    // Row 2: NBSP/tab padding, a phone stored as a float.
    ws.write_string(1, 0, "\u{a0}\tAcme Ltd \u{a0}").unwrap();
    ws.write_number(1, 1, 5551234567.0).unwrap();
    ws.write_string(1, 2, "  Paris").unwrap();
    // Row 3: a formula whose cached value is what must be stored.
    ws.write_string(2, 0, "Formula Co").unwrap();
    ws.write_formula(2, 2, Formula::new("=\"Ber\"&\"lin\"").set_result("Berlin"))
        .unwrap();
    // Row 4 left completely blank; row 5 has only a name (short row).
    ws.write_string(4, 0, "Short").unwrap();
    // Row 6: inner line breaks are kept, fractions printed as Excel shows.
    ws.write_string(5, 0, "Multi").unwrap();
    ws.write_number(5, 1, 0.1 + 0.2).unwrap();
    ws.write_string(5, 3, "line one\nline two").unwrap();
    wb.save(&path).unwrap();

    for db in TestDb::both().await {
        let sink = db.sink().await;
        let plan = Plan::new(Method::Batch, None, None);
        let report = pipeline::run(ImportJob::new(&path), &plan, &sink, &Control::default()).await;
        assert_eq!(report.status, Status::Completed, "{:?}", report.error);
        assert_eq!(report.rows_read, 4, "the blank row 4 is not counted");
        assert_eq!(report.inserted, 4);
        let rows = db
            .query("SELECT name, phone, city, description FROM businesses ORDER BY id")
            .await;
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            rows,
            vec![
                vec![s("Acme Ltd"), s("5551234567"), s("Paris"), None],
                vec![s("Formula Co"), None, s("Berlin"), None],
                vec![s("Short"), None, None, None],
                vec![s("Multi"), s("0.3"), None, s("line one\nline two")],
            ],
            "{}",
            db.backend()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_goes_through_the_same_rules() {
    let dir = tempdir();
    let path = dir.path().join("b.csv");
    std::fs::write(
        &path,
        "\u{feff}NAME , email\n Acme ,a@acme.com\n,\nBeta,broken@\n\"Gamma, Inc\",\n",
    )
    .unwrap();
    let db = TestDb::sqlite();
    let sink = db.sink().await;
    let plan = Plan::new(Method::Copy, None, None);
    let report = pipeline::run(ImportJob::new(&path), &plan, &sink, &Control::default()).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    assert_eq!(
        (report.rows_read, report.inserted, report.rejected),
        (3, 2, 1)
    );
    assert_eq!(report.rejected_rows[0].row, 4);
    assert_eq!(report.rejected_rows[0].column, "B (email)");
    let names = db.query("SELECT name FROM businesses ORDER BY id").await;
    assert_eq!(
        names,
        vec![vec![Some("Acme".into())], vec![Some("Gamma, Inc".into())]]
    );
}
