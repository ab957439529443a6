//! Issue 10, item 5: a typo'd header is not dropped silently — the CLI's
//! text, its JSON and the HTTP answer all say "did you mean …?".

use crate::api::spawn_app;
use crate::helpers::{json_out, run_cli, tempdir};

/// `Categroy` is one transposition from `category`; `Owner` is near nothing.
const TYPO_CSV: &[u8] = b"name,Categroy,Owner\nAcme,Retail,Bob\n";

#[test]
fn a_typod_header_is_named_with_the_column_it_is_close_to_in_text_and_json() {
    let dir = tempdir();
    std::fs::write(dir.path().join("t.csv"), TYPO_CSV).unwrap();
    let out = run_cli(dir.path(), &["import", "t.csv", "--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Categroy (did you mean category?)"), "{text}");
    assert!(!text.contains("Owner (did you mean"), "{text}");

    let out = run_cli(dir.path(), &["import", "t.csv", "--dry-run", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["suggestions"][0]["header"], "Categroy", "{v}");
    assert_eq!(v["suggestions"][0]["did_you_mean"], "category", "{v}");
    assert_eq!(v["suggestions"].as_array().unwrap().len(), 1, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_answer_says_did_you_mean_too() {
    let app = spawn_app().await;
    let res = app.upload("/upload", "t.csv", TYPO_CSV.to_vec()).await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["suggestions"][0]["did_you_mean"], "category", "{v}");
}
