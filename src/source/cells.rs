//! Parts shared by the calamine-based readers (xlsx, xlsb, xls, ods):
//! choosing the sheet, turning calamine's values into our [`Cell`]s,
//! grouping a stream of cells into rows with [`Limits`] enforced, filling
//! merged ranges, and counting bytes read for progress.

use std::fs::File;
use std::ops::ControlFlow;

use calamine::{Data, DataRef, Dimensions, Sheet, SheetType, SheetVisible};

use super::{Limits, SourceError};
use crate::model::{Cell, RawRow};

/// The error for a workbook that needs a password to open.
pub(crate) fn password_protected() -> SourceError {
    SourceError::Unsupported(super::Format::Encrypted.unsupported_message())
}

/// Picks the sheet to read. `wanted` is a sheet name (exact, else
/// ignoring case and surrounding spaces) or a 1-based position among all
/// sheets; with `None`, the first visible worksheet. An unknown sheet is an
/// error listing the sheets.
pub(crate) fn pick_sheet(sheets: &[Sheet], wanted: Option<&str>) -> Result<String, SourceError> {
    let names = || sheets.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    let Some(wanted) = wanted else {
        let worksheet = |s: &&Sheet| s.typ == SheetType::WorkSheet;
        return sheets
            .iter()
            .filter(worksheet)
            .find(|s| s.visible == SheetVisible::Visible)
            .or_else(|| sheets.iter().find(worksheet))
            .map(|s| s.name.clone())
            .ok_or_else(|| SourceError::SheetNotFound {
                wanted: "a worksheet".into(),
                available: names(),
            });
    };
    if let Some(s) = sheets.iter().find(|s| s.name == wanted) {
        return Ok(s.name.clone());
    }
    let loose = wanted.trim().to_lowercase();
    if let Some(s) = sheets
        .iter()
        .find(|s| s.name.trim().to_lowercase() == loose)
    {
        return Ok(s.name.clone());
    }
    if let Ok(n) = wanted.trim().parse::<usize>() {
        if let Some(s) = n.checked_sub(1).and_then(|i| sheets.get(i)) {
            return Ok(s.name.clone());
        }
    }
    Err(SourceError::SheetNotFound {
        wanted: wanted.to_string(),
        available: names(),
    })
}

/// Maps a borrowed calamine value to ours; dates become ISO-8601 text here,
/// while the workbook's 1900/1904 date system is known.
pub(crate) fn convert(value: &DataRef<'_>) -> Cell {
    match value {
        DataRef::Empty => Cell::Empty,
        DataRef::Int(i) => Cell::Int(*i),
        DataRef::Float(f) => Cell::Float(*f),
        DataRef::String(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text((*s).to_string()),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(dt) => date_cell(dt),
        DataRef::DateTimeIso(s) => Cell::DateTime(s.clone()),
        DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::Error(e) => Cell::Error(e.to_string()),
    }
}

/// Maps an owned calamine value (xls, ods ranges) to ours.
pub(crate) fn convert_owned(value: &Data) -> Cell {
    match value {
        Data::Empty => Cell::Empty,
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Float(*f),
        Data::String(s) => Cell::Text(s.clone()),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => date_cell(dt),
        Data::DateTimeIso(s) => Cell::DateTime(iso_text(s)),
        Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Error(e.to_string()),
    }
}

fn date_cell(dt: &calamine::ExcelDateTime) -> Cell {
    if dt.is_duration() {
        return Cell::DateTime(iso_duration(dt.as_f64()));
    }
    match dt.as_datetime() {
        // A serial between 0 and 1 is a time of day without a date in
        // either date system (in 1904 its day would read as 1904-01-01).
        Some(ndt) if dt.as_f64() > 0.0 && dt.as_f64() < 1.0 => {
            Cell::DateTime(ndt.format("%H:%M:%S%.f").to_string())
        }
        Some(ndt) => Cell::DateTime(iso_datetime(ndt)),
        None => Cell::Float(dt.as_f64()),
    }
}

/// An Excel duration (days, e.g. a `[h]:mm:ss` cell) as ISO-8601:
/// 10.632060185 → `PT255H10M10S`; milliseconds only when present.
pub(crate) fn iso_duration(days: f64) -> String {
    let total_ms = (days.abs() * 86_400_000.0).round() as u64;
    let sign = if days < 0.0 && total_ms > 0 { "-" } else { "" };
    let (h, rest) = (total_ms / 3_600_000, total_ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    if ms == 0 {
        format!("{sign}PT{h}H{m}M{s}S")
    } else {
        format!("{sign}PT{h}H{m}M{s}.{ms:03}S")
    }
}

/// ODS stores ISO text already; drop a zero time (`2024-01-02T00:00:00`
/// → `2024-01-02`) so it reads like the other formats.
fn iso_text(s: &str) -> String {
    s.strip_suffix("T00:00:00").unwrap_or(s).to_string()
}

/// ISO-8601 for a spreadsheet date/time: a date alone when there is no time
/// of day, a time alone for Excel's day-zero times, both otherwise;
/// milliseconds only when there are some.
pub(crate) fn iso_datetime(dt: chrono::NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let time_zero = dt.time().num_seconds_from_midnight() == 0 && dt.nanosecond() == 0;
    let day_zero = dt.date() == chrono::NaiveDate::from_ymd_opt(1899, 12, 31).expect("valid")
        || dt.date() == chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid");
    // The layouts below, written digit by digit: chrono's `format` parses
    // its format string again for every cell (8% of a typed .xlsx read).
    // Years outside 0–9999 and leap seconds keep chrono's forms.
    if !(0..=9999).contains(&dt.year()) || dt.nanosecond() >= 1_000_000_000 {
        return iso_datetime_by_chrono(dt, time_zero, day_zero);
    }
    let mut out = String::with_capacity(29);
    let digits = |n: u32, width: u32, out: &mut String| {
        for p in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(p) % 10) as u8));
        }
    };
    if !day_zero || time_zero {
        digits(dt.year() as u32, 4, &mut out);
        out.push('-');
        digits(dt.month(), 2, &mut out);
        out.push('-');
        digits(dt.day(), 2, &mut out);
        if time_zero {
            return out;
        }
        out.push('T');
    }
    digits(dt.hour(), 2, &mut out);
    out.push(':');
    digits(dt.minute(), 2, &mut out);
    out.push(':');
    digits(dt.second(), 2, &mut out);
    // chrono's `%.f`: nothing, or 3, 6 or 9 digits, the fewest exact.
    let ns = dt.nanosecond();
    match ns {
        0 => {}
        _ if ns.is_multiple_of(1_000_000) => {
            out.push('.');
            digits(ns / 1_000_000, 3, &mut out);
        }
        _ if ns.is_multiple_of(1000) => {
            out.push('.');
            digits(ns / 1000, 6, &mut out);
        }
        _ => {
            out.push('.');
            digits(ns, 9, &mut out);
        }
    }
    out
}

/// [`iso_datetime`]'s layouts by chrono's `format`.
fn iso_datetime_by_chrono(dt: chrono::NaiveDateTime, time_zero: bool, day_zero: bool) -> String {
    if time_zero {
        dt.format("%Y-%m-%d").to_string()
    } else if day_zero {
        dt.format("%H:%M:%S%.f").to_string()
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
    }
}

/// Groups cells arriving in row order into [`RawRow`]s, enforcing the
/// row, column and cell-size limits, and fills merged ranges.
pub(crate) struct RowAssembler<'l> {
    limits: &'l Limits,
    current: Option<RawRow>,
    rows: u64,
    merges: Merges,
}

impl<'l> RowAssembler<'l> {
    /// An assembler with no row yet.
    pub(crate) fn new(limits: &'l Limits, merges: Vec<Dimensions>) -> Self {
        RowAssembler {
            limits,
            current: None,
            rows: 0,
            merges: Merges::new(merges),
        }
    }

    /// Adds the cell at 0-based (`r`, `c`); emits the previous row when
    /// this cell starts a new one. `Break` when the consumer stopped.
    pub(crate) fn push(
        &mut self,
        r: u32,
        c: u32,
        value: Cell,
        emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, SourceError> {
        let number = r.saturating_add(1);
        self.limits.check_columns(number, c as u64 + 1)?;
        if let Cell::Text(s) = &value {
            self.limits.check_cell_bytes(number, s.len())?;
        }
        if self
            .current
            .as_ref()
            .is_some_and(|row| row.number != number)
        {
            if let Some(done) = self.current.take() {
                if self.emit(done, emit).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
        if self.current.is_none() {
            self.rows += 1;
            self.limits.check_rows(self.rows)?;
            self.current = Some(RawRow {
                number,
                cells: Vec::new(),
            });
        }
        if value != Cell::Empty {
            let row = self.current.as_mut().expect("set above");
            let c = c as usize;
            if row.cells.len() <= c {
                row.cells.resize(c + 1, Cell::Empty);
            }
            row.cells[c] = value;
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Emits the last row.
    pub(crate) fn finish(mut self, emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>) {
        if let Some(row) = self.current.take() {
            let _ = self.emit(row, emit);
        }
    }

    fn emit(
        &mut self,
        mut row: RawRow,
        emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        self.merges.apply(&mut row);
        emit(row)
    }
}

/// Merged ranges: each row of a range spanning several rows reads the
/// range's top-left value in the range's first column (the value a person
/// sees beside every row of it), when the row has values of its own.
/// Columns after the first stay empty, so a title merged across columns
/// never fills several fields.
struct Merges {
    /// Ranges spanning more than one row, by first row.
    ranges: Vec<Dimensions>,
    /// The first range of `ranges` not yet reached.
    next: usize,
    /// (range, value) for ranges whose top-left cell has been read.
    active: Vec<(Dimensions, Cell)>,
}

impl Merges {
    fn new(mut ranges: Vec<Dimensions>) -> Merges {
        ranges.retain(|d| d.end.0 > d.start.0);
        ranges.sort_by_key(|d| d.start);
        Merges {
            ranges,
            next: 0,
            active: Vec::new(),
        }
    }

    fn apply(&mut self, row: &mut RawRow) {
        if self.next == self.ranges.len() && self.active.is_empty() {
            return;
        }
        let r = row.number - 1;
        self.active.retain(|(d, _)| d.end.0 >= r);
        // A row with no value of its own stays blank (and is skipped): the
        // covered rows of a block merged over whole rows are not records.
        let own = !row.is_blank();
        for (d, value) in self.active.iter().filter(|_| own) {
            let c = d.start.1 as usize;
            if row.cells.get(c).is_none_or(|v| *v == Cell::Empty) {
                if row.cells.len() <= c {
                    row.cells.resize(c + 1, Cell::Empty);
                }
                row.cells[c] = value.clone();
            }
        }
        while let Some(&d) = self.ranges.get(self.next).filter(|d| d.start.0 <= r) {
            self.next += 1;
            if d.start.0 == r {
                let value = row.cells.get(d.start.1 as usize).cloned();
                if let Some(value) = value.filter(|v| *v != Cell::Empty) {
                    self.active.push((d, value));
                }
            }
        }
    }
}

/// Opens `path` for a workbook reader, buffered.
pub(crate) fn open_buffered(
    path: &std::path::Path,
) -> Result<std::io::BufReader<File>, SourceError> {
    let file = File::open(path).map_err(|source| SourceError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(std::io::BufReader::with_capacity(64 * 1024, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit-by-digit layouts are chrono's, for every kind of value:
    /// dates alone, Excel's day-zero times, both, and fractions of 3, 6
    /// and 9 digits.
    #[test]
    fn iso_datetime_writes_what_chrono_writes() {
        use chrono::{Duration, NaiveDate};
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let base = NaiveDate::from_ymd_opt(1899, 12, 30)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let fractions = [
            0,
            1_000_000,
            120_000_000,
            5_000,
            123_456_000,
            7,
            999_999_999,
        ];
        for i in 0..20_000 {
            let days = match i % 4 {
                0 | 1 => rng.gen_range(0..2_958_465),
                2 => rng.gen_range(0..2),
                _ => rng.gen_range(-800_000..0),
            };
            let secs = if i % 3 == 0 {
                0
            } else {
                rng.gen_range(0..86_400)
            };
            let ns = fractions[rng.gen_range(0..fractions.len())];
            let dt =
                base + Duration::days(days) + Duration::seconds(secs) + Duration::nanoseconds(ns);
            let time_zero = secs == 0 && ns == 0;
            let day_zero = matches!(days, 0 | 1);
            assert_eq!(
                iso_datetime(dt),
                iso_datetime_by_chrono(dt, time_zero, day_zero),
                "{dt:?}"
            );
        }
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_milli_opt(23, 59, 59, 1500)
            .unwrap();
        assert_eq!(iso_datetime(leap), "2016-12-31T23:59:60.500");
        let far = NaiveDate::from_ymd_opt(10_000, 1, 1)
            .unwrap()
            .and_hms_opt(1, 2, 3)
            .unwrap();
        assert_eq!(iso_datetime(far), "+10000-01-01T01:02:03");
    }

    fn sheet(name: &str, typ: SheetType, visible: SheetVisible) -> Sheet {
        Sheet {
            name: name.into(),
            typ,
            visible,
        }
    }

    fn date_serial(serial: f64, is_1904: bool) -> Cell {
        let kind = calamine::ExcelDateTimeType::DateTime;
        convert(&DataRef::DateTime(calamine::ExcelDateTime::new(
            serial, kind, is_1904,
        )))
    }

    #[test]
    fn date_cells_become_iso_text_in_both_date_systems() {
        let dt = |s: &str| Cell::DateTime(s.into());
        assert_eq!(date_serial(45293.0, false), dt("2024-01-02"));
        assert_eq!(date_serial(45293.75, false), dt("2024-01-02T18:00:00"));
        assert_eq!(date_serial(0.0, true), dt("1904-01-01"));
        assert_eq!(date_serial(43831.75, true), dt("2024-01-02T18:00:00"));
        assert_eq!(
            date_serial(45293.5 + 0.5 / 86_400.0, false),
            dt("2024-01-02T12:00:00.500")
        );
    }

    #[test]
    fn a_pure_time_cell_is_a_time_alone_in_both_date_systems() {
        for is_1904 in [false, true] {
            assert_eq!(
                date_serial(0.75, is_1904),
                Cell::DateTime("18:00:00".into()),
                "{is_1904}"
            );
        }
    }

    #[test]
    fn the_default_sheet_is_the_first_visible_worksheet() {
        let sheets = [
            sheet("Chart", SheetType::ChartSheet, SheetVisible::Visible),
            sheet("Hidden", SheetType::WorkSheet, SheetVisible::Hidden),
            sheet("Data", SheetType::WorkSheet, SheetVisible::Visible),
        ];
        assert_eq!(pick_sheet(&sheets, None).unwrap(), "Data");
        assert_eq!(pick_sheet(&sheets, Some("hidden ")).unwrap(), "Hidden");
        assert_eq!(pick_sheet(&sheets, Some("2")).unwrap(), "Hidden");
        let err = pick_sheet(&sheets, Some("Nope")).unwrap_err().to_string();
        assert!(err.contains("Chart, Hidden, Data"), "{err}");
        assert!(pick_sheet(&sheets, Some("0")).is_err());
    }

    #[test]
    fn a_vertical_merge_repeats_its_value_and_a_horizontal_one_does_not() {
        let limits = Limits::default();
        let merges = vec![
            Dimensions::new((1, 1), (3, 1)),
            Dimensions::new((0, 0), (0, 2)),
        ];
        let mut asm = RowAssembler::new(&limits, merges);
        let mut rows = Vec::new();
        let mut emit = |r: RawRow| {
            rows.push(r);
            ControlFlow::Continue(())
        };
        let t = |s: &str| Cell::Text(s.into());
        for (r, c, v) in [(0, 0, t("Title")), (1, 0, t("a")), (1, 1, t("Retail"))] {
            assert!(asm.push(r, c, v, &mut emit).unwrap().is_continue());
        }
        for r in 2..5 {
            assert!(asm.push(r, 0, t("x"), &mut emit).unwrap().is_continue());
        }
        asm.finish(&mut emit);
        assert_eq!(rows[0].cells, vec![t("Title")]);
        assert_eq!(rows[2].cells, vec![t("x"), t("Retail")]);
        assert_eq!(rows[3].cells, vec![t("x"), t("Retail")]);
        assert_eq!(rows[4].cells, vec![t("x")]);
    }

    #[test]
    fn a_row_covered_by_a_merge_without_values_of_its_own_stays_blank() {
        let limits = Limits::default();
        let mut asm = RowAssembler::new(&limits, vec![Dimensions::new((0, 0), (2, 0))]);
        let mut rows = Vec::new();
        let mut emit = |r: RawRow| {
            rows.push(r);
            ControlFlow::Continue(())
        };
        for r in 0..3 {
            let v = if r == 0 {
                Cell::Text("A".into())
            } else {
                Cell::Empty
            };
            assert!(asm.push(r, 0, v, &mut emit).unwrap().is_continue());
        }
        asm.finish(&mut emit);
        assert!(rows[1].is_blank() && rows[2].is_blank());
    }

    #[test]
    fn durations_are_iso_8601() {
        assert_eq!(iso_duration(10.632060185185185), "PT255H10M10S");
        assert_eq!(iso_duration(1.5 / 86_400.0), "PT0H0M1.500S");
        assert_eq!(iso_duration(-1.0 / 24.0), "-PT1H0M0S");
    }
}
