//! What `prov inventory` prints: the JSON of `ansible-inventory --list` and the tree of
//! `--graph`.

use super::Inventory;
use crate::error::{Error, Result};
use std::collections::HashSet;

impl Inventory {
    /// The JSON of `ansible-inventory --list`.
    ///
    /// Keys are sorted (the CLI dumps with `sort_keys=True`); host and child lists keep
    /// inventory order; empty `hosts`/`children` keys and empty groups are left out; `_meta.hostvars`
    /// holds [`Inventory::host_vars`] of every host that has any.
    pub fn list_json(&self) -> serde_json::Value {
        use serde_json::{Map, Value as J};
        let all_hosts: Vec<String> = self.group_hosts("all").to_vec();
        let available: HashSet<&str> = all_hosts.iter().map(|s| s.as_str()).collect();
        let mut results: Map<String, J> = Map::new();
        // Every group reachable from `all` (the walk order does not matter: keys are sorted).
        let mut seen: HashSet<&str> = HashSet::from(["all"]);
        let mut todo: Vec<&str> = vec!["all"];
        while let Some(g) = todo.pop() {
            let Some(grp) = self.groups.get(g) else {
                continue;
            };
            let mut entry = Map::new();
            if g != "all" {
                let hosts: Vec<J> = grp
                    .hosts
                    .iter()
                    .filter(|h| available.contains(h.as_str()))
                    .map(|h| J::String(h.clone()))
                    .collect();
                if !hosts.is_empty() {
                    entry.insert("hosts".into(), J::Array(hosts));
                }
            }
            if !grp.children.is_empty() {
                let children = grp.children.iter().map(|c| J::String(c.clone()));
                entry.insert("children".into(), J::Array(children.collect()));
            }
            for c in &grp.children {
                if seen.insert(c.as_str()) {
                    todo.push(c.as_str());
                }
            }
            if !entry.is_empty() {
                results.insert(g.to_string(), J::Object(entry));
            }
        }
        let mut hostvars = Map::new();
        for h in &all_hosts {
            let hv = self.host_vars(h);
            if !hv.is_empty() {
                let m: Map<String, J> = hv
                    .iter()
                    .map(|(k, v)| (k.clone(), crate::value::to_json(v)))
                    .collect();
                hostvars.insert(h.clone(), J::Object(m));
            }
        }
        let mut meta = Map::new();
        meta.insert("hostvars".into(), J::Object(hostvars));
        // ansible-core 2.19 names the serialization profile of its JSON output.
        meta.insert("profile".into(), J::String("inventory_legacy".into()));
        results.insert("_meta".into(), J::Object(meta));
        sort_keys(J::Object(results))
    }

    /// The text of `ansible-inventory --graph` (lines joined by `\n`, no trailing newline).
    pub fn graph(&self) -> String {
        self.graph_of("all").unwrap_or_else(|_| "@all:".to_string())
    }

    /// The text of `ansible-inventory --graph GROUP`; an unknown group is an error.
    pub fn graph_of(&self, group: &str) -> Result<String> {
        if !self.groups.contains_key(group) {
            let mut e = Error::inventory(format!("`{group}` is not a group in the inventory"));
            if let Some(s) =
                crate::error::did_you_mean(group, self.groups.keys().map(|s| s.as_str()))
            {
                e = e.hint(format!("did you mean `{s}`?"));
            }
            return Err(e);
        }
        let mut lines = Vec::new();
        self.graph_group(group, 0, &mut lines);
        Ok(lines.join("\n"))
    }

    fn graph_group(&self, group: &str, depth: usize, out: &mut Vec<String>) {
        let name = |n: &str, d: usize| {
            if d == 0 {
                n.to_string()
            } else {
                format!("{}--{}", "  |".repeat(d), n)
            }
        };
        // Depth first with an explicit stack: a group's line, its child groups, then its hosts.
        enum Item<'a> {
            Group(&'a str, usize),
            Hosts(&'a str, usize),
        }
        let mut stack = vec![Item::Group(group, depth)];
        while let Some(item) = stack.pop() {
            match item {
                Item::Group(g, d) => {
                    out.push(name(&format!("@{g}:"), d));
                    let Some(grp) = self.groups.get(g) else {
                        continue;
                    };
                    if g != "all" {
                        stack.push(Item::Hosts(g, d + 1));
                    }
                    for c in grp.children.iter().rev() {
                        stack.push(Item::Group(c, d + 1));
                    }
                }
                Item::Hosts(g, d) => {
                    for h in self
                        .groups
                        .get(g)
                        .map(|g| g.hosts.as_slice())
                        .unwrap_or(&[])
                    {
                        out.push(name(h, d));
                    }
                }
            }
        }
    }
}

fn sort_keys(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::Object(m) => {
            let mut entries: Vec<(String, J)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        J::Array(a) => J::Array(a.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::ini;

    #[test]
    fn graph_format() {
        let inv = ini("[web]\nw1\n[prod:children]\nweb\n");
        assert_eq!(
            inv.graph(),
            "@all:\n  |--@ungrouped:\n  |--@prod:\n  |  |--@web:\n  |  |  |--w1"
        );
    }
}
