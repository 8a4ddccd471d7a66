//! `docker_node`: labels, availability and role of a swarm node (run on a manager).

use super::{dict_opt, docker_probe, jget, json_lines, jstr, str_map};
use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::toolkit::{check_name, state_diff};
use crate::modules::{Action, Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;
use std::collections::BTreeMap;

crate::options! {
    /// The `docker_node` module's options.
    pub(crate) struct Opts {
        hostname: String = opt::str("The node: hostname or ID (as `docker node inspect` accepts).").required(),
        labels: Option<Value> = opt::dict("Labels wanted on the node."),
        labels_state: String = opt::str("Whether `labels` are merged into the node's labels or replace them.").default("merge").choices(&["merge", "replace"]),
        labels_to_remove: Vec<String> = opt::list("Label keys to remove."),
        availability: Option<String> = opt::str("Scheduling availability.").choices(&["active", "pause", "drain"]),
        role: Option<String> = opt::str("Node role.").choices(&["worker", "manager"]),
    }
}

static DOC: ModuleDoc = ModuleDoc::new(
    "docker_node",
    "Manage a Docker Swarm node's labels, availability and role",
)
.description(
    "Runs on a swarm manager. One round trip reads the node with \
`docker node inspect NAME --format '{{json .}}'`; the plan is a single `docker node update` \
with `--label-add`/`--label-rm`, `--availability` and `--role` for exactly what differs, and \
a diff of the node's labels, availability and role. `labels_state: merge` (the default) adds \
and updates the given labels and keeps the others; `replace` also removes labels not given. \
`labels_to_remove` removes labels (a label both given and to remove is an error). Returns \
`node` (the inspection, before the change).",
)
.spec::<Opts>()
.examples(
    r#"- docker_node:
    hostname: lab2
    labels:
      pg: primary
    availability: active
"#,
);

/// The `docker_node` module.
pub struct DockerNode;

fn render(
    labels: &BTreeMap<String, String>,
    avail: &str,
    role: &str,
) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> =
        vec![("availability", avail.into()), ("role", role.into())];
    for (k, val) in labels {
        v.push(("label", format!("{k}={val}")));
    }
    v
}

#[async_trait]
impl Module for DockerNode {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let name = o.hostname;
        check_name("docker_node", "hostname", &name)?;
        let want = dict_opt(o.labels.as_ref());
        let remove = o.labels_to_remove;
        for (k, _) in &want {
            if k.is_empty() || k.contains('=') {
                return Err(Error::failed(format!(
                    "docker_node: invalid label key '{k}'"
                )));
            }
            if remove.contains(k) {
                return Err(Error::failed(format!(
                    "docker_node: label '{k}' is both in labels and labels_to_remove"
                )));
            }
        }
        let script = format!(
            "if [ \"$(docker info --format '{{{{.Swarm.ControlAvailable}}}}')\" != true ]; then \
             echo 'this host is not a swarm manager (docker_node runs on a manager)' >&2; exit 1; fi\n\
             docker node inspect {} --format '{{{{json .}}}}' 2>&1 || exit 0\n",
            quote(&name)
        );
        let out = docker_probe(ctx, &script, "the swarm node").await?;
        if out.trim_start().starts_with("Error") || !out.trim_start().starts_with('{') {
            return Ok(Plan::fail(format!(
                "docker_node: node '{name}' not found in the swarm: {}",
                out.trim()
            )));
        }
        let node = json_lines(&out)?.into_iter().next().unwrap_or_default();
        let spec = jget(&node, &["Spec"]);
        let have: BTreeMap<String, String> = str_map(jget(spec, &["Labels"])).into_iter().collect();
        let avail = jstr(spec, &["Availability"]).to_string();
        let role = jstr(spec, &["Role"]).to_string();
        let mut new = if o.labels_state == "replace" {
            BTreeMap::new()
        } else {
            have.clone()
        };
        for (k, v) in &want {
            new.insert(k.clone(), v.clone());
        }
        for k in &remove {
            new.remove(k);
        }
        let new_avail = o.availability.unwrap_or_else(|| avail.clone());
        let new_role = o.role.unwrap_or_else(|| role.clone());
        let mut plan = Plan::ok()
            .with("node", super::jval(&node))
            .with("node_id", jstr(&node, &["ID"]));
        let mut opts = Vec::new();
        for k in have.keys() {
            if !new.contains_key(k) {
                opts.push(format!("--label-rm {}", quote(k)));
            }
        }
        for (k, v) in &new {
            if have.get(k) != Some(v) {
                opts.push(format!("--label-add {}", quote(&format!("{k}={v}"))));
            }
        }
        if new_avail != avail {
            opts.push(format!("--availability {}", quote(&new_avail)));
        }
        if new_role != role {
            opts.push(format!("--role {}", quote(&new_role)));
        }
        if opts.is_empty() {
            return Ok(plan);
        }
        let line = format!("docker node update {} {}", opts.join(" "), quote(&name));
        plan = plan.change(
            line.clone(),
            Some(state_diff(
                &format!("node {name}"),
                &render(&have, &avail, &role),
                &render(&new, &new_avail, &new_role),
            )),
            Action::Exec {
                cmd: ctx.cmd(format!("{line} >/dev/null")),
                capture: false,
                fail_on_rc: true,
            },
        );
        plan.result.insert(
            "labels".into(),
            Value::from_iter(
                new.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str()))),
            ),
        );
        Ok(plan)
    }
}
