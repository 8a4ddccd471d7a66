//! `hostname`: sets the system's host name, now and across reboots.

use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::toolkit::{exec, kv, probe, quote_all};
use crate::modules::{Args, Diff, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `hostname` module.
pub struct Hostname;

crate::options! {
    /// The `hostname` module's options.
    pub(crate) struct Opts {
        name: String = opt::str("The host name.").required(),
        r#use: Option<String> = opt::str("How to set it (default: systemd when systemd runs the host, else debian when /etc/hostname exists, else generic).").choices(&["systemd", "debian", "generic"]),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("hostname", "Manage the host name")
    .description(
        "Sets the running host name and the permanent one. With `use: systemd` \
(the default when systemd runs the host) both are read and set with `hostnamectl` (transient, \
and static + pretty); with `debian` the permanent name is `/etc/hostname` and the running one \
is set with `hostname`; with `generic` only the `hostname` command is used. Changed when either \
name differs. Like Ansible, the result carries `ansible_facts` (`ansible_hostname`, \
`ansible_nodename`, `ansible_fqdn`, `ansible_domain`), which are set on the host. /etc/hosts is \
not touched. Check mode and --diff (`hostname = NAME`) are exact.",
    )
    .spec::<Opts>()
    .examples(
        "- hostname:\n    name: web01\n- hostname:\n    name: db1.example.com\n    use: systemd\n",
    );

/// Checks a host name: letters, digits, `-`, `.` and `_`, not starting with `-` or `.`.
fn check_hostname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !ok {
        return Err(
            Error::failed(format!("hostname: invalid host name '{name}'"))
                .hint("use letters, digits, '-' and '.' (e.g. web01 or db1.example.com)"),
        );
    }
    Ok(())
}

#[async_trait]
impl Module for Hostname {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let name = o.name.trim().to_string();
        check_hostname(&name)?;
        let script = "h=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname); echo \"current=$h\"\n\
             echo \"fqdn=$(hostname -f 2>/dev/null)\"\n\
             if [ -r /etc/hostname ]; then echo file=1; echo \"file_name=$(grep -v '^[[:space:]]*#' /etc/hostname | head -n 1 | tr -d '[:space:]')\"; fi\n\
             if [ -d /run/systemd/system ] && command -v hostnamectl >/dev/null 2>&1; then echo systemd=1; fi\n\
             if command -v hostnamectl >/dev/null 2>&1; then \
               echo \"transient=$(hostnamectl --transient status 2>/dev/null)\"; \
               echo \"static=$(hostnamectl --static status 2>/dev/null)\"; echo hostnamectl=1; fi\n\
             command -v hostname >/dev/null 2>&1 && echo hostname_cmd=1\n";
        let out = probe(ctx, script.to_string(), "the host name").await?;
        let v = kv(&out);
        let get = |k: &str| v.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
        let strategy = match o.r#use {
            Some(u) => u,
            None if v.contains_key("systemd") => "systemd".into(),
            None if v.contains_key("file") => "debian".into(),
            None => "generic".into(),
        };
        let (current, permanent) = match strategy.as_str() {
            "systemd" => {
                if !v.contains_key("hostnamectl") {
                    return Ok(Plan::fail(format!(
                        "hostname: use=systemd needs hostnamectl, which {} does not have",
                        ctx.host
                    )));
                }
                if name.len() > 64 {
                    return Ok(Plan::fail(
                        "Name cannot be longer than 64 characters on systemd servers, try a shorter name",
                    ));
                }
                let t = get("transient");
                (if t.is_empty() { get("current") } else { t }, get("static"))
            }
            "debian" => (get("current"), get("file_name")),
            _ => (get("current"), get("current")),
        };
        if strategy != "systemd" && !v.contains_key("hostname_cmd") {
            return Ok(Plan::fail(format!(
                "hostname: use={strategy} needs the hostname command, which {} does not have",
                ctx.host
            )));
        }
        let short = name.split('.').next().unwrap_or(&name).to_string();
        let fqdn = if name.contains('.') {
            name.clone()
        } else if name == current && !get("fqdn").is_empty() {
            get("fqdn")
        } else {
            name.clone()
        };
        let domain = fqdn
            .split_once('.')
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        let mut plan = Plan::ok().with("name", name.as_str());
        for (k, val) in [
            ("ansible_hostname", short),
            ("ansible_nodename", name.clone()),
            ("ansible_fqdn", fqdn),
            ("ansible_domain", domain),
        ] {
            plan.facts.insert(k.into(), Value::from(val));
        }
        let mut steps = Vec::new();
        match strategy.as_str() {
            "systemd" => {
                if current != name {
                    steps.push(quote_all(&[
                        "hostnamectl",
                        "--transient",
                        "set-hostname",
                        &name,
                    ]));
                }
                if permanent != name {
                    steps.push(quote_all(&[
                        "hostnamectl",
                        "--pretty",
                        "--static",
                        "set-hostname",
                        &name,
                    ]));
                }
            }
            "debian" => {
                if current != name {
                    steps.push(quote_all(&["hostname", &name]));
                }
                if permanent != name {
                    steps.push(format!(
                        "printf '%s\\n' {n} > /etc/hostname.prov-tmp && mv -f /etc/hostname.prov-tmp /etc/hostname",
                        n = quote(&name)
                    ));
                }
            }
            _ => {
                if current != name {
                    steps.push(quote_all(&["hostname", &name]));
                }
            }
        }
        if steps.is_empty() {
            return Ok(plan);
        }
        Ok(plan.change(
            format!("set the host name to {name} ({strategy}; was {permanent})"),
            Some(Diff::new(
                "hostname",
                format!("hostname = {permanent}\n"),
                format!("hostname = {name}\n"),
            )),
            exec(ctx, steps.join(" && "), false),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert!(check_hostname("web01").is_ok());
        assert!(check_hostname("db1.example.com").is_ok());
        assert!(check_hostname("-x").is_err());
        assert!(check_hostname("a b").is_err());
        assert!(check_hostname("a;reboot").is_err());
        assert!(check_hostname("").is_err());
    }
}
