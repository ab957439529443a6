//! Fuzzes the csv reader path: arbitrary bytes as a .csv file, read and
//! validated like an import, in this process (a crash is a finding).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sheetpipe::fuzzing::read_bytes(data, "csv", None);
});
