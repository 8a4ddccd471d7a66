//! `PyRegex` against Python 3.11's `re` (the interpreter ansible-core 2.19 ran on): every
//! expected value below is what `re.subn`, `re.findall` or `re.compile` gave.

use super::{Anchor, Flags, PyRegex};

const SUBS: &[(&str, &str, &str, &str, usize, &str, usize)] = &[
    ("^v(\\d+)\\.(\\d+).*$", "", "v12.34.5-rc", "\\1", 0, "12", 1),
    (
        "^v(\\d+)\\.(\\d+).*$",
        "",
        "v12.34.5-rc\n",
        "\\1",
        0,
        "12\n",
        1,
    ),
    (
        "(?P<maj>\\d+)\\.(?P<min>\\d+)",
        "",
        "v1.2 v3.4",
        "\\g<min>.\\g<maj>",
        0,
        "v2.1 v4.3",
        2,
    ),
    ("(\\d+)", "", "a1b22c333", "<\\1>", 2, "a<1>b<22>c333", 2),
    ("x*", "", "abxd", "-", 0, "-a-b--d-", 5),
    ("(?<=a)b", "", "ab cb ab", "X", 0, "aX cb aX", 2),
    ("(?<!a)b", "", "ab cb ab", "X", 0, "ab cX ab", 1),
    ("foo(?=bar)", "", "foobar foobaz", "X", 0, "Xbar foobaz", 1),
    ("foo(?!bar)", "", "foobar foobaz", "X", 0, "foobar Xbaz", 1),
    ("(\\w)\\1", "", "aabbcd", "[\\1]", 0, "[a][b]cd", 2),
    (
        "(?P<c>\\w)(?P=c)",
        "",
        "aabbcd",
        "{\\g<c>}",
        0,
        "{a}{b}cd",
        2,
    ),
    ("b\\Z", "", "ab\nab", "c", 0, "ab\nac", 1),
    ("b$", "", "ab\nab\n", "c", 0, "ab\nac\n", 1),
    ("b$", "m", "ab\nab\n", "c", 0, "ac\nac\n", 2),
    ("^a", "m", "ab\nab\n", "c", 0, "cb\ncb\n", 2),
    ("^", "m", "ab\nab\n", ">", 0, ">ab\n>ab\n>", 3),
    ("HELLO", "i", "hello Hello", "bye", 0, "bye bye", 2),
    ("a{2}", "", "aaa a{2}", "X", 0, "Xa a{2}", 1),
    ("a{,2}", "", "aaa", "X", 0, "XXX", 3),
    ("{foo}", "", "x{foo}y", "X", 0, "xXy", 1),
    ("[[]", "", "a[b", "X", 0, "aXb", 1),
    ("[a&&b]", "", "a&b", "X", 0, "XXX", 3),
    ("\\<", "", "a<b", "X", 0, "aXb", 1),
    ("\\x41\\u00e9\\101", "", "A\u{e9}A", "X", 0, "X", 1),
    ("\\d+", "", "x12y", "\\g<0>\\g<0>", 0, "x1212y", 1),
    ("(a)|(b)", "", "ab", "[\\1|\\2]", 0, "[a|][|b]", 2),
    (
        "(a)",
        "",
        "a",
        "\\n\\t\\\\\\.\\101\\0",
        0,
        "\n\u{9}\\\\.A\u{0}",
        1,
    ),
    ("(?i)abc", "", "ABC", "x", 0, "x", 1),
    ("(?x) a b # comment", "", "ab a b", "X", 0, "X a b", 1),
    ("a.c", "s", "a\nc", "X", 0, "X", 1),
    ("(?s)a.c", "", "a\nc", "X", 0, "X", 1),
    ("a(?#comment)b", "", "ab", "X", 0, "X", 1),
    ("\\bfoo\\b", "", "foo food", "X", 0, "X food", 1),
    ("[\\d\\-]+", "", "a1-2b", "X", 0, "aXb", 1),
    ("[+--]", "", "a+,-b", "X", 0, "aXXXb", 3),
    ("", "", "abc", "-", 0, "-a-b-c-", 4),
    ("\\s+", "", "a \u{9} b", " ", 0, "a b", 1),
    ("\u{e9}+", "i", "\u{c9}\u{e9}E", "x", 0, "xE", 1),
];
const FINDALL: &[(&str, &str, &[&[&str]])] = &[
    ("\\d+", "a1b22", &[&["1"], &["22"]]),
    ("(\\w)(\\d)=", "k1=v1 k2=v2", &[&["k", "1"], &["k", "2"]]),
    ("(a)|b", "ab", &[&["a"], &[""]]),
    ("x*", "axxb", &[&[""], &["xx"], &[""], &[""]]),
    ("(?m)^\\w", "ab\ncd", &[&["a"], &["c"]]),
];
const BAD_PATTERNS: &[&str] = &["a\\q", "(a", "a(?i)b", "\\2(a)", "[a", "(?P<1>a)"];
const BAD_TEMPLATES: &[&str] = &["\\2", "\\g<x>", "\\q", "\\g<1", "\\"];

fn flags(f: &str) -> Flags {
    Flags {
        ignorecase: f.contains('i'),
        multiline: f.contains('m'),
        dotall: f.contains('s'),
        ..Flags::default()
    }
}

#[test]
fn substitutions_like_python() {
    let mut bad = Vec::new();
    for (pat, f, text, rep, count, want, n) in SUBS {
        let re = PyRegex::anchored(pat, flags(f), Anchor::Search)
            .unwrap_or_else(|e| panic!("{pat}: {e}"));
        let got = re
            .sub(text, rep, *count)
            .unwrap_or_else(|e| panic!("{pat}: {e}"));
        if got != (want.to_string(), *n) {
            bad.push(format!(
                "{pat:?} on {text:?} with {rep:?}: got {got:?}, want {want:?} ({n})"
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn findall_like_python() {
    for (pat, text, want) in FINDALL {
        let re = PyRegex::anchored(pat, Flags::default(), Anchor::Search).unwrap();
        let got: Vec<Vec<&str>> = re
            .find_all(text)
            .unwrap()
            .iter()
            .map(|m| match re.groups() {
                0 => vec![m[0].unwrap_or("")],
                _ => m[1..].iter().map(|g| g.unwrap_or("")).collect(),
            })
            .collect();
        let want: Vec<Vec<&str>> = want.iter().map(|r| r.to_vec()).collect();
        assert_eq!(got, want, "{pat}");
    }
}

#[test]
fn errors_like_python() {
    for pat in BAD_PATTERNS {
        assert!(
            PyRegex::anchored(pat, Flags::default(), Anchor::Search).is_err(),
            "{pat} compiled"
        );
    }
    let re = PyRegex::anchored("(a)", Flags::default(), Anchor::Search).unwrap();
    for rep in BAD_TEMPLATES {
        // Checked before matching: the text has no `a`.
        assert!(re.sub("xyz", rep, 0).is_err(), "{rep} accepted");
    }
    assert_eq!(
        re.sub("a", r"\2", 0).unwrap_err(),
        "invalid group reference 2 at position 1"
    );
    let bad = PyRegex::anchored(r"a\q", Flags::default(), Anchor::Search).unwrap_err();
    assert_eq!(bad, r"bad escape \q at position 1");
}

#[test]
fn anchors_for_match_and_fullmatch() {
    let start = PyRegex::anchored(r"b|a", Flags::default(), Anchor::Start).unwrap();
    assert!(start.is_match("ab").unwrap());
    assert!(!start.is_match("cab").unwrap());
    let full = PyRegex::anchored(r"a|ab", Flags::default(), Anchor::Full).unwrap();
    assert!(full.is_match("ab").unwrap());
    assert!(!full.is_match("ab\n").unwrap());
    let m = PyRegex::anchored(r"(?P<k>\w+)=(\d+)?", Flags::default(), Anchor::Search).unwrap();
    assert_eq!(
        m.search("x port=").unwrap(),
        Some(vec![Some("port="), Some("port"), None])
    );
    assert_eq!(m.group_index("k"), Some(1));
}
