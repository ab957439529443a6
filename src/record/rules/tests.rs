//! Rules on converted values, each rule against the types it compares in,
//! and uniqueness within a file.

use chrono::NaiveDate;

use super::{check, ColumnRules, UniqueTracker};
use crate::model::{Column, Rule, SqlType, Value};

fn column(ty: SqlType, rules: Vec<Rule>) -> Column {
    Column {
        rules,
        ..Column::new("c", ty)
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn numeric(p: u16, s: u16) -> SqlType {
    SqlType::Numeric {
        precision: Some(p),
        scale: Some(s),
    }
}

#[test]
fn a_required_column_refuses_null_and_an_optional_one_keeps_it() {
    let required = column(SqlType::Text, vec![Rule::Required]);
    assert_eq!(check(Value::Null, &required).unwrap_err(), "c is required");
    assert_eq!(check(text("x"), &required), Ok(text("x")));
    let not_null = Column {
        nullable: false,
        ..Column::new("n", SqlType::Integer)
    };
    assert_eq!(check(Value::Null, &not_null).unwrap_err(), "n is required");
    let optional = column(SqlType::Text, vec![Rule::MinLength(3), Rule::Email]);
    assert_eq!(check(Value::Null, &optional), Ok(Value::Null));
}

#[test]
fn an_empty_cell_for_a_not_null_column_with_a_default_is_refused_saying_why() {
    let stamped = Column {
        nullable: false,
        has_default: true,
        ..Column::new("created_at", SqlType::TimestampTz)
    };
    let err = check(Value::Null, &stamped).unwrap_err();
    assert!(err.contains("NOT NULL") && err.contains("default"), "{err}");
}

#[test]
fn lengths_count_characters() {
    let c = column(SqlType::Text, vec![Rule::MinLength(2), Rule::MaxLength(3)]);
    assert_eq!(check(text("éé"), &c), Ok(text("éé")));
    assert_eq!(check(text("ééé"), &c), Ok(text("ééé")));
    assert_eq!(
        check(text("é"), &c).unwrap_err(),
        "c is shorter than 2 characters"
    );
    assert_eq!(
        check(text("éééé"), &c).unwrap_err(),
        "c is longer than 3 characters"
    );
}

#[test]
fn min_and_max_compare_integers_and_floats_numerically() {
    let c = column(
        SqlType::Integer,
        vec![Rule::Min("-5".into()), Rule::Max("12".into())],
    );
    assert_eq!(check(Value::Int(12), &c), Ok(Value::Int(12)));
    assert_eq!(check(Value::Int(-5), &c), Ok(Value::Int(-5)));
    assert_eq!(
        check(Value::Int(13), &c).unwrap_err(),
        "13 is above the maximum 12"
    );
    assert_eq!(
        check(Value::Int(-6), &c).unwrap_err(),
        "-6 is below the minimum -5"
    );
    // 9 < 10 numerically, though "9" > "10" as text.
    let c = column(SqlType::Double, vec![Rule::Max("10".into())]);
    assert_eq!(check(Value::Float(9.5), &c), Ok(Value::Float(9.5)));
    assert!(check(Value::Float(10.5), &c).is_err());
}

#[test]
fn min_and_max_compare_numeric_exactly() {
    let c = column(
        numeric(12, 2),
        vec![Rule::Min("0.01".into()), Rule::Max("99.5".into())],
    );
    let n = |s: &str| Value::Numeric(s.into());
    assert_eq!(check(n("99.50"), &c), Ok(n("99.50")));
    assert_eq!(check(n("0.01"), &c), Ok(n("0.01")));
    assert_eq!(check(n("9.00"), &c), Ok(n("9.00")));
    assert!(check(n("99.51"), &c)
        .unwrap_err()
        .contains("above the maximum 99.5"));
    assert!(check(n("100.00"), &c).is_err());
    assert!(check(n("0.00"), &c).is_err());
    assert!(check(n("-1.00"), &c).is_err());
    let negative = column(numeric(12, 2), vec![Rule::Max("-1.5".into())]);
    assert_eq!(check(n("-2.00"), &negative), Ok(n("-2.00")));
    assert!(check(n("-1.00"), &negative).is_err());
}

#[test]
fn min_and_max_compare_dates_chronologically_and_text_by_code_point() {
    let c = column(SqlType::Date, vec![Rule::Min("2024-01-01".into())]);
    let d = |y, m, day| Value::Date(NaiveDate::from_ymd_opt(y, m, day).expect("valid"));
    assert_eq!(check(d(2024, 1, 1), &c), Ok(d(2024, 1, 1)));
    assert_eq!(
        check(d(2023, 12, 31), &c).unwrap_err(),
        "2023-12-31 is below the minimum 2024-01-01"
    );
    let c = column(SqlType::Text, vec![Rule::Min("b".into())]);
    assert_eq!(check(text("banana"), &c), Ok(text("banana")));
    assert!(check(text("apple"), &c).is_err());
    assert!(check(text("B"), &c).is_err());
}

#[test]
fn a_bound_that_is_not_a_value_of_the_column_type_is_refused_when_compiled() {
    let err =
        ColumnRules::new(&column(SqlType::Integer, vec![Rule::Min("abc".into())])).unwrap_err();
    assert_eq!(err, "min 'abc' for c integer: 'abc' is not a number");
    let err =
        ColumnRules::new(&column(SqlType::Date, vec![Rule::Max("2024-13-01".into())])).unwrap_err();
    assert!(err.contains("there is no month 13"), "{err}");
    let err = ColumnRules::new(&column(SqlType::Boolean, vec![Rule::Max("1".into())])).unwrap_err();
    assert_eq!(err, "max for c boolean: boolean values have no order");
    let err = ColumnRules::new(&column(SqlType::Integer, vec![Rule::Email])).unwrap_err();
    assert_eq!(err, "email for c integer: it applies to text columns only");
}

#[test]
fn a_regex_must_match_the_whole_value() {
    let c = column(SqlType::Text, vec![Rule::Regex("[A-Z]{2}-\\d+".into())]);
    assert_eq!(check(text("AB-12"), &c), Ok(text("AB-12")));
    let err = check(text("xAB-12"), &c).unwrap_err();
    assert_eq!(err, "'xAB-12' does not match the pattern [A-Z]{2}-\\d+");
    assert!(check(text("AB-12x"), &c).is_err());
    // An alternation is anchored as a whole.
    let c = column(SqlType::Text, vec![Rule::Regex("a|b".into())]);
    assert!(check(text("ab"), &c).is_err());
    assert!(check(text("b"), &c).is_ok());
    let err = ColumnRules::new(&column(SqlType::Text, vec![Rule::Regex("(".into())])).unwrap_err();
    assert!(err.starts_with("regex '(' for c text:"), "{err}");
}

#[test]
fn one_of_compares_in_the_column_type() {
    let c = column(
        SqlType::Text,
        vec![Rule::OneOf(vec!["red".into(), "green".into()])],
    );
    assert_eq!(check(text("red"), &c), Ok(text("red")));
    assert_eq!(
        check(text("Red"), &c).unwrap_err(),
        "'Red' is not one of: red, green"
    );
    let c = column(
        numeric(5, 1),
        vec![Rule::OneOf(vec!["1".into(), "2.5".into()])],
    );
    assert!(check(Value::Numeric("1.0".into()), &c).is_ok());
    assert!(check(Value::Numeric("2.5".into()), &c).is_ok());
    assert!(check(Value::Numeric("2.0".into()), &c).is_err());
}

#[test]
fn email_and_url_reuse_the_business_rules_and_url_is_stored_normalized() {
    let email = column(SqlType::Text, vec![Rule::Email]);
    assert_eq!(check(text("a@b.co"), &email), Ok(text("a@b.co")));
    assert_eq!(
        check(text("nope"), &email).unwrap_err(),
        "invalid email address: it has no '@'"
    );
    let url = column(SqlType::Varchar(Some(100)), vec![Rule::Url]);
    assert_eq!(check(text("acme.com"), &url), Ok(text("https://acme.com")));
    assert_eq!(
        check(text("http://acme.com/x"), &url),
        Ok(text("http://acme.com/x"))
    );
    assert!(check(text("ftp://acme.com"), &url).is_err());
}

#[test]
fn rules_apply_in_order_and_see_the_normalized_url() {
    let c = column(SqlType::Text, vec![Rule::Url, Rule::MaxLength(12)]);
    let err = check(text("acme.com"), &c).unwrap_err();
    assert_eq!(err, "c is longer than 12 characters");
}

fn unique(name: &str, ty: SqlType) -> Column {
    Column {
        rules: vec![Rule::Unique],
        ..Column::new(name, ty)
    }
}

#[test]
fn a_repeated_value_names_the_row_that_had_it_first() {
    let columns = [
        unique("code", SqlType::Text),
        Column::new("note", SqlType::Text),
    ];
    let mut seen = UniqueTracker::new(&columns);
    assert!(!seen.is_empty());
    assert_eq!(seen.check_row(12, &[text("X"), text("a")]), Ok(()));
    assert_eq!(seen.check_row(13, &[text("Y"), text("a")]), Ok(()));
    let (index, reason) = seen.check_row(20, &[text("X"), text("b")]).unwrap_err();
    assert_eq!(index, 0);
    assert_eq!(reason, "the value 'X' is already in row 12 (unique)");
    assert!(UniqueTracker::new(&columns[1..]).is_empty());
}

#[test]
fn nulls_never_repeat_and_a_refused_row_claims_no_value() {
    let columns = [unique("a", SqlType::Integer), unique("b", SqlType::Integer)];
    let mut seen = UniqueTracker::new(&columns);
    assert_eq!(seen.check_row(2, &[Value::Null, Value::Int(1)]), Ok(()));
    assert_eq!(seen.check_row(3, &[Value::Null, Value::Int(2)]), Ok(()));
    // Row 4 repeats b, so its a = 7 is not remembered.
    let (index, _) = seen
        .check_row(4, &[Value::Int(7), Value::Int(1)])
        .unwrap_err();
    assert_eq!(index, 1);
    assert_eq!(seen.check_row(5, &[Value::Int(7), Value::Int(3)]), Ok(()));
    let (_, reason) = seen
        .check_row(6, &[Value::Int(7), Value::Int(4)])
        .unwrap_err();
    assert_eq!(reason, "the value '7' is already in row 5 (unique)");
}

#[test]
fn uniqueness_follows_the_databases_equality() {
    let columns = [unique(
        "n",
        SqlType::Numeric {
            precision: None,
            scale: None,
        },
    )];
    let mut seen = UniqueTracker::new(&columns);
    assert_eq!(seen.check_row(2, &[Value::Numeric("1.5".into())]), Ok(()));
    assert!(seen.check_row(3, &[Value::Numeric("1.50".into())]).is_err());
    assert_eq!(seen.check_row(4, &[Value::Numeric("15".into())]), Ok(()));
    let columns = [unique("f", SqlType::Double)];
    let mut seen = UniqueTracker::new(&columns);
    assert_eq!(seen.check_row(2, &[Value::Float(0.0)]), Ok(()));
    assert!(seen.check_row(3, &[Value::Float(-0.0)]).is_err());
    assert_eq!(seen.check_row(4, &[Value::Float(0.1 + 0.2)]), Ok(()));
    assert_eq!(seen.check_row(5, &[Value::Float(0.3)]), Ok(()));
    // Text is compared exactly: case matters.
    let columns = [unique("t", SqlType::Text)];
    let mut seen = UniqueTracker::new(&columns);
    assert_eq!(seen.check_row(2, &[text("a")]), Ok(()));
    assert_eq!(seen.check_row(3, &[text("A")]), Ok(()));
}

#[test]
fn a_hundred_thousand_distinct_values_pass_and_the_last_repeat_is_caught() {
    let columns = [unique("id", SqlType::BigInt)];
    let mut seen = UniqueTracker::new(&columns);
    for i in 0..100_000_i64 {
        assert_eq!(
            seen.check_row(i as u32 + 2, &[Value::Int(i)]),
            Ok(()),
            "{i}"
        );
    }
    let (_, reason) = seen.check_row(100_002, &[Value::Int(99_999)]).unwrap_err();
    assert_eq!(
        reason,
        "the value '99999' is already in row 100001 (unique)"
    );
}

#[test]
fn a_column_inferred_from_a_sample_refuses_what_inference_would_not_type_so() {
    use crate::model::Cell;
    let text = |s: &str| Cell::Text(s.to_string());
    let int = ColumnRules::new(&column(SqlType::Integer, vec![Rule::InferredFrom(100)])).unwrap();
    assert!(!int.is_noop());
    for ok in [
        text("1234"),
        text(" -7 "),
        Cell::Int(5),
        Cell::Float(3.0),
        Cell::Empty,
    ] {
        assert_eq!(int.check_inferred(&ok), Ok(()), "{ok:?}");
    }
    let why = int.check_inferred(&text("01234")).unwrap_err();
    assert_eq!(
        why,
        "'01234' would not be stored as written in integer, which was inferred from the first \
         100 rows (--infer-rows 100); --type c=text keeps it as written"
    );
    for bad in [
        text("+7"),
        text("42.00"),
        Cell::Float(2.5),
        Cell::Bool(true),
    ] {
        assert!(int.check_inferred(&bad).is_err(), "{bad:?}");
    }
    let date = ColumnRules::new(&column(SqlType::Date, vec![Rule::InferredFrom(3)])).unwrap();
    assert!(date
        .check_inferred(&Cell::DateTime("2024-03-15".into()))
        .is_ok());
    assert!(date.check_inferred(&text("15/03/2024")).is_err());
    // Without the rule nothing is checked before convert.
    let plain = ColumnRules::new(&column(SqlType::Integer, vec![])).unwrap();
    assert_eq!(plain.check_inferred(&text("007")), Ok(()));
}
