//! Data in a column the header gives no name to: an empty header cell
//! over values, or values to the right of the last header. `--create`
//! makes a column of each and fills it; an import into a table that has
//! no column for them imports the rest and warns once per such column,
//! naming it and its first row with a value — never drops it unsaid.

use std::path::Path;

use serde_json::Value;

use crate::helpers::{tempdir, TestDb};
use crate::modes::import_into;

/// [`import_into`], which must succeed: the report.
fn import(db: &TestDb, file: &Path, table: &str, extra: &[&str]) -> Value {
    let (out, v) = import_into(db, file, table, extra);
    assert_eq!(out.status.code(), Some(0), "{v}");
    v
}

#[tokio::test]
async fn data_without_a_header_is_created_as_a_column_or_warned_about() {
    let db = TestDb::sqlite();
    let dir = tempdir();
    let file = dir.path().join("u.csv");
    std::fs::write(&file, "a,,c\n1,,3\n5,6,7,8\n9,,11,\n").unwrap();

    let v = import(&db, &file, "made", &["--create"]);
    assert_eq!(v["stats"]["success_count"], 3, "{v}");
    assert_eq!(v["warnings"].as_array().map_or(0, Vec::len), 0, "{v}");
    let rows = db
        .query("SELECT a, column_b, c, column_d FROM made ORDER BY a")
        .await;
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        rows,
        [
            vec![s("1"), None, s("3"), None],
            vec![s("5"), s("6"), s("7"), s("8")],
            vec![s("9"), None, s("11"), None],
        ],
        "the value right of the last header lands in its column"
    );

    db.execute("CREATE TABLE two (a INTEGER, c INTEGER)").await;
    let v = import(&db, &file, "two", &[]);
    assert_eq!(v["stats"]["success_count"], 3, "{v}");
    let warnings: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 2, "{v}");
    assert!(
        warnings[0].starts_with("column B has no header but holds data (first in row 3)"),
        "{v}"
    );
    assert!(
        warnings[1].starts_with("column D has no header but holds data (first in row 3)"),
        "{v}"
    );
    let rows = db.query("SELECT a, c FROM two ORDER BY a").await;
    assert_eq!(rows.len(), 3);
}

/// A table `--create` made names its empty headers' columns `column_b`, …:
/// the header row of the file that made it (`Foo` and empty cells) is
/// found again without `--header-row`, as it names every column that way;
/// but an empty cell alone does not count as naming a column, so a data
/// row with gaps is not taken for the header.
#[tokio::test]
async fn a_created_tables_header_is_found_again_and_gaps_do_not_make_one() {
    let db = TestDb::sqlite();
    let dir = tempdir();
    let file = dir.path().join("gaps.csv");
    std::fs::write(&file, "Foo,,,\n1,2,3,4\nabc,,,x\n").unwrap();
    let v = import(&db, &file, "g", &["--create", "--header-row", "1"]);
    assert_eq!(v["stats"]["success_count"], 2, "{v}");
    let all = "SELECT * FROM g ORDER BY foo";
    let before = db.query(all).await;
    assert_eq!(before.len(), 2);

    let v = import(&db, &file, "g", &["--mode", "replace"]);
    assert_eq!(v["header"]["row"], 1, "{v}");
    assert_eq!(v["stats"]["success_count"], 2, "{v}");
    assert_eq!(v["warnings"].as_array().map_or(0, Vec::len), 0, "{v}");
    assert_eq!(db.query(all).await, before);

    let data = dir.path().join("data.csv");
    std::fs::write(&data, "abc,,,x\n").unwrap();
    let (out, v) = import_into(&db, &data, "g", &[]);
    assert_eq!(out.status.code(), Some(3), "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("no header row found"),
        "{v}"
    );
    assert_eq!(db.query(all).await, before);
}
