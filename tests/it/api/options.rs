//! Issue 5's options on the service: `sheet=`, `header_row=`, `map=` and
//! `dry_run=` on `POST /upload` and `POST /imports`, translated exactly as
//! the CLI's flags are.

use super::spawn_app;

/// A CSV whose header sits on row 3 under a title, with a column the
/// aliases do not know ("Trading As" → name only through `map=`).
fn titled_csv() -> Vec<u8> {
    b"Directory export\n\nTrading As,Town,Mail\nAcme,Paris,a@acme.com\nBeta,Lyon,nope\n".to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_and_header_row_reach_the_import() {
    let app = spawn_app().await;
    let res = app
        .upload(
            "/upload?header_row=3&map=Trading%20As%3Dname",
            "t.csv",
            titled_csv(),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["stats"]["total_records"], 2, "{v}");
    assert_eq!(v["stats"]["success_count"], 1, "{v}");
    assert_eq!(v["rejected"][0]["row"], 5, "{v}");
    assert_eq!(v["header"]["row"], 3, "{v}");
    let names = app.db.query("SELECT name, city FROM businesses").await;
    assert_eq!(names, vec![vec![Some("Acme".into()), Some("Paris".into())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_validates_and_writes_nothing() {
    let app = spawn_app().await;
    let res = app
        .upload(
            "/upload?dry_run=true&map=Trading%20As%3Dname",
            "t.csv",
            titled_csv(),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["dry_run"], true, "{v}");
    assert_eq!(v["stats"]["success_count"], 1, "{v}");
    assert_eq!(v["stats"]["error_count"], 1, "{v}");
    assert_eq!(app.db.count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_option_values_are_400_before_the_body_is_read() {
    let app = spawn_app().await;
    for (query, needle) in [
        ("header_row=zero", "header_row"),
        ("header_row=0", "counts from 1"),
        ("map=Trading%20As%3Downer", "owner"),
        ("dry_run=maybe", "dry_run"),
        ("max_errors=-1", "max_errors"),
        ("max_error_rate=lots", "max_error_rate"),
        ("max_error_rate=1.5", "between 0 and 1"),
    ] {
        for endpoint in ["/upload", "/imports"] {
            let res = app
                .upload(&format!("{endpoint}?{query}"), "t.csv", titled_csv())
                .await;
            assert_eq!(res.status(), 400, "{endpoint}?{query}");
            let v: serde_json::Value = res.json().await.unwrap();
            let err = v["error"].as_str().unwrap();
            assert!(err.contains(needle), "{query}: {err}");
        }
    }
    assert!(app.uploads_left().is_empty());
    assert!(
        app.imports_table("id").await.is_empty(),
        "no import started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_its_error_budget_is_422_saying_so_and_names_where_rows_go() {
    let app = spawn_app().await;
    let query = "header_row=3&map=Trading%20As%3Dname";
    let res = app
        .upload(
            &format!("/upload?{query}&max_errors=0"),
            "t.csv",
            titled_csv(),
        )
        .await;
    assert_eq!(res.status(), 422);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        v["message"], "Import stopped: too many rejected rows",
        "{v}"
    );
    assert!(v["error"].as_str().unwrap().contains("0 allowed"), "{v}");
    let res = app
        .upload(
            &format!("/upload?{query}&max_error_rate=50%25"),
            "t.csv",
            titled_csv(),
        )
        .await;
    assert_eq!(res.status(), 200, "1 of 2 is not over 50%");
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["table"], "businesses", "{v}");
    let db = v["database"].as_str().unwrap();
    assert!(
        db.starts_with("postgres://postgres@127.0.0.1:5432/sheetpipe_test_"),
        "{db}"
    );
    let id = v["import_id"].as_str().unwrap();
    let (_, status) = app.get_json(&format!("/imports/{id}")).await;
    assert_eq!(status["table"], "businesses", "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sheet_option_picks_a_sheet_by_name_in_the_background() {
    let app = spawn_app().await;
    let dir = crate::helpers::tempdir();
    let path = dir.path().join("two.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    wb.add_worksheet()
        .set_name("Notes")
        .unwrap()
        .write_string(0, 0, "nothing here")
        .unwrap();
    let ws = wb.add_worksheet().set_name("Shops").unwrap();
    ws.write_string(0, 0, "name").unwrap();
    ws.write_string(1, 0, "Shop One").unwrap();
    wb.save(&path).unwrap();
    let res = app
        .upload(
            "/imports?sheet=Shops",
            "two.xlsx",
            std::fs::read(&path).unwrap(),
        )
        .await;
    assert_eq!(res.status(), 202);
    let v: serde_json::Value = res.json().await.unwrap();
    let done = app.wait_final(v["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["sheet"], "Shops", "{done}");
    assert_eq!(app.db.count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sheet_named_like_a_flag_reaches_the_isolated_reader_intact() {
    let app = super::spawn_app_with(crate::helpers::TestDb::sqlite(), |c| {
        c.source.isolation = Some(sheetpipe::source::Isolation {
            program: crate::helpers::bin(),
        });
    })
    .await;
    let dir = crate::helpers::tempdir();
    let path = dir.path().join("w.xlsx");
    crate::isolation::dash_sheet_workbook(&path);
    let bytes = std::fs::read(&path).unwrap();
    let res = app.upload("/upload?sheet=-2024", "w.xlsx", bytes).await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["sheet"], "-2024", "{v}");
    assert_eq!(v["stats"]["success_count"], 1, "{v}");
    assert_eq!(app.db.count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_the_sheet_is_a_400_that_names_it_and_nothing_of_the_server() {
    let app = spawn_app().await;
    let res = app
        .upload("/upload?sheet=a%00b", "t.csv", titled_csv())
        .await;
    assert_eq!(res.status(), 400);
    let v: serde_json::Value = res.json().await.unwrap();
    let err = v["error"].as_str().unwrap();
    assert!(err.contains("NUL"), "{v}");
    let bin = crate::helpers::bin();
    let text = v.to_string();
    assert!(!text.contains(bin.to_str().unwrap()), "{v}");
    assert!(!text.contains("target/"), "{v}");
    assert!(app.uploads_left().is_empty());
}
