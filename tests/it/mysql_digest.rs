//! The client digests of MySQL undo (`src/sink/mysql/undo/digest.rs`):
//! sheetpipe digests an append's rows from the values it sent, and undo
//! checks them against the server's digest of each row as it is then. So
//! every value the client renders must render as the real MariaDB renders
//! it: thousands of doubles across every magnitude, and every client-
//! digested type with its edge values and NULLs, are imported with copy
//! and batch and undone with none found "changed"; a row changed after the
//! import still is; a trigger that changes rows as they are stored turns
//! the client digests off (the server's check of the first part) and undo
//! still works. Skipped when MariaDB is unreachable outside CI.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::helpers::{json_out, tempdir, TestDb};
use crate::undo::{id_of, undo};

/// `import FILE --table t --json` with debug logs of the bookkeeping.
fn import(db: &TestDb, file: &Path, extra: &[&str]) -> (Output, Value) {
    let mut args = vec![
        "import",
        file.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--table",
        "t",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = std::process::Command::new(crate::helpers::bin())
        .args(&args)
        .current_dir(file.parent().unwrap())
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn,sheetpipe::sink::mysql::undo=debug")
        .output()
        .expect("run sheetpipe");
    let v = json_out(&out);
    (out, v)
}

const AGREED: &str = "the server agrees with sheetpipe's digests";
const DIFFER: &str = "differ from sheetpipe's";

/// A xorshift generator: the same doubles on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A finite double: random bits, or a few digits at a random power of
    /// ten (the values people type), or a value on a format's boundary.
    fn double(&mut self) -> f64 {
        loop {
            let f = match self.next() % 3 {
                0 => f64::from_bits(self.next()),
                1 => {
                    let digits = (self.next() % 100_000) as f64;
                    digits * 10f64.powi((self.next() % 60) as i32 - 30)
                }
                _ => {
                    let e = [-17, -16, -15, -14, 14, 15, 16, 17][(self.next() % 8) as usize];
                    (1.0 + (self.next() % 1000) as f64 / 7.0) * 10f64.powi(e)
                }
            };
            if f.is_finite() {
                return if self.next().is_multiple_of(2) { f } else { -f };
            }
        }
    }
}

async fn doubles_table(db: &TestDb) {
    db.execute(
        "CREATE TABLE t (k INT NOT NULL PRIMARY KEY, a DOUBLE NOT NULL, b DOUBLE NULL, \
         c DOUBLE NULL) ENGINE=InnoDB",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doubles_of_every_magnitude_are_digested_as_the_server_renders_them() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    doubles_table(&db).await;
    let dir = tempdir();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut csv = String::from("k,a,b,c\n");
    let n: u64 = 6000;
    for k in 1..=n {
        let (a, b, c) = (rng.double(), rng.double(), rng.double());
        // Every seventh row has an empty (NULL) cell.
        let c = if k.is_multiple_of(7) {
            String::new()
        } else {
            format!("{c:?}")
        };
        csv.push_str(&format!("{k},{a:?},{b:?},{c}\n"));
    }
    let file = dir.path().join("doubles.csv");
    std::fs::write(&file, csv).unwrap();
    let (out, v) = import(&db, &file, &["--method", "copy"]);
    assert!(out.status.success(), "{v}");
    assert_eq!(v["stats"]["success_count"], n, "{v}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains(AGREED) && !log.contains(DIFFER), "{log}");
    let id = id_of(&v);
    let (code, u) = undo(&db, dir.path(), &id, &[]);
    assert_eq!(code, 0, "{u}");
    assert_eq!(
        (u["deleted"].as_u64(), u["kept"].as_u64()),
        (Some(n), Some(0)),
        "{u}"
    );
    assert_eq!(
        db.query("SELECT COUNT(*) FROM t").await[0][0].as_deref(),
        Some("0")
    );
}

/// The types the client digests, with their edge values and NULLs.
const TYPES_DDL: &str = "CREATE TABLE t (
    k BIGINT NOT NULL PRIMARY KEY,
    b TINYINT(1) NULL, si SMALLINT NULL, i INT NULL,
    d DECIMAL(12,2) NULL, dw DECIMAL(30,10) NULL, d0 DECIMAL(5,0) NULL, db DOUBLE NULL,
    dt DATE NULL, ts DATETIME(6) NULL, ts0 DATETIME NULL, ts3 DATETIME(3) NULL,
    tstz TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6) NULL, tm0 TIME NULL,
    u CHAR(36) NULL, j JSON NULL, vc VARCHAR(10) NULL, tx TEXT NULL, ch CHAR(4) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

const TYPES_HEADER: &str = "k,b,si,i,d,dw,d0,db,dt,ts,ts0,ts3,tstz,tm,tm0,u,j,vc,tx,ch";

/// Rows `k`.. of the edge values (the same few again and again).
fn types_rows(first: u64, n: u64) -> String {
    #[rustfmt::skip]
    let rows = [
        "true,-32768,-2147483648,-1234567890.12,0.0000000001,-99999,-0.1,1000-01-01,\
         1000-01-01 00:00:00,2024-02-29 23:59:59,2024-01-01 00:00:00.125,1970-01-01T00:00:01Z,\
         00:00:00,23:59:59,A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11,\"{\"\"a\"\": 1}\",abcdefghij,\
         \"🦆 \"\"quotes\"\", \\ and\ttab\",ab  ",
        "no,32767,2147483647,9999999999.99,12345678901234567890.1234567890,0,1e300,9999-12-31,\
         9999-12-31T23:59:59.999999,2000-01-01T12:00:00,1999-12-31 23:59:59.999,\
         2038-01-19T05:14:07+02:00,23:59:59.999999,00:00:01,\
         {a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12},\"[1,\"\"ü\"\",null]\",ünïcødé🦆xy,\
         \"line one\nline two\",🦆é",
        ",,,,,,,,,,,,,,,,,,",
        "1,0,-1,0.5,-0.0000000001,12345,123456789012345680000,2024-06-30,2024-06-30 08:15:00.5,\
         2024-06-30 08:15:00,2024-06-30 08:15:00.001,2024-06-30T08:15:00.000001Z,12:00:00.000001,\
         12:00:00,00000000-0000-0000-0000-000000000000,{},x,,a",
        "false,7,,3.10,,,0.000001,,,,,,,,,\"\",\"  spaces  \",\"trailing \",\" b\"",
    ];
    let mut out = String::new();
    for k in first..first + n {
        out.push_str(&format!("{k},{}\n", rows[(k % rows.len() as u64) as usize]));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_digested_type_is_undone_exactly_and_a_changed_row_is_still_seen() {
    for method in ["copy", "batch"] {
        let Some(db) = TestDb::mysql().await else {
            return;
        };
        db.execute(TYPES_DDL).await;
        let dir = tempdir();
        let n = 4500u64;
        let file = dir.path().join("types.csv");
        std::fs::write(&file, format!("{TYPES_HEADER}\n{}", types_rows(1, n))).unwrap();
        let (out, v) = import(&db, &file, &["--method", method]);
        assert!(out.status.success(), "{method} {v}");
        assert_eq!(v["stats"]["success_count"], n, "{method} {v}");
        assert_eq!(v["stats"]["error_count"], 0, "{method} {v}");
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            log.contains(AGREED) && !log.contains(DIFFER),
            "{method} {log}"
        );
        let id = id_of(&v);
        // One row changed after the import, in one column: undo refuses,
        // counting exactly that row, and changes nothing.
        db.execute("UPDATE t SET ts3 = '2024-01-01 00:00:00.126' WHERE k = 4000")
            .await;
        let (code, u) = undo(&db, dir.path(), &id, &[]);
        assert_eq!(code, 8, "{method} {u}");
        let why = u["error"].as_str().unwrap_or_default();
        assert!(why.contains(" 1 row(s) of t "), "{method} {u}");
        let count = format!("{n}");
        assert_eq!(
            db.query("SELECT COUNT(*) FROM t").await[0][0].as_deref(),
            Some(count.as_str())
        );
        // Put back, the row is as the import left it: undo deletes all.
        db.execute("UPDATE t SET ts3 = '2024-01-01 00:00:00.125' WHERE k = 4000")
            .await;
        let (code, u) = undo(&db, dir.path(), &id, &[]);
        assert_eq!(code, 0, "{method} {u}");
        assert_eq!(
            (u["deleted"].as_u64(), u["kept"].as_u64()),
            (Some(n), Some(0)),
            "{method} {u}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_that_changes_rows_turns_the_client_digests_off_and_undo_still_works() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    doubles_table(&db).await;
    db.execute("CREATE TRIGGER t_round BEFORE INSERT ON t FOR EACH ROW SET NEW.a = ROUND(NEW.a)")
        .await;
    let dir = tempdir();
    let n = 5000u64;
    let mut csv = String::from("k,a,b,c\n");
    for k in 1..=n {
        csv.push_str(&format!("{k},{}.25,{k},\n", k * 3));
    }
    let file = dir.path().join("t.csv");
    std::fs::write(&file, csv).unwrap();
    let (out, v) = import(&db, &file, &["--method", "copy"]);
    assert!(out.status.success(), "{v}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains(DIFFER) && !log.contains(AGREED), "{log}");
    let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
    assert_eq!(code, 0, "{u}");
    assert_eq!(u["deleted"].as_u64(), Some(n), "{u}");
}
