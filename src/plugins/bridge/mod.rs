//! The bridge to Ansible's Python plugins that run on the controller: filter, test and lookup
//! plugins, action plugins and connection plugins, used when prov has no native one of that
//! name.
//!
//! A bridge is `python3` (the controller's Python that imports ansible-core, as the module
//! fallback finds it) running our script (`bridge.py`) that calls ansible-core's plugin
//! loaders. It speaks line-delimited JSON on stdin/stdout: prov sends a request, the bridge may
//! ask prov things first (a variable, a command to run on the host, a file to copy), then
//! answers with the result or an error worded as Ansible words it. Bridges start lazily, the
//! first time a plugin is needed, and are kept in a pool for the run (one per concurrent use:
//! hosts run in parallel).

mod connection;
pub use connection::{Opened, PythonConnection};

use crate::error::{Error, Result};
use serde_json::{Map, Value as Json, json};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// Our bridge script.
const SCRIPT: &str = include_str!("bridge.py");

/// What a plugin call gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The plugin's result.
    Value(Json),
    /// The plugin failed (or could not be loaded, or was not found): Ansible's message.
    Failed {
        /// `load`, `notfound`, `runtime` or `missing` (no ansible-core).
        kind: String,
        /// The message.
        msg: String,
    },
}

/// One bridge process.
pub struct Bridge {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The controller's Python for ansible-core: the one next to `PROV_ANSIBLE_CORE_DIR` when it
/// is in a virtualenv (`<venv>/lib/pythonX.Y/site-packages/ansible`), else `python3`.
fn python() -> (PathBuf, Option<PathBuf>) {
    let Ok(dir) = std::env::var("PROV_ANSIBLE_CORE_DIR") else {
        return ("python3".into(), None);
    };
    let dir = PathBuf::from(dir);
    let site = dir.parent().map(PathBuf::from);
    for up in dir.ancestors().skip(1).take(5) {
        let py = up.join("bin/python3");
        if py.is_file() {
            return (py, site);
        }
    }
    ("python3".into(), site)
}

impl Bridge {
    /// Starts a bridge and waits for it to say it is ready.
    pub fn start() -> Result<Bridge> {
        let (py, site) = python();
        if let Some(dir) = std::env::var_os("PROV_ANSIBLE_CORE_DIR")
            && !std::path::Path::new(&dir).is_dir()
        {
            return Err(missing(
                &py,
                &format!(
                    "PROV_ANSIBLE_CORE_DIR names {}, which is not a folder",
                    std::path::Path::new(&dir).display()
                ),
            ));
        }
        let mut cmd = Command::new(&py);
        cmd.arg("-c")
            .arg(SCRIPT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(site) = site {
            let mut path = site.into_os_string();
            if let Some(old) = std::env::var_os("PYTHONPATH") {
                path.push(":");
                path.push(old);
            }
            cmd.env("PYTHONPATH", path);
        }
        // The collections prov searches (those next to the playbooks first), for the plugins'
        // own lookups too.
        let roots = crate::modules::fallback::lookup::collection_roots();
        if let Ok(c) = std::env::join_paths(&roots) {
            cmd.env("ANSIBLE_COLLECTIONS_PATH", c);
        }
        let mut child = cmd.spawn().map_err(|e| {
            Error::failed(format!(
                "Ansible's Python plugins need ansible-core on the controller: cannot run {}: {e}",
                py.display()
            ))
            .hint("install ansible-core for the controller's python3 (pip install ansible-core)")
        })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Error::failed("the plugin bridge has no pipes"));
        };
        let mut b = Bridge {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        };
        let first = b.recv().map_err(|e| missing(&py, &e.msg))?;
        match first.get("op").and_then(Json::as_str) {
            Some("ready") => Ok(b),
            _ => Err(missing(
                &py,
                first.get("msg").and_then(Json::as_str).unwrap_or_default(),
            )),
        }
    }

    /// Sends one message.
    pub fn send(&mut self, msg: &Json) -> Result<()> {
        let mut line = serde_json::to_vec(msg).unwrap_or_default();
        line.push(b'\n');
        self.stdin
            .write_all(&line)
            .and_then(|_| self.stdin.flush())
            .map_err(|e| Error::failed(format!("the plugin bridge stopped: {e}")))
    }

    /// Reads one message (blocking).
    pub fn recv(&mut self) -> Result<Map<String, Json>> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => Err(Error::failed(
                "the plugin bridge stopped (see its error output above)",
            )),
            Ok(_) => match serde_json::from_str(&line) {
                Ok(Json::Object(m)) => Ok(m),
                _ => Err(Error::failed(format!(
                    "the plugin bridge said something unexpected: {}",
                    line.trim()
                ))),
            },
            Err(e) => Err(Error::failed(format!("the plugin bridge stopped: {e}"))),
        }
    }
}

/// The error for a bridge that could not start: what is missing.
fn missing(py: &std::path::Path, detail: &str) -> Error {
    let detail = detail.trim();
    Error::failed(format!(
        "Ansible's Python plugins need ansible-core on the controller, and {} cannot import it{}",
        py.display(),
        if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        }
    ))
    .hint("install ansible-core for the controller's python3 (pip install ansible-core)")
}

fn pool() -> &'static Mutex<Vec<Bridge>> {
    static POOL: OnceLock<Mutex<Vec<Bridge>>> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// A bridge for one call: an idle one of the pool, or a new one.
pub fn take() -> Result<Bridge> {
    let idle = pool().lock().unwrap_or_else(|e| e.into_inner()).pop();
    match idle {
        Some(b) => Ok(b),
        None => Bridge::start(),
    }
}

/// Gives a bridge back to the pool once its call is answered.
pub fn give(b: Bridge) {
    pool().lock().unwrap_or_else(|e| e.into_inner()).push(b);
}

/// Whether ansible-core is there for the bridge (asked once per run).
pub fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| match take() {
        Ok(b) => {
            give(b);
            true
        }
        Err(_) => false,
    })
}

/// The plugin folders Ansible would have added so far (the playbooks' and roles' folders; the
/// bridge adds their `*_plugins/` folders).
fn dirs() -> Json {
    let d: Vec<String> = crate::modules::fallback::lookup::adjacent_dirs()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    json!(d)
}

/// The reply of a finished call.
fn reply(m: &Map<String, Json>) -> Reply {
    match m.get("op").and_then(Json::as_str) {
        Some("result") => Reply::Value(m.get("value").cloned().unwrap_or(Json::Null)),
        _ => Reply::Failed {
            kind: m
                .get("kind")
                .and_then(Json::as_str)
                .unwrap_or("runtime")
                .to_string(),
            msg: m
                .get("msg")
                .and_then(Json::as_str)
                .unwrap_or("the plugin failed")
                .to_string(),
        },
    }
}

/// Whether a message ends a call.
pub fn is_final(m: &Map<String, Json>) -> bool {
    matches!(
        m.get("op").and_then(Json::as_str),
        Some("result") | Some("error")
    )
}

/// Calls a filter, test or lookup plugin: `req` is the request (`op`, `name`, ...); `answer`
/// answers the bridge's questions (a variable's value) while it runs.
pub fn call(
    mut req: Map<String, Json>,
    mut answer: impl FnMut(&Map<String, Json>) -> Json,
) -> Result<Reply> {
    req.insert("dirs".into(), dirs());
    let mut b = take()?;
    b.send(&Json::Object(req))?;
    loop {
        let m = b.recv()?;
        if is_final(&m) {
            give(b);
            return Ok(reply(&m));
        }
        let a = answer(&m);
        b.send(&a)?;
    }
}

/// An action plugin's call, driven by the engine (whose answers need the host's connection,
/// so they are async): [`Session::start`], then [`Session::next`] until it gives the reply.
pub struct Session {
    bridge: Option<Bridge>,
}

impl Session {
    /// Sends the request.
    pub fn start(mut req: Map<String, Json>) -> Result<Session> {
        req.insert("dirs".into(), dirs());
        let mut b = take()?;
        b.send(&Json::Object(req))?;
        Ok(Session { bridge: Some(b) })
    }

    /// The bridge's next message: `Ok(Err(question))` to answer with [`Session::answer`], or
    /// `Ok(Ok(reply))` at the end of the call.
    pub async fn next(&mut self) -> Result<std::result::Result<Reply, Map<String, Json>>> {
        let Some(mut b) = self.bridge.take() else {
            return Err(Error::failed("the plugin bridge call is over"));
        };
        let (b, m) = tokio::task::spawn_blocking(move || {
            let m = b.recv();
            (b, m)
        })
        .await
        .map_err(|e| Error::failed(format!("the plugin bridge stopped: {e}")))?;
        let m = m?;
        if is_final(&m) {
            give(b);
            return Ok(Ok(reply(&m)));
        }
        self.bridge = Some(b);
        Ok(Err(m))
    }

    /// Answers the bridge's question.
    pub fn answer(&mut self, a: &Json) -> Result<()> {
        match &mut self.bridge {
            Some(b) => b.send(a),
            None => Err(Error::failed("the plugin bridge call is over")),
        }
    }
}

/// The answer to a question the bridge asks about variables (`var`, `names`), from `get` (a
/// variable's value, `None` when undefined) and `names`.
pub fn answer_vars(
    q: &Map<String, Json>,
    get: impl Fn(&str) -> Option<Json>,
    names: impl Fn() -> Vec<String>,
) -> Json {
    match q.get("op").and_then(Json::as_str) {
        Some("var") => {
            let name = q.get("name").and_then(Json::as_str).unwrap_or_default();
            match get(name) {
                Some(v) => json!({"defined": true, "value": v}),
                None => json!({"defined": false}),
            }
        }
        Some("names") => json!({"value": names()}),
        other => json!({"error": format!("prov cannot answer {other:?} here")}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_questions_are_told_apart() {
        let m = |j: Json| j.as_object().unwrap().clone();
        assert!(is_final(&m(json!({"op": "result", "value": 1}))));
        assert!(!is_final(&m(json!({"op": "var", "name": "x"}))));
        assert_eq!(
            reply(&m(json!({"op": "result", "value": [1]}))),
            Reply::Value(json!([1]))
        );
        assert_eq!(
            reply(&m(
                json!({"op": "error", "kind": "load", "msg": "The filter plugin 'b' failed to load: boom"})
            )),
            Reply::Failed {
                kind: "load".into(),
                msg: "The filter plugin 'b' failed to load: boom".into()
            }
        );
        let q = m(json!({"op": "var", "name": "a"}));
        let get = |n: &str| (n == "a").then(|| json!(1));
        assert_eq!(
            answer_vars(&q, get, Vec::new),
            json!({"defined": true, "value": 1})
        );
        let q = m(json!({"op": "var", "name": "b"}));
        assert_eq!(answer_vars(&q, get, Vec::new), json!({"defined": false}));
        let q = m(json!({"op": "names"}));
        assert_eq!(
            answer_vars(&q, get, || vec!["a".into()]),
            json!({"value": ["a"]})
        );
    }
}
