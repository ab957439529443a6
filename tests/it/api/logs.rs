//! The service's log as an operator reads it from a file: a real `serve`
//! process with its stderr redirected (not a terminal) and the default log
//! level carries no colour codes and one line per request.

use std::io::Read;

use super::process::ServeProcess;
use crate::helpers::TestDb;

/// Runs `serve` with the default log filter, makes `requests` (path, CSV
/// to upload or `None` for a GET), stops it with SIGTERM; its stderr.
async fn serve_log(requests: &[(&str, Option<&[u8]>)]) -> String {
    let db = TestDb::sqlite();
    let data = crate::helpers::tempdir();
    let mut server = ServeProcess::start_logging(&db, data.path(), &[]);
    let mut stderr = server.child.stderr.take().unwrap();
    for (path, body) in requests {
        let url = format!("{}{path}", server.base);
        let r = match body {
            Some(bytes) => {
                let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("a.csv");
                let form = reqwest::multipart::Form::new().part("file", part);
                server
                    .client
                    .post(url)
                    .multipart(form)
                    .send()
                    .await
                    .unwrap()
            }
            None => server.client.get(url).send().await.unwrap(),
        };
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    assert_eq!(server.terminate().await, 0);
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_server_log_has_no_colours_and_one_line_per_request() {
    let csv = b"name,email\nAcme,a@acme.com\nBeta,nope\n";
    let log = serve_log(&[
        ("/upload?method=batch", Some(csv)),
        ("/imports?method=copy&allow_reimport=true", Some(csv)),
        ("/health", None),
    ])
    .await;
    assert!(!log.contains('\u{1b}'), "ANSI escape codes in:\n{log}");
    for uri in ["uri=/upload", "uri=/imports", "uri=/health"] {
        let lines = log.lines().filter(|l| l.contains(uri)).count();
        assert_eq!(lines, 1, "{uri} in:\n{log}");
    }
    assert!(!log.contains("import queued"), "{log}");
}
