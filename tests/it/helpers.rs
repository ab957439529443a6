//! Shared test parts: fresh databases, spreadsheet writers, the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rust_xlsxwriter::Workbook;
use sheetpipe::sink::{DatabaseUrl, Sink};

/// The PostgreSQL server used by tests (an admin URL on its `postgres` db).
pub fn pg_admin_url() -> String {
    std::env::var("SHEETPIPE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database that exists for one test: a fresh PostgreSQL database, or a
/// SQLite file in a temporary directory. Dropped (with its data) at the end.
pub struct TestDb {
    /// URL to give sheetpipe.
    pub url: String,
    name: Option<String>,
    /// A MySQL/MariaDB database (its name is in `name`).
    mysql: bool,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh, uniquely named PostgreSQL database.
    pub async fn postgres() -> TestDb {
        let name = format!("sheetpipe_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_client().await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let base = pg_admin_url();
        let url = match base.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("SHEETPIPE_TEST_PG must end in /database"),
        };
        TestDb {
            url,
            name: Some(name),
            mysql: false,
            _dir: None,
        }
    }

    /// A SQLite file in a fresh temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        TestDb {
            url,
            name: None,
            mysql: false,
            _dir: Some(dir),
        }
    }

    /// Both backends, for tests that must hold on each.
    pub async fn both() -> [TestDb; 2] {
        [TestDb::postgres().await, TestDb::sqlite()]
    }

    /// A fresh, uniquely named MySQL/MariaDB database, or `None` (with one
    /// line saying so) when the server is unreachable outside CI.
    pub async fn mysql() -> Option<TestDb> {
        let name = format!("sheetpipe_test_{}", uuid::Uuid::new_v4().simple());
        let url = super::mysql_db::create(&name).await?;
        Some(TestDb {
            url,
            name: Some(name),
            mysql: true,
            _dir: None,
        })
    }

    /// Which backend this is.
    pub fn backend(&self) -> &'static str {
        if self.mysql {
            "mysql"
        } else if self.name.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// A connected sink (creates the schema).
    pub async fn sink(&self) -> Sink {
        let sink = self.bare_sink().await;
        sink.ensure_businesses().await.expect("businesses table");
        sink
    }

    /// A sink on this database without the `businesses` table ensured.
    pub async fn bare_sink(&self) -> Sink {
        Sink::connect(&DatabaseUrl::parse(Some(&self.url)).unwrap())
            .await
            .expect("connect sink")
    }

    /// Runs SQL that returns rows of text (NULL → None), in column order.
    pub async fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        if self.mysql {
            return super::mysql_db::query(&self.url, sql).await;
        }
        match &self.name {
            Some(_) => {
                let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
                    .await
                    .expect("connect");
                tokio::spawn(conn);
                let rows = client.simple_query(sql).await.expect("query");
                rows.into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => {
                            Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                        }
                        _ => None,
                    })
                    .collect()
            }
            None => {
                let path = self.url.trim_start_matches("sqlite://").to_string();
                let sql = sql.to_string();
                tokio::task::spawn_blocking(move || {
                    let conn = rusqlite::Connection::open(path).expect("open sqlite");
                    let mut stmt = conn.prepare(&sql).expect("prepare");
                    let n = stmt.column_count();
                    stmt.query_map([], |r| {
                        (0..n)
                            .map(|i| {
                                let v: rusqlite::types::Value = r.get(i)?;
                                Ok(match v {
                                    rusqlite::types::Value::Null => None,
                                    rusqlite::types::Value::Integer(i) => Some(i.to_string()),
                                    rusqlite::types::Value::Real(f) => Some(f.to_string()),
                                    rusqlite::types::Value::Text(t) => Some(t),
                                    rusqlite::types::Value::Blob(_) => Some("<blob>".into()),
                                })
                            })
                            .collect()
                    })
                    .expect("query")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("rows")
                })
                .await
                .unwrap()
            }
        }
    }

    /// Executes statements (DDL, constraints) on this database.
    pub async fn execute(&self, sql: &str) {
        let _ = self.query(sql).await;
    }

    /// Waits (bounded) until no other session runs a statement on this
    /// PostgreSQL database: a killed client's last statement may still be
    /// committing on the server. SQLite: at once.
    pub async fn settle(&self) {
        if self.name.is_none() {
            return;
        }
        for _ in 0..400 {
            let busy = self
                .query(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                     AND pid <> pg_backend_pid() AND state = 'active'",
                )
                .await;
            if busy[0][0].as_deref() == Some("0") {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("statements still running on the database");
    }

    /// The column names of PostgreSQL table `table`, in order.
    pub async fn column_names(&self, table: &str) -> Vec<String> {
        let sql = format!(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_name = '{table}' ORDER BY ordinal_position"
        );
        self.query(&sql)
            .await
            .into_iter()
            .map(|r| r[0].clone().unwrap())
            .collect()
    }

    /// `SELECT count(*) FROM businesses`.
    pub async fn count(&self) -> u64 {
        self.query("SELECT count(*) FROM businesses").await[0][0]
            .as_deref()
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else { return };
        if self.mysql {
            return super::mysql_db::drop_database(name);
        }
        // Drop runs outside any runtime guarantee: use a thread of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let admin = admin_client().await;
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

async fn admin_client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is unreachable ({e}); start it (.ci/run does) or set SHEETPIPE_TEST_PG",
                pg_admin_url()
            )
        });
    tokio::spawn(conn);
    client
}

/// A cell to write in a test workbook.
#[derive(Debug, Clone)]
pub enum X {
    /// Text.
    S(&'static str),
    /// Owned text.
    O(String),
    /// A number.
    N(f64),
    /// Leave the cell empty.
    E,
}

/// Writes an .xlsx with one sheet named `Sheet1` holding `rows` (row 1 first).
pub fn write_xlsx(path: &Path, rows: &[Vec<X>]) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Sheet1").unwrap();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                X::S(s) => {
                    ws.write_string(r, c, *s).unwrap();
                }
                X::O(s) => {
                    ws.write_string(r, c, s).unwrap();
                }
                X::N(n) => {
                    ws.write_number(r, c, *n).unwrap();
                }
                X::E => {}
            }
        }
    }
    wb.save(path).unwrap();
}

/// The nine-column header row as cells.
pub fn header() -> Vec<X> {
    const FIELDS: [&str; 9] = [
        "name",
        "category",
        "phone",
        "email",
        "address",
        "city",
        "country",
        "website",
        "description",
    ];
    FIELDS.iter().map(|f| X::S(f)).collect()
}

/// A temporary directory for a test's files.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The `sheetpipe` binary built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sheetpipe"))
}

/// Runs the binary with `args` in `dir` (so the SQLite default lands there).
pub fn run_cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run sheetpipe")
}

/// Parses the single JSON object a `--json` run prints.
pub fn json_out(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}):\n{text}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
