//! Docker modules (the `community.docker` collection's names): docker_swarm, docker_swarm_info,
//! docker_node, docker_network, docker_image, docker_stack.
//!
//! They drive the `docker` CLI on the host: no Python, no SDK. Planning runs one inspection
//! script (`docker ... --format '{{json .}}'`, parsed with serde_json on the controller) and
//! returns the exact `docker` commands to run as [`Action::Exec`](super::Action::Exec) changes,
//! so check mode names what would change. Where only running the command tells whether
//! something changed (an image build, a stack deploy, the join tokens of a new swarm), the
//! command prints a [`RESULT_LINE`](super::RESULT_LINE) with the outcome and the plan sets
//! [`Plan::output_results`](super::Plan::output_results).

pub mod docker_image;
pub mod docker_network;
pub mod docker_node;
pub mod docker_stack;
pub mod docker_swarm;
pub mod docker_swarm_info;

use super::{Registry, TaskCtx};
use crate::error::{Error, Result};
use crate::value::{Value, from_json};
use serde_json::Value as Json;
use std::sync::Arc;

/// Registers the docker modules.
pub fn register(r: &mut Registry) {
    r.register(Arc::new(docker_swarm::DockerSwarm));
    r.register(Arc::new(docker_swarm_info::DockerSwarmInfo));
    r.register(Arc::new(docker_node::DockerNode));
    r.register(Arc::new(docker_network::DockerNetwork));
    r.register(Arc::new(docker_image::DockerImage));
    r.register(Arc::new(docker_stack::DockerStack));
}

/// Runs a read-only inspection script after checking that the docker CLI is there.
pub(crate) async fn docker_probe(ctx: &TaskCtx<'_>, script: &str, what: &str) -> Result<String> {
    crate::modules::toolkit::probe(
        ctx,
        format!(
            "command -v docker >/dev/null 2>&1 || {{ echo 'the docker CLI is not installed' >&2; exit 3; }}\n{script}"
        ),
        what,
    )
    .await
}

/// Shell fallback after an `inspect` that failed: the object is missing only if the daemon
/// answers; when it does not (not running, no permission), the inspection fails with
/// docker's own message instead of the object being planned as missing.
pub(crate) const UNLESS_DAEMON_DOWN: &str =
    "docker info --format '{{.ServerVersion}}' >/dev/null || exit 1";

/// Parses one JSON document per non-empty line.
pub(crate) fn json_lines(text: &str) -> Result<Vec<Json>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|e| {
                Error::failed(format!(
                    "unexpected output from docker ({e}): {}",
                    l.chars().take(200).collect::<String>()
                ))
            })
        })
        .collect()
}

/// Parses one JSON document (the whole text); `None` when the text is empty.
pub(crate) fn json_doc(text: &str) -> Result<Option<Json>> {
    let t = text.trim();
    if t.is_empty() || t == "null" {
        return Ok(None);
    }
    serde_json::from_str(t).map(Some).map_err(|e| {
        Error::failed(format!(
            "unexpected output from docker ({e}): {}",
            t.chars().take(200).collect::<String>()
        ))
    })
}

/// A nested field (`["Spec", "Labels"]`); `Null` when missing.
pub(crate) fn jget<'a>(v: &'a Json, path: &[&str]) -> &'a Json {
    static NULL: Json = Json::Null;
    let mut cur = v;
    for p in path {
        cur = match cur.get(p) {
            Some(x) => x,
            None => return &NULL,
        };
    }
    cur
}

/// A nested string field, `""` when missing.
pub(crate) fn jstr<'a>(v: &'a Json, path: &[&str]) -> &'a str {
    jget(v, path).as_str().unwrap_or("")
}

/// JSON with object keys sorted at every level: the same data always gives the same text.
pub(crate) fn canonical_json(v: &Json) -> String {
    fn sort(v: &Json) -> Json {
        match v {
            Json::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), sort(&m[k]));
                }
                Json::Object(out)
            }
            Json::Array(a) => Json::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(v).to_string()
}

/// A JSON value as a module result value.
pub(crate) fn jval(v: &Json) -> Value {
    from_json(v)
}

/// A string-to-string map from a JSON object (non-strings printed as JSON).
pub(crate) fn str_map(v: &Json) -> indexmap::IndexMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A dict option's value as string pairs (scalars converted the way Ansible does); none when
/// the option is absent.
pub(crate) fn dict_opt(v: Option<&Value>) -> Vec<(String, String)> {
    let Some(v) = v else {
        return vec![];
    };
    let j = crate::value::to_json(v);
    str_map(&j).into_iter().collect()
}

/// Shell snippet that prints a [`RESULT_LINE`](super::RESULT_LINE): `json` is printf format
/// text (already valid JSON apart from `%s` slots filled by `args`, which are shell words).
pub(crate) fn result_printf(json: &str, args: &str) -> String {
    format!(
        "printf '%s%s\\n' {} \"$(printf {} {args})\"",
        crate::connection::quote(super::RESULT_LINE),
        crate::connection::quote(json)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_and_lines() {
        let a: Json =
            serde_json::from_str(r#"{"b":1,"a":{"d":[{"y":1,"x":2}],"c":null}}"#).unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}"#
        );
        assert_eq!(json_lines("{\"a\":1}\n\n[2]\n").unwrap().len(), 2);
        assert!(json_lines("nope").is_err());
        assert_eq!(jstr(&a, &["a", "c"]), "");
        assert_eq!(json_doc("  ").unwrap(), None);
        let (vals, changed) =
            crate::modules::output_results("x\nprov-result:{\"changed\":false,\"id\":\"1\"}\n");
        assert_eq!(changed, Some(false));
        assert_eq!(vals["id"].as_str(), Some("1"));
    }

    #[test]
    fn ansible_rules_are_checked_when_the_task_is_validated() {
        use crate::modules::{Module, validate_args};
        let vars = |pairs: &[(&str, &str)]| -> crate::value::Vars {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v)))
                .collect()
        };
        let swarm = docker_swarm::DockerSwarm.doc();
        let e = validate_args(swarm, &vars(&[("state", "join"), ("join_token", "t")])).unwrap_err();
        assert_eq!(
            e.msg,
            "module 'docker_swarm': state is join but all of the following are missing: remote_addrs"
        );
        assert!(validate_args(swarm, &vars(&[("state", "present")])).is_ok());
        let image = docker_image::DockerImage.doc();
        let e = validate_args(image, &vars(&[("name", "app"), ("source", "load")])).unwrap_err();
        assert_eq!(
            e.msg,
            "module 'docker_image': source is load but all of the following are missing: load_path"
        );
        let e = validate_args(image, &vars(&[("name", "app"), ("source", "build")])).unwrap_err();
        assert!(e.msg.contains("missing: build"), "{}", e.msg);
        assert!(validate_args(image, &vars(&[("name", "app"), ("source", "pull")])).is_ok());
    }

    #[test]
    fn result_printf_is_shell_safe() {
        let s = result_printf("{\"a\":\"%s\"}", "\"$x\"");
        assert_eq!(
            s,
            "printf '%s%s\\n' prov-result: \"$(printf '{\"a\":\"%s\"}' \"$x\")\""
        );
    }
}
