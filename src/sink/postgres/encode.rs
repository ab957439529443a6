//! Values in PostgreSQL's binary wire format, one encoder per column type
//! (the formats of PostgreSQL's `*_send` functions): what binary COPY sends
//! for each field.
//!
//! (Interim: only NULL and the text types; the typed encoders land next.)

use bytes::{BufMut, BytesMut};

use crate::model::{SqlType, Value};

/// Appends one COPY field: its 32-bit byte length (-1 for NULL) and its
/// bytes in the binary format of `ty`. `Err` names why the value cannot be
/// sent as that type (the caller rejects the row).
pub fn put_field(buf: &mut BytesMut, value: &Value, ty: &SqlType) -> Result<(), String> {
    match value {
        Value::Null => buf.put_i32(-1),
        Value::Text(s) if ty.is_text() => {
            let len = i32::try_from(s.len()).map_err(|_| "the value is over 2 GiB".to_string())?;
            buf.put_i32(len);
            buf.put_slice(s.as_bytes());
        }
        other => return Err(format!("cannot send {other:?} as {ty}")),
    }
    Ok(())
}
