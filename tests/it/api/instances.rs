//! Several real `sheetpipe serve` processes on one PostgreSQL database:
//! restarts and kills mid-import never touch a live instance's import, a
//! dead instance's import is failed with its exact count, status, events
//! and cancel work from any instance, and a rolling restart loses or
//! doubles nothing. SQLite refuses a second instance.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;

use super::process::ServeProcess;
use super::{csv_bytes, n};
use crate::helpers::{bin, TestDb};

/// A short lease, so that a killed instance is taken for dead quickly.
const LEASE: &[&str] = &["--lease-seconds", "5"];

fn start(db: &TestDb, data: &tempfile::TempDir) -> ServeProcess {
    ServeProcess::start(db, data.path(), LEASE)
}

/// Waits until import `id` has committed some rows (asking `server`).
async fn wait_inserting(server: &ServeProcess, id: &str) {
    server
        .wait(id, |v| v["progress"]["inserted"].as_u64() > Some(0))
        .await;
}

fn is_final(v: &Value) -> bool {
    !matches!(v["status"].as_str(), Some("queued" | "running"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_one_instance_leaves_the_other_instances_import_alone() {
    let db = TestDb::postgres().await;
    let (da, db_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(&db, &da);
    let rows = 20_000;
    let id = a.start_import(csv_bytes(rows)).await;
    wait_inserting(&a, &id).await;
    for _ in 0..2 {
        let b = start(&db, &db_dir);
        let seen = b.status(&id).await;
        assert_eq!(seen["status"], "running", "{seen}");
        assert_eq!(b.terminate().await, 0);
    }
    let b = start(&db, &db_dir); // one more start, right away after a stop
    let done = a.wait(&id, is_final).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["stats"]["success_count"], rows);
    assert_eq!(db.count().await, rows);
    let via_b = b.status(&id).await;
    assert_eq!(via_b["progress"]["inserted"], rows, "{via_b}");
}

/// Rows in `businesses` and how many distinct names (every generated row
/// of one file has its own name).
async fn rows_and_names(db: &TestDb) -> (u64, u64) {
    let r = db
        .query("SELECT count(*), count(DISTINCT name) FROM businesses")
        .await;
    (n(&r[0][0]), n(&r[0][1]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_background_import_is_resumed_by_another_exactly() {
    let db = TestDb::postgres().await;
    let (da, db_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let b = start(&db, &db_dir);
    let mut a = start(&db, &da);
    let rows = 20_000;
    let id = a.start_import(csv_bytes(rows)).await;
    wait_inserting(&a, &id).await;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    db.settle().await;
    let before = db.count().await;
    assert!(before > 0 && before < rows, "killed mid-import: {before}");
    // B takes it over once A's lease has expired, after A's last unit.
    let v = b.wait(&id, is_final).await;
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["stats"]["success_count"], rows, "{v}");
    assert_eq!(v["stats"]["total_records"], rows, "{v}");
    assert_eq!(v["progress"]["inserted"], rows, "{v}");
    assert_eq!(
        rows_and_names(&db).await,
        (rows, rows),
        "no row lost or doubled"
    );
    let left = db
        .query(&format!(
            "SELECT (SELECT count(*) FROM import_ledger WHERE import_id = '{id}'), \
             (SELECT count(*) FROM sheetpipe_uploads WHERE import_id = '{id}')"
        ))
        .await;
    assert_eq!(
        (n(&left[0][0]), n(&left[0][1])),
        (0, 0),
        "ledger folded, upload removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_to_a_busy_instance_are_claimed_by_the_other() {
    let db = TestDb::postgres().await;
    let (da, db_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let one = ["--lease-seconds", "5", "--max-running", "1"];
    let a = ServeProcess::start(&db, da.path(), &one);
    let b = ServeProcess::start(&db, db_dir.path(), &one);
    let rows = 3_000;
    let mut ids = Vec::new();
    for _ in 0..4 {
        // Every upload to A; the same file each time, allowed again.
        let query = "method=sequential&allow_reimport=true";
        ids.push(a.start_import_query(query, csv_bytes(rows)).await);
    }
    for id in &ids {
        // Whichever instance is asked, the same final answer.
        let v = b.wait(id, is_final).await;
        assert_eq!(v["status"], "completed", "{v}");
        assert_eq!(v["stats"]["success_count"], rows, "{v}");
        assert_eq!(a.wait(id, is_final).await["status"], "completed");
    }
    assert_eq!(db.count().await, 4 * rows);
    let runners = db
        .query("SELECT count(DISTINCT instance_id), (SELECT count(*) FROM sheetpipe_uploads) FROM imports")
        .await;
    assert_eq!(n(&runners[0][0]), 2, "B ran some of A's uploads");
    assert_eq!(n(&runners[0][1]), 0, "every stored upload removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_events_and_cancel_work_from_the_instance_not_running_the_import() {
    let db = TestDb::postgres().await;
    let (da, db_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(&db, &da);
    let b = start(&db, &db_dir);
    let id = a.start_import(csv_bytes(50_000)).await;
    wait_inserting(&b, &id).await; // live progress through the other instance
    let events = b
        .client
        .get(format!("{}/imports/{id}/events", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let r = b
        .client
        .delete(format!("{}/imports/{id}", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let text = events.text().await.unwrap();
    assert!(text.contains("event: progress"), "{text}");
    let last = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .unwrap();
    let done: Value = serde_json::from_str(last).unwrap();
    assert_eq!(done["status"], "cancelled", "{done}");
    let inserted = done["progress"]["inserted"].as_u64().unwrap();
    assert_eq!(db.count().await, inserted, "the record matches the table");
    assert_eq!(a.status(&id).await["status"], "cancelled");
}

/// Current base URLs of the instances, updated as they restart.
type Bases = Arc<RwLock<Vec<String>>>;

/// Uploads `count` CSVs of `rows` rows, each retried on the other
/// instance after a 503 or a refused connection; the rows answered 200.
async fn upload_stream(
    bases: Bases,
    first: usize,
    count: usize,
    rows: u64,
    done: Arc<AtomicUsize>,
) -> u64 {
    let client = reqwest::Client::new();
    let body = csv_bytes(rows);
    let mut answered = 0;
    for i in 0..count {
        let mut ok = false;
        for attempt in 0..100 {
            let base = {
                let b = bases.read().unwrap();
                b[(first + i + attempt) % b.len()].clone()
            };
            let part = reqwest::multipart::Part::bytes(body.clone()).file_name("r.csv");
            let form = reqwest::multipart::Form::new().part("file", part);
            let sent = client
                // Every upload sends the same file: allowed again explicitly.
                .post(format!("{base}/upload?allow_reimport=true"))
                .multipart(form)
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == 200 => {
                    let v: Value = r.json().await.unwrap();
                    assert_eq!(v["stats"]["success_count"], rows, "{v}");
                    ok = true;
                    break;
                }
                Ok(r) => assert_eq!(r.status(), 503, "{}", r.text().await.unwrap()),
                Err(_) => {} // the instance is restarting: try the other
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "upload {i} never answered 200");
        answered += rows;
        done.fetch_add(1, Ordering::SeqCst);
    }
    answered
}

/// Waits (bounded) until `done` reaches `n`.
async fn until(done: &AtomicUsize, n: usize) {
    for _ in 0..2400 {
        if done.load(Ordering::SeqCst) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the uploads stopped at {}", done.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_with_uploads_flowing_loses_and_doubles_nothing() {
    let db = TestDb::postgres().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut servers = [start(&db, &dirs[0]), start(&db, &dirs[1])];
    let bases: Bases = Arc::new(RwLock::new(
        servers.iter().map(|s| s.base.clone()).collect(),
    ));
    let done = Arc::new(AtomicUsize::new(0));
    let (streams, per_stream, rows) = (3, 8, 400);
    let uploads: Vec<_> = (0..streams)
        .map(|k| {
            tokio::spawn(upload_stream(
                bases.clone(),
                k,
                per_stream,
                rows,
                done.clone(),
            ))
        })
        .collect();
    // SIGTERM each instance in turn while uploads are in flight.
    for (k, after) in [(0, 4), (1, 12)] {
        until(&done, after).await;
        let old = std::mem::replace(&mut servers[k], start(&db, &dirs[k]));
        bases.write().unwrap()[k] = servers[k].base.clone();
        assert_eq!(old.terminate().await, 0);
    }
    let mut answered = 0;
    for u in uploads {
        answered += u.await.unwrap();
    }
    let total = (streams * per_stream) as u64;
    assert_eq!(answered, total * rows);
    assert_eq!(db.count().await, answered, "every row counted once");
    let table = db
        .query("SELECT status, count(*), sum(inserted) FROM imports GROUP BY status")
        .await;
    // Every upload completed exactly once. An upload still queued on an
    // instance when its SIGTERM came is recorded `cancelled` with nothing
    // inserted (its client got 503 and sent it again elsewhere).
    let completed: Vec<_> = table
        .iter()
        .filter(|r| r[0].as_deref() == Some("completed"))
        .collect();
    assert_eq!(completed.len(), 1, "{table:?}");
    assert_eq!(n(&completed[0][1]), total, "{table:?}");
    assert_eq!(n(&completed[0][2]), answered, "{table:?}");
    for other in table
        .iter()
        .filter(|r| r[0].as_deref() != Some("completed"))
    {
        assert_eq!(other[0].as_deref(), Some("cancelled"), "{table:?}");
        assert_eq!(n(&other[2]), 0, "{table:?}");
    }
}

#[test]
fn a_second_instance_on_one_sqlite_file_says_so_and_exits() {
    let db = TestDb::sqlite();
    let data = tempfile::tempdir().unwrap();
    let _first = ServeProcess::start(&db, data.path(), &[]);
    let out = Command::new(bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SQLite serves one instance"), "{stderr}");
    assert!(stdout_has_no_listening_line(&out.stdout));
}

fn stdout_has_no_listening_line(stdout: &[u8]) -> bool {
    !String::from_utf8_lossy(stdout).contains("listening")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_with_background_imports_hands_them_over_and_counts_each_row_once() {
    let db = TestDb::postgres().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    // A short grace: running imports are given back mid-way, not finished.
    let args = ["--lease-seconds", "5", "--shutdown-grace", "1"];
    let mut servers = [
        ServeProcess::start(&db, dirs[0].path(), &args),
        ServeProcess::start(&db, dirs[1].path(), &args),
    ];
    let rows = 3_000;
    let body = csv_bytes(rows);
    let query = "method=sequential&allow_reimport=true";
    let mut ids = Vec::new();
    for k in 0..4 {
        ids.push(servers[k % 2].start_import_query(query, body.clone()).await);
    }
    // SIGTERM each instance in turn while imports run, a new upload to the
    // other each time.
    for k in [0, 1] {
        wait_inserting(&servers[k], &ids[k]).await;
        let old = std::mem::replace(
            &mut servers[k],
            ServeProcess::start(&db, dirs[k].path(), &args),
        );
        ids.push(servers[1 - k].start_import_query(query, body.clone()).await);
        assert_eq!(old.terminate().await, 0);
    }
    for (i, id) in ids.iter().enumerate() {
        let v = servers[i % 2].wait(id, is_final).await;
        assert_eq!(v["status"], "completed", "{v}");
        assert_eq!(v["stats"]["success_count"], rows, "{v}");
        assert_eq!(v["stats"]["total_records"], rows, "{v}");
    }
    let imports = ids.len() as u64;
    assert_eq!(db.count().await, imports * rows, "nothing lost or doubled");
    let uneven = db
        .query(&format!(
            "SELECT count(*) FROM (SELECT name FROM businesses GROUP BY name \
             HAVING count(*) <> {imports}) x"
        ))
        .await;
    assert_eq!(n(&uneven[0][0]), 0, "every row of every file exactly once");
}

/// A CLI import names no instance; a server starting (and sweeping) while
/// it runs must take it for live, not for one a dead server left: on
/// PostgreSQL by the CLI's advisory lock, on SQLite by its live pid, on
/// MariaDB by its named lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_starting_beside_a_running_cli_import_leaves_it_alone() {
    let [pg, lite] = TestDb::both().await;
    for db in [Some(pg), Some(lite), TestDb::mysql().await]
        .into_iter()
        .flatten()
    {
        let dir = tempfile::tempdir().unwrap();
        let rows = 300_000;
        let file = dir.path().join("big.csv");
        std::fs::write(&file, csv_bytes(rows)).unwrap();
        let mut cli = Command::new(bin())
            .args([
                "import",
                file.to_str().unwrap(),
                "--batch-size",
                "1000",
                "--json",
            ])
            .args(["--database-url", &db.url])
            .env_remove("DATABASE_URL")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let committed = match db.backend() {
            "postgres" | "mysql" => {
                "SELECT count(*) FROM import_ledger l JOIN imports i \
                           ON i.id = l.import_id WHERE i.status = 'running'"
            }
            _ => "SELECT COALESCE(max(inserted), 0) FROM imports WHERE status = 'running'",
        };
        let history = match db.backend() {
            "postgres" => "SELECT count(*) FROM pg_tables WHERE tablename = 'import_ledger'",
            "mysql" => {
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = 'import_ledger'"
            }
            _ => "SELECT count(*) FROM sqlite_master WHERE name = 'imports'",
        };
        while n(&db.query(history).await[0][0]) == 0 || n(&db.query(committed).await[0][0]) == 0 {
            assert!(
                cli.try_wait().unwrap().is_none(),
                "the import ended too soon"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let data = tempfile::tempdir().unwrap();
        let server = start(&db, &data); // it swept before it listened
        let during = db.query("SELECT status, error FROM imports").await;
        assert!(
            cli.try_wait().unwrap().is_none(),
            "the import ended before the server was up: the test proves nothing"
        );
        assert_eq!(
            during,
            vec![vec![Some("running".into()), None]],
            "{}",
            db.backend()
        );
        let out = cli.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["stats"]["success_count"], rows, "{v}");
        let after = db
            .query(match db.backend() {
                "mysql" => "SELECT status, CONCAT(inserted) FROM imports",
                _ => "SELECT status, CAST(inserted AS TEXT) FROM imports",
            })
            .await;
        assert_eq!(
            after,
            vec![vec![Some("completed".into()), Some(rows.to_string())]]
        );
        assert_eq!(db.count().await, rows);
        drop(server);
    }
}
