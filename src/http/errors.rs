//! Every error answer of the service: a status code and `{"error": …}`
//! (plus an optional `detail`). The tutorial's messages are kept word for
//! word; internal details are logged once and never sent to the client.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::pipeline::Method;

/// Seconds a client is asked to wait after a 503 for load.
pub const RETRY_AFTER_SECS: u64 = 5;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `error` field.
    pub error: String,
    /// An optional `detail` field (safe for clients).
    pub detail: Option<String>,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
    /// More fields of the body, beside `error` and `detail`.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    /// An answer with `status` and `error`.
    pub fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.into(),
            detail: None,
            retry_after: None,
            fields: serde_json::Map::new(),
        }
    }

    /// Adds a `detail` field.
    pub fn with_detail(mut self, detail: impl Into<String>) -> ApiError {
        self.detail = Some(detail.into());
        self
    }

    /// Adds a field `key` to the body.
    pub fn with_field(mut self, key: &str, value: serde_json::Value) -> ApiError {
        self.fields.insert(key.to_string(), value);
        self
    }

    /// The tutorial's 400 when the multipart body has no `file` field.
    pub fn no_file() -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "No file uploaded")
    }

    /// The tutorial's 400 for a file type we do not read.
    pub fn not_excel(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "Only Excel files allowed").with_detail(detail)
    }

    /// The tutorial's 400 for an unknown `method`, listing every method.
    pub fn invalid_method() -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, invalid_method_message())
    }

    /// 413: the upload is over the configured limit.
    pub fn too_large(limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("File too large: the limit is {limit} bytes"),
        )
        .with_detail("raise it with --max-upload-bytes / SHEETPIPE_MAX_UPLOAD_BYTES")
    }

    /// 503 with `Retry-After`: every running and queue slot is taken, or
    /// the server is shutting down.
    pub fn busy(why: &str) -> ApiError {
        ApiError {
            retry_after: Some(RETRY_AFTER_SECS),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, why)
        }
    }

    /// 408: the body sent nothing for `idle`; the connection is closed.
    pub fn stalled(idle: std::time::Duration) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("Upload stalled: no data for {}s", idle.as_secs()),
        )
        .with_detail("raise it with --upload-idle-timeout / SHEETPIPE_UPLOAD_IDLE_TIMEOUT")
    }

    /// 404 for an unknown import id.
    pub fn no_import(id: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("No import with id {id}"))
    }

    /// 500 whose cause is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }

    /// 503: the database did not answer.
    pub fn database(cause: impl std::fmt::Display) -> ApiError {
        tracing::warn!(error = %cause, "database unavailable");
        ApiError {
            retry_after: Some(RETRY_AFTER_SECS),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Database unavailable")
        }
        .with_detail(cause.to_string())
    }
}

/// `Invalid method. Use: sequential, concurrent, batch, or copy` — built
/// from [`Method::ALL`] so a new method is listed without editing this.
pub fn invalid_method_message() -> String {
    let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
    let (last, rest) = names.split_last().expect("at least one method");
    format!("Invalid method. Use: {}, or {last}", rest.join(", "))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.error });
        if let Some(d) = self.detail {
            body["detail"] = json!(d);
        }
        for (k, v) in self.fields {
            body[k] = v;
        }
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body is not read: the connection cannot be reused.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// axum's `Query`, whose rejection (a bad number, an unknown value) is a
/// JSON 400 like every other error instead of plain text.
#[derive(Debug)]
pub struct JsonQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for JsonQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(JsonQuery(q)),
            Err(e) => Err(
                ApiError::new(StatusCode::BAD_REQUEST, "Invalid query string")
                    .with_detail(e.body_text()),
            ),
        }
    }
}

/// The longest `X-Request-Id` kept from a client.
pub const MAX_REQUEST_ID: usize = 64;

/// Whether a client's `X-Request-Id` is safe to log and echo: 1 to
/// [`MAX_REQUEST_ID`] characters of `A-Z a-z 0-9 . _ : -`. Anything else
/// (spaces, quotes, `=`, control or non-ASCII bytes that could forge log
/// fields) is replaced by a generated id.
pub fn is_clean_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_method_message_lists_every_method_like_the_tutorial() {
        assert_eq!(
            invalid_method_message(),
            "Invalid method. Use: sequential, concurrent, batch, or copy"
        );
    }

    #[test]
    fn only_plain_request_ids_are_kept() {
        assert!(is_clean_request_id(b"trace-me-42"));
        assert!(is_clean_request_id(b"7f0c1a2b-0000-4000-8000-000000000000"));
        assert!(!is_clean_request_id(b""));
        assert!(!is_clean_request_id(b"a status=500 user=admin"));
        assert!(!is_clean_request_id(b"x\"y"));
        assert!(!is_clean_request_id("caf\u{e9}".as_bytes()));
        assert!(!is_clean_request_id(&[b'a'; 65]));
    }

    #[test]
    fn busy_answers_carry_retry_after() {
        let r = ApiError::busy("Server busy").into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");
    }
}
