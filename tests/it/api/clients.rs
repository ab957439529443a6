//! Hostile clients over raw loopback sockets: headers sent byte by byte,
//! bodies that stall, many stalled uploads at once, and more connections
//! than the caps allow. Every loop is bounded in count and every wait by a
//! generous deadline (a bound, never a measurement).

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{sheet_bytes, spawn_app_with, TestApp};
use crate::helpers::TestDb;

/// Longest any single wait in these tests may take before it fails.
const BOUND: Duration = Duration::from_secs(60);

/// Reads until the server closes the connection; what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server never closed the connection");
    String::from_utf8_lossy(&out).into_owned()
}

/// A request head for a chunked multipart upload, then the first chunk
/// (the part's headers and one line of a CSV); the body never ends.
fn stalled_upload(path: &str) -> Vec<u8> {
    let part = "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\
                Content-Type: text/csv\r\n\r\nname,email\nAcme,a@example.com\n";
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: multipart/form-data; boundary=XYZ\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{part}\r\n",
        part.len()
    )
    .into_bytes()
}

/// Opens a stalled upload on `app`.
async fn open_stalled(app: &TestApp) -> TcpStream {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(&stalled_upload("/upload")).await.unwrap();
    s
}

/// Polls (bounded) until `cond` holds.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

/// A GET over a fresh raw connection: everything the server sent before
/// closing it.
async fn raw_get(app: &TestApp, path: &str) -> String {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let _ = s.write_all(req.as_bytes()).await;
    read_to_close(&mut s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_one_byte_a_second_are_cut_off_at_the_header_timeout() {
    let app = spawn_app_with(TestDb::sqlite(), |c| {
        c.conn.header_timeout = Duration::from_secs(2);
    })
    .await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut sent = 0;
    let mut closed = false;
    for byte in head.iter().take(40) {
        if s.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        sent += 1;
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => panic!("answered a request never completed: {:?}", &buf[..n]),
            Err(_) => {} // still open: one more byte
        }
    }
    assert!(closed, "still open after {sent} bytes at 1 byte/s");
    assert!(sent < head.len(), "the head was never complete");
    let after = raw_get(&app, "/health").await;
    assert!(after.starts_with("HTTP/1.1 200"), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_answered_408_and_closed_after_the_idle_timeout() {
    let app = spawn_app_with(TestDb::sqlite(), |c| {
        c.upload_idle_timeout = Duration::from_secs(2);
    })
    .await;
    let mut s = open_stalled(&app).await;
    let answer = read_to_close(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"], "Upload stalled: no data for 2s");
    eventually("the partial upload file is removed", || {
        app.uploads_left().is_empty()
    })
    .await;
    assert!(app.imports_table("id").await.is_empty(), "nothing recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_six_stalled_uploads_do_not_lock_out_a_normal_upload() {
    let app = spawn_app_with(TestDb::postgres().await, |c| {
        c.max_running = 1;
        c.max_queued = 1;
        c.conn.max_per_client = 100;
        c.upload_idle_timeout = Duration::from_secs(600);
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..66 {
        stalled.push(open_stalled(&app).await);
    }
    eventually("all 66 bodies are being received", || {
        app.uploads_left().len() == 66
    })
    .await;
    let r = app
        .upload("/upload?method=batch", "ok.xlsx", sheet_bytes(3, "n"))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["stats"]["success_count"], 3);
    let r = app.upload("/imports", "bg.xlsx", sheet_bytes(2, "b")).await;
    assert_eq!(r.status(), 202, "a background upload is accepted too");
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.wait_final(&id).await["status"], "completed");
    assert_eq!(app.db.count().await, 5);
    drop(stalled);
    eventually("the stalled uploads' files are removed", || {
        app.uploads_left().is_empty()
    })
    .await;
    assert_eq!(
        app.imports_table("id").await.len(),
        2,
        "only the complete ones"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_past_the_cap_is_answered_503_and_closed() {
    let app = spawn_app_with(TestDb::sqlite(), |c| {
        c.conn.max_connections = 4;
        c.conn.max_per_client = 0;
        c.conn.header_timeout = Duration::from_secs(600);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(app.addr).await.unwrap());
    }
    let refused = raw_get(&app, "/health").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.to_lowercase().contains("retry-after: 5"),
        "{refused}"
    );
    assert!(refused.contains("too many open connections"), "{refused}");
    drop(held.pop());
    let mut answer = String::new();
    for _ in 0..200 {
        answer = raw_get(&app, "/health").await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "a freed place is taken: {answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_address_cannot_take_every_connection() {
    let app = spawn_app_with(TestDb::sqlite(), |c| {
        c.conn.max_connections = 100;
        c.conn.max_per_client = 2;
        c.conn.header_timeout = Duration::from_secs(600);
    })
    .await;
    let _held = [
        TcpStream::connect(app.addr).await.unwrap(),
        TcpStream::connect(app.addr).await.unwrap(),
    ];
    let refused = raw_get(&app, "/health").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("from your address"), "{refused}");
}
