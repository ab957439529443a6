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

/// Runs one import (with `extra` arguments); its JSON report, or what was
/// wrong with how it ended.
fn import_one(file: &Path, db: &Path, extra: &[&str]) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new(bin());
    cmd.args(["import", "--json", "--database-url"])
        .arg(format!("sqlite://{}", db.display()))
        .args(["--max-reader-memory", &(2u64 << 30).to_string()])
        .args(extra)
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

fn judge(
    status: std::process::ExitStatus,
    stdout: &str,
    stderr: &str,
) -> Result<serde_json::Value, String> {
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
            (Some(t), Some(o), Some(b)) if o + b == t => Ok(v),
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
        Ok(v)
    }
}

/// Every file of the corpus, sorted, or `None` (skipped) without it.
fn corpus_files() -> Option<Vec<PathBuf>> {
    let corpus = crate::corpus::corpus_or_skip()?;
    let mut files = Vec::new();
    files_under(&corpus, &mut files);
    files.sort();
    assert!(
        files.len() > 400,
        "the corpus looks incomplete: {} files",
        files.len()
    );
    Some(files)
}

/// Runs `check` on every file (index, file, worker's SQLite database) on
/// four threads; the failures, each naming its file.
fn over_corpus(
    files: &[PathBuf],
    check: impl Fn(usize, &Path, &Path) -> Result<(), String> + Sync,
) -> Vec<String> {
    let queue = Mutex::new(files.iter().enumerate().collect::<Vec<_>>());
    let failures = Mutex::new(Vec::new());
    let dir = tempdir();
    std::thread::scope(|s| {
        for worker in 0..4 {
            let (queue, failures, dir, check) = (&queue, &failures, dir.path(), &check);
            s.spawn(move || {
                let db = dir.join(format!("corpus{worker}.db"));
                while let Some((i, file)) = queue.lock().unwrap().pop() {
                    if let Err(why) = check(i, file, &db) {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{}: {why}", file.display()));
                    }
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

#[test]
fn every_corpus_file_is_imported_or_refused_clearly_within_bounds() {
    let Some(files) = corpus_files() else {
        return;
    };
    let failures = over_corpus(&files, |_, file, db| import_one(file, db, &[]).map(|_| ()));
    assert!(
        failures.is_empty(),
        "{} of {} corpus files did not end cleanly:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// The data rows of `sheet` an independent reader (calamine) sees below
/// the header row `header`: non-blank rows, numbered as the sheet shows
/// them. `None` when calamine cannot read the file.
fn rows_below(file: &Path, sheet: &str, header: u64) -> Option<u64> {
    use calamine::{Data, Reader};
    let mut wb = calamine::open_workbook_auto(file).ok()?;
    let name = match sheet {
        "" => wb.sheet_names().first()?.clone(),
        s => s.to_string(),
    };
    let range = wb.worksheet_range(&name).ok()?;
    let first = u64::from(range.start().map_or(0, |(r, _)| r)) + 1;
    let blank = |c: &Data| match c {
        Data::Empty => true,
        Data::String(s) => s.chars().all(sheetpipe::record::is_space),
        _ => false,
    };
    let rows = range
        .rows()
        .enumerate()
        .filter(|(i, row)| first + *i as u64 > header && !row.iter().all(blank))
        .count();
    Some(rows as u64)
}

/// Issue 11: with `--create`, every file with a header row is imported
/// into a table made from it — no row lost: the rows read are the rows an
/// independent reader sees below the header, and the table holds every
/// row not rejected — or fails with a clear error.
#[test]
fn every_corpus_file_imports_with_create_or_fails_clearly_and_loses_no_row() {
    let Some(files) = corpus_files() else {
        return;
    };
    let spreadsheet = |f: &Path| {
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or_default();
        ["xlsx", "xlsm", "xls", "xlsb", "ods"].contains(&ext.to_ascii_lowercase().as_str())
    };
    let imported = std::sync::atomic::AtomicUsize::new(0);
    let compared = std::sync::atomic::AtomicUsize::new(0);
    let failures = over_corpus(&files, |i, file, db| {
        let table = format!("corpus_{i}");
        let v = import_one(file, db, &["--table", &table, "--create"])?;
        if v.get("error").is_some() {
            return Ok(());
        }
        imported.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stats = &v["stats"];
        let read = stats["total_records"].as_u64().unwrap_or_default();
        let ok = stats["success_count"].as_u64().unwrap_or_default();
        let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
        let in_table: u64 = conn
            .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
                r.get(0)
            })
            .map_err(|e| format!("the created table cannot be read: {e}"))?;
        if in_table != ok {
            return Err(format!(
                "{ok} rows reported inserted, {in_table} in the table"
            ));
        }
        if !spreadsheet(file) {
            return Ok(());
        }
        let sheet = v["sheet"].as_str().unwrap_or_default();
        let header = v["header"]["row"].as_u64().unwrap_or_default();
        match rows_below(file, sheet, header) {
            Some(n) if n == read => {
                compared.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            Some(n) => Err(format!(
                "read {read} rows below header row {header} of {sheet:?}; calamine sees {n}"
            )),
            None => Ok(()),
        }
    });
    let (imported, compared) = (imported.into_inner(), compared.into_inner());
    eprintln!("--create: {imported} of {} corpus files imported, {compared} row counts checked against calamine", files.len());
    assert!(
        failures.is_empty(),
        "{} of {} corpus files lost rows or did not end cleanly with --create:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    // Most of the rest have no header row at all (a sheet of numbers or
    // dates, an empty sheet): "no header row found … row 1 has [1, 2]".
    assert!(
        imported * 3 > files.len(),
        "only {imported} files imported with --create"
    );
}
