//! Variable layers and precedence, `hostvars`, and the per-host connection cache.
//!
//! A task's [`Context`] is a stack of layers, lowest precedence first (Ansible's documented
//! order, as far as prov implements it):
//! magic variables < role defaults < inventory vars (group then host; see
//! [`crate::inventory::Inventory::host_vars`]) < facts < play vars, vars_files, vars_prompt <
//! role vars < block and task vars < include_vars < set_fact and register < role params <
//! include params (`vars` of include_tasks/include_role) < extra vars (`-e`) < loop variables.

use crate::connection::Connection;
use crate::inventory::Inventory;
use crate::playbook::{LoadedRoles, Play, RoleCtx, Task};
use crate::template::{Context, Templar};
use crate::value::{Value, Vars, map_value};
use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::OnceCell;

/// The Ansible version prov reports in `ansible_version` (the language level it implements).
pub const ANSIBLE_COMPAT_VERSION: &str = "2.17.0";

/// Per-host variables that change while a playbook runs.
#[derive(Debug, Default, Clone)]
pub(crate) struct HostData {
    /// `ansible_facts` and the `ansible_*` names.
    pub facts: Arc<Vars>,
    /// The raw facts map.
    pub facts_map: Vars,
    /// include_vars results.
    pub include_vars: Arc<Vars>,
    /// set_fact and register.
    pub set_facts: Arc<Vars>,
    /// The host's facts as the fact cache holds them (gathered facts, module facts,
    /// `set_fact: cacheable`), under the names Ansible stores (`ansible_hostname`, `my_fact`).
    pub cached: Arc<Vars>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct PlayInfo {
    pub vars: Arc<Vars>,
    /// The play's hosts and its current batch as template values, built when they change: every task's context
    /// shares them (one list per play, not one per host and task).
    pub hosts_value: Value,
    pub batch_value: Value,
    pub dir: String,
    pub name: String,
    /// Roles the play runs itself (its `roles:`, and those imported or included by tasks),
    /// in order of first appearance.
    pub role_names: Vec<String>,
    /// Roles the play runs as dependencies of others.
    pub dependent_role_names: Vec<String>,
    /// The defaults of the play's public roles, merged (every task sees them).
    pub public_defaults: Arc<Vars>,
    /// The vars of the play's public roles, merged.
    pub public_vars: Arc<Vars>,
    /// The role-name magic variables of the names above, built when they change (not for
    /// every task): `ansible_play_role_names`, `role_names`, `ansible_dependent_role_names`,
    /// `ansible_role_names`.
    pub role_magic: Arc<Vars>,
    /// Each host's `vars_files` variables (read with its own variables), above the play's.
    pub vars_files: HashMap<String, Arc<Vars>>,
}

impl PlayInfo {
    fn update_role_magic(&mut self) {
        let play_roles = names_value(&self.role_names);
        let mut all = self.role_names.clone();
        all.extend(
            self.dependent_role_names
                .iter()
                .filter(|n| !self.role_names.contains(n))
                .cloned(),
        );
        let mut m = Vars::new();
        m.insert("ansible_play_role_names".into(), play_roles.clone());
        m.insert("role_names".into(), play_roles);
        m.insert(
            "ansible_dependent_role_names".into(),
            names_value(&self.dependent_role_names),
        );
        m.insert("ansible_role_names".into(), names_value(&all));
        self.role_magic = Arc::new(m);
    }
}

/// Adds roles' defaults and vars to what every task of the play sees.
fn make_public<'a>(p: &mut PlayInfo, roles: impl IntoIterator<Item = &'a Arc<RoleCtx>>) {
    let (mut d, mut v) = ((*p.public_defaults).clone(), (*p.public_vars).clone());
    for r in roles {
        d.extend(r.defaults.iter().map(|(k, x)| (k.clone(), x.clone())));
        v.extend(r.vars.iter().map(|(k, x)| (k.clone(), x.clone())));
    }
    p.public_defaults = Arc::new(d);
    p.public_vars = Arc::new(v);
}

/// Adds role names to a list, each once.
fn note(list: &mut Vec<String>, names: &[String]) {
    for n in names {
        if !list.contains(n) {
            list.push(n.clone());
        }
    }
}

/// A connection opened at most once, shared by concurrent callers.
type ConnCell = Arc<OnceCell<Arc<dyn Connection>>>;

/// State shared by every task of a run.
pub(crate) struct Shared {
    /// The inventory; `add_host` and `group_by` replace it during a run (copy on write).
    inventory: RwLock<Arc<Inventory>>,
    pub templar: Templar,
    pub extra: Arc<Vars>,
    /// Each host's open connection.
    pub conns: tokio::sync::Mutex<HashMap<String, Arc<dyn Connection>>>,
    /// Each host's connection, with the connection variables it was opened with.
    cells: Mutex<HashMap<String, (String, ConnCell)>>,
    hosts: RwLock<HashMap<String, HostData>>,
    inv_vars: RwLock<HashMap<String, Arc<Vars>>>,
    play: RwLock<PlayInfo>,
    groups: RwLock<Value>,
    /// The magic variables that hold for the whole run (see [`run_magic`]).
    run_magic: Vars,
    /// The changes `add_host` and `group_by` made, replayed on a refreshed inventory.
    runtime_changes: Mutex<Vec<InventoryChange>>,
    /// The fact cache (`fact_caching = jsonfile`), if any.
    fact_cache: Option<super::fact_cache::FactCache>,
    /// `set_stats` data, per host and under `_run` (see [`Shared::add_custom_stat`]).
    custom: Mutex<IndexMap<String, IndexMap<String, Value>>>,
    /// Warnings shown once per run (see [`Shared::warn_once`]).
    warned: Mutex<std::collections::HashSet<String>>,
}

/// A change a task made to the inventory (kept for `meta: refresh_inventory`).
pub(crate) type InventoryChange = Arc<dyn Fn(&mut Inventory) -> crate::Result<bool> + Send + Sync>;

/// The magic variables that come from the command line and configuration, the same for every
/// host and task, as ansible-playbook sets them: `ansible_run_tags` (`['all']` without `-t`),
/// `ansible_skip_tags`, `ansible_forks`, `ansible_limit` (only with `--limit`),
/// `ansible_inventory_sources` (absolute paths; host lists as given), `ansible_config_file`
/// (none without an ansible.cfg) and `ansible_playbook_python` (the controller's `python3`:
/// prov needs none, but roles pass it as the interpreter of tasks delegated to localhost).
pub(crate) fn run_magic(opts: &super::RunOptions) -> Vars {
    let list = |xs: &[String]| Value::from_iter(xs.iter().map(|x| Value::from(x.as_str())));
    let mut m = Vars::new();
    let tags = if opts.tags.is_empty() {
        vec!["all".to_string()]
    } else {
        opts.tags.clone()
    };
    m.insert("ansible_run_tags".into(), list(&tags));
    m.insert("ansible_skip_tags".into(), list(&opts.skip_tags));
    m.insert("ansible_forks".into(), Value::from(opts.forks as i64));
    if let Some(l) = &opts.limit {
        m.insert("ansible_limit".into(), Value::from(l.as_str()));
    }
    let sources: Vec<String> = opts
        .inventory_sources
        .iter()
        .map(|s| {
            let p = std::path::Path::new(s);
            if !s.contains(',') && p.exists() {
                std::path::absolute(p)
                    .map(|a| a.display().to_string())
                    .unwrap_or_else(|_| s.clone())
            } else {
                s.clone()
            }
        })
        .collect();
    m.insert("ansible_inventory_sources".into(), list(&sources));
    m.insert(
        "ansible_config_file".into(),
        opts.config_file
            .as_ref()
            .map_or(Value::from(()), |f| Value::from(f.display().to_string())),
    );
    m.insert(
        "ansible_playbook_python".into(),
        Value::from(crate::util::python::controller_python()),
    );
    m
}

fn names_value(names: &[String]) -> Value {
    Value::from_iter(names.iter().map(|n| Value::from(n.as_str())))
}

/// Adds facts returned by a module (or read from the fact cache) to a host's: each one a
/// top-level variable under its own name and an entry of `ansible_facts` without the
/// `ansible_` prefix. Internal markers (`_ansible_facts_gathered`) are not variables.
fn merge_facts(d: &mut HostData, facts: Vars) {
    let mut flat = (*d.facts).clone();
    for (k, v) in facts {
        if k.starts_with("_ansible_") {
            continue;
        }
        let v = crate::template::mark_unsafe(&v);
        let clean = k.strip_prefix("ansible_").unwrap_or(&k).to_string();
        d.facts_map.insert(clean, v.clone());
        flat.insert(k, v);
    }
    flat.insert(
        "ansible_facts".into(),
        crate::value::vars_value(&d.facts_map),
    );
    d.facts = Arc::new(flat);
}

/// The `groups` magic variable of an inventory.
fn groups_value(inventory: &Inventory) -> Value {
    Value::from_iter(inventory.groups_map().into_iter().map(|(g, hs)| {
        (
            Value::from(g),
            Value::from_iter(hs.into_iter().map(Value::from)),
        )
    }))
}

impl Shared {
    pub fn new(
        inventory: Arc<Inventory>,
        templar: Templar,
        extra: Arc<Vars>,
        run_magic: Vars,
    ) -> Self {
        let groups = RwLock::new(groups_value(&inventory));
        Shared {
            inventory: RwLock::new(inventory),
            templar,
            extra,
            conns: tokio::sync::Mutex::new(HashMap::new()),
            cells: Mutex::new(HashMap::new()),
            hosts: RwLock::new(HashMap::new()),
            inv_vars: RwLock::new(HashMap::new()),
            play: RwLock::new(PlayInfo::default()),
            groups,
            run_magic,
            runtime_changes: Mutex::new(Vec::new()),
            fact_cache: None,
            custom: Mutex::new(IndexMap::new()),
            warned: Mutex::default(),
        }
    }

    /// Records one `set_stats` value for `key` (a host, or `_run`): set, or with `aggregate`
    /// added to what is there as Ansible's stats do (numbers summed, lists and text joined,
    /// mappings merged recursively; a value of another type is ignored).
    pub fn add_custom_stat(&self, key: &str, name: &str, v: Value, aggregate: bool) {
        let mut g = self.custom.lock().unwrap_or_else(|e| e.into_inner());
        let stats = g.entry(key.to_string()).or_default();
        let merged = match stats.get(name) {
            Some(old) if aggregate => match stat_sum(old, &v) {
                Some(m) => m,
                None => return,
            },
            _ => v,
        };
        stats.insert(name.to_string(), merged);
    }

    /// The `set_stats` data of the run, for the recap.
    pub fn custom_stats(&self) -> IndexMap<String, serde_json::Map<String, serde_json::Value>> {
        let g = self.custom.lock().unwrap_or_else(|e| e.into_inner());
        g.iter()
            .map(|(k, stats)| {
                let m = stats
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.clone(),
                            serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                        )
                    })
                    .collect();
                (k.clone(), m)
            })
            .collect()
    }

    /// Uses a fact cache: a host's cached facts are its facts until gathered again, and facts
    /// the run sets are written to it. `flush` (`--flush-cache`) first forgets the cached
    /// facts of every inventory host.
    pub fn with_fact_cache(mut self, cache: super::fact_cache::FactCache, flush: bool) -> Self {
        if flush {
            for h in self.inventory().select("all").unwrap_or_default() {
                cache.delete(&h);
            }
        }
        self.fact_cache = Some(cache);
        self
    }

    /// A host's data when the run first meets it: its cached facts, if any.
    fn first_data(&self, host: &str) -> HostData {
        let mut d = HostData::default();
        if let Some(facts) = self.fact_cache.as_ref().and_then(|c| c.load(host)) {
            merge_facts(&mut d, facts.clone());
            d.cached = Arc::new(facts);
        }
        d
    }

    /// Writes a host's facts to the fact cache, if there is one.
    fn persist(&self, host: &str, d: &HostData) {
        if let Some(c) = &self.fact_cache
            && let Err(e) = c.store(host, &d.cached)
        {
            eprintln!(
                "[WARNING]: cannot write the fact cache {}: {e}",
                c.file(host).display()
            );
        }
    }

    /// Whether `host`'s facts were gathered (in this run, or by the run that cached them):
    /// `gathering = smart` does not gather them again.
    pub fn facts_gathered(&self, host: &str) -> bool {
        self.host(host)
            .cached
            .get("_ansible_facts_gathered")
            .is_some_and(crate::value::truthy)
    }

    /// Changes the inventory as [`Self::change_inventory`], and keeps the change to make it
    /// again on a refreshed inventory (the hosts `add_host` added and the groups of `group_by`
    /// survive `meta: refresh_inventory`, as in Ansible).
    pub fn change_inventory_kept(&self, f: InventoryChange) -> crate::Result<bool> {
        let changed = self.change_inventory(|inv| f(inv))?;
        self.runtime_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(f);
        Ok(changed)
    }

    /// `meta: refresh_inventory`: reads the inventory sources again (with the variables folders
    /// beside the playbook), then makes the run's own changes again.
    pub fn refresh_inventory(
        &self,
        sources: &[String],
        playbook_dir: &std::path::Path,
    ) -> crate::Result<()> {
        let mut inv = Inventory::load(sources)?;
        inv.add_playbook_vars_dir(playbook_dir)?;
        let changes = self
            .runtime_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for c in &changes {
            c(&mut inv)?;
        }
        self.change_inventory(|i| {
            *i = inv;
            Ok(true)
        })?;
        Ok(())
    }

    pub fn set_play(&self, play: &Play, vars: Arc<Vars>, hosts: Vec<String>) {
        let mut p = self.play.write().unwrap_or_else(|e| e.into_inner());
        let hosts_value = Value::from_iter(hosts.iter().map(|h| Value::from(h.as_str())));
        *p = PlayInfo {
            vars,
            hosts_value,
            batch_value: Value::from(Vec::<Value>::new()),
            dir: play.dir.display().to_string(),
            name: play.name.clone().unwrap_or_else(|| play.hosts.clone()),
            role_names: play.role_names.clone(),
            dependent_role_names: play.dependent_role_names.clone(),
            public_defaults: Arc::default(),
            public_vars: Arc::default(),
            role_magic: Arc::default(),
            vars_files: HashMap::new(),
        };
        p.update_role_magic();
        make_public(&mut p, &play.public_roles);
    }

    /// Sets the variables `host` read from the play's `vars_files`.
    pub fn set_host_vars_files(&self, host: &str, vars: Arc<Vars>) {
        let mut p = self.play.write().unwrap_or_else(|e| e.into_inner());
        p.vars_files.insert(host.to_string(), vars);
    }

    /// True the first time `key` is given (a warning shown once per run).
    pub fn warn_once(&self, key: &str) -> bool {
        self.warned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string())
    }

    /// Adds the roles an `include_role` loaded (its own, its dependencies) to the play's;
    /// with `public: true` their defaults and vars too.
    pub fn note_included_roles(&self, loaded: LoadedRoles, public: bool) {
        let mut p = self.play.write().unwrap_or_else(|e| e.into_inner());
        note(&mut p.role_names, &loaded.names);
        note(&mut p.dependent_role_names, &loaded.dependent_names);
        p.update_role_magic();
        if public {
            make_public(&mut p, loaded.roles.iter().map(|r| &r.ctx));
        }
    }

    pub fn set_batch(&self, batch: &[String]) {
        let mut p = self.play.write().unwrap_or_else(|e| e.into_inner());
        p.batch_value = Value::from_iter(batch.iter().map(|h| Value::from(h.as_str())));
    }

    /// The inventory as it is now.
    pub fn inventory(&self) -> Arc<Inventory> {
        self.inventory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes the inventory (`add_host`, `group_by`): `f` works on a copy and says whether it
    /// changed anything; only then does the copy replace the inventory, and `groups` and the
    /// cached inventory variables follow (a `group_by` that changes nothing, as on every host
    /// of a second run, keeps the caches). Returns what `f` returns.
    pub fn change_inventory(
        &self,
        f: impl FnOnce(&mut Inventory) -> crate::Result<bool>,
    ) -> crate::Result<bool> {
        let mut g = self.inventory.write().unwrap_or_else(|e| e.into_inner());
        let mut inv = (**g).clone();
        if !f(&mut inv)? {
            return Ok(false);
        }
        *self.groups.write().unwrap_or_else(|e| e.into_inner()) = groups_value(&inv);
        *g = Arc::new(inv);
        self.inv_vars
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(true)
    }

    pub fn inv_vars(&self, host: &str) -> Arc<Vars> {
        if let Some(v) = self
            .inv_vars
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
        {
            return v.clone();
        }
        let v = Arc::new(self.inventory().host_vars(host));
        self.inv_vars
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_string(), v.clone());
        v
    }

    pub fn host(&self, host: &str) -> HostData {
        if let Some(d) = self
            .hosts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
        {
            return d.clone();
        }
        if self.fact_cache.is_none() {
            return HostData::default();
        }
        let mut g = self.hosts.write().unwrap_or_else(|e| e.into_inner());
        g.entry(host.to_string())
            .or_insert_with(|| self.first_data(host))
            .clone()
    }

    pub fn update_host(&self, host: &str, f: impl FnOnce(&mut HostData)) {
        let mut g = self.hosts.write().unwrap_or_else(|e| e.into_inner());
        f(g.entry(host.to_string())
            .or_insert_with(|| self.first_data(host)));
    }

    /// Stores gathered facts (`ansible_facts.x` and `ansible_x`), merged into the host's
    /// other facts (those of modules, `set_fact: cacheable`, the fact cache) as in Ansible.
    pub fn set_facts_map(&self, host: &str, facts: Vars) {
        // Facts come from the host: never template them.
        let facts: Vars = facts
            .into_iter()
            .map(|(k, v)| (k, crate::template::mark_unsafe(&v)))
            .collect();
        self.update_host(host, |d| {
            let mut flat = (*d.facts).clone();
            let mut map = std::mem::take(&mut d.facts_map);
            for (k, v) in &facts {
                flat.insert(format!("ansible_{k}"), v.clone());
                map.insert(k.clone(), v.clone());
            }
            flat.insert("ansible_facts".into(), crate::value::vars_value(&map));
            if self.fact_cache.is_some() {
                let c = Arc::make_mut(&mut d.cached);
                for (k, v) in &facts {
                    c.insert(format!("ansible_{k}"), v.clone());
                }
                c.insert("module_setup".into(), Value::from(true));
            }
            // Gathered in this run, with or without a fact cache (`gathering = smart`).
            Arc::make_mut(&mut d.cached)
                .insert("_ansible_facts_gathered".into(), Value::from(true));
            d.facts_map = map;
            d.facts = Arc::new(flat);
            self.persist(host, d);
        });
    }

    /// Merges the facts a module returned (`Plan::facts`, its result's `ansible_facts`), as
    /// Ansible does: each one becomes a top-level variable under its own name (`getent_passwd`,
    /// `ansible_hostname`) and an entry of `ansible_facts` without the `ansible_` prefix.
    pub fn add_module_facts(&self, host: &str, facts: Vars) {
        self.update_host(host, |d| {
            if self.fact_cache.is_some() {
                let c = Arc::make_mut(&mut d.cached);
                c.extend(facts.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            merge_facts(d, facts);
            self.persist(host, d);
        });
    }

    /// Sets (or merges) set_fact/register variables.
    pub fn set_vars(&self, host: &str, vars: Vars) {
        self.update_host(host, |d| {
            let m = Arc::make_mut(&mut d.set_facts);
            for (k, v) in vars {
                m.insert(k, v);
            }
        });
    }

    pub fn add_include_vars(&self, host: &str, vars: Vars) {
        self.update_host(host, |d| {
            let m = Arc::make_mut(&mut d.include_vars);
            for (k, v) in vars {
                m.insert(k, v);
            }
        });
    }

    /// `meta: clear_facts`: the host's facts, cached ones included, are forgotten.
    pub fn clear_facts(&self, host: &str) {
        self.update_host(host, |d| {
            d.facts = Arc::new(Vars::new());
            d.facts_map = Vars::new();
            d.cached = Arc::default();
        });
        if let Some(c) = &self.fact_cache {
            c.delete(host);
        }
    }

    fn magic(self: &Arc<Self>, host: &str, check: bool, diff: bool, verbosity: u8) -> Vars {
        let play = self.play.read().unwrap_or_else(|e| e.into_inner());
        let mut m = self.run_magic.clone();
        m.insert("inventory_hostname".into(), Value::from(host));
        let inv = self.inventory();
        let source = inv
            .inventory_file(host)
            .filter(|f| !f.as_os_str().is_empty());
        if inv.from_host_list(host) {
            // a host list (`-i a,b,`): the list as given, and no folder ("None", as ansible-core)
            let list = source.map(|f| f.to_string_lossy().into_owned());
            m.insert(
                "inventory_file".into(),
                Value::from(list.unwrap_or_default()),
            );
            m.insert("inventory_dir".into(), Value::from("None"));
        } else if let Some(f) = source {
            let f = std::path::absolute(f).unwrap_or_else(|_| f.to_path_buf());
            m.insert(
                "inventory_file".into(),
                Value::from(f.display().to_string()),
            );
            if let Some(d) = f.parent() {
                m.insert("inventory_dir".into(), Value::from(d.display().to_string()));
            }
        }
        // Defined (empty) before any facts are gathered, as in Ansible.
        m.insert(
            "ansible_facts".into(),
            crate::value::vars_value(&Vars::new()),
        );
        m.insert(
            "inventory_hostname_short".into(),
            Value::from(host.split('.').next().unwrap_or(host)),
        );
        m.insert(
            "group_names".into(),
            Value::from_iter(
                self.inventory()
                    .group_names(host)
                    .into_iter()
                    .map(Value::from),
            ),
        );
        m.insert(
            "groups".into(),
            self.groups
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        );
        m.insert(
            "hostvars".into(),
            Value::from_object(HostVarsObject {
                shared: self.clone(),
            }),
        );
        // (empty lists before the first play: the values are undefined there)
        let list = |v: &Value| {
            if v.is_undefined() {
                Value::from(Vec::<Value>::new())
            } else {
                v.clone()
            }
        };
        let hosts = list(&play.hosts_value);
        m.insert("ansible_play_hosts_all".into(), hosts.clone());
        m.insert("ansible_play_hosts".into(), hosts.clone());
        m.insert("play_hosts".into(), hosts);
        m.insert("ansible_play_batch".into(), list(&play.batch_value));
        m.insert("ansible_play_name".into(), Value::from(play.name.as_str()));
        m.insert("playbook_dir".into(), Value::from(play.dir.as_str()));
        m.extend(play.role_magic.iter().map(|(k, v)| (k.clone(), v.clone())));
        m.insert("ansible_check_mode".into(), Value::from(check));
        m.insert("ansible_diff_mode".into(), Value::from(diff));
        m.insert("ansible_verbosity".into(), Value::from(verbosity));
        m.insert("omit".into(), Value::from(crate::template::OMIT));
        let parts: Vec<i64> = ANSIBLE_COMPAT_VERSION
            .split('.')
            .filter_map(|p| p.parse().ok())
            .collect();
        m.insert(
            "ansible_version".into(),
            map_value([
                ("full", Value::from(ANSIBLE_COMPAT_VERSION)),
                ("string", Value::from(ANSIBLE_COMPAT_VERSION)),
                ("major", Value::from(parts[0])),
                ("minor", Value::from(parts[1])),
                ("revision", Value::from(parts[2])),
                ("prov", Value::from(env!("CARGO_PKG_VERSION"))),
            ]),
        );
        m
    }

    /// The full variable context of a task on a host.
    pub fn task_context(
        self: &Arc<Self>,
        host: &str,
        task: &Task,
        play_vars: &Arc<Vars>,
        check: bool,
        diff: bool,
        verbosity: u8,
    ) -> Context {
        let mut magic = self.magic(host, check, diff, verbosity);
        let (playbook_dir, public_defaults, public_vars, vars_files) = {
            let p = self.play.read().unwrap_or_else(|e| e.into_inner());
            (
                p.dir.clone(),
                p.public_defaults.clone(),
                p.public_vars.clone(),
                p.vars_files.get(host).cloned(),
            )
        };
        magic.insert(
            "ansible_search_path".into(),
            Value::from_iter(
                task.search_path(std::path::Path::new(&playbook_dir))
                    .iter()
                    .map(|p| Value::from(p.display().to_string())),
            ),
        );
        // Ansible's connection "magic" variable: a task sees `ansible_host` (the address it
        // connects to) even when the inventory does not set it.
        magic.insert(
            "ansible_host".into(),
            Value::from("{{ ansible_ssh_host | default(inventory_hostname) }}"),
        );
        magic.extend(connection_keywords(task));
        let data = self.host(host);
        let mut layers: Vec<Arc<Vars>> = Vec::with_capacity(12);
        if let Some(r) = &task.role {
            magic.insert(
                "role_path".into(),
                Value::from(r.path.display().to_string()),
            );
            magic.insert("role_name".into(), Value::from(r.name.as_str()));
            magic.insert("ansible_role_name".into(), Value::from(r.name.as_str()));
            magic.insert("ansible_collection_name".into(), Value::from(()));
            if !r.included_by.is_empty() {
                magic.insert(
                    "ansible_parent_role_names".into(),
                    Value::from_iter(r.included_by.iter().map(|(n, _)| Value::from(n.as_str()))),
                );
                magic.insert(
                    "ansible_parent_role_paths".into(),
                    Value::from_iter(
                        r.included_by
                            .iter()
                            .map(|(_, p)| Value::from(p.display().to_string())),
                    ),
                );
            }
        }
        layers.push(Arc::new(magic));
        // Public roles' defaults and vars are the play's; a task's own role's come after.
        if !public_defaults.is_empty() {
            layers.push(public_defaults);
        }
        if let Some(r) = &task.role {
            layers.push(r.defaults.clone());
        }
        layers.push(self.inv_vars(host));
        layers.push(data.facts.clone());
        layers.push(play_vars.clone());
        if let Some(vf) = vars_files {
            layers.push(vf);
        }
        if !public_vars.is_empty() {
            layers.push(public_vars);
        }
        if let Some(r) = &task.role {
            layers.push(r.vars.clone());
        }
        if !task.vars.is_empty() {
            layers.push(task.vars.clone());
        }
        layers.push(data.include_vars.clone());
        layers.push(data.set_facts.clone());
        if let Some(r) = &task.role
            && !r.params.is_empty()
        {
            layers.push(r.params.clone());
        }
        if !task.include_params.is_empty() {
            layers.push(task.include_params.clone());
        }
        layers.push(self.extra.clone());
        Context::new(&self.templar, layers)
    }

    /// The context `hostvars[host]` shows.
    pub fn hostvars_context(self: &Arc<Self>, host: &str) -> Context {
        self.hostvars_context_over(host, Vars::new())
    }

    /// [`Self::hostvars_context`] over a lowest layer `below` (a task's connection keywords,
    /// for a delegated connection).
    pub fn hostvars_context_over(self: &Arc<Self>, host: &str, below: Vars) -> Context {
        let (play_vars, vars_files) = {
            let p = self.play.read().unwrap_or_else(|e| e.into_inner());
            (
                p.vars.clone(),
                p.vars_files.get(host).cloned().unwrap_or_default(),
            )
        };
        let mut magic = Vars::new();
        magic.insert("inventory_hostname".into(), Value::from(host));
        magic.insert(
            "group_names".into(),
            Value::from_iter(
                self.inventory()
                    .group_names(host)
                    .into_iter()
                    .map(Value::from),
            ),
        );
        let data = self.host(host);
        Context::new(
            &self.templar,
            vec![
                Arc::new(below),
                Arc::new(magic),
                self.inv_vars(host),
                data.facts,
                play_vars,
                vars_files,
                data.include_vars,
                data.set_facts,
                self.extra.clone(),
            ],
        )
    }

    /// The cached connection to `host`, opened once (concurrent callers wait for the same one).
    /// A task whose connection variables differ (`vars: {ansible_user: other}`) gets its own
    /// connection, cached beside the host's usual one, as Ansible connects with the task's
    /// variables.
    pub async fn connection(
        &self,
        connector: &dyn super::Connector,
        host: &str,
        ctx: &Context,
    ) -> crate::error::Result<Arc<dyn Connection>> {
        // A connection is reused while the host's connection variables stay the same; a task
        // that sees others (set_fact of ansible_connection, ansible_host, ssh args...) opens a
        // new one, as Ansible connects with each task's variables.
        let vars = connection_vars(ctx)?;
        let fingerprint = {
            // (not the name the task runs for: hosts delegating to one host share it)
            let sorted: std::collections::BTreeMap<&String, String> = vars
                .iter()
                .filter(|(k, _)| k.as_str() != "inventory_hostname")
                .map(|(k, v)| (k, format!("{v:?}")))
                .collect();
            format!("{sorted:?}")
        };
        let cell = {
            let mut g = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            match g.get(host) {
                Some((fp, c)) if *fp == fingerprint => c.clone(),
                _ => {
                    let c: ConnCell = Arc::new(OnceCell::new());
                    g.insert(host.to_string(), (fingerprint, c.clone()));
                    c
                }
            }
        };
        let conn = cell
            .get_or_try_init(|| async { connector.connect(host, &vars).await })
            .await?
            .clone();
        // (a replaced connection closes when the last task using it drops it)
        self.conns
            .lock()
            .await
            .insert(host.to_string(), conn.clone());
        Ok(conn)
    }

    /// Forgets a host's connection (after it dropped, or `meta: reset_connection`).
    pub async fn drop_connection(&self, host: &str) {
        self.cells
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(host);
        if let Some(c) = self.conns.lock().await.remove(host) {
            let _ = c.close().await;
        }
    }
}

/// The `connection` and `remote_user` keywords as the variables they stand for
/// (`ansible_connection`, `ansible_user`), for the lowest layer of a task's variables: every
/// variable wins over them (an inventory's `ansible_connection`, as in Ansible), and they win
/// over `-c` and `-u`.
pub(crate) fn connection_keywords(task: &Task) -> Vars {
    let mut v = Vars::new();
    if let Some(c) = &task.connection {
        v.insert("ansible_connection".into(), Value::from(c.as_str()));
    }
    if let Some(u) = &task.remote_user {
        v.insert("ansible_user".into(), Value::from(u.as_str()));
    }
    v
}

/// The connection variables a connector needs, templated.
pub(crate) fn connection_vars(ctx: &Context) -> crate::error::Result<Vars> {
    const NAMES: &[&str] = &[
        "ansible_connection",
        "ansible_host",
        "ansible_ssh_host",
        "ansible_port",
        "ansible_ssh_port",
        "ansible_user",
        "ansible_ssh_user",
        "ansible_password",
        "ansible_ssh_pass",
        "ansible_ssh_private_key_file",
        "ansible_private_key_file",
        "ansible_ssh_common_args",
        "ansible_ssh_extra_args",
        "ansible_ssh_timeout",
        "ansible_timeout",
        "ansible_host_key_checking",
        "ansible_ssh_host_key_checking",
        "inventory_hostname",
    ];
    let mut v = Vars::new();
    for n in NAMES {
        if let Some(val) = ctx.get(n)? {
            v.insert((*n).to_string(), val);
        }
    }
    Ok(v)
}

/// `hostvars`: every host's variables, each a lazily templated context.
#[derive(Clone)]
pub struct HostVarsObject {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HostVarsObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hostvars")
    }
}

impl Object for HostVarsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let host = key.as_str()?;
        let known = self.shared.inventory().hosts.contains_key(host) || host == "localhost";
        if !known {
            return None;
        }
        Some(self.shared.hostvars_context(host).to_value())
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let hosts: Vec<Value> = self
            .shared
            .inventory()
            .hosts
            .keys()
            .map(|h| Value::from(h.as_str()))
            .collect();
        Enumerator::Values(hosts)
    }
}

/// `old + new` for an aggregated `set_stats` value, as Python adds them when `new` is of
/// `old`'s type (a bool counts as an int, not the other way round); `None` when it is not.
fn stat_sum(old: &Value, new: &Value) -> Option<Value> {
    use minijinja::value::ValueKind as K;
    #[derive(PartialEq)]
    enum Num {
        Bool,
        Int,
        Float,
    }
    let num = |v: &Value| match v.kind() {
        K::Bool => Some(Num::Bool),
        K::Number if v.is_integer() => Some(Num::Int),
        K::Number => Some(Num::Float),
        _ => None,
    };
    let int = |v: &Value| i64::try_from(v.clone()).ok().or(v.is_true().then_some(1));
    match (old.kind(), new.kind()) {
        (K::Map, K::Map) => Some(crate::value::merge_maps(old, new)),
        (K::Seq, K::Seq) => Some(Value::from_iter(
            old.try_iter().ok()?.chain(new.try_iter().ok()?),
        )),
        (K::String, K::String) => Some(Value::from(format!("{old}{new}"))),
        _ => match (num(old)?, num(new)?) {
            (Num::Float, Num::Float) => Some(Value::from(
                f64::try_from(old.clone()).ok()? + f64::try_from(new.clone()).ok()?,
            )),
            (Num::Int | Num::Bool, Num::Bool) | (Num::Int, Num::Int) => {
                Some(Value::from(int(old).unwrap_or(0) + int(new).unwrap_or(0)))
            }
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::stat_sum;
    use crate::value::Value;

    #[test]
    fn set_stats_aggregate_as_python_adds() {
        let v = |j: serde_json::Value| Value::from_serialize(&j);
        let sum = |a, b| stat_sum(&v(a), &v(b)).map(|r| serde_json::to_value(&r).unwrap());
        use serde_json::json;
        assert_eq!(sum(json!(10), json!(15)), Some(json!(25)));
        assert_eq!(sum(json!(10), json!(true)), Some(json!(11)));
        assert_eq!(sum(json!(true), json!(1)), None);
        assert_eq!(sum(json!(1), json!(1.5)), None);
        assert_eq!(sum(json!([1]), json!([2])), Some(json!([1, 2])));
        assert_eq!(sum(json!("a"), json!("b")), Some(json!("ab")));
        assert_eq!(
            sum(json!({"a": {"x": 1}}), json!({"a": {"y": 2}})),
            Some(json!({"a": {"x": 1, "y": 2}}))
        );
        assert_eq!(sum(json!("a"), json!(1)), None);
    }
}
