//! `sheetpipe serve`: builds the HTTP service from flags (each also an
//! environment variable), prints the address it listens on, and shuts down
//! gracefully on SIGTERM or ctrl-c (exit 0).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{LimitArgs, PoolArgs};
use crate::http::auth::{AuthConfig, AuthMode, MetricsAccess};
use crate::http::listen::ConnLimits;
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
    /// postgres://…, mysql://… (or mariadb://…) or sqlite://path (default: ./sheetpipe.db).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory for reject reports and the private upload directory.
    #[arg(long, env = "SHEETPIPE_DATA_DIR", default_value = "sheetpipe-data")]
    pub data_dir: PathBuf,
    /// Largest accepted upload, in bytes (larger → 413).
    #[arg(long, env = "SHEETPIPE_MAX_UPLOAD_BYTES", default_value_t = http::DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: u64,
    /// Disk budget of every upload file at once (being received, queued or
    /// running), in bytes; a body that would go over → 503 + Retry-After.
    #[arg(long, env = "SHEETPIPE_MAX_SPOOL_BYTES", default_value_t = http::upload::DEFAULT_MAX_SPOOL_BYTES)]
    pub max_spool_bytes: u64,
    /// Seconds a request body may send nothing before it is answered 408
    /// and closed.
    #[arg(long, env = "SHEETPIPE_UPLOAD_IDLE_TIMEOUT", default_value_t = http::upload::DEFAULT_IDLE_TIMEOUT.as_secs())]
    pub upload_idle_timeout: u64,
    /// Seconds to receive a request's line and headers (also the longest an
    /// idle keep-alive connection stays open).
    #[arg(long, env = "SHEETPIPE_HEADER_TIMEOUT", default_value_t = ConnLimits::default().header_timeout.as_secs())]
    pub header_timeout: u64,
    /// Open connections at once; beyond → 503 and closed.
    #[arg(long, env = "SHEETPIPE_MAX_HTTP_CONNECTIONS", default_value_t = ConnLimits::default().max_connections)]
    pub max_http_connections: usize,
    /// Open connections from one client address (0: no cap, e.g. behind a
    /// load balancer).
    #[arg(long, env = "SHEETPIPE_MAX_HTTP_CONNECTIONS_PER_CLIENT", default_value_t = ConnLimits::default().max_per_client)]
    pub max_http_connections_per_client: usize,
    /// Days reject reports are kept after their import (0: forever); then
    /// removed, and the import's history says when.
    #[arg(long, env = "SHEETPIPE_KEEP_REJECTS_DAYS", default_value_t = 30)]
    pub keep_rejects_days: u64,
    /// Seconds without a heartbeat after which another instance on the same
    /// PostgreSQL database takes this one for dead and fails its unfinished
    /// imports (their committed rows counted exactly).
    #[arg(long, env = "SHEETPIPE_LEASE_SECONDS", default_value_t = crate::sink::instances::DEFAULT_LEASE.as_secs())]
    pub lease_seconds: u64,
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
    /// Whether requests need an API key (`Authorization: Bearer KEY`, made
    /// by `sheetpipe keys create`). Default: required, unless --bind is a
    /// loopback address; `off` lets anyone who reaches the service do
    /// everything, and is said in a warning at start.
    #[arg(long, env = "SHEETPIPE_AUTH", value_enum)]
    pub auth: Option<AuthArg>,
    /// Origins (`https://app.example.com[:port]`, comma-separated) besides
    /// the service's own whose browser pages may send uploads and cancels;
    /// they also get CORS headers (none are sent otherwise).
    #[arg(long, env = "SHEETPIPE_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Who may read /metrics: admin keys only, or anyone (`open`).
    #[arg(long, env = "SHEETPIPE_METRICS", value_enum, default_value_t = MetricsArg::Admin)]
    pub metrics: MetricsArg,
    /// Log lines as text or as JSON objects, one per line.
    #[arg(long, env = "SHEETPIPE_LOG_FORMAT", value_enum, default_value_t = super::LogFormat::Text)]
    pub log_format: super::LogFormat,
    /// Reader limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// The PostgreSQL connection pool.
    #[command(flatten)]
    pub pool: PoolArgs,
}

/// `--auth` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    /// Every request but /health (and /metrics with --metrics open) needs a key.
    Required,
    /// No keys: anyone who reaches the service may do everything.
    Off,
}

/// `--metrics` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricsArg {
    /// Admin keys only (when auth is required).
    Admin,
    /// Anyone who reaches the service.
    Open,
}

impl ServeArgs {
    /// The access settings: `--auth` as given, else by the address.
    async fn auth(&self) -> Result<AuthConfig, String> {
        let mode = match self.auth {
            Some(AuthArg::Required) => AuthMode::Required,
            Some(AuthArg::Off) => AuthMode::Off,
            None => {
                // Off only when every address the name stands for is loopback.
                let addrs: Vec<_> = tokio::net::lookup_host(&self.bind)
                    .await
                    .map(Iterator::collect)
                    .unwrap_or_default();
                match addrs
                    .iter()
                    .all(|a| AuthMode::default_for(*a) == AuthMode::Off)
                {
                    true if !addrs.is_empty() => AuthMode::Off,
                    _ => AuthMode::Required,
                }
            }
        };
        let allowed_origins = self
            .allowed_origins
            .iter()
            .filter(|o| !o.trim().is_empty())
            .map(|o| crate::http::auth::check_allowed_origin(o))
            .collect::<Result<_, _>>()?;
        let metrics = match self.metrics {
            MetricsArg::Admin => MetricsAccess::Admin,
            MetricsArg::Open => MetricsAccess::Open,
        };
        Ok(AuthConfig {
            mode,
            allowed_origins,
            metrics,
        })
    }

    fn config(&self) -> ServeConfig {
        let defaults = ServeConfig::default();
        ServeConfig {
            data_dir: self.data_dir.clone(),
            max_upload_bytes: self.max_upload_bytes,
            max_spool_bytes: self.max_spool_bytes,
            // At least three heartbeats (one a second) per lease.
            lease: Duration::from_secs(self.lease_seconds.max(3)),
            keep_rejects: (self.keep_rejects_days > 0)
                .then(|| Duration::from_secs(self.keep_rejects_days.saturating_mul(86_400))),
            upload_idle_timeout: Duration::from_secs(self.upload_idle_timeout.max(1)),
            conn: ConnLimits {
                header_timeout: Duration::from_secs(self.header_timeout.max(1)),
                max_connections: self.max_http_connections.max(1),
                max_per_client: self.max_http_connections_per_client,
            },
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
            auth: AuthConfig::default(),
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
    // SQLite serves one instance: a second one on the same file says so.
    let _sqlite_lock = match &url {
        DatabaseUrl::Sqlite(path) => match http::files::lock_sqlite(path) {
            Ok(lock) => Some(lock),
            Err(e) => return fail(5, e),
        },
        DatabaseUrl::Postgres(_) | DatabaseUrl::Mysql(_) => None,
    };
    let sink = match Sink::connect_with(&url, args.pool.options()).await {
        Ok(s) => s,
        Err(e) => return fail(5, format!("{e} ({})", url.redacted())),
    };
    let auth = match args.auth().await {
        Ok(a) => a,
        Err(e) => return fail(2, e),
    };
    let config = ServeConfig {
        auth,
        ..args.config()
    };
    let state = match AppState::new(sink, config) {
        Ok(s) => s,
        Err(e) => {
            let dir = args.data_dir.display();
            return fail(1, format!("cannot prepare the data directory {dir}: {e}"));
        }
    };
    if let Err(e) = http::cluster::join(&state).await {
        return fail(5, format!("cannot check the imports table: {e}"));
    }
    // The signal handlers first: a SIGTERM that comes as soon as the
    // server answers is then a graceful stop, never the default kill.
    let stop = shutdown_signal();
    let listener = match tokio::net::TcpListener::bind(&args.bind).await {
        Ok(l) => l,
        Err(e) => return fail(2, format!("cannot listen on {}: {e}", args.bind)),
    };
    let addr = listener
        .local_addr()
        .map_or_else(|_| args.bind.clone(), |a| a.to_string());
    tracing::info!(%addr, database = %url.redacted(), "listening");
    warn_about_auth(&state, &addr).await;
    // One line on stdout, so scripts (and tests) learn the port.
    println!("sheetpipe listening on http://{addr}");
    match http::serve(listener, state, stop).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, format!("server error: {e}")),
    }
}

/// Says at start when anyone may do everything, or when no key can get in.
async fn warn_about_auth(state: &AppState, addr: &str) {
    let auth = &state.config.auth;
    if auth.mode == AuthMode::Off {
        let loopback = addr
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback());
        let why = if loopback {
            "AUTHENTICATION IS OFF (loopback address): every local user and program may upload, \
             read and cancel every import; --auth required asks for API keys"
        } else {
            "AUTHENTICATION IS OFF (--auth off): anyone who can reach this address may upload, \
             read every import's rows and cancel imports"
        };
        tracing::warn!(%addr, "{why}");
        return;
    }
    match state.sink.list_keys().await {
        Ok(keys) if keys.iter().all(|k| k.revoked_at.is_some()) => tracing::warn!(
            "authentication is required but the database has no live API key: every request \
             but /health answers 401; create one with `sheetpipe keys create --name NAME --role admin`"
        ),
        Ok(keys) => tracing::info!(
            keys = keys.iter().filter(|k| k.revoked_at.is_none()).count(),
            metrics = if auth.metrics == MetricsAccess::Open { "open" } else { "admin" },
            "authentication required"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot list the API keys"),
    }
}

/// A future that resolves on ctrl-c or (on Unix) SIGTERM. On Unix both
/// handlers are installed by this call, not when the future is first
/// polled (the server polls it only once it runs), so no signal that
/// comes after the call takes the default action and kills the process.
#[cfg(unix)]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    /// The first delivery of `s` (never, when it could not be installed).
    async fn first(s: Option<Signal>) {
        match s {
            Some(mut s) => drop(s.recv().await),
            None => std::future::pending::<()>().await,
        }
    }
    // The calls install the handlers now; the futures only wait.
    let int = first(signal(SignalKind::interrupt()).ok());
    let term = first(signal(SignalKind::terminate()).ok());
    async move {
        tokio::select! {
            () = int => tracing::info!("ctrl-c received"),
            () = term => tracing::info!("SIGTERM received"),
        }
    }
}

/// A future that resolves on ctrl-c.
#[cfg(not(unix))]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("ctrl-c received");
    }
}
