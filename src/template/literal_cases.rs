//! Jinja string literals against ansible-core 2.19.14, case by case: each Jinja expression below
//! was put into a playbook as a task argument in YAML double-quoted, single-quoted and plain
//! form, inside `{% set %}`, in a template file and in a `when:` condition, and run with
//! ansible-playbook; the expected values are what it wrote (`None`: it failed to template).

use super::{Context, Templar};
use crate::value::{Value, Vars};
use std::path::Path;
use std::sync::Arc;

/// (Jinja expression, as a task argument, inside `{% set %}`, in a template file or condition).
type Case = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

const CASES: &[Case] = &[
    ("'\\1'", Some("\\1"), Some("\u{1}"), Some("\u{1}")),
    ("\"\\1\"", Some("\\1"), Some("\u{1}"), Some("\u{1}")),
    ("'\\\\1'", Some("\\\\1"), Some("\\1"), Some("\\1")),
    ("\"\\\\1\"", Some("\\\\1"), Some("\\1"), Some("\\1")),
    ("'\\n'", Some("\\n"), Some("\n"), Some("\n")),
    ("\"\\n\"", Some("\\n"), Some("\n"), Some("\n")),
    ("'\\t'", Some("\\t"), Some("\t"), Some("\t")),
    ("\"\\t\"", Some("\\t"), Some("\t"), Some("\t")),
    ("'\\\\'", Some("\\\\"), Some("\\"), Some("\\")),
    ("\"\\\\\"", Some("\\\\"), Some("\\"), Some("\\")),
    ("'\\d'", Some("\\d"), Some("\\d"), Some("\\d")),
    ("\"\\d\"", Some("\\d"), Some("\\d"), Some("\\d")),
    ("'\\x41'", Some("\\x41"), Some("A"), Some("A")),
    ("\"\\x41\"", Some("\\x41"), Some("A"), Some("A")),
    ("'\\u00e9'", Some("\\u00e9"), Some("\u{e9}"), Some("\u{e9}")),
    (
        "\"\\u00e9\"",
        Some("\\u00e9"),
        Some("\u{e9}"),
        Some("\u{e9}"),
    ),
    (
        "'\\N{LATIN SMALL LETTER E WITH ACUTE}'",
        Some("\\N{LATIN SMALL LETTER E WITH ACUTE}"),
        Some("\u{e9}"),
        Some("\u{e9}"),
    ),
    (
        "\"\\N{LATIN SMALL LETTER E WITH ACUTE}\"",
        Some("\\N{LATIN SMALL LETTER E WITH ACUTE}"),
        Some("\u{e9}"),
        Some("\u{e9}"),
    ),
    ("'\\101'", Some("\\101"), Some("A"), Some("A")),
    ("\"\\101\"", Some("\\101"), Some("A"), Some("A")),
    ("'\\0'", Some("\\0"), Some("\u{0}"), Some("\u{0}")),
    ("\"\\0\"", Some("\\0"), Some("\u{0}"), Some("\u{0}")),
    ("'\\/'", Some("\\/"), Some("\\/"), Some("\\/")),
    ("\"\\/\"", Some("\\/"), Some("\\/"), Some("\\/")),
    ("'\\a'", Some("\\a"), Some("\u{7}"), Some("\u{7}")),
    ("\"\\a\"", Some("\\a"), Some("\u{7}"), Some("\u{7}")),
    ("'\\v'", Some("\\v"), Some("\u{b}"), Some("\u{b}")),
    ("\"\\v\"", Some("\\v"), Some("\u{b}"), Some("\u{b}")),
    ("'\u{e9}'", Some("\u{e9}"), Some("\u{e9}"), Some("\u{e9}")),
    ("\"\u{e9}\"", Some("\u{e9}"), Some("\u{e9}"), Some("\u{e9}")),
    (
        "'\\U0001F600'",
        Some("\\U0001F600"),
        Some("\u{1f600}"),
        Some("\u{1f600}"),
    ),
    (
        "\"\\U0001F600\"",
        Some("\\U0001F600"),
        Some("\u{1f600}"),
        Some("\u{1f600}"),
    ),
    ("'\\g<1>'", Some("\\g<1>"), Some("\\g<1>"), Some("\\g<1>")),
    ("\"\\g<1>\"", Some("\\g<1>"), Some("\\g<1>"), Some("\\g<1>")),
    ("'a\\qb'", Some("a\\qb"), Some("a\\qb"), Some("a\\qb")),
    ("\"a\\qb\"", Some("a\\qb"), Some("a\\qb"), Some("a\\qb")),
    ("'\\x4'", Some("\\x4"), None, None),
    ("\"\\x4\"", Some("\\x4"), None, None),
    ("'\\777'", Some("\\777"), Some("\u{1ff}"), Some("\u{1ff}")),
    ("\"\\777\"", Some("\\777"), Some("\u{1ff}"), Some("\u{1ff}")),
    ("'\\q'", Some("\\q"), Some("\\q"), Some("\\q")),
    ("\"\\q\"", Some("\\q"), Some("\\q"), Some("\\q")),
    ("'it\\'s'", Some("it\\'s"), Some("it's"), Some("it's")),
    (
        "\"say \\\"hi\\\"\"",
        Some("say \\\"hi\\\""),
        Some("say \"hi\""),
        Some("say \"hi\""),
    ),
    (
        "version_output | regex_replace('^v(\\d+)\\.(\\d+).*$', '\\1')",
        Some("12"),
        Some("\u{1}"),
        Some("\u{1}"),
    ),
    (
        "version_output | regex_replace(\"^v(\\d+)\\.(\\d+).*$\", \"\\1\")",
        Some("12"),
        Some("\u{1}"),
        Some("\u{1}"),
    ),
    (
        "version_output | regex_replace('^v(\\d+)\\.(\\d+).*$', '\\\\1')",
        Some("\\1"),
        Some("12"),
        Some("12"),
    ),
    (
        "version_output | regex_replace('^v(?P<maj>\\d+)\\.(\\d+).*$', '\\g<maj>-\\g<2>')",
        Some("12-34"),
        Some("12-34"),
        Some("12-34"),
    ),
    (
        "version_output | regex_replace('(\\d+)', '<\\1>\\n')",
        Some("v<12>\n.<34>\n.<5>\n-rc"),
        Some("v<\u{1}>\n.<\u{1}>\n.<\u{1}>\n-rc"),
        Some("v<\u{1}>\n.<\u{1}>\n.<\u{1}>\n-rc"),
    ),
];

fn yaml_double(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn yaml_single(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn text(r: crate::error::Result<Value>) -> Option<String> {
    r.ok().map(|v| super::py_str(&v))
}

#[test]
fn string_literals_like_ansible_core() {
    let templar = Templar::new();
    let mut vars = Vars::new();
    vars.insert("version_output".into(), Value::from("v12.34.5-rc"));
    let ctx = Context::new(&templar, vec![Arc::new(vars)]);
    let mut bad = Vec::new();
    for (expr, arg, set, tpl) in CASES {
        let src = format!("{{{{ {expr} }}}}");
        let mut doc = format!("dq: {}\nsq: {}\n", yaml_double(&src), yaml_single(&src));
        let plain = !src.contains(": ") && !src.contains(" #");
        if plain {
            doc.push_str(&format!("pl: v={src}\n"));
        }
        let node = crate::yaml::load_str(&doc, Path::new("case.yml")).unwrap();
        for style in ["dq", "sq", "pl"] {
            let Some(t) = node.get(style).and_then(|n| n.as_str()) else {
                continue;
            };
            let want = arg.map(|a| {
                if style == "pl" {
                    format!("v={a}")
                } else {
                    a.to_string()
                }
            });
            let got = text(templar.render_str(t, &ctx));
            if got != want {
                bad.push(format!("{style} {expr}: got {got:?}, want {want:?}"));
            }
        }
        let stmt = format!("{{% set x = {expr} %}}{{{{ x }}}}");
        let got = text(templar.render_str(&stmt, &ctx));
        if got.as_deref() != *set {
            bad.push(format!("set {expr}: got {got:?}, want {set:?}"));
        }
        let got = templar.render_template_text(&src, &ctx).ok();
        if got.as_deref() != *tpl {
            bad.push(format!("template file {expr}: got {got:?}, want {tpl:?}"));
        }
        let got = text(templar.eval(expr, &ctx));
        if got.as_deref() != *tpl {
            bad.push(format!("condition {expr}: got {got:?}, want {tpl:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
