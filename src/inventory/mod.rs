//! Inventory: Ansible's INI and YAML formats, group_vars/host_vars, host patterns.
//!
//! STUB: the API below is the contract; the implementation is being written.

use crate::error::Result;
use crate::value::Vars;
use indexmap::IndexMap;
use std::path::Path;

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

/// A loaded inventory.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Hosts in definition order.
    pub hosts: IndexMap<String, Host>,
    /// Groups in definition order (`all` and `ungrouped` included).
    pub groups: IndexMap<String, Group>,
}

impl Inventory {
    /// Loads inventory sources: files (INI or YAML), directories, or `host1,host2,` lists.
    /// No sources gives an inventory with only the implicit localhost.
    pub fn load(sources: &[String]) -> Result<Inventory> {
        let _ = sources;
        Ok(Inventory::default())
    }
    /// Loads `group_vars/` and `host_vars/` next to a playbook (they win over the inventory's).
    pub fn add_playbook_vars_dir(&mut self, dir: &Path) -> Result<()> {
        let _ = dir;
        Ok(())
    }
    /// Hosts matching an Ansible host pattern, in inventory order.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>> {
        let _ = pattern;
        Ok(vec![])
    }
    /// A host's inventory variables merged in Ansible's precedence (group vars by depth, then
    /// host vars; inventory files, then inventory-adjacent and playbook-adjacent var dirs).
    /// The implicit localhost gets `ansible_connection: local`.
    pub fn host_vars(&self, host: &str) -> Vars {
        let _ = host;
        Vars::new()
    }
    /// Groups a host is in (sorted, without `all`), for the `group_names` variable.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let _ = host;
        vec![]
    }
    /// Every group with its hosts (children expanded), for the `groups` variable.
    pub fn groups_map(&self) -> IndexMap<String, Vec<String>> {
        IndexMap::new()
    }
    /// The JSON of `ansible-inventory --list`.
    pub fn list_json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    /// The text of `ansible-inventory --graph`.
    pub fn graph(&self) -> String {
        String::new()
    }
}
