//! The engine: runs plays over hosts. Linear strategy (every host finishes a task before the
//! next starts) and free; `serial` batches; `--forks` concurrent hosts; blocks with rescue and
//! always; handlers; loops; `until` retries; `delegate_to`; `run_once`; check mode and diffs.
//!
//! Each task is planned on each host just before it runs, from fresh state (see
//! [`crate::modules::Module::plan`]); the plan's changes are applied unless in check mode.

mod action_plugin;
mod actions;
mod async_job;
pub mod fact_cache;
mod fallback;
mod include_vars;
mod loops;
mod module_run;
mod outcome;
mod task;
mod vars;

use crate::connection::local::LocalConnection;
use crate::connection::{Connection, Secret};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, HostStats, Recap, Sink};
use crate::inventory::Inventory;
use crate::modules::Registry;
use crate::playbook::{Play, Playbook, Serial, Task, TaskKind};
use crate::template::{Context, Templar};
use crate::value::{Value, Vars};
use async_trait::async_trait;
use indexmap::{IndexMap, IndexSet};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

pub(crate) use task::tags_selected;
pub use vars::HostVarsObject;

/// Options for a run (the CLI's flags, for library users too).
///
/// Set the fields you need and take the rest from the defaults, so that new options do not
/// break your code: `RunOptions { check: true, ..Default::default() }`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Check mode: report, change nothing.
    pub check: bool,
    /// Show diffs.
    pub diff: bool,
    /// Hosts handled at once.
    pub forks: usize,
    /// `--limit` pattern.
    pub limit: Option<String>,
    /// `--shard K/N`: only the hosts of this shard run (see [`crate::inventory::shard`]).
    pub shard: Option<crate::inventory::shard::Shard>,
    /// `--tags`.
    pub tags: Vec<String>,
    /// `--skip-tags`.
    pub skip_tags: Vec<String>,
    /// `-e` extra vars (highest precedence).
    pub extra_vars: Vars,
    /// `-v` count.
    pub verbosity: u8,
    /// `--start-at-task`.
    pub start_at_task: Option<String>,
    /// `-b` (lowest precedence: play and task keywords win).
    pub become_: Option<bool>,
    /// `--become-user`.
    pub become_user: Option<String>,
    /// `--become-method`.
    pub become_method: Option<String>,
    /// Become password (`--ask-become-pass`).
    pub become_password: Option<Secret>,
    /// `-u` remote user.
    pub remote_user: Option<String>,
    /// Extra folders to find roles in (`roles_path`).
    pub roles_path: Vec<std::path::PathBuf>,
    /// `--force-handlers` (also `force_handlers` in ansible.cfg): as the play keyword, for
    /// every play.
    pub force_handlers: bool,
    /// The inventory sources as given with `-i` (the `ansible_inventory_sources` variable).
    pub inventory_sources: Vec<String>,
    /// The ansible.cfg that was read, if any (the `ansible_config_file` variable).
    pub config_file: Option<std::path::PathBuf>,
    /// A task notifying a handler that does not exist stops the run with an error (else a
    /// warning); `error_on_missing_handler` in ansible.cfg, default true.
    pub error_on_missing_handler: bool,
    /// `ANSIBLE_DEBUG`: also show the engine's debug messages.
    pub debug: bool,
    /// The fact cache (`fact_caching = jsonfile`), if any.
    pub fact_cache: Option<fact_cache::FactCache>,
    /// `--flush-cache`: forget the inventory hosts' cached facts first.
    pub flush_cache: bool,
    /// `gathering = smart`: plays do not gather facts already gathered (in this run or, with
    /// a fact cache, an earlier one).
    pub gathering_smart: bool,
    /// `private_role_vars` (ansible.cfg, `ANSIBLE_PRIVATE_ROLE_VARS`) when set: false makes
    /// the variables of an `include_role` without `public:` the play's.
    pub private_role_vars: Option<bool>,
    /// `no_log` in ansible.cfg (`ANSIBLE_NO_LOG`): the `no_log` of the tasks that do not set
    /// their own.
    pub no_log: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            check: false,
            diff: false,
            forks: 5,
            limit: None,
            shard: None,
            tags: vec![],
            skip_tags: vec![],
            extra_vars: Vars::new(),
            verbosity: 0,
            start_at_task: None,
            become_: None,
            become_user: None,
            become_method: None,
            become_password: None,
            remote_user: None,
            roles_path: vec![],
            force_handlers: false,
            inventory_sources: vec![],
            config_file: None,
            error_on_missing_handler: true,
            debug: false,
            fact_cache: None,
            flush_cache: false,
            gathering_smart: false,
            private_role_vars: None,
            no_log: false,
        }
    }
}

/// Opens connections to hosts. The default opens a local connection for
/// `ansible_connection: local` and the SSH transport otherwise.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Connects to `host`, given its templated connection variables (`ansible_*`).
    async fn connect(&self, host: &str, vars: &Vars) -> Result<Arc<dyn Connection>>;
}

/// The default connector: `ansible_connection: local` runs on the controller; `ssh` (the
/// default, also `smart` and `paramiko`) uses the native SSH transport with these options;
/// another type is one of Ansible's Python connection plugins, run through the plugin bridge.
#[derive(Debug, Default, Clone)]
pub struct DefaultConnector {
    /// Options for SSH connections (ansible.cfg and command-line settings).
    pub ssh: crate::connection::ssh::SshOptions,
    /// The connection type for hosts whose variables set no `ansible_connection`
    /// (`ansible-playbook -c`); `ssh` when none.
    pub connection: Option<String>,
}

#[async_trait]
impl Connector for DefaultConnector {
    async fn connect(&self, host: &str, vars: &Vars) -> Result<Arc<dyn Connection>> {
        let kind = vars
            .get("ansible_connection")
            .map(|v| v.to_string())
            .or_else(|| self.connection.clone())
            .unwrap_or_else(|| "ssh".into());
        match kind.as_str() {
            "local" => Ok(Arc::new(LocalConnection::new(host))),
            "ssh" | "smart" | "paramiko" | "paramiko_ssh" => {
                let c = crate::connection::ssh::connect(host, vars, &self.ssh).await?;
                Ok(Arc::new(c))
            }
            other => {
                // One of Ansible's Python connection plugins (a playbook's
                // `connection_plugins/`, `ANSIBLE_CONNECTION_PLUGINS`, a collection's).
                use crate::plugins::bridge::{Opened, PythonConnection};
                if !other.contains('/')
                    && crate::plugins::bridge::available()
                    && let Opened::Conn(c) = PythonConnection::open(other, host, vars).await?
                {
                    return Ok(Arc::new(c));
                }
                Err(Error::unreachable(format!(
                    "connection type '{other}' for {host} is not supported"
                ))
                .on_host(host)
                .hint(
                    "prov supports `ssh` (the default) and `local`, and Ansible's Python \
                     connection plugins when ansible-core is installed",
                ))
            }
        }
    }
}

/// Runs playbooks.
pub struct Runner {
    inventory: Arc<Inventory>,
    registry: Arc<Registry>,
    templar: Templar,
    opts: RunOptions,
    sinks: Vec<Arc<dyn Sink>>,
    connector: Arc<dyn Connector>,
}

impl Runner {
    /// A runner over `inventory` with `registry`'s modules.
    pub fn new(inventory: Inventory, registry: Registry) -> Self {
        Runner {
            inventory: Arc::new(inventory),
            registry: Arc::new(registry),
            templar: Templar::new(),
            opts: RunOptions::default(),
            sinks: vec![],
            connector: Arc::new(DefaultConnector::default()),
        }
    }
    /// Sets the options.
    pub fn options(mut self, o: RunOptions) -> Self {
        self.opts = o;
        self
    }
    /// Adds a sink that receives every event.
    pub fn sink(mut self, s: Arc<dyn Sink>) -> Self {
        self.sinks.push(s);
        self
    }
    /// Replaces the connector.
    pub fn connector(mut self, c: Arc<dyn Connector>) -> Self {
        self.connector = c;
        self
    }
    /// Replaces the templar (e.g. one with a vault password).
    pub fn templar(mut self, t: Templar) -> Self {
        self.templar = t;
        self
    }
    /// The inventory.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    fn emit(&self, ev: Event) {
        for s in &self.sinks {
            s.event(&ev);
        }
    }

    /// Hosts a play would run on (pattern, then `--limit`).
    pub fn play_hosts(&self, play: &Play) -> Result<Vec<String>> {
        self.play_hosts_in(play, &self.inventory)
    }

    /// Hosts a play runs on in `inventory` (which `add_host`/`group_by` may have changed).
    fn play_hosts_in(&self, play: &Play, inventory: &Inventory) -> Result<Vec<String>> {
        let ctx = Context::new(
            &self.templar,
            vec![play.vars.clone(), Arc::new(self.opts.extra_vars.clone())],
        );
        let pattern = self
            .templar
            .render_str(&play.hosts, &ctx)
            .map(|v| hosts_pattern(&v))
            .map_err(|e| e.at(&play.loc))?;
        let mut hosts = inventory.select(&pattern).map_err(|e| e.at(&play.loc))?;
        if let Some(limit) = &self.opts.limit {
            inventory.limit(&mut hosts, limit)?;
        }
        if let Some(s) = &self.opts.shard {
            hosts.retain(|h| s.holds(h));
        }
        Ok(hosts)
    }

    /// Runs every play of a playbook; returns the recap (also sent to the sinks).
    pub async fn run(&self, pb: &Playbook) -> Result<Recap> {
        self.emit(Event::PlaybookStart {
            path: pb.path.display().to_string(),
            plays: pb.plays.len(),
        });
        let mut shared = vars::Shared::new(
            self.inventory.clone(),
            self.templar.clone(),
            Arc::new(self.opts.extra_vars.clone()),
            vars::run_magic(&self.opts),
        );
        if let Some(c) = &self.opts.fact_cache {
            shared = shared.with_fact_cache(c.clone(), self.opts.flush_cache);
        }
        let shared = Arc::new(shared);
        let mut stats: IndexMap<String, HostStats> = IndexMap::new();
        let mut started = self.opts.start_at_task.is_none();
        // Hosts that failed or were unreachable take no part in later plays (Ansible).
        let mut dead: IndexSet<String> = IndexSet::new();
        let mut cleared: IndexSet<String> = IndexSet::new();
        let result = async {
            for play in &pb.plays {
                let go_on = self
                    .run_play(play, &shared, &mut stats, &mut started, &mut dead)
                    .await?;
                for (h, n) in &stats {
                    if dead.contains(h) {
                        cleared.shift_remove(h);
                    } else if n.failed > 0 {
                        cleared.insert(h.clone());
                    }
                }
                if !go_on {
                    break;
                }
            }
            Ok::<(), Error>(())
        }
        .await;
        for c in shared.conns.lock().await.values() {
            // The fallback modules' zips the hosts kept for the run go first.
            crate::modules::fallback::forget_kept(&**c).await;
            let _ = c.close().await;
        }
        // As in Ansible, the recap shows the hosts that had a result counted (not those of a
        // play whose tasks all skipped them silently, or that had no tasks).
        stats.retain(|_, s| *s != HostStats::default());
        let recap = Recap {
            hosts: stats,
            errors_cleared: cleared.into_iter().collect(),
            custom: shared.custom_stats(),
        };
        result?;
        if crate::interrupt::is_set() {
            self.emit(Event::Warning(
                "interrupted (Ctrl-C or SIGTERM): no further task was started; the recap shows what ran".into(),
            ));
        }
        self.emit(Event::Recap(recap.clone()));
        Ok(recap)
    }

    async fn run_play(
        &self,
        play: &Play,
        shared: &Arc<vars::Shared>,
        stats: &mut IndexMap<String, HostStats>,
        started: &mut bool,
        dead: &mut IndexSet<String>,
    ) -> Result<bool> {
        let mut hosts = self.play_hosts_in(play, &shared.inventory())?;
        let name = play.name.clone().unwrap_or_else(|| play.hosts.clone());
        if hosts.is_empty() {
            self.emit(Event::Warning(format!(
                "no hosts matched for play '{name}' (pattern '{}'); skipping it",
                play.hosts
            )));
            return Ok(true);
        }
        hosts.retain(|h| !dead.contains(h));
        if hosts.is_empty() {
            // Every host of this play failed earlier: nothing left to run it on.
            return Ok(true);
        }
        let ctx0 = Context::new(&self.templar, vec![play.vars.clone(), shared.extra.clone()]);
        if let Some(order) = &play.order {
            let order = self
                .templar
                .render_str(order, &ctx0)
                .map_err(|e| e.at(&play.loc))?
                .to_string();
            order_hosts(&mut hosts, &order).map_err(|e| e.at(&play.loc))?;
        }
        let shown = self
            .templar
            .render_str(&name, &ctx0)
            .map(|v| v.to_string())
            .unwrap_or(name);
        self.emit(Event::PlayStart {
            name: shown.clone(),
            hosts: hosts.clone(),
        });
        for h in &hosts {
            stats.entry(h.clone()).or_default();
        }
        let play_vars = self.play_level_vars(play, shared)?;
        // `strategy` may be a template of the play's variables (and extra vars).
        let strategy = if crate::template::is_template(&play.strategy) {
            let ctx = Context::new(&self.templar, vec![play_vars.clone(), shared.extra.clone()]);
            self.templar
                .render_str(&play.strategy, &ctx)
                .map_err(|e| e.at(&play.loc))?
                .to_string()
        } else {
            play.strategy.clone()
        };
        let free = crate::playbook::free_strategy(&strategy).map_err(|e| e.at(&play.loc))?;
        shared.set_play(play, play_vars.clone(), hosts.clone());
        let serial = {
            let ctx = Context::new(&self.templar, vec![play_vars.clone(), shared.extra.clone()]);
            rendered_serial(&play.serial, |t| self.templar.render_str(t, &ctx))
                .map_err(|e| e.at(&play.loc))?
        };
        let roles_run = Arc::new(RoleRuns::default());
        for batch in batches(&hosts, &serial) {
            let pr = PlayRun {
                runner: self,
                play,
                free,
                shared: shared.clone(),
                play_vars: play_vars.clone(),
                batch: batch.clone(),
                states: Mutex::new(
                    batch
                        .iter()
                        .map(|h| (h.clone(), HostState::default()))
                        .collect(),
                ),
                started: Mutex::new(*started),
                stop: Mutex::new(false),
                end_play: Mutex::new(false),
                extra_handlers: Mutex::new(Vec::new()),
                missing_handler: Mutex::new(None),
                flushing: Default::default(),
                roles_run: roles_run.clone(),
                throttles: Default::default(),
            };
            shared.set_batch(&batch);
            let res = pr.run().await;
            *started = *pr.started.lock().unwrap();
            let fatal_stop = *pr.stop.lock().unwrap_or_else(|e| e.into_inner());
            let end_play = *pr.end_play.lock().unwrap_or_else(|e| e.into_inner());
            let states = pr.states.into_inner().unwrap_or_else(|e| e.into_inner());
            let mut failed_in_batch = 0;
            for (h, st) in states {
                if st.failed || st.unreachable {
                    failed_in_batch += 1;
                    dead.insert(h.clone());
                }
                let s = stats.entry(h).or_default();
                s.ok += st.stats.ok;
                s.changed += st.stats.changed;
                s.failed += st.stats.failed;
                s.unreachable += st.stats.unreachable;
                s.skipped += st.stats.skipped;
                s.rescued += st.stats.rescued;
                s.ignored += st.stats.ignored;
            }
            res?;
            // Later batches and plays run unless the whole batch failed, max_fail_percentage of
            // the batch was exceeded or any_errors_fatal stopped it (Ansible's playbook
            // executor: the rest of the playbook is skipped, the recap still printed).
            let abort = match play.max_fail_percentage {
                Some(p) => (failed_in_batch as f64) * 100.0 / (batch.len() as f64) > p,
                None => failed_in_batch == batch.len(),
            };
            if crate::interrupt::is_set() {
                return Ok(false);
            }
            if fatal_stop || (abort && failed_in_batch > 0) {
                self.emit(Event::NoHostsRemaining);
                return Ok(false);
            }
            // `meta: end_play` ends the play, not only its batch.
            if end_play {
                break;
            }
        }
        Ok(true)
    }

    /// Play vars plus `vars_files` and `vars_prompt` answers.
    fn play_level_vars(&self, play: &Play, shared: &vars::Shared) -> Result<Arc<Vars>> {
        let mut v = (*play.vars).clone();
        let ctx = Context::new(&self.templar, vec![play.vars.clone(), shared.extra.clone()]);
        // `vars_files` that need no host's variables (each host reads them again with its own,
        // see `PlayRun::read_host_vars_files`), for the play's own keywords.
        for (k, val) in self.read_vars_files(play, &ctx, shared)? {
            crate::value::combine_var(&mut v, k, val);
        }
        for p in &play.vars_prompt {
            // A variable given with -e is not asked for (Ansible's rule).
            if shared.extra.contains_key(&p.name) {
                continue;
            }
            v.insert(p.name.clone(), self.ask_vars_prompt(p)?);
        }
        Ok(Arc::new(v))
    }

    /// The variables of a play's `vars_files` as Ansible reads them with the variables of
    /// `ctx` (and of the files read before): each entry a file, or a list whose first existing
    /// file is read; an entry whose name uses an undefined variable is skipped with Ansible's
    /// warning, one whose files do not exist is skipped.
    fn read_vars_files(&self, play: &Play, ctx: &Context, shared: &vars::Shared) -> Result<Vars> {
        let mut out = Vars::new();
        'entries: for vf in &play.vars_files {
            let cands: Vec<Value> = if vf.kind() == minijinja::value::ValueKind::Seq {
                vf.try_iter().map(|i| i.collect()).unwrap_or_default()
            } else {
                vec![vf.clone()]
            };
            let ictx = ctx.push(Arc::new(out.clone()));
            let mut tried = vec![];
            for c in cands {
                let rendered = match self.templar.render_str_inner(&c.to_string(), &ictx) {
                    Ok(r) => r,
                    Err(e) if e.undefined => {
                        let msg = "skipping vars_files item due to an undefined variable";
                        if shared.warn_once(&format!("{msg} {vf}")) {
                            self.emit(Event::Warning(msg.to_string()));
                        }
                        continue 'entries;
                    }
                    Err(e) => return Err(e.err.at(&play.loc)),
                };
                let Some(name) = rendered.as_str() else {
                    return Err(Error::parse(format!(
                        "Invalid `vars_files` value of type '{}'.",
                        crate::util::python::type_name(&rendered)
                    ))
                    .hint("a `vars_files` value is a file name or a list of them")
                    .at(&play.loc));
                };
                let p = play.dir.join(name);
                if p.is_file() {
                    let node = crate::yaml::load_file(&p)?;
                    for (k, val) in crate::playbook::vars_of(&node)? {
                        crate::value::combine_var(&mut out, k, val);
                    }
                    continue 'entries;
                }
                tried.push(p.display().to_string());
            }
            self.emit(Event::Verbose {
                level: 3,
                msg: format!(
                    "vars_files: none of {} exists; the entry is skipped",
                    tried.join(", ")
                ),
            });
        }
        Ok(out)
    }

    /// Asks a `vars_prompt` question as Ansible does: `prompt [default]: `; with `confirm`
    /// asked twice, again until both answers match; the default for an empty answer (or when
    /// stdin has nothing left to read); hashed with `encrypt`; never templated with `unsafe`.
    /// A `private` answer (the default) is not echoed on a terminal.
    fn ask_vars_prompt(&self, p: &crate::playbook::VarsPrompt) -> Result<Value> {
        let msg = match &p.default {
            Some(d) => format!("{} [{d}]: ", p.prompt),
            None => format!("{}: ", p.prompt),
        };
        let read = |msg: &str| {
            crate::tty::read_line(msg, p.private).map_err(|e| {
                Error::other(format!(
                    "vars_prompt '{}': cannot read the answer: {e}",
                    p.name
                ))
                .at(&p.loc)
            })
        };
        let answer = loop {
            let Some(first) = read(&msg)? else {
                break None;
            };
            if !p.confirm {
                break Some(first);
            }
            let Some(second) = read(&format!("confirm {msg}"))? else {
                break None;
            };
            if first == second {
                break Some(first);
            }
            eprintln!("***** VALUES ENTERED DO NOT MATCH ****");
        };
        let answer = match (answer, &p.default) {
            (Some(a), Some(d)) if a.is_empty() => d.clone(),
            (Some(a), _) => a,
            (None, Some(d)) => d.clone(),
            (None, None) => {
                use std::io::IsTerminal;
                let why = if std::io::stdin().is_terminal() {
                    "got no answer"
                } else {
                    "needs an answer but stdin is not a terminal"
                };
                return Err(Error::parse(format!("vars_prompt '{}' {why}", p.name))
                    .at(&p.loc)
                    .hint(format!("pass it with -e {}=VALUE", p.name)));
            }
        };
        let value = match &p.encrypt {
            None => Value::from(answer),
            Some(scheme) => {
                let mut vars = Vars::new();
                vars.insert("answer".into(), Value::from(answer));
                vars.insert("scheme".into(), Value::from(scheme.as_str()));
                let mut expr = "{{ answer | password_hash(scheme".to_string();
                if let Some(salt) = &p.salt {
                    vars.insert("salt".into(), Value::from(salt.as_str()));
                    expr.push_str(", salt=salt");
                }
                if let Some(n) = p.salt_size {
                    vars.insert("salt_size".into(), Value::from(n));
                    expr.push_str(", salt_size=salt_size");
                }
                expr.push_str(") }}");
                let ctx = Context::new(&self.templar, vec![Arc::new(vars)]);
                let hashed = self
                    .templar
                    .render_str(&expr, &ctx)
                    .map_err(|e| e.at(&p.loc))?;
                Value::from(hashed.to_string())
            }
        };
        Ok(if p.unsafe_ {
            crate::template::mark_unsafe(&value)
        } else {
            value
        })
    }
}

/// Puts a play's hosts (in inventory order) in its `order`, as Ansible does.
fn order_hosts(hosts: &mut [String], order: &str) -> Result<()> {
    match order {
        "inventory" | "" => {}
        "reverse_inventory" => hosts.reverse(),
        "sorted" => hosts.sort(),
        "reverse_sorted" => hosts.sort_by(|a, b| b.cmp(a)),
        "shuffle" => {
            use std::hash::{BuildHasher, RandomState};
            let seed = RandomState::new();
            hosts.sort_by_cached_key(|h| seed.hash_one(h));
        }
        other => {
            return Err(Error::parse(format!(
                "Invalid 'order' specified for inventory hosts: {other}"
            )));
        }
    }
    Ok(())
}

/// A play's `hosts:` after templating as one pattern: a list (a variable holding
/// `["web", "db"]`) is its patterns joined with commas, as Ansible reads each item as a pattern.
fn hosts_pattern(v: &Value) -> String {
    match (v.kind(), v.try_iter()) {
        (minijinja::value::ValueKind::Seq, Ok(items)) => {
            items.map(|x| x.to_string()).collect::<Vec<_>>().join(",")
        }
        _ => v.to_string(),
    }
}

/// `serial` with its templates rendered (`render`): a number, a percentage, a list of them;
/// an omitted or empty one means all hosts at once.
fn rendered_serial(
    serial: &[Serial],
    render: impl Fn(&str) -> Result<Value>,
) -> Result<Vec<Serial>> {
    fn one(v: &Value, out: &mut Vec<Serial>) -> Result<()> {
        if let Ok(n) = i64::try_from(v.clone()) {
            if n > 0 {
                out.push(Serial::Count(n as usize));
            }
            return Ok(());
        }
        let s = v.to_string();
        let s = s.trim();
        if s.is_empty() || s == crate::template::OMIT || v.is_none() || v.is_undefined() {
            return Ok(());
        }
        let bad = || Error::parse(format!("bad serial value '{s}'"));
        match s.strip_suffix('%') {
            Some(p) => out.push(Serial::Percent(p.trim().parse().map_err(|_| bad())?)),
            None => match s.parse::<usize>().map_err(|_| bad())? {
                0 => {}
                n => out.push(Serial::Count(n)),
            },
        }
        Ok(())
    }
    let mut out = Vec::new();
    for s in serial {
        match s {
            Serial::Template(t) => {
                let v = render(t)?;
                match v.kind() {
                    minijinja::value::ValueKind::Seq => {
                        for x in v.try_iter().map_err(|e| Error::template(e.to_string()))? {
                            one(&x, &mut out)?;
                        }
                    }
                    _ => one(&v, &mut out)?,
                }
            }
            s => out.push(s.clone()),
        }
    }
    Ok(out)
}

fn batches(hosts: &[String], serial: &[Serial]) -> Vec<Vec<String>> {
    if serial.is_empty() {
        return vec![hosts.to_vec()];
    }
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < hosts.len() {
        let s = &serial[k.min(serial.len() - 1)];
        let n = match s {
            Serial::Count(n) => *n,
            Serial::Percent(p) => ((hosts.len() as f64) * p / 100.0).floor().max(1.0) as usize,
            Serial::Template(_) => hosts.len(),
        }
        .max(1);
        out.push(hosts[i..(i + n).min(hosts.len())].to_vec());
        i += n;
        k += 1;
    }
    out
}

/// Per-host state during a play batch.
#[derive(Debug, Default, Clone)]
pub(crate) struct HostState {
    pub failed: bool,
    pub unreachable: bool,
    pub ended: bool,
    /// The handlers notified on this host (indexes in the play's handlers), not run yet.
    pub notified: IndexSet<usize>,
    pub stats: HostStats,
    /// The last failed task (name, result), for `ansible_failed_task`/`ansible_failed_result`.
    pub last_failure: Option<(Value, Value)>,
    /// How many times `meta: clear_host_errors` cleared this host's failure (so that an
    /// `always:` section that clears it keeps it cleared).
    pub errors_cleared: u32,
    /// Its failure came from a task with `any_errors_fatal` (stops the play on every host
    /// once no rescue or always of an enclosing block clears it).
    pub fatal: bool,
    /// The roles (their tasks' shared [`RoleCtx`](crate::playbook::RoleCtx), by address) that
    /// `meta: end_role` ended on this host: their tasks are skipped up to their end.
    pub ended_roles: Vec<usize>,
}

/// Which hosts ran a task of which role, and which completed it, in a play (by
/// [`RoleCtx::key`](crate::playbook::RoleCtx)), as Ansible's role cache tracks them: a host
/// completes a role when it reaches the role's end after one of its tasks ran there (ok,
/// changed or failed; not skipped nor unreachable); later runs of the same role skip it.
#[derive(Debug, Default)]
pub(crate) struct RoleRuns {
    ran: Mutex<std::collections::HashSet<(String, String)>>,
    completed: Mutex<std::collections::HashSet<(String, String)>>,
}

impl RoleRuns {
    fn key(role: &crate::playbook::RoleCtx, host: &str) -> (String, String) {
        (role.key.clone(), host.to_string())
    }

    /// One of the role's tasks ran on `host`.
    pub fn ran(&self, role: &crate::playbook::RoleCtx, host: &str) {
        self.ran
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(Self::key(role, host));
    }

    /// `host` reached the role's end: it completed the role if one of its tasks ran there.
    pub fn reach_end(&self, role: &crate::playbook::RoleCtx, host: &str) {
        let k = Self::key(role, host);
        if self
            .ran
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&k)
        {
            self.completed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(k);
        }
    }

    /// Whether `host` completed the role already.
    pub fn completed(&self, role: &crate::playbook::RoleCtx, host: &str) -> bool {
        self.completed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&Self::key(role, host))
    }
}

/// One batch of one play being run.
pub(crate) struct PlayRun<'r> {
    pub runner: &'r Runner,
    pub play: &'r Play,
    /// The play's strategy (rendered) runs each host on its own.
    pub free: bool,
    pub shared: Arc<vars::Shared>,
    pub play_vars: Arc<Vars>,
    pub batch: Vec<String>,
    pub states: Mutex<HashMap<String, HostState>>,
    pub started: Mutex<bool>,
    pub stop: Mutex<bool>,
    /// `meta: end_play` ran: no later batch of the play runs.
    pub end_play: Mutex<bool>,
    /// The handlers of the roles `include_role` brought in, after the play's.
    pub extra_handlers: Mutex<Vec<Task>>,
    /// A task notified a handler that does not exist (the run stops with this error).
    pub missing_handler: Mutex<Option<Error>>,
    /// Which hosts ran and completed which roles in this play (shared by its batches).
    pub roles_run: Arc<RoleRuns>,
    /// Handlers are being run (what they include is shown as handlers).
    pub flushing: std::sync::atomic::AtomicUsize,
    /// With the free strategy, each throttled task's slots, shared by the hosts running it on
    /// their own (by the task's location).
    pub throttles: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

type BoxFut<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

impl<'r> PlayRun<'r> {
    pub fn state<T>(&self, host: &str, f: impl FnOnce(&mut HostState) -> T) -> T {
        let mut g = self.states.lock().unwrap_or_else(|e| e.into_inner());
        f(g.entry(host.to_string()).or_default())
    }

    pub fn is_active(&self, host: &str) -> bool {
        self.state(host, |s| !s.failed && !s.unreachable && !s.ended)
    }

    fn stopped(&self) -> bool {
        crate::interrupt::is_set() || *self.stop.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Each host of the batch reads the play's `vars_files` with its own variables (a file
    /// named after a host or group variable, or a fact once gathered), as Ansible does.
    fn read_host_vars_files(&self) -> Result<()> {
        if self.play.vars_files.is_empty() {
            return Ok(());
        }
        let task = gather_task(self.play);
        for h in &self.batch {
            let ctx = self.ctx_for(h, &task);
            let files = self.runner.read_vars_files(self.play, &ctx, &self.shared)?;
            self.shared.set_host_vars_files(h, Arc::new(files));
        }
        Ok(())
    }

    async fn run(&self) -> Result<()> {
        let play = self.play;
        self.read_host_vars_files()?;
        if play.gather_facts {
            let gf = Task {
                name: Some("Gathering Facts".into()),
                ..gather_task(play)
            };
            let mut hosts = self.batch.clone();
            if self.runner.opts.gathering_smart {
                hosts.retain(|h| !self.shared.facts_gathered(h));
            }
            if !hosts.is_empty() {
                self.run_list(std::slice::from_ref(&gf), hosts).await?;
                self.read_host_vars_files()?;
            }
        }
        let sections: [&[Task]; 3] = [&play.pre_tasks, &[], &play.post_tasks];
        let _ = sections;
        self.run_list(&play.pre_tasks, self.batch.clone()).await?;
        self.implicit_flush().await?;
        let main: Vec<Task> = play
            .role_tasks
            .iter()
            .chain(play.tasks.iter())
            .cloned()
            .collect();
        self.run_list(&main, self.batch.clone()).await?;
        self.implicit_flush().await?;
        self.run_list(&play.post_tasks, self.batch.clone()).await?;
        self.implicit_flush().await?;
        Ok(())
    }

    /// Runs a task list on `hosts`: lockstep (linear) or each host on its own (free).
    pub fn run_list<'a>(&'a self, tasks: &'a [Task], hosts: Vec<String>) -> BoxFut<'a> {
        self.run_list_in(tasks, hosts, false)
    }

    /// `rescuable`: the list is inside a block with a `rescue` or an `always`, so a failure
    /// here does not count for `any_errors_fatal`/`max_fail_percentage` until the rescue and
    /// the always had their chance (an always may clear the host's errors).
    fn run_list_in<'a>(
        &'a self,
        tasks: &'a [Task],
        hosts: Vec<String>,
        rescuable: bool,
    ) -> BoxFut<'a> {
        Box::pin(async move {
            if self.free && hosts.len() > 1 {
                let futs = hosts
                    .iter()
                    .map(|h| self.run_list_linear(tasks, vec![h.clone()], rescuable));
                for r in futures::future::join_all(futs).await {
                    r?;
                }
                return Ok(());
            }
            self.run_list_linear(tasks, hosts, rescuable).await
        })
    }

    fn run_list_linear<'a>(
        &'a self,
        tasks: &'a [Task],
        hosts: Vec<String>,
        rescuable: bool,
    ) -> BoxFut<'a> {
        Box::pin(async move {
            for task in tasks {
                if self.stopped() {
                    break;
                }
                let live: Vec<String> = hosts
                    .iter()
                    .filter(|h| self.is_active(h) || (self.in_handlers() && self.forced(h)))
                    .cloned()
                    .collect();
                if live.is_empty() {
                    break;
                }
                // Hosts that completed the task's role already (or ended it) skip it.
                let live: Vec<String> = live
                    .into_iter()
                    .filter(|h| !self.role_skips(task, h))
                    .collect();
                if live.is_empty() {
                    continue;
                }
                match &task.kind {
                    TaskKind::Block {
                        block,
                        rescue,
                        always,
                    } => {
                        self.run_block(block, rescue, always, live.clone(), rescuable)
                            .await?;
                    }
                    _ => {
                        self.run_task(task, &live, false).await?;
                    }
                }
                if !rescuable {
                    self.check_fail_limits(task, &live);
                } else if live.iter().any(|h| self.state(h, |s| s.failed && s.fatal)) {
                    // any_errors_fatal in a block: every host leaves the block (for its rescue
                    // and always) when one fails.
                    break;
                }
            }
            Ok(())
        })
    }

    async fn run_block(
        &self,
        block: &[Task],
        rescue: &[Task],
        always: &[Task],
        hosts: Vec<String>,
        rescuable: bool,
    ) -> Result<()> {
        let guarded = !rescue.is_empty() || !always.is_empty();
        self.run_list_in(block, hosts.clone(), rescuable || guarded)
            .await?;
        let failed: Vec<String> = hosts
            .iter()
            .filter(|h| self.state(h, |s| s.failed && !s.unreachable))
            .cloned()
            .collect();
        // any_errors_fatal: a host's failure sends every host of the block to the rescue.
        let fatal = hosts.iter().any(|h| self.state(h, |s| s.failed && s.fatal));
        if !failed.is_empty() && !rescue.is_empty() {
            for h in &failed {
                let last = self.state(h, |s| {
                    s.failed = false;
                    s.fatal = false;
                    s.stats.failed = s.stats.failed.saturating_sub(1);
                    // Counted as rescued when its rescue starts, even if the rescue fails
                    // (Ansible's recap).
                    s.stats.rescued += 1;
                    s.last_failure.clone()
                });
                if let Some((failed_task, result)) = last {
                    let mut v = Vars::new();
                    v.insert("ansible_failed_task".into(), failed_task);
                    v.insert("ansible_failed_result".into(), result);
                    self.shared.set_vars(h, v);
                }
            }
            let rescue_on: Vec<String> = if fatal {
                hosts
                    .iter()
                    .filter(|h| failed.contains(h) || self.is_active(h))
                    .cloned()
                    .collect()
            } else {
                failed.clone()
            };
            self.run_list_in(rescue, rescue_on, rescuable || !always.is_empty())
                .await?;
        }
        if !always.is_empty() {
            // `always` runs even on hosts that failed in the block (not on unreachable ones).
            let still_failed: Vec<String> = hosts
                .iter()
                .filter(|h| self.state(h, |s| s.failed && !s.unreachable))
                .cloned()
                .collect();
            let cleared_before: Vec<u32> = still_failed
                .iter()
                .map(|h| {
                    self.state(h, |s| {
                        s.failed = false;
                        s.errors_cleared
                    })
                })
                .collect();
            let run_on: Vec<String> = hosts
                .iter()
                .filter(|h| self.state(h, |s| !s.unreachable && !s.ended))
                .cloned()
                .collect();
            let r = self.run_list_in(always, run_on, rescuable).await;
            // Still failed after `always`, unless it ran `meta: clear_host_errors`.
            for (h, before) in still_failed.iter().zip(cleared_before) {
                self.state(h, |s| s.failed |= s.errors_cleared == before);
            }
            r?;
        }
        Ok(())
    }

    /// Whether `host` skips `task` (silently, as Ansible's iterator does) because it belongs to
    /// a role that `host` completed earlier in the play (unless the role allows duplicates),
    /// or a role that `meta: end_role` ended there; the end of an ended role is reached.
    fn role_skips(&self, task: &Task, host: &str) -> bool {
        if self.in_handlers() || matches!(task.kind, TaskKind::Block { .. }) {
            return false;
        }
        let Some(role) = &task.role else {
            return false;
        };
        let id = Arc::as_ptr(role) as usize;
        let end = task.is_implicit();
        let ended = self.state(host, |s| {
            match s.ended_roles.iter().position(|r| *r == id) {
                Some(i) if end => {
                    s.ended_roles.remove(i);
                    false
                }
                Some(_) => true,
                None => false,
            }
        });
        ended || (!role.allow_duplicates && self.roles_run.completed(role, host))
    }

    fn check_fail_limits(&self, task: &Task, hosts: &[String]) {
        let failed = hosts
            .iter()
            .filter(|h| self.state(h, |s| s.failed || s.unreachable))
            .count();
        if failed == 0 {
            return;
        }
        let fatal = task.any_errors_fatal.unwrap_or(self.play.any_errors_fatal)
            || hosts.iter().any(|h| self.state(h, |s| s.failed && s.fatal));
        let over_pct = self
            .play
            .max_fail_percentage
            .is_some_and(|p| (failed as f64) * 100.0 / (self.batch.len() as f64) > p);
        if fatal || over_pct {
            // Nothing more runs, but forced handlers (force_handlers) still do.
            *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
            self.runner.emit(Event::Warning(if fatal {
                "a host failed and any_errors_fatal is set: stopping the play on all hosts".into()
            } else {
                "max_fail_percentage exceeded: stopping the play on all hosts".into()
            }));
        }
    }

    /// Whether handlers run on `host` although it failed (`force_handlers`).
    fn forced(&self, host: &str) -> bool {
        let force = self
            .play
            .force_handlers
            .unwrap_or(self.runner.opts.force_handlers);
        force && self.state(host, |s| !s.unreachable && !s.ended)
    }

    /// Whether handlers are running.
    pub(crate) fn in_handlers(&self) -> bool {
        self.flushing.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    /// Every handler of the play: its own (roles' first), then those of included roles.
    fn all_handlers(&self) -> Vec<Task> {
        let extra = self
            .extra_handlers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.play
            .handlers
            .iter()
            .chain(extra.iter())
            .cloned()
            .collect()
    }

    /// The handlers a notification runs, as Ansible finds them: by name (plain or
    /// `role : name`) the first match, searching the handler files (a play's `handlers:`, a
    /// role's handlers) from the last one loaded; then every handler listening to it (one per
    /// name).
    fn handlers_for(&self, handlers: &[Task], names: &[Vec<String>], n: &str) -> Vec<usize> {
        // Ansible's handler blocks, latest first: runs of handlers from the same file.
        let mut order: Vec<usize> = Vec::with_capacity(handlers.len());
        let mut end = handlers.len();
        while end > 0 {
            let file = &handlers[end - 1].loc.file;
            let mut start = end - 1;
            while start > 0 && &handlers[start - 1].loc.file == file {
                start -= 1;
            }
            order.extend(start..end);
            end = start;
        }
        let mut out = Vec::new();
        if let Some(&i) = order
            .iter()
            .find(|&&i| handlers[i].name.is_some() && names[i].iter().any(|x| x == n))
        {
            out.push(i);
        }
        let mut seen: Vec<Option<&String>> = Vec::new();
        for &i in &order {
            let h = &handlers[i];
            if h.listen
                .iter()
                .any(|l| l == n || role_scoped(h, l).iter().any(|x| x == n))
            {
                let name = h.name.as_ref();
                if name.is_some() && seen.contains(&name) {
                    continue;
                }
                seen.push(name);
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        }
        out
    }

    /// Notifies the handlers a changed task names on `host` (resolved now, to the handlers
    /// known now); a handler that does not exist is an error that stops the run (or a
    /// warning), as in Ansible.
    pub(crate) fn notify(&self, host: &str, task: &Task, notified: &[String]) {
        let handlers = self.all_handlers();
        let names: Vec<Vec<String>> = handlers.iter().map(|h| self.handler_names(h)).collect();
        for n in notified {
            let found = self.handlers_for(&handlers, &names, n);
            if !found.is_empty() {
                self.state(host, |s| s.notified.extend(found));
                continue;
            }
            let msg = format!(
                "The requested handler '{n}' was not found in either the main handlers list nor in the listening handlers list"
            );
            if self.runner.opts.error_on_missing_handler {
                let mut g = self
                    .missing_handler
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if g.is_none() {
                    *g = Some(Error::failed(msg).at(&task.loc));
                }
            } else {
                self.runner.emit(Event::Warning(msg));
            }
        }
    }

    /// The flush after each section of the play; with `ANSIBLE_DEBUG` it logs the hosts with
    /// notifications as Ansible's debug output does.
    async fn implicit_flush(&self) -> Result<()> {
        if self.runner.opts.debug {
            for h in &self.batch {
                if self.is_active(h) && self.state(h, |s| !s.notified.is_empty()) {
                    self.runner.emit(Event::Verbose {
                        level: 0,
                        msg: format!("META: triggered running handlers for {h}"),
                    });
                }
            }
        }
        self.flush_handlers().await
    }

    /// Runs the notified handlers: one pass through the handlers in order, each on the hosts
    /// that notified it. A handler notified by a handler later in the list runs in this pass;
    /// one earlier in the list (or itself) waits for the next flush (Ansible's rule).
    pub fn flush_handlers(&self) -> BoxFut<'_> {
        Box::pin(async move {
            let mut i = 0;
            loop {
                if crate::interrupt::is_set() {
                    return Ok(());
                }
                // Included roles may add handlers during the pass.
                let handlers = self.all_handlers();
                let Some(h) = handlers.get(i) else {
                    return Ok(());
                };
                // After any_errors_fatal or max_fail_percentage only forced handlers run.
                let stopped = self.stopped();
                let hosts: Vec<String> = self
                    .batch
                    .iter()
                    .filter(|host| {
                        ((!stopped && self.is_active(host)) || self.forced(host))
                            && self.state(host, |s| s.notified.shift_remove(&i))
                    })
                    .cloned()
                    .collect();
                if !hosts.is_empty() {
                    use std::sync::atomic::Ordering;
                    self.flushing.fetch_add(1, Ordering::SeqCst);
                    let r = self.run_task(h, &hosts, true).await;
                    self.flushing.fetch_sub(1, Ordering::SeqCst);
                    r?;
                }
                i += 1;
            }
        })
    }

    fn handler_names(&self, h: &Task) -> Vec<String> {
        let mut names = Vec::new();
        if let Some(n) = &h.name {
            let ctx = Context::new(
                &self.runner.templar,
                vec![self.play_vars.clone(), self.shared.extra.clone()],
            );
            let rendered = match self.runner.templar.render_str(n, &ctx) {
                Ok(v) => v.to_string(),
                Err(e) => {
                    if h.listen.is_empty() {
                        self.runner.emit(Event::Warning(format!(
                            "Handler '{n}' is unusable because it has no listen topics and the name could not be templated (host-specific variables are not supported in handler names). The error: {}",
                            e.msg
                        )));
                    }
                    return names;
                }
            };
            names.extend(role_scoped(h, &rendered));
            names.push(rendered);
        }
        names
    }
}

/// A handler's name or topic as a role's handler also answers to: `role : name`, with the
/// role's short name and (for a collection's role) its full name.
fn role_scoped(h: &Task, name: &str) -> Vec<String> {
    let Some(r) = &h.role else {
        return vec![];
    };
    let mut out = vec![format!("{} : {name}", r.name)];
    if let Some((_, short)) = r.name.rsplit_once('.') {
        out.push(format!("{short} : {name}"));
    }
    out
}

fn gather_task(play: &Play) -> Task {
    let mut t = Task {
        name: None,
        loc: play.loc.clone(),
        kind: TaskKind::GatherFacts {
            args: crate::value::vars_value(&play.gather_args),
        },
        when: vec![],
        loop_: None,
        loop_control: Default::default(),
        register: None,
        notify: vec![],
        listen: vec![],
        changed_when: None,
        failed_when: None,
        ignore_errors: None,
        ignore_unreachable: None,
        builtin_fqcn: false,
        tags: vec!["always".into()],
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
        check_mode: Some(false),
        diff: None,
        late_flags: vec![],
        environment: play.environment.clone(),
        module_defaults: vec![],
        throttle: None,
        timeout: None,
        async_: None,
        poll: None,
        vars: Arc::new(Vars::new()),
        include_params: Arc::new(Vars::new()),
        inherited_tags: None,
        become_: play.become_.clone(),
        remote_user: None,
        connection: None,
        any_errors_fatal: None,
        role: None,
        base: play.dir.clone(),
        include_chain: Default::default(),
    };
    t.become_ = play.become_.clone();
    // The play's keywords (ignore_unreachable, connection, environment, ...) apply to it as to
    // any task of the play; its own tags (`always`) and conditions stay.
    // A play's `run_once` is not for fact gathering: every host's facts are gathered
    // (ansible/ansible#39453).
    t.inherit(&crate::playbook::Inherit {
        when: vec![],
        tags: vec![],
        run_once: false,
        run_once_if: None,
        ..play.keywords.clone()
    });
    t
}

/// Is the error one that makes a host unreachable?
pub(crate) fn is_unreachable(e: &Error) -> bool {
    e.kind == ErrorKind::Unreachable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templated_serial_is_rendered_and_omit_means_all() {
        let r = |t: &'static str| {
            move |_: &str| -> Result<Value> {
                Ok(match t {
                    "omit" => Value::from(crate::template::OMIT),
                    "list" => Value::from(vec![Value::from(1), Value::from("50%")]),
                    x => Value::from(x),
                })
            }
        };
        let tpl = [Serial::Template("{{ x }}".into())];
        assert!(rendered_serial(&tpl, r("omit")).unwrap().is_empty());
        assert!(matches!(
            rendered_serial(&tpl, r("list")).unwrap().as_slice(),
            [Serial::Count(1), Serial::Percent(p)] if *p == 50.0
        ));
        assert!(matches!(
            rendered_serial(&tpl, r("3")).unwrap().as_slice(),
            [Serial::Count(3)]
        ));
        assert!(rendered_serial(&tpl, r("many")).is_err());
    }

    #[test]
    fn templated_hosts_list_is_a_pattern_list() {
        let v = Value::from(vec![Value::from("42"), Value::from("localhost")]);
        assert_eq!(hosts_pattern(&v), "42,localhost");
        assert_eq!(hosts_pattern(&Value::from(42)), "42");
        assert_eq!(hosts_pattern(&Value::from("web:db")), "web:db");
    }

    #[test]
    fn serial_batches() {
        let hosts: Vec<String> = (1..=5).map(|i| format!("h{i}")).collect();
        let b = batches(&hosts, &[Serial::Count(1), Serial::Count(2)]);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 2, 2]);
        let b = batches(&hosts, &[Serial::Percent(40.0)]);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
        assert_eq!(batches(&hosts, &[]).len(), 1);
    }
}
