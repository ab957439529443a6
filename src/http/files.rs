//! The service's files on disk: the data directory and `rejects/` (0700,
//! reports 0600), this process's private upload directory, the leftovers
//! of killed processes, and the retention of reject reports.
//!
//! Each process's uploads live in `DATA_DIR/uploads-ID/` (0700, files 0600),
//! next to `DATA_DIR/uploads-ID.lock`, which the process creates and locks
//! (`flock`) *before* it creates the directory and holds until it exits.
//! So at start, an `uploads-*` directory whose lock file can be locked (or
//! is missing) belongs to a process that is gone — killed, or the machine
//! stopped — and is removed with its files; one whose lock is held belongs
//! to a live process sharing the data directory and is left alone.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Default time reject reports are kept after their import: 30 days.
pub const DEFAULT_KEEP_REJECTS: Duration = Duration::from_secs(30 * 24 * 3600);

/// Creates `dir` (and its parents) if missing, then makes it private.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

/// This process's upload directory and the lock that says it is alive.
#[derive(Debug)]
pub struct UploadsDir {
    dir: PathBuf,
    lock_path: PathBuf,
    _lock: File,
}

impl UploadsDir {
    /// Locks `uploads-ID.lock`, then creates `uploads-ID/` (0700).
    pub fn create(data_dir: &Path) -> io::Result<UploadsDir> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let lock_path = data_dir.join(format!("uploads-{id}.lock"));
        let lock = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock_path)?;
        lock.try_lock().map_err(io::Error::other)?;
        let dir = data_dir.join(format!("uploads-{id}"));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)?;
        Ok(UploadsDir {
            dir,
            lock_path,
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for UploadsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// Removes the upload directories of processes that are gone; how many
/// files they held.
pub fn sweep_uploads(data_dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(data_dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("uploads-") || name.ends_with(".lock") {
            continue;
        }
        let lock_path = data_dir.join(format!("{name}.lock"));
        let lock = match File::open(&lock_path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Some(lock) = &lock {
            if lock.try_lock().is_err() {
                continue; // a live process
            }
        }
        let path = entry.path();
        removed += std::fs::read_dir(&path).map_or(0, |d| d.count());
        std::fs::remove_dir_all(&path)?;
        if lock.is_some() {
            let _ = std::fs::remove_file(&lock_path);
        }
    }
    Ok(removed)
}

/// SQLite serves one instance: takes the lock file `DB.serve.lock` (held
/// until the process exits), or says who holds it.
pub fn lock_sqlite(db: &Path) -> Result<File, String> {
    let mut name = db.as_os_str().to_owned();
    name.push(".serve.lock");
    let path = PathBuf::from(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))?;
    if file.try_lock().is_err() {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        return Err(format!(
            "another sheetpipe serve (pid {}) is using the SQLite database {}: SQLite \
             serves one instance; run several on PostgreSQL (lock file {})",
            holder.trim(),
            db.display(),
            path.display()
        ));
    }
    let _ = file.set_len(0);
    let _ = std::io::Write::write_all(&mut &file, std::process::id().to_string().as_bytes());
    Ok(file)
}

/// Reject reports in `dir` (`{id}.csv` and `{id}.xlsx`) last written more
/// than `keep` ago, by import id.
pub fn expired_reports(dir: &Path, keep: Duration) -> io::Result<Vec<(String, PathBuf)>> {
    let now = SystemTime::now();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name
            .strip_suffix(".csv")
            .or_else(|| name.strip_suffix(".xlsx"))
        else {
            continue;
        };
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        if now.duration_since(modified).unwrap_or_default() > keep {
            out.push((id.to_string(), entry.path()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_processs_uploads_are_swept_and_a_live_ones_kept() {
        let data = tempfile::tempdir().unwrap();
        let live = UploadsDir::create(data.path()).unwrap();
        std::fs::write(live.path().join("upload-a.xlsx"), b"x").unwrap();
        // A killed process: its lock file stays, unlocked, with its files.
        let dead_dir = data.path().join("uploads-dead");
        std::fs::write(data.path().join("uploads-dead.lock"), b"").unwrap();
        std::fs::create_dir(&dead_dir).unwrap();
        std::fs::write(dead_dir.join("upload-b.xlsx"), b"y").unwrap();
        // Older servers left directories without a lock file.
        std::fs::create_dir(data.path().join("uploads-old")).unwrap();
        std::fs::write(data.path().join("uploads-old/upload-c.csv"), b"z").unwrap();
        assert_eq!(sweep_uploads(data.path()).unwrap(), 2);
        assert!(!dead_dir.exists());
        assert!(!data.path().join("uploads-dead.lock").exists());
        assert!(!data.path().join("uploads-old").exists());
        assert!(live.path().join("upload-a.xlsx").exists(), "still in use");
    }

    #[test]
    fn a_second_lock_on_one_sqlite_database_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let held = lock_sqlite(&db).unwrap();
        let err = lock_sqlite(&db).unwrap_err();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("SQLite serves one instance"), "{err}");
        drop(held);
        assert!(lock_sqlite(&db).is_ok(), "released with its holder");
    }

    #[cfg(unix)]
    #[test]
    fn private_directories_are_0700() {
        use std::os::unix::fs::PermissionsExt;
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("d/rejects");
        private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let up = UploadsDir::create(data.path()).unwrap();
        let mode = std::fs::metadata(up.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn both_reject_reports_of_an_import_expire() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.csv", "a.xlsx", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let mut found: Vec<String> = expired_reports(dir.path(), Duration::ZERO)
            .unwrap()
            .into_iter()
            .map(|(id, p)| format!("{id} {}", p.file_name().unwrap().to_string_lossy()))
            .collect();
        found.sort();
        assert_eq!(found, ["a a.csv", "a a.xlsx"]);
    }
}
