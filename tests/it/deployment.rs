//! docs/DEPLOYMENT.md stays true: its configuration reference names every
//! flag and environment variable `serve --help` lists.

use std::process::Command;

use crate::helpers::bin;

#[test]
fn the_configuration_reference_lists_every_serve_flag_and_variable() {
    let out = Command::new(bin())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/DEPLOYMENT.md"))
        .unwrap();
    let mut flags = 0;
    for line in help.lines().map(str::trim) {
        if let Some(flag) = line.strip_prefix("--").and_then(|l| l.split(' ').next()) {
            if flag == "help" {
                continue;
            }
            flags += 1;
            assert!(
                doc.contains(&format!("`--{flag}`")),
                "docs/DEPLOYMENT.md does not list --{flag}"
            );
        }
        if let Some(var) = line.strip_prefix("[env: ") {
            let var = var.split('=').next().unwrap();
            assert!(
                doc.contains(&format!("`{var}`")),
                "docs/DEPLOYMENT.md does not list {var}"
            );
        }
    }
    assert!(flags > 30, "read {flags} flags from:\n{help}");
}
