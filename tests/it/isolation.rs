//! Parser isolation through the real binary: a reader that blows its
//! memory ceiling or its time fails only its own import, with the limit
//! named; the process that ran the import goes on importing; isolated and
//! in-process readers deliver exactly the same rows.

use sheetpipe::pipeline::{self, Control, ImportError, ImportJob, Method, Plan, Status};
use sheetpipe::source::{Isolation, Limits, SourceError, SourceOptions};

use crate::helpers::{bin, json_out, run_cli, tempdir, TestDb};
use crate::hostile::{many_strings, mini_xlsx_stored, name_rows, sheet, sst};

/// An address-space ceiling the reader process starts under but that
/// cannot hold [`big_table`]: the bytes the binary's loadable segments map
/// (a debug build maps ~40 MB, a release one less; it grows as the code
/// does) plus 16 MiB for the C library, the stacks and a small heap.
fn tight_ceiling() -> u64 {
    let elf = std::fs::read(bin()).expect("the binary");
    let (u16_at, u32_at, u64_at) = (
        |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize,
        |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()),
        |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()),
    );
    assert_eq!(&elf[..5], b"\x7fELF\x02", "a 64-bit ELF binary");
    let (phoff, size, count) = (u64_at(0x20) as usize, u16_at(0x36), u16_at(0x38));
    let loaded: u64 = (0..count)
        .map(|i| phoff + i * size)
        .filter(|&h| u32_at(h) == 1) // PT_LOAD
        .map(|h| u64_at(h + 0x28)) // p_memsz
        .sum();
    loaded + (16 << 20)
}

fn isolated(limits: Limits) -> SourceOptions {
    SourceOptions {
        limits,
        isolation: Some(Isolation { program: bin() }),
        ..SourceOptions::default()
    }
}

/// A workbook whose shared-strings table holds ~30 MB: calamine keeps it
/// all in memory, so a ceiling 16 MiB above what the binary itself maps
/// ([`tight_ceiling`]) cannot hold it.
fn big_table(path: &std::path::Path) {
    let mut strings = vec!["name".to_string()];
    strings.extend(many_strings(200_000, 150));
    mini_xlsx_stored(path, &sheet(&name_rows("1")), Some(&sst(&strings)), &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_out_of_memory_fails_only_its_import() {
    let dir = tempdir();
    let file = dir.path().join("big.xlsx");
    big_table(&file);
    let db = TestDb::sqlite();
    let sink = db.sink().await;
    let plan = Plan::new(Method::Batch, Some(1), None);
    let job = ImportJob {
        source: isolated(Limits {
            max_reader_memory: tight_ceiling(),
            ..Limits::default()
        }),
        ..ImportJob::new(&file)
    };
    let report = pipeline::run(job, &plan, &sink, &Control::default()).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.as_ref().expect("an error");
    assert!(
        matches!(err, ImportError::Source(SourceError::Limit(_))),
        "{err}"
    );
    assert!(err.to_string().contains("--max-reader-memory"), "{err}");
    assert_eq!((report.inserted, db.count().await), (0, 0));
    // This process is alive and imports the same file under the default
    // ceiling.
    let job = ImportJob {
        source: isolated(Limits::default()),
        ..ImportJob::new(&file)
    };
    let report = pipeline::run(job, &plan, &sink, &Control::default()).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    assert_eq!((report.inserted, db.count().await), (1, 1));
}

#[test]
fn the_cli_exits_4_naming_the_memory_limit() {
    let dir = tempdir();
    big_table(&dir.path().join("big.xlsx"));
    let ceiling = tight_ceiling().to_string();
    let out = run_cli(
        dir.path(),
        &[
            "import",
            "big.xlsx",
            "--json",
            "--max-reader-memory",
            &ceiling,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_out(&out);
    let err = v["error"].as_str().unwrap();
    assert!(
        err.contains("reader's memory use") && err.contains("--max-reader-memory"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_reader_past_its_time_is_stopped_with_the_limit_named() {
    let dir = tempdir();
    let file = dir.path().join("big.xlsx");
    big_table(&file);
    let db = TestDb::sqlite();
    let job = ImportJob {
        source: isolated(Limits {
            max_seconds: 0,
            ..Limits::default()
        }),
        ..ImportJob::new(&file)
    };
    let plan = Plan::new(Method::Batch, Some(1), None);
    let report = pipeline::run(job, &plan, &db.sink().await, &Control::default()).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.unwrap().to_string();
    assert!(err.contains("--max-seconds"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_and_in_process_readers_store_the_same_rows() {
    let dir = tempdir();
    let file = dir.path().join("g.xlsx");
    let out = run_cli(
        dir.path(),
        &[
            "generate",
            "g.xlsx",
            "--rows",
            "3000",
            "--bad-rate",
            "0.1",
            "--seed",
            "5",
        ],
    );
    assert!(out.status.success());
    let mut tables = Vec::new();
    for isolation in [None, Some(Isolation { program: bin() })] {
        let db = TestDb::sqlite();
        let job = ImportJob {
            source: SourceOptions {
                isolation,
                ..SourceOptions::default()
            },
            ..ImportJob::new(&file)
        };
        let plan = Plan::new(Method::Copy, None, None);
        let report = pipeline::run(job, &plan, &db.sink().await, &Control::default()).await;
        assert_eq!(report.status, Status::Completed, "{:?}", report.error);
        let rows = db
            .query("SELECT name, category, phone, email, address, city, country, website, description FROM businesses ORDER BY name, email, phone")
            .await;
        tables.push((report.rows_read, report.inserted, report.rejected, rows));
    }
    assert_eq!(tables[0].0, 3000);
    assert!(tables[0].2 > 0, "the file has invalid rows");
    assert_eq!(tables[0], tables[1]);
}

/// A workbook whose second sheet, the one to import, is named `-2024`.
pub fn dash_sheet_workbook(path: &std::path::Path) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let notes = wb.add_worksheet().set_name("Notes").unwrap();
    notes.write_string(0, 0, "nothing here").unwrap();
    let ws = wb.add_worksheet().set_name("-2024").unwrap();
    ws.write_string(0, 0, "name").unwrap();
    ws.write_string(1, 0, "Shop One").unwrap();
    wb.save(path).unwrap();
}

#[test]
fn a_sheet_named_like_a_flag_is_chosen_through_the_isolated_reader() {
    let dir = tempdir();
    dash_sheet_workbook(&dir.path().join("w.xlsx"));
    let spaced: &[&str] = &[
        "import",
        "w.xlsx",
        "--sheet",
        "-2024",
        "--dry-run",
        "--json",
    ];
    let glued: &[&str] = &["import", "w.xlsx", "--sheet=-2024", "--dry-run", "--json"];
    for args in [spaced, glued] {
        let out = run_cli(dir.path(), args);
        let json = json_out(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {json}");
        assert_eq!(json["sheet"], "-2024", "{json}");
        assert_eq!(json["stats"]["success_count"], 1, "{json}");
    }
}

/// The `sheetpipe __read` processes reading a file named `name` (however
/// its path was given; a killed one's command line, a zombie's, is empty).
fn readers_of(name: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|c| {
            let mut args = c.split(|&b| b == 0);
            args.clone().any(|a| a == b"__read") && args.any(|a| a.ends_with(name.as_bytes()))
        })
        .count()
}

#[test]
fn the_reader_opened_for_an_import_whose_table_is_missing_dies_with_it() {
    // 250,000 rows, about 70 MB of sheet: its reader (opened while the
    // table is settled) is still in its first pass when the table turns
    // out not to exist, and is killed then (it was seen to go within 2 ms
    // of the import's exit; left to finish its pass, it lived 0.5 s more).
    let dir = tempdir();
    let name = format!("abandoned-{}.xlsx", std::process::id());
    let rows = crate::first_pass::rows_xml(250_000, 200, &[], &[]);
    mini_xlsx_stored(&dir.path().join(&name), &rows, None, &[]);
    let out = run_cli(dir.path(), &["import", &name, "--table", "nope", "--json"]);
    let v = json_out(&out);
    assert_eq!(out.status.code(), Some(3), "{v}");
    let error = v["error"].as_str().unwrap_or_default();
    assert!(error.contains("nope"), "{v}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(150);
    loop {
        let left = readers_of(&name);
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} reader process(es) of the file outlived the import by 150 ms"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
