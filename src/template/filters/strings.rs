//! Strings: `b64encode`/`b64decode`, `quote`, `comment`, `truncate`, `human_readable`,
//! `human_to_bytes`, `urlsplit`, `urldecode` and `urlencode`.

use super::python::py_str;
use super::{Args, R, ferr, num};
use crate::value::Value;
use base64::Engine as _;
use minijinja::value::Rest;

/// Registers this file's filters.
pub(super) fn register(env: &mut super::Reg) {
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("quote", quote);
    env.add_filter("comment", comment);
    env.add_filter("truncate", truncate);
    env.add_filter("human_readable", human_readable);
    env.add_filter("human_to_bytes", human_to_bytes);
    env.add_filter("urlsplit", urlsplit);
    env.add_filter("urldecode", urldecode);
    env.add_filter("urlencode", urlencode);
}

/// Text to bytes in one of Python's common codecs (`utf-8`, `utf-16`, `utf-16-le`/`-be`,
/// `latin-1`, `ascii`).
fn encode_text(name: &str, text: &str, encoding: &str) -> R<Vec<u8>> {
    let enc = encoding.to_ascii_lowercase().replace('_', "-");
    Ok(match enc.as_str() {
        "utf-8" | "utf8" => text.as_bytes().to_vec(),
        "utf-16-le" | "utf-16le" => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        "utf-16-be" | "utf-16be" => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        "utf-16" | "utf16" => [0xff, 0xfe]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect(),
        "latin-1" | "latin1" | "iso-8859-1" | "ascii" | "us-ascii" => {
            let max = if enc.contains("ascii") { 0x7f } else { 0xff };
            text.chars()
                .map(|c| {
                    u8::try_from(u32::from(c))
                        .ok()
                        .filter(|b| u32::from(*b) <= max)
                        .ok_or_else(|| {
                            ferr(
                                name,
                                format!("'{encoding}' codec can't encode character {c:?}"),
                            )
                        })
                })
                .collect::<R<Vec<u8>>>()?
        }
        _ => return Err(ferr(name, format!("unknown encoding: {encoding}"))),
    })
}

/// Bytes to text in one of the codecs of [`encode_text`] (invalid sequences replaced).
fn decode_text(name: &str, bytes: &[u8], encoding: &str) -> R<String> {
    let enc = encoding.to_ascii_lowercase().replace('_', "-");
    let utf16 = |le: bool, b: &[u8]| {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    Ok(match enc.as_str() {
        "utf-8" | "utf8" => String::from_utf8_lossy(bytes).into_owned(),
        "utf-16-le" | "utf-16le" => utf16(true, bytes),
        "utf-16-be" | "utf-16be" => utf16(false, bytes),
        "utf-16" | "utf16" => match bytes {
            [0xfe, 0xff, rest @ ..] => utf16(false, rest),
            [0xff, 0xfe, rest @ ..] => utf16(true, rest),
            _ => utf16(true, bytes),
        },
        "latin-1" | "latin1" | "iso-8859-1" | "ascii" | "us-ascii" => {
            bytes.iter().map(|&b| char::from(b)).collect()
        }
        _ => return Err(ferr(name, format!("unknown encoding: {encoding}"))),
    })
}

/// `b64encode(encoding='utf-8', urlsafe=False)`.
fn b64encode(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("b64encode", &["encoding", "urlsafe"], &args)?;
    let bytes = encode_text("b64encode", &py_str(&v), &a.str_or("encoding", "utf-8"))?;
    let engine = if a.bool_or("urlsafe", false) {
        &base64::engine::general_purpose::URL_SAFE
    } else {
        &base64::engine::general_purpose::STANDARD
    };
    Ok(Value::from(engine.encode(bytes)))
}

/// `b64decode(encoding='utf-8', urlsafe=False)`.
fn b64decode(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("b64decode", &["encoding", "urlsafe"], &args)?;
    let s = py_str(&v);
    let mut clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if a.bool_or("urlsafe", false) {
        clean = clean.replace('-', "+").replace('_', "/");
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(clean.trim_end_matches('='))
        })
        .map_err(|e| ferr("b64decode", format!("invalid base64: {e}")))?;
    Ok(Value::from(decode_text(
        "b64decode",
        &bytes,
        &a.str_or("encoding", "utf-8"),
    )?))
}

fn quote(v: Value) -> R {
    if v.is_none() {
        return Ok(Value::from("''"));
    }
    Ok(Value::from(shlex_quote(&py_str(&v))))
}

/// Python's `shlex.quote` (what Ansible's `quote` filter uses).
pub fn shlex_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if s.chars()
        .all(|c| c.is_alphanumeric() || "_@%+=:,./-".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

fn comment(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "comment",
        &[
            "style",
            "decoration",
            "prefix",
            "prefix_count",
            "postfix",
            "postfix_count",
            "beginning",
            "end",
            "newline",
        ],
        &args,
    )?;
    let style = a.str_or("style", "plain");
    let (mut beginning, mut deco, mut end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => return Err(ferr("comment", format!("Invalid style '{other}'."))),
    };
    let bs;
    let ds;
    let es;
    if let Some(b) = a.get("beginning") {
        bs = py_str(b);
        beginning = &bs;
    }
    if let Some(d) = a.get("decoration") {
        ds = py_str(d);
        deco = &ds;
    }
    if let Some(e) = a.get("end") {
        es = py_str(e);
        end = &es;
    }
    let newline = a.str_or("newline", "\n");
    let prefix = a.str_or("prefix", deco.trim_end());
    let prefix_count = a.int_or("prefix_count", 1)?.max(0) as usize;
    let postfix = a.str_or("postfix", deco.trim_end());
    let postfix_count = a.int_or("postfix_count", 1)?.max(0) as usize;
    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(beginning);
        out.push_str(&newline);
    }
    // An empty prefix adds no lines; a prefix that is the newline adds just newlines.
    if !prefix.is_empty() {
        for _ in 0..prefix_count {
            if prefix != newline {
                out.push_str(&prefix);
            }
            out.push_str(&newline);
        }
    }
    // Each line gets the decoration; a line with nothing else loses its trailing spaces.
    let text = py_str(&v);
    let body = format!(
        "{deco}{}",
        text.replace(&newline, &format!("{newline}{deco}"))
    );
    out.push_str(&body.replace(
        &format!("{deco}{newline}"),
        &format!("{}{newline}", deco.trim_end()),
    ));
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(end);
    }
    Ok(Value::from(out))
}

/// Jinja's `truncate(s, length=255, killwords=False, end='...', leeway=5)`, positional or
/// keyword arguments: strings at most `length + leeway` long are kept; otherwise cut to
/// `length - len(end)` (at a word boundary unless `killwords`) and `end` appended.
fn truncate(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("truncate", &["length", "killwords", "end", "leeway"], &args)?;
    let s = py_str(&v);
    let length = a.int_or("length", 255)?.max(0) as usize;
    let killwords = a.bool_or("killwords", false);
    let end = a.str_or("end", "...");
    let leeway = a.int_or("leeway", 5)?.max(0) as usize;
    let end_len = end.chars().count();
    if length < end_len {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("truncate: length must be at least {end_len} (the length of end)"),
        ));
    }
    if s.chars().count() <= length + leeway {
        return Ok(Value::from(s));
    }
    let cut: String = s.chars().take(length - end_len).collect();
    let kept = if killwords {
        cut
    } else {
        match cut.rfind(' ') {
            Some(i) => cut[..i].to_string(),
            None => cut,
        }
    };
    Ok(Value::from(format!("{kept}{end}")))
}

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

/// Ansible's `human_readable`: `1024` → `1.00 KB`, `500` → `500.00 Bytes`.
fn human_readable(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("human_readable", &["isbits", "unit"], &args)?;
    let size = num(&v).ok_or_else(|| {
        ferr(
            "human_readable",
            format!("human_readable() failed on bad input: '{v}' is not a number"),
        )
    })?;
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
            format!(
                "human_to_bytes() can't interpret the input: '{text}' does not start with a number"
            ),
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
            format!(
                "human_to_bytes() can't interpret the input: unknown unit '{unit}' in '{text}'"
            ),
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

/// Python's `urllib.parse.quote` of the UTF-8 bytes of `s`: letters, digits and `_.-~` stay,
/// so does `/` unless `for_query`; in a query a space is `+`.
fn url_quote(s: &str, for_query: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b'/' if !for_query => out.push('/'),
            b' ' if for_query => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Jinja2's `urlencode`: a string (or any scalar) is quoted as a URL path; a dict, or a list of
/// pairs, becomes a query string `k=v&k2=v2`.
fn urlencode(v: Value) -> R {
    use minijinja::value::ValueKind;
    let pairs: Vec<(Value, Value)> = match v.kind() {
        ValueKind::Map => v
            .try_iter()
            .map_err(|e| ferr("urlencode", e))?
            .map(|k| {
                let x = v.get_item(&k).unwrap_or_default();
                (k, x)
            })
            .collect(),
        ValueKind::Seq | ValueKind::Iterable => {
            let mut out = Vec::new();
            for item in v.try_iter().map_err(|e| ferr("urlencode", e))? {
                let pair: Vec<Value> = match item.kind() {
                    ValueKind::Seq => item.try_iter().map_err(|e| ferr("urlencode", e))?.collect(),
                    _ => vec![item.clone()],
                };
                let [k, x] = <[Value; 2]>::try_from(pair).map_err(|p| {
                    ferr(
                        "urlencode",
                        format!(
                            "each item must be a (key, value) pair, got {} values",
                            p.len()
                        ),
                    )
                })?;
                out.push((k, x));
            }
            out
        }
        _ => return Ok(Value::from(url_quote(&py_str(&v), false))),
    };
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, x)| {
            format!(
                "{}={}",
                url_quote(&py_str(k), true),
                url_quote(&py_str(x), true)
            )
        })
        .collect();
    Ok(Value::from(parts.join("&")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencode_like_jinja() {
        let enc = |v: Value| py_str(&urlencode(v).unwrap());
        assert_eq!(enc(Value::from("a b/c?é~")), "a%20b/c%3F%C3%A9~");
        assert_eq!(enc(Value::from(12)), "12");
        let d = Value::from_iter([("a", Value::from("b c/")), ("x", Value::from(1))]);
        assert_eq!(enc(d), "a=b+c%2F&x=1");
        let pairs = Value::from(vec![Value::from(vec!["k", "v"])]);
        assert_eq!(enc(pairs), "k=v");
        assert_eq!(enc(Value::from(Vec::<Value>::new())), "");
        assert!(urlencode(Value::from(vec!["abc"])).is_err());
    }
}
