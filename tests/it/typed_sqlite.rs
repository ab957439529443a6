//! Typed values in a real SQLite file (`sink::sqlite::values`): each value
//! bound into a table made by `ddl::create_table_sqlite` lands in the
//! storage class docs/TYPES.md promises, read back with `typeof()`.

use chrono::{NaiveDate, NaiveTime};
use sheetpipe::model::{Column, SqlType, TableSchema, Value};
use sheetpipe::sink::ddl;
use sheetpipe::sink::sqlite::values::{check_exact, to_sqlite, SqliteValue};

#[rustfmt::skip]
fn table() -> (TableSchema, Vec<Value>, Vec<(&'static str, &'static str)>) {
    let d = NaiveDate::from_ymd_opt(2024, 1, 31).unwrap();
    let t = d.and_hms_micro_opt(10, 30, 0, 250_000).unwrap();
    let numeric = SqlType::Numeric {
        precision: Some(12),
        scale: Some(2),
    };
    let cells: Vec<(&str, SqlType, Value, &str, &str)> = vec![
        ("c_int2", SqlType::SmallInt, Value::Int(-5), "integer", "-5"),
        ("c_int8", SqlType::BigInt, Value::Int(i64::MAX), "integer", "9223372036854775807"),
        ("c_bool", SqlType::Boolean, Value::Bool(true), "integer", "1"),
        ("c_false", SqlType::Boolean, Value::Bool(false), "integer", "0"),
        ("c_double", SqlType::Double, Value::Float(0.1), "real", "0.1"),
        ("c_real", SqlType::Real, Value::Float(1.5), "real", "1.5"),
        ("c_num", numeric.clone(), Value::Numeric("12.30".into()), "real", "12.3"),
        ("c_num_int", numeric.clone(), Value::Numeric("-12.00".into()), "integer", "-12"),
        ("c_date", SqlType::Date, Value::Date(d), "text", "2024-01-31"),
        ("c_ts", SqlType::Timestamp, Value::Timestamp(t), "text", "2024-01-31T10:30:00.250"),
        ("c_tstz", SqlType::TimestampTz, Value::TimestampTz(t.and_utc()), "text", "2024-01-31T10:30:00.250Z"),
        ("c_time", SqlType::Time, Value::Time(NaiveTime::from_hms_opt(23, 5, 0).unwrap()), "text", "23:05:00"),
        ("c_uuid", SqlType::Uuid, Value::Uuid(uuid::Uuid::from_u128(1)), "text", "00000000-0000-0000-0000-000000000001"),
        ("c_json", SqlType::Json, Value::Json(r#"{"a":[1,"ü"]}"#.into()), "text", r#"{"a":[1,"ü"]}"#),
        ("c_text", SqlType::Text, Value::Text("00123".into()), "text", "00123"),
        ("c_vc", SqlType::Varchar(Some(4)), Value::Text("🦆".into()), "text", "🦆"),
        ("c_null", SqlType::Integer, Value::Null, "null", ""),
    ];
    let schema = TableSchema {
        name: "typed".into(),
        columns: cells
            .iter()
            .map(|(n, ty, ..)| Column::new(*n, ty.clone()))
            .collect(),
        primary_key: vec![],
        unique: vec![],
    };
    let values = cells.iter().map(|c| c.2.clone()).collect();
    let want = cells.iter().map(|c| (c.3, c.4)).collect();
    (schema, values, want)
}

#[test]
fn typed_values_are_stored_as_integer_real_and_iso_text_in_sqlite() {
    let dir = crate::helpers::tempdir();
    let conn = rusqlite::Connection::open(dir.path().join("typed.db")).unwrap();
    let (schema, values, want) = table();
    conn.execute_batch(&ddl::create_table_sqlite(&schema))
        .unwrap();
    let marks = vec!["?"; values.len()].join(", ");
    let mut insert = conn
        .prepare(&format!("INSERT INTO typed VALUES ({marks})"))
        .unwrap();
    insert
        .execute(rusqlite::params_from_iter(values.iter().map(SqliteValue)))
        .unwrap();
    // The owned form stores the same.
    insert
        .execute(rusqlite::params_from_iter(values.iter().map(to_sqlite)))
        .unwrap();
    for (i, column) in schema.columns.iter().enumerate() {
        let sql = format!(
            "SELECT typeof({0}), coalesce(CAST({0} AS TEXT), '') FROM typed",
            ddl::quote_ident(&column.name)
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        let got: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let (class, text) = want[i];
        assert_eq!(got, vec![(class.into(), text.into()); 2], "{}", column.name);
    }
}

#[test]
fn a_decimal_beyond_a_double_is_refused_because_sqlite_would_round_it() {
    let dir = crate::helpers::tempdir();
    let conn = rusqlite::Connection::open(dir.path().join("n.db")).unwrap();
    let ty = SqlType::Numeric {
        precision: Some(40),
        scale: Some(5),
    };
    let schema = TableSchema {
        name: "n".into(),
        columns: vec![Column::new("v", ty.clone())],
        primary_key: vec![],
        unique: vec![],
    };
    conn.execute_batch(&ddl::create_table_sqlite(&schema))
        .unwrap();
    let big = Value::Numeric("123456789012345678901234567890.12345".into());
    let e = check_exact(&big, &ty).unwrap_err();
    assert!(
        e.starts_with("123456789012345678901234567890.12345 has more"),
        "{e}"
    );
    // Why: SQLite's NUMERIC affinity turns the text into a REAL.
    conn.execute("INSERT INTO n VALUES (?1)", [SqliteValue(&big)])
        .unwrap();
    let (class, text): (String, String) = conn
        .query_row("SELECT typeof(v), CAST(v AS TEXT) FROM n", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(class, "real");
    assert_ne!(text, "123456789012345678901234567890.12345");
    assert!(check_exact(&Value::Numeric("1234567890.12".into()), &ty).is_ok());
}
