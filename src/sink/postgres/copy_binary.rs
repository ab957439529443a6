//! PostgreSQL's binary COPY format, encoded by hand for the target's row
//! shape (each field in its column type's binary format, `encode.rs`): a
//! unit becomes one contiguous buffer — header, rows, trailer — sent as a
//! `CopyData` message stream.
//!
//! Why not `BinaryCopyInWriter`: it dispatches `ToSql` per value, checks
//! types per row and flushes through its own buffer; encoding the bytes
//! directly is a few `memcpy`s per field. The format (PostgreSQL docs,
//! "COPY … Binary Format"): signature `PGCOPY\n\xff\r\n\0`, a 32-bit flags
//! field (0), a 32-bit header-extension length (0); per row a 16-bit field
//! count, then per field a 32-bit byte length (-1 = NULL) and the bytes
//! (`text` is sent as its UTF-8 bytes); the trailer is a 16-bit -1.

use bytes::{BufMut, BytesMut};

use super::encode::put_field;
use crate::model::{Record, Target};

/// The 11-byte signature, flags and header-extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Bytes sent per `CopyData` message while a unit streams: the server
/// starts on the first rows while later ones are still being encoded.
pub const SEND_CHUNK: usize = 256 * 1024;

/// Appends the stream header.
pub fn header(buf: &mut BytesMut) {
    buf.put_slice(HEADER);
}

/// Appends one row: the field count, then each field length-prefixed in
/// the binary format of its column's type ([`put_field`]). `Err` names a
/// value that cannot be sent as its column's type.
pub fn row(buf: &mut BytesMut, record: &Record, target: &Target) -> Result<(), String> {
    let width = i16::try_from(record.values.len()).map_err(|_| "too many columns".to_string())?;
    buf.reserve(2 + record.size_bytes());
    buf.put_i16(width);
    for (value, column) in record.values.iter().zip(&target.columns) {
        put_field(buf, value, &column.sql_type)
            .map_err(|why| format!("{} ({}): {why}", column.name, column.sql_type))?;
    }
    Ok(())
}

/// Appends the stream trailer.
pub fn trailer(buf: &mut BytesMut) {
    buf.put_i16(-1);
}

/// Encodes `rows` as one complete binary COPY stream (tests).
#[cfg(test)]
pub fn encode(rows: &[Record], target: &Target) -> BytesMut {
    let mut buf = BytesMut::new();
    header(&mut buf);
    for r in rows {
        row(&mut buf, r, target).expect("encodable");
    }
    trailer(&mut buf);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TableSchema, Value};

    fn businesses() -> Target {
        Target {
            table: "businesses".into(),
            columns: TableSchema::businesses().columns,
        }
    }

    fn record(fields: [Option<&str>; 9]) -> Record {
        Record {
            row: 2,
            values: fields
                .iter()
                .map(|f| f.map_or(Value::Null, |s| Value::Text(s.to_string())))
                .collect(),
        }
    }

    #[test]
    fn a_row_is_a_field_count_then_length_prefixed_fields() {
        let mut f: [Option<&str>; 9] = [None; 9];
        f[0] = Some("Café");
        f[8] = Some("");
        let buf = encode(&[record(f)], &businesses());
        let mut want = HEADER.to_vec();
        want.extend_from_slice(&9i16.to_be_bytes());
        want.extend_from_slice(&5i32.to_be_bytes());
        want.extend_from_slice("Café".as_bytes());
        for _ in 1..8 {
            want.extend_from_slice(&(-1i32).to_be_bytes());
        }
        want.extend_from_slice(&0i32.to_be_bytes());
        want.extend_from_slice(&(-1i16).to_be_bytes());
        assert_eq!(&buf[..], &want[..]);
    }

    #[test]
    fn no_rows_is_header_and_trailer() {
        let buf = encode(&[], &businesses());
        assert_eq!(buf.len(), HEADER.len() + 2);
        assert_eq!(&buf[..11], b"PGCOPY\n\xff\r\n\0");
    }
}
