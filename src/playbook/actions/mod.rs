//! The one table of engine actions: what prov runs itself instead of through a module
//! (`set_fact`, `include_*`, `import_*`, `meta`, `add_host`, `group_by`, `gather_facts`), the
//! modules the engine treats specially (`pause`, `wait_for_connection`), and the playbook entry
//! `import_playbook`. Each entry has its option spec and description (for `prov doc`), how its
//! free-form string is read, its flags, and how the loader turns it into a [`TaskKind`]. The
//! loader and the engine consult these entries and flags instead of comparing action names.

use super::model::TaskKind;
use crate::error::{Error, Location, Result, did_you_mean};
use crate::modules::{ModuleDoc, canonical_name};
use crate::value::{Value, Vars, vars_value};
use std::path::Path;

/// How an action's free-form string (`meta: flush_handlers`, `set_fact: a=1`) is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FreeFormMode {
    /// Only `k=v` words; any other word is an error.
    KeyValue,
    /// `k=v` words are options; the other words are kept as the free-form value.
    Mixed,
    /// The whole string is the free-form value (no `k=v` splitting).
    Whole,
}

/// What happens to keys outside an action's documented options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExtraKeys {
    /// They are an error.
    Rejected,
    /// They are accepted and ignored (Ansible options prov does not implement).
    Ignored,
    /// They are variables; the text says whose.
    Vars(&'static str),
}

/// Properties of an action that the loader and the engine consult instead of its name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ActionFlags {
    /// Runs on the controller: the engine never opens a connection to the host for it.
    pub controller: bool,
    /// Bypasses the host loop: runs once per task (or loop item) for the whole batch, not once
    /// per host (its results are shared by every host of the batch, as with `run_once`).
    pub once_per_batch: bool,
    /// A host that cannot be reached yet is retried until the action's own timeout instead of
    /// being marked unreachable at once.
    pub waits_for_unreachable: bool,
    /// Reads what the user types at the terminal.
    pub interactive: bool,
    /// Expanded when the playbook loads (its tasks replace it), not when it runs.
    pub static_import: bool,
    /// Takes `apply:` (keywords for every task it brings in).
    pub takes_apply: bool,
    /// Its arguments are a string or a mapping (a list gets an error saying so).
    pub string_or_map: bool,
}

/// What the loader does with an action.
#[derive(Clone, Copy)]
pub(crate) enum Load {
    /// The engine runs it: this builds its task from the arguments (and checks them).
    Task(fn(&ActionArgs) -> Result<TaskKind>),
    /// It is a module of the registry (its own doc and spec); the table only adds flags.
    Module,
    /// An entry of the playbook's list of plays, not a task (`import_playbook`).
    PlayEntry,
}

/// What an action's loader gets: the action as written (canonical name), its arguments
/// (module defaults, free form and mapping merged), the node of its value (for error
/// locations) and the folder relative paths resolve from.
pub(crate) struct ActionArgs<'a> {
    /// Canonical action name (`include_tasks`, not `ansible.builtin.include_tasks`).
    pub name: &'a str,
    /// The arguments.
    pub args: &'a Vars,
    /// Where errors point (the action's value).
    pub at: &'a Location,
    /// Folder relative paths resolve from.
    pub base: &'a Path,
}

impl ActionArgs<'_> {
    fn get(&self, k: &str) -> Option<Value> {
        self.args.get(k).cloned()
    }
    /// An error about these arguments, at the action.
    fn error(&self, msg: impl Into<String>) -> Error {
        Error::parse(msg).at(self.at)
    }
}

/// One engine action.
pub(crate) struct Action {
    /// Its name; `ansible.builtin.<name>` (and the other prefixes
    /// [`canonical_name`] strips) name it too.
    pub name: &'static str,
    /// Its options and documentation; `None` for a module of the registry, whose own doc
    /// and spec apply.
    pub doc: Option<&'static ModuleDoc>,
    /// How a free-form string is read.
    pub free_form: FreeFormMode,
    /// Keys outside the documented options.
    pub extra_keys: ExtraKeys,
    /// Flags the loader and the engine consult.
    pub flags: ActionFlags,
    /// How the loader handles it.
    pub load: Load,
}

mod table;

pub(crate) use table::*;

/// The action named `name` (or `ansible.builtin.<name>`, …).
pub(crate) fn find(name: &str) -> Option<&'static Action> {
    let name = canonical_name(name);
    ACTIONS.iter().copied().find(|a| a.name == name)
}

/// The action named `name` when the engine or the loader handles it (not a module of the
/// registry): a name the loader accepts as an action whatever modules are registered.
pub(crate) fn engine_action(name: &str) -> Option<&'static Action> {
    find(name).filter(|a| !matches!(a.load, Load::Module))
}

/// How `module`'s free-form string is read when it has no module doc: by its action's mode,
/// or `k=v` words only.
pub(crate) fn free_form_mode(module: &str) -> FreeFormMode {
    find(module).map_or(FreeFormMode::KeyValue, |a| a.free_form)
}

impl Action {
    /// Builds the task (checking the arguments as the spec says); `None` for a module or a
    /// playbook entry.
    pub(crate) fn load_task(&self, a: &ActionArgs) -> Option<Result<TaskKind>> {
        let Load::Task(load) = self.load else {
            return None;
        };
        Some(load(a).and_then(|kind| {
            self.check_extra_keys(a)?;
            Ok(kind)
        }))
    }

    /// Keys outside the spec, for an action that rejects them.
    fn check_extra_keys(&self, a: &ActionArgs) -> Result<()> {
        let (ExtraKeys::Rejected, Some(doc)) = (self.extra_keys, self.doc) else {
            return Ok(());
        };
        if let Some(k) = a.args.keys().find(|k| doc.option(k).is_none()) {
            let names: Vec<&str> = doc.all_options().map(|o| o.name).collect();
            let list = match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => {
                    format!("{} and {last}", rest.join(", "))
                }
                _ => names.join(""),
            };
            return Err(a
                .error(format!("{} has no option '{k}'", self.name))
                .hint(format!("its options are {list}")));
        }
        Ok(())
    }

    /// The one-line description: the spec's, or the module's from `module_doc`.
    pub(crate) fn short(&self, module_doc: Option<&ModuleDoc>) -> &'static str {
        match (self.doc, module_doc) {
            (Some(d), _) => d.short,
            (None, Some(m)) => m.short,
            (None, None) => "",
        }
    }

    /// The `prov doc` text: the spec (or `module_doc` for a module) and what the engine does
    /// with the action.
    pub(crate) fn render(&self, module_doc: Option<&ModuleDoc>) -> String {
        let mut s = match (self.doc, module_doc) {
            (Some(d), _) | (None, Some(d)) => d.render(),
            (None, None) => format!("{}\n", self.name),
        };
        if !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str("\nENGINE:\n");
        let mut note = |t: &str| s.push_str(&format!("  - {t}\n"));
        match self.load {
            Load::Task(_) => note("run by the engine itself (not a module)"),
            Load::Module => note("a module the engine treats specially"),
            Load::PlayEntry => {
                note("a playbook entry, beside the plays; not valid as a task");
                note("its value is the file name");
            }
        }
        let f = &self.flags;
        if f.controller {
            note("runs on the controller; never connects to the host");
        }
        if f.once_per_batch {
            note(
                "runs once per task (or loop item) for all the hosts of the batch, not once per host",
            );
        }
        if f.waits_for_unreachable {
            note(
                "a host that cannot be reached yet is retried until `timeout`, then fails (not UNREACHABLE)",
            );
        }
        if f.interactive {
            note("may read from the terminal");
        }
        if f.static_import {
            note("expanded when the playbook loads; its keywords pass to every task it brings in");
        }
        if f.takes_apply {
            note("takes `apply:`: keywords for every task it brings in");
        }
        if let Load::Task(_) = self.load {
            match self.free_form {
                FreeFormMode::KeyValue => note("a string holds `k=v` options only"),
                FreeFormMode::Mixed => {
                    note("a string holds `k=v` options; other words are its free-form value")
                }
                FreeFormMode::Whole => note("a string is its free-form value, whole"),
            }
            match self.extra_keys {
                ExtraKeys::Rejected => note("other keys are an error"),
                ExtraKeys::Ignored => {
                    note("other keys of Ansible's version are accepted and ignored")
                }
                ExtraKeys::Vars(t) => note(t),
            }
        }
        s
    }
}

impl TaskKind {
    /// The action this task runs, when it is one of the table (a module task only for the
    /// modules the engine treats specially).
    pub(crate) fn action(&self) -> Option<&'static Action> {
        match self {
            TaskKind::Module { name, .. } => find(name).filter(|a| matches!(a.load, Load::Module)),
            TaskKind::Block { .. } => None,
            TaskKind::IncludeTasks { .. } => Some(&INCLUDE_TASKS),
            TaskKind::IncludeRole { .. } => Some(&INCLUDE_ROLE),
            TaskKind::SetFact { .. } => Some(&SET_FACT),
            TaskKind::IncludeVars { .. } => Some(&INCLUDE_VARS),
            TaskKind::Meta(_) => Some(&META),
            TaskKind::AddHost { .. } => Some(&ADD_HOST),
            TaskKind::GroupBy { .. } => Some(&GROUP_BY),
            TaskKind::GatherFacts { .. } => Some(&GATHER_FACTS),
            // Known by name unless the name is a template.
            TaskKind::Deferred(d) => find(&d.name),
        }
    }

    /// The name of what this task runs, as Ansible's `task.action`: the module's canonical
    /// name, the table action's name, or `block`.
    pub(crate) fn action_name(&self) -> &str {
        match self {
            TaskKind::Module { name, .. } => name,
            TaskKind::Block { .. } => "block",
            // A module prov runs through the fallback (not an action of the table).
            TaskKind::Deferred(d)
                if find(&d.name).is_none() && !crate::template::is_template(&d.name) =>
            {
                canonical_name(&d.name)
            }
            other => other.action().map_or("", |a| a.name),
        }
    }
}

impl Action {
    /// Builds the task of an action when it runs from its rendered arguments (a
    /// [`TaskKind::Deferred`] once its name and arguments are known); an error for an action
    /// only valid when the playbook loads (an import, a playbook entry).
    pub(crate) fn load_at_run_time(&self, a: &ActionArgs) -> Result<TaskKind> {
        if self.flags.static_import {
            return Err(a
                .error(format!(
                    "{} is expanded when the playbook loads; its name and arguments cannot come from a template",
                    self.name
                ))
                .hint("use include_tasks or include_role"));
        }
        self.load_task(a).unwrap_or_else(|| {
            Err(a.error(format!("{} is a playbook entry, not a task", self.name)))
        })
    }
}

pub(super) fn load_set_fact(a: &ActionArgs) -> Result<TaskKind> {
    let cacheable = a.get("cacheable").unwrap_or(Value::from(false));
    let vars: Vec<(String, Value)> = a
        .args
        .iter()
        .filter(|(k, _)| k.as_str() != "cacheable" && k.as_str() != "_raw_params")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if vars.is_empty() {
        return Err(a.error("set_fact needs at least one variable"));
    }
    Ok(TaskKind::SetFact { vars, cacheable })
}

pub(super) fn load_include_vars(a: &ActionArgs) -> Result<TaskKind> {
    Ok(TaskKind::IncludeVars {
        args: vars_value(a.args),
        base: a.base.to_path_buf(),
    })
}

pub(super) fn load_tasks_file(a: &ActionArgs) -> Result<TaskKind> {
    let file = a
        .get("file")
        .or_else(|| a.get("_raw_params"))
        .ok_or_else(|| a.error(format!("No file specified for {}", a.name)))?;
    Ok(TaskKind::IncludeTasks {
        file,
        base: a.base.to_path_buf(),
        apply: None,
    })
}

pub(super) fn load_role(a: &ActionArgs) -> Result<TaskKind> {
    let name = a
        .get("name")
        .or_else(|| a.get("role"))
        .ok_or_else(|| a.error(format!("{} needs `name:`", a.name)))?;
    let s = |k: &str| a.get(k).map(|v| v.to_string());
    Ok(TaskKind::IncludeRole {
        name,
        tasks_from: s("tasks_from"),
        vars_from: s("vars_from"),
        defaults_from: s("defaults_from"),
        handlers_from: s("handlers_from"),
        public: a.get("public"),
        allow_duplicates: a.get("allow_duplicates"),
        rolespec_validate: a.get("rolespec_validate"),
        apply: None,
    })
}

pub(super) fn load_meta(a: &ActionArgs) -> Result<TaskKind> {
    let m = a
        .get("_raw_params")
        .map(|v| v.to_string())
        .unwrap_or_default();
    if !META_ACTIONS.contains(&m.as_str()) {
        let mut e = a.error(format!("unknown meta action '{m}'"));
        if let Some(s) = did_you_mean(&m, META_ACTIONS.iter().copied()) {
            e = e.hint(format!("did you mean '{s}'?"));
        }
        return Err(e);
    }
    Ok(TaskKind::Meta(m))
}

pub(super) fn load_add_host(a: &ActionArgs) -> Result<TaskKind> {
    if !["name", "host", "hostname"]
        .iter()
        .any(|k| a.args.contains_key(*k))
    {
        return Err(a
            .error("add_host needs `name` (the host to add)")
            .hint("e.g. add_host: { name: \"{{ item.private_ip }}\", groups: [web] }"));
    }
    Ok(TaskKind::AddHost {
        args: vars_value(a.args),
    })
}

pub(super) fn load_group_by(a: &ActionArgs) -> Result<TaskKind> {
    if !a.args.contains_key("key") {
        return Err(a
            .error("group_by needs `key` (the group to put each host in)")
            .hint("e.g. group_by: { key: \"os_{{ ansible_distribution | lower }}\" }"));
    }
    Ok(TaskKind::GroupBy {
        args: vars_value(a.args),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Registry;
    use crate::playbook::{Inherit, Loader, Task};
    use std::collections::HashSet;
    use std::path::PathBuf;

    /// A folder with what the examples name (task files, a role, a playbook).
    fn project(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("prov-actions-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (f, text) in [
            ("common.yml", "- set_fact: x=1\n"),
            ("setup.yml", "- set_fact: x=1\n"),
            ("roles/common/tasks/main.yml", "- set_fact: x=1\n"),
            ("webservers.yml", "- hosts: all\n  tasks: []\n"),
        ] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    /// Loads strictly (as `prov check` does): bad arguments are load errors.
    fn load(registry: &Registry, dir: &Path, yaml: &str) -> Result<Vec<Task>> {
        load_as(registry, dir, yaml, true)
    }

    fn load_as(registry: &Registry, dir: &Path, yaml: &str, strict: bool) -> Result<Vec<Task>> {
        let node = crate::yaml::load_str(yaml, &dir.join("tasks.yml"))?;
        Loader::new(registry)
            .strict(strict)
            .load_tasks(&node, dir, &Inherit::default(), false)
    }

    #[test]
    fn the_table_is_consistent() {
        let builtin = Registry::builtin();
        let mut names = HashSet::new();
        for a in ACTIONS {
            assert!(names.insert(a.name), "{} twice", a.name);
            assert_eq!(
                find(&format!("ansible.builtin.{}", a.name)).unwrap().name,
                a.name
            );
            match a.load {
                // A module entry only adds flags to a module of the registry.
                Load::Module => {
                    assert!(a.doc.is_none(), "{}", a.name);
                    assert!(builtin.get(a.name).is_some(), "{}", a.name);
                }
                Load::Task(_) | Load::PlayEntry => {
                    let d = a.doc.unwrap_or_else(|| panic!("{} has no spec", a.name));
                    assert_eq!(d.name, a.name);
                    assert!(!d.short.is_empty() && !d.examples.is_empty(), "{}", a.name);
                    assert!(builtin.get(a.name).is_none(), "{} is also a module", a.name);
                }
            }
        }
        // Every task kind but a module or a block is an action of the table, run by the engine.
        let kinds = [
            TaskKind::SetFact {
                vars: vec![],
                cacheable: Value::from(false),
            },
            TaskKind::IncludeVars {
                args: Value::from(()),
                base: PathBuf::new(),
            },
            TaskKind::Meta("noop".into()),
            TaskKind::AddHost {
                args: Value::from(()),
            },
            TaskKind::GroupBy {
                args: Value::from(()),
            },
            TaskKind::GatherFacts {
                args: Value::from(()),
            },
        ];
        for k in &kinds {
            let a = k.action().unwrap();
            assert!(matches!(a.load, Load::Task(_)), "{}", a.name);
        }
        let module = |name: &str| TaskKind::Module {
            name: name.into(),
            args: Value::from(()),
        };
        assert_eq!(module("pause").action().map(|a| a.name), Some("pause"));
        assert!(module("debug").action().is_none());
        // The flags the engine consults, on the entries that need them (and no others).
        let with = |f: fn(&ActionFlags) -> bool| {
            let mut v: Vec<&str> = ACTIONS
                .iter()
                .filter(|a| f(&a.flags))
                .map(|a| a.name)
                .collect();
            v.sort();
            v
        };
        assert_eq!(with(|f| f.once_per_batch), ["add_host", "pause"]);
        assert_eq!(with(|f| f.waits_for_unreachable), ["wait_for_connection"]);
        assert_eq!(
            with(|f| f.static_import),
            ["import_role", "import_tasks", "include"]
        );
        assert_eq!(with(|f| f.takes_apply), ["include_role", "include_tasks"]);
        assert_eq!(with(|f| f.interactive), ["pause"]);
    }

    /// Every name the loader accepts as an action, whatever modules are registered, is an
    /// engine action of the table: with no modules at all, each one's documented examples load
    /// (by short and by fully qualified name), and no other name does.
    #[test]
    fn the_loader_accepts_exactly_the_table_s_engine_actions() {
        let none = Registry::new();
        let dir = project("accepts");
        for a in ACTIONS {
            let doc = a.doc.map(|d| d.examples).unwrap_or_default();
            match a.load {
                Load::Task(_) => {
                    let tasks =
                        load(&none, &dir, doc).unwrap_or_else(|e| panic!("{}: {e}\n{doc}", a.name));
                    assert!(!tasks.is_empty(), "{}", a.name);
                    let fq = format!("- ansible.builtin.{}", &doc[2..]);
                    load(&none, &dir, &fq).unwrap_or_else(|e| panic!("{fq}: {e}"));
                    if !a.flags.static_import {
                        assert_eq!(tasks[0].kind.action().unwrap().name, a.name);
                    }
                }
                Load::PlayEntry => {
                    let pb = dir.join("site.yml");
                    std::fs::write(&pb, doc).unwrap();
                    let builtin = Registry::builtin();
                    let loader = Loader::new(&builtin);
                    let p = loader.load_playbook(&pb).unwrap();
                    assert_eq!(p.plays.len(), 2, "{}", a.name);
                    // As a task it is an error that says where it goes.
                    let e = load(&none, &dir, "- import_playbook: webservers.yml\n").unwrap_err();
                    assert!(e.msg.contains("is a playbook entry, not a task"), "{e}");
                }
                Load::Module => {
                    unknown_unless_ansible_has_it(&none, &dir, &format!("- {}:\n", a.name), a.name);
                    assert!(load(&Registry::builtin(), &dir, &format!("- {}:\n", a.name)).is_ok());
                }
            }
        }
        for other in ["debug", "command", "add_hosts", "include_playbook"] {
            unknown_unless_ansible_has_it(&none, &dir, &format!("- {other}: x=1\n"), other);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A name that is no engine action of the table and no module of `registry` is a load
    /// error, unless the module fallback finds Ansible's module of that name (ansible-core on
    /// the machine): then it loads, to run Ansible's implementation.
    fn unknown_unless_ansible_has_it(registry: &Registry, dir: &Path, yaml: &str, name: &str) {
        let r = load(registry, dir, yaml);
        if crate::modules::fallback::find(name).is_some() {
            let t = r.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(matches!(&t[0].kind, TaskKind::Deferred(d) if d.name == name));
        } else {
            let e = r.unwrap_err();
            assert!(
                e.msg.contains("couldn't resolve module/action"),
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn action_arguments_are_checked_as_before() {
        let r = Registry::builtin();
        let dir = project("args");
        let err = |y: &str| load(&r, &dir, y).unwrap_err();
        let e = err("- group_by: { key: x, color: red }\n");
        assert_eq!(e.msg, "group_by has no option 'color'");
        assert_eq!(e.hint.as_deref(), Some("its options are key and parents"));
        let e = err("- group_by: { color: red }\n");
        assert!(e.msg.contains("group_by needs `key`"), "{e}");
        assert!(
            err("- add_host: groups=web\n")
                .msg
                .contains("add_host needs `name`")
        );
        assert!(
            err("- add_host: web1\n")
                .msg
                .contains("is not a k=v argument")
        );
        assert!(
            err("- meta: flush_handler\n")
                .msg
                .contains("unknown meta action")
        );
        assert!(
            err("- meta: [a]\n")
                .msg
                .contains("meta takes a string or a mapping")
        );
        assert!(
            err("- set_fact: {}\n")
                .msg
                .contains("at least one variable")
        );
        assert!(
            err("- include_tasks: {}\n")
                .msg
                .contains("No file specified for include_tasks")
        );
        assert!(
            err("- import_role: {}\n")
                .msg
                .contains("import_role needs `name:`")
        );
        let e = err("- import_tasks: common.yml\n  args: { apply: { tags: [x] } }\n");
        assert!(
            e.msg.contains("Invalid options for import_tasks: apply"),
            "{e}"
        );
        // Free form: `include_tasks` takes a file name or `file=` (as Ansible splits k=v
        // words for it), `set_fact` splits k=v.
        let t = load(
            &r,
            &dir,
            "- include_tasks: setup.yml\n- set_fact: a=1 b=2\n- include_tasks: file=other.yml\n",
        )
        .unwrap();
        assert!(
            matches!(&t[0].kind, TaskKind::IncludeTasks { file, .. } if file.as_str() == Some("setup.yml"))
        );
        assert!(matches!(&t[1].kind, TaskKind::SetFact { vars, .. } if vars.len() == 2));
        assert!(
            matches!(&t[2].kind, TaskKind::IncludeTasks { file, .. } if file.as_str() == Some("other.yml"))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Outside strict loading, what only running can judge waits for the task to run: bad
    /// arguments of an action or a module, a free form that is one template, a templated
    /// action name; an unknown module name is still a load error.
    #[test]
    fn a_run_defers_argument_errors_and_templates_to_the_task() {
        let r = Registry::builtin();
        let dir = project("deferred");
        let run = |y: &str| load_as(&r, &dir, y, false);
        let deferred = |y: &str| match &run(y).unwrap()[0].kind {
            TaskKind::Deferred(d) => (**d).clone(),
            k => panic!("{y}: not deferred: {k:?}"),
        };
        for bad in [
            "- group_by: { key: x, color: red }\n",
            "- add_host: groups=web\n",
            "- add_host: web1 web2\n",
            "- meta: flush_handler\n",
            "- set_fact: {}\n",
        ] {
            deferred(bad);
        }
        // A module's options are checked when it runs.
        assert!(matches!(
            &run("- copy: { contnet: x, dest: /tmp/x }\n").unwrap()[0].kind,
            TaskKind::Module { name, .. } if name == "copy"
        ));
        // One template as the whole free form renders to the arguments when the task runs.
        let d = deferred("- add_host: \"{{ host_data }}\"\n");
        assert_eq!(d.template, ["{{ host_data }}"]);
        assert_eq!(d.name, "add_host");
        let d = deferred("- debug:\n  args: \"{{ debug_args }}\"\n");
        assert_eq!(d.template, ["{{ debug_args }}"]);
        // A templated action name, with its free form kept whole for the action it names.
        let t = run("- action: \"{{ mod }} msg=hi\"\n").unwrap();
        assert_eq!(t[0].display_name(), "{{ mod }}");
        let TaskKind::Deferred(d) = &t[0].kind else {
            panic!("{:?}", t[0].kind)
        };
        assert_eq!(
            (d.name.as_str(), d.free.as_deref()),
            ("{{ mod }}", Some("msg=hi"))
        );
        // `set_fact` keys may be templates (k=v words of any key).
        let t = run("- set_fact: \"{{ item }}=moo\"\n").unwrap();
        assert!(matches!(&t[0].kind, TaskKind::SetFact { vars, .. } if vars[0].0 == "{{ item }}"));
        let e = run("- coppy: { src: a }\n").unwrap_err();
        assert!(
            e.msg.contains("couldn't resolve module/action 'coppy'"),
            "{e}"
        );
        let e = run("- action: nosuchmodule a=b\n").unwrap_err();
        assert!(
            e.msg
                .contains("couldn't resolve module/action 'nosuchmodule'"),
            "{e}"
        );
        assert_eq!(e.loc.as_ref().unwrap().line, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_action_renders_its_options_and_flags() {
        let r = Registry::builtin();
        for a in ACTIONS {
            let text = a.render(r.get(a.name).map(|m| m.doc()));
            assert!(text.starts_with(&format!("{} - ", a.name)), "{text}");
            assert!(text.contains("\nENGINE:\n"), "{text}");
            for o in a.doc.iter().flat_map(|d| d.all_options()) {
                assert!(
                    text.contains(&format!(" {} (", o.name)),
                    "{}: {}",
                    a.name,
                    o.name
                );
            }
        }
        let t = ADD_HOST.render(None);
        assert!(
            t.contains("= name (str)") && t.contains("aliases: host, hostname"),
            "{t}"
        );
        assert!(t.contains("once per task"), "{t}");
        let t = PAUSE.render(r.get("pause").map(|m| m.doc()));
        assert!(
            t.contains("- seconds (raw)") && t.contains("may read from the terminal"),
            "{t}"
        );
    }
}
