//! `docker_network`: create or remove a Docker network.

use super::{dict_opt, docker_probe, jget, json_lines, jstr, str_map};
use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::toolkit::{check_name, state_diff};
use crate::modules::{Action, Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

crate::options! {
    /// The `docker_network` module's options.
    pub(crate) struct Opts {
        name: String = opt::str("Network name.").required().aliases(&["network_name"]),
        driver: String = opt::str("Network driver (`bridge`, `overlay`, ...).").default("bridge"),
        attachable: Option<bool> = opt::bool("Standalone containers may attach (overlay networks)."),
        scope: Option<String> = opt::str("Network scope.").choices(&["local", "global", "swarm"]),
        internal: Option<bool> = opt::bool("No external connectivity."),
        ipam_config: Option<Value> = opt::list("IPAM pools: a list of dicts with `subnet`, `gateway`, `iprange`."),
        driver_options: Option<Value> = opt::dict("Driver options (`--opt k=v`)."),
        labels: Option<Value> = opt::dict("Network labels."),
        force: bool = opt::bool("Recreate the network when its immutable settings differ.").default("no"),
        state: String = opt::str("Whether the network exists.").default("present").choices(&["present", "absent"]),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("docker_network", "Manage Docker networks")
    .description(
        "One round trip reads the network (`docker network inspect NAME`). A missing \
network is created with `docker network create` (driver, `--attachable`, `--scope`, \
`--internal`, `--subnet`/`--gateway`/`--ip-range` from `ipam_config`, `--opt`, `--label`). \
Docker cannot change a network in place: when an existing network differs in driver, \
attachable, scope, internal, subnets, options or labels, the module fails naming the \
differences, unless `force: true`, which removes and recreates it (containers attached to it \
must be gone first). `state: absent` removes it. Returns `network` (the inspection, before \
the change).",
    )
    .spec::<Opts>()
    .examples(
        r#"- docker_network:
    name: pgnet
    driver: overlay
    attachable: true
    ipam_config:
      - subnet: 10.20.0.0/24
"#,
    );

/// The `docker_network` module.
pub struct DockerNetwork;

/// One IPAM pool: subnet, gateway, ip range.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pool {
    subnet: String,
    gateway: String,
    iprange: String,
}

fn want_pools(ipam_config: Option<&Value>) -> Result<Vec<Pool>> {
    let Some(v) = ipam_config else {
        return Ok(vec![]);
    };
    let j = crate::value::to_json(v);
    let mut out = Vec::new();
    for p in j.as_array().into_iter().flatten() {
        if !p.is_object() {
            return Err(Error::failed(
                "docker_network: ipam_config must be a list of dicts with subnet, gateway, iprange",
            ));
        }
        let g = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        out.push(Pool {
            subnet: g("subnet"),
            gateway: g("gateway"),
            iprange: {
                let r = g("iprange");
                if r.is_empty() { g("ip_range") } else { r }
            },
        });
    }
    out.sort();
    Ok(out)
}

#[async_trait]
impl Module for DockerNetwork {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let name = o.name;
        check_name("docker_network", "name", &name)?;
        let script = format!(
            "docker network inspect {} --format '{{{{json .}}}}' 2>/dev/null || {}\n",
            quote(&name),
            super::UNLESS_DAEMON_DOWN
        );
        let out = docker_probe(ctx, &script, "the network").await?;
        // `inspect NAME` also matches by ID prefix: keep the network with that exact name.
        let nets = json_lines(&out)?;
        let cur = nets.iter().find(|n| jstr(n, &["Name"]) == name);
        let mut plan = Plan::ok().with("network", cur.map(super::jval).unwrap_or(Value::from(())));
        let rm = || Action::Exec {
            cmd: ctx.cmd(format!("docker network rm {} >/dev/null", quote(&name))),
            capture: false,
            fail_on_rc: true,
        };
        if o.state == "absent" {
            if cur.is_some() {
                plan = plan.change(
                    format!("remove network {name}"),
                    Some(state_diff(
                        &format!("network {name}"),
                        &[("state", "present".into())],
                        &[("state", "absent".into())],
                    )),
                    rm(),
                );
            }
            return Ok(plan);
        }
        let driver = o.driver;
        let pools = want_pools(o.ipam_config.as_ref())?;
        let opts = dict_opt(o.driver_options.as_ref());
        let labels = dict_opt(o.labels.as_ref());
        let mut create = format!("docker network create --driver {}", quote(&driver));
        if o.attachable == Some(true) {
            create.push_str(" --attachable");
        }
        if o.internal == Some(true) {
            create.push_str(" --internal");
        }
        if let Some(s) = &o.scope {
            create.push_str(&format!(" --scope {}", quote(s)));
        }
        for p in &pools {
            for (flag, v) in [
                ("--subnet", &p.subnet),
                ("--gateway", &p.gateway),
                ("--ip-range", &p.iprange),
            ] {
                if !v.is_empty() {
                    create.push_str(&format!(" {flag} {}", quote(v)));
                }
            }
        }
        for (k, v) in &opts {
            create.push_str(&format!(" --opt {}", quote(&format!("{k}={v}"))));
        }
        for (k, v) in &labels {
            create.push_str(&format!(" --label {}", quote(&format!("{k}={v}"))));
        }
        create.push_str(&format!(" {}", quote(&name)));
        let Some(cur) = cur else {
            let mut after = vec![("state", "present".to_string()), ("driver", driver.clone())];
            for p in &pools {
                after.push(("subnet", p.subnet.clone()));
            }
            return Ok(plan.change(
                format!("create network {name}"),
                Some(state_diff(
                    &format!("network {name}"),
                    &[("state", "absent".into())],
                    &after,
                )),
                Action::Exec {
                    cmd: ctx.cmd(format!("{create} >/dev/null")),
                    capture: false,
                    fail_on_rc: true,
                },
            ));
        };
        // What differs from the existing network (only what the task sets is compared).
        let mut before: Vec<(&str, String)> = Vec::new();
        let mut after: Vec<(&str, String)> = Vec::new();
        let mut diff = |k: &'static str, have: String, want: String| {
            if have != want {
                before.push((k, have));
                after.push((k, want));
            }
        };
        diff("driver", jstr(cur, &["Driver"]).into(), driver.clone());
        if let Some(a) = o.attachable {
            let have = jget(cur, &["Attachable"]).as_bool().unwrap_or(false);
            diff("attachable", have.to_string(), a.to_string());
        }
        if let Some(i) = o.internal {
            let have = jget(cur, &["Internal"]).as_bool().unwrap_or(false);
            diff("internal", have.to_string(), i.to_string());
        }
        if let Some(s) = o.scope {
            diff("scope", jstr(cur, &["Scope"]).into(), s);
        }
        if !pools.is_empty() {
            let mut have: Vec<Pool> = jget(cur, &["IPAM", "Config"])
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| Pool {
                    subnet: jstr(c, &["Subnet"]).into(),
                    gateway: if pools.iter().any(|p| !p.gateway.is_empty()) {
                        jstr(c, &["Gateway"]).into()
                    } else {
                        String::new()
                    },
                    iprange: jstr(c, &["IPRange"]).into(),
                })
                .collect();
            have.sort();
            let show = |ps: &[Pool]| {
                ps.iter()
                    .map(|p| p.subnet.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            if have != pools {
                before.push(("ipam_config", show(&have)));
                after.push(("ipam_config", show(&pools)));
            }
        }
        let have_opts = str_map(jget(cur, &["Options"]));
        for (k, v) in &opts {
            if have_opts.get(k) != Some(v) {
                before.push((
                    "option",
                    format!("{k}={}", have_opts.get(k).cloned().unwrap_or_default()),
                ));
                after.push(("option", format!("{k}={v}")));
            }
        }
        let have_labels = str_map(jget(cur, &["Labels"]));
        for (k, v) in &labels {
            if have_labels.get(k) != Some(v) {
                before.push((
                    "label",
                    format!("{k}={}", have_labels.get(k).cloned().unwrap_or_default()),
                ));
                after.push(("label", format!("{k}={v}")));
            }
        }
        if before.is_empty() {
            return Ok(plan);
        }
        if !o.force {
            let what: Vec<String> = before
                .iter()
                .zip(&after)
                .map(|((k, b), (_, a))| format!("{k}: {b} -> {a}"))
                .collect();
            return Ok(Plan::fail(format!(
                "docker_network: network {name} exists with other settings ({}); Docker cannot \
                 change a network in place: set force: true to remove and recreate it",
                what.join("; ")
            )));
        }
        Ok(plan.change(
            format!("recreate network {name}"),
            Some(state_diff(&format!("network {name}"), &before, &after)),
            Action::Exec {
                // Removing a swarm network takes a moment: wait until the name is free.
                cmd: ctx.cmd(format!(
                    "docker network rm {n} >/dev/null || exit 1\n\
                     i=0; while docker network inspect {n} >/dev/null 2>&1; do \
                     i=$((i+1)); [ $i -gt 300 ] && {{ echo {stuck} >&2; exit 1; }}; \
                     sleep 0.1; done\n{create} >/dev/null",
                    n = quote(&name),
                    stuck = quote(&format!("network {name} still exists 30 s after removal")),
                )),
                capture: false,
                fail_on_rc: true,
            },
        ))
    }
}
