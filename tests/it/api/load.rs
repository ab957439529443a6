//! Load: many uploads at once stay exact and apart; beyond the queue the
//! answer is 503 with `Retry-After`.

use std::collections::HashSet;

use serde_json::Value;

use super::{csv_bytes, n, sheet_bytes, spawn_app_with};
use crate::helpers::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_uploads_of_one_filename_count_exactly() {
    let app = spawn_app_with(TestDb::postgres().await, |c| {
        c.max_running = 4;
        c.max_queued = 32;
    })
    .await;
    let uploads = (0..20).map(|i| {
        let app = &app;
        async move {
            let good = 5 + i;
            let r = app
                .upload(
                    "/upload?method=batch",
                    "same.xlsx",
                    sheet_bytes(good, &format!("c{i}")),
                )
                .await;
            assert_eq!(r.status(), 200, "upload {i}");
            let v: Value = r.json().await.unwrap();
            (good as u64, v)
        }
    });
    let answers = futures::future::join_all(uploads).await;
    let mut total = 0;
    for (good, v) in &answers {
        assert_eq!(v["stats"]["total_records"], good + 1);
        assert_eq!(v["stats"]["success_count"], *good);
        assert_eq!(v["stats"]["error_count"], 1);
        assert_eq!(v["rejected"][0]["row"], good + 2);
        total += good;
    }
    assert_eq!(app.db.count().await, total);
    let table = app
        .imports_table("id, filename, sha256, status, rows_read, inserted, rejected")
        .await;
    assert_eq!(table.len(), 20);
    let ids: HashSet<&str> = answers
        .iter()
        .map(|(_, v)| v["import_id"].as_str().unwrap())
        .collect();
    let hashes: HashSet<&str> = table.iter().map(|r| r[2].as_deref().unwrap()).collect();
    assert_eq!(hashes.len(), 20, "every upload kept its own content");
    for row in &table {
        let id = row[0].as_deref().unwrap();
        let (good, _) = answers
            .iter()
            .find(|(_, v)| v["import_id"] == id)
            .expect("every row answers one request");
        assert!(ids.contains(id));
        assert_eq!(row[1].as_deref(), Some("same.xlsx"));
        assert_eq!(row[3].as_deref(), Some("completed"));
        assert_eq!((n(&row[4]), n(&row[5]), n(&row[6])), (good + 1, *good, 1));
    }
    assert!(app.uploads_left().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_running_and_queued_the_answer_is_503_with_retry_after() {
    let app = spawn_app_with(TestDb::postgres().await, |c| {
        c.max_running = 1;
        c.max_queued = 1;
    })
    .await;
    // One long import runs, one waits behind it: every slot is taken.
    let big = csv_bytes(30_000);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = app
            .upload("/imports?method=sequential", "big.csv", big.clone())
            .await;
        assert_eq!(r.status(), 202);
        let v: Value = r.json().await.unwrap();
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    for path in ["/imports", "/upload"] {
        let r = app.upload(path, "more.xlsx", sheet_bytes(1, "m")).await;
        assert_eq!(r.status(), 503, "{path}");
        assert_eq!(r.headers()["retry-after"], "5");
        let v: Value = r.json().await.unwrap();
        assert!(
            v["error"].as_str().unwrap().starts_with("Server busy"),
            "{v}"
        );
    }
    let (_, queued) = app.get_json(&format!("/imports/{}", ids[1])).await;
    assert_eq!(queued["status"], "queued");
    // Cancel both; the queued one ends without running.
    for id in &ids {
        let r = app.delete(&format!("/imports/{id}")).await;
        assert_eq!(r.status(), 202);
    }
    let second = app.wait_final(&ids[1]).await;
    assert_eq!(second["status"], "cancelled");
    assert_eq!(second["progress"]["rows_read"], 0);
    app.wait_final(&ids[0]).await;
    assert_eq!(
        app.imports_table("id").await.len(),
        2,
        "refused uploads leave no record"
    );
    // Slots are free again.
    let r = app
        .upload("/upload", "after.xlsx", sheet_bytes(1, "a"))
        .await;
    assert_eq!(r.status(), 200);
}
