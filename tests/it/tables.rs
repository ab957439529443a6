//! Issue 11, the sink's side of "any table": a typed table created from a
//! schema introspects back, is listed, and receives a spreadsheet through
//! the one pipeline with exact typed values and a rejection naming the
//! cell, its column and its type — on PostgreSQL and SQLite.

use std::sync::Arc;

use sheetpipe::model::{Column, SqlType, TableSchema};
use sheetpipe::pipeline::{self, Control, ImportJob, Method, Plan};

use crate::helpers::{tempdir, TestDb};

fn orders() -> TableSchema {
    let mut id = Column::new("order_id", SqlType::BigInt);
    id.nullable = false;
    TableSchema {
        name: "orders".into(),
        columns: vec![
            id,
            Column::new("ordered_on", SqlType::Date),
            Column::new(
                "amount",
                SqlType::Numeric {
                    precision: Some(12),
                    scale: Some(2),
                },
            ),
            Column::new("qty", SqlType::Integer),
            Column::new("paid", SqlType::Boolean),
            Column::new("customer", SqlType::Text),
        ],
        primary_key: vec!["order_id".into()],
        unique: vec![],
    }
}

const CSV: &[u8] = b"Order ID,Ordered On,Amount,Qty,Paid,Customer\n\
1,2024-01-31,12.5,3,yes,007 Ltd\n\
2,2024-02-29,0.1,3000000000,no,Beta\n\
3,2024-03-01,1234567890.25,7,TRUE,Gamma\n";

/// `amount` as the backend gives it back: PostgreSQL keeps the scale;
/// SQLite stores a decimal of 15 digits or fewer as REAL (docs/TYPES.md).
async fn typed_table_round_trip(db: TestDb, amount: &str) {
    let sink = db.bare_sink().await;
    let ddl = sink.create_table(&orders()).await.unwrap();
    assert!(ddl.contains("orders"), "{ddl}");
    let found = sink.table_schema("orders").await.unwrap();
    assert_eq!(found, orders());
    let listed = sink.list_tables().await.unwrap();
    assert!(listed
        .iter()
        .any(|t| t.as_ref().is_ok_and(|t| t.name == "orders")));
    let missing = sink.table_schema("ordres").await.unwrap_err().to_string();
    assert!(
        missing.contains("ordres") && missing.contains("orders"),
        "{missing}"
    );

    let dir = tempdir();
    let file = dir.path().join("orders.csv");
    std::fs::write(&file, CSV).unwrap();
    let job = ImportJob {
        table: Arc::new(found),
        ..ImportJob::new(&file)
    };
    let plan = Plan::new(Method::Copy, None, None);
    let report = pipeline::run(job, &plan, &sink, &Control::default()).await;
    assert_eq!(
        (report.inserted, report.rejected),
        (2, 1),
        "{:?}",
        report.error
    );
    let r = &report.rejected_rows[0];
    assert_eq!(r.row, 3);
    assert!(
        r.reason.contains("D3 (qty integer)") && r.reason.contains("out of range for integer"),
        "{}",
        r.reason
    );
    let rows = db
        .query("SELECT order_id, ordered_on, amount, qty, paid, customer FROM orders ORDER BY order_id")
        .await;
    let text: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
        .collect();
    assert_eq!(text[0][..4], ["1", "2024-01-31", amount, "3"]);
    assert!(
        matches!(text[0][4].as_str(), "t" | "1" | "true"),
        "{:?}",
        text[0]
    );
    assert_eq!(text[0][5], "007 Ltd");
    assert_eq!(text[1][..4], ["3", "2024-03-01", "1234567890.25", "7"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_table_of_ones_own_receives_exact_values_on_postgres() {
    typed_table_round_trip(TestDb::postgres().await, "12.50").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_table_of_ones_own_receives_exact_values_on_sqlite() {
    typed_table_round_trip(TestDb::sqlite(), "12.5").await;
}
