//! Ansible's free-form arguments: `copy: src=a dest=b`, `shell: echo hi chdir=/x`.

use super::actions::{FreeFormMode, free_form_mode};
use crate::error::{Error, Result};
use crate::modules::ModuleDoc;

/// The result of [`split_free_form`]: the free-form rest, and the `k=v` pairs.
pub type FreeForm = (Option<String>, Vec<(String, String)>);

/// Whether `module` takes a free-form string (`shell: echo hi`, `include_vars: a.yml`): its
/// doc has a free-form option, or (an engine action) its free-form mode is not `k=v` only.
pub fn takes_free_form(doc: Option<&ModuleDoc>, module: &str) -> bool {
    match doc {
        Some(d) => d.free_form.is_some(),
        None => {
            free_form_mode(module) != FreeFormMode::KeyValue
                || crate::modules::fallback::action_plugin_takes_raw_params(module)
        }
    }
}

/// Whether `text` is one template and nothing else (starts and ends with Jinja delimiters):
/// Ansible renders such a free-form string of an action without a free form into its
/// arguments when the task runs (`add_host: "{{ host_data }}"`).
pub fn is_all_template(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with("{{") && t.ends_with("}}")) || (t.starts_with("{%") && t.ends_with("%}"))
}

/// Splits Ansible's free-form `k=v` text. For modules with a free-form option, words that are
/// `known_option=value` are split out and the rest is kept verbatim as the free-form string;
/// for other actions every `k=v` word is an option (whatever `k` is: `set_fact: "{{ n }}=1"`)
/// and the other words are returned as the free-form rest, which the caller reports (or
/// renders, when it is one template).
pub fn split_free_form(text: &str, doc: Option<&ModuleDoc>, module: &str) -> Result<FreeForm> {
    let words = split_word_spans(text)?;
    let free_form = takes_free_form(doc, module);
    let mut kv = Vec::new();
    // The free-form text keeps its own spacing and newlines (a multi-line `shell: |` script);
    // only the k=v words are cut out of it.
    let mut cut: Vec<std::ops::Range<usize>> = Vec::new();
    let mut any_rest = false;
    for (raw, span) in &words {
        if let Some((k, v)) = raw.split_once('=')
            && !k.is_empty()
            && !raw.starts_with(['"', '\''])
        {
            let known = if free_form {
                k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && match doc {
                        Some(d) => d.option(k).is_some(),
                        None => free_form_mode(module) != FreeFormMode::Whole,
                    }
            } else {
                true
            };
            if known {
                kv.push((k.trim().to_string(), unquote(&decode_escapes(v.trim()))));
                cut.push(span.clone());
                continue;
            }
        }
        any_rest = true;
    }
    let raw = if any_rest {
        // A module's free-form text (command, shell, raw, script) is Ansible's raw params:
        // a `\` word (outside quotes) continues its line (the word and the line's end go),
        // and with no `k=v` word cut out the text is kept as written (a `shell: |` block's
        // last newline included).
        let script = free_form && doc.is_some();
        let kv_cut = !cut.is_empty();
        // (range, replacement): the k=v words go; a continuing `\` goes with the spaces
        // before it, and its line's end becomes a space.
        let mut edits: Vec<(std::ops::Range<usize>, &str)> = Vec::new();
        for r in &cut {
            if !script {
                edits.push((r.clone(), ""));
                continue;
            }
            // Ansible drops a k=v word with the spaces before it, and with its line's end
            // when it is the line's last word.
            let start = text[..r.start].trim_end_matches(' ').len();
            let after = &text[r.end..];
            let rest = after.len() - after.trim_start_matches([' ', '\t']).len();
            if after[rest..].starts_with('\n') {
                edits.push((start..r.end + rest + 1, " "));
            } else {
                edits.push((start..r.end, ""));
            }
        }
        if script {
            for (w, span) in &words {
                if w == "\\" {
                    let start = text[..span.start].trim_end_matches(' ').len();
                    edits.push((start..span.end, ""));
                    if let Some(nl) = text[span.end..].find('\n') {
                        edits.push((span.end + nl..span.end + nl + 1, " "));
                    }
                }
            }
            edits.sort_by_key(|(r, _)| r.start);
        }
        let mut t = String::with_capacity(text.len());
        let mut from = 0;
        for (r, with) in &edits {
            if r.start < from {
                continue;
            }
            t.push_str(&text[from..r.start]);
            t.push_str(with);
            from = r.end;
        }
        t.push_str(&text[from..]);
        Some(match (script, kv_cut) {
            (true, false) => t,
            (true, true) => t.trim_start().trim_end_matches([' ', '\t']).to_string(),
            _ => t.trim().to_string(),
        })
    } else {
        None
    };
    Ok((raw, kv))
}

/// Splits `action:`'s string into the action's name (its first word, which may be a template:
/// `"{{ mod }} a=b"`) and the rest.
pub fn split_action_string(text: &str) -> Result<(String, String)> {
    let words = split_word_spans(text)?;
    Ok(match words.first() {
        Some((w, span)) => (w.trim().to_string(), text[span.end..].trim().to_string()),
        None => (String::new(), String::new()),
    })
}

/// Python's escape sequences in a `k=v` value, as Ansible's `parse_kv` decodes them before
/// splitting: `\\`, `\'`, `\"`, `\a\b\f\n\r\t\v`, `\xHH`, `\uHHHH`, `\UHHHHHHHH`; any other
/// backslash stays as written.
fn decode_escapes(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let simple = match after.chars().next() {
            Some(c @ ('\\' | '\'' | '"')) => Some(c),
            Some('a') => Some('\x07'),
            Some('b') => Some('\x08'),
            Some('f') => Some('\x0c'),
            Some('n') => Some('\n'),
            Some('r') => Some('\r'),
            Some('t') => Some('\t'),
            Some('v') => Some('\x0b'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            rest = &after[1..];
            continue;
        }
        let hex = match after.chars().next() {
            Some('x') => 2,
            Some('u') => 4,
            Some('U') => 8,
            _ => 0,
        };
        let digits = after
            .get(1..1 + hex)
            .filter(|d| d.chars().all(|c| c.is_ascii_hexdigit()));
        match digits
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .and_then(char::from_u32)
        {
            Some(c) if hex > 0 => {
                out.push(c);
                rest = &after[1 + hex..];
            }
            _ => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// Splits on whitespace outside quotes and outside `{{ }}` / `{% %}`; returns (raw, raw) pairs.
#[cfg(test)]
fn split_words(text: &str) -> Result<Vec<(String, String)>> {
    Ok(split_word_spans(text)?
        .into_iter()
        .map(|(w, _)| (w.clone(), w))
        .collect())
}

/// [`split_words`] with each word's byte range in `text`.
fn split_word_spans(text: &str) -> Result<Vec<(String, std::ops::Range<usize>)>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0usize;
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |i: usize| chars.get(i).map_or(text.len(), |(b, _)| *b);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let next = chars.get(i + 1).map(|(_, c)| *c);
        if cur.is_empty() && !(quote.is_none() && depth == 0 && c.is_whitespace()) {
            start = chars[i].0;
        }
        if quote.is_none() && (c == '{') && matches!(next, Some('{') | Some('%')) {
            depth += 1;
            cur.push(c);
            cur.push(next.unwrap());
            i += 2;
            continue;
        }
        if quote.is_none() && depth > 0 && matches!(c, '}' | '%') && next == Some('}') {
            depth -= 1;
            cur.push(c);
            cur.push('}');
            i += 2;
            continue;
        }
        match quote {
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            Some(_) => {
                if c == '\\'
                    && let Some(n) = next
                {
                    cur.push(c);
                    cur.push(n);
                    i += 2;
                    continue;
                }
                cur.push(c)
            }
            None if (c == '"' || c == '\'') && depth == 0 => {
                quote = Some(c);
                cur.push(c);
            }
            None if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push((std::mem::take(&mut cur), start..at(i)));
                }
            }
            None => cur.push(c),
        }
        i += 1;
    }
    if quote.is_some() {
        return Err(Error::parse("unbalanced quote in free-form arguments").hint("close the quote"));
    }
    if !cur.is_empty() {
        out.push((cur, start..text.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_values_decode_python_escapes() {
        assert_eq!(decode_escapes(r"\b(.+)\b"), "\x08(.+)\x08");
        assert_eq!(decode_escapes(r"\\b(.+)\\b"), r"\b(.+)\b");
        assert_eq!(decode_escapes(r"a\x41\u00e9\d"), "aA\u{e9}\\d");
        let (_, kv) = split_free_form(r"regexp='\\b(x)' dest=/a", None, "replace").unwrap();
        assert_eq!(kv[0], ("regexp".to_string(), r"\b(x)".to_string()));
    }

    #[test]
    fn free_form_splitting() {
        let (raw, kv) = split_free_form("src=a dest='/b c' mode=0644", None, "copy").unwrap();
        assert!(raw.is_none());
        assert_eq!(
            kv,
            vec![
                ("src".into(), "a".into()),
                ("dest".into(), "/b c".into()),
                ("mode".into(), "0644".into())
            ]
        );
        // A word that is not k=v is the free-form rest, for the caller to judge.
        let (raw, kv) = split_free_form("a=1 stray {{ x }}=2", None, "set_fact").unwrap();
        assert_eq!(raw.as_deref(), Some("stray"));
        assert_eq!(kv[1], ("{{ x }}".to_string(), "2".to_string()));
        assert!(is_all_template(" {{ host_data }} ") && !is_all_template("a {{ b }}"));
        let e = split_free_form("dest='unclosed", None, "copy").unwrap_err();
        assert!(e.msg.contains("unbalanced quote"));
        let w = split_words("msg={{ a | default('x y') }} b=2").unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].0, "msg={{ a | default('x y') }}");
    }
    #[test]
    fn free_form_keeps_the_script_s_lines_and_cuts_only_k_v_words() {
        let doc = crate::modules::Registry::builtin()
            .get("shell")
            .map(|m| m.doc());
        let (raw, kv) = split_free_form("echo one\necho  two | tr a b\n", doc, "shell").unwrap();
        assert_eq!(raw.as_deref(), Some("echo one\necho  two | tr a b\n"));
        assert!(kv.is_empty());
        let (raw, kv) = split_free_form(
            "cd /x &&\n  make creates=/x/out chdir=/x\nmake install\n",
            doc,
            "shell",
        )
        .unwrap();
        assert_eq!(raw.as_deref(), Some("cd /x &&\n  make make install\n"));
        assert_eq!(
            kv,
            vec![
                ("creates".to_string(), "/x/out".to_string()),
                ("chdir".to_string(), "/x".to_string())
            ]
        );
        let (raw, _) = split_free_form(
            "executable=/bin/bash\ncreates=/x\necho \"test\"\n",
            doc,
            "shell",
        )
        .unwrap();
        assert_eq!(raw.as_deref(), Some("echo \"test\"\n"));
        // A lone `\` continues its line (not inside quotes); with nothing cut out, the text
        // stays as written.
        let (raw, _) = split_free_form(
            "echo this is a \\\n\"multi\nline\" \\\n| cat\necho \"x \\\ny\"\n",
            doc,
            "shell",
        )
        .unwrap();
        assert_eq!(
            raw.as_deref(),
            Some("echo this is a \"multi\nline\" | cat\necho \"x \\\ny\"\n")
        );
        // Words inside quotes or Jinja stay whole.
        let (raw, _) = split_free_form("echo 'a=b c' {{ x | d('y z') }}", doc, "shell").unwrap();
        assert_eq!(raw.as_deref(), Some("echo 'a=b c' {{ x | d('y z') }}"));
    }
}
