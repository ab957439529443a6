//! The error budget: `--max-errors N` and `--max-error-rate R` (HTTP
//! `max_errors=`, `max_error_rate=`). The collector asks after every event,
//! so an import over budget stops early, and once more at the end.
//!
//! * `max_errors`: more than N rejected rows stops the import.
//! * `max_error_rate`: the rate is rejected ÷ judged, where *judged* rows
//!   are those already inserted or rejected (rows read but still in flight
//!   are not judged yet). While the import runs it is judged only once at
//!   least [`MIN_JUDGED`] rows are; at the end over every row, however few.
//!   Rows already committed when the budget is exceeded stay committed.

/// Rows judged before the running rate counts (the final check has no minimum).
pub const MIN_JUDGED: u64 = 100;

/// When to give up on a file. `Default`: never.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ErrorBudget {
    /// Most rejected rows allowed.
    pub max_errors: Option<u64>,
    /// Highest share of rejected rows allowed, in [0, 1].
    pub max_rate: Option<f64>,
}

impl ErrorBudget {
    /// A budget, or why a rate is out of range.
    pub fn new(max_errors: Option<u64>, max_rate: Option<f64>) -> Result<ErrorBudget, String> {
        if let Some(r) = max_rate {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!(
                    "the error rate must be a fraction between 0 and 1 (0.05 = 5%), got {r}"
                ));
            }
        }
        Ok(ErrorBudget {
            max_errors,
            max_rate,
        })
    }

    /// Parses an error rate: a fraction (`0.05`) or a percentage (`5%`).
    pub fn parse_rate(text: &str) -> Result<f64, String> {
        let t = text.trim();
        let (number, scale) = match t.strip_suffix('%') {
            Some(n) => (n.trim(), 100.0),
            None => (t, 1.0),
        };
        let rate = number
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite())
            .map(|r| r / scale)
            .ok_or_else(|| {
                format!("the error rate must be a number such as 0.05 or 5%, got {t:?}")
            })?;
        ErrorBudget::new(None, Some(rate)).map(|_| rate)
    }

    /// Why the budget is exceeded with these counts, if it is. `at_end`:
    /// every row has been judged (the rate then needs no minimum).
    pub fn exceeded(&self, inserted: u64, rejected: u64, at_end: bool) -> Option<String> {
        if let Some(max) = self.max_errors {
            if rejected > max {
                return Some(format!(
                    "too many rejected rows: more than the {max} allowed (max errors)"
                ));
            }
        }
        let rate = self.max_rate?;
        let judged = inserted + rejected;
        if judged == 0 || (!at_end && judged < MIN_JUDGED) {
            return None;
        }
        let share = rejected as f64 / judged as f64;
        (share > rate).then(|| {
            format!(
                "too many rejected rows: {rejected} of the {judged} rows judged ({:.1}%) is over \
                 the {:.1}% allowed (max error rate)",
                share * 100.0,
                rate * 100.0
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_allows_exactly_max_errors_rejected_rows() {
        let b = ErrorBudget::new(Some(10), None).unwrap();
        assert_eq!(b.exceeded(0, 10, false), None);
        assert!(b.exceeded(0, 11, false).unwrap().contains("10 allowed"));
        assert_eq!(ErrorBudget::default().exceeded(0, 1_000_000, true), None);
    }

    #[test]
    fn the_running_rate_waits_for_enough_judged_rows_but_the_final_one_does_not() {
        let b = ErrorBudget::new(None, Some(0.1)).unwrap();
        assert_eq!(b.exceeded(1, 5, false), None, "6 rows judged: too few");
        assert!(
            b.exceeded(1, 5, true).is_some(),
            "at the end 5 of 6 is over 10%"
        );
        assert_eq!(b.exceeded(90, 10, false), None, "10% is not over 10%");
        let why = b.exceeded(89, 11, false).unwrap();
        assert!(why.contains("11 of the 100 rows judged (11.0%)"), "{why}");
        assert_eq!(b.exceeded(0, 0, true), None);
    }

    #[test]
    fn rates_read_as_fractions_or_percentages_and_out_of_range_ones_are_refused() {
        assert_eq!(ErrorBudget::parse_rate("0.05"), Ok(0.05));
        assert_eq!(ErrorBudget::parse_rate(" 5% "), Ok(0.05));
        assert!(ErrorBudget::parse_rate("1.5")
            .unwrap_err()
            .contains("between 0 and 1"));
        assert!(ErrorBudget::parse_rate("lots")
            .unwrap_err()
            .contains("\"lots\""));
        assert!(ErrorBudget::parse_rate("NaN").is_err());
    }
}
