//! Command words: quoting them for `sh`, splitting a command line, and rejecting names that a
//! command would read as options.

use crate::connection::quote;
use crate::error::{Error, Result};

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Quotes one word for `sh`, but lets the shell expand `$NAME`, `${NAME}` and a leading `~`
/// like Ansible's `expand_argument_vars` (Python's `expandvars`/`expanduser`): an unset variable
/// stays as written. Nothing else is expanded (`$(...)`, backticks and globs stay literal).
pub(crate) fn expand_word(w: &str) -> String {
    let mut out = String::new();
    let mut lit = String::new();
    let mut rest = w;
    // Leading tilde: `~` or `~/...` becomes $HOME, `~user/...` is left to the shell.
    if let Some(r) = rest.strip_prefix('~') {
        let user: String = r
            .chars()
            .take_while(|c| is_name_char(*c) || *c == '-' || *c == '.')
            .collect();
        let after = &r[user.len()..];
        if after.is_empty() || after.starts_with('/') {
            if user.is_empty() {
                out.push_str("\"${HOME}\"");
            } else {
                out.push('~');
                out.push_str(&user);
            }
            rest = after;
        }
    }
    let flush = |lit: &mut String, out: &mut String| {
        if !lit.is_empty() {
            out.push_str(&quote(lit));
            lit.clear();
        }
    };
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '$' {
            let tail = &rest[i + 1..];
            let (name, len) = if let Some(b) = tail.strip_prefix('{') {
                match b.find('}') {
                    Some(end)
                        if end > 0
                            && b[..end].starts_with(is_name_start)
                            && b[..end].chars().all(is_name_char) =>
                    {
                        (&b[..end], end + 2)
                    }
                    _ => ("", 0),
                }
            } else if tail.starts_with(is_name_start) {
                let n = tail.chars().take_while(|c| is_name_char(*c)).count();
                (&tail[..n], n)
            } else {
                ("", 0)
            };
            if !name.is_empty() {
                flush(&mut lit, &mut out);
                let written = &rest[i..i + 1 + len];
                // Set: its value (one word). Unset: the text as written, like Python.
                out.push_str(&format!("\"${{{name}-{}}}\"", dq_escape(written)));
                for _ in 0..len {
                    chars.next();
                }
                continue;
            }
        }
        lit.push(c);
    }
    flush(&mut lit, &mut out);
    if out.is_empty() {
        out.push_str("''");
    }
    out
}

/// Escapes text for the word of a double-quoted `${NAME-word}` (dash, bash and busybox ash
/// agree on `\$`, `\}`, `\"`, `\``, `\\`).
fn dq_escape(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        if matches!(c, '$' | '`' | '"' | '\\' | '}') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// Quotes every word and joins them with spaces.
pub(crate) fn quote_all<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a command line into words the way a shell would (quotes, backslashes), without
/// expanding anything. Unbalanced quotes are an error.
pub(crate) fn split_words(module: &str, line: &str) -> Result<Vec<String>> {
    shlex::split(line).ok_or_else(|| {
        Error::parse(format!(
            "{module}: cannot split the command line: unbalanced quotes or a trailing backslash"
        ))
        .hint("quote the command with matching ' or \" quotes, or use `argv:` to give each word")
    })
}

/// Rejects a value that would be read as an option by the command it is given to, or that
/// contains characters no name may have (a clear error instead of a confusing tool failure).
pub(crate) fn check_name(module: &str, what: &str, v: &str) -> Result<()> {
    if v.is_empty() {
        return Err(Error::failed(format!("{module}: {what} must not be empty")));
    }
    if v.starts_with('-') || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::failed(format!(
            "{module}: invalid {what} '{v}' (it may not start with '-' or contain spaces)"
        )));
    }
    Ok(())
}

/// Expands `$NAME`, `${NAME}` and a leading `~` in a path on the host, as Ansible's `path`
/// options are (Python's `expandvars` and `expanduser` in the module): one round trip, only
/// when the path has something to expand.
pub(crate) async fn expand_path(ctx: &crate::modules::TaskCtx<'_>, p: &str) -> Result<String> {
    if !p.starts_with('~') && !p.contains('$') {
        return Ok(p.to_string());
    }
    let out = ctx.run(format!("printf '%s' {}", expand_word(p))).await?;
    if out.rc != 0 {
        return Ok(p.to_string());
    }
    Ok(out.stdout_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_look_like_options_are_rejected() {
        assert!(check_name("m", "name", "-rf").is_err());
        assert!(check_name("m", "name", "a b").is_err());
        assert!(check_name("m", "name", "nginx").is_ok());
    }
}
