//! Dates: the `now()` function, the `strftime` filter (through the C library's `strftime`,
//! which is what Python's `time.strftime` uses) and `to_datetime` (Python's `strptime`).

use super::python::py_str;
use super::{Args, R, ferr, num};
use crate::value::Value;
use minijinja::Error;
use minijinja::value::Rest;

/// Registers this file's filters.
pub(super) fn register(env: &mut super::Reg) {
    env.add_filter("strftime", strftime);
    env.add_filter("to_datetime", to_datetime);
    env.raw().add_function("now", now);
}

/// Python's `datetime.strftime` directive `%f` (microseconds, six digits), which the C library
/// does not have: replaced before the rest of the format goes to `strftime(3)`.
/// A datetime's `strftime(fmt)` method (`now()` and `to_datetime` values).
fn strftime_method(tm: &libc::tm, micros: u32, args: &[Value]) -> Result<Value, Error> {
    let fmt = args.first().map(py_str).unwrap_or_default();
    format_tm(tm, &with_micros(&fmt, micros))
        .map(Value::from)
        .ok_or_else(|| ferr("strftime", format!("cannot format '{fmt}'")))
}

fn with_micros(fmt: &str, micros: u32) -> String {
    let mut out = String::with_capacity(fmt.len() + 8);
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => out.push_str(&format!("{micros:06}")),
            Some(n) => {
                out.push('%');
                out.push(n);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Broken-down time of `secs` (local or UTC) through the C library.
fn broken_down(secs: i64, utc: bool) -> Option<libc::tm> {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: `tm` is plain data that gmtime_r/localtime_r fill from a valid time_t.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let ok = if utc {
            !libc::gmtime_r(&t, &mut tm).is_null()
        } else {
            !libc::localtime_r(&t, &mut tm).is_null()
        };
        ok.then_some(tm)
    }
}

/// `strftime(3)` of a broken-down time.
fn format_tm(tm: &libc::tm, fmt: &str) -> Option<String> {
    let cfmt = std::ffi::CString::new(fmt).ok()?;
    let mut buf = vec![0u8; 256 + fmt.len() * 8];
    // SAFETY: strftime writes at most `buf.len()` bytes into `buf` and returns the count.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), tm) };
    if n == 0 && !fmt.is_empty() {
        return None;
    }
    buf.truncate(n);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// What Ansible's `now()` returns: a datetime with `year` ... `microsecond`, `strftime(fmt)`,
/// `isoformat()` and `timestamp()`; shown as `YYYY-MM-DD HH:MM:SS.ffffff`.
#[derive(Debug)]
struct DateTime {
    secs: i64,
    micros: u32,
    utc: bool,
}

impl DateTime {
    fn tm(&self) -> libc::tm {
        // SAFETY: an all-zero `tm` is a valid value (the fallback if the clock is unusable).
        broken_down(self.secs, self.utc).unwrap_or(unsafe { std::mem::zeroed() })
    }
}

impl std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let base = format_tm(&self.tm(), "%Y-%m-%d %H:%M:%S").unwrap_or_default();
        write!(f, "{base}.{:06}", self.micros)
    }
}

impl minijinja::value::Object for DateTime {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Plain
    }
    fn get_value(self: &std::sync::Arc<Self>, key: &Value) -> Option<Value> {
        let t = &self.tm();
        Some(Value::from(match key.as_str()? {
            "year" => i64::from(t.tm_year) + 1900,
            "month" => i64::from(t.tm_mon) + 1,
            "day" => i64::from(t.tm_mday),
            "hour" => i64::from(t.tm_hour),
            "minute" => i64::from(t.tm_min),
            "second" => i64::from(t.tm_sec),
            "microsecond" => i64::from(self.micros),
            _ => return None,
        }))
    }
    fn call_method(
        self: &std::sync::Arc<Self>,
        _state: &minijinja::State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => strftime_method(&self.tm(), self.micros, args),
            "isoformat" => Ok(Value::from(
                format_tm(&self.tm(), "%Y-%m-%dT%H:%M:%S").unwrap_or_default()
                    + &format!(".{:06}", self.micros),
            )),
            "timestamp" => Ok(Value::from(self.secs as f64 + f64::from(self.micros) / 1e6)),
            other => Err(Error::new(
                minijinja::ErrorKind::UnknownMethod,
                format!("a datetime has no method '{other}'"),
            )),
        }
    }
    fn render(self: &std::sync::Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// Ansible's `now(utc=False, fmt=None)`.
fn now(args: Rest<Value>) -> R {
    let a = Args::bind("now", &["utc", "fmt"], &args)?;
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let utc = a.bool_or("utc", false);
    let tm = broken_down(secs, utc).ok_or_else(|| ferr("now", "cannot read the clock"))?;
    if let Some(fmt) = a.get("fmt").filter(|f| !f.is_none()) {
        let fmt = with_micros(&py_str(fmt), d.subsec_micros());
        return format_tm(&tm, &fmt)
            .map(Value::from)
            .ok_or_else(|| ferr("now", format!("cannot format '{fmt}'")));
    }
    Ok(Value::from_object(DateTime {
        secs,
        micros: d.subsec_micros(),
        utc,
    }))
}

/// Ansible's `strftime`: the value is the format; `second` (epoch seconds, default now) and
/// `utc` (default local time).
fn strftime(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("strftime", &["second", "utc"], &args)?;
    let fmt = py_str(&v);
    let secs: i64 = match a.get("second").filter(|s| !s.is_none()) {
        Some(s) => num(s).ok_or_else(|| {
            ferr(
                "strftime",
                format!("Invalid value for epoch value ({})", py_str(s)),
            )
        })? as i64,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    };
    let tm = broken_down(secs, a.bool_or("utc", false))
        .ok_or_else(|| ferr("strftime", format!("{secs} is not a valid time")))?;
    format_tm(&tm, &fmt)
        .map(Value::from)
        .ok_or_else(|| ferr("strftime", format!("cannot format '{fmt}'")))
}

/// A naive datetime as Python's `datetime.strptime` returns it (`to_datetime`): ordered, with
/// `year` ... `microsecond`, `strftime(fmt)`, `isoformat()` and `timestamp()` (local time);
/// shown as Python's `str()` shows it (`YYYY-MM-DD HH:MM:SS[.ffffff]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Naive {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Naive {
    /// The broken-down time `strftime(3)` formats.
    fn tm(&self) -> libc::tm {
        // SAFETY: an all-zero `tm` is a valid value; the fields are then set.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        tm.tm_year = (self.year - 1900) as i32;
        tm.tm_mon = self.month as i32 - 1;
        tm.tm_mday = self.day as i32;
        tm.tm_hour = self.hour as i32;
        tm.tm_min = self.minute as i32;
        tm.tm_sec = self.second as i32;
        let days = days_from_civil(self.year, self.month, self.day);
        tm.tm_wday = (days + 4).rem_euclid(7) as i32;
        tm.tm_yday = (days - days_from_civil(self.year, 1, 1)) as i32;
        tm.tm_isdst = -1;
        tm
    }
}

impl std::fmt::Display for Naive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.micros != 0 {
            write!(f, ".{:06}", self.micros)?;
        }
        Ok(())
    }
}

impl minijinja::value::Object for Naive {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Plain
    }
    fn get_value(self: &std::sync::Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from(match key.as_str()? {
            "year" => self.year,
            "month" => i64::from(self.month),
            "day" => i64::from(self.day),
            "hour" => i64::from(self.hour),
            "minute" => i64::from(self.minute),
            "second" => i64::from(self.second),
            "microsecond" => i64::from(self.micros),
            _ => return None,
        }))
    }
    fn custom_cmp(
        self: &std::sync::Arc<Self>,
        other: &minijinja::value::DynObject,
    ) -> Option<std::cmp::Ordering> {
        other.downcast_ref::<Naive>().map(|o| (**self).cmp(o))
    }
    fn call_method(
        self: &std::sync::Arc<Self>,
        _state: &minijinja::State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => strftime_method(&self.tm(), self.micros, args),
            "isoformat" => Ok(Value::from(self.to_string().replacen(' ', "T", 1))),
            "timestamp" => {
                let mut tm = self.tm();
                // SAFETY: mktime reads and normalizes a valid broken-down local time.
                let secs = unsafe { libc::mktime(&mut tm) };
                Ok(Value::from(secs as f64 + f64::from(self.micros) / 1e6))
            }
            other => Err(Error::new(
                minijinja::ErrorKind::UnknownMethod,
                format!("a datetime has no method '{other}'"),
            )),
        }
    }
    fn render(self: &std::sync::Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Up to `max` (at least `min`) ASCII digits at the start of `s`: their value and length.
fn digits(s: &str, min: usize, max: usize) -> Option<(i64, usize)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    (n >= min).then(|| (s[..n].parse().unwrap_or(0), n))
}

/// A month or weekday name (full or three-letter, any case) at the start of `s`: its index and
/// length.
fn name_at(s: &str, names: &[&str], full: bool) -> Option<(usize, usize)> {
    let low = s.to_ascii_lowercase();
    names.iter().enumerate().find_map(|(i, n)| {
        let n = if full { n } else { &n[..3] };
        low.starts_with(n).then_some((i, n.len()))
    })
}

/// Python's `datetime.strptime(text, fmt)` (the directives Python documents; `%z`/`%Z` are not
/// supported), with Python's error messages.
fn strptime(text: &str, fmt: &str) -> Result<Naive, String> {
    let nomatch = || {
        format!(
            "time data {} does not match format {}",
            py_q(text),
            py_q(fmt)
        )
    };
    let (mut year, mut month, mut day) = (1900i64, 1u32, 1u32);
    let (mut hour, mut minute, mut second, mut micros) = (0u32, 0u32, 0u32, 0u32);
    let mut pm: Option<bool> = None;
    let mut hour12 = false;
    let mut yday: Option<i64> = None;
    let mut s = text;
    let mut f = fmt.chars().peekable();
    while let Some(c) = f.next() {
        if c.is_whitespace() {
            while f.peek().is_some_and(|c| c.is_whitespace()) {
                f.next();
            }
            let t = s.trim_start();
            if t.len() == s.len() {
                return Err(nomatch());
            }
            s = t;
            continue;
        }
        if c != '%' {
            s = s.strip_prefix(c).ok_or_else(nomatch)?;
            continue;
        }
        let d = f
            .next()
            .ok_or_else(|| format!("stray % in format {}", py_q(fmt)))?;
        let num = |s: &str, min, max| digits(s, min, max).ok_or_else(nomatch);
        let used = match d {
            '%' => s.strip_prefix('%').map(|_| 1).ok_or_else(nomatch)?,
            'Y' => {
                let (v, n) = num(s, 4, 4)?;
                year = v;
                n
            }
            'y' => {
                let (v, n) = num(s, 1, 2)?;
                year = if v < 69 { 2000 + v } else { 1900 + v };
                n
            }
            'm' | 'd' | 'H' | 'I' | 'M' | 'S' => {
                let (v, n) = num(s, 1, 2)?;
                let v = v as u32;
                let ok = match d {
                    'm' => (1..=12).contains(&v),
                    'd' => (1..=31).contains(&v),
                    'H' => v <= 23,
                    'I' => (1..=12).contains(&v),
                    'M' => v <= 59,
                    _ => v <= 61,
                };
                if !ok {
                    return Err(nomatch());
                }
                match d {
                    'm' => month = v,
                    'd' => day = v,
                    'H' => hour = v,
                    'I' => {
                        hour = v;
                        hour12 = true;
                    }
                    'M' => minute = v,
                    _ => second = v,
                }
                n
            }
            'f' => {
                let (_, n) = num(s, 1, 6)?;
                micros = format!("{:0<6}", &s[..n]).parse().unwrap_or(0);
                n
            }
            'j' => {
                let (v, n) = num(s, 1, 3)?;
                if !(1..=366).contains(&v) {
                    return Err(nomatch());
                }
                yday = Some(v);
                n
            }
            'p' => {
                let low = s.get(..2).map(str::to_ascii_lowercase);
                match low.as_deref() {
                    Some("am") => pm = Some(false),
                    Some("pm") => pm = Some(true),
                    _ => return Err(nomatch()),
                }
                2
            }
            'b' | 'h' | 'B' => {
                let (i, n) = name_at(s, &MONTHS, d == 'B').ok_or_else(nomatch)?;
                month = i as u32 + 1;
                n
            }
            'a' | 'A' => name_at(s, &WEEKDAYS, d == 'A').ok_or_else(nomatch)?.1,
            other => {
                return Err(format!(
                    "'{other}' is a bad directive in format {}",
                    py_q(fmt)
                ));
            }
        };
        s = &s[used..];
    }
    if !s.is_empty() {
        return Err(format!("unconverted data remains: {s}"));
    }
    if hour12 {
        hour %= 12;
        if pm == Some(true) {
            hour += 12;
        }
    }
    if let Some(j) = yday {
        let days = days_from_civil(year, 1, 1) + j - 1;
        let mut m = 1;
        let mut rest = days - days_from_civil(year, 1, 1);
        while m < 12 && rest >= i64::from(days_in_month(year, m)) {
            rest -= i64::from(days_in_month(year, m));
            m += 1;
        }
        month = m;
        day = rest as u32 + 1;
    }
    if day > days_in_month(year, month) {
        return Err("day is out of range for month".to_string());
    }
    Ok(Naive {
        year,
        month,
        day,
        hour,
        minute,
        second,
        micros,
    })
}

/// Python's `repr` of a string, as strptime's messages quote it.
fn py_q(s: &str) -> String {
    super::py_repr(&Value::from(s))
}

/// Ansible's `to_datetime(string, format='%Y-%m-%d %H:%M:%S')`.
fn to_datetime(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("to_datetime", &["format"], &args)?;
    let fmt = a
        .get("format")
        .filter(|f| !f.is_none())
        .map(py_str)
        .unwrap_or_else(|| "%Y-%m-%d %H:%M:%S".to_string());
    strptime(&py_str(&v), &fmt)
        .map(Value::from_object)
        .map_err(|e| ferr("to_datetime", e))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn percent_f_is_microseconds_as_in_python_datetimes() {
        assert_eq!(with_micros("%s.%f", 42), "%s.000042");
        assert_eq!(with_micros("%%f %H%", 7), "%%f %H%");
        let dt = DateTime {
            secs: 0,
            micros: 123_456,
            utc: true,
        };
        assert_eq!(
            format_tm(&dt.tm(), &with_micros("%Y %f", dt.micros)).unwrap(),
            "1970 123456"
        );
        assert_eq!(with_micros("%%f %f%", 7), "%%f 000007%");
    }

    #[test]
    fn strptime_is_pythons() {
        let d = strptime("1993-03-26 01:23:45", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(d.to_string(), "1993-03-26 01:23:45");
        assert!(d < strptime("1994-03-26 01:23:45", "%Y-%m-%d %H:%M:%S").unwrap());
        let d = strptime("26 Mar 2021 3:04:05.5 PM", "%d %b %Y %I:%M:%S.%f %p").unwrap();
        assert_eq!(d.to_string(), "2021-03-26 15:04:05.500000");
        assert_eq!(d.tm().tm_wday, 5, "a Friday");
        assert_eq!(
            strptime("2020-60", "%Y-%j").unwrap().to_string(),
            "2020-02-29 00:00:00"
        );
        assert_eq!(
            strptime("2020-01-01x", "%Y-%m-%d").unwrap_err(),
            "unconverted data remains: x"
        );
        assert_eq!(
            strptime("2020/01/01", "%Y-%m-%d").unwrap_err(),
            "time data '2020/01/01' does not match format '%Y-%m-%d'"
        );
        assert_eq!(
            strptime("2021-02-29", "%Y-%m-%d").unwrap_err(),
            "day is out of range for month"
        );
    }
}
