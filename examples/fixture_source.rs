//! Writes `tests/fixtures/src/directory.xlsx`, the workbook the committed
//! .xls/.ods/.csv fixtures are converted from with LibreOffice (see
//! tests/fixtures/README.md). Run: `cargo run --example fixture_source`.

use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook, XlsxError};

fn main() -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");

    let notes = wb.add_worksheet().set_name("Notes")?;
    notes.write_string(0, 0, "This hidden sheet comes first")?;
    notes.set_hidden(true);

    let ws = wb.add_worksheet().set_name("Businesses")?;
    ws.set_active(true);
    ws.merge_range(0, 0, 0, 3, "Business Directory 2024", &Format::new())?;
    let header = [
        "Business Name",
        "Industry",
        "Phone Number",
        "E-mail",
        "Street Address",
        "Town",
        "Country",
        "Web",
        "Notes",
        "Owner",
    ];
    for (c, h) in header.iter().enumerate() {
        ws.write_string(2, c as u16, *h)?;
    }
    // Row 4: leading zeros kept as text, bare domain, inner line break.
    for (c, v) in [
        "Acme Corp",
        "Retail",
        "0551234567",
        "acme@example.com",
        "1 Main St",
        "Zürich",
        "FR",
        "acme.com",
        "Line 1\nLine 2",
        "Bob",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(3, c as u16, *v)?;
    }
    // Rows 5-6: category merged over two rows; a number; a date.
    ws.write_string(4, 0, "Beta LLC")?;
    ws.merge_range(4, 1, 5, 1, "Services", &Format::new())?;
    ws.write_number(4, 2, 5551234567.0)?;
    ws.write_string(4, 3, "beta@example.com")?;
    ws.write_datetime_with_format(4, 8, ExcelDateTime::from_ymd(2024, 3, 15)?, &date)?;
    // Row 6: invalid email → rejected.
    ws.write_string(5, 0, "Gamma")?;
    ws.write_number(5, 2, 12.5)?;
    ws.write_string(5, 3, "not-an-email")?;
    // Row 7: an error value → rejected.
    ws.write_string(6, 0, "Delta")?;
    ws.write_formula(6, 2, Formula::new("=1/0").set_result("#DIV/0!"))?;
    // Row 8: a boolean and a date-time.
    ws.write_string(7, 0, "Épsilon Café")?;
    ws.write_boolean(7, 1, true)?;
    ws.write_datetime_with_format(
        7,
        8,
        ExcelDateTime::from_ymd(2023, 12, 31)?.and_hms(23, 59, 30)?,
        &stamp,
    )?;
    // Rows 9-10: blank, then a formatted but empty phantom row.
    ws.write_blank(9, 0, &date)?;

    let second = wb.add_worksheet().set_name("Second")?;
    second.write_string(0, 0, "name")?;
    second.write_string(0, 1, "city")?;
    second.write_string(1, 0, "Zeta")?;
    second.write_string(1, 1, "Oslo")?;

    std::fs::create_dir_all("tests/fixtures/src").ok();
    wb.save("tests/fixtures/src/directory.xlsx")
}
