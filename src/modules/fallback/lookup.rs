//! Where a module prov has no native implementation of is found, in Ansible's order: the
//! `library/` folders next to the playbooks and inside the roles loaded so far, the configured
//! library folders (`ANSIBLE_LIBRARY`, `library` in ansible.cfg, else Ansible's defaults),
//! ansible-core's own `ansible/modules/` (the Python package `python3` on the controller's
//! PATH imports), then installed collections (`collections_path`, `~/.ansible/collections`,
//! `/usr/share/ansible/collections`, and the `ansible_collections` folder beside ansible-core),
//! by fully qualified name or through the `collections:` keyword; `meta/runtime.yml`
//! redirects are followed.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// How a module file is run (as Ansible classifies it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A Python module importing `ansible.module_utils` (or a collection's `module_utils`):
    /// sent as a zip with what it imports, its arguments as JSON.
    New,
    /// A script that says `WANT_JSON`: run with a JSON arguments file as its one argument.
    WantJson,
    /// Any other script: run with a `k=v` arguments file as its one argument.
    Old,
    /// A binary: run with a JSON arguments file as its one argument.
    Binary,
}

/// A module found on the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The name it was found under (after redirects): `foo`, `ansible.builtin.foo`,
    /// `community.general.foo`.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// Its Python name inside the payload (`ansible.modules.foo`, `ansible.legacy.foo`,
    /// `ansible_collections.ns.coll.plugins.modules.foo`).
    pub fqn: String,
}

impl Found {
    /// The module's short name (the last part of its name).
    pub fn short(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }
}

/// ansible-core on the controller: its package folder (`.../site-packages/ansible`).
#[derive(Debug, Clone)]
pub struct Core {
    /// The `ansible` package folder.
    pub dir: PathBuf,
}

impl Core {
    /// `ansible/module_utils`.
    pub fn module_utils(&self) -> PathBuf {
        self.dir.join("module_utils")
    }
    /// The folder that holds the `ansible` package (site-packages), where an installed
    /// `ansible` package puts its `ansible_collections`.
    pub fn site(&self) -> Option<&Path> {
        self.dir.parent()
    }
}

/// ansible-core as `python3 -c 'import ansible'` finds it on the controller: the first
/// `python3` on the PATH that imports it (an activated virtualenv without ansible-core may come
/// before the one with it). Asked once per run; `None` when no `python3` imports ansible.
pub fn core() -> Option<Core> {
    static CORE: OnceLock<Option<Core>> = OnceLock::new();
    CORE.get_or_init(|| {
        if let Ok(d) = std::env::var("PROV_ANSIBLE_CORE_DIR") {
            return Some(Core { dir: d.into() });
        }
        let mut pythons: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("python3"))
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        if pythons.is_empty() {
            pythons.push(PathBuf::from("python3"));
        }
        pythons.into_iter().find_map(|py| {
            let out = std::process::Command::new(py)
                .args([
                    "-c",
                    "import ansible, os; print(os.path.dirname(ansible.__file__))",
                ])
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .ok()?;
            if !out.status.success() {
                return None;
            }
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            dir.join("modules").is_dir().then_some(Core { dir })
        })
    })
    .clone()
}

/// The search state of a run: folders found while loading, and settings from ansible.cfg.
#[derive(Default)]
struct Search {
    /// `library/` folders next to playbooks and in roles, in the order they were loaded.
    adjacent: Vec<PathBuf>,
    /// `library` from ansible.cfg or `ANSIBLE_LIBRARY` (set by the command line).
    library: Option<String>,
    /// `collections_path(s)` from ansible.cfg or `ANSIBLE_COLLECTIONS_PATH`.
    collections_path: Option<String>,
    /// Collections named by `collections:` keywords, searched for short names.
    collections: Vec<String>,
    /// `collections/` folders next to the playbooks (and `--playbook-dir`), searched before
    /// the collections paths, as Ansible does.
    playbook_collections: Vec<PathBuf>,
    /// [`user_module`]'s answers (cleared when the folders change).
    user: std::collections::HashMap<String, Option<PathBuf>>,
}

fn search() -> std::sync::MutexGuard<'static, Search> {
    static S: OnceLock<Mutex<Search>> = OnceLock::new();
    S.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Settings from ansible.cfg (with their `ANSIBLE_*` overrides already applied): the
/// `library` and `collections_path` values (colon-separated folder lists).
pub fn configure(library: Option<String>, collections_path: Option<String>) {
    let mut s = search();
    s.library = library;
    s.collections_path = collections_path;
    s.user.clear();
}

/// A playbook's folder (or `--playbook-dir`): its `collections/` folder holds collections
/// searched before the configured collections paths from now on.
pub fn add_playbook_dir(dir: &Path) {
    let c = dir.join("collections");
    if !c.is_dir() {
        return;
    }
    let mut s = search();
    if !s.playbook_collections.contains(&c) {
        s.playbook_collections.push(c);
        s.user.clear();
    }
}

/// A playbook's or a role's folder: its `library/` (modules) and `module_utils/` are searched
/// from now on, as Ansible adds them when it loads the playbook or the role.
pub fn add_adjacent(dir: &Path) {
    if ![
        "library",
        "module_utils",
        "action_plugins",
        "filter_plugins",
        "test_plugins",
        "lookup_plugins",
        "connection_plugins",
    ]
    .iter()
    .any(|d| dir.join(d).is_dir())
    {
        return;
    }
    let mut s = search();
    if !s.adjacent.contains(&dir.to_path_buf()) {
        s.adjacent.push(dir.to_path_buf());
        s.user.clear();
    }
}

/// The playbooks' and roles' folders found so far that hold modules or plugins, in the order
/// they were loaded (the plugin bridge adds their `*_plugins/` folders, as Ansible does).
pub fn adjacent_dirs() -> Vec<PathBuf> {
    search().adjacent.clone()
}

/// `collections_path` from ansible.cfg, when set.
pub fn collections_path_setting() -> Option<String> {
    search().collections_path.clone()
}

/// Collections a `collections:` keyword names: short module names are looked up in them too.
pub fn add_collections(names: impl IntoIterator<Item = String>) {
    let mut s = search();
    for n in names {
        if n != "ansible.builtin" && n != "ansible.legacy" && !s.collections.contains(&n) {
            s.collections.push(n);
        }
    }
}

fn expand(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(h)) => Path::new(&h).join(rest),
        _ if p == "~" => std::env::var("HOME").map(PathBuf::from).unwrap_or_default(),
        _ => PathBuf::from(p),
    }
}

fn split_paths(v: &str) -> Vec<PathBuf> {
    v.split(':')
        .filter(|s| !s.trim().is_empty())
        .map(|s| expand(s.trim()))
        .collect()
}

/// The library folders, in search order.
pub fn library_dirs() -> Vec<PathBuf> {
    let s = search();
    let mut out: Vec<PathBuf> = s.adjacent.iter().map(|d| d.join("library")).collect();
    let configured = s
        .library
        .clone()
        .or_else(|| std::env::var("ANSIBLE_LIBRARY").ok())
        .unwrap_or_else(|| "~/.ansible/plugins/modules:/usr/share/ansible/plugins/modules".into());
    out.extend(split_paths(&configured));
    out
}

/// A module file of the user's for a task naming `name` (short, or `ansible.legacy.<name>`):
/// in the `library/` folders next to the playbooks and in the roles loaded so far, or in the
/// configured library folders. As in Ansible, such a module shadows the builtin of the same
/// name, prov's native one included (`ansible.builtin.<name>` still names the builtin).
pub fn user_module(name: &str) -> Option<PathBuf> {
    let short = name.strip_prefix("ansible.legacy.").unwrap_or(name);
    if short.contains('.') {
        return None;
    }
    if let Some(r) = search().user.get(short) {
        return r.clone();
    }
    let found = library_dirs().iter().find_map(|d| module_file(d, short));
    search().user.insert(short.to_string(), found.clone());
    found
}

/// The action plugin folders: `action_plugins/` next to playbooks and in roles, then
/// `ANSIBLE_ACTION_PLUGINS` (else Ansible's defaults).
pub fn action_plugin_dirs() -> Vec<PathBuf> {
    let s = search();
    let mut out: Vec<PathBuf> = s
        .adjacent
        .iter()
        .map(|d| d.join("action_plugins"))
        .collect();
    let configured = std::env::var("ANSIBLE_ACTION_PLUGINS")
        .unwrap_or_else(|_| "~/.ansible/plugins/action:/usr/share/ansible/plugins/action".into());
    out.extend(split_paths(&configured));
    out
}

/// A Python action plugin named `name`, as Ansible's action loader finds it: a short name in
/// the collections the `collections:` keywords name (in order), then a short name or
/// `ansible.legacy.<name>` in the action plugin folders, then (like `ansible.builtin.<name>`)
/// among ansible-core's own (`ansible/plugins/action/`); a collection's `ns.coll.<name>` in
/// its `plugins/action/`.
pub fn action_plugin(name: &str) -> Option<PathBuf> {
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    let parts: Vec<&str> = name.split('.').collect();
    if !parts.iter().all(|p| ident(p)) {
        return None;
    }
    let core_action = |short: &str| {
        core()
            .map(|c| c.dir.join("plugins/action").join(format!("{short}.py")))
            .filter(|p| p.is_file() && short != "normal")
    };
    let listed = |short: &str| {
        let collections = search().collections.clone();
        collections.iter().find_map(|c| {
            let (ns, coll) = c.split_once('.')?;
            collection_roots()
                .into_iter()
                .map(|root| {
                    root.join("ansible_collections")
                        .join(ns)
                        .join(coll)
                        .join("plugins/action")
                        .join(format!("{short}.py"))
                })
                .find(|p| p.is_file())
        })
    };
    match parts.as_slice() {
        [short] => listed(short).or_else(|| {
            action_plugin_dirs()
                .into_iter()
                .map(|d| d.join(format!("{short}.py")))
                .find(|p| p.is_file())
                .or_else(|| core_action(short))
        }),
        ["ansible", "legacy", short] => action_plugin_dirs()
            .into_iter()
            .map(|d| d.join(format!("{short}.py")))
            .find(|p| p.is_file())
            .or_else(|| core_action(short)),
        ["ansible", "builtin", short] => core_action(short),
        [ns, coll, rest @ ..] if !rest.is_empty() => {
            let mut rel = PathBuf::from("plugins/action");
            for r in rest {
                rel.push(r);
            }
            rel.set_extension("py");
            collection_roots()
                .into_iter()
                .map(|root| {
                    root.join("ansible_collections")
                        .join(ns)
                        .join(coll)
                        .join(&rel)
                })
                .find(|p| p.is_file())
        }
        _ => None,
    }
}

/// Whether action plugin `name` takes free-form text (its class sets `supports_raw_params =
/// True`): its words that are not `k=v` are its `_raw_params`, as for `command`.
pub fn action_plugin_takes_raw_params(name: &str) -> bool {
    static CACHE: OnceLock<Mutex<std::collections::HashMap<String, bool>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(r) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
        return *r;
    }
    let r = action_plugin(name)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .is_some_and(|src| {
            src.lines().any(|l| {
                l.trim()
                    .strip_prefix("supports_raw_params")
                    .and_then(|r| r.trim_start().strip_prefix('='))
                    .is_some_and(|v| v.trim() == "True")
            })
        });
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_string(), r);
    r
}

/// The full name of the action plugin `name` resolves to: `ns.coll.name` when a short name is
/// found in a collection (see [`action_plugin`]), else `name` as written.
pub fn action_plugin_fqcn(name: &str) -> String {
    if name.contains('.') {
        return name.to_string();
    }
    let Some(p) = action_plugin(name) else {
        return name.to_string();
    };
    // …/ansible_collections/<ns>/<coll>/plugins/action/<name>.py
    let parts: Vec<String> = p
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.iter().rposition(|c| c == "ansible_collections") {
        Some(i) if parts.len() == i + 6 => format!("{}.{}.{name}", parts[i + 1], parts[i + 2]),
        _ => name.to_string(),
    }
}

/// The action an action plugin `name` is only another name of: a plugin whose whole code
/// imports `ActionModule` from ansible-core's `ansible.plugins.action.<x>` (Ansible then runs
/// action `x` under the plugin's name).
pub fn action_alias(name: &str) -> Option<String> {
    static CACHE: OnceLock<Mutex<std::collections::HashMap<String, Option<String>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(r) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
        return r.clone();
    }
    let r = action_plugin(name)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|src| alias_of(&src));
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_string(), r.clone());
    r
}

/// The action `src` (an action plugin's Python code) is an alias of, if it is only that.
pub(crate) fn alias_of(src: &str) -> Option<String> {
    let re = regex::Regex::new(
        r"^from\s+ansible\.plugins\.action\.([a-z_][a-z0-9_]*)\s+import\s+ActionModule(\s+as\s+ActionModule)?$",
    )
    .ok()?;
    let mut target = None;
    for line in super::payload::logical_lines(src) {
        let l = line.trim();
        if l.is_empty()
            || l.starts_with("from __future__ import")
            || l == "assert ActionModule"
            || l == "__metaclass__ = type"
        {
            continue;
        }
        let c = re.captures(l)?;
        if target.is_some() {
            return None;
        }
        target = Some(c[1].to_string());
    }
    target
}

/// The `module_utils` folders that come before ansible-core's own, in search order.
pub fn module_utils_dirs() -> Vec<PathBuf> {
    let s = search();
    let mut out: Vec<PathBuf> = s.adjacent.iter().map(|d| d.join("module_utils")).collect();
    let configured = std::env::var("ANSIBLE_MODULE_UTILS").unwrap_or_else(|_| {
        "~/.ansible/plugins/module_utils:/usr/share/ansible/plugins/module_utils".into()
    });
    out.extend(split_paths(&configured));
    out
}

/// The folders that hold `ansible_collections/`, in search order.
pub fn collection_roots() -> Vec<PathBuf> {
    let (configured, adjacent) = {
        let s = search();
        (s.collections_path.clone(), s.playbook_collections.clone())
    };
    let configured = configured
        .or_else(|| std::env::var("ANSIBLE_COLLECTIONS_PATH").ok())
        .or_else(|| std::env::var("ANSIBLE_COLLECTIONS_PATHS").ok())
        .unwrap_or_else(|| "~/.ansible/collections:/usr/share/ansible/collections".into());
    let mut out: Vec<PathBuf> = adjacent
        .into_iter()
        .chain(split_paths(&configured))
        .map(|p| {
            // A path may name the `ansible_collections` folder itself.
            if p.file_name().is_some_and(|n| n == "ansible_collections") {
                p.parent().map(Path::to_path_buf).unwrap_or(p)
            } else {
                p
            }
        })
        .collect();
    if let Some(site) = core()
        .as_ref()
        .and_then(|c| c.site().map(Path::to_path_buf))
    {
        out.push(site);
    }
    out
}

/// A module file named `name` in `dir`: `name.py`, `name` itself, or `name.<ext>` (a shell
/// script, a binary), as Ansible names modules by their file name without its extension.
fn module_file(dir: &Path, name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return None;
    }
    let py = dir.join(format!("{name}.py"));
    if py.is_file() {
        return Some(py);
    }
    let bare = dir.join(name);
    if bare.is_file() {
        return Some(bare);
    }
    let mut others: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_stem().is_some_and(|s| s == name)
                && p.extension()
                    .is_some_and(|e| e != "ps1" && e != "yml" && e != "yaml")
                && p.is_file()
        })
        .collect();
    others.sort();
    others.into_iter().next()
}

/// What a lookup tried, for the error when nothing was found.
#[derive(Debug, Default)]
pub struct Searched(pub Vec<String>);

/// Finds the module `name` as written in a task (a short name, `ansible.builtin.x`,
/// `ansible.legacy.x` or a collection's `ns.coll.x`).
pub fn find(name: &str) -> Option<Found> {
    find_tracing(name, &mut Searched::default())
}

/// [`find`], noting each place it looked.
pub fn find_tracing(name: &str, searched: &mut Searched) -> Option<Found> {
    find_depth(name, searched, 0)
}

fn find_depth(name: &str, searched: &mut Searched, depth: usize) -> Option<Found> {
    if depth > 8 {
        return None;
    }
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        [short] => {
            if let Some(f) = find_legacy(short, searched) {
                return Some(f);
            }
            let colls = search().collections.clone();
            for c in colls {
                if let Some(f) = find_depth(&format!("{c}.{short}"), searched, depth + 1) {
                    return Some(f);
                }
            }
            None
        }
        ["ansible", "legacy", short] => find_legacy(short, searched),
        ["ansible", "builtin", short] => find_builtin(short, searched, depth),
        [ns, coll, rest @ ..] if !rest.is_empty() => {
            find_in_collection(ns, coll, rest, searched, depth)
        }
        _ => None,
    }
}

/// `ansible.legacy.x` (and a short name): the library folders first, then ansible-core.
fn find_legacy(short: &str, searched: &mut Searched) -> Option<Found> {
    for d in library_dirs() {
        searched.0.push(d.display().to_string());
        if let Some(path) = module_file(&d, short) {
            return Some(Found {
                name: short.to_string(),
                path,
                fqn: format!("ansible.legacy.{short}"),
            });
        }
    }
    find_builtin(short, searched, 0).map(|mut f| {
        f.name = short.to_string();
        f
    })
}

/// `ansible.builtin.x`: ansible-core's own module, or where ansible-core's routing sends it.
fn find_builtin(short: &str, searched: &mut Searched, depth: usize) -> Option<Found> {
    let Some(core) = core() else {
        searched
            .0
            .push("ansible-core (no `python3` on PATH imports ansible)".into());
        return None;
    };
    let dir = core.dir.join("modules");
    searched.0.push(dir.display().to_string());
    if let Some(path) = module_file(&dir, short).filter(|p| p.extension().is_some()) {
        return Some(Found {
            name: format!("ansible.builtin.{short}"),
            path,
            fqn: format!("ansible.modules.{short}"),
        });
    }
    // ansible-core's routing: old short names now in collections.
    let target = redirect(&core.dir.join("config/ansible_builtin_runtime.yml"), short)?;
    find_depth(&target, searched, depth + 1)
}

/// `ns.coll.x` (or `ns.coll.sub.x`) in the installed collections.
fn find_in_collection(
    ns: &str,
    coll: &str,
    rest: &[&str],
    searched: &mut Searched,
    depth: usize,
) -> Option<Found> {
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    if !ident(ns) || !ident(coll) || !rest.iter().all(|s| ident(s)) {
        return None;
    }
    let (last, subdirs) = rest.split_last()?;
    for root in collection_roots() {
        let base = root.join("ansible_collections").join(ns).join(coll);
        let mut dir = base.join("plugins/modules");
        for s in subdirs {
            dir = dir.join(s);
        }
        searched.0.push(dir.display().to_string());
        if let Some(path) = module_file(&dir, last).filter(|p| p.extension().is_some()) {
            let mut fqn = format!("ansible_collections.{ns}.{coll}.plugins.modules");
            for s in rest {
                fqn.push('.');
                fqn.push_str(s);
            }
            return Some(Found {
                name: format!("{ns}.{coll}.{}", rest.join(".")),
                path,
                fqn,
            });
        }
        if base.is_dir() {
            // The collection is here: its routing may send the name elsewhere; no other
            // copy of it is searched (Ansible uses the first one found).
            if let Some(target) = redirect(&base.join("meta/runtime.yml"), &rest.join(".")) {
                return find_depth(&target, searched, depth + 1);
            }
            return None;
        }
    }
    None
}

/// `plugin_routing.modules.<name>.redirect` of a `runtime.yml`.
fn redirect(runtime: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(runtime).ok()?;
    let node = crate::yaml::load_str(&text, runtime).ok()?;
    let r = node
        .get("plugin_routing")?
        .get("modules")?
        .get(name)?
        .get("redirect")?
        .scalar_text()?;
    Some(r.trim().to_string())
}

/// Reads a module's file and classifies it as Ansible does.
pub fn style(data: &[u8]) -> Style {
    let head = &data[..data.len().min(1024)];
    let binary = head
        .iter()
        .any(|&b| b < 0x20 && ![7u8, 8, 9, 10, 12, 13, 27].contains(&b) || b == 0x7f);
    if binary {
        return Style::Binary;
    }
    let text = String::from_utf8_lossy(data);
    if text.contains("#<<INCLUDE_ANSIBLE_MODULE_COMMON>>") || new_style_re().is_match(&text) {
        return Style::New;
    }
    if text.contains("WANT_JSON") {
        return Style::WantJson;
    }
    Style::Old
}

fn new_style_re() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(concat!(
            r"from +\.{2,} *module_utils.* +import |",
            r"from +ansible_collections\.[^.]+\.[^.]+\.plugins\.module_utils.* +import |",
            r"import +ansible_collections\.[^.]+\.[^.]+\.plugins\.module_utils|",
            r"from +ansible\.module_utils.* +import |",
            r"import +ansible\.module_utils\."
        ))
        .expect("static regex")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_are_told_apart_as_ansible_does() {
        assert_eq!(
            style(b"#!/usr/bin/python\nfrom ansible.module_utils.basic import AnsibleModule\n"),
            Style::New
        );
        assert_eq!(style(b"import ansible.module_utils.basic\n"), Style::New);
        assert_eq!(
            style(b"from ansible_collections.a.b.plugins.module_utils.x import y\n"),
            Style::New
        );
        assert_eq!(style(b"#!/bin/sh\n# WANT_JSON\ncat $1\n"), Style::WantJson);
        assert_eq!(style(b"#!/bin/sh\necho '{}'\n"), Style::Old);
        assert_eq!(style(b"\x7fELF\x02\x01\x01\x00\x00"), Style::Binary);
    }

    #[test]
    fn an_action_plugin_that_only_imports_a_builtin_action_is_its_alias() {
        let alias = "# comment\nfrom __future__ import annotations\n\nfrom ansible.plugins.action.debug import ActionModule\n\nassert ActionModule\n";
        assert_eq!(alias_of(alias).as_deref(), Some("debug"));
        let real = "from ansible.plugins.action import ActionBase\nclass ActionModule(ActionBase):\n    pass\n";
        assert_eq!(alias_of(real), None);
        let more = "from ansible.plugins.action.debug import ActionModule\nprint(1)\n";
        assert_eq!(alias_of(more), None);
    }

    #[test]
    fn a_library_folder_is_searched_before_ansible_core() {
        let dir = std::env::temp_dir().join(format!("prov-fb-lookup-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("library")).unwrap();
        std::fs::write(dir.join("library/prov_fb_probe_mod.py"), "print('{}')\n").unwrap();
        std::fs::write(dir.join("library/prov_fb_probe_bin"), "#!/bin/sh\n").unwrap();
        add_adjacent(&dir);
        let f = find("prov_fb_probe_mod").unwrap();
        assert_eq!(f.fqn, "ansible.legacy.prov_fb_probe_mod");
        assert_eq!(f.path, dir.join("library/prov_fb_probe_mod.py"));
        assert_eq!(find("ansible.legacy.prov_fb_probe_mod").unwrap(), f);
        assert!(find("prov_fb_probe_bin").is_some());
        // ansible.builtin names only ansible-core's own modules.
        assert!(find("ansible.builtin.prov_fb_probe_mod").is_none());
        let mut s = Searched::default();
        assert!(find_tracing("prov_fb_no_such_module", &mut s).is_none());
        assert!(
            s.0.contains(&dir.join("library").display().to_string()),
            "{s:?}"
        );
        assert!(find("../etc/passwd").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn collections_and_their_redirects_are_found() {
        let dir = std::env::temp_dir().join(format!("prov-fb-colls-{}", std::process::id()));
        let c = dir.join("ansible_collections/provtest/things");
        std::fs::create_dir_all(c.join("plugins/modules/sub")).unwrap();
        std::fs::create_dir_all(c.join("meta")).unwrap();
        std::fs::write(c.join("plugins/modules/widget.py"), "x\n").unwrap();
        std::fs::write(c.join("plugins/modules/sub/gadget.py"), "x\n").unwrap();
        std::fs::create_dir_all(c.join("plugins/action")).unwrap();
        std::fs::write(c.join("plugins/action/act.py"), "x\n").unwrap();
        std::fs::write(
            c.join("meta/runtime.yml"),
            "plugin_routing:\n  modules:\n    old_widget:\n      redirect: provtest.things.widget\n",
        )
        .unwrap();
        configure(None, Some(format!("/nonexistent:{}", dir.display())));
        let f = find("provtest.things.widget").unwrap();
        assert_eq!(
            f.fqn,
            "ansible_collections.provtest.things.plugins.modules.widget"
        );
        assert_eq!(f.short(), "widget");
        let g = find("provtest.things.sub.gadget").unwrap();
        assert_eq!(
            g.fqn,
            "ansible_collections.provtest.things.plugins.modules.sub.gadget"
        );
        assert_eq!(find("provtest.things.old_widget").unwrap().path, f.path);
        assert!(find("provtest.things.nothing").is_none());
        assert_eq!(
            action_plugin("provtest.things.act"),
            Some(c.join("plugins/action/act.py"))
        );
        assert_eq!(action_plugin("provtest.things.widget"), None);
        assert_eq!(action_plugin("provtest.things.../x"), None);
        add_collections(["provtest.things".to_string()]);
        assert_eq!(find("widget").unwrap().path, f.path);
        configure(None, None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
