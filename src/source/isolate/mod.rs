//! Parser crash isolation. With [`Isolation`] set, [`super::open`] does not
//! parse the file in this process: it starts `sheetpipe __read FILE` (this
//! same program) under an address-space and CPU ceiling, and a
//! [`ChildReader`] turns the rows it streams back ([`super::wire`]) into the
//! usual [`RowReader`]. An abort, a stack overflow, runaway memory or a hang
//! inside a parser then ends that child — and that one import, with a clear
//! error — never the process running the import (the HTTP service).
//!
//! Also here: [`Timed`], the wall-time limit every reader gets.

mod abandon;
mod wire;

pub use abandon::Abandon;

use std::io::{BufReader, BufWriter, Read, Write};
use std::ops::ControlFlow;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use self::wire::Frame;
use super::{Format, Limits, RowReader, SourceError, SourceOptions};
use crate::model::RawRow;

/// Where to run isolated readers: the `sheetpipe` executable to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolation {
    /// Path of the `sheetpipe` binary (it must understand `__read`).
    pub program: PathBuf,
}

impl Isolation {
    /// Isolation with the running executable (for the `sheetpipe` binary).
    pub fn current_exe() -> std::io::Result<Isolation> {
        Ok(Isolation {
            program: std::env::current_exe()?,
        })
    }
}

/// The hidden subcommand's work, in the child: open `path` here (guard and
/// all) and stream frames to stdout. Returns the process exit code.
pub fn serve(path: &Path, sheet: Option<String>, limits: Limits) -> u8 {
    let opts = SourceOptions {
        sheet,
        limits,
        ..SourceOptions::default()
    };
    let mut out = BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
    // A write error means the parent went away (cancelled): nothing is
    // left to tell anyone, so it is not an error of this process.
    let _ = serve_to(path, &opts, &mut out).and_then(|()| out.flush());
    // Measured runs (bench, memory tests) learn this process's peak too.
    crate::bench::measure::report_peak_rss();
    0
}

/// Rows between two progress frames from the isolated reader (one also
/// follows the first row).
const PROGRESS_EVERY: u64 = 1024;

fn serve_to(path: &Path, opts: &SourceOptions, out: &mut impl Write) -> std::io::Result<()> {
    let mut reader = match super::open(path, opts) {
        Ok(r) => r,
        Err(e) => return wire::write_error(out, &e),
    };
    wire::write_opened(out, reader.format(), reader.sheet_name())?;
    wire::write_progress(out, opts.progress.position())?;
    let mut io_error = None;
    let mut rows = 0u64;
    let result = reader.read(&mut |row| {
        rows += 1;
        let mut sent = wire::write_row(out, &row);
        // The first row's frame carries the total the reader has just set.
        if sent.is_ok() && (rows == 1 || rows.is_multiple_of(PROGRESS_EVERY)) {
            sent = wire::write_progress(out, opts.progress.position());
        }
        match sent {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                io_error = Some(e);
                ControlFlow::Break(())
            }
        }
    });
    if let Some(e) = io_error {
        return Err(e);
    }
    if result.is_ok() {
        opts.progress.finish();
    }
    wire::write_progress(out, opts.progress.position())?;
    for warning in reader.warnings() {
        wire::write_warning(out, &warning)?;
    }
    match result {
        Ok(()) => wire::write_done(out),
        Err(e) => wire::write_error(out, &e),
    }
}

/// How an isolated reader process failed (a label of `/metrics`'
/// `sheetpipe_reader_failures_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderFailure {
    /// The process could not be started.
    Spawn,
    /// It ran past `--max-seconds` (killed by the watchdog or SIGXCPU).
    Timeout,
    /// It ran out of its `--max-reader-memory` ceiling.
    Memory,
    /// It died otherwise: a signal (abort, stack overflow) or a bad exit.
    Crash,
    /// It sent a stream that is not the wire protocol.
    Protocol,
}

impl ReaderFailure {
    /// Every kind, in the order of [`ReaderFailures`].
    pub const ALL: [ReaderFailure; 5] = [
        ReaderFailure::Spawn,
        ReaderFailure::Timeout,
        ReaderFailure::Memory,
        ReaderFailure::Crash,
        ReaderFailure::Protocol,
    ];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            ReaderFailure::Spawn => "spawn",
            ReaderFailure::Timeout => "timeout",
            ReaderFailure::Memory => "memory",
            ReaderFailure::Crash => "crash",
            ReaderFailure::Protocol => "protocol",
        }
    }
}

/// Counts of reader-process failures by kind, since this process started
/// (or since the [`SourceOptions`] holding them was made).
#[derive(Debug, Default)]
pub struct ReaderFailures([std::sync::atomic::AtomicU64; 5]);

impl ReaderFailures {
    /// Counts one failure.
    pub fn note(&self, kind: ReaderFailure) {
        self.0[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Failures of `kind` so far.
    pub fn get(&self, kind: ReaderFailure) -> u64 {
        self.0[kind as usize].load(Ordering::Relaxed)
    }
}

/// Kills a reader's process (a no-op once it has been reaped).
fn kill(child: &Arc<Mutex<Child>>) {
    if let Ok(mut c) = child.lock() {
        let _ = c.kill();
    }
}

/// Reads rows from an isolated `sheetpipe __read` process.
pub struct ChildReader {
    child: Arc<Mutex<Child>>,
    stdout: BufReader<ChildStdout>,
    stderr: Option<std::thread::JoinHandle<String>>,
    watchdog: Option<mpsc::Sender<()>>,
    timed_out: Arc<std::sync::atomic::AtomicBool>,
    abandon: Abandon,
    format: Format,
    sheet: String,
    opts: SourceOptions,
    warnings: Vec<String>,
}

impl ChildReader {
    /// Starts the child and waits for it to open the file, unless `abandon`
    /// gives up on it first.
    pub fn open(
        iso: &Isolation,
        path: &Path,
        opts: &SourceOptions,
        abandon: &Abandon,
    ) -> Result<Self, SourceError> {
        let mut cmd = command(iso, path, opts);
        // Names the file, never the program: a client must not learn where
        // the server's binary is (the log has it).
        let spawn_error = |e: std::io::Error| {
            opts.reader_failures.note(ReaderFailure::Spawn);
            tracing::error!(program = %iso.program.display(), "cannot start the reader process: {e}");
            SourceError::Io {
                path: path.display().to_string(),
                source: std::io::Error::new(
                    e.kind(),
                    format!("cannot start the reader process: {e}"),
                ),
            }
        };
        let mut child = cmd.spawn().map_err(spawn_error)?;
        let stdout = BufReader::with_capacity(256 * 1024, child.stdout.take().expect("piped"));
        let mut stderr_pipe = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let _ = (&mut stderr_pipe).take(8 * 1024).read_to_end(&mut kept);
            let _ = std::io::copy(&mut stderr_pipe, &mut std::io::sink());
            String::from_utf8_lossy(&kept).into_owned()
        });
        let child = Arc::new(Mutex::new(child));
        abandon.spawned(&child);
        let timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watchdog = watchdog(
            child.clone(),
            timed_out.clone(),
            Duration::from_secs(opts.limits.max_seconds),
        );
        let mut reader = ChildReader {
            child,
            stdout,
            stderr: Some(stderr),
            watchdog: Some(watchdog),
            timed_out,
            abandon: abandon.clone(),
            format: Format::Binary,
            sheet: String::new(),
            opts: opts.clone(),
            warnings: Vec::new(),
        };
        let first = reader.next();
        if abandon.given_up() {
            return Err(SourceError::Io {
                path: path.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    "the import stopped before the file was opened",
                ),
            });
        }
        match first? {
            Frame::Opened(format, sheet) => {
                reader.format = format;
                reader.sheet = sheet;
                Ok(reader)
            }
            Frame::Error(e) => Err(e),
            other => Err(reader.protocol_error(&format!("unexpected first frame {other:?}"))),
        }
    }

    /// The next frame; the child's death or a broken stream becomes the
    /// error that explains it.
    fn next(&mut self) -> Result<Frame, SourceError> {
        match wire::read_frame(&mut self.stdout) {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => Err(self.died()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(self.died()),
            Err(e) => Err(self.protocol_error(&e.to_string())),
        }
    }

    fn protocol_error(&mut self, what: &str) -> SourceError {
        self.kill();
        self.opts.reader_failures.note(ReaderFailure::Protocol);
        SourceError::Corrupt {
            format: self.format.name(),
            message: format!("the reader process sent a broken stream ({what})"),
        }
    }

    /// Explains why the child stopped without finishing.
    fn died(&mut self) -> SourceError {
        let status = self.wait();
        if self.abandon.given_up() {
            // Killed on purpose: no reader failure (`open` says why).
            return SourceError::Empty;
        }
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if self.timed_out.load(Ordering::Relaxed) || status.signal() == Some(libc::SIGXCPU) {
            self.opts.reader_failures.note(ReaderFailure::Timeout);
            return SourceError::Limit(self.opts.limits.check_seconds(Duration::MAX).unwrap_err());
        }
        if stderr.contains("memory allocation of") || stderr.contains("capacity overflow") {
            self.opts.reader_failures.note(ReaderFailure::Memory);
            return SourceError::Limit(self.opts.limits.reader_memory_exceeded());
        }
        let last = stderr
            .lines()
            .rfind(|l| !l.trim().is_empty() && !l.starts_with("note:"))
            .unwrap_or("no message")
            .trim();
        self.opts.reader_failures.note(ReaderFailure::Crash);
        let how = match status.signal() {
            Some(sig) => format!("was killed by signal {sig} ({})", signal_name(sig)),
            None => format!("exited with status {}", status.code().unwrap_or(-1)),
        };
        SourceError::Corrupt {
            format: self.format.name(),
            message: format!("the parser crashed on this file: the reader process {how}: {last}"),
        }
    }

    fn kill(&mut self) {
        kill(&self.child);
    }

    /// Waits for the child to exit without holding its lock, so that the
    /// watchdog can still kill a child that closed its output but hangs.
    fn wait(&mut self) -> ExitStatus {
        let status = loop {
            match self.child.lock().map(|mut c| c.try_wait()) {
                Ok(Ok(Some(status))) => break status,
                Ok(Ok(None)) => std::thread::sleep(Duration::from_millis(2)),
                _ => break ExitStatus::from_raw(0),
            }
        };
        drop(self.watchdog.take());
        status
    }
}

/// `sheetpipe __read --limits-json=… [--sheet=…] -- FILE` with the rlimits
/// set in the child. Every value is glued to its flag (`--sheet=-2024`) and
/// the file comes after `--`, so no value can be read as a flag.
fn command(iso: &Isolation, path: &Path, opts: &SourceOptions) -> Command {
    let mut cmd = Command::new(&iso.program);
    cmd.args(read_args(path, opts))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("RUST_BACKTRACE", "0");
    let (memory, cpu) = (opts.limits.max_reader_memory, opts.limits.max_seconds);
    // SAFETY: the closure runs in the forked child before exec and only
    // calls `getrlimit`/`setrlimit`, which are async-signal-safe; it touches no
    // allocator, lock or other state shared with the parent's threads.
    // This is the only way to bound a child's memory and CPU time from
    // the start (measured need: calamine aborts the whole process on
    // some files, see docs/ROBUSTNESS.md).
    unsafe {
        cmd.pre_exec(move || {
            set_limit(libc::RLIMIT_AS, memory)?;
            set_limit(libc::RLIMIT_CPU, cpu.saturating_add(1))?;
            set_limit(libc::RLIMIT_CORE, 0)
        });
    }
    cmd
}

/// The arguments of the `__read` child (see [`command`]).
fn read_args(path: &Path, opts: &SourceOptions) -> Vec<std::ffi::OsString> {
    let limits_json = serde_json::to_string(&opts.limits).expect("limits serialize");
    let mut args: Vec<std::ffi::OsString> = vec![
        "__read".into(),
        format!("--limits-json={limits_json}").into(),
    ];
    if let Some(sheet) = &opts.sheet {
        args.push(format!("--sheet={sheet}").into());
    }
    args.push("--".into());
    args.push(path.into());
    args
}

/// Kills the child when `limit` passes, unless the sender is dropped first.
fn watchdog(
    child: Arc<Mutex<Child>>,
    timed_out: Arc<std::sync::atomic::AtomicBool>,
    limit: Duration,
) -> mpsc::Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            timed_out.store(true, Ordering::Relaxed);
            kill(&child);
        }
    });
    tx
}

/// Lowers `resource` to `value` (never above the hard limit this process
/// inherited, which an unprivileged process cannot raise).
fn set_limit(resource: libc::__rlimit_resource_t, value: u64) -> std::io::Result<()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls with a valid pointer to a local struct.
    if unsafe { libc::getrlimit(resource, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let value = (value as libc::rlim_t).min(lim.rlim_max);
    lim.rlim_cur = value;
    lim.rlim_max = value;
    // SAFETY: as above.
    if unsafe { libc::setrlimit(resource, &lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGABRT => "SIGABRT: the parser aborted",
        libc::SIGSEGV => "SIGSEGV: a stack overflow or memory fault in the parser",
        libc::SIGKILL => "SIGKILL",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        _ => "signal",
    }
}

impl Drop for ChildReader {
    fn drop(&mut self) {
        self.kill();
        let _ = self.wait();
    }
}

impl RowReader for ChildReader {
    fn format(&self) -> Format {
        self.format
    }

    fn sheet_name(&self) -> &str {
        &self.sheet
    }

    fn read(&mut self, emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>) -> Result<(), SourceError> {
        loop {
            match self.next()? {
                Frame::Row(row) => {
                    if emit(row).is_break() {
                        self.kill();
                        return Ok(());
                    }
                }
                Frame::Progress(at) => self.opts.progress.set(at),
                Frame::Warning(text) => self.warnings.push(text),
                Frame::Done => {
                    let status = self.wait();
                    if !status.success() {
                        return Err(self.died());
                    }
                    if let Some(stderr) = self.stderr.take().and_then(|h| h.join().ok()) {
                        crate::bench::measure::forward_reader_peak_rss(&stderr);
                    }
                    return Ok(());
                }
                Frame::Error(e) => {
                    let _ = self.wait();
                    return Err(e);
                }
                Frame::Opened(..) => return Err(self.protocol_error("a second 'opened' frame")),
            }
        }
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

/// Any reader under the wall-time limit, counted from when it was opened,
/// and the row-size limit (in the reader child, before a row is sent, so
/// the parent never receives a row over it).
/// (A parser stuck without producing rows is only stopped by isolation.)
pub struct Timed {
    /// The reader.
    pub inner: Box<dyn RowReader>,
    /// When the import started reading.
    pub started: Instant,
    /// The limits (for `max_seconds`).
    pub limits: Limits,
}

impl RowReader for Timed {
    fn format(&self) -> Format {
        self.inner.format()
    }

    fn sheet_name(&self) -> &str {
        self.inner.sheet_name()
    }

    fn warnings(&self) -> Vec<String> {
        self.inner.warnings()
    }

    fn read(&mut self, emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>) -> Result<(), SourceError> {
        let mut late = None;
        let (started, limits) = (self.started, &self.limits);
        let format = self.inner.format();
        let inner = &mut self.inner;
        let result = catch_parser_panic(format, || {
            inner.read(&mut |row| {
                let checked = limits
                    .check_seconds(started.elapsed())
                    .and_then(|()| limits.check_row_bytes(row.number, row_bytes(&row)));
                if let Err(e) = checked {
                    late = Some(e);
                    return ControlFlow::Break(());
                }
                emit(row)
            })
        });
        match late {
            Some(e) => Err(e.into()),
            None => result,
        }
    }
}

/// The text bytes of a row's cells (numbers and booleans count 8).
fn row_bytes(row: &RawRow) -> u64 {
    use crate::model::Cell;
    row.cells
        .iter()
        .map(|c| match c {
            Cell::Empty => 0,
            Cell::Int(_) | Cell::Float(_) | Cell::Bool(_) => 8,
            Cell::Text(t) | Cell::DateTime(t) | Cell::Error(t) | Cell::FormulaWithoutValue(t) => {
                t.len() as u64
            }
        })
        .sum()
}

/// Runs parser code, turning a panic inside it (calamine panics on some
/// malformed xlsb files, found by fuzzing) into that file's error instead
/// of a crashed reader stage. Aborts are not panics: only isolation stops
/// those. The panic message still reaches stderr through the panic hook.
pub(crate) fn catch_parser_panic<T>(
    format: Format,
    f: impl FnOnce() -> Result<T, SourceError>,
) -> Result<T, SourceError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let why = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(SourceError::Corrupt {
                format: format.name(),
                message: format!("the parser failed on this file ({why})"),
            })
        }
    }
}

#[cfg(test)]
mod tests;
