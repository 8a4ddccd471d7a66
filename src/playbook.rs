//! Playbooks, plays, tasks, blocks and roles, loaded from Ansible's YAML with a location on every
//! task. Static constructs (`import_playbook`, `import_tasks`, `import_role`, `roles:`) are
//! expanded at load time; dynamic ones (`include_tasks`, `include_role`) are kept and expanded
//! per host when they run. Block keywords (`when`, `become`, `tags`, `vars`, …) are inherited by
//! the tasks inside at load time, so the engine sees flat, self-describing tasks.

use crate::error::{Error, Location, Result, did_you_mean};
use crate::modules::{ModuleDoc, Registry, canonical_name, validate_args};
use crate::value::{Value, Vars};
use crate::yaml::{self, Node, NodeValue};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Keywords valid on a task.
pub const TASK_KEYWORDS: &[&str] = &[
    "name",
    "action",
    "local_action",
    "args",
    "async",
    "poll",
    "become",
    "become_exe",
    "become_flags",
    "become_method",
    "become_user",
    "changed_when",
    "check_mode",
    "collections",
    "connection",
    "debugger",
    "delay",
    "delegate_facts",
    "delegate_to",
    "diff",
    "environment",
    "failed_when",
    "ignore_errors",
    "ignore_unreachable",
    "loop",
    "loop_control",
    "module_defaults",
    "no_log",
    "notify",
    "port",
    "register",
    "remote_user",
    "retries",
    "run_once",
    "tags",
    "throttle",
    "timeout",
    "until",
    "vars",
    "when",
    "listen",
    "any_errors_fatal",
];

/// Keywords valid on a block (besides `block`, `rescue`, `always`).
const BLOCK_KEYWORDS: &[&str] = &[
    "name",
    "become",
    "become_exe",
    "become_flags",
    "become_method",
    "become_user",
    "check_mode",
    "collections",
    "connection",
    "debugger",
    "delegate_facts",
    "delegate_to",
    "diff",
    "environment",
    "ignore_errors",
    "ignore_unreachable",
    "module_defaults",
    "no_log",
    "port",
    "remote_user",
    "run_once",
    "tags",
    "throttle",
    "timeout",
    "vars",
    "when",
    "any_errors_fatal",
    "block",
    "rescue",
    "always",
    "notify",
];

/// Keywords valid on a play.
const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "vars_prompt",
    "gather_facts",
    "gather_subset",
    "gather_timeout",
    "fact_path",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "become_exe",
    "serial",
    "strategy",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "roles",
    "tags",
    "any_errors_fatal",
    "max_fail_percentage",
    "environment",
    "module_defaults",
    "connection",
    "remote_user",
    "port",
    "order",
    "force_handlers",
    "ignore_errors",
    "ignore_unreachable",
    "check_mode",
    "diff",
    "no_log",
    "run_once",
    "collections",
    "throttle",
    "timeout",
    "debugger",
];

/// Actions the engine handles itself (not modules).
pub const ENGINE_ACTIONS: &[&str] = &[
    "set_fact",
    "include_vars",
    "include_tasks",
    "import_tasks",
    "include_role",
    "import_role",
    "meta",
    "import_playbook",
    "include",
    "gather_facts",
    "add_host",
    "group_by",
];

/// Privilege escalation keywords (unset fields inherit).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BecomeOpts {
    /// `become`.
    pub enabled: Option<bool>,
    /// `become_user`.
    pub user: Option<String>,
    /// `become_method`.
    pub method: Option<String>,
    /// `become_flags`.
    pub flags: Option<String>,
}

impl BecomeOpts {
    fn inherit(&mut self, parent: &BecomeOpts) {
        if self.enabled.is_none() {
            self.enabled = parent.enabled;
        }
        if self.user.is_none() {
            self.user = parent.user.clone();
        }
        if self.method.is_none() {
            self.method = parent.method.clone();
        }
        if self.flags.is_none() {
            self.flags = parent.flags.clone();
        }
    }
}

/// How deep imports and includes (task files and roles) may nest. Deeper is an error, as in
/// Ansible, instead of a stack overflow; real playbooks nest a handful of levels.
pub const MAX_INCLUDE_DEPTH: usize = 64;

/// One link of the chain of imports and includes that led to a task.
#[derive(Debug, Clone, PartialEq)]
pub struct IncludeFrame {
    /// The task (or `roles:` entry) that imported or included.
    pub at: Location,
    /// The task file it brought in.
    pub file: PathBuf,
    /// A run-time include (`include_tasks`, `include_role`): it may include itself again, since
    /// a `when:` can end the recursion; a static import of itself never ends.
    pub dynamic: bool,
}

/// The imports and includes that led to a task, outermost first.
pub type IncludeChain = Arc<Vec<IncludeFrame>>;

/// The chain one link longer, after `at` brought in `file`; an error naming every link when
/// that closes a loop of static imports (`import_tasks`, `import_role`, `roles:`, which would
/// expand forever) or nests deeper than [`MAX_INCLUDE_DEPTH`].
pub fn enter_include(
    chain: &IncludeChain,
    at: &Location,
    file: &Path,
    dynamic: bool,
) -> Result<IncludeChain> {
    let file = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
    let mut links = chain.to_vec();
    links.push(IncludeFrame {
        at: at.clone(),
        file: file.clone(),
        dynamic,
    });
    if !dynamic {
        // Only the part since the last run-time include is expanded in one go.
        let since = chain.iter().rposition(|f| f.dynamic).unwrap_or(0);
        if chain[since..].iter().any(|f| f.file == file) {
            return Err(Error::parse(format!(
                "import loop: {} is imported again from inside itself: {}",
                short_path(&file),
                chain_text(&links)
            ))
            .at(at)
            .hint("imports are expanded when the playbook loads, so a loop never ends; remove it, or use include_tasks/include_role with a `when:` that ends the recursion"));
        }
    }
    if chain.len() >= MAX_INCLUDE_DEPTH {
        let what = if dynamic { "includes" } else { "imports" };
        return Err(Error::parse(format!(
            "{what} nest deeper than {MAX_INCLUDE_DEPTH} levels (a recursion without an end?): {}",
            chain_text(&links)
        ))
        .at(at)
        .hint("a task file or role that includes itself needs a `when:` that ends the recursion"));
    }
    Ok(Arc::new(links))
}

/// `a.yml:3:5 → b.yml, b.yml:1:3 → a.yml`, with the middle of a long chain left out and paths
/// relative to the current folder.
fn chain_text(links: &[IncludeFrame]) -> String {
    let one = |f: &IncludeFrame| {
        format!(
            "{}:{}:{} → {}",
            short_path(&f.at.file),
            f.at.line,
            f.at.col,
            short_path(&f.file)
        )
    };
    if links.len() <= 12 {
        return links.iter().map(one).collect::<Vec<_>>().join(", ");
    }
    let head: Vec<String> = links[..4].iter().map(one).collect();
    let tail: Vec<String> = links[links.len() - 6..].iter().map(one).collect();
    format!(
        "{}, … {} more …, {}",
        head.join(", "),
        links.len() - 10,
        tail.join(", ")
    )
}

/// `p` relative to the current folder when it is inside it.
fn short_path(p: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    p.strip_prefix(&cwd).unwrap_or(p).display().to_string()
}

/// A role's variables and location, shared by all of its tasks.
#[derive(Debug, Clone, Default)]
pub struct RoleCtx {
    /// Role name.
    pub name: String,
    /// The role's folder.
    pub path: PathBuf,
    /// `defaults/main.yml` (lowest precedence).
    pub defaults: Arc<Vars>,
    /// `vars/main.yml`.
    pub vars: Arc<Vars>,
    /// Role parameters (`- role: x` extra keys, `vars:` of the role entry).
    pub params: Arc<Vars>,
}

/// How a task loops.
#[derive(Debug, Clone, PartialEq)]
pub enum LoopKind {
    /// `loop:` (the rendered value must be a list).
    Loop,
    /// `with_<lookup>:` (`with_items`, `with_dict`, `with_fileglob`, ...): the items come from
    /// that lookup plugin, as in Ansible.
    With(String),
}

/// `loop_control:`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoopControl {
    /// `loop_var` (default `item`).
    pub loop_var: Option<String>,
    /// `index_var`.
    pub index_var: Option<String>,
    /// `label` template.
    pub label: Option<Value>,
    /// `pause` seconds between items.
    pub pause: Option<f64>,
    /// `extended` (ansible_loop).
    pub extended: bool,
}

/// What a task does.
#[derive(Debug, Clone)]
pub enum TaskKind {
    /// Run a module with these (untemplated) arguments.
    Module {
        /// Canonical module name.
        name: String,
        /// Arguments (a map; values may be templates).
        args: Value,
    },
    /// `block` / `rescue` / `always`.
    Block {
        /// The block's tasks.
        block: Vec<Task>,
        /// Run when a block task fails.
        rescue: Vec<Task>,
        /// Always run.
        always: Vec<Task>,
    },
    /// `include_tasks` (dynamic, loaded per host when reached).
    IncludeTasks {
        /// File (may be a template).
        file: Value,
        /// Folder relative paths resolve from.
        base: PathBuf,
        /// Keywords applied to the included tasks (`apply:`).
        apply: Option<Box<Inherit>>,
    },
    /// `include_role` (dynamic).
    IncludeRole {
        /// Role name (may be a template).
        name: Value,
        /// `tasks_from`.
        tasks_from: Option<String>,
        /// `vars_from`.
        vars_from: Option<String>,
        /// `defaults_from`.
        defaults_from: Option<String>,
        /// Keywords applied to the role's tasks (`apply:`).
        apply: Option<Box<Inherit>>,
    },
    /// `set_fact`.
    SetFact {
        /// The facts to set (values may be templates).
        vars: Vec<(String, Value)>,
        /// `cacheable`.
        cacheable: bool,
    },
    /// `include_vars`.
    IncludeVars {
        /// Arguments (`file`, `dir`, `name`, or free form).
        args: Value,
        /// Folder relative paths resolve from.
        base: PathBuf,
    },
    /// `meta: flush_handlers | end_play | end_host | clear_facts | noop | ...`.
    Meta(String),
    /// `add_host`: a host (and its groups and variables) added to the inventory for the rest of
    /// the run. Runs once per task (or loop item), not once per host, as in Ansible.
    AddHost {
        /// Arguments (`name`, `groups`, other keys become host variables; may be templates).
        args: Value,
    },
    /// `group_by`: each host joins the group named by `key` for the rest of the run.
    GroupBy {
        /// Arguments (`key`, `parents`; may be templates).
        args: Value,
    },
    /// Gather facts (a play's `gather_facts`, the `gather_facts` action; `setup` is a module).
    GatherFacts,
}

/// A task (or block, include, handler) with every keyword it was given or inherited.
#[derive(Debug, Clone)]
pub struct Task {
    /// Name as written (may contain templates).
    pub name: Option<String>,
    /// Where it is defined.
    pub loc: Location,
    /// What it does.
    pub kind: TaskKind,
    /// `when` conditions (all must hold), inherited ones first.
    pub when: Vec<String>,
    /// Loop source.
    pub loop_: Option<(LoopKind, Value)>,
    /// `loop_control`.
    pub loop_control: LoopControl,
    /// `register`.
    pub register: Option<String>,
    /// Handlers to notify.
    pub notify: Vec<String>,
    /// Topics a handler listens to.
    pub listen: Vec<String>,
    /// `changed_when`.
    pub changed_when: Option<Vec<String>>,
    /// `failed_when`.
    pub failed_when: Option<Vec<String>>,
    /// `ignore_errors` (may be a template).
    pub ignore_errors: Option<Value>,
    /// `ignore_unreachable`.
    pub ignore_unreachable: bool,
    /// Tags (own plus inherited).
    pub tags: Vec<String>,
    /// `delegate_to` (may be a template).
    pub delegate_to: Option<String>,
    /// `delegate_facts`.
    pub delegate_facts: bool,
    /// `run_once`.
    pub run_once: bool,
    /// `until` condition.
    pub until: Option<String>,
    /// `retries` (default 3 with until).
    pub retries: Option<Value>,
    /// `delay` seconds (default 5).
    pub delay: Option<Value>,
    /// `no_log`.
    pub no_log: bool,
    /// `check_mode` override.
    pub check_mode: Option<bool>,
    /// `diff` override.
    pub diff: Option<bool>,
    /// `environment` (a map, a template, or a list of maps).
    pub environment: Vec<Value>,
    /// `module_defaults` layers in force here (play, blocks, role, task; outermost first), each
    /// a mapping of module name or `group/<name>` to default options. Already merged into a
    /// module task's `args`; kept so that dynamic includes pass them on.
    pub module_defaults: Vec<Value>,
    /// `throttle`: at most this many hosts run the task at once (template or number).
    pub throttle: Option<Value>,
    /// `timeout`: seconds the task may take on a host before it fails (template or number).
    pub timeout: Option<Value>,
    /// Task and inherited block vars.
    pub vars: Arc<Vars>,
    /// become keywords.
    pub become_: BecomeOpts,
    /// `remote_user`.
    pub remote_user: Option<String>,
    /// `connection` override.
    pub connection: Option<String>,
    /// `any_errors_fatal`.
    pub any_errors_fatal: Option<bool>,
    /// The role this task belongs to.
    pub role: Option<Arc<RoleCtx>>,
    /// Folder relative `src` files resolve from (role dir or playbook dir).
    pub base: PathBuf,
    /// The imports and includes that led to this task (to stop include loops).
    pub include_chain: IncludeChain,
}

impl Task {
    fn empty(loc: Location, kind: TaskKind, base: PathBuf) -> Task {
        Task {
            name: None,
            loc,
            kind,
            when: vec![],
            loop_: None,
            loop_control: LoopControl::default(),
            register: None,
            notify: vec![],
            listen: vec![],
            changed_when: None,
            failed_when: None,
            ignore_errors: None,
            ignore_unreachable: false,
            tags: vec![],
            delegate_to: None,
            delegate_facts: false,
            run_once: false,
            until: None,
            retries: None,
            delay: None,
            no_log: false,
            check_mode: None,
            diff: None,
            environment: vec![],
            module_defaults: vec![],
            throttle: None,
            timeout: None,
            vars: Arc::new(Vars::new()),
            become_: BecomeOpts::default(),
            remote_user: None,
            connection: None,
            any_errors_fatal: None,
            role: None,
            base,
            include_chain: IncludeChain::default(),
        }
    }

    /// The name to show: the given name, else `module` (or `role : name` inside a role).
    pub fn display_name(&self) -> String {
        let base = match (&self.name, &self.kind) {
            (Some(n), _) => n.clone(),
            (None, TaskKind::Module { name, .. }) => name.clone(),
            (None, TaskKind::SetFact { .. }) => "set_fact".into(),
            (None, TaskKind::IncludeVars { .. }) => "include_vars".into(),
            (None, TaskKind::IncludeTasks { .. }) => "include_tasks".into(),
            (None, TaskKind::IncludeRole { .. }) => "include_role".into(),
            (None, TaskKind::Meta(m)) => format!("meta: {m}"),
            (None, TaskKind::GatherFacts) => "Gathering Facts".into(),
            (None, TaskKind::Block { .. }) => "block".into(),
            (None, TaskKind::AddHost { .. }) => "add_host".into(),
            (None, TaskKind::GroupBy { .. }) => "group_by".into(),
        };
        match &self.role {
            Some(r) => format!("{} : {base}", r.name),
            None => base,
        }
    }

    /// Applies inherited keywords from an enclosing block, role, include or play.
    pub fn inherit(&mut self, p: &Inherit) {
        if !p.when.is_empty() {
            let mut w = p.when.clone();
            w.append(&mut self.when);
            self.when = w;
        }
        for t in &p.tags {
            if !self.tags.contains(t) {
                self.tags.push(t.clone());
            }
        }
        if !p.vars.is_empty() {
            let mut v = (*p.vars).clone();
            for (k, val) in self.vars.iter() {
                v.insert(k.clone(), val.clone());
            }
            self.vars = Arc::new(v);
        }
        if !p.environment.is_empty() {
            let mut e = p.environment.clone();
            e.append(&mut self.environment);
            self.environment = e;
        }
        if !p.module_defaults.is_empty() {
            let mut m = p.module_defaults.clone();
            m.append(&mut self.module_defaults);
            self.module_defaults = m;
        }
        if self.throttle.is_none() {
            self.throttle = p.throttle.clone();
        }
        if self.timeout.is_none() {
            self.timeout = p.timeout.clone();
        }
        self.become_.inherit(&p.become_);
        if self.ignore_errors.is_none() {
            self.ignore_errors = p.ignore_errors.clone();
        }
        self.ignore_unreachable |= p.ignore_unreachable;
        if self.delegate_to.is_none() {
            self.delegate_to = p.delegate_to.clone();
        }
        self.run_once |= p.run_once;
        self.no_log |= p.no_log;
        if self.check_mode.is_none() {
            self.check_mode = p.check_mode;
        }
        if self.diff.is_none() {
            self.diff = p.diff;
        }
        if self.remote_user.is_none() {
            self.remote_user = p.remote_user.clone();
        }
        if self.connection.is_none() {
            self.connection = p.connection.clone();
        }
        if self.any_errors_fatal.is_none() {
            self.any_errors_fatal = p.any_errors_fatal;
        }
        if self.role.is_none() {
            self.role = p.role.clone();
        }
        if self.include_chain.is_empty() {
            self.include_chain = p.include_chain.clone();
        }
        if let TaskKind::Block {
            block,
            rescue,
            always,
        } = &mut self.kind
        {
            for t in block
                .iter_mut()
                .chain(rescue.iter_mut())
                .chain(always.iter_mut())
            {
                t.inherit(p);
            }
        }
    }
}

/// Keywords a block/role/include/play passes down to its tasks.
#[derive(Debug, Clone, Default)]
pub struct Inherit {
    /// Conditions.
    pub when: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Vars.
    pub vars: Arc<Vars>,
    /// Environment.
    pub environment: Vec<Value>,
    /// `module_defaults` layers, outermost first.
    pub module_defaults: Vec<Value>,
    /// throttle.
    pub throttle: Option<Value>,
    /// timeout.
    pub timeout: Option<Value>,
    /// become.
    pub become_: BecomeOpts,
    /// ignore_errors.
    pub ignore_errors: Option<Value>,
    /// ignore_unreachable.
    pub ignore_unreachable: bool,
    /// delegate_to.
    pub delegate_to: Option<String>,
    /// run_once.
    pub run_once: bool,
    /// no_log.
    pub no_log: bool,
    /// check_mode.
    pub check_mode: Option<bool>,
    /// diff.
    pub diff: Option<bool>,
    /// remote_user.
    pub remote_user: Option<String>,
    /// connection.
    pub connection: Option<String>,
    /// any_errors_fatal.
    pub any_errors_fatal: Option<bool>,
    /// role.
    pub role: Option<Arc<RoleCtx>>,
    /// The imports and includes that led here.
    pub include_chain: IncludeChain,
}

impl Inherit {
    fn from_task(t: &Task) -> Inherit {
        Inherit {
            when: t.when.clone(),
            tags: t.tags.clone(),
            vars: t.vars.clone(),
            environment: t.environment.clone(),
            module_defaults: t.module_defaults.clone(),
            throttle: t.throttle.clone(),
            timeout: t.timeout.clone(),
            become_: t.become_.clone(),
            ignore_errors: t.ignore_errors.clone(),
            ignore_unreachable: t.ignore_unreachable,
            delegate_to: t.delegate_to.clone(),
            run_once: t.run_once,
            no_log: t.no_log,
            check_mode: t.check_mode,
            diff: t.diff,
            remote_user: t.remote_user.clone(),
            connection: t.connection.clone(),
            any_errors_fatal: t.any_errors_fatal,
            role: t.role.clone(),
            include_chain: t.include_chain.clone(),
        }
    }
}

/// `serial:` batch sizes.
#[derive(Debug, Clone, PartialEq)]
pub enum Serial {
    /// A number of hosts.
    Count(usize),
    /// A percentage of the play's hosts.
    Percent(f64),
}

/// A `vars_prompt` entry.
#[derive(Debug, Clone)]
pub struct VarsPrompt {
    /// Variable name.
    pub name: String,
    /// Prompt text.
    pub prompt: String,
    /// Default when the answer is empty.
    pub default: Option<String>,
    /// `private` (default true, as in Ansible): what is typed is not echoed on a terminal.
    pub private: bool,
    /// `confirm`: asked twice, again until both answers match.
    pub confirm: bool,
    /// `encrypt`: the answer is hashed with this scheme (`sha512_crypt`, `sha256_crypt`).
    pub encrypt: Option<String>,
    /// `salt` for `encrypt`.
    pub salt: Option<String>,
    /// `salt_size` for `encrypt`.
    pub salt_size: Option<i64>,
    /// `unsafe`: the answer is never templated.
    pub unsafe_: bool,
    /// Where it is defined.
    pub loc: Location,
}

/// A play.
#[derive(Debug, Clone)]
pub struct Play {
    /// Name (may contain templates).
    pub name: Option<String>,
    /// Host pattern (may contain templates).
    pub hosts: String,
    /// Where it is defined.
    pub loc: Location,
    /// Play vars.
    pub vars: Arc<Vars>,
    /// `vars_files` entries (templates; a list entry means first found).
    pub vars_files: Vec<Value>,
    /// `vars_prompt`.
    pub vars_prompt: Vec<VarsPrompt>,
    /// `gather_facts` (default true).
    pub gather_facts: bool,
    /// become keywords.
    pub become_: BecomeOpts,
    /// `serial` batches.
    pub serial: Vec<Serial>,
    /// `strategy: free`.
    pub free_strategy: bool,
    /// `pre_tasks`.
    pub pre_tasks: Vec<Task>,
    /// Role tasks (from `roles:`), run after pre_tasks.
    pub role_tasks: Vec<Task>,
    /// `tasks`.
    pub tasks: Vec<Task>,
    /// `post_tasks`.
    pub post_tasks: Vec<Task>,
    /// Handlers (play handlers and those of its roles).
    pub handlers: Vec<Task>,
    /// `any_errors_fatal`.
    pub any_errors_fatal: bool,
    /// `max_fail_percentage`.
    pub max_fail_percentage: Option<f64>,
    /// `force_handlers`.
    pub force_handlers: bool,
    /// The playbook's folder.
    pub dir: PathBuf,
    /// The playbook file.
    pub file: PathBuf,
}

/// A loaded playbook (imports expanded).
#[derive(Debug, Clone)]
pub struct Playbook {
    /// The top file.
    pub path: PathBuf,
    /// Plays in order.
    pub plays: Vec<Play>,
}

/// Settings the loader needs: the module registry (for validation) and where roles live.
pub struct Loader<'a> {
    /// Modules, for resolving module names and validating arguments.
    pub registry: &'a Registry,
    /// Extra role folders (`roles_path`).
    pub roles_path: Vec<PathBuf>,
}

impl Loader<'_> {
    /// Loads a playbook file.
    pub fn load_playbook(&self, path: &Path) -> Result<Playbook> {
        let mut plays = Vec::new();
        let mut seen = Vec::new();
        self.load_plays(path, &mut plays, &mut seen)?;
        Ok(Playbook {
            path: path.to_path_buf(),
            plays,
        })
    }

    fn load_plays(&self, path: &Path, out: &mut Vec<Play>, stack: &mut Vec<PathBuf>) -> Result<()> {
        let canon = path.canonicalize().map_err(|e| Error::io(path, e))?;
        if stack.contains(&canon) {
            return Err(Error::parse(format!(
                "import_playbook loop: {} imports itself",
                path.display()
            )));
        }
        stack.push(canon.clone());
        let root = yaml::load_file(path)?;
        // Absolute, so `playbook_dir` and relative lookups never depend on how it was named
        // (`site.yml` has an empty parent).
        let dir = canon.parent().map(Path::to_path_buf).unwrap_or_default();
        let Some(items) = root.as_seq() else {
            return Err(root
                .error("a playbook must be a list of plays")
                .hint("start the file with `- hosts: ...`"));
        };
        for item in items {
            if let Some(imp) = item
                .get("import_playbook")
                .or_else(|| item.get("ansible.builtin.import_playbook"))
            {
                let file = imp
                    .as_str()
                    .ok_or_else(|| imp.error("import_playbook needs a file name"))?;
                let p = dir.join(file);
                if !p.exists() {
                    return Err(imp.error(format!("imported playbook {} not found", p.display())));
                }
                self.load_plays(&p, out, stack)?;
                continue;
            }
            out.push(self.load_play(item, &dir, path)?);
        }
        stack.pop();
        Ok(())
    }

    fn load_play(&self, node: &Node, dir: &Path, file: &Path) -> Result<Play> {
        let map = node.as_map().ok_or_else(|| {
            node.error(format!(
                "a play must be a mapping, not {}",
                node.type_name()
            ))
        })?;
        for (k, _) in map {
            let key = key_str(k)?;
            if !PLAY_KEYWORDS.contains(&key.as_str()) {
                let mut e = k.error(format!("'{key}' is not a valid play keyword"));
                if let Some(s) = did_you_mean(&key, PLAY_KEYWORDS.iter().copied()) {
                    e = e.hint(format!("did you mean '{s}'?"));
                } else if self.registry.get(&key).is_some() {
                    e = e.hint("modules go in a task list: put it under `tasks:`");
                }
                return Err(e);
            }
        }
        let hosts = match node.get("hosts") {
            Some(h) => match &h.value {
                NodeValue::Seq(items) => items
                    .iter()
                    .map(|i| i.scalar_text().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(","),
                _ => h
                    .scalar_text()
                    .ok_or_else(|| h.error("hosts must be a pattern string or a list"))?,
            },
            None => {
                return Err(node
                    .error("the play has no `hosts:`")
                    .hint("add `hosts: all` (or a group name)"));
            }
        };
        let mut become_ = BecomeOpts::default();
        read_become(node, &mut become_)?;
        let mut pi = Inherit {
            tags: opt(node, "tags")
                .map(str_list)
                .transpose()?
                .unwrap_or_default(),
            environment: opt(node, "environment")
                .map(|n| vec![n.to_value()])
                .unwrap_or_default(),
            module_defaults: opt(node, "module_defaults")
                .map(module_defaults_of)
                .transpose()?
                .into_iter()
                .collect(),
            throttle: opt(node, "throttle").map(Node::to_value),
            timeout: opt(node, "timeout").map(Node::to_value),
            become_: become_.clone(),
            ignore_errors: opt(node, "ignore_errors").map(Node::to_value),
            ignore_unreachable: opt(node, "ignore_unreachable")
                .map(bool_of)
                .transpose()?
                .unwrap_or(false),
            run_once: opt(node, "run_once")
                .map(bool_of)
                .transpose()?
                .unwrap_or(false),
            no_log: opt(node, "no_log")
                .map(bool_of)
                .transpose()?
                .unwrap_or(false),
            check_mode: opt(node, "check_mode").map(bool_of).transpose()?,
            diff: opt(node, "diff").map(bool_of).transpose()?,
            remote_user: opt(node, "remote_user").and_then(Node::scalar_text),
            connection: opt(node, "connection").and_then(Node::scalar_text),
            any_errors_fatal: None,
            ..Default::default()
        };
        // Play keywords are inherited by every task; play vars are their own layer, not task vars.
        pi.vars = Arc::new(Vars::new());
        let mut handlers = Vec::new();
        let mut role_tasks = Vec::new();
        let mut seen_roles = HashSet::new();
        if let Some(roles) = opt(node, "roles") {
            let list = roles
                .as_seq()
                .ok_or_else(|| roles.error("roles must be a list"))?;
            for r in list {
                let mut tasks =
                    self.load_role_entry(r, dir, &pi, &mut handlers, &mut seen_roles, 0)?;
                role_tasks.append(&mut tasks);
            }
        }
        let section = |key: &str| -> Result<Vec<Task>> {
            match opt(node, key) {
                Some(n) => self.load_tasks(n, dir, &pi, false),
                None => Ok(vec![]),
            }
        };
        let pre_tasks = section("pre_tasks")?;
        let tasks = section("tasks")?;
        let post_tasks = section("post_tasks")?;
        let mut play_handlers = match opt(node, "handlers") {
            Some(n) => self.load_tasks(n, dir, &pi, true)?,
            None => vec![],
        };
        handlers.append(&mut play_handlers);
        let vars = match opt(node, "vars") {
            Some(v) => vars_of(v)?,
            None => Vars::new(),
        };
        let vars_files = match opt(node, "vars_files") {
            Some(v) => v
                .as_seq()
                .map(|s| s.iter().map(Node::to_value).collect())
                .unwrap_or_else(|| vec![v.to_value()]),
            None => vec![],
        };
        let mut vars_prompt = Vec::new();
        if let Some(vp) = opt(node, "vars_prompt") {
            for p in vp
                .as_seq()
                .ok_or_else(|| vp.error("vars_prompt must be a list"))?
            {
                let name = p
                    .get("name")
                    .and_then(Node::scalar_text)
                    .ok_or_else(|| p.error("a vars_prompt entry needs `name`"))?;
                vars_prompt.push(VarsPrompt {
                    prompt: p
                        .get("prompt")
                        .and_then(Node::scalar_text)
                        .unwrap_or_else(|| name.clone()),
                    default: p.get("default").and_then(Node::scalar_text),
                    private: p.get("private").map(bool_of).transpose()?.unwrap_or(true),
                    confirm: p.get("confirm").map(bool_of).transpose()?.unwrap_or(false),
                    encrypt: p.get("encrypt").and_then(Node::scalar_text),
                    salt: p.get("salt").and_then(Node::scalar_text),
                    salt_size: match p.get("salt_size") {
                        Some(n) => Some(
                            n.scalar_text()
                                .and_then(|t| t.trim().parse().ok())
                                .ok_or_else(|| n.error("salt_size must be a number"))?,
                        ),
                        None => None,
                    },
                    unsafe_: p.get("unsafe").map(bool_of).transpose()?.unwrap_or(false),
                    name,
                    loc: p.loc.clone(),
                });
            }
        }
        let serial = match opt(node, "serial") {
            None => vec![],
            Some(s) => match &s.value {
                NodeValue::Seq(items) => items.iter().map(serial_of).collect::<Result<_>>()?,
                _ => vec![serial_of(s)?],
            },
        };
        let free_strategy = match opt(node, "strategy").and_then(Node::scalar_text).as_deref() {
            None | Some("linear") => false,
            Some("free") => true,
            Some(other) => {
                return Err(node
                    .get("strategy")
                    .unwrap()
                    .error(format!("unknown strategy '{other}'"))
                    .hint("prov implements `linear` (the default) and `free`"));
            }
        };
        Ok(Play {
            name: opt(node, "name").and_then(Node::scalar_text),
            hosts,
            loc: node.loc.clone(),
            vars: Arc::new(vars),
            vars_files,
            vars_prompt,
            gather_facts: opt(node, "gather_facts")
                .map(bool_of)
                .transpose()?
                .unwrap_or(true),
            become_,
            serial,
            free_strategy,
            pre_tasks,
            role_tasks,
            tasks,
            post_tasks,
            handlers,
            any_errors_fatal: opt(node, "any_errors_fatal")
                .map(bool_of)
                .transpose()?
                .unwrap_or(false),
            max_fail_percentage: opt(node, "max_fail_percentage").map(num_of).transpose()?,
            force_handlers: opt(node, "force_handlers")
                .map(bool_of)
                .transpose()?
                .unwrap_or(false),
            dir: dir.to_path_buf(),
            file: file.to_path_buf(),
        })
    }

    /// Finds a role folder by name.
    pub fn find_role(&self, name: &str, dir: &Path) -> Option<PathBuf> {
        let direct = Path::new(name);
        if direct.is_absolute() && direct.is_dir() {
            return Some(direct.to_path_buf());
        }
        let mut cands = vec![dir.join("roles").join(name), dir.join(name)];
        // A role's dependencies are also found next to it (its siblings in `roles/`).
        if (dir.join("tasks").is_dir() || dir.join("meta").is_dir())
            && let Some(parent) = dir.parent()
        {
            cands.push(parent.join(name));
        }
        for rp in &self.roles_path {
            cands.push(rp.join(name));
        }
        cands.into_iter().find(|c| c.is_dir())
    }

    fn role_searched(&self, dir: &Path) -> String {
        let mut v = vec![
            dir.join("roles").display().to_string(),
            dir.display().to_string(),
        ];
        v.extend(self.roles_path.iter().map(|p| p.display().to_string()));
        v.join(", ")
    }

    fn load_role_entry(
        &self,
        r: &Node,
        dir: &Path,
        parent: &Inherit,
        handlers: &mut Vec<Task>,
        seen: &mut HashSet<String>,
        depth: usize,
    ) -> Result<Vec<Task>> {
        if depth > 20 {
            return Err(r.error("role dependencies nest too deeply (a dependency loop?)"));
        }
        let (name, entry) = match &r.value {
            NodeValue::Str(s) => (s.clone(), None),
            NodeValue::Map(_) => {
                let n = r
                    .get("role")
                    .or_else(|| r.get("name"))
                    .and_then(Node::scalar_text)
                    .ok_or_else(|| r.error("a role entry needs `role:`"))?;
                (n, Some(r))
            }
            _ => return Err(r.error("a role entry must be a name or a mapping")),
        };
        let mut params = Vars::new();
        let mut inh = parent.clone();
        if let Some(e) = entry {
            for (k, v) in e.as_map().unwrap_or_default() {
                let key = key_str(k)?;
                match key.as_str() {
                    "role" | "name" => {}
                    "vars" => {
                        for (vk, vv) in vars_of(v)? {
                            params.insert(vk, vv);
                        }
                    }
                    "when" => inh.when.extend(cond_list(v)?),
                    "tags" => inh.tags.extend(str_list(v)?),
                    "become" => inh.become_.enabled = Some(bool_of(v)?),
                    "become_user" => inh.become_.user = v.scalar_text(),
                    "become_method" => inh.become_.method = v.scalar_text(),
                    "delegate_to" => inh.delegate_to = v.scalar_text(),
                    "environment" => inh.environment.push(v.to_value()),
                    "module_defaults" => inh.module_defaults.push(module_defaults_of(v)?),
                    "ignore_errors" => inh.ignore_errors = Some(v.to_value()),
                    "no_log" => inh.no_log = bool_of(v)?,
                    "tasks_from" | "vars_from" | "defaults_from" | "handlers_from" | "public"
                    | "allow_duplicates" => {}
                    _ => {
                        params.insert(key, v.to_value());
                    }
                }
            }
        }
        let key = format!("{name}{:?}", params);
        if !seen.insert(key) {
            return Ok(vec![]);
        }
        let tasks_from = entry
            .and_then(|e| e.get("tasks_from"))
            .and_then(Node::scalar_text);
        self.load_role(
            &name,
            r,
            dir,
            &inh,
            params,
            tasks_from.as_deref(),
            handlers,
            seen,
            depth,
            false,
        )
    }

    /// Loads a role's tasks (and its dependencies' first), adding its handlers to `handlers`.
    /// `dynamic`: for `include_role` at run time (a link of the include chain that may recur).
    #[allow(clippy::too_many_arguments)]
    fn load_role(
        &self,
        name: &str,
        at: &Node,
        dir: &Path,
        parent: &Inherit,
        params: Vars,
        tasks_from: Option<&str>,
        handlers: &mut Vec<Task>,
        seen: &mut HashSet<String>,
        depth: usize,
        dynamic: bool,
    ) -> Result<Vec<Task>> {
        let path = self.find_role(name, dir).ok_or_else(|| {
            at.error(format!("role '{name}' not found"))
                .hint(format!("searched: {}", self.role_searched(dir)))
        })?;
        let ctx = Arc::new(load_role_ctx(name, &path, params, None, None)?);
        let tasks_name = tasks_from.unwrap_or("main");
        let tf = find_main(&path.join("tasks"), tasks_name);
        if tf.is_none() && tasks_from.is_some() {
            return Err(at.error(format!("role '{name}' has no tasks file '{tasks_name}'")));
        }
        // The role is a link of the include chain for its dependencies and its tasks.
        let mut inh = parent.clone();
        inh.include_chain = enter_include(
            &parent.include_chain,
            &at.loc,
            tf.as_deref().unwrap_or(&path),
            dynamic,
        )?;
        let mut out = Vec::new();
        if let Some(meta) = find_main(&path.join("meta"), "main") {
            let m = yaml::load_file(&meta)?;
            if let Some(deps) = m.get("dependencies").and_then(Node::as_seq) {
                for d in deps {
                    let mut t = self.load_role_entry(d, &path, &inh, handlers, seen, depth + 1)?;
                    out.append(&mut t);
                }
            }
        }
        inh.role = Some(ctx.clone());
        if let Some(tf) = tf {
            let node = yaml::load_file(&tf)?;
            let mut t = self.load_tasks(&node, &path, &inh, false)?;
            out.append(&mut t);
        }
        if let Some(hf) = find_main(&path.join("handlers"), "main") {
            let node = yaml::load_file(&hf)?;
            let mut hi = Inherit {
                role: Some(ctx.clone()),
                include_chain: enter_include(&parent.include_chain, &at.loc, &hf, dynamic)?,
                ..Default::default()
            };
            hi.become_ = parent.become_.clone();
            let mut h = self.load_tasks(&node, &path, &hi, true)?;
            handlers.append(&mut h);
        }
        Ok(out)
    }

    /// Loads a role for `include_role` at run time: its tasks (with dependencies) and handlers.
    #[allow(clippy::too_many_arguments)]
    pub fn load_role_dynamic(
        &self,
        name: &str,
        loc: &Location,
        dir: &Path,
        parent: &Inherit,
        tasks_from: Option<&str>,
        vars_from: Option<&str>,
        defaults_from: Option<&str>,
    ) -> Result<(Vec<Task>, Vec<Task>)> {
        let at = Node {
            value: NodeValue::Str(name.to_string()),
            loc: loc.clone(),
        };
        let mut handlers = Vec::new();
        let mut seen = HashSet::new();
        let mut tasks = self.load_role(
            name,
            &at,
            dir,
            parent,
            Vars::new(),
            tasks_from,
            &mut handlers,
            &mut seen,
            0,
            true,
        )?;
        if vars_from.is_some() || defaults_from.is_some() {
            let path = self.find_role(name, dir).unwrap_or_default();
            let ctx = Arc::new(load_role_ctx(
                name,
                &path,
                Vars::new(),
                vars_from,
                defaults_from,
            )?);
            for t in &mut tasks {
                if t.role.as_ref().is_some_and(|r| r.name == name) {
                    t.role = Some(ctx.clone());
                }
            }
        }
        Ok((tasks, handlers))
    }

    /// Loads a task list (a file's root or a section); `handlers` allows `listen`.
    pub fn load_tasks(
        &self,
        node: &Node,
        base: &Path,
        parent: &Inherit,
        handlers: bool,
    ) -> Result<Vec<Task>> {
        if node.is_null() {
            return Ok(vec![]);
        }
        let items = node.as_seq().ok_or_else(|| {
            node.error(format!(
                "a task list must be a list, not {}",
                node.type_name()
            ))
        })?;
        let mut out = Vec::new();
        for item in items {
            match self.load_task(item, base, parent, handlers)? {
                Loaded::One(t) => out.push(*t),
                Loaded::Many(mut ts) => out.append(&mut ts),
            }
        }
        Ok(out)
    }

    fn load_task(
        &self,
        node: &Node,
        base: &Path,
        parent: &Inherit,
        handler: bool,
    ) -> Result<Loaded> {
        let map = node.as_map().ok_or_else(|| {
            node.error(format!(
                "a task must be a mapping, not {}",
                node.type_name()
            ))
        })?;
        let is_block = node.get("block").is_some();
        let mut t = Task::empty(
            node.loc.clone(),
            TaskKind::Meta("noop".into()),
            base.to_path_buf(),
        );
        let mut action: Option<(String, &Node, &Node)> = None; // (name, key node, value node)
        let mut extra_args: Option<&Node> = None;
        for (k, v) in map {
            let key = key_str(k)?;
            if is_block && !BLOCK_KEYWORDS.contains(&key.as_str()) {
                let mut e = k.error(format!("'{key}' is not a valid keyword on a block"));
                if let Some(s) = did_you_mean(&key, BLOCK_KEYWORDS.iter().copied()) {
                    e = e.hint(format!("did you mean '{s}'?"));
                } else {
                    e = e.hint("a block holds tasks under `block:`; modules cannot be used on the block itself");
                }
                return Err(e);
            }
            if common_keyword(&mut t, &key, v)? {
                continue;
            }
            match key.as_str() {
                "block" | "rescue" | "always" => {}
                "loop" => t.loop_ = Some((LoopKind::Loop, v.to_value())),
                "loop_control" => t.loop_control = loop_control_of(v)?,
                "register" => {
                    t.register = Some(
                        v.scalar_text()
                            .ok_or_else(|| v.error("register needs a variable name"))?,
                    )
                }
                "notify" => t.notify = str_list(v)?,
                "listen" => {
                    if !handler {
                        return Err(k.error("`listen` is only valid on handlers"));
                    }
                    t.listen = str_list(v)?
                }
                "changed_when" => t.changed_when = Some(cond_list(v)?),
                "failed_when" => t.failed_when = Some(cond_list(v)?),
                "delegate_facts" => t.delegate_facts = bool_of(v)?,
                "until" => {
                    let c = cond_list(v)?;
                    t.until = Some(if c.len() == 1 {
                        c[0].clone()
                    } else {
                        format!("({})", c.join(") and ("))
                    });
                }
                "retries" => t.retries = Some(v.to_value()),
                "delay" => t.delay = Some(v.to_value()),
                "args" => extra_args = Some(v),
                "action" | "local_action" => {
                    if let Some((prev, _, _)) = &action {
                        return Err(
                            k.error(format!("conflicting action statements: {prev}, {key}"))
                        );
                    }
                    if key == "local_action" {
                        t.delegate_to = Some("localhost".into());
                    }
                    action = Some((key.clone(), k, v));
                }
                "async" | "poll" => {}
                k2 if k2.starts_with("with_") => {
                    let name = &k2[5..];
                    let name = if name == "cartesian" { "nested" } else { name };
                    if !crate::template::lookups::LOOKUPS.contains(&name) {
                        let mut e =
                            k.error(format!("with_{name}: there is no lookup named '{name}'"));
                        e = match did_you_mean(
                            name,
                            crate::template::lookups::LOOKUPS.iter().copied(),
                        ) {
                            Some(s) => e.hint(format!("did you mean 'with_{s}'?")),
                            None => e.hint("use `loop:` with a filter, or `query()`"),
                        };
                        return Err(e);
                    }
                    t.loop_ = Some((LoopKind::With(name.to_string()), v.to_value()));
                }
                _ => {
                    let canon = canonical_name(&key);
                    if ENGINE_ACTIONS.contains(&canon) || self.registry.get(canon).is_some() {
                        if let Some((prev, _, _)) = &action {
                            return Err(
                                k.error(format!("conflicting action statements: {prev}, {key}"))
                            );
                        }
                        action = Some((canon.to_string(), k, v));
                    } else {
                        let cands: Vec<&str> = TASK_KEYWORDS
                            .iter()
                            .copied()
                            .chain(self.registry.names())
                            .chain(ENGINE_ACTIONS.iter().copied())
                            .collect();
                        let mut e = k.error(format!(
                            "'{key}' is not a module or task keyword prov knows"
                        ));
                        e = match did_you_mean(canon, cands) {
                            Some(s) => e.hint(format!("did you mean '{s}'?")),
                            None => e.hint("see `prov doc --list` for the modules prov provides"),
                        };
                        return Err(e);
                    }
                }
            }
        }
        read_become(node, &mut t.become_)?;
        if is_block {
            let me = Inherit::from_task(&t);
            let mut child = parent.clone();
            merge_inherit(&mut child, &me);
            let sub = |key: &str| -> Result<Vec<Task>> {
                match node.get(key) {
                    Some(n) => self.load_tasks(n, base, &child, handler),
                    None => Ok(vec![]),
                }
            };
            let block = sub("block")?;
            let rescue = sub("rescue")?;
            let always = sub("always")?;
            let mut bt = Task::empty(
                node.loc.clone(),
                TaskKind::Block {
                    block,
                    rescue,
                    always,
                },
                base.to_path_buf(),
            );
            bt.name = t.name;
            bt.role = parent.role.clone();
            // Keywords already flowed into the children; the block itself keeps only its name.
            return Ok(Loaded::One(Box::new(bt)));
        }
        let Some((mut aname, akey, aval)) = action else {
            return Err(node
                .error("this task has no action (no module name)")
                .hint("a task needs one module, e.g. `command: echo hi`"));
        };
        let args_node_value: Value;
        let mut free: Option<String> = None;
        if aname == "action" || aname == "local_action" {
            // `action: copy src=a dest=b` or `action: {module: copy, src: a}`
            match &aval.value {
                NodeValue::Map(_) => {
                    let m = aval
                        .get("module")
                        .and_then(Node::scalar_text)
                        .ok_or_else(|| aval.error("`action:` as a mapping needs `module:`"))?;
                    aname = canonical_name(&m).to_string();
                    let entries: Vec<(Value, Value)> = aval
                        .as_map()
                        .unwrap()
                        .iter()
                        .filter(|(k, _)| k.as_str() != Some("module"))
                        .map(|(k, v)| (k.to_value(), v.to_value()))
                        .collect();
                    args_node_value = Value::from_iter(entries);
                }
                _ => {
                    let text = aval.scalar_text().unwrap_or_default();
                    let (m, rest) = text
                        .trim()
                        .split_once(char::is_whitespace)
                        .unwrap_or((text.trim(), ""));
                    aname = canonical_name(m).to_string();
                    free = Some(rest.trim().to_string());
                    args_node_value = Value::from(());
                }
            }
            if !ENGINE_ACTIONS.contains(&aname.as_str()) && self.registry.get(&aname).is_none() {
                return Err(aval.error(format!("unknown module '{aname}'")));
            }
        } else {
            match &aval.value {
                NodeValue::Map(_) => args_node_value = aval.to_value(),
                NodeValue::Null => args_node_value = Value::from(()),
                NodeValue::Seq(_) if aname == "include_vars" || aname == "meta" => {
                    return Err(aval.error(format!("{aname} takes a string or a mapping")));
                }
                NodeValue::Seq(_) => {
                    return Err(aval.error(format!(
                        "the arguments of '{aname}' must be a mapping or a k=v string, not a list"
                    )));
                }
                _ => {
                    free = aval.scalar_text();
                    args_node_value = Value::from(());
                }
            }
        }
        // Build the argument map: module_defaults (lowest), free form (k=v split), then the
        // mapping, then `args:`.
        let doc = self.registry.get(&aname).map(|m| m.doc());
        let mut args = Vars::new();
        for layer in parent
            .module_defaults
            .iter()
            .chain(t.module_defaults.iter())
        {
            for (k, v) in defaults_for(layer, &aname) {
                args.insert(k, v);
            }
        }
        if let Some(text) = &free {
            let (raw, kv) = split_free_form(text, doc, &aname).map_err(|e| e.at(&aval.loc))?;
            if let Some(raw) = raw {
                let key = doc.and_then(|d| d.free_form).unwrap_or("_raw_params");
                args.insert(key.to_string(), Value::from(raw));
            }
            for (k, v) in kv {
                args.insert(k, Value::from(v));
            }
        }
        if let Ok(iter) = args_node_value.try_iter() {
            for k in iter {
                let v = args_node_value.get_item(&k).unwrap_or_default();
                args.insert(k.to_string(), v);
            }
        }
        if let Some(ea) = extra_args {
            if let Some(m) = ea.as_map() {
                for (k, v) in m {
                    args.insert(key_str(k)?, v.to_value());
                }
            } else if !ea.is_null() {
                return Err(ea.error("`args:` must be a mapping"));
            }
        }
        t.kind = self.action_kind(&aname, args, akey, aval, base, parent, &mut t)?;
        // `apply:` (include_tasks, include_role): keywords for every included task.
        if let TaskKind::IncludeTasks { apply, .. } | TaskKind::IncludeRole { apply, .. } =
            &mut t.kind
            && let Some(an) = extra_args
                .and_then(|e| e.get("apply"))
                .or_else(|| aval.get("apply"))
        {
            if !matches!(aname.as_str(), "include_tasks" | "include_role") {
                return Err(an
                    .error(format!("`apply` is not valid on {aname}"))
                    .hint("imports pass their own keywords to the imported tasks; `apply` is for include_tasks and include_role"));
            }
            *apply = Some(Box::new(apply_of(an)?));
        }
        if let Some(d) = doc
            && let TaskKind::Module { args, .. } = &t.kind
        {
            let raw = crate::value::value_to_vars(args);
            validate_args(d, &raw).map_err(|e| {
                let loc = arg_loc(aval, extra_args, &e).unwrap_or_else(|| akey.loc.clone());
                e.at(&loc)
            })?;
        }
        // Static imports expand now and inherit this task's keywords.
        let me = Inherit::from_task(&t);
        let mut child = parent.clone();
        merge_inherit(&mut child, &me);
        match (&aname[..], &t.kind) {
            ("import_tasks" | "include", TaskKind::IncludeTasks { file, .. }) => {
                let file = file.as_str().unwrap_or_default().to_string();
                if file.contains("{{") {
                    return Err(aval
                        .error("import_tasks cannot use a templated file name")
                        .hint("use include_tasks for dynamic file names"));
                }
                let path = resolve_tasks_file(base, &file, parent.role.as_deref());
                if !path.exists() {
                    return Err(aval.error(format!("tasks file {} not found", path.display())));
                }
                child.include_chain =
                    enter_include(&parent.include_chain, &node.loc, &path, false)?;
                let node = yaml::load_file(&path)?;
                let nb = path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| base.to_path_buf());
                let nb = if parent.role.is_some() {
                    base.to_path_buf()
                } else {
                    nb
                };
                return Ok(Loaded::Many(self.load_tasks(&node, &nb, &child, handler)?));
            }
            (
                "import_role",
                TaskKind::IncludeRole {
                    name, tasks_from, ..
                },
            ) => {
                let name = name.as_str().unwrap_or_default().to_string();
                let mut hs = Vec::new();
                let mut seen = HashSet::new();
                let tasks = self.load_role(
                    &name,
                    aval,
                    base,
                    &child,
                    Vars::new(),
                    tasks_from.as_deref(),
                    &mut hs,
                    &mut seen,
                    0,
                    false,
                )?;
                return Ok(Loaded::Many(tasks));
            }
            _ => {}
        }
        t.inherit(parent);
        Ok(Loaded::One(Box::new(t)))
    }

    #[allow(clippy::too_many_arguments)]
    fn action_kind(
        &self,
        aname: &str,
        args: Vars,
        _akey: &Node,
        aval: &Node,
        base: &Path,
        _parent: &Inherit,
        _t: &mut Task,
    ) -> Result<TaskKind> {
        let get = |k: &str| args.get(k).cloned();
        Ok(match aname {
            "set_fact" => {
                let cacheable = get("cacheable")
                    .map(|v| crate::value::truthy(&v))
                    .unwrap_or(false);
                let vars: Vec<(String, Value)> = args
                    .iter()
                    .filter(|(k, _)| k.as_str() != "cacheable" && k.as_str() != "_raw_params")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if vars.is_empty() {
                    return Err(aval.error("set_fact needs at least one variable"));
                }
                TaskKind::SetFact { vars, cacheable }
            }
            "include_vars" => TaskKind::IncludeVars {
                args: crate::value::vars_value(&args),
                base: base.to_path_buf(),
            },
            "include_tasks" | "import_tasks" | "include" => {
                let file = get("file")
                    .or_else(|| get("_raw_params"))
                    .ok_or_else(|| aval.error(format!("{aname} needs a file")))?;
                TaskKind::IncludeTasks {
                    file,
                    base: base.to_path_buf(),
                    apply: None,
                }
            }
            "include_role" | "import_role" => {
                let name = get("name")
                    .or_else(|| get("role"))
                    .ok_or_else(|| aval.error(format!("{aname} needs `name:`")))?;
                let s = |k: &str| get(k).map(|v| v.to_string());
                TaskKind::IncludeRole {
                    name,
                    tasks_from: s("tasks_from"),
                    vars_from: s("vars_from"),
                    defaults_from: s("defaults_from"),
                    apply: None,
                }
            }
            "meta" => {
                let m = get("_raw_params")
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                const METAS: &[&str] = &[
                    "flush_handlers",
                    "end_play",
                    "end_host",
                    "end_batch",
                    "clear_facts",
                    "clear_host_errors",
                    "noop",
                    "refresh_inventory",
                    "reset_connection",
                ];
                if !METAS.contains(&m.as_str()) {
                    let mut e = aval.error(format!("unknown meta action '{m}'"));
                    if let Some(s) = did_you_mean(&m, METAS.iter().copied()) {
                        e = e.hint(format!("did you mean '{s}'?"));
                    }
                    return Err(e);
                }
                TaskKind::Meta(m)
            }
            "gather_facts" => TaskKind::GatherFacts,
            "add_host" => {
                if !["name", "host", "hostname"]
                    .iter()
                    .any(|k| args.contains_key(*k))
                {
                    return Err(aval.error("add_host needs `name` (the host to add)").hint(
                        "e.g. add_host: { name: \"{{ item.private_ip }}\", groups: [web] }",
                    ));
                }
                TaskKind::AddHost {
                    args: crate::value::vars_value(&args),
                }
            }
            "group_by" => {
                if !args.contains_key("key") {
                    return Err(aval
                        .error("group_by needs `key` (the group to put each host in)")
                        .hint(
                            "e.g. group_by: { key: \"os_{{ ansible_distribution | lower }}\" }",
                        ));
                }
                if let Some(k) = args
                    .keys()
                    .find(|k| !["key", "parents"].contains(&k.as_str()))
                {
                    return Err(aval
                        .error(format!("group_by has no option '{k}'"))
                        .hint("its options are key and parents"));
                }
                TaskKind::GroupBy {
                    args: crate::value::vars_value(&args),
                }
            }
            "import_playbook" => {
                return Err(aval
                    .error(format!("'{aname}' is not supported yet"))
                    .hint("see the README for what prov implements"));
            }
            _ => TaskKind::Module {
                name: aname.to_string(),
                args: crate::value::vars_value(&args),
            },
        })
    }
}

enum Loaded {
    One(Box<Task>),
    Many(Vec<Task>),
}

/// Reads a `module_defaults` value: a mapping of module names (or `group/<name>`) to mappings
/// of options. A list of such mappings (Ansible allows it) is merged in order.
fn module_defaults_of(n: &Node) -> Result<Value> {
    let maps: Vec<&Node> = match n.as_seq() {
        Some(items) => items.iter().collect(),
        None => vec![n],
    };
    let mut out: indexmap::IndexMap<String, Value> = indexmap::IndexMap::new();
    for m in maps {
        let entries = m.as_map().ok_or_else(|| {
            m.error("module_defaults must be a mapping of module names to their default options")
                .hint("e.g. module_defaults: { group/aws: { region: eu-west-1 }, apt: { update_cache: true } }")
        })?;
        for (k, v) in entries {
            let name = key_str(k)?;
            if v.as_map().is_none() {
                return Err(v
                    .error(format!(
                        "module_defaults for '{name}' must be a mapping of options"
                    ))
                    .hint(format!("e.g. {name}: {{ option: value }}")));
            }
            out.insert(name, v.to_value());
        }
    }
    Ok(Value::from_iter(out))
}

/// The modules of the action groups prov knows (`group/aws`, `group/docker`).
fn action_group(name: &str) -> &'static [&'static str] {
    match name.trim_start_matches("group/") {
        "aws" | "amazon.aws.aws" => &["ec2_security_group", "ec2_group", "ec2_instance_info"],
        "docker" | "community.docker.docker" => &[
            "docker_swarm",
            "docker_swarm_info",
            "docker_node",
            "docker_network",
            "docker_image",
            "docker_stack",
        ],
        _ => &[],
    }
}

/// The default options one `module_defaults` layer gives module `module` (canonical name):
/// its groups' first, then its own entry (by short or fully qualified name).
fn defaults_for(layer: &Value, module: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Ok(keys) = layer.try_iter() else {
        return out;
    };
    let keys: Vec<Value> = keys.collect();
    let mut add = |v: Value| {
        if let Ok(opts) = v.try_iter() {
            for o in opts {
                let val = v.get_item(&o).unwrap_or_default();
                out.push((o.to_string(), val));
            }
        }
    };
    for k in keys.iter().filter_map(|k| k.as_str()) {
        if k.starts_with("group/") && action_group(k).contains(&module) {
            add(layer.get_attr(k).unwrap_or_default());
        }
    }
    for k in keys.iter().filter_map(|k| k.as_str()) {
        if !k.starts_with("group/") && canonical_name(k) == module {
            add(layer.get_attr(k).unwrap_or_default());
        }
    }
    out
}

/// Block keywords an include's `apply:` does not take (the included tasks carry no `notify`
/// or `delegate_facts` down from a block).
const NOT_IN_APPLY: &[&str] = &["block", "rescue", "always", "notify", "delegate_facts"];

/// The keywords of a task, a block and an include's `apply:` that mean the same on all three
/// (they end up in what the task's children inherit); true when `key` was one of them.
fn common_keyword(t: &mut Task, key: &str, v: &Node) -> Result<bool> {
    match key {
        "name" => t.name = v.scalar_text(),
        "when" => t.when = cond_list(v)?,
        "tags" => t.tags = str_list(v)?,
        "vars" => t.vars = Arc::new(vars_of(v)?),
        "environment" => t.environment = vec![v.to_value()],
        "module_defaults" => t.module_defaults = vec![module_defaults_of(v)?],
        "ignore_errors" => t.ignore_errors = Some(v.to_value()),
        "ignore_unreachable" => t.ignore_unreachable = bool_of(v)?,
        "delegate_to" => t.delegate_to = v.scalar_text(),
        "run_once" => t.run_once = bool_of(v)?,
        "no_log" => t.no_log = bool_of(v)?,
        "check_mode" => t.check_mode = Some(bool_of(v)?),
        "diff" => t.diff = Some(bool_of(v)?),
        "remote_user" => t.remote_user = v.scalar_text(),
        "connection" => t.connection = v.scalar_text(),
        "any_errors_fatal" => t.any_errors_fatal = Some(bool_of(v)?),
        "throttle" => t.throttle = Some(v.to_value()),
        "timeout" => t.timeout = Some(v.to_value()),
        // become* are read as a group (read_become); the rest are accepted and unused.
        "become" | "become_user" | "become_method" | "become_flags" | "become_exe"
        | "collections" | "debugger" | "port" => {}
        _ => return Ok(false),
    }
    Ok(true)
}

/// An include's `apply:` mapping: task keywords given to every included task, as if the
/// included tasks were in a block with them (Ansible's meaning).
fn apply_of(node: &Node) -> Result<Inherit> {
    let map = node.as_map().ok_or_else(|| {
        node.error(format!(
            "`apply` must be a mapping of task keywords, not {}",
            node.type_name()
        ))
    })?;
    let mut t = Task::empty(
        node.loc.clone(),
        TaskKind::Meta("noop".into()),
        PathBuf::new(),
    );
    let allowed = || {
        BLOCK_KEYWORDS
            .iter()
            .copied()
            .filter(|k| !NOT_IN_APPLY.contains(k))
    };
    for (k, v) in map {
        let key = key_str(k)?;
        if !common_keyword(&mut t, &key, v)? {
            let mut e = k.error(format!("'{key}' is not a valid keyword in `apply`"));
            e = match did_you_mean(&key, allowed()) {
                Some(s) => e.hint(format!("did you mean '{s}'?")),
                None => e.hint(format!(
                    "`apply` takes task keywords: {}",
                    allowed().collect::<Vec<_>>().join(", ")
                )),
            };
            return Err(e);
        }
    }
    read_become(node, &mut t.become_)?;
    Ok(Inherit::from_task(&t))
}

/// Adds an include's `apply:` keywords to what its tasks inherit (at run time, when the
/// include is loaded): they wrap the included tasks as a block's keywords would.
pub fn add_apply(inh: &mut Inherit, include: &TaskKind) {
    if let TaskKind::IncludeTasks { apply: Some(a), .. }
    | TaskKind::IncludeRole { apply: Some(a), .. } = include
    {
        merge_inherit(inh, a);
    }
}

fn merge_inherit(child: &mut Inherit, me: &Inherit) {
    child.when.extend(me.when.iter().cloned());
    for t in &me.tags {
        if !child.tags.contains(t) {
            child.tags.push(t.clone());
        }
    }
    if !me.vars.is_empty() {
        let mut v = (*child.vars).clone();
        for (k, val) in me.vars.iter() {
            v.insert(k.clone(), val.clone());
        }
        child.vars = Arc::new(v);
    }
    child.environment.extend(me.environment.iter().cloned());
    child
        .module_defaults
        .extend(me.module_defaults.iter().cloned());
    if me.throttle.is_some() {
        child.throttle = me.throttle.clone();
    }
    if me.timeout.is_some() {
        child.timeout = me.timeout.clone();
    }
    let mut b = me.become_.clone();
    b.inherit(&child.become_);
    child.become_ = b;
    if me.ignore_errors.is_some() {
        child.ignore_errors = me.ignore_errors.clone();
    }
    child.ignore_unreachable |= me.ignore_unreachable;
    if me.delegate_to.is_some() {
        child.delegate_to = me.delegate_to.clone();
    }
    child.run_once |= me.run_once;
    child.no_log |= me.no_log;
    if me.check_mode.is_some() {
        child.check_mode = me.check_mode;
    }
    if me.diff.is_some() {
        child.diff = me.diff;
    }
    if me.remote_user.is_some() {
        child.remote_user = me.remote_user.clone();
    }
    if me.connection.is_some() {
        child.connection = me.connection.clone();
    }
    if me.any_errors_fatal.is_some() {
        child.any_errors_fatal = me.any_errors_fatal;
    }
}

/// Where an `include_tasks`/`import_tasks` file is: relative to the role's `tasks/` folder inside
/// a role, else relative to the including file's folder.
pub fn resolve_tasks_file(base: &Path, file: &str, role: Option<&RoleCtx>) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    if let Some(r) = role {
        let c = r.path.join("tasks").join(file);
        if c.exists() {
            return c;
        }
    }
    base.join(file)
}

/// Loads a role's defaults and vars.
pub fn load_role_ctx(
    name: &str,
    path: &Path,
    params: Vars,
    vars_from: Option<&str>,
    defaults_from: Option<&str>,
) -> Result<RoleCtx> {
    let load = |sub: &str, f: &str| -> Result<Vars> {
        match find_main(&path.join(sub), f) {
            Some(p) => {
                let n = yaml::load_file(&p)?;
                if n.is_null() {
                    Ok(Vars::new())
                } else {
                    vars_of(&n)
                }
            }
            None => Ok(Vars::new()),
        }
    };
    Ok(RoleCtx {
        name: name.to_string(),
        path: path.to_path_buf(),
        defaults: Arc::new(load("defaults", defaults_from.unwrap_or("main"))?),
        vars: Arc::new(load("vars", vars_from.unwrap_or("main"))?),
        params: Arc::new(params),
    })
}

/// Finds `dir/name.yml`, `.yaml`, or `name` (a file).
pub fn find_main(dir: &Path, name: &str) -> Option<PathBuf> {
    [
        dir.join(format!("{name}.yml")),
        dir.join(format!("{name}.yaml")),
        dir.join(name),
    ]
    .into_iter()
    .find(|c| c.is_file())
}

fn arg_loc(aval: &Node, extra: Option<&Node>, e: &Error) -> Option<Location> {
    // Point at the offending option key when the message names it.
    for n in [Some(aval), extra].into_iter().flatten() {
        if let Some(m) = n.as_map() {
            for (k, _) in m {
                if let Some(s) = k.as_str()
                    && e.msg.contains(&format!("'{s}'"))
                {
                    return Some(k.loc.clone());
                }
            }
        }
    }
    None
}

/// The result of [`split_free_form`]: the free-form rest, and the `k=v` pairs.
pub type FreeForm = (Option<String>, Vec<(String, String)>);

/// Splits Ansible's free-form `k=v` text. For modules with a free-form option, words that are
/// `known_option=value` are split out and the rest is kept verbatim as the free-form string; for
/// other modules every word must be `k=v`.
pub fn split_free_form(text: &str, doc: Option<&ModuleDoc>, module: &str) -> Result<FreeForm> {
    let words = split_word_spans(text)?;
    let free_form = match doc {
        Some(d) => d.free_form.is_some(),
        None => matches!(
            module,
            "include_tasks"
                | "import_tasks"
                | "include"
                | "include_role"
                | "import_role"
                | "meta"
                | "include_vars"
                | "set_fact"
                | "gather_facts"
        ),
    };
    let mut kv = Vec::new();
    // The free-form text keeps its own spacing and newlines (a multi-line `shell: |` script);
    // only the k=v words are cut out of it.
    let mut cut: Vec<std::ops::Range<usize>> = Vec::new();
    let mut any_rest = false;
    for (raw, span) in &words {
        let unq = raw;
        if let Some((k, v)) = unq.split_once('=')
            && !k.is_empty()
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !raw.starts_with(['"', '\''])
        {
            let known = match doc {
                Some(d) => d.free_form.is_none() || d.option(k).is_some(),
                None => !matches!(module, "meta" | "include_tasks" | "import_tasks"),
            };
            if known {
                kv.push((k.to_string(), unquote(v)));
                cut.push(span.clone());
                continue;
            }
        }
        if !free_form {
            return Err(
                Error::parse(format!("'{raw}' is not a k=v argument of '{module}'"))
                    .hint("write arguments as `key=value` or as a YAML mapping"),
            );
        }
        any_rest = true;
    }
    let raw = if any_rest {
        let mut t = String::with_capacity(text.len());
        let mut from = 0;
        for r in &cut {
            t.push_str(&text[from..r.start]);
            from = r.end;
        }
        t.push_str(&text[from..]);
        Some(t.trim().to_string())
    } else {
        None
    };
    Ok((raw, kv))
}

fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// Splits on whitespace outside quotes and outside `{{ }}` / `{% %}`; returns (raw, raw) pairs.
#[cfg(test)]
fn split_words(text: &str) -> Result<Vec<(String, String)>> {
    Ok(split_word_spans(text)?
        .into_iter()
        .map(|(w, _)| (w.clone(), w))
        .collect())
}

/// [`split_words`] with each word's byte range in `text`.
fn split_word_spans(text: &str) -> Result<Vec<(String, std::ops::Range<usize>)>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0usize;
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |i: usize| chars.get(i).map_or(text.len(), |(b, _)| *b);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let next = chars.get(i + 1).map(|(_, c)| *c);
        if cur.is_empty() && !(quote.is_none() && depth == 0 && c.is_whitespace()) {
            start = chars[i].0;
        }
        if quote.is_none() && (c == '{') && matches!(next, Some('{') | Some('%')) {
            depth += 1;
            cur.push(c);
            cur.push(next.unwrap());
            i += 2;
            continue;
        }
        if quote.is_none() && depth > 0 && matches!(c, '}' | '%') && next == Some('}') {
            depth -= 1;
            cur.push(c);
            cur.push('}');
            i += 2;
            continue;
        }
        match quote {
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            Some(_) => {
                if c == '\\'
                    && let Some(n) = next
                {
                    cur.push(c);
                    cur.push(n);
                    i += 2;
                    continue;
                }
                cur.push(c)
            }
            None if (c == '"' || c == '\'') && depth == 0 => {
                quote = Some(c);
                cur.push(c);
            }
            None if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push((std::mem::take(&mut cur), start..at(i)));
                }
            }
            None => cur.push(c),
        }
        i += 1;
    }
    if quote.is_some() {
        return Err(Error::parse("unbalanced quote in free-form arguments").hint("close the quote"));
    }
    if !cur.is_empty() {
        out.push((cur, start..text.len()));
    }
    Ok(out)
}

fn opt<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    node.get(key)
}

fn key_str(k: &Node) -> Result<String> {
    k.scalar_text()
        .ok_or_else(|| k.error("a key must be a string"))
}

/// A boolean keyword (YAML booleans and Ansible's yes/no strings).
pub fn bool_of(n: &Node) -> Result<bool> {
    match &n.value {
        NodeValue::Bool(b) => Ok(*b),
        NodeValue::Int(i) => Ok(*i != 0),
        NodeValue::Str(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" | "y" => Ok(true),
            "no" | "false" | "off" | "0" | "n" | "" => Ok(false),
            _ => Err(n
                .error(format!("expected a boolean, got '{s}'"))
                .hint("use true or false")),
        },
        _ => Err(n.error(format!("expected a boolean, got {}", n.type_name()))),
    }
}

fn num_of(n: &Node) -> Result<f64> {
    match &n.value {
        NodeValue::Int(i) => Ok(*i as f64),
        NodeValue::Float(f) => Ok(*f),
        NodeValue::Str(s) => s
            .trim_end_matches('%')
            .parse()
            .map_err(|_| n.error(format!("expected a number, got '{s}'"))),
        _ => Err(n.error(format!("expected a number, got {}", n.type_name()))),
    }
}

fn serial_of(n: &Node) -> Result<Serial> {
    match &n.value {
        NodeValue::Int(i) if *i > 0 => Ok(Serial::Count(*i as usize)),
        NodeValue::Str(s) if s.ends_with('%') => s[..s.len() - 1]
            .trim()
            .parse()
            .map(Serial::Percent)
            .map_err(|_| n.error(format!("bad serial percentage '{s}'"))),
        NodeValue::Str(s) => s
            .parse()
            .map(Serial::Count)
            .map_err(|_| n.error(format!("bad serial value '{s}'"))),
        _ => Err(n.error("serial must be a positive number, a percentage or a list of them")),
    }
}

/// A string or list of strings.
pub fn str_list(n: &Node) -> Result<Vec<String>> {
    match &n.value {
        NodeValue::Seq(items) => items
            .iter()
            .map(|i| i.scalar_text().ok_or_else(|| i.error("expected a string")))
            .collect(),
        NodeValue::Null => Ok(vec![]),
        _ => {
            let s = n
                .scalar_text()
                .ok_or_else(|| n.error("expected a string or a list"))?;
            Ok(s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect())
        }
    }
}

fn cond_list(n: &Node) -> Result<Vec<String>> {
    match &n.value {
        NodeValue::Seq(items) => items
            .iter()
            .map(|i| {
                i.scalar_text()
                    .ok_or_else(|| i.error("a condition must be a string"))
            })
            .collect(),
        NodeValue::Null => Ok(vec![]),
        _ => Ok(vec![
            n.scalar_text()
                .ok_or_else(|| n.error("a condition must be a string"))?,
        ]),
    }
}

/// A `vars:` mapping (or list of mappings) as [`Vars`].
pub fn vars_of(n: &Node) -> Result<Vars> {
    let mut out = Vars::new();
    match &n.value {
        NodeValue::Map(m) => {
            for (k, v) in m {
                out.insert(key_str(k)?, v.to_value());
            }
        }
        NodeValue::Seq(items) => {
            for i in items {
                out.extend(vars_of(i)?);
            }
        }
        NodeValue::Null => {}
        _ => return Err(n.error(format!("vars must be a mapping, not {}", n.type_name()))),
    }
    Ok(out)
}

fn read_become(node: &Node, b: &mut BecomeOpts) -> Result<()> {
    if let Some(v) = node.get("become") {
        b.enabled = Some(bool_of(v)?);
    }
    if let Some(v) = node.get("become_user") {
        b.user = v.scalar_text();
    }
    if let Some(v) = node.get("become_method") {
        let m = v.scalar_text().unwrap_or_default();
        if !matches!(m.as_str(), "sudo" | "su") {
            return Err(v
                .error(format!("become_method '{m}' is not supported"))
                .hint("prov supports sudo and su"));
        }
        b.method = Some(m);
    }
    if let Some(v) = node.get("become_flags") {
        b.flags = v.scalar_text();
    }
    Ok(())
}

fn loop_control_of(n: &Node) -> Result<LoopControl> {
    let mut lc = LoopControl::default();
    let Some(m) = n.as_map() else {
        return Err(n.error("loop_control must be a mapping"));
    };
    for (k, v) in m {
        match key_str(k)?.as_str() {
            "loop_var" => lc.loop_var = v.scalar_text(),
            "index_var" => lc.index_var = v.scalar_text(),
            "label" => lc.label = Some(v.to_value()),
            "pause" => lc.pause = Some(num_of(v)?),
            "extended" => lc.extended = bool_of(v)?,
            "extended_allitems" | "break_when" => {}
            other => {
                return Err(k
                    .error(format!("'{other}' is not a loop_control option"))
                    .hint("valid: loop_var, index_var, label, pause, extended"));
            }
        }
    }
    Ok(lc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(file: &str, line: usize) -> Location {
        Location::new(Arc::new(PathBuf::from(file)), line, 3)
    }

    #[test]
    fn include_chain_stops_static_loops_and_deep_nesting() {
        let top = IncludeChain::default();
        let a = Path::new("/nonexistent/a.yml");
        let b = Path::new("/nonexistent/b.yml");
        let c1 = enter_include(&top, &loc("pb.yml", 4), a, false).unwrap();
        let c2 = enter_include(&c1, &loc("/nonexistent/a.yml", 1), b, false).unwrap();
        // b imports a again: a loop of static imports, every link named.
        let e = enter_include(&c2, &loc("/nonexistent/b.yml", 1), a, false).unwrap_err();
        assert!(e.msg.contains("import loop"), "{}", e.msg);
        for want in ["pb.yml:4:3", "a.yml:1:3", "b.yml:1:3"] {
            assert!(e.msg.contains(want), "{want} missing: {}", e.msg);
        }
        assert_eq!(e.loc.as_ref().unwrap().line, 1);
        // At run time a file may include itself (a `when:` can end it), up to the depth limit.
        let mut chain = c2.clone();
        for _ in 2..MAX_INCLUDE_DEPTH {
            chain = enter_include(&chain, &loc("/nonexistent/a.yml", 2), a, true).unwrap();
        }
        assert_eq!(chain.len(), MAX_INCLUDE_DEPTH);
        let e = enter_include(&chain, &loc("/nonexistent/a.yml", 2), a, true).unwrap_err();
        assert!(e.msg.contains("deeper than 64"), "{}", e.msg);
        assert!(e.msg.contains("more"), "{}", e.msg);
        // After a run-time include, a static import of the including file is no loop yet.
        let d = enter_include(&c1, &loc("/nonexistent/a.yml", 2), b, true).unwrap();
        assert!(enter_include(&d, &loc("/nonexistent/b.yml", 1), a, false).is_ok());
        assert!(enter_include(&d, &loc("/nonexistent/b.yml", 1), b, false).is_err());
    }

    #[test]
    fn free_form_splitting() {
        let (raw, kv) = split_free_form("src=a dest='/b c' mode=0644", None, "copy").unwrap();
        assert!(raw.is_none());
        assert_eq!(
            kv,
            vec![
                ("src".into(), "a".into()),
                ("dest".into(), "/b c".into()),
                ("mode".into(), "0644".into())
            ]
        );
        let e = split_free_form("dest='unclosed", None, "copy").unwrap_err();
        assert!(e.msg.contains("unbalanced quote"));
        let w = split_words("msg={{ a | default('x y') }} b=2").unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].0, "msg={{ a | default('x y') }}");
    }

    #[test]
    fn module_defaults_groups_then_module_entries() {
        let node = crate::yaml::load_str(
            "group/aws: { region: eu-west-1, profile: a }\n\
             amazon.aws.ec2_instance_info: { profile: b }\n\
             group/community.docker.docker: { timeout: 30 }\n",
            Path::new("t.yml"),
        )
        .unwrap();
        let layer = module_defaults_of(&node).unwrap();
        let get = |m: &str| -> Vec<(String, String)> {
            defaults_for(&layer, m)
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect()
        };
        // The module's own entry comes after (so wins over) its group's.
        assert_eq!(
            get("ec2_instance_info"),
            [
                ("region".to_string(), "eu-west-1".to_string()),
                ("profile".into(), "a".into()),
                ("profile".into(), "b".into())
            ]
        );
        assert_eq!(get("ec2_security_group").len(), 2);
        assert_eq!(
            get("docker_stack"),
            [("timeout".to_string(), "30".to_string())]
        );
        assert!(get("copy").is_empty());
    }

    #[test]
    fn free_form_keeps_the_script_s_lines_and_cuts_only_k_v_words() {
        let doc = crate::modules::Registry::builtin()
            .get("shell")
            .map(|m| m.doc());
        let (raw, kv) = split_free_form("echo one\necho  two | tr a b\n", doc, "shell").unwrap();
        assert_eq!(raw.as_deref(), Some("echo one\necho  two | tr a b"));
        assert!(kv.is_empty());
        let (raw, kv) = split_free_form(
            "cd /x &&\n  make creates=/x/out chdir=/x\nmake install\n",
            doc,
            "shell",
        )
        .unwrap();
        assert_eq!(raw.as_deref(), Some("cd /x &&\n  make  \nmake install"));
        assert_eq!(
            kv,
            vec![
                ("creates".to_string(), "/x/out".to_string()),
                ("chdir".to_string(), "/x".to_string())
            ]
        );
        // Words inside quotes or Jinja stay whole.
        let (raw, _) = split_free_form("echo 'a=b c' {{ x | d('y z') }}", doc, "shell").unwrap();
        assert_eq!(raw.as_deref(), Some("echo 'a=b c' {{ x | d('y z') }}"));
    }
}
