//! Every format, judged by content: the committed fixtures made with
//! LibreOffice (tests/fixtures/README.md says how) give the same directory
//! in .xls, .ods and five CSV/TSV encodings; sheets are chosen as the issue
//! says; files we cannot import are refused with a precise message.

use std::path::{Path, PathBuf};

use sheetpipe::pipeline::Status;

use crate::helpers::{json_out, run_cli, tempdir, TestDb};
use crate::values::{import, table};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// The fixture directory's rows as stored: name, category, phone, email,
/// city, website, description.
const COLS: &str = "name, category, phone, email, city, website, description";

fn acme() -> Vec<Option<String>> {
    vec![
        s("Acme Corp"),
        s("Retail"),
        s("0551234567"),
        s("acme@example.com"),
        s("Zürich"),
        s("https://acme.com"),
        s("Line 1\nLine 2"),
    ]
}

fn beta() -> Vec<Option<String>> {
    vec![
        s("Beta LLC"),
        s("Services"),
        s("5551234567"),
        s("beta@example.com"),
        None,
        None,
        s("2024-03-15"),
    ]
}

#[tokio::test]
async fn xlsx_xls_and_ods_fixtures_give_the_directory_with_its_rejections() {
    for (file, boolean) in [
        ("src/directory.xlsx", "TRUE"),
        ("directory.xls", "TRUE"),
        // LibreOffice converted the xlsx boolean to `=TRUE()` holding the
        // float 1 shown as TRUE (tests/fixtures/README.md).
        ("directory.ods", "TRUE"),
    ] {
        let (report, db) = import(&fixture(file), |_| {}).await;
        assert_eq!(
            report.status,
            Status::Completed,
            "{file}: {:?}",
            report.error
        );
        assert_eq!(
            report.sheet, "Businesses",
            "{file}: the hidden first sheet is skipped"
        );
        assert_eq!(report.header.as_ref().unwrap().row, 3, "{file}");
        assert_eq!(report.ignored_columns, vec!["Owner".to_string()], "{file}");
        assert_eq!(
            (report.rows_read, report.inserted, report.rejected),
            (5, 3, 2),
            "{file}"
        );
        let epsilon = vec![
            s("Épsilon Café"),
            s(boolean),
            None,
            None,
            None,
            None,
            s("2023-12-31T23:59:30"),
        ];
        assert_eq!(
            table(&db, COLS).await,
            vec![acme(), beta(), epsilon],
            "{file}"
        );
        let r = &report.rejected_rows;
        assert_eq!(
            (r[0].row, r[0].column.as_str()),
            (6, "D (E-mail)"),
            "{file}"
        );
        assert_eq!(r[0].value, "not-an-email");
        assert_eq!(
            r[1].reason,
            "the cell Businesses!C7 holds the error value #DIV/0!"
        );
        // The category merged over B5:B6 fills row 6 in every format.
        assert_eq!(r[0].original[1], "Services", "{file}");
    }
}

#[tokio::test]
async fn every_csv_encoding_and_delimiter_gives_the_same_rows() {
    for file in [
        "semicolon_utf8.csv",
        "comma_utf8_bom.csv",
        "pipe_windows1252.csv",
        "tab_utf16le.tsv",
        "tab_utf16be.tsv",
    ] {
        let (report, db) = import(&fixture(file), |_| {}).await;
        assert_eq!(
            report.status,
            Status::Completed,
            "{file}: {:?}",
            report.error
        );
        assert_eq!(report.header.as_ref().unwrap().row, 3, "{file}");
        assert_eq!(
            report.header.as_ref().unwrap().headers[0],
            "Business Name",
            "{file}"
        );
        // CSV has only text: the error and the date-time arrive as shown.
        assert_eq!(
            (report.rows_read, report.inserted, report.rejected),
            (5, 4, 1),
            "{file}"
        );
        let rows = table(&db, COLS).await;
        let mut beta_csv = beta();
        beta_csv[1] = s("Services");
        assert_eq!(rows[0], acme(), "{file}");
        assert_eq!(rows[1], beta_csv, "{file}");
        assert_eq!(rows[2][2], s("#DIV/0!"), "{file}");
        assert_eq!(rows[3][0], s("Épsilon Café"), "{file}");
        assert_eq!(rows[3][6], s("2023-12-31 23:59:30"), "{file}");
        let warned = report.warnings.iter().any(|w| w.contains("Windows-1252"));
        assert_eq!(
            warned,
            file.contains("1252"),
            "{file}: {:?}",
            report.warnings
        );
    }
}

/// values.ods as LibreOffice wrote it: booleans typed and computed read as
/// TRUE/FALSE, numbers that are not booleans stay numbers, and a formula
/// giving "" (which LibreOffice writes with no value type at all) is an
/// empty cached value, not a missing one.
#[tokio::test]
async fn ods_booleans_are_true_or_false_and_numbers_stay_numbers() {
    let (report, db) = import(&fixture("values.ods"), |_| {}).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    assert_eq!((report.rows_read, report.inserted), (7, 7));
    assert_eq!(
        table(&db, "name, category, phone").await,
        vec![
            vec![s("Acme"), s("TRUE"), None],
            vec![s("Beta"), s("TRUE"), None],
            vec![s("Gamma"), s("FALSE"), None],
            vec![s("Delta"), None, s("5")],
            vec![s("Epsilon"), None, None],
            vec![s("Zeta"), s("1"), None],
            vec![s("Eta"), s("1"), None],
        ]
    );
}

/// What LibreOffice never writes but the format allows, made by editing a
/// copy of values.ods: a formula with its cached value removed rejects its
/// row as in xlsx; a boolean stored as a float whose cell style has a
/// boolean number format reads as a boolean.
#[tokio::test]
async fn an_ods_formula_without_a_cached_value_rejects_its_row() {
    let dir = tempdir();
    let file = dir.path().join("edited.ods");
    std::fs::copy(fixture("values.ods"), &file).unwrap();
    crate::values::patch_zip(
        &file,
        "content.xml",
        r#"table:formula="of:=2+3" office:value-type="float" office:value="5" calcext:value-type="float"><text:p>5</text:p></table:table-cell>"#,
        r#"table:formula="of:=2+3"/>"#,
    );
    // Acme's TRUE as the number 1 in style ce1 (a boolean number format),
    // shown as "1" so that only the style can tell.
    crate::values::patch_zip(
        &file,
        "content.xml",
        r#"table:style-name="ce1" office:value-type="boolean" office:boolean-value="true" calcext:value-type="boolean"><text:p>TRUE</text:p>"#,
        r#"table:style-name="ce1" office:value-type="float" office:value="1" calcext:value-type="float"><text:p>1</text:p>"#,
    );
    let (report, db) = import(&file, |_| {}).await;
    assert_eq!(
        (report.rows_read, report.inserted, report.rejected),
        (7, 6, 1),
        "{:?}",
        report.error
    );
    let r = &report.rejected_rows[0];
    assert_eq!((r.row, r.column.as_str()), (5, "C (phone)"));
    assert_eq!(
        r.reason,
        "the cell Values!C5 holds the formula =2+3 with no cached value (open the file in a spreadsheet program, recalculate and save it)"
    );
    assert_eq!(r.value, "=2+3");
    assert_eq!(
        table(&db, "name, category").await[0],
        vec![s("Acme"), s("TRUE")]
    );
    // The same through the CLI's isolated reader.
    let out = run_cli(
        dir.path(),
        &["import", file.to_str().unwrap(), "--dry-run", "--json"],
    );
    let json = json_out(&out);
    assert_eq!(json["rejected"][0]["cell"], "Values!C5 (phone)", "{json}");
    assert!(
        json["rejected"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("=2+3 with no cached value"),
        "{json}"
    );
}

/// The cells of the xlsx merge test in values.rs, as (row, column, text),
/// with its merged ranges as (first row, last row, first column, last
/// column): a title across A1:C1, `Retail` down B3:B5, `Paris` across C3:D3.
const MERGED_CELLS: [(u32, u32, &str); 10] = [
    (0, 0, "Directory (title merged over A1:C1)"),
    (1, 0, "name"),
    (1, 1, "category"),
    (1, 2, "city"),
    (2, 0, "Acme Corp"),
    (2, 1, "Retail"),
    (2, 2, "Paris"),
    (3, 0, "Beta"),
    (4, 0, "Gamma"),
    (5, 0, "Delta"),
];
const MERGED_RANGES: [(u32, u32, u32, u32); 3] = [(0, 0, 0, 2), (2, 4, 1, 1), (2, 2, 2, 3)];

/// An .xlsb of [`MERGED_CELLS`] and `merges`, built record by record
/// (no program here writes xlsb; tests/fixtures/README.md).
fn merged_xlsb(path: &Path, merges: &[(u32, u32, u32, u32)]) {
    use sheetpipe::testkit::{mini_xlsb, xlsb_sheet, XlsbCell};
    let mut rows: Vec<Vec<XlsbCell>> = vec![Vec::new(); 6];
    for (r, c, text) in MERGED_CELLS {
        let row = &mut rows[r as usize];
        row.resize(row.len().max(c as usize + 1), XlsbCell::Empty);
        row[c as usize] = XlsbCell::Text(text);
    }
    mini_xlsb(path, &[("Sheet1", xlsb_sheet(&rows, merges))]);
}

#[tokio::test]
async fn xlsb_merged_cells_give_the_top_left_value_as_in_xlsx() {
    let dir = tempdir();
    let xlsb = dir.path().join("m.xlsb");
    merged_xlsb(&xlsb, &MERGED_RANGES);
    let xlsx = dir.path().join("m.xlsx");
    crate::values::xlsx(&xlsx, |ws| {
        for (r, c, text) in MERGED_CELLS {
            ws.write_string(r, c as u16, text).unwrap();
        }
        let plain = rust_xlsxwriter::Format::new();
        for (r0, r1, c0, c1) in MERGED_RANGES {
            let top_left = MERGED_CELLS
                .iter()
                .find(|(r, c, _)| (*r, *c) == (r0, c0))
                .unwrap()
                .2;
            ws.merge_range(r0, c0 as u16, r1, c1 as u16, top_left, &plain)
                .unwrap();
        }
    });
    let expected = vec![
        vec![s("Acme Corp"), s("Retail"), s("Paris")],
        vec![s("Beta"), s("Retail"), None],
        vec![s("Gamma"), s("Retail"), None],
        vec![s("Delta"), None, None],
    ];
    for file in [&xlsb, &xlsx] {
        let (report, db) = import(file, |_| {}).await;
        assert_eq!(report.inserted, 4, "{file:?}: {:?}", report.error);
        assert_eq!(report.header.as_ref().unwrap().row, 2, "{file:?}");
        assert_eq!(
            table(&db, "name, category, city").await,
            expected,
            "{file:?}"
        );
    }
    // Without its merged ranges the same sheet leaves Beta and Gamma
    // without a category: the ranges above are what filled them.
    let plain = dir.path().join("plain.xlsb");
    merged_xlsb(&plain, &[]);
    let (report, db) = import(&plain, |_| {}).await;
    assert_eq!(report.inserted, 4, "{:?}", report.error);
    assert_eq!(table(&db, "category").await[1], vec![None]);
}

#[tokio::test]
async fn an_xlsb_whose_merged_cells_are_cut_off_is_refused() {
    let dir = tempdir();
    let file = dir.path().join("cut.xlsb");
    use sheetpipe::testkit::{mini_xlsb, xlsb_sheet, XlsbCell};
    let mut part = xlsb_sheet(&[vec![XlsbCell::Text("name")]], &[(1, 3, 0, 0)]);
    // Drop BrtEndSheet, BrtEndMergeCells and half of the BrtMergeCell.
    part.truncate(part.len() - 2 - 3 - 8);
    mini_xlsb(&file, &[("Sheet1", part)]);
    let (report, _db) = import(&file, |_| {}).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.unwrap().to_string();
    assert!(
        err.starts_with(
            "xlsb file is invalid: the merged cells of sheet \"Sheet1\": the stream ends inside a record"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn content_decides_the_format_not_the_extension() {
    let dir = tempdir();
    let csv_named_xlsx = dir.path().join("data.xlsx");
    std::fs::copy(fixture("semicolon_utf8.csv"), &csv_named_xlsx).unwrap();
    let ods_named_csv = dir.path().join("data.csv");
    std::fs::copy(fixture("directory.ods"), &ods_named_csv).unwrap();
    for file in [csv_named_xlsx, ods_named_csv] {
        let (report, _db) = import(&file, |_| {}).await;
        assert_eq!(
            report.status,
            Status::Completed,
            "{file:?}: {:?}",
            report.error
        );
        assert_eq!(report.rows_read, 5, "{file:?}");
    }
}

#[tokio::test]
async fn sheets_are_chosen_by_name_or_position_and_unknown_ones_listed() {
    let xls = fixture("directory.xls");
    let (report, db) = import(&xls, |job| job.source.sheet = Some("second".into())).await;
    assert_eq!(report.sheet, "Second", "{:?}", report.error);
    assert_eq!(
        table(&db, "name, city").await,
        vec![vec![s("Zeta"), s("Oslo")]]
    );
    let (report, _db) = import(&xls, |job| job.source.sheet = Some("3".into())).await;
    assert_eq!(report.sheet, "Second");
    let (report, _db) = import(&xls, |job| job.source.sheet = Some("Nope".into())).await;
    let err = report.error.unwrap().to_string();
    assert_eq!(
        err,
        "no sheet named \"Nope\"; sheets in this workbook: Notes, Businesses, Second"
    );
}

#[test]
fn files_that_cannot_be_imported_are_refused_precisely() {
    let dir = tempdir();
    std::fs::write(dir.path().join("empty.xlsx"), b"").unwrap();
    std::fs::write(
        dir.path().join("noise.xlsx"),
        [0x7f, b'E', b'L', b'F', 0, 1, 2, 0],
    )
    .unwrap();
    let mut cases = vec![
        ("empty.xlsx".to_string(), "the file is empty"),
        ("noise.xlsx".to_string(), "the file is not a spreadsheet"),
    ];
    // The password-protected workbooks come from the shared corpus.
    if let Some(corpus) = crate::corpus::corpus_or_skip_part(Some("the protected workbooks")) {
        for f in [
            "pass_protected.xlsx",
            "pass_protected.xlsb",
            "pass_protected.ods",
            "issue_385.xls",
        ] {
            let file = corpus.join("calamine-tests/tests").join(f);
            cases.push((
                file.display().to_string(),
                "the workbook is password-protected",
            ));
        }
    }
    for (file, expected) in cases {
        let out = run_cli(dir.path(), &["import", &file, "--dry-run", "--json"]);
        assert_eq!(out.status.code(), Some(3), "{file}");
        let err = json_out(&out)["error"].as_str().unwrap().to_string();
        assert!(err.starts_with(expected), "{file}: {err}");
    }
}

#[tokio::test]
async fn the_fixture_imports_into_postgres_too() {
    let db = TestDb::postgres().await;
    let sink = db.sink().await;
    let job = sheetpipe::pipeline::ImportJob::new(fixture("directory.xls"));
    let plan = sheetpipe::pipeline::Plan::new(sheetpipe::pipeline::Method::Batch, Some(2), None);
    let report = sheetpipe::pipeline::run(job, &plan, &sink, &Default::default()).await;
    assert_eq!(
        (report.inserted, report.rejected),
        (3, 2),
        "{:?}",
        report.error
    );
    assert_eq!(table(&db, COLS).await[..2], [acme(), beta()]);
}
