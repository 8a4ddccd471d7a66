//! `docker_swarm_info`: facts about the swarm and its nodes.

use super::{docker_probe, jget, json_doc, json_lines, jval};
use crate::error::Result;
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

crate::options! {
    /// The `docker_swarm_info` module's options.
    pub(crate) struct Opts {
        nodes: bool = opt::bool("List the swarm's nodes (on a manager).").default("no"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("docker_swarm_info", "Facts about a Docker Swarm")
    .description(
        "Reads `docker info --format '{{json .Swarm}}'` and, on a manager, \
`docker node ls` (with `nodes: true`). Never changes anything. Returns \
`can_talk_to_docker`, `docker_swarm_active`, `docker_swarm_manager`, `swarm_facts` (the \
`.Swarm` section of docker info) and `nodes` (one object per node: ID, Hostname, Status, \
Availability, ManagerStatus, EngineVersion).",
    )
    .spec::<Opts>()
    .examples("- docker_swarm_info:\n    nodes: true\n  register: info\n");

/// The `docker_swarm_info` module.
pub struct DockerSwarmInfo;

#[async_trait]
impl Module for DockerSwarmInfo {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let mut script =
            String::from("echo @@swarm\ndocker info --format '{{json .Swarm}}' || exit 1\n");
        if Opts::from_args(args)?.nodes {
            script.push_str(
                "if [ \"$(docker info --format '{{.Swarm.ControlAvailable}}')\" = true ]; then \
                 echo @@nodes; docker node ls --format '{{json .}}' || exit 1; fi\n",
            );
        }
        let out = docker_probe(ctx, &script, "the swarm").await?;
        let sec = crate::modules::toolkit::sections(&out);
        let swarm = json_doc(sec.get("swarm").map(String::as_str).unwrap_or(""))?
            .unwrap_or(serde_json::Value::Null);
        let active = !matches!(super::jstr(&swarm, &["LocalNodeState"]), "inactive" | "");
        let manager = jget(&swarm, &["ControlAvailable"]).as_bool() == Some(true);
        let mut plan = Plan::ok()
            .with("can_talk_to_docker", true)
            .with("docker_swarm_active", active)
            .with("docker_swarm_manager", manager)
            .with("swarm_facts", jval(&swarm));
        if let Some(n) = sec.get("nodes") {
            let nodes: Vec<Value> = json_lines(n)?.iter().map(jval).collect();
            plan = plan.with("nodes", nodes);
        }
        Ok(plan)
    }
}
