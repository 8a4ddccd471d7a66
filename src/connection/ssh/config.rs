//! An OpenSSH client configuration (`~/.ssh/config`, `-F file`) reader for the options prov
//! uses, and the parser for `ansible_ssh_common_args`/`ansible_ssh_extra_args`.
//!
//! Supported: `Host` patterns (wildcards, `!` negation), `Include` (globs; relative paths are
//! resolved from `~/.ssh` for user files and `/etc/ssh` for system files), `HostName` (with
//! `%h`), `User`, `Port`, `IdentityFile` (several; `~`, `%d`, `%u`, `%h`, `%r`, `%p`, `%%`),
//! `IdentitiesOnly`, `ProxyJump`, `ProxyCommand`, `StrictHostKeyChecking`, `UserKnownHostsFile`,
//! `ConnectTimeout`, `ServerAliveInterval`. `Match` blocks are skipped. As in OpenSSH the first
//! value found for an option wins (`IdentityFile` accumulates).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The options that apply to one host, as read from ssh_config files or `-o` arguments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostConfig {
    /// `HostName` (may contain `%h`).
    pub hostname: Option<String>,
    /// `User`.
    pub user: Option<String>,
    /// `Port`.
    pub port: Option<u16>,
    /// `IdentityFile` values, in order, unexpanded.
    pub identity_files: Vec<String>,
    /// `IdentitiesOnly`.
    pub identities_only: Option<bool>,
    /// `ProxyJump` (`none` is kept as is and means no jump).
    pub proxy_jump: Option<String>,
    /// `ProxyCommand`, the rest of the line as written (`none` means no command).
    pub proxy_command: Option<String>,
    /// `StrictHostKeyChecking` value.
    pub strict_host_key_checking: Option<String>,
    /// `UserKnownHostsFile` values (unexpanded).
    pub user_known_hosts_files: Option<Vec<String>>,
    /// `ConnectTimeout` in seconds.
    pub connect_timeout: Option<u64>,
    /// `ServerAliveInterval` in seconds.
    pub server_alive_interval: Option<u64>,
}

impl HostConfig {
    /// Fills every unset option of `self` from `other` (first value wins).
    pub fn merge_from(&mut self, other: &HostConfig) {
        macro_rules! fill {
            ($f:ident) => {
                if self.$f.is_none() {
                    self.$f = other.$f.clone();
                }
            };
        }
        fill!(hostname);
        fill!(user);
        fill!(port);
        fill!(identities_only);
        fill!(proxy_jump);
        fill!(proxy_command);
        fill!(strict_host_key_checking);
        fill!(user_known_hosts_files);
        fill!(connect_timeout);
        fill!(server_alive_interval);
        self.identity_files
            .extend(other.identity_files.iter().cloned());
    }

    /// Applies one `Keyword value...` option (first value wins). Unknown keywords are ignored.
    pub fn apply(&mut self, key: &str, args: &[String], origin: &str) -> Result<()> {
        let first = || -> Result<&String> {
            args.first()
                .ok_or_else(|| Error::options(format!("{origin}: option {key} needs a value")))
        };
        let secs = |what: &str| -> Result<u64> {
            let v = first()?;
            v.parse()
                .map_err(|_| Error::options(format!("{origin}: bad {what} '{v}' (want seconds)")))
        };
        match key.to_ascii_lowercase().as_str() {
            "hostname" => first_wins(&mut self.hostname, first()?.clone()),
            "user" => first_wins(&mut self.user, first()?.clone()),
            "port" => {
                let v = first()?;
                let port = v.parse().map_err(|_| {
                    Error::options(format!("{origin}: bad Port '{v}' (want 1-65535)"))
                })?;
                first_wins(&mut self.port, port);
            }
            "identityfile" => self.identity_files.push(first()?.clone()),
            "identitiesonly" => {
                first_wins(&mut self.identities_only, yes_no(first()?, origin, key)?)
            }
            "proxyjump" => first_wins(&mut self.proxy_jump, first()?.clone()),
            "stricthostkeychecking" => {
                first_wins(&mut self.strict_host_key_checking, first()?.clone())
            }
            "userknownhostsfile" => {
                first()?;
                first_wins(&mut self.user_known_hosts_files, args.to_vec());
            }
            "connecttimeout" => first_wins(&mut self.connect_timeout, secs("ConnectTimeout")?),
            "serveraliveinterval" => first_wins(
                &mut self.server_alive_interval,
                secs("ServerAliveInterval")?,
            ),
            _ => {}
        }
        Ok(())
    }
}

fn first_wins<T>(slot: &mut Option<T>, v: T) {
    if slot.is_none() {
        *slot = Some(v);
    }
}

fn yes_no(v: &str, origin: &str, key: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(Error::options(format!(
            "{origin}: {key} wants yes or no, not '{v}'"
        ))),
    }
}

/// Splits a config line into keyword and arguments: `Key value`, `Key=value`, `"quoted args"`.
fn split_line(line: &str) -> Option<(String, Vec<String>, String)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let key = line[..end].to_string();
    let mut rest = line[end..].trim_start();
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start();
    }
    let raw = rest.trim_end().to_string();
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_q = false;
    let mut has = false;
    for c in rest.chars() {
        match c {
            '"' => {
                in_q = !in_q;
                has = true;
            }
            c if c.is_whitespace() && !in_q => {
                if has {
                    args.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            '#' if !in_q && !has => break,
            c => {
                cur.push(c);
                has = true;
            }
        }
    }
    if has {
        args.push(cur);
    }
    Some((key, args, raw))
}

/// Reads the options for `host` (the name given on the command line or the inventory host
/// name) from ssh_config `file`, following Includes. `user_file` decides the base folder for
/// relative Include paths (`~/.ssh` or `/etc/ssh`). A missing file gives empty options.
pub fn read_for_host(file: &Path, host: &str, home: &Path, user_file: bool) -> Result<HostConfig> {
    let mut cfg = HostConfig::default();
    let base = if user_file {
        home.join(".ssh")
    } else {
        PathBuf::from("/etc/ssh")
    };
    process_file(file, host, home, &base, true, &mut cfg, 0)?;
    Ok(cfg)
}

fn process_file(
    file: &Path,
    host: &str,
    home: &Path,
    base: &Path,
    active_in: bool,
    cfg: &mut HostConfig,
    depth: usize,
) -> Result<()> {
    if depth > 16 {
        return Err(Error::options(format!(
            "{}: too many nested Include directives",
            file.display()
        )));
    }
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(file, e)),
    };
    let mut active = active_in;
    for (i, raw) in text.lines().enumerate() {
        let Some((key, args, rest)) = split_line(raw) else {
            continue;
        };
        let origin = format!("{}:{}", file.display(), i + 1);
        match key.to_ascii_lowercase().as_str() {
            "host" => {
                active = super::known_hosts::match_pattern_list(host, &args);
            }
            "match" => {
                // Match blocks are not supported: their options never apply.
                active = false;
            }
            "include" => {
                if !active {
                    continue;
                }
                for pat in &args {
                    let expanded = expand_tilde(pat, home);
                    let full = if Path::new(&expanded).is_absolute() {
                        PathBuf::from(expanded)
                    } else {
                        base.join(expanded)
                    };
                    let Some(full_s) = full.to_str() else {
                        continue;
                    };
                    let mut paths: Vec<PathBuf> = match glob::glob(full_s) {
                        Ok(g) => g.filter_map(|p| p.ok()).collect(),
                        Err(e) => {
                            return Err(Error::options(format!(
                                "{origin}: bad Include pattern '{pat}': {e}"
                            )));
                        }
                    };
                    paths.sort();
                    for p in paths {
                        process_file(&p, host, home, base, active, cfg, depth + 1)?;
                    }
                }
            }
            "proxycommand" => {
                if active {
                    first_wins(&mut cfg.proxy_command, rest);
                }
            }
            _ => {
                if active {
                    cfg.apply(&key, &args, &origin)?;
                }
            }
        }
    }
    Ok(())
}

/// Expands a leading `~` or `~/` with `home`.
pub fn expand_tilde(s: &str, home: &Path) -> String {
    if s == "~" {
        return home.display().to_string();
    }
    if let Some(r) = s.strip_prefix("~/") {
        return home.join(r).display().to_string();
    }
    s.to_string()
}

/// Tokens for [`expand_tokens`].
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    /// `%d`: local home folder.
    pub home: &'a Path,
    /// `%u`: local user name.
    pub local_user: &'a str,
    /// `%h`: remote host name.
    pub host: &'a str,
    /// `%r`: remote user name.
    pub remote_user: &'a str,
    /// `%p`: remote port.
    pub port: u16,
}

/// Expands `~` and `%d %u %h %r %p %%` in a path option.
pub fn expand_tokens(s: &str, t: &Tokens<'_>) -> String {
    let s = expand_tilde(s, t.home);
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('d') => out.push_str(&t.home.display().to_string()),
            Some('u') => out.push_str(t.local_user),
            Some('h') => out.push_str(t.host),
            Some('r') => out.push_str(t.remote_user),
            Some('p') => out.push_str(&t.port.to_string()),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

/// What `ansible_ssh_common_args`/`ansible_ssh_extra_args` ask for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArgOptions {
    /// Options from `-o`, `-J`, `-i`, `-p`, `-l`.
    pub config: HostConfig,
    /// `-F file`.
    pub config_file: Option<String>,
    /// Arguments prov does not use (reported at -vvv).
    pub ignored: Vec<String>,
}

/// Parses OpenSSH command-line arguments (the subset prov understands): `-o Key=Value`,
/// `-oKey=Value`, `-o "Key Value"`, `-J jump`, `-i key`, `-p port`, `-l user`, `-F file`.
/// Other flags are collected in [`ArgOptions::ignored`].
pub fn parse_args(args: &str, out: &mut ArgOptions) -> Result<()> {
    let words = shlex::split(args).ok_or_else(|| {
        Error::options(format!(
            "cannot split ssh arguments (unbalanced quotes): {args}"
        ))
    })?;
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let with_value = |flag: &str, i: &mut usize| -> Result<String> {
            if w.len() > 2 {
                Ok(w[2..].to_string())
            } else {
                *i += 1;
                words
                    .get(*i)
                    .cloned()
                    .ok_or_else(|| Error::options(format!("ssh argument {flag} needs a value")))
            }
        };
        if w.starts_with("-o") {
            let v = with_value("-o", &mut i)?;
            if let Some((k, a, rest)) = split_line(&v) {
                if k.eq_ignore_ascii_case("proxycommand") {
                    first_wins(&mut out.config.proxy_command, rest);
                } else {
                    out.config.apply(&k, &a, "ssh arguments")?;
                }
            }
        } else if w.starts_with("-J") {
            let v = with_value("-J", &mut i)?;
            out.config.apply("ProxyJump", &[v], "ssh arguments")?;
        } else if w.starts_with("-i") {
            let v = with_value("-i", &mut i)?;
            out.config.identity_files.push(v);
        } else if w.starts_with("-p") {
            let v = with_value("-p", &mut i)?;
            out.config.apply("Port", &[v], "ssh arguments")?;
        } else if w.starts_with("-l") {
            let v = with_value("-l", &mut i)?;
            out.config.apply("User", &[v], "ssh arguments")?;
        } else if w.starts_with("-F") {
            let v = with_value("-F", &mut i)?;
            if out.config_file.is_none() {
                out.config_file = Some(v);
            }
        } else if let Some(flag) = w.strip_prefix('-') {
            out.ignored.push(w.clone());
            // OpenSSH's other options that take a value: the value is not a word of its own.
            let takes_value = flag.len() == 1 && "BbcDEeIiLmOQRSWw".contains(flag);
            if takes_value && let Some(v) = words.get(i + 1) {
                out.ignored.push(v.clone());
                i += 1;
            }
        } else {
            // OpenSSH takes the first word that is not an option for the host to connect to:
            // the connection cannot be the one asked for (Ansible's ssh fails to connect).
            return Err(Error::unreachable(format!(
                "ssh arguments: '{w}' is not an option (ssh would take it for the host to connect to)"
            )));
        }
        i += 1;
    }
    Ok(())
}

/// One hop of a `ProxyJump` list: `[user@]host[:port]` or `ssh://[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jump {
    /// The user, if given.
    pub user: Option<String>,
    /// The host (an alias looked up in ssh_config, or a name/address).
    pub host: String,
    /// The port, if given.
    pub port: Option<u16>,
}

/// Parses a `ProxyJump` value (comma list). `none` gives an empty list.
pub fn parse_jumps(s: &str) -> Result<Vec<Jump>> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let p = part.trim();
        let p = p.strip_prefix("ssh://").unwrap_or(p);
        if p.is_empty() {
            return Err(Error::options(format!("empty hop in ProxyJump '{s}'")));
        }
        let (user, rest) = match p.rsplit_once('@') {
            Some((u, r)) => (Some(u.to_string()), r),
            None => (None, p),
        };
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, after) = r
                .split_once(']')
                .ok_or_else(|| Error::options(format!("bad ProxyJump hop '{p}'")))?;
            let port = match after.strip_prefix(':') {
                Some(pp) => Some(
                    pp.parse()
                        .map_err(|_| Error::options(format!("bad port in ProxyJump hop '{p}'")))?,
                ),
                None => None,
            };
            (h.to_string(), port)
        } else if let Some((h, pp)) = rest.rsplit_once(':') {
            let port = pp
                .parse()
                .map_err(|_| Error::options(format!("bad port in ProxyJump hop '{p}'")))?;
            (h.to_string(), Some(port))
        } else {
            (rest.to_string(), None)
        };
        out.push(Jump { user, host, port });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_includes() {
        let dir = std::env::temp_dir().join(format!("prov-sshcfg-{}", std::process::id()));
        let ssh = dir.join(".ssh");
        std::fs::create_dir_all(ssh.join("conf.d")).unwrap();
        std::fs::write(
            ssh.join("conf.d/a.conf"),
            "Host web*\n  User inc\n  IdentityFile ~/.ssh/inc_key\n",
        )
        .unwrap();
        std::fs::write(
            ssh.join("config"),
            "# top\nInclude conf.d/*.conf\nHost web1 !web2\n  HostName %h.example.com\n  Port=2222\n\
             User first\n  IdentityFile \"~/.ssh/id x\"\n  ProxyJump j1,u@j2:23\nHost *\n  User second\n\
             StrictHostKeyChecking accept-new\n  UserKnownHostsFile ~/kh1 ~/kh2\nMatch all\n  User never\n",
        )
        .unwrap();
        let c = read_for_host(&ssh.join("config"), "web1", &dir, true).unwrap();
        assert_eq!(c.user.as_deref(), Some("inc"));
        assert_eq!(c.hostname.as_deref(), Some("%h.example.com"));
        assert_eq!(c.port, Some(2222));
        assert_eq!(c.identity_files, vec!["~/.ssh/inc_key", "~/.ssh/id x"]);
        assert_eq!(c.strict_host_key_checking.as_deref(), Some("accept-new"));
        assert_eq!(c.user_known_hosts_files.as_ref().unwrap().len(), 2);
        let j = parse_jumps(c.proxy_jump.as_deref().unwrap()).unwrap();
        assert_eq!(
            j[1],
            Jump {
                user: Some("u".into()),
                host: "j2".into(),
                port: Some(23)
            }
        );
        let c2 = read_for_host(&ssh.join("config"), "web2", &dir, true).unwrap();
        assert_eq!(c2.user.as_deref(), Some("inc"));
        assert_eq!(c2.port, None);
        let c3 = read_for_host(&ssh.join("config"), "db", &dir, true).unwrap();
        assert_eq!(c3.user.as_deref(), Some("second"));
        let t = Tokens {
            home: &dir,
            local_user: "me",
            host: "h",
            remote_user: "r",
            port: 22,
        };
        assert_eq!(
            expand_tokens("~/%u/%h-%r-%p%%", &t),
            format!("{}/me/h-r-22%", dir.display())
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn ssh_args() {
        let mut a = ArgOptions::default();
        parse_args(
            "-o 'ProxyCommand=ssh -W %h:%p \"b c\"' -o ProxyJump=bastion -oStrictHostKeyChecking=no -o 'UserKnownHostsFile /dev/null' -i k -p 2200 -C",
            &mut a,
        )
        .unwrap();
        parse_args("-J other -p 1", &mut a).unwrap();
        assert_eq!(a.config.proxy_jump.as_deref(), Some("bastion"));
        assert_eq!(
            a.config.proxy_command.as_deref(),
            Some("ssh -W %h:%p \"b c\"")
        );
        assert_eq!(a.config.strict_host_key_checking.as_deref(), Some("no"));
        assert_eq!(
            a.config.user_known_hosts_files,
            Some(vec!["/dev/null".to_string()])
        );
        assert_eq!(a.config.identity_files, vec!["k"]);
        assert_eq!(a.config.port, Some(2200));
        assert_eq!(a.ignored, vec!["-C"]);
        assert!(parse_args("-p", &mut ArgOptions::default()).is_err());
        assert!(parse_args("-p x", &mut ArgOptions::default()).is_err());
        // A word that is no option would be ssh's host: the connection fails (unreachable);
        // the value of an option prov does not use is not such a word.
        let e = parse_args("MEEEE", &mut ArgOptions::default()).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Unreachable);
        let mut b = ArgOptions::default();
        parse_args("-c aes256-ctr -C", &mut b).unwrap();
        assert_eq!(b.ignored, vec!["-c", "aes256-ctr", "-C"]);
    }
}
