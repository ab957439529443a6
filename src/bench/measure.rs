//! Taking one measurement: an import as a child process of the sheetpipe
//! binary (wall time, peak RSS of that child alone, its JSON stats), and
//! the reference floor — the same rows as a clean CSV loaded by
//! `psql \copy`, or, without psql, by a text `COPY … FROM STDIN` of the
//! file's bytes from this process.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::SinkExt;

use super::Case;
use crate::sink::DbError;

/// What one child import reported and cost.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildRun {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Peak resident set of the child, in KiB (`ru_maxrss` from `wait4`).
    pub peak_rss_kb: u64,
    /// `stats.total_records` of its JSON.
    pub total_records: u64,
    /// `stats.success_count`.
    pub success_count: u64,
    /// `stats.error_count`.
    pub error_count: u64,
}

/// Runs `bin import FILE --method M --database-url URL --json` and waits.
/// A non-zero exit or unreadable JSON is an error carrying its stderr.
pub fn import_child(bin: &Path, file: &Path, case: &Case, url: &str) -> anyhow::Result<ChildRun> {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("import")
        .arg(file)
        .args([
            "--method",
            case.method.name(),
            "--database-url",
            url,
            "--json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let mut stdout = String::new();
    if let Some(o) = out.as_mut() {
        o.read_to_string(&mut stdout)?;
    }
    let (status, peak_rss_kb) = wait_with_rusage(child.id())?;
    let wall = started.elapsed();
    let stderr = err_reader.join().unwrap_or_default();
    if status != 0 {
        anyhow::bail!("sheetpipe import exited with {status}: {}", stderr.trim());
    }
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .map_err(|e| anyhow::anyhow!("import printed no JSON ({e}): {stdout}"))?;
    let stat = |k: &str| v["stats"][k].as_u64().unwrap_or(u64::MAX);
    Ok(ChildRun {
        wall,
        peak_rss_kb,
        total_records: stat("total_records"),
        success_count: stat("success_count"),
        error_count: stat("error_count"),
    })
}

/// Reaps the child `pid` and returns its exit status and peak RSS.
///
/// `std::process::Child::wait` does not expose the child's resource usage,
/// and `getrusage(RUSAGE_CHILDREN)` is a maximum over *all* children; only
/// `wait4` gives the peak RSS of this one child — the bench's memory figure.
fn wait_with_rusage(pid: u32) -> anyhow::Result<(i32, u64)> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data, valid when zeroed; `wait4` writes
    // into the two pointers we own for the duration of the call. The pid is
    // our own unreaped child (its `Child` handle is never waited on again).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if rc < 0 {
        anyhow::bail!("wait4: {}", std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok((code, usage.ru_maxrss.max(0) as u64))
}

/// How the floor was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FloorTool {
    /// `psql -c "\copy businesses (…) FROM 'file' CSV HEADER"`, timed as a process.
    PsqlCopy,
    /// Text `COPY … FROM STDIN (FORMAT csv, HEADER)` of the file's bytes.
    CopyFromStdin,
}

impl FloorTool {
    /// `psql \copy` when `psql` is on the PATH, else COPY FROM STDIN.
    pub fn detect() -> FloorTool {
        let found = Command::new("psql")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            FloorTool::PsqlCopy
        } else {
            FloorTool::CopyFromStdin
        }
    }

    /// Label used in tables.
    pub fn label(self) -> &'static str {
        match self {
            FloorTool::PsqlCopy => "psql \\copy",
            FloorTool::CopyFromStdin => "COPY FROM STDIN",
        }
    }
}

const COPY_CSV: &str = "COPY businesses (name, category, phone, email, address, city, country, \
                        website, description) FROM STDIN (FORMAT csv, HEADER true)";

/// Loads `csv` into `businesses` with `tool`; returns the wall time.
pub async fn floor(
    tool: FloorTool,
    url: &str,
    client: &tokio_postgres::Client,
    csv: &Path,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    match tool {
        FloorTool::PsqlCopy => {
            let path = csv.display().to_string().replace('\'', "''");
            let out = tokio::process::Command::new("psql")
                .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
                .arg(format!(
                    "\\copy businesses (name, category, phone, email, address, city, country, \
                     website, description) FROM '{path}' WITH (FORMAT csv, HEADER true)"
                ))
                .stdin(Stdio::null())
                .output()
                .await?;
            if !out.status.success() {
                anyhow::bail!(
                    "psql \\copy failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        FloorTool::CopyFromStdin => copy_csv_from_stdin(client, csv).await?,
    }
    Ok(started.elapsed())
}

/// Streams the CSV file's bytes into a text COPY (also used to prefill).
pub async fn copy_csv_from_stdin(
    client: &tokio_postgres::Client,
    csv: &Path,
) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let sink = client.copy_in::<_, Bytes>(COPY_CSV).await?;
    futures::pin_mut!(sink);
    let mut file = tokio::fs::File::open(csv).await?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        sink.as_mut()
            .send(Bytes::copy_from_slice(&buf[..n]))
            .await?;
    }
    sink.finish().await?;
    Ok(())
}

/// Connects a plain client (bench administration: truncate, prefill, count).
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, DbError> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| DbError::new(format!("cannot connect to PostgreSQL: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}
