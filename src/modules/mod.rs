//! Modules: one file per module. A module validates its arguments against a static spec
//! ([`ModuleDoc`]) and returns a [`Plan`]: the changes it would make, as data. The engine applies
//! them unless in check mode, so check mode, `--diff` and JSON output share one code path, and a
//! module never prints or looks at `check_mode` to decide whether to act.

mod apply;
pub mod args;
#[cfg(feature = "aws")]
pub(crate) mod aws;
pub(crate) mod commands;
pub(crate) mod docker;
pub mod fallback;
pub(crate) mod files;
pub(crate) mod system;
pub(crate) mod toolkit;

/// Diffs belong to the event model (`events` does not import `modules`); re-exported here for
/// modules and existing users.
pub use crate::events::Diff;
pub use apply::{Applied, apply_plan};
pub use args::{
    Args, FileAttrs, ModuleDoc, OptGroup, OptKind, OptSpec, Options, RequiredIf, opt, validate_args,
};
pub use toolkit::write_local_atomic;

use crate::connection::{Become, Cmd, Connection, ExecOutput, PutOpts, Stdin};
use crate::error::{Error, Result};
use crate::value::{Value, Vars};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What applying a change does on the host.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Action {
    /// Nothing to run (the change is bookkeeping, e.g. a fact).
    None,
    /// Run a command.
    Exec {
        /// The command.
        cmd: Cmd,
        /// Put rc/stdout/stderr/stdout_lines/stderr_lines into the task result.
        capture: bool,
        /// A non-zero exit status fails the task.
        fail_on_rc: bool,
    },
    /// Write a file atomically.
    Put {
        /// The content.
        src: Stdin,
        /// The destination path on the host.
        dest: String,
        /// Mode, owner, group, become, validate.
        opts: PutOpts,
    },
    /// Write a file on the controller (fetch), atomically: apply with
    /// [`write_local_atomic`].
    LocalWrite {
        /// The controller path.
        path: PathBuf,
        /// The content.
        data: Vec<u8>,
    },
    /// Run code on the controller (cloud API calls): the returned values are merged into the
    /// task result (e.g. the id of a created resource).
    Call(Arc<dyn Apply>),
}

/// A change applied by code running on the controller (see [`Action::Call`]), e.g. an AWS API
/// call. Planning must not call it; the engine calls it once, unless in check mode.
#[async_trait]
pub trait Apply: Send + Sync + std::fmt::Debug {
    /// Makes the change; the returned values are merged into the task result.
    async fn apply(&self) -> Result<Vars>;
}

/// One change a module would make.
#[derive(Debug, Clone)]
pub struct Change {
    /// One line saying what changes, e.g. `create /etc/motd`.
    pub summary: String,
    /// The content diff, when there is one.
    pub diff: Option<Diff>,
    /// How to apply it.
    pub action: Action,
}

/// What a module decided: the changes to apply and the values to return.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Changes to apply, in order. Empty means "ok, nothing to do".
    pub changes: Vec<Change>,
    /// Return values (registered with `register`), e.g. `path`, `stat`, `content`.
    pub result: Vars,
    /// The module failed, with this message.
    pub failed: Option<String>,
    /// A message for the output (debug's `msg`, assert's message).
    pub msg: Option<String>,
    /// Skipped, with this reason.
    pub skipped: Option<String>,
    /// Facts to set on the host (set_fact, gathered facts).
    pub facts: Vars,
    /// Report `changed` even with no actions (e.g. a fact module that "changes" nothing remote).
    pub force_changed: bool,
    /// The `Exec` actions print [`RESULT_LINE`] lines: when applying, the engine merges each
    /// line's JSON object into the result, and when every `Exec` action printed
    /// `"changed": false`, the task is `ok` after all (see [`output_results`]).
    pub output_results: bool,
    /// A captured command's `stdout`/`stderr` keep their trailing newlines (command's
    /// `strip_empty_ends: false`, script's raw output).
    pub keep_output_ends: bool,
}

/// The prefix of a stdout line carrying a JSON object of return values (for plans with
/// [`Plan::output_results`]).
pub const RESULT_LINE: &str = "prov-result:";

/// Parses the [`RESULT_LINE`] lines of an `Exec` action's stdout: the return values they carry
/// (later lines win) and their `changed` key, if any (`None` when no line had one).
pub fn output_results(stdout: &str) -> (Vars, Option<bool>) {
    let mut vals = Vars::new();
    let mut changed = None;
    for line in stdout.lines() {
        let Some(j) = line.trim_end().strip_prefix(RESULT_LINE) else {
            continue;
        };
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(j) {
            for (k, v) in m {
                if k == "changed" {
                    changed = v.as_bool().or(changed);
                } else {
                    vals.insert(k, crate::value::from_json(&v));
                }
            }
        }
    }
    (vals, changed)
}

impl Plan {
    /// An empty plan (ok, nothing to change).
    pub fn ok() -> Self {
        Plan::default()
    }
    /// A failed plan.
    pub fn fail(msg: impl Into<String>) -> Self {
        Plan {
            failed: Some(msg.into()),
            ..Default::default()
        }
    }
    /// Adds a change.
    pub fn change(
        mut self,
        summary: impl Into<String>,
        diff: Option<Diff>,
        action: Action,
    ) -> Self {
        self.changes.push(Change {
            summary: summary.into(),
            diff,
            action,
        });
        self
    }
    /// Sets a return value.
    pub fn with(mut self, key: &str, v: impl Into<Value>) -> Self {
        self.result.insert(key.to_string(), v.into());
        self
    }
}

/// How the template module renders one file: its Jinja syntax options (delimiters, block
/// whitespace) and where the result goes (Ansible's `template_destpath`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TemplateOptions {
    /// `{%`, `%}`, `{{`, `}}`, `{#`, `#}` by default (block, variable and comment delimiters).
    pub delimiters: [String; 6],
    /// Remove the first newline after a block tag (Ansible's default: true).
    pub trim_blocks: bool,
    /// Strip spaces and tabs from the start of a line to a block tag (default: false).
    pub lstrip_blocks: bool,
    /// The destination path on the host, if known.
    pub dest: Option<String>,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            delimiters: ["{%", "%}", "{{", "}}", "{#", "#}"].map(String::from),
            trim_blocks: true,
            lstrip_blocks: false,
            dest: None,
        }
    }
}

impl TemplateOptions {
    /// Options from the template module's syntax options.
    pub fn new(delimiters: [String; 6], trim_blocks: bool, lstrip_blocks: bool) -> Self {
        TemplateOptions {
            delimiters,
            trim_blocks,
            lstrip_blocks,
            dest: None,
        }
    }
    /// The same options with the destination path.
    pub fn with_dest(mut self, dest: impl Into<String>) -> Self {
        self.dest = Some(dest.into());
        self
    }
    /// True when the syntax is Jinja's default (as the engine configures it).
    pub fn default_syntax(&self) -> bool {
        let d = TemplateOptions::default();
        self.delimiters == d.delimiters
            && self.trim_blocks == d.trim_blocks
            && self.lstrip_blocks == d.lstrip_blocks
    }
}

/// Rendering services the engine offers a module (templates, expressions).
pub trait Render: Send + Sync {
    /// Renders template text (the `template` module) in the task's variables.
    fn render_text(&self, text: &str, origin: &Path) -> Result<String>;
    /// Renders template text with the template module's options (delimiters, `trim_blocks`,
    /// `lstrip_blocks`, destination). The default handles only the default syntax.
    fn render_text_with(
        &self,
        text: &str,
        origin: &Path,
        opts: &TemplateOptions,
    ) -> Result<String> {
        if opts.default_syntax() {
            return self.render_text(text, origin);
        }
        Err(Error::failed(
            "this renderer does not support the template module's syntax options",
        ))
    }
    /// Evaluates a Jinja expression (`assert: that`, `debug: var`).
    fn eval(&self, expr: &str) -> Result<Value>;
    /// Decrypts the vault-encrypted content of the local file `name` with the run's vault
    /// password (the `decrypt` option of copy, script, unarchive). Without a password, an error.
    fn vault_decrypt(&self, text: &str, name: &str) -> Result<String> {
        let _ = text;
        Err(Error::failed(format!(
            "A vault password or secret must be specified to decrypt {name}"
        )))
    }
}

/// Everything a module may use while planning one task on one host.
///
/// The engine builds it; outside the crate (a test harness, an embedding) build one with
/// [`TaskCtx::new`] and the `with_*` methods. Fields are public to read.
#[non_exhaustive]
pub struct TaskCtx<'a> {
    /// Inventory name of the host.
    pub host: &'a str,
    /// The connection to it.
    pub conn: &'a dyn Connection,
    /// Privilege escalation for this task.
    pub become_: Option<Become>,
    /// Environment for commands (`environment:`).
    pub env: Vec<(String, String)>,
    /// Check mode: the plan is reported, not applied (modules need not look at it).
    pub check_mode: bool,
    /// Diff mode: compute diffs.
    pub diff_mode: bool,
    /// The task's search path for local `src` files, most specific first (its roles'
    /// folders, its file's folder, the playbook's folder last): see [`TaskCtx::find_file`].
    pub search_paths: Vec<PathBuf>,
    /// The host's facts (may be empty when gather_facts is off).
    pub facts: &'a Vars,
    /// Template rendering in the task's variables.
    pub render: &'a dyn Render,
    /// Verbosity (-v count), for `debug: verbosity`.
    pub verbosity: u8,
    /// The task's name as shown (`role : name`, or the module's name), for prompts.
    pub task_name: String,
}

impl<'a> TaskCtx<'a> {
    /// A context for `host` reached through `conn`, with its facts and a renderer: no become, no
    /// environment, not in check or diff mode, no search paths, verbosity 0.
    pub fn new(
        host: &'a str,
        conn: &'a dyn Connection,
        facts: &'a Vars,
        render: &'a dyn Render,
    ) -> Self {
        TaskCtx {
            host,
            conn,
            become_: None,
            env: Vec::new(),
            check_mode: false,
            diff_mode: false,
            search_paths: Vec::new(),
            facts,
            render,
            verbosity: 0,
            task_name: String::new(),
        }
    }
    /// The same context on another connection (e.g. one that records what runs).
    pub fn with_conn(mut self, conn: &'a dyn Connection) -> Self {
        self.conn = conn;
        self
    }
    /// Privilege escalation for the task.
    pub fn with_become(mut self, become_: Option<Become>) -> Self {
        self.become_ = become_;
        self
    }
    /// Environment for commands.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }
    /// Check mode on or off.
    pub fn with_check_mode(mut self, on: bool) -> Self {
        self.check_mode = on;
        self
    }
    /// Diff mode on or off.
    pub fn with_diff_mode(mut self, on: bool) -> Self {
        self.diff_mode = on;
        self
    }
    /// Folders to look for local `src` files in, most specific first.
    pub fn with_search_paths(mut self, paths: Vec<PathBuf>) -> Self {
        self.search_paths = paths;
        self
    }
    /// Verbosity (-v count).
    pub fn with_verbosity(mut self, v: u8) -> Self {
        self.verbosity = v;
        self
    }
}

impl TaskCtx<'_> {
    /// Runs a read-only inspection script with the task's become and environment.
    pub async fn run(&self, script: impl Into<String>) -> Result<ExecOutput> {
        let cmd = Cmd {
            probe: true,
            ..self.cmd(script)
        };
        self.conn.exec(&cmd).await
    }
    /// Runs a read-only probe written to leave the shell as it found it (see
    /// [`Cmd::inline`]): no `exit`, no `cd`, and its variables and functions unset at its end.
    pub async fn run_inline(&self, script: impl Into<String>) -> Result<ExecOutput> {
        let cmd = Cmd {
            probe: true,
            inline: true,
            ..self.cmd(script)
        };
        self.conn.exec(&cmd).await
    }
    /// Builds a [`Cmd`] with the task's become and environment.
    pub fn cmd(&self, script: impl Into<String>) -> Cmd {
        Cmd {
            script: script.into(),
            become_: self.become_.clone(),
            env: self.env.clone(),
            ..Default::default()
        }
    }
    /// Put options with the task's become.
    pub fn put_opts(&self) -> PutOpts {
        PutOpts {
            become_: self.become_.clone(),
            ..Default::default()
        }
    }
    /// Finds a local file the way Ansible does: absolute as is, else in each folder of the
    /// search path, under `<dir>/<kind>/` and then `<dir>/` (see
    /// [`crate::util::search_path`]).
    pub fn find_file(&self, kind: &str, p: &str) -> Result<PathBuf> {
        let sp = crate::util::search_path::SearchPath {
            paths: &self.search_paths,
            basedir: None,
            in_role: false,
        };
        sp.find(Some(kind), p).map_err(|tried| {
            let tried: Vec<String> = tried.iter().map(|c| c.display().to_string()).collect();
            Error::failed(format!("Could not find or access '{p}' on the controller"))
                .hint(format!("searched: {}", tried.join(", ")))
        })
    }
}

/// A module: a static description of its options and a `plan` function.
#[async_trait]
pub trait Module: Send + Sync {
    /// Its documentation and argument spec (drives parsing, validation, `prov doc`, `prov check`).
    fn doc(&self) -> &'static ModuleDoc;
    /// Inspects the host and returns what would change. Must not change anything itself.
    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan>;
}

/// The module registry: builtin modules plus any a library user registers.
#[derive(Clone, Default)]
pub struct Registry {
    modules: BTreeMap<String, Arc<dyn Module>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }
    /// The registry with every builtin module.
    pub fn builtin() -> Self {
        let mut r = Registry::new();
        register_builtins(&mut r);
        r
    }
    /// Adds (or replaces) a module under its doc name.
    pub fn register(&mut self, m: Arc<dyn Module>) {
        self.modules.insert(m.doc().name.to_string(), m);
    }
    /// Looks up a module; `ansible.builtin.x`, `ansible.legacy.x` and `x` all name `x`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Module>> {
        self.modules.get(canonical_name(name))
    }
    /// All module names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.modules.keys().map(String::as_str)
    }
}

/// The modules of ansible-core's `ansible.builtin` collection (2.19), by name. A task naming
/// one that prov has no native implementation of loads (Ansible resolves it), and fails when
/// it runs, saying so; skipped, it costs nothing.
pub(crate) const ANSIBLE_BUILTIN_MODULES: &[&str] = &[
    "add_host",
    "apt",
    "apt_key",
    "apt_repository",
    "assemble",
    "assert",
    "async_status",
    "blockinfile",
    "command",
    "copy",
    "cron",
    "deb822_repository",
    "debconf",
    "debug",
    "dnf",
    "dnf5",
    "dpkg_selections",
    "expect",
    "fail",
    "fetch",
    "file",
    "find",
    "gather_facts",
    "get_url",
    "getent",
    "git",
    "group",
    "group_by",
    "hostname",
    "import_playbook",
    "import_role",
    "import_tasks",
    "include_role",
    "include_tasks",
    "include_vars",
    "iptables",
    "known_hosts",
    "lineinfile",
    "meta",
    "mount_facts",
    "package",
    "package_facts",
    "pause",
    "ping",
    "pip",
    "raw",
    "reboot",
    "replace",
    "rpm_key",
    "script",
    "service",
    "service_facts",
    "set_fact",
    "set_stats",
    "setup",
    "shell",
    "slurp",
    "stat",
    "subversion",
    "systemd",
    "systemd_service",
    "sysvinit",
    "tempfile",
    "template",
    "unarchive",
    "uri",
    "user",
    "validate_argument_spec",
    "wait_for",
    "wait_for_connection",
    "yum_repository",
];

/// Whether `name` (canonical) is an `ansible.builtin` module (see [`ANSIBLE_BUILTIN_MODULES`]).
pub(crate) fn is_ansible_builtin(name: &str) -> bool {
    ANSIBLE_BUILTIN_MODULES.contains(&name)
}

/// Strips the `ansible.builtin.` / `ansible.legacy.` / `amazon.aws.` / `community.docker.` /
/// `ansible.posix.` / `community.general.` prefixes.
pub fn canonical_name(name: &str) -> &str {
    name.strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .or_else(|| name.strip_prefix("amazon.aws."))
        .or_else(|| name.strip_prefix("community.docker."))
        .or_else(|| name.strip_prefix("ansible.posix."))
        .or_else(|| name.strip_prefix("community.general."))
        .unwrap_or(name)
}

fn register_builtins(r: &mut Registry) {
    files::register(r);
    commands::register(r);
    system::register(r);
    #[cfg(feature = "aws")]
    aws::register(r);
    docker::register(r);
}

#[cfg(test)]
mod examples_tests {
    use super::Registry;
    use crate::playbook::{Inherit, Loader};

    /// Every builtin module's documented examples load as tasks: module names and options
    /// validate against the same spec users get (one test for all module families).
    #[test]
    fn every_documented_example_validates() {
        let r = Registry::builtin();
        let loader = Loader::new(&r);
        let mut checked = 0;
        for name in r.names() {
            let doc = r.get(name).unwrap().doc();
            assert_eq!(doc.name, name);
            assert!(!doc.examples.trim().is_empty(), "{name} has no examples");
            let node = crate::yaml::load_str(doc.examples, std::path::Path::new("example.yml"))
                .unwrap_or_else(|e| panic!("{name}: examples: {}", e.render()));
            let tasks = loader
                .load_tasks(&node, std::path::Path::new("."), &Inherit::default(), false)
                .unwrap_or_else(|e| panic!("{name}: examples: {}", e.render()));
            assert!(!tasks.is_empty(), "{name}: no example task");
            checked += 1;
        }
        assert_eq!(checked, r.names().count());
    }

    /// No module reads an option by a string key: every option goes through the module's typed
    /// `options!` struct (so a key outside the spec cannot compile). The raw accessors of
    /// `Args` are private to `args`; this catches `Args::get`, which stays public for library
    /// users.
    #[test]
    fn modules_read_options_only_through_their_spec() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    if !p.ends_with("args") {
                        walk(&p, out);
                    }
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/modules");
        let mut files = Vec::new();
        walk(&root, &mut files);
        assert!(files.len() > 40, "{files:?}");
        let re = regex::Regex::new(
            r"\bargs\s*\.\s*(get|has|str|bool|opt_bool|int|float|list_str|mode|vars)\s*\(",
        )
        .unwrap();
        let mut found = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                if re.is_match(line) {
                    found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "string-keyed option access:\n{}",
            found.join("\n")
        );
    }

    /// Every builtin module's spec is consistent: the rules, the free-form option and the
    /// aliases name options the spec defines, no name is defined twice, defaults fit their
    /// choices, and a required option has no default.
    #[test]
    fn every_spec_is_consistent() {
        let r = Registry::builtin();
        for name in r.names() {
            let doc = r.get(name).unwrap().doc();
            let known = |k: &str| {
                assert!(
                    doc.all_options().any(|o| o.name == k),
                    "{name}: a rule or free_form names '{k}', which is not an option"
                )
            };
            doc.free_form.into_iter().for_each(known);
            for g in doc
                .mutually_exclusive
                .iter()
                .chain(doc.required_one_of)
                .chain(doc.required_together)
            {
                assert!(
                    g.len() > 1 || doc.required_one_of.contains(g),
                    "{name}: {g:?}"
                );
                g.iter().copied().for_each(known);
            }
            for rule in doc.required_if {
                known(rule.key);
                rule.requires.iter().copied().for_each(known);
            }
            for (k, req) in doc.required_by {
                known(k);
                req.iter().copied().for_each(known);
            }
            let mut seen = std::collections::BTreeSet::new();
            for o in doc.all_options() {
                for n in std::iter::once(&o.name).chain(o.aliases) {
                    assert!(seen.insert(*n), "{name}: '{n}' is defined twice");
                }
                assert!(
                    !(o.required && o.default.is_some()),
                    "{name}: required option '{}' has a default",
                    o.name
                );
                if let (Some(d), false) = (o.default, o.choices.is_empty()) {
                    let truth = |s: &str| crate::value::truthy(&crate::value::Value::from(s));
                    assert!(
                        o.choices.contains(&d)
                            || (o.kind == super::OptKind::Bool
                                && o.choices.iter().any(|c| truth(c) == truth(d))),
                        "{name}: default '{d}' of '{}' is not one of its choices",
                        o.name
                    );
                }
            }
        }
    }
}
