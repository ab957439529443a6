//! The source opened beside the settling of the table ([`Opening`]).

use super::{ImportJob, TableSpec};
use crate::source;

/// The source opened on a thread of its own while the table is settled,
/// so that the reader's start (its process, and an .xlsx sheet's first
/// pass, which checks the whole sheet before any row) overlaps the
/// database's introspection and the writers' connections. Not when
/// settling reads the file itself (`--create` infers the types) or for a
/// dry run. Dropped unused (settling failed), it gives the reader up: an
/// isolated reader's process is killed at once, not left to finish its
/// first pass.
pub(super) struct Opening {
    thread: Option<std::thread::JoinHandle<Opened>>,
    abandon: source::Abandon,
}

type Opened = Result<Box<dyn source::RowReader>, source::SourceError>;

impl Opening {
    pub(super) fn start(job: &ImportJob) -> Option<Opening> {
        if job.dry_run || matches!(job.spec, TableSpec::Create { .. }) {
            return None;
        }
        let (path, opts) = (job.path.clone(), job.source.clone());
        let abandon = source::Abandon::default();
        let given = abandon.clone();
        let thread = std::thread::Builder::new()
            .name("sheetpipe-open".into())
            .spawn(move || source::open_abandonable(&path, &opts, &given))
            .ok()?;
        Some(Opening {
            thread: Some(thread),
            abandon,
        })
    }

    /// The source it opened (opened here again should its thread have
    /// panicked).
    pub(super) fn finish(mut self, job: &ImportJob) -> Opened {
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(opened)) => opened,
            _ => source::open(&job.path, &job.source),
        }
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.abandon.give_up();
        }
    }
}
