//! Every rule of a declared schema applied through the header map, as the
//! pipeline applies it: a refused value names its cell, column and why;
//! a repeat names the row that had the value first.

use std::sync::Arc;

use super::*;
use crate::model::{TableSchema, Value};

const SCHEMA: &str = r#"
table = "orders"

[[columns]]
name = "id"
type = "bigint"
primary_key = true
identity = true

[[columns]]
name = "sku"
type = "varchar(8)"
unique_in_file = true
regex = "[A-Z]{3}-[0-9]{4}"

[[columns]]
name = "qty"
type = "integer"
min = 1
max = 100

[[columns]]
name = "status"
type = "text"
one_of = ["new", "paid"]

[[columns]]
name = "email"
type = "text"
email = true

[[columns]]
name = "site"
type = "text"
url = true

[[columns]]
name = "code"
type = "text"
min_length = 2
max_length = 3

[[columns]]
name = "price"
type = "numeric(8,2)"
required = true

[[columns]]
name = "stamp"
type = "timestamptz"
nullable = false
default = "now"

[[columns]]
name = "note"
type = "text"
"#;

const HEADERS: [&str; 9] = [
    "SKU", "Qty", "Status", "Email", "Site", "Code", "Price", "Stamp", "Note",
];

fn map() -> HeaderMap {
    let table = TableSchema::from_toml_str(SCHEMA, "orders.toml").unwrap();
    let cells = HEADERS.iter().map(|h| Cell::Text(h.to_string())).collect();
    let header = RawRow { number: 1, cells };
    HeaderMap::build(
        "Orders",
        &header,
        &HeaderOptions::default(),
        Arc::new(table),
    )
    .unwrap()
}

/// A good row with `changes` (column index, cell) applied.
fn row(number: u32, sku: &str, changes: &[(usize, Cell)]) -> RawRow {
    let mut cells = vec![
        Cell::Text(sku.into()),
        Cell::Float(5.0),
        Cell::Text("new".into()),
        Cell::Text("a@example.com".into()),
        Cell::Text("example.com".into()),
        Cell::Text("ab".into()),
        Cell::Float(9.5),
        Cell::DateTime("2024-01-31T10:30:00".into()),
        Cell::Empty,
    ];
    for (i, c) in changes {
        cells[*i] = c.clone();
    }
    RawRow { number, cells }
}

/// The rejection of `row` as the CLI prints it: `place: reason`.
fn refused(map: &HeaderMap, row: &RawRow) -> String {
    let r = map.record(row, &Rules::default()).unwrap_err();
    format!("{}: {}", r.place(), r.reason)
}

fn text(s: &str) -> Cell {
    Cell::Text(s.into())
}

#[test]
fn a_good_row_passes_every_rule_and_its_url_is_normalized() {
    let map = map();
    let rec = map
        .record(&row(2, "ABC-0001", &[]), &Rules::default())
        .unwrap();
    let site = map.target.columns.iter().position(|c| c.name == "site");
    assert_eq!(
        rec.values[site.unwrap()],
        Value::Text("https://example.com".into())
    );
    assert_eq!(rec.values.len(), 9, "the identity is not written");
}

#[test]
fn each_rule_refuses_naming_the_cell_the_column_and_why() {
    let map = map();
    let cases: Vec<(Vec<(usize, Cell)>, &str)> = vec![
        (
            vec![(1, Cell::Float(0.0))],
            "Orders!B3 (Qty): Orders!B3 (qty integer): 0 is below the minimum 1",
        ),
        (
            vec![(1, Cell::Int(101))],
            "Orders!B3 (Qty): Orders!B3 (qty integer): 101 is above the maximum 100",
        ),
        (
            vec![(2, text("lost"))],
            "Orders!C3 (Status): 'lost' is not one of: new, paid",
        ),
        (
            vec![(3, text("nobody"))],
            "Orders!D3 (Email): invalid email address: ",
        ),
        (
            vec![(4, text("ftp://example.com"))],
            "Orders!E3 (Site): invalid website: ",
        ),
        (
            vec![(5, text("a"))],
            "Orders!F3 (Code): code is shorter than 2 characters",
        ),
        (
            vec![(5, text("abcd"))],
            "Orders!F3 (Code): code is longer than 3 characters",
        ),
        (vec![(6, Cell::Empty)], "Orders!G3 (Price): price is required"),
        (
            vec![(7, text(" "))],
            "Orders!H3 (Stamp): stamp is empty, and the column is NOT NULL: its default applies only when the file has no stamp column",
        ),
    ];
    for (changes, want) in cases {
        let got = refused(&map, &row(3, "ABC-0002", &changes));
        assert!(got.starts_with(want), "{changes:?}: {got}");
    }
    assert_eq!(
        refused(&map, &row(3, "abc-1", &[])),
        "Orders!A3 (SKU): 'abc-1' does not match the pattern [A-Z]{3}-[0-9]{4}"
    );
}

#[test]
fn a_short_row_is_refused_for_its_missing_required_cell() {
    let map = map();
    let mut short = row(4, "ABC-0003", &[]);
    short.cells.truncate(6);
    assert_eq!(
        refused(&map, &short),
        "Orders!G4 (Price): price is required"
    );
}

#[test]
fn a_repeated_value_names_the_row_that_had_it_first_and_a_refused_row_claims_none() {
    let map = map();
    assert!(map
        .record(&row(2, "ABC-0001", &[]), &Rules::default())
        .is_ok());
    // Refused for its qty: its sku is not remembered.
    let bad = row(3, "ABC-0002", &[(1, Cell::Int(0))]);
    assert!(map.record(&bad, &Rules::default()).is_err());
    assert!(map
        .record(&row(4, "ABC-0002", &[]), &Rules::default())
        .is_ok());
    assert_eq!(
        refused(&map, &row(5, "ABC-0001", &[])),
        "Orders!A5 (SKU): the value 'ABC-0001' is already in row 2 (unique)"
    );
    // Empty values never repeat.
    let unique_note = TableSchema::from_toml_str(
        "table = \"t\"\n[[columns]]\nname = \"k\"\ntype = \"integer\"\nunique_in_file = true\n",
        "t.toml",
    )
    .unwrap();
    let header = RawRow {
        number: 1,
        cells: vec![text("k")],
    };
    let map = HeaderMap::build(
        "S",
        &header,
        &HeaderOptions::default(),
        Arc::new(unique_note),
    )
    .unwrap();
    for n in 2..5 {
        let empty = RawRow {
            number: n,
            cells: vec![Cell::Empty],
        };
        assert!(map.record(&empty, &Rules::default()).is_ok());
    }
    let one = |n| RawRow {
        number: n,
        cells: vec![Cell::Float(1.0)],
    };
    assert!(map.record(&one(5), &Rules::default()).is_ok());
    let again = map.record(&one(6), &Rules::default()).unwrap_err();
    assert_eq!(
        again.reason,
        "S!A6 (k integer): the value '1' is already in row 5 (unique)"
    );
}

#[test]
fn columns_without_rules_have_no_compiled_checks() {
    let map = map();
    let slot = |name: &str| {
        map.target
            .columns
            .iter()
            .position(|c| c.name == name)
            .unwrap()
    };
    assert!(map.rules.column(slot("note")).is_none());
    assert!(map.rules.column(slot("qty")).is_some());
    let preset = HeaderMap::from_row(
        "S",
        &RawRow {
            number: 1,
            cells: vec![text("name"), text("city"), text("email")],
        },
    )
    .unwrap();
    // Slots follow the table: name, email, city.
    let checked: Vec<bool> = (0..3).map(|s| preset.rules.column(s).is_some()).collect();
    assert_eq!(checked, [true, true, false]);
}

#[test]
fn a_rule_that_cannot_apply_is_refused_before_any_row() {
    let mut table = TableSchema::from_toml_str(
        "table = \"t\"\n[[columns]]\nname = \"k\"\ntype = \"integer\"\n",
        "t.toml",
    )
    .unwrap();
    table.columns[0]
        .rules
        .push(crate::model::Rule::Min("x".into()));
    let header = RawRow {
        number: 1,
        cells: vec![text("k")],
    };
    let err = HeaderMap::build("S", &header, &HeaderOptions::default(), Arc::new(table))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("the rules of table t cannot be used: min 'x' for k integer: "),
        "{err}"
    );
}
