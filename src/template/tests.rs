//! Ansible's Jinja tests (`is succeeded`, `is version('2.0', '>=')`, `is match(...)`, ...).
//!
//! minijinja's builtins (`defined`, `undefined`, `none`, `string`, `number`, `mapping`,
//! `sequence`, `iterable`, `in`, `eq`, ...) are kept.

use super::filters::{Args, ferr, py_regex, py_str, split_kwargs, to_bool};
use crate::util::pyregex::Anchor;
use crate::value::Value;
use minijinja::value::{Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind};
use std::cmp::Ordering;

type R = Result<bool, Error>;

fn result_flag(name: &str, v: &Value, key: &str) -> Result<bool, Error> {
    if v.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    if v.kind() != ValueKind::Map {
        return Err(ferr(
            name,
            "the tested value must be a task result (a dictionary)",
        ));
    }
    let flag = v.get_attr(key).unwrap_or_default();
    Ok(!flag.is_undefined() && to_bool(&flag))
}

fn failed(v: Value) -> R {
    result_flag("failed", &v, "failed")
}

fn succeeded(v: Value) -> R {
    result_flag("succeeded", &v, "failed").map(|f| !f)
}

fn changed(v: Value) -> R {
    if result_flag("changed", &v, "changed")? {
        return Ok(true);
    }
    // A looped task's result: changed if any item changed.
    let results = v.get_attr("results").unwrap_or_default();
    if results.kind() == ValueKind::Seq
        && let Ok(it) = results.try_iter()
    {
        for r in it {
            if r.kind() == ValueKind::Map && to_bool(&r.get_attr("changed").unwrap_or_default()) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn unreachable(v: Value) -> R {
    result_flag("unreachable", &v, "unreachable")
}

fn reachable(v: Value) -> R {
    result_flag("reachable", &v, "unreachable").map(|u| !u)
}

fn skipped(v: Value) -> R {
    result_flag("skipped", &v, "skipped")
}

/// Ansible's async result tests need a result (a dictionary).
fn async_result(name: &str, v: &Value) -> Result<(), Error> {
    if v.kind() != minijinja::value::ValueKind::Map {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("The '{name}' test expects a dictionary"),
        ));
    }
    Ok(())
}

/// `finished`: an async result's `finished`; a result of a task that was not async counts as
/// finished.
fn finished(v: Value) -> R {
    async_result("finished", &v)?;
    let f = v.get_attr("finished").unwrap_or_default();
    Ok(f.is_undefined() || to_bool(&f))
}

/// `started`: an async result's `started`; a result of a task that was not async counts as
/// started.
fn started(v: Value) -> R {
    async_result("started", &v)?;
    let f = v.get_attr("started").unwrap_or_default();
    Ok(f.is_undefined() || to_bool(&f))
}

/// `timedout`: the result has a `timedout` with a true `period` (a task that timed out).
fn timedout(v: Value) -> R {
    async_result("timedout", &v)?;
    let t = v.get_attr("timedout").unwrap_or_default();
    Ok(!t.is_undefined()
        && t.is_true()
        && t.get_attr("period")
            .is_ok_and(|p| !p.is_undefined() && p.is_true()))
}

/// `vaulted_file`: the file at the path starts with a vault header.
fn vaulted_file(v: Value) -> R {
    use std::io::Read as _;
    let path = crate::template::filters::py_str(&v);
    let cannot = || {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("Cannot test if the file '{path}' is a vault."),
        )
    };
    let mut head = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|_| cannot())?;
    Ok(head.starts_with(b"$ANSIBLE_VAULT;"))
}

/// `same_file(other)`: both paths name the same file (device and inode, as `os.path.samefile`;
/// a missing file is an error).
fn same_file(v: Value, other: Value) -> R {
    use std::os::unix::fs::MetadataExt as _;
    let stat = |x: &Value| {
        let p = crate::template::filters::py_str(x);
        std::fs::metadata(&p).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("[Errno {}] {e}: '{p}'", e.raw_os_error().unwrap_or(0)),
            )
        })
    };
    let (a, b) = (stat(&v)?, stat(&other)?);
    Ok(a.dev() == b.dev() && a.ino() == b.ino())
}

/// Python's `os.path.ismount`: a folder (not a symbolic link) on another device than its
/// parent, or the root.
fn is_mount(p: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return false;
    };
    if !m.is_dir() {
        return false;
    }
    let Ok(parent) = std::fs::metadata(p.join("..")) else {
        return false;
    };
    m.dev() != parent.dev() || m.ino() == parent.ino()
}

fn truthy(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("truthy", &["convert_bool"], &args)?;
    // Ansible: `boolean(value)` when asked to convert, falling back to Python's truthiness for
    // what is not a boolean word (so "t" is true and "nope" is true, as a non-empty string).
    if a.bool_or("convert_bool", false)
        && let Some(b) = crate::value::boolean(&v)
    {
        return Ok(b);
    }
    Ok(v.is_true())
}

fn falsy(v: Value, args: Rest<Value>) -> R {
    truthy(v, args).map(|b| !b)
}

fn regex_test(name: &'static str, v: Value, args: &[Value], default_type: &str) -> R {
    let a = Args::bind(
        name,
        &["pattern", "ignorecase", "multiline", "match_type"],
        args,
    )?;
    let pat = a.str_or("pattern", "");
    let kind = a.str_or("match_type", default_type);
    let s = py_str(&v);
    let anchor = match kind.as_str() {
        "match" => Anchor::Start,
        "fullmatch" => Anchor::Full,
        "search" => Anchor::Search,
        other => return Err(ferr(name, format!("unknown match_type '{other}'"))),
    };
    let re = py_regex(
        name,
        &pat,
        a.bool_or("ignorecase", false),
        a.bool_or("multiline", false),
        anchor,
    )?;
    re.is_match(&s).map_err(|e| ferr(name, e))
}

#[derive(Debug, PartialEq, Eq)]
enum Part {
    Num(u64),
    Alpha(String),
}

/// Python's `LooseVersion` components.
fn loose_parts(v: &str) -> Vec<Part> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<Part>| {
        if cur.is_empty() {
            return;
        }
        if cur.chars().all(|c| c.is_ascii_digit()) {
            out.push(Part::Num(cur.parse().unwrap_or(u64::MAX)));
        } else {
            out.push(Part::Alpha(cur.clone()));
        }
        cur.clear();
    };
    for c in v.chars() {
        if c == '.' {
            flush(&mut cur, &mut out);
            continue;
        }
        let digit = c.is_ascii_digit();
        if !cur.is_empty() && cur.chars().last().is_some_and(|l| l.is_ascii_digit()) != digit {
            flush(&mut cur, &mut out);
        }
        cur.push(c);
    }
    flush(&mut cur, &mut out);
    out
}

fn cmp_parts(a: &[Part], b: &[Part]) -> Ordering {
    for (x, y) in a.iter().zip(b.iter()) {
        let o = match (x, y) {
            (Part::Num(p), Part::Num(q)) => p.cmp(q),
            (Part::Alpha(p), Part::Alpha(q)) => p.cmp(q),
            (Part::Num(_), Part::Alpha(_)) => Ordering::Less,
            (Part::Alpha(_), Part::Num(_)) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

fn semver_cmp(a: &str, b: &str) -> Option<Ordering> {
    fn parse(s: &str) -> Option<(Vec<u64>, Option<String>)> {
        let s = s.trim().trim_start_matches('v');
        let s = s.split('+').next()?;
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p.to_string())),
            None => (s, None),
        };
        let nums: Option<Vec<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
        let nums = nums?;
        (nums.len() == 3).then_some((nums, pre))
    }
    let (an, ap) = parse(a)?;
    let (bn, bp) = parse(b)?;
    Some(an.cmp(&bn).then_with(|| match (ap, bp) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => cmp_parts(&loose_parts(&x), &loose_parts(&y)),
    }))
}

/// Epoch, release, and the (rank, number) keys of the pre, post and dev parts.
type Pep440Key = (u64, Vec<u64>, (i8, u64), (i8, u64), (i8, u64));

/// A PEP 440 version's sort key (as Python's `packaging.version.Version`): epoch, release
/// without trailing zeros, then pre-release, post-release and development release, where a
/// missing part sorts as the packaging rules say (`1.0.dev1 < 1.0a1 < 1.0 < 1.0.post1`).
fn pep440_key(v: &str) -> Option<Pep440Key> {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?ix)^\s*v?(?:(\d+)!)?(\d+(?:\.\d+)*)
              (?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?(\d+)?)?
              (?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d+)?)?
              (?:[-_.]?(dev)[-_.]?(\d+)?)?
              (?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?\s*$",
        )
        .expect("static regex")
    });
    let c = RE.captures(v)?;
    let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u64>().ok());
    let epoch = num(1).unwrap_or(0);
    let mut release: Vec<u64> = c
        .get(2)?
        .as_str()
        .split('.')
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    while release.len() > 1 && release.last() == Some(&0) {
        release.pop();
    }
    let pre = c.get(3).map(|l| {
        let rank = match l.as_str().to_ascii_lowercase().as_str() {
            "a" | "alpha" => 0,
            "b" | "beta" => 1,
            _ => 2,
        };
        (rank, num(4).unwrap_or(0))
    });
    let post = (c.get(5).is_some() || c.get(6).is_some()).then(|| num(5).or(num(7)).unwrap_or(0));
    let dev = c.get(8).map(|_| num(9).unwrap_or(0));
    let pre_key = match (pre, post, dev) {
        (None, None, Some(_)) => (-1, 0),
        (None, _, _) => (3, 0),
        (Some(p), _, _) => p,
    };
    let post_key = post.map_or((-1, 0), |n| (0, n));
    let dev_key = dev.map_or((1, 0), |n| (0, n));
    Some((epoch, release, pre_key, post_key, dev_key))
}

/// Compares two version strings (`loose`, `strict`, `semver`/`semantic`, `pep440`).
pub fn version_cmp(a: &str, b: &str, kind: &str) -> Result<Ordering, Error> {
    match kind {
        "" | "loose" => Ok(cmp_parts(&loose_parts(a), &loose_parts(b))),
        "pep440" => {
            let key = |s: &str| {
                pep440_key(s).ok_or_else(|| {
                    ferr(
                        "version",
                        format!("Version comparison failed: Invalid version: '{s}'"),
                    )
                })
            };
            Ok(key(a)?.cmp(&key(b)?))
        }
        "strict" => {
            let ok = |s: &str| {
                let core = s.trim_end_matches(|c: char| c.is_ascii_digit());
                let core = core
                    .strip_suffix('a')
                    .or_else(|| core.strip_suffix('b'))
                    .unwrap_or(s);
                let core = if core.is_empty() { s } else { core };
                let nums: Vec<&str> = core.trim_end_matches(['a', 'b']).split('.').collect();
                (2..=3).contains(&nums.len())
                    && nums
                        .iter()
                        .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            };
            for s in [a, b] {
                if !ok(s) {
                    return Err(ferr(
                        "version",
                        format!("invalid version number '{s}' for strict comparison"),
                    ));
                }
            }
            Ok(cmp_parts(&loose_parts(a), &loose_parts(b)))
        }
        "semver" | "semantic" => semver_cmp(a, b).ok_or_else(|| {
            ferr(
                "version",
                format!("invalid semantic version '{a}' or '{b}'"),
            )
        }),
        other => Err(ferr(
            "version",
            format!("unknown version_type '{other}' (use loose, strict, semver or pep440)"),
        )),
    }
}

fn version(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "version",
        &["version", "operator", "strict", "version_type"],
        &args,
    )?;
    let other = a.req("version")?;
    let given = |k: &str| a.get(k).is_some_and(|x| !x.is_none());
    if given("strict") && given("version_type") {
        return Err(ferr(
            "version",
            "Cannot specify both 'strict' and 'version_type'",
        ));
    }
    if !v.is_true() {
        return Err(ferr("version", "Input version value cannot be empty"));
    }
    if !other.is_true() {
        return Err(ferr(
            "version",
            "Version parameter to compare against cannot be empty",
        ));
    }
    let mut kind = a.str_or("version_type", "loose");
    if a.bool_or("strict", false) {
        kind = "strict".into();
    }
    if !["loose", "strict", "semver", "semantic", "pep440"].contains(&kind.as_str()) {
        return Err(ferr(
            "version",
            format!(
                "Invalid version type ({kind}). Must be one of 'loose', 'strict', 'semver', \
                 'semantic', 'pep440'"
            ),
        ));
    }
    let op = a.str_or("operator", "eq");
    let test: fn(Ordering) -> bool = match op.as_str() {
        "<" | "lt" => |o| o == Ordering::Less,
        "<=" | "le" => |o| o != Ordering::Greater,
        ">" | "gt" => |o| o == Ordering::Greater,
        ">=" | "ge" => |o| o != Ordering::Less,
        "==" | "=" | "eq" => |o| o == Ordering::Equal,
        "!=" | "<>" | "ne" => |o| o != Ordering::Equal,
        other => {
            return Err(ferr(
                "version",
                format!(
                    "Invalid operator type ({other}). Must be one of '==', '=', 'eq', '<', \
                     'lt', '<=', 'le', '>', 'gt', '>=', 'ge', '!=', '<>', 'ne'"
                ),
            ));
        }
    };
    Ok(test(version_cmp(&py_str(&v), &py_str(other), &kind)?))
}

fn seq(name: &str, v: &Value) -> Result<Vec<Value>, Error> {
    if v.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    v.try_iter()
        .map(|it| it.collect())
        .map_err(|_| ferr(name, "expected a list"))
}

fn subset(a: Value, b: Value) -> R {
    let big = seq("subset", &b)?;
    Ok(seq("subset", &a)?.iter().all(|x| big.contains(x)))
}

fn superset(a: Value, b: Value) -> R {
    let small = seq("superset", &b)?;
    let big = seq("superset", &a)?;
    Ok(small.iter().all(|x| big.contains(x)))
}

fn contains(a: Value, b: Value) -> R {
    if let (Some(s), Some(t)) = (a.as_str(), b.as_str()) {
        return Ok(s.contains(t));
    }
    Ok(seq("contains", &a)?.contains(&b))
}

fn path_test(
    name: &'static str,
    f: fn(&std::path::Path) -> bool,
) -> impl Fn(Value) -> R + Send + Sync + 'static {
    move |v: Value| {
        if v.is_undefined() {
            return Err(Error::from(ErrorKind::UndefinedError));
        }
        let Some(s) = v.as_str() else {
            return Err(ferr(name, "expected a path string"));
        };
        let p = if let Some(rest) = s.strip_prefix("~/") {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(rest)
        } else {
            std::path::PathBuf::from(s)
        };
        Ok(f(&p))
    }
}

fn any_all(name: &'static str, all: bool) -> impl Fn(Value) -> R + Send + Sync + 'static {
    move |v: Value| {
        let xs = seq(name, &v)?;
        Ok(if all {
            xs.iter().all(Value::is_true)
        } else {
            xs.iter().any(Value::is_true)
        })
    }
}

fn nan(v: Value) -> R {
    Ok(f64::try_from(v).map(|f| f.is_nan()).unwrap_or(false))
}

/// ansible-core's test helper `ansible._protomatter.tagged_with(tag)`: prov's value tags are
/// the vault one (`VaultedValue`) and trust: a string not marked unsafe (data from hosts,
/// `!unsafe`) may be templated (`TrustedAsTemplate`).
fn tagged_with(v: Value, tag: String) -> R {
    Ok(match tag.as_str() {
        "VaultedValue" => v.downcast_object_ref::<crate::value::VaultText>().is_some(),
        "TrustedAsTemplate" => v.kind() == minijinja::value::ValueKind::String && !v.is_safe(),
        _ => false,
    })
}

fn vault_encrypted(state: &minijinja::State, v: Value) -> R {
    if v.downcast_object_ref::<crate::value::VaultText>().is_some() {
        return Ok(true);
    }
    // A `!vault` variable already decrypted (prov decrypts a variable when it is read).
    Ok(v.as_str().is_some_and(|s| {
        state
            .lookup("vars")
            .and_then(|c| super::Context::from_value(&c))
            .is_some_and(|c| c.templar().is_vault_plaintext(s))
    }))
}

/// Registers every test.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_test("_protomatter_tagged_with", tagged_with);
    env.add_test("failed", failed);
    env.add_test("failure", failed);
    env.add_test("succeeded", succeeded);
    env.add_test("success", succeeded);
    env.add_test("successful", succeeded);
    env.add_test("changed", changed);
    env.add_test("change", changed);
    env.add_test("unreachable", unreachable);
    env.add_test("reachable", reachable);
    env.add_test("skipped", skipped);
    env.add_test("skip", skipped);
    env.add_test("finished", finished);
    env.add_test("truthy", truthy);
    env.add_test("falsy", falsy);
    env.add_test("match", |v: Value, args: Rest<Value>| {
        regex_test("match", v, &args, "match")
    });
    env.add_test("search", |v: Value, args: Rest<Value>| {
        regex_test("search", v, &args, "search")
    });
    env.add_test("regex", |v: Value, args: Rest<Value>| {
        regex_test("regex", v, &args, "search")
    });
    env.add_test("version", version);
    env.add_test("version_compare", version);
    env.add_test("subset", subset);
    env.add_test("issubset", subset);
    env.add_test("superset", superset);
    env.add_test("issuperset", superset);
    env.add_test("contains", contains);
    env.add_test("file", path_test("file", |p| p.is_file()));
    env.add_test("is_file", path_test("file", |p| p.is_file()));
    env.add_test("directory", path_test("directory", |p| p.is_dir()));
    env.add_test("is_dir", path_test("directory", |p| p.is_dir()));
    env.add_test("exists", path_test("exists", |p| p.exists()));
    env.add_test(
        "link_exists",
        path_test("link_exists", |p| p.symlink_metadata().is_ok()),
    );
    env.add_test("same_file", same_file);
    env.add_test("is_same_file", same_file);
    env.add_test("mount", path_test("mount", is_mount));
    env.add_test("is_mount", path_test("mount", is_mount));
    env.add_test("started", started);
    env.add_test("timedout", timedout);
    env.add_test("vaulted_file", vaulted_file);
    env.add_test("isnan", nan);
    env.add_test("link", path_test("link", |p| p.is_symlink()));
    env.add_test("is_link", path_test("link", |p| p.is_symlink()));
    env.add_test("abs", path_test("abs", |p| p.is_absolute()));
    env.add_test("is_abs", path_test("abs", |p| p.is_absolute()));
    env.add_test("any", any_all("any", false));
    env.add_test("all", any_all("all", true));
    env.add_test("nan", nan);
    env.add_test("vault_encrypted", vault_encrypted);
    let _ = split_kwargs;
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn protomatter_helpers() {
        let t = crate::template::Templar::new();
        let ctx = crate::template::Context::new(&t, vec![]);
        let v = t.eval("[1] | ansible._protomatter.finalize", &ctx).unwrap();
        assert_eq!(v, Value::from(vec![1]));
        let vault = Value::from_object(crate::value::VaultText::new("$ANSIBLE_VAULT".into()));
        assert!(tagged_with(vault, "VaultedValue".into()).unwrap());
        assert!(!tagged_with(Value::from("x"), "VaultedValue".into()).unwrap());
        assert!(tagged_with(Value::from("x"), "TrustedAsTemplate".into()).unwrap());
        let unsafe_ = crate::template::mark_unsafe(&Value::from("x"));
        assert!(!tagged_with(unsafe_, "TrustedAsTemplate".into()).unwrap());
    }

    #[test]
    fn pep440_versions_order_like_packaging() {
        let lt = |a: &str, b: &str| version_cmp(a, b, "pep440").unwrap() == Ordering::Less;
        assert!(lt("2.14.0rc1", "2.14.0"));
        assert!(lt("1.0.dev1", "1.0a1"));
        assert!(lt("1.0a1", "1.0b2"));
        assert!(lt("1.0b2", "1.0rc1"));
        assert!(lt("1.0", "1.0.post1"));
        assert!(lt("1.0rc1.dev3", "1.0rc1"));
        assert!(lt("1!0.1", "2!0.0") && lt("9.9", "1!0.1"));
        assert_eq!(
            version_cmp("1.0", "1.0.0", "pep440").unwrap(),
            Ordering::Equal
        );
        assert_eq!(
            version_cmp("1.0-1", "1.0.post1", "pep440").unwrap(),
            Ordering::Equal
        );
        assert!(lt("1.0.post1", "1.0.post2") && lt("1.0.r1", "1.0rev2"));
        assert!(version_cmp("1.0", "not-a-version", "pep440").is_err());
        let t = crate::template::Templar::new();
        let ctx = crate::template::Context::new(&t, vec![]);
        let err = |x: &str| t.eval(x, &ctx).unwrap_err().msg.clone();
        assert!(
            err("'1.0' is version('1.0', strict=true, version_type='loose')")
                .contains("Cannot specify both 'strict' and 'version_type'")
        );
        assert!(err("'' is version('1.0')").contains("Input version value cannot be empty"));
        assert!(err("'1' is version('')").contains("to compare against cannot be empty"));
        assert!(err("'1' is version('2', 'x')").contains("Invalid operator type (x)"));
        assert!(err("'1' is version('2', version_type='y')").contains("Invalid version type (y)"));
    }

    #[test]
    fn file_and_async_tests_like_ansible() {
        let t = crate::template::Templar::new();
        let ctx = crate::template::Context::new(&t, vec![]);
        let e = |x: &str| t.eval(x, &ctx).unwrap();
        let dir = std::env::temp_dir().join(format!("prov-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("dangling");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(dir.join("missing"), &link).unwrap();
        let vault = dir.join("vault");
        std::fs::write(&vault, "$ANSIBLE_VAULT;1.1;AES256\n3131\n").unwrap();
        let l = link.display();
        assert_eq!(e(&format!("'{l}' is link_exists")), Value::from(true));
        assert_eq!(e(&format!("'{l}' is exists")), Value::from(false));
        assert_eq!(e("'/' is mount and '/' is is_mount"), Value::from(true));
        assert_eq!(
            e(&format!("'{}' is mount", dir.display())),
            Value::from(false)
        );
        assert_eq!(e("'/' is same_file('/')"), Value::from(true));
        assert_eq!(e("'/' is same_file('/tmp/..')"), Value::from(true));
        assert_eq!(e("'/' is is_same_file('/proc')"), Value::from(false));
        assert!(t.eval("'/' is same_file('/does/not/exist')", &ctx).is_err());
        assert_eq!(
            e(&format!("'{}' is vaulted_file", vault.display())),
            Value::from(true)
        );
        std::fs::write(dir.join("plain"), "a: b\n").unwrap();
        let plain = format!("'{}/plain' is vaulted_file", dir.display());
        assert_eq!(e(&plain), Value::from(false));
        let missing = format!("'{}/none' is vaulted_file", dir.display());
        assert!(t.eval(&missing, &ctx).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(e("'nan' | float is isnan"), Value::from(true));
        assert_eq!(e("{'started': 0} is started"), Value::from(false));
        assert_eq!(e("{'changed': true} is started"), Value::from(true));
        assert!(t.eval("'x' is started", &ctx).is_err());
        assert!(t.eval("'x' is finished", &ctx).is_err());
        assert_eq!(
            e("{'timedout': {'period': 5}} is timedout"),
            Value::from(true)
        );
        assert_eq!(e("{'changed': true} is timedout"), Value::from(false));
    }

    #[test]
    fn reachability_of_a_result() {
        let t = crate::template::Templar::new();
        let ctx = crate::template::Context::new(&t, vec![]);
        let e = |x: &str| t.eval(x, &ctx).unwrap();
        assert_eq!(e("{'unreachable': true} is unreachable"), Value::from(true));
        assert_eq!(e("{'changed': true} is unreachable"), Value::from(false));
        assert_eq!(e("{'changed': true} is reachable"), Value::from(true));
        assert!(t.eval("'x' is unreachable", &ctx).is_err());
    }

    #[test]
    fn loose_versions() {
        let c = |a, b| version_cmp(a, b, "loose").unwrap();
        assert_eq!(c("1.10", "1.9"), Ordering::Greater);
        assert_eq!(c("2.0", "2.0"), Ordering::Equal);
        assert_eq!(c("1.2.3", "1.2"), Ordering::Greater);
        assert_eq!(c("1.0a1", "1.0"), Ordering::Greater);
        assert_eq!(semver_cmp("1.0.0-alpha", "1.0.0"), Some(Ordering::Less));
    }
}
