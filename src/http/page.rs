//! `GET /` and `GET /page/{file}`: the importer page, plain HTML, CSS and
//! JavaScript embedded in the binary (nothing fetched from the network).
//! Both routes are open (`auth::OPEN_ROUTES`): the page holds no data; it
//! asks for an API key when the service answers 401 and sends it on every
//! call as `Authorization: Bearer` (kept in `sessionStorage`, no cookies).
//!
//! The page's Content-Security-Policy is stricter than the service's
//! default: scripts and styles only from its own files, requests only to
//! this origin, no images, frames or forms elsewhere. The page puts every
//! value into the document with `textContent`, never as HTML.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;

const INDEX: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const APP_CSS: &str = include_str!("page/app.css");

/// The page's Content-Security-Policy.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'; \
     form-action 'none'";

fn asset_response(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    r
}

/// `GET /`: the importer page.
#[utoipa::path(
    get,
    path = "/",
    tag = "page",
    summary = "The importer page (HTML)",
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
    )
)]
pub async fn index() -> Response {
    asset_response(INDEX, "text/html; charset=utf-8")
}

/// `GET /page/{file}`: the page's script (`app.js`) and style (`app.css`).
#[utoipa::path(
    get,
    path = "/page/{file}",
    tag = "page",
    summary = "The importer page's script and style",
    params(("file" = String, Path, description = "app.js or app.css")),
    responses(
        (status = 200, description = "The file", content_type = "text/plain", body = String),
        (status = 404, description = "No such file", body = super::openapi::ErrorBody),
    )
)]
pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    match file.as_str() {
        "app.js" => Ok(asset_response(APP_JS, "text/javascript; charset=utf-8")),
        "app.css" => Ok(asset_response(APP_CSS, "text/css; charset=utf-8")),
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, "Not found")),
    }
}
