//! Ansible's chainable undefined for the two places where it matters: `a.b.c is defined`
//! (and `is undefined`) and `a.b.c | default(x)` are false/`x` when `a` itself is undefined.
//!
//! minijinja's strict mode (which prov needs so that using an undefined variable is an error)
//! fails on attribute access of an undefined value, so such chains are rewritten before
//! compiling: `a.b.c is defined` becomes
//! `(a.b.c if (a is defined and a.b is defined) else __prov_undefined) is defined`.
//! Only chains of names, attributes (`.b`, `.0`) and subscripts (`['k']`) directly followed by `is [not] defined|undefined` or `| default`/`| d`
//! are touched; string literals and text outside `{{ }}`/`{% %}` are left alone.
//!
//! The same pass wraps the right operand of `/`, `//` and `%` in [`DIVISOR`]`(operand, op)`,
//! which fails on zero with Python's message (`division by zero`): minijinja's `/` gives
//! infinity and its `//`/`%` fail with a message of their own, where Jinja (Python) raises.
//!
//! The same pass drops the collection prefix of filter and test names written with their fully
//! qualified name (`x | ansible.builtin.to_json`, `x is ansible.builtin.match(...)`,
//! `ansible.legacy.` likewise): prov's filters and tests are Ansible's builtin ones.

/// A name that is never defined: the "undefined" of the rewritten chains.
pub(crate) const UNDEF: &str = "__prov_undefined";

/// The function a divisor goes through (see the module's documentation).
pub(crate) const DIVISOR: &str = "__prov_divisor";

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn word_at(b: &[u8], i: usize, w: &str) -> bool {
    let end = i + w.len();
    end <= b.len() && &b[i..end] == w.as_bytes() && (end == b.len() || !is_ident(b[end]))
}

/// The end (after `]` or `)`) of the subscript or group opening at `b[i]` (`[` or `(`),
/// skipping string literals and nested brackets; `None` if it is not closed.
fn subscript_end(b: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'[' | b'(' => depth += 1,
            b']' | b')' => {
                depth -= 1;
                if depth == 0 {
                    let close = if b[i] == b'(' { b')' } else { b']' };
                    return (b[j] == close).then_some(j + 1);
                }
            }
            q @ (b'\'' | b'"') => {
                j += 1;
                while j < b.len() && b[j] != q {
                    if b[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
            }
            b'}' | b'%' if b.get(j + 1) == Some(&b'}') => return None,
            _ => {}
        }
        j += 1;
    }
    None
}

/// True if the text after a chain makes it a defined-ness check.
fn wants_chain(b: &[u8], i: usize) -> bool {
    let i = skip_ws(b, i);
    if word_at(b, i, "is") {
        let mut j = skip_ws(b, i + 2);
        if word_at(b, j, "not") {
            j = skip_ws(b, j + 3);
        }
        return word_at(b, j, "defined") || word_at(b, j, "undefined");
    }
    if i < b.len() && b[i] == b'|' {
        let j = skip_ws(b, i + 1);
        return word_at(b, j, "default") || word_at(b, j, "d");
    }
    false
}

/// True if the code before `i` ends with `|`, `is` or `is not`: a filter or test name follows.
fn after_filter_or_test(b: &[u8], i: usize) -> bool {
    let mut j = i;
    while j > 0 && b[j - 1].is_ascii_whitespace() {
        j -= 1;
    }
    if j > 0 && b[j - 1] == b'|' {
        return true;
    }
    let word_before = |end: usize, w: &str| {
        end >= w.len()
            && &b[end - w.len()..end] == w.as_bytes()
            && (end == w.len() || !is_ident(b[end - w.len() - 1]))
    };
    if word_before(j, "is") {
        return true;
    }
    if word_before(j, "not") {
        let mut k = j - 3;
        while k > 0 && b[k - 1].is_ascii_whitespace() {
            k -= 1;
        }
        return word_before(k, "is");
    }
    false
}

/// The collection prefixes whose filters and tests are prov's own, and what they become.
/// `ansible._protomatter` is ansible-core's collection of test helpers (`finalize`,
/// `tagged_with`), which its integration targets use.
const COLLECTIONS: [(&str, &str); 3] = [
    ("ansible.builtin.", ""),
    ("ansible.legacy.", ""),
    ("ansible._protomatter.", "_protomatter_"),
];

/// The prefix of the local name a collection's filter or test (`ns.coll.name`, which minijinja
/// cannot parse) is written as: `__prov_fq__ns__coll__name` (see `plugins::jinja`, which
/// calls Ansible's plugin of the dotted name).
pub(crate) const FQ: &str = "__prov_fq__";

/// The end of a dotted name of at least three parts (`ns.coll.name`) starting at `b[i]`.
fn dotted_end(b: &[u8], i: usize) -> Option<usize> {
    let mut e = i;
    let mut parts = 0;
    loop {
        if e >= b.len() || !is_ident_start(b[e]) {
            return None;
        }
        while e < b.len() && is_ident(b[e]) {
            e += 1;
        }
        parts += 1;
        if e + 1 < b.len() && b[e] == b'.' && is_ident_start(b[e + 1]) {
            e += 1;
        } else {
            break;
        }
    }
    (parts >= 3).then_some(e)
}

/// [`DIVISOR`]: the divisor of `op` as it is, or Python's error when it is zero.
pub(crate) fn divisor(
    v: minijinja::Value,
    op: String,
) -> Result<minijinja::Value, minijinja::Error> {
    use minijinja::value::ValueKind;
    let zero = match v.kind() {
        ValueKind::Bool => !v.is_true(),
        ValueKind::Number => f64::try_from(v.clone()).is_ok_and(|f| f == 0.0),
        _ => false,
    };
    if !zero {
        return Ok(v);
    }
    let float = v.as_i64().is_none() && v.kind() == ValueKind::Number;
    let msg = match (op.as_str(), float) {
        ("//", false) => "integer division or modulo by zero",
        ("//", true) => "float floor division by zero",
        ("%", false) => "integer modulo by zero",
        ("%", true) => "float modulo by zero",
        (_, false) => "division by zero",
        (_, true) => "float division by zero",
    };
    Err(minijinja::Error::new(
        minijinja::ErrorKind::InvalidOperation,
        msg,
    ))
}

/// Template text as it was written, without the [`DIVISOR`] calls [`rewrite`] added (for
/// error messages that quote it).
pub(crate) fn unwrap_divisors(text: &str) -> String {
    let mut out = text.to_string();
    while let Some(p) = out.find(&format!("{DIVISOR}(")) {
        let open = p + DIVISOR.len();
        let Some(close) = group_end(out.as_bytes(), open) else {
            break;
        };
        let inner = &out[open + 1..close - 1];
        let Some(comma) = inner.rfind(", '") else {
            break;
        };
        out = format!("{}{}{}", &out[..p], &inner[..comma], &out[close..]);
    }
    out
}

/// The end of the bracketed group opening at `b[i]` (`(`, `[` or `{`), skipping string
/// literals; `None` if it is not closed before the end of the expression.
fn group_end(b: &[u8], i: usize) -> Option<usize> {
    let mut stack = vec![];
    let mut j = i;
    while j < b.len() {
        match b[j] {
            o @ (b'(' | b'[' | b'{') => stack.push(match o {
                b'(' => b')',
                b'[' => b']',
                _ => b'}',
            }),
            c @ (b')' | b']' | b'}') => {
                if stack.pop() != Some(c) {
                    return None;
                }
                if stack.is_empty() {
                    return Some(j + 1);
                }
            }
            q @ (b'\'' | b'"') => {
                j += 1;
                while j < b.len() && b[j] != q {
                    if b[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// The end of the operand of a multiplicative operator starting at `b[i]` (Jinja's grammar:
/// unary signs, a primary with its attributes, subscripts and calls, then filters and tests,
/// then `** operand`); `None` if it is not one this reads.
fn operand_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = skip_ws(b, i);
    while j < b.len() && (b[j] == b'-' || b[j] == b'+') {
        j = skip_ws(b, j + 1);
    }
    let c = *b.get(j)?;
    j = if is_ident_start(c) {
        let mut e = j;
        while e < b.len() && is_ident(b[e]) {
            e += 1;
        }
        if matches!(
            &b[j..e],
            b"not" | b"and" | b"or" | b"in" | b"is" | b"if" | b"else"
        ) {
            return None;
        }
        e
    } else if c.is_ascii_digit() || (c == b'.' && b.get(j + 1).is_some_and(u8::is_ascii_digit)) {
        let mut e = j;
        while e < b.len()
            && (b[e].is_ascii_alphanumeric()
                || b[e] == b'.'
                || b[e] == b'_'
                || ((b[e] == b'-' || b[e] == b'+') && matches!(b[e - 1], b'e' | b'E')))
        {
            e += 1;
        }
        e
    } else if c == b'\'' || c == b'"' {
        let mut e = j + 1;
        while e < b.len() && b[e] != c {
            if b[e] == b'\\' {
                e += 1;
            }
            e += 1;
        }
        (e < b.len()).then_some(e + 1)?
    } else if c == b'(' || c == b'[' {
        group_end(b, j)?
    } else {
        return None;
    };
    loop {
        if j + 1 < b.len() && b[j] == b'.' && is_ident(b[j + 1]) {
            j += 1;
            while j < b.len() && is_ident(b[j]) {
                j += 1;
            }
        } else if j < b.len() && (b[j] == b'[' || b[j] == b'(') {
            j = group_end(b, j)?;
        } else {
            let k = skip_ws(b, j);
            let name_from = if k < b.len() && b[k] == b'|' && b.get(k + 1) != Some(&b'|') {
                skip_ws(b, k + 1)
            } else if word_at(b, k, "is") {
                let mut n = skip_ws(b, k + 2);
                if word_at(b, n, "not") {
                    n = skip_ws(b, n + 3);
                }
                n
            } else if b[k..].starts_with(b"**") {
                return operand_end(b, k + 2);
            } else {
                return Some(j);
            };
            if name_from >= b.len() || !is_ident_start(b[name_from]) {
                return None;
            }
            j = name_from;
            while j < b.len()
                && (is_ident(b[j]) || (b[j] == b'.' && b.get(j + 1).is_some_and(|&x| is_ident(x))))
            {
                j += 1;
            }
            if j < b.len() && b[j] == b'(' {
                j = group_end(b, j)?;
            }
        }
    }
}

/// Rewrites the chains in template source; `None` if there is nothing to rewrite.
pub(crate) fn rewrite(src: &str) -> Option<String> {
    if !(src.contains(" defined")
        || src.contains("default")
        || src.contains("| d")
        || src.contains("|d")
        || src.contains("ansible.")
        || src.contains('.')
        || src.contains('/')
        || src.contains('%'))
    {
        return None;
    }
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 32);
    let mut last = 0;
    let mut i = 0;
    let mut in_block: Option<u8> = None; // b'}' for {{ }}, b'%' for {% %}
    let mut changed = false;
    while i < b.len() {
        match in_block {
            None => {
                if b[i] == b'{' && i + 1 < b.len() && (b[i + 1] == b'{' || b[i + 1] == b'%') {
                    in_block = Some(if b[i + 1] == b'{' { b'}' } else { b'%' });
                    i += 2;
                } else if b[i] == b'{' && i + 1 < b.len() && b[i + 1] == b'#' {
                    i = src[i..].find("#}").map(|p| i + p + 2).unwrap_or(b.len());
                } else {
                    i += 1;
                }
            }
            Some(close) => {
                let c = b[i];
                if c == close && i + 1 < b.len() && b[i + 1] == b'}' {
                    in_block = None;
                    i += 2;
                } else if c == b'\'' || c == b'"' {
                    i += 1;
                    while i < b.len() && b[i] != c {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    i += 1;
                } else if (c == b'/' || c == b'%')
                    && let op_len = if c == b'/' && b.get(i + 1) == Some(&b'/') {
                        2
                    } else {
                        1
                    }
                    && let Some(end) = operand_end(b, i + op_len)
                {
                    // The divisor of `/`, `//` or `%` goes through DIVISOR; what it holds is
                    // rewritten on its own.
                    let from = skip_ws(b, i + op_len);
                    let operand = &src[from..end];
                    let inner = rewrite(&format!("{{{{{operand}}}}}"))
                        .map(|r| r[2..r.len() - 2].to_string())
                        .unwrap_or_else(|| operand.to_string());
                    out.push_str(&src[last..from]);
                    out.push_str(&format!("{DIVISOR}({inner}, '{}')", &src[i..i + op_len]));
                    last = end;
                    i = end;
                    changed = true;
                } else if let Some((prefix, local)) = COLLECTIONS
                    .iter()
                    .find(|(p, _)| b[i..].starts_with(p.as_bytes()))
                    .filter(|_| i == 0 || !(is_ident(b[i - 1]) || b[i - 1] == b'.'))
                    .filter(|_| after_filter_or_test(b, i))
                {
                    out.push_str(&src[last..i]);
                    out.push_str(local);
                    i += prefix.len();
                    last = i;
                    changed = true;
                } else if let Some(end) = dotted_end(b, i)
                    .filter(|_| i == 0 || !(is_ident(b[i - 1]) || b[i - 1] == b'.'))
                    .filter(|_| after_filter_or_test(b, i))
                {
                    // A collection's filter or test: a name minijinja can parse.
                    out.push_str(&src[last..i]);
                    out.push_str(FQ);
                    out.push_str(&src[i..end].replace('.', "__"));
                    i = end;
                    last = i;
                    changed = true;
                } else if (is_ident_start(c) || c == b'(')
                    && (i == 0 || !(is_ident(b[i - 1]) || matches!(b[i - 1], b'.' | b']' | b')')))
                {
                    // Read a chain of attributes, subscripts and calls: `a.b.0['c'][d]`,
                    // `(x | f).y`, `lookup('v', k).y` (a call belongs to the step before it).
                    let start = i;
                    let mut ends = vec![];
                    let first_end = if c == b'(' {
                        subscript_end(b, i)
                    } else {
                        let mut e = i;
                        while e < b.len() && is_ident(b[e]) {
                            e += 1;
                        }
                        Some(e)
                    };
                    let Some(first_end) = first_end else {
                        i += 1;
                        continue;
                    };
                    let first = &src[start..first_end];
                    i = first_end;
                    ends.push(i);
                    loop {
                        if i + 1 < b.len() && b[i] == b'.' && is_ident(b[i + 1]) {
                            i += 1;
                            while i < b.len() && is_ident(b[i]) {
                                i += 1;
                            }
                        } else if i < b.len() && (b[i] == b'[' || b[i] == b'(') {
                            let call = b[i] == b'(';
                            match subscript_end(b, i) {
                                Some(e) => i = e,
                                None => break,
                            }
                            if call {
                                ends.pop();
                            }
                        } else {
                            break;
                        }
                        ends.push(i);
                    }
                    let keyword =
                        matches!(first, "is" | "not" | "and" | "or" | "in" | "if" | "else");
                    if ends.len() > 1 && !keyword && wants_chain(b, i) {
                        let checks: Vec<String> = ends[..ends.len() - 1]
                            .iter()
                            .map(|&e| format!("{} is defined", &src[start..e]))
                            .collect();
                        out.push_str(&src[last..start]);
                        out.push_str(&format!(
                            "({} if ({}) else {UNDEF})",
                            &src[start..i],
                            checks.join(" and ")
                        ));
                        last = i;
                        changed = true;
                    } else {
                        // Not a chain to rewrite: read on inside it (arguments, groups).
                        i = if c == b'(' { start + 1 } else { first_end };
                    }
                } else {
                    i += 1;
                }
            }
        }
    }
    if !changed {
        return None;
    }
    out.push_str(&src[last..]);
    Some(out)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn divisors_go_through_the_zero_check() {
        let d = |s: &str| rewrite(s).unwrap_or_else(|| s.to_string());
        assert_eq!(
            d("{{ 5 / 0 | int }}"),
            "{{ 5 / __prov_divisor(0 | int, '/') }}"
        );
        assert_eq!(
            d("{{ a // b.c[1] + 1 }}"),
            "{{ a // __prov_divisor(b.c[1], '//') + 1 }}"
        );
        assert_eq!(
            d("{% set x = n % (m - 1) %}"),
            "{% set x = n % __prov_divisor((m - 1), '%') %}"
        );
        assert_eq!(
            d("{{ 1 / -x ** 2 * 3 }}"),
            "{{ 1 / __prov_divisor(-x ** 2, '/') * 3 }}"
        );
        // Not operators: text, strings, `%}` and comments.
        assert_eq!(
            d("a/b {{ 'x/y' }} {% if 1 %}{# 1/0 #}{% endif %}"),
            "a/b {{ 'x/y' }} {% if 1 %}{# 1/0 #}{% endif %}"
        );
        assert_eq!(
            unwrap_divisors(&d("{{ a // b.c[1] + 1 / (2 % x) }}")),
            "{{ a // b.c[1] + 1 / (2 % x) }}"
        );
        // Chains inside a divisor are still rewritten.
        assert_eq!(
            d("{{ 1 / (a.b | default(1)) }}"),
            "{{ 1 / __prov_divisor(((a.b if (a is defined) else __prov_undefined) | default(1)), '/') }}"
        );
    }

    #[test]
    fn rewrites_only_defined_checks_and_defaults() {
        assert_eq!(
            rewrite("{{ a.b.c is defined }}").unwrap(),
            "{{ (a.b.c if (a is defined and a.b is defined) else __prov_undefined) is defined }}"
        );
        assert_eq!(
            rewrite("{% if x.y is not defined %}{{ p.q | default('z') }}{% endif %}").unwrap(),
            "{% if (x.y if (x is defined) else __prov_undefined) is not defined %}{{ (p.q if (p is defined) else __prov_undefined) | default('z') }}{% endif %}"
        );
        assert_eq!(rewrite("{{ a is defined }}"), None);
        assert_eq!(rewrite("{{ 'a.b is defined' }} a.b is defined"), None);
        assert_eq!(rewrite("{{ a.b == 1 }} | default"), None);
        assert_eq!(rewrite("{{ a() is defined }}"), None);
    }

    #[test]
    fn rewrites_subscripts_and_numeric_attributes() {
        assert_eq!(
            rewrite("{{ l.1.foo is not defined }}").unwrap(),
            "{{ (l.1.foo if (l is defined and l.1 is defined) else __prov_undefined) is not defined }}"
        );
        assert_eq!(
            rewrite("{{ d['a'][x % 2].b | default(1) }}").unwrap(),
            "{{ (d['a'][x % 2].b if (d is defined and d['a'] is defined and d['a'][x % 2] is defined) else __prov_undefined) | default(1) }}"
        );
        assert_eq!(rewrite("{{ d['a' is defined }}"), None);
        assert_eq!(
            rewrite("{{ ('k' | f(c)).s | default('a') }}").unwrap(),
            "{{ (('k' | f(c)).s if (('k' | f(c)) is defined) else __prov_undefined) | default('a') }}"
        );
        // A call is part of the step before it (methods are not attributes).
        assert_eq!(
            rewrite("{{ x.items().a is defined }}").unwrap(),
            "{{ (x.items().a if (x is defined and x.items() is defined) else __prov_undefined) is defined }}"
        );
        // Chains inside arguments and groups are still found.
        assert_eq!(
            rewrite("{{ f(a.b | default(1)) + (c.d is defined) }}").unwrap(),
            "{{ f((a.b if (a is defined) else __prov_undefined) | default(1)) + ((c.d if (c is defined) else __prov_undefined) is defined) }}"
        );
    }

    #[test]
    fn drops_collection_prefixes_of_filters_and_tests() {
        assert_eq!(
            rewrite("{{ x | ansible.builtin.to_json }}{% if y is not ansible.legacy.match('a') %}")
                .unwrap(),
            "{{ x | to_json }}{% if y is not match('a') %}"
        );
        assert_eq!(
            rewrite("{{ x|ansible.builtin.d(1) is ansible.builtin.string }}").unwrap(),
            "{{ x|d(1) is string }}"
        );
        assert_eq!(rewrite("{{ ansible.builtin.x }} | ansible.builtin.y"), None);
        assert_eq!(rewrite("{{ 'a | ansible.builtin.b' }}"), None);
        assert_eq!(
            rewrite("{{ x | ansible._protomatter.finalize }}").unwrap(),
            "{{ x | _protomatter_finalize }}"
        );
        assert_eq!(
            rewrite("{{ x | community.general.json_query('a') is ns.c.t }}").unwrap(),
            "{{ x | __prov_fq__community__general__json_query('a') is __prov_fq__ns__c__t }}"
        );
        assert_eq!(rewrite("{{ a.b.c | e.f }}"), None);
        assert_eq!(rewrite("{{ a.b.c | x }}"), None);
    }
}
