//! [`Abandon`]: giving up on an isolated reader still being opened.

use std::process::Child;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// A handle by which a reader being opened on another thread is given up
/// ([`Abandon::give_up`]): its process is killed, spawned already or once
/// it is, and its open fails without counting as a reader failure.
#[derive(Debug, Clone, Default)]
pub struct Abandon(Arc<AbandonState>);

#[derive(Debug, Default)]
struct AbandonState {
    given_up: std::sync::atomic::AtomicBool,
    child: Mutex<Option<Arc<Mutex<Child>>>>,
}

impl Abandon {
    /// Kills the reader's process, now or as soon as it is spawned.
    pub fn give_up(&self) {
        self.0.given_up.store(true, Ordering::SeqCst);
        if let Ok(slot) = self.0.child.lock() {
            if let Some(child) = slot.as_ref() {
                kill(child);
            }
        }
    }

    pub(super) fn given_up(&self) -> bool {
        self.0.given_up.load(Ordering::SeqCst)
    }

    /// Notes the spawned process; kills it if given up meanwhile (either
    /// this sees the flag or `give_up` sees the process: both take the
    /// slot's lock).
    pub(super) fn spawned(&self, child: &Arc<Mutex<Child>>) {
        if let Ok(mut slot) = self.0.child.lock() {
            *slot = Some(child.clone());
        }
        if self.given_up() {
            kill(child);
        }
    }
}

fn kill(child: &Arc<Mutex<Child>>) {
    if let Ok(mut c) = child.lock() {
        let _ = c.kill();
    }
}
