//! A template's `#jinja2:` first line: Jinja settings for that one template, as in Ansible
//! (`#jinja2: trim_blocks: False, variable_start_string: '[%'`). Each pair is `key: value`,
//! the value a Python literal (a quoted string, `True`/`False`).

use crate::error::{Error, Result};

/// The header that starts a template with its own settings.
pub(crate) const HEADER: &str = "#jinja2:";

/// The syntax settings a template renders with.
pub(crate) struct Syntax {
    /// Block, variable and comment start and end strings.
    pub(crate) delimiters: [String; 6],
    pub(crate) trim_blocks: bool,
    pub(crate) lstrip_blocks: bool,
    pub(crate) line_statement_prefix: Option<String>,
    pub(crate) line_comment_prefix: Option<String>,
}

/// A header's value: Python's literal of a string or a boolean.
#[derive(Debug, PartialEq)]
pub(crate) enum Setting {
    Str(String),
    Bool(bool),
}

/// A header's `key: value` pairs, in order.
pub(crate) type Pairs = Vec<(String, Setting)>;

/// Splits a `#jinja2:` header off `text`: the rest of the text and the header's pairs, or
/// `None` without a header. A malformed header is an error with ansible-core's wording.
pub(crate) fn split(text: &str) -> Result<Option<(&str, Pairs)>> {
    let Some(rest) = text.strip_prefix(HEADER) else {
        return Ok(None);
    };
    let Some(eol) = rest.find('\n') else {
        return Err(Error::template(format!(
            "Missing newline after '{HEADER}' override."
        )));
    };
    let (line, body) = (&rest[..eol], &rest[eol + 1..]);
    let mut pairs = Vec::new();
    for pair in line.split(',') {
        if pair.trim().is_empty() {
            return Err(Error::template(format!(
                "Empty '{HEADER}' override pair not allowed."
            )));
        }
        let Some((key, val)) = pair.split_once(':') else {
            return Err(Error::template(format!(
                "Missing key-value separator `:` in '{HEADER}' override pair '{pair}'."
            )));
        };
        let val = val.trim();
        let setting = match val {
            "True" => Setting::Bool(true),
            "False" => Setting::Bool(false),
            _ if val.len() >= 2
                && (val.starts_with('\'') && val.ends_with('\'')
                    || val.starts_with('"') && val.ends_with('"')) =>
            {
                Setting::Str(val[1..val.len() - 1].to_string())
            }
            _ => {
                return Err(Error::template(format!(
                    "Invalid '{HEADER}' override value {val:?}: a quoted string, True or False"
                )));
            }
        };
        pairs.push((key.trim().to_string(), setting));
    }
    Ok(Some((body, pairs)))
}

impl Syntax {
    /// Applies a header's pairs.
    pub(crate) fn apply(&mut self, pairs: &[(String, Setting)]) -> Result<()> {
        for (key, val) in pairs {
            let index = [
                "block_start_string",
                "block_end_string",
                "variable_start_string",
                "variable_end_string",
                "comment_start_string",
                "comment_end_string",
            ]
            .iter()
            .position(|k| k == key);
            match (key.as_str(), val, index) {
                (_, Setting::Str(s), Some(i)) => self.delimiters[i] = s.clone(),
                ("trim_blocks", Setting::Bool(b), _) => self.trim_blocks = *b,
                ("lstrip_blocks", Setting::Bool(b), _) => self.lstrip_blocks = *b,
                ("line_statement_prefix", Setting::Str(s), _) => {
                    self.line_statement_prefix = Some(s.clone());
                }
                ("line_comment_prefix", Setting::Str(s), _) => {
                    self.line_comment_prefix = Some(s.clone());
                }
                // Settings prov's output already follows.
                ("newline_sequence" | "keep_trailing_newline", _, _) => {}
                _ => {
                    return Err(Error::template(format!(
                        "Invalid '{HEADER}' override key '{key}'."
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn headers_like_ansible() {
        let (body, pairs) = split("#jinja2: trim_blocks: False, variable_start_string:'[%'\nx")
            .unwrap()
            .unwrap();
        assert_eq!(body, "x");
        assert_eq!(
            pairs,
            [
                ("trim_blocks".to_string(), Setting::Bool(false)),
                (
                    "variable_start_string".to_string(),
                    Setting::Str("[%".into())
                )
            ]
        );
        assert!(split("plain").unwrap().is_none());
        let e = split("#jinja2: lstrip_blocks=True\n").unwrap_err();
        assert!(e.msg.contains("Missing key-value separator"), "{}", e.msg);
        assert!(split("#jinja2: a: True").is_err());
        let (_, pairs) = split("#jinja2: line_statement_prefix:\":\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(pairs[0].1, Setting::Str(":".into()));
    }
}
