//! A real `sheetpipe serve` child process on port 0 and a client for it:
//! for the tests that signal or kill the server (graceful shutdown, SIGKILL
//! and restart, parser aborts).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{bin, TestDb};

/// A running `sheetpipe serve` process; killed when dropped.
pub struct ServeProcess {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`, from the line it prints when listening.
    pub base: String,
    /// A real HTTP client.
    pub client: reqwest::Client,
}

impl ServeProcess {
    /// Starts `serve` on `db`, keeping its data in `data`, with extra `args`.
    pub fn start(db: &TestDb, data: &Path, args: &[&str]) -> ServeProcess {
        let mut cmd = Self::command(db, data, args);
        let log = std::env::var("SERVE_LOG").unwrap_or_else(|_| "error".into());
        cmd.env("RUST_LOG", log).stderr(Stdio::inherit());
        Self::spawn(cmd)
    }

    /// [`ServeProcess::start`] with the default log filter and its log
    /// (stderr) redirected to a pipe, `child.stderr`, as to a file.
    pub fn start_logging(db: &TestDb, data: &Path, args: &[&str]) -> ServeProcess {
        let mut cmd = Self::command(db, data, args);
        cmd.env_remove("RUST_LOG").stderr(Stdio::piped());
        Self::spawn(cmd)
    }

    fn command(db: &TestDb, data: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .args(args)
            .env("DATABASE_URL", &db.url)
            .stdout(Stdio::piped());
        cmd
    }

    /// Spawns `cmd` and waits for the line saying where it listens.
    fn spawn(mut cmd: Command) -> ServeProcess {
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("sheetpipe listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        ServeProcess {
            child,
            base,
            client: reqwest::Client::new(),
        }
    }

    /// Starts a background sequential import of `bytes` (a CSV); its id.
    pub async fn start_import(&self, bytes: Vec<u8>) -> String {
        self.start_import_query("method=sequential", bytes).await
    }

    /// Starts a background import of `bytes` (a CSV) with `query`; its id.
    pub async fn start_import_query(&self, query: &str, bytes: Vec<u8>) -> String {
        let part = reqwest::multipart::Part::bytes(bytes).file_name("big.csv");
        let form = reqwest::multipart::Form::new().part("file", part);
        let r = self
            .client
            .post(format!("{}/imports?{query}", self.base))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let v: Value = r.json().await.unwrap();
        v["id"].as_str().unwrap().to_string()
    }

    /// A synchronous upload: the answer's status code and body.
    pub async fn upload_sync(&self, name: &str, bytes: Vec<u8>) -> (u16, Value) {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
        let form = reqwest::multipart::Form::new().part("file", part);
        let r = self
            .client
            .post(format!("{}/upload", self.base))
            .multipart(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// GETs `path` as JSON.
    pub async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The status of import `id`.
    pub async fn status(&self, id: &str) -> Value {
        self.get(&format!("/imports/{id}")).await
    }

    /// Polls `GET path` until `cond` holds for its answer (at most ~4
    /// minutes: a sequential import on a loaded machine).
    pub async fn wait_on(&self, path: &str, cond: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..4800 {
            let v = self.get(path).await;
            if cond(&v) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} never reached the awaited state");
    }

    /// Polls until `cond` holds for the status of import `id`.
    pub async fn wait(&self, id: &str, cond: impl Fn(&Value) -> bool) -> Value {
        self.wait_on(&format!("/imports/{id}"), cond).await
    }

    /// Sends SIGTERM and waits for the exit code.
    pub async fn terminate(mut self) -> i32 {
        let pid = self.child.id().to_string();
        // The shell's own `kill` (no dependency on procps being installed).
        let sent = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        assert!(sent.success());
        tokio::task::spawn_blocking(move || self.child.wait().unwrap())
            .await
            .unwrap()
            .code()
            .expect("killed by the signal: its handler was not installed, so no graceful stop")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
