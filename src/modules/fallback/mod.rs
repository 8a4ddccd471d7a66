//! Running modules prov has no native implementation of: Ansible's own implementation, found
//! on the controller ([`lookup`]), sent to the host and run with the host's Python the way
//! Ansible runs it. A Python module goes as a zip of itself and the `module_utils` it imports
//! ([`payload`], built once per module per run), piped on stdin to a small wrapper of our own
//! that puts the zip on `sys.path` and runs the module with its arguments; a script or a
//! binary (`WANT_JSON`, old-style) runs with an arguments file, as Ansible runs them.

pub mod docs;
pub mod lookup;
pub mod payload;
mod zip;

pub use lookup::{
    Found, Style, action_alias, action_plugin, action_plugin_fqcn, action_plugin_takes_raw_params,
    add_adjacent, add_collections, add_playbook_dir, configure, find, user_module,
};

use crate::connection::{Become, Cmd, Connection, Stdin, quote};
use crate::error::{Error, Result};
use serde_json::{Map, Value as Json};

/// What the host runs: the module, its arguments and the task's settings.
pub struct Request<'a> {
    /// The module.
    pub found: &'a Found,
    /// Its arguments (rendered, `omit` removed).
    pub args: Map<String, Json>,
    /// Check mode.
    pub check: bool,
    /// Diff mode.
    pub diff: bool,
    /// The task's `no_log`.
    pub no_log: bool,
    /// `-v` count.
    pub verbosity: u8,
    /// `ansible_python_interpreter`, when set (else discovered on the host).
    pub python: Option<String>,
    /// `become`.
    pub become_: Option<Become>,
    /// `environment`.
    pub env: Vec<(String, String)>,
    /// The host's folder for temp files (`remote_tmp`, `~/.ansible/tmp` by default).
    pub remote_tmp: String,
}

/// Where Ansible looks for Python on a host, in order (`/usr/bin/python3` first, then
/// ansible-core's `INTERPRETER_PYTHON_FALLBACK` list).
const PYTHONS: &[&str] = &[
    "/usr/bin/python3",
    "python3.14",
    "python3.13",
    "python3.12",
    "python3.11",
    "python3.10",
    "python3.9",
    "python3.8",
    "/usr/libexec/platform-python",
    "python3",
];

/// What the shell prints when the host has no Python.
const NO_PYTHON: &str = "__prov_no_python__";

/// Our wrapper (`wrapper.py`, run as `python -S -c`): reads the arguments (a length line,
/// then JSON) and the zip from stdin, and runs the module from the zip with ansible-core's
/// runner (or, for an ansible-core before 2.19, by setting `basic._ANSIBLE_ARGS` and running
/// the module as `__main__`), with a private temp folder as the module's `_ansible_tmpdir`,
/// removed afterwards.
///
/// The zip is kept for the rest of the run in a private folder under the remote temp folder
/// (`cache`: that folder's name, the zip's SHA-256, and whether the controller already sent
/// it, in which case stdin holds no zip): a module called again on the host is not sent again.
/// A kept zip that has gone (a task removed `~/.ansible/tmp`) exits 125 with
/// [`PAYLOAD_MISSING`], and the controller sends it again.
///
/// With `server` (unless `PROV_FALLBACK_FORK_SERVER=0` on the controller), the first module
/// run per user and Python also leaves a fork server in that folder, with ansible-core's
/// module_utils imported; later runs hand it their stdin, stdout and stderr and it forks a
/// worker for the module (no Python start, no imports), until the folder is removed at the end
/// of the run.
const WRAPPER: &str = include_str!("wrapper.py");

/// Whether hosts keep a fork server for Python modules (`PROV_FALLBACK_FORK_SERVER=0` turns
/// it off).
fn fork_server() -> bool {
    crate::util::switch_on("PROV_FALLBACK_FORK_SERVER")
}

/// What the wrapper prints when the zip it was told it has kept is gone.
const PAYLOAD_MISSING: &str = "__prov_payload_missing__";

/// The zips this run has left on hosts: per connection (host name), the `(become, remote temp
/// folder)` pairs under which a zip was kept, and the zips kept there.
type Kept = std::collections::BTreeMap<String, Vec<(Option<Become>, String, Vec<String>)>>;

fn kept() -> &'static std::sync::Mutex<Kept> {
    static KEPT: std::sync::OnceLock<std::sync::Mutex<Kept>> = std::sync::OnceLock::new();
    KEPT.get_or_init(Default::default)
}

/// The name of this run's folder of kept zips on the hosts (under the remote temp folder).
fn kept_dir() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| format!("prov-payloads-{}", crate::connection::unpredictable_token()))
}

fn same_become(a: &Option<Become>, b: &Option<Become>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.user == b.user && a.method == b.method,
        _ => false,
    }
}

/// Whether the zip `sha` was kept on `host` for this become and temp folder.
fn is_kept(host: &str, become_: &Option<Become>, tmp: &str, sha: &str) -> bool {
    let k = kept().lock().unwrap_or_else(|e| e.into_inner());
    k.get(host).is_some_and(|l| {
        l.iter().any(|(b, t, shas)| {
            same_become(b, become_) && t == tmp && shas.iter().any(|s| s == sha)
        })
    })
}

fn set_kept(host: &str, become_: &Option<Become>, tmp: &str, sha: &str, on: bool) {
    let mut k = kept().lock().unwrap_or_else(|e| e.into_inner());
    let l = k.entry(host.to_string()).or_default();
    let i = match l
        .iter()
        .position(|(b, t, _)| same_become(b, become_) && t == tmp)
    {
        Some(i) => i,
        None => {
            l.push((become_.clone(), tmp.to_string(), vec![]));
            l.len() - 1
        }
    };
    let shas = &mut l[i].2;
    shas.retain(|s| s != sha);
    if on {
        shas.push(sha.to_string());
    }
}

/// Removes the zips this run kept on the host of `conn` (at the end of the run, before the
/// connection closes).
pub async fn forget_kept(conn: &dyn Connection) {
    let list = kept()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(conn.host())
        .unwrap_or_default();
    for (become_, tmp, _) in list {
        let dir = if tmp.starts_with("~/") || tmp == "~" {
            format!("\"$HOME\"{}/{}", &tmp[1..], kept_dir())
        } else {
            format!("{}/{}", quote(&tmp), kept_dir())
        };
        let cmd = Cmd {
            script: format!("rm -rf {dir}"),
            become_,
            ..Default::default()
        };
        let _ = conn.exec(&cmd).await;
    }
}

/// A shell snippet that sets `$py` to the host's Python, or prints [`NO_PYTHON`] and fails.
fn find_python(python: Option<&str>) -> String {
    match python {
        // As Ansible does, the variable is used as given (it may hold arguments).
        Some(p) => format!("py={}; ", quote(p.trim())),
        None => {
            let list: Vec<String> = PYTHONS.iter().map(|p| quote(p)).collect();
            format!(
                "py=; for p in {}; do if command -v \"$p\" >/dev/null 2>&1; then py=$(command -v \"$p\"); break; fi; done; \
                 if [ -z \"$py\" ]; then echo {NO_PYTHON} >&2; exit 127; fi; ",
                list.join(" ")
            )
        }
    }
}

/// The arguments the module gets: the task's, plus Ansible's internal ones.
fn module_args(req: &Request) -> Map<String, Json> {
    let mut a = req.args.clone();
    let mut set = |k: &str, v: Json| {
        a.insert(k.to_string(), v);
    };
    set("_ansible_check_mode", Json::Bool(req.check));
    set("_ansible_no_log", Json::Bool(req.no_log));
    set("_ansible_debug", Json::Bool(false));
    set("_ansible_diff", Json::Bool(req.diff));
    set("_ansible_verbosity", Json::from(req.verbosity));
    set("_ansible_version", Json::from(ANSIBLE_VERSION));
    set("_ansible_module_name", Json::from(req.found.name.as_str()));
    set("_ansible_syslog_facility", Json::from("LOG_USER"));
    set(
        "_ansible_selinux_special_fs",
        serde_json::json!(["fuse", "nfs", "vboxsf", "ramfs", "9p", "vfat"]),
    );
    set("_ansible_socket", Json::Null);
    set("_ansible_shell_executable", Json::from("/bin/sh"));
    set("_ansible_keep_remote_files", Json::Bool(false));
    set("_ansible_tmpdir", Json::Null);
    set("_ansible_remote_tmp", Json::from(req.remote_tmp.as_str()));
    set("_ansible_ignore_unknown_opts", Json::Bool(false));
    set("_ansible_target_log_info", Json::Null);
    set("_ansible_tracebacks_for", serde_json::json!([]));
    // Only the internal arguments the installed ansible-core reads (each version rejects
    // the ones it does not know).
    if let Some(known) = pass_vars() {
        a.retain(|k, _| {
            k.strip_prefix("_ansible_")
                .is_none_or(|n| known.iter().any(|x| x == n))
        });
    }
    a
}

/// The names of ansible-core's `PASS_VARS` (the `_ansible_<name>` arguments its
/// `AnsibleModule` reads), from its `module_utils/common/parameters.py`.
fn pass_vars() -> Option<&'static Vec<String>> {
    static KNOWN: std::sync::OnceLock<Option<Vec<String>>> = std::sync::OnceLock::new();
    KNOWN
        .get_or_init(|| {
            let core = lookup::core()?;
            let text =
                std::fs::read_to_string(core.module_utils().join("common/parameters.py")).ok()?;
            let start = text.find("PASS_VARS")?;
            let body = &text[start..];
            let end = body.find("\n}")?;
            let re = regex::Regex::new(r"(?m)^\s*'([a-z_]+)'\s*:").ok()?;
            let names: Vec<String> = re
                .captures_iter(&body[..end])
                .map(|c| c[1].to_string())
                .collect();
            (!names.is_empty()).then_some(names)
        })
        .as_ref()
}

/// The ansible-core version modules are told they run under.
const ANSIBLE_VERSION: &str = "2.19.0";

/// Python's `str()` of an argument, for an old-style module's `k=v` file.
fn py_str(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        Json::Null => "None".into(),
        other => other.to_string(),
    }
}

/// Runs the module on the host and returns its result (the JSON object it printed), or an
/// error (no Python on the host, the module could not start).
pub async fn run(conn: &dyn Connection, req: &Request<'_>) -> Result<Map<String, Json>> {
    let data = std::fs::read(&req.found.path).map_err(|e| Error::io(&req.found.path, e))?;
    let style = lookup::style(&data);
    let args = module_args(req);
    let (script, stdin) = match style {
        Style::New => {
            let p = payload::payload(req.found)?;
            let host = conn.host();
            let have = is_kept(host, &req.become_, &req.remote_tmp, &p.sha256);
            let script = format!(
                "{}exec $py -S -c {}",
                find_python(req.python.as_deref()),
                quote(WRAPPER)
            );
            let out = run_new(conn, req, &script, &args, &p, have).await?;
            let out = if have && out.rc == 125 && out.stderr_str().contains(PAYLOAD_MISSING) {
                run_new(conn, req, &script, &args, &p, false).await?
            } else {
                out
            };
            if out.rc != 127 {
                set_kept(host, &req.become_, &req.remote_tmp, &p.sha256, true);
            }
            return finish(req, out);
        }
        Style::Old | Style::WantJson | Style::Binary => {
            let argtext = if style == Style::Old {
                let mut s = String::new();
                for (k, v) in &args {
                    s.push_str(&format!("{k}={} ", quote(&py_str(v))));
                }
                s.into_bytes()
            } else {
                serde_json::to_vec(&Json::Object(args)).unwrap_or_default()
            };
            // Python scripts run with the host's Python (Ansible rewrites their `#!`);
            // anything else by its own `#!` line (or as a binary).
            let first = data.split(|b| *b == b'\n').next().unwrap_or_default();
            let python =
                first.starts_with(b"#!") && String::from_utf8_lossy(first).contains("python");
            let run = if python {
                format!(
                    "{}$py \"$d/module\" \"$d/args\"",
                    find_python(req.python.as_deref())
                )
            } else {
                "\"$d/module\" \"$d/args\"".to_string()
            };
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&argtext);
            let script = format!(
                "d=$(mktemp -d \"${{TMPDIR:-/tmp}}/ansible-tmp-prov-XXXXXXXX\") || exit 1; \
                 trap 'rm -rf \"$d\"' EXIT; \
                 IFS= read -r a; printf '%s' \"$a\" | base64 -d > \"$d/args\" && \
                 cat > \"$d/module\" && chmod 700 \"$d/module\" && {run}"
            );
            let mut input = b64.into_bytes();
            input.push(b'\n');
            input.extend_from_slice(&data);
            (script, input)
        }
    };
    let cmd = Cmd {
        script,
        stdin: Stdin::Bytes(stdin),
        become_: req.become_.clone(),
        env: req.env.clone(),
        ..Default::default()
    };
    let out = conn.exec(&cmd).await?;
    finish(req, out)
}

/// Runs a Python module through the wrapper: its arguments, and the zip unless the host kept
/// it earlier in the run (`have`).
async fn run_new(
    conn: &dyn Connection,
    req: &Request<'_>,
    script: &str,
    args: &Map<String, Json>,
    p: &payload::Payload,
    have: bool,
) -> Result<crate::connection::ExecOutput> {
    let mut head = Map::new();
    head.insert("ANSIBLE_MODULE_ARGS".into(), Json::Object(args.clone()));
    head.insert("fqn".into(), Json::from(req.found.fqn.as_str()));
    head.insert(
        "cache".into(),
        serde_json::json!([kept_dir(), p.sha256, have]),
    );
    head.insert("server".into(), Json::Bool(fork_server()));
    let head = serde_json::to_vec(&Json::Object(head)).unwrap_or_default();
    let mut input = format!("{}\n", head.len()).into_bytes();
    input.extend_from_slice(&head);
    if !have {
        input.extend_from_slice(&p.zip);
    }
    let cmd = Cmd {
        script: script.to_string(),
        stdin: Stdin::Bytes(input),
        become_: req.become_.clone(),
        env: req.env.clone(),
        ..Default::default()
    };
    conn.exec(&cmd).await
}

/// The module's result from what the host printed.
fn finish(req: &Request<'_>, out: crate::connection::ExecOutput) -> Result<Map<String, Json>> {
    let stdout = out.stdout_str();
    let stderr = out.stderr_str();
    if out.rc == 127 && stderr.contains(NO_PYTHON) {
        return Err(Error::failed(format!(
            "module {} needs Python on the host; prov's native modules do not",
            req.found.name
        ))
        .hint(format!(
            "install python3 on the host, or set ansible_python_interpreter (looked for: {})",
            PYTHONS.join(", ")
        )));
    }
    let mut result = parse_result(&stdout, &stderr, out.rc);
    // In an `async` job, what the module printed on stderr is its result's `stderr`, and
    // text after its JSON a warning (as Ansible's async wrapper reads a module's output).
    if !result.contains_key("module_stderr") && crate::connection::detached::current_job().is_some()
    {
        if !stderr.is_empty() {
            result.insert("stderr".into(), Json::from(stderr));
        }
        if let Some(w) = trailing_junk_warning(&stdout) {
            match result.get_mut("warnings") {
                Some(Json::Array(a)) => a.push(Json::from(w)),
                _ => {
                    result.insert("warnings".into(), Json::Array(vec![Json::from(w)]));
                }
            }
        }
    }
    Ok(result)
}

/// Ansible's warning for lines after a module's JSON output (its last line ending in `}` or
/// `]`), when one of them is not blank.
fn trailing_junk_warning(stdout: &str) -> Option<String> {
    let lines: Vec<&str> = stdout.lines().collect();
    let end = lines
        .iter()
        .rposition(|l| l.trim_end().ends_with(['}', ']']))?;
    let junk = &lines[end + 1..];
    junk.iter().any(|l| !l.trim().is_empty()).then(|| {
        format!(
            "Module invocation had junk after the JSON data: {}",
            junk.join("\n")
        )
    })
}

/// The module's JSON result from its output: the first line that starts a JSON object, to
/// the end of that object (text around it is ignored, as Ansible ignores it). Output that
/// holds no result gives Ansible's failed result with the raw output.
pub fn parse_result(stdout: &str, stderr: &str, rc: i32) -> Map<String, Json> {
    let mut off = 0;
    for line in stdout.split_inclusive('\n') {
        if line.trim_start().starts_with('{') {
            let start = off + (line.len() - line.trim_start().len());
            let mut de = serde_json::Deserializer::from_str(&stdout[start..]).into_iter::<Json>();
            if let Some(Ok(Json::Object(m))) = de.next() {
                return m;
            }
            break;
        }
        off += line.len();
    }
    let mut m = Map::new();
    m.insert("failed".into(), Json::Bool(true));
    m.insert(
        "msg".into(),
        Json::from(format!(
            "Module result deserialization failed: {}",
            if stdout.trim().is_empty() {
                "the module printed nothing"
            } else {
                "no JSON object in its output"
            }
        )),
    );
    m.insert("module_stdout".into(), Json::from(stdout));
    m.insert("module_stderr".into(), Json::from(stderr));
    m.insert("rc".into(), Json::from(rc));
    m
}

/// A module's result with ansible-core's tagged objects (`{"__ansible_type": ...}`, how 2.19
/// modules send warnings, deprecations and errors) turned into what a playbook sees, as
/// ansible-core's controller does: a warning is its message, a deprecation a mapping of
/// `msg`, `version` or `date` and `deprecator` (the engine adds `collection_name`), an error
/// its traceback (or
/// message).
pub fn untag(v: Json) -> Json {
    match v {
        Json::Array(a) => Json::Array(a.into_iter().map(untag).collect()),
        Json::Object(mut m) => {
            let Some(Json::String(ty)) = m.remove("__ansible_type") else {
                return Json::Object(m.into_iter().map(|(k, v)| (k, untag(v))).collect());
            };
            let event_msg = |m: &Map<String, Json>| {
                m.get("event")
                    .and_then(|e| e.get("msg"))
                    .cloned()
                    .unwrap_or(Json::Null)
            };
            match ty.as_str() {
                "Event" => m.get("msg").cloned().unwrap_or(Json::Null),
                "WarningSummary" => event_msg(&m),
                "ErrorSummary" => m
                    .get("event")
                    .and_then(|e| e.get("formatted_traceback"))
                    .filter(|t| t.is_string())
                    .cloned()
                    .unwrap_or_else(|| Json::from("(traceback unavailable)")),
                "DeprecationSummary" => {
                    let mut out = Map::new();
                    out.insert("msg".into(), event_msg(&m));
                    let dep = m.remove("deprecator").map(untag);
                    for k in ["version", "date"] {
                        if let Some(x) = m.remove(k).filter(|x| !x.is_null()) {
                            out.insert(k.into(), x);
                        }
                    }
                    if let Some(d) = dep {
                        out.insert("deprecator".into(), d);
                    }
                    Json::Object(out)
                }
                "PluginType" => m.remove("value").unwrap_or(Json::Null),
                _ => Json::Object(m.into_iter().map(|(k, v)| (k, untag(v))).collect()),
            }
        }
        other => other,
    }
}

/// The hint of the load error for a name that is neither native nor found: the suggestion,
/// else where Ansible modules were looked for.
pub fn hint(name: &str, suggestion: Option<&str>) -> String {
    if let Some(s) = suggestion {
        return format!("did you mean '{s}'?");
    }
    let mut s = lookup::Searched::default();
    let _ = lookup::find_tracing(name, &mut s);
    let mut seen = std::collections::HashSet::new();
    s.0.retain(|p| seen.insert(p.clone()));
    format!(
        "see `prov doc --list` for the modules prov provides; no Ansible module of that name in: {}",
        s.0.join(", ")
    )
}

/// [`untag`] for a whole result, except its top-level `exception`, which the engine reads
/// first (its message becomes the task's) and untags itself.
pub fn untag_result(r: Map<String, Json>) -> Map<String, Json> {
    r.into_iter()
        .map(|(k, v)| {
            if k == "exception" {
                (k, v)
            } else {
                (k, untag(v))
            }
        })
        .collect()
}

/// The places a lookup searched, for the error when a module is not found.
pub fn not_found(name: &str) -> Error {
    let mut s = lookup::Searched::default();
    let _ = lookup::find_tracing(name, &mut s);
    let mut seen = std::collections::HashSet::new();
    s.0.retain(|p| seen.insert(p.clone()));
    Error::failed(format!(
        "couldn't resolve module/action '{name}': prov has no native module of that name, and no Ansible module was found"
    ))
    .hint(format!("searched: {}", s.0.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::trailing_junk_warning;

    #[test]
    fn junk_after_a_module_s_json_is_a_warning() {
        assert_eq!(
            trailing_junk_warning("junk\n{\"a\": 1}\ntrailing junk\n").as_deref(),
            Some("Module invocation had junk after the JSON data: trailing junk")
        );
        assert_eq!(trailing_junk_warning("{\"a\": 1}\n\n"), None);
        assert_eq!(trailing_junk_warning("nothing"), None);
    }

    use super::*;

    #[test]
    fn the_result_is_the_json_object_the_module_printed() {
        let m = parse_result("noise\n{\"changed\": true, \"x\": [1]}\ntrailing\n", "", 0);
        assert_eq!(m["changed"], Json::Bool(true));
        assert_eq!(m["x"], serde_json::json!([1]));
        let m = parse_result("Traceback: boom\n", "err", 1);
        assert_eq!(m["failed"], Json::Bool(true));
        assert_eq!(m["module_stderr"], Json::from("err"));
        assert_eq!(m["rc"], Json::from(1));
    }

    #[test]
    fn tagged_warnings_and_deprecations_read_as_ansible_shows_them() {
        let r = untag(serde_json::json!({
            "warnings": [{"__ansible_type": "WarningSummary", "event": {"__ansible_type": "Event", "msg": "w"}}],
            "deprecations": [{"__ansible_type": "DeprecationSummary",
                "deprecator": {"__ansible_type": "PluginInfo", "resolved_name": "ansible.legacy.noisy",
                    "type": {"__ansible_type": "PluginType", "value": "module"}},
                "event": {"__ansible_type": "Event", "msg": "d"}, "version": "9.9"}],
            "exception": {"__ansible_type": "ErrorSummary", "event": {"__ansible_type": "Event", "msg": "boom", "formatted_traceback": "Traceback"}},
        }));
        assert_eq!(r["warnings"], serde_json::json!(["w"]));
        assert_eq!(
            r["deprecations"],
            serde_json::json!([{"msg": "d", "version": "9.9",
                "deprecator": {"resolved_name": "ansible.legacy.noisy", "type": "module"}}])
        );
        assert_eq!(r["exception"], Json::from("Traceback"));
    }

    #[test]
    fn old_style_arguments_are_python_strings() {
        assert_eq!(py_str(&Json::Bool(true)), "True");
        assert_eq!(py_str(&Json::Null), "None");
        assert_eq!(py_str(&Json::from("a b")), "a b");
    }
}
