//! The stable-toolchain smoke run of the fuzz targets (`fuzz/`, which needs
//! nightly): the same target functions over seed files and deterministic
//! mutations of them (flipped bytes, truncations, spliced chunks). Each must
//! return — an error is fine, a panic or abort fails this test.
//!
//! xlsx, csv and header mapping run in this process, as the fuzzer runs
//! them. xls, xlsb and ods seeds include files known to abort calamine
//! (OOM_alloc*.xls), so they run through the isolated reader: this process
//! must survive whatever the child meets.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sheetpipe::fuzzing::{header_and_rows, read_bytes};
use sheetpipe::source::Isolation;

use crate::corpus::{corpus_or_skip, corpus_or_skip_part};
use crate::helpers::{bin, run_cli, tempdir};
use crate::hostile::{mini_xlsx, name_rows, sheet, sst};

/// Every file of the shared corpus ending in `.ext`.
fn corpus_files(root: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case(ext))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `n` deterministic mutants of `seed`.
fn mutants(seed: &[u8], n: usize, rng: &mut StdRng) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let mut m = seed.to_vec();
            if m.is_empty() {
                return vec![rng.gen()];
            }
            match rng.gen_range(0..3) {
                0 => {
                    for _ in 0..rng.gen_range(1..8) {
                        let i = rng.gen_range(0..m.len());
                        m[i] ^= 1 << rng.gen_range(0..8);
                    }
                }
                1 => m.truncate(rng.gen_range(0..m.len())),
                _ => {
                    let a = rng.gen_range(0..m.len());
                    let b = rng.gen_range(a..m.len().min(a + 512) + 1).min(m.len());
                    let chunk = m[a..b].to_vec();
                    let at = rng.gen_range(0..m.len());
                    m.splice(at..at, chunk);
                }
            }
            m
        })
        .collect()
}

fn every_nth(files: Vec<PathBuf>, n: usize) -> Vec<Vec<u8>> {
    files
        .into_iter()
        .step_by(n)
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

#[test]
fn xlsx_and_csv_targets_survive_seeds_and_mutants() {
    let dir = tempdir();
    let out = run_cli(
        dir.path(),
        &["generate", "g.xlsx", "--rows", "60", "--seed", "3"],
    );
    assert!(out.status.success());
    let out = run_cli(
        dir.path(),
        &["generate", "g.csv", "--rows", "60", "--seed", "3"],
    );
    assert!(out.status.success());
    let hostile = dir.path().join("h.xlsx");
    mini_xlsx(
        &hostile,
        &sheet(&name_rows("1")),
        Some(&sst(&["name", "Acme"])),
        &[],
    );
    let mut xlsx = vec![
        std::fs::read(dir.path().join("g.xlsx")).unwrap(),
        std::fs::read(&hostile).unwrap(),
    ];
    let mut csv = vec![std::fs::read(dir.path().join("g.csv")).unwrap()];
    // Without the corpus, only the generated and hand-made seeds run.
    if let Some(corpus) = corpus_or_skip_part(Some("the corpus seeds")) {
        xlsx.extend(every_nth(corpus_files(&corpus, "xlsx"), 40));
        csv.extend(every_nth(corpus_files(&corpus, "csv"), 1));
    }
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut runs = 0;
    for (ext, seeds, n) in [("xlsx", &xlsx, 12), ("csv", &csv, 20)] {
        for seed in seeds {
            let read = read_bytes(seed, ext, None);
            if ext == "csv" || seed.len() < 100_000 {
                // Seeds are valid files: they must read (header or not).
                assert!(read.is_ok(), "{ext} seed: {:?}", read.err());
            }
            for m in mutants(seed, n, &mut rng) {
                let _ = read_bytes(&m, ext, None);
                runs += 1;
            }
        }
    }
    assert!(runs > 40, "{runs} mutants");
}

#[test]
fn xls_xlsb_and_ods_targets_survive_through_the_isolated_reader() {
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let iso = Isolation { program: bin() };
    let mut rng = StdRng::seed_from_u64(0x0d5);
    let mut runs = 0;
    for ext in ["xls", "xlsb", "ods"] {
        let seeds = every_nth(corpus_files(&corpus, ext), 4);
        assert!(!seeds.is_empty(), "no {ext} seeds");
        for seed in &seeds {
            let _ = read_bytes(seed, ext, Some(iso.clone()));
            for m in mutants(seed, 3, &mut rng) {
                let _ = read_bytes(&m, ext, Some(iso.clone()));
                runs += 1;
            }
        }
    }
    assert!(runs > 30, "{runs} mutants");
}

#[test]
fn header_and_row_target_survives_random_rows() {
    let mut rng = StdRng::seed_from_u64(42);
    let fixed: [&[u8]; 4] = [
        b"",
        b"\0name\t\0email\n\0Acme\t\0a@b.co\n\0\t\0nope",
        b"\0NAME \t\0name\n\0x",
        b"\x01\xff\xff\xff\xff\xff\xff\xff\x7f\t\x02\x00\x00\x00\x00\x00\x00\xf0\x7f\n\0 \xc2\xa0\n",
    ];
    for data in fixed {
        header_and_rows(data);
    }
    for _ in 0..2000 {
        let len = rng.gen_range(0..200);
        let data: Vec<u8> = (0..len)
            .map(|_| match rng.gen_range(0..6) {
                0 => b'\t',
                1 => b'\n',
                2 => b"nameemail@."[rng.gen_range(0..11)],
                _ => rng.gen(),
            })
            .collect();
        header_and_rows(&data);
    }
}
