//! Python `re` pattern syntax to `fancy-regex` syntax.
//!
//! The two agree on most of the syntax (groups, `(?P<name>...)`, `(?P=name)`, look-around,
//! backreferences, atomic groups, quantifiers); this pass rewrites where they differ:
//! - anchors: Python's `\Z` is the end of the text (`\z`); `$` without `re.M` also matches
//!   before a final newline (`(?=\n?\z)`);
//! - escapes: Python's octal (`\0`, `\101`), `\uXXXX`, `\UXXXXXXXX`, `\N{NAME}`, and in a class
//!   `\b` (backspace) and digits (octal); an escaped ASCII letter Python does not know is an
//!   error, other escaped characters are literal (`\<` is `<`, not a word boundary);
//! - a `{` that does not start a valid `{m,n}` is literal; `{,n}` is `{0,n}`;
//! - in a class, `[`, `&&`, `--`, `~~` are literal (no nested classes or set operations);
//! - inline flags: global `(?imsx)` at the start are taken out and returned; `(?x)` (verbose)
//!   whitespace and `#` comments are dropped here; `(?#...)` comments are dropped; `(?a)` makes
//!   `\w`, `\d`, `\s` ASCII.

use std::fmt::Write as _;

/// Python's `re` flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `re.I`
    pub ignorecase: bool,
    /// `re.M`
    pub multiline: bool,
    /// `re.S`
    pub dotall: bool,
    /// `re.X`
    pub verbose: bool,
    /// `re.A`
    pub ascii: bool,
}

/// A translated pattern: the body in fancy-regex syntax and the flags (the caller's and the
/// pattern's global inline flags).
#[derive(Debug)]
pub(super) struct Translated {
    pub body: String,
    pub flags: Flags,
    /// Number of capture groups.
    pub groups: usize,
    /// Named groups and their numbers.
    pub names: Vec<(String, usize)>,
}

struct Tx {
    chars: Vec<char>,
    i: usize,
    out: String,
    flags: Flags,
    groups: usize,
    names: Vec<(String, usize)>,
}

fn is_octal(c: Option<char>) -> bool {
    matches!(c, Some('0'..='7'))
}

/// A literal character in fancy-regex syntax (inside or outside a class).
fn push_lit(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || c == '_' || (!c.is_ascii() && !c.is_whitespace()) {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:x}}}", c as u32);
    }
}

/// Translates a Python pattern with the caller's flags.
pub(super) fn translate(pattern: &str, flags: Flags) -> Result<Translated, String> {
    let mut tx = Tx {
        chars: pattern.chars().collect(),
        i: 0,
        out: String::with_capacity(pattern.len() + 8),
        flags,
        groups: 0,
        names: Vec::new(),
    };
    tx.global_flags()?;
    tx.run()?;
    Ok(Translated {
        body: tx.out,
        flags: tx.flags,
        groups: tx.groups,
        names: tx.names,
    })
}

impl Tx {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn err(&self, msg: impl std::fmt::Display, at: usize) -> String {
        format!("{msg} at position {at}")
    }

    /// Leading `(?aiLmsux)` groups (Python only allows global flags at the start).
    fn global_flags(&mut self) -> Result<(), String> {
        while self.peek(0) == Some('(') && self.peek(1) == Some('?') {
            let mut j = self.i + 2;
            let mut f = self.flags;
            while let Some(&c) = self.chars.get(j) {
                match c {
                    'i' => f.ignorecase = true,
                    'm' => f.multiline = true,
                    's' => f.dotall = true,
                    'x' => f.verbose = true,
                    'a' => f.ascii = true,
                    'u' | 'L' => {}
                    _ => break,
                }
                j += 1;
            }
            if j == self.i + 2 || self.chars.get(j) != Some(&')') {
                return Ok(());
            }
            self.flags = f;
            self.i = j + 1;
        }
        Ok(())
    }

    fn run(&mut self) -> Result<(), String> {
        while let Some(c) = self.peek(0) {
            let at = self.i;
            self.i += 1;
            match c {
                '\\' => self.escape(at, false)?,
                '[' => self.class(at)?,
                '{' => self.brace(),
                '}' => self.out.push_str("\\}"),
                '$' if !self.flags.multiline => self.out.push_str(r"(?=\n?\z)"),
                '(' => self.group(at)?,
                '#' if self.flags.verbose => {
                    while let Some(c) = self.peek(0) {
                        self.i += 1;
                        if c == '\n' {
                            break;
                        }
                    }
                }
                c if self.flags.verbose && c.is_whitespace() => {}
                _ => self.out.push(c),
            }
        }
        Ok(())
    }

    /// After `(`: groups, extensions and comments.
    fn group(&mut self, at: usize) -> Result<(), String> {
        if self.peek(0) != Some('?') {
            self.groups += 1;
            self.out.push('(');
            return Ok(());
        }
        match (self.peek(1), self.peek(2)) {
            (Some('#'), _) => {
                while let Some(c) = self.peek(0) {
                    self.i += 1;
                    if c == ')' {
                        return Ok(());
                    }
                }
                Err(self.err("missing ), unterminated comment", at))
            }
            (Some('P'), Some('<')) => {
                let start = self.i + 3;
                let Some(len) = self.chars[start..].iter().position(|c| *c == '>') else {
                    return Err(self.err("missing >, unterminated name", start));
                };
                let name: String = self.chars[start..start + len].iter().collect();
                if !is_identifier(&name) {
                    return Err(self.err(format!("bad character in group name '{name}'"), start));
                }
                if self.names.iter().any(|(n, _)| *n == name) {
                    return Err(self.err(
                        format!(
                            "redefinition of group name '{name}' as group {}",
                            self.groups + 1
                        ),
                        start,
                    ));
                }
                self.groups += 1;
                self.names.push((name.clone(), self.groups));
                let _ = write!(self.out, "(?P<{name}>");
                self.i = start + len + 1;
                Ok(())
            }
            (Some('P'), Some('=')) => {
                let start = self.i + 3;
                let Some(len) = self.chars[start..].iter().position(|c| *c == ')') else {
                    return Err(self.err("missing ), unterminated name", start));
                };
                let name: String = self.chars[start..start + len].iter().collect();
                if !self.names.iter().any(|(n, _)| *n == name) {
                    return Err(self.err(format!("unknown group name '{name}'"), start));
                }
                let _ = write!(self.out, "\\k<{name}>");
                self.i = start + len + 1;
                Ok(())
            }
            _ => {
                // Look-around, non-capturing, atomic, conditional, scoped flags: the same
                // syntax in both. Global flags after the start are an error in Python.
                let mut j = self.i + 1;
                while matches!(
                    self.chars.get(j),
                    Some('i' | 'm' | 's' | 'x' | 'a' | 'u' | 'L')
                ) {
                    j += 1;
                }
                if j > self.i + 1 && self.chars.get(j) == Some(&')') {
                    return Err(self.err("global flags not at the start of the expression", at));
                }
                self.out.push('(');
                Ok(())
            }
        }
    }

    /// After `{`: a repeat `{m}`, `{m,}`, `{,n}`, `{m,n}` or a literal brace.
    fn brace(&mut self) {
        let rest: String = self.chars[self.i..].iter().take(40).collect();
        let Some(end) = rest.find('}') else {
            self.out.push_str("\\{");
            return;
        };
        let inner = &rest[..end];
        let (lo, hi) = match inner.split_once(',') {
            Some((lo, hi)) => (lo, Some(hi)),
            None => (inner, None),
        };
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        let valid = digits(lo) && hi.is_none_or(digits) && !(lo.is_empty() && hi.is_none());
        if !valid {
            self.out.push_str("\\{");
            return;
        }
        let lo = if lo.is_empty() { "0" } else { lo };
        match hi {
            Some(h) => {
                let _ = write!(self.out, "{{{lo},{h}}}");
            }
            None => {
                let _ = write!(self.out, "{{{lo}}}");
            }
        }
        self.i += inner.chars().count() + 1;
    }

    /// A character class, from after `[` to its `]`.
    fn class(&mut self, at: usize) -> Result<(), String> {
        self.out.push('[');
        if self.peek(0) == Some('^') {
            self.i += 1;
            self.out.push('^');
        }
        let mut first = true;
        let mut prev_dash = false;
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.err("unterminated character set", at));
            };
            let pos = self.i;
            self.i += 1;
            let dash = c == '-';
            match c {
                ']' if !first => {
                    self.out.push(']');
                    return Ok(());
                }
                '\\' => self.escape(pos, true)?,
                '[' | ']' | '&' | '~' | '^' => {
                    self.out.push('\\');
                    self.out.push(c);
                }
                '-' if prev_dash => self.out.push_str("\\-"),
                _ => self.out.push(c),
            }
            prev_dash = dash;
            first = false;
        }
    }

    /// After a backslash at `at`.
    fn escape(&mut self, at: usize, in_class: bool) -> Result<(), String> {
        let Some(c) = self.peek(0) else {
            return Err(self.err("bad escape (end of pattern)", at));
        };
        self.i += 1;
        let ascii = self.flags.ascii;
        match c {
            'd' if ascii => self.out.push_str(if in_class { "0-9" } else { "[0-9]" }),
            'w' if ascii => self.out.push_str(if in_class {
                "0-9A-Za-z_"
            } else {
                "[0-9A-Za-z_]"
            }),
            's' if ascii => self.out.push_str(if in_class {
                r"\t\n\x0B\x0C\r "
            } else {
                r"[\t\n\x0B\x0C\r ]"
            }),
            'D' if ascii && !in_class => self.out.push_str("[^0-9]"),
            'W' if ascii && !in_class => self.out.push_str("[^0-9A-Za-z_]"),
            'S' if ascii && !in_class => self.out.push_str(r"[^\t\n\x0B\x0C\r ]"),
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                self.out.push('\\');
                self.out.push(c);
            }
            'A' | 'b' | 'B' if !in_class => {
                self.out.push('\\');
                self.out.push(c);
            }
            'Z' if !in_class => self.out.push_str(r"\z"),
            'b' => push_lit(&mut self.out, '\u{8}'),
            'a' => push_lit(&mut self.out, '\u{7}'),
            'f' => push_lit(&mut self.out, '\u{c}'),
            'n' => push_lit(&mut self.out, '\n'),
            'r' => push_lit(&mut self.out, '\r'),
            't' => push_lit(&mut self.out, '\t'),
            'v' => push_lit(&mut self.out, '\u{b}'),
            'x' | 'u' | 'U' => {
                let n = match c {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = self.chars[self.i..].iter().take(n).collect();
                if hex.chars().count() != n || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                    return Err(self.err(format!("incomplete escape \\{c}{hex}"), at));
                }
                self.i += n;
                let v = u32::from_str_radix(&hex, 16).unwrap_or(0);
                let Some(ch) = char::from_u32(v) else {
                    return Err(self.err(format!("bad escape \\{c}{hex}"), at));
                };
                push_lit(&mut self.out, ch);
            }
            'N' => {
                let rest: String = self.chars[self.i..].iter().collect();
                let name = rest
                    .strip_prefix('{')
                    .and_then(|r| r.split_once('}'))
                    .map(|(n, _)| n.to_string());
                let Some(name) = name else {
                    return Err(self.err("missing {", at));
                };
                let Some(ch) = unicode_names2::character(&name) else {
                    return Err(self.err(format!("undefined character name '{name}'"), at));
                };
                self.i += name.chars().count() + 2;
                push_lit(&mut self.out, ch);
            }
            '0' => {
                let mut v = 0;
                for _ in 0..2 {
                    if !is_octal(self.peek(0)) {
                        break;
                    }
                    v = v * 8 + self.peek(0).and_then(|d| d.to_digit(8)).unwrap_or(0);
                    self.i += 1;
                }
                push_lit(&mut self.out, char::from_u32(v).unwrap_or('\0'));
            }
            '1'..='9' => {
                let d1 = c;
                if in_class
                    || (is_octal(Some(d1)) && is_octal(self.peek(0)) && is_octal(self.peek(1)))
                {
                    if !is_octal(Some(d1)) {
                        return Err(self.err(format!("bad escape \\{d1}"), at));
                    }
                    let mut v = d1.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        if !is_octal(self.peek(0)) {
                            break;
                        }
                        v = v * 8 + self.peek(0).and_then(|d| d.to_digit(8)).unwrap_or(0);
                        self.i += 1;
                    }
                    if v > 0o377 {
                        return Err(self.err(
                            format!("octal escape value \\{:o} outside of range 0-0o377", v),
                            at,
                        ));
                    }
                    push_lit(&mut self.out, char::from_u32(v).unwrap_or('\0'));
                    return Ok(());
                }
                let mut n = d1.to_digit(10).unwrap_or(0) as usize;
                if let Some(d2) = self.peek(0).filter(char::is_ascii_digit) {
                    n = n * 10 + d2.to_digit(10).unwrap_or(0) as usize;
                    self.i += 1;
                }
                if n > self.groups {
                    return Err(self.err(format!("invalid group reference {n}"), at + 1));
                }
                let _ = write!(self.out, "(?:\\{n})");
            }
            c if c.is_ascii_alphabetic() => {
                return Err(self.err(format!("bad escape \\{c}"), at));
            }
            c => push_lit(&mut self.out, c),
        }
        Ok(())
    }
}

/// Python's `str.isidentifier` for ASCII and letters.
pub(super) fn is_identifier(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c == '_' || c.is_alphabetic())
        && cs.all(|c| c == '_' || c.is_alphanumeric())
}
