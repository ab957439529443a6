//! API keys, roles and ownership over real HTTP: every role against every
//! endpoint, a revocation from another process counting on the very next
//! request, imports invisible to other keys, the Origin check of
//! state-changing requests, the security headers of every answer, CORS only
//! when configured, and the `--auth` defaults of a real `serve` process.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sheetpipe::http::auth::AuthMode;
use sheetpipe::sink::keys::{generate_key, key_hash, Role};

use super::process::ServeProcess;
use super::{sheet_bytes, spawn_app_with, TestApp};
use crate::helpers::{bin, TestDb};

/// Creates a key in the app's database (as `keys create` does); the key.
pub(crate) async fn key(app: &TestApp, name: &str, role: Role) -> String {
    let key = generate_key();
    let at = sheetpipe::sink::imports::now();
    let sink = app.db.bare_sink().await;
    assert!(sink
        .create_key(name, role, &key_hash(&key), &at)
        .await
        .unwrap());
    key
}

/// A request to `path` with `key` (or none): status, headers, body text.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    key: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    // The same file is sent again on purpose: allow it (issue 14).
    let url = match (method == Method::POST, path.contains('?')) {
        (true, true) => format!("{}&allow_reimport=true", app.url(path)),
        (true, false) => format!("{}?allow_reimport=true", app.url(path)),
        _ => app.url(path),
    };
    let mut req = app.client.request(method.clone(), url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if method == Method::POST {
        // A new file each time (the same file twice is refused, 409).
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let part = reqwest::multipart::Part::bytes(sheet_bytes(2, &tag[..8])).file_name("a.xlsx");
        req = req.multipart(reqwest::multipart::Form::new().part("file", part));
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

/// Starts a background import as `key`; its id, once it has ended.
async fn import_as(app: &TestApp, key: &str) -> String {
    let (status, _, body) = call(app, Method::POST, "/imports", Some(key)).await;
    assert_eq!(status, 202, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    for _ in 0..1200 {
        let (_, _, body) = call(app, Method::GET, &format!("/imports/{id}"), Some(key)).await;
        let v: Value = serde_json::from_str(&body).unwrap();
        if matches!(
            v["status"].as_str(),
            Some("completed" | "failed" | "cancelled")
        ) {
            return id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("import {id} never ended");
}

async fn required_app() -> TestApp {
    spawn_app_with(TestDb::postgres().await, |c| {
        c.auth.mode = AuthMode::Required;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_endpoint() {
    let app = required_app().await;
    let reader = key(&app, "reader-1", Role::Reader).await;
    let importer = key(&app, "importer-1", Role::Importer).await;
    let other = key(&app, "importer-2", Role::Importer).await;
    let admin = key(&app, "admin-1", Role::Admin).await;
    let bad = generate_key();
    let own = import_as(&app, &importer).await;
    let theirs = import_as(&app, &other).await;

    // (method, path, expected status for: none, bad, reader, importer, admin)
    use Method as M;
    let imp = format!("/imports/{own}");
    let table: Vec<(M, String, [u16; 5])> = vec![
        (M::GET, "/health".into(), [200, 200, 200, 200, 200]),
        (M::GET, "/imports".into(), [401, 401, 200, 200, 200]),
        (M::POST, "/upload".into(), [401, 401, 403, 200, 200]),
        (M::POST, "/imports".into(), [401, 401, 403, 202, 202]),
        // The importer's own import: another key's id is 404, as unknown.
        (M::GET, imp.clone(), [401, 401, 404, 200, 200]),
        (M::GET, format!("{imp}/events"), [401, 401, 404, 200, 200]),
        (
            M::GET,
            format!("{imp}/rejects.csv"),
            [401, 401, 404, 200, 200],
        ),
        (
            M::GET,
            format!("{imp}/rejects.xlsx"),
            [401, 401, 404, 200, 200],
        ),
        // Ended: the owner and admin reach it and get 409; the reader may
        // not cancel at all.
        (M::DELETE, imp.clone(), [401, 401, 403, 409, 409]),
        // Another importer's import.
        (
            M::GET,
            format!("/imports/{theirs}"),
            [401, 401, 404, 404, 200],
        ),
        (
            M::DELETE,
            format!("/imports/{theirs}"),
            [401, 401, 403, 404, 409],
        ),
        (
            M::GET,
            format!("/imports/{theirs}/rejects.csv"),
            [401, 401, 404, 404, 200],
        ),
        (M::GET, "/tables".into(), [401, 401, 200, 200, 200]),
        (
            M::GET,
            "/tables/businesses".into(),
            [401, 401, 200, 200, 200],
        ),
        // Unknown paths ask for a key before saying 404.
        (M::GET, "/nowhere".into(), [401, 401, 404, 404, 404]),
    ];
    let keys = [
        None,
        Some(bad.as_str()),
        Some(&reader),
        Some(&importer),
        Some(&admin),
    ];
    for (method, path, want) in &table {
        for (k, want) in keys.iter().zip(want) {
            let (status, headers, body) = call(&app, method.clone(), path, *k).await;
            let who = ["none", "bad", "reader", "importer", "admin"]
                [keys.iter().position(|x| x == k).unwrap()];
            assert_eq!(status.as_u16(), *want, "{method} {path} as {who}: {body}");
            if status == 401 {
                let challenge = headers["www-authenticate"].to_str().unwrap();
                assert!(challenge.starts_with("Bearer"), "{challenge}");
            }
            if status == 404 && path.contains(&theirs) {
                assert!(body.contains("No import with id"), "{body}");
            }
        }
    }

    // Lists: each importer its own, the reader none of them, admin all.
    let list = |k: String| {
        let app = &app;
        async move {
            let (_, _, body) = call(app, Method::GET, "/imports?limit=100", Some(&k)).await;
            let v: Value = serde_json::from_str(&body).unwrap();
            let ids: Vec<String> = v["imports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
                .collect();
            (ids, v["total"].as_i64().unwrap())
        }
    };
    let (mine, total) = list(importer.clone()).await;
    assert!(mine.contains(&own) && !mine.contains(&theirs), "{mine:?}");
    assert_eq!(total as usize, mine.len());
    let (seen, _) = list(reader.clone()).await;
    assert!(seen.is_empty(), "{seen:?}");
    let (all, total) = list(admin.clone()).await;
    assert!(all.contains(&own) && all.contains(&theirs));
    // 2 background imports + the uploads of the table above.
    assert_eq!(total as usize, all.len());
    // Each import names its owner: in the status and in the table.
    let (_, _, body) = call(&app, Method::GET, &imp, Some(&admin)).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["owner"], "importer-1");
    let rows = app
        .db
        .query(&format!("SELECT owner FROM imports WHERE id = '{theirs}'"))
        .await;
    assert_eq!(rows[0][0].as_deref(), Some("importer-2"));
    // The same file from another key is refused without naming the first
    // import (its id, name and counts are not this key's to see).
    let same = sheet_bytes(3, "same");
    let send = |k: &str| {
        let part = reqwest::multipart::Part::bytes(same.clone()).file_name("same.xlsx");
        app.client
            .post(app.url("/upload"))
            .bearer_auth(k)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
    };
    let first: Value = send(&importer).await.unwrap().json().await.unwrap();
    let first_id = first["import_id"].as_str().unwrap().to_string();
    let r = send(&other).await.unwrap();
    assert_eq!(r.status(), 409);
    let body = r.text().await.unwrap();
    assert!(body.contains("another API key"), "{body}");
    assert!(
        !body.contains(&first_id) && !body.contains("same.xlsx"),
        "{body}"
    );
    let r = send(&importer).await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(
        r.text().await.unwrap().contains(&first_id),
        "its own: named"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_by_another_process_fails_its_very_next_request() {
    let app = required_app().await;
    let k = key(&app, "soon-gone", Role::Admin).await;
    let (status, _, _) = call(&app, Method::GET, "/imports", Some(&k)).await;
    assert_eq!(status, 200);
    let out = Command::new(bin())
        .args(["keys", "revoke", "soon-gone", "--database-url", &app.db.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No wait, no retry: the next request already fails.
    let (status, headers, body) = call(&app, Method::GET, "/imports", Some(&k)).await;
    assert_eq!(status, 401, "{body}");
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let (status, _, _) = call(&app, Method::POST, "/upload", Some(&k)).await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_origin_post_is_refused_before_it_does_anything() {
    for auth in [AuthMode::Off, AuthMode::Required] {
        let app = spawn_app_with(TestDb::postgres().await, |c| c.auth.mode = auth).await;
        let k = key(&app, "web", Role::Importer).await;
        let post = |origin: &'static str| {
            let part = reqwest::multipart::Part::bytes(sheet_bytes(1, "o")).file_name("a.xlsx");
            app.client
                .post(app.url("/upload"))
                .bearer_auth(&k)
                .header("origin", origin)
                .multipart(reqwest::multipart::Form::new().part("file", part))
                .send()
        };
        let r = post("https://evil.example").await.unwrap();
        assert_eq!(r.status(), 403, "{auth:?}");
        assert!(r.headers().get("access-control-allow-origin").is_none());
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "Cross-origin request refused");
        assert!(v["detail"]
            .as_str()
            .unwrap()
            .contains("https://evil.example"));
        assert_eq!(app.imports_table("id").await.len(), 0, "nothing recorded");
        // A DELETE too.
        let r = app
            .client
            .delete(app.url(&format!("/imports/{}", uuid::Uuid::new_v4())))
            .bearer_auth(&k)
            .header("origin", "null")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        // The service's own page (Origin = the Host it was sent to) may.
        let own: &'static str = Box::leak(app.base.clone().into_boxed_str());
        let r = post(own).await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        // A cross-origin GET changes nothing and is left to the key check.
        let r = app
            .client
            .get(app.url("/imports"))
            .bearer_auth(&k)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "no CORS unless configured"
        );
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_origins_may_post_and_get_cors_headers() {
    let app = spawn_app_with(TestDb::postgres().await, |c| {
        c.auth.mode = AuthMode::Required;
        c.auth.allowed_origins = vec!["https://app.example".into()];
    })
    .await;
    let k = key(&app, "spa", Role::Importer).await;
    // The browser's preflight carries no key and is answered.
    let r = app
        .client
        .request(Method::OPTIONS, app.url("/imports"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    let part = reqwest::multipart::Part::bytes(sheet_bytes(1, "c")).file_name("a.xlsx");
    let r = app
        .client
        .post(app.url("/imports"))
        .bearer_auth(&k)
        .header("origin", "https://app.example")
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    // Another origin still gets neither.
    let r = app
        .client
        .request(Method::OPTIONS, app.url("/imports"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_nosniff_and_the_content_security_policy() {
    let app = required_app().await;
    let k = key(&app, "h", Role::Reader).await;
    let answers = [
        call(&app, Method::GET, "/health", None).await,
        call(&app, Method::GET, "/imports", None).await,
        call(&app, Method::GET, "/imports", Some(&k)).await,
        call(&app, Method::POST, "/upload", Some(&k)).await,
        call(&app, Method::GET, "/nowhere", Some(&k)).await,
        call(&app, Method::PUT, "/imports", Some(&k)).await,
    ];
    for (status, headers, _) in &answers {
        assert_eq!(headers["x-content-type-options"], "nosniff", "{status}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{status}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }
    app.stop().await;
}

/// `serve` on `bind` with extra args and env (`DATABASE_URL` set), its
/// stderr piped: the process.
fn serve(db: &TestDb, bind: &str, args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
    let data = db.url.strip_prefix("sqlite://").map_or_else(
        || std::env::temp_dir().join(format!("sheetpipe-auth-{}", uuid::Uuid::new_v4())),
        |p| std::path::Path::new(p).with_extension("data"),
    );
    let mut cmd = Command::new(bin());
    cmd.args(["serve", "--bind", bind, "--data-dir"])
        .arg(&data)
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env_remove("RUST_LOG")
        .env_remove("SHEETPIPE_AUTH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("sheetpipe listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    // A wildcard bind is reached on loopback.
    let port = addr.rsplit_once(':').unwrap().1;
    ServeProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
    }
}

/// Stops `server` and returns its log.
async fn log_of(mut server: ServeProcess) -> String {
    let mut stderr = server.child.stderr.take().unwrap();
    assert_eq!(server.terminate().await, 0);
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    log
}

async fn status_of(server: &ServeProcess, path: &str, key: Option<&str>) -> u16 {
    let mut req = server.client.get(format!("{}{path}", server.base));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_is_off_by_default_only_on_loopback_and_said_loudly() {
    let db = TestDb::sqlite();
    // Loopback, no flag: off, with a warning line.
    let s = serve(&db, "127.0.0.1:0", &[], &[]);
    assert_eq!(status_of(&s, "/imports", None).await, 200);
    let log = log_of(s).await;
    assert!(log.contains("AUTHENTICATION IS OFF"), "{log}");
    assert!(log.contains("WARN"), "{log}");
    // Every address: required without a flag.
    let s = serve(&db, "0.0.0.0:0", &[], &[]);
    assert_eq!(status_of(&s, "/imports", None).await, 401);
    assert_eq!(status_of(&s, "/health", None).await, 200);
    let log = log_of(s).await;
    assert!(!log.contains("AUTHENTICATION IS OFF"), "{log}");
    assert!(log.contains("no live API key"), "{log}");
    // Off on every address only when asked for (here by the variable),
    // and then said.
    let s = serve(&db, "0.0.0.0:0", &[], &[("SHEETPIPE_AUTH", "off")]);
    assert_eq!(status_of(&s, "/imports", None).await, 200);
    let log = log_of(s).await;
    assert!(log.contains("AUTHENTICATION IS OFF (--auth off)"), "{log}");
    // And required on loopback when asked for.
    let s = serve(&db, "127.0.0.1:0", &["--auth", "required"], &[]);
    assert_eq!(status_of(&s, "/imports", None).await, 401);
    drop(log_of(s).await);
}

/// Makes a key with the real CLI; the key it printed.
fn cli_key(db: &TestDb, name: &str, role: &str) -> String {
    let out = Command::new(bin())
        .args(["keys", "create", "--name", name, "--role", role])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the key alone on stdout: {stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("only time it is shown"));
    lines[0].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_name_the_key_and_never_contain_it() {
    let db = TestDb::sqlite();
    let key = cli_key(&db, "ci-bot", "importer");
    for format in ["json", "text"] {
        let s = serve(
            &db,
            "127.0.0.1:0",
            &["--auth", "required", "--log-format", format],
            &[],
        );
        let csv = format!("name,email\nAcme {format},a@acme.com\n");
        let part = reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("a.csv");
        let r = s
            .client
            .post(format!("{}/upload?allow_reimport=true", s.base))
            .bearer_auth(&key)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(status_of(&s, "/imports", Some(&key)).await, 200);
        assert_eq!(status_of(&s, "/imports", Some("sp_wrong")).await, 401);
        let log = log_of(s).await;
        assert!(!log.contains(&key), "the key itself is in the log:\n{log}");
        assert!(
            !log.contains(&key[3..20]),
            "part of the key is in the log:\n{log}"
        );
        assert!(
            !log.contains('\u{1b}'),
            "ANSI codes in a redirected log:\n{log}"
        );
        let requests: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("finished processing request"))
            .collect();
        assert_eq!(requests.len(), 3, "one line per request:\n{log}");
        if format == "json" {
            for line in log.lines() {
                let v: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                assert!(
                    v["level"].is_string() && v["timestamp"].is_string(),
                    "{line}"
                );
            }
            let lines: Vec<Value> = requests
                .iter()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            for (v, (route, status, key_name)) in lines.iter().zip([
                ("/upload", 200, Some("ci-bot")),
                ("/imports", 200, Some("ci-bot")),
                ("/imports", 401, None),
            ]) {
                let span = &v["span"];
                assert_eq!(span["route"], route, "{v}");
                let method = if route == "/upload" { "POST" } else { "GET" };
                assert_eq!(span["method"], method, "{v}");
                assert!(span["request_id"].as_str().is_some(), "{v}");
                assert_eq!(v["status"], status, "{v}");
                assert!(v["latency"].as_str().is_some(), "{v}");
                assert_eq!(span["key_name"].as_str(), key_name, "{v}");
            }
        } else {
            assert!(requests[0].contains("key_name=ci-bot"), "{}", requests[0]);
            assert!(requests[0].contains("route=/upload"), "{}", requests[0]);
            assert!(!requests[2].contains("key_name"), "{}", requests[2]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_live_in_every_backend_and_filter_the_history() {
    let mut dbs = vec![TestDb::postgres().await, TestDb::sqlite()];
    dbs.extend(TestDb::mysql().await);
    for db in dbs {
        let backend = db.backend();
        let a = cli_key(&db, "a", "importer");
        // The same name again is refused (exit 2), even once revoked.
        let again = Command::new(bin())
            .args(["keys", "create", "--name", "a", "--role", "admin"])
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap();
        assert_eq!(again.status.code(), Some(2), "{backend}");
        let sink = db.sink().await;
        assert_eq!(
            sink.find_key(&key_hash(&a)).await.unwrap(),
            Some(("a".to_string(), Role::Importer)),
            "{backend}"
        );
        let stored = db.query("SELECT key_sha256 FROM api_keys").await;
        assert_eq!(
            stored[0][0].as_deref(),
            Some(key_hash(&a).as_str()),
            "{backend}"
        );
        let revoke = |name: &str| {
            Command::new(bin())
                .args(["keys", "revoke", name])
                .env("DATABASE_URL", &db.url)
                .output()
                .unwrap()
        };
        assert!(revoke("a").status.success(), "{backend}");
        assert_eq!(revoke("nobody").status.code(), Some(2), "{backend}");
        assert_eq!(
            sink.find_key(&key_hash(&a)).await.unwrap(),
            None,
            "{backend}"
        );
        let list = Command::new(bin())
            .args(["keys", "list", "--json"])
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&list.stdout).unwrap();
        assert_eq!(v["keys"][0]["name"], "a", "{backend}");
        assert_eq!(v["keys"][0]["role"], "importer", "{backend}");
        assert!(v["keys"][0]["revoked_at"].is_string(), "{backend}");
        assert!(!String::from_utf8_lossy(&list.stdout).contains(&a[3..]));

        // The history filtered by owner.
        for (id, owner) in [("i1", Some("a")), ("i2", Some("b")), ("i3", None)] {
            let row = sheetpipe::sink::imports::ImportRow {
                id: id.into(),
                filename: "f.csv".into(),
                sha256: String::new(),
                method: "batch".into(),
                mode: "append".into(),
                status: "completed".into(),
                bytes: 1,
                rows_read: 0,
                inserted: 0,
                updated: 0,
                skipped: 0,
                rejected: 0,
                created_at: sheetpipe::sink::imports::now(),
                started_at: None,
                finished_at: None,
                error: None,
                rejects_removed_at: None,
                instance_id: None,
                table_name: Some("businesses".into()),
                rejects_files: Vec::new(),
                owner: owner.map(str::to_string),
            };
            sink.insert_import(&row).await.unwrap();
        }
        let (rows, total) = sink.list_imports_of(Some("a"), 10, 0).await.unwrap();
        assert_eq!((rows.len(), total), (1, 1), "{backend}");
        assert_eq!(rows[0].owner.as_deref(), Some("a"), "{backend}");
        let (_, total) = sink.list_imports_of(None, 10, 0).await.unwrap();
        assert_eq!(total, 3, "{backend}");
        assert_eq!(
            sink.import_owner("i2").await.unwrap(),
            Some(Some("b".to_string())),
            "{backend}"
        );
        assert_eq!(
            sink.import_owner("i3").await.unwrap(),
            Some(None),
            "{backend}"
        );
        assert_eq!(sink.import_owner("i9").await.unwrap(), None, "{backend}");
    }
}
