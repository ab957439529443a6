//! Schema files: every key read as documented, every mistake named by
//! file, line and key.

use super::*;
use crate::model::Value;

fn parse(text: &str) -> Result<TableSchema, String> {
    TableSchema::from_toml_str(text, "orders.toml")
}

const ORDERS: &str = r#"# An orders table.
table = "orders"
unique = [["customer", "day"]]

[[columns]]
name = "order_id"
type = "bigint"
primary_key = true
identity = true

[[columns]]
name = "customer"
type = "varchar(40)"
aliases = ["client", "customer name"]
required = true
min_length = 2

[[columns]]
name = "day"
type = "date"
min = 2020-01-01
max = "2030-12-31"

[[columns]]
name = "amount"
type = "numeric(12,2)"
nullable = false
default = 0
min = 0.01

[[columns]]
name = "status"
type = "text"
default = "new"
one_of = ["new", "paid", "sent"]

[[columns]]
name = "sku"
type = "char(8)"
unique = true
regex = "[A-Z]{3}-[0-9]{4}"

[[columns]]
name = "email"
type = "TEXT"
email = true
unique_in_file = true

[[columns]]
name = "site"
type = "text"
url = true
max_length = 200

[[columns]]
name = "created"
type = "timestamp with time zone"
default = "now"
"#;

#[test]
fn a_schema_file_declares_types_keys_defaults_aliases_and_rules() {
    let t = parse(ORDERS).unwrap();
    let col = |name: &str| t.columns[t.column_index(name).unwrap()].clone();
    assert_eq!(t.name, "orders");
    assert_eq!(t.primary_key, ["order_id"]);
    assert_eq!(
        t.unique,
        [
            vec!["sku".to_string()],
            vec!["customer".into(), "day".into()]
        ]
    );
    assert_eq!(
        col("order_id"),
        Column {
            nullable: false,
            has_default: true,
            rules: vec![Rule::Unique],
            ..Column::new("order_id", SqlType::BigInt)
        }
    );
    assert_eq!(
        col("customer"),
        Column {
            aliases: vec!["client".into(), "customer name".into()],
            rules: vec![Rule::Required, Rule::MinLength(2)],
            ..Column::new("customer", SqlType::Varchar(Some(40)))
        }
    );
    assert_eq!(
        col("day").rules,
        [
            Rule::Min("2020-01-01".into()),
            Rule::Max("2030-12-31".into())
        ]
    );
    let amount = col("amount");
    assert_eq!(
        amount.sql_type,
        SqlType::Numeric {
            precision: Some(12),
            scale: Some(2)
        }
    );
    assert!(!amount.nullable && amount.has_default && !amount.required());
    assert_eq!(amount.default_value, Some(Value::Numeric("0.00".into())));
    assert_eq!(amount.rules, [Rule::Min("0.01".into())]);
    let status = col("status");
    assert_eq!(status.default_value, Some(Value::Text("new".into())));
    assert_eq!(
        status.rules,
        [Rule::OneOf(vec![
            "new".into(),
            "paid".into(),
            "sent".into()
        ])]
    );
    assert_eq!(col("sku").sql_type, SqlType::Char(Some(8)));
    assert_eq!(
        col("sku").rules,
        [Rule::Unique, Rule::Regex("[A-Z]{3}-[0-9]{4}".into())]
    );
    assert_eq!(col("email").rules, [Rule::Email, Rule::Unique]);
    assert_eq!(col("site").rules, [Rule::Url, Rule::MaxLength(200)]);
    let created = col("created");
    assert_eq!(created.sql_type, SqlType::TimestampTz);
    assert!(created.has_default && created.default_value.is_none());
    // Columns keep the file's order.
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["order_id", "customer", "day", "amount", "status", "sku", "email", "site", "created"]
    );
}

#[test]
fn every_type_is_read_as_postgresql_spells_it() {
    let types = [
        SqlType::SmallInt,
        SqlType::Integer,
        SqlType::BigInt,
        SqlType::Numeric {
            precision: Some(12),
            scale: Some(2),
        },
        SqlType::Numeric {
            precision: None,
            scale: None,
        },
        SqlType::Real,
        SqlType::Double,
        SqlType::Boolean,
        SqlType::Date,
        SqlType::Timestamp,
        SqlType::TimestampTz,
        SqlType::Time,
        SqlType::Uuid,
        SqlType::Json,
        SqlType::Jsonb,
        SqlType::Text,
        SqlType::Varchar(Some(40)),
        SqlType::Varchar(None),
        SqlType::Char(Some(2)),
        SqlType::Char(None),
    ];
    for ty in types {
        assert_eq!(parse_type(&ty.postgres_name()), Ok(ty.clone()), "{ty}");
    }
    let other_spellings = [
        ("INT8", SqlType::BigInt),
        ("int", SqlType::Integer),
        ("int2", SqlType::SmallInt),
        ("float8", SqlType::Double),
        ("float4", SqlType::Real),
        ("bool", SqlType::Boolean),
        (
            "decimal(5)",
            SqlType::Numeric {
                precision: Some(5),
                scale: Some(0),
            },
        ),
        (
            "numeric( 10 , 3 )",
            SqlType::Numeric {
                precision: Some(10),
                scale: Some(3),
            },
        ),
        ("character varying(12)", SqlType::Varchar(Some(12))),
        ("character(3)", SqlType::Char(Some(3))),
        ("timestamp  without time zone", SqlType::Timestamp),
        ("timestamp with time zone", SqlType::TimestampTz),
        ("time without time zone", SqlType::Time),
    ];
    for (text, ty) in other_spellings {
        assert_eq!(parse_type(text), Ok(ty), "{text}");
    }
    for bad in [
        "numeric(2,3)",
        "numeric(0)",
        "varchar(0)",
        "varchar(x)",
        "integer(4)",
        "text(",
        "numeric(1,2,3)",
    ] {
        assert!(parse_type(bad).is_err(), "{bad}");
    }
}

/// A one-column schema with `lines` added to the column (line 5 on).
fn with_column(lines: &str) -> Result<TableSchema, String> {
    parse(&format!(
        "table = \"orders\"\n\n[[columns]]\nname = \"qty\"\n{lines}\n"
    ))
}

#[test]
fn an_unknown_type_names_the_line_and_the_nearest_type() {
    assert_eq!(
        with_column("type = \"integr\"").unwrap_err(),
        "orders.toml:5: unknown type \"integr\" for column qty (did you mean integer?)"
    );
    let far = with_column("type = \"money\"").unwrap_err();
    assert!(
        far.starts_with(
            "orders.toml:5: unknown type \"money\" for column qty; types are smallint, integer,"
        ),
        "{far}"
    );
}

#[test]
fn an_unknown_rule_names_the_line_and_the_nearest_key() {
    assert_eq!(
        with_column("type = \"text\"\nemial = true").unwrap_err(),
        "orders.toml:6: unknown rule or setting \"emial\" for column qty (did you mean email?)"
    );
    let far = with_column("type = \"text\"\ncolour = \"red\"").unwrap_err();
    assert!(
        far.starts_with(
            "orders.toml:6: unknown rule or setting \"colour\" for column qty; known: name, type,"
        ),
        "{far}"
    );
}

#[test]
fn a_bad_value_names_the_line_the_key_and_why() {
    let cases = [
        (
            "type = \"integer\"\nmin = \"abc\"",
            "orders.toml:6: min 'abc' for qty integer: ",
        ),
        (
            "type = \"integer\"\nmax = 1.5",
            "orders.toml:6: max '1.5' for qty integer: ",
        ),
        (
            "type = \"boolean\"\nmin = 1",
            "orders.toml:6: min for qty boolean: boolean values have no order",
        ),
        (
            "type = \"text\"\nregex = \"[a-\"",
            "orders.toml:6: regex '[a-' for qty text: ",
        ),
        (
            "type = \"integer\"\nemail = true",
            "orders.toml:6: email for qty integer: it applies to text columns only",
        ),
        (
            "type = \"integer\"\none_of = [1, \"two\"]",
            "orders.toml:6: one-of 'two' for qty integer: ",
        ),
        (
            "type = \"integer\"\nnullable = \"no\"",
            "orders.toml:6: nullable of column qty must be true or false, not \"no\"",
        ),
        (
            "type = \"text\"\nmax_length = -1",
            "orders.toml:6: max_length of column qty must be a whole number",
        ),
        (
            "type = \"integer\"\ndefault = 1.5",
            "orders.toml:6: default for qty integer: ",
        ),
        (
            "type = \"text\"\nidentity = true",
            "orders.toml:6: identity is for integer columns; qty is text",
        ),
        (
            "type = \"bigint\"\nidentity = true\nnullable = true",
            "orders.toml:7: column qty is an identity and cannot be nullable",
        ),
        (
            "type = \"bigint\"\nidentity = true\ndefault = 3",
            "orders.toml:6: column qty has both identity and a default",
        ),
        (
            "type = \"text\"\naliases = \"quantity\"",
            "orders.toml:6: aliases of column qty must be a list of texts",
        ),
        ("type = 3", "orders.toml:5: type of column qty must be text"),
        ("", "orders.toml:4: column qty has no type"),
    ];
    for (lines, want) in cases {
        let err = with_column(lines).unwrap_err();
        assert!(err.starts_with(want), "{lines:?}: {err}");
    }
}

#[test]
fn table_level_mistakes_name_their_line() {
    let cases = [
        ("tabel = \"x\"\n", "orders.toml:1: unknown key \"tabel\" (did you mean table?)"),
        (
            "[[columns]]\nname = \"a\"\ntype = \"text\"\n",
            "orders.toml: no table name: add table = \"NAME\" at the top",
        ),
        (
            "table = \"t\"\n",
            "orders.toml: table t declares no columns",
        ),
        (
            "table = \"t\"\n[[columns]]\nname = \"a\"\ntype = \"text\"\n[[columns]]\nname = \"a\"\ntype = \"text\"\n",
            "orders.toml:6: column a is declared twice",
        ),
        (
            "table = \"t\"\nprimary_key = [\"b\"]\n[[columns]]\nname = \"a\"\ntype = \"text\"\n",
            "orders.toml:2: primary_key names \"b\", which is not a column of t; columns are a",
        ),
        (
            "table = \"t\"\nunique = [[\"a\", \"c\"]]\n[[columns]]\nname = \"a\"\ntype = \"text\"\n",
            "orders.toml:2: unique names \"c\", which is not a column of t",
        ),
        (
            "table = \"t\"\nunique = [\"a\"]\n[[columns]]\nname = \"a\"\ntype = \"text\"\n",
            "orders.toml:2: unique must be a list of column lists",
        ),
        (
            "table = \"t\"\n[[columns]]\ntype = \"text\"\n",
            "orders.toml:2: column 1 has no name",
        ),
        ("table = \"t\"\n[[columns]\n", "orders.toml:2: "),
        ("table = \"t\"\ntable = \"u\"\n", "orders.toml:2: "),
    ];
    for (text, want) in cases {
        let err = parse(text).unwrap_err();
        assert!(err.starts_with(want), "{text:?}: {err}");
    }
}

#[test]
fn a_composite_primary_key_is_given_at_the_top_and_makes_its_columns_not_null() {
    let t = parse(
        "table = \"t\"\nprimary_key = [\"a\", \"b\"]\n[[columns]]\nname = \"a\"\ntype = \"integer\"\n[[columns]]\nname = \"b\"\ntype = \"date\"\n",
    )
    .unwrap();
    assert_eq!(t.primary_key, ["a", "b"]);
    assert!(t.columns.iter().all(|c| !c.nullable && c.required()));
    let twice = parse(
        "table = \"t\"\nprimary_key = [\"a\"]\n[[columns]]\nname = \"a\"\ntype = \"integer\"\nprimary_key = true\n",
    )
    .unwrap_err();
    assert!(
        twice.starts_with("orders.toml:2: the primary key is given twice"),
        "{twice}"
    );
}

#[test]
fn a_schema_file_is_read_from_disk_and_named_by_its_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.toml");
    std::fs::write(
        &path,
        "table = \"t\"\n[[columns]]\nname = \"a\"\ntype = \"txt\"\n",
    )
    .unwrap();
    assert_eq!(
        load_schema_file(&path).unwrap_err(),
        "orders.toml:4: unknown type \"txt\" for column a (did you mean text?)"
    );
    let missing = load_schema_file(&dir.path().join("nope.toml")).unwrap_err();
    assert!(
        missing.starts_with("cannot read the schema file "),
        "{missing}"
    );
}

#[test]
fn the_businesses_preset_file_is_a_schema_file() {
    let t =
        TableSchema::from_toml_str(include_str!("../businesses.toml"), "businesses.toml").unwrap();
    assert_eq!(t, TableSchema::businesses());
}
