//! Jinja2's view of the template's own variables from inside a macro that includes another
//! template.
//!
//! In Jinja2 an `{% include %}` inside a macro renders with the template's context: what the
//! template `{% set %}` or `{% import %}`ed at its top level is visible to the included
//! template. minijinja gives a macro only the variables its own body names (its closure), and
//! an included template's names are not known when the macro is compiled. So before compiling,
//! a macro whose body includes a template gets a reference to every top-level name of the
//! template that never renders (`{% if false %}{{ a }}{{ b }}{% endif %}`); the macro then
//! encloses them, and later assignments at the top level reach it too (minijinja updates a
//! closure when its level stores a name).

/// One `{% ... %}` tag: where it starts and ends in the text, and its inside (without the
/// delimiters and whitespace-control marks).
struct Tag<'a> {
    start: usize,
    end: usize,
    body: &'a str,
}

/// The block tags of `src` (outside `{% raw %}` and comments), in order.
fn tags(src: &str) -> Vec<Tag<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut raw = false;
    while let Some(off) = src[i..].find(['{']) {
        let at = i + off;
        let rest = &src[at..];
        if rest.starts_with("{#") {
            match rest.find("#}") {
                Some(e) => i = at + e + 2,
                None => break,
            }
            continue;
        }
        if !rest.starts_with("{%") {
            i = at + 1;
            continue;
        }
        let Some(e) = rest.find("%}") else { break };
        let body = rest[2..e]
            .trim_start_matches(['-', '+'])
            .trim_end_matches(['-', '+'])
            .trim();
        let word = body.split_whitespace().next().unwrap_or("");
        if raw {
            if word == "endraw" {
                raw = false;
            }
        } else if word == "raw" {
            raw = true;
        } else {
            out.push(Tag {
                start: at,
                end: at + e + 2,
                body,
            });
        }
        i = at + e + 2;
    }
    out
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// The names a top-level tag assigns: `set a = ...`, `set a, b = ...`, `set a %}` (a block
/// set), `import "x" as a`, `from "x" import b as c, d`.
fn assigned(body: &str, names: &mut Vec<String>) {
    let mut push = |n: &str| {
        let n = n.trim();
        if is_name(n) && !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    };
    if let Some(rest) = body.strip_prefix("set ") {
        let target = rest.split('=').next().unwrap_or("");
        let target = target.split('|').next().unwrap_or("");
        for n in target.split(',') {
            push(n.trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace()));
        }
    } else if body.starts_with("import ") {
        if let Some((_, alias)) = body.rsplit_once(" as ") {
            push(alias.split_whitespace().next().unwrap_or(""));
        }
    } else if body.starts_with("from ")
        && let Some((_, list)) = body.split_once(" import ")
    {
        let list = list
            .trim()
            .trim_end_matches("with context")
            .trim_end_matches("without context");
        for item in list.split(',') {
            let item = item.trim();
            push(item.rsplit_once(" as ").map_or(item, |(_, a)| a));
        }
    }
}

/// `src` with the references described in the module's documentation, or `None` when no
/// macro includes a template (the common case: nothing to do).
pub(crate) fn rewrite(src: &str) -> Option<String> {
    if !(src.contains("macro") && src.contains("include")) {
        return None;
    }
    let tags = tags(src);
    let word = |t: &Tag| t.body.split_whitespace().next().unwrap_or("").to_string();
    // top-level names, and the macros that include something (by their opening tag)
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut open: Vec<usize> = Vec::new();
    let mut including: Vec<usize> = Vec::new();
    for (i, t) in tags.iter().enumerate() {
        match word(t).as_str() {
            "macro" | "call" => {
                depth += 1;
                open.push(i);
            }
            "endmacro" | "endcall" => {
                depth = depth.saturating_sub(1);
                open.pop();
            }
            "include" => {
                if let Some(&m) = open.iter().find(|&&m| word(&tags[m]) == "macro")
                    && !including.contains(&m)
                {
                    including.push(m);
                }
            }
            _ if depth == 0 => assigned(t.body, &mut names),
            _ => {}
        }
    }
    if including.is_empty() || names.is_empty() {
        return None;
    }
    let refs: String = names.iter().map(|n| format!("{{{{ {n} }}}}")).collect();
    let mut out = String::with_capacity(src.len() + including.len() * (refs.len() + 32));
    let mut last = 0;
    including.sort_unstable();
    for m in including {
        let t = &tags[m];
        out.push_str(&src[last..t.end]);
        // the macro tag's own whitespace control (`-%}`) moves to the inserted block's end
        let strip = src[t.start..t.end - 2].ends_with('-');
        out.push_str(&format!(
            "{{% if false %}}{refs}{{% endif {}%}}",
            if strip { "-" } else { "" }
        ));
        last = t.end;
    }
    out.push_str(&src[last..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn macros_that_include_enclose_the_top_level_names() {
        let src = "{% import 'v.j2' as vars with context %}{% set a, b = 1, 2 %}\
                   {% macro m() -%}{% include 'i.j2' %}{% endmacro %}{% from 'x' import y as z, w %}";
        let out = rewrite(src).unwrap();
        assert!(
            out.contains(
                "{% macro m() -%}{% if false %}{{ vars }}{{ a }}{{ b }}{{ z }}{{ w }}{% endif -%}{% include"
            ),
            "{out}"
        );
        // no include in a macro, or nothing assigned: left alone
        assert!(
            rewrite("{% set a = 1 %}{% macro m() %}x{% endmacro %}{% include 'i' %}").is_none()
        );
        assert!(rewrite("{% macro m() %}{% include 'i' %}{% endmacro %}").is_none());
        // raw text and comments are not tags
        assert!(
            rewrite("{% raw %}{% set a = 1 %}{% endraw %}{# {% set b = 1 %} #}{% macro m() %}{% include 'i' %}{% endmacro %}")
                .is_none()
        );
    }
}
