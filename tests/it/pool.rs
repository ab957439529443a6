//! The PostgreSQL connection pool (`--max-connections`): its bound holds
//! while imports run concurrently over HTTP, `/health` and the history take
//! their connections from it, a killed connection is replaced, and an
//! import that cannot get a connection fails saying why.

use std::time::Duration;

use serde_json::Value;
use sheetpipe::pipeline::{self, Control, ImportError, ImportJob, Method, Plan, Status};
use sheetpipe::sink::{DatabaseUrl, PoolOptions, Sink, Wait};

use crate::api::process::ServeProcess;
use crate::helpers::{pg_admin_url, tempdir, TestDb};

/// The backend pids connected to `db`, seen from the admin database.
async fn backends(db: &TestDb) -> Vec<i32> {
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let (client, conn) = tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 ORDER BY pid",
            &[&name],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// [`backends`] once no more than `bound` are left, or after 2 s: a
/// connection just closed (`TestDb::count` opens one per call) leaves
/// `pg_stat_activity` a moment after its client, so a count taken at once
/// can see it; a connection the pool still holds stays and is counted.
async fn backends_within(db: &TestDb, bound: usize) -> Vec<i32> {
    let mut now = backends(db).await;
    for _ in 0..200 {
        if now.len() <= bound {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        now = backends(db).await;
    }
    now
}

/// Kills every session connected to `db`.
async fn kill_sessions(db: &TestDb) {
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let (client, conn) = tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
}

async fn start_batch_import(server: &ServeProcess, bytes: Vec<u8>) -> String {
    // The same file each time: allowed again explicitly.
    server
        .start_import_query("method=batch&allow_reimport=true", bytes)
        .await
}

fn ended(v: &Value) -> bool {
    matches!(
        v["status"].as_str(),
        Some("completed" | "failed" | "cancelled")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_imports_over_http_never_hold_more_connections_than_the_bound() {
    let db = TestDb::postgres().await;
    let data = tempdir();
    // Four imports of four writers each would be 16 connections unpooled.
    let server = ServeProcess::start(
        &db,
        data.path(),
        &[
            "--max-connections",
            "3",
            "--max-running",
            "4",
            "--workers",
            "4",
            "--batch-size",
            "50",
            "--pool-timeout",
            "600",
        ],
    );
    let rows = 6_000;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(start_batch_import(&server, crate::api::csv_bytes(rows)).await);
    }
    let (mut peak, mut samples) = (0, 0);
    loop {
        peak = peak.max(backends(&db).await.len());
        samples += 1;
        let mut done = true;
        for id in &ids {
            done &= ended(&server.status(id).await);
        }
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(peak <= 3, "{peak} connections at once (bound 3)");
    assert!(
        peak >= 1 && samples > 1,
        "the imports were observed running"
    );
    for id in &ids {
        let v = server.status(id).await;
        assert_eq!(v["status"], "completed", "{v}");
        assert_eq!(v["progress"]["inserted"].as_u64(), Some(rows), "{v}");
    }
    assert_eq!(db.count().await, 4 * rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reuses_a_pooled_connection_and_replaces_a_killed_one() {
    let db = TestDb::postgres().await;
    let data = tempdir();
    let server = ServeProcess::start(&db, data.path(), &["--max-connections", "2"]);
    let health = || async {
        let r = server
            .client
            .get(format!("{}/health", server.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    for _ in 0..5 {
        assert_eq!(health().await.0, 200);
    }
    // Schema, start-up check and five health checks, one after another:
    // one connection, kept open by the pool.
    let before = backends(&db).await;
    assert_eq!(before.len(), 1, "one pooled connection: {before:?}");
    for _ in 0..5 {
        assert_eq!(health().await.0, 200);
    }
    assert_eq!(backends(&db).await, before, "the same connection, reused");

    kill_sessions(&db).await;
    let (code, body) = health().await;
    assert_eq!(code, 200, "the killed connection is discarded: {body}");
    // The killed backend may take a moment to leave pg_stat_activity.
    let mut after = backends(&db).await;
    for _ in 0..200 {
        if !after.iter().any(|p| before.contains(p)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        after = backends(&db).await;
    }
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before, "a fresh connection replaced the killed one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_that_gets_no_connection_in_time_fails_naming_the_bound() {
    let dir = tempdir();
    let file = dir.path().join("small.csv");
    std::fs::write(&file, crate::api::csv_bytes(20)).unwrap();
    let db = TestDb::postgres().await;
    let options = PoolOptions {
        max_connections: 2,
        timeout: Duration::from_secs(1),
    };
    let sink = Sink::connect_with(&DatabaseUrl::parse(Some(&db.url)).unwrap(), options)
        .await
        .unwrap();
    // Two connections: one writer slot, held here by another "import".
    let held = sink.writer(Wait::Bounded).await.unwrap();
    let plan = Plan::new(Method::Batch, Some(4), None);
    let report = pipeline::run(ImportJob::new(&file), &plan, &sink, &Control::default()).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.expect("an error");
    assert!(matches!(err, ImportError::Database(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("no PostgreSQL connection became free within 1s")
            && text.contains("--max-connections"),
        "{text}"
    );
    assert_eq!((report.inserted, db.count().await), (0, 0));
    // The history still gets the connection kept from the writers.
    assert!(sink.list_imports(10, 0).await.is_ok());

    drop(held);
    let report = pipeline::run(ImportJob::new(&file), &plan, &sink, &Control::default()).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    assert_eq!((report.inserted, db.count().await), (20, 20));
    let left = backends_within(&db, 2).await;
    assert!(left.len() <= 2, "{left:?}");
}
