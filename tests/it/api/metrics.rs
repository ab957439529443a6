//! `GET /metrics` over a real socket after a known set of imports — one
//! clean, one with a rejected row, one failed on its header, one whose
//! isolated reader process runs out of memory — checked against the
//! `imports` table and the `businesses` rows the database really holds.

use std::collections::HashMap;

use sheetpipe::source::Isolation;

use super::{csv_bytes, n, sheet_bytes, spawn_app_with};
use crate::helpers::{bin, TestDb};

/// `name{labels}` → value, for every sample line of a scrape.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').expect("a sample line");
            (key.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

fn get(s: &HashMap<String, f64>, key: &str) -> u64 {
    s.get(key).copied().unwrap_or(0.0) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_a_known_set_of_imports_match_the_imports_table() {
    let app = spawn_app_with(TestDb::postgres().await, |c| {
        c.source.isolation = Some(Isolation { program: bin() });
    })
    .await;

    // Clean (copy), with one rejected row (batch), failed on its header
    // (sequential, in the background), the reader killed by its memory
    // ceiling (concurrent).
    let r = app
        .upload("/upload?method=copy", "clean.csv", csv_bytes(20))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .upload("/upload?method=batch", "rej.xlsx", sheet_bytes(5, "rej"))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .upload(
            "/imports?method=sequential",
            "nohead.csv",
            b"foo,bar\n1,2\n".to_vec(),
        )
        .await;
    assert_eq!(r.status(), 202);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.wait_final(&id).await["status"], "failed");
    let r = app
        .upload(
            "/upload?method=concurrent",
            "bomb.xls",
            crate::hostile::cyclic_cfb(),
        )
        .await;
    assert_eq!(r.status(), 422);
    // Requests of other routes: a 404 on an unknown path, one on an id.
    assert_eq!(app.get("/no/such/path").await.status(), 404);
    assert_eq!(app.get("/imports/not-an-id").await.status(), 404);

    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 200);
    let kind = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = r.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    let s = samples(&text);

    // Imports by status and method: exactly the table's.
    let table = app
        .db
        .query("SELECT status, method, count(*) FROM imports GROUP BY status, method")
        .await;
    assert_eq!(table.len(), 4, "{table:?}");
    let mut counted = 0;
    for row in &table {
        let key = format!(
            "sheetpipe_imports_total{{status=\"{}\",method=\"{}\"}}",
            row[0].as_deref().unwrap(),
            row[1].as_deref().unwrap()
        );
        assert_eq!(get(&s, &key), n(&row[2]), "{key} in\n{text}");
        counted += get(&s, &key);
    }
    let all: u64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("sheetpipe_imports_total{"))
        .map(|(_, v)| *v as u64)
        .sum();
    assert_eq!(all, counted, "no import counted that the table lacks");

    // Rows inserted and rejected by method, bytes, durations: the table's
    // sums, and the inserted rows are the rows in the database.
    let sums = app
        .db
        .query(
            "SELECT method, sum(inserted), sum(rejected), sum(bytes), \
             count(started_at) FROM imports GROUP BY method",
        )
        .await;
    let (mut inserted, mut bytes) = (0, 0);
    for row in &sums {
        let m = row[0].as_deref().unwrap();
        let ins = get(
            &s,
            &format!("sheetpipe_rows_inserted_total{{method=\"{m}\"}}"),
        );
        let rej = get(
            &s,
            &format!("sheetpipe_rows_rejected_total{{method=\"{m}\"}}"),
        );
        let runs = get(
            &s,
            &format!("sheetpipe_import_duration_seconds_count{{method=\"{m}\"}}"),
        );
        assert_eq!(
            (ins, rej, runs),
            (n(&row[1]), n(&row[2]), n(&row[4])),
            "{m}"
        );
        inserted += ins;
        bytes += n(&row[3]);
    }
    assert_eq!(inserted, 25);
    assert_eq!(inserted, app.db.count().await);
    assert_eq!(get(&s, "sheetpipe_import_bytes_total"), bytes);
    assert!(bytes > 0);
    let rejected: u64 = ["copy", "batch", "sequential", "concurrent"]
        .iter()
        .map(|m| {
            get(
                &s,
                &format!("sheetpipe_rows_rejected_total{{method=\"{m}\"}}"),
            )
        })
        .sum();
    assert_eq!(rejected, 1);
    // Every duration fell in some bucket up to +Inf.
    assert_eq!(
        get(
            &s,
            "sheetpipe_import_duration_seconds_bucket{le=\"+Inf\",method=\"batch\"}"
        ),
        1
    );

    // Nothing is left running or queued.
    assert_eq!(get(&s, "sheetpipe_imports_queued"), 0);
    assert!(s.contains_key("sheetpipe_imports_queued"));
    assert_eq!(get(&s, "sheetpipe_imports_running"), 0);
    assert!(s.contains_key("sheetpipe_imports_running"));

    // The reader process that blew its memory ceiling, and no other kind.
    assert_eq!(
        get(&s, "sheetpipe_reader_failures_total{kind=\"memory\"}"),
        1,
        "{text}"
    );
    for kind in ["spawn", "timeout", "crash", "protocol"] {
        let key = format!("sheetpipe_reader_failures_total{{kind=\"{kind}\"}}");
        assert_eq!(s.get(&key), Some(&0.0), "{key}");
    }

    // HTTP requests by route template and status, never the raw path.
    let req = |m: &str, route: &str, status: u16| {
        get(
            &s,
            &format!(
                "sheetpipe_http_requests_total{{method=\"{m}\",route=\"{route}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(req("POST", "/upload", 200), 2);
    assert_eq!(req("POST", "/upload", 422), 1);
    assert_eq!(req("POST", "/imports", 202), 1);
    assert!(req("GET", "/imports/{id}", 200) >= 1, "{text}");
    assert_eq!(req("GET", "/imports/{id}", 404), 1);
    assert_eq!(req("GET", "unmatched", 404), 1);
    assert!(
        !text.contains(&id) && !text.contains("not-an-id") && !text.contains("/no/such"),
        "raw paths leak into the labels:\n{text}"
    );
    // This scrape is counted once it has been answered.
    let again = samples(&app.get("/metrics").await.text().await.unwrap());
    assert_eq!(
        get(
            &again,
            "sheetpipe_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"}"
        ),
        1
    );
    app.stop().await;
}
