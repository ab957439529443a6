//! The HTTP service over a real socket: the app on port 0 (or the real
//! `sheetpipe serve` process), a fresh PostgreSQL database per test, a real
//! HTTP client. Logs stay silent unless `TEST_LOG` is set.

pub mod auth;
mod background;
mod clients;
mod contract;
mod faults;
mod filenames;
mod files;
mod fuzz;
mod hygiene;
mod instances;
mod load;
mod logs;
mod metrics;
mod options;
mod preview;
pub mod process;
mod shutdown;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sheetpipe::http::{self, AppState, ServeConfig};
use tokio::sync::oneshot;

use crate::helpers::{header, write_xlsx, TestDb, X};

/// A server running inside the test process.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its database (dropped after the test).
    pub db: TestDb,
    /// Its data directory (rejects, private uploads).
    pub data_dir: tempfile::TempDir,
    /// A real HTTP client.
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,tokio_postgres=warn",
            ))
            .with_test_writer()
            .try_init();
    }
}

/// The app on a fresh PostgreSQL database with the default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestDb::postgres().await, |_| {}).await
}

/// The app on `db`, with settings adjusted by `tweak`.
pub async fn spawn_app_with(db: TestDb, tweak: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    spawn_in(db, data_dir, tweak).await
}

/// The app on `db`, keeping its data in `data_dir` (to restart on it).
pub async fn spawn_in(
    db: TestDb,
    data_dir: tempfile::TempDir,
    tweak: impl FnOnce(&mut ServeConfig),
) -> TestApp {
    init_logs();
    let mut config = ServeConfig {
        data_dir: data_dir.path().to_path_buf(),
        ..ServeConfig::default()
    };
    tweak(&mut config);
    let state = AppState::new(db.sink().await, config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, state, async {
        let _ = stopped.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        addr,
        db,
        data_dir,
        client: reqwest::Client::new(),
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Posts `bytes` as the multipart field `file` named `filename`.
    pub async fn upload(&self, path: &str, filename: &str, bytes: Vec<u8>) -> reqwest::Response {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string());
        let form = reqwest::multipart::Form::new().part("file", part);
        self.client
            .post(self.url(path))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// GETs `path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// DELETEs `path`.
    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    /// GETs `path` and returns the status and JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Polls `GET /imports/{id}` until the import has ended.
    pub async fn wait_final(&self, id: &str) -> Value {
        self.wait_for(id, |v| {
            matches!(
                v["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            )
        })
        .await
    }

    /// Polls `GET /imports/{id}` until `cond` holds (at most ~2 minutes).
    pub async fn wait_for(&self, id: &str, cond: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..2400 {
            let (code, v) = self.get_json(&format!("/imports/{id}")).await;
            assert_eq!(code, 200, "{v}");
            if cond(&v) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("import {id} never reached the expected state");
    }

    /// Files left in the private upload directory (must be none at rest).
    pub fn uploads_left(&self) -> Vec<PathBuf> {
        uploads_left(self.data_dir.path())
    }

    /// Rows of the `imports` table as text.
    pub async fn imports_table(&self, columns: &str) -> Vec<Vec<Option<String>>> {
        self.db
            .query(&format!(
                "SELECT {columns} FROM imports ORDER BY created_at"
            ))
            .await
    }

    /// Graceful shutdown; returns the database and data directory.
    pub async fn stop(mut self) -> (TestDb, tempfile::TempDir) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        let TestApp { db, data_dir, .. } = self;
        (db, data_dir)
    }
}

/// Files in any `uploads-*` directory under `data_dir`.
pub fn uploads_left(data_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(data_dir).unwrap().flatten() {
        if dir.file_name().to_string_lossy().starts_with("uploads-") && dir.path().is_dir() {
            out.extend(
                std::fs::read_dir(dir.path())
                    .unwrap()
                    .flatten()
                    .map(|e| e.path()),
            );
        }
    }
    out
}

/// An .xlsx with `good` valid rows, then one row with a broken email
/// (sheet row `good + 2`), as bytes.
pub fn sheet_bytes(good: usize, tag: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.xlsx");
    let mut rows = vec![header()];
    for i in 0..good {
        rows.push(vec![
            X::O(format!("{tag} biz {i}")),
            X::S("Retail"),
            X::N(5551234567.0),
            X::O(format!("b{i}@{tag}.example.com")),
        ]);
    }
    rows.push(vec![
        X::O(format!("{tag} bad")),
        X::E,
        X::E,
        X::S("not-an-email"),
    ]);
    write_xlsx(&path, &rows);
    std::fs::read(&path).unwrap()
}

/// A generated CSV of `rows` rows (none invalid), as bytes.
pub fn csv_bytes(rows: u64) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let opts = sheetpipe::generate::GenerateOptions {
        rows,
        bad_rate: 0.0,
        ..Default::default()
    };
    sheetpipe::generate::generate(&path, &opts).unwrap();
    std::fs::read(&path).unwrap()
}

/// A number from a JSON value or a text column.
pub fn n(v: &Option<String>) -> u64 {
    v.as_deref().unwrap().parse().unwrap()
}
