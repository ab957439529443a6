//! The one bounded pool of PostgreSQL connections a [`super::PgSink`] and
//! all its clones share: the writers of every import, the `imports`
//! history and `/health` take their connections from it, so a process never
//! holds more than [`PoolOptions::max_connections`] connections to the
//! server, however many imports run at once.
//!
//! * **Recycling**: a connection handed back is checked before its next use
//!   (closed? then an empty query must answer — deadpool's `Verified`), so a
//!   connection the server killed is discarded and replaced, never reused.
//!   A writer whose write failed, or that was dropped in the middle of one,
//!   discards its connection itself ([`Pooled::discard_on_drop`]).
//! * **No deadlock**: writers take a *writer slot* before a connection. With
//!   two or more connections one is kept out of the writers' reach, so the
//!   history and `/health` always get one soon; the writers of one import
//!   are capped at the writer slots; an import's first writer waits at most
//!   [`PoolOptions::timeout`] (then a clear error), its other writers wait
//!   only as long as the first one runs (see `pipeline::write_stage`).

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, Timeouts,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::{Config, NoTls};

use crate::sink::DbError;

/// Default of `--max-connections` / `SHEETPIPE_MAX_CONNECTIONS`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16;

/// Default of `--pool-timeout` / `SHEETPIPE_POOL_TIMEOUT`, in seconds.
pub const DEFAULT_POOL_TIMEOUT_SECS: u64 = 30;

/// How long a returned connection's check may take before it is discarded.
const RECYCLE_TIMEOUT: Duration = Duration::from_secs(5);

/// The bound and the patience of the PostgreSQL pool (ignored for SQLite,
/// which has one connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections this process holds at once (at least 1).
    pub max_connections: usize,
    /// Longest wait for a free connection (an import's first writer, the
    /// history, `/health`) before the wait fails with an error saying so.
    pub timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> PoolOptions {
        PoolOptions {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            timeout: Duration::from_secs(DEFAULT_POOL_TIMEOUT_SECS),
        }
    }
}

impl PoolOptions {
    /// Connections writers may hold together: all but one (kept for the
    /// history and `/health`) when there are two or more.
    pub fn writer_slots(&self) -> usize {
        let max = self.max_connections.max(1);
        if max >= 2 {
            max - 1
        } else {
            1
        }
    }
}

/// The pool and its writer slots. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct PgPool {
    pool: Pool,
    writer_slots: Arc<Semaphore>,
    options: PoolOptions,
}

/// How long a writer waits for its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Up to [`PoolOptions::timeout`], then an error (an import's first
    /// writer: the import cannot go on without it).
    Bounded,
    /// As long as it takes (an import's other writers; the caller stops
    /// waiting when the import no longer needs them).
    Unbounded,
}

impl PgPool {
    /// A pool for `config`; no connection is opened yet.
    pub(crate) fn new(config: Config, options: PoolOptions) -> Result<PgPool, DbError> {
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let max = options.max_connections.max(1);
        let pool = Pool::builder(manager)
            .max_size(max)
            .runtime(Runtime::Tokio1)
            .recycle_timeout(Some(RECYCLE_TIMEOUT))
            .build()
            .map_err(|e| DbError::new(format!("cannot build the connection pool: {e}")))?;
        Ok(PgPool {
            pool,
            writer_slots: Arc::new(Semaphore::new(options.writer_slots())),
            options,
        })
    }

    /// The bound and patience this pool was built with.
    pub(crate) fn options(&self) -> PoolOptions {
        self.options
    }

    /// A connection for a short piece of work (schema, history, `/health`),
    /// waiting at most the pool timeout.
    pub(crate) async fn get(&self) -> Result<Pooled, DbError> {
        let conn = self.connection(Some(self.options.timeout)).await?;
        Ok(Pooled::new(conn, None))
    }

    /// A connection for a writer, held for the whole import: first a writer
    /// slot, then the connection.
    pub(crate) async fn writer(&self, wait: Wait) -> Result<Pooled, DbError> {
        let timeout = match wait {
            Wait::Bounded => Some(self.options.timeout),
            Wait::Unbounded => None,
        };
        let slots = self.writer_slots.clone().acquire_owned();
        let permit = match timeout {
            Some(t) => tokio::time::timeout(t, slots)
                .await
                .map_err(|_| self.exhausted())?,
            None => slots.await,
        }
        .map_err(|_| DbError::new("the connection pool was closed"))?;
        let conn = self.connection(timeout).await?;
        Ok(Pooled::new(conn, Some(permit)))
    }

    async fn connection(&self, wait: Option<Duration>) -> Result<Object, DbError> {
        let timeouts = Timeouts {
            wait,
            ..self.pool.timeouts()
        };
        self.pool.timeout_get(&timeouts).await.map_err(|e| match e {
            PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => self.exhausted(),
            PoolError::Backend(e) => DbError::new(format!(
                "cannot connect to PostgreSQL: {}",
                super::describe(&e)
            )),
            other => DbError::new(format!("cannot connect to PostgreSQL: {other}")),
        })
    }

    fn exhausted(&self) -> DbError {
        DbError::new(format!(
            "no PostgreSQL connection became free within {}s: all {} connections \
             (--max-connections / SHEETPIPE_MAX_CONNECTIONS) are in use by other imports; \
             raise the limit, lower --max-running, or wait longer with --pool-timeout",
            self.options.timeout.as_secs(),
            self.options.max_connections.max(1),
        ))
    }
}

/// A pooled connection, with the writer slot it was taken under (if any).
/// Dropped, it goes back to the pool — unless it was marked to be
/// discarded, when it is closed and the pool opens a fresh one next time.
pub(crate) struct Pooled {
    conn: Option<Object>,
    _slot: Option<OwnedSemaphorePermit>,
    discard: bool,
}

impl Pooled {
    fn new(conn: Object, slot: Option<OwnedSemaphorePermit>) -> Pooled {
        Pooled {
            conn: Some(conn),
            _slot: slot,
            discard: false,
        }
    }

    /// Whether dropping this connection closes it instead of returning it:
    /// set before a write and cleared when the write ended cleanly, so a
    /// connection left mid-transaction or mid-COPY (a fatal error, a
    /// dropped future) never reaches another user.
    pub(crate) fn discard_on_drop(&mut self, discard: bool) {
        self.discard = discard;
    }
}

impl std::ops::Deref for Pooled {
    type Target = tokio_postgres::Client;
    fn deref(&self) -> &tokio_postgres::Client {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut tokio_postgres::Client {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.discard {
                // Detached from the pool; dropping the client closes it.
                drop(Object::take(conn));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_connection_is_kept_from_the_writers_when_there_are_two_or_more() {
        let with = |n| PoolOptions {
            max_connections: n,
            ..PoolOptions::default()
        };
        assert_eq!(with(16).writer_slots(), 15);
        assert_eq!(with(2).writer_slots(), 1);
        assert_eq!(with(1).writer_slots(), 1);
        assert_eq!(with(0).writer_slots(), 1);
    }
}
