//! Property tests: many generated columns of mixed cells, every cell
//! checked against `convert` for the type inferred for its column, and
//! number cells measured exactly as `format_number` shows them.

use super::tests::{dt, infer, t};
use super::*;
use crate::model::Cell;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One random cell of any kind a reader produces.
fn random_cell(rng: &mut StdRng) -> Cell {
    const TEXTS: &[&str] = &[
        "42",
        "-17",
        "0",
        "-0",
        "0.0",
        "007",
        "12.50",
        "1.000",
        "0.5",
        "1e5",
        "+3",
        "3000000000",
        "2147483648",
        "-2147483649",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "9007199254740993",
        "92233720368547758070",
        "true",
        "FALSE",
        "yes",
        "1,234",
        "2024-01-15",
        "0000-01-01",
        "9999-12-31",
        "2024-02-29",
        "2023-02-29",
        "2024-01-15 10:30:00",
        "2024-01-15T10:30",
        "2024-13-01",
        "2024-01-15T24:00:00",
        "2024-01-15T10:30:00.123456",
        "2024-01-15T10:30:00.1234567",
        "2024-01-15T10:30:00,5",
        "10:30:00",
        "10:30",
        "24:00",
        "23:59:60",
        "2024-01-15T10:30:00Z",
        "2024-01-15T10:30Z",
        "2024-01-15T10:30:00+02:00",
        "2024-01-15T10:30:00+0200",
        "2024-01-15T10:30:00-23:59",
        "PT10H30M0S",
        "PT23H59M59.999S",
        "PT23H59M59.9999S",
        "PT24H0M0S",
        "-PT1H0M0S",
        "P1DT0H0M0S",
        "PT",
        "PTH",
        "PT0.5S",
        "PT10H30M0.1234567S",
        "PT10.5H",
        "PT1S2H",
        "67e55044-10b1-426f-9247-bb680e5fe0c8",
        "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
        "+1 555 123 4567",
        "555-1234",
        "n/a",
        " 12 ",
        "",
        "  ",
        "1.",
        ".5",
        "-",
        "--5",
        "1.2.3",
    ];
    const DATES: &[&str] = &[
        "2024-01-15",
        "2024-01-15T10:30:00",
        "2024-01-15T10:30:00.250",
        "10:30:00",
        "1899-12-30T10:30:00",
        "PT1H0M0S",
        "PT255H10M10S",
        "-PT0H1M0S",
    ];
    const FLOATS: &[f64] = &[
        -0.0,
        1e15,
        -1e15,
        1e20,
        5e-324,
        1e300,
        0.1,
        2147483647.0,
        2147483648.0,
        9007199254740993.0,
        1234567890123456.0,
        0.30000000000000004,
    ];
    match rng.gen_range(0..10) {
        8 => Cell::Float(FLOATS[rng.gen_range(0..FLOATS.len())]),
        9 => Cell::Int([i64::MIN, i64::MAX, 0, -1][rng.gen_range(0..4)]),
        0 => Cell::Int(rng.gen_range(-5_000_000_000i64..5_000_000_000)),
        1 => Cell::Float(rng.gen_range(-1e6..1e6)),
        2 => Cell::Float(rng.gen_range(-3000..3000) as f64),
        3 => Cell::Float(rng.gen_range(-100..100) as f64 / 10.0 + 0.1 + 0.2),
        4 => Cell::Bool(rng.gen()),
        5 => dt(DATES[rng.gen_range(0..DATES.len())]),
        6 => Cell::Empty,
        _ => t(TEXTS[rng.gen_range(0..TEXTS.len())]),
    }
}

#[test]
fn every_cell_converts_to_the_type_inferred_for_its_column() {
    let mut rng = StdRng::seed_from_u64(11);
    for _ in 0..2000 {
        // Mostly one kind with the odd other value, as real columns are.
        let kind = random_cell(&mut rng);
        let height = rng.gen_range(1..12);
        let column: Vec<Cell> = (0..height)
            .map(|_| match rng.gen_bool(0.8) {
                true => kind.clone(),
                false => random_cell(&mut rng),
            })
            .collect();
        infer(&[column]); // asserts every cell survives
    }
}

#[test]
fn number_cells_are_measured_on_the_text_excel_shows() {
    let mut rng = StdRng::seed_from_u64(7);
    for i in 0..20_000 {
        let magnitude = 10f64.powi(rng.gen_range(-12..22));
        let f = match i % 3 {
            0 => rng.gen_range(-1.0..1.0) * magnitude,
            1 => (rng.gen_range(-1e6..1e6f64) * 100.0).round() / 100.0,
            _ => rng.gen_range(0..1000) as f64 * 0.1 + 0.2,
        };
        let shown = crate::record::format_number(f);
        let (int, frac) = shown
            .trim_start_matches('-')
            .split_once('.')
            .unwrap_or((shown.trim_start_matches('-'), ""));
        let int_digits = if int == "0" { 0 } else { int.len() as u16 };
        let expected = match f.fract() == 0.0 && f.abs() < 1e15 {
            true => (int_digits, 0),
            false => (int_digits, frac.len() as u16),
        };
        match classify::classify(&Cell::Float(f)) {
            classify::Claim::Number {
                int_digits, scale, ..
            } => assert_eq!((int_digits, scale), expected, "{f:e} shown as {shown}"),
            other => panic!("{f:e} classified as {other:?}"),
        }
    }
}
