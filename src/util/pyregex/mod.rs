//! Python `re`, in one place: the template filters and tests (`regex_replace`, `is match`,
//! ...) compile Python patterns into [`PyRegex`] (on `fancy-regex`, so look-around,
//! backreferences and `(?P=name)` work) and get Python's results: `re.sub` replacement
//! templates, `re.findall` groups, empty matches next to a previous match (Python 3.7+).
//! The `translate` module says where the syntaxes differ and how each difference is rewritten.
//! The modules (`lineinfile`, `replace`, `blockinfile`) use it too, through
//! `modules::toolkit::regex`.

#[cfg(test)]
mod cases;
mod template;
mod translate;

pub use translate::Flags;

use template::Piece;

/// Where a pattern must match: anywhere (`re.search`), at the start (`re.match`) or the whole
/// text (`re.fullmatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// `re.search`
    Search,
    /// `re.match`
    Start,
    /// `re.fullmatch`
    Full,
}

/// A compiled Python pattern.
#[derive(Debug, Clone)]
pub struct PyRegex {
    re: fancy_regex::Regex,
    groups: usize,
    names: Vec<(String, usize)>,
}

/// The groups of one match (index 0 is the whole match); `None` for a group that did not take
/// part.
pub type Groups<'t> = Vec<Option<&'t str>>;

/// Python's wording of a compile error fancy-regex words differently (where prov knows it).
fn python_message(e: &str) -> String {
    if let Some(rest) = e.strip_prefix("Parsing error at position ")
        && let Some((pos, what)) = rest.split_once(": ")
        && what == "Target of repeat operator is invalid"
    {
        return format!("nothing to repeat at position {pos}");
    }
    e.to_string()
}

impl PyRegex {
    /// Compiles `pattern` like Python's `re.compile(pattern, flags)`, for `re.search`,
    /// `re.match` or `re.fullmatch`; the error is Python's message where prov knows it.
    pub fn anchored(pattern: &str, flags: Flags, anchor: Anchor) -> Result<Self, String> {
        let t = translate::translate(pattern, flags)?;
        let body = match anchor {
            Anchor::Search => t.body,
            Anchor::Start => format!(r"\A(?:{})", t.body),
            Anchor::Full => format!(r"\A(?:{})\z", t.body),
        };
        let re = fancy_regex::RegexBuilder::new(&body)
            .case_insensitive(t.flags.ignorecase)
            .multi_line(t.flags.multiline)
            .dot_matches_new_line(t.flags.dotall)
            .build()
            .map_err(|e| python_message(&e.to_string()))?;
        Ok(PyRegex {
            re,
            groups: t.groups,
            names: t.names,
        })
    }

    /// The number of capture groups (Python's `pattern.groups`).
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The number of the group called `name`.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.names.iter().find(|(n, _)| n == name).map(|(_, i)| *i)
    }

    /// True if the pattern matches somewhere in `s` (or where its anchor says).
    pub fn is_match(&self, s: &str) -> Result<bool, String> {
        self.re.is_match(s).map_err(|e| e.to_string())
    }

    /// The first match (`re.search`).
    pub fn search<'t>(&self, s: &'t str) -> Result<Option<Groups<'t>>, String> {
        Ok(self
            .re
            .captures(s)
            .map_err(|e| e.to_string())?
            .map(|c| self.groups_of(&c)))
    }

    fn groups_of<'t>(&self, c: &fancy_regex::Captures<'t, str>) -> Groups<'t> {
        (0..=self.groups)
            .map(|i| c.get(i).map(|m| m.as_str()))
            .collect()
    }

    /// The matches Python's `finditer` gives, at most `limit` (0: all): after an empty match
    /// the next one may not be empty at the same place; an empty match right after a
    /// non-empty one is kept.
    fn matches<'t>(
        &self,
        s: &'t str,
        limit: usize,
    ) -> Result<Vec<fancy_regex::Captures<'t, str>>, String> {
        let mut out = Vec::new();
        let mut pos = 0;
        let mut after_empty = false;
        while pos <= s.len() && (limit == 0 || out.len() < limit) {
            let Some(c) = self
                .re
                .captures_from_pos(s, pos)
                .map_err(|e| e.to_string())?
            else {
                break;
            };
            let Some(m) = c.get(0) else { break };
            if after_empty && m.start() == pos && m.end() == pos {
                match s[pos..].chars().next() {
                    Some(ch) => {
                        pos += ch.len_utf8();
                        after_empty = false;
                        continue;
                    }
                    None => break,
                }
            }
            pos = m.end();
            after_empty = m.start() == m.end();
            out.push(c);
        }
        Ok(out)
    }

    /// Every match's groups (Python's `finditer`).
    pub fn find_all<'t>(&self, s: &'t str) -> Result<Vec<Groups<'t>>, String> {
        Ok(self
            .matches(s, 0)?
            .iter()
            .map(|c| self.groups_of(c))
            .collect())
    }

    /// Python's `re.subn(template, s, count)`: the new text and the number of replacements.
    /// Python's `Match.expand(template)` for the groups of one match (from [`PyRegex::search`]).
    pub fn expand(&self, template: &str, groups: &Groups<'_>) -> Result<String, String> {
        let pieces = template::parse(template, self.groups, &self.names)?;
        let mut out = String::new();
        for p in &pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(i) => out.push_str(groups.get(*i).copied().flatten().unwrap_or("")),
            }
        }
        Ok(out)
    }

    pub fn sub(&self, s: &str, template: &str, count: usize) -> Result<(String, usize), String> {
        let pieces = template::parse(template, self.groups, &self.names)?;
        let found = self.matches(s, count)?;
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for c in &found {
            let Some(m) = c.get(0) else { continue };
            out.push_str(&s[last..m.start()]);
            for p in &pieces {
                match p {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Group(i) => out.push_str(c.get(*i).map(|g| g.as_str()).unwrap_or("")),
                }
            }
            last = m.end();
        }
        out.push_str(&s[last..]);
        Ok((out, found.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_text_anchor() {
        let re = PyRegex::anchored(r"b\Z", Flags::default(), Anchor::Search).unwrap();
        assert!(re.is_match("ab").unwrap());
        assert!(!re.is_match("ab\n").unwrap());
    }

    #[test]
    fn match_expand_as_python() {
        // Python: re.search(r'^(?P<k>\w+)=(\d+)$', 'port=22').expand(...)
        let re =
            PyRegex::anchored(r"^(?P<k>\w+)=(\d+)$", Flags::default(), Anchor::Search).unwrap();
        let g = re.search("port=22").unwrap().unwrap();
        assert_eq!(re.expand(r"\1 is \2\n", &g).unwrap(), "port is 22\n");
        assert_eq!(re.expand(r"\g<k>:\g<2>", &g).unwrap(), "port:22");
        assert!(
            re.expand(r"\9", &g).is_err(),
            "invalid group reference, as Python"
        );
        // Backreferences in the pattern (the regex crate had none).
        let re = PyRegex::anchored(r"^(REF) .* \1$", Flags::default(), Anchor::Search).unwrap();
        assert!(re.is_match("REF is REF").unwrap());
        assert!(!re.is_match("REF is other").unwrap());
    }
}
