//! The hand-encoded binary COPY stores exactly what a parameterized INSERT
//! stores: the same file through `copy` and `batch` gives the same rows,
//! whatever the text holds (non-ASCII, quotes, backslashes, tabs and line
//! breaks, long values) and wherever values are missing (NULL).

use sheetpipe::pipeline::{self, Control, ImportJob, Method, Plan, Status};

use crate::helpers::{tempdir, TestDb};

fn tricky_csv(path: &std::path::Path) {
    let long = "ü".repeat(20_000);
    let rows = [
        "name,category,phone,email,address,city,country,website,description".to_string(),
        "Café Zoë,Bäckerei,+49 30 1234,zoe@cafe.de,\"Straße 1\nHinterhaus\",Berlin,Deutschland,,\"say \"\"hi\"\"\"".into(),
        "back\\slash,tab\there,,,,,,,".into(),
        "only a name".into(),
        format!("long,{long},,,,,,,{long}"),
        "北京烤鸭店,餐厅,,,,北京,中国,,🦆 since 1864".into(),
    ];
    std::fs::write(path, rows.join("\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_stores_exactly_what_a_parameterized_insert_stores() {
    let dir = tempdir();
    let file = dir.path().join("tricky.csv");
    tricky_csv(&file);
    let mut stored = Vec::new();
    for method in [Method::Batch, Method::Copy] {
        let db = TestDb::postgres().await;
        let sink = db.sink().await;
        let plan = Plan::new(method, None, None);
        let report = pipeline::run(ImportJob::new(&file), &plan, &sink, &Control::default()).await;
        assert_eq!(
            report.status,
            Status::Completed,
            "{method}: {:?}",
            report.error
        );
        assert_eq!((report.inserted, report.rejected), (5, 0), "{method}");
        stored.push(
            db.query(
                "SELECT name, category, phone, email, address, city, country, website, \
                 description FROM businesses ORDER BY id",
            )
            .await,
        );
    }
    assert_eq!(stored[0], stored[1]);
    let rows = &stored[1];
    assert_eq!(rows[0][0].as_deref(), Some("Café Zoë"));
    assert_eq!(rows[0][4].as_deref(), Some("Straße 1\nHinterhaus"));
    assert_eq!(rows[0][8].as_deref(), Some("say \"hi\""));
    assert_eq!(rows[0][7], None, "an empty cell is NULL");
    assert_eq!(rows[1][0].as_deref(), Some("back\\slash"));
    assert_eq!(rows[2][1], None, "missing trailing cells are NULL");
    assert_eq!(
        rows[3][1].as_deref().map(|s| s.chars().count()),
        Some(20_000)
    );
    assert_eq!(rows[4][8].as_deref(), Some("🦆 since 1864"));
}
