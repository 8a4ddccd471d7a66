//! Python `re` on the `regex` crate: the one place that translates Python's pattern syntax and
//! expands Python's replacement templates, for the template filters and tests
//! (`regex_replace`, `is match`, ...) and the modules (`lineinfile`, `replace`, ...).
//!
//! Patterns: Python's `\Z` (end of text only) becomes the crate's `\z`; everything else is
//! taken as it is (the syntaxes agree on what both support; look-around and backreferences do
//! not compile, and callers say so).

use regex::{Captures, Regex, RegexBuilder};
use std::borrow::Cow;

/// A Python pattern in the `regex` crate's syntax. Escapes are read pairwise, so `\\Z` (an
/// escaped backslash, then `Z`) stays as it is.
pub fn translate(pattern: &str) -> Cow<'_, str> {
    if !pattern.contains(r"\Z") {
        return Cow::Borrowed(pattern);
    }
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Z') => out.push_str(r"\z"),
            Some(n) => {
                out.push('\\');
                out.push(n);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// Compiles a Python pattern with Python's `re.I` and `re.M` flags.
pub fn build(pattern: &str, ignorecase: bool, multiline: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&translate(pattern))
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
}

/// Expands a Python replacement template (`\1`, `\g<1>`, `\g<name>`, `\n`, `\t`, `\\`) with
/// the captures of a match. Groups that did not participate expand to nothing.
pub fn expand(template: &str, caps: &Captures<'_>) -> String {
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
    fn end_of_text_anchor() {
        assert_eq!(translate(r"a\Z"), r"a\z");
        assert_eq!(translate(r"a\\Z"), r"a\\Z");
        assert_eq!(translate(r"\\\Z\d"), r"\\\z\d");
        assert!(matches!(translate(r"plain$"), Cow::Borrowed(_)));
        let re = build(r"b\Z", false, false).unwrap();
        assert!(re.is_match("ab"));
        assert!(!re.is_match("ab\n"));
        assert!(build(r"^B$", true, true).unwrap().is_match("a\nb\n"));
    }

    #[test]
    fn python_expand() {
        let re = build(r"^(?P<k>\w+)=(\d+)$", false, false).unwrap();
        let caps = re.captures("port=22").unwrap();
        assert_eq!(expand(r"\1 is \2\n", &caps), "port is 22\n");
        assert_eq!(expand(r"\g<k>:\g<2>", &caps), "port:22");
        assert_eq!(expand(r"a\\b\q$1", &caps), r"a\b\q$1");
        assert_eq!(expand(r"\9|\g<nope>|\g", &caps), r"||\g");
    }
}
