//! `group`: manages groups with groupadd/groupmod/groupdel.

use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::toolkit::{check_name, exec, probe, quote_all, state_diff};
use crate::modules::{
    Args, Module, ModuleDoc, Options, Plan, RESULT_LINE, RequiredIf, TaskCtx, opt,
};
use crate::value::Value;
use async_trait::async_trait;

/// The `group` module.
pub struct Group;

crate::options! {
    /// The `group` module's options.
    pub(crate) struct Opts {
        name: String = opt::str("Group name.").required(),
        state: String = opt::str("Whether the group should exist.").default("present").choices(&["present", "absent"]),
        gid: Option<i64> = opt::int("Group id."),
        system: bool = opt::bool("Create a system group (only when creating).").default("no"),
        non_unique: bool = opt::bool("Allow a gid that is already used (`-o`).").default("no"),
        force: bool = opt::bool("With state=absent, remove it even if it is some user's primary group (`groupdel -f`).").default("no"),
        local: bool = opt::bool("Manage the group in the local /etc/group only, with lgroupadd/lgroupmod/lgroupdel (libuser), for hosts with central directories.").default("no"),
        gid_min: Option<i64> = opt::int("The lowest gid groupadd may pick (`-K GID_MIN=`); not with local."),
        gid_max: Option<i64> = opt::int("The highest gid groupadd may pick (`-K GID_MAX=`); not with local."),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("group", "Manage groups")
    .description(
        "Creates, changes (gid) and removes groups. One round trip reads the group \
(`getent group`); changes run `groupadd`, `groupmod -g` or `groupdel`. The diff shows the group \
before and after. With `local`, existence is read from /etc/group and the libuser commands \
(`lgroupadd`...) are used, as in Ansible. Returns `name`, `state`, `gid` and `system`.",
    )
    .spec::<Opts>()
    .required_if(&[RequiredIf::all("non_unique", "yes", &["gid"])])
    .examples("- group:\n    name: docker\n    gid: 999\n    system: true\n");

#[async_trait]
impl Module for Group {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let name = o.name;
        check_name("group", "group name", &name)?;
        if name.contains(':') {
            return Err(Error::failed(format!("group: invalid group name '{name}'")));
        }
        let state = o.state;
        if o.local {
            for (opt, v) in [("gid_min", o.gid_min), ("gid_max", o.gid_max)] {
                if v.is_some() {
                    return Ok(Plan::fail(format!("'{opt}' can not be used with 'local'")));
                }
            }
        }
        let (add, modify, del) = if o.local {
            ("lgroupadd", "lgroupmod", "lgroupdel")
        } else {
            ("groupadd", "groupmod", "groupdel")
        };
        let read = if o.local {
            // Only the local file counts (getent also sees directory groups).
            format!(
                "if [ ! -e /etc/group ]; then echo '@@nofile'; else grep -- {} /etc/group || true; fi; \
                 command -v {add} >/dev/null 2>&1 || echo '@@nocmd'{}",
                quote(&format!("^{name}:")),
                o.gid
                    .map(|g| format!("; echo '@@gid'; getent group {g} || true"))
                    .unwrap_or_default()
            )
        } else {
            format!("getent group {} || true", quote(&name))
        };
        let out = probe(ctx, read, &format!("group {name}")).await?;
        if out.contains("@@nofile") {
            return Ok(Plan::fail(
                "'local: true' specified but unable to find local group file /etc/group to parse.",
            ));
        }
        let (out, by_gid) = out.split_once("@@gid\n").unwrap_or((out.as_str(), ""));
        let missing_cmd = out.contains("@@nocmd");
        let out = out.replace("@@nocmd\n", "");
        if o.local
            && let Some(other) = by_gid
                .lines()
                .filter_map(|l| l.split(':').next())
                .find(|g| !g.is_empty() && *g != name)
            && state == "present"
        {
            return Ok(Plan::fail(format!(
                "GID '{}' already exists with group '{other}'",
                o.gid.unwrap_or_default()
            )));
        }
        let cur_gid = out
            .lines()
            .next()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 3)
            .map(|f| f[2].to_string());
        let system = o.system;
        let mut plan = Plan::ok()
            .with("name", name.as_str())
            .with("state", state.as_str())
            .with("system", system);
        let want_gid = o.gid;
        if state == "absent" {
            let Some(g) = cur_gid else { return Ok(plan) };
            if missing_cmd {
                return Ok(Plan::fail(format!(
                    "Failed to find required executable \"{del}\""
                )));
            }
            let mut cmd = vec![del.to_string()];
            if o.force {
                cmd.push("-f".into());
            }
            cmd.push(name.clone());
            return Ok(plan.change(
                format!("remove group {name}"),
                Some(state_diff(
                    &name,
                    &[
                        ("group", name.clone()),
                        ("gid", g),
                        ("state", "present".into()),
                    ],
                    &[("group", name.clone()), ("state", "absent".into())],
                )),
                exec(ctx, quote_all(&cmd), false),
            ));
        }
        match cur_gid {
            None => {
                if missing_cmd {
                    return Ok(Plan::fail(format!(
                        "Failed to find required executable \"{add}\""
                    )));
                }
                let mut cmd = vec![add.to_string()];
                let mut after = vec![("group", name.clone()), ("state", "present".to_string())];
                if let Some(g) = want_gid {
                    cmd.extend(["-g".into(), g.to_string()]);
                    if o.non_unique {
                        cmd.push("-o".into());
                    }
                    after.push(("gid", g.to_string()));
                    plan.result.insert("gid".into(), Value::from(g));
                }
                if system {
                    cmd.push("-r".into());
                }
                for (key, v) in [("GID_MIN", o.gid_min), ("GID_MAX", o.gid_max)] {
                    if let Some(v) = v {
                        cmd.extend(["-K".into(), format!("{key}={v}")]);
                    }
                }
                cmd.push(name.clone());
                // The gid the group got is returned (read back after creating it, as Ansible).
                let mut line = quote_all(&cmd);
                if want_gid.is_none() {
                    line.push_str(&format!(
                        " && g=$(getent group {} | cut -d: -f3) && if [ -n \"$g\" ]; then printf '%s{{\"gid\": %s}}\\n' {} \"$g\"; fi",
                        quote(&name),
                        quote(RESULT_LINE)
                    ));
                    plan.output_results = true;
                }
                Ok(plan.change(
                    format!("create group {name}"),
                    Some(state_diff(
                        &name,
                        &[("group", name.clone()), ("state", "absent".into())],
                        &after,
                    )),
                    exec(ctx, line, false),
                ))
            }
            Some(g) => {
                let cur: i64 = g.parse().unwrap_or(-1);
                match want_gid {
                    Some(w) if w != cur => {
                        plan.result.insert("gid".into(), Value::from(w));
                        if missing_cmd {
                            return Ok(Plan::fail(format!(
                                "Failed to find required executable \"{modify}\""
                            )));
                        }
                        let mut cmd = vec![modify.to_string(), "-g".into(), w.to_string()];
                        if o.non_unique {
                            cmd.push("-o".into());
                        }
                        cmd.push(name.clone());
                        Ok(plan.change(
                            format!("change gid of group {name}: {cur} -> {w}"),
                            Some(state_diff(
                                &name,
                                &[("group", name.clone()), ("gid", g)],
                                &[("group", name.clone()), ("gid", w.to_string())],
                            )),
                            exec(ctx, quote_all(&cmd), false),
                        ))
                    }
                    _ => {
                        plan.result.insert("gid".into(), Value::from(cur));
                        Ok(plan)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::validate_args;
    use crate::value::{from_json, value_to_vars};

    #[test]
    fn non_unique_needs_a_gid() {
        let args = |j| validate_args(&DOC, &value_to_vars(&from_json(&j)));
        let e = args(serde_json::json!({"name": "g", "non_unique": true})).unwrap_err();
        assert_eq!(
            e.msg,
            "module 'group': non_unique is yes but all of the following are missing: gid"
        );
        let a = args(serde_json::json!({"name": "g", "non_unique": "yes", "gid": "5"})).unwrap();
        let o = Opts::from_args(&a).unwrap();
        assert!(o.non_unique && !o.system && !o.force);
        assert_eq!((o.gid, o.state.as_str()), (Some(5), "present"));
    }
}
