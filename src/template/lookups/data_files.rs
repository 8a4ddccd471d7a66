//! Lookups that read data out of controller files: `csvfile`, `ini` and `unvault`.
//!
//! Files are found like the `file` lookup's (the task's search path, under `files/`). Options
//! come from keywords or, in the older style, from `key=value` words inside a term; an inline
//! option stays set for the following terms, as in Ansible.

use super::{find_file, not_found};
use crate::error::{Error, Result};
use crate::template::Context;
use crate::template::filters::py_str;
use crate::template::mark_unsafe;
use crate::value::Value;
use minijinja::value::ValueKind;
use std::collections::HashMap;
use std::path::Path;

/// Decodes file bytes with a Python codec name (the common ones: UTF-8, ASCII, Latin-1 and
/// Latin-9); Python's universal newlines (`\r\n`, `\r` become `\n`).
pub(super) fn decode(bytes: &[u8], encoding: &str) -> Result<String> {
    let norm = encoding.to_ascii_lowercase().replace(['-', ' '], "_");
    let text = match norm.as_str() {
        "utf_8" | "utf8" | "u8" | "utf" => String::from_utf8(bytes.to_vec()).map_err(|e| {
            Error::template(format!(
                "'utf-8' codec can't decode byte 0x{:02x} in position {}: invalid start byte",
                bytes[e.utf8_error().valid_up_to()],
                e.utf8_error().valid_up_to()
            ))
        })?,
        "utf_8_sig" => {
            let b = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
            String::from_utf8(b.to_vec())
                .map_err(|_| Error::template("'utf-8' codec can't decode the file"))?
        }
        "ascii" | "us_ascii" => {
            if let Some(i) = bytes.iter().position(|b| !b.is_ascii()) {
                return Err(Error::template(format!(
                    "'ascii' codec can't decode byte 0x{:02x} in position {i}: ordinal not in range(128)",
                    bytes[i]
                )));
            }
            String::from_utf8_lossy(bytes).into_owned()
        }
        "latin_1" | "latin1" | "latin" | "l1" | "iso8859_1" | "iso_8859_1" | "8859" | "cp819" => {
            bytes.iter().map(|&b| char::from(b)).collect()
        }
        "iso8859_15" | "iso_8859_15" | "latin9" | "latin_9" | "l9" => bytes
            .iter()
            .map(|&b| match b {
                0xa4 => '€',
                0xa6 => 'Š',
                0xa8 => 'š',
                0xb4 => 'Ž',
                0xb8 => 'ž',
                0xbc => 'Œ',
                0xbd => 'œ',
                0xbe => 'Ÿ',
                _ => char::from(b),
            })
            .collect(),
        _ => return Err(Error::template(format!("unknown encoding: {encoding}"))),
    };
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

fn read_decoded(path: &Path, encoding: &str) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes, encoding)
}

/// An integer option as Ansible's config types convert it (`int`: a whole number or its text).
fn int_option(plugin: &str, name: &str, v: &Value) -> Result<i64> {
    let bad = || {
        Error::template(format!(
            "Config '{name}' for '{plugin}' lookup plugin from 'Direct' has an invalid value: \
             Invalid value provided for 'int': {}",
            crate::template::filters::py_repr(v)
        ))
    };
    if v.kind() == ValueKind::Number {
        return i64::try_from(v.clone()).map_err(|_| bad());
    }
    match v.as_str() {
        Some(s) => s.trim().parse().map_err(|_| bad()),
        None => Err(bad()),
    }
}

/// Python's `csv.reader` with the `excel` dialect and one delimiter character: `"` quotes a
/// field (`""` inside is a quote), text after a closing quote joins the field, an empty line
/// is an empty row.
pub(super) fn csv_rows(text: &str, delim: char) -> Vec<Vec<String>> {
    #[derive(PartialEq)]
    enum S {
        Start,
        Unquoted,
        Quoted,
        AfterQuote,
    }
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut state = S::Start;
    let mut line_started = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' && state != S::Quoted {
            if line_started {
                row.push(std::mem::take(&mut field));
            }
            rows.push(std::mem::take(&mut row));
            state = S::Start;
            line_started = false;
            continue;
        }
        line_started = true;
        match state {
            S::Start | S::Unquoted | S::AfterQuote if c == delim => {
                row.push(std::mem::take(&mut field));
                state = S::Start;
            }
            S::Start if c == '"' => state = S::Quoted,
            S::Quoted if c == '"' => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    state = S::AfterQuote;
                }
            }
            S::Quoted => field.push(c),
            _ => {
                field.push(c);
                state = S::Unquoted;
            }
        }
    }
    if line_started {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The options of `csvfile`, with Ansible's defaults.
fn csv_defaults() -> HashMap<String, Value> {
    [
        ("col", Value::from(1)),
        ("keycol", Value::from(0)),
        ("default", Value::from(())),
        ("delimiter", Value::from("TAB")),
        ("file", Value::from("ansible.csv")),
        ("encoding", Value::from("utf-8")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn check_options(
    opts: &HashMap<String, Value>,
    kw: &HashMap<String, Value>,
    aliases: &[&str],
) -> Result<()> {
    for k in kw.keys() {
        if !opts.contains_key(k) && !aliases.contains(&k.as_str()) {
            return Err(Error::template(format!("'{k}' is not a valid option")));
        }
    }
    Ok(())
}

/// Ansible's `csvfile` lookup: for each search key, column `col` of the first row whose column
/// `keycol` equals it, in `file` (delimiter `TAB` by default), else `default` (nothing when
/// unset; a list default adds its items).
pub(super) fn csvfile(
    terms: &[Value],
    kw: &HashMap<String, Value>,
    ctx: &Context,
) -> Result<Vec<Value>> {
    let mut opts = csv_defaults();
    check_options(&opts, kw, &[])?;
    opts.extend(kw.iter().map(|(k, v)| (k.clone(), v.clone())));
    if terms.is_empty() {
        return Err(Error::template("Search key is required but was not found"));
    }
    let mut out = Vec::new();
    for term in terms {
        let (raw, inline) = crate::playbook::split_free_form(&py_str(term), None, "")?;
        let Some(key) = raw else {
            return Err(Error::template("Search key is required but was not found"));
        };
        for (k, v) in inline {
            if !opts.contains_key(&k) {
                return Err(Error::template(format!("'{k}' is not a valid option")));
            }
            opts.insert(k, Value::from(v));
        }
        let col = int_option("csvfile", "col", &opts["col"])?;
        let keycol = int_option("csvfile", "keycol", &opts["keycol"])?;
        let mut delimiter = py_str(&opts["delimiter"]);
        if delimiter == "TAB" {
            delimiter = "\t".into();
        }
        let mut dchars = delimiter.chars();
        let (Some(delim), None) = (dchars.next(), dchars.next()) else {
            return Err(Error::template(
                "\"delimiter\" must be a 1-character string",
            ));
        };
        let file = py_str(&opts["file"]);
        let path = find_file(ctx, Some("files"), &file).map_err(|_| {
            Error::template(format!(
                "[Errno 2] No such file or directory: '{file}' (Unable to find '{file}' in \
                 expected paths)"
            ))
        })?;
        let text = read_decoded(&path, &py_str(&opts["encoding"]))?;
        let index = |row: &[String], i: i64| -> Result<String> {
            let n = row.len() as i64;
            let j = if i < 0 { n + i } else { i };
            row.get(usize::try_from(j).unwrap_or(usize::MAX))
                .cloned()
                .ok_or_else(|| Error::template("list index out of range"))
        };
        let mut found = None;
        for row in csv_rows(&text, delim) {
            if !row.is_empty() && index(&row, keycol)? == key {
                found = Some(Value::from(index(&row, col)?));
                break;
            }
        }
        match found {
            Some(v) => out.push(mark_unsafe(&v)),
            None => {
                let d = &opts["default"];
                if d.kind() == ValueKind::Seq {
                    out.extend(d.try_iter().into_iter().flatten());
                } else if !d.is_none() && !d.is_undefined() {
                    out.push(d.clone());
                }
            }
        }
    }
    Ok(out)
}

/// One parsed INI file, like Python's `configparser` (strict, `=` and `:` delimiters, `#` and
/// `;` comment lines, indented continuation lines, a `DEFAULT` section inherited by all).
#[derive(Debug, Default)]
pub(crate) struct Ini {
    /// Section name -> (key, value) in file order; `None` is a key without a value.
    pub sections: indexmap::IndexMap<String, indexmap::IndexMap<String, Option<String>>>,
    pub defaults: indexmap::IndexMap<String, Option<String>>,
}

impl Ini {
    /// Parses `text` (`name` is the file name for messages); keys are lowercased unless
    /// `case_sensitive`; a line without `=`/`:` is a key without value when `allow_no_value`.
    pub(crate) fn parse(
        text: &str,
        name: &str,
        case_sensitive: bool,
        allow_no_value: bool,
    ) -> Result<Ini> {
        let mut ini = Ini::default();
        let mut errors: Vec<String> = Vec::new();
        let mut cur: Option<String> = None;
        // The key whose value the following indented lines continue, and its indentation.
        let mut last: Option<(String, usize)> = None;
        for (i, line) in text.split('\n').enumerate() {
            let lineno = i + 1;
            let stripped = line.trim();
            let indent = line.len() - line.trim_start().len();
            if stripped.starts_with('#') || stripped.starts_with(';') {
                continue;
            }
            if stripped.is_empty() {
                // An empty line inside a value is kept (Python's empty_lines_in_values).
                if let Some((k, _)) = &last
                    && let Some(v) = ini.value_mut(cur.as_deref(), k)
                {
                    v.push('\n');
                }
                continue;
            }
            if let Some((k, ind)) = &last
                && indent > *ind
                && let Some(v) = ini.value_mut(cur.as_deref(), k)
            {
                v.push('\n');
                v.push_str(stripped);
                continue;
            }
            // Trailing empty lines of the previous value are dropped.
            if let Some((k, _)) = last.take()
                && let Some(v) = ini.value_mut(cur.as_deref(), &k)
            {
                v.truncate(v.trim_end_matches('\n').len());
            }
            if let Some(sect) = stripped
                .strip_prefix('[')
                .and_then(|r| r.rfind(']').map(|e| &r[..e]))
            {
                if sect != "DEFAULT" && ini.sections.contains_key(sect) {
                    return Err(Error::template(format!(
                        "While reading from '<???>' [line {lineno:2}]: section '{sect}' already exists"
                    )));
                }
                if sect != "DEFAULT" {
                    ini.sections.insert(sect.to_string(), Default::default());
                }
                cur = Some(sect.to_string());
                continue;
            }
            let Some(section) = cur.clone() else {
                return Err(Error::template(format!(
                    "File contains no section headers.\nfile: '<???>', line: {lineno}\n{line:?}"
                )));
            };
            let (key, value) = match stripped.find(['=', ':']) {
                Some(p) => (
                    stripped[..p].trim_end(),
                    Some(stripped[p + 1..].trim().to_string()),
                ),
                None if allow_no_value => (stripped, None),
                None => {
                    errors.push(format!("\t[line {lineno:2}]: {:?}", format!("{line}\n")));
                    continue;
                }
            };
            let key = if case_sensitive {
                key.to_string()
            } else {
                key.to_lowercase()
            };
            let map = if section == "DEFAULT" {
                &mut ini.defaults
            } else {
                ini.sections.entry(section.clone()).or_default()
            };
            if map.contains_key(&key) {
                return Err(Error::template(format!(
                    "While reading from '<???>' [line {lineno:2}]: option '{key}' in section \
                     '{section}' already exists"
                ))
                .hint("duplicate"));
            }
            if value.is_some() {
                last = Some((key.clone(), indent));
            }
            map.insert(key, value);
        }
        if let Some((k, _)) = last.take()
            && let Some(v) = ini.value_mut(cur.as_deref(), &k)
        {
            v.truncate(v.trim_end_matches('\n').len());
        }
        if !errors.is_empty() {
            return Err(Error::template(format!(
                "Source contains parsing errors: '<???>'\n{}",
                errors.join("\n")
            ))
            .hint(format!("in {name}")));
        }
        Ok(ini)
    }

    fn value_mut(&mut self, section: Option<&str>, key: &str) -> Option<&mut String> {
        let map = match section? {
            "DEFAULT" => &mut self.defaults,
            s => self.sections.get_mut(s)?,
        };
        map.get_mut(key)?.as_mut()
    }

    /// The section's items (the `DEFAULT` ones first, as Python's `items()` merges them), or
    /// `None` when there is no such section.
    fn items(&self, section: &str) -> Option<Vec<(String, Option<String>)>> {
        let own = self.sections.get(section)?;
        let mut all = self.defaults.clone();
        for (k, v) in own {
            all.insert(k.clone(), v.clone());
        }
        Some(all.into_iter().collect())
    }

    /// Python's `BasicInterpolation` of `value` in `section`: `%(name)s` is another option's
    /// (interpolated) value, `%%` a percent sign.
    pub(crate) fn interpolate(
        &self,
        section: &str,
        key: &str,
        value: &str,
        depth: usize,
    ) -> Result<String> {
        if depth > 10 {
            return Err(Error::template(format!(
                "Recursion limit exceeded in value substitution: option '{key}' in section \
                 '{section}' contains an interpolation key which cannot be substituted in 10 steps."
            )));
        }
        let mut out = String::new();
        let mut rest = value;
        while let Some(p) = rest.find('%') {
            out.push_str(&rest[..p]);
            let after = &rest[p + 1..];
            if let Some(r) = after.strip_prefix('%') {
                out.push('%');
                rest = r;
            } else if let Some(r) = after.strip_prefix('(') {
                let Some((name, r2)) = r.split_once(")s") else {
                    return Err(Error::template(format!(
                        "bad interpolation variable reference '{}'",
                        &rest[p..]
                    )));
                };
                let lname = name.to_lowercase();
                let found = self
                    .sections
                    .get(section)
                    .and_then(|m| m.get(name).or_else(|| m.get(&lname)))
                    .or_else(|| {
                        self.defaults
                            .get(name)
                            .or_else(|| self.defaults.get(&lname))
                    });
                let Some(v) = found else {
                    return Err(Error::template(format!(
                        "Bad value substitution: option '{key}' in section '{section}' contains \
                         an interpolation key '{lname}' which is not a valid option name. Raw \
                         value: '{value}'"
                    )));
                };
                let v = v.clone().unwrap_or_default();
                out.push_str(&self.interpolate(section, name, &v, depth + 1)?);
                rest = r2;
            } else {
                return Err(Error::template(format!(
                    "'%' must be followed by '%' or '(', found: '{}'",
                    &rest[p..]
                )));
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Splits an old-style `ini` term into its words, a word without `=` continuing the previous
/// option's value (so `file=my file.ini` works) — Ansible's `_parse_params`.
fn ini_inline(term: &str, valid: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current = "key".to_string();
    for (i, word) in term.split_whitespace().enumerate() {
        if word.contains('=') {
            for k in valid {
                if word.contains(&format!("{k}=")) {
                    current = (*k).to_string();
                }
            }
        }
        match out.iter_mut().find(|(k, _)| *k == current) {
            Some((_, v)) if i > 0 && !v.is_empty() => {
                v.push(' ');
                v.push_str(word);
            }
            Some((_, v)) => *v = word.to_string(),
            None => out.push((current.clone(), word.to_string())),
        }
    }
    out
}

const INI_OPTIONS: &[&str] = &[
    "type",
    "file",
    "section",
    "re",
    "encoding",
    "default",
    "case_sensitive",
    "allow_no_value",
    "allow_none",
    "interpolation",
];

/// Ansible's `ini` lookup: the value of each key in `section` of INI `file` (or in a Java
/// properties file with `type=properties`), `default` when missing; with `re=true` the key is a
/// regex (matched at the start) and every matching key's value is returned.
pub(super) fn ini(
    terms: &[Value],
    kw: &HashMap<String, Value>,
    ctx: &Context,
) -> Result<Vec<Value>> {
    let mut opts: HashMap<String, Value> = [
        ("type", Value::from("ini")),
        ("file", Value::from("ansible.ini")),
        ("section", Value::from("global")),
        ("re", Value::from(false)),
        ("encoding", Value::from("utf-8")),
        ("default", Value::from("")),
        ("case_sensitive", Value::from(false)),
        ("allow_no_value", Value::from(false)),
        ("interpolation", Value::from(true)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    check_options(&opts, kw, &["allow_none"])?;
    for (k, v) in kw {
        let k = if k == "allow_none" {
            "allow_no_value"
        } else {
            k
        };
        opts.insert(k.to_string(), v.clone());
    }
    let flag = |opts: &HashMap<String, Value>, k: &str| super::lookup_bool(&opts[k]);
    let mut out = Vec::new();
    for term in terms {
        let term = py_str(term);
        let mut key = term.clone();
        if term.contains('=') || term.trim().contains(' ') {
            let mut got_key = false;
            for (_, param) in ini_inline(&term, INI_OPTIONS) {
                if let Some((k, v)) = param.split_once('=') {
                    if !INI_OPTIONS.contains(&k) {
                        return Err(Error::template(format!("'{k}' is not a valid option.")));
                    }
                    let k = if k == "allow_none" {
                        "allow_no_value"
                    } else {
                        k
                    };
                    opts.insert(k.to_string(), Value::from(v));
                } else if !got_key {
                    // Only the first word is the key: this syntax never had several keys.
                    key = param;
                    got_key = true;
                }
            }
            if !got_key {
                return Err(Error::template(format!(
                    "No key to look up was provided as first term within string inline \
                     options: {term}"
                )));
            }
        }
        let kind = py_str(&opts["type"]);
        if kind != "ini" && kind != "properties" {
            return Err(Error::template(format!(
                "Invalid value '{kind}' for config 'type' for 'ini' lookup plugin."
            )));
        }
        let file = py_str(&opts["file"]);
        let path = find_file(ctx, Some("files"), &file).map_err(|t| {
            let mut e = not_found(&file, &t);
            e.msg = "Invalid filename None.".into();
            e
        })?;
        let mut text = read_decoded(&path, &py_str(&opts["encoding"]))?;
        let mut section = py_str(&opts["section"]);
        if kind == "properties" {
            text.insert_str(0, "[java_properties]\n");
            section = "java_properties".into();
        }
        let parsed = Ini::parse(
            &text,
            &file,
            flag(&opts, "case_sensitive"),
            flag(&opts, "allow_no_value"),
        )
        .map_err(|e| {
            if e.hint.as_deref() == Some("duplicate") {
                Error::template(format!("Duplicate option in '{file}': {}", e.msg))
            } else {
                e
            }
        })?;
        let Some(items) = parsed.items(&section) else {
            return Err(Error::template(format!(
                "No section '{section}' in '{file}'."
            )));
        };
        let interpolation = flag(&opts, "interpolation");
        let resolve = |k: &str, v: &Option<String>| -> Result<Option<String>> {
            match v {
                Some(v) if interpolation => parsed.interpolate(&section, k, v, 0).map(Some),
                other => Ok(other.clone()),
            }
        };
        let text_value = |v: Option<String>| match v {
            Some(s) => mark_unsafe(&Value::from(s)),
            None => Value::from(()),
        };
        if flag(&opts, "re") {
            let re = crate::util::pyregex::PyRegex::anchored(
                &key,
                Default::default(),
                crate::util::pyregex::Anchor::Start,
            )
            .map_err(|e| Error::template(format!("bad regular expression '{key}': {e}")))?;
            for (k, v) in &items {
                if re.is_match(k).unwrap_or(false) {
                    out.push(text_value(resolve(k, v)?));
                }
            }
            continue;
        }
        let lookup_key = if flag(&opts, "case_sensitive") {
            key.clone()
        } else {
            key.to_lowercase()
        };
        match items.iter().find(|(k, _)| *k == lookup_key) {
            Some((k, v)) => {
                if let Some(v) = resolve(k, v)? {
                    out.push(mark_unsafe(&Value::from(v)));
                }
            }
            None => {
                let d = &opts["default"];
                if d.kind() == ValueKind::Seq {
                    out.extend(d.try_iter().into_iter().flatten());
                } else if !d.is_none() {
                    out.push(d.clone());
                }
            }
        }
    }
    Ok(out)
}

/// Ansible's `unvault` lookup: each file's text, decrypted when it is vault-encrypted.
pub(super) fn unvault(terms: &[Value], ctx: &Context) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for t in super::terms_flat(terms) {
        let name = py_str(&t);
        let path = find_file(ctx, Some("files"), &name)
            .map_err(|_| Error::template(format!("Unable to find file matching \"{name}\" ")))?;
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let plain = if text.trim_start().starts_with("$ANSIBLE_VAULT;") {
            ctx.templar()
                .decrypt_vault_text(&text, &path.display().to_string())?
        } else {
            text
        };
        out.push(mark_unsafe(&Value::from(plain)));
    }
    Ok(out)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn csv_rows_like_python() {
        assert_eq!(
            csv_rows("a,b\n\n\"x, y\",\"q\"\"q\"\n,\nlast", ','),
            vec![
                vec!["a".to_string(), "b".into()],
                vec![],
                vec!["x, y".into(), "q\"q".into()],
                vec!["".into(), "".into()],
                vec!["last".into()],
            ]
        );
        // A quote inside an unquoted field is text (the historical csvfile behaviour).
        assert_eq!(
            csv_rows("\"The Rock\" Johnson,Dwayne", ',')[0],
            ["The Rock Johnson", "Dwayne"]
        );
        assert_eq!(csv_rows("a\tb", '\t')[0], ["a", "b"]);
    }

    #[test]
    fn decodes_latin_encodings() {
        assert_eq!(decode(b"\xe9t\xe9\r\n", "iso8859-1").unwrap(), "été\n");
        assert_eq!(decode(b"\xa4", "iso-8859-15").unwrap(), "€");
        assert!(decode(b"\xe9", "utf-8").is_err());
        assert!(
            decode(b"x", "klingon")
                .unwrap_err()
                .msg
                .contains("unknown encoding")
        );
    }

    #[test]
    fn ini_like_configparser() {
        let text = "[DEFAULT]\nbase = /srv\n[s]\nKey = v1\nmulti = a\n  b\npath: %(base)s/x\n\
                    pct = 100%%\n# comment\n";
        let ini = Ini::parse(text, "f.ini", false, false).unwrap();
        let items = ini.items("s").unwrap();
        let get = |k: &str| {
            items
                .iter()
                .find(|(n, _)| n == k)
                .unwrap()
                .1
                .clone()
                .unwrap()
        };
        assert_eq!(get("key"), "v1");
        assert_eq!(get("multi"), "a\nb");
        assert_eq!(get("base"), "/srv");
        assert_eq!(
            ini.interpolate("s", "path", &get("path"), 0).unwrap(),
            "/srv/x"
        );
        assert_eq!(ini.interpolate("s", "pct", &get("pct"), 0).unwrap(), "100%");
        let e = ini.interpolate("s", "x", "run %u", 0).unwrap_err();
        assert!(
            e.msg
                .contains("'%' must be followed by '%' or '(', found: '%u'")
        );
        assert!(ini.items("nope").is_none());
        // Duplicates (also differing only in case), keys without value.
        let dup = Ini::parse("[r]\nname = a\nNAME = b\n", "d", false, false).unwrap_err();
        assert!(
            dup.msg
                .contains("option 'name' in section 'r' already exists")
        );
        assert!(Ini::parse("[r]\nname = a\nNAME = b\n", "d", true, false).is_ok());
        let bare = Ini::parse("[m]\nuser = x\nskip\n", "m", false, false).unwrap_err();
        assert!(bare.msg.contains("Source contains parsing errors"));
        let ini = Ini::parse("[m]\nuser = x\nskip\n", "m", false, true).unwrap();
        assert_eq!(ini.sections["m"]["skip"], None);
    }

    #[test]
    fn ini_inline_options() {
        let got = ini_inline(
            "value[1-2]  section=s1 file=my file.ini re=true",
            INI_OPTIONS,
        );
        assert_eq!(
            got,
            [
                ("key".to_string(), "value[1-2]".to_string()),
                ("section".into(), "section=s1".into()),
                ("file".into(), "file=my file.ini".into()),
                ("re".into(), "re=true".into()),
            ]
        );
    }
}
