//! Settings resolution: where to connect and how, from the inventory's `ansible_*` variables,
//! the `ansible_ssh_common_args`/`ansible_ssh_extra_args` options, [`SshOptions`] and the
//! OpenSSH client configuration, with OpenSSH's defaults last (see the precedence in the
//! [module docs](super)).

use super::known_hosts::HostKeyChecking;
use super::{Logger, SshOptions, config};
use crate::connection::Secret;
use crate::error::{Error, Result};
use crate::value::Vars;
use std::path::PathBuf;
use std::time::Duration;

/// One machine to reach (a jump host or the target).
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    /// The real host name or address.
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) user: String,
    pub(super) agent: Option<PathBuf>,
    /// Key files to try, each with whether it was asked for (a missing one is reported).
    pub(super) key_files: Vec<(PathBuf, bool)>,
    pub(super) password: Option<Secret>,
}

impl Endpoint {
    pub(super) fn label(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// Everything needed to (re)connect to a host.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) hops: Vec<Endpoint>,
    pub(super) target: Endpoint,
    pub(super) policy: HostKeyChecking,
    pub(super) known_hosts: Vec<PathBuf>,
    pub(super) learn_file: PathBuf,
    pub(super) timeout: Duration,
    pub(super) keepalive: Duration,
    /// `ProxyCommand` (tokens expanded) for the first hop, when there is no ProxyJump.
    pub(super) proxy_command: Option<String>,
}

pub(super) fn var_str(vars: &Vars, names: &[&str]) -> Option<String> {
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
pub(super) fn resolve(
    inventory_host: &str,
    vars: &Vars,
    opts: &SshOptions,
    log: &Logger,
) -> Result<Plan> {
    let home = home_dir();
    let me = local_user();
    let dest = var_str(vars, &["ansible_host", "ansible_ssh_host"])
        .unwrap_or_else(|| inventory_host.to_string());

    let mut args = config::ArgOptions::default();
    for n in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        if let Some(a) = var_str(vars, &[n]) {
            config::parse_args(&a, &mut args)
                .map_err(|e| Error::new(e.kind, format!("{n}: {}", e.msg)))?;
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
    // A host that stops answering (a stopped sshd, a blackholed route) is given up after three
    // keepalive intervals without a word from it: `ServerAliveInterval`, else a third of the
    // timeout but at least 10 s. (A live host that is very busy, as a thousand hosts sharing a
    // few CPUs are, can be silent for more than a 10 s timeout; Ansible never gives up.)
    let keepalive = opts
        .keepalive
        .or(cfg
            .server_alive_interval
            .filter(|t| *t > 0)
            .map(Duration::from_secs))
        .unwrap_or_else(|| (timeout / 3).max(Duration::from_secs(10)));

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
