//! `docker_swarm`: create, join or leave a Docker Swarm.

use super::{docker_probe, jget, json_doc, jstr, jval, result_printf};
use crate::connection::{Stdin, quote};
use crate::error::{Error, Result};
use crate::modules::toolkit::state_diff;
use crate::modules::{Action, Args, Module, ModuleDoc, Options, Plan, RequiredIf, TaskCtx, opt};
use crate::value::{Value, map_value};
use async_trait::async_trait;

crate::options! {
    /// The `docker_swarm` module's options.
    pub(crate) struct Opts {
        state: String = opt::str("Swarm membership wanted.").default("present").choices(&["present", "join", "absent", "inspect"]),
        advertise_addr: Option<String> = opt::str("Address advertised to other nodes (`--advertise-addr`)."),
        listen_addr: Option<String> = opt::str("Listen address for the inter-manager communication (`--listen-addr`)."),
        remote_addrs: Vec<String> = opt::list("Managers to join (`host` or `host:port`; port 2377 is implied)."),
        join_token: Option<String> = opt::str("The worker or manager join token.").secret(),
        default_addr_pool: Vec<String> = opt::list("Address pools for global scope networks (`--default-addr-pool`), at init."),
        subnet_size: Option<i64> = opt::int("Subnet size of networks created from the default pool, at init."),
        data_path_addr: Option<String> = opt::str("Address or interface for data path traffic (`--data-path-addr`)."),
        force: bool = opt::bool("With `absent`: leave even as a manager (`docker swarm leave --force`).").default("no"),
    }
}

impl Opts {
    /// The address options that were given, with their `docker swarm` flags.
    fn addr_flags(&self) -> impl Iterator<Item = (&'static str, &'static str, &String)> {
        [
            ("advertise_addr", "--advertise-addr", &self.advertise_addr),
            ("listen_addr", "--listen-addr", &self.listen_addr),
            ("data_path_addr", "--data-path-addr", &self.data_path_addr),
        ]
        .into_iter()
        .filter_map(|(k, flag, v)| Some((k, flag, v.as_ref()?)))
    }
}

static DOC: ModuleDoc = ModuleDoc::new("docker_swarm", "Create, join or leave a Docker Swarm")
    .description(
        "Manages the swarm membership of the host with the docker CLI. One round trip \
reads `docker info --format '{{json .Swarm}}'` (and, on a manager, the join tokens). \
`state: present` on a node outside any swarm runs `docker swarm init`; on a node that already \
manages a swarm it changes nothing (a healthy swarm is never left or re-initialised). \
`state: present` with `join_token` and `remote_addrs`, or `state: join`, runs \
`docker swarm join` unless the node is already part of a swarm. `state: absent` runs \
`docker swarm leave` (with `force`, needed on managers). `state: inspect` changes nothing \
and only returns the facts. Returns `swarm_facts` \
(`ID`, `JoinTokens.Worker`, `JoinTokens.Manager`) on managers, also right after `init`, so \
workers can use `hostvars[manager].swarm.swarm_facts.JoinTokens.Worker` (in check mode \
a swarm not created yet has no tokens). Join tokens never appear in change summaries, diffs \
or the command lines prov sends: they reach the host through stdin (only the `docker swarm \
join` process itself gets the token as an argument, as the CLI requires).",
    )
    .spec::<Opts>()
    .required_if(&[RequiredIf::all(
        "state",
        "join",
        &["remote_addrs", "join_token"],
    )])
    .examples(
        r#"- docker_swarm:
    state: present
    advertise_addr: 192.168.77.11
  register: swarm
- docker_swarm:
    state: join
    join_token: "{{ hostvars['lab1'].swarm.swarm_facts.JoinTokens.Worker }}"
    remote_addrs: [192.168.77.11]
- docker_swarm:
    state: absent
    force: true
"#,
    );

/// The `docker_swarm` module.
pub struct DockerSwarm;

const PROBE: &str = "echo @@swarm\ndocker info --format '{{json .Swarm}}' || exit 1\n\
s=$(docker info --format '{{.Swarm.ControlAvailable}}')\n\
if [ \"$s\" = true ]; then\n\
echo @@worker; docker swarm join-token -q worker\n\
echo @@manager; docker swarm join-token -q manager\n\
fi\n";

fn with_port(a: &str) -> String {
    let has_port = if a.starts_with('[') {
        a.contains("]:")
    } else {
        a.matches(':').count() == 1
    };
    if has_port {
        a.to_string()
    } else if a.contains(':') && !a.starts_with('[') {
        format!("[{a}]:2377")
    } else {
        format!("{a}:2377")
    }
}

fn swarm_facts(id: &str, worker: &str, manager: &str) -> Value {
    map_value([
        ("ID", Value::from(id)),
        (
            "JoinTokens",
            map_value([
                ("Worker", Value::from(worker)),
                ("Manager", Value::from(manager)),
            ]),
        ),
    ])
}

/// The shell snippet printing `swarm_facts` of a manager as a result line.
fn facts_line() -> String {
    format!(
        "w=$(docker swarm join-token -q worker) && m=$(docker swarm join-token -q manager) && \
         id=$(docker info --format '{{{{.Swarm.Cluster.ID}}}}') && node=$(docker info --format '{{{{.Swarm.NodeID}}}}') || exit 1\n{}",
        result_printf(
            r#"{"swarm_facts":{"ID":"%s","JoinTokens":{"Worker":"%s","Manager":"%s"}},"node_id":"%s"}"#,
            "\"$id\" \"$w\" \"$m\" \"$node\""
        )
    )
}

#[async_trait]
impl Module for DockerSwarm {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let state = o.state.as_str();
        let token = o.join_token.clone().filter(|t| !t.is_empty());
        let remotes = &o.remote_addrs;
        // `state: join` without them fails validation (a rule of the spec); `present` with a
        // token also joins, and empty values count as missing.
        let join = state == "join" || (state == "present" && token.is_some());
        if join && (token.is_none() || remotes.is_empty()) {
            return Err(Error::failed(
                "docker_swarm: joining a swarm needs join_token and remote_addrs",
            ));
        }
        for (k, _, v) in o.addr_flags() {
            crate::modules::toolkit::check_name("docker_swarm", k, v)?;
        }
        let out = docker_probe(ctx, PROBE, "the swarm state").await?;
        let sec = crate::modules::toolkit::sections(&out);
        let info = json_doc(sec.get("swarm").map(String::as_str).unwrap_or(""))?
            .unwrap_or(serde_json::Value::Null);
        let local = jstr(&info, &["LocalNodeState"]).to_string();
        let manager = jget(&info, &["ControlAvailable"]).as_bool() == Some(true);
        let in_swarm = !matches!(local.as_str(), "inactive" | "");
        let node_id = jstr(&info, &["NodeID"]).to_string();
        let cluster_id = jstr(&info, &["Cluster", "ID"]).to_string();
        let mut plan = Plan::ok()
            .with("state", local.as_str())
            .with("node_id", node_id.as_str())
            .with("swarm", jval(&info));
        plan.output_results = true;
        if manager {
            let w = sec.get("worker").map(|s| s.trim()).unwrap_or("");
            let m = sec.get("manager").map(|s| s.trim()).unwrap_or("");
            plan.result
                .insert("swarm_facts".into(), swarm_facts(&cluster_id, w, m));
        }
        let role = |m: bool| if m { "manager" } else { "worker" };
        let before = if in_swarm {
            vec![
                ("swarm", local.clone()),
                ("role", role(manager).to_string()),
            ]
        } else {
            vec![("swarm", local.clone())]
        };
        match state {
            "inspect" => Ok(plan),
            "absent" => {
                if !in_swarm {
                    return Ok(plan);
                }
                if manager && !o.force {
                    return Ok(Plan::fail(format!(
                        "docker_swarm: {} is a swarm manager; leaving needs force: true",
                        ctx.host
                    )));
                }
                let f = if o.force { " --force" } else { "" };
                Ok(plan.change(
                    "docker swarm leave",
                    Some(state_diff(
                        "swarm",
                        &before,
                        &[("swarm", "inactive".to_string())],
                    )),
                    Action::Exec {
                        cmd: ctx.cmd(format!("docker swarm leave{f} >/dev/null")),
                        capture: false,
                        fail_on_rc: true,
                    },
                ))
            }
            _ if join => {
                if in_swarm {
                    return Ok(plan);
                }
                let remote = with_port(&remotes[0]);
                let mut opts = String::new();
                for (_, flag, v) in o.addr_flags() {
                    opts.push_str(&format!(" {flag} {}", quote(v)));
                }
                // The token comes through stdin, never on the command line we send or log.
                let mut cmd = ctx.cmd(format!(
                    "read -r t || exit 1\ndocker swarm join --token \"$t\"{opts} -- {} >/dev/null",
                    quote(&remote)
                ));
                cmd.stdin = Stdin::Bytes(format!("{}\n", token.unwrap_or_default()).into_bytes());
                Ok(plan.change(
                    format!("docker swarm join {remote} (token ***)"),
                    Some(state_diff(
                        "swarm",
                        &before,
                        &[("swarm", "active".to_string()), ("join", remote.clone())],
                    )),
                    Action::Exec {
                        cmd,
                        capture: false,
                        fail_on_rc: true,
                    },
                ))
            }
            _ => {
                if manager {
                    return Ok(plan);
                }
                if in_swarm {
                    return Ok(Plan::fail(format!(
                        "docker_swarm: {} is part of a swarm but not a manager (state {local}); \
                         run docker_swarm state=present on a manager",
                        ctx.host
                    )));
                }
                let mut opts = String::new();
                for (_, flag, v) in o.addr_flags() {
                    opts.push_str(&format!(" {flag} {}", quote(v)));
                }
                for p in &o.default_addr_pool {
                    opts.push_str(&format!(" --default-addr-pool {}", quote(p)));
                }
                if let Some(n) = o.subnet_size {
                    opts.push_str(&format!(" --default-addr-pool-mask-length {n}"));
                }
                let script = format!(
                    "docker swarm init{opts} >/dev/null || exit 1\n{}",
                    facts_line()
                );
                Ok(plan.change(
                    format!("docker swarm init{opts}"),
                    Some(state_diff(
                        "swarm",
                        &before,
                        &[
                            ("swarm", "active".to_string()),
                            ("role", "manager".to_string()),
                        ],
                    )),
                    Action::Exec {
                        cmd: ctx.cmd(script),
                        capture: false,
                        fail_on_rc: true,
                    },
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(with_port("10.0.0.1"), "10.0.0.1:2377");
        assert_eq!(with_port("10.0.0.1:4000"), "10.0.0.1:4000");
        assert_eq!(with_port("fe80::1"), "[fe80::1]:2377");
        assert_eq!(with_port("[fe80::1]:1"), "[fe80::1]:1");
        assert_eq!(with_port("lab1"), "lab1:2377");
    }
}
