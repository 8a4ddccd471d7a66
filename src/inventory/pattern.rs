//! Host patterns, evaluated the way Ansible's `InventoryManager.get_hosts` does.
//!
//! A pattern is split on `,` (or, with no comma, on `:` outside `[...]`) into terms. Terms
//! starting with `&` intersect, terms starting with `!` exclude, the rest are unions; all unions
//! are applied first, then intersections, then exclusions (with only `&`/`!` terms, `all` is the
//! starting set). A term is a group or host name, a glob (`web*`, `*.example.com`, `db[0-9]`), or a
//! regex after `~` (anchored at the start, like Python's `re.match`), optionally followed by a
//! subscript: `[0]`, `[-1]`, `[1:]`, `[:2]`, `[1:3]` (ranges are inclusive, as in Ansible).
//! Groups are matched first; hosts are matched when no group matched or the term is a glob or
//! regex. `localhost` (also `127.0.0.1`, `::1`) matches the implicit localhost when the inventory
//! does not define it.

use super::Inventory;
use crate::error::{Error, Result, did_you_mean};
use regex::Regex;
use std::collections::HashSet;
use std::sync::LazyLock;

/// Names that select the implicit localhost when the inventory does not define them.
pub(crate) const LOCALHOST: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Subscript {
    Index(i64),
    Range(usize, i64),
}

/// Splits a pattern into terms like Ansible's `split_host_pattern`.
pub(crate) fn split_pattern(pattern: &str) -> Vec<String> {
    let pieces: Vec<&str> = if pattern.contains(',') {
        pattern.split(',').collect()
    } else {
        vec![pattern]
    };
    static WORD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").expect("static regex"));
    let word = &*WORD;
    let mut out = Vec::new();
    for piece in pieces {
        let p = piece.trim();
        if p.is_empty() {
            continue;
        }
        if is_address(p) {
            out.push(p.to_string());
        } else {
            out.extend(word.find_iter(p).map(|m| m.as_str().trim().to_string()));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// An IPv6 address (bare or bracketed) contains colons that do not separate terms.
fn is_address(p: &str) -> bool {
    let inner = p
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|(a, _)| a)
        .unwrap_or(p);
    inner.matches(':').count() >= 2
        && inner
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.' || c == '%')
}

fn split_subscript(term: &str) -> (String, Option<Subscript>) {
    if term.starts_with('~') || !term.ends_with(']') {
        return (term.to_string(), None);
    }
    let Some(open) = term.rfind('[') else {
        return (term.to_string(), None);
    };
    let base = &term[..open];
    let inner = &term[open + 1..term.len() - 1];
    if base.is_empty() {
        return (term.to_string(), None);
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let body = inner.strip_prefix('-').unwrap_or(inner);
    if digits(body) {
        if let Ok(i) = inner.parse::<i64>() {
            return (base.to_string(), Some(Subscript::Index(i)));
        }
        return (term.to_string(), None);
    }
    let range = inner
        .split_once(':')
        .filter(|(a, b)| (a.is_empty() || digits(a)) && (b.is_empty() || digits(b)))
        .or_else(|| {
            inner
                .split_once('-')
                .filter(|(a, b)| digits(a) && (b.is_empty() || digits(b)))
        });
    if let Some((a, b)) = range {
        let start = if a.is_empty() {
            Some(0)
        } else {
            a.parse::<usize>().ok()
        };
        let end = if b.is_empty() {
            Some(-1)
        } else {
            b.parse::<i64>().ok()
        };
        if let (Some(s), Some(e)) = (start, end) {
            return (base.to_string(), Some(Subscript::Range(s, e)));
        }
    }
    (term.to_string(), None)
}

fn apply_subscript(hosts: Vec<String>, sub: Option<Subscript>, term: &str) -> Result<Vec<String>> {
    let len = hosts.len() as i64;
    let out_of_range = || {
        Error::inventory(format!("no hosts matched the subscripted pattern `{term}`"))
            .hint(format!(
                "the pattern before the subscript matches {len} host(s); indexes start at 0 (and -1 is the last)"
            ))
    };
    let single = |i: i64| -> Result<Vec<String>> {
        let idx = if i < 0 { len + i } else { i };
        if idx < 0 || idx >= len {
            return Err(out_of_range());
        }
        Ok(vec![hosts[idx as usize].clone()])
    };
    match sub {
        None => Ok(hosts),
        Some(Subscript::Index(i)) => single(i),
        // Ansible treats an end of 0 like no end: a single host.
        Some(Subscript::Range(s, 0)) => single(s as i64),
        Some(Subscript::Range(s, e)) => {
            let end = if e == -1 { len } else { (e + 1).min(len) };
            let start = (s as i64).min(len);
            if start >= end {
                return Ok(vec![]);
            }
            Ok(hosts[start as usize..end as usize].to_vec())
        }
    }
}

/// Translates a shell glob (Python's `fnmatch`) into an anchored regex.
pub(crate) fn glob_to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::from("^(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                    continue;
                }
                let mut body: &[char] = &chars[i..j];
                i = j + 1;
                out.push('[');
                if body.first() == Some(&'!') {
                    out.push('^');
                    body = &body[1..];
                }
                for (k, ch) in body.iter().enumerate() {
                    let is_range_dash = *ch == '-' && k > 0 && k + 1 < body.len();
                    if is_range_dash {
                        out.push('-');
                    } else if ch.is_ascii_alphanumeric() || !ch.is_ascii() {
                        out.push(*ch);
                    } else {
                        out.push('\\');
                        out.push(*ch);
                    }
                }
                out.push(']');
            }
            _ => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str(")$");
    out
}

fn compile(expr: &str, full: &str) -> Result<Regex> {
    let (src, is_re) = match expr.strip_prefix('~') {
        Some(re) => (format!("^(?:{re})"), true),
        None => (glob_to_regex(expr), false),
    };
    Regex::new(&src).map_err(|e| {
        let what = if is_re { "regular expression" } else { "glob" };
        Error::inventory(format!("invalid host pattern `{full}`: bad {what}: {e}")).hint(
            "a pattern is a name, a glob like `web*`, or `~` followed by a regular expression",
        )
    })
}

fn has_glob_chars(expr: &str) -> bool {
    expr.starts_with('~') || expr.contains(['.', '?', '*', '['])
}

impl Inventory {
    /// The hosts one term matches, before subscripting (may contain duplicates).
    fn enumerate(&self, expr: &str, full: &str) -> Result<Vec<String>> {
        let re = compile(expr, full)?;
        let mut results = Vec::new();
        let mut matched_group = false;
        for name in self.groups.keys() {
            if re.is_match(name) {
                matched_group = true;
                results.extend(self.group_hosts(name).iter().cloned());
            }
        }
        if !matched_group || has_glob_chars(expr) {
            for name in self.hosts.keys() {
                if re.is_match(name) {
                    results.push(name.clone());
                }
            }
        }
        if results.is_empty() && self.is_implicit_localhost(expr) {
            results.push(expr.to_string());
        }
        Ok(results)
    }

    fn match_term(&self, term: &str) -> Result<Vec<String>> {
        let bare = term.strip_prefix(['&', '!']).unwrap_or(term);
        if bare.is_empty() {
            return Err(
                Error::inventory(format!("empty term `{term}` in host pattern"))
                    .hint("`&` and `!` must be followed by a group or host name"),
            );
        }
        let (expr, sub) = split_subscript(bare);
        let hosts = self.enumerate(&expr, bare)?;
        apply_subscript(hosts, sub, bare)
    }

    pub(crate) fn select_pattern(&self, pattern: &str) -> Result<Vec<String>> {
        // An empty pattern (``, `,`, `,,`) has no regular term: it means `all`, as in Ansible.
        let terms = split_pattern(pattern);
        let mut regular: Vec<&str> = Vec::new();
        let mut inter: Vec<&str> = Vec::new();
        let mut excl: Vec<&str> = Vec::new();
        for t in &terms {
            match t.as_bytes()[0] {
                b'!' => excl.push(t),
                b'&' => inter.push(t),
                _ => regular.push(t),
            }
        }
        if regular.is_empty() {
            regular.push("all");
        }
        let mut hosts: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for t in regular {
            if self.hosts.contains_key(t) {
                if seen.insert(t.to_string()) {
                    hosts.push(t.to_string());
                }
                continue;
            }
            for h in self.match_term(t)? {
                if seen.insert(h.clone()) {
                    hosts.push(h);
                }
            }
        }
        for t in inter {
            let that: HashSet<String> = self.match_term(t)?.into_iter().collect();
            hosts.retain(|h| that.contains(h));
        }
        for t in excl {
            let that: HashSet<String> = self.match_term(t)?.into_iter().collect();
            hosts.retain(|h| !that.contains(h));
        }
        Ok(hosts)
    }

    /// Keeps the `hosts` that `--limit` allows. A limit with no term at all (``, `,`, `,,`)
    /// limits nothing, as in Ansible.
    pub fn limit(&self, hosts: &mut Vec<String>, limit: &str) -> Result<()> {
        if split_pattern(limit).is_empty() {
            return Ok(());
        }
        let allowed: HashSet<String> = self.select_pattern(limit)?.into_iter().collect();
        hosts.retain(|h| allowed.contains(h));
        Ok(())
    }

    /// A "did you mean" suggestion for a pattern that matched nothing (a close group or host name).
    pub fn suggest(&self, pattern: &str) -> Option<String> {
        let names = self
            .groups
            .keys()
            .chain(self.hosts.keys())
            .map(|s| s.as_str());
        did_you_mean(pattern, names).map(|s| s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_like_ansible() {
        assert_eq!(split_pattern("web:db"), ["web", "db"]);
        assert_eq!(split_pattern("web:&prod:!db1"), ["web", "&prod", "!db1"]);
        assert_eq!(split_pattern("web, db ,"), ["web", "db"]);
        assert_eq!(split_pattern("web[1:3]:db"), ["web[1:3]", "db"]);
        assert_eq!(split_pattern("fe80::1"), ["fe80::1"]);
        assert_eq!(split_pattern("a:b,c"), ["a", "b", "c"]);
    }

    #[test]
    fn subscripts() {
        assert_eq!(
            split_subscript("web[0]"),
            ("web".into(), Some(Subscript::Index(0)))
        );
        assert_eq!(
            split_subscript("web[-1]"),
            ("web".into(), Some(Subscript::Index(-1)))
        );
        assert_eq!(
            split_subscript("web[1:]"),
            ("web".into(), Some(Subscript::Range(1, -1)))
        );
        assert_eq!(
            split_subscript("web[:2]"),
            ("web".into(), Some(Subscript::Range(0, 2)))
        );
        assert_eq!(split_subscript("web[a-c]"), ("web[a-c]".into(), None));
        assert_eq!(split_subscript("~web[0]"), ("~web[0]".into(), None));
        let h: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let r = |s| apply_subscript(h.clone(), Some(s), "t").unwrap();
        assert_eq!(r(Subscript::Index(-1)), ["d"]);
        assert_eq!(r(Subscript::Range(1, 2)), ["b", "c"]);
        assert_eq!(r(Subscript::Range(2, -1)), ["c", "d"]);
        assert_eq!(r(Subscript::Range(0, 10)), ["a", "b", "c", "d"]);
        assert!(apply_subscript(h.clone(), Some(Subscript::Index(4)), "t").is_err());
        assert!(apply_subscript(h, Some(Subscript::Index(-5)), "t").is_err());
    }

    #[test]
    fn globs() {
        let m = |g: &str, s: &str| Regex::new(&glob_to_regex(g)).unwrap().is_match(s);
        assert!(m("web*", "web1"));
        assert!(!m("web*", "xweb1"));
        assert!(m("*.example.com", "a.example.com"));
        assert!(!m("*.example.com", "aexample.com"));
        assert!(m("db[0-9]", "db5"));
        assert!(!m("db[!0-9]", "db5"));
        assert!(m("a?c", "abc"));
        assert!(m("a[&&]", "a&"));
        assert!(m("x[", "x["));
    }
}
