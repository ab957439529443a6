//! Measures what reader isolation and the zip guard cost: for each file,
//! the zip guard alone, then reading every row in this process and through
//! an isolated `sheetpipe __read` child, alternating, median of N runs.
//!
//! ```sh
//! cargo build --release
//! target/release/sheetpipe generate /tmp/b.xlsx --rows 200000
//! cargo run --release --example isolation_cost -- target/release/sheetpipe 5 /tmp/b.xlsx
//! ```

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sheetpipe::source::{self, detect, zipguard, Format, Isolation, Limits, SourceOptions};

fn read_all(path: &Path, isolation: Option<Isolation>) -> (u64, Duration) {
    let started = Instant::now();
    let opts = SourceOptions {
        isolation,
        ..SourceOptions::default()
    };
    let mut reader = source::open(path, &opts).expect("open");
    let mut rows = 0u64;
    reader
        .read(&mut |_| {
            rows += 1;
            ControlFlow::Continue(())
        })
        .expect("read");
    (rows, started.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let program = PathBuf::from(args.next().expect("usage: PROGRAM RUNS FILE…"));
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let iso = Isolation { program };
    for file in args.map(PathBuf::from) {
        let format = detect(&file).expect("detect");
        let (mut here, mut there, mut guard) = (Vec::new(), Vec::new(), Vec::new());
        let mut rows = 0;
        for _ in 0..runs {
            if matches!(format, Format::Xlsx | Format::Xlsb | Format::Ods) {
                let t = Instant::now();
                zipguard::check(&file, format, &Limits::default()).expect("guard");
                guard.push(t.elapsed());
            }
            let (n, d) = read_all(&file, None);
            here.push(d);
            let (m, e) = read_all(&file, Some(iso.clone()));
            assert_eq!(n, m, "same rows either way");
            there.push(e);
            rows = n;
        }
        let (h, t) = (median(here), median(there));
        let rate = |d: Duration| rows as f64 / d.as_secs_f64();
        println!(
            "{} ({}, {rows} rows): in-process {:.0} rows/s ({h:.2?}), isolated {:.0} rows/s ({t:.2?}), isolation cost {:+.1}%{}",
            file.display(),
            format.name(),
            rate(h),
            rate(t),
            (t.as_secs_f64() / h.as_secs_f64() - 1.0) * 100.0,
            if guard.is_empty() {
                String::new()
            } else {
                format!(", zip guard alone {:.2?} (included in both)", median(guard))
            }
        );
    }
}
