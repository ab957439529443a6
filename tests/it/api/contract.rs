//! The tutorial's contract over a real socket: `POST /upload` with each
//! method, its three 400s, `/health`, the size limit, hostile filenames.

use std::io::{Read, Write};

use sheetpipe::pipeline::Method;

use super::{n, sheet_bytes, spawn_app, spawn_app_with};
use crate::helpers::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_imports_with_every_method_like_the_tutorial() {
    let app = spawn_app().await;
    let mut expected_rows = 0;
    let mut calls: Vec<(String, &str)> = Method::ALL
        .iter()
        .map(|m| (format!("/upload?method={m}"), m.name()))
        .collect();
    calls.push(("/upload".to_string(), "batch")); // the tutorial's default
    for (i, (path, method)) in calls.iter().enumerate() {
        let good = 3 + i;
        let r = app
            .upload(path, "businesses.xlsx", sheet_bytes(good, method))
            .await;
        assert_eq!(r.status(), 200, "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["message"], "Import completed successfully");
        assert_eq!(v["method"], *method);
        assert_eq!(v["stats"]["total_records"], good as u64 + 1);
        assert_eq!(v["stats"]["success_count"], good as u64);
        assert_eq!(v["stats"]["error_count"], 1);
        assert!(v["stats"]["duration"].is_string());
        assert!(v["stats"]["records_per_second"].is_number());
        assert_eq!(v["rejected"][0]["row"], good as u64 + 2);
        assert_eq!(v["rejected"][0]["column"], "D (email)");
        assert!(v["import_id"].is_string());
        expected_rows += good as u64;
    }
    assert_eq!(app.db.count().await, expected_rows);
    let table = app
        .imports_table("method, status, rows_read, inserted, rejected, finished_at")
        .await;
    assert_eq!(table.len(), calls.len());
    for (row, (i, (_, method))) in table.iter().zip(calls.iter().enumerate()) {
        assert_eq!(row[0].as_deref(), Some(*method));
        assert_eq!(row[1].as_deref(), Some("completed"));
        assert_eq!(
            (n(&row[2]), n(&row[3]), n(&row[4])),
            (4 + i as u64, 3 + i as u64, 1)
        );
        assert!(row[5].is_some(), "finished_at is recorded");
    }
    assert!(app.uploads_left().is_empty(), "uploads are removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_file_is_400_no_file_uploaded() {
    let app = spawn_app().await;
    let form = reqwest::multipart::Form::new().text("other", "value");
    let r = app
        .client
        .post(app.url("/upload"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "No file uploaded");
    // Not multipart at all (curl -X POST without -F).
    let r = app.client.post(app.url("/upload")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "No file uploaded");
    // An empty file.
    let r = app.upload("/upload", "empty.xlsx", Vec::new()).await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "No file uploaded");
    assert!(app.imports_table("id").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_we_do_not_read_is_400_by_extension_and_by_content() {
    let app = spawn_app().await;
    let cases: [(&str, Vec<u8>); 3] = [
        ("report.pdf", sheet_bytes(1, "x")), // a real sheet, wrong name
        (
            "fake.xlsx",
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec(),
        ), // binary
        ("archive.xlsx", zip_without_workbook()), // a zip, but no workbook
    ];
    for (name, bytes) in cases {
        let r = app.upload("/upload", name, bytes).await;
        assert_eq!(r.status(), 400, "{name}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"], "Only Excel files allowed", "{name}");
    }
    // CSV is read, whatever its name's case.
    let r = app
        .upload(
            "/upload",
            "list.CSV",
            b"name,email\nAcme,a@acme.com\n".to_vec(),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.db.count().await, 1);
    assert!(app.uploads_left().is_empty());
}

fn zip_without_workbook() -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    zip.start_file("readme.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"hello").unwrap();
    zip.finish().unwrap();
    buf.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_method_is_400_listing_every_method() {
    let app = spawn_app().await;
    let r = app
        .upload("/upload?method=bulk", "b.xlsx", sheet_bytes(1, "m"))
        .await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v["error"],
        "Invalid method. Use: sequential, concurrent, batch, or copy"
    );
    assert_eq!(app.db.count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_200_while_the_database_answers_and_503_when_it_does_not() {
    let app = spawn_app().await;
    let (code, v) = app.get_json("/health").await;
    assert_eq!((code, v), (200, serde_json::json!({"status": "healthy"})));
    // Take the database away under the running server.
    let name = app.db.url.rsplit('/').next().unwrap().to_string();
    let admin = crate::helpers::pg_admin_url();
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    let (code, v) = app.get_json("/health").await;
    assert_eq!(code, 503);
    assert_eq!(v["status"], "unhealthy");
    assert!(v["error"].as_str().unwrap().contains("PostgreSQL"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_413_without_being_read() {
    let app = spawn_app_with(TestDb::postgres().await, |c| c.max_upload_bytes = 1 << 20).await;
    // Declared too big: answered before a single body byte is sent.
    let mut sock = std::net::TcpStream::connect(app.addr).unwrap();
    write!(
        sock,
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n\
         Content-Length: 1073741824\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 64];
    let got = sock.read(&mut head).unwrap();
    let head = String::from_utf8_lossy(&head[..got]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // Streamed without a length: cut off once past the limit.
    let chunks = (0..32).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 64 * 1024]));
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let part = reqwest::multipart::Part::stream(body).file_name("big.csv");
    let form = reqwest::multipart::Form::new().part("file", part);
    let r = app
        .client
        .post(app.url("/upload"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("1048576"), "{v}");
    assert!(
        app.uploads_left().is_empty(),
        "the partial upload is removed"
    );
    assert_eq!(app.db.count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_in_the_filename_is_only_metadata() {
    let app = spawn_app().await;
    let r = app
        .upload("/upload", "../../etc/passwd", sheet_bytes(1, "p"))
        .await;
    assert_eq!(r.status(), 400, "no spreadsheet extension");
    let evil = "../../etc/passwd.xlsx";
    let r = app.upload("/upload", evil, sheet_bytes(2, "p")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.db.count().await, 2);
    let table = app.imports_table("filename").await;
    assert_eq!(table, vec![vec![Some(evil.to_string())]]);
    let escaped = app.data_dir.path().join("uploads-x").join(evil);
    assert!(!escaped.exists());
    assert!(!app.data_dir.path().join(evil).exists());
    assert!(app.uploads_left().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_on_the_embedded_sqlite_database_too() {
    let app = spawn_app_with(TestDb::sqlite(), |_| {}).await;
    assert_eq!(app.get_json("/health").await.0, 200);
    let r = app
        .upload("/upload?method=concurrent", "s.xlsx", sheet_bytes(4, "s"))
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["stats"]["success_count"], 4);
    assert_eq!(app.db.count().await, 4);
    let table = app.imports_table("status, inserted").await;
    assert_eq!(table[0][0].as_deref(), Some("completed"));
    assert_eq!(n(&table[0][1]), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id_kept_from_the_client() {
    let app = spawn_app_with(TestDb::sqlite(), |_| {}).await;
    let r = app.get("/health").await;
    let id = r.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let r = app
        .client
        .get(app.url("/nowhere"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");
}
