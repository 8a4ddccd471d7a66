//! `package`: the generic package module, delegating to the host's package manager.

use super::apt;
use crate::error::{Error, Result};
use crate::modules::toolkit::{check_name, exec, probe, quote_all, state_diff};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt, validate_args};
use crate::value::{Value, Vars};
use async_trait::async_trait;

/// The `package` module.
pub struct Package;

crate::options! {
    /// The `package` module's options.
    pub(crate) struct Opts {
        name: Vec<String> = opt::list("Package names (a list or comma-separated).").required().aliases(&["pkg"]),
        state: String = opt::str("Desired state (the package manager module's default, `present`, when unset).").default("present").choices(&["present", "absent", "latest", "installed", "removed"]),
        r#use: String = opt::str("The package manager to use (`auto`: the `ansible_package_use` variable, else detected).").default("auto"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("package", "Generic OS package manager")
    .description(
        "Installs or removes packages with the host's package manager: the `pkg_mgr` fact \
when facts were gathered, else the first of apt-get, dnf5, dnf, yum, apk found on the host \
(`use` forces one). On apt hosts it is the `apt` module (same result values). On dnf/yum hosts the \
installed state comes from `rpm -q` and `latest` from `dnf check-update`; on apk hosts from \
`apk info -e` and `apk version`. Check mode lists the packages that would change; the diff shows \
each package's state before and after.",
    )
    .spec::<Opts>()
    .examples("- package:\n    name: [curl, git]\n    state: present\n");

/// The package manager to use: `use`, the `pkg_mgr` fact, or a probe of the host.
async fn manager(ctx: &TaskCtx<'_>, wanted: &str) -> Result<String> {
    if wanted != "auto" {
        return Ok(wanted.to_string());
    }
    if let Ok(v) = ctx.render.eval("ansible_package_use | default('')")
        && let Some(m) = v.as_str()
        && !m.is_empty()
        && m != "auto"
    {
        return Ok(m.to_string());
    }
    if let Some(m) = ctx
        .facts
        .get("pkg_mgr")
        .and_then(|v| v.as_str().map(str::to_string))
        .filter(|m| !m.is_empty() && m != "unknown")
    {
        return Ok(m);
    }
    let out = probe(
        ctx,
        "for b in apt-get dnf5 dnf yum apk; do if command -v $b >/dev/null 2>&1; then echo $b; exit 0; fi; done; echo unknown".into(),
        "the package manager",
    )
    .await?;
    Ok(match out.trim() {
        "apt-get" => "apt".into(),
        m => m.to_string(),
    })
}

#[async_trait]
impl Module for Package {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let state = match o.state.as_str() {
            "installed" => "present".to_string(),
            "removed" => "absent".to_string(),
            s => s.to_string(),
        };
        let names = o.name;
        let mgr = manager(ctx, &o.r#use).await?;
        match mgr.as_str() {
            "apt" => {
                let mut v = Vars::new();
                v.insert(
                    "name".into(),
                    Value::from(
                        names
                            .iter()
                            .map(|n| Value::from(n.as_str()))
                            .collect::<Vec<_>>(),
                    ),
                );
                v.insert("state".into(), Value::from(state));
                let a = validate_args(&apt::DOC, &v)?;
                apt::plan_apt(ctx, &apt::Opts::from_args(&a)?).await
            }
            "dnf" | "dnf5" | "yum" => plan_rpm(ctx, &mgr, &names, &state).await,
            "apk" => plan_apk(ctx, &names, &state).await,
            "unknown" | "" => Ok(Plan::fail(
                "Could not detect a package manager. Try using the \"use\" option.",
            )
            .with("pkg_mgr", "unknown")),
            other => Ok(Plan::fail(format!(
                "Could not find a matching action for the \"{other}\" package manager."
            ))),
        }
    }
}

/// Shared tail of the rpm and apk plans: one change running `line`, a diff of package states.
fn pkg_plan(
    ctx: &TaskCtx<'_>,
    mgr: &str,
    summary: String,
    line: String,
    changed: &[(String, String, String)],
) -> Plan {
    let mut plan = Plan::ok().with("pkg_mgr", mgr);
    let names: Vec<Value> = changed.iter().map(|c| Value::from(c.0.as_str())).collect();
    plan.result.insert("results".into(), Value::from(names));
    if changed.is_empty() {
        return plan;
    }
    let before: Vec<(&str, String)> = changed
        .iter()
        .map(|c| (c.0.as_str(), c.1.clone()))
        .collect();
    let after: Vec<(&str, String)> = changed
        .iter()
        .map(|c| (c.0.as_str(), c.2.clone()))
        .collect();
    plan.change(
        summary,
        Some(state_diff("packages", &before, &after)),
        exec(ctx, line, true),
    )
}

async fn plan_rpm(ctx: &TaskCtx<'_>, mgr: &str, names: &[String], state: &str) -> Result<Plan> {
    for n in names {
        check_name("package", "package name", n)?;
    }
    let tool = if mgr == "dnf5" { "dnf5" } else { mgr };
    let q = quote_all(names);
    let mut s = format!(
        "for p in {q}; do if rpm -q \"$p\" >/dev/null 2>&1; then \
         echo \"$p=$(rpm -q --qf '%{{VERSION}}-%{{RELEASE}}\\n' \"$p\" | head -n1)\"; else echo \"$p=\"; fi; done\n"
    );
    if state == "latest" {
        s.push_str(&format!(
            "echo @@updates\n{tool} -q check-update {q} 2>/dev/null | awk 'NF==3 {{print $1}}'\n"
        ));
    }
    let out = probe(ctx, s, "installed packages").await?;
    let (head, updates) = out.split_once("@@updates\n").unwrap_or((&out, ""));
    let installed: std::collections::HashMap<String, String> = crate::modules::toolkit::kv(head)
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let upd: Vec<&str> = updates
        .lines()
        .map(|l| l.rsplit_once('.').map(|(n, _)| n).unwrap_or(l))
        .collect();
    let mut changed = Vec::new();
    for n in names {
        let cur = installed.get(n);
        let shown = cur.cloned().unwrap_or_else(|| "(not installed)".into());
        match state {
            "absent" if cur.is_some() => changed.push((n.clone(), shown, "(removed)".into())),
            "present" | "latest" if cur.is_none() => {
                changed.push((n.clone(), shown, "(installed)".into()))
            }
            "latest" if upd.contains(&n.as_str()) => {
                changed.push((n.clone(), shown, "(latest)".into()))
            }
            _ => {}
        }
    }
    let pick = |kind: &str| -> Vec<&str> {
        changed
            .iter()
            .filter(|c| c.2 == kind)
            .map(|c| c.0.as_str())
            .collect()
    };
    let (install, upgrade, remove) = (pick("(installed)"), pick("(latest)"), pick("(removed)"));
    let mut parts = Vec::new();
    let mut summary = Vec::new();
    for (list, sub) in [
        (&install, "install"),
        (&upgrade, "upgrade"),
        (&remove, "remove"),
    ] {
        if !list.is_empty() {
            parts.push(format!("{tool} -y {sub} {}", quote_all(list)));
            summary.push(format!("{sub} {}", list.join(", ")));
        }
    }
    Ok(pkg_plan(
        ctx,
        mgr,
        summary.join("; "),
        parts.join(" && "),
        &changed,
    ))
}

async fn plan_apk(ctx: &TaskCtx<'_>, names: &[String], state: &str) -> Result<Plan> {
    for n in names {
        check_name("package", "package name", n)?;
    }
    let q = quote_all(names);
    let mut s = format!(
        "for p in {q}; do if apk info -e \"$p\" >/dev/null 2>&1; then echo \"$p=1\"; else echo \"$p=\"; fi; done\n"
    );
    if state == "latest" {
        s.push_str(&format!(
            "echo @@updates\napk version -l '<' {q} 2>/dev/null | awk 'NR>1 {{print $1}}'\n"
        ));
    }
    let out = probe(ctx, s, "installed packages").await?;
    let (head, updates) = out.split_once("@@updates\n").unwrap_or((&out, ""));
    let installed = crate::modules::toolkit::kv(head);
    let mut changed = Vec::new();
    for n in names {
        let has = installed.get(n).is_some_and(|v| !v.is_empty());
        let shown = if has {
            "(installed)"
        } else {
            "(not installed)"
        }
        .to_string();
        let outdated = updates.lines().any(|l| {
            l.strip_prefix(n.as_str())
                .is_some_and(|r| r.starts_with('-'))
        });
        match state {
            "absent" if has => changed.push((n.clone(), shown, "(removed)".into())),
            "present" | "latest" if !has => changed.push((n.clone(), shown, "(installed)".into())),
            "latest" if outdated => changed.push((n.clone(), shown, "(latest)".into())),
            _ => {}
        }
    }
    let list: Vec<&str> = changed.iter().map(|c| c.0.as_str()).collect();
    let (verb, line) = match state {
        "absent" => ("remove", format!("apk del {}", quote_all(&list))),
        "latest" => ("install", format!("apk add --upgrade {}", quote_all(&list))),
        _ => ("install", format!("apk add {}", quote_all(&list))),
    };
    if names.is_empty() {
        return Err(Error::failed("package: name must not be empty"));
    }
    let list: Vec<&str> = changed.iter().map(|c| c.0.as_str()).collect();
    let summary = format!("{verb} {}", list.join(", "));
    Ok(pkg_plan(ctx, "apk", summary, line, &changed))
}
