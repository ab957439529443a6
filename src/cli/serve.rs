//! `sheetpipe serve`: builds the HTTP service from flags (each also an
//! environment variable), prints the address it listens on, and shuts down
//! gracefully on SIGTERM or ctrl-c (exit 0).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::{LimitArgs, PoolArgs};
use crate::http::{self, AppState, ServeConfig};
use crate::record::Rules;
use crate::sink::{DatabaseUrl, Sink};
use crate::source::SourceOptions;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SHEETPIPE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// postgres://… or sqlite://path (default: ./sheetpipe.db).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory for reject reports and the private upload directory.
    #[arg(long, env = "SHEETPIPE_DATA_DIR", default_value = "sheetpipe-data")]
    pub data_dir: PathBuf,
    /// Largest accepted upload, in bytes (larger → 413).
    #[arg(long, env = "SHEETPIPE_MAX_UPLOAD_BYTES", default_value_t = http::DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: u64,
    /// Imports running at once (default: cores).
    #[arg(long, env = "SHEETPIPE_MAX_RUNNING")]
    pub max_running: Option<usize>,
    /// Imports waiting for a running slot; beyond → 503 + Retry-After.
    #[arg(long, env = "SHEETPIPE_MAX_QUEUED", default_value_t = ServeConfig::default().max_queued)]
    pub max_queued: usize,
    /// Seconds running imports may go on after SIGTERM/ctrl-c before they
    /// are cancelled.
    #[arg(long, env = "SHEETPIPE_SHUTDOWN_GRACE", default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Writer tasks per import (default: the method's).
    #[arg(long, env = "SHEETPIPE_WORKERS")]
    pub workers: Option<usize>,
    /// Rows per unit (default: the method's).
    #[arg(long, env = "SHEETPIPE_BATCH_SIZE")]
    pub batch_size: Option<usize>,
    /// Longest accepted cell value, in characters (longer → row rejected).
    #[arg(long, env = "SHEETPIPE_MAX_CELL_CHARS", default_value_t = Rules::default().max_cell_chars)]
    pub max_cell_chars: usize,
    /// Reader limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// The PostgreSQL connection pool.
    #[command(flatten)]
    pub pool: PoolArgs,
}

impl ServeArgs {
    fn config(&self) -> ServeConfig {
        let defaults = ServeConfig::default();
        ServeConfig {
            data_dir: self.data_dir.clone(),
            max_upload_bytes: self.max_upload_bytes,
            max_running: self
                .max_running
                .filter(|&n| n > 0)
                .unwrap_or(defaults.max_running),
            max_queued: self.max_queued,
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            workers: self.workers,
            batch_size: self.batch_size,
            source: SourceOptions {
                limits: self.limits.limits(),
                // Parsers run in a child process: a parser crash fails one
                // import, never the service (docs/ROBUSTNESS.md).
                isolation: self.limits.isolation().unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot find this executable: readers run in-process");
                    None
                }),
                ..SourceOptions::default()
            },
            rules: Rules {
                max_cell_chars: self.max_cell_chars,
                ..Rules::default()
            },
            importer: http::run_pipeline,
        }
    }
}

/// Runs `serve` until a shutdown signal; exit 0 after a graceful shutdown.
pub async fn run(args: ServeArgs) -> ExitCode {
    let fail = |code: u8, message: String| {
        eprintln!("error: {message}");
        ExitCode::from(code)
    };
    let url = match DatabaseUrl::parse(args.database_url.as_deref()) {
        Ok(u) => u,
        Err(e) => return fail(2, e.to_string()),
    };
    let sink = match Sink::connect_with(&url, args.pool.options()).await {
        Ok(s) => s,
        Err(e) => return fail(5, format!("{e} ({})", url.redacted())),
    };
    match sink
        .interrupt_unfinished_imports(&crate::sink::imports::now())
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            count = n,
            "imports left unfinished by a previous run marked failed"
        ),
        Err(e) => return fail(5, format!("cannot check the imports table: {e}")),
    }
    let config = args.config();
    let state = match AppState::new(sink, config) {
        Ok(s) => s,
        Err(e) => {
            let dir = args.data_dir.display();
            return fail(1, format!("cannot prepare the data directory {dir}: {e}"));
        }
    };
    let listener = match tokio::net::TcpListener::bind(&args.bind).await {
        Ok(l) => l,
        Err(e) => return fail(2, format!("cannot listen on {}: {e}", args.bind)),
    };
    let addr = listener
        .local_addr()
        .map_or_else(|_| args.bind.clone(), |a| a.to_string());
    tracing::info!(%addr, database = %url.redacted(), "listening");
    // One line on stdout, so scripts (and tests) learn the port.
    println!("sheetpipe listening on http://{addr}");
    match http::serve(listener, state, shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, format!("server error: {e}")),
    }
}

/// Resolves on ctrl-c or (on Unix) SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("ctrl-c received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}
