//! The import options of issue 5 as a user types them: `--dry-run`,
//! `--map`, `--header-row`, `--sheet`, and the `--rejects` report.

use crate::helpers::{json_out, run_cli, tempdir};
use crate::values::xlsx;

#[test]
fn dry_run_validates_everything_prints_the_mapping_and_writes_nothing() {
    let dir = tempdir();
    let file = dir.path().join("d.xlsx");
    xlsx(&file, |ws| {
        ws.write_string(0, 0, "Customer list").unwrap();
        for (c, h) in ["Company", "E-mail", "Owner"].iter().enumerate() {
            ws.write_string(1, c as u16, *h).unwrap();
        }
        ws.write_string(2, 0, "Acme").unwrap();
        ws.write_string(2, 1, "a@acme.com").unwrap();
        ws.write_string(3, 0, "Beta").unwrap();
        ws.write_string(3, 1, "=HYPERLINK(\"x\")").unwrap();
        ws.write_string(3, 2, "Bob").unwrap();
        ws.write_string(4, 0, "Gamma").unwrap();
    });
    // A dead database URL proves no connection is made.
    let args = [
        "import",
        "d.xlsx",
        "--dry-run",
        "--json",
        "--rejects",
        "rej.csv",
        "--database-url",
        "postgres://postgres@127.0.0.1:1/none",
    ];
    let out = run_cli(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_out(&out);
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["message"], "Dry run completed: nothing was written");
    assert_eq!(v["header"]["row"], 2);
    let mapping = v["header"]["mapping"].as_array().unwrap();
    assert_eq!(mapping.len(), 2);
    assert_eq!(mapping[1]["column"], "B");
    assert_eq!(mapping[1]["header"], "E-mail");
    assert_eq!(mapping[1]["field"], "email");
    assert_eq!(v["ignored_columns"][0], "Owner");
    assert_eq!(
        v["stats"]["total_records"], 3,
        "the title and header rows are not data"
    );
    assert_eq!(v["stats"]["success_count"], 2);
    assert_eq!(v["stats"]["error_count"], 1);
    assert_eq!(v["rejected"][0]["cell"], "Sheet1!B4 (E-mail)");
    assert!(!dir.path().join("sheetpipe.db").exists());
    let report = std::fs::read_to_string(dir.path().join("rej.csv")).unwrap();
    assert_eq!(
        report,
        "sheet,row,column,reason,value,Company,E-mail,Owner\n\
         Sheet1,4,B (E-mail),invalid email address: it has no '@',\"'=HYPERLINK(\"\"x\"\")\",Beta,\"'=HYPERLINK(\"\"x\"\")\",Bob\n"
    );

    let out = run_cli(dir.path(), &["import", "d.xlsx", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Header (row 2):"), "{text}");
    assert!(text.contains("  B \"E-mail\" -> email"), "{text}");
    assert!(text.contains("Sheet1!B4 (E-mail): invalid email"), "{text}");
    assert!(!dir.path().join("sheetpipe.db").exists());
}

#[test]
fn map_and_header_row_name_columns_no_alias_knows() {
    let dir = tempdir();
    std::fs::write(
        dir.path().join("m.csv"),
        "exported 2024-01-01;;\nFirma;Ort;Telefon\nAcme;Bern;031 123\n",
    )
    .unwrap();
    let base = ["import", "m.csv", "--json"];
    let out = run_cli(dir.path(), &base);
    assert_eq!(out.status.code(), Some(3));
    let err = json_out(&out)["error"].as_str().unwrap().to_string();
    assert!(err.contains("no header row found"), "{err}");

    let mut args = base.to_vec();
    args.extend([
        "--header-row",
        "2",
        "--map",
        "Firma=name, Ort=city,Telefon=phone",
    ]);
    let out = run_cli(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_out(&out);
    assert_eq!(v["stats"]["success_count"], 1);
    assert_eq!(v["header"]["mapping"][2]["field"], "phone");

    let out = run_cli(dir.path(), &["import", "m.csv", "--map", "Firma=nom"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"nom\" is not a column of businesses"),
        "{err}"
    );
}

#[test]
fn an_unknown_sheet_lists_the_sheets() {
    let dir = tempdir();
    let xls = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/directory.xls");
    let xls = xls.to_str().unwrap();
    let out = run_cli(dir.path(), &["import", xls, "--sheet", "Data", "--dry-run"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no sheet named \"Data\"; sheets in this workbook: Notes, Businesses, Second"),
        "{err}"
    );
    let out = run_cli(
        dir.path(),
        &["import", xls, "--sheet", "Second", "--dry-run", "--json"],
    );
    assert_eq!(json_out(&out)["sheet"], "Second");
}

/// The issue's own file, with every line ending a CSV comes with and in
/// UTF-8 and UTF-16 (LE/BE with BOM): the header is row 1, the bad row is
/// row 3, its cell B3, and `--header-row 1` picks the first line.
#[test]
fn csv_rows_are_numbered_alike_with_lf_crlf_or_cr_endings_in_utf8_and_utf16() {
    let dir = tempdir();
    for eol in ["\n", "\r\n", "\r"] {
        let text = format!("name,email{eol}Good,g@example.com{eol}Bad,nope{eol}");
        let utf16 =
            |le: bool| -> Vec<u8> {
                let bom: [u8; 2] = if le { [0xFF, 0xFE] } else { [0xFE, 0xFF] };
                let body = text.encode_utf16().flat_map(|u| {
                    if le {
                        u.to_le_bytes()
                    } else {
                        u.to_be_bytes()
                    }
                });
                bom.into_iter().chain(body).collect()
            };
        for (encoding, bytes) in [
            ("UTF-8", text.as_bytes().to_vec()),
            ("UTF-16LE", utf16(true)),
            ("UTF-16BE", utf16(false)),
        ] {
            std::fs::write(dir.path().join("a.csv"), bytes).unwrap();
            let args = [
                "import",
                "a.csv",
                "--dry-run",
                "--json",
                "--header-row",
                "1",
            ];
            let out = run_cli(dir.path(), &args);
            let case = format!("{eol:?} in {encoding}");
            assert_eq!(out.status.code(), Some(0), "{case}");
            let json = json_out(&out);
            assert_eq!(json["header"]["row"], 1, "{case}: {json}");
            assert_eq!(json["stats"]["success_count"], 1, "{case}: {json}");
            let rejected = &json["rejected"][0];
            assert_eq!(rejected["row"], 3, "{case}: {json}");
            assert!(
                rejected["cell"].as_str().unwrap().contains("B3"),
                "{case}: {json}"
            );
        }
    }
}
