//! `sheetpipe bench`: reproduces the tutorial's table on this machine and
//! sets it against the database's own floor, measured in the same run.
//!
//! For each row count the bench generates clean data ([`crate::generate`],
//! .xlsx and .csv of the same rows), creates a scratch database on the
//! server (`sheetpipe_bench_<pid>`, dropped at the end) with the tutorial's
//! table and six indexes, and then, `runs` times, interleaved so that the
//! machine's noise falls on every line alike:
//!
//! * the **floor**: `TRUNCATE … RESTART IDENTITY`, then the clean CSV by
//!   `psql \copy` ([`measure::floor`]);
//! * each **case** (method × format): the same reset, then
//!   `sheetpipe import FILE --method M --json` as a child process of this
//!   binary, so that wall time includes start-up and peak RSS is the
//!   import's own.
//!
//! The table is the tutorial's `businesses` or, with `table`, the typed
//! `orders` ([`orders`]); the server PostgreSQL or, given a `mysql://` URL,
//! MariaDB/MySQL, whose floor is `LOAD DATA LOCAL INFILE` by the `mariadb`
//! client ([`measure::load_data`]). With `inference`, `--create` is
//! measured against `--table` into the table it made ([`inference`]).
//!
//! The `filled` scenario first loads the same rows (so the table and its
//! indexes already hold as many rows) and vacuums, then measures.
//!
//! With `file` (`--file`), a user's spreadsheet is measured instead: it is
//! imported once, untimed, to learn how many rows it holds, stores and
//! rejects; the stored rows, exported in file order, are the clean CSV the
//! floor and the `csv` cases load; each case must then report exactly those
//! counts.
//! Every run's counts are checked against the file and the table; a wrong
//! count is reported (`counts_exact: false`), slowness never fails.

mod block;
pub mod http;
pub mod inference;
pub mod measure;
pub mod orders;
mod report;
pub mod table;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use inference::Inference;
pub use measure::{ChildRun, FloorTool};
pub use report::{median, BenchReport, Machine, Row};
pub use table::{BenchTable, Db};

use crate::pipeline::Method;
use block::{reset, Block};

/// Input format of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum DataFormat {
    /// The generated workbook (inline strings unless `shared_strings`).
    Xlsx,
    /// The same rows as CSV.
    Csv,
    /// The .xlsx uploaded to `POST /upload?method=M` of a `sheetpipe serve`
    /// child (end to end: request to answer).
    Http,
}

impl DataFormat {
    /// `xlsx` / `csv`.
    pub fn name(self) -> &'static str {
        match self {
            DataFormat::Xlsx => "xlsx",
            DataFormat::Csv => "csv",
            DataFormat::Http => "http",
        }
    }
}

/// State of the table when an import starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Scenario {
    /// Truncated: no rows.
    Empty,
    /// Already holding as many rows as the file.
    Filled,
}

impl Scenario {
    /// `empty` / `filled`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Empty => "empty",
            Scenario::Filled => "filled",
        }
    }
}

/// One measured import configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Case {
    /// The import method.
    pub method: Method,
    /// The input format.
    pub format: DataFormat,
    /// One side of the `--inference` comparison, or None for an import
    /// into the bench's table.
    pub inference: Option<Inference>,
}

impl Case {
    /// An import by `method` of `format` into the bench's table.
    pub fn plain(method: Method, format: DataFormat) -> Case {
        Case {
            method,
            format,
            inference: None,
        }
    }

    /// `copy`, or `copy --create` / `copy --table` for inference.
    pub fn label(&self) -> String {
        match self.inference {
            None => self.method.name().to_string(),
            Some(Inference::Create) => format!("{} --create", self.method),
            Some(Inference::Existing) => format!("{} --table", self.method),
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Row counts, one table block each.
    pub rows: Vec<u64>,
    /// Methods to run.
    pub methods: Vec<Method>,
    /// Formats to run each method on.
    pub formats: Vec<DataFormat>,
    /// Table states to import into.
    pub scenarios: Vec<Scenario>,
    /// A PostgreSQL or MySQL/MariaDB URL on the server to use (the
    /// scratch database is created next to the one it names).
    pub database_url: String,
    /// The table imported into.
    pub table: BenchTable,
    /// Also measure `--create` against `--table` (copy, empty table).
    pub inference: bool,
    /// Runs per measurement (medians are reported).
    pub runs: usize,
    /// Per-row methods (sequential, concurrent) are skipped above this.
    pub per_row_max_rows: u64,
    /// Generate the .xlsx with a shared-strings table.
    pub shared_strings: bool,
    /// The sheetpipe binary to run imports with.
    pub bin: PathBuf,
    /// Where to write the generated files (a temporary directory if None).
    pub work_dir: Option<PathBuf>,
    /// Measure this spreadsheet instead of generated data (`rows` is then
    /// ignored): each case imports it; the floor and the `csv` cases use
    /// the rows it stores, exported as a clean CSV.
    pub file: Option<PathBuf>,
}

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

/// The cases to run at `rows`, and the reasons for any skipped.
pub fn cases(opts: &BenchOptions, rows: u64) -> (Vec<Case>, Vec<String>) {
    let mut run = Vec::new();
    let mut skipped = Vec::new();
    for &method in &opts.methods {
        let per_row = matches!(method, Method::Sequential | Method::Concurrent);
        if per_row && rows > opts.per_row_max_rows {
            skipped.push(format!(
                "{method} at {rows} rows (per-row methods run up to --per-row-max-rows {})",
                opts.per_row_max_rows
            ));
            continue;
        }
        for &format in &opts.formats {
            run.push(Case::plain(method, format));
        }
    }
    (run, skipped)
}

/// Runs the whole bench; `note` receives one line per measurement.
pub async fn run(opts: &BenchOptions, note: &mut dyn FnMut(&str)) -> anyhow::Result<BenchReport> {
    if opts.file.is_some() && (opts.table != BenchTable::Businesses || opts.inference) {
        anyhow::bail!("--file measures the businesses table, without --inference");
    }
    let floor_tool = FloorTool::detect(&opts.database_url)?;
    let admin = Db::connect(&opts.database_url).await?;
    let server = admin.version().await?;
    let db = format!("sheetpipe_bench_{}", std::process::id());
    admin.create_database(&db).await?;
    let url = with_database(&opts.database_url, &db);
    let (dir, owned_dir) = match &opts.work_dir {
        Some(d) => (d.clone(), false),
        None => (std::env::temp_dir().join(&db), true),
    };
    let result = run_in(opts, &url, &dir, floor_tool, note).await;
    let _ = admin.drop_database(&db).await;
    if owned_dir {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let (results, skipped) = result?;
    let mut report = BenchReport {
        machine: Machine {
            cores: crate::pipeline::cores(),
            os: os_line(),
            server,
        },
        table: opts.table.name(),
        scratch_database: db,
        floor_tool,
        runs: opts.runs,
        results,
        skipped,
    };
    report.derive();
    Ok(report)
}

/// Seconds per run, max peak RSS, all counts exact — per table line.
#[derive(Default)]
struct Tally {
    seconds: Vec<f64>,
    peak_rss_kb: Option<u64>,
    exact: bool,
}

type Key = (u64, Scenario, Option<Case>);

async fn run_in(
    opts: &BenchOptions,
    url: &str,
    dir: &Path,
    tool: FloorTool,
    note: &mut dyn FnMut(&str),
) -> anyhow::Result<(Vec<Row>, Vec<String>)> {
    std::fs::create_dir_all(dir)?;
    let db = Db::connect(url).await?;
    opts.table.create(&db, url).await?;
    let server = match opts.formats.contains(&DataFormat::Http) {
        true => Some(http::Server::start(&opts.bin, url, &dir.join("serve")).await?),
        false => None,
    };
    let env = Env {
        opts,
        url,
        db,
        tool,
        server,
    };
    let result = measure_all(&env, dir, note).await;
    if let Some(s) = env.server {
        s.stop().await;
    }
    result
}

/// What every measurement needs.
struct Env<'a> {
    opts: &'a BenchOptions,
    url: &'a str,
    db: Db,
    tool: FloorTool,
    server: Option<http::Server>,
}

async fn measure_all(
    env: &Env<'_>,
    dir: &Path,
    note: &mut dyn FnMut(&str),
) -> anyhow::Result<(Vec<Row>, Vec<String>)> {
    let opts = env.opts;
    let mut tallies: HashMap<Key, Tally> = HashMap::new();
    let mut order: Vec<Key> = Vec::new();
    let mut skipped = Vec::new();
    let blocks: Vec<Option<u64>> = match opts.file {
        Some(_) => vec![None],
        None => opts.rows.iter().map(|&r| Some(r)).collect(),
    };
    for block in blocks {
        let block = match (block, &opts.file) {
            (Some(rows), _) => Block::generated(dir, opts.table, rows, opts.shared_strings)?,
            (None, Some(file)) => Block::from_file(env, dir, file).await?,
            (None, None) => unreachable!("a block is generated or a file"),
        };
        let (rows, files) = (block.rows, &block.files);
        if opts.file.is_some() {
            note(&format!(
                "{}: {rows} data rows, {} stored, {} rejected by sheetpipe; the floor loads the {} stored",
                files.xlsx.display(),
                block.stored,
                block.rejected,
                block.stored
            ));
        }
        let (cases, skip) = cases(opts, rows);
        skipped.extend(skip);
        let table = opts.table.name();
        for &scenario in &opts.scenarios {
            let mut cases = cases.clone();
            if opts.inference && scenario == Scenario::Empty {
                cases.extend(inference::cases(&opts.formats));
            }
            for run in 1..=opts.runs.max(1) {
                let prefill = reset(env, scenario, &files.prefill).await?;
                let t = measure::floor(env.tool, env.url, &env.db, opts.table, &files.csv).await?;
                let exact = env.db.count(table).await? == prefill + block.stored;
                let (secs, sc) = (t.as_secs_f64(), scenario.name());
                note(&format!(
                    "{rows} rows, {sc} table, run {run}: floor {secs:.3} s"
                ));
                record(
                    &mut tallies,
                    &mut order,
                    (rows, scenario, None),
                    secs,
                    None,
                    exact,
                );
                for case in &cases {
                    let (into, prefill) = match case.inference {
                        None => (
                            table.to_string(),
                            reset(env, scenario, &files.prefill).await?,
                        ),
                        Some(side) => (inference::prepare(env, case, side).await?, 0),
                    };
                    let (secs, rss, counts) =
                        measure_case(env, *case, files.of(case.format)).await?;
                    let exact = counts == block.expected(case.format)
                        && env.db.count(&into).await? == prefill + block.stored;
                    note(&format!(
                        "{rows} rows, {sc} table, run {run}: {} {} {secs:.3} s, peak RSS {} KiB",
                        case.label(),
                        case.format.name(),
                        rss.map_or("—".to_string(), |k| k.to_string()),
                    ));
                    let key = (rows, scenario, Some(*case));
                    record(&mut tallies, &mut order, key, secs, rss, exact);
                }
            }
        }
    }
    let label = |f: DataFormat| match (f, opts.file.is_some()) {
        (DataFormat::Xlsx, true) => "file",
        (f, _) => f.name(),
    };
    let rows = order
        .into_iter()
        .map(|key| line(key, &tallies[&key], label))
        .collect();
    Ok((rows, skipped))
}

/// One import of `file` by `case`: seconds, peak RSS (child imports only)
/// and the (total, success, error) counts it reported.
async fn measure_case(
    env: &Env<'_>,
    case: Case,
    file: &Path,
) -> anyhow::Result<(f64, Option<u64>, (u64, u64, u64))> {
    if case.format == DataFormat::Http {
        let server = env.server.as_ref().expect("started when http is measured");
        let body = tokio::fs::read(file).await?;
        let up = http::upload(&server.addr, case.method, env.opts.table, &body).await?;
        return Ok((up.wall.as_secs_f64(), None, up.counts));
    }
    let child = import(env, case, file).await?;
    let counts = (child.total_records, child.success_count, child.error_count);
    Ok((child.wall.as_secs_f64(), Some(child.peak_rss_kb), counts))
}

/// `sheetpipe import FILE` by `case` as a child process, into the case's table.
async fn import(env: &Env<'_>, case: Case, file: &Path) -> anyhow::Result<ChildRun> {
    let extra = inference::import_args(env.opts.table, &case);
    let (bin, f, u) = (
        env.opts.bin.clone(),
        file.to_path_buf(),
        env.url.to_string(),
    );
    tokio::task::spawn_blocking(move || measure::import_child(&bin, &f, &case, &u, &extra)).await?
}

/// The table line of one tally.
fn line(key: Key, t: &Tally, label: impl Fn(DataFormat) -> &'static str) -> Row {
    let (rows, scenario, case) = key;
    let median_seconds = median(&t.seconds);
    Row {
        rows,
        scenario: scenario.name(),
        method: case.map_or("floor".into(), |c| c.label()),
        format: case.map_or("csv", |c| label(c.format)),
        seconds: t.seconds.clone(),
        median_seconds,
        records_per_second: rows as f64 / median_seconds,
        speedup_vs_sequential: None,
        ratio_to_floor: None,
        create_vs_table: None,
        peak_rss_kb: t.peak_rss_kb,
        counts_exact: t.exact,
    }
}

fn record(
    tallies: &mut HashMap<Key, Tally>,
    order: &mut Vec<Key>,
    key: Key,
    secs: f64,
    rss: Option<u64>,
    exact: bool,
) {
    let t = tallies.entry(key).or_insert_with(|| {
        order.push(key);
        Tally {
            exact: true,
            ..Tally::default()
        }
    });
    t.seconds.push(secs);
    t.peak_rss_kb = rss.max(t.peak_rss_kb);
    t.exact &= exact;
}

/// OS, architecture and CPU model, for the report.
fn os_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    format!("{} {} {cpu}", std::env::consts::OS, std::env::consts::ARCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_database_replaces_the_urls_database() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
            "postgresql://u:p@h/x?sslmode=disable"
        );
    }

    #[test]
    fn per_row_methods_are_skipped_above_their_limit() {
        let opts = BenchOptions {
            rows: vec![100, 1000],
            methods: vec![Method::Sequential, Method::Copy],
            formats: vec![DataFormat::Xlsx, DataFormat::Csv],
            scenarios: vec![Scenario::Empty],
            database_url: String::new(),
            table: BenchTable::Businesses,
            inference: false,
            runs: 1,
            per_row_max_rows: 500,
            shared_strings: false,
            bin: PathBuf::new(),
            work_dir: None,
            file: None,
        };
        assert_eq!(cases(&opts, 100).0.len(), 4);
        let (run, skipped) = cases(&opts, 1000);
        assert_eq!(run.len(), 2);
        assert!(run.iter().all(|c| c.method == Method::Copy));
        assert_eq!(skipped.len(), 1);
    }
}
