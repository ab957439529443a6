//! MySQL/MariaDB as a target, against the real server: every strategy with
//! exact counts and content on the businesses preset, the LOAD DATA
//! warnings trap, emoji, `local_infile` off, a connection killed mid-load.
//! Skipped (one line each) when MariaDB is unreachable outside CI.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use sheetpipe::model::{Column, SqlType, TableSchema};
use sheetpipe::pipeline::{self, Control, ImportJob, Method, Plan, Status};
use sheetpipe::sink::merge::Mode;

use crate::helpers::{header, tempdir, write_xlsx, TestDb, X};
use crate::mysql_db;
use crate::strategies::known_sheet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_strategy_on_mysql_stores_exactly_the_valid_rows() {
    let dir = tempdir();
    let file = dir.path().join("known.xlsx");
    let (bad, good) = known_sheet(&file);
    for method in Method::ALL {
        let Some(db) = TestDb::mysql().await else {
            return;
        };
        let sink = db.sink().await;
        let plan = Plan::new(method, Some(3), Some(7));
        let report = pipeline::run(ImportJob::new(&file), &plan, &sink, &Control::default()).await;
        assert_eq!(
            report.status,
            Status::Completed,
            "{method}: {:?}",
            report.error
        );
        assert_eq!(
            (report.rows_read, report.inserted, report.rejected),
            (250, 246, 4),
            "{method}"
        );
        let rows: Vec<u32> = report.rejected_rows.iter().map(|r| r.row).collect();
        assert_eq!(rows, bad, "{method}");
        let stored: Vec<(String, Option<String>)> = db
            .query("SELECT name, phone FROM businesses ORDER BY name")
            .await
            .into_iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone()))
            .collect();
        assert_eq!(stored, good, "{method}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_businesses_table_on_mysql_has_the_tutorial_columns_and_six_indexes() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    db.sink().await;
    let cols: Vec<String> = db
        .query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() \
             AND table_name = 'businesses' ORDER BY ordinal_position",
        )
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
        .query(
            "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = \
             DATABASE() AND table_name = 'businesses' AND index_name <> 'PRIMARY' ORDER BY 1",
        )
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    let want = ["category", "city", "country", "deleted_at", "email", "name"];
    assert_eq!(idx, want.map(|c| format!("idx_businesses_{c}")));
}

/// A table whose database types are stricter than the schema sheetpipe is
/// given (text), so only MySQL can find the bad values: `code` is
/// VARCHAR(5), `due` a DATE.
async fn strict_table(db: &TestDb) -> Arc<TableSchema> {
    db.execute(
        "CREATE TABLE trap (code VARCHAR(5) NOT NULL, due DATE, note TEXT) \
         ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    )
    .await;
    Arc::new(TableSchema {
        name: "trap".into(),
        columns: ["code", "due", "note"]
            .map(|n| Column::new(n, SqlType::Text))
            .to_vec(),
        primary_key: vec![],
        unique: vec![],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_too_long_value_and_a_bad_date_reject_only_their_rows_never_stored_clipped() {
    let dir = tempdir();
    let file = dir.path().join("trap.xlsx");
    let mut rows = vec![vec![X::S("code"), X::S("due"), X::S("note")]];
    for i in 0..40u32 {
        let (code, due) = match i {
            7 => ("TOOLONG".to_string(), "2024-01-01"),
            23 => (format!("c{i}"), "2024-02-30"),
            _ => (format!("c{i}"), "2024-03-01"),
        };
        rows.push(vec![X::O(code), X::S(due), X::O(format!("n{i}"))]);
    }
    write_xlsx(&file, &rows);
    for method in Method::ALL {
        let Some(db) = TestDb::mysql().await else {
            return;
        };
        let sink = db.bare_sink().await;
        let mut job = ImportJob::new(&file);
        job.table = strict_table(&db).await;
        let plan = Plan::new(method, Some(2), Some(16));
        let report = pipeline::run(job, &plan, &sink, &Control::default()).await;
        assert_eq!(
            report.status,
            Status::Completed,
            "{method}: {:?}",
            report.error
        );
        assert_eq!((report.inserted, report.rejected), (38, 2), "{method}");
        let bad: Vec<u32> = report.rejected_rows.iter().map(|r| r.row).collect();
        assert_eq!(bad, [9, 25], "{method}");
        let stored = db.query("SELECT code, due FROM trap ORDER BY note").await;
        assert_eq!(stored.len(), 38, "{method}");
        assert!(
            stored
                .iter()
                .all(|r| r[1].as_deref() == Some("2024-03-01")
                    || r[1].as_deref() == Some("2024-01-01")),
            "{method}: a date was changed: {stored:?}"
        );
        assert!(
            stored.iter().all(|r| r[0].as_deref() != Some("TOOLO")),
            "{method}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_copy_of_ramped_and_tapered_units_rejects_exactly_its_bad_rows() {
    // 30,000 rows in the copy's own units (no size asked): 1,250, 2,500,
    // 5,000, then 10,000, smaller again near the end; a bad value in the
    // first unit, in the ramp, in a full unit and in the last rows.
    let dir = tempdir();
    let file = dir.path().join("ramp.xlsx");
    let bad_at = [100u32, 3_000, 12_345, 29_990];
    let mut rows = vec![vec![X::S("code"), X::S("due"), X::S("note")]];
    for i in 0..30_000u32 {
        let (code, due) = match i {
            100 | 12_345 => ("TOOLONG".to_string(), "2024-01-01"),
            3_000 | 29_990 => (format!("c{}", i % 1000), "2024-02-30"),
            _ => (format!("c{}", i % 1000), "2024-03-01"),
        };
        rows.push(vec![X::O(code), X::S(due), X::O(format!("n{i}"))]);
    }
    write_xlsx(&file, &rows);
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let sink = db.bare_sink().await;
    let mut job = ImportJob::new(&file);
    job.table = strict_table(&db).await;
    let plan = Plan::new(Method::Copy, None, None);
    let report = pipeline::run(job, &plan, &sink, &Control::default()).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    assert_eq!((report.inserted, report.rejected), (29_996, 4));
    let bad: Vec<u32> = report.rejected_rows.iter().map(|r| r.row).collect();
    // Sheet rows: the header is row 1.
    assert_eq!(bad, bad_at.map(|i| i + 2));
    let stored = db
        .query("SELECT COUNT(*), COUNT(DISTINCT note), MIN(due), MAX(due) FROM trap")
        .await;
    assert_eq!(
        stored[0],
        [
            Some("29996".to_string()),
            Some("29996".to_string()),
            Some("2024-03-01".to_string()),
            Some("2024-03-01".to_string())
        ]
    );
    let kept = db
        .query("SELECT note FROM trap WHERE note IN ('n99', 'n101', 'n2999', 'n29989', 'n29999')")
        .await;
    assert_eq!(kept.len(), 5);
}

/// One emoji-named business per row, 30 rows.
fn emoji_file(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("emoji.xlsx");
    let mut rows = vec![header()];
    for i in 0..30 {
        rows.push(vec![
            X::O(format!("Café 🍕{i:02} 𝄞")),
            X::S("Food\tand\\drink"),
        ]);
    }
    write_xlsx(&file, &rows);
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emoji_outside_the_bmp_and_escapes_survive_every_strategy() {
    let dir = tempdir();
    let file = emoji_file(dir.path());
    for method in Method::ALL {
        let Some(db) = TestDb::mysql().await else {
            return;
        };
        let sink = db.sink().await;
        let report = pipeline::run(
            ImportJob::new(&file),
            &Plan::new(method, Some(2), Some(8)),
            &sink,
            &Control::default(),
        )
        .await;
        assert_eq!(
            (report.inserted, report.rejected),
            (30, 0),
            "{method}: {:?}",
            report.error
        );
        let stored = db
            .query("SELECT name, category FROM businesses ORDER BY name LIMIT 1")
            .await;
        assert_eq!(stored[0][0].as_deref(), Some("Café 🍕00 𝄞"), "{method}");
        assert_eq!(
            stored[0][1].as_deref(),
            Some("Food\tand\\drink"),
            "{method}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_falls_back_to_multi_row_inserts_when_local_infile_is_off() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let mut admin = mysql_db::connect(&db.url).await;
    let was: Option<i64> = admin
        .query_first("SELECT @@GLOBAL.local_infile")
        .await
        .unwrap();
    admin
        .query_drop("SET GLOBAL local_infile = 0")
        .await
        .unwrap();
    let dir = tempdir();
    let file = dir.path().join("known.xlsx");
    let (_, good) = known_sheet(&file);
    let sink = db.sink().await;
    let report = pipeline::run(
        ImportJob::new(&file),
        &Plan::new(Method::Copy, Some(2), None),
        &sink,
        &Control::default(),
    )
    .await;
    admin
        .query_drop(format!("SET GLOBAL local_infile = {}", was.unwrap_or(1)))
        .await
        .unwrap();
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    assert_eq!((report.inserted, report.rejected), (246, 4));
    assert_eq!(db.count().await, good.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_mid_load_fails_the_import_with_a_clear_error_and_exact_counts() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let sink = db.sink().await;
    let dir = tempdir();
    let file = dir.path().join("known.xlsx");
    known_sheet(&file);
    // The test holds the table locked, so the writer's LOAD DATA waits
    // inside the server until it is killed.
    let mut locker = mysql_db::connect(&db.url).await;
    locker
        .query_drop("LOCK TABLES businesses WRITE")
        .await
        .unwrap();
    let import = tokio::spawn({
        let (file, sink) = (file.clone(), sink.clone());
        async move {
            let plan = Plan::new(Method::Copy, Some(1), None);
            pipeline::run(ImportJob::new(&file), &plan, &sink, &Control::default()).await
        }
    });
    let mut killer = mysql_db::connect(&db.url).await;
    let victim: u64 = loop {
        let id: Option<u64> = killer
            .query_first(
                "SELECT id FROM information_schema.processlist WHERE db = DATABASE() \
                 AND info LIKE 'LOAD DATA%'",
            )
            .await
            .unwrap();
        if let Some(id) = id {
            break id;
        }
        tokio::task::yield_now().await;
    };
    killer.query_drop(format!("KILL {victim}")).await.unwrap();
    locker.query_drop("UNLOCK TABLES").await.unwrap();
    let report = import.await.unwrap();
    assert_eq!(report.status, Status::Failed);
    let error = report
        .error
        .as_ref()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("mysql"), "{error}");
    assert_eq!(report.inserted, db.count().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_data_that_warns_is_refused_whole_and_leaves_nothing_behind() {
    use sheetpipe::model::{Record, Target, Value};
    use sheetpipe::sink::WriteKind;
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let sink = db.bare_sink().await;
    let table = strict_table(&db).await;
    let target = Target {
        table: table.name.clone(),
        columns: table.columns.clone(),
    };
    let row = |code: &str, due: &str| Record {
        row: 2,
        values: vec![
            Value::Text(code.into()),
            Value::Text(due.into()),
            Value::Null,
        ],
    };
    let mut w = sink.writer(sheetpipe::sink::Wait::Bounded).await.unwrap();
    let unit = [row("ok", "2024-01-01"), row("TOOLONG", "2024-01-02")];
    let refused = w.write(&unit, WriteKind::Copy, &target).await.unwrap();
    let why = refused.expect_err("a clipped value must refuse the unit");
    assert!(why.contains("1406") || why.contains("1265"), "{why}");
    let bad_date = [row("ok", "2024-02-30")];
    let why = w
        .write(&bad_date, WriteKind::Copy, &target)
        .await
        .unwrap()
        .unwrap_err();
    assert!(why.contains("warning"), "{why}");
    assert_eq!(
        db.query("SELECT count(*) FROM trap").await[0][0].as_deref(),
        Some("0")
    );
    w.write(&unit[..1], WriteKind::Copy, &target)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        db.query("SELECT code, due FROM trap").await,
        [[Some("ok".into()), Some("2024-01-01".into())]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspecting_a_created_mysql_table_gives_its_schema_back() {
    use sheetpipe::sink::ddl::create_table_mysql;
    use sheetpipe::sink::introspect::IntrospectError;
    use sheetpipe::sink::mysql::introspect::{list_tables, table_schema};
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    db.bare_sink().await;
    let numeric = SqlType::Numeric {
        precision: Some(12),
        scale: Some(2),
    };
    let types = [
        SqlType::SmallInt,
        SqlType::Integer,
        SqlType::BigInt,
        numeric,
        SqlType::Real,
        SqlType::Double,
        SqlType::Boolean,
        SqlType::Date,
        SqlType::Timestamp,
        SqlType::TimestampTz,
        SqlType::Time,
        SqlType::Uuid,
        SqlType::Json,
        SqlType::Text,
        SqlType::Varchar(Some(20)),
        SqlType::Char(Some(4)),
    ];
    let mut columns = vec![Column {
        nullable: false,
        has_default: true,
        ..Column::new("id", SqlType::BigInt)
    }];
    columns.extend(
        types
            .iter()
            .enumerate()
            .map(|(i, t)| Column::new(format!("c{i}"), t.clone())),
    );
    let t = TableSchema {
        name: "every`type".into(),
        columns,
        primary_key: vec!["id".into()],
        unique: vec![vec!["c14".into(), "c15".into()]],
    };
    let mut conn = mysql_db::connect(&db.url).await;
    conn.query_drop(create_table_mysql(&t)).await.unwrap();
    assert_eq!(table_schema(&mut conn, "every`type").await.unwrap(), t);
    conn.query_drop("CREATE TABLE blobs (b BLOB, e ENUM('a','b'))")
        .await
        .unwrap();
    let listed = list_tables(&mut conn).await.unwrap();
    assert_eq!(listed.len(), 2, "sheetpipe's own tables are not offered");
    match table_schema(&mut conn, "blobs").await {
        Err(IntrospectError::Unsupported { columns, .. }) => {
            assert_eq!(columns.len(), 2, "{columns:?}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        table_schema(&mut conn, "nope").await,
        Err(IntrospectError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_into_mysql_takes_larger_units_ramped_up_unless_a_size_is_asked_for() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let sink = db.sink().await;
    let copy = Plan::new(Method::Copy, None, None);
    for mode in [Mode::Append, Mode::Replace] {
        assert_eq!(
            copy.unit_rows(&sink, mode),
            pipeline::MYSQL_COPY_CHUNK,
            "{mode:?}"
        );
    }
    assert_ne!(pipeline::MYSQL_COPY_CHUNK, pipeline::COPY_CHUNK);
    // The merges keep theirs; an asked-for size wins; the other methods
    // keep their own.
    for mode in [Mode::Upsert, Mode::SkipExisting] {
        assert_eq!(
            copy.unit_rows(&sink, mode),
            pipeline::COPY_CHUNK,
            "{mode:?}"
        );
    }
    let asked = Plan::new(Method::Copy, None, Some(500));
    assert_eq!(asked.unit_rows(&sink, Mode::Append), 500);
    let batch = Plan::new(Method::Batch, None, None);
    assert_eq!(batch.unit_rows(&sink, Mode::Append), 100);
    let per_row = Plan::new(Method::Concurrent, None, None);
    assert_eq!(per_row.unit_rows(&sink, Mode::Append), 1);
    // SQLite (as PostgreSQL) keeps COPY_CHUNK.
    let sqlite = TestDb::sqlite();
    let sqlite = sqlite.sink().await;
    assert_eq!(copy.unit_rows(&sqlite, Mode::Append), pipeline::COPY_CHUNK);
    // Only the sink's own larger units ramp up from an eighth; an asked
    // size, the merges, the other methods and the other sinks start at
    // their full unit.
    for mode in [Mode::Append, Mode::Replace] {
        assert_eq!(
            copy.first_unit_rows(&sink, mode),
            pipeline::MYSQL_COPY_CHUNK / 8,
            "{mode:?}"
        );
    }
    assert_eq!(
        copy.first_unit_rows(&sink, Mode::Upsert),
        pipeline::COPY_CHUNK
    );
    assert_eq!(asked.first_unit_rows(&sink, Mode::Append), 500);
    assert_eq!(batch.first_unit_rows(&sink, Mode::Append), 100);
    assert_eq!(
        copy.first_unit_rows(&sqlite, Mode::Append),
        pipeline::COPY_CHUNK
    );
}
