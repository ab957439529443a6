//! The progress bar seen moving: a 200,000-row .xlsx (written by
//! rust_xlsxwriter through `sheetpipe generate`'s code) imported from the
//! page, the `progress` element read over and over while the import runs
//! (polling the DOM; nothing is timed), its value rising below 100% before
//! the result shows, then the counts matching the table.

use serde_json::Value;

use super::browser;
use crate::api::spawn_app;

const ROWS: u64 = 200_000;

#[tokio::test]
async fn the_progress_bar_moves_while_a_big_xlsx_is_imported() {
    let Some(b) = browser(
        "the_progress_bar_moves_while_a_big_xlsx_is_imported",
        1280,
        800,
    )
    .await
    else {
        return;
    };
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xlsx");
    let opts = sheetpipe::generate::GenerateOptions {
        rows: ROWS,
        bad_rate: 0.001,
        ..Default::default()
    };
    let made = sheetpipe::generate::generate(&path, &opts).unwrap();
    b.open(&app).await;
    b.choose("businesses", &path).await;
    b.review().await;
    b.testid("start-import").await.click().await.unwrap();

    // Samples of the bar once the upload is done and the import's own
    // progress is shown ("N rows, P%, …"), until the result appears.
    let sample = "(() => { const t = document.getElementById('progress-text').textContent; \
         return { value: document.getElementById('progress').value, text: t, \
                  done: !document.getElementById('result').hidden, \
                  importing: /^\\d+ rows, \\d+%/.test(t) }; })()";
    let mut seen: Vec<f64> = Vec::new();
    let mut polls = 0u64;
    loop {
        let s: Value = b.js(sample).await;
        if s["done"] == true {
            break;
        }
        if s["importing"] == true {
            let v = s["value"].as_f64().unwrap();
            if seen.last() != Some(&v) {
                seen.push(v);
            }
        }
        polls += 1;
        assert!(
            polls < 200_000,
            "the import never ended; the page shows {s}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let moving: Vec<f64> = seen.iter().copied().filter(|v| *v > 0.0).collect();
    assert!(
        moving.len() >= 2,
        "the bar was read at fewer than two different values during the import: {seen:?}"
    );
    assert!(
        moving.windows(2).all(|w| w[0] < w[1]),
        "the bar went back: {seen:?}"
    );
    assert!(
        moving.iter().all(|v| *v < 100.0),
        "100% before the result: {seen:?}"
    );
    assert_eq!(
        b.js("document.getElementById('progress').value").await,
        100,
        "full once done"
    );
    let inserted: u64 = b.text("result-inserted").await.parse().unwrap();
    let rejected: u64 = b.text("result-rejected").await.parse().unwrap();
    assert_eq!(inserted, made.rows - made.invalid, "{made:?}");
    assert_eq!(rejected, made.invalid, "{made:?}");
    assert_eq!(inserted + rejected, ROWS);
    assert_eq!(
        app.db.count().await,
        inserted,
        "the table holds what the page says"
    );
    b.close().await;
}
