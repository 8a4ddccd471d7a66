//! `docker_stack`: deploy or remove a Docker Swarm stack from compose files.

use super::{canonical_json, docker_probe, json_lines, jstr};
use crate::connection::{Stdin, quote};
use crate::error::{Error, Result};
use crate::modules::toolkit::{check_name, sections, sha256_hex};
use crate::modules::{
    Action, Args, Diff, Module, ModuleDoc, Options, Plan, RESULT_LINE, TaskCtx, opt,
};
use crate::value::{Value, map_value};
use async_trait::async_trait;
use serde_json::{Map, Value as Json};
use std::path::Path;

/// The service label holding the hash of the service's compose definition.
pub const COMPOSE_LABEL: &str = "prov.compose.sha256";
/// The service label holding a short hash of each top-level key of the service's compose
/// definition (`{"command":"1a2b..","image":".."}`): the diff names the keys that changed
/// without showing values (environment values may be secrets).
pub const FIELDS_LABEL: &str = "prov.compose.fields";
const NS_LABEL: &str = "com.docker.stack.namespace";

crate::options! {
    /// The `docker_stack` module's options.
    pub(crate) struct Opts {
        name: String = opt::str("Stack name (services are named NAME_KEY).").required(),
        compose: Option<Value> = opt::list("Compose files: paths on the host and/or inline compose dicts, merged in order."),
        state: String = opt::str("Whether the stack is deployed.").default("present").choices(&["present", "absent"]),
        prune: bool = opt::bool("Remove the stack's services that are not in the compose files (`--prune`).").default("no"),
        with_registry_auth: bool = opt::bool("Send registry credentials to the swarm agents (`--with-registry-auth`).").default("no"),
        resolve_image: Option<String> = opt::str("Query the registry for image digests (`--resolve-image`); use `never` without a registry.").choices(&["always", "changed", "never"]),
        wait: bool = opt::bool("After deploying, wait until the services converge (or, when absent, are gone).").default("no"),
        wait_timeout: i64 = opt::int("Seconds to wait with `wait` (and for `absent`).").default("300"),
        absent_retries: Option<i64> = opt::int("Ansible compatibility: with `absent_retries_interval`, how long (retries x interval seconds) to wait for the stack to be gone; default `wait_timeout`."),
        absent_retries_interval: i64 = opt::int("Ansible compatibility: seconds between the checks of `absent_retries`.").default("1"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("docker_stack", "Deploy or remove a Docker Swarm stack")
    .description(
        "Runs on a swarm manager. One round trip reads the compose files (paths on \
the host; they are parsed on the controller) and the stack's services \
(`docker service inspect`). Each service's compose definition (all files merged: mappings \
deeply, other values replaced by later files) is hashed and deployed with the service label \
`prov.compose.sha256`, through a generated compose file written to a temp file on the host \
(inline compose dicts go into it too). So check mode names exactly the services that would \
be created, updated (their definition changed) or, with `prune`, removed; when none differ \
nothing is deployed. The deploy (`docker stack deploy -c ... NAME`) compares the services' \
specs before and after, and the task is `changed` only when they differ. With `wait`, it \
then waits until every service has all its replicas running and no update in progress (up to \
`wait_timeout` seconds), and fails naming the services that did not converge. \
`state: absent` runs `docker stack rm` and waits until the services and networks are gone. \
The diff lists each service's compose keys with a short hash of their values (stored in the \
label `prov.compose.fields`), so it names the keys that change without showing values. \
Returns `stack_services` (one entry per service: `name`, `action`, `compose_sha256`) and, \
after a deploy, `services` (`docker service ls` of the stack).",
    )
    .spec::<Opts>()
    .examples(
        r#"- docker_stack:
    name: pg
    compose:
      - /srv/pg/stack.yml
      - services:
          db:
            environment:
              MODE: replica
    resolve_image: never
    wait: true
    wait_timeout: 120
- docker_stack:
    name: pg
    state: absent
"#,
    );

/// The `docker_stack` module.
pub struct DockerStack;

/// Merges `b` into `a`: mappings deeply, everything else replaced.
fn merge(a: &mut Json, b: &Json) {
    match (a, b) {
        (Json::Object(am), Json::Object(bm)) => {
            for (k, v) in bm {
                match am.get_mut(k) {
                    Some(x) => merge(x, v),
                    None => {
                        am.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (a, b) => *a = b.clone(),
    }
}

/// One service of the compose files: its key and the hash of its definition.
#[derive(Debug, Clone, PartialEq)]
struct Wanted {
    key: String,
    hash: String,
    /// Top-level key → short hash, as canonical JSON.
    fields: String,
}

/// Short hashes of each top-level key of a service definition, as canonical JSON.
fn field_hashes(def: &Json) -> String {
    let mut m = Map::new();
    for (k, v) in def.as_object().into_iter().flatten() {
        m.insert(
            k.clone(),
            Json::String(sha256_hex(canonical_json(v).as_bytes())[..12].to_string()),
        );
    }
    canonical_json(&Json::Object(m))
}

/// Diff lines of one service: one per compose key with its short hash.
fn field_lines(full: &str, fields: &str, hash: &str) -> String {
    match serde_json::from_str::<Json>(fields) {
        Ok(Json::Object(m)) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{full}.{k}: {}\n", v.as_str().unwrap_or("")))
            .collect(),
        _ if hash.is_empty() => format!("{full}: (not deployed by prov)\n"),
        _ => format!("{full}: {}\n", &hash[..12.min(hash.len())]),
    }
}

/// The services of the merged compose data, with their hashes.
fn wanted_services(merged: &Json) -> Result<Vec<Wanted>> {
    let Some(svcs) = merged.get("services").and_then(Json::as_object) else {
        return Err(Error::failed(
            "docker_stack: the compose files define no services",
        ));
    };
    Ok(svcs
        .iter()
        .map(|(k, v)| {
            let v = with_references(merged, v);
            Wanted {
                key: k.clone(),
                hash: sha256_hex(canonical_json(&v).as_bytes()),
                fields: field_hashes(&v),
            }
        })
        .collect())
}

/// A service definition whose `configs`, `secrets`, `networks` and `volumes` also carry the
/// top-level definitions they name, so that a service counts as changed when what it uses
/// changes (a config's new content-hash name, a secret's new version, a network option) even
/// though its own text is the same. Each field becomes `{"use": <as written>, "defs": {...}}`.
fn with_references(merged: &Json, svc: &Json) -> Json {
    let mut out = svc.clone();
    let Some(obj) = out.as_object_mut() else {
        return out;
    };
    for field in ["configs", "secrets", "networks", "volumes"] {
        let Some(used) = obj.get(field) else {
            continue;
        };
        let names: Vec<String> = match used {
            Json::Array(items) => items
                .iter()
                .filter_map(|i| match i {
                    Json::String(s) if field == "volumes" => {
                        // "name:/path[:mode]" is a named volume; "/host:/path" or "./x" a bind.
                        let src = s.split(':').next().unwrap_or_default();
                        (s.contains(':') && !src.starts_with(['/', '.', '~'])).then(|| src.into())
                    }
                    Json::String(s) => Some(s.clone()),
                    Json::Object(m) => m.get("source").and_then(Json::as_str).map(str::to_string),
                    _ => None,
                })
                .collect(),
            Json::Object(m) => m.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let defs: Map<String, Json> = names
            .into_iter()
            .filter_map(|n| {
                let d = merged.get(field)?.get(&n)?.clone();
                Some((n, d))
            })
            .collect();
        if !defs.is_empty() {
            let used = used.clone();
            obj.insert(
                field.into(),
                serde_json::json!({"use": used, "defs": Json::Object(defs)}),
            );
        }
    }
    out
}

/// The generated compose file: inline compose data plus the hash label on every service.
fn override_file(version: &str, inline: &Json, wanted: &[Wanted]) -> Json {
    let mut out = Json::Object(Map::new());
    merge(&mut out, inline);
    let mut services = Map::new();
    for w in wanted {
        services.insert(
            w.key.clone(),
            serde_json::json!({"deploy": {"labels": {COMPOSE_LABEL: w.hash, FIELDS_LABEL: w.fields}}}),
        );
    }
    merge(&mut out, &serde_json::json!({ "services": services }));
    if let Json::Object(m) = &mut out {
        m.insert("version".into(), Json::String(version.to_string()));
    }
    out
}

fn wait_loop(ns: &str, stack: &str, timeout: i64) -> String {
    format!(
        "end=$(( $(date +%s) + {timeout} ))\n\
         while :; do\n\
         p=$(docker service ls --filter label={ns} --format '{{{{.Name}}}} {{{{.Replicas}}}}' | awk '{{split($2,a,\"/\"); if (a[1]!=a[2]) print $1}}')\n\
         u=$(docker service ls -q --filter label={ns} | xargs -r docker service inspect --format '{{{{.Spec.Name}}}} {{{{if .UpdateStatus}}}}{{{{.UpdateStatus.State}}}}{{{{end}}}}' | awk '$2==\"updating\"||$2==\"rollback_started\"{{print $1}}')\n\
         t=$(docker stack ps {stack} --filter desired-state=running --format '{{{{.Name}}}} {{{{.CurrentState}}}}' 2>/dev/null | awk '$2!=\"Running\"{{print $1}}')\n\
         [ -z \"$p$u$t\" ] && break\n\
         if [ \"$(date +%s)\" -ge \"$end\" ]; then echo \"services did not converge within {timeout} s:\" $p $u $t >&2; \
         docker stack ps {stack} --no-trunc --format '{{{{.Name}}}} {{{{.CurrentState}}}} {{{{.Error}}}}' 2>&1 | awk '!seen[$1]++' | head -40 >&2; exit 1; fi\n\
         sleep 1\n\
         done\n",
        ns = quote(&format!("{NS_LABEL}={ns}")),
        stack = quote(stack),
    )
}

#[async_trait]
impl Module for DockerStack {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let name = o.name.clone();
        check_name("docker_stack", "name", &name)?;
        let absent = o.state == "absent";
        let timeout = o.wait_timeout.max(1);
        let absent_timeout = match o.absent_retries {
            Some(n) => (n * o.absent_retries_interval).max(1),
            None => timeout,
        };
        let nsf = quote(&format!("{NS_LABEL}={name}"));
        // Compose entries: paths (read on the host) and inline dicts.
        let mut paths = Vec::new();
        let mut inline = Json::Object(Map::new());
        if let Some(v) = &o.compose {
            for item in crate::value::to_json(v).as_array().into_iter().flatten() {
                match item {
                    Json::String(p) => paths.push(p.clone()),
                    Json::Object(_) => merge(&mut inline, item),
                    other => {
                        return Err(Error::failed(format!(
                            "docker_stack: compose entries must be paths or dicts, got {other}"
                        )));
                    }
                }
            }
        }
        if !absent && paths.is_empty() && inline.as_object().is_some_and(Map::is_empty) {
            return Err(Error::failed(
                "docker_stack: state present needs compose (paths on the host or inline dicts)",
            ));
        }
        let mut script = String::from(
            "if [ \"$(docker info --format '{{.Swarm.ControlAvailable}}')\" != true ]; then \
             echo 'this host is not a swarm manager (docker_stack runs on a manager)' >&2; exit 1; fi\n",
        );
        if !absent {
            for (i, p) in paths.iter().enumerate() {
                script.push_str(&format!(
                    "if [ -f {q} ]; then echo @@file{i}; sed 's/^/|/' {q} || exit 1; else echo @@missing{i}; fi\n",
                    q = quote(p)
                ));
            }
        }
        script.push_str(&format!(
            "echo @@services\ndocker service ls -q --filter label={nsf} | xargs -r docker service inspect --format '{{{{json .}}}}' || exit 1\n\
             echo @@networks\ndocker network ls -q --filter label={nsf}\n"
        ));
        let out = docker_probe(ctx, &script, "the stack").await?;
        let sec = sections(&out);
        let existing = json_lines(sec.get("services").map(String::as_str).unwrap_or(""))?;
        // (name, hash, field hashes) of the stack's services.
        let have: Vec<(String, String, String)> = existing
            .iter()
            .map(|s| {
                (
                    jstr(s, &["Spec", "Name"]).to_string(),
                    jstr(s, &["Spec", "Labels", COMPOSE_LABEL]).to_string(),
                    jstr(s, &["Spec", "Labels", FIELDS_LABEL]).to_string(),
                )
            })
            .collect();
        let mut plan = Plan::ok();
        plan.output_results = true;
        if absent {
            let nets = sec.get("networks").map(|s| s.trim()).unwrap_or("");
            plan.result.insert(
                "stack_services".into(),
                have.iter()
                    .map(|(n, _, _)| {
                        map_value([
                            ("name", Value::from(n.as_str())),
                            ("action", Value::from("remove")),
                        ])
                    })
                    .collect::<Vec<_>>()
                    .into(),
            );
            if have.is_empty() && nets.is_empty() {
                return Ok(plan);
            }
            let before: String = have
                .iter()
                .map(|(n, _, _)| format!("service {n}\n"))
                .collect();
            let script = format!(
                "docker stack rm {s} >&2 || exit 1\nend=$(( $(date +%s) + {absent_timeout} ))\n\
                 while [ -n \"$(docker service ls -q --filter label={nsf})$(docker network ls -q --filter label={nsf})\" ]; do\n\
                 if [ \"$(date +%s)\" -ge \"$end\" ]; then echo {late} >&2; exit 1; fi\n\
                 sleep 1\ndone\n",
                s = quote(&name),
                late = quote(&format!(
                    "stack {name} not removed within {absent_timeout} s"
                )),
            );
            return Ok(plan.change(
                format!("docker stack rm {name}"),
                Some(Diff::new(&format!("stack {name}"), before, "")),
                Action::Exec {
                    cmd: ctx.cmd(script),
                    capture: false,
                    fail_on_rc: true,
                },
            ));
        }
        // Parse and merge the compose files.
        let mut merged = Json::Object(Map::new());
        for (i, p) in paths.iter().enumerate() {
            if sec.contains_key(&format!("missing{i}")) {
                return Ok(Plan::fail(format!(
                    "docker_stack: compose file {p} does not exist on {}",
                    ctx.host
                )));
            }
            let text: String = sec
                .get(&format!("file{i}"))
                .map(|s| {
                    s.lines()
                        .map(|l| format!("{}\n", l.strip_prefix('|').unwrap_or(l)))
                        .collect()
                })
                .unwrap_or_default();
            let node = crate::yaml::load_str(&text, Path::new(&format!("{}:{p}", ctx.host)))?;
            let j = crate::value::to_json(&node.to_value());
            if !j.is_object() {
                return Ok(Plan::fail(format!(
                    "docker_stack: compose file {p} is not a mapping"
                )));
            }
            merge(&mut merged, &j);
        }
        merge(&mut merged, &inline);
        let wanted = wanted_services(&merged)?;
        let version = merged
            .get("version")
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .unwrap_or_else(|| "3.8".into());
        let prune = o.prune;
        let mut entries = Vec::new();
        let mut summaries = Vec::new();
        let (mut before, mut after) = (String::new(), String::new());
        for w in &wanted {
            let full = format!("{name}_{}", w.key);
            let cur = have.iter().find(|(n, _, _)| *n == full);
            let action = match cur {
                None => "create",
                Some((_, h, _)) if *h != w.hash => "update",
                Some(_) => "unchanged",
            };
            if let Some((_, h, f)) = cur {
                before.push_str(&field_lines(&full, f, h));
            }
            after.push_str(&field_lines(&full, &w.fields, &w.hash));
            if action != "unchanged" {
                summaries.push(format!("{action} service {full}"));
            }
            entries.push(map_value([
                ("name", Value::from(full.as_str())),
                ("action", Value::from(action)),
                ("compose_sha256", Value::from(w.hash.as_str())),
            ]));
        }
        for (n, h, f) in &have {
            if wanted.iter().any(|w| format!("{name}_{}", w.key) == *n) {
                continue;
            }
            before.push_str(&field_lines(n, f, h));
            if prune {
                summaries.push(format!("remove service {n}"));
                entries.push(map_value([
                    ("name", Value::from(n.as_str())),
                    ("action", Value::from("remove")),
                ]));
            } else {
                after.push_str(&field_lines(n, f, h));
            }
        }
        plan.result
            .insert("stack_services".into(), Value::from(entries));
        if summaries.is_empty() {
            // Nothing to deploy, but `wait` still means "converged": a stack whose tasks are
            // still starting (or failing) is waited for, read-only, and reported if it never
            // converges. Check mode does not wait.
            if o.wait && !ctx.check_mode && !have.is_empty() {
                let out = ctx.run(wait_loop(&name, &name, timeout)).await?;
                if out.rc != 0 {
                    return Err(Error::failed(format!(
                        "docker stack {name}: {}",
                        out.stderr_str().trim()
                    )));
                }
            }
            return Ok(plan);
        }
        let generated = override_file(&version, &inline, &wanted);
        let mut deploy = String::from("docker stack deploy");
        for p in &paths {
            deploy.push_str(&format!(" -c {}", quote(p)));
        }
        deploy.push_str(" -c \"$f\"");
        if prune {
            deploy.push_str(" --prune");
        }
        if o.with_registry_auth {
            deploy.push_str(" --with-registry-auth");
        }
        if let Some(r) = &o.resolve_image {
            deploy.push_str(&format!(" --resolve-image {}", quote(r)));
        }
        deploy.push_str(&format!(" {}", quote(&name)));
        let specs = format!(
            "specs() {{ docker service ls -q --filter label={nsf} | xargs -r docker service inspect --format '{{{{.Spec.Name}}}} {{{{json .Spec}}}}' | LC_ALL=C sort | sha256sum; }}\n"
        );
        let mut script = format!(
            "f=$(mktemp /tmp/prov-stack.XXXXXXXX) || exit 1\ntrap 'rm -f \"$f\"' EXIT\ncat > \"$f\" || exit 1\n\
             {specs}b=$(specs)\n{deploy} >&2 || exit 1\n"
        );
        if o.wait {
            script.push_str(&wait_loop(&name, &name, timeout));
        }
        script.push_str(&format!(
            "a=$(specs)\nif [ \"$a\" = \"$b\" ]; then c=false; else c=true; fi\n\
             printf '%s{{\"changed\":%s,\"services\":[%s]}}\\n' {rl} \"$c\" \"$(docker service ls --filter label={nsf} --format '{{{{json .}}}}' | paste -sd, -)\"\n",
            rl = quote(RESULT_LINE)
        ));
        let mut cmd = ctx.cmd(script);
        cmd.stdin = Stdin::Bytes(format!("{generated:#}\n").into_bytes());
        plan.changes = summaries
            .iter()
            .map(|s| crate::modules::Change {
                summary: s.clone(),
                diff: None,
                action: Action::None,
            })
            .collect();
        plan.changes[0].diff = Some(Diff::new(&format!("stack {name}"), before, after));
        Ok(plan.change(
            format!("docker stack deploy {name}"),
            None,
            Action::Exec {
                cmd,
                capture: false,
                fail_on_rc: true,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_changes_when_a_config_it_uses_is_renamed() {
        let stack = |cfg: &str| -> Json {
            serde_json::from_str(&format!(
                r#"{{"configs":{{"c":{{"name":"{cfg}","file":"./x"}},"other":{{"name":"o"}}}},
                   "volumes":{{"data":{{}}}},
                   "services":{{
                     "proxy":{{"image":"h","configs":[{{"source":"c","target":"/etc/x"}}]}},
                     "db":{{"image":"pg","volumes":["data:/var/lib/pg","/etc/hosts:/etc/hosts"]}}}}}}"#
            ))
            .unwrap()
        };
        let a = wanted_services(&stack("c_v1")).unwrap();
        let b = wanted_services(&stack("c_v2")).unwrap();
        let get = |w: &[Wanted], k: &str| w.iter().find(|x| x.key == k).unwrap().clone();
        assert_ne!(
            get(&a, "proxy").hash,
            get(&b, "proxy").hash,
            "proxy uses config c"
        );
        assert_eq!(
            get(&a, "db").hash,
            get(&b, "db").hash,
            "db does not use config c"
        );
        assert_ne!(get(&a, "proxy").fields, get(&b, "proxy").fields);
        // A named volume's definition is part of the service; the bind mount is not looked up.
        let mut c = stack("c_v1");
        c["volumes"]["data"] = serde_json::json!({"driver": "local", "labels": {"x": "1"}});
        assert_ne!(
            get(&a, "db").hash,
            get(&wanted_services(&c).unwrap(), "db").hash
        );
    }

    #[test]
    fn merge_and_hash() {
        let mut a: Json = serde_json::from_str(
            r#"{"version":"3.8","services":{"db":{"image":"pg","deploy":{"replicas":1}}}}"#,
        )
        .unwrap();
        let b: Json = serde_json::from_str(
            r#"{"services":{"db":{"deploy":{"replicas":2}},"web":{"image":"w"}}}"#,
        )
        .unwrap();
        merge(&mut a, &b);
        assert_eq!(a["services"]["db"]["deploy"]["replicas"], 2);
        assert_eq!(a["services"]["db"]["image"], "pg");
        let w = wanted_services(&a).unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].key, "db");
        // Key order does not change the hash.
        let c: Json = serde_json::from_str(
            r#"{"services":{"db":{"deploy":{"replicas":2},"image":"pg"},"web":{"image":"w"}}}"#,
        )
        .unwrap();
        assert_eq!(wanted_services(&c).unwrap(), w);
        let o = override_file("3.8", &Json::Object(Map::new()), &w);
        assert_eq!(
            o["services"]["web"]["deploy"]["labels"][COMPOSE_LABEL],
            w[1].hash
        );
        assert_eq!(o["version"], "3.8");
        assert!(wanted_services(&serde_json::json!({})).is_err());
    }
}
