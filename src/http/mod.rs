//! The HTTP service (`sheetpipe serve`): axum routes that translate
//! requests into pipeline calls and reports into JSON. The pipeline knows
//! nothing of HTTP; this layer owns uploads, the job registry, load limits,
//! progress streaming and graceful shutdown.
//!
//! ```text
//!  client ─► security headers ─► request id ─► trace (1 line/request)
//!         ─► [CORS] ─► catch-panic ─► auth guard (Origin, key, role, owner) ─► routes
//!    POST /upload        upload ─► runner::start ─► wait ─► 200 + report
//!    POST /imports       upload ─► runner::start ─► 202 + Location
//!    GET  /imports[/{id}[/events|/rejects.csv]]  registry, else `imports` table
//!    DELETE /imports/{id} cancel token
//!    POST /imports/{id}/undo  sink.undo_import (docs/UNDO.md)
//!    POST /preview       upload ─► first rows read and judged (nothing written)
//!    PUT  /mappings      a column matching saved for next time
//!    GET  /, /page/{file} the importer page (embedded assets)
//!    GET  /health        sink.ping()
//!    GET  /metrics       metrics::Metrics (Prometheus text)
//!    GET  /openapi.json  openapi::ApiDoc (every route above)
//! ```
//!
//! * [`upload`]: multipart → private temporary file, size limit, SHA-256,
//!   magic bytes.
//! * [`jobs`]: the registry, the load semaphores, shutdown.
//! * [`runner`]: one import's life (queued → running → ended), recorded in
//!   the `imports` table; panics become failed imports.
//! * [`queue`]: the claimer on PostgreSQL's shared queue of background
//!   imports; [`cluster`]: leases, sweeps, cancels and claims seen by others.
//! * [`auth`]: API keys, roles, ownership, Origin, security headers, CORS.
//! * [`imports`], [`events`]: the endpoints; [`errors`]: every error answer.
//! * [`metrics`]: `/metrics` and the middleware counting requests by route.
//! * [`openapi`]: `/openapi.json`, the contract generated from the handlers.

pub mod auth;
pub mod cluster;
pub mod disposition;
pub mod errors;
pub mod events;
pub mod files;
pub mod imports;
pub mod jobs;
pub mod listen;
pub mod mappings;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod preview;
pub mod query;
pub mod queue;
pub mod runner;
pub mod tables;
pub mod undo;
pub mod upload;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use futures::future::BoxFuture;

use crate::pipeline::{self, Control, ImportJob, ImportReport, Plan};
use crate::record::Rules;
use crate::sink::Sink;
use crate::source::SourceOptions;

/// Everything `serve` can be told (each from a flag or an environment
/// variable; see `cli::serve`).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Holds `rejects/` (kept) and the private upload directory (per process).
    pub data_dir: PathBuf,
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: u64,
    /// Disk budget of every upload file at once (received, queued, running).
    pub max_spool_bytes: u64,
    /// Longest a request body may send nothing (then 408, closed).
    pub upload_idle_timeout: Duration,
    /// Header read timeout and connection caps.
    pub conn: listen::ConnLimits,
    /// How long reject reports are kept after their import (None: forever).
    pub keep_rejects: Option<Duration>,
    /// An instance silent this long is taken for dead (PostgreSQL).
    pub lease: Duration,
    /// Imports running at once.
    pub max_running: usize,
    /// Imports waiting for a running slot (uploads in progress included).
    pub max_queued: usize,
    /// How long running imports may go on after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Writer tasks per import (default: the method's).
    pub workers: Option<usize>,
    /// Rows per unit (default: the method's).
    pub batch_size: Option<usize>,
    /// How every upload is read (limits, …); the sheet is set per request.
    pub source: SourceOptions,
    /// Validation rules.
    pub rules: Rules,
    /// API keys, roles, allowed origins, who may read `/metrics`.
    pub auth: auth::AuthConfig,
    /// What runs one import: [`run_pipeline`]. A seam, so that tests can
    /// wrap the real pipeline to inject a fault (e.g. a panic).
    pub importer: Importer,
}

/// The function that runs one import for the service.
pub type Importer = fn(ImportJob, Plan, Sink, Control) -> BoxFuture<'static, ImportReport>;

/// The service's [`Importer`]: [`pipeline::run`].
pub fn run_pipeline(
    job: ImportJob,
    plan: Plan,
    sink: Sink,
    ctl: Control,
) -> BoxFuture<'static, ImportReport> {
    Box::pin(async move { pipeline::run(job, &plan, &sink, &ctl).await })
}

/// Default upload limit: 100 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 100 << 20;

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            data_dir: PathBuf::from("sheetpipe-data"),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_spool_bytes: upload::DEFAULT_MAX_SPOOL_BYTES,
            upload_idle_timeout: upload::DEFAULT_IDLE_TIMEOUT,
            conn: listen::ConnLimits::default(),
            keep_rejects: Some(files::DEFAULT_KEEP_REJECTS),
            lease: crate::sink::instances::DEFAULT_LEASE,
            max_running: crate::pipeline::cores(),
            max_queued: 64,
            shutdown_grace: Duration::from_secs(30),
            workers: None,
            batch_size: None,
            source: SourceOptions::default(),
            rules: Rules::default(),
            auth: auth::AuthConfig::default(),
            importer: run_pipeline,
        }
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The contents of [`AppState`].
pub struct Shared {
    /// The database.
    pub sink: Sink,
    /// The settings.
    pub config: ServeConfig,
    /// Every import of this process.
    pub registry: jobs::Registry,
    /// The disk budget of upload files.
    pub spool: upload::Spool,
    /// This instance's id in `sheetpipe_instances` (a UUID).
    pub instance_id: String,
    /// What `/metrics` shows (this service's own registry).
    pub metrics: metrics::Metrics,
    /// Private (0700) directory for uploads, removed when the server ends.
    uploads: files::UploadsDir,
    /// Where each import's rejects report is kept (`{id}.csv`).
    rejects_dir: PathBuf,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Creates the data directories (0700) and the registry; removes the
    /// upload directories of processes that are gone.
    pub fn new(sink: Sink, config: ServeConfig) -> std::io::Result<AppState> {
        files::private_dir(&config.data_dir)?;
        let rejects_dir = config.data_dir.join("rejects");
        files::private_dir(&rejects_dir)?;
        match files::sweep_uploads(&config.data_dir)? {
            0 => {}
            n => tracing::warn!(files = n, "removed uploads left by a process that is gone"),
        }
        let uploads = files::UploadsDir::create(&config.data_dir)?;
        let registry = jobs::Registry::new(config.max_running, config.max_queued);
        let spool = upload::Spool::new(config.max_spool_bytes, config.upload_idle_timeout);
        let metrics = metrics::Metrics::new(config.source.reader_failures.clone());
        Ok(AppState(Arc::new(Shared {
            metrics,
            sink,
            config,
            registry,
            spool,
            instance_id: uuid::Uuid::new_v4().to_string(),
            uploads,
            rejects_dir,
        })))
    }

    /// The private upload directory.
    pub fn uploads_dir(&self) -> &Path {
        self.uploads.path()
    }

    /// Removes reject reports older than `keep_rejects`, noting each in its
    /// import's row.
    pub async fn expire_rejects(&self) {
        let Some(keep) = self.config.keep_rejects else {
            return;
        };
        let expired = match files::expired_reports(&self.rejects_dir, keep) {
            Ok(e) => e,
            Err(e) => return tracing::warn!(error = %e, "cannot list the reject reports"),
        };
        for (id, path) in expired {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(error = %e, path = %path.display(), "cannot remove a reject report");
                continue;
            }
            let at = crate::sink::imports::now();
            if let Err(e) = self.sink.mark_rejects_removed(&id, &at).await {
                tracing::warn!(error = %e, import_id = %id, "cannot record a removed reject report");
            }
            tracing::info!(import_id = %id, "reject report removed after the retention period");
        }
    }

    /// The rejects report of import `id` (a validated UUID).
    pub fn rejects_path(&self, id: &str) -> PathBuf {
        self.rejects_dir.join(format!("{id}.csv"))
    }

    /// The .xlsx rejects report of import `id` (a validated UUID).
    pub fn rejects_xlsx_path(&self, id: &str) -> PathBuf {
        self.rejects_dir.join(format!("{id}.xlsx"))
    }
}

/// The router with every route and layer.
pub fn app(state: AppState) -> Router {
    let body_limit = state
        .config
        .max_upload_bytes
        .saturating_add(upload::MULTIPART_SLACK);
    let uploads = Router::new()
        .route("/upload", post(imports::upload_sync))
        .route("/imports", post(imports::upload_async).get(imports::list))
        .route("/preview", post(preview::preview))
        .layer(DefaultBodyLimit::max(
            usize::try_from(body_limit).unwrap_or(usize::MAX),
        ));
    let guard = axum::middleware::from_fn_with_state(state.clone(), auth::guard);
    let cors = auth::cors(&state.config.auth);
    let router = Router::new()
        .merge(uploads)
        .route("/health", get(health))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .route(
            "/imports/{id}",
            get(imports::status).delete(imports::cancel),
        )
        .route("/tables", get(tables::list))
        .route("/tables/{name}", get(tables::show))
        .route("/mappings", axum::routing::put(mappings::save))
        .route("/", get(page::index))
        .route("/page/{file}", get(page::asset))
        .route("/imports/{id}/events", get(events::events))
        .route("/imports/{id}/undo", post(undo::undo))
        .route("/imports/{id}/rejects.csv", get(imports::rejects))
        .route("/imports/{id}/rejects.xlsx", get(imports::rejects_xlsx))
        .fallback(|| async { errors::ApiError::new(StatusCode::NOT_FOUND, "Not found") })
        .method_not_allowed_fallback(|| async {
            errors::ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        })
        .with_state(state.clone())
        // Inside the trace span (it records the key's name there), around
        // every route, so it sees each route's pattern.
        .layer(guard)
        // Outside the guard, so refused requests (401, 403) are counted.
        .layer(axum::middleware::from_fn_with_state(
            state,
            metrics::count_requests,
        ))
        .layer(CatchPanicLayer::custom(panic_response));
    // CORS only when origins are configured; it answers preflights before
    // the guard asks for a key (a browser's preflight carries none).
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_unclean_request_id))
        .layer(axum::middleware::map_response(auth::security_headers))
}

/// Removes a client's `X-Request-Id` that is not safe to log or echo, so
/// that `SetRequestIdLayer` generates one in its place.
async fn drop_unclean_request_id<B>(mut req: Request<B>) -> Request<B> {
    let ids = req.headers().get_all("x-request-id");
    let mut it = ids.iter();
    let keep = match (it.next(), it.next()) {
        (Some(id), None) => errors::is_clean_request_id(id.as_bytes()),
        (None, _) => true,
        _ => false, // several: none is trusted
    };
    if !keep {
        req.headers_mut().remove("x-request-id");
    }
    req
}

fn request_span<B>(req: &Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("-", |m| m.as_str());
    // `key_name` is recorded by `auth::guard` once the key is known: the
    // key's name, never the key.
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        uri = %req.uri(),
        route = %route,
        key_name = tracing::field::Empty,
    )
}

fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let text = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    errors::ApiError::internal(format!("handler panicked: {text}")).into_response()
}

/// `GET /health`: 200 `{"status":"healthy"}` when the database answers,
/// 503 `{"status":"unhealthy","error":…}` when it does not (within 5 s).
#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    summary = "Whether the database answers",
    responses(
        (status = 200, description = "Healthy", body = openapi::Health),
        (status = 503, description = "The database did not answer within 5 s", body = openapi::Health),
    )
)]
pub async fn health(State(state): State<AppState>) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(5), state.sink.ping()).await;
    let error = match ping {
        Ok(Ok(())) => return Json(json!({ "status": "healthy" })).into_response(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "the database did not answer within 5s".to_string(),
    };
    tracing::warn!(%error, "health check failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unhealthy", "error": error })),
    )
        .into_response()
}

/// How often the reject reports' retention is applied.
const UPKEEP_PERIOD: Duration = Duration::from_secs(3600);

/// At start and every [`UPKEEP_PERIOD`]: old reject reports removed.
async fn upkeep(state: AppState) {
    loop {
        state.expire_rejects().await;
        tokio::time::sleep(UPKEEP_PERIOD).await;
    }
}

/// Serves until `shutdown` resolves, then shuts down gracefully: stop
/// accepting connections, let running imports finish within the grace
/// period, cancel the rest (each recorded in the `imports` table), wait for
/// open requests to be answered.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    cluster::join(&state)
        .await
        .map_err(|e| std::io::Error::other(format!("cannot register with the database: {e}")))?;
    let heartbeat = tokio::spawn(cluster::run(state.clone()));
    let claimer = state
        .sink
        .has_queue()
        .then(|| tokio::spawn(queue::claim_loop(state.clone())));
    let stop_accepting = CancellationToken::new();
    let kill = CancellationToken::new();
    let conns = tokio_util::task::TaskTracker::new();
    let accept = listen::accept_loop(
        listener,
        app(state.clone()),
        state.config.conn,
        stop_accepting.clone(),
        kill.clone(),
        conns.clone(),
    );
    let mut server = tokio::spawn(accept);
    let upkeep = tokio::spawn(upkeep(state.clone()));
    tokio::select! {
        ended = &mut server => return ended.map_err(std::io::Error::other),
        () = shutdown => {}
    }
    tracing::info!("shutdown requested: no new connections");
    upkeep.abort();
    // No more claims; what is queued here goes back to the shared queue.
    if let Some(c) = claimer {
        c.abort();
    }
    stop_accepting.cancel();
    state.registry.shutdown(state.config.shutdown_grace).await;
    heartbeat.abort();
    cluster::leave(&state).await;
    // Every import has ended, so every waiting request has its answer and
    // every event stream its last event; give them a moment to be sent.
    let _ = server.await;
    conns.close();
    if tokio::time::timeout(Duration::from_secs(10), conns.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open 10s after the imports ended: closing them");
        kill.cancel();
        conns.wait().await;
    }
    Ok(())
}
