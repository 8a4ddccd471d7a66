//! Facts in one round trip: a POSIX sh script run on the host and a parser on the controller.
//!
//! The script ([`script`]) needs only a POSIX shell and the usual base tools (it runs under dash,
//! bash and busybox ash) and prints raw sections: a line `@@name` followed by that section's
//! lines (uname values, `/etc/os-release`, `ip addr`, `/proc/meminfo`, ...). All interpretation
//! happens here in [`parse`], which turns the sections into Ansible's fact names and value
//! shapes (without the `ansible_` prefix). A missing section only leaves its facts unset.

mod distribution;
mod hardware;
mod local;
mod network;
pub mod subset;
#[cfg(test)]
mod tests;

use distribution::{distribution_facts, system_facts};
use hardware::{hardware_facts, loadavg_facts, mount_facts};
use network::{network_facts, platform_facts};

use crate::error::{Error, Result};
use crate::util::sections::Sections;
use crate::value::{Value, Vars, map_value};
use indexmap::IndexMap;

/// The script that prints every fact (no Python on the target).
pub fn script() -> &'static str {
    include_str!("facts.sh")
}

/// Runs the fact script on `conn` and reads it: `cmd` brings the environment and become (its
/// script is replaced), `subset` the sections to skip and the collectors whose facts are
/// kept, `timeout` ansible's `gather_timeout`. It runs as a probe (read-only: on the kept
/// shell over SSH). Returns the facts and the warnings setup gives about them.
pub async fn gather(
    conn: &dyn crate::connection::Connection,
    mut cmd: crate::connection::Cmd,
    subset: &subset::Selection,
    timeout: Option<std::time::Duration>,
) -> Result<(Vars, Vec<String>)> {
    cmd.script = script().to_string();
    cmd.probe = true;
    cmd.env.push(subset.env());
    let out = match timeout {
        Some(t) => tokio::time::timeout(t, conn.exec(&cmd))
            .await
            .map_err(|_| {
                Error::failed(format!("gathering facts took longer than {}s", t.as_secs()))
                    .hint("raise gather_timeout")
            })??,
        None => conn.exec(&cmd).await?,
    };
    if out.rc != 0 {
        return Err(Error::failed(format!(
            "gathering facts failed (rc {}): {}",
            out.rc,
            out.stderr_str().trim()
        )));
    }
    let (mut facts, warnings) = parse_with_warnings(&out.stdout_str())?;
    subset.keep(&mut facts);
    Ok((facts, warnings))
}

/// Parses the script's stdout into facts (keys without the `ansible_` prefix: `hostname`,
/// `distribution`, `default_ipv4`, ...).
#[cfg(test)]
pub fn parse(stdout: &str) -> Result<Vars> {
    Ok(parse_with_warnings(stdout)?.0)
}

/// [`parse`], with the warnings Ansible's setup gives about them (local facts that could not
/// be read).
pub fn parse_with_warnings(stdout: &str) -> Result<(Vars, Vec<String>)> {
    let secs = Sections::parse(stdout);
    if secs.no_markers() {
        return Err(Error::failed(
            "fact gathering printed nothing prov recognizes (is the remote shell POSIX sh?)",
        )
        .hint("set gather_facts: false to skip fact gathering on this host"));
    }
    let mut f = Vars::new();
    system_facts(&secs, &mut f);
    distribution_facts(&secs, &mut f);
    platform_facts(&secs, &mut f);
    user_facts(&secs, &mut f);
    date_facts(&secs, &mut f);
    hardware_facts(&secs, &mut f);
    mount_facts(&secs, &mut f);
    loadavg_facts(&secs, &mut f);
    network_facts(&secs, &mut f);
    env_facts(&secs, &mut f);
    python_facts(&secs, &mut f);
    let warnings = local::local_facts(&secs, &mut f);
    Ok((f, warnings))
}

/// `python` (its `executable`, `version`, `version_info`, `type`, `has_sslcontext`) and
/// `python_version`, as Ansible's setup reports the host's Python; none without one.
fn python_facts(secs: &Sections, f: &mut Vars) {
    let p = secs.kv("python");
    let Some(v) = p.get("version_info") else {
        return;
    };
    let w: Vec<&str> = v.split_whitespace().collect();
    let [major, minor, micro, level, serial] = w[..] else {
        return;
    };
    let num = |x: &str| Value::from(x.parse::<i64>().unwrap_or(0));
    let version = map_of(vec![
        ("major", num(major)),
        ("minor", num(minor)),
        ("micro", num(micro)),
        ("releaselevel", s(level)),
        ("serial", num(serial)),
    ]);
    let info = Value::from(vec![
        num(major),
        num(minor),
        num(micro),
        s(level),
        num(serial),
    ]);
    let kind = p.get("type").map(|t| t.trim()).unwrap_or_default();
    f.insert(
        "python".into(),
        map_of(vec![
            ("version", version),
            ("version_info", info),
            (
                "executable",
                s(p.get("executable").map(|e| e.trim()).unwrap_or_default()),
            ),
            (
                "has_sslcontext",
                Value::from(p.get("has_sslcontext").map(|x| x.trim()) == Some("1")),
            ),
            (
                "type",
                if kind.is_empty() {
                    Value::from(())
                } else {
                    s(kind)
                },
            ),
        ]),
    );
    f.insert(
        "python_version".into(),
        s(&format!("{major}.{minor}.{micro}")),
    );
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn str_list<I: IntoIterator<Item = String>>(it: I) -> Value {
    Value::from(it.into_iter().map(Value::from).collect::<Vec<_>>())
}

fn map_of(pairs: Vec<(&str, Value)>) -> Value {
    map_value(pairs)
}

/// Parses `/etc/os-release`-style `KEY="value"` lines (quotes and backslash escapes removed).
fn shell_kv(lines: &[&str]) -> IndexMap<String, String> {
    let mut m = IndexMap::new();
    for l in lines {
        let l = l.trim();
        if l.starts_with('#') {
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let val = if let Some(inner) = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
            let mut out = String::new();
            let mut it = inner.chars();
            while let Some(c) = it.next() {
                if c == '\\' {
                    if let Some(n) = it.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        } else if let Some(inner) = v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
            inner.to_string()
        } else {
            v.to_string()
        };
        m.insert(k.trim().to_string(), val);
    }
    m
}

fn user_facts(secs: &Sections, f: &mut Vars) {
    if !secs.has("user") {
        return;
    }
    let u = secs.kv("user");
    if let Some(name) = u.get("user_id").map(|x| x.trim()).filter(|x| !x.is_empty()) {
        f.insert("user_id".into(), s(name));
    }
    for k in ["user_uid", "user_gid"] {
        if let Some(n) = u.get(k).and_then(|x| x.trim().parse::<i64>().ok()) {
            f.insert(k.into(), Value::from(n));
        }
    }
    if let Some(pw) = u.get("passwd") {
        let p: Vec<&str> = pw.trim().split(':').collect();
        if p.len() >= 7 {
            f.insert("user_gecos".into(), s(p[4]));
            f.insert("user_dir".into(), s(p[5]));
            f.insert("user_shell".into(), s(p[6]));
        }
    }
}

fn date_facts(secs: &Sections, f: &mut Vars) {
    let d = secs.kv("date");
    let Some(local) = d.get("local") else { return };
    let w: Vec<&str> = local.split_whitespace().collect();
    if w.len() < 8 {
        return;
    }
    let n = w.len();
    let (date, time) = (w[0], w[1]);
    let (offset, weekday, wnum, wk, _yday, epoch) =
        (w[n - 6], w[n - 5], w[n - 4], w[n - 3], w[n - 2], w[n - 1]);
    let tz = w[2..n - 6].join(" ");
    let dp: Vec<&str> = date.split('-').collect();
    let tp: Vec<&str> = time.split(':').collect();
    if dp.len() != 3 || tp.len() != 3 {
        return;
    }
    let utc = d.get("utc").copied().unwrap_or("").trim();
    let iso = match utc.split_once(' ') {
        Some((ud, ut)) => format!("{ud}T{ut}Z"),
        None => String::new(),
    };
    let basic_short = format!("{}T{}", date.replace('-', ""), time.replace(':', ""));
    let mut v = vec![
        ("year", s(dp[0])),
        ("month", s(dp[1])),
        ("weekday", s(weekday)),
        ("weekday_number", s(wnum)),
        ("weeknumber", s(wk)),
        ("day", s(dp[2])),
        ("hour", s(tp[0])),
        ("minute", s(tp[1])),
        ("second", s(tp[2])),
        ("epoch", s(epoch)),
    ];
    if let Ok(e) = epoch.parse::<i64>() {
        v.push(("epoch_int", s(&e.to_string())));
    }
    v.push(("date", s(date)));
    v.push(("time", s(time)));
    if !iso.is_empty() {
        v.push(("iso8601_micro", s(&iso.replace('Z', ".000000Z"))));
        v.push(("iso8601", s(&iso)));
    }
    v.push(("iso8601_basic", s(&format!("{basic_short}000000"))));
    v.push(("iso8601_basic_short", s(&basic_short)));
    v.push(("tz", s(&tz)));
    v.push(("tz_dst", s(&tz)));
    v.push(("tz_offset", s(offset)));
    f.insert("date_time".into(), map_of(v));
}

fn env_facts(secs: &Sections, f: &mut Vars) {
    let mut env: Vec<(String, String)> = Vec::new();
    if secs.has("env-hex") {
        let mut bytes = Vec::new();
        for l in secs.lines("env-hex") {
            for h in l.split_whitespace() {
                if let Ok(b) = u8::from_str_radix(h, 16) {
                    bytes.push(b);
                }
            }
        }
        for item in bytes.split(|b| *b == 0) {
            let item = String::from_utf8_lossy(item);
            if let Some((k, v)) = item.split_once('=')
                && !k.is_empty()
                && k != "PROV_PYTHON"
            {
                env.push((k.to_string(), v.to_string()));
            }
        }
    }
    if env.is_empty() && secs.has("env") {
        for l in secs.lines("env") {
            if let Some((k, v)) = l.split_once('=')
                && !k.is_empty()
                && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                env.push((k.to_string(), v.to_string()));
            }
        }
    }
    if secs.has("env-hex") || secs.has("env") {
        f.insert(
            "env".into(),
            Value::from_iter(
                env.into_iter()
                    .map(|(k, v)| (Value::from(k), Value::from(v))),
            ),
        );
    }
}
