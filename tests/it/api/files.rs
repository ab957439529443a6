//! The service's files on disk: private directories and reports, and the
//! retention of reject reports (removed, and the history says so).

use std::time::Duration;

use serde_json::Value;

use super::{sheet_bytes, spawn_app_with, spawn_in};
use crate::helpers::TestDb;

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_and_reject_reports_are_readable_by_the_server_user_only() {
    let app = spawn_app_with(TestDb::sqlite(), |_| {}).await;
    let r = app.upload("/upload", "r.xlsx", sheet_bytes(2, "p")).await;
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["import_id"]
        .as_str()
        .unwrap()
        .to_string();
    let data = app.data_dir.path();
    assert_eq!(mode(data), 0o700, "data dir");
    assert_eq!(mode(&data.join("rejects")), 0o700, "rejects dir");
    assert_eq!(mode(&data.join(format!("rejects/{id}.csv"))), 0o600);
    let uploads: Vec<_> = std::fs::read_dir(data)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("uploads-") && e.path().is_dir())
        .collect();
    assert_eq!(uploads.len(), 1);
    assert_eq!(mode(&uploads[0].path()), 0o700, "uploads dir");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_reports_past_their_retention_are_removed_and_the_history_says_so() {
    for db in TestDb::both().await {
        let app = spawn_app_with(db, |c| c.keep_rejects = None).await;
        let r = app.upload("/upload", "r.xlsx", sheet_bytes(2, "k")).await;
        let id = r.json::<Value>().await.unwrap()["import_id"]
            .as_str()
            .unwrap()
            .to_string();
        let csv = format!("/imports/{id}/rejects.csv");
        assert_eq!(app.get(&csv).await.status(), 200, "kept while retained");
        let (db, data) = app.stop().await;
        // A restart with a retention shorter than the report's age.
        let app = spawn_in(db, data, |c| c.keep_rejects = Some(Duration::ZERO)).await;
        let mut v = Value::Null;
        for _ in 0..400 {
            v = app.get_json(&format!("/imports/{id}")).await.1;
            if !v["rejects_removed_at"].is_null() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ctx = app.db.backend();
        assert!(v["rejects_removed_at"].is_string(), "{ctx}: {v}");
        let file = app.data_dir.path().join(format!("rejects/{id}.csv"));
        assert!(!file.exists(), "{ctx}");
        let r = app.get(&csv).await;
        assert_eq!(r.status(), 410, "{ctx}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("retention"),
            "{ctx}: {body}"
        );
        assert_eq!(
            v["status"], "completed",
            "{ctx}: the rest of the history stays"
        );
    }
}
