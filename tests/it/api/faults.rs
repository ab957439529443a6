//! One import's panic fails that import only: a 500 and a `failed` record
//! with exact counts, while the other imports and the server go on. The
//! fault is injected by wrapping the real pipeline (`ServeConfig.importer`).

use futures::future::BoxFuture;
use serde_json::Value;
use sheetpipe::pipeline::{self, Control, ImportJob, ImportReport, Plan};
use sheetpipe::sink::Sink;

use super::{n, sheet_bytes, spawn_app_with};
use crate::helpers::TestDb;

/// The real import, then a panic when the file had exactly 4 data rows.
fn panics_on_four_rows(
    job: ImportJob,
    plan: Plan,
    sink: Sink,
    ctl: Control,
) -> BoxFuture<'static, ImportReport> {
    Box::pin(async move {
        let report = pipeline::run(job, &plan, &sink, &ctl).await;
        if report.rows_read == 4 {
            panic!("injected fault after {} rows", report.inserted);
        }
        report
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_import_fails_alone_and_the_server_lives_on() {
    let app = spawn_app_with(TestDb::postgres().await, |c| {
        c.importer = panics_on_four_rows;
    })
    .await;
    let (bad, good) = tokio::join!(
        app.upload("/upload", "bad.xlsx", sheet_bytes(3, "panic")),
        app.upload("/upload", "good.xlsx", sheet_bytes(5, "fine")),
    );
    assert_eq!(bad.status(), 500);
    let v: Value = bad.json().await.unwrap();
    assert_eq!(v["message"], "Import failed");
    assert!(
        !v["error"].as_str().unwrap().contains("injected"),
        "internals stay in the log: {v}"
    );
    let failed_id = v["import_id"].as_str().unwrap().to_string();
    assert_eq!(good.status(), 200, "the other import is unaffected");
    let v: Value = good.json().await.unwrap();
    assert_eq!(v["stats"]["success_count"], 5);
    // The process lives, and the failure is recorded with what was committed.
    assert_eq!(app.get_json("/health").await.0, 200);
    let table = app
        .db
        .query(&format!(
            "SELECT status, inserted, error FROM imports WHERE id = '{failed_id}'"
        ))
        .await;
    assert_eq!(table[0][0].as_deref(), Some("failed"));
    assert_eq!(n(&table[0][1]), 3);
    assert!(table[0][2]
        .as_deref()
        .unwrap()
        .contains("injected fault after 3 rows"));
    assert_eq!(app.db.count().await, 3 + 5);
    let r = app
        .upload("/upload", "again.xlsx", sheet_bytes(2, "again"))
        .await;
    assert_eq!(r.status(), 200);
    assert!(app.uploads_left().is_empty());
}

/// Holds every import before it starts until the test releases it.
static GATE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(0);

fn waits_at_the_gate(
    job: ImportJob,
    plan: Plan,
    sink: Sink,
    ctl: Control,
) -> BoxFuture<'static, ImportReport> {
    Box::pin(async move {
        GATE.acquire().await.unwrap().forget();
        pipeline::run(job, &plan, &sink, &ctl).await
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_sweep_never_marks_this_servers_own_running_import() {
    for db in TestDb::both().await {
        let app = spawn_app_with(db, |c| {
            c.importer = waits_at_the_gate;
            c.lease = std::time::Duration::from_secs(1); // a sweep every heartbeat
        })
        .await;
        let r = app.upload("/imports", "g.xlsx", sheet_bytes(3, "g")).await;
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        app.wait_for(&id, |v| v["status"] == "running").await;
        // Several heartbeats (and sweeps) pass while the import runs.
        tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
        let ctx = app.db.backend();
        let row = app.imports_table("status, error").await;
        assert_eq!(row[0][0].as_deref(), Some("running"), "{ctx}: {row:?}");
        assert_eq!(row[0][1], None, "{ctx}");
        GATE.add_permits(1);
        let done = app.wait_final(&id).await;
        assert_eq!(done["status"], "completed", "{ctx}: {done}");
        assert_eq!(app.db.count().await, 3, "{ctx}");
    }
}
