//! A task whose action is one of Ansible's Python action plugins (an `action_plugins/` folder
//! next to the playbook or in a role, `ANSIBLE_ACTION_PLUGINS`) that prov has no native action
//! of: the plugin runs on the controller in the plugin bridge (`plugins::bridge`), with
//! ansible-core's own task, play context, loader and templar, and a connection whose commands
//! and file copies prov carries out over the task's connection to the host (with its become).
//! So the plugin's `_execute_module` runs modules on the host as under ansible-playbook. Its
//! result is the task's, marked as Ansible's implementation like the module fallback's.

use super::PlayRun;
use super::outcome::Outcome;
use crate::connection::{Cmd, Connection, PutOpts, Stdin};
use crate::error::{Error, Result};
use crate::playbook::Task;
use crate::plugins::bridge::{Reply, Session};
use crate::template::Context;
use crate::value::{Value, to_json};
use base64::Engine as _;
use serde_json::{Map, Value as Json, json};

impl PlayRun<'_> {
    /// Runs action plugin `name` with `args`.
    pub(super) async fn run_action_plugin(
        &self,
        task: &Task,
        host: &str,
        ctx: &Context,
        name: &str,
        args: &Value,
    ) -> Result<Outcome> {
        let raw = self.rendered_args(name, args, ctx)?;
        let args: Map<String, Json> = raw.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
        let delegated = self.delegate(task, ctx)?;
        let (target, conn_ctx) = match &delegated {
            Some((d, c)) => (d.clone(), Some(c.clone())),
            None => (host.to_string(), None),
        };
        let cctx = conn_ctx.as_ref().unwrap_or(ctx);
        // A connection that is one of Ansible's Python connection plugins: the plugin runs
        // with it in the bridge, as under Ansible; otherwise with prov's connection.
        let python_conn = match cctx.get("ansible_connection")? {
            Some(v) if !v.is_undefined() && !v.is_none() => {
                let c = self.runner.templar.render_value(&v, cctx)?.to_string();
                python_connection(&c).then_some(c)
            }
            _ => None,
        };
        let mut conn = match &python_conn {
            Some(_) => None,
            None => Some(
                self.shared
                    .connection(&*self.runner.connector, &target, cctx)
                    .await?,
            ),
        };
        let become_ = self.become_for(task, ctx, cctx)?;
        let (check, diff) = self.modes(task);
        let env: Map<String, Json> = self
            .environment(task, ctx)?
            .into_iter()
            .map(|(k, v)| (k, Json::from(v)))
            .collect();
        let mut req = Map::new();
        req.insert("op".into(), json!("action"));
        // A short name found in a collection is that collection's plugin (`ns.coll.name`).
        let resolved = crate::modules::fallback::lookup::action_plugin_fqcn(name);
        req.insert("name".into(), json!(resolved));
        req.insert("args".into(), Json::Object(args));
        req.insert("check".into(), json!(check));
        req.insert("diff".into(), json!(diff));
        req.insert("no_log".into(), json!(task.no_log));
        req.insert("environment".into(), Json::Object(env));
        if let Some(base) = task.loc.file.parent() {
            req.insert("base".into(), json!(base.display().to_string()));
        }
        // The task's search path (its roles' folders, its file's, the playbook's): where the
        // plugin's relative files are found (`_find_needle`), as in Ansible.
        let search: Vec<String> = task
            .search_path(&self.play.dir)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        req.insert("search_path".into(), json!(search));
        if let Some(c) = &python_conn {
            req.insert("connection".into(), json!(c));
        }
        if let Some((d, _)) = &delegated {
            req.insert("delegate_to".into(), json!(d));
        }
        let mut s = Session::start(req)?;
        let result = loop {
            match s.next().await? {
                Ok(Reply::Value(Json::Object(m))) => break m,
                Ok(Reply::Value(other)) => {
                    return Err(Error::failed(format!(
                        "action plugin {name} returned {other} instead of a mapping"
                    )));
                }
                Ok(Reply::Failed { msg, .. }) => return Err(Error::failed(msg)),
                Err(q) => {
                    let op = q.get("op").and_then(Json::as_str).unwrap_or_default();
                    let remote = matches!(op, "exec" | "put" | "fetch");
                    if op == "reset" {
                        // The plugin's `reset()` (reboot): the next command connects anew.
                        if conn.take().is_some() {
                            self.shared.drop_connection(&target).await;
                        }
                        s.answer(&json!({"ok": true}))?;
                        continue;
                    }
                    if remote && conn.is_none() && python_conn.is_none() {
                        match self
                            .shared
                            .connection(&*self.runner.connector, &target, cctx)
                            .await
                        {
                            Ok(c) => conn = Some(c),
                            Err(e) => {
                                s.answer(&json!({"error": e.to_string()}))?;
                                continue;
                            }
                        }
                    }
                    let a = answer(conn.as_deref(), become_.as_ref(), &q, ctx).await;
                    if remote && a.get("error").is_some() && conn.take().is_some() {
                        // A transport that failed (a host going down) is connected anew.
                        self.shared.drop_connection(&target).await;
                    }
                    s.answer(&a)?;
                }
            }
        };
        let result = crate::modules::fallback::untag_result(result);
        let mut o = self.fallback_outcome(task, host, &target, result);
        if delegated.is_some() {
            o.delegated_to = Some(target);
        }
        Ok(o)
    }
}

/// Whether connection type `name` is one of Ansible's Python connection plugins prov has no
/// native transport of: `connection_plugins/<name>.py` next to the playbooks or in the roles
/// loaded so far, or in `ANSIBLE_CONNECTION_PLUGINS`.
fn python_connection(name: &str) -> bool {
    if matches!(
        name,
        "local" | "ssh" | "smart" | "paramiko" | "paramiko_ssh"
    ) || name.contains('/')
        || name.is_empty()
    {
        return false;
    }
    let file = format!("{name}.py");
    let configured = std::env::var("ANSIBLE_CONNECTION_PLUGINS").unwrap_or_default();
    crate::modules::fallback::lookup::adjacent_dirs()
        .iter()
        .map(|d| d.join("connection_plugins"))
        .chain(
            configured
                .split(':')
                .filter(|p| !p.is_empty())
                .map(std::path::PathBuf::from),
        )
        .any(|d| d.join(&file).is_file())
}

/// prov's answer to a question of the bridge: a command run on the host (with the task's become
/// when the plugin allows it), a file copied to or from the host, or a variable.
async fn answer(
    conn: Option<&dyn Connection>,
    become_: Option<&crate::connection::Become>,
    q: &Map<String, Json>,
    ctx: &Context,
) -> Json {
    let s = |k: &str| q.get(k).and_then(Json::as_str).unwrap_or_default();
    let b64 = base64::engine::general_purpose::STANDARD;
    let op = s("op");
    let conn = match conn {
        Some(c) => c,
        None if matches!(op, "exec" | "put" | "fetch") => {
            return json!({"error": "the task's connection is a Python connection plugin"});
        }
        None => return crate::plugins::jinja::answer_vars(q, ctx),
    };
    let r: Result<Json> = match op {
        "exec" => {
            let stdin = match q.get("stdin").and_then(Json::as_str) {
                Some(d) => match b64.decode(d) {
                    Ok(b) => Stdin::Bytes(b),
                    Err(e) => return json!({"error": e.to_string()}),
                },
                None => Stdin::Empty,
            };
            let sudoable = q.get("sudoable").and_then(Json::as_bool).unwrap_or(true);
            let cmd = Cmd {
                script: s("cmd").to_string(),
                stdin,
                become_: if sudoable { become_.cloned() } else { None },
                ..Default::default()
            };
            conn.exec(&cmd).await.map(|out| {
                json!({"rc": out.rc, "stdout": b64.encode(&out.stdout), "stderr": b64.encode(&out.stderr)})
            })
        }
        "put" => conn
            .put(
                &Stdin::File(s("src").into()),
                s("dest"),
                &PutOpts::default(),
            )
            .await
            .map(|_| json!({"ok": true})),
        "fetch" => match conn.get(s("src"), None).await {
            Ok(data) => std::fs::write(s("dest"), data)
                .map(|_| json!({"ok": true}))
                .map_err(|e| Error::io(s("dest"), e)),
            Err(e) => Err(e),
        },
        _ => Ok(crate::plugins::jinja::answer_vars(q, ctx)),
    };
    r.unwrap_or_else(|e| json!({"error": e.to_string()}))
}
