//! The `sheetpipe` binary: parse arguments, set up logging, dispatch.

use std::process::ExitCode;

/// mimalloc rather than glibc's allocator: the import's reader thread makes
/// every cell's text and the writers free it, a pattern glibc serves through
/// its arena lock and slow path (`_int_malloc` was the largest single cost
/// of a 1M-row CSV import). Measured in docs/BENCHMARKS.md ("Businesses:
/// before and after the any-table work"): −17% CPU on a CSV import, −9% on
/// .xlsx.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

/// Asks Linux not to back this process's memory (nor its children's: the
/// isolated reader) with transparent huge pages. mimalloc takes fresh 2 MiB
/// regions as the pipeline's buffers come and go, and with THP each first
/// touch had the kernel zero a whole huge page: `clear_page_erms` was 29%
/// of a 100k-row CSV import's CPU into MariaDB. Without them such an
/// import takes up to a fifth less CPU (4% at 1M rows, where the heap's
/// growth matters less) and 25–45% less peak memory (docs/BENCHMARKS.md,
/// "Huge pages, and larger LOAD DATA units").
#[cfg(target_os = "linux")]
fn no_huge_pages() {
    // SAFETY: prctl(PR_SET_THP_DISABLE) takes only integers and sets a flag
    // of the calling process; no memory is passed or borrowed. A kernel
    // without it answers EINVAL, which changes nothing and is ignored.
    // Needed because neither std nor a dependency offers it safely; the
    // measured gain is in the function's docs.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn no_huge_pages() {}

fn main() -> ExitCode {
    no_huge_pages();
    let cli = sheetpipe::cli::Cli::parse();
    // The isolated reader needs no logging setup and no async runtime.
    if let sheetpipe::cli::Command::Read(args) = &cli.command {
        return sheetpipe::cli::read_child(args);
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(sheetpipe::cli::default_log_filter(&cli.command))
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match sheetpipe::cli::log_format(&cli.command) {
        // One object per line; the request's fields (id, method, route,
        // key name) in `span`.
        sheetpipe::cli::LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        // Colours only for a person at a terminal, never in a log file.
        sheetpipe::cli::LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(sheetpipe::cli::run(cli))
}
