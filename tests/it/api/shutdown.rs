//! SIGTERM to a real `sheetpipe serve` process during an import: it stops
//! accepting, lets the import finish within the grace period or cancels it
//! after, records what happened in the `imports` table, and exits 0.

use serde_json::Value;

use super::process::ServeProcess;
use super::{csv_bytes, n};
use crate::helpers::TestDb;

/// `serve` with a shutdown grace of `grace_secs`, its data in `data`.
fn serve(db: &TestDb, data: &tempfile::TempDir, grace_secs: u64) -> ServeProcess {
    let grace = grace_secs.to_string();
    ServeProcess::start(db, data.path(), &["--shutdown-grace", &grace])
}

/// A synchronous sequential upload of `rows` rows, sent in its own task:
/// the answer's status code and body.
fn sync_upload(server: &ServeProcess, rows: u64) -> tokio::task::JoinHandle<(u16, Value)> {
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
}

/// Waits until import `id` has committed some rows.
async fn wait_running(server: &ServeProcess, id: &str) {
    server
        .wait(id, |v| v["progress"]["inserted"].as_u64() > Some(0))
        .await;
}

/// Waits until the newest import has committed some rows; its id.
async fn wait_any_running(server: &ServeProcess) -> String {
    let v = server
        .wait_on("/imports?limit=1", |v| {
            v["imports"][0]["progress"]["inserted"].as_u64() > Some(0)
        })
        .await;
    v["imports"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_gives_back_a_background_import_still_running_after_the_grace_period() {
    let db = TestDb::postgres().await;
    let rows = 30_000;
    let data = tempfile::tempdir().unwrap();
    let server = serve(&db, &data, 1);
    let id = server.start_import(csv_bytes(rows)).await;
    wait_running(&server, &id).await;
    assert_eq!(server.terminate().await, 0, "a graceful shutdown exits 0");
    // Queued again for any instance, its ledger kept: nothing to fold yet.
    let table = db
        .query(&format!(
            "SELECT status, instance_id, finished_at, \
             (SELECT sum(inserted) FROM import_ledger WHERE import_id = '{id}') \
             FROM imports WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(table[0][0].as_deref(), Some("queued"), "{table:?}");
    assert_eq!(table[0][1], None, "{table:?}");
    assert_eq!(table[0][2], None, "{table:?}");
    let committed = n(&table[0][3]);
    assert!(committed > 0 && committed < rows, "{committed}");
    assert_eq!(db.count().await, committed, "the ledger matches the table");
    // The next instance resumes it after its last committed unit.
    let next = serve(&db, &data, 30);
    let v = next
        .wait(&id, |v| {
            !matches!(v["status"].as_str(), Some("queued" | "running"))
        })
        .await;
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["stats"]["success_count"], rows, "{v}");
    let names = db
        .query("SELECT count(*), count(DISTINCT name) FROM businesses")
        .await;
    assert_eq!(
        (n(&names[0][0]), n(&names[0][1])),
        (rows, rows),
        "nothing doubled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_a_synchronous_upload_still_running_after_the_grace_period() {
    let db = TestDb::postgres().await;
    let rows = 30_000;
    let data = tempfile::tempdir().unwrap();
    let server = serve(&db, &data, 1);
    let upload = sync_upload(&server, rows);
    let id = wait_any_running(&server).await;
    assert_eq!(server.terminate().await, 0, "a graceful shutdown exits 0");
    assert_eq!(upload.await.unwrap().0, 503, "its client is told");
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
    let data = tempfile::tempdir().unwrap();
    let server = serve(&db, &data, 120);
    // A synchronous upload in flight when the signal comes gets its answer.
    let upload = sync_upload(&server, rows);
    let id = wait_any_running(&server).await;
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

/// A SIGTERM sent as soon as `serve` says where it listens (an orchestrator
/// stopping an instance it has just started) is a graceful stop, exit 0:
/// the handlers are installed before that line, not when the server first
/// polls its shutdown future (before, every such SIGTERM killed it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_right_after_the_listening_line_is_a_graceful_stop() {
    let db = TestDb::sqlite();
    for _ in 0..5 {
        let data = tempfile::tempdir().unwrap();
        assert_eq!(serve(&db, &data, 1).terminate().await, 0);
    }
}
