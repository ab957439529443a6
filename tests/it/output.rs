//! What `import` prints beyond the tutorial's stats: durations a person
//! reads in the text output, `sheet` always in the JSON (also for CSV), and
//! `rejected_truncated` saying when `rejected` lists only the first 100.

use crate::helpers::{json_out, run_cli, tempdir};

/// A CSV with one good row and `bad` rows with a broken email.
fn csv_with_bad_rows(bad: usize) -> String {
    let mut text = String::from("name,email\nGood,g@example.com\n");
    for i in 0..bad {
        text.push_str(&format!("Bad {i},nope\n"));
    }
    text
}

#[test]
fn the_text_output_prints_the_duration_with_a_unit_a_person_reads() {
    let dir = tempdir();
    std::fs::write(dir.path().join("a.csv"), csv_with_bad_rows(1)).unwrap();
    let out = run_cli(dir.path(), &["import", "a.csv", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("duration:"))
        .unwrap_or_else(|| panic!("no duration line in:\n{text}"));
    let value = line.trim_start().trim_start_matches("duration:").trim();
    let (number, unit) = value.split_once(' ').expect("a number, a space, a unit");
    assert!(["µs", "ms", "s"].contains(&unit), "{value}");
    let decimals = number.split_once('.').map_or(0, |(_, d)| d.len());
    assert!(decimals <= 2, "{value}");
    assert!(number.parse::<f64>().is_ok(), "{value}");
}

#[test]
fn the_json_names_the_sheet_for_every_format_and_empty_for_csv() {
    let dir = tempdir();
    std::fs::write(dir.path().join("a.csv"), csv_with_bad_rows(0)).unwrap();
    let json = json_out(&run_cli(
        dir.path(),
        &["import", "a.csv", "--dry-run", "--json"],
    ));
    assert_eq!(json["sheet"], "", "{json}");
    let xlsx = dir.path().join("a.xlsx");
    crate::values::xlsx(&xlsx, |ws| {
        ws.write_string(0, 0, "name").unwrap();
        ws.write_string(1, 0, "Acme").unwrap();
    });
    let json = json_out(&run_cli(
        dir.path(),
        &["import", "a.xlsx", "--dry-run", "--json"],
    ));
    assert_eq!(json["sheet"], "Sheet1", "{json}");
}

#[test]
fn the_json_says_when_rejected_lists_only_the_first_rows() {
    let dir = tempdir();
    for (bad, shown, truncated) in [(150, 100, true), (100, 100, false), (1, 1, false)] {
        std::fs::write(dir.path().join("a.csv"), csv_with_bad_rows(bad)).unwrap();
        let out = run_cli(dir.path(), &["import", "a.csv", "--dry-run", "--json"]);
        let json = json_out(&out);
        assert_eq!(json["stats"]["error_count"], bad, "{bad}");
        assert_eq!(json["rejected"].as_array().unwrap().len(), shown, "{bad}");
        assert_eq!(json["rejected_truncated"], truncated, "{bad}");
    }
}
