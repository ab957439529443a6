//! SIGTERM to a real `sheetpipe serve` process during an import: it stops
//! accepting, lets the import finish within the grace period or cancels it
//! after, records what happened in the `imports` table, and exits 0.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::{csv_bytes, n};
use crate::helpers::{bin, TestDb};

/// A `sheetpipe serve` child process on port 0.
struct Served {
    child: Child,
    base: String,
    client: reqwest::Client,
    _data: tempfile::TempDir,
}

fn serve(db: &TestDb, grace_secs: u64) -> Served {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--shutdown-grace"])
        .arg(grace_secs.to_string())
        .arg("--data-dir")
        .arg(data.path())
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("sheetpipe listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    Served {
        child,
        base,
        client: reqwest::Client::new(),
        _data: data,
    }
}

impl Served {
    async fn start_import(&self, bytes: Vec<u8>) -> String {
        let part = reqwest::multipart::Part::bytes(bytes).file_name("big.csv");
        let form = reqwest::multipart::Form::new().part("file", part);
        let r = self
            .client
            .post(format!("{}/imports?method=sequential", self.base))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let v: Value = r.json().await.unwrap();
        v["id"].as_str().unwrap().to_string()
    }

    /// Polls until the import has committed some rows.
    async fn wait_running(&self, id: &str) {
        for _ in 0..2400 {
            let v: Value = self
                .client
                .get(format!("{}/imports/{id}", self.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if v["progress"]["inserted"].as_u64() > Some(0) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("import {id} never started inserting");
    }

    /// Polls the history until the newest import has committed some rows;
    /// returns its id.
    async fn wait_any_running(&self) -> String {
        for _ in 0..2400 {
            let v: Value = self
                .client
                .get(format!("{}/imports?limit=1", self.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let newest = &v["imports"][0];
            if newest["progress"]["inserted"].as_u64() > Some(0) {
                return newest["id"].as_str().unwrap().to_string();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no import started inserting");
    }

    /// Sends SIGTERM and waits for the exit code.
    async fn terminate(mut self) -> i32 {
        let pid = self.child.id().to_string();
        // The shell's own `kill` (no dependency on procps being installed).
        let sent = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        assert!(sent.success());
        tokio::task::spawn_blocking(move || self.child.wait().unwrap())
            .await
            .unwrap()
            .code()
            .expect("exited, not killed by a signal")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_an_import_still_running_after_the_grace_period() {
    let db = TestDb::postgres().await;
    let rows = 30_000;
    let server = serve(&db, 1);
    let id = server.start_import(csv_bytes(rows)).await;
    server.wait_running(&id).await;
    assert_eq!(server.terminate().await, 0, "a graceful shutdown exits 0");
    let table = db
        .query(&format!(
            "SELECT status, inserted, error, finished_at FROM imports WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(table[0][0].as_deref(), Some("cancelled"));
    let inserted = n(&table[0][1]);
    assert!(inserted > 0 && inserted < rows, "{inserted}");
    assert_eq!(
        db.count().await,
        inserted,
        "the record matches the table exactly"
    );
    assert!(
        table[0][2].as_deref().unwrap().contains("shutdown"),
        "{:?}",
        table[0][2]
    );
    assert!(table[0][3].is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_running_import_finish_within_the_grace_period() {
    let db = TestDb::postgres().await;
    let rows = 1_500;
    let server = serve(&db, 120);
    // A synchronous upload in flight when the signal comes gets its answer.
    let upload = {
        let part = reqwest::multipart::Part::bytes(csv_bytes(rows)).file_name("sync.csv");
        let form = reqwest::multipart::Form::new().part("file", part);
        let request = server
            .client
            .post(format!("{}/upload?method=sequential", server.base))
            .multipart(form);
        tokio::spawn(async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };
    let id = server.wait_any_running().await;
    assert_eq!(server.terminate().await, 0);
    let (code, answer) = upload.await.unwrap();
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["import_id"], id.as_str());
    assert_eq!(answer["stats"]["success_count"], rows);
    let table = db
        .query(&format!(
            "SELECT status, rows_read, inserted, error FROM imports WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(table[0][0].as_deref(), Some("completed"));
    assert_eq!((n(&table[0][1]), n(&table[0][2])), (rows, rows));
    assert_eq!(table[0][3], None);
    assert_eq!(db.count().await, rows);
}
