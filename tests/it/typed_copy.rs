//! The binary encoders (`sink::postgres::encode`) against a real server:
//! rows of every type, edge values included, are sent by binary COPY into
//! one table and written as SQL text literals into a twin table; both read
//! back through `::text` must be identical — PostgreSQL's own text form of
//! what it parsed is the judge of what we encoded.

use bytes::BytesMut;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use futures::SinkExt;
use sheetpipe::model::{SqlType, Value};
use sheetpipe::sink::postgres::{copy_binary, encode};

use crate::helpers::TestDb;

/// A connection to `url` whose driver task runs in the background.
pub async fn client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

fn columns() -> Vec<(&'static str, SqlType)> {
    let numeric = |p, s| SqlType::Numeric {
        precision: p,
        scale: s,
    };
    vec![
        ("k", SqlType::Integer),
        ("c_int2", SqlType::SmallInt),
        ("c_int4", SqlType::Integer),
        ("c_int8", SqlType::BigInt),
        ("c_f4", SqlType::Real),
        ("c_f8", SqlType::Double),
        ("c_num", numeric(None, None)),
        ("c_num_12_2", numeric(Some(12), Some(2))),
        ("c_bool", SqlType::Boolean),
        ("c_date", SqlType::Date),
        ("c_ts", SqlType::Timestamp),
        ("c_tstz", SqlType::TimestampTz),
        ("c_time", SqlType::Time),
        ("c_uuid", SqlType::Uuid),
        ("c_json", SqlType::Json),
        ("c_jsonb", SqlType::Jsonb),
        ("c_text", SqlType::Text),
        ("c_vc", SqlType::Varchar(Some(10))),
        ("c_ch", SqlType::Char(Some(4))),
    ]
}

fn ts(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_micro_opt(h, mi, s, us)
        .unwrap()
}

fn date(y: i32, m: u32, d: u32) -> Value {
    Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// Each row: the values we encode, and the same row as SQL literals.
#[allow(clippy::type_complexity)]
#[rustfmt::skip]
fn rows() -> Vec<(Vec<Value>, Vec<&'static str>)> {
    use Value::*;
    let u = uuid::Uuid::parse_str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").unwrap();
    vec![
        (
            vec![
                Int(1), Int(-32768), Int(i32::MIN.into()), Int(i64::MIN), Float(1.5), Float(-0.1),
                Numeric("0".into()), Numeric("-0.50".into()), Bool(true), date(1, 1, 1),
                Timestamp(ts(1, 1, 1, 0, 0, 0, 0)), TimestampTz(Utc.timestamp_opt(0, 0).unwrap()),
                Time(NaiveTime::MIN), Uuid(uuid::Uuid::nil()), Json(r#"{"a":1}"#.into()),
                Json(r#"{"ü":"🦆"}"#.into()), text("🦆 emoji, \"quotes\", \\ and\ttab"),
                text("héllo"), text("ab"),
            ],
            vec![
                "1", "-32768", "-2147483648", "-9223372036854775808", "1.5", "-0.1", "0",
                "-0.50", "true", "0001-01-01", "0001-01-01 00:00:00", "1970-01-01 00:00:00+00",
                "00:00:00", "00000000-0000-0000-0000-000000000000", r#"{"a":1}"#,
                r#"{"ü":"🦆"}"#, "🦆 emoji, \"quotes\", \\ and\ttab", "héllo", "ab",
            ],
        ),
        (
            vec![
                Int(2), Int(32767), Int(i32::MAX.into()), Int(i64::MAX),
                Float(f64::from(f32::MAX)), Float(1e308),
                Numeric("123456789012345678901234567890.12345".into()),
                Numeric("9999999999.99".into()), Bool(false), date(9999, 12, 31),
                Timestamp(ts(9999, 12, 31, 23, 59, 59, 999_999)),
                TimestampTz(Utc.from_utc_datetime(&ts(2024, 1, 31, 10, 30, 0, 123_456))),
                Time(NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap()), Uuid(u),
                Json(r#"[1, "x", null]"#.into()), Json(r#"{"b":[1,2.50],"a":"Zoë"}"#.into()),
                text(""), text(""), text(""),
            ],
            vec![
                "2", "32767", "2147483647", "9223372036854775807", "3.4028235e+38", "1e308",
                "123456789012345678901234567890.12345", "9999999999.99", "false", "9999-12-31",
                "9999-12-31 23:59:59.999999", "2024-01-31 10:30:00.123456+00",
                "23:59:59.999999", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", r#"[1, "x", null]"#,
                r#"{"b":[1,2.50],"a":"Zoë"}"#, "", "", "",
            ],
        ),
        (
            vec![
                Int(3), Int(0), Int(0), Int(0), Float(0.0), Float(-0.0), Numeric("0.0001".into()),
                Numeric("0.01".into()), Bool(true), date(1900, 2, 28),
                Timestamp(ts(1900, 2, 28, 12, 0, 0, 1)),
                TimestampTz(Utc.from_utc_datetime(&ts(2000, 1, 1, 0, 0, 0, 0))),
                Time(NaiveTime::from_hms_micro_opt(12, 34, 56, 500_000).unwrap()), Uuid(u),
                Json("\"ü\"".into()), Json("[]".into()), text("北京"), text("0123456789"),
                text("🦆🦆"),
            ],
            vec![
                "3", "0", "0", "0", "0", "-0", "0.0001", "0.01", "true", "1900-02-28",
                "1900-02-28 12:00:00.000001", "2000-01-01 00:00:00+00", "12:34:56.5",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "\"ü\"", "[]", "北京", "0123456789",
                "🦆🦆",
            ],
        ),
        (
            vec![
                Int(4), Int(-1), Int(-1), Int(-1), Float(-1e-30), Float(5e-324),
                Numeric("-0.5".into()), Numeric("-1234567890.12".into()), Bool(false),
                date(-4713, 11, 24), Timestamp(ts(-4713, 11, 24, 0, 0, 0, 0)),
                TimestampTz(Utc.from_utc_datetime(&ts(1999, 12, 31, 23, 59, 59, 999_999))),
                Time(NaiveTime::from_hms_opt(0, 0, 1).unwrap()), Uuid(u), Json("1.50".into()),
                Json("1.50".into()), text("x"), text("x"), text("x"),
            ],
            vec![
                "4", "-1", "-1", "-1", "-1e-30", "5e-324", "-0.5", "-1234567890.12", "false",
                "4714-11-24 BC", "4714-11-24 00:00:00 BC", "1999-12-31 23:59:59.999999+00",
                "00:00:01", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "1.50", "1.50", "x", "x", "x",
            ],
        ),
    ]
}

fn create_sql(table: &str) -> String {
    let cols: Vec<String> = columns()
        .iter()
        .map(|(n, t)| format!("{n} {}", t.postgres_name()))
        .collect();
    format!("CREATE TABLE {table} ({})", cols.join(", "))
}

fn select_text(table: &str) -> String {
    let cols: Vec<String> = columns()
        .iter()
        .map(|(n, _)| format!("{n}::text"))
        .collect();
    format!("SELECT {} FROM {table} ORDER BY k", cols.join(", "))
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Sends `rows` as one binary COPY stream into `got`.
async fn copy_rows(client: &tokio_postgres::Client, rows: &[Vec<Value>]) {
    let cols = columns();
    let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
    let sql = format!("COPY got ({}) FROM STDIN (FORMAT binary)", names.join(", "));
    let mut buf = BytesMut::new();
    copy_binary::header(&mut buf);
    for row in rows {
        buf.extend_from_slice(&(row.len() as i16).to_be_bytes());
        for (v, (name, ty)) in row.iter().zip(&cols) {
            encode::put_field(&mut buf, v, ty).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    copy_binary::trailer(&mut buf);
    let sink = client.copy_in(&sql).await.expect("start COPY");
    futures::pin_mut!(sink);
    sink.send(buf.freeze()).await.expect("send");
    let n = sink.finish().await.expect("COPY accepted");
    assert_eq!(n, rows.len() as u64);
}

#[tokio::test]
async fn binary_copy_of_every_type_stores_what_postgresql_parses_from_the_same_text() {
    let db = TestDb::postgres().await;
    let client = client(&db.url).await;
    client
        .batch_execute(&format!(
            "SET TimeZone = 'UTC'; {}; {}",
            create_sql("got"),
            create_sql("want")
        ))
        .await
        .unwrap();
    let mut rows = rows();
    let width = columns().len();
    rows.push((
        std::iter::once(Value::Int(5))
            .chain(std::iter::repeat_n(Value::Null, width - 1))
            .collect(),
        vec![],
    ));
    for (_, lits) in rows.iter().filter(|(_, l)| !l.is_empty()) {
        assert_eq!(lits.len(), width);
        let values: Vec<String> = lits.iter().map(|l| literal(l)).collect();
        client
            .batch_execute(&format!("INSERT INTO want VALUES ({})", values.join(", ")))
            .await
            .unwrap();
    }
    client
        .batch_execute("INSERT INTO want (k) VALUES (5)")
        .await
        .unwrap();
    let values: Vec<Vec<Value>> = rows.iter().map(|(v, _)| v.clone()).collect();
    copy_rows(&client, &values).await;

    let got = db
        .query(&format!("SET TimeZone = 'UTC'; {}", select_text("got")))
        .await;
    let want = db
        .query(&format!("SET TimeZone = 'UTC'; {}", select_text("want")))
        .await;
    assert_eq!(got.len(), 5);
    for (g, w) in got.iter().zip(&want) {
        for ((name, _), (g, w)) in columns().iter().zip(g.iter().zip(w)) {
            assert_eq!(g, w, "column {name} of row {:?}", g);
        }
    }
    // Spot checks against PostgreSQL's spelling, independent of the twin.
    assert_eq!(
        got[1][6].as_deref(),
        Some("123456789012345678901234567890.12345")
    );
    assert_eq!(got[3][6].as_deref(), Some("-0.5"));
    assert_eq!(got[2][6].as_deref(), Some("0.0001"));
    assert_eq!(got[0][6].as_deref(), Some("0"));
    assert_eq!(got[3][9].as_deref(), Some("4714-11-24 BC"));
    assert_eq!(got[1][11].as_deref(), Some("2024-01-31 10:30:00.123456+00"));
    assert_eq!(got[0][15].as_deref(), Some(r#"{"ü": "🦆"}"#));
    assert_eq!(got[4][1], None, "NULL stays NULL");
}

#[tokio::test]
async fn the_server_refuses_a_value_over_the_declared_length_or_precision() {
    let db = TestDb::postgres().await;
    let client = client(&db.url).await;
    client
        .batch_execute("CREATE TABLE t (v varchar(3), n numeric(4,2))")
        .await
        .unwrap();
    for (v, n, why) in [
        ("abcd", "1.00", "too long"),
        ("abc", "123.45", "numeric field overflow"),
    ] {
        let mut buf = BytesMut::new();
        copy_binary::header(&mut buf);
        buf.extend_from_slice(&2i16.to_be_bytes());
        encode::put_field(&mut buf, &text(v), &SqlType::Varchar(Some(3))).unwrap();
        let num = SqlType::Numeric {
            precision: Some(4),
            scale: Some(2),
        };
        encode::put_field(&mut buf, &Value::Numeric(n.into()), &num).unwrap();
        copy_binary::trailer(&mut buf);
        let sink = client
            .copy_in("COPY t (v, n) FROM STDIN (FORMAT binary)")
            .await
            .unwrap();
        futures::pin_mut!(sink);
        sink.send(buf.freeze()).await.unwrap();
        let e = sink.finish().await.expect_err("refused");
        let msg = e
            .as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_default();
        assert!(msg.contains(why), "{v}/{n}: {msg}");
    }
}
