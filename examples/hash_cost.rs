//! Measures what the CLI's same-file check costs: the SHA-256 of FILE read
//! once before the import (`source::digest::sha256_file`), each run's wall
//! time, median of 5 (the first run also warms the page cache, as the
//! import's own read would).
//!
//! ```sh
//! target/release/sheetpipe generate /tmp/h100.csv --rows 550000   # 106 MB
//! cargo run --release --example hash_cost -- /tmp/h100.csv
//! ```

use std::time::Instant;

fn main() {
    let file = std::env::args().nth(1).expect("usage: FILE");
    let bytes = std::fs::metadata(&file).expect("the file").len();
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let sha = sheetpipe::source::digest::sha256_file(file.as_ref()).expect("read");
        let took = started.elapsed();
        println!("{sha} in {:.3} s", took.as_secs_f64());
        times.push(took.as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[2];
    println!(
        "median {median:.3} s for {:.1} MB: {:.0} MB/s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / median
    );
}
