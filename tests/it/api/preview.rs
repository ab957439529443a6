//! `POST /preview` and `PUT /mappings` over a real socket on PostgreSQL:
//! sheets listed, the header found below a title row and matched by
//! aliases, every invalid cell of the first rows named, a saved matching
//! offered again, and `map=Header=-` ignoring a header on upload.

use rust_xlsxwriter::Workbook;
use serde_json::{json, Value};

use super::{spawn_app, TestApp};

/// A workbook whose first sheet is a summary and whose second, `Data`,
/// has a title row, then aliased headers, a good row, a bad email and a
/// row without a name.
fn two_sheets() -> Vec<u8> {
    let mut wb = Workbook::new();
    let summary = wb.add_worksheet();
    summary.set_name("Summary").unwrap();
    summary.write_string(0, 0, "see Data").unwrap();
    let data = wb.add_worksheet();
    data.set_name("Data").unwrap();
    let rows: [[&str; 4]; 5] = [
        ["Customers 2024", "", "", ""],
        ["Company", "E-Mail", "Tel", "Owner"],
        ["Acme", "info@acme.example", "555 1234", "Ann"],
        ["Bolt", "not-an-email", "555 9876", "Bob"],
        ["", "c@c.example", "", "Cy"],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                data.write_string(r as u32, c as u16, *v).unwrap();
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

/// Posts the two-sheet workbook to `path`: status and JSON body.
async fn send(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app.upload(path, "people.xlsx", two_sheets()).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn preview(app: &TestApp, query: &str) -> (u16, Value) {
    send(app, &format!("/preview?{query}")).await
}

/// The names of the preview's table columns.
fn table_columns(v: &Value) -> Vec<&str> {
    v["table"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

fn suggested(v: &Value) -> Vec<Value> {
    v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["suggested"].clone())
        .collect()
}

#[tokio::test]
async fn preview_lists_sheets_matches_aliases_and_names_every_invalid_cell() {
    let app = spawn_app().await;
    let (code, v) = preview(&app, "sheet=Data").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["sheets"], json!(["Summary", "Data"]));
    assert_eq!(v["sheet"], "Data");
    assert_eq!(v["header_row"], 2, "the title row is skipped");
    assert_eq!(v["headers"], json!(["Company", "E-Mail", "Tel", "Owner"]));
    assert_eq!(
        suggested(&v),
        vec![json!("name"), json!("email"), json!("phone"), Value::Null]
    );
    assert_eq!(v["error"], Value::Null);
    assert_eq!(v["table"]["name"], "businesses");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["errors"], json!([null, null, null, null]));
    assert_eq!(rows[1]["row"], 4);
    let bad = rows[1]["errors"][1].as_str().unwrap();
    assert!(bad.contains("email"), "{bad}");
    assert_eq!(rows[1]["cells"][1], "not-an-email");
    assert!(rows[2]["errors"][0].is_string(), "name is required: {v}");
    assert_eq!(app.uploads_left(), Vec::<std::path::PathBuf>::new());
    assert_eq!(app.db.count().await, 0, "nothing is written");
}

#[tokio::test]
async fn an_ignored_required_header_is_reported_not_refused() {
    let app = spawn_app().await;
    let (code, v) = preview(&app, "sheet=2&map=Company%3D-").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(suggested(&v)[0], Value::Null);
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("'name'"), "{error}");
    assert_eq!(v["headers"][0], "Company", "the header row is still shown");
    let (code, v) = preview(&app, "sheet=Nope").await;
    assert_eq!(code, 422, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("Summary, Data"),
        "{v}"
    );
}

#[tokio::test]
async fn a_new_table_is_previewed_as_create_would_infer_it() {
    let app = spawn_app().await;
    let (code, v) = preview(&app, "sheet=Data&table=fresh").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["table_exists"], false);
    assert_eq!(table_columns(&v), ["company", "e_mail", "tel", "owner"]);
    assert_eq!(
        suggested(&v),
        vec![
            json!("company"),
            json!("e_mail"),
            json!("tel"),
            json!("owner")
        ]
    );
}

#[tokio::test]
async fn a_saved_matching_is_offered_again_and_used_with_ignored_headers() {
    let app = spawn_app().await;
    app.db
        .execute("CREATE TABLE contacts (full_name TEXT NOT NULL, email TEXT)")
        .await;
    let mapping = json!({"Company": "full_name", "E-Mail": "email", "Tel": "-", "Owner": "-"});
    let put = |body: Value| app.client.put(app.url("/mappings")).json(&body).send();
    let headers = json!(["Owner", "tel", "E-Mail", "Company"]);
    let r = put(json!({"table": "contacts", "headers": headers, "mapping": mapping}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (code, v) = preview(&app, "sheet=Data&table=contacts").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["saved_mapping"], mapping, "same headers in another order");
    assert!(v["error"].as_str().unwrap().contains("full_name"), "{v}");

    let r = put(json!({"table": "contacts", "headers": headers, "mapping": {"Tel": "phone"}}))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("phone"), "{e}");
    let r = put(json!({"table": "nope", "headers": [], "mapping": {}}))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = put(json!({"table": "contacts", "headers": [], "mapping": {"X": "email"}}))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    let map = "Company%3Dfull_name%2CE-Mail%3Demail%2CTel%3D-%2COwner%3D-";
    // The page's review is a dry run of the same file: it does not make
    // the import after it a re-import.
    let upload = format!("/upload?table=contacts&sheet=Data&map={map}");
    let (code, dry) = send(&app, &format!("{upload}&dry_run=true")).await;
    assert_eq!(code, 200, "{dry}");
    let (_, report) = send(&app, &upload).await;
    assert_eq!(report["stats"]["success_count"], 2, "{report}");
    assert_eq!(report["stats"]["error_count"], 1, "{report}");
    assert_eq!(report["ignored_columns"], json!(["Tel", "Owner"]));
    let rows = app
        .db
        .query("SELECT full_name, email FROM contacts ORDER BY full_name")
        .await;
    assert_eq!(
        rows,
        vec![
            vec![Some("Acme".into()), Some("info@acme.example".into())],
            vec![Some("Bolt".into()), Some("not-an-email".into())]
        ]
    );
}

#[tokio::test]
async fn a_new_tables_columns_are_renamed_or_left_out_by_map() {
    let app = spawn_app().await;
    let map = "Company%3Dcompany_name%2COwner%3D-";
    let (code, v) = preview(&app, &format!("sheet=Data&table=renamed&map={map}")).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(table_columns(&v), ["company_name", "e_mail", "tel"]);
    assert_eq!(suggested(&v)[3], Value::Null, "Owner is left out");
    let (_, report) = send(
        &app,
        &format!("/upload?sheet=Data&table=renamed&create=true&map={map}"),
    )
    .await;
    assert_eq!(report["stats"]["success_count"], 3, "{report}");
    assert_eq!(
        app.db.column_names("renamed").await,
        ["company_name", "e_mail", "tel"]
    );
    let (code, v) = preview(&app, "sheet=Data&table=twice&map=Company%3Dtel").await;
    assert_eq!(code, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("named tel"), "{v}");
}
