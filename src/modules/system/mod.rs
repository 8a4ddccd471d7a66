//! System modules: apt, package, systemd_service (also `systemd` and `service`), user, group,
//! get_url, apt_repository, deb822_repository.
//!
//! Like every module, they only inspect the host while planning (one POSIX sh script per
//! inspection, through [`TaskCtx::run`], its output split into `@@name` sections and parsed on
//! the controller) and describe the work as [`Action`]s: `Exec` for package managers,
//! `systemctl`, `useradd`/`usermod`, downloads; `Put` (through the file modules'
//! [`plan_write`](super::files::remote::plan_write)) for sources files. Check mode therefore
//! reports exactly what a run would do, and diffs are data. Nothing needs Python on the host.

pub mod apt;
pub mod apt_repository;
pub mod authorized_key;
pub mod cron;
pub mod deb822_repository;
pub mod get_url;
pub mod getent;
pub mod group;
pub mod hostname;
pub mod package;
pub mod service;
pub mod setup;
pub mod sysctl;
pub mod user;

use super::{Action, Diff, Registry, TaskCtx};
use crate::connection::quote;
use crate::error::{Error, Result};
use indexmap::IndexMap;
use std::sync::Arc;

/// Registers the system modules.
pub fn register(r: &mut Registry) {
    r.register(Arc::new(apt::Apt));
    r.register(Arc::new(package::Package));
    r.register(Arc::new(service::Systemd::systemd_service()));
    r.register(Arc::new(service::Systemd::systemd_alias()));
    r.register(Arc::new(service::Service));
    r.register(Arc::new(user::User));
    r.register(Arc::new(group::Group));
    r.register(Arc::new(get_url::GetUrl));
    r.register(Arc::new(apt_repository::AptRepository));
    r.register(Arc::new(deb822_repository::Deb822Repository));
    r.register(Arc::new(authorized_key::AuthorizedKey));
    r.register(Arc::new(sysctl::Sysctl));
    r.register(Arc::new(cron::Cron));
    r.register(Arc::new(hostname::Hostname));
    r.register(Arc::new(getent::Getent));
    r.register(Arc::new(setup::Setup));
}

/// Runs a read-only inspection script; a non-zero exit status is an error naming `what`.
pub(crate) async fn probe(ctx: &TaskCtx<'_>, script: String, what: &str) -> Result<String> {
    let out = ctx.run(script).await?;
    if out.rc != 0 {
        let err = out.stderr_str();
        let err = err.trim();
        return Err(Error::failed(format!(
            "could not inspect {what} on {}: {}",
            ctx.host,
            if err.is_empty() {
                format!("exit status {}", out.rc)
            } else {
                err.to_string()
            }
        )));
    }
    Ok(out.stdout_str())
}

/// Splits inspection output into sections introduced by `@@name` lines; text before the first
/// marker goes to the section `""`.
pub(crate) fn sections(out: &str) -> IndexMap<String, String> {
    let mut m: IndexMap<String, String> = IndexMap::new();
    let mut cur = String::new();
    m.insert(cur.clone(), String::new());
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            cur = name.trim().to_string();
            m.entry(cur.clone()).or_default();
            continue;
        }
        let s = m.entry(cur.clone()).or_default();
        s.push_str(line);
        s.push('\n');
    }
    m
}

/// `key=value` lines of a section as a map (first `=` splits).
pub(crate) fn kv(text: &str) -> IndexMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect()
}

/// An `Exec` action with the task's become and environment.
pub(crate) fn exec(ctx: &TaskCtx<'_>, script: impl Into<String>, capture: bool) -> Action {
    Action::Exec {
        cmd: ctx.cmd(script),
        capture,
        fail_on_rc: true,
    }
}

/// Quotes every word and joins them with spaces.
pub(crate) fn quote_all<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A diff of `key: value` lines describing an object's state (`user: bob`, `state: absent`).
pub(crate) fn state_diff(label: &str, before: &[(&str, String)], after: &[(&str, String)]) -> Diff {
    let text = |pairs: &[(&str, String)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect::<String>()
    };
    Diff::new(label, text(before), text(after))
}

/// Rejects a value that would be read as an option by the command it is given to, or that
/// contains characters no name may have (a clear error instead of a confusing tool failure).
pub(crate) fn check_name(module: &str, what: &str, v: &str) -> Result<()> {
    if v.is_empty() {
        return Err(Error::failed(format!("{module}: {what} must not be empty")));
    }
    if v.starts_with('-') || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::failed(format!(
            "{module}: invalid {what} '{v}' (it may not start with '-' or contain spaces)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sections() {
        let s = sections("a=1\n@@x\nl1\nl2\n@@y\n");
        assert_eq!(s[""], "a=1\n");
        assert_eq!(s["x"], "l1\nl2\n");
        assert_eq!(s["y"], "");
        assert_eq!(kv(&s[""])["a"], "1");
        assert!(check_name("m", "name", "-rf").is_err());
        assert!(check_name("m", "name", "a b").is_err());
        assert!(check_name("m", "name", "nginx").is_ok());
    }
}
