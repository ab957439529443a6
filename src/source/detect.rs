//! Format detection by content. The extension is never trusted: a CSV named
//! `.xlsx` is read as CSV, and an encrypted workbook (an OLE2 container
//! holding an `EncryptedPackage`) is named as such.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// A file format we can recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Office Open XML workbook (.xlsx, .xlsm).
    Xlsx,
    /// Excel binary workbook (.xlsb).
    Xlsb,
    /// Legacy Excel workbook, BIFF in an OLE2 container (.xls).
    Xls,
    /// OpenDocument spreadsheet (.ods).
    Ods,
    /// Delimited text (.csv, .tsv, .txt).
    Csv,
    /// An OOXML workbook encrypted with a password (OLE2 `EncryptedPackage`).
    Encrypted,
    /// A zip file that is no spreadsheet we know.
    OtherZip,
    /// Binary content that is no spreadsheet.
    Binary,
}

impl Format {
    /// A short lowercase name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Xlsb => "xlsb",
            Format::Xls => "xls",
            Format::Ods => "ods",
            Format::Csv => "csv",
            Format::Encrypted => "encrypted workbook",
            Format::OtherZip => "zip",
            Format::Binary => "binary",
        }
    }

    /// The formats sheetpipe imports: the one list the CLI's help, the
    /// HTTP upload check and the docs follow.
    pub const READABLE: [Format; 5] = [
        Format::Xlsx,
        Format::Xls,
        Format::Xlsb,
        Format::Ods,
        Format::Csv,
    ];

    /// The file extensions (lowercase, no dot) files of this format carry;
    /// none for the kinds that cannot be imported.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Xlsx => &["xlsx", "xlsm"],
            Format::Xls => &["xls"],
            Format::Xlsb => &["xlsb"],
            Format::Ods => &["ods"],
            Format::Csv => &["csv", "tsv", "txt"],
            Format::Encrypted | Format::OtherZip | Format::Binary => &[],
        }
    }

    /// True for the formats in [`Format::READABLE`].
    pub fn is_readable(self) -> bool {
        !self.extensions().is_empty()
    }

    /// The format whose extension `ext` is (any case), if it is readable.
    pub fn by_extension(ext: &str) -> Option<(Format, &'static str)> {
        Format::READABLE.into_iter().find_map(|f| {
            let found = f.extensions().iter().find(|e| e.eq_ignore_ascii_case(ext));
            found.map(|e| (f, *e))
        })
    }

    /// Every readable extension as `.xlsx, .xlsm, …` (for messages and help).
    pub fn extension_list() -> String {
        Format::READABLE
            .iter()
            .flat_map(|f| f.extensions())
            .map(|e| format!(".{e}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The message given when this format cannot be imported.
    pub fn unsupported_message(self) -> String {
        match self {
            Format::Encrypted => "the workbook is password-protected".to_string(),
            Format::OtherZip => {
                "the file is a zip archive but not a spreadsheet (no workbook inside)".to_string()
            }
            Format::Binary => {
                "the file is not a spreadsheet (unrecognised binary content)".to_string()
            }
            other => format!("{} files are not supported yet", other.name()),
        }
    }
}

const ZIP: &[u8] = b"PK\x03\x04";
const OLE2: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Detects the format of the file at `path` from its content.
pub fn detect(path: &Path) -> std::io::Result<Format> {
    let mut file = File::open(path)?;
    let mut head = [0u8; 4096];
    let n = read_up_to(&mut file, &mut head)?;
    let head = &head[..n];
    if head.starts_with(ZIP) {
        file.seek(SeekFrom::Start(0))?;
        return Ok(zip_kind(file));
    }
    if head.starts_with(OLE2) {
        return Ok(
            if contains(
                head_of_file(path, 1 << 20)?.as_slice(),
                &utf16("EncryptedPackage"),
            ) {
                Format::Encrypted
            } else {
                Format::Xls
            },
        );
    }
    Ok(if looks_like_text(head) {
        Format::Csv
    } else {
        Format::Binary
    })
}

fn zip_kind(file: File) -> Format {
    let Ok(mut archive) = zip::ZipArchive::new(std::io::BufReader::new(file)) else {
        // A zip whose directory cannot be read: let the xlsx reader report it.
        return Format::Xlsx;
    };
    let has = |name: &str| archive.index_for_name(name).is_some();
    if has("xl/workbook.xml") {
        return Format::Xlsx;
    }
    if has("xl/workbook.bin") {
        return Format::Xlsb;
    }
    if has("content.xml") {
        return Format::Ods;
    }
    if let Ok(mut entry) = archive.by_name("mimetype") {
        let mut kind = String::new();
        let _ = (&mut entry).take(200).read_to_string(&mut kind);
        if kind.contains("opendocument.spreadsheet") {
            return Format::Ods;
        }
    }
    Format::OtherZip
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn head_of_file(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    File::open(path)?.take(max).read_to_end(&mut out)?;
    Ok(out)
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Text if it has a UTF-16 BOM, or no NUL bytes and few control characters.
fn looks_like_text(head: &[u8]) -> bool {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    if head.contains(&0) {
        return false;
    }
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0C))
        .count();
    control * 100 <= head.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_bytes(bytes: &[u8]) -> Format {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.xlsx");
        std::fs::write(&path, bytes).unwrap();
        detect(&path).unwrap()
    }

    #[test]
    fn every_readable_format_has_extensions_and_the_others_none() {
        for f in Format::READABLE {
            assert!(f.is_readable(), "{f:?}");
        }
        for f in [Format::Encrypted, Format::OtherZip, Format::Binary] {
            assert!(!f.is_readable(), "{f:?}");
        }
        assert_eq!(Format::by_extension("XLSM"), Some((Format::Xlsx, "xlsm")));
        assert_eq!(Format::by_extension("tsv"), Some((Format::Csv, "tsv")));
        assert_eq!(Format::by_extension("zip"), None);
        assert_eq!(
            Format::extension_list(),
            ".xlsx, .xlsm, .xls, .xlsb, .ods, .csv, .tsv, .txt"
        );
    }

    #[test]
    fn text_named_xlsx_is_read_as_csv() {
        assert_eq!(detect_bytes(b"name,city\nAcme,Paris\n"), Format::Csv);
    }

    #[test]
    fn binary_noise_is_not_a_spreadsheet() {
        assert_eq!(
            detect_bytes(&[0x7f, b'E', b'L', b'F', 0, 0, 1, 2]),
            Format::Binary
        );
    }

    #[test]
    fn ole2_with_encrypted_package_is_password_protected() {
        let mut bytes = OLE2.to_vec();
        bytes.extend(utf16("EncryptedPackage"));
        assert_eq!(detect_bytes(&bytes), Format::Encrypted);
        assert_eq!(detect_bytes(OLE2), Format::Xls);
    }
}
