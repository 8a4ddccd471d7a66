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
//! Entry point: [`connect`]. The files, in the order a connection uses them: `settings`
//! (variables, options and ssh_config resolved into endpoints, policy and timeouts; `config`
//! reads ssh_config and ssh arguments), `transport` (TCP, ProxyCommand, jump-host tunnels, the
//! russh configuration), `host_key` (the russh handler that verifies host keys against
//! `known_hosts`), `auth` (agent, key files, password), `session` (reconnects, the probe
//! shell, one channel per command) and `exec` (running one command on a channel, sudo).

pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod exec;
mod host_key;
pub(crate) mod known_hosts;
mod session;
mod settings;
mod transport;

pub use known_hosts::HostKeyChecking;

use crate::error::{Error, Result};
use crate::value::Vars;
use settings::{Plan, resolve, var_str};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Semaphore};
use transport::{Live, open};

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
    /// Keepalive interval (default: ssh_config `ServerAliveInterval`, else a third of the
    /// timeout but at least 10 s); a host silent for three intervals is unreachable.
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
