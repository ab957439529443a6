//! The wall-time wrapper (the child process itself is tested through the
//! real binary in tests/it/isolation.rs).

use super::*;
use crate::model::Cell;

struct Rows(u32);

impl RowReader for Rows {
    fn format(&self) -> Format {
        Format::Csv
    }
    fn sheet_name(&self) -> &str {
        ""
    }
    fn read(&mut self, emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>) -> Result<(), SourceError> {
        for number in 1..=self.0 {
            let row = RawRow {
                number,
                cells: vec![Cell::Int(number.into())],
            };
            if emit(row).is_break() {
                break;
            }
        }
        Ok(())
    }
}

#[test]
fn a_reader_past_its_wall_time_stops_with_the_limit_named() {
    let limits = Limits {
        max_seconds: 0,
        ..Limits::default()
    };
    let mut timed = Timed {
        inner: Box::new(Rows(10)),
        started: Instant::now() - Duration::from_millis(10),
        limits,
    };
    let mut seen = 0;
    let err = timed.read(&mut |_| {
        seen += 1;
        ControlFlow::Continue(())
    });
    assert_eq!(seen, 0);
    let err = err.unwrap_err().to_string();
    assert!(err.contains("--max-seconds"), "{err}");
    let mut in_time = Timed {
        inner: Box::new(Rows(10)),
        started: Instant::now(),
        limits: Limits::default(),
    };
    let mut seen = 0;
    in_time
        .read(&mut |_| {
            seen += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(seen, 10);
}

#[test]
fn no_sheet_name_or_path_can_become_a_flag_of_the_reader_process() {
    let opts = SourceOptions {
        sheet: Some("-2024".into()),
        ..SourceOptions::default()
    };
    let args = read_args(Path::new("-rf.csv"), &opts);
    let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
    assert_eq!(args[0], "__read");
    assert!(args[1].starts_with("--limits-json={"), "{args:?}");
    assert_eq!(args[2..], ["--sheet=-2024", "--", "-rf.csv"]);
}
