//! Dates: the `now()` function and the `strftime` filter (through the C library's `strftime`,
//! which is what Python's `time.strftime` uses).

use super::python::py_str;
use super::{Args, R, ferr, num};
use crate::value::Value;
use minijinja::value::Rest;
use minijinja::{Environment, Error};

/// Registers this file's filters.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("strftime", strftime);
    env.add_function("now", now);
}

/// Python's `datetime.strftime` directive `%f` (microseconds, six digits), which the C library
/// does not have: replaced before the rest of the format goes to `strftime(3)`.
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
            "strftime" => {
                let fmt = args.first().map(py_str).unwrap_or_default();
                format_tm(&self.tm(), &with_micros(&fmt, self.micros))
                    .map(Value::from)
                    .ok_or_else(|| ferr("strftime", format!("cannot format '{fmt}'")))
            }
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
        Some(s) => {
            num(s).ok_or_else(|| ferr("strftime", "second must be a number of seconds"))? as i64
        }
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
}
