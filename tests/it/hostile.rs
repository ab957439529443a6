//! Hand-made hostile workbooks for the robustness tests: a minimal .xlsx
//! written part by part, so a test can put exactly the bytes it needs
//! where calamine will look.

use std::path::Path;

pub use sheetpipe::testkit::{
    many_strings, mini_xlsx, mini_xlsx_stored, name_rows, sheet, sst, workbook_xml,
};

/// An .xls (OLE2/CFB container) whose directory sector chain points at
/// itself: calamine 0.38 follows it forever, growing one buffer until the
/// allocation fails — the class of the fuzzer's xls finding
/// `oom-3495a0cc5217e8133275f004b6f3be44e1645b81`, rebuilt by hand.
pub fn cyclic_cfb() -> Vec<u8> {
    let mut header = vec![0u8; 512];
    header[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    let mut put = |at: usize, v: u32| header[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put(24, 0x0003_003E); // minor 0x3E, major 3 (512-byte sectors)
    put(28, 0x0009_FFFE); // byte order, sector shift 9
    put(32, 6); // mini sector shift
    put(44, 1); // one FAT sector
    put(48, 1); // the directory starts at sector 1
    put(56, 0x1000); // mini stream cutoff
    put(60, 0xFFFF_FFFE); // no mini FAT
    put(68, 0xFFFF_FFFE); // no DIFAT sectors
    for i in 0..109 {
        put(76 + 4 * i, if i == 0 { 0 } else { 0xFFFF_FFFF }); // FAT in sector 0
    }
    let mut fat = vec![0xFFu8; 512];
    fat[..4].copy_from_slice(&0xFFFF_FFFDu32.to_le_bytes()); // sector 0: the FAT
    fat[4..8].copy_from_slice(&1u32.to_le_bytes()); // sector 1 -> sector 1: a cycle
    let mut file = header;
    file.extend(fat);
    file.extend(vec![0u8; 512]);
    file
}

#[cfg(test)]
mod cli {
    use super::*;
    use crate::helpers::{json_out, run_cli, tempdir};

    /// Imports `file` in `dir` with the CLI; returns (exit code, error).
    fn import(dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
        let mut args = vec!["import", "h.xlsx", "--json"];
        args.extend_from_slice(extra);
        let out = run_cli(dir, &args);
        let v = json_out(&out);
        (
            out.status.code(),
            v["error"].as_str().unwrap_or_default().to_string(),
        )
    }

    /// `h.xlsx` in `dir`: one good row, and shared strings declaring a
    /// quadrillion entries.
    fn sst_count_bomb(dir: &Path) {
        let bomb = sst(&["name", "Acme"])
            .replace(r#"uniqueCount="2""#, r#"uniqueCount="1000000000000000""#);
        mini_xlsx(
            &dir.join("h.xlsx"),
            &sheet(&name_rows("1")),
            Some(&bomb),
            &[],
        );
    }

    #[test]
    fn an_sst_unique_count_bomb_exits_4_naming_the_limit() {
        let dir = tempdir();
        sst_count_bomb(dir.path());
        for isolate in ["true", "false"] {
            let (code, err) = import(dir.path(), &["--isolate", isolate]);
            assert_eq!(code, Some(4), "{err}");
            assert!(
                err.contains("uniqueCount") && err.contains("--max-shared-strings"),
                "{err}"
            );
        }
    }

    /// With the limit raised out of the way, the declared count reserves
    /// nothing: our .xlsx reader sizes the shared strings by what it reads
    /// (calamine reserved the declared count and aborted, calamine#684).
    #[test]
    fn a_raised_shared_strings_limit_lets_the_lying_count_through_harmlessly() {
        let dir = tempdir();
        sst_count_bomb(dir.path());
        for isolate in ["true", "false"] {
            let (code, err) = import(
                dir.path(),
                &[
                    "--max-shared-strings",
                    "10000000000000000",
                    "--isolate",
                    isolate,
                    // The same file twice, read each way.
                    "--allow-reimport",
                ],
            );
            assert_eq!(code, Some(0), "isolate {isolate}: {err}");
        }
    }

    /// Regression for the fuzzer's xls finding oom-3495a0cc: runaway memory
    /// in calamine's CFB reader ends the isolated reader at its ceiling.
    #[test]
    fn fuzz_xls_oom_3495a0cc_cyclic_directory_chain_hits_the_memory_limit() {
        let dir = tempdir();
        std::fs::write(dir.path().join("h.xlsx"), cyclic_cfb()).unwrap();
        let (code, err) = import(dir.path(), &["--max-reader-memory", "300000000"]);
        assert_eq!(code, Some(4), "{err}");
        assert!(err.contains("--max-reader-memory"), "{err}");
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fuzz")
            .join(name);
        std::fs::read(path).unwrap()
    }

    /// The fuzzers' xlsb panics (calamine indexes a map or a slice with
    /// what the file says): a clear error in-process and isolated.
    fn fuzz_panic_case(name: &str, needle: &str) {
        let bytes = fixture(name);
        let err = sheetpipe::fuzzing::read_bytes(&bytes, "xlsb", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("xlsb file is invalid: the parser failed") && err.contains(needle),
            "{err}"
        );
        let dir = tempdir();
        std::fs::write(dir.path().join("h.xlsx"), &bytes).unwrap();
        for isolate in ["true", "false"] {
            let (code, err) = import(dir.path(), &["--isolate", isolate]);
            assert_eq!(code, Some(3), "isolate {isolate}: {err}");
            assert!(err.contains("xlsb file is invalid"), "{err}");
        }
    }

    #[test]
    fn fuzz_xlsb_crash_7de19a4f_missing_relationship_is_a_clear_error() {
        fuzz_panic_case(
            "xlsb-crash-7de19a4f-missing-relationship.xlsb",
            "no entry found for key",
        );
    }

    #[test]
    fn fuzz_xlsb_crash_8f656777_shared_string_index_is_a_clear_error() {
        fuzz_panic_case(
            "xlsb-crash-8f656777-shared-string-index.xlsb",
            "index out of bounds",
        );
    }

    #[test]
    fn a_non_numeric_shared_string_index_is_an_error_not_string_zero() {
        let dir = tempdir();
        let file = dir.path().join("h.xlsx");
        mini_xlsx(
            &file,
            &sheet(&name_rows("1")),
            Some(&sst(&["name", "Acme"])),
            &[],
        );
        let (code, err) = import(dir.path(), &[]);
        assert_eq!(code, Some(0), "the well-formed twin imports: {err}");
        mini_xlsx(
            &file,
            &sheet(&name_rows("x1")),
            Some(&sst(&["name", "Acme"])),
            &[],
        );
        let (code, err) = import(dir.path(), &[]);
        assert_eq!(code, Some(3));
        assert!(
            err.contains("cell A2") && err.contains("not a number"),
            "{err}"
        );
    }

    /// A million vertical merges would make every row walk them all; more
    /// than `MAX_RANGES` (as for xlsb) is refused before any row is read.
    #[test]
    fn a_sheet_with_more_merged_ranges_than_the_cap_exits_3() {
        let dir = tempdir();
        let merges: String = (0..=1_000_000u32)
            .map(|i| format!(r#"<mergeCell ref="A{}:A{}"/>"#, i % 1000 + 1, i % 1000 + 3))
            .collect();
        let part = sheet(&name_rows("1")).replace(
            "</worksheet>",
            &format!("<mergeCells>{merges}</mergeCells></worksheet>"),
        );
        mini_xlsx(
            &dir.path().join("h.xlsx"),
            &part,
            Some(&sst(&["name", "Acme"])),
            &[],
        );
        let (code, err) = import(dir.path(), &[]);
        assert_eq!(code, Some(3), "{err}");
        assert!(
            err.contains("more than 1000000 merged ranges span several rows"),
            "{err}"
        );
    }

    #[test]
    fn an_entity_bomb_exits_3() {
        let dir = tempdir();
        let bomb = workbook_xml().replace(
            "<workbook ",
            "<!DOCTYPE z [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><workbook ",
        );
        mini_xlsx(
            &dir.path().join("h.xlsx"),
            &sheet(&name_rows("1")),
            Some(&sst(&["name", "Acme"])),
            &[("xl/workbook.xml", bomb.as_bytes())],
        );
        let (code, err) = import(dir.path(), &[]);
        assert_eq!(code, Some(3));
        assert!(err.contains("<!DOCTYPE>"), "{err}");
    }

    #[test]
    fn the_wall_time_limit_stops_an_import_in_either_mode() {
        let dir = tempdir();
        let out = run_cli(dir.path(), &["generate", "h.xlsx", "--rows", "20000"]);
        assert!(out.status.success());
        for isolate in ["true", "false"] {
            let (code, err) = import(dir.path(), &["--max-seconds", "0", "--isolate", isolate]);
            assert_eq!(code, Some(4), "isolate {isolate}: {err}");
            assert!(
                err.contains("reading time") && err.contains("--max-seconds"),
                "{err}"
            );
        }
    }

    #[test]
    fn empty_truncated_and_foreign_files_get_clear_errors() {
        let dir = tempdir();
        let file = dir.path().join("h.xlsx");
        std::fs::write(&file, b"").unwrap();
        let (code, err) = import(dir.path(), &[]);
        assert_eq!((code, err.as_str()), (Some(3), "the file is empty"));
        mini_xlsx(
            &file,
            &sheet(&name_rows("1")),
            Some(&sst(&["name", "Acme"])),
            &[],
        );
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let (code, err) = import(dir.path(), &[]);
        assert_eq!(code, Some(3));
        assert!(err.contains("xlsx file is invalid"), "{err}");
        std::fs::write(&file, [0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0]).unwrap();
        let (code, err) = import(dir.path(), &[]);
        assert_eq!(code, Some(3));
        assert!(err.contains("not a spreadsheet"), "{err}");
    }
}
