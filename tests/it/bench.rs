//! `sheetpipe bench` as a user runs it, at a size where timing is
//! irrelevant: the report must be well formed and every count exact.

use std::path::Path;

use crate::helpers::{json_out, pg_admin_url, run_cli, tempdir};

/// `sheetpipe bench ARGS --runs 1 --formats xlsx,csv,http --json` on the
/// test server, which must succeed; its JSON.
fn bench_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let url = pg_admin_url();
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--runs", "1", "--formats", "xlsx,csv,http"]);
    all.extend_from_slice(&["--database-url", &url, "--json"]);
    let out = run_cli(dir, &all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_out(&out)
}

#[test]
fn bench_reports_every_case_with_exact_counts_and_the_floor() {
    let dir = tempdir();
    let url = pg_admin_url();
    let scratch = || {
        let list = std::process::Command::new("psql")
            .args([&url, "-Atc", "SELECT datname FROM pg_database"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&list.stdout)
            .lines()
            .filter(|d| d.starts_with("sheetpipe_bench_"))
            .map(str::to_string)
            .collect::<std::collections::BTreeSet<_>>()
    };
    // Another process's bench may run on the same server: only a scratch
    // database that appeared during this run and stayed counts.
    let before = scratch();
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
    // The scratch database is gone afterwards.
    let left: Vec<String> = scratch().difference(&before).cloned().collect();
    assert!(left.is_empty(), "scratch databases left behind: {left:?}");
}

#[test]
fn bench_refuses_a_non_postgres_url() {
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
