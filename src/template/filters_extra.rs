//! More of Ansible's filters: `password_hash` (SHA-crypt), `random`, `shuffle`,
//! `permutations`, `combinations`, `human_readable`, `human_to_bytes`, `strftime`, `urlsplit`,
//! `urldecode`, `relpath` and `expandvars`.
//!
//! `random` and `shuffle` with a `seed` are stable for a given seed (the same host gets the same
//! value on every run), but the values differ from Python's generator.

use super::filters::{Args, ferr, normpath, py_str};
use crate::value::Value;
use minijinja::value::{Rest, ValueKind};
use minijinja::{Environment, Error};
use sha2::Digest;

type R<T = Value> = Result<T, Error>;

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("password_hash", password_hash);
    env.add_filter("random", random);
    env.add_filter("shuffle", shuffle);
    env.add_filter("permutations", permutations);
    env.add_filter("combinations", combinations);
    env.add_filter("human_readable", human_readable);
    env.add_filter("human_to_bytes", human_to_bytes);
    env.add_filter("strftime", strftime);
    env.add_filter("urlsplit", urlsplit);
    env.add_filter("urldecode", urldecode);
    env.add_filter("relpath", relpath);
    env.add_filter("expandvars", expandvars);
    env.add_function("now", now);
}

// ------------------------------------------------------------------ now()

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
                format_tm(&self.tm(), &fmt)
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
        let fmt = py_str(fmt);
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

// ------------------------------------------------------------------ password_hash

const ITOA64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// SHA-crypt (Ulrich Drepper's specification, `$5$`/`$6$` in /etc/shadow): the raw digest.
fn sha_crypt_raw<D: Digest + Clone>(pw: &[u8], salt: &[u8], rounds: u32) -> Vec<u8> {
    let n = <D as Digest>::output_size();
    let b = D::new()
        .chain_update(pw)
        .chain_update(salt)
        .chain_update(pw)
        .finalize()
        .to_vec();
    let mut a = D::new().chain_update(pw).chain_update(salt);
    let mut cnt = pw.len();
    while cnt > n {
        a.update(&b);
        cnt -= n;
    }
    a.update(&b[..cnt]);
    let mut cnt = pw.len();
    while cnt > 0 {
        if cnt & 1 == 1 {
            a.update(&b);
        } else {
            a.update(pw);
        }
        cnt >>= 1;
    }
    let a = a.finalize().to_vec();
    let mut dp = D::new();
    for _ in 0..pw.len() {
        dp.update(pw);
    }
    let dp = dp.finalize().to_vec();
    let p: Vec<u8> = dp.iter().cycle().take(pw.len()).copied().collect();
    let mut ds = D::new();
    for _ in 0..(16 + a[0] as usize) {
        ds.update(salt);
    }
    let ds = ds.finalize().to_vec();
    let s: Vec<u8> = ds.iter().cycle().take(salt.len()).copied().collect();
    let mut c = a;
    for i in 0..rounds {
        let mut h = D::new();
        if i & 1 == 1 {
            h.update(&p);
        } else {
            h.update(&c);
        }
        if i % 3 != 0 {
            h.update(&s);
        }
        if i % 7 != 0 {
            h.update(&p);
        }
        if i & 1 == 1 {
            h.update(&c);
        } else {
            h.update(&p);
        }
        c = h.finalize().to_vec();
    }
    c
}

fn b64_24(out: &mut String, b2: u8, b1: u8, b0: u8, n: usize) {
    let mut w = (u32::from(b2) << 16) | (u32::from(b1) << 8) | u32::from(b0);
    for _ in 0..n {
        out.push(ITOA64[(w & 0x3f) as usize] as char);
        w >>= 6;
    }
}

/// `$6$[rounds=N$]salt$hash` (sha512) or `$5$...` (sha256), as crypt(3) writes them.
pub fn sha_crypt(pw: &str, salt: &str, rounds: Option<u32>, sha512: bool) -> String {
    let salt: String = salt.chars().take(16).collect();
    let r = rounds.unwrap_or(5000).clamp(1000, 999_999_999);
    let mut out = String::new();
    let c = if sha512 {
        let c = sha_crypt_raw::<sha2::Sha512>(pw.as_bytes(), salt.as_bytes(), r);
        const T: [(usize, usize, usize); 21] = [
            (0, 21, 42),
            (22, 43, 1),
            (44, 2, 23),
            (3, 24, 45),
            (25, 46, 4),
            (47, 5, 26),
            (6, 27, 48),
            (28, 49, 7),
            (50, 8, 29),
            (9, 30, 51),
            (31, 52, 10),
            (53, 11, 32),
            (12, 33, 54),
            (34, 55, 13),
            (56, 14, 35),
            (15, 36, 57),
            (37, 58, 16),
            (59, 17, 38),
            (18, 39, 60),
            (40, 61, 19),
            (62, 20, 41),
        ];
        for (a, b, d) in T {
            b64_24(&mut out, c[a], c[b], c[d], 4);
        }
        b64_24(&mut out, 0, 0, c[63], 2);
        out
    } else {
        let c = sha_crypt_raw::<sha2::Sha256>(pw.as_bytes(), salt.as_bytes(), r);
        const T: [(usize, usize, usize); 10] = [
            (0, 10, 20),
            (21, 1, 11),
            (12, 22, 2),
            (3, 13, 23),
            (24, 4, 14),
            (15, 25, 5),
            (6, 16, 26),
            (27, 7, 17),
            (18, 28, 8),
            (9, 19, 29),
        ];
        for (a, b, d) in T {
            b64_24(&mut out, c[a], c[b], c[d], 4);
        }
        b64_24(&mut out, 0, c[31], c[30], 3);
        out
    };
    let id = if sha512 { 6 } else { 5 };
    match rounds {
        Some(_) => format!("${id}$rounds={r}${salt}${c}"),
        None => format!("${id}${salt}${c}"),
    }
}

/// `n` bytes from the kernel's random source (for salts, seeds and generated passwords).
pub(crate) fn random_bytes(n: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf))?;
    Ok(buf)
}

fn urandom(n: usize) -> R<Vec<u8>> {
    random_bytes(n).map_err(|e| ferr("random", format!("cannot read /dev/urandom: {e}")))
}

fn password_hash(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "password_hash",
        &["hashtype", "salt", "salt_size", "rounds", "ident"],
        &args,
    )?;
    let kind = a.str_or("hashtype", "sha512");
    let sha512 = match kind.as_str() {
        "sha512" | "sha512_crypt" => true,
        "sha256" | "sha256_crypt" => false,
        other => {
            return Err(ferr(
                "password_hash",
                format!("hash type '{other}' is not supported (use sha512 or sha256)"),
            ));
        }
    };
    let salt = match a.get("salt").filter(|s| !s.is_none()) {
        Some(s) => {
            let s = py_str(s);
            if s.is_empty()
                || s.chars()
                    .any(|c| !ITOA64.contains(&(c as u8)) || !c.is_ascii())
            {
                return Err(ferr(
                    "password_hash",
                    "the salt may only use the characters ./0-9A-Za-z",
                ));
            }
            s
        }
        None => {
            let size = a.int_or("salt_size", 16)?.clamp(1, 16) as usize;
            urandom(size)?
                .into_iter()
                .map(|b| ITOA64[(b & 0x3f) as usize] as char)
                .collect()
        }
    };
    let rounds = match a.get("rounds").filter(|r| !r.is_none()) {
        Some(_) => Some(a.int_or("rounds", 5000)?.clamp(1000, 999_999_999) as u32),
        None => None,
    };
    Ok(Value::from(sha_crypt(&py_str(&v), &salt, rounds, sha512)))
}

// ------------------------------------------------------------------ random, shuffle

/// SplitMix64: a small, good generator; seeded from a hash of `seed` or from /dev/urandom.
struct Rng(u64);

impl Rng {
    fn new(seed: Option<&Value>) -> R<Rng> {
        let s = match seed.filter(|s| !s.is_none()) {
            Some(s) => {
                let d = sha2::Sha256::digest(py_str(s).as_bytes());
                u64::from_le_bytes(d[..8].try_into().unwrap_or_default())
            }
            None => u64::from_le_bytes(urandom(8)?.try_into().unwrap_or_default()),
        };
        Ok(Rng(s))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next();
            if x < zone {
                return x % n;
            }
        }
    }
}

fn items(v: &Value) -> Option<Vec<Value>> {
    match v.kind() {
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            v.try_iter().ok().map(|i| i.collect())
        }
        ValueKind::String => Some(
            v.as_str()
                .unwrap_or_default()
                .chars()
                .map(|c| Value::from(c.to_string()))
                .collect(),
        ),
        _ => None,
    }
}

fn random(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("random", &["start", "step", "seed"], &args)?;
    let mut rng = Rng::new(a.get("seed"))?;
    if let Some(end) = i64::try_from(v.clone())
        .ok()
        .filter(|_| v.as_str().is_none())
    {
        let start = a.int_or("start", 0)?;
        let step = a.int_or("step", 1)?;
        if step <= 0 {
            return Err(ferr("random", "step must be a positive integer"));
        }
        if end <= start {
            return Err(ferr(
                "random",
                format!("empty range: start {start}, end {end}"),
            ));
        }
        let n = ((end - start) as u64).div_ceil(step as u64);
        return Ok(Value::from(start + (rng.below(n) as i64) * step));
    }
    match items(&v) {
        Some(list) if !list.is_empty() => Ok(list[rng.below(list.len() as u64) as usize].clone()),
        Some(_) => Err(ferr("random", "cannot choose from an empty sequence")),
        None => Err(ferr(
            "random",
            format!("needs an integer end or a list, got {}", v.kind()),
        )),
    }
}

fn shuffle(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("shuffle", &["seed"], &args)?;
    let mut rng = Rng::new(a.get("seed"))?;
    let mut list = items(&v).ok_or_else(|| ferr("shuffle", "needs a list"))?;
    for i in (1..list.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        list.swap(i, j);
    }
    Ok(Value::from(list))
}

// ------------------------------------------------------------------ permutations, combinations

fn permutations(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("permutations", &["r"], &args)?;
    let pool = items(&v).ok_or_else(|| ferr("permutations", "needs a list"))?;
    let r = a.int_or("r", pool.len() as i64)?.max(0) as usize;
    let mut out = Vec::new();
    if r <= pool.len() {
        // Python's itertools.permutations order.
        fn go(
            pool: &[Value],
            r: usize,
            used: &mut Vec<bool>,
            cur: &mut Vec<Value>,
            out: &mut Vec<Value>,
        ) {
            if cur.len() == r {
                out.push(Value::from(cur.clone()));
                return;
            }
            for i in 0..pool.len() {
                if !used[i] {
                    used[i] = true;
                    cur.push(pool[i].clone());
                    go(pool, r, used, cur, out);
                    cur.pop();
                    used[i] = false;
                }
            }
        }
        go(
            &pool,
            r,
            &mut vec![false; pool.len()],
            &mut Vec::new(),
            &mut out,
        );
    }
    Ok(Value::from(out))
}

fn combinations(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("combinations", &["r"], &args)?;
    let pool = items(&v).ok_or_else(|| ferr("combinations", "needs a list"))?;
    let r = a.req("r")?;
    let r = i64::try_from(r.clone()).map_err(|_| ferr("combinations", "r must be an integer"))?;
    let r = r.max(0) as usize;
    let mut out = Vec::new();
    fn go(pool: &[Value], r: usize, from: usize, cur: &mut Vec<Value>, out: &mut Vec<Value>) {
        if cur.len() == r {
            out.push(Value::from(cur.clone()));
            return;
        }
        for i in from..pool.len() {
            cur.push(pool[i].clone());
            go(pool, r, i + 1, cur, out);
            cur.pop();
        }
    }
    if r <= pool.len() {
        go(&pool, r, 0, &mut Vec::new(), &mut out);
    }
    Ok(Value::from(out))
}

// ------------------------------------------------------------------ sizes

const SIZES: [(char, u32); 9] = [
    ('Y', 80),
    ('Z', 70),
    ('E', 60),
    ('P', 50),
    ('T', 40),
    ('G', 30),
    ('M', 20),
    ('K', 10),
    ('B', 0),
];

fn num(v: &Value) -> Option<f64> {
    f64::try_from(v.clone())
        .ok()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Ansible's `human_readable`: `1024` → `1.00 KB`, `500` → `500.00 Bytes`.
fn human_readable(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("human_readable", &["isbits", "unit"], &args)?;
    let size = num(&v).ok_or_else(|| ferr("human_readable", format!("'{v}' is not a number")))?;
    let isbits = a.bool_or("isbits", false);
    let unit = a
        .get("unit")
        .filter(|u| !u.is_none())
        .map(|u| py_str(u).to_ascii_uppercase());
    let base = if isbits { "bits" } else { "Bytes" };
    let mut pick = ('B', 0u32);
    for (s, shift) in SIZES {
        let limit = 2f64.powi(shift as i32);
        let hit = match &unit {
            None => size >= limit,
            Some(u) => u.starts_with(s),
        };
        pick = (s, shift);
        if hit {
            break;
        }
    }
    let limit = 2f64.powi(pick.1 as i32);
    let suffix = if pick.1 == 0 {
        base.to_string()
    } else {
        format!("{}{}", pick.0, &base[..1])
    };
    Ok(Value::from(format!("{:.2} {suffix}", size / limit)))
}

/// Ansible's `human_to_bytes`: `"10 MB"` → 10485760, `"1.5K"` → 1536; `isbits` for `Mb`.
fn human_to_bytes(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("human_to_bytes", &["default_unit", "isbits"], &args)?;
    let text = py_str(&v);
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (n, unit) = (t[..split].trim(), t[split..].trim());
    let n: f64 = n.parse().map_err(|_| {
        ferr(
            "human_to_bytes",
            format!("'{text}' does not start with a number"),
        )
    })?;
    let unit = if unit.is_empty() {
        a.str_or("default_unit", "B")
    } else {
        unit.to_string()
    };
    let isbits = a.bool_or("isbits", false);
    let first = unit.chars().next().unwrap_or('B').to_ascii_uppercase();
    let Some((_, shift)) = SIZES.iter().find(|(s, _)| *s == first) else {
        return Err(ferr(
            "human_to_bytes",
            format!("unknown unit '{unit}' in '{text}'"),
        ));
    };
    // "K", "KB", "KiB" (bytes) or "Kb" (bits, with isbits); a bare "b" means bits.
    let rest = &unit[first.len_utf8()..];
    let says_bits = rest == "b" || (unit == "b");
    if says_bits != isbits && !(rest.is_empty() && first != 'B') {
        return Err(ferr(
            "human_to_bytes",
            format!(
                "'{text}' is in {}; set isbits={}",
                if says_bits { "bits" } else { "bytes" },
                if says_bits { "true" } else { "false" }
            ),
        ));
    }
    Ok(Value::from((n * 2f64.powi(*shift as i32)).round() as i64))
}

// ------------------------------------------------------------------ strftime

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

// ------------------------------------------------------------------ URLs and paths

fn percent_decode(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn urldecode(v: Value, _args: Rest<Value>) -> R {
    Ok(Value::from(percent_decode(&py_str(&v), true)))
}

/// Python's `urllib.parse.urlsplit`, as Ansible's `urlsplit` returns it.
fn urlsplit(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("urlsplit", &["query"], &args)?;
    let url = py_str(&v);
    let (scheme, rest) = match url.split_once(':') {
        Some((s, r))
            if !s.is_empty()
                && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (s.to_ascii_lowercase(), r.to_string())
        }
        _ => (String::new(), url.clone()),
    };
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r.to_string(), f.to_string()),
        None => (rest, String::new()),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r.to_string(), q.to_string()),
        None => (rest, String::new()),
    };
    let (netloc, path) = match rest.strip_prefix("//") {
        Some(r) => match r.find('/') {
            Some(i) => (r[..i].to_string(), r[i..].to_string()),
            None => (r.to_string(), String::new()),
        },
        None => (String::new(), rest),
    };
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h.to_string()),
        None => (None, netloc.clone()),
    };
    let (username, password) = match &userinfo {
        Some(u) => match u.split_once(':') {
            Some((n, p)) => (Value::from(n), Value::from(p)),
            None => (Value::from(u.as_str()), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        match h.split_once(']') {
            Some((h, p)) => (h.to_string(), p.strip_prefix(':').unwrap_or("").to_string()),
            None => (h.to_string(), String::new()),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.to_string()),
            None => (hostport.clone(), String::new()),
        }
    };
    let hostname = if host.is_empty() {
        Value::from(())
    } else {
        Value::from(host.to_ascii_lowercase())
    };
    let port = if port.is_empty() {
        Value::from(())
    } else {
        Value::from(
            port.parse::<u16>()
                .map_err(|_| ferr("urlsplit", format!("port '{port}' is not a number")))?,
        )
    };
    let fields = [
        ("fragment", Value::from(fragment)),
        ("hostname", hostname),
        ("netloc", Value::from(netloc)),
        ("password", password),
        ("path", Value::from(path)),
        ("port", port),
        ("query", Value::from(query)),
        ("scheme", Value::from(scheme)),
        ("username", username),
    ];
    match a.get("query").filter(|q| !q.is_none()) {
        Some(q) => {
            let q = py_str(q);
            fields
                .iter()
                .find(|(k, _)| *k == q)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| ferr("urlsplit", format!("unknown URL component '{q}'")))
        }
        None => Ok(Value::from_iter(
            fields.into_iter().map(|(k, v)| (Value::from(k), v)),
        )),
    }
}

/// Python's `os.path.relpath(path, start)` (relative paths are taken from the working folder).
fn relpath(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("relpath", &["start"], &args)?;
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| "/".into());
    let absolute = |p: &str| {
        if p.starts_with('/') {
            normpath(p)
        } else {
            normpath(&format!("{cwd}/{p}"))
        }
    };
    let path = absolute(&py_str(&v));
    let start = absolute(&a.str_or("start", "."));
    let pp: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let sp: Vec<&str> = start.split('/').filter(|s| !s.is_empty()).collect();
    let common = pp.iter().zip(&sp).take_while(|(a, b)| a == b).count();
    let mut out: Vec<&str> = vec![".."; sp.len() - common];
    out.extend(&pp[common..]);
    Ok(Value::from(if out.is_empty() {
        ".".to_string()
    } else {
        out.join("/")
    }))
}

/// Python's `os.path.expandvars` on the controller: `$NAME` and `${NAME}`; unknown ones stay.
fn expandvars(v: Value, _args: Rest<Value>) -> R {
    let s = py_str(&v);
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(j) => (&b[..j], j + 2),
                None => ("", 0),
            }
        } else {
            let n = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..n], n)
        };
        match (!name.is_empty())
            .then(|| std::env::var(name).ok())
            .flatten()
        {
            Some(val) => out.push_str(&val),
            None => out.push_str(&rest[i..i + 1 + len]),
        }
        rest = &rest[i + 1 + len..];
    }
    out.push_str(rest);
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_crypt_matches_glibc_crypt() {
        // Expected values from glibc's crypt(3) (Python's crypt module on Debian 12).
        assert_eq!(
            sha_crypt("Hello world!", "saltstring", None, true),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
        assert_eq!(
            sha_crypt("Hello world!", "saltstring", None, false),
            "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
        );
        assert_eq!(
            sha_crypt("Hello world!", "saltstringsaltstring", Some(10000), true),
            "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."
        );
        assert_eq!(
            sha_crypt("secret", "saltsalt", None, true),
            "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
        );
    }
}
