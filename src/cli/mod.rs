//! The `prov` command line: a thin layer over the library.
//!
//! `prov run`, `prov check`, `prov inventory`, `prov doc`, `prov adhoc`. Reads `ansible.cfg` like Ansible
//! (`ANSIBLE_CONFIG`, `./ansible.cfg`, `~/.ansible.cfg`).

use crate::connection::Secret;
use crate::engine::{RunOptions, Runner};
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::inventory::Inventory;
use crate::modules::Registry;
use crate::output::{HumanOptions, HumanSink, JsonSink};
use crate::playbook::actions;
use crate::playbook::{Loader, Playbook, Task, TaskKind};
use crate::value::Value;
use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set when stdout was closed under us (`prov inventory --list | head -1`).
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout without panicking (`print!` panics on a closed pipe). A closed pipe sets
/// [`STDOUT_CLOSED`] and returns an error that ends the command quietly with exit code 0, as
/// other Unix tools do when their reader (`head`, `less`) has seen enough.
fn write_stdout(args: std::fmt::Arguments) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_fmt(args).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) => {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                STDOUT_CLOSED.store(true, Ordering::Relaxed);
            }
            Err(Error::other(format!("cannot write to stdout: {e}")))
        }
    }
}

/// `print!` through [`write_stdout`]; returns from the function on error.
macro_rules! out {
    ($($t:tt)*) => { write_stdout(format_args!($($t)*))? };
}

/// `println!` through [`write_stdout`]; returns from the function on error.
macro_rules! outln {
    ($($t:tt)*) => { write_stdout(format_args!("{}\n", format_args!($($t)*)))? };
}

/// `eprintln!` that ignores a closed stderr (`prov ... 2>&1 | head -1`) instead of panicking.
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

mod adhoc;
pub(crate) mod config;
mod info;
mod recap;
mod roles;
mod vault;

pub use config::{Config, parse_extra_vars, parse_extra_vars_with};
use config::{inventory_sources, roles_path};
#[cfg(test)]
use {
    config::parse_cfg,
    info::{doc_rows, doc_text},
};

/// prov: run Ansible playbooks over native SSH, fast, with exact check mode and diffs.
#[derive(Parser, Debug)]
#[command(name = "prov", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run playbooks (like ansible-playbook).
    Run(Box<RunArgs>),
    /// Validate playbooks without connecting to any host.
    Check(CheckArgs),
    /// Show the inventory (like ansible-inventory).
    Inventory(InvArgs),
    /// Show a module's documentation.
    Doc(DocArgs),
    /// Run one module on the hosts matching a pattern (like the `ansible` command).
    Adhoc(Box<AdhocArgs>),
    /// Install roles from git repositories, tarballs and folders (like ansible-galaxy role).
    Roles(roles::RolesArgs),
    /// Encrypt and decrypt files and strings (like ansible-vault).
    Vault(vault::VaultArgs),
    /// Merge the JSON events of several runs (the shards of `prov run --shard K/N`) into one
    /// PLAY RECAP and exit code.
    Recap(recap::RecapArgs),
    /// Show the Ansible settings in effect (like `ansible-config dump`).
    Config(ConfigArgs),
}

#[derive(ClapArgs, Debug)]
struct ConfigArgs {
    /// What to do: `dump` (the settings prov knows, with where each value comes from).
    #[arg(value_name = "ACTION", value_parser = ["dump"])]
    action: String,
    /// Only the settings not at their default.
    #[arg(long = "only-changed", alias = "changed-only")]
    only_changed: bool,
}

#[derive(ClapArgs, Debug)]
struct AdhocArgs {
    /// Host pattern (`all`, `web`, `web:&prod`, `db*`).
    #[arg(value_name = "PATTERN")]
    pattern: String,
    /// Module to run.
    #[arg(short = 'm', long = "module-name", default_value = "command")]
    module: String,
    /// The module's arguments: `k=v ...`, a free form (`command`, `shell`) or a JSON object.
    #[arg(
        short = 'a',
        long = "args",
        default_value = "",
        allow_hyphen_values = true
    )]
    args: String,
    /// One line per host (like `ansible -o`).
    #[arg(short = 'o', long = "one-line")]
    one_line: bool,
    /// List the hosts the pattern matches, and exit.
    #[arg(long = "list-hosts")]
    list_hosts: bool,
    /// Where relative paths and lookups start (default: the current directory).
    #[arg(long = "playbook-dir", value_name = "DIR")]
    playbook_dir: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    exec: ExecArgs,
}

#[derive(ClapArgs, Debug, Clone)]
struct Common {
    /// Inventory file, directory or `host1,host2,` list (repeatable).
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    inventory: Vec<String>,
    /// Extra variables: `k=v ...`, `@file.yml`, or JSON/YAML (repeatable; highest precedence).
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    extra_vars: Vec<String>,
    /// Increase verbosity (-v, -vv, -vvv).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(flatten)]
    vault: vault::VaultOpts,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Human,
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour: `auto` is on for a terminal unless `NO_COLOR` is set.
    fn on(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

#[derive(ClapArgs, Debug)]
struct RunArgs {
    /// Playbook files.
    #[arg(required = true, value_name = "PLAYBOOK")]
    playbooks: Vec<PathBuf>,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    exec: ExecArgs,
    /// Only run tasks with these tags (comma-separated, repeatable).
    #[arg(short = 't', long = "tags", value_name = "TAGS")]
    tags: Vec<String>,
    /// Skip tasks with these tags.
    #[arg(long = "skip-tags", value_name = "TAGS")]
    skip_tags: Vec<String>,
    /// List the hosts each play would run on, and exit.
    #[arg(long = "list-hosts")]
    list_hosts: bool,
    /// List the tasks, and exit.
    #[arg(long = "list-tasks")]
    list_tasks: bool,
    /// List the tags, and exit.
    #[arg(long = "list-tags")]
    list_tags: bool,
    /// Check the playbook's syntax, and exit.
    #[arg(long = "syntax-check")]
    syntax_check: bool,
    /// Start at the task with this name.
    #[arg(long = "start-at-task", value_name = "NAME")]
    start_at_task: Option<String>,
    /// Run handlers even on hosts that failed (as the play keyword `force_handlers`)
    #[arg(long = "force-handlers")]
    force_handlers: bool,
    /// Forget the inventory hosts' cached facts first (with `fact_caching = jsonfile`)
    #[arg(long = "flush-cache")]
    flush_cache: bool,
    /// Exit 0 when nothing changed (with --check: nothing would change), 2 when something
    /// did (would: drift), 1 when a host failed; 4 unreachable and 5 bad input as usual
    #[arg(long = "detailed-exitcode")]
    detailed_exitcode: bool,
}

/// How tasks run and report, for `prov run` and `prov adhoc` alike.
#[derive(ClapArgs, Debug)]
struct ExecArgs {
    /// Limit to hosts matching this pattern.
    #[arg(short = 'l', long = "limit", value_name = "PATTERN")]
    limit: Option<String>,
    /// Run only shard K of N (0 <= K < N; a stable hash of each host's name picks its shard):
    /// N runs with --shard 0/N .. N-1/N cover the inventory once; `prov recap` merges them.
    #[arg(long = "shard", value_name = "K/N")]
    shard: Option<String>,
    /// Check mode: report what would change, change nothing.
    #[arg(short = 'C', long = "check", visible_alias = "dry-run")]
    check: bool,
    /// Show diffs of what changes.
    #[arg(short = 'D', long = "diff")]
    diff: bool,
    /// Hosts handled at once.
    #[arg(short = 'f', long = "forks", value_name = "N")]
    forks: Option<usize>,
    /// Connect as this user.
    #[arg(short = 'u', long = "user", value_name = "USER")]
    user: Option<String>,
    /// Run operations with become.
    #[arg(short = 'b', long = "become")]
    become_: bool,
    /// Become this user (default root).
    #[arg(long = "become-user", value_name = "USER")]
    become_user: Option<String>,
    /// Become method (sudo, su).
    #[arg(long = "become-method", value_name = "METHOD")]
    become_method: Option<String>,
    /// Ask for the become password (read from the terminal, never echoed).
    #[arg(short = 'K', long = "ask-become-pass")]
    ask_become_pass: bool,
    /// Connection type when the inventory sets none (`ssh` or `local`)
    #[arg(short = 'c', long = "connection", value_name = "TYPE")]
    connection: Option<String>,
    /// Output format.
    #[arg(long = "output", value_enum, default_value = "human")]
    output: OutputFormat,
    /// Also append the run's events as JSON Lines to this file (like `--output json`)
    #[arg(long = "events-file", value_name = "FILE", env = "PROV_EVENTS_FILE")]
    events_file: Option<PathBuf>,
    /// Colour output.
    #[arg(long = "color", value_enum, default_value = "auto")]
    color: ColorChoice,
    #[command(flatten)]
    conn: ConnArgs,
}

#[derive(ClapArgs, Debug, Clone)]
struct ConnArgs {
    /// Private key file for SSH (the inventory's ansible_ssh_private_key_file wins).
    #[arg(long = "private-key", visible_alias = "key-file", value_name = "FILE")]
    private_key: Option<PathBuf>,
    /// SSH connection timeout in seconds (default 10).
    #[arg(short = 'T', long = "timeout", value_name = "SECONDS")]
    timeout: Option<u64>,
    /// Host key checking: strict (default), accept-new or off.
    #[arg(long = "host-key-checking", value_name = "POLICY")]
    host_key_checking: Option<String>,
    /// An ssh_config file to read instead of ~/.ssh/config (like ssh -F).
    #[arg(long = "ssh-config", value_name = "FILE")]
    ssh_config: Option<PathBuf>,
    /// A known_hosts file to use instead of ~/.ssh/known_hosts.
    #[arg(long = "known-hosts", value_name = "FILE")]
    known_hosts: Option<PathBuf>,
}

#[derive(ClapArgs, Debug)]
struct CheckArgs {
    /// Playbook files.
    #[arg(required = true, value_name = "PLAYBOOK")]
    playbooks: Vec<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[derive(ClapArgs, Debug)]
struct InvArgs {
    #[command(flatten)]
    common: Common,
    /// Print the inventory as JSON (like `ansible-inventory --list`).
    #[arg(long = "list")]
    list: bool,
    /// Print the group tree.
    #[arg(long = "graph")]
    graph: bool,
    /// Print one host's variables.
    #[arg(long = "host", value_name = "HOST")]
    host: Option<String>,
}

#[derive(ClapArgs, Debug)]
struct DocArgs {
    /// Module name.
    module: Option<String>,
    /// List all modules.
    #[arg(short = 'l', long = "list")]
    list: bool,
    /// Print the module's (or action's) option spec as JSON.
    #[arg(long = "json")]
    json: bool,
}

/// Runs the CLI with the process arguments; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 5,
            };
            let _ = e.print();
            return code;
        }
    };
    // A connection per host: a run on a thousand hosts needs more files than the usual 1024.
    crate::util::raise_open_files_limit();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(code) => code,
        // The reader of our output went away: nothing is wrong with the command.
        Err(_) if STDOUT_CLOSED.load(Ordering::Relaxed) => 0,
        Err(e) => {
            errln!("{}", e.render());
            e.code()
        }
    }
}

async fn dispatch(cli: Cli) -> Result<i32> {
    let cfg = Config::load()?;
    // `hash_behaviour = merge` (deprecated in Ansible, still honoured): variables' mappings
    // are merged across their definitions (inventory sources, precedence levels).
    crate::value::set_hash_merge(
        cfg.get("defaults", "hash_behaviour", "ANSIBLE_HASH_BEHAVIOUR")
            .is_some_and(|v| v.trim() == "merge"),
    );
    config::configure_yaml(&cfg);
    match cli.command {
        Command::Run(a) => run(*a, &cfg).await,
        Command::Check(a) => info::check(a, &cfg),
        Command::Inventory(a) => info::inventory(a, &cfg),
        Command::Doc(a) => {
            config::configure_fallback(&cfg);
            info::doc(a)
        }
        Command::Adhoc(a) => adhoc::adhoc(*a, &cfg).await,
        Command::Recap(a) => recap::recap(a),
        Command::Vault(a) => vault::vault(a, &cfg),
        Command::Roles(a) => roles::roles(a, &cfg),
        Command::Config(a) => Ok(config::dump(&cfg, a.only_changed)),
    }
}

/// Ansible's `private_role_vars` setting, when set (ansible.cfg or its variable).
fn private_role_vars(cfg: &Config) -> Option<bool> {
    cfg.get("defaults", "private_role_vars", "ANSIBLE_PRIVATE_ROLE_VARS")
        .map(|v| crate::value::truthy(&Value::from(v)))
}

/// Loads the playbooks; `strict` (`prov check`) checks every task's arguments now, else they
/// are checked when each task runs (Ansible's rule; `--syntax-check` checks structure only).
fn load_playbooks(
    paths: &[PathBuf],
    registry: &Registry,
    cfg: &Config,
    common: &Common,
    strict: bool,
) -> Result<Vec<Playbook>> {
    config::configure_fallback(cfg);
    let loader = Loader::new(registry)
        .roles_path(roles_path(cfg))
        .extra_vars(parse_extra_vars_with(
            &common.extra_vars,
            &common.vault.secrets(cfg)?,
        )?)
        .gather_by_default(
            cfg.get("defaults", "gathering", "ANSIBLE_GATHERING")
                .is_none_or(|g| g.trim() != "explicit"),
        )
        .private_role_vars(private_role_vars(cfg))
        .strict(strict);
    paths
        .iter()
        .map(|p| {
            if !p.exists() {
                return Err(Error::options(format!(
                    "playbook {} not found",
                    p.display()
                )));
            }
            loader.load_playbook(p)
        })
        .collect()
}

/// The inventory, with the `group_vars`/`host_vars` beside each playbook.
fn load_inventory(c: &Common, cfg: &Config, playbooks: &[PathBuf]) -> Result<Inventory> {
    let dirs: Vec<&Path> = playbooks
        .iter()
        .filter_map(|p| p.parent())
        .map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        })
        .collect();
    load_inventory_with(c, cfg, &dirs)
}

/// The inventory, with the `group_vars`/`host_vars` of these playbook folders.
fn load_inventory_with(c: &Common, cfg: &Config, playbook_dirs: &[&Path]) -> Result<Inventory> {
    let mut inv = Inventory::load_with_vault(&inventory_sources(c, cfg), c.vault.secrets(cfg)?)?;
    for d in playbook_dirs {
        inv.add_playbook_vars_dir(d)?;
    }
    for w in &inv.warnings {
        errln!("[WARNING]: {w}");
    }
    Ok(inv)
}

fn templar_for(c: &Common, cfg: &Config) -> Result<crate::template::Templar> {
    Ok(crate::template::Templar::new().with_vault_secrets(c.vault.secrets(cfg)?))
}

/// The password a vault password file gives, as Ansible reads it: an executable file is a
/// script whose output (without its line ends) is the password; any other file's text,
/// without surrounding white space. An empty password is an error.
fn read_vault_password(f: &Path) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(f).map_err(|e| Error::io(f, e))?;
    let (pw, kind) = if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
        // Run by its path, never looked up in PATH.
        let out = std::process::Command::new(std::path::absolute(f).unwrap_or(f.to_path_buf()))
            .stdin(std::process::Stdio::inherit())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| {
                Error::new(
                    crate::error::ErrorKind::Other,
                    format!(
                        "Problem running vault password script {} ({e}).",
                        f.display()
                    ),
                )
                .hint("if this is not a script, remove the executable bit from the file")
            })?;
        if !out.status.success() {
            return Err(Error::new(
                crate::error::ErrorKind::Other,
                format!(
                    "Vault password script {} returned non-zero ({})",
                    f.display(),
                    out.status.code().unwrap_or(-1)
                ),
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (text.trim_matches(['\n', '\r']).to_string(), "script")
    } else {
        let text = std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?;
        (text.trim().to_string(), "file")
    };
    if pw.is_empty() {
        return Err(Error::new(
            crate::error::ErrorKind::Other,
            format!(
                "Invalid vault password was provided from {kind} ({})",
                f.display()
            ),
        ));
    }
    Ok(pw)
}

fn split_csv(v: &[String]) -> Vec<String> {
    v.iter()
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

async fn run(a: RunArgs, cfg: &Config) -> Result<i32> {
    let registry = Registry::builtin();
    let playbooks = load_playbooks(&a.playbooks, &registry, cfg, &a.common, false)?;
    if a.syntax_check {
        for p in &a.playbooks {
            outln!("\nplaybook: {}", p.display());
        }
        return Ok(0);
    }
    let inventory = load_inventory(&a.common, cfg, &a.playbooks)?;
    let mut opts = run_options(&a.common, &a.exec, cfg)?;
    opts.tags = split_csv(&a.tags);
    opts.skip_tags = split_csv(&a.skip_tags);
    opts.start_at_task = a.start_at_task.clone();
    opts.force_handlers = opts.force_handlers || a.force_handlers;
    opts.flush_cache = a.flush_cache;
    let runner = runner_for(inventory, registry, &opts, &a.common, &a.exec, cfg)?;
    if a.list_hosts || a.list_tasks || a.list_tags {
        for pb in &playbooks {
            info::list(&runner, pb, &a, &opts)?;
        }
        return Ok(0);
    }
    let human = |color: bool| -> Arc<dyn Sink> {
        Arc::new(HumanSink::new(HumanOptions {
            color,
            // The engine attaches diffs only to the results of tasks in diff mode (`--diff`,
            // or the task's own `diff: true`, which shows its diff without `--diff`).
            diff: true,
            verbosity: a.common.verbose,
            progress: std::io::stdout().is_terminal(),
            show_custom_stats: cfg
                .get("defaults", "show_custom_stats", "ANSIBLE_SHOW_CUSTOM_STATS")
                .is_some_and(|v| crate::value::truthy(&Value::from(v))),
        }))
    };
    let runner = runner.sink(sink_for(&a.exec, human)?);
    let (code, changed) = run_playbooks_counting(&runner, &playbooks).await?;
    Ok(if a.detailed_exitcode {
        detailed_exit_code(code, changed)
    } else {
        code
    })
}

/// `--detailed-exitcode`: 2 means "changed" (in check mode: "would change", drift), so a
/// failed host, 2 otherwise, exits 1; 0 is "nothing changed", and the other codes are kept
/// (4 unreachable, 5 bad input, 130 interrupted).
fn detailed_exit_code(code: i32, changed: u32) -> i32 {
    match code {
        2 => 1,
        0 if changed > 0 => 2,
        c => c,
    }
}

/// Runs the playbooks one after the other (stopping after one that failed), with Ctrl-C and
/// SIGTERM stopping the run cleanly; the exit code of the worst run.
async fn run_playbooks(runner: &Runner, playbooks: &[Playbook]) -> Result<i32> {
    Ok(run_playbooks_counting(runner, playbooks).await?.0)
}

/// [`run_playbooks`], and how many task results changed (or would, in check mode).
async fn run_playbooks_counting(runner: &Runner, playbooks: &[Playbook]) -> Result<(i32, u32)> {
    // Ctrl-C/SIGTERM from here on stop the run cleanly (recap, exit 130); see crate::interrupt.
    crate::interrupt::install_handlers();
    let mut code = 0;
    let mut changed = 0;
    for pb in playbooks {
        let recap = runner.run(pb).await?;
        code = code.max(recap.exit_code());
        changed += recap.total_changed();
        if crate::interrupt::is_set() {
            return Ok((crate::interrupt::EXIT_CODE, changed));
        }
        if code == 2 {
            break;
        }
    }
    Ok((code, changed))
}

/// The run options from the command line, then ansible.cfg and its environment variables.
fn run_options(common: &Common, x: &ExecArgs, cfg: &Config) -> Result<RunOptions> {
    let forks = match x.forks {
        Some(f) => f,
        None => cfg
            .get("defaults", "forks", "ANSIBLE_FORKS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5),
    };
    let become_password = if x.ask_become_pass {
        Some(Secret::new(prompt_secret("BECOME password: ")?))
    } else {
        None
    };
    let bool_cfg = |s: &str, k: &str, env: &str| {
        cfg.get(s, k, env)
            .map(|v| crate::value::truthy(&Value::from(v)))
    };
    Ok(RunOptions {
        check: x.check,
        diff: x.diff,
        forks: forks.max(1),
        limit: x.limit.clone(),
        shard: x
            .shard
            .as_deref()
            .map(crate::inventory::shard::Shard::parse)
            .transpose()?,
        tags: Vec::new(),
        skip_tags: Vec::new(),
        extra_vars: parse_extra_vars_with(&common.extra_vars, &common.vault.secrets(cfg)?)?,
        verbosity: common.verbose,
        start_at_task: None,
        become_: if x.become_ {
            Some(true)
        } else {
            bool_cfg("privilege_escalation", "become", "ANSIBLE_BECOME")
        },
        become_user: x
            .become_user
            .clone()
            .or_else(|| cfg.get("privilege_escalation", "become_user", "ANSIBLE_BECOME_USER")),
        become_method: x.become_method.clone().or_else(|| {
            cfg.get(
                "privilege_escalation",
                "become_method",
                "ANSIBLE_BECOME_METHOD",
            )
        }),
        become_password,
        remote_user: x
            .user
            .clone()
            .or_else(|| cfg.get("defaults", "remote_user", "ANSIBLE_REMOTE_USER")),
        roles_path: roles_path(cfg),
        force_handlers: bool_cfg("defaults", "force_handlers", "ANSIBLE_FORCE_HANDLERS")
            .unwrap_or(false),
        inventory_sources: inventory_sources(common, cfg),
        config_file: cfg.file.clone(),
        error_on_missing_handler: bool_cfg(
            "defaults",
            "error_on_missing_handler",
            "ANSIBLE_ERROR_ON_MISSING_HANDLER",
        )
        .unwrap_or(true),
        debug: bool_cfg("defaults", "debug", "ANSIBLE_DEBUG").unwrap_or(false),
        fact_cache: config::fact_cache(cfg)?,
        flush_cache: false,
        gathering_smart: cfg
            .get("defaults", "gathering", "ANSIBLE_GATHERING")
            .is_some_and(|g| g.trim() == "smart"),
        private_role_vars: private_role_vars(cfg),
        no_log: bool_cfg("defaults", "no_log", "ANSIBLE_NO_LOG").unwrap_or(false),
    })
}

/// A runner over `inventory` with the run's options, vault password, SSH settings and
/// connection type (no sink yet).
fn runner_for(
    inventory: Inventory,
    registry: Registry,
    opts: &RunOptions,
    common: &Common,
    x: &ExecArgs,
    cfg: &Config,
) -> Result<Runner> {
    let ssh = ssh_options(&x.conn, opts, cfg, common.verbose)?;
    Ok(Runner::new(inventory, registry)
        .options(opts.clone())
        .templar(templar_for(common, cfg)?)
        .connector(Arc::new(crate::engine::DefaultConnector {
            ssh,
            connection: x.connection.clone(),
        })))
}

/// The output sink: JSON Lines with `--output json`, else `human(color)`; with
/// `--events-file`, also JSON Lines appended to that file.
fn sink_for(x: &ExecArgs, human: impl FnOnce(bool) -> Arc<dyn Sink>) -> Result<Arc<dyn Sink>> {
    let sink: Arc<dyn Sink> = match x.output {
        OutputFormat::Json => Arc::new(JsonSink::new()),
        OutputFormat::Human => human(x.color.on()),
    };
    Ok(match &x.events_file {
        Some(f) => {
            let file = JsonSink::append_to(f).map_err(|e| Error::io(f, e))?;
            Arc::new(crate::output::Tee(vec![sink, Arc::new(file)]))
        }
        None => sink,
    })
}

/// SSH settings: command line, then ansible.cfg (`[defaults]` private_key_file, timeout,
/// remote_user, host_key_checking; `[ssh_connection]` ssh_args is read by the transport from
/// the inventory's ansible_ssh_common_args).
fn ssh_options(
    c: &ConnArgs,
    opts: &RunOptions,
    cfg: &Config,
    verbosity: u8,
) -> Result<crate::connection::ssh::SshOptions> {
    use crate::connection::ssh::{HostKeyChecking, SshOptions};
    let policy = |v: &str| {
        HostKeyChecking::parse(v).ok_or_else(|| {
            Error::options(format!("bad host key checking policy '{v}'"))
                .hint("use strict, accept-new or off")
        })
    };
    let host_key_checking = match &c.host_key_checking {
        Some(v) => Some(policy(v)?),
        None => match cfg
            .values
            .get(&("defaults".to_string(), "host_key_checking".to_string()))
        {
            Some(v) => Some(policy(v)?),
            None => None,
        },
    };
    let timeout = c.timeout.or_else(|| {
        cfg.get("defaults", "timeout", "ANSIBLE_TIMEOUT")
            .and_then(|v| v.parse().ok())
    });
    let mut o = SshOptions {
        host_key_checking,
        known_hosts: c.known_hosts.clone(),
        ssh_config: c.ssh_config.clone(),
        private_key: c.private_key.clone().or_else(|| {
            cfg.get("defaults", "private_key_file", "ANSIBLE_PRIVATE_KEY_FILE")
                .map(|v| cfg.path(&v))
        }),
        user: opts.remote_user.clone(),
        timeout: timeout.map(std::time::Duration::from_secs),
        ..SshOptions::default()
    };
    if verbosity >= 3 {
        o.log = Some(Arc::new(|line: String| errln!("<ssh> {line}")));
    }
    Ok(o)
}

fn prompt_secret(prompt: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        return Err(
            Error::options("a password was asked for but stdin is not a terminal")
                .hint("set ansible_become_password in a vault-encrypted vars file instead"),
        );
    }
    match crate::tty::read_line(prompt, true) {
        Ok(line) => Ok(line.unwrap_or_default()),
        Err(e) => Err(Error::other(format!("cannot read the password: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_password_files_and_scripts_are_read_as_ansible_reads_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("prov-vaultpw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "  secret \n").unwrap();
        assert_eq!(read_vault_password(&file).unwrap(), "secret");
        // An executable file is run: its output is the password.
        let script = dir.join("pw.sh");
        std::fs::write(&script, "#!/bin/sh\necho ' from script'\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(read_vault_password(&script).unwrap(), " from script");
        std::fs::write(&script, "#!/bin/sh\nexit 3\n").unwrap();
        let e = read_vault_password(&script).unwrap_err();
        assert!(e.msg.contains("returned non-zero (3)"), "{}", e.msg);
        std::fs::write(&file, "\n").unwrap();
        let e = read_vault_password(&file).unwrap_err();
        assert!(
            e.msg
                .contains("Invalid vault password was provided from file"),
            "{}",
            e.msg
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn extra_vars_forms() {
        let v = parse_extra_vars(&["a=1 b='x y'".into(), r#"{"c": [1, 2]}"#.into()]).unwrap();
        assert_eq!(v.get("a").unwrap().as_str(), Some("1"));
        assert_eq!(v.get("b").unwrap().as_str(), Some("x y"));
        assert_eq!(v.get("c").unwrap().len(), Some(2));
    }

    /// `prov doc` lists every action of the actions table, and shows each one's text.
    #[test]
    fn doc_covers_every_action() {
        let r = Registry::builtin();
        let rows = doc_rows(&r);
        for a in actions::ACTIONS {
            let row = rows.iter().find(|(n, _)| n == a.name);
            assert!(row.is_some_and(|(_, s)| !s.is_empty()), "{}", a.name);
            let text = doc_text(&r, a.name).unwrap();
            assert!(text.contains("\nENGINE:\n"), "{text}");
        }
        let add_host = doc_text(&r, "add_host").unwrap();
        assert!(add_host.contains("OPTIONS") && add_host.contains("= name (str)"));
        // Modules outside the table keep their own doc.
        assert_eq!(
            doc_text(&r, "copy").unwrap(),
            r.get("copy").unwrap().doc().render()
        );
    }

    #[test]
    fn cfg_parsing() {
        let c = parse_cfg(
            "[defaults]\ninventory = hosts ; comment\nforks=20\n[privilege_escalation]\nbecome: True\n",
        );
        assert_eq!(
            c.get(&("defaults".into(), "inventory".into())).unwrap(),
            "hosts"
        );
        assert_eq!(c.get(&("defaults".into(), "forks".into())).unwrap(), "20");
        assert_eq!(
            c.get(&("privilege_escalation".into(), "become".into()))
                .unwrap(),
            "True"
        );
    }
}
