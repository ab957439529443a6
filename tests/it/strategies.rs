//! Every strategy on both backends imports the same file with known valid
//! and invalid rows; counts and table contents must match exactly.

use sheetpipe::pipeline::{self, Control, ImportJob, Method, Plan, Status};

use crate::helpers::{header, tempdir, write_xlsx, TestDb, X};

/// 250 data rows; rows (as the sheet shows them) 6 and 101 have no name,
/// 51 and 251 a broken email. Row 3 is short (trailing cells missing) and
/// valid; the phone of every tenth row is a number.
pub(crate) fn known_sheet(path: &std::path::Path) -> (Vec<u32>, Vec<(String, Option<String>)>) {
    let mut rows = vec![header()];
    let mut bad = Vec::new();
    let mut good = Vec::new();
    for i in 0..250u32 {
        let sheet_row = i + 2;
        let name = format!("Biz {i:03}");
        let email = format!("biz{i}@example.com");
        let row = match sheet_row {
            6 | 101 => {
                bad.push(sheet_row);
                vec![X::E, X::S("Retail"), X::S("555"), X::O(email)]
            }
            51 | 251 => {
                bad.push(sheet_row);
                vec![
                    X::O(name),
                    X::S("Retail"),
                    X::S("555"),
                    X::S("not-an-email"),
                ]
            }
            3 => {
                good.push((name.clone(), None));
                vec![X::O(name)]
            }
            _ if i % 10 == 0 => {
                good.push((name.clone(), Some("5551234567".into())));
                vec![X::O(name), X::S("Retail"), X::N(5551234567.0), X::O(email)]
            }
            _ => {
                good.push((name.clone(), Some(format!("+1 555 {i:04}"))));
                vec![
                    X::O(name),
                    X::S("Retail"),
                    X::O(format!("+1 555 {i:04}")),
                    X::O(email),
                ]
            }
        };
        rows.push(row);
    }
    write_xlsx(path, &rows);
    good.sort();
    (bad, good)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_strategy_on_both_backends_stores_exactly_the_valid_rows() {
    let dir = tempdir();
    let file = dir.path().join("known.xlsx");
    let (bad, good) = known_sheet(&file);
    for method in Method::ALL {
        for db in TestDb::both().await {
            let sink = db.sink().await;
            let plan = Plan::new(method, Some(3), Some(7));
            let report =
                pipeline::run(ImportJob::new(&file), &plan, &sink, &Control::default()).await;
            let ctx = format!("{method} on {}", db.backend());
            assert_eq!(
                report.status,
                Status::Completed,
                "{ctx}: {:?}",
                report.error
            );
            assert_eq!(report.rows_read, 250, "{ctx}");
            assert_eq!(report.inserted, 246, "{ctx}");
            assert_eq!(report.rejected, 4, "{ctx}");
            let rows: Vec<u32> = report.rejected_rows.iter().map(|r| r.row).collect();
            assert_eq!(rows, bad, "{ctx}");
            let stored: Vec<(String, Option<String>)> = db
                .query("SELECT name, phone FROM businesses ORDER BY name")
                .await
                .into_iter()
                .map(|r| (r[0].clone().unwrap(), r[1].clone()))
                .collect();
            assert_eq!(stored, good, "{ctx}");
            let stats = report.stats();
            assert_eq!(
                stats.success_count + stats.error_count + stats.unprocessed,
                stats.total_records,
                "{ctx}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_has_the_tutorial_columns_and_indexes_on_postgres() {
    let db = TestDb::postgres().await;
    db.sink().await;
    let cols: Vec<String> = db
        .query("SELECT column_name FROM information_schema.columns WHERE table_name = 'businesses' ORDER BY ordinal_position")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(
        cols,
        [
            "id",
            "name",
            "category",
            "phone",
            "email",
            "address",
            "city",
            "country",
            "website",
            "description",
            "created_at",
            "updated_at",
            "deleted_at"
        ]
    );
    let idx: Vec<String> = db
        .query("SELECT indexname FROM pg_indexes WHERE tablename = 'businesses' AND indexname LIKE 'idx_%' ORDER BY 1")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(
        idx,
        [
            "idx_businesses_category",
            "idx_businesses_city",
            "idx_businesses_country",
            "idx_businesses_deleted_at",
            "idx_businesses_email",
            "idx_businesses_name"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_has_the_tutorial_columns_and_indexes_on_sqlite() {
    let db = TestDb::sqlite();
    db.sink().await;
    let idx: Vec<String> = db
        .query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%' \
             AND tbl_name = 'businesses' ORDER BY 1",
        )
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(idx.len(), 6, "{idx:?}");
    let cols = db
        .query("SELECT name FROM pragma_table_info('businesses')")
        .await;
    assert_eq!(cols.len(), 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_writers_on_sqlite_never_see_database_is_locked() {
    let dir = tempdir();
    let file = dir.path().join("many.csv");
    sheetpipe::generate::generate(
        &file,
        &sheetpipe::generate::GenerateOptions {
            rows: 3000,
            ..Default::default()
        },
    )
    .unwrap();
    let db = TestDb::sqlite();
    let sink = db.sink().await;
    let imports = (0..3).map(|_| {
        let (sink, file) = (sink.clone(), file.clone());
        tokio::spawn(async move {
            let plan = Plan::new(Method::Concurrent, Some(8), None);
            pipeline::run(ImportJob::new(file), &plan, &sink, &Control::default()).await
        })
    });
    for report in futures::future::join_all(imports).await {
        let report = report.unwrap();
        assert_eq!(report.status, Status::Completed, "{:?}", report.error);
        assert_eq!(report.inserted, 3000);
    }
    assert_eq!(db.count().await, 9000);
}
