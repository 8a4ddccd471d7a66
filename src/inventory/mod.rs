//! Inventory: Ansible's INI and YAML formats, group_vars/host_vars, host patterns.
//!
//! [`Inventory::load`] reads any mix of sources, the way `ansible-playbook -i` does:
//! - a file: YAML when its extension is `.yml`, `.yaml` or `.json`, INI when it is `.ini`,
//!   otherwise YAML if its content is a YAML mapping and INI if not (`ini.rs` and `yaml.rs`
//!   describe the formats);
//! - a directory: every file in it, recursively, in sorted order, skipping hidden files,
//!   `group_vars/`, `host_vars/`, `vars_plugins/` and files ending in `.pyc .pyo .swp .bak ~ .rpm
//!   .md .txt .rst .orig .cfg .retry` (ansible-core 2.19's defaults);
//! - an executable file starting with `#!`: a dynamic inventory script, run with `--list`
//!   (see `script.rs`);
//! - a host list: a string with a comma that is not an existing path (`web1,web2:2222,`).
//!
//! After all sources are read the inventory is reconciled as Ansible does: every group without a
//! parent becomes a child of `all`, hosts in no group go to `ungrouped`, and hosts that are in
//! another group are taken out of `ungrouped`. Then `group_vars/` and `host_vars/` next to each
//! source (for a file, its folder; for a directory, the directory itself) are read.
//!
//! The files: `load.rs` reads the sources (and the var folders); `ini.rs`, `yaml.rs` and
//! `script.rs` parse one source each; this file holds the model, the building calls the parsers
//! use, reconciliation and the queries (host patterns in `pattern.rs`, variable precedence in
//! [`Inventory::host_vars`]); `listing.rs` prints `--list` and `--graph`.

#[cfg(feature = "aws")]
pub mod aws_ec2;
mod ini;
mod listing;
mod load;
mod pattern;
mod pyvalue;
mod range;
mod script;
pub mod shard;
mod vars_dirs;
mod yaml;

use crate::error::{Error, Result};
use crate::value::{Value, Vars};
use indexmap::IndexMap;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use vars_dirs::VarsDir;

/// A host as the inventory defines it.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// Inventory name.
    pub name: String,
    /// Variables set on the host in inventory files (not group vars).
    pub vars: Vars,
}

/// A group.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Group variables from inventory files.
    pub vars: Vars,
    /// Hosts directly in the group.
    pub hosts: Vec<String>,
    /// Child groups.
    pub children: Vec<String>,
}

/// Facts derived from the groups and hosts after loading (see [`Inventory::reconcile`]).
#[derive(Debug, Clone, Default)]
struct Derived {
    /// Group -> depth (longest path from `all`, which is 0).
    depth: HashMap<String, usize>,
    /// Group -> its hosts with children expanded (Ansible's `group.get_hosts()` order).
    /// (Computed on first use, per group: expanding every group of a deep hierarchy up front
    /// is quadratic.)
    group_hosts: HashMap<String, OnceLock<Vec<String>>>,
    /// Host -> every group it is in (directly or through a child), without `all`, sorted by
    /// (depth, priority, name): the order group variables are merged in.
    host_groups: HashMap<String, Vec<String>>,
}

/// A loaded inventory.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Hosts in definition order.
    pub hosts: IndexMap<String, Host>,
    /// Groups in definition order (`all` and `ungrouped` included).
    pub groups: IndexMap<String, Group>,
    /// Problems Ansible only warns about (e.g. an unknown key in a YAML group), for the caller
    /// to show.
    pub warnings: Vec<String>,
    /// `ansible_group_priority` of groups that set it in an inventory file (default 1).
    priority: HashMap<String, i64>,
    /// (group, host) pairs already added, to keep `Group::hosts` free of duplicates cheaply.
    members: HashSet<(String, String)>,
    /// Host -> the inventory file that first defined it.
    sources: HashMap<String, PathBuf>,
    /// group_vars/host_vars next to the inventory sources, in source order.
    inv_vars: Vec<VarsDir>,
    /// group_vars/host_vars next to the playbook(s), in the order they were added.
    pb_vars: Vec<VarsDir>,
    /// The host-list sources (`-i a,b,`) among `sources`: no file, no folder.
    host_lists: HashSet<PathBuf>,
    /// Vault secrets for vault-encrypted vars files.
    vault: Vec<crate::template::vault::VaultSecret>,
    derived: Derived,
}

fn merge(into: &mut Vars, from: &Vars) {
    for (k, v) in from {
        crate::value::combine_var(into, k.clone(), v.clone());
    }
}

impl Inventory {
    fn empty() -> Inventory {
        let mut inv = Inventory::default();
        inv.add_group("all");
        inv.add_group("ungrouped");
        let _ = inv.add_child("all", "ungrouped");
        inv
    }

    /// An inventory made of groups and their hosts only (no variables), as Ansible's
    /// `inventory_hostnames` lookup rebuilds it from the `groups` variable.
    pub fn from_groups(groups: &[(String, Vec<String>)]) -> Result<Inventory> {
        let mut inv = Inventory::empty();
        let source = PathBuf::from("(groups)");
        for (g, hosts) in groups {
            inv.add_group(g);
            for h in hosts {
                inv.add_host(h, g, &source);
            }
        }
        inv.reconcile()?;
        Ok(inv)
    }

    // ----- building (used by the format parsers) -----

    pub(crate) fn add_group(&mut self, name: &str) {
        if !self.groups.contains_key(name) {
            self.groups.insert(
                name.to_string(),
                Group {
                    name: name.to_string(),
                    ..Default::default()
                },
            );
        }
    }

    pub(crate) fn add_host(&mut self, name: &str, group: &str, source: &Path) {
        if !self.hosts.contains_key(name) {
            self.hosts.insert(
                name.to_string(),
                Host {
                    name: name.to_string(),
                    vars: Vars::new(),
                },
            );
            self.sources.insert(name.to_string(), source.to_path_buf());
        }
        self.add_group(group);
        if self.members.insert((group.to_string(), name.to_string()))
            && let Some(g) = self.groups.get_mut(group)
        {
            g.hosts.push(name.to_string());
        }
    }

    fn descendants(&self, group: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut stack = vec![group.to_string()];
        while let Some(g) = stack.pop() {
            if let Some(grp) = self.groups.get(&g) {
                for c in &grp.children {
                    if seen.insert(c.clone()) {
                        stack.push(c.clone());
                    }
                }
            }
        }
        seen
    }

    /// Makes `child` a child group of `parent`; a loop is an error message.
    pub(crate) fn add_child(
        &mut self,
        parent: &str,
        child: &str,
    ) -> std::result::Result<(), String> {
        if parent == child {
            return Err(format!("group `{parent}` cannot be a child of itself"));
        }
        if self.descendants(child).contains(parent) {
            return Err(format!(
                "adding group `{child}` as a child of `{parent}` creates a dependency loop"
            ));
        }
        self.add_group(parent);
        self.add_group(child);
        if let Some(g) = self.groups.get_mut(parent)
            && !g.children.iter().any(|c| c == child)
        {
            g.children.push(child.to_string());
        }
        Ok(())
    }

    pub(crate) fn set_group_var(&mut self, group: &str, key: &str, value: Value) {
        if key == "ansible_group_priority" {
            let n = value
                .as_i64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()));
            match n {
                Some(n) => {
                    self.priority.insert(group.to_string(), n);
                }
                None => self.warnings.push(format!(
                    "ansible_group_priority of group `{group}` is not a whole number: {value}"
                )),
            }
            return;
        }
        self.add_group(group);
        if let Some(g) = self.groups.get_mut(group) {
            crate::value::combine_var(&mut g.vars, key.to_string(), value);
        }
    }

    pub(crate) fn set_host_var(&mut self, host: &str, key: &str, value: Value) {
        if let Some(h) = self.hosts.get_mut(host) {
            crate::value::combine_var(&mut h.vars, key.to_string(), value);
        }
    }

    // ----- changes during a run (add_host, group_by) -----

    /// `add_host`: adds host `name` (or updates it) in each of `groups` (created as children of
    /// `all` when new) and sets `vars` on it. True when anything changed.
    pub fn add_runtime_host(&mut self, name: &str, groups: &[String], vars: &Vars) -> Result<bool> {
        let mut changed = !self.hosts.contains_key(name);
        let source = PathBuf::from("(add_host)");
        let wanted: Vec<String> = if groups.is_empty() {
            vec!["ungrouped".to_string()]
        } else {
            groups.to_vec()
        };
        for g in &wanted {
            if !self.members.contains(&(g.clone(), name.to_string())) {
                changed = true;
            }
            self.add_host(name, g, &source);
        }
        for (k, v) in vars {
            let old = self.hosts.get(name).and_then(|h| h.vars.get(k));
            if old != Some(v) {
                changed = true;
                self.set_host_var(name, k, v.clone());
            }
        }
        self.reconcile()?;
        self.load_runtime_vars(&wanted, &[name.to_string()])?;
        Ok(changed)
    }

    /// Reads the `group_vars/` and `host_vars/` files of groups and hosts added while the
    /// playbook runs (`add_host`, `group_by`), as Ansible's vars plugins see them.
    fn load_runtime_vars(&mut self, groups: &[String], hosts: &[String]) -> Result<()> {
        for d in self.inv_vars.iter_mut().chain(self.pb_vars.iter_mut()) {
            let new_groups = groups
                .iter()
                .filter(|g| !d.groups.contains_key(*g))
                .map(String::as_str);
            let new_hosts = hosts
                .iter()
                .filter(|h| !d.hosts.contains_key(*h))
                .map(String::as_str);
            let more = vars_dirs::load(&d.dir, new_groups, new_hosts, &self.vault)?;
            d.groups.extend(more.groups);
            d.hosts.extend(more.hosts);
        }
        Ok(())
    }

    /// `group_by`: puts `host` into group `group`, creating the group under `parents` (`all`
    /// when empty). True when the host was not in it yet, or a parent link is new.
    pub fn add_to_group(&mut self, host: &str, group: &str, parents: &[String]) -> Result<bool> {
        let changed = !self
            .members
            .contains(&(group.to_string(), host.to_string()))
            || parents.iter().any(|p| {
                p != "all"
                    && !self
                        .groups
                        .get(p)
                        .is_some_and(|g| g.children.iter().any(|c| c == group))
            });
        let source = self
            .sources
            .get(host)
            .cloned()
            .unwrap_or_else(|| PathBuf::from("(group_by)"));
        self.add_host(host, group, &source);
        for p in parents {
            if p != "all" {
                self.add_child(p, group).map_err(Error::inventory)?;
            }
        }
        self.reconcile()?;
        let mut new_groups = vec![group.to_string()];
        new_groups.extend(parents.iter().cloned());
        self.load_runtime_vars(&new_groups, &[])?;
        Ok(changed)
    }

    /// Applies Ansible's inventory rules after loading (groups without a parent become children
    /// of `all`; hosts in no group go to `ungrouped`, hosts in another group leave it) and
    /// recomputes what selection and variables depend on. Call it again after changing
    /// [`Inventory::hosts`] or [`Inventory::groups`] directly.
    pub fn reconcile(&mut self) -> Result<()> {
        self.add_group("all");
        self.add_group("ungrouped");
        let with_parent: HashSet<String> = self
            .groups
            .values()
            .flat_map(|g| g.children.iter().cloned())
            .collect();
        let roots: Vec<String> = self
            .groups
            .keys()
            .filter(|n| n.as_str() != "all" && !with_parent.contains(*n))
            .cloned()
            .collect();
        for r in roots {
            self.add_child("all", &r).map_err(|m| {
                Error::inventory(m)
                    .hint("a group cannot be (directly or indirectly) a child of itself")
            })?;
        }
        // Groups of each host: its direct groups and all their ancestors (walked up on demand,
        // only for groups that have hosts).
        let parents = self.parents();
        let order = self.topo_order(&parents);
        let mut ancestors: HashMap<&str, Vec<String>> = HashMap::new();
        let mut host_all: HashMap<String, HashSet<String>> = HashMap::new();
        for g in self.groups.values() {
            if g.hosts.is_empty() {
                continue;
            }
            let up = ancestors.entry(g.name.as_str()).or_insert_with(|| {
                let mut seen: HashSet<&str> = HashSet::new();
                let mut todo: Vec<&str> = vec![g.name.as_str()];
                while let Some(x) = todo.pop() {
                    for p in parents.get(x).map(|v| v.as_slice()).unwrap_or(&[]) {
                        if seen.insert(p.as_str()) {
                            todo.push(p.as_str());
                        }
                    }
                }
                seen.into_iter().map(str::to_string).collect()
            });
            for h in &g.hosts {
                let e = host_all.entry(h.clone()).or_default();
                e.insert(g.name.clone());
                e.extend(up.iter().cloned());
            }
        }
        // ungrouped
        let names: Vec<String> = self.hosts.keys().cloned().collect();
        let mut leave_ungrouped: HashSet<String> = HashSet::new();
        for h in &names {
            let mine = host_all.entry(h.clone()).or_default();
            if mine.contains("ungrouped") {
                if mine.iter().any(|g| g != "all" && g != "ungrouped") {
                    self.members.remove(&("ungrouped".to_string(), h.clone()));
                    leave_ungrouped.insert(h.clone());
                    mine.remove("ungrouped");
                }
            } else if mine.iter().all(|g| g == "all") {
                if self.members.insert(("ungrouped".to_string(), h.clone()))
                    && let Some(u) = self.groups.get_mut("ungrouped")
                {
                    u.hosts.push(h.clone());
                }
                mine.insert("ungrouped".to_string());
                mine.insert("all".to_string());
            }
        }
        if !leave_ungrouped.is_empty()
            && let Some(u) = self.groups.get_mut("ungrouped")
        {
            u.hosts.retain(|x| !leave_ungrouped.contains(x));
        }
        // Depth: the longest path from `all`.
        let mut depth: HashMap<String, usize> = HashMap::new();
        for g in &order {
            let d = parents
                .get(g)
                .map(|ps| {
                    ps.iter()
                        .map(|p| depth.get(p).copied().unwrap_or(0) + 1)
                        .max()
                        .unwrap_or(0)
                })
                .unwrap_or(0);
            depth.insert(g.clone(), d);
        }
        let mut host_groups = HashMap::new();
        for (h, set) in host_all {
            let mut v: Vec<String> = set.into_iter().filter(|g| g != "all").collect();
            v.sort_by(|a, b| {
                let ka = (depth.get(a).copied().unwrap_or(0), self.priority_of(a), a);
                let kb = (depth.get(b).copied().unwrap_or(0), self.priority_of(b), b);
                ka.cmp(&kb)
            });
            host_groups.insert(h, v);
        }
        let mut group_hosts = HashMap::new();
        for g in self.groups.keys() {
            group_hosts.insert(g.clone(), OnceLock::new());
        }
        self.derived = Derived {
            depth,
            group_hosts,
            host_groups,
        };
        Ok(())
    }

    fn priority_of(&self, group: &str) -> i64 {
        self.priority.get(group).copied().unwrap_or(1)
    }

    fn parents(&self) -> HashMap<String, Vec<String>> {
        let mut parents: HashMap<String, Vec<String>> = HashMap::new();
        for g in self.groups.values() {
            for c in &g.children {
                parents.entry(c.clone()).or_default().push(g.name.clone());
            }
        }
        parents
    }

    /// Groups ordered so that every group comes after all its parents.
    fn topo_order(&self, parents: &HashMap<String, Vec<String>>) -> Vec<String> {
        let mut indeg: HashMap<&str, usize> = self
            .groups
            .keys()
            .map(|g| (g.as_str(), parents.get(g).map_or(0, |p| p.len())))
            .collect();
        let mut queue: VecDeque<&str> = self
            .groups
            .keys()
            .filter(|g| indeg.get(g.as_str()) == Some(&0))
            .map(|g| g.as_str())
            .collect();
        let mut out = Vec::new();
        while let Some(g) = queue.pop_front() {
            out.push(g.to_string());
            if let Some(grp) = self.groups.get(g) {
                for c in &grp.children {
                    if let Some(d) = indeg.get_mut(c.as_str()) {
                        *d = d.saturating_sub(1);
                        if *d == 0 {
                            queue.push_back(c.as_str());
                        }
                    }
                }
            }
        }
        out
    }

    /// Ansible's `group.get_hosts()`: the group's own hosts, then its descendants' level by level.
    fn expand_group(&self, group: &str) -> Vec<String> {
        let mut order: Vec<&str> = vec![group];
        let mut seen: HashSet<&str> = HashSet::from([group]);
        let mut i = 0;
        while i < order.len() {
            if let Some(g) = self.groups.get(order[i]) {
                for c in &g.children {
                    if seen.insert(c.as_str()) {
                        order.push(c.as_str());
                    }
                }
            }
            i += 1;
        }
        let mut hosts = Vec::new();
        let mut seen_h: HashSet<&str> = HashSet::new();
        for g in order {
            if let Some(grp) = self.groups.get(g) {
                for h in &grp.hosts {
                    if seen_h.insert(h.as_str()) {
                        hosts.push(h.clone());
                    }
                }
            }
        }
        hosts
    }

    pub(crate) fn group_hosts(&self, group: &str) -> &[String] {
        match self.derived.group_hosts.get(group) {
            Some(cell) => cell.get_or_init(|| self.expand_group(group)),
            None => &[],
        }
    }

    /// True when `name` is `localhost`, `127.0.0.1` or `::1` and the inventory does not define
    /// it: Ansible then makes an implicit local host of it, which is in no group (not even `all`).
    pub fn is_implicit_localhost(&self, name: &str) -> bool {
        pattern::LOCALHOST.contains(&name) && !self.hosts.contains_key(name)
    }

    /// The inventory file (or host list) that first defined `host`: the value of the
    /// `inventory_file` magic variable (its folder is `inventory_dir`).
    pub fn inventory_file(&self, host: &str) -> Option<&Path> {
        self.sources.get(host).map(|p| p.as_path())
    }

    /// Whether the host came from a host list (`-i a,b,`): its [`Inventory::inventory_file`] is
    /// the list as given, and it has no inventory folder.
    pub fn from_host_list(&self, host: &str) -> bool {
        self.sources
            .get(host)
            .is_some_and(|p| self.host_lists.contains(p))
    }

    /// The folders whose `group_vars/` and `host_vars/` were read: inventory-adjacent ones, then
    /// playbook-adjacent ones, in precedence order.
    pub fn vars_dir_paths(&self) -> Vec<&Path> {
        self.inv_vars
            .iter()
            .chain(&self.pb_vars)
            .map(|d| d.dir.as_path())
            .collect()
    }

    /// The depth of a group (0 for `all`, 1 for its children, ...; the longest path counts).
    pub fn group_depth(&self, group: &str) -> Option<usize> {
        self.derived.depth.get(group).copied()
    }

    /// Hosts matching an Ansible host pattern, in inventory order.
    ///
    /// "Inventory order" is Ansible's: a group's hosts are its own hosts in the order they were
    /// added, then its child groups' hosts level by level (so `all` lists `ungrouped` and the
    /// top-level groups' hosts before those of nested groups), exactly as `groups[...]` lists them.
    ///
    /// The syntax (see `pattern.rs`): `all`, `*`, globs, `~regex`, `a:b`/`a,b` (union), `a:&b`
    /// (intersection), `a:!b` (exclusion), subscripts `g[0]`, `g[-1]`, `g[1:]`, `g[:2]`
    /// (inclusive ranges, as in Ansible). Each term yields hosts in its group's order and terms
    /// are combined in the order written, without duplicates. Nothing matching is an empty list;
    /// a bad regex or an out-of-range subscript is an error.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>> {
        self.select_pattern(pattern)
    }

    /// A host's inventory variables merged in Ansible's precedence (group vars by depth, then
    /// host vars; inventory files, then inventory-adjacent and playbook-adjacent var dirs).
    /// The implicit localhost gets `ansible_connection: local` and the controller's Python as
    /// `ansible_python_interpreter`.
    ///
    /// The order, lowest precedence first (a later level replaces a top-level key of an earlier
    /// one; hashes are not merged), exactly Ansible's default `VARIABLE_PRECEDENCE`:
    /// 1. `all` group vars from inventory files (`[all:vars]`, `all: {vars: ...}`);
    /// 2. the host's other groups' vars from inventory files, ordered by depth (parents before
    ///    children), then `ansible_group_priority` (higher wins), then name;
    /// 3. `group_vars/all` next to each inventory source (in source order);
    /// 4. `group_vars/all` next to the playbook(s);
    /// 5. `group_vars/<group>` next to each inventory source, groups in the order of 2;
    /// 6. `group_vars/<group>` next to the playbook(s);
    /// 7. the host's own vars from inventory files (host lines, `hosts:` entries, `host:port`);
    /// 8. `host_vars/<host>` next to each inventory source;
    /// 9. `host_vars/<host>` next to the playbook(s).
    ///
    /// The implicit localhost is in no group, so it gets 1, 3, 4, then `ansible_connection: local`,
    /// then 8 and 9. An unknown host gets no variables.
    pub fn host_vars(&self, host: &str) -> Vars {
        let implicit = self.is_implicit_localhost(host);
        let Some(h) = self.hosts.get(host).map(|h| &h.vars) else {
            if !implicit {
                return Vars::new();
            }
            return self.merged_vars(host, &[], &implicit_localhost_vars());
        };
        let groups = self
            .derived
            .host_groups
            .get(host)
            .map(|v| v.as_slice())
            .unwrap_or(&[]);
        self.merged_vars(host, groups, h)
    }

    fn merged_vars(&self, host: &str, groups: &[String], own: &Vars) -> Vars {
        let mut out = Vars::new();
        if let Some(all) = self.groups.get("all") {
            merge(&mut out, &all.vars);
        }
        for g in groups {
            if let Some(grp) = self.groups.get(g) {
                merge(&mut out, &grp.vars);
            }
        }
        for d in self.inv_vars.iter().chain(&self.pb_vars) {
            if let Some(v) = d.groups.get("all") {
                merge(&mut out, v);
            }
        }
        for d in self.inv_vars.iter().chain(&self.pb_vars) {
            for g in groups {
                if let Some(v) = d.groups.get(g) {
                    merge(&mut out, v);
                }
            }
        }
        merge(&mut out, own);
        for d in self.inv_vars.iter().chain(&self.pb_vars) {
            if let Some(v) = d.hosts.get(host) {
                merge(&mut out, v);
            }
        }
        out
    }

    /// Groups a host is in (sorted, without `all`), for the `group_names` variable.
    /// A host in no group has `ungrouped`; the implicit localhost has none.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .derived
            .host_groups
            .get(host)
            .cloned()
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Every group with its hosts (children expanded), for the `groups` variable.
    pub fn groups_map(&self) -> IndexMap<String, Vec<String>> {
        self.groups
            .keys()
            .map(|g| (g.clone(), self.group_hosts(g).to_vec()))
            .collect()
    }
}

fn implicit_localhost_vars() -> Vars {
    let mut v = Vars::new();
    v.insert("ansible_connection".into(), Value::from("local"));
    // Ansible gives it the controller's own Python (`sys.executable`).
    v.insert(
        "ansible_python_interpreter".into(),
        Value::from(crate::util::python::controller_python()),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn ini(text: &str) -> Inventory {
        let mut inv = Inventory::empty();
        ini::parse(&mut inv, text, Path::new("hosts")).unwrap();
        inv.reconcile().unwrap();
        inv
    }

    #[test]
    fn reconcile_attaches_roots_and_ungrouped() {
        let inv = ini("lone\n[web]\nw1\n[db]\nd1\nlone\n[prod:children]\nweb\n");
        assert_eq!(
            inv.groups["all"].children,
            ["ungrouped", "db", "prod"].map(String::from)
        );
        // `lone` is in db too, so it left ungrouped.
        assert!(inv.groups["ungrouped"].hosts.is_empty());
        assert_eq!(inv.group_names("w1"), ["prod", "web"]);
        assert_eq!(inv.group_depth("web"), Some(2));
        assert_eq!(inv.group_depth("prod"), Some(1));
    }

    #[test]
    fn cycles_are_errors() {
        let mut inv = Inventory::empty();
        let e = ini::parse(
            &mut inv,
            "[a:children]\nb\n[b:children]\na\n",
            Path::new("h"),
        )
        .unwrap_err();
        assert!(e.msg.contains("loop"), "{e}");
        assert_eq!(e.loc.clone().unwrap().line, 4);
    }

    #[test]
    fn inventory_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Inventory>();
    }
}
