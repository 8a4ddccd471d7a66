//! The native SSH transport (`ansible_connection: ssh`, the default), built on `russh`.
//!
//! One SSH connection per host serves the whole run: every command runs on a new session
//! channel of it, at most [`SshOptions::max_sessions`] at a time (OpenSSH's `MaxSessions`
//! defaults to 10). A connection that dropped is re-established once, transparently, before
//! a command fails; a connection lost *while* a command runs is reported as unreachable (the
//! command may have had effects), and the next command reconnects.
//!
//! Probes (prov's own read-only checks, [`crate::connection::Cmd::probe`]) are the exception:
//! they run one after another on a `/bin/sh` kept open on one channel (it holds one of the
//! session slots), each in a subshell, which saves a session, a login shell and an `sh` per
//! check on the host. A probe that finds the shell busy, or that cannot get one (a server
//! that does not run `/bin/sh`, a single session slot), uses a session of its own; a probe
//! whose shell broke is run again on a session of its own.
//!
//! Settings come, highest first, from the inventory's connection variables, the
//! `ansible_ssh_common_args`/`ansible_ssh_extra_args` options, [`SshOptions`] (ansible.cfg and
//! the command line), then the OpenSSH client configuration (`~/.ssh/config` and
//! `/etc/ssh/ssh_config`, or the file given with `-F`/[`SshOptions::ssh_config`]).
//!
//! Jump hosts (`ProxyJump`, `-J`, comma chains) are SSH connections of their own, each next hop
//! tunnelled through a `direct-tcpip` channel of the previous one; a `ProxyCommand` runs under
//! `/bin/sh -c` and carries the connection on its stdin/stdout.
//!
//! Host keys are checked against known_hosts files with a [`HostKeyChecking`] policy; a changed
//! key is always refused. Authentication tries ssh-agent keys, key files, then the password.
//!
//! Become with `sudo` and a password (the `sudo -S -p PROMPT ... /bin/sh -c SCRIPT` line that
//! [`crate::connection::wrap`] builds): the script first prints a marker on stderr; the password
//! is sent only once sudo's prompt shows on stderr, and the command's stdin only after the
//! marker, so a sudo that does not ask (cached credentials, `NOPASSWD`) never gets the password
//! into the command's stdin. A second prompt means a wrong password and fails at once; a sudo
//! that neither asks nor starts the command fails after [`SshOptions::become_timeout`]. Prompt
//! and marker are removed from stderr. Other `preamble` uses get it written before stdin.
//!
//! Entry point: [`connect`].

pub mod auth;
pub mod config;
pub(crate) mod exec;
pub mod known_hosts;

pub use known_hosts::HostKeyChecking;

use crate::connection::{Cmd, Connection, ExecOutput, Secret, Stdin, inner_script, quote, wrap};
use crate::error::{Error, Result};
use crate::value::Vars;
use async_trait::async_trait;
use exec::{RunError, Shell, run, sudo_plan};
use russh::Disconnect;
use russh::client::{self, Handle};
use russh::keys::{Algorithm, PublicKeyOrCertificate};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::{Mutex, Semaphore};

/// A log hook: receives one human-readable line per connection step (shown at `-vvv`).
pub type LogFn = Arc<dyn Fn(String) + Send + Sync>;
pub(crate) type Logger = LogFn;

/// Options the engine passes to [`connect`] (from ansible.cfg, the command line and the
/// environment). Inventory variables override them.
#[derive(Clone)]
pub struct SshOptions {
    /// ansible.cfg `host_key_checking` (`None` when not set there). Overridden by
    /// `PROV_HOST_KEY_CHECKING` (`strict`, `accept-new`, `off`) or
    /// `ANSIBLE_HOST_KEY_CHECKING` (`False` means off) in the environment, by
    /// `-o StrictHostKeyChecking=` in the ssh arguments and by the inventory variables
    /// `ansible_host_key_checking`/`ansible_ssh_host_key_checking`. When none of these is set,
    /// ssh_config's `StrictHostKeyChecking` applies, else [`HostKeyChecking::Strict`].
    pub host_key_checking: Option<HostKeyChecking>,
    /// A known_hosts file to use instead of `~/.ssh/known_hosts` (and instead of
    /// `UserKnownHostsFile` and `/etc/ssh/ssh_known_hosts`). New keys are learned into it.
    pub known_hosts: Option<PathBuf>,
    /// An ssh_config file to read instead of `~/.ssh/config` and `/etc/ssh/ssh_config`
    /// (like `ssh -F`).
    pub ssh_config: Option<PathBuf>,
    /// A private key file (ansible.cfg `private_key_file`, `--private-key`); the inventory's
    /// `ansible_ssh_private_key_file` comes first.
    pub private_key: Option<PathBuf>,
    /// The default remote user (ansible.cfg `remote_user`, `-u`); `ansible_user` wins.
    pub user: Option<String>,
    /// Connection timeout (default 10 s); `ansible_ssh_timeout`/`ansible_timeout` win.
    pub timeout: Option<Duration>,
    /// How many commands may run at once on one connection (default 10, OpenSSH's
    /// `MaxSessions` default).
    pub max_sessions: usize,
    /// Keepalive interval (default 15 s, or ssh_config `ServerAliveInterval`).
    pub keepalive: Option<Duration>,
    /// Whether to use ssh-agent keys; default true.
    pub use_agent: bool,
    /// The ssh-agent socket; default `SSH_AUTH_SOCK` from the environment.
    pub agent_socket: Option<PathBuf>,
    /// Whether to try the default key files (`~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`) when
    /// no key file is configured; default true.
    pub default_keys: bool,
    /// How long sudo may take to either ask for the password or start the command (default
    /// 60 s); past that the command fails instead of hanging.
    pub become_timeout: Option<Duration>,
    /// Log hook for connection steps and command lines (never secrets).
    pub log: Option<LogFn>,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            host_key_checking: None,
            known_hosts: None,
            ssh_config: None,
            private_key: None,
            user: None,
            timeout: None,
            max_sessions: 10,
            keepalive: None,
            use_agent: true,
            agent_socket: None,
            become_timeout: None,
            default_keys: true,
            log: None,
        }
    }
}

impl fmt::Debug for SshOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshOptions")
            .field("host_key_checking", &self.host_key_checking)
            .field("known_hosts", &self.known_hosts)
            .field("ssh_config", &self.ssh_config)
            .field("private_key", &self.private_key)
            .field("user", &self.user)
            .field("timeout", &self.timeout)
            .field("max_sessions", &self.max_sessions)
            .field("keepalive", &self.keepalive)
            .field("use_agent", &self.use_agent)
            .field("agent_socket", &self.agent_socket)
            .field("default_keys", &self.default_keys)
            .field("become_timeout", &self.become_timeout)
            .field("log", &self.log.is_some())
            .finish()
    }
}

/// One machine to reach (a jump host or the target).
#[derive(Debug, Clone)]
struct Endpoint {
    /// The real host name or address.
    host: String,
    port: u16,
    user: String,
    agent: Option<PathBuf>,
    /// Key files to try, each with whether it was asked for (a missing one is reported).
    key_files: Vec<(PathBuf, bool)>,
    password: Option<Secret>,
}

impl Endpoint {
    fn label(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// Everything needed to (re)connect to a host.
#[derive(Debug, Clone)]
struct Plan {
    hops: Vec<Endpoint>,
    target: Endpoint,
    policy: HostKeyChecking,
    known_hosts: Vec<PathBuf>,
    learn_file: PathBuf,
    timeout: Duration,
    keepalive: Duration,
    /// `ProxyCommand` (tokens expanded) for the first hop, when there is no ProxyJump.
    proxy_command: Option<String>,
}

/// A live SSH connection to one host, shared by every command run on it.
pub struct SshConnection {
    inventory_host: String,
    plan: Plan,
    log: Logger,
    live: Mutex<Option<Arc<Live>>>,
    sem: Arc<Semaphore>,
    /// The session limit `sem` was made with (a probe shell needs at least 2).
    max_sessions: usize,
    become_timeout: Duration,
}

impl fmt::Debug for SshConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshConnection")
            .field("host", &self.inventory_host)
            .field("target", &self.plan.target.label())
            .finish()
    }
}

struct Live {
    handle: Handle<Client>,
    /// Jump-host sessions the target's session is tunnelled through (kept alive).
    _hops: Vec<Handle<Client>>,
    /// The ProxyCommand process carrying the connection, if any (killed on drop).
    _proxy: Option<tokio::process::Child>,
    /// The shell that runs probes on this connection (see [`exec::Shell`]).
    shell: std::sync::Mutex<ShellSlot>,
    /// Why the connection ended, once it has (set by [`Client::disconnected`]).
    gone: Arc<std::sync::Mutex<Option<String>>>,
}

impl Live {
    fn gone(&self) -> Option<String> {
        self.gone.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The server refused a session: close the probe shell if it is idle (its session is then
    /// free) and use new sessions for probes from now on. True when a session was freed.
    fn give_up_shell(&self, log: &Logger, label: &str) -> bool {
        let mut slot = self.shell.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *slot, ShellSlot::Broken) {
            ShellSlot::Idle(sh) => {
                drop(sh);
                log(format!(
                    "{label} refused a new session while the probe shell held one (MaxSessions 1?): \
                     closed the probe shell; probes use new sessions"
                ));
                true
            }
            ShellSlot::Busy => {
                *slot = ShellSlot::Busy;
                false
            }
            _ => false,
        }
    }
}

/// The state of a connection's probe shell.
enum ShellSlot {
    /// Not opened yet.
    Unopened,
    /// Open and free.
    Idle(Box<Shell>),
    /// Running a probe (other probes meanwhile use new sessions).
    Busy,
    /// Could not be opened or broke: probes use new sessions on this connection.
    Broken,
}

/// The russh event handler: verifies the server's host key.
pub(crate) struct Client {
    display: String,
    kh_name: String,
    policy: HostKeyChecking,
    files: Vec<PathBuf>,
    learn_file: PathBuf,
    failure: Arc<std::sync::Mutex<Option<Error>>>,
    /// Why the connection ended, when the transport ended it (keepalive timeout, ...).
    gone: Arc<std::sync::Mutex<Option<String>>>,
    /// The keepalive interval, for the timeout message.
    keepalive: Duration,
    log: Logger,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn disconnected(
        &mut self,
        reason: client::DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        let why = match &reason {
            client::DisconnectReason::ReceivedDisconnect(_) => {
                "the server closed the connection".to_string()
            }
            client::DisconnectReason::Error(russh::Error::KeepaliveTimeout) => format!(
                "timed out: {} did not answer for {} s (3 keepalives; set ansible_timeout or ServerAliveInterval to change it)",
                self.display,
                (self.keepalive * 3).as_secs()
            ),
            client::DisconnectReason::Error(e) => e.to_string(),
        };
        (self.log)(format!("connection to {} ended: {why}", self.display));
        *self.gone.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        match reason {
            client::DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            client::DisconnectReason::Error(e) => Err(e),
        }
    }

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let pk = key.public_key();
        match self.verify(&pk) {
            Ok(()) => Ok(true),
            Err(e) => {
                *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Ok(false)
            }
        }
    }
}

impl Client {
    fn verify(&self, pk: &russh::keys::PublicKey) -> Result<()> {
        use known_hosts::Verdict;
        let kt = pk.algorithm().as_str().to_string();
        let blob = russh::keys::PublicKeyBase64::public_key_bytes(pk);
        if blob.is_empty() {
            return Err(Error::unreachable(format!(
                "cannot encode the host key of {}",
                self.display
            )));
        }
        let fp = auth::fingerprint(pk);
        let entries = known_hosts::load(&self.files);
        match known_hosts::check(&entries, &self.kh_name, &kt, &blob) {
            Verdict::Known(e) => {
                (self.log)(format!(
                    "host key of {} verified: {kt} {fp} ({})",
                    self.display,
                    e.location()
                ));
                Ok(())
            }
            Verdict::Revoked(e) => Err(Error::unreachable(format!(
                "the host key of {} ({kt} {fp}) is marked @revoked in {}; refusing to connect",
                self.display,
                e.location()
            ))),
            Verdict::Changed(e) => Err(Error::unreachable(format!(
                "HOST KEY CHANGED for {}: the server offered a {kt} key with fingerprint {fp}, \
                 but {} holds a different {} key for '{}'; this may be a man-in-the-middle attack, \
                 or the host was reinstalled",
                self.display,
                e.location(),
                e.key_type,
                self.kh_name
            ))
            .hint(format!(
                "if the change is expected, remove the old entry with: ssh-keygen -R '{}' -f {}",
                self.kh_name,
                e.file.display()
            ))),
            Verdict::Unknown => match self.policy {
                HostKeyChecking::Strict => {
                    let files: Vec<String> =
                        self.files.iter().map(|f| f.display().to_string()).collect();
                    let (h, p) = split_kh_name(&self.kh_name);
                    let port_flag = if p == 22 {
                        String::new()
                    } else {
                        format!("-p {p} ")
                    };
                    let other = known_hosts::known_types(&entries, &self.kh_name);
                    let what = if other.is_empty() {
                        format!("no entry for '{}' is in {}", self.kh_name, files.join(", "))
                    } else {
                        format!(
                            "known_hosts only has {} keys for '{}'",
                            other.join(", "),
                            self.kh_name
                        )
                    };
                    Err(Error::unreachable(format!(
                        "the host key of {} is not known: the server offered a {kt} key with \
                         fingerprint {fp}, and {what}",
                        self.display,
                    ))
                    .hint(format!(
                        "check the fingerprint, then accept it with: ssh-keyscan -H {port_flag}{h} >> {}; \
                         or let prov learn new hosts with PROV_HOST_KEY_CHECKING=accept-new",
                        self.learn_file.display()
                    )))
                }
                HostKeyChecking::AcceptNew => {
                    known_hosts::append(&self.learn_file, &self.kh_name, &kt, &blob).map_err(
                        |e| {
                            Error::unreachable(format!(
                                "cannot record the host key of {} in {}: {e}",
                                self.display,
                                self.learn_file.display()
                            ))
                        },
                    )?;
                    (self.log)(format!(
                        "learned the host key of {}: {kt} {fp} (added to {})",
                        self.display,
                        self.learn_file.display()
                    ));
                    Ok(())
                }
                HostKeyChecking::Off => {
                    (self.log)(format!(
                        "host key of {} not checked (host key checking is off): {kt} {fp}",
                        self.display
                    ));
                    Ok(())
                }
            },
        }
    }
}

fn split_kh_name(name: &str) -> (String, u16) {
    if let Some(r) = name.strip_prefix('[')
        && let Some((h, p)) = r.split_once("]:")
    {
        return (h.to_string(), p.parse().unwrap_or(22));
    }
    (name.to_string(), 22)
}

fn var_str(vars: &Vars, names: &[&str]) -> Option<String> {
    for n in names {
        if let Some(v) = vars.get(*n) {
            if v.is_undefined() || v.is_none() {
                continue;
            }
            let s = match v.as_str() {
                Some(s) => s.to_string(),
                None => v.to_string(),
            };
            if !s.is_empty() {
                return Some(s);
            }
        }
    }
    None
}

fn home_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    PathBuf::from("/")
}

fn local_user() -> String {
    for v in ["USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(v)
            && !u.is_empty()
        {
            return u;
        }
    }
    user_name_of(unsafe { libc::getuid() }).unwrap_or_else(|| "root".into())
}

/// The name of user `uid` (getpwuid_r: safe while connections open concurrently).
fn user_name_of(uid: libc::uid_t) -> Option<String> {
    // The reentrant lookup: connections are opened concurrently, and getpwuid's static
    // buffer would be shared between them.
    let mut buf = vec![0 as libc::c_char; 4096];
    loop {
        // SAFETY: `pwd` and `buf` outlive the call; on success `result` points to `pwd`, whose
        // strings point into `buf`, both read before they go out of scope.
        unsafe {
            let mut pwd: libc::passwd = std::mem::zeroed();
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
            if rc == libc::ERANGE && buf.len() < (1 << 20) {
                buf.resize(buf.len() * 2, 0);
                continue;
            }
            if rc == 0 && !result.is_null() && !pwd.pw_name.is_null() {
                return Some(
                    std::ffi::CStr::from_ptr(pwd.pw_name)
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
        break;
    }
    None
}

fn policy_from_env() -> Result<Option<HostKeyChecking>> {
    if let Ok(v) = std::env::var("PROV_HOST_KEY_CHECKING")
        && !v.is_empty()
    {
        return HostKeyChecking::parse(&v).map(Some).ok_or_else(|| {
            Error::options(format!(
                "PROV_HOST_KEY_CHECKING='{v}' is not one of strict, accept-new, off"
            ))
        });
    }
    if let Ok(v) = std::env::var("ANSIBLE_HOST_KEY_CHECKING")
        && !v.is_empty()
    {
        return Ok(HostKeyChecking::parse(&v));
    }
    Ok(None)
}

fn parse_duration_secs(s: &str, what: &str) -> Result<Duration> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| Error::options(format!("{what} must be a number of seconds, not '{s}'")))
}

/// Works out endpoints, policy and files for `inventory_host` from variables, ssh arguments,
/// options and ssh_config files.
fn resolve(inventory_host: &str, vars: &Vars, opts: &SshOptions, log: &Logger) -> Result<Plan> {
    let home = home_dir();
    let me = local_user();
    let dest = var_str(vars, &["ansible_host", "ansible_ssh_host"])
        .unwrap_or_else(|| inventory_host.to_string());

    let mut args = config::ArgOptions::default();
    for n in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        if let Some(a) = var_str(vars, &[n]) {
            config::parse_args(&a, &mut args)
                .map_err(|e| Error::options(format!("{n}: {}", e.msg)))?;
        }
    }
    if !args.ignored.is_empty() {
        log(format!(
            "ssh arguments not used by prov: {}",
            args.ignored.join(" ")
        ));
    }
    let files: Vec<(PathBuf, bool)> = match (&opts.ssh_config, &args.config_file) {
        (Some(f), _) => vec![(f.clone(), true)],
        (None, Some(f)) => vec![(PathBuf::from(config::expand_tilde(f, &home)), true)],
        (None, None) => vec![
            (home.join(".ssh/config"), true),
            (PathBuf::from("/etc/ssh/ssh_config"), false),
        ],
    };
    let read_cfg = |name: &str| -> Result<config::HostConfig> {
        let mut c = config::HostConfig::default();
        for (f, user) in &files {
            c.merge_from(&config::read_for_host(f, name, &home, *user)?);
        }
        Ok(c)
    };
    let file_cfg = read_cfg(&dest)?;
    let mut cfg = args.config.clone();
    cfg.merge_from(&file_cfg);

    let host = match &cfg.hostname {
        Some(h) => h.replace("%h", &dest),
        None => dest.clone(),
    };
    let port: u16 = match var_str(vars, &["ansible_port", "ansible_ssh_port"]) {
        Some(p) => p.trim().parse().map_err(|_| {
            Error::options(format!(
                "ansible_port must be a port number (1-65535), not '{p}'"
            ))
        })?,
        None => cfg.port.unwrap_or(22),
    };
    let user = var_str(vars, &["ansible_user", "ansible_ssh_user"])
        .or_else(|| opts.user.clone())
        .or_else(|| cfg.user.clone())
        .unwrap_or_else(|| me.clone());
    let password = var_str(vars, &["ansible_password", "ansible_ssh_pass"]).map(Secret::new);

    let tokens = |h: &str, r: &str, p: u16, s: &str| -> PathBuf {
        PathBuf::from(config::expand_tokens(
            s,
            &config::Tokens {
                home: &home,
                local_user: &me,
                host: h,
                remote_user: r,
                port: p,
            },
        ))
    };
    let mut explicit: Vec<PathBuf> = Vec::new();
    if let Some(k) = var_str(
        vars,
        &["ansible_ssh_private_key_file", "ansible_private_key_file"],
    ) {
        explicit.push(tokens(&host, &user, port, &k));
    }
    if let Some(k) = &opts.private_key {
        explicit.push(k.clone());
    }
    let defaults: Vec<PathBuf> = if opts.default_keys {
        ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .map(|k| home.join(".ssh").join(k))
            .collect()
    } else {
        Vec::new()
    };
    let key_list = |explicit: &[PathBuf],
                    c: &config::HostConfig,
                    h: &str,
                    r: &str,
                    p: u16|
     -> Vec<(PathBuf, bool)> {
        let mut v: Vec<(PathBuf, bool)> = explicit.iter().map(|k| (k.clone(), true)).collect();
        for f in &c.identity_files {
            let p = tokens(h, r, p, f);
            if !v.iter().any(|(k, _)| *k == p) {
                v.push((p, true));
            }
        }
        if v.is_empty() {
            v.extend(defaults.iter().map(|k| (k.clone(), false)));
        }
        v
    };
    let target_keys = key_list(&explicit, &cfg, &host, &user, port);
    let agent_socket = opts.agent_socket.clone().or_else(|| {
        std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    });
    let agent_for = |c: &config::HostConfig| -> Option<PathBuf> {
        if opts.use_agent && c.identities_only != Some(true) {
            agent_socket.clone()
        } else {
            None
        }
    };
    let agent = agent_for(&cfg);
    let target = Endpoint {
        host: host.clone(),
        port,
        user,
        agent,
        key_files: target_keys,
        password,
    };

    // Host key policy.
    let inv_policy = match vars
        .get("ansible_host_key_checking")
        .or_else(|| vars.get("ansible_ssh_host_key_checking"))
    {
        Some(v) if !v.is_undefined() && !v.is_none() => {
            let s = match v.as_str() {
                Some(s) => s.to_string(),
                None => {
                    if v.kind() == minijinja::value::ValueKind::Bool {
                        if v.is_true() {
                            "strict".into()
                        } else {
                            "off".into()
                        }
                    } else {
                        v.to_string()
                    }
                }
            };
            Some(HostKeyChecking::parse(&s).ok_or_else(|| {
                Error::options(format!(
                    "ansible_host_key_checking='{s}' is not one of true, false, strict, accept-new, off"
                ))
            })?)
        }
        _ => None,
    };
    let parse_cfg_policy = |s: &str, origin: &str| -> Result<HostKeyChecking> {
        HostKeyChecking::parse(s).ok_or_else(|| {
            Error::options(format!(
                "{origin}: StrictHostKeyChecking '{s}' is not yes, accept-new or no"
            ))
        })
    };
    let policy = if let Some(p) = inv_policy {
        p
    } else if let Some(s) = &args.config.strict_host_key_checking {
        parse_cfg_policy(s, "ssh arguments")?
    } else if let Some(p) = policy_from_env()? {
        p
    } else if let Some(p) = opts.host_key_checking {
        p
    } else if let Some(s) = &file_cfg.strict_host_key_checking {
        parse_cfg_policy(s, "ssh_config")?
    } else {
        HostKeyChecking::Strict
    };

    // known_hosts files.
    let (known, learn_file) = match &opts.known_hosts {
        Some(f) => (vec![f.clone()], f.clone()),
        None => {
            let user_files: Vec<PathBuf> = match &cfg.user_known_hosts_files {
                Some(v) => v
                    .iter()
                    .map(|f| tokens(&host, &target.user, port, f))
                    .collect(),
                None => vec![
                    home.join(".ssh/known_hosts"),
                    home.join(".ssh/known_hosts2"),
                ],
            };
            let learn = user_files
                .first()
                .cloned()
                .unwrap_or_else(|| home.join(".ssh/known_hosts"));
            let mut all = user_files;
            all.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
            all.push(PathBuf::from("/etc/ssh/ssh_known_hosts2"));
            (all, learn)
        }
    };

    // Timeouts.
    let timeout = match var_str(vars, &["ansible_ssh_timeout", "ansible_timeout"]) {
        Some(t) => parse_duration_secs(&t, "ansible_ssh_timeout")?,
        None => opts
            .timeout
            .or(cfg
                .connect_timeout
                .filter(|t| *t > 0)
                .map(Duration::from_secs))
            .unwrap_or(Duration::from_secs(10)),
    };
    // A host that stops answering (a stopped sshd, a blackholed route) is given up after about
    // its timeout: three keepalive intervals without a word from it.
    let keepalive = opts
        .keepalive
        .or(cfg
            .server_alive_interval
            .filter(|t| *t > 0)
            .map(Duration::from_secs))
        .unwrap_or_else(|| (timeout / 3).max(Duration::from_secs(1)));

    // Jump hosts.
    let mut hops = Vec::new();
    if let Some(j) = &cfg.proxy_jump {
        for jump in config::parse_jumps(j)? {
            let hc = read_cfg(&jump.host)?;
            let h = match &hc.hostname {
                Some(x) => x.replace("%h", &jump.host),
                None => jump.host.clone(),
            };
            let p = jump.port.or(hc.port).unwrap_or(22);
            let u = jump
                .user
                .clone()
                .or(hc.user.clone())
                .unwrap_or_else(|| me.clone());
            let mut keys = key_list(&[], &hc, &h, &u, p);
            // The target's own key file is also tried on jump hosts, after theirs.
            for k in &explicit {
                if !keys.iter().any(|(x, _)| x == k) {
                    keys.push((k.clone(), false));
                }
            }
            hops.push(Endpoint {
                host: h,
                port: p,
                user: u,
                agent: agent_for(&hc),
                key_files: keys,
                password: None,
            });
        }
    }
    // ProxyCommand, when no ProxyJump applies (tokens: %h %p %r %u %d %%).
    let proxy_command = match (&cfg.proxy_command, hops.is_empty()) {
        (Some(c), true) if !c.trim().eq_ignore_ascii_case("none") => {
            let first = &target;
            Some(config::expand_tokens(
                c,
                &config::Tokens {
                    home: &home,
                    local_user: &me,
                    host: &first.host,
                    remote_user: &first.user,
                    port: first.port,
                },
            ))
        }
        _ => None,
    };
    Ok(Plan {
        hops,
        target,
        policy,
        known_hosts: known,
        learn_file,
        timeout,
        keepalive,
        proxy_command,
    })
}

/// Opens the SSH connection to `inventory_host`.
///
/// `vars` holds the templated connection variables (see `connection_vars` in the engine):
/// `ansible_host`, `ansible_port`, `ansible_user`, `ansible_password`/`ansible_ssh_pass`,
/// `ansible_ssh_private_key_file`/`ansible_private_key_file`, `ansible_ssh_common_args`,
/// `ansible_ssh_extra_args`, `ansible_ssh_timeout`/`ansible_timeout`,
/// `ansible_host_key_checking`/`ansible_ssh_host_key_checking`.
///
/// Errors: bad option values give [`crate::error::ErrorKind::Options`]; every failure to
/// reach or log in to the host (name resolution, refused, timeout, host key, authentication)
/// gives [`crate::error::ErrorKind::Unreachable`] with the cause, tagged with the host.
pub async fn connect(
    inventory_host: &str,
    vars: &Vars,
    opts: &SshOptions,
) -> Result<SshConnection> {
    let log: Logger = opts.log.clone().unwrap_or_else(|| Arc::new(|_| {}));
    let plan = resolve(inventory_host, vars, opts, &log).map_err(|e| e.on_host(inventory_host))?;
    // `ansible_ssh_max_sessions` (prov's): the server's MaxSessions, when it is below 10.
    let max_sessions = match var_str(vars, &["ansible_ssh_max_sessions"]) {
        Some(v) => v.trim().parse::<usize>().map_err(|_| {
            Error::options(format!(
                "ansible_ssh_max_sessions must be a number, not '{v}'"
            ))
            .on_host(inventory_host)
        })?,
        None => opts.max_sessions,
    };
    let conn = SshConnection {
        inventory_host: inventory_host.to_string(),
        plan,
        log,
        live: Mutex::new(None),
        sem: Arc::new(Semaphore::new(max_sessions.max(1))),
        max_sessions: max_sessions.max(1),
        become_timeout: opts.become_timeout.unwrap_or(Duration::from_secs(60)),
    };
    let live = open(&conn.plan, &conn.log)
        .await
        .map_err(|e| e.on_host(inventory_host))?;
    conn.check_session(&live)
        .await
        .map_err(|e| e.on_host(inventory_host))?;
    *conn.live.lock().await = Some(Arc::new(live));
    Ok(conn)
}

fn russh_config(plan: &Plan, known_types: &[String]) -> Arc<client::Config> {
    let mut keys: Vec<Algorithm> = russh::Preferred::DEFAULT
        .key
        .iter()
        .filter(|a| !matches!(a, Algorithm::Rsa { hash: None }))
        .cloned()
        .collect();
    // Prefer the key types known_hosts already holds for this host, as OpenSSH does.
    let family = |a: &Algorithm| -> String {
        if matches!(a, Algorithm::Rsa { .. }) {
            "ssh-rsa".into()
        } else {
            a.as_str().to_string()
        }
    };
    keys.sort_by_key(|a| !known_types.iter().any(|t| *t == family(a)));
    Arc::new(client::Config {
        nodelay: true,
        keepalive_interval: Some(plan.keepalive),
        keepalive_max: 2,
        inactivity_timeout: None,
        window_size: 8 * 1024 * 1024,
        maximum_packet_size: 32768,
        channel_buffer_size: 256,
        preferred: russh::Preferred {
            key: keys.into(),
            ..Default::default()
        },
        ..Default::default()
    })
}

/// Connects through the jump hosts (if any) to the target and authenticates everywhere.
async fn open(plan: &Plan, log: &Logger) -> Result<Live> {
    let mut hops: Vec<Handle<Client>> = Vec::new();
    let mut proxy: Option<tokio::process::Child> = None;
    let mut gone = Arc::new(std::sync::Mutex::new(None));
    let chain: Vec<&Endpoint> = plan
        .hops
        .iter()
        .chain(std::iter::once(&plan.target))
        .collect();
    for (i, ep) in chain.iter().enumerate() {
        let is_target = i + 1 == chain.len();
        let display = if is_target {
            ep.label()
        } else {
            format!("jump host {}", ep.label())
        };
        let kh_name = known_hosts::host_name_for(&ep.host, ep.port);
        let entries = known_hosts::load(&plan.known_hosts);
        let cfg = russh_config(plan, &known_hosts::known_types(&entries, &kh_name));
        let failure = Arc::new(std::sync::Mutex::new(None));
        gone = Arc::new(std::sync::Mutex::new(None));
        let handler = Client {
            display: display.clone(),
            kh_name,
            policy: plan.policy,
            files: plan.known_hosts.clone(),
            learn_file: plan.learn_file.clone(),
            failure: failure.clone(),
            gone: gone.clone(),
            keepalive: plan.keepalive,
            log: log.clone(),
        };
        let take_failure = || failure.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut handle = match hops.last() {
            None => {
                log(format!(
                    "connecting to {display} (timeout {:?})",
                    plan.timeout
                ));
                let fut = async {
                    if let Some(cmd) = &plan.proxy_command {
                        log(format!("starting ProxyCommand: {cmd}"));
                        let (stream, child, errors, reader) = proxy_stream(cmd)?;
                        proxy = Some(child);
                        match client::connect_stream(cfg, stream, handler).await {
                            Ok(h) => Ok(h),
                            Err(e) => {
                                let mut err = handshake_error(&display, e, take_failure());
                                // Let the command finish printing why it failed.
                                let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
                                let said = errors
                                    .lock()
                                    .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                                    .unwrap_or_default();
                                if !said.is_empty() {
                                    err.msg.push_str(&format!("; ProxyCommand said: {said}"));
                                }
                                Err(err)
                            }
                        }
                    } else {
                        let stream = tcp_connect(&ep.host, ep.port).await?;
                        client::connect_stream(cfg, stream, handler)
                            .await
                            .map_err(|e| handshake_error(&display, e, take_failure()))
                    }
                };
                match tokio::time::timeout(plan.timeout, fut).await {
                    Ok(r) => r?,
                    Err(_) => {
                        return Err(Error::unreachable(format!(
                            "timed out after {:?} connecting to {display}",
                            plan.timeout
                        ))
                        .hint("check that the host is up and that port is open, or raise ansible_ssh_timeout"));
                    }
                }
            }
            Some(prev) => {
                log(format!(
                    "opening a tunnel to {display} through the previous hop"
                ));
                let fut = async {
                    let ch = prev
                        .channel_open_direct_tcpip(
                            ep.host.clone(),
                            u32::from(ep.port),
                            "127.0.0.1",
                            0,
                        )
                        .await
                        .map_err(|e| {
                            Error::unreachable(format!(
                                "the jump host could not open a connection to {}:{}: {e}",
                                ep.host, ep.port
                            ))
                        })?;
                    client::connect_stream(cfg, ch.into_stream(), handler)
                        .await
                        .map_err(|e| handshake_error(&display, e, take_failure()))
                };
                match tokio::time::timeout(plan.timeout, fut).await {
                    Ok(r) => r?,
                    Err(_) => {
                        return Err(Error::unreachable(format!(
                            "timed out after {:?} connecting to {display} through the jump host",
                            plan.timeout
                        )));
                    }
                }
            }
        };
        let ap = auth::AuthPlan {
            user: ep.user.clone(),
            agent: ep.agent.clone(),
            key_files: ep.key_files.clone(),
            password: ep.password.clone(),
        };
        auth::authenticate(&mut handle, &ap, log)
            .await
            .map_err(|m| Error::unreachable(format!("{display}: {m}")))?;
        log(format!("connected to {display}"));
        hops.push(handle);
    }
    let handle = hops
        .pop()
        .ok_or_else(|| Error::unreachable("no host to connect to"))?;
    Ok(Live {
        handle,
        _hops: hops,
        _proxy: proxy,
        shell: std::sync::Mutex::new(ShellSlot::Unopened),
        gone,
    })
}

/// Starts a `ProxyCommand` under `/bin/sh -c`; its stdin/stdout carry the SSH stream. The
/// returned buffer collects (the start of) what it prints on stderr, for error messages.
#[allow(clippy::type_complexity)]
fn proxy_stream(
    cmd: &str,
) -> Result<(
    tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>,
    tokio::process::Child,
    Arc<std::sync::Mutex<Vec<u8>>>,
    tokio::task::JoinHandle<()>,
)> {
    use std::process::Stdio;
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::unreachable(format!("cannot start the ProxyCommand '{cmd}': {e}")))?;
    let (Some(out), Some(inp)) = (child.stdout.take(), child.stdin.take()) else {
        return Err(Error::unreachable("the ProxyCommand has no stdin/stdout"));
    };
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stderr = child.stderr.take();
    let buf = errors.clone();
    let reader = tokio::spawn(async move {
        let Some(mut err) = stderr else { return };
        let mut chunk = [0u8; 4096];
        while let Ok(n) = err.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            if let Ok(mut b) = buf.lock()
                && b.len() < 8192
            {
                b.extend_from_slice(&chunk[..n]);
            }
        }
    });
    Ok((tokio::io::join(out, inp), child, errors, reader))
}

fn handshake_error(display: &str, e: russh::Error, failure: Option<Error>) -> Error {
    if let Some(f) = failure {
        return f;
    }
    Error::unreachable(format!("SSH handshake with {display} failed: {e}"))
}

async fn tcp_connect(host: &str, port: u16) -> Result<tokio::net::TcpStream> {
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| {
            Error::unreachable(format!("cannot resolve host name '{host}': {e}"))
                .hint("check ansible_host and the DNS/hosts configuration")
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Error::unreachable(format!(
            "host name '{host}' resolves to no address"
        )));
    }
    let mut last = None;
    for a in &addrs {
        match tokio::net::TcpStream::connect(a).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some((a, e)),
        }
    }
    let (a, e) =
        last.ok_or_else(|| Error::unreachable(format!("cannot connect to {host}:{port}")))?;
    let what = if e.kind() == std::io::ErrorKind::ConnectionRefused {
        "connection refused (is sshd running and listening on that port?)".to_string()
    } else {
        e.to_string()
    };
    Err(Error::unreachable(format!(
        "cannot connect to {host}:{port} ({a}): {what}"
    )))
}

/// A command line as the log shows it: hidden under `no_log`.
fn shown(line: &str) -> &str {
    if crate::connection::no_log_active() {
        "(command hidden: no_log)"
    } else {
        line
    }
}

impl SshConnection {
    /// The endpoint this connection reaches, as `user@host:port`.
    pub fn target(&self) -> String {
        self.plan.target.label()
    }

    /// The current live session, connecting when there is none or it dropped.
    async fn session(&self) -> Result<Arc<Live>> {
        let mut g = self.live.lock().await;
        if let Some(l) = g.as_ref()
            && !l.handle.is_closed()
        {
            return Ok(l.clone());
        }
        if g.is_some() {
            (self.log)(format!(
                "connection to {} dropped; reconnecting",
                self.plan.target.label()
            ));
        }
        *g = None;
        let l = Arc::new(
            open(&self.plan, &self.log)
                .await
                .map_err(|e| e.on_host(&self.inventory_host))?,
        );
        *g = Some(l.clone());
        Ok(l)
    }

    /// Opens the probe shell on `permit`'s session slot; `None` (logged) when the server runs
    /// no `/bin/sh` there.
    async fn open_shell(
        &self,
        live: &Live,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Option<Box<Shell>> {
        let label = self.plan.target.label();
        let token = format!("prov-{}", crate::connection::random_token());
        match Shell::open(&live.handle, permit, token, self.plan.timeout).await {
            Ok(sh) => {
                (self.log)(format!("opened a probe shell on {label}"));
                Some(Box::new(sh))
            }
            Err(m) => {
                (self.log)(format!(
                    "no probe shell on {label} ({m}); probes use new sessions"
                ));
                None
            }
        }
    }

    /// Makes sure the server runs commands after the login: it opens the probe shell (needed
    /// soon anyway), or else runs `echo`. A server that accepts the login but runs no command
    /// (a `ForceCommand`, a broken `ChrootDirectory`, a `nologin` shell) makes the host
    /// unreachable with what it said, instead of failing every task with no cause.
    async fn check_session(&self, live: &Live) -> Result<()> {
        let label = self.plan.target.label();
        if self.max_sessions >= 2
            && let Ok(permit) = self.sem.clone().try_acquire_owned()
        {
            let opened = self.open_shell(live, permit).await;
            let ok = opened.is_some();
            *live.shell.lock().unwrap_or_else(|p| p.into_inner()) = match opened {
                Some(sh) => ShellSlot::Idle(sh),
                None => ShellSlot::Broken,
            };
            if ok {
                return Ok(());
            }
        }
        let token = format!("prov-hello-{}", crate::connection::random_token());
        let hint = "check the account's login shell, and ForceCommand, ChrootDirectory and Match blocks in the server's sshd_config";
        match run(
            &live.handle,
            &format!("echo {token}"),
            None,
            None,
            &Stdin::Empty,
            &|| false,
            "",
        )
        .await
        {
            Ok(out) if String::from_utf8_lossy(&out.stdout).contains(&token) => Ok(()),
            Ok(out) => {
                let said = out.stderr_str();
                let said = said.trim();
                Err(Error::unreachable(format!(
                    "{label} accepted the login but does not run commands (exit status {}{})",
                    out.rc,
                    if said.is_empty() {
                        String::new()
                    } else {
                        format!(": {said}")
                    }
                ))
                .hint(hint))
            }
            Err(RunError::Open(m)) | Err(RunError::Lost(m)) => Err(Error::unreachable(format!(
                "{label} accepted the login but does not run commands: {m}"
            ))
            .hint(hint)),
            Err(RunError::Fatal(e)) => Err(e),
        }
    }

    async fn forget(&self, live: &Arc<Live>) {
        let mut g = self.live.lock().await;
        if g.as_ref().is_some_and(|l| Arc::ptr_eq(l, live)) {
            *g = None;
        }
    }
}

#[async_trait]
impl Connection for SshConnection {
    fn host(&self) -> &str {
        &self.inventory_host
    }

    async fn exec_raw(
        &self,
        line: &str,
        preamble: Option<&Secret>,
        stdin: &Stdin,
    ) -> Result<ExecOutput> {
        let _permit = self.sem.acquire().await.map_err(|_| {
            Error::unreachable("the connection is closed").on_host(&self.inventory_host)
        })?;
        let sudo = preamble.and_then(|_| sudo_plan(line)).map(|mut p| {
            p.timeout = self.become_timeout;
            p
        });
        // Every command carries a job mark in its environment, so that Ctrl-C can find and stop
        // its processes (exec::kill_job).
        let job = crate::connection::random_token();
        let run_line = format!(
            "{}={job} {}",
            exec::JOB_VAR,
            sudo.as_ref().map(|s| s.line.as_str()).unwrap_or(line)
        );
        let run_line = run_line.as_str();
        (self.log)(format!(
            "exec on {}: {}",
            self.plan.target.label(),
            shown(line)
        ));
        let mut retried = false;
        loop {
            let live = self.session().await?;
            let free_slot = || live.give_up_shell(&self.log, &self.plan.target.label());
            match run(
                &live.handle,
                run_line,
                preamble,
                sudo.as_ref(),
                stdin,
                &free_slot,
                &job,
            )
            .await
            {
                Ok(out) => return Ok(out),
                Err(RunError::Open(m)) => {
                    self.forget(&live).await;
                    if retried {
                        return Err(Error::unreachable(format!(
                            "cannot run a command on {}: {m}",
                            self.plan.target.label()
                        ))
                        .on_host(&self.inventory_host));
                    }
                    retried = true;
                    (self.log)(format!("cannot open a channel ({m}); reconnecting once"));
                }
                Err(RunError::Lost(m)) => {
                    // Give the transport a moment to record why the connection ended.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let why = live.gone().unwrap_or(m);
                    self.forget(&live).await;
                    return Err(Error::unreachable(format!(
                        "connection to {} lost while running a command: {why}",
                        self.plan.target.label()
                    ))
                    .on_host(&self.inventory_host));
                }
                Err(RunError::Fatal(e)) => return Err(e.on_host(&self.inventory_host)),
            }
        }
    }

    async fn exec_probe(&self, cmd: &Cmd) -> Result<ExecOutput> {
        let line = wrap(cmd).line;
        let line = line.as_str();
        if self.max_sessions < 2 {
            return self.exec_raw(line, None, &Stdin::Empty).await;
        }
        let live = self.session().await?;
        let taken = {
            let mut slot = live.shell.lock().unwrap_or_else(|p| p.into_inner());
            match std::mem::replace(&mut *slot, ShellSlot::Busy) {
                ShellSlot::Idle(sh) => Some(Some(sh)),
                ShellSlot::Unopened => Some(None),
                other => {
                    *slot = other;
                    None
                }
            }
        };
        let Some(taken) = taken else {
            return self.exec_raw(line, None, &Stdin::Empty).await;
        };
        // Leaves the slot broken unless told otherwise (also when this future is dropped
        // midway: the shell's state is then unknown, and dropping it closes its channel).
        struct Restore<'a>(&'a Live, Option<ShellSlot>);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                let mut slot = self.0.shell.lock().unwrap_or_else(|p| p.into_inner());
                *slot = self.1.take().unwrap_or(ShellSlot::Broken);
            }
        }
        let mut restore = Restore(&live, None);
        let mut shell = match taken {
            Some(sh) => sh,
            None => {
                let Ok(permit) = self.sem.clone().try_acquire_owned() else {
                    // Every session slot is in use: do not hold one for a shell now.
                    restore.1 = Some(ShellSlot::Unopened);
                    drop(restore);
                    return self.exec_raw(line, None, &Stdin::Empty).await;
                };
                match self.open_shell(&live, permit).await {
                    Some(sh) => sh,
                    None => {
                        drop(restore);
                        return self.exec_raw(line, None, &Stdin::Empty).await;
                    }
                }
            }
        };
        (self.log)(format!(
            "probe on {} (shell): {}",
            self.plan.target.label(),
            shown(line)
        ));
        // Without become, the probe runs in a subshell of the shell (no new `sh` process).
        let command = match &cmd.become_ {
            None => format!("( eval {} )", quote(&inner_script(cmd))),
            Some(_) => line.to_string(),
        };
        match shell.run(&command).await {
            Ok(out) => {
                restore.1 = Some(ShellSlot::Idle(shell));
                drop(restore);
                Ok(out)
            }
            Err(m) => {
                // A probe is read-only: run it again on a session of its own (which reconnects
                // if the connection is gone).
                (self.log)(format!(
                    "the probe shell on {} failed ({m}); using a new session",
                    self.plan.target.label()
                ));
                drop(shell);
                drop(restore);
                self.exec_raw(line, None, &Stdin::Empty).await
            }
        }
    }

    async fn close(&self) -> Result<()> {
        if let Some(l) = self.live.lock().await.take() {
            let _ = l
                .handle
                .disconnect(Disconnect::ByApplication, "", "en")
                .await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_looked_up_reentrantly() {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| (0..200).all(|_| user_name_of(0).as_deref() == Some("root")))
            })
            .collect();
        assert!(threads.into_iter().all(|t| t.join().unwrap()));
        assert_eq!(user_name_of(4_000_000_000), None);
    }

    #[test]
    fn resolve_precedence() {
        let dir = std::env::temp_dir().join(format!("prov-ssh-resolve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("config");
        std::fs::write(
            &cfg,
            "Host web\n  HostName 10.1.2.3\n  User cfguser\n  Port 2200\n  IdentityFile %d/k1\n\
             StrictHostKeyChecking accept-new\n  ProxyJump jumper\nHost jumper\n  HostName 10.9.9.9\n  User j\n",
        )
        .unwrap();
        let opts = SshOptions {
            ssh_config: Some(cfg),
            known_hosts: Some(dir.join("kh")),
            ..Default::default()
        };
        let log: Logger = Arc::new(|_| {});
        let mut vars = Vars::new();
        vars.insert("ansible_host".into(), "web".into());
        let p = resolve("inv", &vars, &opts, &log).unwrap();
        assert_eq!(p.target.host, "10.1.2.3");
        assert_eq!(p.target.user, "cfguser");
        assert_eq!(p.target.port, 2200);
        assert_eq!(p.hops.len(), 1);
        assert_eq!(p.hops[0].host, "10.9.9.9");
        assert_eq!(p.hops[0].user, "j");
        let kf = p.target.key_files[0].0.display().to_string();
        assert!(kf.ends_with("/k1") && !kf.contains("%d"), "{kf}");
        if std::env::var_os("PROV_HOST_KEY_CHECKING").is_none()
            && std::env::var_os("ANSIBLE_HOST_KEY_CHECKING").is_none()
        {
            assert_eq!(p.policy, HostKeyChecking::AcceptNew);
        }
        vars.insert("ansible_port".into(), 2222.into());
        vars.insert("ansible_user".into(), "inv".into());
        vars.insert("ansible_host_key_checking".into(), false.into());
        vars.insert(
            "ansible_ssh_common_args".into(),
            "-o ProxyJump=none -o ConnectTimeout=3".into(),
        );
        let p = resolve("inv", &vars, &opts, &log).unwrap();
        assert_eq!((p.target.port, p.target.user.as_str()), (2222, "inv"));
        assert_eq!(p.policy, HostKeyChecking::Off);
        assert!(p.hops.is_empty());
        assert_eq!(p.timeout, Duration::from_secs(3));
        vars.insert("ansible_port".into(), "nope".into());
        assert_eq!(
            resolve("inv", &vars, &opts, &log).unwrap_err().kind,
            crate::error::ErrorKind::Options
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
