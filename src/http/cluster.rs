//! This instance among others on one PostgreSQL database
//! ([`crate::sink::instances`]): it registers when it starts, renews its
//! lease every [`HEARTBEAT`] (picking up cancels asked of other instances),
//! sweeps the unfinished imports of instances whose lease expired every
//! lease period (queueing again those whose upload is stored, see
//! [`crate::sink::queue`]), notes which of its queued imports another
//! instance claimed, and deregisters after a clean shutdown. On SQLite (one
//! instance) only the start-up sweep runs: it marks every unfinished import.

use std::time::Duration;

use super::AppState;
use crate::sink::imports::now;
use crate::sink::DbError;

/// How often the lease is renewed and cancels from elsewhere are read.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// Registers this instance, then marks failed the imports that instances
/// gone (lease expired) left unfinished.
pub async fn join(state: &AppState) -> Result<(), DbError> {
    let host = hostname();
    state
        .sink
        .register_instance(&state.instance_id, &host)
        .await?;
    sweep(state).await
}

async fn sweep(state: &AppState) -> Result<(), DbError> {
    let n = state.sink.sweep_expired(state.config.lease, &now()).await?;
    if n > 0 {
        tracing::warn!(
            count = n,
            "imports left unfinished by a server that is gone marked failed"
        );
    }
    Ok(())
}

/// Heartbeats and sweeps until the task is dropped.
pub async fn run(state: AppState) {
    let per_sweep = (state.config.lease.as_millis() / HEARTBEAT.as_millis()).max(1);
    let mut beats = 0u128;
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        match state.sink.heartbeat(&state.instance_id).await {
            Ok(cancels) => {
                for id in cancels {
                    if let Some(job) = state.registry.get(&id) {
                        if !job.ctl.cancel.is_cancelled() {
                            tracing::info!(import_id = %id, "cancel requested through another server");
                            job.ctl.cancel.cancel();
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot renew this server's lease"),
        }
        let queued = state.registry.queued_ids();
        match state.sink.taken_from(&state.instance_id, &queued).await {
            Ok(taken) => {
                for id in taken {
                    if let Some(job) = state.registry.get(&id) {
                        job.taken.cancel();
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read which imports others claimed"),
        }
        beats += 1;
        // SQLite's sweep marks every unfinished import (there is no other
        // owner): only at start, never beside this instance's own imports.
        if state.sink.backend() == "postgres" && beats.is_multiple_of(per_sweep) {
            if let Err(e) = sweep(&state).await {
                tracing::warn!(error = %e, "cannot sweep imports of servers that are gone");
            }
        }
    }
}

/// Removes this instance's registration (every import of it has ended).
pub async fn leave(state: &AppState) {
    if let Err(e) = state.sink.deregister_instance(&state.instance_id).await {
        tracing::warn!(error = %e, "cannot deregister this server");
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
