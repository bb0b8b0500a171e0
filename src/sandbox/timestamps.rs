//! The emulators' most rendered timestamp forms, written directly: chrono's
//! `format` interprets its pattern on every call, which showed in profiles
//! of list answers with hundreds of timestamps.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

/// `2023-04-05T06:07:08Z` (UTC, whole seconds).
pub fn utc_seconds(moment: &DateTime<Utc>) -> impl fmt::Display + '_ {
    UtcSeconds(moment)
}

/// `2023-04-05`.
pub fn date(day: &NaiveDate) -> impl fmt::Display + '_ {
    Day(day)
}

struct UtcSeconds<'a>(&'a DateTime<Utc>);

impl fmt::Display for UtcSeconds<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let moment = self.0;
        if !(0..=9999).contains(&moment.year()) {
            return write!(f, "{}", moment.format("%Y-%m-%dT%H:%M:%SZ"));
        }
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            moment.year(),
            moment.month(),
            moment.day(),
            moment.hour(),
            moment.minute(),
            moment.second()
        )
    }
}

struct Day<'a>(&'a NaiveDate);

impl fmt::Display for Day<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = self.0;
        if !(0..=9999).contains(&day.year()) {
            return write!(f, "{}", day.format("%Y-%m-%d"));
        }
        write!(f, "{:04}-{:02}-{:02}", day.year(), day.month(), day.day())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_forms_match_chronos_own_formatting() {
        let moments = [
            Utc.with_ymd_and_hms(2023, 4, 5, 6, 7, 8).unwrap(),
            Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ];
        for moment in moments {
            assert_eq!(
                utc_seconds(&moment).to_string(),
                moment.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            );
            let day = moment.date_naive();
            assert_eq!(date(&day).to_string(), day.format("%Y-%m-%d").to_string());
        }
    }
}
