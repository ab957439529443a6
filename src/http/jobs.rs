//! The job registry: every import the server has accepted, by id — its
//! metadata, live progress, cancel token and final outcome — plus the two
//! semaphores that bound the load and the shutdown story.
//!
//! * `admission` (max_running + max_queued permits) — an import holds one
//!   ticket from the moment its body has been received until it has ended;
//!   when none is left the answer is 503 + `Retry-After` (checked before the
//!   body is read too, without taking one, so a full server refuses early).
//! * `running` (max_running permits) — held while the pipeline runs: at most
//!   that many imports use the database at once; the rest wait, queued.
//! * `draining` — cancelled when shutdown starts: no new tickets, queued
//!   imports end as cancelled without starting (on PostgreSQL, background
//!   ones go back to the shared queue instead; see `runner`).
//! * `hard_stop` — parent of every import's cancel token; cancelled when the
//!   grace period is over, so running imports stop at their next unit.
//! * `tracker` — every import task; shutdown waits on it (the WaitGroup).
//!
//! The map is behind a `RwLock` (many readers: status polls, SSE; rare
//! writers: register, evict). State changes go through a `watch` channel so
//! that waiters (the synchronous upload, SSE) wake without polling.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::http::StatusCode;
use serde::Serialize;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::errors::ApiError;
use crate::pipeline::{Control, Method};

/// Why a queued import did not start here: another instance claimed it.
pub const TAKEN: &str = "claimed by another server";

/// Why a queued import did not start here: the server shut down.
pub const SHUT_DOWN_QUEUED: &str = "the server shut down before the import started";

/// Finished imports kept in memory; older ones are read from the table.
pub const KEEP_FINISHED: usize = 1000;

/// Where an import is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Accepted, waiting for a running slot.
    Queued,
    /// The pipeline is running.
    Running,
    /// Every row read was inserted or rejected.
    Completed,
    /// Stopped by an error (or a panic).
    Failed,
    /// Stopped on request (DELETE, or shutdown).
    Cancelled,
}

impl JobStatus {
    /// The lowercase name stored in the `imports` table.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Whether the import has ended.
    pub fn is_final(self) -> bool {
        !matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

/// How an import ended, ready to answer with.
#[derive(Debug)]
pub struct Outcome {
    /// The answer's status code for a synchronous upload.
    pub http_status: StatusCode,
    /// The answer's body: the report JSON plus `import_id`.
    pub body: serde_json::Value,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
}

/// A snapshot of an import's state.
#[derive(Debug, Clone)]
pub struct JobState {
    /// Where it is.
    pub status: JobStatus,
    /// When it started running (RFC 3339).
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// The outcome, once ended.
    pub outcome: Option<Arc<Outcome>>,
}

/// What is known about an import when it is accepted.
#[derive(Debug, Clone)]
pub struct JobMeta {
    /// The client's filename (metadata only).
    pub filename: String,
    /// SHA-256 of the upload.
    pub sha256: String,
    /// The strategy.
    pub method: Method,
    /// Upload size.
    pub bytes: u64,
    /// The target table.
    pub table_name: String,
    /// The name of the API key that made it (`None` without auth).
    pub owner: Option<String>,
    /// How rows whose key exists are treated (docs/MODES.md).
    pub mode: crate::sink::merge::Mode,
}

/// One import known to this server.
#[derive(Debug)]
pub struct Job {
    /// Its id (a UUID).
    pub id: String,
    /// Filename, hash, method, size.
    pub meta: JobMeta,
    /// When it was accepted (RFC 3339).
    pub created_at: String,
    /// Its cancel token (a child of the registry's `hard_stop`) and progress.
    pub ctl: Control,
    /// Cancelled when another instance claimed it while it was queued
    /// here (see [`crate::sink::queue`]): it is no longer this server's.
    pub taken: CancellationToken,
    state: watch::Sender<JobState>,
}

impl Job {
    /// The current state.
    pub fn state(&self) -> JobState {
        self.state.borrow().clone()
    }

    /// A receiver that wakes on every state change.
    pub fn subscribe(&self) -> watch::Receiver<JobState> {
        self.state.subscribe()
    }

    /// Moves the import to `running`.
    pub fn set_running(&self, at: String) {
        self.state.send_modify(|s| {
            s.status = JobStatus::Running;
            s.started_at = Some(at);
        });
    }

    /// Records the end of the import and wakes every waiter.
    pub fn set_finished(&self, status: JobStatus, at: String, outcome: Outcome) {
        self.state.send_modify(|s| {
            s.status = status;
            s.finished_at = Some(at);
            s.outcome = Some(Arc::new(outcome));
        });
    }

    /// Waits until the import has ended.
    pub async fn finished(&self) -> Arc<Outcome> {
        let mut rx = self.subscribe();
        loop {
            if let Some(o) = rx.borrow_and_update().outcome.clone() {
                return o;
            }
            // The sender lives in `self`: `changed` cannot fail while we wait.
            let _ = rx.changed().await;
        }
    }
}

/// A right to run one import, held until it has ended.
#[derive(Debug)]
pub struct Ticket {
    _permit: OwnedSemaphorePermit,
}

/// Every import of this server, and the limits on how many run at once.
#[derive(Debug)]
pub struct Registry {
    jobs: RwLock<HashMap<String, Arc<Job>>>,
    /// Ids of finished imports, oldest first, for eviction.
    finished: Mutex<VecDeque<String>>,
    admission: Arc<Semaphore>,
    running: Arc<Semaphore>,
    tracker: TaskTracker,
    draining: CancellationToken,
    hard_stop: CancellationToken,
}

impl Registry {
    /// A registry running at most `max_running` imports, with at most
    /// `max_queued` more waiting.
    pub fn new(max_running: usize, max_queued: usize) -> Registry {
        let max_running = max_running.max(1);
        Registry {
            jobs: RwLock::default(),
            finished: Mutex::default(),
            admission: Arc::new(Semaphore::new(max_running + max_queued)),
            running: Arc::new(Semaphore::new(max_running)),
            tracker: TaskTracker::new(),
            draining: CancellationToken::new(),
            hard_stop: CancellationToken::new(),
        }
    }

    /// A ticket for one more import, or 503 when every slot is taken or
    /// the server is shutting down.
    pub fn admit(&self) -> Result<Ticket, ApiError> {
        if self.draining.is_cancelled() {
            return Err(ApiError::busy("Server is shutting down"));
        }
        self.admission
            .clone()
            .try_acquire_owned()
            .map(|p| Ticket { _permit: p })
            .map_err(|_| ApiError::busy("Server busy: too many imports running or queued"))
    }

    /// 503 when no ticket is left or the server is shutting down; takes
    /// nothing (the ticket is taken once the body has arrived).
    pub fn has_room(&self) -> Result<(), ApiError> {
        if self.draining.is_cancelled() {
            return Err(ApiError::busy("Server is shutting down"));
        }
        if self.admission.available_permits() == 0 {
            return Err(ApiError::busy(
                "Server busy: too many imports running or queued",
            ));
        }
        Ok(())
    }

    /// Registers a new import (status `queued`).
    pub fn register(&self, meta: JobMeta) -> Arc<Job> {
        let id = uuid::Uuid::new_v4().to_string();
        self.register_as(id, crate::sink::imports::now(), meta)
    }

    /// Registers import `id`, accepted at `created_at` (here or by another
    /// instance), as `queued`.
    pub fn register_as(&self, id: String, created_at: String, meta: JobMeta) -> Arc<Job> {
        let job = Arc::new(Job {
            id,
            meta,
            created_at,
            taken: CancellationToken::new(),
            ctl: Control {
                cancel: self.hard_stop.child_token(),
                ..Control::default()
            },
            state: watch::Sender::new(JobState {
                status: JobStatus::Queued,
                started_at: None,
                finished_at: None,
                outcome: None,
            }),
        });
        let mut jobs = self.jobs.write().unwrap_or_else(|p| p.into_inner());
        jobs.insert(job.id.clone(), job.clone());
        job
    }

    /// Forgets an import that never started (its record could not be written).
    pub fn remove(&self, id: &str) {
        let mut jobs = self.jobs.write().unwrap_or_else(|p| p.into_inner());
        jobs.remove(id);
    }

    /// An import known in memory.
    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        let jobs = self.jobs.read().unwrap_or_else(|p| p.into_inner());
        jobs.get(id).cloned()
    }

    /// Notes that an import ended; evicts the oldest finished ones beyond
    /// [`KEEP_FINISHED`] (their history stays in the table).
    pub fn retire(&self, id: &str) {
        let mut finished = self.finished.lock().unwrap_or_else(|p| p.into_inner());
        finished.push_back(id.to_string());
        while finished.len() > KEEP_FINISHED {
            if let Some(old) = finished.pop_front() {
                self.remove(&old);
            }
        }
    }

    /// Runs an import task under the tracker that shutdown waits on.
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }

    /// A running slot and a ticket, if both are free now and the server
    /// is not shutting down (for an import claimed from the shared queue).
    pub fn try_slot(&self) -> Option<(OwnedSemaphorePermit, Ticket)> {
        if self.draining.is_cancelled() {
            return None;
        }
        let permit = self.running.clone().try_acquire_owned().ok()?;
        let ticket = self.admit().ok()?;
        Some((permit, ticket))
    }

    /// The ids of the imports queued here.
    pub fn queued_ids(&self) -> Vec<String> {
        let jobs = self.jobs.read().unwrap_or_else(|p| p.into_inner());
        jobs.values()
            .filter(|j| j.state.borrow().status == JobStatus::Queued)
            .map(|j| j.id.clone())
            .collect()
    }

    /// Waits for a running slot. `Err(reason)` when the import is cancelled,
    /// taken by another instance ([`TAKEN`]) or the server starts shutting
    /// down first.
    pub async fn run_slot(&self, job: &Job) -> Result<OwnedSemaphorePermit, &'static str> {
        tokio::select! {
            biased;
            _ = job.taken.cancelled() => Err(TAKEN),
            _ = self.draining.cancelled() => Err(SHUT_DOWN_QUEUED),
            _ = job.ctl.cancel.cancelled() => Err("cancelled before it started"),
            permit = self.running.clone().acquire_owned() => {
                permit.map_err(|_| SHUT_DOWN_QUEUED)
            }
        }
    }

    /// How many imports of this server are queued and how many running now.
    pub fn counts(&self) -> (usize, usize) {
        let jobs = self.jobs.read().unwrap_or_else(|p| p.into_inner());
        jobs.values()
            .fold((0, 0), |(q, r), job| match job.state.borrow().status {
                JobStatus::Queued => (q + 1, r),
                JobStatus::Running => (q, r + 1),
                _ => (q, r),
            })
    }

    /// Whether shutdown has started.
    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Whether running imports were told to stop because of shutdown.
    pub fn is_hard_stopped(&self) -> bool {
        self.hard_stop.is_cancelled()
    }

    /// Shutdown: refuse new imports, cancel the queued ones, let running
    /// ones finish for `grace`, then cancel them (they stop at their next
    /// unit boundary); returns when every import has ended and been recorded.
    pub async fn shutdown(&self, grace: Duration) {
        self.draining.cancel();
        self.tracker.close();
        let running = self.tracker.len();
        tracing::info!(imports = running, grace = ?grace, "draining imports");
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                imports = self.tracker.len(),
                "grace period over: cancelling the imports still running"
            );
            self.hard_stop.cancel();
            self.tracker.wait().await;
        }
        tracing::info!("every import has ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> JobMeta {
        JobMeta {
            filename: "a.xlsx".into(),
            sha256: String::new(),
            method: Method::Batch,
            bytes: 1,
            table_name: "businesses".into(),
            owner: None,
            mode: Default::default(),
        }
    }

    #[test]
    fn tickets_run_out_at_running_plus_queued() {
        let r = Registry::new(1, 1);
        let a = r.admit().unwrap();
        let _b = r.admit().unwrap();
        let err = r.admit().unwrap_err();
        assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            err.retry_after,
            Some(super::super::errors::RETRY_AFTER_SECS)
        );
        drop(a);
        assert!(r.admit().is_ok(), "a finished import frees its ticket");
    }

    #[tokio::test]
    async fn shutdown_cancels_queued_imports_and_refuses_new_ones() {
        let r = Arc::new(Registry::new(1, 1));
        let first = r.register(meta());
        let second = r.register(meta());
        let slot = r.run_slot(&first).await.unwrap();
        // A "running" import that only ends when it is cancelled.
        let cancel = first.ctl.cancel.clone();
        r.spawn(async move {
            cancel.cancelled().await;
            drop(slot);
        });
        let waiting = {
            let (r, second) = (r.clone(), second.clone());
            tokio::spawn(async move { r.run_slot(&second).await.map(drop) })
        };
        r.shutdown(Duration::ZERO).await;
        assert!(waiting.await.unwrap().is_err());
        assert!(r.admit().is_err());
        assert!(
            first.ctl.cancel.is_cancelled(),
            "hard stop reaches every import"
        );
    }

    #[tokio::test]
    async fn old_finished_imports_are_evicted_from_memory() {
        let r = Registry::new(1, 0);
        let first = r.register(meta());
        r.retire(&first.id);
        for _ in 0..KEEP_FINISHED {
            let j = r.register(meta());
            r.retire(&j.id);
        }
        assert!(r.get(&first.id).is_none());
        assert_eq!(r.jobs.read().unwrap().len(), KEEP_FINISHED);
    }
}
