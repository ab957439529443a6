//! Issue 14: SIGKILL mid-upsert and mid-replace, on PostgreSQL and SQLite,
//! with a real `sheetpipe import` process killed once rows are being
//! written. The table is before or after per committed unit, never
//! between, and the history's counts say exactly what the table shows:
//!
//! - upsert: every row holds its old value or the file's; the committed
//!   counts (ledger / `imports` row) equal the rows carrying the file's
//!   values; the same upsert again completes the table to exactly the file
//!   with exact counts;
//! - replace: the table holds exactly its old rows (the swap never
//!   committed, the history says 0 inserted) or exactly the file's; the
//!   same replace again leaves exactly the file's rows.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::{bin, json_out, tempdir, TestDb};

/// Rows of the generated file: keys 0..ROWS, value `new{k}`.
const ROWS: u64 = 200_000;

/// `big`: an integer key and a text value.
const BIG: &str = "CREATE TABLE big (k INTEGER PRIMARY KEY, v TEXT NOT NULL)";

fn csv(dir: &Path) -> PathBuf {
    let path = dir.join("big.csv");
    let mut text = String::with_capacity(ROWS as usize * 16);
    text.push_str("k,v\n");
    for k in 0..ROWS {
        text.push_str(&format!("{k},new{k}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// The first one-in-`step` key's rows, `old{k}`.
async fn seed(db: &TestDb, step: u64, upto: u64) {
    // sheetpipe's own tables first, so that the test can poll them.
    drop(db.bare_sink().await);
    db.execute(BIG).await;
    let sql = match db.backend() {
        "postgres" => format!(
            "INSERT INTO big SELECT g, 'old' || g FROM generate_series(0, {}, {step}) g",
            upto - 1
        ),
        _ => format!(
            "WITH RECURSIVE s(g) AS (SELECT 0 UNION ALL SELECT g + {step} FROM s \
             WHERE g + {step} < {upto}) INSERT INTO big SELECT g, 'old' || g FROM s"
        ),
    };
    db.execute(&sql).await;
}

fn spawn_import(dir: &Path, db: &TestDb, file: &Path, mode: &str) -> Child {
    let tmp = dir.join("sqlite-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    Command::new(bin())
        .args([
            "import",
            file.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--table",
            "big",
            "--mode",
            mode,
            "--batch-size",
            "1000",
            "--json",
        ])
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        // SQLite's temporary files (the replace's TEMP staging table) go
        // here, where the test can see them grow.
        .env("SQLITE_TMPDIR", &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn run_import(dir: &Path, db: &TestDb, file: &Path, mode: &str) -> serde_json::Value {
    let out = spawn_import(dir, db, file, mode)
        .wait_with_output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_out(&out)
}

async fn one(db: &TestDb, sql: &str) -> u64 {
    db.query(sql).await[0][0]
        .as_deref()
        .unwrap_or("0")
        .parse()
        .unwrap()
}

/// Polls until `ready` says rows are being written, then SIGKILLs the
/// import; fails if it ended first.
async fn kill_when(child: &mut Child, mut ready: impl AsyncFnMut() -> bool) {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the import ended ({status}) before it could be killed mid-write");
        }
        if ready().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed: {status}");
}

/// The id of the killed import (its row still says `running`).
async fn running_id(db: &TestDb) -> String {
    let rows = db
        .query("SELECT id FROM imports WHERE status = 'running'")
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0][0].clone().unwrap()
}

/// (inserted, updated, skipped) committed for import `id`: the ledger's
/// sums on PostgreSQL, the `imports` row on SQLite.
async fn committed(db: &TestDb, id: &str) -> (u64, u64, u64) {
    let sql = match db.backend() {
        "postgres" => format!(
            "SELECT i.inserted + COALESCE(sum(l.inserted), 0), \
             i.updated + COALESCE(sum(l.updated), 0), i.skipped + COALESCE(sum(l.skipped), 0) \
             FROM imports i LEFT JOIN import_ledger l ON l.import_id = i.id \
             WHERE i.id = '{id}' GROUP BY i.id"
        ),
        _ => format!("SELECT inserted, updated, skipped FROM imports WHERE id = '{id}'"),
    };
    let r = &db.query(&sql).await[0];
    let n = |i: usize| r[i].as_deref().unwrap().parse::<u64>().unwrap();
    (n(0), n(1), n(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_upsert_leaves_each_row_old_or_new_counted_exactly_and_a_rerun_completes() {
    let dir = tempdir();
    let file = csv(dir.path());
    for db in TestDb::both().await {
        let b = db.backend();
        // The even keys are there with old values; the odd ones are new.
        seed(&db, 2, ROWS).await;
        let mut child = spawn_import(dir.path(), &db, &file, "upsert");
        // The first committed unit's counts are in the history.
        let progress = match b {
            "postgres" => "SELECT count(*) FROM import_ledger",
            _ => "SELECT COALESCE(sum(inserted + updated), 0) FROM imports",
        };
        kill_when(&mut child, async || one(&db, progress).await > 0).await;
        db.settle().await;
        let id = running_id(&db).await;

        let rows = one(&db, "SELECT count(*) FROM big").await;
        let between = one(
            &db,
            "SELECT count(*) FROM big WHERE v <> 'old' || k AND v <> 'new' || k",
        )
        .await;
        assert_eq!(between, 0, "{b}: a row that is neither old nor new");
        let old_left = one(&db, "SELECT count(*) FROM big WHERE v = 'old' || k").await;
        let updated = one(
            &db,
            "SELECT count(*) FROM big WHERE v = 'new' || k AND k % 2 = 0",
        )
        .await;
        let inserted = one(&db, "SELECT count(*) FROM big WHERE k % 2 = 1").await;
        assert_eq!(
            old_left + updated,
            ROWS / 2,
            "{b}: every old key is still there"
        );
        assert_eq!(rows, ROWS / 2 + inserted, "{b}");
        assert!(
            updated + inserted > 0 && updated + inserted < ROWS,
            "{b}: killed mid-write: {updated} updated, {inserted} inserted"
        );
        assert_eq!(
            committed(&db, &id).await,
            (inserted, updated, 0),
            "{b}: the committed counts are what the table shows"
        );

        // The same upsert again completes it, counted exactly.
        let v = run_import(dir.path(), &db, &file, "upsert");
        let s = &v["stats"];
        assert_eq!(
            (
                s["inserted"].as_u64(),
                s["updated"].as_u64(),
                s["skipped"].as_u64()
            ),
            (
                Some(ROWS / 2 - inserted),
                Some(ROWS / 2 + inserted),
                Some(0)
            ),
            "{b}: {v}"
        );
        assert_eq!(one(&db, "SELECT count(*) FROM big").await, ROWS, "{b}");
        assert_eq!(
            one(&db, "SELECT count(*) FROM big WHERE v = 'new' || k").await,
            ROWS,
            "{b}: exactly the file"
        );
        let again = v["import_id"].as_str().unwrap();
        assert_eq!(
            committed(&db, again).await,
            (ROWS / 2 - inserted, ROWS / 2 + inserted, 0),
            "{b}"
        );
    }
}

/// Whether the replace's staging table holds rows yet: on PostgreSQL it is
/// a table beside the target; SQLite's TEMP table lives in a temporary
/// file of the importing process (under its `SQLITE_TMPDIR`).
async fn staged(db: &TestDb, pid: u32, tmp: &Path) -> bool {
    if db.backend() == "postgres" {
        let names = db
            .query("SELECT relname FROM pg_class WHERE relname LIKE 'sheetpipe_stage_%' AND relkind = 'r'")
            .await;
        for n in names {
            let sql = format!(
                "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 1) s",
                n[0].as_deref().unwrap()
            );
            if one(db, &sql).await > 0 {
                return true;
            }
        }
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|t| t.starts_with(tmp))
            && std::fs::metadata(fd.path()).is_ok_and(|m| m.len() > 256 * 1024)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_replace_leaves_exactly_the_old_rows_or_exactly_the_files() {
    let dir = tempdir();
    let file = csv(dir.path());
    let tmp = dir.path().join("sqlite-tmp");
    for db in TestDb::both().await {
        let b = db.backend();
        // 1,000 old rows, keys 0, 7, 14, …
        seed(&db, 7, 7000).await;
        let old = db.query("SELECT k, v FROM big ORDER BY k").await;
        let mut child = spawn_import(dir.path(), &db, &file, "replace");
        let pid = child.id();
        kill_when(&mut child, async || staged(&db, pid, &tmp).await).await;
        db.settle().await;
        let id = running_id(&db).await;

        let now = db.query("SELECT k, v FROM big ORDER BY k").await;
        let (inserted, _, _) = committed(&db, &id).await;
        if now == old {
            assert_eq!(
                inserted, 0,
                "{b}: the swap never committed: nothing counted"
            );
        } else {
            assert_eq!(now.len() as u64, ROWS, "{b}: neither old nor the file's");
            assert_eq!(
                one(&db, "SELECT count(*) FROM big WHERE v = 'new' || k").await,
                ROWS,
                "{b}"
            );
            assert_eq!(inserted, ROWS, "{b}: the swap's count");
        }

        let stages = "SELECT count(*) FROM pg_class WHERE relname LIKE 'sheetpipe_stage_%' AND relkind = 'r'";
        if b == "postgres" && now == old {
            assert_eq!(
                one(&db, stages).await,
                1,
                "the killed replace's staging table"
            );
        }
        let v = run_import(dir.path(), &db, &file, "replace");
        assert_eq!(v["stats"]["inserted"].as_u64(), Some(ROWS), "{b}: {v}");
        if b == "postgres" {
            assert_eq!(one(&db, stages).await, 0, "the next replace dropped it");
        }
        assert_eq!(one(&db, "SELECT count(*) FROM big").await, ROWS, "{b}");
        assert_eq!(
            one(&db, "SELECT count(*) FROM big WHERE v = 'new' || k").await,
            ROWS,
            "{b}: exactly the file"
        );
        let again = v["import_id"].as_str().unwrap();
        assert_eq!(committed(&db, again).await, (ROWS, 0, 0), "{b}");
    }
}
