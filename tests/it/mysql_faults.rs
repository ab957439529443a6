//! MariaDB's limits and failures, against the real server:
//! `max_allowed_packet` bounds every statement (a unit of 36 MB of text
//! into a server whose packets stop at 16 MB is stored whole, by every
//! strategy), and a writer's connection killed from another connection in
//! the middle of an import leaves the table, the report and the history
//! agreeing on exactly which rows went in.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use sheetpipe::model::{Column, SqlType, TableSchema};
use sheetpipe::pipeline::{self, Control, ImportJob, Method, Plan, Status};

use crate::helpers::{bin, json_out, tempdir, TestDb};
use crate::mysql_db;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_larger_than_max_allowed_packet_are_stored_whole_by_every_strategy() {
    const ROWS: usize = 40;
    const CHARS: usize = 900_000; // under the reader's 1 MiB cell limit
    let dir = tempdir();
    let file = dir.path().join("big.csv");
    let mut csv = String::from("k,body\n");
    for k in 0..ROWS {
        let c = char::from(b'a' + (k % 26) as u8);
        csv.push_str(&format!("{k},{}é\n", c.to_string().repeat(CHARS - 1)));
    }
    std::fs::write(&file, csv).unwrap();
    for method in Method::ALL {
        let Some(db) = TestDb::mysql().await else {
            return;
        };
        let packet = db.query("SELECT @@max_allowed_packet").await[0][0]
            .as_deref()
            .unwrap()
            .parse::<usize>()
            .unwrap();
        assert!(
            ROWS * CHARS > 2 * packet,
            "the unit must exceed the packet limit"
        );
        let sink = db.bare_sink().await;
        db.execute("CREATE TABLE big (k INT NOT NULL PRIMARY KEY, body LONGTEXT) CHARSET utf8mb4")
            .await;
        let mut job = ImportJob::new(&file);
        job.table = Arc::new(TableSchema {
            name: "big".into(),
            columns: vec![
                Column::new("k", SqlType::Integer),
                Column::new("body", SqlType::Text),
            ],
            primary_key: vec!["k".into()],
            unique: vec![],
        });
        job.rules.max_cell_chars = CHARS;
        // One unit of every row (batch, copy): 36 MB.
        let plan = Plan::new(method, Some(1), Some(ROWS));
        let report = pipeline::run(job, &plan, &sink, &Control::default()).await;
        assert_eq!(
            report.status,
            Status::Completed,
            "{method}: {:?}",
            report.error
        );
        assert_eq!(
            (report.inserted, report.rejected),
            (ROWS as u64, 0),
            "{method}"
        );
        let stored = db
            .query("SELECT count(*), sum(char_length(body)), count(DISTINCT left(body, 1)), min(right(body, 1)) FROM big")
            .await;
        assert_eq!(
            stored[0],
            [
                Some(ROWS.to_string()),
                Some((ROWS * CHARS).to_string()),
                Some("26".to_string()),
                Some("é".to_string())
            ],
            "{method}"
        );
    }
}

/// The server's id of the connection running a `LOAD DATA` on this test's
/// database, once one is there (bounded wait).
async fn load_data_connection(killer: &mut mysql_async::Conn) -> u64 {
    for _ in 0..2000 {
        let id: Option<u64> = killer
            .query_first(
                "SELECT id FROM information_schema.processlist WHERE db = DATABASE() \
                 AND info LIKE 'LOAD DATA%'",
            )
            .await
            .unwrap();
        if let Some(id) = id {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no LOAD DATA ever ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_killed_mid_import_leaves_table_report_and_history_in_exact_agreement() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let dir = tempdir();
    let file = dir.path().join("many.csv");
    let opts = sheetpipe::generate::GenerateOptions {
        rows: 30_000,
        ..Default::default()
    };
    sheetpipe::generate::generate(&file, &opts).unwrap();
    db.sink().await;
    let child = std::process::Command::new(bin())
        .args(["import", "many.csv", "--method", "copy", "--workers", "1"])
        .args(["--batch-size", "500", "--json", "--database-url", &db.url])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let some units commit, then hold the table: the writer's next LOAD
    // DATA waits inside the server, where it is killed — mid-import, never
    // mid-commit.
    for _ in 0..2000 {
        if db.count().await >= 2000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut locker = mysql_db::connect(&db.url).await;
    locker
        .query_drop("LOCK TABLES businesses WRITE")
        .await
        .unwrap();
    let mut killer = mysql_db::connect(&db.url).await;
    let victim = load_data_connection(&mut killer).await;
    killer.query_drop(format!("KILL {victim}")).await.unwrap();
    locker.query_drop("UNLOCK TABLES").await.unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_out(&out);
    let stats = &v["stats"];
    let stored = db.count().await;
    assert!((2000..30_000).contains(&stored), "mid-import: {stored}");
    assert_eq!(stats["success_count"], stored, "{v}");
    assert_eq!(stats["error_count"], 0, "{v}");
    assert_eq!(
        stats["success_count"].as_u64().unwrap() + stats["unprocessed"].as_u64().unwrap(),
        stats["total_records"].as_u64().unwrap(),
        "{v}"
    );
    // One writer, units in order: every row before the resume row is in.
    assert_eq!(v["resume_from_row"], stored + 2, "{v}");
    assert_eq!(stored % 500, 0, "whole units only: {stored}");
    // The history agrees, and the ledger was folded into it.
    let id = v["import_id"].as_str().unwrap();
    let row = db
        .query(&format!(
            "SELECT status, inserted, (SELECT count(*) FROM import_ledger) FROM imports WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(
        row[0],
        [
            Some("failed".to_string()),
            Some(stored.to_string()),
            Some("0".to_string())
        ]
    );
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("database error"), "{error}");
}
