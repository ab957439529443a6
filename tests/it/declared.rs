//! Issue 11, declared tables: a schema file (docs/SCHEMA.md) read from
//! disk, its table created through the sink, and a real workbook (number,
//! date and text cells) imported through the one pipeline: every rule
//! refuses its row naming the cell, the column and why, a repeated value
//! names the row that had it first, and the rows that pass land exactly —
//! on PostgreSQL and SQLite.

use std::path::Path;
use std::sync::Arc;

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use sheetpipe::model::{load_schema_file, SqlType, TableSchema};
use sheetpipe::pipeline::{self, Control, ImportJob, Method, Plan};

use crate::helpers::{tempdir, TestDb};

const SCHEMA: &str = r#"# Orders as the sales team sends them.
table = "orders"

[[columns]]
name = "id"
type = "bigint"
primary_key = true
identity = true

[[columns]]
name = "order_no"
type = "integer"
aliases = ["Order No", "Order #"]
required = true
unique_in_file = true
min = 1

[[columns]]
name = "customer"
type = "varchar(40)"
required = true
min_length = 2

[[columns]]
name = "day"
type = "date"
min = 2024-01-01

[[columns]]
name = "amount"
type = "numeric(12,2)"
nullable = false
default = 0

[[columns]]
name = "qty"
type = "integer"
max = 100

[[columns]]
name = "status"
type = "text"
default = "new"
one_of = ["new", "paid"]

[[columns]]
name = "email"
type = "text"
email = true

[[columns]]
name = "created"
type = "timestamptz"
nullable = false
default = "now"
"#;

/// A cell of the test workbook.
enum C {
    N(f64),
    S(&'static str),
    D(u16, u8, u8),
    E,
}

/// Order No, Customer, Day, Amount, Qty, Status, Email.
fn workbook(path: &Path) {
    use C::*;
    let rows: Vec<[C; 7]> = vec![
        [
            S("Order No"),
            S("Customer"),
            S("Day"),
            S("Amount"),
            S("Qty"),
            S("Status"),
            S("Email"),
        ],
        // 2: good.
        [
            N(1.0),
            S("Acme"),
            D(2024, 1, 31),
            N(12.5),
            N(3.0),
            S("paid"),
            S("a@acme.com"),
        ],
        // 3: before the minimum date.
        [
            N(2.0),
            S("Beta"),
            D(2023, 12, 31),
            N(1.0),
            N(1.0),
            S("new"),
            E,
        ],
        // 4: order 1 again.
        [
            N(1.0),
            S("Gamma"),
            D(2024, 2, 1),
            N(1.0),
            N(1.0),
            S("new"),
            E,
        ],
        // 5: a one-letter customer.
        [N(3.0), S("B"), D(2024, 2, 2), N(1.0), N(1.0), E, E],
        // 6: too many.
        [N(4.0), S("Delta"), D(2024, 2, 3), N(0.1), N(101.0), E, E],
        // 7: a status not in the list.
        [
            N(5.0),
            S("Epsilon"),
            D(2024, 2, 4),
            N(1.0),
            N(1.0),
            S("lost"),
            E,
        ],
        // 8: no e-mail address.
        [
            N(6.0),
            S("Zeta"),
            D(2024, 2, 5),
            N(1.0),
            N(1.0),
            E,
            S("zeta at example"),
        ],
        // 9: no amount, which is NOT NULL.
        [N(7.0), S("Eta"), D(2024, 2, 6), E, N(1.0), E, E],
        // 10: no order number.
        [E, S("Theta"), D(2024, 2, 7), N(1.0), N(1.0), E, E],
        // 11: good, status empty (NULL: the file has the column).
        [
            N(8.0),
            S("Iota"),
            D(2024, 2, 29),
            N(0.1),
            E,
            E,
            S("i@iota.example"),
        ],
        // 12: order 3 was refused in row 5, so it is free.
        [
            N(3.0),
            S("Kappa"),
            D(2024, 3, 1),
            N(1234567890.25),
            N(100.0),
            S("new"),
            E,
        ],
    ];
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Orders").unwrap();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                N(n) => {
                    ws.write_number(r, c, *n).unwrap();
                }
                S(s) => {
                    ws.write_string(r, c, *s).unwrap();
                }
                D(y, m, d) => {
                    let when = ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
                    ws.write_datetime_with_format(r, c, &when, &date).unwrap();
                }
                E => {}
            }
        }
    }
    wb.save(path).unwrap();
}

/// `amount` of order 1 and order 8 as the backend gives them back:
/// PostgreSQL keeps the scale, SQLite stores such decimals as REAL.
async fn declared_table_receives_a_workbook(db: TestDb, amounts: [&str; 3]) {
    let dir = tempdir();
    let schema_file = dir.path().join("orders.toml");
    std::fs::write(&schema_file, SCHEMA).unwrap();
    let schema: TableSchema = load_schema_file(&schema_file).unwrap();
    assert_eq!(schema.columns[4].sql_type.to_string(), "numeric(12,2)");
    assert_eq!(schema.columns[8].sql_type, SqlType::TimestampTz);

    let sink = db.bare_sink().await;
    let ddl = sink.create_table(&schema).await.unwrap();
    assert!(ddl.contains("DEFAULT 0"), "{ddl}");
    assert!(ddl.contains("DEFAULT 'new'"), "{ddl}");
    // What the database says of the table it made.
    let created = sink.table_schema("orders").await.unwrap();
    let described: Vec<(String, bool, bool)> = created
        .columns
        .iter()
        .map(|c| (c.describe(), c.nullable, c.has_default))
        .collect();
    let want = [
        ("id bigint", false, true),
        ("order_no integer", true, false),
        ("customer varchar(40)", true, false),
        ("day date", true, false),
        ("amount numeric(12,2)", false, true),
        ("qty integer", true, false),
        ("status text", true, true),
        ("email text", true, false),
        ("created timestamptz", false, true),
    ];
    let want: Vec<(String, bool, bool)> = want
        .iter()
        .map(|(d, n, h)| (d.to_string(), *n, *h))
        .collect();
    assert_eq!(described, want);
    assert_eq!(created.primary_key, ["id"]);

    let file = dir.path().join("orders.xlsx");
    workbook(&file);
    let job = ImportJob {
        table: Arc::new(schema),
        max_reported: 1000,
        ..ImportJob::new(&file)
    };
    let plan = Plan::new(Method::Copy, None, None);
    let report = pipeline::run(job, &plan, &sink, &Control::default()).await;
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!(
        (report.rows_read, report.inserted, report.rejected),
        (11, 3, 8)
    );
    let rejected: Vec<String> = report
        .rejected_rows
        .iter()
        .map(|r| format!("{}: {}", r.place(), r.reason))
        .collect();
    assert_eq!(
        rejected,
        [
            "Orders!C3 (Day): Orders!C3 (day date): 2023-12-31 is below the minimum 2024-01-01",
            "Orders!A4 (Order No): Orders!A4 (order_no integer): the value '1' is already in row 2 (unique)",
            "Orders!B5 (Customer): customer is shorter than 2 characters",
            "Orders!E6 (Qty): Orders!E6 (qty integer): 101 is above the maximum 100",
            "Orders!F7 (Status): 'lost' is not one of: new, paid",
            "Orders!G8 (Email): invalid email address: it contains spaces",
            "Orders!D9 (Amount): amount is empty, and the column is NOT NULL: its default applies only when the file has no amount column",
            "Orders!A10 (Order No): order_no is required",
        ]
    );

    let rows = db
        .query("SELECT order_no, customer, day, amount, qty, status, email FROM orders ORDER BY order_no")
        .await;
    let got: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.into_iter().map(|v| v.unwrap_or("NULL".into())).collect())
        .collect();
    let row = |v: [&str; 7]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        [
            row([
                "1",
                "Acme",
                "2024-01-31",
                amounts[0],
                "3",
                "paid",
                "a@acme.com"
            ]),
            row(["3", "Kappa", "2024-03-01", amounts[2], "100", "new", "NULL"]),
            row([
                "8",
                "Iota",
                "2024-02-29",
                amounts[1],
                "NULL",
                "NULL",
                "i@iota.example"
            ]),
        ]
    );
    // The column the file does not have got the database's default.
    let stamped = db
        .query("SELECT count(*) FROM orders WHERE created IS NOT NULL AND id IS NOT NULL")
        .await;
    assert_eq!(stamped[0][0].as_deref(), Some("3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_table_receives_a_workbook_with_exact_rejects_on_postgres() {
    declared_table_receives_a_workbook(
        TestDb::postgres().await,
        ["12.50", "0.10", "1234567890.25"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_table_receives_a_workbook_with_exact_rejects_on_sqlite() {
    declared_table_receives_a_workbook(TestDb::sqlite(), ["12.5", "0.1", "1234567890.25"]).await;
}
