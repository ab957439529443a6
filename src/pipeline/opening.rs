//! The source opened beside the settling of the table ([`Opening`]).

use super::{ImportJob, TableSpec};
use crate::source;

/// The source opened on a thread of its own while the table is settled,
/// so that the reader's start (its process, and an .xlsx sheet's first
/// pass, which checks the whole sheet before any row) overlaps the
/// database's introspection and the writers' connections. Not when
/// settling reads the file itself (`--create` infers the types) or for a
/// dry run. Dropped unused when settling fails: the thread ends once the
/// source is open, and its reader (an isolated one's process) with it; a
/// CLI process that exits first leaves the isolated reader to end at its
/// first write into the closed pipe (after an .xlsx sheet's first pass,
/// within the reader's CPU limit).
pub(super) struct Opening(
    std::thread::JoinHandle<Result<Box<dyn source::RowReader>, source::SourceError>>,
);

impl Opening {
    pub(super) fn start(job: &ImportJob) -> Option<Opening> {
        if job.dry_run || matches!(job.spec, TableSpec::Create { .. }) {
            return None;
        }
        let (path, opts) = (job.path.clone(), job.source.clone());
        std::thread::Builder::new()
            .name("sheetpipe-open".into())
            .spawn(move || source::open(&path, &opts))
            .ok()
            .map(Opening)
    }

    /// The source it opened (opened here again should its thread have
    /// panicked).
    pub(super) fn finish(
        self,
        job: &ImportJob,
    ) -> Result<Box<dyn source::RowReader>, source::SourceError> {
        self.0
            .join()
            .unwrap_or_else(|_| source::open(&job.path, &job.source))
    }
}
