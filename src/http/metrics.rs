//! `GET /metrics`: the service's counters in the Prometheus text format
//! (OpenMetrics 1.0, which Prometheus scrapes natively), from one explicit
//! [`Registry`] per [`AppState`](super::AppState) — never a global one, so
//! that two services in one process (the tests) count apart.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `sheetpipe_imports_total` | counter | `status` (completed, failed, cancelled), `method` |
//! | `sheetpipe_rows_inserted_total` | counter | `method` |
//! | `sheetpipe_rows_rejected_total` | counter | `method` |
//! | `sheetpipe_import_bytes_total` | counter | — |
//! | `sheetpipe_import_duration_seconds` | histogram | `method` |
//! | `sheetpipe_imports_queued` | gauge | — |
//! | `sheetpipe_imports_running` | gauge | — |
//! | `sheetpipe_reader_failures_total` | counter | `kind` (spawn, timeout, memory, crash, protocol) |
//! | `sheetpipe_http_requests_total` | counter | `method`, `route` (the route template), `status` |
//!
//! Import counters move when an import ends (as its row in the `imports`
//! table is written); the gauges are read from the job registry at each
//! scrape; HTTP requests are counted when their answer's head is sent.
//! docs/API.md describes each metric.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::AppState;
use crate::source::{ReaderFailure, ReaderFailures};

/// The content type of the answer (Prometheus negotiates it, and takes it
/// as the default too).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of a request that matched no route (a 404).
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the import-duration buckets, in seconds.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ImportLabels {
    status: &'static str,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

type Histograms = Family<MethodLabel, Histogram, fn() -> Histogram>;

/// Every metric of one service, and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    imports: Family<ImportLabels, Counter>,
    inserted: Family<MethodLabel, Counter>,
    rejected: Family<MethodLabel, Counter>,
    bytes: Counter,
    duration: Histograms,
    queued: Gauge,
    running: Gauge,
    requests: Family<RequestLabels, Counter>,
    /// Serialises the gauges' update and the encoding of one scrape.
    scrape: std::sync::Mutex<()>,
}

/// How one import ended, as the metrics count it.
#[derive(Debug, Clone, Copy)]
pub struct Ended {
    /// completed, failed or cancelled.
    pub status: &'static str,
    /// The method's name.
    pub method: &'static str,
    /// Rows committed (0 for a dry run, which writes nothing).
    pub inserted: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// The uploaded file's size.
    pub bytes: u64,
    /// How long the pipeline ran; `None` when it never started.
    pub duration: Option<Duration>,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

impl Metrics {
    /// A fresh registry; `reader_failures` are the counts the service's
    /// isolated readers keep (read at each scrape).
    pub fn new(reader_failures: Arc<ReaderFailures>) -> Metrics {
        let mut registry = Registry::with_prefix("sheetpipe");
        let imports = Family::<ImportLabels, Counter>::default();
        registry.register(
            "imports",
            "Imports ended, by final status and method",
            imports.clone(),
        );
        let inserted = Family::<MethodLabel, Counter>::default();
        registry.register(
            "rows_inserted",
            "Rows committed to the database by imports that ended (dry runs insert none)",
            inserted.clone(),
        );
        let rejected = Family::<MethodLabel, Counter>::default();
        registry.register(
            "rows_rejected",
            "Rows rejected (validation or database) by imports that ended",
            rejected.clone(),
        );
        let bytes = Counter::default();
        registry.register(
            "import_bytes",
            "Bytes of the uploaded files of imports that ended",
            bytes.clone(),
        );
        let duration: Histograms = Family::new_with_constructor(duration_histogram);
        registry.register_with_unit(
            "import_duration",
            "Wall time of imports that started running, from start to end",
            Unit::Seconds,
            duration.clone(),
        );
        let queued = Gauge::default();
        registry.register(
            "imports_queued",
            "Imports accepted and waiting for a running slot",
            queued.clone(),
        );
        let running = Gauge::default();
        registry.register("imports_running", "Imports running now", running.clone());
        registry.register_collector(Box::new(FailureCollector(reader_failures)));
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        Metrics {
            registry,
            imports,
            inserted,
            rejected,
            bytes,
            duration,
            queued,
            running,
            requests,
            scrape: std::sync::Mutex::new(()),
        }
    }

    /// Counts an import that has ended.
    pub fn import_ended(&self, e: &Ended) {
        let by_method = MethodLabel { method: e.method };
        self.imports
            .get_or_create(&ImportLabels {
                status: e.status,
                method: e.method,
            })
            .inc();
        self.inserted.get_or_create(&by_method).inc_by(e.inserted);
        self.rejected.get_or_create(&by_method).inc_by(e.rejected);
        self.bytes.inc_by(e.bytes);
        if let Some(d) = e.duration {
            self.duration
                .get_or_create(&by_method)
                .observe(d.as_secs_f64());
        }
    }

    /// Counts one answered request.
    pub fn request(&self, method: &str, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
    }

    /// The text of one scrape, with the gauges set to `queued`, `running`.
    pub fn encode(&self, queued: usize, running: usize) -> String {
        let _one = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.queued.set(i64::try_from(queued).unwrap_or(i64::MAX));
        self.running.set(i64::try_from(running).unwrap_or(i64::MAX));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// `sheetpipe_reader_failures_total{kind}`, read from the readers' own
/// counts at each scrape (every kind, zeros included).
#[derive(Debug)]
struct FailureCollector(Arc<ReaderFailures>);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

impl Collector for FailureCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "reader_failures",
            "Isolated reader processes (sheetpipe __read) that failed, by kind",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for kind in ReaderFailure::ALL {
            let counter = ConstCounter::new(self.0.get(kind));
            let labels = KindLabel { kind: kind.name() };
            counter.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// `GET /metrics`: every metric, in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "Every metric (docs/API.md lists them)",
         content_type = "application/openmetrics-text", body = String),
    )
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (queued, running) = state.registry.counts();
    let text = state.metrics.encode(queued, running);
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        text,
    )
        .into_response()
}

/// Middleware counting every request by method, route template (never the
/// raw path, which would make one series per import id) and status.
pub async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let response = next.run(req).await;
    let route = route.as_deref().unwrap_or(UNMATCHED);
    state
        .metrics
        .request(&method, route, response.status().as_u16());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_names_every_metric_with_its_labels() {
        let failures = Arc::new(ReaderFailures::default());
        failures.note(ReaderFailure::Memory);
        let m = Metrics::new(failures);
        m.import_ended(&Ended {
            status: "completed",
            method: "batch",
            inserted: 9,
            rejected: 1,
            bytes: 1234,
            duration: Some(Duration::from_millis(300)),
        });
        m.request("GET", "/imports/{id}", 404);
        let text = m.encode(2, 1);
        for line in [
            "sheetpipe_imports_total{status=\"completed\",method=\"batch\"} 1",
            "sheetpipe_rows_inserted_total{method=\"batch\"} 9",
            "sheetpipe_rows_rejected_total{method=\"batch\"} 1",
            "sheetpipe_import_bytes_total 1234",
            "sheetpipe_import_duration_seconds_count{method=\"batch\"} 1",
            "sheetpipe_import_duration_seconds_bucket{le=\"0.5\",method=\"batch\"} 1",
            "sheetpipe_import_duration_seconds_bucket{le=\"0.25\",method=\"batch\"} 0",
            "sheetpipe_imports_queued 2",
            "sheetpipe_imports_running 1",
            "sheetpipe_reader_failures_total{kind=\"memory\"} 1",
            "sheetpipe_reader_failures_total{kind=\"crash\"} 0",
            "sheetpipe_http_requests_total{method=\"GET\",route=\"/imports/{id}\",status=\"404\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
