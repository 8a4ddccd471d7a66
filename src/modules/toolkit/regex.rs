//! Python `re` for the modules (`lineinfile`, `replace`, `blockinfile`): the shared
//! `util::pyregex::PyRegex` (fancy-regex: look-around, backreferences, `(?P<name>...)`,
//! Python's replacement templates), with the module errors Ansible gives.

use crate::error::{Error, Result};
use crate::util::pyregex::{Anchor, Flags, Groups, PyRegex};

/// A compiled Python regular expression (search semantics, as `re.search`).
#[derive(Debug, Clone)]
pub struct Regex {
    re: PyRegex,
    pattern: String,
}

/// Compiles a Python `re` pattern; `flags` are the letters of inline flags (`m`, `s`, `i`).
pub fn py_regex(pattern: &str, flags: &str) -> Result<Regex> {
    let f = Flags {
        ignorecase: flags.contains('i'),
        multiline: flags.contains('m'),
        dotall: flags.contains('s'),
        ..Flags::default()
    };
    let re = PyRegex::anchored(pattern, f, Anchor::Search)
        .map_err(|e| Error::failed(format!("invalid regular expression '{pattern}': {e}")))?;
    Ok(Regex {
        re,
        pattern: pattern.to_string(),
    })
}

impl Regex {
    fn err(&self, e: String) -> Error {
        Error::failed(format!("regular expression '{}' failed: {e}", self.pattern))
    }

    /// Whether the pattern matches anywhere in `s` (a match that exceeds fancy-regex's
    /// backtracking limit counts as none).
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s).unwrap_or(false)
    }

    /// The groups of the first match in `s` (group 0 is the whole match; `None` also when the
    /// backtracking limit is exceeded).
    pub fn captures<'t>(&self, s: &'t str) -> Option<Groups<'t>> {
        self.re.search(s).ok().flatten()
    }

    /// Python's `Match.expand(template)` (`\1`, `\g<name>`) for groups from [`Regex::captures`].
    pub fn expand(&self, template: &str, groups: &Groups<'_>) -> Result<String> {
        self.re
            .expand(template, groups)
            .map_err(|e| Error::failed(format!("invalid replacement '{template}': {e}")))
    }

    /// Python's `re.subn(pattern, template, s)`: the new text and the number of replacements.
    pub fn sub(&self, s: &str, template: &str) -> Result<(String, usize)> {
        self.re.sub(s, template, 0).map_err(|e| self.err(e))
    }

    /// The byte range of the first match in `s`.
    pub fn find_span(&self, s: &str) -> Option<(usize, usize)> {
        let groups = self.re.search(s).ok().flatten()?;
        groups.first().copied().flatten().map(|g| {
            let start = g.as_ptr() as usize - s.as_ptr() as usize;
            (start, start + g.len())
        })
    }

    /// Whether the pattern turns on multi-line mode itself (a leading `(?m)`, `(?im)`, ...).
    pub fn inline_multiline(&self) -> bool {
        self.pattern
            .strip_prefix("(?")
            .and_then(|r| r.split_once(')'))
            .is_some_and(|(f, _)| f.contains('m') && f.chars().all(|c| c.is_ascii_alphabetic()))
    }

    /// The byte range of named group `name` in the first match in `s`.
    pub fn group_span(&self, s: &str, name: &str) -> Result<Option<(usize, usize)>> {
        let Some(i) = self.re.group_index(name) else {
            return Ok(None);
        };
        let Some(groups) = self.re.search(s).map_err(|e| self.err(e))? else {
            return Ok(None);
        };
        Ok(groups.get(i).copied().flatten().map(|g| {
            let start = g.as_ptr() as usize - s.as_ptr() as usize;
            (start, start + g.len())
        }))
    }
}
