//! Regular expressions: `regex_replace`, `regex_search`, `regex_findall`, `regex_escape`.

use super::python::py_str;
use super::{Args, R, ferr, split_kwargs};
use crate::util::pyregex;
use crate::value::Value;
use minijinja::Environment;
use minijinja::value::Rest;

/// Registers this file's filters.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", regex_escape);
}

/// Compiles a Python regular expression (flags as Python's `re.I`/`re.M`).
pub fn py_regex(name: &str, pat: &str, ignorecase: bool, multiline: bool) -> R<regex::Regex> {
    pyregex::build(pat, ignorecase, multiline).map_err(|e| {
        let m = e.to_string();
        let hint = if m.contains("look-around") || m.contains("backreferences") {
            " (look-around and backreferences are not supported)"
        } else {
            ""
        };
        ferr(
            name,
            format!(
                "invalid regular expression '{pat}'{hint}: {}",
                m.lines().last().unwrap_or(&m)
            ),
        )
    })
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
    let re = py_regex(
        "regex_replace",
        &a.str_or("pattern", ""),
        a.bool_or("ignorecase", false),
        a.bool_or("multiline", false),
    )?;
    let rep = a.str_or("replacement", "");
    let count = a.int_or("count", 0)?.max(0) as usize;
    let mandatory = a.int_or("mandatory_count", 0)?.max(0) as usize;
    if mandatory > 0 {
        let found = re.find_iter(&s).count();
        if found != mandatory {
            return Err(ferr(
                "regex_replace",
                format!("'{}' matched {found} times, not {mandatory}", re.as_str()),
            ));
        }
    }
    Ok(Value::from(
        re.replacen(&s, count, |c: &regex::Captures<'_>| {
            pyregex::expand(&rep, c)
        })
        .into_owned(),
    ))
}

fn group_value(c: &regex::Captures<'_>, i: usize) -> Value {
    c.get(i)
        .map(|m| Value::from(m.as_str()))
        .unwrap_or(Value::from(()))
}

fn regex_search(v: Value, args: Rest<Value>) -> R {
    let (pos, kw) = split_kwargs(&args);
    let Some(pat) = pos.first() else {
        return Err(ferr("regex_search", "missing the regular expression"));
    };
    let mut ic = false;
    let mut ml = false;
    for (k, x) in kw {
        match k.as_str() {
            "ignorecase" => ic = x.is_true(),
            "multiline" => ml = x.is_true(),
            other => {
                return Err(ferr(
                    "regex_search",
                    format!("unexpected keyword argument '{other}'"),
                ));
            }
        }
    }
    let re = py_regex("regex_search", &py_str(pat), ic, ml)?;
    enum G {
        N(usize),
        Name(String),
    }
    let mut groups = Vec::new();
    for g in &pos[1..] {
        let g = py_str(g);
        if let Some(n) = g.strip_prefix("\\g<").and_then(|x| x.strip_suffix('>')) {
            groups.push(match n.parse() {
                Ok(i) => G::N(i),
                Err(_) => G::Name(n.to_string()),
            });
        } else if let Some(Ok(i)) = g.strip_prefix('\\').map(str::parse::<usize>) {
            groups.push(G::N(i));
        } else {
            return Err(ferr(
                "regex_search",
                format!("unknown argument '{g}' (use '\\1' or '\\g<name>')"),
            ));
        }
    }
    let s = py_str(&v);
    let Some(c) = re.captures(&s) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(group_value(&c, 0));
    }
    let mut out = Vec::new();
    for g in groups {
        out.push(match g {
            G::N(i) => {
                if i >= c.len() {
                    return Err(ferr("regex_search", format!("no such group {i}")));
                }
                group_value(&c, i)
            }
            G::Name(n) => match c.name(&n) {
                Some(m) => Value::from(m.as_str()),
                None if re.capture_names().flatten().any(|x| x == n) => Value::from(()),
                None => return Err(ferr("regex_search", format!("no such group '{n}'"))),
            },
        });
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
    )?;
    let s = py_str(&v);
    let ngroups = re.captures_len() - 1;
    let out: Vec<Value> = re
        .captures_iter(&s)
        .map(|c| match ngroups {
            0 => group_value(&c, 0),
            1 => Value::from(c.get(1).map(|m| m.as_str()).unwrap_or("")),
            n => Value::from(
                (1..=n)
                    .map(|i| Value::from(c.get(i).map(|m| m.as_str()).unwrap_or("")))
                    .collect::<Vec<_>>(),
            ),
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
        other => {
            return Err(ferr(
                "regex_escape",
                format!("unsupported re_type '{other}'"),
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
        assert!(py_regex("regex_search", r"a\Z", false, false).is_ok());
    }
}
