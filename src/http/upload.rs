//! Receiving an upload safely: the multipart field `file` is streamed to a
//! temporary file with a generated name inside the server's private upload
//! directory (mode 0700; the file itself 0600, created with O_EXCL), hashed
//! (SHA-256) and counted on the way. The client's filename is kept only as
//! metadata — it never becomes part of a path — so `../../etc/passwd` or two
//! uploads named alike at once cannot collide or escape. The file is removed
//! when the [`Upload`] is dropped, whatever happened to the import.
//!
//! A body over the size limit is answered 413 as soon as the limit is
//! crossed (or before reading anything, when `Content-Length` already says
//! so): it is never buffered.
//!
//! Slow and stalled bodies: a body that sends nothing for the idle timeout
//! is answered 408 and its connection closed. Every upload file — being
//! received, queued or running — holds its size from one disk budget, the
//! [`Spool`] (reserved as the bytes arrive, so a stalled body holds only
//! what it sent); a body that would go over it is answered 503 +
//! `Retry-After`. How many bodies arrive at once is bounded by the
//! connection caps (`listen`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::errors::ApiError;
use crate::source::{self, Format};

/// Room for the multipart framing around the file in a `Content-Length`.
pub const MULTIPART_SLACK: u64 = 64 * 1024;

/// A file received from a client, on disk under a generated name.
#[derive(Debug)]
pub struct Upload {
    /// The temporary file; deleted on drop.
    pub path: TempPath,
    /// The client's filename (metadata only; control characters removed).
    pub filename: String,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The format its content shows.
    pub format: Format,
    /// Its share of the [`Spool`], given back when the file is removed.
    _spooled: Option<OwnedSemaphorePermit>,
}

/// Default disk budget of every upload file at once: 2 GiB.
pub const DEFAULT_MAX_SPOOL_BYTES: u64 = 2 << 30;

/// Default time a body may send nothing before it is answered 408.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The disk budget of upload files, and how long a body may stall.
#[derive(Debug, Clone)]
pub struct Spool {
    /// Permits of 1 KiB each.
    kib: Arc<Semaphore>,
    /// Longest wait for the next bytes of a body.
    pub idle_timeout: Duration,
}

impl Spool {
    /// A budget of `max_bytes` (rounded up to whole KiB).
    pub fn new(max_bytes: u64, idle_timeout: Duration) -> Spool {
        let kib = usize::try_from(max_bytes.div_ceil(1024))
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Spool {
            kib: Arc::new(Semaphore::new(kib)),
            idle_timeout,
        }
    }

    /// Grows `held` to cover `bytes`, or 503 when the budget is spent.
    fn reserve(&self, held: &mut Option<OwnedSemaphorePermit>, bytes: u64) -> Result<(), ApiError> {
        let need = bytes.div_ceil(1024) as usize;
        let have = held.as_ref().map_or(0, OwnedSemaphorePermit::num_permits);
        if need <= have {
            return Ok(());
        }
        let more = u32::try_from(need - have).unwrap_or(u32::MAX);
        let permit = self
            .kib
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| ApiError::busy("Server busy: the upload spool is full"))?;
        match held {
            Some(h) => h.merge(permit),
            None => *held = Some(permit),
        }
        Ok(())
    }
}

/// Answers 413 before reading the body when `Content-Length` is already
/// over the limit (plus room for the multipart framing).
pub fn check_content_length(headers: &HeaderMap, max_bytes: u64) -> Result<(), ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > max_bytes.saturating_add(MULTIPART_SLACK) => {
            Err(ApiError::too_large(max_bytes))
        }
        _ => Ok(()),
    }
}

/// Reads the multipart body until the `file` field, and streams that field
/// into `dir`. Other fields are skipped.
pub async fn receive(
    mut multipart: Multipart,
    dir: &Path,
    max_bytes: u64,
    spool: &Spool,
) -> Result<Upload, ApiError> {
    loop {
        let field = stalled(spool, multipart.next_field())
            .await?
            .map_err(|e| multipart_error(e, "Invalid multipart body", max_bytes))?;
        let Some(field) = field else {
            return Err(ApiError::no_file());
        };
        if field.name() == Some("file") {
            return save(field, dir, max_bytes, spool).await;
        }
    }
}

/// `next` within the idle timeout, or 408.
async fn stalled<T>(
    spool: &Spool,
    next: impl std::future::Future<Output = T>,
) -> Result<T, ApiError> {
    tokio::time::timeout(spool.idle_timeout, next)
        .await
        .map_err(|_| ApiError::stalled(spool.idle_timeout))
}

async fn save(
    mut field: Field<'_>,
    dir: &Path,
    max_bytes: u64,
    spool: &Spool,
) -> Result<Upload, ApiError> {
    let given = client_filename(&field);
    // The extension is judged on the whole name, before it is shortened.
    let ext = accepted_extension(&given);
    let filename = clean_filename(&given);
    let Some(ext) = ext else {
        return Err(ApiError::not_excel(format!(
            "{filename:?}: accepted extensions are {}",
            Format::extension_list()
        )));
    };
    // The suffix comes from our own list, never from the client's text.
    let (file, path) = temp_file(dir, ext)?.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut spooled = None;
    while let Some(chunk) = stalled(spool, field.chunk())
        .await?
        .map_err(|e| multipart_error(e, "Upload interrupted", max_bytes))?
    {
        bytes += chunk.len() as u64;
        if bytes > max_bytes {
            return Err(ApiError::too_large(max_bytes));
        }
        spool.reserve(&mut spooled, bytes)?;
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    drop(file);
    if bytes == 0 {
        return Err(ApiError::no_file().with_detail("the uploaded file is empty"));
    }
    let format = detect(&path).await?;
    Ok(Upload {
        path,
        filename,
        sha256: source::digest::hex(&hasher.finalize()),
        bytes,
        format,
        _spooled: spooled,
    })
}

/// A new private upload file in `dir` ending `.{ext}`.
fn temp_file(dir: &Path, ext: &str) -> Result<tempfile::NamedTempFile, ApiError> {
    tempfile::Builder::new()
        .prefix("upload-")
        .suffix(&format!(".{ext}"))
        .tempfile_in(dir)
        .map_err(ApiError::internal)
}

impl Upload {
    /// An upload stored in the shared queue (see [`crate::sink::queue`]),
    /// copied by `fetch` into a private file of `dir`. `ext` is checked
    /// against the extensions sheetpipe reads.
    pub async fn from_queue<F>(
        dir: &Path,
        ext: &str,
        filename: String,
        sha256: String,
        fetch: impl FnOnce(std::path::PathBuf) -> F,
    ) -> Result<Upload, ApiError>
    where
        F: std::future::Future<Output = Result<u64, crate::sink::DbError>>,
    {
        let ext = accepted_extension(&format!("stored.{ext}")).unwrap_or("xlsx");
        let path = temp_file(dir, ext)?.into_temp_path();
        let bytes = fetch(path.to_path_buf())
            .await
            .map_err(ApiError::database)?;
        let format = detect(&path).await?;
        Ok(Upload {
            path,
            filename,
            sha256,
            bytes,
            format,
            _spooled: None,
        })
    }

    /// The extension of the file on disk (one sheetpipe reads).
    pub fn ext(&self) -> String {
        self.path
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// A broken body is a 400; a body over the router's limit a 413.
fn multipart_error(e: MultipartError, what: &str, max_bytes: u64) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(max_bytes)
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, what).with_detail(e.body_text())
    }
}

/// Judges the content by its magic bytes: only spreadsheet formats pass.
async fn detect(path: &Path) -> Result<Format, ApiError> {
    let p = path.to_path_buf();
    let format = tokio::task::spawn_blocking(move || source::detect(&p))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    match format {
        f if f.is_readable() => Ok(f),
        other => Err(ApiError::not_excel(other.unsupported_message())),
    }
}

/// The client's name for the file: the RFC 5987 `filename*` of the part's
/// `Content-Disposition` when it has one, else its plain `filename`.
fn client_filename(field: &Field<'_>) -> String {
    let extended = field
        .headers()
        .get(axum::http::header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(super::disposition::extended_filename);
    extended.unwrap_or_else(|| field.file_name().unwrap_or_default().to_string())
}

/// The lowercase extension of `filename` when it is one of a format we
/// read ([`Format::READABLE`]).
pub fn accepted_extension(filename: &str) -> Option<&'static str> {
    let (_, ext) = filename.rsplit_once('.')?;
    Format::by_extension(ext.trim()).map(|(_, e)| e)
}

/// Longest filename kept as metadata, in characters.
pub const MAX_FILENAME_CHARS: usize = 255;

/// The filename as metadata: control characters dropped, at most
/// [`MAX_FILENAME_CHARS`]; a longer name loses the end of its stem, never
/// its extension.
pub fn clean_filename(name: &str) -> String {
    let name: Vec<char> = name.chars().filter(|c| !c.is_control()).collect();
    if name.len() <= MAX_FILENAME_CHARS {
        return name.into_iter().collect();
    }
    let ext = name
        .iter()
        .rposition(|&c| c == '.')
        .map_or(0, |dot| name.len() - dot);
    let ext = if ext < MAX_FILENAME_CHARS { ext } else { 0 };
    let stem = &name[..MAX_FILENAME_CHARS - ext];
    stem.iter().chain(&name[name.len() - ext..]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_spreadsheet_extensions_are_accepted_whatever_their_case() {
        assert_eq!(accepted_extension("Report.XLSX"), Some("xlsx"));
        assert_eq!(accepted_extension("macros.xlsm"), Some("xlsm"));
        assert_eq!(accepted_extension("tabs.TSV"), Some("tsv"));
        assert_eq!(accepted_extension("a.b.csv"), Some("csv"));
        assert_eq!(accepted_extension("data.ods"), Some("ods"));
        assert_eq!(accepted_extension("../../etc/passwd"), None);
        assert_eq!(accepted_extension("evil.exe"), None);
        assert_eq!(accepted_extension("xlsx"), None);
    }

    #[test]
    fn filenames_are_kept_as_text_without_control_characters() {
        assert_eq!(clean_filename("a\r\nb\0.xlsx"), "ab.xlsx");
        assert_eq!(clean_filename(&"x".repeat(400)).len(), 255);
        let long = format!("{}.csv", "é".repeat(300));
        let kept = clean_filename(&long);
        assert_eq!(kept.chars().count(), 255);
        assert!(kept.ends_with("éé.csv"), "{kept}");
        assert_eq!(accepted_extension(&kept), Some("csv"));
        assert_eq!(clean_filename("../../etc/passwd"), "../../etc/passwd");
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_reading() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::CONTENT_LENGTH,
            "999999999".parse().unwrap(),
        );
        assert!(check_content_length(&h, 1000).is_err());
        h.insert(axum::http::header::CONTENT_LENGTH, "2000".parse().unwrap());
        assert!(check_content_length(&h, 1000).is_ok(), "framing slack");
    }

    #[test]
    fn the_spool_budget_is_held_until_the_upload_is_dropped() {
        let spool = Spool::new(4096, DEFAULT_IDLE_TIMEOUT);
        let mut a = None;
        spool.reserve(&mut a, 1).unwrap();
        spool.reserve(&mut a, 3000).unwrap();
        assert_eq!(
            a.as_ref().unwrap().num_permits(),
            3,
            "whole KiB, grown in place"
        );
        let mut b = None;
        let err = spool.reserve(&mut b, 2048).unwrap_err();
        assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(err.retry_after.is_some());
        drop(a);
        assert!(spool.reserve(&mut b, 4096).is_ok());
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            crate::source::digest::hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
