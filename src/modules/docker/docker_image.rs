//! `docker_image`: build, load or pull an image, or remove it.

use super::{canonical_json, docker_probe, json_lines, jstr, jval};
use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::toolkit::{check_name, sections, sha256_hex, state_diff};
use crate::modules::{
    Action, Args, Module, ModuleDoc, Options, Plan, RESULT_LINE, RequiredIf, TaskCtx, opt,
};
use crate::value::Value;
use async_trait::async_trait;

/// The image label holding the hash of the build context, Dockerfile and build args.
pub const CONTEXT_LABEL: &str = "prov.context.sha256";

crate::options! {
    /// The `docker_image` module's options.
    pub(crate) struct Opts {
        name: String = opt::str("Image name, optionally with `:tag` (then `tag` is ignored).").required(),
        tag: String = opt::str("Image tag.").default("latest"),
        source: Option<String> = opt::str("Where the image comes from; `local` only checks that it exists.").choices(&["build", "load", "pull", "local"]),
        build: Option<Value> = opt::dict("With `source: build`: `path` (the context folder ON THE HOST), `dockerfile` (relative to path, default `Dockerfile`), `args` (build args), `pull` (default false), `network` (network for RUN steps, e.g. `host`), `nocache`, `target`."),
        load_path: Option<String> = opt::path("With `source: load`: an image archive on the host (`docker save` output)."),
        force_source: bool = opt::bool("Build, load or pull even when the image is there (changed only if its ID changes).").default("no"),
        force_absent: bool = opt::bool("With `absent`: remove the image even if containers use it.").default("no"),
        state: String = opt::str("Whether the image exists.").default("present").choices(&["present", "absent"]),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("docker_image", "Build, load, pull or remove Docker images")
    .description(
        "Works with the docker CLI on the host. One round trip reads the image \
(`docker image inspect`) and, for `source: build`, hashes the build context folder on the host \
(every file's path and SHA-256, together with the Dockerfile name and the build args). The \
hash is stored in the image label `prov.context.sha256` at build time, so an image whose label \
matches is not rebuilt and check mode says `build` exactly when the image is missing or its \
context changed (or with `force_source`). Builds run `docker build --iidfile`; loads \
`docker load -i`; pulls `docker pull`. The task is `changed` only when the image ID under the \
name changed (a forced rebuild that gives the same ID is `ok`). `state: absent` removes the \
tag. Returns `image` (the inspection: before the change in check mode, after it otherwise) and \
`image_id`.",
    )
    .spec::<Opts>()
    .required_if(&[
        RequiredIf::all("source", "build", &["build"]),
        RequiredIf::all("source", "load", &["load_path"]),
    ])
    .examples(
        r#"- docker_image:
    name: pg-app
    tag: "1"
    source: build
    build:
      path: /srv/build/pg-app
      args:
        PG_MAJOR: "15"
      network: host
- docker_image:
    name: debian:bookworm-slim
    source: load
    load_path: /tmp/debian.tar
"#,
    );

/// The `docker_image` module.
pub struct DockerImage;

/// `name[:tag]` → the full reference (a port in the registry part is not a tag).
fn reference(name: &str, tag: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || name.contains('@') {
        name.to_string()
    } else {
        format!("{name}:{tag}")
    }
}

struct Build {
    path: String,
    dockerfile: String,
    args: Vec<(String, String)>,
    pull: bool,
    network: Option<String>,
    nocache: bool,
    target: Option<String>,
}

fn build_opts(build: Option<&Value>) -> Result<Build> {
    let b = build
        .map(crate::value::to_json)
        .unwrap_or(serde_json::Value::Null);
    let s = |k: &str| -> Option<String> {
        match b.get(k) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(v) => Some(v.to_string()),
        }
    };
    let flag = |k: &str| {
        b.get(k).is_some_and(|v| {
            v.as_bool()
                .unwrap_or_else(|| crate::value::truthy(&crate::value::from_json(v)))
        })
    };
    if let Some(m) = b.as_object() {
        for k in m.keys() {
            if ![
                "path",
                "dockerfile",
                "args",
                "pull",
                "network",
                "nocache",
                "target",
            ]
            .contains(&k.as_str())
            {
                return Err(Error::failed(format!(
                    "docker_image: unknown build option '{k}' (known: path, dockerfile, args, pull, network, nocache, target)"
                )));
            }
        }
    }
    let path = s("path").ok_or_else(|| {
        Error::failed(
            "docker_image: source build needs build.path (the context folder on the host)",
        )
    })?;
    Ok(Build {
        path,
        dockerfile: s("dockerfile").unwrap_or_else(|| "Dockerfile".into()),
        args: super::str_map(b.get("args").unwrap_or(&serde_json::Value::Null))
            .into_iter()
            .collect(),
        pull: flag("pull"),
        network: s("network"),
        nocache: flag("nocache"),
        target: s("target"),
    })
}

/// The script fragment that runs `body` (which must replace the image) and prints whether the
/// image ID under `r` changed, with the new inspection.
fn replace_script(r: &str, body: &str) -> String {
    let q = quote(r);
    format!(
        "old=$(docker image inspect {q} --format '{{{{.Id}}}}' 2>/dev/null)\n{body}\n\
         new=$(docker image inspect {q} --format '{{{{.Id}}}}') || {{ echo {gone} >&2; exit 1; }}\n\
         if [ \"$old\" = \"$new\" ]; then c=false; else c=true; fi\n\
         printf '%s{{\"changed\":%s,\"image_id\":\"%s\",\"image\":%s}}\\n' {rl} \"$c\" \"$new\" \"$(docker image inspect {q} --format '{{{{json .}}}}')\"\n",
        rl = quote(RESULT_LINE),
        gone = quote(&format!("image {r} not found afterwards")),
    )
}

#[async_trait]
impl Module for DockerImage {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        check_name("docker_image", "name", &o.name)?;
        let r = reference(&o.name, &o.tag);
        let q = quote(&r);
        let absent = o.state == "absent";
        let source = o.source.as_deref();
        let build = if !absent && source == Some("build") {
            Some(build_opts(o.build.as_ref())?)
        } else {
            None
        };
        let mut script = format!(
            "echo @@image\ndocker image inspect {q} --format '{{{{json .}}}}' 2>/dev/null || {}\n",
            super::UNLESS_DAEMON_DOWN
        );
        if let Some(b) = &build {
            script.push_str(&format!(
                "echo @@context\nif [ -d {p} ]; then cd {p} && find . -type f -print0 | LC_ALL=C sort -z | \
                 xargs -0 -r sha256sum | sha256sum | cut -d' ' -f1; [ -f {df} ] || echo nodockerfile; \
                 else echo missing; fi\n",
                p = quote(&b.path),
                df = quote(&b.dockerfile)
            ));
        }
        // `source: load` has a load_path (a rule of the spec).
        let lp = o.load_path.as_deref().unwrap_or_default();
        if let (false, Some("load")) = (absent, source) {
            script.push_str(&format!(
                "echo @@load\n[ -f {} ] && echo ok || echo missing\n",
                quote(lp)
            ));
        }
        let out = docker_probe(ctx, &script, "the image").await?;
        let sec = sections(&out);
        let cur = json_lines(sec.get("image").map(String::as_str).unwrap_or(""))?
            .into_iter()
            .next();
        let id = cur.as_ref().map(|c| jstr(c, &["Id"]).to_string());
        let mut plan = Plan::ok()
            .with("image", cur.as_ref().map(jval).unwrap_or(Value::from(())))
            .with("image_id", id.clone().unwrap_or_default());
        plan.output_results = true;
        let label = format!("image {r}");
        let force = o.force_source;
        if absent {
            if cur.is_some() {
                let f = if o.force_absent { " --force" } else { "" };
                plan = plan.change(
                    format!("remove image {r}"),
                    Some(state_diff(
                        &label,
                        &[("id", id.unwrap_or_default())],
                        &[("state", "absent".into())],
                    )),
                    Action::Exec {
                        cmd: ctx.cmd(format!("docker image rm{f} {q} >/dev/null")),
                        capture: false,
                        fail_on_rc: true,
                    },
                );
            }
            return Ok(plan);
        }
        let before = vec![("id", id.clone().unwrap_or_else(|| "(absent)".to_string()))];
        match source {
            Some("build") => {
                let b = build.expect("build options");
                let ctxhash = sec.get("context").map(|s| s.trim()).unwrap_or("");
                if ctxhash == "missing" {
                    return Ok(Plan::fail(format!(
                        "docker_image: build context folder {} does not exist on {}",
                        b.path, ctx.host
                    )));
                }
                if ctxhash.lines().any(|l| l == "nodockerfile") {
                    return Ok(Plan::fail(format!(
                        "docker_image: no {} in the build context {} on {}",
                        b.dockerfile, b.path, ctx.host
                    )));
                }
                let mut args_sorted = b.args.clone();
                args_sorted.sort();
                let hash = sha256_hex(
                    canonical_json(&serde_json::json!({
                        "context": ctxhash,
                        "dockerfile": b.dockerfile,
                        "args": args_sorted,
                        "target": b.target,
                    }))
                    .as_bytes(),
                );
                let have = cur
                    .as_ref()
                    .map(|c| jstr(c, &["Config", "Labels", CONTEXT_LABEL]).to_string());
                plan = plan.with("context_sha256", hash.as_str());
                if have.as_deref() == Some(hash.as_str()) && !force {
                    return Ok(plan);
                }
                let mut cmd = format!(
                    "docker build --iidfile \"$t\" -t {q} --label {} -f {}",
                    quote(&format!("{CONTEXT_LABEL}={hash}")),
                    quote(&b.dockerfile)
                );
                for (k, v) in &b.args {
                    cmd.push_str(&format!(" --build-arg {}", quote(&format!("{k}={v}"))));
                }
                if b.pull {
                    cmd.push_str(" --pull");
                }
                if b.nocache {
                    cmd.push_str(" --no-cache");
                }
                if let Some(n) = &b.network {
                    cmd.push_str(&format!(" --network {}", quote(n)));
                }
                if let Some(t) = &b.target {
                    cmd.push_str(&format!(" --target {}", quote(t)));
                }
                let body = format!(
                    "t=$(mktemp) || exit 1\ntrap 'rm -f \"$t\"' EXIT\n\
                     (cd {p} && {cmd} . ) >&2 || exit 1",
                    p = quote(&b.path)
                );
                let why = match (&cur, force) {
                    (None, _) => "missing",
                    (_, true) => "forced",
                    _ => "context changed",
                };
                Ok(plan.change(
                    format!("build image {r} from {} ({why})", b.path),
                    Some(state_diff(
                        &label,
                        &[before[0].clone(), (CONTEXT_LABEL, have.unwrap_or_default())],
                        &[("id", "(new build)".into()), (CONTEXT_LABEL, hash)],
                    )),
                    Action::Exec {
                        cmd: ctx.cmd(replace_script(&r, &body)),
                        capture: false,
                        fail_on_rc: true,
                    },
                ))
            }
            Some("load") => {
                if sec.get("load").map(|s| s.trim()) != Some("ok") {
                    return Ok(Plan::fail(format!(
                        "docker_image: archive {lp} does not exist on {}",
                        ctx.host
                    )));
                }
                if cur.is_some() && !force {
                    return Ok(plan);
                }
                let body = format!("docker load -i {} >&2 || exit 1", quote(lp));
                Ok(plan.change(
                    format!("load image {r} from {lp}"),
                    Some(state_diff(&label, &before, &[("id", "(loaded)".into())])),
                    Action::Exec {
                        cmd: ctx.cmd(replace_script(&r, &body)),
                        capture: false,
                        fail_on_rc: true,
                    },
                ))
            }
            Some("pull") => {
                if cur.is_some() && !force {
                    return Ok(plan);
                }
                let body = format!("docker pull {q} >&2 || exit 1");
                Ok(plan.change(
                    format!("pull image {r}"),
                    Some(state_diff(&label, &before, &[("id", "(pulled)".into())])),
                    Action::Exec {
                        cmd: ctx.cmd(replace_script(&r, &body)),
                        capture: false,
                        fail_on_rc: true,
                    },
                ))
            }
            _ => {
                if cur.is_none() {
                    return Ok(Plan::fail(format!(
                        "docker_image: image {r} is not on {} (set source: build, load or pull)",
                        ctx.host
                    )));
                }
                Ok(plan)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(reference("app", "1"), "app:1");
        assert_eq!(reference("app:2", "1"), "app:2");
        assert_eq!(reference("reg:5000/app", "1"), "reg:5000/app:1");
        assert_eq!(reference("reg:5000/app:3", "1"), "reg:5000/app:3");
    }
}
