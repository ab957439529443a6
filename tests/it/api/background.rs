//! Background imports: 202 + Location, status, SSE until the final event,
//! cancel mid-import, the rejects report, the paginated history, and the
//! history surviving a restart.

use futures::StreamExt;
use serde_json::Value;

use super::{csv_bytes, n, sheet_bytes, spawn_app, spawn_in, TestApp};

/// Posts to `/imports` and returns the new id (after checking the 202).
async fn start(app: &TestApp, query: &str, name: &str, bytes: Vec<u8>) -> String {
    let r = app.upload(&format!("/imports{query}"), name, bytes).await;
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["status_url"], format!("/imports/{id}"));
    assert_eq!(location, format!("/imports/{id}"));
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_import_reports_status_stats_and_every_rejected_row() {
    let app = spawn_app().await;
    let id = start(&app, "?method=copy", "b.xlsx", sheet_bytes(5, "bg")).await;
    let v = app.wait_final(&id).await;
    assert_eq!(v["status"], "completed");
    assert_eq!(v["filename"], "b.xlsx");
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(v["progress"]["rows_read"], 6);
    assert_eq!(v["progress"]["inserted"], 5);
    assert_eq!(v["progress"]["rejected"], 1);
    assert_eq!(v["progress"]["bytes_total"], v["bytes"]);
    // The reader's own measure: the sheet's inflated XML, all of it.
    assert_eq!(v["progress"]["unit"], "bytes");
    assert_eq!(v["progress"]["fraction"], 1.0);
    assert_eq!(v["progress"]["done"], v["progress"]["total"]);
    assert_ne!(v["progress"]["total"], v["bytes"], "not the zip's size");
    assert_eq!(v["stats"]["success_count"], 5);
    assert_eq!(v["rejected"][0]["row"], 7);
    assert!(v["error"].is_null());
    let r = app.get(&format!("/imports/{id}/rejects.csv")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[0].starts_with("sheet,row,column,reason,value,name"),
        "{csv}"
    );
    assert!(lines[1].starts_with("Sheet1,7,D (email),"), "{csv}");
    assert!(lines[1].contains("not-an-email"), "{csv}");
    assert_eq!(app.db.count().await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_are_listed_newest_first_page_by_page() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = start(
            &app,
            "",
            &format!("f{i}.xlsx"),
            sheet_bytes(1, &format!("l{i}")),
        )
        .await;
        app.wait_final(&id).await;
        ids.push(id);
    }
    let (code, page) = app.get_json("/imports?limit=2").await;
    assert_eq!(code, 200);
    assert_eq!(page["total"], 3);
    let got: Vec<&str> = page["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    assert_eq!(page["next"], "/imports?limit=2&offset=2");
    let (_, rest) = app.get_json(page["next"].as_str().unwrap()).await;
    assert_eq!(rest["imports"][0]["id"], ids[0].as_str());
    assert_eq!(rest["imports"][0]["status"], "completed");
    assert!(rest["next"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_progress_then_one_final_event() {
    let app = spawn_app().await;
    let id = start(&app, "?method=sequential", "e.csv", csv_bytes(600)).await;
    let r = app.get(&format!("/imports/{id}/events")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = read_events(r).await;
    let (last, progress) = events.split_last().unwrap();
    assert_eq!(last.0, "done", "the stream ends with the final event");
    assert!(!progress.is_empty(), "progress came before the end");
    assert!(progress.iter().all(|(name, _)| name == "progress"));
    let inserted: Vec<u64> = progress
        .iter()
        .map(|(_, v)| v["progress"]["inserted"].as_u64().unwrap())
        .collect();
    assert!(inserted.windows(2).all(|w| w[0] <= w[1]), "{inserted:?}");
    // Every event carries the reader's fraction (null until it is known).
    let fractions: Vec<f64> = progress
        .iter()
        .map(|(_, v)| {
            let p = &v["progress"];
            assert!(p.get("fraction").is_some() && p["unit"] == "bytes", "{v}");
            p["fraction"].as_f64().unwrap_or(0.0)
        })
        .collect();
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]), "{fractions:?}");
    let done = &last.1;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["stats"]["total_records"], 600);
    assert_eq!(done["stats"]["success_count"], 600);
    let (_, status) = app.get_json(&format!("/imports/{id}")).await;
    assert_eq!(
        status["stats"]["success_count"],
        done["stats"]["success_count"]
    );
}

/// Reads a whole SSE response into (event name, JSON data) pairs.
async fn read_events(r: reqwest::Response) -> Vec<(String, Value)> {
    let mut text = String::new();
    let mut body = r.bytes_stream();
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    text.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(serde_json::from_str(v.trim()).unwrap());
                }
            }
            Some((name?, data?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_running_import_with_exact_counts() {
    let app = spawn_app().await;
    let rows = 30_000;
    let id = start(&app, "?method=sequential", "big.csv", csv_bytes(rows)).await;
    app.wait_for(&id, |v| v["progress"]["inserted"].as_u64() > Some(0))
        .await;
    let r = app.delete(&format!("/imports/{id}")).await;
    assert_eq!(r.status(), 202);
    let v = app.wait_final(&id).await;
    assert_eq!(v["status"], "cancelled");
    assert_eq!(v["error"], "cancelled by request");
    let inserted = v["stats"]["success_count"].as_u64().unwrap();
    assert!(inserted > 0 && inserted < rows, "{inserted}");
    assert_eq!(
        app.db.count().await,
        inserted,
        "counts exact for what was committed"
    );
    // Rows read but never written are their own count, not errors.
    let stats = &v["stats"];
    assert_eq!(stats["error_count"], v["progress"]["rejected"], "{v}");
    let (total, errors, left) = (
        n_of(stats, "total_records"),
        n_of(stats, "error_count"),
        n_of(stats, "unprocessed"),
    );
    assert_eq!(inserted + errors + left, total, "{v}");
    let resume = v["resume_from_row"].as_u64().expect("a row to resume from");
    assert!(
        resume >= inserted + 2,
        "rows before it are all committed: {v}"
    );
    let table = app.imports_table("status, inserted, finished_at").await;
    assert_eq!(table[0][0].as_deref(), Some("cancelled"));
    assert_eq!(n(&table[0][1]), inserted);
    assert!(table[0][2].is_some());
    let again = app.delete(&format!("/imports/{id}")).await;
    assert_eq!(again.status(), 409, "an ended import cannot be cancelled");
    assert!(app.uploads_left().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_are_404_and_never_reach_a_path() {
    let app = spawn_app().await;
    let random = uuid::Uuid::new_v4();
    for path in [
        "/imports/not-a-uuid".to_string(),
        format!("/imports/{random}"),
        format!("/imports/{random}/events"),
        format!("/imports/{random}/rejects.csv"),
        "/imports/..%2F..%2Fetc%2Fpasswd/rejects.csv".to_string(),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = app.delete(&format!("/imports/{random}")).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_a_restart() {
    let app = spawn_app().await;
    let id = start(&app, "", "h.xlsx", sheet_bytes(3, "h")).await;
    app.wait_final(&id).await;
    let (db, data_dir) = app.stop().await;
    let app = spawn_in(db, data_dir, |_| {}).await;
    let (code, v) = app.get_json(&format!("/imports/{id}")).await;
    assert_eq!(code, 200);
    assert_eq!(v["status"], "completed");
    assert_eq!(v["filename"], "h.xlsx");
    assert_eq!(v["stats"]["success_count"], 3);
    assert_eq!(v["stats"]["error_count"], 1);
    let (_, list) = app.get_json("/imports").await;
    assert_eq!(list["imports"][0]["id"], id.as_str());
    let r = app.get(&format!("/imports/{id}/rejects.csv")).await;
    assert_eq!(r.status(), 200, "reports are kept in the data directory");
    let r = app.get(&format!("/imports/{id}/events")).await;
    let events = read_events(r).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "done");
    assert_eq!(events[0].1["status"], "completed");
}

fn n_of(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}
