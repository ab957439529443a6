//! Faults during an import, on a real PostgreSQL: the writers' connections
//! killed mid-import (`pg_terminate_backend`), and the database gone at the
//! start. Every time: a failed status naming the database, exact counts of
//! what was committed (the table agrees), no panic; and the pool discards
//! the killed connections, so the next import gets fresh ones.

use std::time::Duration;

use sheetpipe::pipeline::{self, Control, ImportError, ImportJob, Method, Plan, Status};

use crate::api::process::ServeProcess;
use crate::helpers::{pg_admin_url, run_cli, tempdir, TestDb};

/// The database name at the end of a test database's URL.
fn db_name(db: &TestDb) -> String {
    db.url.rsplit('/').next().unwrap().to_string()
}

/// Runs SQL on the server's admin database.
async fn admin(sql: &str) -> u64 {
    let (client, conn) = tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.simple_query(sql).await.unwrap().len() as u64
}

fn generate(dir: &std::path::Path, rows: &str) -> std::path::PathBuf {
    let out = run_cli(
        dir,
        &["generate", "big.csv", "--rows", rows, "--bad-rate", "0.05"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("big.csv")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_connections_mid_import_fails_with_exact_counts() {
    let dir = tempdir();
    let file = generate(dir.path(), "200000");
    let small = dir.path().join("small.csv");
    std::fs::write(&small, crate::api::csv_bytes(500)).unwrap();
    for (method, batch) in [
        (Method::Batch, Some(50)),
        (Method::Copy, Some(2000)),
        (Method::Concurrent, None),
    ] {
        let db = TestDb::postgres().await;
        let sink = db.sink().await;
        let ctl = Control::default();
        let plan = Plan::new(method, Some(2), batch);
        let import = {
            let (sink, ctl, file, plan) = (sink.clone(), ctl.clone(), file.clone(), plan.clone());
            tokio::spawn(
                async move { pipeline::run(ImportJob::new(file), &plan, &sink, &ctl).await },
            )
        };
        // Wait for the first commits, then kill every session of the db.
        while ctl
            .progress
            .inserted
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0
        {
            assert!(
                !import.is_finished(),
                "{method}: the import ended before any commit"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let killed = admin(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            db_name(&db)
        ))
        .await;
        let report = import.await.expect("no panic");
        let ctx = format!("{method}: {killed} sessions killed");
        assert_eq!(report.status, Status::Failed, "{ctx}");
        let err = report.error.as_ref().expect("an error");
        assert!(matches!(err, ImportError::Database(_)), "{ctx}: {err}");
        assert_eq!(err.exit_code(), 5);
        let text = err.to_string();
        assert!(
            text.contains("terminating connection")
                || text.contains("connection to PostgreSQL was closed"),
            "{ctx}: {err}"
        );
        let stored = db.count().await;
        assert_eq!(report.inserted, stored, "{ctx}: counted vs stored");
        assert!(
            stored > 0 && stored < 180_000,
            "{ctx}: cut short, {stored} stored"
        );
        assert!(
            report.inserted + report.rejected <= report.rows_read,
            "{ctx}"
        );
        let stats = report.stats();
        assert_eq!(stats.success_count, stored, "{ctx}");
        assert_eq!(
            stats.success_count + stats.error_count + stats.unprocessed,
            stats.total_records,
            "{ctx}"
        );
        // The pool discards the killed connections: the next import on the
        // same sink gets fresh ones and completes.
        let again = pipeline::run(ImportJob::new(&small), &plan, &sink, &Control::default()).await;
        assert_eq!(again.status, Status::Completed, "{ctx}: {:?}", again.error);
        assert_eq!(again.inserted + again.rejected, again.rows_read, "{ctx}");
        assert_eq!(db.count().await, stored + again.inserted, "{ctx}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_gone_before_the_writers_connect_fails_cleanly() {
    let dir = tempdir();
    let file = generate(dir.path(), "1000");
    let db = TestDb::postgres().await;
    let sink = db.sink().await;
    admin(&format!("DROP DATABASE {} WITH (FORCE)", db_name(&db))).await;
    let plan = Plan::new(Method::Batch, Some(2), None);
    let report = pipeline::run(ImportJob::new(&file), &plan, &sink, &Control::default()).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.expect("an error").to_string();
    assert!(
        err.contains("cannot connect to PostgreSQL") && err.contains("does not exist"),
        "{err}"
    );
    assert_eq!(report.inserted, 0);
}

#[test]
fn an_unreachable_database_at_start_exits_5_with_one_clear_line() {
    let dir = tempdir();
    generate(dir.path(), "10");
    // Nothing listens on port 1.
    let out = run_cli(
        dir.path(),
        &[
            "import",
            "big.csv",
            "--json",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/x",
        ],
    );
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("error: database error: cannot connect to PostgreSQL"),
        "{stderr}"
    );
    assert!(lines[0].contains("Connection refused"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_import_restarts_with_the_import_failed_and_counted_exactly() {
    for db in TestDb::both().await {
        let data = tempdir();
        let big = crate::api::csv_bytes(50_000);
        let server = ServeProcess::start(&db, data.path(), LEASE);
        // A synchronous upload: it runs where it was received (a background
        // one on PostgreSQL would be resumed elsewhere, see api::instances).
        let upload = {
            let part = reqwest::multipart::Part::bytes(big).file_name("big.csv");
            let form = reqwest::multipart::Form::new().part("file", part);
            let request = server
                .client
                .post(format!("{}/upload?method=sequential", server.base))
                .multipart(form);
            tokio::spawn(async move { request.send().await.is_ok() })
        };
        let seen = server
            .wait_on("/imports?limit=1", |v| {
                v["imports"][0]["progress"]["inserted"].as_u64() > Some(0)
            })
            .await;
        let id = seen["imports"][0]["id"].as_str().unwrap().to_string();
        // SIGKILL: no shutdown code runs.
        let mut server = server;
        server.child.kill().unwrap();
        let status = server.child.wait().unwrap();
        assert_eq!(status.code(), None, "killed by a signal");
        drop(server);
        assert!(!upload.await.unwrap(), "its client lost the connection");
        db.settle().await;

        let stored = db.count().await;
        // What was committed is recorded atomically with the rows: on
        // SQLite in imports.inserted, on PostgreSQL in the append-only
        // import_ledger (folded into imports.inserted at restart).
        let committed = if db.backend() == "postgres" {
            format!(
                "inserted + COALESCE((SELECT sum(l.inserted) FROM import_ledger l \
                 WHERE l.import_id = '{id}'), 0)"
            )
        } else {
            "inserted".to_string()
        };
        let row = db
            .query(&format!(
                "SELECT status, {committed} FROM imports WHERE id = '{id}'"
            ))
            .await;
        let ctx = format!("{}: {stored} rows stored", db.backend());
        assert_eq!(row[0][0].as_deref(), Some("running"), "{ctx}");
        assert_eq!(
            crate::api::n(&row[0][1]),
            stored,
            "{ctx}: the ledger is exact"
        );
        assert!(stored > 0 && stored < 50_000, "{ctx}");
        assert_eq!(
            crate::api::uploads_left(data.path()).len(),
            1,
            "{ctx}: the killed server's upload is still on disk"
        );

        restarted_server_reports_and_serves(&db, data.path(), &id, stored, &ctx).await;
    }
}

/// A reader running away inside the server (calamine's CFB reader on a
/// cyclic directory chain, the fuzzer's finding oom-3495a0cc) fails that
/// upload with a 422 naming the memory limit; the service stays up and
/// imports the next file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parser_abort_fails_one_upload_and_the_service_stays_up() {
    let db = TestDb::sqlite();
    let data = tempdir();
    let server = ServeProcess::start(&db, data.path(), &[]);
    let file = data.path().join("bomb.xls");
    std::fs::write(&file, crate::hostile::cyclic_cfb()).unwrap();
    let (code, body) = server
        .upload_sync("bomb.xls", std::fs::read(&file).unwrap())
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("--max-reader-memory"),
        "{body}"
    );
    let (code, body) = server
        .upload_sync("good.csv", crate::api::csv_bytes(50))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["stats"]["success_count"], 50);
}

/// A short lease, so that a killed server is taken for dead quickly.
const LEASE: &[&str] = &["--lease-seconds", "5"];

/// After the kill: a new server on the same database reports the import
/// failed (interrupted) with its exact count, and imports normally.
async fn restarted_server_reports_and_serves(
    db: &TestDb,
    data: &std::path::Path,
    id: &str,
    stored: u64,
    ctx: &str,
) {
    let server = ServeProcess::start(db, data, LEASE);
    assert!(
        crate::api::uploads_left(data).is_empty(),
        "{ctx}: the dead server's upload is swept at start"
    );
    // On PostgreSQL once the dead server's lease has expired.
    let v = server.wait(id, |v| v["status"] != "running").await;
    assert_eq!(v["status"], "failed", "{ctx}: {v}");
    assert_eq!(
        v["progress"]["inserted"].as_u64(),
        Some(stored),
        "{ctx}: {v}"
    );
    let stats = &v["stats"];
    let (total, ok, bad) = (
        stats["total_records"].as_u64().unwrap(),
        stats["success_count"].as_u64().unwrap(),
        stats["error_count"].as_i64().unwrap(),
    );
    assert!(
        bad >= 0 && total == ok + bad as u64,
        "{ctx}: the rebuilt status adds up: {v}"
    );
    assert_eq!(ok, stored, "{ctx}: {v}");
    assert!(
        v["progress"]["rows_read"].as_u64().unwrap() >= stored,
        "{ctx}: {v}"
    );
    let error = v["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("interrupted")
            && error.contains(&format!("{stored} rows had been committed")),
        "{ctx}: {error}"
    );
    // The restarted service imports normally.
    let next = server.start_import(crate::api::csv_bytes(300)).await;
    let done = server
        .wait(&next, |v| {
            v["status"] != "queued" && v["status"] != "running"
        })
        .await;
    assert_eq!(done["status"], "completed", "{ctx}: {done}");
    assert_eq!(done["progress"]["inserted"].as_u64(), Some(300), "{ctx}");
    assert_eq!(db.count().await, stored + 300, "{ctx}");
}
