//! Calendar dates of Unix times, in UTC (proleptic Gregorian calendar): the one place that
//! converts between seconds since the epoch and civil dates, for backup file names, result
//! timestamps, account expiry dates and archive listings.

/// The civil date of a day number (days since 1970-01-01; negative before): `(year, month, day)`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m as u32, d as u32)
}

/// The day number (days since 1970-01-01) of a civil date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of a day number.
pub fn ymd(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD`, `HH:MM:SS` of a Unix time (seconds), UTC.
pub fn utc_date_time(secs: i64) -> (String, String) {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    (
        ymd(days),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60),
    )
}

/// The Unix time of a UTC date and time given as `YYYY-MM-DD` and `HH:MM:SS` (a tar listing's
/// columns); `None` when they do not read as that.
pub fn parse_utc(date: &str, time: &str) -> Option<i64> {
    let d: Vec<i64> = date.split('-').filter_map(|x| x.parse().ok()).collect();
    let t: Vec<i64> = time.split(':').filter_map(|x| x.parse().ok()).collect();
    if d.len() != 3 || t.len() != 3 {
        return None;
    }
    Some(days_from_civil(d[0], d[1], d[2]) * 86_400 + t[0] * 3600 + t[1] * 60 + t[2])
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
        assert_eq!(days_from_civil(2024, 1, 1), 19723);
        assert_eq!(ymd(19723), "2024-01-01");
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
        assert_eq!(parse_utc("2024-01-01", "12:00"), None);
        assert_eq!(parse_utc("2024/01/01", "12:00:00"), None);
    }
}
