//! Robustness over the whole public corpus: every file of the shared
//! corpus (`testkit::locate_corpus`; real Excel files, calamine's bug reproductions, CSV
//! edge cases) goes through the real
//! `sheetpipe import` on SQLite, each under a time bound and an
//! address-space bound: it is imported, or it ends with a clear error —
//! never a signal, a panic, a hang or a blown bound.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::helpers::{bin, tempdir};

/// Longest one file may take (debug build, shared CI machine).
const TIME_BOUND: Duration = Duration::from_secs(60);
/// Address-space ceiling of the importing process (and so of its reader).
const MEMORY_BOUND: u64 = 3 << 30;
/// Exit codes that mean "imported" or "a clear error about the file".
const CLEAR: [i32; 3] = [0, 3, 4];

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Runs one import; `Err` says what was wrong with how it ended.
fn import_one(file: &Path, db: &Path) -> Result<(), String> {
    let mut cmd = Command::new(bin());
    cmd.args(["import", "--json", "--database-url"])
        .arg(format!("sqlite://{}", db.display()))
        .args(["--max-reader-memory", &(2u64 << 30).to_string()])
        .arg(file)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: runs in the forked child before exec and only calls
    // setrlimit (async-signal-safe) on a local struct: the memory bound.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            let lim = libc::rlimit {
                rlim_cur: MEMORY_BOUND as libc::rlim_t,
                rlim_max: MEMORY_BOUND as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    // Drain the pipes on threads so a chatty child never blocks.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out_pipe, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err_pipe, &mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIME_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("hung: still running after {TIME_BOUND:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    judge(status, &stdout, &stderr)
}

fn judge(status: std::process::ExitStatus, stdout: &str, stderr: &str) -> Result<(), String> {
    let Some(code) = status.code() else {
        return Err(format!("killed by a signal ({status}); stderr: {stderr}"));
    };
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        return Err(format!("panic: {stderr}"));
    }
    if !CLEAR.contains(&code) {
        return Err(format!("exit code {code}: {stderr}"));
    }
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("stdout is not one JSON object ({e}): {stdout}"))?;
    if code == 0 {
        let s = &v["stats"];
        let (total, ok, bad) = (
            s["total_records"].as_u64(),
            s["success_count"].as_u64(),
            s["error_count"].as_u64(),
        );
        match (total, ok, bad) {
            (Some(t), Some(o), Some(b)) if o + b == t => Ok(()),
            _ => Err(format!("imported, but the counts do not add up: {stdout}")),
        }
    } else {
        let message = v["error"].as_str().unwrap_or_default();
        let line = stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_default();
        if message.trim().is_empty() || line.is_empty() {
            return Err(format!(
                "exit {code} without a clear error: {stdout} / {stderr}"
            ));
        }
        Ok(())
    }
}

#[test]
fn every_corpus_file_is_imported_or_refused_clearly_within_bounds() {
    let Some(corpus) = crate::corpus::corpus_or_skip() else {
        return;
    };
    let mut files = Vec::new();
    files_under(&corpus, &mut files);
    files.sort();
    assert!(
        files.len() > 400,
        "the corpus looks incomplete: {} files",
        files.len()
    );
    let queue = Mutex::new(files.clone());
    let failures = Mutex::new(Vec::new());
    let dir = tempdir();
    std::thread::scope(|s| {
        for worker in 0..4 {
            let (queue, failures, dir) = (&queue, &failures, dir.path());
            s.spawn(move || {
                let db = dir.join(format!("corpus{worker}.db"));
                while let Some(file) = queue.lock().unwrap().pop() {
                    if let Err(why) = import_one(&file, &db) {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{}: {why}", file.display()));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} corpus files did not end cleanly:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
