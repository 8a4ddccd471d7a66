//! Calendar dates of Unix times, in UTC (proleptic Gregorian calendar): the one place that
//! converts between seconds since the epoch and civil dates, for backup file names, result
//! timestamps, account expiry dates and archive listings. The arithmetic is `jiff`'s.
//! (`strftime` and `now()` in templates use the C library, as Python does; see the `dates`
//! filters.)

use jiff::SignedDuration;
use jiff::civil::DateTime;

/// 1970-01-01 00:00:00, the Unix epoch as a civil (UTC) date and time.
const EPOCH: DateTime = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);

/// The UTC date and time of a Unix time; times beyond what the calendar holds (years -9999 to
/// 9999) are clamped to its ends.
fn utc(secs: i64) -> DateTime {
    EPOCH
        .checked_add(SignedDuration::from_secs(secs))
        .unwrap_or(if secs < 0 {
            DateTime::MIN
        } else {
            DateTime::MAX
        })
}

fn fmt_date(dt: &DateTime) -> String {
    format!("{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day())
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01; negative before).
pub fn ymd(days: i64) -> String {
    fmt_date(&utc(days.saturating_mul(86_400)))
}

/// `YYYY-MM-DD`, `HH:MM:SS` of a Unix time (seconds), UTC.
pub fn utc_date_time(secs: i64) -> (String, String) {
    let dt = utc(secs);
    (
        fmt_date(&dt),
        format!("{:02}:{:02}:{:02}", dt.hour(), dt.minute(), dt.second()),
    )
}

/// The Unix time of a UTC date and time given as `YYYY-MM-DD` and `HH:MM:SS` (a tar listing's
/// columns); `None` when they are not a valid date and time.
pub fn parse_utc(date: &str, time: &str) -> Option<i64> {
    let d: Vec<i64> = date.split('-').filter_map(|x| x.parse().ok()).collect();
    let t: Vec<i64> = time.split(':').filter_map(|x| x.parse().ok()).collect();
    if d.len() != 3 || t.len() != 3 {
        return None;
    }
    let dt = DateTime::new(
        d[0].try_into().ok()?,
        d[1].try_into().ok()?,
        d[2].try_into().ok()?,
        t[0].try_into().ok()?,
        t[1].try_into().ok()?,
        t[2].try_into().ok()?,
        0,
    )
    .ok()?;
    Some(dt.duration_since(EPOCH).as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix times and their UTC dates (checked against `date -u -d @SECS`).
    const PINNED: &[(i64, &str, &str)] = &[
        (0, "1970-01-01", "00:00:00"),
        (-1, "1969-12-31", "23:59:59"),
        (951_782_400, "2000-02-29", "00:00:00"),
        (951_868_799, "2000-02-29", "23:59:59"),
        (1_700_000_000, "2023-11-14", "22:13:20"),
        (1_709_164_800, "2024-02-29", "00:00:00"),
        (1_709_251_199, "2024-02-29", "23:59:59"),
        (4_107_542_400, "2100-03-01", "00:00:00"),
        (4_107_456_000, "2100-02-28", "00:00:00"),
        (253_402_300_799, "9999-12-31", "23:59:59"),
        (-2_208_988_800, "1900-01-01", "00:00:00"),
    ];

    #[test]
    fn unix_times_to_dates_and_back() {
        for (secs, date, time) in PINNED {
            let (d, t) = utc_date_time(*secs);
            assert_eq!((d.as_str(), t.as_str()), (*date, *time), "{secs}");
            assert_eq!(parse_utc(date, time), Some(*secs), "{date} {time}");
        }
        assert_eq!(parse_utc("2024-01-01", "00:00:00"), Some(19723 * 86_400));
        assert_eq!(ymd(19723), "2024-01-01");
        assert_eq!(ymd(-719_468), "0000-03-01");
        assert_eq!(ymd(i64::MAX), "9999-12-31");
        assert_eq!(ymd(i64::MIN), "-9999-01-01");
        assert_eq!(parse_utc("2023-02-29", "12:00:00"), None);
        assert_eq!(parse_utc("2024-01-01", "12:00"), None);
        assert_eq!(parse_utc("2024/01/01", "12:00:00"), None);
    }
}
