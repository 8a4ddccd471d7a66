//! `sysctl` (ansible.posix): manages kernel parameters in a sysctl file and, optionally, in the
//! running kernel, following ansible.posix's algorithm.

use crate::error::{Error, Result};
use crate::modules::toolkit::{self, Attrs, Content, Kind, Write, plan_write};
use crate::modules::toolkit::{exec, probe, quote_all, state_diff};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, RequiredIf, TaskCtx, opt};
use async_trait::async_trait;

/// The `sysctl` module.
pub struct Sysctl;

crate::options! {
    /// The `sysctl` module's options.
    pub(crate) struct Opts {
        name: String = opt::str("The parameter, e.g. `net.ipv4.ip_forward`.").required().aliases(&["key"]),
        value: Option<String> = opt::any("Its value (required with state=present).").aliases(&["val"]),
        state: String = opt::str("Whether the entry should be in the file.").default("present").choices(&["present", "absent"]),
        sysctl_file: String = opt::path("The file to edit (created when missing).").default("/etc/sysctl.conf"),
        reload: bool = opt::bool("After a change, load the file with `sysctl -p FILE`.").default("yes"),
        sysctl_set: bool = opt::bool("Also check the running kernel's value and set it with `sysctl -w` when it differs.").default("no"),
        ignoreerrors: bool = opt::bool("Ignore unknown keys when reloading (`sysctl -e`).").default("no"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("sysctl", "Manage entries in sysctl.conf")
    .description(
        "Sets (or removes) a kernel parameter in a sysctl file (`/etc/sysctl.conf` by \
default) and, with `sysctl_set`, in the running kernel (`sysctl -w`, when `sysctl -n` shows \
another value). When something changed and `reload` is on (the default), the file is loaded \
with `sysctl -p FILE`. Values are compared the way Ansible does: yes/true/on are `1`, no/false/off \
`0`, and whitespace inside a value does not matter. Like Ansible, rewriting the file writes \
every `key = value` line as `key=value` and drops repeated keys. Check mode and --diff are \
exact. Also available as `ansible.posix.sysctl`.",
    )
    .spec::<Opts>()
    .required_if(&[RequiredIf::all("state", "present", &["value"])])
    .examples(
        r#"- sysctl:
    name: vm.swappiness
    value: "5"
    state: present
- ansible.posix.sysctl:
    name: net.ipv4.ip_forward
    value: "1"
    sysctl_set: true
    sysctl_file: /etc/sysctl.d/60-forward.conf
- sysctl:
    name: kernel.panic
    state: absent
    reload: false
"#,
    );

/// A value as Ansible compares it: booleans as `1`/`0`, surrounding whitespace trimmed.
pub(crate) fn normalize(v: &str) -> String {
    match crate::value::boolean_word(v) {
        Some(true) => "1".into(),
        Some(false) => "0".into(),
        None => v.trim().to_string(),
    }
}

/// Values are equal when their whitespace-separated words are.
fn same_value(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// True when a line carries no `key=value` entry (blank, `#` or `;` comment, no `=`).
fn is_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#') || t.starts_with(';') || !t.contains('=')
}

/// The values of a sysctl file (the last occurrence of a key wins).
pub(crate) fn parse_file(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for l in text.lines().filter(|l| !is_comment(l)) {
        let (k, v) = l.trim().split_once('=').unwrap_or_default();
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        match out.iter_mut().find(|(x, _)| *x == k) {
            Some(e) => e.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

/// Ansible's `fix_lines`: every entry rewritten as `k=v` (the first occurrence of a key only),
/// `name` set to `value` (or dropped when `value` is None), appended when missing.
pub(crate) fn fix_lines(text: &str, name: &str, value: Option<&str>) -> String {
    let mut out = String::new();
    let mut seen: Vec<String> = Vec::new();
    for l in text.split_inclusive('\n') {
        if is_comment(l) {
            out.push_str(l);
            if !l.ends_with('\n') {
                out.push('\n');
            }
            continue;
        }
        let (k, v) = l.trim().split_once('=').unwrap_or_default();
        let (k, v) = (k.trim(), v.trim());
        if seen.iter().any(|s| s == k) {
            continue;
        }
        seen.push(k.to_string());
        if k == name {
            if let Some(val) = value {
                out.push_str(&format!("{k}={val}\n"));
            }
        } else {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    if let Some(val) = value
        && !seen.iter().any(|s| s == name)
    {
        out.push_str(&format!("{name}={val}\n"));
    }
    out
}

#[async_trait]
impl Module for Sysctl {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let name = o.name.trim().to_string();
        if name.is_empty()
            || name.starts_with('-')
            || name.contains(['=', '\n'])
            || name.chars().any(char::is_whitespace)
        {
            return Err(Error::failed(format!(
                "sysctl: invalid parameter name '{name}'"
            )));
        }
        let present = o.state != "absent";
        let value = o.value.as_deref().map(normalize);
        if present && value.as_deref().is_none_or(str::is_empty) {
            return Err(Error::failed(format!(
                "sysctl: value is required with state=present (parameter {name})"
            )));
        }
        if value.as_deref().is_some_and(|v| v.contains('\n')) {
            return Err(Error::failed("sysctl: value must be one line"));
        }
        let file = o.sysctl_file;
        let sysctl_set = o.sysctl_set && present;
        let reload = o.reload;
        let ignore = o.ignoreerrors;
        let (insp, info, missing_parent) = toolkit::inspect_for_edit(ctx, &file).await?;
        if info.followed_kind() == Kind::Dir {
            return Ok(Plan::fail(format!("{file} is a directory")));
        }
        if info.exists() && insp.content.is_none() {
            return Ok(Plan::fail(format!("{file} is not a readable regular file")));
        }
        let text = match &insp.content {
            Some(c) => String::from_utf8(c.clone())
                .map_err(|_| Error::failed(format!("{file} is not UTF-8 text")))?,
            None => String::new(),
        };
        let current = parse_file(&text)
            .into_iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v);
        let mut plan = Plan::ok()
            .with("name", name.as_str())
            .with("state", if present { "present" } else { "absent" })
            .with("sysctl_file", file.as_str());
        if let Some(v) = &value {
            plan = plan.with("value", v.as_str());
        }
        let write_file = match (&current, present) {
            (Some(c), true) => !same_value(c, value.as_deref().unwrap_or_default()),
            (None, true) => true,
            (Some(_), false) => true,
            (None, false) => false,
        };
        let mut set_proc = false;
        let mut proc_value = None;
        if sysctl_set {
            let out = probe(
                ctx,
                format!("sysctl -e -n {} 2>/dev/null || true", quote_all(&[&name])),
                &format!("sysctl {name}"),
            )
            .await?;
            let cur = out.trim_end_matches('\n').to_string();
            set_proc = !same_value(&cur, value.as_deref().unwrap_or_default());
            proc_value = Some(cur);
        }
        if write_file {
            let new = fix_lines(&text, &name, value.as_deref().filter(|_| present));
            let write_info = info.followed();
            plan_write(
                ctx,
                Write {
                    path: info.write_path(),
                    info: &write_info,
                    before: insp.content.as_deref(),
                    data: &Content::Bytes(new.into_bytes()),
                    attrs: &Attrs::default(),
                    backup: false,
                    validate: None,
                    make_parent: missing_parent,
                    uid: insp.uid,
                    umask: insp.umask,
                },
                &mut plan,
            )?;
        }
        if set_proc {
            let want = value.clone().unwrap_or_default();
            let cur = proc_value.unwrap_or_default();
            plan = plan.change(
                format!("set {name} = {want} in the running kernel (was {cur})"),
                Some(state_diff(
                    &format!("{name} (running kernel)"),
                    &[(name.as_str(), cur)],
                    &[(name.as_str(), want.clone())],
                )),
                exec(
                    ctx,
                    quote_all(&["sysctl", "-w", &format!("{name}={want}")]),
                    false,
                ),
            );
        }
        if reload && !plan.changes.is_empty() {
            let mut cmd = vec!["sysctl"];
            if ignore {
                cmd.push("-e");
            }
            cmd.extend(["-p", &file]);
            plan = plan.change(
                format!("reload {file} (sysctl -p)"),
                None,
                exec(
                    ctx,
                    format!(
                        "out=$({} 2>&1) || {{ echo \"Failed to reload sysctl: $out\" >&2; exit 1; }}",
                        quote_all(&cmd)
                    ),
                    false,
                ),
            );
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::validate_args;
    use crate::value::{from_json, value_to_vars};

    #[test]
    fn present_needs_a_value() {
        let args = |j| validate_args(&DOC, &value_to_vars(&from_json(&j)));
        let e = args(serde_json::json!({"name": "vm.swappiness"})).unwrap_err();
        assert_eq!(
            e.msg,
            "module 'sysctl': state is present but all of the following are missing: value"
        );
        let a = args(serde_json::json!({"key": "kernel.panic", "state": "absent"})).unwrap();
        let o = Opts::from_args(&a).unwrap();
        assert_eq!((o.name.as_str(), o.value), ("kernel.panic", None));
        assert_eq!(o.sysctl_file, "/etc/sysctl.conf");
        assert!(o.reload && !o.sysctl_set && !o.ignoreerrors);
        // a number is read as text
        let a = args(serde_json::json!({"name": "vm.swappiness", "val": 10})).unwrap();
        assert_eq!(Opts::from_args(&a).unwrap().value.as_deref(), Some("10"));
    }

    #[test]
    fn parses_and_rewrites_like_ansible() {
        let text = "# comment\n; other\nvm.swappiness = 10\n\nkernel.panic=5\nvm.swappiness=20\nno equals here\n";
        let v = parse_file(text);
        assert_eq!(
            v,
            vec![
                ("vm.swappiness".into(), "20".into()),
                ("kernel.panic".into(), "5".into())
            ]
        );
        assert_eq!(
            fix_lines(text, "vm.swappiness", Some("1")),
            "# comment\n; other\nvm.swappiness=1\n\nkernel.panic=5\nno equals here\n"
        );
        assert_eq!(
            fix_lines(text, "kernel.panic", None),
            "# comment\n; other\nvm.swappiness=10\n\nno equals here\n"
        );
        assert_eq!(fix_lines("", "a.b", Some("1")), "a.b=1\n");
        assert_eq!(fix_lines("# x", "a.b", Some("1")), "# x\na.b=1\n");
        assert_eq!(normalize("yes"), "1");
        assert_eq!(normalize("False"), "0");
        assert_eq!(normalize(" 4096 87380  6291456 "), "4096 87380  6291456");
        assert!(same_value("4096\t87380 6291456", "4096 87380  6291456"));
        assert!(!same_value("1", "0"));
    }
}
