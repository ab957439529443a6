//! Small things a hostile or careless client can send: forged request ids,
//! huge offsets, malformed query strings, wrong methods. Every answer is
//! JSON `{"error"}` and nothing overflows.

use serde_json::Value;

use super::spawn_app_with;
use crate::helpers::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_that_could_forge_log_fields_is_replaced_by_a_generated_one() {
    let app = spawn_app_with(TestDb::sqlite(), |_| {}).await;
    for forged in [
        "x\" status=200 user=admin",
        "a b",
        &"z".repeat(65),
        "caf\u{e9}",
    ] {
        let r = app
            .client
            .get(app.url("/health"))
            .header("x-request-id", forged.as_bytes())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let echoed = r.headers()["x-request-id"].to_str().unwrap();
        assert!(
            uuid::Uuid::parse_str(echoed).is_ok(),
            "{forged:?} → {echoed:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_offset_answers_an_empty_last_page() {
    let app = spawn_app_with(TestDb::sqlite(), |_| {}).await;
    let (code, v) = app
        .get_json("/imports?limit=100&offset=9223372036854775807")
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["imports"], serde_json::json!([]));
    assert!(v["next"].is_null(), "{v}");
    assert_eq!(v["offset"], i64::MAX);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_query_strings_and_wrong_methods_answer_json_errors() {
    let app = spawn_app_with(TestDb::sqlite(), |_| {}).await;
    let answers = [
        app.get("/imports?limit=ten").await,
        app.get("/imports?offset=99999999999999999999").await,
        app.client.put(app.url("/health")).send().await.unwrap(),
        app.client.get(app.url("/upload")).send().await.unwrap(),
    ];
    let expected = [400, 400, 405, 405];
    for (r, code) in answers.into_iter().zip(expected) {
        assert_eq!(r.status(), code, "{}", r.url());
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!(ct, "application/json", "{}", r.url());
        let v: Value = r.json().await.unwrap();
        assert!(v["error"].is_string(), "{v}");
    }
}
