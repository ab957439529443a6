//! The checkout itself: what the README's commands create in it is ignored
//! by git.

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
