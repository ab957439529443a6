//! Issue 11 through the whole surface: `import --table`, `--create`
//! (inference from every row, DDL in the report, `--dry-run` writing
//! nothing), `--infer-rows`, `--date-format`, and over HTTP `table=`,
//! `create=` and `GET /tables` — on PostgreSQL and SQLite, from real
//! workbooks with number, date and boolean cells.

use std::path::Path;

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use serde_json::Value;

use crate::api::spawn_app_with;
use crate::helpers::{json_out, run_cli, tempdir, TestDb};

/// An orders workbook as a person makes one: a title row, a blank row,
/// then the header over typed cells. Traps: `zip` has leading zeros;
/// `ref` holds a digit string beyond 2^53; `code` is numeric until its
/// last row makes it text (a bigint must keep `ref` exact too); a column with an empty header holds data; two
/// headers are both "Note".
fn orders_xlsx(path: &Path) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Orders").unwrap();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    ws.write_string(0, 0, "Orders export, December").unwrap();
    let headers = [
        "Order ID",
        "Ordered On",
        "Shipped At",
        "Amount",
        "Qty",
        "Paid",
        "Zip",
        "Ref",
        "Code",
        "",
        "Note",
        "Note",
    ];
    for (c, h) in headers.iter().enumerate() {
        if !h.is_empty() {
            ws.write_string(2, c as u16, *h).unwrap();
        }
    }
    type Row = (
        f64,
        (u16, u8, u8),
        f64,
        bool,
        &'static str,
        &'static str,
        &'static str,
    );
    let rows: [Row; 3] = [
        (
            12.5,
            (2024, 1, 31),
            3.0,
            true,
            "01234",
            "9007199254740993",
            "17",
        ),
        (0.1, (2024, 2, 29), 4.0, false, "99999", "12", "18"),
        (
            1234567890.25,
            (2024, 3, 1),
            7.0,
            true,
            "00007",
            "13",
            "A-19",
        ),
    ];
    for (i, (amount, (y, m, d), qty, paid, zip, reference, code)) in rows.iter().enumerate() {
        let r = 3 + i as u32;
        ws.write_number(r, 0, (i + 1) as f64).unwrap();
        let day = ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
        ws.write_datetime_with_format(r, 1, &day, &date).unwrap();
        let at = ExcelDateTime::from_ymd(*y, *m, *d)
            .unwrap()
            .and_hms(10, 30, 0)
            .unwrap();
        ws.write_datetime_with_format(r, 2, &at, &stamp).unwrap();
        ws.write_number(r, 3, *amount).unwrap();
        ws.write_number(r, 4, *qty).unwrap();
        ws.write_boolean(r, 5, *paid).unwrap();
        ws.write_string(r, 6, *zip).unwrap();
        ws.write_string(r, 7, *reference).unwrap();
        match code.parse::<f64>() {
            Ok(n) => ws.write_number(r, 8, n).unwrap(),
            Err(_) => ws.write_string(r, 8, *code).unwrap(),
        };
        ws.write_string(r, 9, format!("x{i}")).unwrap();
        ws.write_string(r, 10, "first").unwrap();
        ws.write_string(r, 11, "second").unwrap();
    }
    wb.save(path).unwrap();
}

/// The created table's columns and types as the database reports them.
async fn column_types(db: &TestDb, table: &str) -> Vec<(String, String)> {
    let sql = match db.backend() {
        "postgres" => format!(
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_name = '{table}' ORDER BY ordinal_position"
        ),
        _ => format!("SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid"),
    };
    db.query(&sql)
        .await
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap().to_lowercase()))
        .collect()
}

async fn create_from_workbook(db: TestDb) {
    let dir = tempdir();
    let file = dir.path().join("orders.xlsx");
    orders_xlsx(&file);
    let f = file.to_str().unwrap();
    let url = db.url.as_str();

    // Dry run: the DDL is shown and nothing is created.
    let out = run_cli(
        dir.path(),
        &[
            "import",
            f,
            "--table",
            "orders",
            "--create",
            "--dry-run",
            "--database-url",
            url,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Would create table orders:"), "{text}");
    assert!(
        text.contains("CREATE TABLE IF NOT EXISTS \"orders\""),
        "{text}"
    );
    assert!(
        column_types(&db, "orders").await.is_empty(),
        "a dry run created the table"
    );

    let out = run_cli(
        dir.path(),
        &[
            "import",
            f,
            "--table",
            "orders",
            "--create",
            "--json",
            "--database-url",
            url,
        ],
    );
    let v = json_out(&out);
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["stats"]["success_count"], 3, "{v}");
    assert_eq!(v["table"], "orders");
    let ddl = v["ddl"].as_str().expect("the JSON report carries the DDL");
    assert!(ddl.contains("\"order_id\""), "{ddl}");
    assert_eq!(v["header"]["row"], 3, "the title row is skipped: {v}");

    let names: Vec<String> = column_types(&db, "orders")
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "order_id",
            "ordered_on",
            "shipped_at",
            "amount",
            "qty",
            "paid",
            "zip",
            "ref",
            "code",
            "column_j",
            "note",
            "note_2"
        ]
    );
    let types = column_types(&db, "orders").await;
    let ty = |n: &str| types.iter().find(|(c, _)| c == n).unwrap().1.clone();
    if db.backend() == "postgres" {
        assert_eq!(ty("order_id"), "integer");
        assert_eq!(ty("ordered_on"), "date");
        assert_eq!(ty("shipped_at"), "timestamp without time zone");
        assert_eq!(ty("amount"), "numeric");
        assert_eq!(ty("qty"), "integer");
        assert_eq!(ty("paid"), "boolean");
    }
    // `ref` may be bigint: 9007199254740993 fits one exactly (checked below).
    for text_column in ["zip", "code", "column_j", "note"] {
        assert!(
            ty(text_column) == "text",
            "{text_column} must be text, is {}",
            ty(text_column)
        );
    }
    let rows = db
        .query(
            "SELECT order_id, ordered_on, amount, paid, zip, ref, code, note_2 \
             FROM orders ORDER BY order_id",
        )
        .await;
    let first = &rows[0];
    assert_eq!(first[0].as_deref(), Some("1"));
    assert_eq!(first[1].as_deref(), Some("2024-01-31"));
    assert_eq!(first[4].as_deref(), Some("01234"), "leading zeros kept");
    assert_eq!(
        first[5].as_deref(),
        Some("9007199254740993"),
        "digits beyond 2^53 kept"
    );
    assert_eq!(first[6].as_deref(), Some("17"));
    assert_eq!(rows[2][6].as_deref(), Some("A-19"));
    assert_eq!(first[7].as_deref(), Some("second"));
    if db.backend() == "postgres" {
        assert_eq!(rows[2][2].as_deref(), Some("1234567890.25"));
        assert_eq!(rows[1][2].as_deref(), Some("0.10"));
        assert_eq!(first[3].as_deref(), Some("t"));
    }

    // Again: the table exists now, the file maps onto it by name, no DDL.
    let out = run_cli(
        dir.path(),
        &[
            "import",
            f,
            "--table",
            "orders",
            "--create",
            "--json",
            "--allow-reimport",
            "--database-url",
            url,
        ],
    );
    let v = json_out(&out);
    assert_eq!(v["stats"]["success_count"], 3, "{v}");
    assert!(v.get("ddl").is_none(), "{v}");

    // And without --create, replacing the rows: every column is mapped by
    // the name --create gave it (the empty header's `column_j`, the second
    // Note's `note_2`), so the table holds the same rows again.
    // (Twice the file's rows before: DISTINCT makes them the file's.)
    let all = "SELECT DISTINCT * FROM orders ORDER BY order_id";
    let before = db.query(all).await;
    let out = run_cli(
        dir.path(),
        &[
            "import",
            f,
            "--table",
            "orders",
            "--mode",
            "replace",
            "--json",
            "--database-url",
            url,
        ],
    );
    let v = json_out(&out);
    assert_eq!(v["stats"]["success_count"], 3, "{v}");
    let mapped: Vec<&str> = v["header"]["mapping"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["field"].as_str().unwrap())
        .collect();
    assert_eq!(mapped, names, "{v}");
    assert_eq!(before.len(), 3);
    assert_eq!(db.query(all).await, before, "{v}");
    let n = db.query("SELECT count(*) FROM orders").await;
    assert_eq!(n[0][0].as_deref(), Some("3"), "{v}");
}

#[tokio::test]
async fn create_infers_a_typed_table_from_every_row_on_postgres() {
    create_from_workbook(TestDb::postgres().await).await;
}

#[tokio::test]
async fn create_infers_a_typed_table_from_every_row_on_sqlite() {
    create_from_workbook(TestDb::sqlite()).await;
}

#[tokio::test]
async fn a_missing_table_is_exit_3_naming_the_tables_that_exist() {
    let db = TestDb::postgres().await;
    db.execute("CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL)")
        .await;
    let dir = tempdir();
    let file = dir.path().join("c.csv");
    std::fs::write(&file, "id,name\n1,Ann\n").unwrap();
    let out = run_cli(
        dir.path(),
        &[
            "import",
            file.to_str().unwrap(),
            "--table",
            "custmers",
            "--database-url",
            &db.url,
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("table custmers does not exist"), "{err}");
    assert!(err.contains("customers"), "{err}");
}

#[tokio::test]
async fn an_existing_typed_table_gets_exact_values_and_named_rejects() {
    let db = TestDb::postgres().await;
    db.execute(
        "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
         sku varchar(8) NOT NULL, qty integer, seen date, created timestamptz DEFAULT now())",
    )
    .await;
    let dir = tempdir();
    let file = dir.path().join("items.csv");
    std::fs::write(
        &file,
        "SKU,Qty,Seen\nA1,3,31/01/2024\nTOO-LONG-SKU,4,01/02/2024\nB2,3000000000,02/02/2024\nC3,5,2024-02-30\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = run_cli(
        dir.path(),
        &[
            "import",
            f,
            "--table",
            "items",
            "--date-format",
            "%d/%m/%Y",
            "--json",
            "--database-url",
            &db.url,
        ],
    );
    let v = json_out(&out);
    assert_eq!(v["stats"]["success_count"], 1, "{v}");
    assert_eq!(v["stats"]["error_count"], 3, "{v}");
    let reasons: Vec<String> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["cell"].as_str().unwrap(),
                r["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert!(reasons[0].starts_with("A3"), "{reasons:?}");
    assert!(
        reasons[1].contains("qty integer") && reasons[1].contains("out of range"),
        "{reasons:?}"
    );
    assert!(reasons[2].contains("seen date"), "{reasons:?}");
    let rows = db.query("SELECT sku, qty, seen FROM items").await;
    assert_eq!(
        rows,
        vec![vec![
            Some("A1".into()),
            Some("3".into()),
            Some("2024-01-31".into())
        ]]
    );

    // A required column without a header: refused before any row.
    std::fs::write(&file, "Qty,Seen\n3,2024-01-01\n").unwrap();
    let out = run_cli(
        dir.path(),
        &["import", f, "--table", "items", "--database-url", &db.url],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("sku"), "{err}");

    // Two headers for one column: an error naming both.
    std::fs::write(&file, "SKU,sku,Qty\nA,B,1\n").unwrap();
    let out = run_cli(
        dir.path(),
        &["import", f, "--table", "items", "--database-url", &db.url],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("A (SKU)") && err.contains("B (sku)"), "{err}");
    assert_eq!(
        db.query("SELECT count(*) FROM items").await[0][0].as_deref(),
        Some("1")
    );
}

#[tokio::test]
async fn infer_rows_limits_inference_and_a_later_misfit_is_rejected_by_cell() {
    let db = TestDb::sqlite();
    let dir = tempdir();
    let file = dir.path().join("n.csv");
    std::fs::write(&file, "n,label\n1,a\n2,b\nthree,c\n").unwrap();
    let out = run_cli(
        dir.path(),
        &[
            "import",
            file.to_str().unwrap(),
            "--table",
            "nums",
            "--create",
            "--infer-rows",
            "2",
            "--json",
            "--database-url",
            &db.url,
        ],
    );
    let v = json_out(&out);
    assert_eq!(v["stats"]["success_count"], 2, "{v}");
    assert_eq!(v["rejected"][0]["cell"], "A4 (n)", "{v}");
    assert!(v["ddl"].as_str().unwrap().contains("\"n\" INT"), "{v}");
}

#[tokio::test]
async fn infer_rows_never_drops_a_later_leading_zero() {
    let db = TestDb::sqlite();
    let dir = tempdir();
    let file = dir.path().join("z.csv");
    std::fs::write(
        &file,
        "name,zip\nAnn,12345\nBob,23456\nCy,01234\nDi,34567\n",
    )
    .unwrap();
    let import = |table: &str, limit: &[&str]| {
        let mut args = vec![
            "import",
            file.to_str().unwrap(),
            "--table",
            table,
            "--create",
            "--json",
            "--database-url",
            &db.url,
        ];
        args.extend_from_slice(limit);
        json_out(&run_cli(dir.path(), &args))
    };
    let v = import("zips", &["--infer-rows", "2"]);
    assert!(v["ddl"].as_str().unwrap().contains("\"zip\" INT"), "{v}");
    assert_eq!(v["stats"]["success_count"], 3, "{v}");
    assert_eq!(v["rejected"][0]["cell"], "B4 (zip)", "{v}");
    let reason = v["rejected"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("'01234' would not be stored as written in integer")
            && reason.contains("--infer-rows 2")
            && reason.contains("--type zip=text"),
        "{reason}"
    );
    // Inference over every row (no limit) makes the column text instead.
    let all = import("zips_all", &[]);
    assert_eq!(all["stats"]["success_count"], 4, "{all}");
    assert!(
        all["ddl"].as_str().unwrap().contains("\"zip\" TEXT"),
        "{all}"
    );
}

#[tokio::test]
async fn http_table_and_create_and_the_tables_listing() {
    let app = spawn_app_with(TestDb::postgres().await, |_| {}).await;
    let csv = b"Order No,Amount,Paid\n1,2.50,TRUE\n2,3.75,FALSE\n".to_vec();

    let res = app
        .upload("/upload?table=orders", "o.csv", csv.clone())
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("orders does not exist"),
        "{body}"
    );

    let res = app
        .upload("/upload?table=orders&create=true&method=copy", "o.csv", csv)
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["stats"]["success_count"], 2, "{body}");
    assert!(
        body["ddl"].as_str().unwrap().contains("\"order_no\""),
        "{body}"
    );

    let (status, tables) = app.get_json("/tables").await;
    assert_eq!(status, 200);
    let orders = tables["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "orders")
        .unwrap_or_else(|| panic!("orders listed: {tables}"));
    let types: Vec<(String, String)> = orders["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["type"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(types[0], ("order_no".into(), "integer".into()));
    assert_eq!(types[2], ("paid".into(), "boolean".into()));
    assert!(
        !tables["tables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "imports"),
        "sheetpipe's own tables are not offered: {tables}"
    );
    let (status, one) = app.get_json("/tables/orders").await;
    assert_eq!((status, one["name"].as_str()), (200, Some("orders")));
    let (status, _) = app.get_json("/tables/nope").await;
    assert_eq!(status, 404);
    let rows = app
        .db
        .query("SELECT order_no, amount, paid FROM orders ORDER BY 1")
        .await;
    assert_eq!(
        rows[1],
        vec![Some("2".into()), Some("3.75".into()), Some("f".into())]
    );
}

#[tokio::test]
async fn a_schema_file_declares_the_table_its_aliases_and_rules_through_the_cli() {
    let dir = tempdir();
    let schema = dir.path().join("contacts.toml");
    std::fs::write(
        &schema,
        r#"table = "contacts"

[[columns]]
name = "id"
type = "bigint"
nullable = false
primary_key = true

[[columns]]
name = "email"
type = "varchar(80)"
aliases = ["e-mail address"]
email = true
unique = true

[[columns]]
name = "age"
type = "integer"
min = "0"
max = "150"
"#,
    )
    .unwrap();
    let file = dir.path().join("c.csv");
    std::fs::write(
        &file,
        "ID,E-Mail Address,Age\n1,a@example.com,30\n2,not-an-email,40\n3,a@example.com,50\n4,b@example.com,200\n5,c@example.com,7\n",
    )
    .unwrap();
    for db in TestDb::both().await {
        let out = run_cli(
            dir.path(),
            &[
                "import",
                file.to_str().unwrap(),
                "--schema",
                schema.to_str().unwrap(),
                "--json",
                "--database-url",
                &db.url,
            ],
        );
        let v = json_out(&out);
        assert_eq!(v["table"], "contacts", "{v}");
        assert!(v["ddl"].as_str().unwrap().contains("contacts"), "{v}");
        assert_eq!(v["stats"]["success_count"], 2, "{v}");
        let rows: Vec<u64> = v["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["row"].as_u64().unwrap())
            .collect();
        assert_eq!(rows, [3, 4, 5], "{v}");
        let ids = db.query("SELECT id FROM contacts ORDER BY id").await;
        assert_eq!(ids, vec![vec![Some("1".into())], vec![Some("5".into())]]);
    }

    std::fs::write(
        &schema,
        "table = \"t\"\n\n[[columns]]\nname = \"a\"\ntype = \"integr\"\n",
    )
    .unwrap();
    let out = run_cli(
        dir.path(),
        &[
            "import",
            file.to_str().unwrap(),
            "--schema",
            schema.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("contacts.toml:5") && err.contains("integr"),
        "{err}"
    );
}
