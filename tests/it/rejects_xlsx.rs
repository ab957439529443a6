//! The .xlsx reject report round-trips: import a file with bad rows, take
//! rejects.xlsx (CLI `--rejects` and HTTP `GET /imports/ID/rejects.xlsx`),
//! fix the refused cells by rewriting the workbook from what calamine
//! reads, import it again: exactly the fixed rows land, values intact
//! (formula-like text stays text, leading zeros stay). The note and the
//! highlight are in the file.

use std::io::Read;
use std::path::Path;

use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::Workbook;
use serde_json::Value;

use crate::helpers::{json_out, run_cli, tempdir, TestDb};

/// Two good rows, then two bad ones whose other cells must survive as text.
const SOURCE: &str = "name,phone,email,description\n\
    Good,555-0100,good@example.com,fine\n\
    =SUM(1),007,nope,@mention\n\
    ,0123,b@example.com,+plus\n\
    Also good,555-0101,,ok\n";

/// The cells of the first sheet of an .xlsx as text, row by row.
fn read_cells(path: &Path) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> = calamine::open_workbook(path).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::String(s) => s.clone(),
                    Data::Empty => String::new(),
                    other => panic!("a report cell that is not text: {other:?}"),
                })
                .collect()
        })
        .collect()
}

/// Fixes what each reason names (email, missing name) and writes the
/// workbook anew with rust_xlsxwriter, every cell as text.
fn fix(report: &Path, fixed: &Path) {
    let mut rows = read_cells(report);
    let header = rows[0].clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let reason = col("sheetpipe: why rejected");
    for row in rows.iter_mut().skip(1) {
        if row[reason].contains("email") {
            row[col("email")] = "fixed@example.com".into();
        }
        if row[reason].contains("name is required") {
            row[col("name")] = "Fixed Name".into();
        }
    }
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32, c as u16, v).unwrap();
        }
    }
    wb.save(fixed).unwrap();
}

/// The report's note, highlight and text cells, from its own parts.
fn assert_note_and_highlight(report: &Path) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(report).unwrap()).unwrap();
    let mut part = |name: &str| {
        let mut text = String::new();
        zip.by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    let comments = part("xl/comments1.xml");
    assert!(
        comments.contains(r#"ref="C2""#) && comments.contains("invalid email address"),
        "{comments}"
    );
    assert!(comments.contains("name is required"), "{comments}");
    let styles = part("xl/styles.xml");
    assert!(styles.contains("FFFFC7CE"), "the highlight fill: {styles}");
    let sheet = part("xl/worksheets/sheet1.xml");
    assert!(
        sheet.contains(r#"<c r="C2" s="2""#),
        "C2 highlighted: {sheet}"
    );
    assert!(!sheet.contains("<f>"), "no formula anywhere: {sheet}");
}

/// The two fixed rows, exactly.
async fn assert_fixed_rows_landed(db: &TestDb, before: u64) {
    assert_eq!(db.count().await, before + 2);
    let rows = db
        .query(
            "SELECT name, phone, email, description FROM businesses \
             WHERE name IN ('=SUM(1)', 'Fixed Name') ORDER BY name",
        )
        .await;
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        rows,
        vec![
            vec![
                s("=SUM(1)"),
                s("007"),
                s("fixed@example.com"),
                s("@mention")
            ],
            vec![s("Fixed Name"), s("0123"), s("b@example.com"), s("+plus")],
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_xlsx_reject_report_from_the_cli_imports_exactly_the_fixed_rows() {
    let dir = tempdir();
    std::fs::write(dir.path().join("in.csv"), SOURCE).unwrap();
    let db = TestDb::postgres().await;
    let url = db.url.as_str();
    let args = ["import", "in.csv", "--json", "--database-url", url];
    let out = run_cli(dir.path(), &[&args[..], &["--rejects", "r.xlsx"]].concat());
    let v = json_out(&out);
    assert_eq!(v["stats"]["success_count"], 2, "{v}");
    assert_eq!(v["stats"]["error_count"], 2, "{v}");
    let report = dir.path().join("r.xlsx");
    assert_note_and_highlight(&report);

    fix(&report, &dir.path().join("fixed.xlsx"));
    let out = run_cli(
        dir.path(),
        &["import", "fixed.xlsx", "--json", "--database-url", url],
    );
    let v = json_out(&out);
    assert_eq!(v["stats"]["success_count"], 2, "{v}");
    assert_eq!(v["stats"]["error_count"], 0, "{v}");
    let ignored = v.to_string();
    assert!(
        ignored.contains("sheetpipe: why rejected"),
        "listed as ignored: {v}"
    );
    assert_fixed_rows_landed(&db, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_xlsx_reject_report_from_http_imports_exactly_the_fixed_rows() {
    let app = crate::api::spawn_app().await;
    let r = app
        .upload(
            "/imports?method=batch",
            "in.csv",
            SOURCE.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = app.wait_final(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let r = app.get(&format!("/imports/{id}/rejects.xlsx")).await;
    assert_eq!(r.status(), 200);
    let kind = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.contains("spreadsheetml"), "{kind}");
    let dir = tempdir();
    let report = dir.path().join("r.xlsx");
    std::fs::write(&report, r.bytes().await.unwrap()).unwrap();
    assert_note_and_highlight(&report);

    let fixed = dir.path().join("fixed.xlsx");
    fix(&report, &fixed);
    let r = app
        .upload("/upload", "fixed.xlsx", std::fs::read(&fixed).unwrap())
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["stats"]["success_count"], 2, "{v}");
    assert_eq!(v["stats"]["error_count"], 0, "{v}");
    assert_fixed_rows_landed(&app.db, 2).await;
    // The CSV report of the same import is still there.
    assert_eq!(
        app.get(&format!("/imports/{id}/rejects.csv"))
            .await
            .status(),
        200
    );
}
