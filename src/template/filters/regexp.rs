//! Regular expressions: `regex_replace`, `regex_search`, `regex_findall`, `regex_escape`.

use super::python::py_str;
use super::{Args, R, ferr, split_kwargs};
use crate::util::pyregex::{Anchor, Flags, PyRegex};
use crate::value::Value;
use minijinja::value::Rest;

/// Registers this file's filters.
pub(super) fn register(env: &mut super::Reg) {
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", regex_escape);
}

/// Compiles a Python regular expression (flags as Python's `re.I`/`re.M`), anchored like
/// `re.search`, `re.match` or `re.fullmatch`.
pub fn py_regex(
    name: &str,
    pat: &str,
    ignorecase: bool,
    multiline: bool,
    anchor: Anchor,
) -> R<PyRegex> {
    let flags = Flags {
        ignorecase,
        multiline,
        ..Flags::default()
    };
    PyRegex::anchored(pat, flags, anchor)
        .map_err(|e| ferr(name, format!("invalid regular expression '{pat}': {e}")))
}

fn regex_replace(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "regex_replace",
        &[
            "pattern",
            "replacement",
            "ignorecase",
            "multiline",
            "count",
            "mandatory_count",
        ],
        &args,
    )?;
    let s = py_str(&v);
    let pat = a.str_or("pattern", "");
    let re = py_regex(
        "regex_replace",
        &pat,
        a.bool_or("ignorecase", false),
        a.bool_or("multiline", false),
        Anchor::Search,
    )?;
    let rep = a.str_or("replacement", "");
    let count = a.int_or("count", 0)?.max(0) as usize;
    let mandatory = a.int_or("mandatory_count", 0)?.max(0) as usize;
    let (out, subs) = re
        .sub(&s, &rep, count)
        .map_err(|e| ferr("regex_replace", e))?;
    if mandatory > 0 && mandatory != subs {
        return Err(ferr(
            "regex_replace",
            format!("'{pat}' should match {mandatory} times, but matches {subs} times in '{s}'"),
        ));
    }
    Ok(Value::from(out))
}

fn opt_str(g: Option<&str>) -> Value {
    g.map(Value::from).unwrap_or(Value::from(()))
}

/// A group argument of `regex_search`: `'\\g<name>'` (looked up by name, as Ansible does) or
/// `'\\N'`.
enum GroupArg {
    Name(String),
    Number(usize),
}

fn regex_search(v: Value, args: Rest<Value>) -> R {
    let (pos, kw) = split_kwargs(&args);
    let Some(pat) = pos.first() else {
        return Err(ferr("regex_search", "missing the regular expression"));
    };
    // Ansible reads these two keywords and ignores any other.
    let kw_true = |k: &str| kw.iter().any(|(n, x)| n == k && x.is_true());
    let re = py_regex(
        "regex_search",
        &py_str(pat),
        kw_true("ignorecase"),
        kw_true("multiline"),
        Anchor::Search,
    )?;
    let mut groups = Vec::new();
    for g in &pos[1..] {
        let g = py_str(g);
        if let Some(rest) = g.strip_prefix("\\g") {
            let name = rest
                .strip_prefix('<')
                .and_then(|r| r.split_once('>'))
                .map(|(n, _)| n)
                .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace));
            let Some(name) = name else {
                return Err(ferr(
                    "regex_search",
                    format!("invalid group argument '{g}'"),
                ));
            };
            groups.push(GroupArg::Name(name.to_string()));
        } else if let Some(rest) = g.strip_prefix('\\') {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let Ok(n) = digits.parse() else {
                return Err(ferr(
                    "regex_search",
                    format!("invalid group argument '{g}'"),
                ));
            };
            groups.push(GroupArg::Number(n));
        } else {
            return Err(ferr("regex_search", "Unknown argument"));
        }
    }
    let s = py_str(&v);
    let Some(m) = re.search(&s).map_err(|e| ferr("regex_search", e))? else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(opt_str(m[0]));
    }
    let mut out = Vec::new();
    for g in groups {
        let i = match &g {
            GroupArg::Number(i) if *i < m.len() => *i,
            GroupArg::Name(n) => match re.group_index(n) {
                Some(i) => i,
                None => return Err(ferr("regex_search", "no such group")),
            },
            GroupArg::Number(_) => return Err(ferr("regex_search", "no such group")),
        };
        out.push(opt_str(m[i]));
    }
    Ok(Value::from(out))
}

fn regex_findall(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "regex_findall",
        &["regex", "multiline", "ignorecase"],
        &args,
    )?;
    let re = py_regex(
        "regex_findall",
        &a.str_or("regex", ""),
        a.bool_or("ignorecase", false),
        a.bool_or("multiline", false),
        Anchor::Search,
    )?;
    let s = py_str(&v);
    let all = re.find_all(&s).map_err(|e| ferr("regex_findall", e))?;
    let text = |g: Option<&str>| Value::from(g.unwrap_or(""));
    let out: Vec<Value> = all
        .into_iter()
        .map(|m| match re.groups() {
            0 => text(m[0]),
            1 => text(m[1]),
            _ => Value::from(m[1..].iter().map(|g| text(*g)).collect::<Vec<_>>()),
        })
        .collect();
    Ok(Value::from(out))
}

fn regex_escape(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("regex_escape", &["re_type"], &args)?;
    let kind = a.str_or("re_type", "python");
    let s = py_str(&v);
    let mut out = String::new();
    match kind.as_str() {
        "python" => {
            for c in s.chars() {
                if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        "posix_basic" => {
            for c in s.chars() {
                if ".[]\\*^$".contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        "posix_extended" => {
            return Err(ferr(
                "regex_escape",
                "Regex type (posix_extended) not yet implemented",
            ));
        }
        other => {
            return Err(ferr(
                "regex_escape",
                format!("Invalid regex type ({other})"),
            ));
        }
    }
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(s: &str, pat: &str, rep: &str) -> String {
        let args = [Value::from(pat), Value::from(rep)];
        py_str(&regex_replace(Value::from(s), Rest(args.to_vec())).unwrap())
    }

    #[test]
    fn python_replacements_and_anchors() {
        assert_eq!(
            replace("k=v", r"(?P<name>\w)=(\w)", r"\2-\g<name>$"),
            "v-k$"
        );
        assert_eq!(replace("ab\nab", r"b\Z", "c"), "ab\nac");
        assert!(py_regex("regex_search", r"a\Z", false, false, Anchor::Search).is_ok());
    }
}
