//! One list of formats (`source::Format`) for the CLI's help, the upload
//! endpoints and the README; and the client's filename: a long name keeps
//! its extension, and RFC 5987 `filename*=` is honoured.

use sheetpipe::source::Format;

use super::{sheet_bytes, spawn_app, TestApp};

/// Posts `body` as a multipart part whose `Content-Disposition` parameters
/// after `form-data; name="file"` are exactly `disposition`.
async fn upload_raw(app: &TestApp, disposition: &str, body: &[u8]) -> reqwest::Response {
    let boundary = "sheetpipe-test-boundary";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; {disposition}\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(body);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    app.client
        .post(app.url("/upload"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form)
        .send()
        .await
        .unwrap()
}

const CSV: &[u8] = b"name,email\nAcme,a@acme.com\n";
const TSV: &[u8] = b"name\temail\nAcme\ta@acme.com\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_extension_the_cli_reads_is_accepted_over_http() {
    let app = spawn_app().await;
    let mut imported = 0;
    for format in Format::READABLE {
        for ext in format.extensions() {
            let bytes = match format {
                Format::Csv if *ext == "tsv" => TSV.to_vec(),
                Format::Csv => CSV.to_vec(),
                // Content decides the format: a workbook under each name.
                _ => sheet_bytes(1, ext),
            };
            let name = format!("list.{}", ext.to_uppercase());
            // The same CSV under several names: allowed again explicitly.
            let r = app
                .upload("/upload?allow_reimport=true", &name, bytes)
                .await;
            let status = r.status();
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(status, 200, "{name}: {v}");
            assert_eq!(v["stats"]["success_count"], 1, "{name}: {v}");
            imported += 1;
        }
    }
    assert_eq!(app.db.count().await, imported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_name_is_told_every_accepted_extension() {
    let app = spawn_app().await;
    let r = app.upload("/upload", "report.pdf", CSV.to_vec()).await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "Only Excel files allowed");
    let detail = v["detail"].as_str().unwrap();
    assert!(detail.ends_with(&Format::extension_list()), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_over_255_characters_keeps_its_extension() {
    let app = spawn_app().await;
    let name = format!("{}.csv", "n".repeat(252));
    assert_eq!(name.len(), 256);
    let r = app.upload("/upload", &name, CSV.to_vec()).await;
    assert_eq!(r.status(), 200);
    let table = app.imports_table("filename").await;
    let kept = table[0][0].clone().unwrap();
    assert_eq!(kept.chars().count(), 255, "{kept}");
    assert!(kept.ends_with("n.csv"), "{kept}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rfc_5987_filename_is_honoured_and_wins_over_the_plain_one() {
    let app = spawn_app().await;
    let r = upload_raw(&app, "filename*=UTF-8''B%C3%BCro%20Liste.tsv", TSV).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let both = "filename=\"fallback.pdf\"; filename*=UTF-8''%E2%82%AC%20Liste.csv";
    let r = upload_raw(&app, both, CSV).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let mut names: Vec<String> = app
        .imports_table("filename")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Büro Liste.tsv", "€ Liste.csv"]);
}

#[test]
fn the_readme_lists_the_extensions_the_service_accepts() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let row = readme
        .lines()
        .find(|l| l.contains("Only Excel files allowed"))
        .expect("the README's row for the refused upload");
    let listed = Format::extension_list().replace(", ", "/");
    assert!(row.contains(&listed), "{row}\nshould list {listed}");
}

#[test]
fn the_cli_help_names_the_same_extensions() {
    let out = crate::helpers::run_cli(std::path::Path::new("."), &["import", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains(&Format::extension_list()), "{help}");
}
