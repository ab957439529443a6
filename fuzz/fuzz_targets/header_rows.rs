//! Fuzzes header mapping and row validation on rows decoded from bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sheetpipe::fuzzing::header_and_rows(data);
});
