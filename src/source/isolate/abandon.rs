//! [`Abandon`]: giving up on an isolated reader still being opened.

use std::process::Child;
use std::sync::{Arc, Mutex};

use super::kill;

/// A handle by which a reader being opened on another thread is given up
/// ([`Abandon::give_up`]): its process is killed, spawned already or once
/// it is, and its open fails without counting as a reader failure.
#[derive(Debug, Clone, Default)]
pub struct Abandon(Arc<Mutex<State>>);

#[derive(Debug, Default)]
struct State {
    given_up: bool,
    child: Option<Arc<Mutex<Child>>>,
}

impl Abandon {
    /// Kills the reader's process, now or as soon as it is spawned.
    pub fn give_up(&self) {
        if let Ok(mut s) = self.0.lock() {
            s.given_up = true;
            if let Some(child) = &s.child {
                kill(child);
            }
        }
    }

    pub(super) fn given_up(&self) -> bool {
        self.0.lock().is_ok_and(|s| s.given_up)
    }

    /// Notes the spawned process, killing it if given up already.
    pub(super) fn spawned(&self, child: &Arc<Mutex<Child>>) {
        if let Ok(mut s) = self.0.lock() {
            if s.given_up {
                kill(child);
            }
            s.child = Some(child.clone());
        }
    }
}
