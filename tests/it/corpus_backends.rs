//! Every spreadsheet of the shared corpus (files nobody on this project
//! wrote; without it the test skips with one line, in CI it fails) that
//! imports into SQLite with `--create` imports into PostgreSQL and MariaDB
//! too, with the same counts and the same values: the table each backend
//! makes from the file's cells holds the same rows, compared as text once
//! each backend's spelling of the same value (`t`/`1`, `1.50`/`1.5`,
//! `T`/` ` in a timestamp) is made one.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::corpus::corpus_or_skip;
use crate::helpers::{json_out, run_cli, tempdir, TestDb};

/// The corpus's spreadsheets and CSV files, sorted.
fn spreadsheets(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            spreadsheets(&path, out);
            continue;
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if ["xlsx", "xlsm", "xls", "xlsb", "ods", "csv"].contains(&ext.as_str()) {
            out.push(path);
        }
    }
    out.sort();
}

/// `import FILE --table T --create --json` into `url`: exit code and report.
fn create(dir: &Path, file: &Path, url: &str, table: &str) -> (i32, Value) {
    let out = run_cli(
        dir,
        &[
            "import",
            file.to_str().unwrap(),
            "--database-url",
            url,
            "--table",
            table,
            "--create",
            "--json",
        ],
    );
    (out.status.code().unwrap_or(-1), json_out(&out))
}

/// One value as the three backends agree to spell it.
fn spelled(v: Option<String>) -> Option<String> {
    let s = v?;
    if s == "t" || s == "true" {
        return Some("1".into());
    }
    if s == "f" || s == "false" {
        return Some("0".into());
    }
    let number = s.strip_prefix('-').unwrap_or(&s);
    if let Some((int, frac)) = number.split_once('.') {
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !int.is_empty() && digits(int) && digits(frac) {
            let t = s.trim_end_matches('0').trim_end_matches('.');
            return Some(if t == "-0" { "0".into() } else { t.to_string() });
        }
    }
    if s.contains(['e', 'E']) {
        if let Ok(f) = s.parse::<f64>() {
            return Some(f.to_string());
        }
    }
    let b = s.as_bytes();
    if b.len() >= 16 && b[4] == b'-' && b[10] == b'T' && b[..4].iter().all(u8::is_ascii_digit) {
        let mut t = s.replacen('T', " ", 1);
        if t.len() == 16 {
            t.push_str(":00");
        }
        return Some(t);
    }
    Some(s)
}

/// The rows of `table` in `db`, each value [`spelled`], sorted.
async fn contents(db: &TestDb, table: &str, columns: &[String]) -> Vec<Vec<Option<String>>> {
    let quote = |c: &str| match db.backend() {
        "mysql" => format!("`{c}`"),
        _ => format!("\"{c}\""),
    };
    let list: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let sql = format!("SELECT {} FROM {}", list.join(", "), quote(table));
    let mut rows: Vec<Vec<Option<String>>> = db
        .query(&sql)
        .await
        .into_iter()
        .map(|r| r.into_iter().map(spelled).collect())
        .collect();
    rows.sort();
    rows
}

fn counts(v: &Value) -> (Value, Value) {
    (
        v["stats"]["success_count"].clone(),
        v["stats"]["error_count"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_file_lands_the_same_in_sqlite_postgres_and_mariadb() {
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let Some(my) = TestDb::mysql().await else {
        return;
    };
    let (lite, pg) = (TestDb::sqlite(), TestDb::postgres().await);
    let dir = tempdir();
    let mut files = Vec::new();
    spreadsheets(&corpus, &mut files);
    assert!(files.len() > 400, "{} files in {corpus:?}", files.len());
    let mut compared = 0;
    for (i, file) in files.iter().enumerate() {
        let table = format!("c{i}");
        let (code, v) = create(dir.path(), file, &lite.url, &table);
        if code != 0 {
            continue;
        }
        let name = file.strip_prefix(&corpus).unwrap().display().to_string();
        let columns = {
            let (code, p) = create(dir.path(), file, &pg.url, &table);
            assert_eq!(code, 0, "{name}: postgres {p}");
            assert_eq!(counts(&p), counts(&v), "{name}: postgres {p} sqlite {v}");
            pg.column_names(&table).await
        };
        let (code, m) = create(dir.path(), file, &my.url, &table);
        assert_eq!(code, 0, "{name}: mariadb {m}");
        assert_eq!(counts(&m), counts(&v), "{name}: mariadb {m} sqlite {v}");
        let reference = contents(&lite, &table, &columns).await;
        assert_eq!(
            contents(&pg, &table, &columns).await,
            reference,
            "{name}: postgres"
        );
        assert_eq!(
            contents(&my, &table, &columns).await,
            reference,
            "{name}: mariadb"
        );
        compared += 1;
    }
    // The corpus holds well over a hundred files that make a table.
    assert!(compared > 100, "only {compared} files imported");
}
