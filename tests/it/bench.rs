//! `sheetpipe bench` as a user runs it, at a size where timing is
//! irrelevant: the report must be well formed and every count exact.

use std::path::Path;

use crate::helpers::{json_out, pg_admin_url, run_cli, tempdir, TestDb};
use crate::mysql_db;

/// `sheetpipe bench ARGS --runs 1 --formats xlsx,csv,http --json` on the
/// test server, which must succeed; its JSON.
fn bench_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--formats", "xlsx,csv,http"]);
    bench_on(dir, &pg_admin_url(), &all)
}

/// `sheetpipe bench ARGS --runs 1 --database-url URL --json`, which must
/// succeed; its JSON.
fn bench_on(dir: &Path, url: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--runs", "1", "--database-url", url, "--json"]);
    let out = run_cli(dir, &all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_out(&out)
}

/// Every line of a report: `rows` rows, exact counts, a ratio to the
/// floor; the lines' (method, format, scenario), in order.
fn check_lines(v: &serde_json::Value, rows: u64) -> Vec<(String, String, String)> {
    let results = v["results"].as_array().unwrap();
    for r in results {
        assert_eq!(r["rows"], rows, "{r}");
        assert_eq!(r["counts_exact"], true, "{r}");
        assert!(r["ratio_to_floor"].as_f64().unwrap() > 0.0, "{r}");
        let create = r["method"].as_str().unwrap().ends_with("--create");
        assert_eq!(r["create_vs_table"].as_f64().is_some(), create, "{r}");
    }
    results
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("method"), s("format"), s("scenario"))
        })
        .collect()
}

/// The lines a typed-table run with `--methods batch,copy --inference`
/// must report, for `formats`.
fn orders_lines(formats: &[&str]) -> Vec<(String, String, String)> {
    let mut want = Vec::new();
    for scenario in ["empty", "filled"] {
        let line = |m: &str, f: &str| (m.to_string(), f.to_string(), scenario.to_string());
        want.push(line("floor", "csv"));
        for m in ["batch", "copy"] {
            want.extend(formats.iter().map(|f| line(m, f)));
        }
        if scenario == "empty" {
            for f in formats.iter().filter(|f| **f != "http") {
                want.push(line("copy --create", f));
                want.push(line("copy --table", f));
            }
        }
    }
    want
}

const ORDERS: &[&str] = &[
    "--table",
    "orders",
    "--rows",
    "300",
    "--methods",
    "batch,copy",
    "--inference",
];

/// The typed table on PostgreSQL: every case (the .xlsx of typed cells,
/// the CSV, `POST /upload`, and --create against --table) stores exactly
/// the 300 rows, into an empty table and one already holding 300 others.
#[test]
fn the_orders_bench_on_postgres_reports_exact_counts() {
    let dir = tempdir();
    let v = bench_json(dir.path(), ORDERS);
    assert_eq!(v["table"], "orders");
    assert_eq!(v["floor_tool"], "psql_copy");
    assert_eq!(check_lines(&v, 300), orders_lines(&["xlsx", "csv", "http"]));
}

/// The same on MariaDB, against `LOAD DATA LOCAL INFILE`; and the
/// businesses table there. The scratch databases are dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mysql_bench_reports_exact_counts_against_load_data() {
    let Some(_reachable) = TestDb::mysql().await else {
        return;
    };
    let dir = tempdir();
    let url = mysql_db::admin_url();
    let mut args = ORDERS.to_vec();
    args.extend_from_slice(&["--formats", "xlsx,csv"]);
    let orders = bench_on(dir.path(), &url, &args);
    assert_eq!(orders["table"], "orders");
    assert_eq!(orders["floor_tool"], "mariadb_load_data");
    assert!(orders["machine"]["server"]
        .as_str()
        .unwrap()
        .contains("MariaDB"));
    assert_eq!(check_lines(&orders, 300), orders_lines(&["xlsx", "csv"]));
    let args = [
        "--rows",
        "200",
        "--methods",
        "copy",
        "--formats",
        "xlsx,csv",
    ];
    let v = bench_on(dir.path(), &url, &args);
    assert_eq!(v["table"], "businesses");
    assert_eq!(check_lines(&v, 200).len(), 6);
    for name in [&orders["scratch_database"], &v["scratch_database"]] {
        let sql = format!(
            "SELECT 1 FROM schemata WHERE schema_name = '{}'",
            name.as_str().unwrap()
        );
        let left = mysql_db::query(&format!("{url}information_schema"), &sql).await;
        assert!(left.is_empty(), "scratch database {name} left behind");
    }
}

/// The generated workbook's typed cells (numbers, dates, timestamps,
/// booleans) import to exactly the rows `psql \copy` loads from the CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typed_workbook_imports_exactly_the_rows_of_the_clean_csv() {
    let db = TestDb::postgres().await;
    let dir = tempdir();
    let (csv, xlsx, prefill) = (
        dir.path().join("o.csv"),
        dir.path().join("o.xlsx"),
        dir.path().join("p.csv"),
    );
    sheetpipe::bench::orders::generate(&csv, &xlsx, &prefill, 500).unwrap();
    db.execute(sheetpipe::bench::orders::POSTGRES_DDL).await;
    let digest = "SELECT count(*), md5(string_agg(o::text, '|' ORDER BY order_id)) FROM orders o";
    let out = run_cli(
        dir.path(),
        &[
            "import",
            "o.xlsx",
            "--table",
            "orders",
            "--database-url",
            &db.url,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_xlsx = db.query(digest).await;
    db.execute("TRUNCATE orders").await;
    let copy = format!("\\copy orders FROM '{}' CSV HEADER", csv.display());
    let psql = std::process::Command::new("psql")
        .args([&db.url, "-v", "ON_ERROR_STOP=1", "-c", &copy])
        .output()
        .unwrap();
    assert!(
        psql.status.success(),
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    let from_csv = db.query(digest).await;
    assert_eq!(from_xlsx[0][0].as_deref(), Some("500"));
    assert_eq!(from_xlsx, from_csv);
    // A sample row as PostgreSQL reads it: every column typed.
    let row = db
        .query("SELECT pg_typeof(amount)::text, pg_typeof(shipped_at)::text, paid::text FROM orders LIMIT 1")
        .await;
    assert_eq!(row[0][0].as_deref(), Some("numeric"));
    assert_eq!(row[0][1].as_deref(), Some("timestamp without time zone"));
}

#[test]
fn bench_reports_every_case_with_exact_counts_and_the_floor() {
    let dir = tempdir();
    let url = pg_admin_url();
    let v = bench_json(
        dir.path(),
        &["--rows", "200", "--methods", "sequential,batch,copy"],
    );
    assert_eq!(v["runs"], 1);
    assert_eq!(v["floor_tool"], "psql_copy");
    let results = v["results"].as_array().unwrap();
    // (floor + 3 methods × 3 formats) × 2 scenarios.
    assert_eq!(results.len(), 20, "{results:#?}");
    for r in results {
        assert_eq!(r["rows"], 200);
        assert_eq!(r["counts_exact"], true, "{r}");
        assert_eq!(r["seconds"].as_array().unwrap().len(), 1);
        assert!(r["median_seconds"].as_f64().unwrap() > 0.0);
        let is_floor = r["method"] == "floor";
        let child = !is_floor && r["format"] != "http";
        assert_eq!(r["peak_rss_kb"].is_null(), !child, "{r}");
        if child {
            assert!(r["peak_rss_kb"].as_u64().unwrap() > 1000, "{r}");
        }
        if !is_floor {
            assert!(r["ratio_to_floor"].as_f64().unwrap() > 0.0);
            assert!(r["speedup_vs_sequential"].as_f64().unwrap() > 0.0);
        }
    }
    for scenario in ["empty", "filled"] {
        let seq = results
            .iter()
            .find(|r| r["scenario"] == scenario && r["method"] == "sequential")
            .unwrap();
        assert_eq!(seq["speedup_vs_sequential"], 1.0);
    }
    // The scratch database this run created is gone afterwards.
    let name = v["scratch_database"].as_str().unwrap();
    assert!(name.starts_with("sheetpipe_bench_"), "{name}");
    let sql = format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'");
    let list = std::process::Command::new("psql")
        .args([&url, "-Atc", &sql])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "0");
}

#[test]
fn bench_refuses_a_url_of_neither_postgres_nor_mysql() {
    let dir = tempdir();
    let out = run_cli(
        dir.path(),
        &["bench", "--database-url", "sqlite://x.db", "--rows", "10"],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// `--file`: a user's spreadsheet (here one with rejected rows) is measured
/// as it is; the floor and `csv` load the rows it stores, and every count
/// is checked against what its first import stored and rejected.
#[test]
fn bench_measures_a_given_file_with_its_rejections_and_the_same_floor() {
    let dir = tempdir();
    let file = dir.path().join("mine.xlsx");
    let gen = run_cli(
        dir.path(),
        &[
            "generate",
            "mine.xlsx",
            "--rows",
            "300",
            "--bad-rate",
            "0.1",
        ],
    );
    assert!(gen.status.success());
    let v = bench_json(
        dir.path(),
        &["--file", file.to_str().unwrap(), "--methods", "batch,copy"],
    );
    let results = v["results"].as_array().unwrap();
    // (floor + 2 methods × 3 formats) × 2 scenarios.
    assert_eq!(results.len(), 14, "{results:#?}");
    for r in results {
        assert_eq!(r["rows"], 300, "{r}");
        assert_eq!(r["counts_exact"], true, "{r}");
    }
    let formats: Vec<&str> = results
        .iter()
        .filter_map(|r| r["format"].as_str())
        .collect();
    assert!(
        formats.contains(&"file") && !formats.contains(&"xlsx"),
        "{formats:?}"
    );
    let gen = String::from_utf8_lossy(&gen.stdout);
    assert!(
        !gen.contains(" 0 invalid"),
        "the file has rows to reject: {gen}"
    );
}
