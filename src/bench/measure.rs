//! Taking one measurement: an import as a child process of the sheetpipe
//! binary (wall time, peak RSS of that child alone, its JSON stats), and
//! the reference floor — the same rows as a clean CSV loaded by
//! `psql \copy`, or, without psql, by a text `COPY … FROM STDIN` of the
//! file's bytes from this process.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::SinkExt;

use super::table::{BenchTable, Db};
use super::Case;
use crate::sink::DbError;

/// What one child import reported and cost.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildRun {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Peak resident set of the child, in KiB (its own `VmHWM`).
    pub peak_rss_kb: u64,
    /// `stats.total_records` of its JSON.
    pub total_records: u64,
    /// `stats.success_count`.
    pub success_count: u64,
    /// `stats.error_count`.
    pub error_count: u64,
}

/// Set in an import child's environment: the child then reports its peak
/// RSS on stderr ([`report_peak_rss`]).
pub const PEAK_RSS_ENV: &str = "SHEETPIPE_BENCH_PEAK_RSS";

/// Prefix of the stderr line carrying the peak RSS.
const PEAK_RSS_LINE: &str = "sheetpipe-bench-peak-rss-kib: ";

/// In an import run by the bench, prints this process's peak RSS.
///
/// It is `VmHWM` from `/proc/self/status`: the high-water mark of this
/// process's own memory map, which `exec` starts afresh. (`wait4`'s
/// `ru_maxrss` would not do: Linux carries the parent's high-water mark
/// into the child across fork and exec, so it reports the bench's own
/// size whenever that is larger.)
pub fn report_peak_rss() {
    if std::env::var_os(PEAK_RSS_ENV).is_none() {
        return;
    }
    if let Some(kib) = vm_hwm_kib() {
        eprintln!("{PEAK_RSS_LINE}{kib}");
    }
}

/// Prefix of the stderr line an import prints, beside its own, with the
/// peak RSS of its isolated reader child (`sheetpipe __read`).
pub const READER_PEAK_RSS_LINE: &str = "sheetpipe-reader-peak-rss-kib: ";

/// In an import run with [`PEAK_RSS_ENV`]: passes on the peak RSS its
/// reader child reported on its stderr (`child_stderr`), as
/// [`READER_PEAK_RSS_LINE`].
pub fn forward_reader_peak_rss(child_stderr: &str) {
    if std::env::var_os(PEAK_RSS_ENV).is_none() {
        return;
    }
    if let Some(kib) = child_stderr
        .lines()
        .find_map(|l| l.strip_prefix(PEAK_RSS_LINE))
    {
        eprintln!("{READER_PEAK_RSS_LINE}{}", kib.trim());
    }
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `bin import FILE EXTRA… --method M --database-url URL --json
/// --allow-reimport` (every repetition imports the same file) and waits.
/// A non-zero exit or unreadable JSON is an error carrying its stderr.
pub fn import_child(
    bin: &Path,
    file: &Path,
    case: &Case,
    url: &str,
    extra: &[String],
) -> anyhow::Result<ChildRun> {
    let started = Instant::now();
    let out = Command::new(bin)
        .arg("import")
        .arg(file)
        .args(extra)
        .args([
            "--method",
            case.method.name(),
            "--database-url",
            url,
            "--json",
            "--allow-reimport",
        ])
        .env(PEAK_RSS_ENV, "1")
        .stdin(Stdio::null())
        .output()?;
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        anyhow::bail!(
            "sheetpipe import exited with {}: {}",
            out.status,
            stderr.trim()
        );
    }
    let peak_rss_kb = stderr
        .lines()
        .find_map(|l| l.strip_prefix(PEAK_RSS_LINE))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("the import reported no peak RSS: {stderr}"))?;
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

/// How the floor was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FloorTool {
    /// `psql -c "\copy TABLE (…) FROM 'file' CSV HEADER"`, timed as a process.
    PsqlCopy,
    /// Text `COPY … FROM STDIN (FORMAT csv, HEADER)` of the file's bytes.
    CopyFromStdin,
    /// `mariadb --local-infile=1 -e "LOAD DATA LOCAL INFILE 'file' INTO
    /// TABLE …"`, timed as a process (MariaDB/MySQL).
    MariadbLoadData,
}

/// Whether `program --version` runs.
fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl FloorTool {
    /// For MariaDB/MySQL `LOAD DATA LOCAL` by the `mariadb` client (an
    /// error without it); for PostgreSQL `psql \copy` when `psql` is on the
    /// PATH, else COPY FROM STDIN.
    pub fn detect(url: &str) -> anyhow::Result<FloorTool> {
        if super::table::is_mysql(url) {
            if !on_path("mariadb") {
                anyhow::bail!("the MariaDB floor needs the `mariadb` client on the PATH");
            }
            return Ok(FloorTool::MariadbLoadData);
        }
        Ok(match on_path("psql") {
            true => FloorTool::PsqlCopy,
            false => FloorTool::CopyFromStdin,
        })
    }

    /// Label used in tables.
    pub fn label(self) -> &'static str {
        match self {
            FloorTool::PsqlCopy => "psql \\copy",
            FloorTool::CopyFromStdin => "COPY FROM STDIN",
            FloorTool::MariadbLoadData => "mariadb LOAD DATA LOCAL INFILE",
        }
    }
}

/// Writes the rows of `businesses`, in id order, to `csv` as a CSV with a
/// header (the floor's input for a user's file).
pub async fn copy_csv_to_file(client: &tokio_postgres::Client, csv: &Path) -> anyhow::Result<()> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let stream = client
        .copy_out(
            "COPY (SELECT name, category, phone, email, address, city, country, website, \
             description FROM businesses ORDER BY id) TO STDOUT (FORMAT csv, HEADER true)",
        )
        .await?;
    futures::pin_mut!(stream);
    let mut out = tokio::fs::File::create(csv).await?;
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk?).await?;
    }
    out.flush().await?;
    Ok(())
}

/// Loads `csv` into `table` with `tool`; returns the wall time.
pub async fn floor(
    tool: FloorTool,
    url: &str,
    db: &Db,
    table: BenchTable,
    csv: &Path,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    match (tool, db) {
        (FloorTool::PsqlCopy, _) => {
            let path = csv.display().to_string().replace('\'', "''");
            let out = tokio::process::Command::new("psql")
                .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
                .arg(format!(
                    "\\copy {} ({}) FROM '{path}' WITH (FORMAT csv, HEADER true)",
                    table.name(),
                    table.columns()
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
        (FloorTool::CopyFromStdin, Db::Postgres(client)) => {
            copy_csv_from_stdin(client, table, csv).await?
        }
        (FloorTool::MariadbLoadData, _) => load_data(url, table, csv).await?,
        (FloorTool::CopyFromStdin, Db::MySql(_)) => {
            anyhow::bail!("COPY FROM STDIN is PostgreSQL's")
        }
    }
    Ok(started.elapsed())
}

/// `mariadb --local-infile=1 -h H -P P -u U [-pPW] DB -e "LOAD DATA LOCAL
/// INFILE 'csv' INTO TABLE t FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED
/// BY '"' IGNORE 1 LINES (columns)"`, checking that the server raised no
/// warning (it turns bad values into warnings and loads on).
pub async fn load_data(url: &str, table: BenchTable, csv: &Path) -> anyhow::Result<()> {
    let opts = mysql_async::Opts::from_url(&crate::sink::mysql::driver_url(url))?;
    let path = csv
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('\'', "\\'");
    let sql = format!(
        "LOAD DATA LOCAL INFILE '{path}' INTO TABLE {} FIELDS TERMINATED BY ',' \
         OPTIONALLY ENCLOSED BY '\"' IGNORE 1 LINES ({}); SHOW COUNT(*) WARNINGS",
        table.name(),
        table.columns()
    );
    let mut cmd = tokio::process::Command::new("mariadb");
    cmd.args(["--local-infile=1", "-N", "-B", "-h"])
        .arg(opts.ip_or_hostname())
        .arg("-P")
        .arg(opts.tcp_port().to_string())
        .arg("-u")
        .arg(opts.user().unwrap_or("root"));
    if let Some(pw) = opts.pass() {
        cmd.arg(format!("-p{pw}"));
    }
    let out = cmd
        .arg(opts.db_name().unwrap_or_default())
        .arg("-e")
        .arg(sql)
        .stdin(Stdio::null())
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || stdout.trim() != "0" {
        // The exit status and both streams whole: a failure seen once in
        // CI's tests came with its message cut, and did not recur.
        anyhow::bail!(
            "mariadb LOAD DATA failed ({}; warnings: {:?}): {}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Streams the CSV file's bytes into a text COPY (also used to prefill).
pub async fn copy_csv_from_stdin(
    client: &tokio_postgres::Client,
    table: BenchTable,
    csv: &Path,
) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let copy = format!(
        "COPY {} ({}) FROM STDIN (FORMAT csv, HEADER true)",
        table.name(),
        table.columns()
    );
    let sink = client.copy_in::<_, Bytes>(&copy).await?;
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
