//! Accepting connections: HTTP/1.1 on hyper with a header read timeout, and
//! a cap on open connections, in total and per client address.
//!
//! `axum::serve` exposes neither, so the service runs its own accept loop:
//! each accepted socket first takes a place at the [`Gate`] (a semaphore for
//! the total, a counted map for the client's address); a socket beyond
//! either cap is answered `503` + `Retry-After` without reading from it and
//! closed. Then hyper serves it with a timer, so a client that does not send
//! a whole request head within `header_timeout` is disconnected — that also
//! bounds how long an idle keep-alive connection stays open.
//!
//! Shutdown: `stop` ends the accept loop (the listener is dropped: new
//! connections are refused) and asks every open connection to finish its
//! request in flight and close; `kill` drops whatever is still open.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::errors::RETRY_AFTER_SECS;

/// How connections are bounded (each a `serve` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Longest time to receive a request's line and headers (also the
    /// longest an idle keep-alive connection stays open).
    pub header_timeout: Duration,
    /// Open connections at once; beyond → 503 and closed.
    pub max_connections: usize,
    /// Open connections from one client address; 0 = no per-address cap
    /// (behind a load balancer, every client has its address).
    pub max_per_client: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_timeout: Duration::from_secs(10),
            max_connections: 512,
            max_per_client: 64,
        }
    }
}

/// Where connections take their place: the total and per-address counts.
#[derive(Debug)]
pub struct Gate {
    total: Arc<Semaphore>,
    per_client: Mutex<HashMap<IpAddr, usize>>,
    max_per_client: usize,
}

/// A connection's place at the [`Gate`], given back when dropped.
#[derive(Debug)]
pub struct Place {
    _permit: OwnedSemaphorePermit,
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut map = self
            .gate
            .per_client
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Gate {
    /// A gate for `limits`.
    pub fn new(limits: &ConnLimits) -> Arc<Gate> {
        Arc::new(Gate {
            total: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            per_client: Mutex::default(),
            max_per_client: limits.max_per_client,
        })
    }

    /// A place for one more connection from `ip`, or why there is none.
    pub fn enter(self: &Arc<Gate>, ip: IpAddr) -> Result<Place, &'static str> {
        let permit = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| "Server busy: too many open connections")?;
        let mut map = self.per_client.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if self.max_per_client > 0 && *n >= self.max_per_client {
            if *n == 0 {
                map.remove(&ip);
            }
            return Err("Server busy: too many open connections from your address");
        }
        *n += 1;
        Ok(Place {
            _permit: permit,
            gate: self.clone(),
            ip,
        })
    }
}

/// Accepts until `stop`, serving each connection with `app` on `conns`.
pub async fn accept_loop(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    stop: CancellationToken,
    kill: CancellationToken,
    conns: TaskTracker,
) {
    let gate = Gate::new(&limits);
    loop {
        let accepted = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, or the peer gave up: go on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match gate.enter(peer.ip()) {
            Ok(place) => {
                let conn = serve_one(
                    stream,
                    app.clone(),
                    limits.header_timeout,
                    place,
                    stop.clone(),
                );
                let kill = kill.clone();
                conns.spawn(async move {
                    tokio::select! {
                        () = kill.cancelled() => {}
                        () = conn => {}
                    }
                });
            }
            Err(why) => {
                tracing::warn!(client = %peer.ip(), "{why}: connection refused");
                refuse(stream, why);
            }
        }
    }
    tracing::info!("listener closed");
}

/// Serves one connection until it ends; on `stop`, finishes the request in
/// flight and closes.
async fn serve_one(
    stream: TcpStream,
    app: Router,
    header_timeout: Duration,
    place: Place,
    stop: CancellationToken,
) {
    let _place = place;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => return log_end(r),
        () = stop.cancelled() => {}
    }
    conn.as_mut().graceful_shutdown();
    log_end(conn.await);
}

fn log_end(r: Result<(), hyper::Error>) {
    if let Err(e) = r {
        tracing::debug!(error = %e, "connection ended");
    }
}

/// Answers 503 without reading the request, then closes the socket.
fn refuse(stream: TcpStream, why: &str) {
    let body = serde_json::json!({ "error": why }).to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: {RETRY_AFTER_SECS}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    // Best effort: a fresh socket's send buffer takes these few bytes.
    let _ = stream.try_write(answer.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per: usize) -> ConnLimits {
        ConnLimits {
            max_connections: total,
            max_per_client: per,
            ..ConnLimits::default()
        }
    }

    #[test]
    fn the_gate_caps_connections_per_address_and_in_total() {
        let gate = Gate::new(&limits(3, 2));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = gate.enter(a).unwrap();
        let _a2 = gate.enter(a).unwrap();
        assert!(gate.enter(a).unwrap_err().contains("your address"));
        let _b1 = gate.enter(b).unwrap();
        assert!(gate
            .enter(b)
            .unwrap_err()
            .contains("too many open connections"));
        drop(a1);
        assert!(gate.enter(a).is_ok(), "a closed connection frees its place");
    }

    #[test]
    fn zero_means_no_cap_per_address() {
        let gate = Gate::new(&limits(3, 0));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<Place> = (0..3).map(|_| gate.enter(a).unwrap()).collect();
        assert!(gate.enter(a).is_err(), "the total still holds");
        drop(held);
        assert!(gate.per_client.lock().unwrap().is_empty());
    }
}
