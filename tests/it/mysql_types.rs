//! Every MySQL/MariaDB column type through every strategy, against the real
//! server: a table of TINYINT(1), SMALLINT, INT, BIGINT, DECIMAL, DOUBLE,
//! DATE, DATETIME(6), TIMESTAMP(6), TIME(6), CHAR(36), JSON, VARCHAR(n),
//! TEXT and CHAR(n) columns, introspected, receives a CSV of edge values;
//! each value is read back exactly, and each bad value rejects only its row,
//! naming the column — also the one only the server can judge (a TIMESTAMP
//! past 2038).

use std::sync::Arc;

use sheetpipe::pipeline::{self, Control, ImportJob, Method, Plan, Status};

use crate::helpers::{tempdir, TestDb};
use crate::mysql_db;

const DDL: &str = "CREATE TABLE alltypes (
    k INT NOT NULL PRIMARY KEY,
    b TINYINT(1) NULL, si SMALLINT NULL, i INT NULL, bi BIGINT NULL,
    d DECIMAL(12,2) NULL, dw DECIMAL(30,10) NULL, db DOUBLE NULL,
    dt DATE NULL, ts DATETIME(6) NULL, tstz TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6) NULL,
    u CHAR(36) NULL, j JSON NULL, vc VARCHAR(10) NULL, tx TEXT NULL, ch CHAR(4) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

const HEADER: &str = "k,b,si,i,bi,d,dw,db,dt,ts,tstz,tm,u,j,vc,tx,ch";

/// The good rows as CSV lines, and each as MariaDB reads it back.
#[rustfmt::skip]
fn good() -> Vec<(&'static str, [Option<&'static str>; 17])> {
    vec![
        (
            "1,true,-32768,-2147483648,-9223372036854775808,-1234567890.12,0.0000000001,-0.1,\
             1000-01-01,1000-01-01 00:00:00,1970-01-01T00:00:01Z,00:00:00,\
             A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11,\"{\"\"a\"\":1}\",abcdefghij,\
             \"🦆 \"\"quotes\"\", \\ and\ttab\",abcd",
            [Some("1"), Some("1"), Some("-32768"), Some("-2147483648"), Some("-9223372036854775808"),
             Some("-1234567890.12"), Some("0.0000000001"), Some("-0.1"), Some("1000-01-01"),
             Some("1000-01-01 00:00:00.000000"), Some("1970-01-01 00:00:01.000000"),
             Some("00:00:00.000000"), Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), Some("{\"a\":1}"),
             Some("abcdefghij"), Some("🦆 \"quotes\", \\ and\ttab"), Some("abcd")],
        ),
        (
            "2,no,32767,2147483647,9223372036854775807,9999999999.99,\
             12345678901234567890.1234567890,0.30000000000000004,9999-12-31,\
             9999-12-31T23:59:59.999999,2038-01-19T05:14:07+02:00,23:59:59.999999,\
             {a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12},\"[1,\"\"ü\"\",null]\",ünïcødé🦆xy,\
             \"line one\nline two\",🦆é",
            [Some("2"), Some("0"), Some("32767"), Some("2147483647"), Some("9223372036854775807"),
             Some("9999999999.99"), Some("12345678901234567890.1234567890"),
             Some("0.30000000000000004"), Some("9999-12-31"), Some("9999-12-31 23:59:59.999999"),
             Some("2038-01-19 03:14:07.000000"), Some("23:59:59.999999"),
             Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12"), Some("[1,\"ü\",null]"),
             Some("ünïcødé🦆xy"), Some("line one\nline two"), Some("🦆é")],
        ),
        (
            "3,,,,,,,,,,,,,,,,",
            [Some("3"), None, None, None, None, None, None, None, None, None, None, None, None,
             None, None, None, None],
        ),
    ]
}

/// Rows with one bad value each: the line, and the column it names.
fn bad() -> Vec<(String, &'static str)> {
    let base = |k: u32| -> Vec<String> {
        let mut v = vec![String::new(); 17];
        v[0] = k.to_string();
        v
    };
    let mut out = Vec::new();
    let mut put = |k: u32, col: usize, value: &str, name: &'static str| {
        let mut v = base(k);
        v[col] = value.to_string();
        out.push((v.join(","), name));
    };
    put(4, 5, "12345678901.00", "d"); // more digits than DECIMAL(12,2)
    put(5, 10, "2040-01-01T00:00:00Z", "tstz"); // past TIMESTAMP's 2038: the server's call
    put(6, 14, "abcdefghijk", "vc"); // 11 characters in VARCHAR(10)
    put(7, 1, "maybe", "b");
    put(8, 13, "{bad", "j");
    put(9, 8, "2024-02-30", "dt");
    put(10, 12, "not-a-uuid", "u");
    put(11, 2, "32768", "si");
    put(12, 16, "abcde", "ch");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mysql_type_round_trips_exactly_through_every_strategy() {
    let dir = tempdir();
    let file = dir.path().join("types.csv");
    let mut csv = format!("{HEADER}\n");
    for (line, _) in good() {
        csv.push_str(line);
        csv.push('\n');
    }
    for (line, _) in bad() {
        csv.push_str(&line);
        csv.push('\n');
    }
    std::fs::write(&file, csv).unwrap();
    for method in Method::ALL {
        let Some(db) = TestDb::mysql().await else {
            return;
        };
        let sink = db.bare_sink().await;
        db.execute(DDL).await;
        let mut conn = mysql_db::connect(&db.url).await;
        let schema = sheetpipe::sink::mysql::introspect::table_schema(&mut conn, "alltypes")
            .await
            .unwrap();
        let mut job = ImportJob::new(&file);
        job.table = Arc::new(schema);
        let plan = Plan::new(method, Some(2), Some(4));
        let report = pipeline::run(job, &plan, &sink, &Control::default()).await;
        assert_eq!(
            report.status,
            Status::Completed,
            "{method}: {:?}",
            report.error
        );
        let rejected: Vec<(u32, String)> = report
            .rejected_rows
            .iter()
            .map(|r| (r.row, format!("{} {}", r.column, r.reason)))
            .collect();
        assert_eq!(
            (report.inserted, report.rejected),
            (3, 9),
            "{method}: {rejected:#?}"
        );
        for ((row, why), (_, column)) in rejected.iter().zip(bad()) {
            assert!(
                // Ours name the cell, `Q7 (ch)`; the server's its column:
                // `db`.`alltypes`.`tstz` (INSERT) or 'tstz' (LOAD DATA).
                [
                    format!("({column})"),
                    format!("`{column}`"),
                    format!("'{column}'")
                ]
                .iter()
                .any(|n| why.contains(n)),
                "{method}: row {row} should name {column}: {why}"
            );
        }
        let rows: Vec<u32> = rejected.iter().map(|r| r.0).collect();
        assert_eq!(rows, (5..=13).collect::<Vec<_>>(), "{method}");
        let stored = db
            .query(&format!(
                "SELECT {} FROM alltypes ORDER BY k",
                HEADER.replace(',', ", ")
            ))
            .await;
        let want: Vec<Vec<Option<String>>> = good()
            .into_iter()
            .map(|(_, r)| r.iter().map(|c| c.map(str::to_string)).collect())
            .collect();
        assert_eq!(stored, want, "{method}");
    }
}
