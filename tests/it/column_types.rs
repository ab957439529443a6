//! Declared types for a new table's columns: `types=column:type,…` with
//! `create=true` over HTTP (real socket, PostgreSQL), `--type COL=TYPE`
//! with `--create` on the CLI (SQLite): the table is created with the
//! declared type, a value that does not fit it is rejected naming the cell,
//! and mistakes are refused naming the parameter.

use serde_json::{json, Value};

use crate::api::{spawn_app, TestApp};
use crate::helpers::{json_out, run_cli, tempdir, TestDb};

/// A zip column whose first rows look like integers and whose third keeps
/// a leading zero.
const ZIPS: &str = "name,zip\nAnn,12345\nBob,23456\nCy,01234\n";

/// A qty column holding one word among numbers.
const QTYS: &str = "item,qty\nnut,1\nbolt,abc\nwasher,3\n";

async fn upload(app: &TestApp, query: &str, csv: &str) -> (u16, Value) {
    let r = app
        .upload(
            &format!("/upload?{query}"),
            "f.csv",
            csv.as_bytes().to_vec(),
        )
        .await;
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The PostgreSQL type of `table.column`.
async fn data_type(app: &TestApp, table: &str, column: &str) -> String {
    let rows = app
        .db
        .query(&format!(
            "SELECT data_type FROM information_schema.columns \
             WHERE table_name = '{table}' AND column_name = '{column}'"
        ))
        .await;
    rows[0][0].clone().unwrap()
}

#[tokio::test]
async fn a_column_declared_text_keeps_its_leading_zeros() {
    let app = spawn_app().await;
    // Inferred from the first two rows alone, zip would be an integer.
    let (code, v) = upload(&app, "table=plain&create=true&infer_rows=2", ZIPS).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(data_type(&app, "plain", "zip").await, "integer");
    // … and the later 01234 is rejected, never stored as 1234.
    assert_eq!(v["stats"]["success_count"], 2, "{v}");
    assert_eq!(v["stats"]["error_count"], 1, "{v}");
    let stored = app.db.query("SELECT zip FROM plain ORDER BY zip").await;
    assert_eq!(
        stored,
        vec![vec![Some("12345".into())], vec![Some("23456".into())]]
    );

    let (code, v) = upload(
        &app,
        "table=people&create=true&infer_rows=2&types=zip:text",
        ZIPS,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["stats"]["success_count"], 3, "{v}");
    assert!(
        v["ddl"].as_str().unwrap().contains("\"zip\" text"),
        "{}",
        v["ddl"]
    );
    assert_eq!(data_type(&app, "people", "zip").await, "text");
    let zips = app.db.query("SELECT zip FROM people ORDER BY name").await;
    assert_eq!(
        zips,
        vec![
            vec![Some("12345".into())],
            vec![Some("23456".into())],
            vec![Some("01234".into())]
        ]
    );
}

#[tokio::test]
async fn a_column_declared_integer_rejects_a_word_naming_its_cell() {
    let app = spawn_app().await;
    let (code, v) = upload(&app, "table=stock&create=true&types=qty:integer", QTYS).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(data_type(&app, "stock", "qty").await, "integer");
    assert_eq!(v["stats"]["success_count"], 2, "{v}");
    assert_eq!(v["stats"]["error_count"], 1, "{v}");
    let bad = &v["rejected"][0];
    assert_eq!(bad["row"], 3, "{v}");
    assert!(
        bad["cell"].as_str().unwrap().starts_with("B3 (qty"),
        "{bad}"
    );
    assert!(bad["reason"].as_str().unwrap().contains("integer"), "{bad}");
    assert_eq!(bad["value"], "abc");
    let rows = app
        .db
        .query("SELECT item, qty FROM stock ORDER BY qty")
        .await;
    assert_eq!(
        rows,
        vec![
            vec![Some("nut".into()), Some("1".into())],
            vec![Some("washer".into()), Some("3".into())]
        ],
        "no NULL in place of abc"
    );
}

#[tokio::test]
async fn the_preview_shows_declared_types_and_marks_the_cells_they_refuse() {
    let app = spawn_app().await;
    let r = app
        .upload(
            "/preview?table=stock&types=qty:integer",
            "f.csv",
            QTYS.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["table_exists"], false);
    let types: Vec<&str> = v["table"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["text", "integer"], "{v}");
    assert!(v["column_types"]
        .as_array()
        .unwrap()
        .contains(&json!("integer")));
    let errors = &v["rows"][1]["errors"];
    assert_eq!(errors[0], Value::Null, "{v}");
    assert!(
        errors[1].as_str().unwrap().contains("integer"),
        "abc is marked: {v}"
    );
    // Without types= the same column is inferred text and nothing is marked.
    let r = app
        .upload("/preview?table=stock", "f.csv", QTYS.as_bytes().to_vec())
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["table"]["columns"][1]["type"], "text", "{v}");
    assert_eq!(v["rows"][1]["errors"][1], Value::Null);
}

#[tokio::test]
async fn bad_types_are_refused_naming_what_is_wrong() {
    let app = spawn_app().await;
    let (code, v) = upload(&app, "table=t&create=true&types=qty:integr", QTYS).await;
    assert_eq!(code, 400, "{v}");
    let e = v["error"].as_str().unwrap();
    assert!(
        e.starts_with("types:") && e.contains("did you mean integer?"),
        "{e}"
    );
    let (code, v) = upload(&app, "table=t&types=qty:integer", QTYS).await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("types= applies to create"),
        "{v}"
    );
    let (code, v) = upload(&app, "table=t&create=true&types=qty:text,QTY:integer", QTYS).await;
    assert_eq!(code, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("twice"), "{v}");
    // A column the new table does not have: named, with the ones it has;
    // nothing created.
    let (code, v) = upload(&app, "table=t&create=true&types=amount:integer", QTYS).await;
    assert_eq!(code, 422, "{v}");
    let e = v["error"].as_str().unwrap();
    assert!(
        e.contains("no column amount") && e.contains("item, qty"),
        "{e}"
    );
    assert!(app.db.column_names("t").await.is_empty());
    // An existing table is not altered: a different type is an error.
    let (code, v) = upload(&app, "table=t&create=true", QTYS).await;
    assert_eq!(code, 200, "{v}");
    let (code, v) = upload(
        &app,
        "table=t&create=true&types=qty:integer&allow_reimport=true",
        QTYS,
    )
    .await;
    assert_eq!(code, 422, "{v}");
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("exists") && e.contains("is text"), "{e}");
    let (code, v) = upload(
        &app,
        "table=t&create=true&types=qty:text&allow_reimport=true",
        QTYS,
    )
    .await;
    assert_eq!(code, 200, "the type it has is fine: {v}");
}

#[tokio::test]
async fn the_cli_type_flag_creates_the_column_with_that_type() {
    let dir = tempdir();
    let db = TestDb::sqlite();
    std::fs::write(dir.path().join("stock.csv"), QTYS).unwrap();
    let out = run_cli(
        dir.path(),
        &[
            "import",
            "stock.csv",
            "--table",
            "stock",
            "--create",
            "--type",
            "qty=integer",
            "--database-url",
            &db.url,
            "--json",
        ],
    );
    let v = json_out(&out);
    assert_eq!(v["stats"]["success_count"], 2, "{v}");
    assert!(v["rejected"][0]["cell"]
        .as_str()
        .unwrap()
        .starts_with("B3 (qty"));
    let info = db
        .query("SELECT name, type FROM pragma_table_info('stock')")
        .await;
    assert_eq!(
        info,
        vec![
            vec![Some("item".into()), Some("TEXT".into())],
            vec![Some("qty".into()), Some("INT4".into())]
        ]
    );
    // Without --create the flag is refused (exit 2) before anything runs.
    let out = run_cli(
        dir.path(),
        &[
            "import",
            "stock.csv",
            "--table",
            "stock",
            "--type",
            "qty=integer",
            "--database-url",
            &db.url,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}
