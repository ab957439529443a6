//! The typed table of the bench (issue 11): `orders`, one column of each
//! common type, and a generator of the same rows as an .xlsx of real typed
//! cells (numbers, dates and timestamps with date formats, booleans) and as
//! the clean CSV the floor loads.
//!
//! Every value is exact in both files: amounts are whole cents (written to
//! the workbook as the nearest double, which reads back as the same two
//! decimals), weights have three decimals, timestamps whole seconds. No
//! cell is empty, so `LOAD DATA` (which turns an empty field into `0` or
//! `''`, not NULL) loads the same rows as `psql \copy`. Booleans are `1`
//! and `0` in the CSV, which PostgreSQL, MariaDB and sheetpipe all read.

use std::io::Write as _;
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

/// The table's columns, in file order.
pub const COLUMNS: &str =
    "order_id, customer, ordered_on, shipped_at, amount, quantity, weight, paid, ref, meta";

/// The table and its two indexes on PostgreSQL.
pub const POSTGRES_DDL: &str = "CREATE TABLE orders (
    order_id bigint PRIMARY KEY,
    customer text NOT NULL,
    ordered_on date NOT NULL,
    shipped_at timestamp NOT NULL,
    amount numeric(12,2) NOT NULL,
    quantity integer NOT NULL,
    weight double precision NOT NULL,
    paid boolean NOT NULL,
    ref uuid NOT NULL,
    meta jsonb NOT NULL
);
CREATE INDEX orders_customer ON orders (customer);
CREATE INDEX orders_ordered_on ON orders (ordered_on)";

/// The same table on MariaDB: `DATETIME(6)` for timestamp, `TINYINT(1)`
/// for boolean, `CHAR(36)` for uuid, `JSON` for jsonb, and a 32-character
/// prefix index on the TEXT customer (MariaDB indexes no whole TEXT).
pub const MYSQL_DDL: &str = "CREATE TABLE orders (
    order_id BIGINT NOT NULL PRIMARY KEY,
    customer TEXT NOT NULL,
    ordered_on DATE NOT NULL,
    shipped_at DATETIME(6) NOT NULL,
    amount DECIMAL(12,2) NOT NULL,
    quantity INT NOT NULL,
    weight DOUBLE NOT NULL,
    paid TINYINT(1) NOT NULL,
    ref CHAR(36) NOT NULL,
    meta JSON NOT NULL,
    KEY orders_customer (customer(32)),
    KEY orders_ordered_on (ordered_on)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

const CHANNELS: &[&str] = &["web", "phone", "store", "partner"];
const NAMES: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Linus",
];

/// One generated order.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// 1, 2, 3, …
    pub order_id: i64,
    /// A name and a number.
    pub customer: String,
    /// Between 2020-01-01 and 2025-06-23.
    pub ordered_on: NaiveDate,
    /// Up to ten days after `ordered_on`, whole seconds.
    pub shipped_at: NaiveDateTime,
    /// The amount in cents (the column holds `cents / 100` exactly).
    pub cents: i64,
    /// 1–999.
    pub quantity: i32,
    /// Thousandths of a kilogram (the column holds `grams / 1000`).
    pub grams: i64,
    /// Paid or not.
    pub paid: bool,
    /// A random (version 4) UUID.
    pub reference: uuid::Uuid,
    /// A small JSON object.
    pub meta: String,
}

impl Order {
    /// The order of row `index` (0-based).
    pub fn generate(rng: &mut StdRng, index: u64) -> Order {
        let epoch = NaiveDate::from_ymd_opt(2020, 1, 1).expect("a valid date");
        let ordered_on = epoch + Duration::days(rng.gen_range(0..2000));
        let shipped_at = ordered_on.and_hms_opt(0, 0, 0).expect("midnight")
            + Duration::seconds(rng.gen_range(0..10 * 86_400));
        let items: u32 = rng.gen_range(1..6);
        Order {
            order_id: index as i64 + 1,
            customer: format!(
                "{} {}",
                NAMES[rng.gen_range(0..NAMES.len())],
                rng.gen_range(1..100_000)
            ),
            ordered_on,
            shipped_at,
            cents: rng.gen_range(1..10_000_000_000),
            quantity: rng.gen_range(1..1000),
            grams: rng.gen_range(1..5_000_000),
            paid: rng.gen_bool(0.7),
            reference: uuid::Builder::from_random_bytes(rng.gen()).into_uuid(),
            meta: format!(
                r#"{{"channel":"{}","items":{items},"gift":{}}}"#,
                CHANNELS[rng.gen_range(0..CHANNELS.len())],
                rng.gen_bool(0.1)
            ),
        }
    }

    /// `12.34` from 1234 cents.
    pub fn amount(&self) -> String {
        decimal(self.cents, 100)
    }

    /// `1.234` from 1234 grams.
    pub fn weight(&self) -> String {
        decimal(self.grams, 1000)
    }

    /// The CSV record, in [`COLUMNS`] order.
    fn csv_record(&self) -> [String; 10] {
        [
            self.order_id.to_string(),
            self.customer.clone(),
            self.ordered_on.to_string(),
            self.shipped_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            self.amount(),
            self.quantity.to_string(),
            self.weight(),
            u8::from(self.paid).to_string(),
            self.reference.to_string(),
            self.meta.clone(),
        ]
    }
}

/// `units / per` with as many decimals as `per` has zeros.
fn decimal(units: i64, per: i64) -> String {
    let places = per.ilog10() as usize;
    format!("{}.{:0places$}", units / per, units % per)
}

/// A CSV writer of `path` with `\n` line ends (as `LOAD DATA` expects)
/// and the header written.
fn csv_writer(path: &Path) -> anyhow::Result<csv::Writer<std::io::BufWriter<std::fs::File>>> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(std::io::BufWriter::new(std::fs::File::create(path)?));
    out.write_record(COLUMNS.split(", "))?;
    Ok(out)
}

fn finish(out: csv::Writer<std::io::BufWriter<std::fs::File>>, path: &Path) -> anyhow::Result<()> {
    out.into_inner()
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.error()))?
        .flush()?;
    Ok(())
}

/// Writes `rows` orders (seed 42) to `csv` and, as typed cells, to `xlsx`;
/// and to `prefill` the same rows with their keys moved past them
/// (`order_id + rows`), which the `filled` scenario loads first so that
/// the measured rows do not collide with the primary key.
pub fn generate(csv: &Path, xlsx: &Path, prefill: &Path, rows: u64) -> anyhow::Result<()> {
    let header: Vec<&str> = COLUMNS.split(", ").collect();
    let mut out = csv_writer(csv)?;
    let mut moved = csv_writer(prefill)?;
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    sheet.set_name("Orders")?;
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h)?;
    }
    let day = Format::new().set_num_format("yyyy-mm-dd");
    let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let money = Format::new().set_num_format("0.00");
    let mut rng = StdRng::seed_from_u64(42);
    for i in 0..rows {
        let o = Order::generate(&mut rng, i);
        out.write_record(o.csv_record())?;
        let shifted = Order {
            order_id: o.order_id + rows as i64,
            ..o.clone()
        };
        moved.write_record(shifted.csv_record())?;
        let r = (i + 1) as u32;
        sheet.write_number(r, 0, o.order_id as f64)?;
        sheet.write_string(r, 1, &o.customer)?;
        sheet.write_datetime_with_format(r, 2, excel_date(o.ordered_on)?, &day)?;
        let at = excel_date(o.shipped_at.date())?.and_hms(
            o.shipped_at.hour() as u16,
            o.shipped_at.minute() as u8,
            o.shipped_at.second() as f64,
        )?;
        sheet.write_datetime_with_format(r, 3, at, &stamp)?;
        sheet.write_number_with_format(r, 4, o.cents as f64 / 100.0, &money)?;
        sheet.write_number(r, 5, o.quantity)?;
        sheet.write_number(r, 6, o.grams as f64 / 1000.0)?;
        sheet.write_boolean(r, 7, o.paid)?;
        sheet.write_string(r, 8, o.reference.to_string())?;
        sheet.write_string(r, 9, &o.meta)?;
    }
    finish(out, csv)?;
    finish(moved, prefill)?;
    workbook.save(xlsx)?;
    Ok(())
}

fn excel_date(d: NaiveDate) -> anyhow::Result<ExcelDateTime> {
    Ok(ExcelDateTime::from_ymd(
        d.year() as u16,
        d.month() as u8,
        d.day() as u8,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_their_places() {
        assert_eq!(decimal(1234, 100), "12.34");
        assert_eq!(decimal(5, 100), "0.05");
        assert_eq!(decimal(1, 1000), "0.001");
        assert_eq!(decimal(99_999_999_999, 100), "999999999.99");
    }

    #[test]
    fn amounts_survive_the_double_of_the_workbook() {
        // The workbook holds cents / 100 as a double; its shortest form
        // must be the two decimals the CSV holds.
        let mut rng = StdRng::seed_from_u64(42);
        for i in 0..10_000 {
            let o = Order::generate(&mut rng, i);
            let as_double = (o.cents as f64 / 100.0).to_string();
            let trimmed = o
                .amount()
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string();
            assert_eq!(as_double, trimmed, "{o:?}");
            let grams = (o.grams as f64 / 1000.0).to_string();
            let w = o
                .weight()
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string();
            assert_eq!(grams, w, "{o:?}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_orders() {
        let mut a = StdRng::seed_from_u64(1);
        let mut b = StdRng::seed_from_u64(1);
        assert_eq!(Order::generate(&mut a, 3), Order::generate(&mut b, 3));
    }
}
