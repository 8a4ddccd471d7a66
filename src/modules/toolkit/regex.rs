//! Python-compatible regular expressions for the modules (`lineinfile`, `replace`, ...).

use crate::error::{Error, Result};
use regex::Regex;

/// Compiles a Python `re` pattern with Rust's regex crate (`\Z` is translated; lookaround and
/// backreferences are not available and give a clear error).
pub fn py_regex(pattern: &str, flags: &str) -> Result<Regex> {
    let p = pattern.replace(r"\Z", r"\z");
    let full = if flags.is_empty() {
        p
    } else {
        format!("(?{flags}){p}")
    };
    Regex::new(&full).map_err(|e| {
        Error::failed(format!("invalid regular expression '{pattern}': {e}")).hint(
            "prov uses Rust regex syntax, which is Python's without lookaround and backreferences",
        )
    })
}

/// Expands a Python replacement template (`\1`, `\g<1>`, `\g<name>`, `\n`, `\t`, `\\`) with
/// the captures of a match. Groups that did not participate expand to nothing.
pub fn py_expand(template: &str, caps: &regex::Captures<'_>) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(d) if d.is_ascii_digit() => {
                let mut n = String::new();
                while let Some(d) = chars.peek().copied().filter(|d| d.is_ascii_digit()) {
                    if n.len() == 2 {
                        break;
                    }
                    n.push(d);
                    chars.next();
                }
                let i: usize = n.parse().unwrap_or(0);
                out.push_str(caps.get(i).map(|m| m.as_str()).unwrap_or(""));
            }
            Some('g') => {
                chars.next();
                if chars.peek() == Some(&'<') {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                    let m = match name.parse::<usize>() {
                        Ok(i) => caps.get(i),
                        Err(_) => caps.name(&name),
                    };
                    out.push_str(m.map(|m| m.as_str()).unwrap_or(""));
                } else {
                    out.push_str("\\g");
                }
            }
            Some('n') => {
                chars.next();
                out.push('\n');
            }
            Some('t') => {
                chars.next();
                out.push('\t');
            }
            Some('r') => {
                chars.next();
                out.push('\r');
            }
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            _ => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_expand() {
        let re = py_regex(r"^(?P<k>\w+)=(\d+)$", "").unwrap();
        let caps = re.captures("port=22").unwrap();
        assert_eq!(py_expand(r"\1 is \2\n", &caps), "port is 22\n");
        assert_eq!(py_expand(r"\g<k>:\g<2>", &caps), "port:22");
        assert_eq!(py_expand(r"a\\b\q", &caps), r"a\b\q");
    }
}
