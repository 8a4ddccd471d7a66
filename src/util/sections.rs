//! Output split into sections: a line `@@name` starts the section `name`; lines before the first
//! marker form the section `""`. Fact gathering and module probes print their findings this way
//! (one POSIX sh script, one round trip) and parse them here.
//!
//! A section named twice continues where it left off. In `key=value` lines the first `=`
//! splits, the key is trimmed and the value kept as printed. When a key repeats, the **first**
//! line wins: a script prints its own `key=` lines before anything a command might add to the
//! same section, so later output can never override them; keys meant to repeat are read with
//! [`Sections::all`].

use indexmap::IndexMap;

/// The sections of one output, borrowing its lines.
#[derive(Debug, Clone)]
pub struct Sections<'a> {
    map: IndexMap<&'a str, Vec<&'a str>>,
}

impl<'a> Sections<'a> {
    /// Splits `out` into sections.
    pub fn parse(out: &'a str) -> Self {
        let mut map: IndexMap<&str, Vec<&str>> = IndexMap::new();
        map.insert("", Vec::new());
        let mut cur = "";
        for line in out.lines() {
            if let Some(name) = line.strip_prefix("@@") {
                cur = name.trim();
                map.entry(cur).or_default();
            } else {
                map.entry(cur).or_default().push(line);
            }
        }
        Sections { map }
    }

    /// True when the output had no `@@name` marker at all.
    pub fn no_markers(&self) -> bool {
        self.map.len() == 1
    }

    /// True when the section was printed (even empty).
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// The lines of a section (none when it is missing).
    pub fn lines(&self, name: &str) -> &[&'a str] {
        self.map.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The text of a section: each line followed by `\n` (empty when it is missing).
    pub fn text(&self, name: &str) -> String {
        let mut s = String::new();
        for l in self.lines(name) {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// Every section as `name → text` (see [`text`](Self::text)), in the order printed.
    pub fn texts(&self) -> IndexMap<String, String> {
        self.map
            .keys()
            .map(|k| (k.to_string(), self.text(k)))
            .collect()
    }

    /// The `key=value` lines of a section (the first of a repeated key wins).
    pub fn kv(&self, name: &str) -> IndexMap<&'a str, &'a str> {
        kv_lines(self.lines(name).iter().copied())
    }

    /// All values of a repeated key in a `key=value` section, in order.
    pub fn all(&self, name: &str, key: &str) -> Vec<&'a str> {
        self.lines(name)
            .iter()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .collect()
    }

    /// The content of a dumped file (a section `@@file <path>`), trimmed.
    pub fn file(&self, path: &str) -> Option<String> {
        let key = format!("file {path}");
        self.map
            .get(key.as_str())
            .map(|l| l.join("\n").trim().to_string())
    }
}

/// `key=value` lines as a map: the first `=` splits, keys are trimmed, values kept as printed,
/// and the first line of a repeated key wins. Lines without `=` are ignored.
pub fn kv_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> IndexMap<&'a str, &'a str> {
    let mut m = IndexMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once('=') {
            m.entry(k.trim()).or_insert(v);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sections_with_a_head() {
        let s = Sections::parse("a=1\n@@x\nl1\nl2\n@@y\n@@ x \nl3\n");
        assert_eq!(s.text(""), "a=1\n");
        assert_eq!(s.lines("x"), ["l1", "l2", "l3"]);
        assert!(s.has("y") && s.lines("y").is_empty());
        assert!(!s.has("z") && s.text("z").is_empty());
        assert_eq!(
            s.texts().keys().collect::<Vec<_>>(),
            ["", "x", "y"].iter().collect::<Vec<_>>()
        );
        assert!(!s.no_markers());
        assert!(Sections::parse("just text\n").no_markers());
        assert!(Sections::parse("").no_markers());
    }

    #[test]
    fn first_key_wins_and_repeats_are_read_with_all() {
        let s = Sections::parse("@@f\nexists=/a\n k =v=w \nexists=/b\nk=late\nnoeq\n");
        let kv = s.kv("f");
        assert_eq!(kv["k"], "v=w ");
        assert_eq!(kv["exists"], "/a");
        assert_eq!(s.all("f", "exists"), ["/a", "/b"]);
        assert_eq!(kv.len(), 2);
    }

    #[test]
    fn dumped_files() {
        let s = Sections::parse("@@file /etc/x\n\n  hello\n\n@@next\n");
        assert_eq!(s.file("/etc/x").as_deref(), Some("hello"));
        assert_eq!(s.file("/etc/y"), None);
    }
}
