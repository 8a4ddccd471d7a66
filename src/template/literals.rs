//! Jinja string literals read the way ansible-core reads them, before minijinja compiles them.
//!
//! Jinja2 decodes a string literal with Python's `unicode-escape` codec (`'\n'` is a newline,
//! `'\1'` is U+0001, `'\d'` stays `\d`). ansible-core changes that for the templates it takes
//! from task arguments and variables, whose backslashes YAML has already processed: there, a
//! literal inside `{{ }}` keeps its backslashes as they are (`'\1'` is backslash-one, so
//! `regex_replace('^v(\d+)', '\1')` gets the backreference), while literals inside `{% %}`
//! are still decoded. Template files (`template` module, `template` lookup, included files) and
//! bare expressions (`when:`, `that:`, `debug: var=`) decode every literal.
//!
//! minijinja has its own (JSON-like) escapes, so [`prepare`] rewrites each literal whose value
//! would differ into one that minijinja reads as exactly the value ansible-core would see.

use std::borrow::Cow;

/// How string literals are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Literals {
    /// Templates from task arguments and variables: `{{ }}` literals are raw, `{% %}` decoded.
    Raw,
    /// Template files and bare expressions: every literal is decoded like Python's
    /// `unicode-escape`.
    Decoded,
}

/// Where the lexer is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    /// Inside `{{ }}` (or a bare expression).
    Var,
    /// Inside `{% %}`.
    Block,
}

/// Rewrites the string literals of template source `src` for minijinja (see the module docs).
/// Text outside `{{ }}`/`{% %}`, comments and `{% raw %}` blocks are left as they are. An
/// escape Python cannot decode is an error (the message Jinja gives).
pub(crate) fn prepare(src: &str, mode: Literals) -> Result<Cow<'_, str>, String> {
    rewrite(src, mode, State::Data)
}

/// Like [`prepare`] for a bare expression (the inside of `{{ }}`).
pub(crate) fn prepare_expr(src: &str, mode: Literals) -> Result<Cow<'_, str>, String> {
    rewrite(src, mode, State::Var)
}

fn rewrite(src: &str, mode: Literals, start: State) -> Result<Cow<'_, str>, String> {
    if !src.contains(['\\', '\r']) {
        return Ok(Cow::Borrowed(src));
    }
    let b = src.as_bytes();
    let mut out = String::new();
    let mut last = 0;
    let mut state = start;
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match state {
            State::Data => {
                if b[i] != b'{' || i + 1 >= b.len() {
                    i += 1;
                    continue;
                }
                match b[i + 1] {
                    b'{' => {
                        state = State::Var;
                        depth = 0;
                        i += 2;
                    }
                    b'%' => {
                        if let Some(end) = raw_block_end(src, i) {
                            i = end;
                        } else {
                            state = State::Block;
                            depth = 0;
                            i += 2;
                        }
                    }
                    b'#' => i = src[i..].find("#}").map(|p| i + p + 2).unwrap_or(b.len()),
                    _ => i += 1,
                }
            }
            State::Var | State::Block => {
                let c = b[i];
                let close = if state == State::Var { b'}' } else { b'%' };
                match c {
                    b'\'' | b'"' => {
                        let Some(len) = literal_len(&b[i..]) else {
                            // Unterminated: minijinja reports it.
                            break;
                        };
                        let body = &src[i + 1..i + len - 1];
                        let raw = mode == Literals::Raw && state == State::Var;
                        if body.contains(['\\', '\r']) {
                            let value = if raw {
                                normalize_newlines(body)
                            } else {
                                python_unescape(body)?
                            };
                            out.push_str(&src[last..i]);
                            push_literal(&mut out, &value, c as char);
                            last = i + len;
                        }
                        i += len;
                    }
                    b'(' | b'[' | b'{' => {
                        depth += 1;
                        i += 1;
                    }
                    b')' | b']' => {
                        depth = depth.saturating_sub(1);
                        i += 1;
                    }
                    b'}' if depth > 0 => {
                        depth -= 1;
                        i += 1;
                    }
                    _ if c == close && depth == 0 && b.get(i + 1) == Some(&b'}') => {
                        state = State::Data;
                        i += 2;
                    }
                    _ => i += 1,
                }
            }
        }
    }
    if last == 0 {
        return Ok(Cow::Borrowed(src));
    }
    out.push_str(&src[last..]);
    Ok(Cow::Owned(out))
}

/// If `{%` at `i` opens `{% raw %}`, the index just past the matching `{% endraw %}`.
fn raw_block_end(src: &str, i: usize) -> Option<usize> {
    let tag = |at: usize, word: &str| -> Option<usize> {
        let rest = src.get(at + 2..)?;
        let rest_trim = rest.strip_prefix(['-', '+']).unwrap_or(rest);
        let body = rest_trim.trim_start();
        let after = body.strip_prefix(word)?;
        let after_trim = after.trim_start();
        let after_trim = after_trim.strip_prefix('-').unwrap_or(after_trim);
        let after_trim = after_trim.strip_prefix("%}")?;
        Some(src.len() - after_trim.len())
    };
    let body_start = tag(i, "raw")?;
    let mut j = body_start;
    while let Some(p) = src[j..].find("{%") {
        if let Some(end) = tag(j + p, "endraw") {
            return Some(end);
        }
        j += p + 2;
    }
    Some(src.len())
}

/// The length (quotes included) of the string literal starting at `b[0]`, read like Jinja's
/// lexer: a backslash takes the next character with it.
fn literal_len(b: &[u8]) -> Option<usize> {
    let q = b[0];
    let mut j = 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            c if c == q => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// Writes `value` as a minijinja literal quoted with `q`.
fn push_literal(out: &mut String, value: &str, q: char) {
    out.push(q);
    for c in value.chars() {
        if c == '\\' || c == q {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(q);
}

/// Jinja turns `\r\n` and `\r` into `\n` inside string literals.
fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Python's `s.encode("ascii", "backslashreplace").decode("unicode-escape")` after Jinja's
/// newline normalisation, with the codec's error messages.
pub(crate) fn python_unescape(s: &str) -> Result<String, String> {
    let s = normalize_newlines(s);
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            return Err("\\ at end of string".into());
        };
        match e {
            '\n' => {}
            '\\' | '\'' | '"' => out.push(e),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            'x' | 'u' | 'U' => {
                let (n, what) = match e {
                    'x' => (2, "truncated \\xXX escape"),
                    'u' => (4, "truncated \\uXXXX escape"),
                    _ => (8, "truncated \\UXXXXXXXX escape"),
                };
                let mut v = 0u32;
                for _ in 0..n {
                    match chars.peek().and_then(|d| d.to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            chars.next();
                        }
                        None => return Err(what.into()),
                    }
                }
                match char::from_u32(v) {
                    Some(ch) => out.push(ch),
                    None if (0xD800..0xE000).contains(&v) => {
                        return Err(format!("lone surrogate \\u{v:04x} is not supported"));
                    }
                    None => return Err("illegal Unicode character".into()),
                }
            }
            'N' => {
                if chars.peek() != Some(&'{') {
                    return Err("malformed \\N character escape".into());
                }
                chars.next();
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(ch) => name.push(ch),
                        None => return Err("malformed \\N character escape".into()),
                    }
                }
                match unicode_names2::character(&name) {
                    Some(ch) if !name.is_empty() => out.push(ch),
                    _ => return Err("unknown Unicode character name".into()),
                }
            }
            // backslashreplace turned a non-ASCII character into `\xNN`/`\uNNNN`/`\UNNNNNNNN`
            // before decoding, so a backslash before it escapes that escape's backslash.
            _ if !e.is_ascii() => {
                let v = e as u32;
                out.push('\\');
                if v < 0x100 {
                    out.push_str(&format!("x{v:02x}"));
                } else if v < 0x10000 {
                    out.push_str(&format!("u{v:04x}"));
                } else {
                    out.push_str(&format!("U{v:08x}"));
                }
            }
            _ => {
                out.push('\\');
                out.push(e);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn python_codec() {
        let ok = |s: &str| python_unescape(s).unwrap();
        assert_eq!(ok(r"\1"), "\u{1}");
        assert_eq!(ok(r"\101\0\777"), "A\u{0}\u{1ff}");
        assert_eq!(
            ok(r#"\n\t\\\'\"\a\v\f\b\r"#),
            "\n\t\\'\"\u{7}\u{b}\u{c}\u{8}\r"
        );
        assert_eq!(ok(r"\d\/\q\g<1>"), r"\d\/\q\g<1>");
        assert_eq!(ok(r"\x41\u00e9\U0001F600"), "Aé😀");
        assert_eq!(ok(r"\N{LATIN SMALL LETTER E WITH ACUTE}"), "é");
        assert_eq!(ok("a\\\nb\r\nc"), "ab\nc");
        assert_eq!(ok("\\é"), r"\xe9");
        assert_eq!(
            python_unescape(r"\x4").unwrap_err(),
            r"truncated \xXX escape"
        );
        assert!(python_unescape(r"\N{NO SUCH NAME}").is_err());
        assert!(python_unescape("a\\").is_err());
    }

    #[test]
    fn raw_inside_expressions_decoded_in_statements() {
        let p = |s| prepare(s, Literals::Raw).unwrap().into_owned();
        assert_eq!(
            p(r"{{ x | f('\1', '\\1') }}"),
            r"{{ x | f('\\1', '\\\\1') }}"
        );
        assert_eq!(p(r#"{{ "it\"s" }}"#), r#"{{ "it\\\"s" }}"#);
        assert_eq!(p(r"{% set y = '\1' %}"), "{% set y = '\u{1}' %}");
        assert_eq!(p(r"{{ {'a': {'b': '\t'}} }} \1 {{ '\t' }}"), {
            r"{{ {'a': {'b': '\\t'}} }} \1 {{ '\\t' }}"
        });
        assert_eq!(p(r"{# '\1' #}{% raw %}{{ '\1' }}{% endraw %}"), {
            r"{# '\1' #}{% raw %}{{ '\1' }}{% endraw %}"
        });
        assert!(matches!(
            prepare("{{ 'plain' }}", Literals::Raw),
            Ok(Cow::Borrowed(_))
        ));
        let d = |s| prepare(s, Literals::Decoded).unwrap().into_owned();
        assert_eq!(d(r"{{ '\1' }}{{ 'it\'s' }}"), "{{ '\u{1}' }}{{ 'it\\'s' }}");
        assert_eq!(
            prepare_expr(r"x == '\t'", Literals::Decoded).unwrap(),
            "x == '\t'"
        );
        assert!(prepare(r"{{ '\x4' }}", Literals::Decoded).is_err());
    }
}
