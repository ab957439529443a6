//! Who may do what: API keys (`Authorization: Bearer KEY`), roles, the
//! ownership of imports, and the browser's safety — the Origin of
//! state-changing requests, the security headers of every answer, CORS
//! only when configured.
//!
//! One middleware ([`guard`]) decides every request before its handler
//! runs, from the route's pattern (axum's `MatchedPath`) and the method:
//!
//! | route | needs |
//! |---|---|
//! | `/health`, `/`, `/page/{file}`, `/openapi.json` | nothing (open) |
//! | `/metrics` | admin, or nothing with `--metrics open` |
//! | any other `GET`/`HEAD` (list, status, events, rejects, tables) | reader |
//! | any other method (upload, cancel, undo) | importer |
//!
//! A route under `/imports/{id}` is also checked for ownership: a key that
//! is not admin reaches only the imports it made; any other id answers 404
//! exactly as an unknown one does, so ids cannot be probed. The key is
//! looked up in the `api_keys` table on every request (one indexed
//! lookup), so a revoked key stops working at once, on every instance.
//!
//! With `--auth off` no key is asked for and every caller is taken for an
//! anonymous admin; the Origin check and the headers still apply.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;
use super::AppState;
use crate::sink::keys::{key_hash, Role};

/// Whether requests must carry a key (`serve --auth`, `SHEETPIPE_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Every request but the open routes needs a live key.
    Required,
    /// No key is asked for: everyone may do everything.
    Off,
}

impl AuthMode {
    /// `required` or `off`.
    pub fn parse(s: &str) -> Option<AuthMode> {
        match s.trim() {
            "required" => Some(AuthMode::Required),
            "off" => Some(AuthMode::Off),
            _ => None,
        }
    }

    /// The default for a service listening on `addr`: off only on a
    /// loopback address, which no other machine can reach.
    pub fn default_for(addr: std::net::SocketAddr) -> AuthMode {
        if addr.ip().is_loopback() {
            AuthMode::Off
        } else {
            AuthMode::Required
        }
    }
}

/// Who may read `/metrics` (`serve --metrics`, `SHEETPIPE_METRICS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Only admin keys (the default).
    Admin,
    /// Anyone who can reach the service (for a scraper on a private network).
    Open,
}

/// The service's access settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Keys required or not.
    pub mode: AuthMode,
    /// Origins besides the service's own whose browsers may send
    /// state-changing requests, and which get CORS headers
    /// (`--allowed-origins`, exact `scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
    /// Who may read `/metrics`.
    pub metrics: MetricsAccess,
}

impl Default for AuthConfig {
    /// Off (as for a loopback address), no other origin, metrics admin-only.
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::Off,
            allowed_origins: Vec::new(),
            metrics: MetricsAccess::Admin,
        }
    }
}

/// The caller of a request, as the [`guard`] established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's name; `None` without a key (`--auth off`, open routes).
    pub key: Option<String>,
    /// What it may do.
    pub role: Role,
}

impl Caller {
    /// Everyone, when auth is off.
    fn anonymous() -> Caller {
        Caller {
            key: None,
            role: Role::Admin,
        }
    }

    /// The imports this caller may list: `None` for all (admin), else the
    /// key's own.
    pub fn sees_only(&self) -> Option<&str> {
        match self.role {
            Role::Admin => None,
            // A non-admin without a key (an open route) sees nothing.
            _ => Some(self.key.as_deref().unwrap_or("")),
        }
    }

    /// The owner recorded for an import this caller makes.
    pub fn owner(&self) -> Option<String> {
        self.key.clone()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::internal("no caller: the auth guard did not run"))
    }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Nothing,
    Role(Role),
}

/// Routes anyone may reach, keys or not: the health check, the importer
/// page and its files (the page asks for the key and sends it with its
/// API calls), the published contract.
pub(crate) const OPEN_ROUTES: [&str; 4] = ["/health", "/", "/page/{file}", "/openapi.json"];

fn need(method: &Method, route: Option<&str>, metrics: MetricsAccess) -> Need {
    match route {
        Some(r) if OPEN_ROUTES.contains(&r) => Need::Nothing,
        Some("/metrics") if metrics == MetricsAccess::Open => Need::Nothing,
        Some("/metrics") => Need::Role(Role::Admin),
        _ if is_safe(method) => Need::Role(Role::Reader),
        _ => Need::Role(Role::Importer),
    }
}

/// Methods that change nothing (and that browsers send cross-origin
/// freely, which is why the others are checked for their Origin).
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware: Origin, key, role, ownership, in that order.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match check(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn check(state: &AppState, req: Request) -> Result<Request, ApiError> {
    let auth = &state.config.auth;
    if !is_safe(req.method()) {
        check_origin(req.headers(), &auth.allowed_origins)?;
    }
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str());
    let needed = need(req.method(), route, auth.metrics);
    let caller = match (auth.mode, needed) {
        (AuthMode::Off, _) => Caller::anonymous(),
        (AuthMode::Required, Need::Nothing) => Caller {
            key: None,
            role: Role::Reader,
        },
        (AuthMode::Required, Need::Role(role)) => {
            let caller = authenticate(state, req.headers()).await?;
            if let Some(name) = &caller.key {
                tracing::Span::current().record("key_name", tracing::field::display(name));
            }
            if !caller.role.covers(role) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("Forbidden: this needs a key with the {role} role"),
                )
                .with_detail(format!(
                    "the key {} is a {} key",
                    caller.key.as_deref().unwrap_or("-"),
                    caller.role
                )));
            }
            caller
        }
    };
    let (mut parts, body) = req.into_parts();
    if caller.role != Role::Admin {
        check_owner(state, &mut parts, &caller).await?;
    }
    parts.extensions.insert(caller);
    Ok(Request::from_parts(parts, body))
}

/// 401 with `WWW-Authenticate: Bearer` (RFC 6750).
fn unauthorized(error: &str, why: &str) -> ApiError {
    let challenge = if error.is_empty() {
        "Bearer realm=\"sheetpipe\"".to_string()
    } else {
        format!("Bearer realm=\"sheetpipe\", error=\"{error}\"")
    };
    ApiError::new(StatusCode::UNAUTHORIZED, why)
        .with_detail("send Authorization: Bearer KEY with a key made by `sheetpipe keys create`")
        .with_header(header::WWW_AUTHENTICATE, challenge)
}

/// The live key of the request's `Authorization: Bearer` header.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (value, more) = (values.next(), values.next());
    let Some(value) = value else {
        return Err(unauthorized("", "Authentication required: no API key"));
    };
    let token = value
        .to_str()
        .ok()
        .filter(|_| more.is_none())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(unauthorized(
            "invalid_request",
            "Authentication required: the Authorization header is not one `Bearer KEY`",
        ));
    };
    match state.sink.find_key(&key_hash(token)).await {
        Ok(Some((name, role))) => Ok(Caller {
            key: Some(name),
            role,
        }),
        Ok(None) => Err(unauthorized(
            "invalid_token",
            "Invalid API key: unknown or revoked",
        )),
        Err(e) => Err(ApiError::database(e)),
    }
}

/// An import another key made answers 404, as an unknown one does.
async fn check_owner(state: &AppState, parts: &mut Parts, caller: &Caller) -> Result<(), ApiError> {
    let is_import = parts
        .extensions
        .get::<MatchedPath>()
        .is_some_and(|m| m.as_str().starts_with("/imports/{id}"));
    if !is_import {
        return Ok(());
    }
    // The id as the handler will see it (percent-decoded, normalized), so
    // that no spelling of it slips past this check.
    let Ok(Path(params)) = Path::<HashMap<String, String>>::from_request_parts(parts, &()).await
    else {
        return Ok(()); // the handler answers its own 400/404
    };
    let Some(id) = params
        .get("id")
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
    else {
        return Ok(()); // not a UUID: the handler's 404
    };
    let id = id.to_string();
    match state.sink.import_owner(&id).await {
        Ok(None) => Ok(()), // unknown: the handler's 404
        Ok(Some(owner)) if owner.is_some() && owner == caller.key => Ok(()),
        Ok(Some(_)) => Err(ApiError::no_import(&id)),
        Err(e) => Err(ApiError::database(e)),
    }
}

/// A state-changing request sent by a browser from another site is
/// refused: its `Origin` must be the service's own (the `Host` it was sent
/// to, over http or https) or one of `allowed`. Requests without an Origin
/// (curl, scripts; browsers always send one with a cross-origin POST) pass.
pub fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("(not text)");
    if allowed.iter().any(|a| a == origin) {
        return Ok(());
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    if let (Some(a), Some(h)) = (authority, host) {
        if a.eq_ignore_ascii_case(h) {
            return Ok(());
        }
    }
    Err(
        ApiError::new(StatusCode::FORBIDDEN, "Cross-origin request refused").with_detail(format!(
            "Origin {origin} is not this service's ({}) nor in --allowed-origins",
            host.unwrap_or("no Host")
        )),
    )
}

/// The Content-Security-Policy of every answer: only this origin's own
/// files, no inline script or style, no plugins, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Adds the security headers to every answer (a handler's own, stricter
/// or more precise policy is kept).
pub async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    response
}

/// CORS for the configured origins only; `None` (no CORS headers at all)
/// when there are none.
pub fn cors(config: &AuthConfig) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> = config
        .allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                header::LOCATION,
                header::RETRY_AFTER,
                header::HeaderName::from_static("x-request-id"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Checks `--allowed-origins` entries: each `http(s)://host[:port]`, no
/// path, no trailing slash (a browser's Origin never has one).
pub fn check_allowed_origin(origin: &str) -> Result<String, String> {
    let o = origin.trim();
    let rest = o
        .strip_prefix("http://")
        .or_else(|| o.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.contains('/') && HeaderValue::from_str(o).is_ok() => {
            Ok(o.to_string())
        }
        _ => Err(format!(
            "--allowed-origins: {origin:?} is not an origin like https://app.example.com[:port]"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn only_the_own_origin_or_a_listed_one_may_change_state() {
        let none: &[String] = &[];
        assert!(check_origin(&headers(None, "h:1"), none).is_ok());
        assert!(check_origin(&headers(Some("http://h:1"), "h:1"), none).is_ok());
        assert!(check_origin(&headers(Some("https://H:1"), "h:1"), none).is_ok());
        assert!(check_origin(&headers(Some("http://evil.example"), "h:1"), none).is_err());
        assert!(check_origin(&headers(Some("null"), "h:1"), none).is_err());
        assert!(check_origin(&headers(Some("http://h:2"), "h:1"), none).is_err());
        let listed = ["https://app.example".to_string()];
        assert!(check_origin(&headers(Some("https://app.example"), "h:1"), &listed).is_ok());
    }

    #[test]
    fn routes_need_the_role_their_method_says() {
        let m = MetricsAccess::Admin;
        assert_eq!(need(&Method::GET, Some("/health"), m), Need::Nothing);
        assert_eq!(
            need(&Method::GET, Some("/imports"), m),
            Need::Role(Role::Reader)
        );
        assert_eq!(
            need(&Method::POST, Some("/imports/{id}/undo"), m),
            Need::Role(Role::Importer)
        );
        assert_eq!(
            need(&Method::DELETE, Some("/imports/{id}"), m),
            Need::Role(Role::Importer)
        );
        assert_eq!(need(&Method::GET, None, m), Need::Role(Role::Reader));
        assert_eq!(
            need(&Method::GET, Some("/metrics"), m),
            Need::Role(Role::Admin)
        );
        assert_eq!(
            need(&Method::GET, Some("/metrics"), MetricsAccess::Open),
            Need::Nothing
        );
    }

    #[test]
    fn allowed_origins_are_bare_origins() {
        assert!(check_allowed_origin("https://app.example:8443").is_ok());
        assert!(check_allowed_origin("https://app.example/").is_err());
        assert!(check_allowed_origin("app.example").is_err());
        assert!(check_allowed_origin("*").is_err());
    }
}
