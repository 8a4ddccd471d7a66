//! Paths (Python's `os.path`): `basename`, `dirname`, `expanduser`, `realpath`, `splitext`,
//! `path_join`, `commonpath`, `relpath`, `expandvars`; and `fileglob` (Python's `glob.glob`, regular files).

use super::python::{py_str, type_name};
use super::{Args, R, ferr, items};
use crate::value::Value;
use minijinja::value::{Rest, ValueKind};
use minijinja::{Error, ErrorKind};

/// Registers this file's filters.
pub(super) fn register(env: &mut super::Reg) {
    env.add_filter(
        "basename",
        path_filter("basename", |p| Value::from(basename(p))),
    );
    env.add_filter(
        "dirname",
        path_filter("dirname", |p| Value::from(dirname(p))),
    );
    env.add_filter(
        "expanduser",
        path_filter("expanduser", |p| Value::from(expanduser(p))),
    );
    env.add_filter(
        "realpath",
        path_filter("realpath", |p| Value::from(realpath(p))),
    );
    env.add_filter(
        "splitext",
        path_filter("splitext", |p| {
            let (a, b) = splitext(p);
            Value::from(vec![Value::from(a), Value::from(b)])
        }),
    );
    env.add_filter("path_join", path_join);
    env.add_filter("commonpath", commonpath);
    env.add_filter("relpath", relpath);
    env.add_filter("expandvars", expandvars);
    env.add_filter(
        "fileglob",
        path_filter("fileglob", |p| Value::from(fileglob(p))),
    );
}

/// Ansible's `fileglob` filter: the regular files matching a pattern on the controller, like
/// Python's `glob.glob` (`*` does not match a leading dot); an invalid pattern matches nothing.
fn fileglob(pattern: &str) -> Vec<String> {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    match glob::glob_with(pattern, opts) {
        Ok(paths) => paths
            .flatten()
            .filter(|p| p.is_file())
            .map(|p| p.to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Python's `os.path.basename`.
pub fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Python's `os.path.dirname`.
pub fn dirname(p: &str) -> String {
    match p.rfind('/') {
        None => String::new(),
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_string()
            } else {
                trimmed.to_string()
            }
        }
    }
}

fn expanduser(p: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    if p == "~" {
        home
    } else if let Some(rest) = p.strip_prefix("~/") {
        format!("{}/{rest}", home.trim_end_matches('/'))
    } else {
        p.to_string()
    }
}

/// Python's `os.path.normpath` of an absolute or relative path.
pub(crate) fn normpath(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if abs {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

fn realpath(p: &str) -> String {
    match std::fs::canonicalize(p) {
        Ok(c) => c.to_string_lossy().into_owned(),
        Err(_) => {
            let abs = if p.starts_with('/') {
                p.to_string()
            } else {
                let cwd = std::env::current_dir().unwrap_or_default();
                format!("{}/{p}", cwd.display())
            };
            normpath(&abs)
        }
    }
}

fn splitext(p: &str) -> (String, String) {
    let base = basename(p);
    let stem = base.trim_start_matches('.');
    match stem.rfind('.') {
        Some(i) => {
            let cut = p.len() - (stem.len() - i);
            (p[..cut].to_string(), p[cut..].to_string())
        }
        None => (p.to_string(), String::new()),
    }
}

fn path_filter(
    name: &'static str,
    f: fn(&str) -> Value,
) -> impl Fn(Value) -> R + Send + Sync + 'static {
    move |v: Value| {
        if v.is_undefined() {
            return Err(Error::from(ErrorKind::UndefinedError));
        }
        if v.kind() != ValueKind::String {
            return Err(ferr(
                name,
                format!("expected a path string, got {}", type_name(&v)),
            ));
        }
        Ok(f(v.as_str().unwrap_or_default()))
    }
}

fn path_join(v: Value) -> R {
    let parts: Vec<String> = match v.kind() {
        ValueKind::String => return Ok(v),
        ValueKind::Seq => items("path_join", &v)?.iter().map(py_str).collect(),
        _ => {
            return Err(ferr(
                "path_join",
                format!(
                    "|path_join expects string or sequence, got <class '{}'> instead.",
                    crate::util::python::type_name(&v)
                ),
            ));
        }
    };
    let mut out = String::new();
    for p in parts {
        if p.starts_with('/') {
            out = p;
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(&p);
        } else {
            out.push('/');
            out.push_str(&p);
        }
    }
    Ok(Value::from(out))
}

/// Ansible's `commonpath`: Python's `os.path.commonpath` of a list of paths.
fn commonpath(v: Value) -> R {
    if v.kind() != ValueKind::Seq {
        return Err(ferr(
            "commonpath",
            format!(
                "|commonpath expects sequence, got <class '{}'> instead.",
                crate::util::python::type_name(&v)
            ),
        ));
    }
    let paths: Vec<String> = items("commonpath", &v)?.iter().map(py_str).collect();
    let Some(first) = paths.first() else {
        return Err(ferr("commonpath", "commonpath() arg is an empty sequence"));
    };
    let absolute = first.starts_with('/');
    if paths.iter().any(|p| p.starts_with('/') != absolute) {
        return Err(ferr("commonpath", "Can't mix absolute and relative paths"));
    }
    let parts = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_string)
            .collect()
    };
    let mut common = parts(first);
    for p in &paths[1..] {
        let other = parts(p);
        let n = common
            .iter()
            .zip(&other)
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(n);
    }
    let joined = common.join("/");
    Ok(Value::from(if absolute {
        format!("/{joined}")
    } else {
        joined
    }))
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
    fn os_path_semantics() {
        assert_eq!(basename("/a/b/"), "");
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("/a"), "/");
        assert_eq!(dirname("a"), "");
        assert_eq!(splitext("/x/a.tar.gz"), ("/x/a.tar".into(), ".gz".into()));
        assert_eq!(splitext("/x/.bashrc"), ("/x/.bashrc".into(), "".into()));
        assert_eq!(normpath("/a/./b/../c"), "/a/c");
        assert_eq!(normpath("/a/./b/../c/"), "/a/c");
        assert_eq!(normpath("a/../../b"), "../b");
        assert_eq!(normpath(""), ".");
    }
}

#[cfg(test)]
mod fileglob_unit {
    #[test]
    fn fileglob_matches_regular_files_like_python() {
        let dir = std::env::temp_dir().join(format!("prov-fileglob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for f in ["a.txt", "b.txt", ".hidden.txt"] {
            std::fs::write(dir.join(f), "x").unwrap();
        }
        let got = super::fileglob(&format!("{}/*", dir.display()));
        let names: Vec<&str> = got.iter().map(|p| super::basename(p)).collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
