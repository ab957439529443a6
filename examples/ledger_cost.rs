//! Measures what the HTTP service's ledger (`Sink::with_ledger`: each
//! write also records its count atomically with its rows) costs, per
//! method, against the same database, alternating with and without.
//!
//! ```sh
//! target/release/sheetpipe generate /tmp/l.csv --rows 20000
//! cargo run --release --example ledger_cost -- postgres://postgres@127.0.0.1/db /tmp/l.csv
//! ```

use std::time::Instant;

use sheetpipe::pipeline::{self, Control, ImportJob, Method, Plan};
use sheetpipe::sink::{DatabaseUrl, Sink};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: DATABASE_URL FILE");
    let file = args.next().expect("usage: DATABASE_URL FILE");
    let sink = Sink::connect(&DatabaseUrl::parse(Some(&url)).unwrap())
        .await
        .unwrap();
    let ledgered = sink.with_ledger("ledger-cost-benchmark");
    for method in [
        Method::Sequential,
        Method::Concurrent,
        Method::Batch,
        Method::Copy,
    ] {
        let mut rates = [Vec::new(), Vec::new()];
        for _ in 0..3 {
            for (i, s) in [&sink, &ledgered].into_iter().enumerate() {
                let plan = Plan::new(method, None, None);
                let t = Instant::now();
                let r = pipeline::run(ImportJob::new(&file), &plan, s, &Control::default()).await;
                assert!(r.error.is_none(), "{:?}", r.error);
                rates[i].push(r.rows_read as f64 / t.elapsed().as_secs_f64());
            }
        }
        for r in &mut rates {
            r.sort_by(f64::total_cmp);
        }
        println!(
            "{method}: without ledger {:.0} rows/s, with ledger {:.0} rows/s ({:+.1}%)",
            rates[0][1],
            rates[1][1],
            (rates[1][1] / rates[0][1] - 1.0) * 100.0
        );
    }
}
