//! The script's output split into named sections (`@@name` lines).

use indexmap::IndexMap;

/// The script's output split into named sections.
pub(super) struct Sections<'a> {
    pub(super) map: IndexMap<&'a str, Vec<&'a str>>,
}

impl<'a> Sections<'a> {
    pub(super) fn parse(out: &'a str) -> Self {
        let mut map: IndexMap<&str, Vec<&str>> = IndexMap::new();
        let mut cur: Option<&str> = None;
        for line in out.lines() {
            if let Some(name) = line.strip_prefix("@@") {
                let name = name.trim();
                map.entry(name).or_default();
                cur = Some(name);
            } else if let Some(c) = cur {
                map.entry(c).or_default().push(line);
            }
        }
        Sections { map }
    }
    pub(super) fn lines(&self, name: &str) -> &[&'a str] {
        self.map.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
    pub(super) fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
    /// The content of a dumped file (`@@file <path>`), trimmed.
    pub(super) fn file(&self, path: &str) -> Option<String> {
        let key = format!("file {path}");
        self.map
            .get(key.as_str())
            .map(|l| l.join("\n").trim().to_string())
    }
    /// `key=value` lines of a section.
    pub(super) fn kv(&self, name: &str) -> IndexMap<&'a str, &'a str> {
        let mut m = IndexMap::new();
        for l in self.lines(name) {
            if let Some((k, v)) = l.split_once('=') {
                m.entry(k.trim()).or_insert(v);
            }
        }
        m
    }
    /// All values of a repeated key in a `key=value` section.
    pub(super) fn all(&self, name: &str, key: &str) -> Vec<&'a str> {
        self.lines(name)
            .iter()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .collect()
    }
}
