//! The HTTP end of the bench: a `sheetpipe serve` child on a free port, and
//! `POST /upload?method=M` of the generated .xlsx timed from connect to the
//! last byte of the answer — a plain HTTP/1.1 multipart request over a TCP
//! socket, so no client library sits between the bench and the service.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::table::BenchTable;
use crate::pipeline::Method;

/// A running `sheetpipe serve`, killed on drop.
pub struct Server {
    child: tokio::process::Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl Server {
    /// Starts `bin serve --bind 127.0.0.1:0` on `url`, waits for its
    /// "listening on" line.
    pub async fn start(bin: &Path, url: &str, data_dir: &Path) -> anyhow::Result<Server> {
        let mut child = tokio::process::Command::new(bin)
            .args(["serve", "--bind", "127.0.0.1:0", "--database-url", url])
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(a) = line.split("http://").nth(1) {
                    return Ok(a.trim().to_string());
                }
            }
            anyhow::bail!("sheetpipe serve exited before listening")
        })
        .await??;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server { child, addr })
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// What one upload answered and took.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Connect to last byte of the answer.
    pub wall: Duration,
    /// `stats.total_records`, `success_count`, `error_count`.
    pub counts: (u64, u64, u64),
}

/// `POST /upload?method=M&allow_reimport=true` (every repetition sends the
/// same file; `&table=T` for a table other than `businesses`) with `body`
/// as the multipart `file` field.
pub async fn upload(
    addr: &str,
    method: Method,
    table: BenchTable,
    body: &[u8],
) -> anyhow::Result<Upload> {
    let table = match table {
        BenchTable::Businesses => String::new(),
        other => format!("&table={}", other.name()),
    };
    let boundary = "sheetpipe-bench-3f9c1d";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.xlsx\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let request = format!(
        "POST /upload?method={}&allow_reimport=true{table} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        method.name(),
        head.len() + body.len() + tail.len()
    );
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.write_all(tail.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let wall = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let json = match (text.find('{'), text.rfind('}')) {
        (Some(a), Some(b)) if a < b => &text[a..=b],
        _ => "",
    };
    if status != "200" {
        anyhow::bail!("POST /upload answered {status}: {json}");
    }
    let v: serde_json::Value = serde_json::from_str(json)?;
    let stat = |k: &str| v["stats"][k].as_u64().unwrap_or(u64::MAX);
    Ok(Upload {
        wall,
        counts: (
            stat("total_records"),
            stat("success_count"),
            stat("error_count"),
        ),
    })
}
