//! The published contract fuzzed against the running service: schemathesis
//! (from PyPI; `.ci/run` installs it, pinned, into `target/ci-venv`) reads
//! `/openapi.json` from a live server on a real PostgreSQL database and
//! sends it generated requests — valid and invalid parameters, multipart
//! uploads, the links between operations — and the test fails on any 5xx,
//! any status code, content type, header or body the spec does not allow,
//! any invalid request that is accepted, any undocumented method that is
//! not a 405.
//!
//! Bounded: at most [`MAX_EXAMPLES`] cases per operation and phase (about
//! a minute here), and killed after [`LIMIT`] (`SHEETPIPE_FUZZ_EXAMPLES`
//! and `SHEETPIPE_FUZZ_SEED` change them; `SHEETPIPE_FUZZ_SECONDS` makes
//! it fuzz for that long instead, repeating the phases). Without
//! schemathesis the test prints one line and passes, except with `CI=true`,
//! where it fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sheetpipe::http::auth::AuthMode;
use sheetpipe::sink::keys::Role;

use super::spawn_app_with;
use crate::helpers::TestDb;

/// The schemathesis version `.ci/run` installs.
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// Test cases per operation and phase.
const MAX_EXAMPLES: &str = "40";

/// Longest the run may take before the test fails.
const LIMIT: Duration = Duration::from_secs(600);

/// The seed, so that a run can be repeated (`SHEETPIPE_FUZZ_SEED`).
const SEED: &str = "20261202";

/// What every answer is checked for.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance,negative_data_rejection,\
unsupported_method,use_after_free,ignored_auth";

/// `SHEETPIPE_SCHEMATHESIS`, else the venv of `.ci/run`, else `schemathesis`
/// on `PATH`.
fn find_schemathesis() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SHEETPIPE_SCHEMATHESIS") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-venv/bin/schemathesis");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("schemathesis"))
        .find(|p| p.is_file())
}

fn setting(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

#[test]
fn ci_installs_the_schemathesis_version_this_test_expects() {
    let ci = include_str!("../../../.ci/run");
    assert!(
        ci.contains(&format!("SCHEMATHESIS_VERSION={SCHEMATHESIS_VERSION}\n")),
        ".ci/run must pin schemathesis {SCHEMATHESIS_VERSION}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_service_keeps_its_openapi_contract_under_schemathesis() {
    let Some(st) = find_schemathesis() else {
        let how = format!(
            "schemathesis was not found: run .ci/run, or `pip install schemathesis=={SCHEMATHESIS_VERSION}` \
             and set SHEETPIPE_SCHEMATHESIS=/path/to/schemathesis"
        );
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "api::fuzz: {how} (CI=true: the spec fuzz must run)"
        );
        eprintln!("skipped api::fuzz::the_running_service_keeps_its_openapi_contract_under_schemathesis: {how}");
        return;
    };
    let app = spawn_app_with(TestDb::postgres().await, |c| {
        // Uploads that pile up while the fuzzer runs must not be refused
        // for load (a 503 is a fault for the fuzzer).
        c.max_queued = 1024;
        // With keys required, as a service off loopback runs: the fuzzer
        // sends an admin key, and `ignored_auth` checks that a request
        // without one (or with a wrong one) is refused as the spec says.
        c.auth.mode = AuthMode::Required;
    })
    .await;
    let admin = super::auth::key(&app, "fuzzer", Role::Admin).await;
    let reports = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(&st);
    cmd.arg("run")
        .arg(app.url("/openapi.json"))
        .args(["--checks", CHECKS])
        .args([
            "--max-examples",
            &setting("SHEETPIPE_FUZZ_EXAMPLES", MAX_EXAMPLES),
        ])
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .args(["--seed", &setting("SHEETPIPE_FUZZ_SEED", SEED)])
        .args(["--request-timeout", "60", "--workers", "2"])
        .args(["--output-truncate", "false", "--report-dir"])
        .arg(reports.path())
        .current_dir(reports.path())
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .kill_on_drop(true);
    if let Ok(secs) = std::env::var("SHEETPIPE_FUZZ_SECONDS") {
        cmd.args(["--max-time", &secs]);
    }
    let run = cmd.output();
    let out = tokio::time::timeout(LIMIT, run)
        .await
        .expect("schemathesis ended within 10 minutes")
        .expect("schemathesis started");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found answers that break the contract ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // It tested every operation it selected, and selected every one.
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {name:?} line in:\n{stdout}"))
            .to_string()
    };
    let selected = field("Selected:");
    let (chosen, total) = selected.split_once('/').expect("Selected: N/M");
    assert_eq!(chosen, total, "some operations were left out:\n{stdout}");
    assert_eq!(
        field("Tested:"),
        chosen,
        "not every operation was tested:\n{stdout}"
    );
    // And it reached the importer, not only the request checks.
    let imported = app.imports_table("id").await.len();
    assert!(imported > 0, "no fuzzed upload became an import:\n{stdout}");
    app.stop().await;
}
