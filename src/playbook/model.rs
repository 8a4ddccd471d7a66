//! The loaded model: plays, tasks (with every keyword they were given or inherited), roles.

use super::include::IncludeChain;
use crate::error::Location;
use crate::value::{Value, Vars};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// `become_exe`.
    pub exe: Option<String>,
}

impl BecomeOpts {
    pub(super) fn inherit(&mut self, parent: &BecomeOpts) {
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
        if self.exe.is_none() {
            self.exe = parent.exe.clone();
        }
    }
}

/// A boolean keyword (`become`, `check_mode`, `diff`, ...) judged when the task runs, as
/// Ansible does: given as a template (`'{{ item }}'`, `'{{ omit }}'`), or as a value that is
/// not a boolean (which fails the task when it runs, not the playbook when it loads).
#[derive(Debug, Clone, PartialEq)]
pub struct LateFlag {
    /// The keyword.
    pub keyword: &'static str,
    /// Its value as written.
    pub value: Value,
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
    /// The folders of the roles that brought this one in (as a dependency, or with
    /// `include_role`/`import_role` from one of their tasks), outermost first.
    pub parents: Vec<PathBuf>,
    /// Brought in as another role's dependency (`meta/main.yml`), not by the play or a task.
    pub dependency: bool,
    /// The roles whose tasks included or imported this one (`ansible_parent_role_names` and
    /// `_paths`), nearest first.
    pub included_by: Vec<(String, PathBuf)>,
    /// Its identity in a play: two runs of a role with the same key are the same role, which
    /// runs once on each host unless it allows duplicates (Ansible's role cache).
    pub key: String,
    /// `allow_duplicates` in its `meta/main.yml`.
    pub allow_duplicates: bool,
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
    /// `extended_allitems` (default true: `ansible_loop.allitems` is set).
    pub extended_allitems: Option<bool>,
    /// `break_when`: conditions checked after each item; the loop stops once they all hold.
    pub break_when: Vec<String>,
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
        /// `handlers_from`.
        handlers_from: Option<String>,
        /// `public`: the role's defaults and vars become the play's (may be a template).
        public: Option<Value>,
        /// `allow_duplicates` (default true): runs again where the same role already ran.
        allow_duplicates: Option<Value>,
        /// `rolespec_validate` (default true): check the role's argument spec first.
        rolespec_validate: Option<Value>,
        /// Keywords applied to the role's tasks (`apply:`).
        apply: Option<Box<Inherit>>,
    },
    /// `set_fact`.
    SetFact {
        /// The facts to set (values may be templates).
        vars: Vec<(String, Value)>,
        /// `cacheable` (a template is rendered when the task runs).
        cacheable: Value,
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
    GatherFacts {
        /// `setup`'s arguments (`gather_subset`, `gather_timeout`, `fact_path`; may be
        /// templates): the action's own, or the play's `gather_subset` and `gather_timeout`.
        args: Value,
    },
    /// An action whose task is only known when it runs, as in Ansible: its name or arguments
    /// are templates (`action: "{{ mod }} a=b"`, `add_host: "{{ data }}"`, `args: "{{ x }}"`),
    /// or (outside strict loading) its arguments are wrong, so that the task fails when it
    /// runs, and only then (never when skipped).
    Deferred(Box<Deferred>),
}

/// What [`TaskKind::Deferred`] resolves when the task runs.
#[derive(Debug, Clone)]
pub struct Deferred {
    /// The action's name as written (a template when `action:` names it with one).
    pub name: String,
    /// The free-form string, split into options once the action is known.
    pub free: Option<String>,
    /// Arguments given as a mapping (the action's own and `args:`); highest precedence.
    pub args: Vars,
    /// Templates that render to mappings of arguments (`args: "{{ x }}"`, a free-form string
    /// that is one template for an action without a free form), lowest first; below `args`.
    pub template: Vec<String>,
    /// Folder relative paths resolve from.
    pub base: PathBuf,
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
    /// `ignore_unreachable` (may be a template, rendered per loop item).
    pub ignore_unreachable: Option<Value>,
    /// Tags (own plus inherited).
    pub tags: Vec<String>,
    /// `delegate_to` (may be a template).
    pub delegate_to: Option<String>,
    /// `delegate_facts`.
    pub delegate_facts: bool,
    /// `run_once`.
    pub run_once: bool,
    /// `run_once` given as a template: also run once when it renders true (on the first
    /// host, when the task runs).
    pub run_once_if: Option<String>,
    /// `until` condition.
    pub until: Option<String>,
    /// `retries` (default 3 with until).
    pub retries: Option<Value>,
    /// `delay` seconds (default 5).
    pub delay: Option<Value>,
    /// `no_log`.
    pub no_log: bool,
    /// The action was written `ansible.builtin.x`: a module of the same name in the user's
    /// `library/` does not replace it (it replaces `x` and `ansible.legacy.x`).
    pub builtin_fqcn: bool,
    /// `no_log` given as templates (own and inherited): also no_log when one renders true on
    /// the host running the task.
    pub no_log_if: Vec<String>,
    /// `no_log` is written on the task (or block) itself, true or false: an enclosing
    /// block's, role's or play's does not replace it (`no_log: false` under a `no_log` play).
    pub no_log_given: bool,
    /// `check_mode` override.
    pub check_mode: Option<bool>,
    /// `diff` override.
    pub diff: Option<bool>,
    /// Boolean keywords decided when the task runs (own, else inherited; one per keyword):
    /// they override the fixed fields (`check_mode`, `become_.enabled`, ...), which keep the
    /// inherited value a template rendering to `omit` falls back to.
    pub late_flags: Vec<LateFlag>,
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
    /// `async`: run the module as a background job on the host for at most this many seconds
    /// (template or number; 0 or absent: not a job).
    pub async_: Option<Value>,
    /// `poll`: with `async`, seconds between checks on the job (0: fire and forget).
    pub poll: Option<Value>,
    /// Task and inherited block vars.
    pub vars: Arc<Vars>,
    /// The `vars` of the dynamic includes (`include_tasks`, `include_role`) this task is, or
    /// was brought in by (outermost first, merged): Ansible's "include params", above
    /// `set_fact` and role params.
    pub include_params: Arc<Vars>,
    /// For a dynamic include: the tags it inherited (from its blocks, role, play), which are
    /// what the included tasks inherit (an include's own tags apply to the include alone).
    pub inherited_tags: Option<Vec<String>>,
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
    /// Ansible's search path for the files this task names (`ansible_search_path`): the
    /// folders of its role and of the roles that brought it in (its own first), the folder of
    /// its file, then the playbook's folder `playbook_dir` (where a task of the top playbook,
    /// whose file was named relative to the current folder, is).
    pub fn search_path(&self, playbook_dir: &Path) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        if let Some(r) = &self.role {
            out.push(r.path.clone());
            out.extend(r.parents.iter().rev().cloned());
        }
        for d in [self.file_dir(playbook_dir).as_path(), playbook_dir] {
            if !out.iter().any(|p| p == d) {
                out.push(d.to_path_buf());
            }
        }
        out
    }

    /// The folder of the file this task is written in (`playbook_dir` for the top playbook's
    /// tasks, whose file was named relative to the current folder).
    pub fn file_dir(&self, playbook_dir: &Path) -> PathBuf {
        match self.loc.file.parent().filter(|d| d.is_absolute()) {
            Some(d) => d.to_path_buf(),
            None => playbook_dir.to_path_buf(),
        }
    }

    pub(super) fn empty(loc: Location, kind: TaskKind, base: PathBuf) -> Task {
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
            ignore_unreachable: None,
            builtin_fqcn: false,
            tags: vec![],
            delegate_to: None,
            delegate_facts: false,
            run_once: false,
            run_once_if: None,
            until: None,
            retries: None,
            delay: None,
            no_log: false,
            no_log_if: vec![],
            no_log_given: false,
            check_mode: None,
            diff: None,
            late_flags: vec![],
            environment: vec![],
            module_defaults: vec![],
            throttle: None,
            timeout: None,
            async_: None,
            poll: None,
            vars: Arc::new(Vars::new()),
            include_params: Arc::new(Vars::new()),
            inherited_tags: None,
            become_: BecomeOpts::default(),
            remote_user: None,
            connection: None,
            any_errors_fatal: None,
            role: None,
            base,
            include_chain: IncludeChain::default(),
        }
    }

    /// A task prov adds that the playbook does not show (the end of a role's tasks).
    pub fn is_implicit(&self) -> bool {
        matches!(&self.kind, TaskKind::Meta(m) if m == super::roles::ROLE_COMPLETE)
    }

    /// The name to show: the given name, else `module` (or `role : name` inside a role).
    pub fn display_name(&self) -> String {
        let base = match (&self.name, &self.kind) {
            (Some(n), _) => n.clone(),
            (None, TaskKind::Module { name, .. }) => name.clone(),
            (None, TaskKind::Meta(m)) => format!("meta: {m}"),
            (None, TaskKind::GatherFacts { .. }) => "Gathering Facts".into(),
            (None, TaskKind::Block { .. }) => "block".into(),
            (None, TaskKind::Deferred(d)) => d.name.clone(),
            (None, kind) => kind.action().map(|a| a.name).unwrap_or_default().into(),
        };
        match &self.role {
            Some(r) => format!("{} : {base}", r.name),
            None => base,
        }
    }

    /// Whether this task gives boolean keyword `k` a value of its own (fixed or late).
    fn sets_flag(&self, k: &str) -> bool {
        self.late_flags.iter().any(|f| f.keyword == k)
            || match k {
                "check_mode" => self.check_mode.is_some(),
                "diff" => self.diff.is_some(),
                "become" => self.become_.enabled.is_some(),
                "any_errors_fatal" => self.any_errors_fatal.is_some(),
                "ignore_unreachable" => self.ignore_unreachable.is_some(),
                "delegate_facts" => self.delegate_facts,
                _ => false,
            }
    }

    /// Applies inherited keywords from an enclosing block, role, include or play.
    pub fn inherit(&mut self, p: &Inherit) {
        // Before the fixed fields below: a parent's late keyword applies where this task
        // gives that keyword no value of its own.
        let inherited: Vec<LateFlag> = p
            .late_flags
            .iter()
            .filter(|f| !self.sets_flag(f.keyword))
            .cloned()
            .collect();
        self.late_flags.extend(inherited);
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
        if self.ignore_unreachable.is_none() {
            self.ignore_unreachable = p.ignore_unreachable.clone();
        }
        if self.delegate_to.is_none() {
            self.delegate_to = p.delegate_to.clone();
        }
        self.delegate_facts |= p.delegate_facts;
        self.run_once |= p.run_once;
        if self.run_once_if.is_none() {
            self.run_once_if = p.run_once_if.clone();
        }
        if !self.no_log_given {
            self.no_log |= p.no_log;
            self.no_log_if.extend(p.no_log_if.iter().cloned());
        }
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
        if self.include_params.is_empty() {
            self.include_params = p.include_params.clone();
        }
        if self.notify.is_empty() {
            self.notify = p.notify.clone();
        }
        if self.include_chain.is_empty() {
            self.include_chain = p.include_chain.clone();
        }
        // A block's own `no_log` is what its tasks inherit.
        let own;
        let p = if self.no_log_given && matches!(self.kind, TaskKind::Block { .. }) {
            own = Inherit {
                no_log: self.no_log,
                no_log_if: self.no_log_if.clone(),
                ..p.clone()
            };
            &own
        } else {
            p
        };
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
    /// Include params (see [`Task::include_params`]).
    pub include_params: Arc<Vars>,
    /// A block's `notify`: its tasks notify these handlers unless they name their own.
    pub notify: Vec<String>,
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
    pub ignore_unreachable: Option<Value>,
    /// delegate_to.
    pub delegate_to: Option<String>,
    /// delegate_facts (a block's reaches its tasks).
    pub delegate_facts: bool,
    /// run_once.
    pub run_once: bool,
    /// run_once as a template.
    pub run_once_if: Option<String>,
    /// no_log.
    pub no_log: bool,
    /// no_log templates.
    pub no_log_if: Vec<String>,
    /// check_mode.
    pub check_mode: Option<bool>,
    /// diff.
    pub diff: Option<bool>,
    /// Boolean keywords decided when the task runs.
    pub late_flags: Vec<LateFlag>,
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
    pub(super) fn from_task(t: &Task) -> Inherit {
        Inherit {
            when: t.when.clone(),
            tags: t.tags.clone(),
            vars: t.vars.clone(),
            include_params: t.include_params.clone(),
            notify: t.notify.clone(),
            environment: t.environment.clone(),
            module_defaults: t.module_defaults.clone(),
            throttle: t.throttle.clone(),
            timeout: t.timeout.clone(),
            become_: t.become_.clone(),
            ignore_errors: t.ignore_errors.clone(),
            ignore_unreachable: t.ignore_unreachable.clone(),
            delegate_to: t.delegate_to.clone(),
            delegate_facts: t.delegate_facts,
            run_once: t.run_once,
            run_once_if: t.run_once_if.clone(),
            no_log: t.no_log,
            no_log_if: t.no_log_if.clone(),
            check_mode: t.check_mode,
            diff: t.diff,
            late_flags: t.late_flags.clone(),
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
    /// A template of the play's variables, rendered when the play starts (a number, a
    /// percentage, a list of them, or omitted).
    Template(String),
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
    /// `gather_subset`, `gather_timeout` and `fact_path`, for the play's fact gathering
    /// (templates).
    pub gather_args: Vars,
    /// become keywords.
    pub become_: BecomeOpts,
    /// The play's `environment` (its tasks inherit it; fact gathering runs with it).
    pub environment: Vec<Value>,
    /// `order` of the hosts, as written (`inventory`, `reverse_inventory`, `sorted`,
    /// `reverse_sorted`, `shuffle`, or a template rendered when the play starts).
    pub order: Option<String>,
    /// `serial` batches.
    pub serial: Vec<Serial>,
    /// `strategy`, as written: `linear` (the default), `free`, `host_pinned` (run as `free`),
    /// `debug` (run as `linear`), or a template rendered when the play starts.
    pub strategy: String,
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
    /// `force_handlers` (when given, it wins over `--force-handlers` and ansible.cfg).
    pub force_handlers: Option<bool>,
    /// The roles the play runs itself (`roles:`, `import_role`), each once, in order.
    pub role_names: Vec<String>,
    /// The roles it runs as others' dependencies.
    pub dependent_role_names: Vec<String>,
    /// The roles whose defaults and vars every task of the play sees (`roles:`,
    /// `import_role`, and their dependencies, in load order), as Ansible exposes them.
    pub public_roles: Vec<Arc<RoleCtx>>,
    /// The playbook's folder.
    pub dir: PathBuf,
    /// The playbook file.
    pub file: PathBuf,
    /// The keywords its tasks inherit (`ignore_unreachable`, `connection`, `environment`, ...),
    /// which the implicit fact gathering takes too, as in Ansible.
    pub keywords: Inherit,
}

/// A loaded playbook (imports expanded).
#[derive(Debug, Clone)]
pub struct Playbook {
    /// The top file.
    pub path: PathBuf,
    /// Plays in order.
    pub plays: Vec<Play>,
}

/// Whether a play's `strategy` (rendered) runs each host on its own (`free`, `host_pinned`)
/// rather than in lockstep (`linear`, `debug`); an error for a strategy prov does not run.
pub fn free_strategy(strategy: &str) -> crate::error::Result<bool> {
    match strategy.trim() {
        "" | "linear" | "debug" => Ok(false),
        "free" | "host_pinned" => Ok(true),
        other => Err(crate::error::Error::parse(format!(
            "Invalid play strategy specified: {other}"
        ))
        .hint("prov runs `linear` (the default), `free` and `host_pinned`")),
    }
}
