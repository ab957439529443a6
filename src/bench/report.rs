//! The bench's results: one [`Row`] per (rows, scenario, case), medians
//! over the runs, ratios to the floor measured in the same run, and the
//! tutorial-style table.

use serde::Serialize;

use super::measure::FloorTool;

/// Everything a bench run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Where it ran.
    pub machine: Machine,
    /// The table imported into (`businesses`, `orders`).
    pub table: &'static str,
    /// The scratch database the run created and dropped.
    pub scratch_database: String,
    /// How the floor was loaded.
    pub floor_tool: FloorTool,
    /// Runs per measurement (the figures are medians over them).
    pub runs: usize,
    /// One entry per (rows, scenario, case), the floor included.
    pub results: Vec<Row>,
    /// Measurements skipped and why (e.g. per-row methods at 1M rows).
    pub skipped: Vec<String>,
}

/// The machine and server measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical cores visible to this process.
    pub cores: usize,
    /// `uname`-style OS and architecture.
    pub os: String,
    /// `SELECT version()` of the server.
    pub server: String,
}

/// One measured line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Data rows in the file.
    pub rows: u64,
    /// `empty` or `filled` (the table already held `rows` rows).
    pub scenario: &'static str,
    /// `floor`, or the import method.
    pub method: String,
    /// `csv`, `xlsx`, `http` or `file`.
    pub format: &'static str,
    /// Wall seconds of each run.
    pub seconds: Vec<f64>,
    /// Median of `seconds`.
    pub median_seconds: f64,
    /// `rows / median_seconds`.
    pub records_per_second: f64,
    /// Median time of `sequential` on the same file / this median.
    pub speedup_vs_sequential: Option<f64>,
    /// This median / the floor's median in the same scenario.
    pub ratio_to_floor: Option<f64>,
    /// `copy --create` only: this median / the median of `copy --table`
    /// into the table it made, same format (the cost of inference).
    pub create_vs_table: Option<f64>,
    /// Largest peak RSS of the child over the runs, KiB (None for the floor).
    pub peak_rss_kb: Option<u64>,
    /// Every run's stats and table count matched the file exactly.
    pub counts_exact: bool,
}

/// The median of a non-empty sample (mean of the middle two when even).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

impl BenchReport {
    /// Fills speedups and floor ratios from the medians.
    pub fn derive(&mut self) {
        let snapshot = self.results.clone();
        for r in &mut self.results {
            let same = |m: &str, f: Option<&str>| {
                snapshot.iter().find(|o| {
                    o.rows == r.rows
                        && o.scenario == r.scenario
                        && o.method == m
                        && f.is_none_or(|f| o.format == f)
                })
            };
            r.ratio_to_floor = same("floor", None).map(|f| r.median_seconds / f.median_seconds);
            r.create_vs_table = r
                .method
                .ends_with(" --create")
                .then(|| same(&r.method.replace(" --create", " --table"), Some(r.format)))
                .flatten()
                .map(|t| r.median_seconds / t.median_seconds);
            r.speedup_vs_sequential = (r.method != "floor")
                .then(|| same("sequential", Some(r.format)))
                .flatten()
                .map(|s| s.median_seconds / r.median_seconds);
        }
    }

    /// The human table: one block per (rows, scenario).
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "machine: {} cores, {}; server: {}; table: {}",
            self.machine.cores, self.machine.os, self.machine.server, self.table
        );
        let _ = writeln!(
            out,
            "medians of {} run(s); floor = the same rows as clean CSV by {}",
            self.runs,
            self.floor_tool.label()
        );
        let mut blocks: Vec<(u64, &str)> = Vec::new();
        for r in &self.results {
            if !blocks.contains(&(r.rows, r.scenario)) {
                blocks.push((r.rows, r.scenario));
            }
        }
        for (rows, scenario) in blocks {
            let into = if scenario == "empty" {
                "an empty table"
            } else {
                "a table already holding the same rows"
            };
            let _ = writeln!(out, "\n{rows} rows into {into}");
            let _ = writeln!(
                out,
                "{:<14} {:<6} {:>10} {:>12} {:>9} {:>8} {:>9} counts",
                "method", "format", "time", "records/s", "speedup", "×floor", "peak RSS"
            );
            for r in self
                .results
                .iter()
                .filter(|r| r.rows == rows && r.scenario == scenario)
            {
                let _ = writeln!(
                    out,
                    "{:<14} {:<6} {:>10} {:>12.0} {:>9} {:>8} {:>9} {}{}",
                    r.method,
                    r.format,
                    seconds(r.median_seconds),
                    r.records_per_second,
                    r.speedup_vs_sequential
                        .map_or("—".into(), |s| format!("{s:.1}×")),
                    r.ratio_to_floor.map_or("—".into(), |s| format!("{s:.2}")),
                    r.peak_rss_kb
                        .map_or("—".into(), |k| format!("{:.1} MB", k as f64 / 1024.0)),
                    if r.counts_exact { "exact" } else { "WRONG" },
                    r.create_vs_table
                        .map_or(String::new(), |x| format!(" (×{x:.2} of --table)")),
                );
            }
        }
        for s in &self.skipped {
            let _ = writeln!(out, "skipped: {s}");
        }
        out
    }
}

/// `850.3 ms` / `12.41 s`, as the import's text output writes durations.
fn seconds(s: f64) -> String {
    crate::pipeline::human_duration(std::time::Duration::from_secs_f64(s.max(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(method: &str, format: &'static str, secs: f64) -> Row {
        Row {
            rows: 10,
            scenario: "empty",
            method: method.into(),
            format,
            seconds: vec![secs],
            median_seconds: secs,
            records_per_second: 10.0 / secs,
            speedup_vs_sequential: None,
            ratio_to_floor: None,
            create_vs_table: None,
            peak_rss_kb: None,
            counts_exact: true,
        }
    }

    #[test]
    fn medians_take_the_middle() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn ratios_compare_within_the_same_block() {
        let mut r = BenchReport {
            machine: Machine {
                cores: 2,
                os: "linux".into(),
                server: "pg".into(),
            },
            table: "businesses",
            scratch_database: "sheetpipe_bench_1".into(),
            floor_tool: FloorTool::PsqlCopy,
            runs: 1,
            results: vec![
                row("floor", "csv", 2.0),
                row("sequential", "xlsx", 8.0),
                row("copy", "xlsx", 1.0),
                row("copy", "csv", 0.5),
                row("copy --create", "csv", 0.75),
                row("copy --table", "csv", 0.6),
            ],
            skipped: vec![],
        };
        r.derive();
        let copy = &r.results[2];
        assert_eq!(copy.ratio_to_floor, Some(0.5));
        assert_eq!(copy.speedup_vs_sequential, Some(8.0));
        assert_eq!(
            r.results[3].speedup_vs_sequential, None,
            "no csv sequential"
        );
        assert_eq!(r.results[4].create_vs_table, Some(1.25));
        assert_eq!(r.results[5].create_vs_table, None);
        assert_eq!(copy.create_vs_table, None);
        assert!(r.table().contains("(×1.25 of --table)"));
    }
}
