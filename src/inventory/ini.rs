//! The INI inventory format, read like Ansible's `ini` inventory plugin.
//!
//! Lines are stripped; blank lines and lines starting with `#` or `;` are skipped. A section
//! header is `[group]`, `[group:children]` or `[group:vars]` (optionally followed by a `#` comment).
//! Lines before any header are hosts in `ungrouped`. A host line is split into shell words
//! (Python's `shlex` rules: quotes, backslashes, and an unquoted `#` starts a comment); the first
//! word is a host name or range (`node[1:3]`, optionally `:port`), the rest are `key=value`
//! assignments whose values are read like Python literals (see [`super::pyvalue`]). In a `:vars`
//! section every line is `key = value` (no shell splitting). A `:children` line names one group,
//! which may be declared later in the same file, but must be declared somewhere in it.

use super::Inventory;
use super::pyvalue::parse_value;
use super::range;
use crate::error::{Error, Location, Result, did_you_mean};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Hosts,
    Children,
    Vars,
}

struct Pending {
    line: usize,
    col: usize,
    state: State,
    parents: Vec<String>,
}

struct Ctx {
    file: Arc<PathBuf>,
}

impl Ctx {
    fn err(
        &self,
        line: usize,
        col: usize,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) -> Error {
        Error::inventory(msg)
            .at(&Location::new(self.file.clone(), line, col))
            .hint(hint)
    }
}

/// Parses INI inventory `text` (from `path`) into `inv`.
pub(crate) fn parse(inv: &mut Inventory, text: &str, path: &Path) -> Result<()> {
    let ctx = Ctx {
        file: Arc::new(path.to_path_buf()),
    };
    let mut group = "ungrouped".to_string();
    let mut state = State::Hosts;
    let mut pending: indexmap::IndexMap<String, Pending> = indexmap::IndexMap::new();

    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        let indent = raw.len() - raw.trim_start().len();
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let col0 = indent_col(raw, indent);

        if line.starts_with('[') && !looks_like_bracketed_host(line) {
            let (name, st) = parse_header(&ctx, line, lineno, col0)?;
            if !inv.groups.contains_key(&name) {
                if st == State::Vars && !pending.contains_key(&name) {
                    pending.insert(
                        name.clone(),
                        Pending {
                            line: lineno,
                            col: col0,
                            state: State::Vars,
                            parents: vec![],
                        },
                    );
                }
                inv.add_group(&name);
            }
            if st != State::Vars
                && let Some(p) = pending.get(&name)
            {
                match p.state {
                    State::Children => add_pending_children(inv, &ctx, &name, &mut pending)?,
                    _ => {
                        pending.shift_remove(&name);
                    }
                }
            }
            group = name;
            state = st;
            continue;
        }

        match state {
            State::Hosts => {
                host_line(inv, &ctx, raw, lineno, &group)?;
            }
            State::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(ctx.err(
                        lineno,
                        col0,
                        format!("expected `key=value` in [{group}:vars], got `{line}`"),
                        "every line of a :vars section is `name=value`",
                    ));
                };
                let k = k.trim();
                if k.is_empty() {
                    return Err(ctx.err(
                        lineno,
                        col0,
                        // The value is not echoed: it may be a password.
                        "missing variable name before `=`",
                        "write `name=value`",
                    ));
                }
                inv.set_group_var(&group, k, parse_value(v.trim()));
            }
            State::Children => {
                let child = child_name(&ctx, line, lineno, col0)?;
                if inv.groups.contains_key(&child) {
                    add_child(inv, &ctx, &group, &child, lineno, col0)?;
                } else if let Some(p) = pending.get_mut(&child) {
                    p.parents.push(group.clone());
                } else {
                    pending.insert(
                        child,
                        Pending {
                            line: lineno,
                            col: col0,
                            state: State::Children,
                            parents: vec![group.clone()],
                        },
                    );
                }
            }
        }
    }

    if let Some((name, p)) = pending.iter().next() {
        return Err(match p.state {
            State::Vars => ctx.err(
                p.line,
                p.col,
                format!("section [{name}:vars] is for a group that is not defined: {name}"),
                format!(
                    "declare the group with a [{name}] section (it may be empty) or fix the name"
                ),
            ),
            _ => {
                let parent = p.parents.last().cloned().unwrap_or_default();
                let mut hint = format!(
                    "declare [{name}] in this file, or list it in a file that is loaded earlier"
                );
                if let Some(s) = did_you_mean(name, inv.groups.keys().map(|s| s.as_str())) {
                    hint = format!("did you mean `{s}`? otherwise {hint}");
                }
                ctx.err(
                    p.line,
                    p.col,
                    format!("section [{parent}:children] includes undefined group: {name}"),
                    hint,
                )
            }
        });
    }
    Ok(())
}

/// The 1-based column (in characters) of byte offset `byte_off` of `raw`; never panics, even
/// for an offset inside a character.
fn indent_col(raw: &str, byte_off: usize) -> usize {
    raw.char_indices()
        .take_while(|(i, c)| i + c.len_utf8() <= byte_off)
        .count()
        + 1
}

/// `[fe80::1]:22` (bracketed IPv6 with a port) is a host, not a section.
fn looks_like_bracketed_host(line: &str) -> bool {
    match line.find(']') {
        Some(i) => {
            let after = &line[i + 1..];
            after.starts_with(':') && after[1..].starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

fn parse_header(ctx: &Ctx, line: &str, lineno: usize, col0: usize) -> Result<(String, State)> {
    let Some(close) = line.find(']') else {
        return Err(ctx.err(
            lineno,
            col0,
            format!("unclosed section header `{line}`"),
            "a section header is `[group]`, `[group:children]` or `[group:vars]`",
        ));
    };
    let inner = &line[1..close];
    let rest = line[close + 1..].trim_start();
    if !rest.is_empty() && !rest.starts_with('#') {
        let off = line.len() - rest.len();
        return Err(ctx.err(
            lineno,
            col0 + line[..off].chars().count(),
            format!("unexpected text after section header: `{rest}`"),
            "only a `#` comment may follow a section header",
        ));
    }
    if let Some(ws) = inner.find(char::is_whitespace) {
        return Err(ctx.err(
            lineno,
            col0 + 1 + inner[..ws].chars().count(),
            format!("invalid section header `{line}`: group names cannot contain spaces"),
            "make sure there are no spaces in the section header",
        ));
    }
    let (name, tag) = match inner.split_once(':') {
        Some((n, t)) => (n, Some(t)),
        None => (inner, None),
    };
    if name.is_empty() {
        return Err(ctx.err(
            lineno,
            col0,
            format!("section header `{line}` has no group name"),
            "a section header is `[group]`, `[group:children]` or `[group:vars]`",
        ));
    }
    let state = match tag {
        None => State::Hosts,
        Some("children") => State::Children,
        Some("vars") => State::Vars,
        Some(t) => {
            let mut hint = "the section type is `children` or `vars`".to_string();
            if let Some(s) = did_you_mean(t, ["children", "vars"]) {
                hint = format!("did you mean `[{name}:{s}]`? {hint}");
            }
            return Err(ctx.err(
                lineno,
                col0 + 1 + name.chars().count() + 1,
                format!("section [{inner}] has unknown type: {t}"),
                hint,
            ));
        }
    };
    Ok((name.to_string(), state))
}

fn child_name(ctx: &Ctx, line: &str, lineno: usize, col0: usize) -> Result<String> {
    let body = match line.find('#') {
        Some(i) => line[..i].trim_end(),
        None => line,
    };
    if body.is_empty() || body.contains(char::is_whitespace) || body.contains([':', ']']) {
        return Err(ctx.err(
            lineno,
            col0,
            format!("expected a group name, got `{line}`"),
            "each line of a :children section names one group",
        ));
    }
    Ok(body.to_string())
}

fn add_child(
    inv: &mut Inventory,
    ctx: &Ctx,
    parent: &str,
    child: &str,
    lineno: usize,
    col: usize,
) -> Result<()> {
    inv.add_child(parent, child).map_err(|msg| {
        ctx.err(
            lineno,
            col,
            msg,
            "a group cannot be (directly or indirectly) a child of itself",
        )
    })
}

/// Resolves the pending `:children` references to `group`, now that it is declared (and, in
/// turn, those to parents that were themselves pending). Uses an explicit stack, not recursion,
/// so a long chain cannot overflow the stack; the edges are added in the recursive order.
fn add_pending_children(
    inv: &mut Inventory,
    ctx: &Ctx,
    group: &str,
    pending: &mut indexmap::IndexMap<String, Pending>,
) -> Result<()> {
    let Some(first) = pending.shift_remove(group) else {
        return Ok(());
    };
    let mut stack: Vec<(String, Pending, usize)> = vec![(group.to_string(), first, 0)];
    while let Some((g, p, i)) = stack.last_mut() {
        let Some(parent) = p.parents.get(*i).cloned() else {
            stack.pop();
            continue;
        };
        *i += 1;
        let (g, line, col) = (g.clone(), p.line, p.col);
        add_child(inv, ctx, &parent, &g, line, col)?;
        if pending
            .get(&parent)
            .is_some_and(|pp| pp.state == State::Children)
            && let Some(pp) = pending.shift_remove(&parent)
        {
            stack.push((parent, pp, 0));
        }
    }
    Ok(())
}

/// One shell word of a host line: its text (quotes removed) and its byte offset in the line.
#[derive(Debug)]
struct Word {
    text: String,
    start: usize,
}

/// Splits a host line into words like Python's `shlex.split(line, comments=True)`.
///
/// The `shlex` crate does the splitting; this scan finds where an unquoted `#` starts a comment
/// (Python ends the line there even mid-word), where each word starts (for error columns), and
/// where an unbalanced quote opens.
fn split_words(line: &str) -> std::result::Result<Vec<Word>, (String, usize)> {
    let bytes = line.as_bytes();
    let mut starts = Vec::new();
    let mut in_word = false;
    let mut quote: Option<(u8, usize)> = None;
    let mut end = bytes.len();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some((q, _)) => {
                if c == q {
                    quote = None;
                } else if q == b'"' && c == b'\\' {
                    i += 1;
                }
            }
            None => match c {
                b' ' | b'\t' | b'\r' | b'\n' => in_word = false,
                b'#' => {
                    end = i;
                    break;
                }
                _ => {
                    if !in_word {
                        starts.push(i);
                        in_word = true;
                    }
                    match c {
                        b'\'' | b'"' => quote = Some((c, i)),
                        b'\\' => {
                            if i + 1 >= bytes.len() {
                                return Err(("a trailing `\\` escapes nothing".into(), i));
                            }
                            i += 1;
                        }
                        _ => {}
                    }
                }
            },
        }
        i += 1;
    }
    if let Some((q, at)) = quote {
        let qs = if q == b'"' { "double" } else { "single" };
        return Err((format!("unbalanced {qs} quote"), at));
    }
    let cut = &line[..end];
    let words =
        shlex::split(cut).ok_or_else(|| ("cannot split the line into words".to_string(), 0))?;
    if words.len() == starts.len() {
        Ok(words
            .into_iter()
            .zip(starts)
            .map(|(text, start)| Word { text, start })
            .collect())
    } else {
        Ok(words
            .into_iter()
            .map(|text| Word { text, start: 0 })
            .collect())
    }
}

fn host_line(inv: &mut Inventory, ctx: &Ctx, raw: &str, lineno: usize, group: &str) -> Result<()> {
    let col_of = |byte: usize| indent_col(raw, byte);
    let words = split_words(raw).map_err(|(msg, at)| {
        ctx.err(
            lineno,
            col_of(at),
            format!("cannot parse host line: {msg}"),
            "quote values with spaces as key='a b' and close every quote",
        )
    })?;
    let Some(first) = words.first() else {
        return Ok(());
    };
    let (pattern, port) = range::split_port(&first.text)
        .map_err(|e| ctx.err(lineno, col_of(first.start + e.offset), e.msg, e.hint))?;
    if pattern.trim() == "---" {
        return Err(ctx.err(
            lineno,
            col_of(first.start),
            "invalid host `---` in an INI inventory",
            "`---` starts a YAML document: give the file a .yml extension",
        ));
    }
    if pattern.contains('=') {
        return Err(ctx.err(
            lineno,
            col_of(first.start),
            format!("a host name cannot contain `=` (in [{group}])"),
            format!(
                "variables for every host of a group go in a [{group}:vars] section; a host's own variables follow its name on the same line"
            ),
        ));
    }
    let hosts = range::expand(&pattern)
        .map_err(|e| ctx.err(lineno, col_of(first.start + e.offset), e.msg, e.hint))?;
    if pattern.contains('[') {
        range::check_total(&pattern, inv.members.len(), hosts.len())
            .map_err(|e| ctx.err(lineno, col_of(first.start + e.offset), e.msg, e.hint))?;
    }
    let mut vars = Vec::new();
    for w in &words[1..] {
        let Some((k, v)) = w.text.split_once('=') else {
            return Err(ctx.err(
                lineno,
                col_of(w.start),
                format!(
                    "expected `key=value` host variable assignment, got `{}`",
                    w.text
                ),
                "host variables are written `name=value` after the host name",
            ));
        };
        if k.is_empty() {
            return Err(ctx.err(
                lineno,
                col_of(w.start),
                // The value is not echoed: it may be a password.
                "missing variable name before `=`",
                "host variables are written `name=value`",
            ));
        }
        vars.push((k.to_string(), parse_value(v)));
    }
    for h in hosts {
        inv.add_host(&h, group, &ctx.file);
        if let Some(p) = port {
            inv.set_host_var(&h, "ansible_port", i64::from(p).into());
        }
        for (k, v) in &vars {
            inv.set_host_var(&h, k, v.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_python_shlex() {
        let w = split_words("h1 a=1 b='x y' c=\"p q\" # trailing").unwrap();
        let t: Vec<_> = w.iter().map(|w| (w.text.as_str(), w.start)).collect();
        assert_eq!(t, [("h1", 0), ("a=1", 3), ("b=x y", 7), ("c=p q", 15)]);
        // Python's shlex ends the line at an unquoted `#`, even inside a word.
        let w = split_words("h pw=ab#cd").unwrap();
        assert_eq!(w[1].text, "pw=ab");
        let w = split_words("h pw='ab#cd'").unwrap();
        assert_eq!(w[1].text, "pw=ab#cd");
        assert_eq!(split_words("h a='open").unwrap_err().1, 4);
        assert!(split_words("h a=\"x").unwrap_err().0.contains("double"));
        assert!(split_words("h a\\").is_err());
    }

    #[test]
    fn columns_never_split_characters() {
        // The error offset is in the unquoted word, the column in the raw line: still no panic.
        let mut inv = Inventory::default();
        let e = parse(&mut inv, "[g]\n\"éé[3:1]\" x=1\n", Path::new("h")).unwrap_err();
        assert!(e.msg.contains("backwards"), "{e}");
        assert_eq!(e.loc.clone().unwrap().line, 2);
        assert_eq!(indent_col("aé b", 2), 2);
        assert_eq!(indent_col("aé b", 3), 3);
        assert_eq!(indent_col("ab", 99), 3);
    }

    #[test]
    fn headers() {
        let ctx = Ctx {
            file: Arc::new(PathBuf::from("h")),
        };
        assert!(parse_header(&ctx, "[web]", 1, 1).is_ok());
        assert!(parse_header(&ctx, "[web:vars]  # c", 1, 1).is_ok());
        let e = parse_header(&ctx, "[web:var]", 1, 1).unwrap_err();
        assert!(e.msg.contains("unknown type"), "{e}");
        assert!(e.hint.clone().unwrap().contains("[web:vars]"));
        assert_eq!(e.loc.clone().unwrap().col, 6);
        assert!(
            parse_header(&ctx, "[web", 1, 1)
                .unwrap_err()
                .msg
                .contains("unclosed")
        );
        assert!(
            parse_header(&ctx, "[a b]", 1, 1)
                .unwrap_err()
                .msg
                .contains("spaces")
        );
        assert!(
            parse_header(&ctx, "[]", 1, 1)
                .unwrap_err()
                .msg
                .contains("no group")
        );
        assert!(
            parse_header(&ctx, "[a] x", 1, 1)
                .unwrap_err()
                .msg
                .contains("unexpected")
        );
        assert!(looks_like_bracketed_host("[fe80::1]:22 x=1"));
        assert!(!looks_like_bracketed_host("[web]"));
    }
}
