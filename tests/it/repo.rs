//! The checkout itself: what the README's commands create in it is ignored
//! by git, and the layering docs/ARCHITECTURE.md states holds.

/// The lines of a file of the checkout.
fn lines(file: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(str::to_string).collect()
}

#[test]
fn gitignore_covers_the_sample_and_the_data_dir_the_readme_creates() {
    let ignored = lines(".gitignore");
    let readme = lines("README.md").join("\n");
    // The first command: `cargo run --release -- generate sample.xlsx …`.
    let generated = readme
        .split("-- generate ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the README's generate command");
    assert_eq!(generated, "sample.xlsx");
    assert!(readme.contains("[--data-dir sheetpipe-data]"));
    for entry in ["/sample.xlsx", "/sheetpipe-data/", "*.db"] {
        assert!(
            ignored.iter().any(|l| l == entry),
            "{entry} not in .gitignore"
        );
    }
}

/// Every `.rs` file under `dir` of the crate, with its text.
fn sources(dir: &str) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    out
}

/// docs/ARCHITECTURE.md: "The pipeline knows nothing of clap (or, later,
/// axum)" and "Nothing in src/pipeline, src/source, src/record or src/sink
/// knows axum exists".
#[test]
fn the_pipeline_readers_records_and_sinks_know_nothing_of_clap_or_axum() {
    for dir in [
        "src/pipeline",
        "src/source",
        "src/record",
        "src/sink",
        "src/model",
    ] {
        let files = sources(dir);
        assert!(!files.is_empty(), "{dir}");
        for (path, text) in files {
            for name in ["clap", "axum"] {
                assert!(!text.contains(name), "{} names {name}", path.display());
            }
        }
    }
}
