//! Realistic business-directory data for tests, benchmarks and demos:
//! deterministic for a seed, with a chosen share of invalid rows, written
//! as .xlsx (rust_xlsxwriter in constant-memory mode: inline strings, one
//! row in memory) or .csv, by the file's extension.

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_xlsxwriter::Workbook;

use crate::model::TableSchema;

/// The `businesses` preset's column names, the generated header.
fn fields() -> Vec<String> {
    TableSchema::businesses()
        .columns
        .into_iter()
        .map(|c| c.name)
        .collect()
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Data rows (the header not counted).
    pub rows: u64,
    /// Share of rows made invalid (missing name or broken email), 0.0–1.0.
    pub bad_rate: f64,
    /// Seed: the same seed gives the same file.
    pub seed: u64,
    /// xlsx only: shared strings (Excel's usual layout) instead of inline
    /// strings. Shared strings cost memory in the writer and the reader.
    pub shared_strings: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            rows: 1000,
            bad_rate: 0.0,
            seed: 42,
            shared_strings: false,
        }
    }
}

/// What was generated: how many rows are valid and how many are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GenerateSummary {
    /// Data rows written.
    pub rows: u64,
    /// Rows that sheetpipe must reject.
    pub invalid: u64,
}

/// One generated cell: text, or a number (some phones are stored as numbers,
/// as they are in real sheets).
#[derive(Debug, Clone, PartialEq)]
pub enum GenValue {
    /// A text cell (empty string = empty cell).
    Text(String),
    /// A numeric cell.
    Number(f64),
}

const ADJ: &[&str] = &[
    "Blue", "Golden", "Rapid", "Green", "Silver", "Bright", "North", "Urban", "Prime", "Summit",
    "Coastal", "Royal",
];
const NOUN: &[&str] = &[
    "Harbor", "Oak", "Falcon", "River", "Maple", "Stone", "Pixel", "Anchor", "Beacon", "Cedar",
    "Orbit", "Willow",
];
const SUFFIX: &[&str] = &[
    "Ltd",
    "LLC",
    "Inc",
    "& Co",
    "Group",
    "Studio",
    "Bakery",
    "Consulting",
    "Labs",
    "Partners",
];
const CATEGORY: &[&str] = &[
    "Restaurant",
    "Retail",
    "Technology",
    "Healthcare",
    "Construction",
    "Education",
    "Finance",
    "Logistics",
    "Hospitality",
    "Legal",
];
const STREET: &[&str] = &[
    "Main St",
    "High Street",
    "Oak Avenue",
    "Elm Road",
    "Market Square",
    "Station Road",
    "Park Lane",
    "Church Street",
];
const CITY: &[(&str, &str)] = &[
    ("Springfield", "USA"),
    ("London", "United Kingdom"),
    ("Paris", "France"),
    ("Berlin", "Germany"),
    ("Toronto", "Canada"),
    ("Sydney", "Australia"),
    ("Madrid", "Spain"),
    ("Jakarta", "Indonesia"),
    ("Lagos", "Nigeria"),
    ("Osaka", "Japan"),
];
const WORDS: &[&str] = &[
    "family-owned",
    "award-winning",
    "local",
    "independent",
    "trusted",
    "modern",
    "friendly",
    "specialist",
    "since 1998",
    "open late",
];

/// Generates one row (in the preset's column order) and whether it is invalid.
pub fn row(rng: &mut StdRng, index: u64, bad_rate: f64) -> (Vec<GenValue>, bool) {
    let t = |s: String| GenValue::Text(s);
    let name = format!(
        "{} {} {} {}",
        ADJ[rng.gen_range(0..ADJ.len())],
        NOUN[rng.gen_range(0..NOUN.len())],
        SUFFIX[rng.gen_range(0..SUFFIX.len())],
        index + 1
    );
    let slug: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let (city, country) = CITY[rng.gen_range(0..CITY.len())];
    let phone_digits: u64 = 2_000_000_000 + rng.gen_range(0..7_999_999_999u64);
    let phone = if rng.gen_bool(0.3) {
        GenValue::Number(phone_digits as f64)
    } else {
        t(format!(
            "+1-{}-{}-{}",
            phone_digits / 10_000_000,
            phone_digits / 10_000 % 1000,
            phone_digits % 10_000
        ))
    };
    let mut email = format!("info@{slug}.com");
    let mut name_cell = name.clone();
    let bad = rng.gen_bool(bad_rate.clamp(0.0, 1.0));
    if bad {
        if rng.gen_bool(0.5) {
            name_cell = String::new();
        } else {
            email = format!("info_at_{slug}");
        }
    }
    let values = vec![
        t(name_cell),
        t(CATEGORY[rng.gen_range(0..CATEGORY.len())].to_string()),
        phone,
        t(email),
        t(format!(
            "{} {}",
            rng.gen_range(1..2000),
            STREET[rng.gen_range(0..STREET.len())]
        )),
        t(city.to_string()),
        t(country.to_string()),
        t(format!("https://www.{slug}.com")),
        t(format!(
            "A {} {} business in {city}.",
            WORDS[rng.gen_range(0..WORDS.len())],
            CATEGORY[rng.gen_range(0..CATEGORY.len())].to_lowercase()
        )),
    ];
    (values, bad)
}

/// Writes the file; `.csv` (or `.tsv`/`.txt`) by extension, else `.xlsx`.
pub fn generate(path: &Path, opts: &GenerateOptions) -> anyhow::Result<GenerateSummary> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut invalid = 0;
    if matches!(ext.as_str(), "csv" | "txt") {
        let mut out = csv::Writer::from_path(path)?;
        out.write_record(fields())?;
        let mut line: Vec<String> = Vec::with_capacity(9);
        for i in 0..opts.rows {
            let (values, bad) = row(&mut rng, i, opts.bad_rate);
            invalid += bad as u64;
            line.clear();
            line.extend(values.into_iter().map(|v| match v {
                GenValue::Text(s) => s,
                GenValue::Number(n) => crate::record::format_number(n),
            }));
            out.write_record(&line)?;
        }
        out.flush()?;
    } else {
        let mut workbook = Workbook::new();
        let sheet = if opts.shared_strings {
            workbook.add_worksheet_with_low_memory()?
        } else {
            workbook.add_worksheet_with_constant_memory()?
        };
        sheet.set_name("Businesses")?;
        for (c, f) in fields().iter().enumerate() {
            sheet.write_string(0, c as u16, f)?;
        }
        for i in 0..opts.rows {
            let (values, bad) = row(&mut rng, i, opts.bad_rate);
            invalid += bad as u64;
            let r = (i + 1) as u32;
            for (c, v) in values.into_iter().enumerate() {
                match v {
                    GenValue::Text(s) if s.is_empty() => {}
                    GenValue::Text(s) => {
                        sheet.write_string(r, c as u16, s)?;
                    }
                    GenValue::Number(n) => {
                        sheet.write_number(r, c as u16, n)?;
                    }
                }
            }
        }
        workbook.save(path)?;
    }
    Ok(GenerateSummary {
        rows: opts.rows,
        invalid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_rows() {
        let a: Vec<_> = {
            let mut rng = StdRng::seed_from_u64(7);
            (0..20).map(|i| row(&mut rng, i, 0.3)).collect()
        };
        let b: Vec<_> = {
            let mut rng = StdRng::seed_from_u64(7);
            (0..20).map(|i| row(&mut rng, i, 0.3)).collect()
        };
        assert_eq!(a, b);
    }

    #[test]
    fn bad_rate_zero_makes_only_valid_rows() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..500).all(|i| !row(&mut rng, i, 0.0).1));
    }
}
