//! Ansible's Python connection plugins as a [`Connection`]: for a connection type prov has no
//! transport of (`connection_plugins/<name>.py` beside the playbook, `ANSIBLE_CONNECTION_PLUGINS`,
//! a collection's), commands run through the plugin's `exec_command` and files travel through
//! its `put_file` and `fetch_file`, in a bridge process of its own that keeps the plugin loaded.
//! The plugin's `AnsibleConnectionFailure` makes the host unreachable; any other error of it
//! fails the task, as in Ansible.

use super::{Bridge, Reply, dirs, reply, take};
use crate::connection::{Connection, ExecOutput, PutOpts, Secret, Stdin, install, quote};
use crate::error::{Error, Result};
use crate::value::Vars;
use async_trait::async_trait;
use base64::Engine;
use serde_json::{Map, Value as Json, json};
use std::sync::{Arc, Mutex};

/// A host reached through one of Ansible's Python connection plugins.
pub struct PythonConnection {
    host: String,
    id: String,
    bridge: Arc<Mutex<Bridge>>,
}

/// What opening a Python connection gave.
pub enum Opened {
    /// The plugin is loaded.
    Conn(PythonConnection),
    /// No plugin of that name (prov's own message stays).
    NotFound,
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(v: Option<&Json>) -> Vec<u8> {
    v.and_then(Json::as_str)
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .unwrap_or_default()
}

/// The error of a plugin's failure: unreachable for its `AnsibleConnectionFailure`.
fn plugin_error(kind: &str, msg: String, host: &str) -> Error {
    let e = if kind == "unreachable" {
        Error::unreachable(msg)
    } else {
        Error::failed(msg)
    };
    e.on_host(host)
}

/// One request and its reply, on a bridge that never asks questions back for connections.
fn roundtrip(b: &mut Bridge, req: Json) -> Result<Reply> {
    b.send(&req)?;
    loop {
        let m = b.recv()?;
        if super::is_final(&m) {
            return Ok(reply(&m));
        }
        b.send(&json!({"error": "a connection plugin asks nothing of prov"}))?;
    }
}

impl PythonConnection {
    /// Loads connection plugin `name` for `host` with its connection variables.
    pub async fn open(name: &str, host: &str, vars: &Vars) -> Result<Opened> {
        let vars: Map<String, Json> = vars
            .iter()
            .map(|(k, v)| (k.clone(), crate::value::to_json(v)))
            .collect();
        let req =
            json!({"op": "conn_open", "name": name, "host": host, "vars": vars, "dirs": dirs()});
        let (bridge, r) = tokio::task::spawn_blocking(move || -> Result<(Bridge, Reply)> {
            let mut b = take()?;
            let r = roundtrip(&mut b, req)?;
            Ok((b, r))
        })
        .await
        .map_err(|e| Error::failed(format!("the plugin bridge stopped: {e}")))??;
        match r {
            Reply::Value(id) => Ok(Opened::Conn(PythonConnection {
                host: host.to_string(),
                id: id.as_str().unwrap_or_default().to_string(),
                bridge: Arc::new(Mutex::new(bridge)),
            })),
            Reply::Failed { kind, .. } if kind == "notfound" => {
                super::give(bridge);
                Ok(Opened::NotFound)
            }
            Reply::Failed { kind, msg } => {
                super::give(bridge);
                Err(plugin_error(&kind, msg, host))
            }
        }
    }

    async fn call(&self, mut req: Map<String, Json>) -> Result<Json> {
        req.insert("id".into(), json!(self.id));
        let bridge = self.bridge.clone();
        let r = tokio::task::spawn_blocking(move || {
            let mut b = bridge.lock().unwrap_or_else(|e| e.into_inner());
            roundtrip(&mut b, Json::Object(req))
        })
        .await
        .map_err(|e| Error::failed(format!("the plugin bridge stopped: {e}")))??;
        match r {
            Reply::Value(v) => Ok(v),
            Reply::Failed { kind, msg } => Err(plugin_error(&kind, msg, &self.host)),
        }
    }

    fn request(op: &str) -> Map<String, Json> {
        let mut m = Map::new();
        m.insert("op".into(), json!(op));
        m
    }
}

/// A local temp file path for a transfer (removed by the caller).
fn local_temp() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "prov-conn-{}",
        crate::connection::unpredictable_token()
    ))
}

#[async_trait]
impl Connection for PythonConnection {
    fn host(&self) -> &str {
        &self.host
    }

    async fn exec_raw(
        &self,
        line: &str,
        preamble: Option<&Secret>,
        stdin: &Stdin,
    ) -> Result<ExecOutput> {
        let mut data = Vec::new();
        if let Some(p) = preamble {
            data.extend_from_slice(p.expose().as_bytes());
            data.push(b'\n');
        }
        match stdin {
            Stdin::Empty => {}
            Stdin::Bytes(b) => data.extend_from_slice(b),
            Stdin::File(p) => data.extend(std::fs::read(p).map_err(|e| Error::io(p, e))?),
        }
        let mut req = Self::request("conn_exec");
        req.insert("cmd".into(), json!(line));
        if !data.is_empty() {
            req.insert("stdin".into(), json!(b64(&data)));
        }
        let v = self.call(req).await?;
        Ok(ExecOutput {
            rc: v.get("rc").and_then(Json::as_i64).unwrap_or(-1) as i32,
            stdout: unb64(v.get("stdout")),
            stderr: unb64(v.get("stderr")),
        })
    }

    /// The plugin's `put_file` copies the data to a temp file beside `dest`, which then
    /// replaces `dest` as every transport's writes do (checked, owner, group, mode).
    async fn put(&self, src: &Stdin, dest: &str, opts: &PutOpts) -> Result<()> {
        let local = local_temp();
        let data = match src {
            Stdin::Empty => Vec::new(),
            Stdin::Bytes(b) => b.clone(),
            Stdin::File(p) => std::fs::read(p).map_err(|e| Error::io(p, e))?,
        };
        std::fs::write(&local, &data).map_err(|e| Error::io(&local, e))?;
        let staged = format!("{dest}.prov-{}", crate::connection::random_token());
        let mut req = Self::request("conn_put");
        req.insert("src".into(), json!(local.display().to_string()));
        req.insert("dest".into(), json!(staged));
        let r = self.call(req).await;
        let _ = std::fs::remove_file(&local);
        r?;
        let mut inst = install::Install::new(dest);
        inst.mode = opts.mode.clone();
        inst.owner = opts.owner.clone();
        inst.group = opts.group.clone();
        inst.validate = opts.validate.clone();
        inst.expect = Some(match &opts.expect {
            Some(e) => e.clone(),
            None => crate::connection::digest(&Stdin::Bytes(data)).await?,
        });
        let s = quote(&staged);
        inst.cleanup = Some(s.clone());
        let cmd = crate::connection::Cmd {
            script: inst.script(&format!("cat -- {s} > \"$f\"")),
            become_: opts.become_.clone(),
            ..Default::default()
        };
        let out = self.exec(&cmd).await?;
        crate::connection::put_outcome(&out, dest, opts.validate.is_some())
    }

    /// The plugin's `fetch_file` (a read with become goes through a command instead).
    async fn get(
        &self,
        path: &str,
        become_: Option<&crate::connection::Become>,
    ) -> Result<Vec<u8>> {
        if become_.is_some() {
            return crate::connection::read_by_command(self, path, become_).await;
        }
        let local = local_temp();
        let mut req = Self::request("conn_fetch");
        req.insert("src".into(), json!(path));
        req.insert("dest".into(), json!(local.display().to_string()));
        let r = self.call(req).await;
        let data = std::fs::read(&local);
        let _ = std::fs::remove_file(&local);
        r?;
        data.map_err(|e| Error::io(&local, e))
    }

    async fn close(&self) -> Result<()> {
        self.call(Self::request("conn_close")).await.map(|_| ())
    }
}
