//! The injection harness (issue 9): every registered module, every string-valued option of it,
//! hostile values (`x'$(touch${IFS}MARK)'`, backticks, `;`, newlines, `--help`, `*`, `../..`,
//! unicode...), through a real run of the module on the local connection (real `/bin/sh`):
//! plan, then `apply_plan` the way the engine does it. The assertion is that no command line
//! built by prov ever lets a value escape its quoting:
//!
//! - dynamically: the marker file MARK (a unique path per run, in a temp folder) never appears;
//! - statically: no script prov sent (every probe and command, recorded by a wrapping
//!   connection) nor any planned `Exec` action (check mode included) contains a payload that
//!   holds a `'` as is — `quote` always rewrites `'`, so seeing the raw value means it was
//!   pasted into the script unquoted or between quotes of its own.
//!
//! A module failing cleanly (validation error, failed plan, failed command) is fine.
//!
//! Modules are run with sane required options from the scenario table below, paths inside the
//! temp folder (the process's working directory is a folder in it too, so relative hostile
//! paths stay there). Modules that would change the machine or need services (apt, package,
//! service/systemd, user, group, hostname, apt/deb822 repositories, cron without cron_file)
//! are planned in check mode: their probes run for real and their planned commands are checked
//! statically. The docker modules run against a fake `docker` CLI (a shell script first on
//! PATH) that answers just enough for the deep paths to run: removal and wait loops, pulls,
//! network recreation; apt, package and user crontabs get fake `apt-get`/`apt-cache`/`dpkg-*`
//! and `crontab` the same way (real apt simulations take seconds). Each scenario also runs
//! once unfuzzed and must succeed (unless listed in `FAILING_BASELINES`), so that the fuzzed
//! runs get as far as the module's commands. The AWS modules call the EC2 API and build no
//! command line, so they are listed as such; a module missing from the table fails the harness.
//!
//! `PROV_KEEP_TEST_DIRS=1` keeps the temp folder.

use async_trait::async_trait;
use futures::StreamExt;
use prov::Result;
use prov::connection::local::LocalConnection;
use prov::connection::{Cmd, Connection, ExecOutput, Secret, Stdin};
use prov::modules::{Action, OptKind, Registry, Render, TaskCtx, validate_args};
use prov::value::{Value, Vars, from_json, value_to_vars};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Hostile values; `MARK` becomes the run's marker path.
const PAYLOADS: &[&str] = &[
    "x'$(touch${IFS}MARK)'",
    "x'\"$(touch${IFS}MARK)\"'",
    "$(touch MARK)",
    "$(touch${IFS}MARK)",
    "`touch MARK`",
    "x`touch${IFS}MARK`",
    ";touch MARK;",
    ";touch${IFS}MARK;",
    "\"; touch MARK; \"",
    "x\"$(touch${IFS}MARK)\"",
    "a\ntouch MARK",
    "--help",
    "-rf",
    "*",
    "../../x",
    "ünïcødé ✓ 日本語 Ω",
];

/// Modules that run no command on the host (they call a cloud API from the controller).
const API_ONLY: &[&str] = &["ec2_group", "ec2_instance_info", "ec2_security_group"];

/// The fake docker CLI: enough answers for every docker module's deep paths. `FAKE_DOCKER_NET=none`
/// makes `network inspect` find nothing.
const FAKE_DOCKER: &str = r#"#!/bin/sh
case "$1 $2" in
"info "*)
  case "$*" in
  *ControlAvailable*) echo true ;;
  *) echo '{"LocalNodeState":"inactive","ControlAvailable":false,"NodeID":"","Cluster":{"ID":""}}' ;;
  esac ;;
"image inspect") exit 1 ;;
"network inspect")
  [ "$FAKE_DOCKER_NET" = none ] && exit 1
  case "$*" in
  *json*)
    n=$(printf '%s' "$3" | sed 's/\\/\\\\/g; s/"/\\"/g')
    printf '{"Name":"%s","Driver":"macvlan","Scope":"local","Options":{},"Labels":{},"IPAM":{"Config":[]}}\n' "$n" ;;
  esac ;;
"network ls") echo net1 ;;
"service ls") case "$*" in *" -q"*) echo svc1 ;; *) echo 'st_web 0/1' ;; esac ;;
"service inspect") echo '{"Spec":{"Name":"st_web","Labels":{}}}' ;;
"node inspect") echo '{"ID":"n1","Spec":{"Labels":{"old":"1"},"Availability":"active","Role":"worker"}}' ;;
esac
exit 0
"#;

/// Fractions of a second (docker_network's removal wait) pass at once; whole seconds sleep.
/// Fake apt tools (the apt and package modules are planned in check mode; real simulations
/// take seconds): every name has a candidate, nothing is installed, a simulation installs `pkg`.
const FAKE_APT_CACHE: &str = "#!/bin/sh\np=\nfor a; do\n  if [ -n \"$p\" ]; then printf '%s:\\n  Installed: (none)\\n  Candidate: 1.0\\n' \"$a\"; fi\n  [ \"$a\" = policy ] && p=1\ndone\nexit 0\n";
const FAKE_APT_GET: &str =
    "#!/bin/sh\nfor a; do [ \"$a\" = -s ] && echo 'Inst pkg (1.0 stable [all])'; done\nexit 0\n";
const FAKE_DPKG_QUERY: &str = "#!/bin/sh\nexit 1\n";
const FAKE_DPKG_DEB: &str = "#!/bin/sh\necho pkg\n";
/// A fake crontab (cron without cron_file edits a user's crontab): empty, accepts anything.
const FAKE_CRONTAB: &str = "#!/bin/sh\ncat >/dev/null\nexit 0\n";

const FAKE_SLEEP: &str = "#!/bin/sh\ncase \"$1\" in 0.*) exit 0 ;; esac\nexec /bin/sleep \"$@\"\n";

/// Scenarios whose unfuzzed arguments fail on this machine (module name, its scenario number):
/// their fuzzed runs still cover what happens before the failure.
const FAILING_BASELINES: &[(&str, usize)] = &[
    // fails by definition
    ("fail", 0),
    // no such job (`could not find job`)
    ("async_status", 0),
    ("async_status", 1),
    // no systemd in a container: the probe runs, nothing is planned
    ("systemd_service", 0),
    ("systemd", 0),
    // the fake docker CLI drives the failure paths, whose messages are built from the values
    ("docker_image", 0),
    ("docker_image", 1),
    ("docker_image", 2),
    ("docker_network", 0),
    ("docker_stack", 0),
];

/// The number of the scenario of job `n` among its module's scenarios (0 = the first).
fn n_of_module(jobs: &[Job], n: usize) -> usize {
    jobs[..n]
        .iter()
        .filter(|j| j.baseline && j.module == jobs[n].module)
        .count()
}

/// How a scenario runs.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Plan and apply.
    Run,
    /// Plan in check mode (probes run; planned commands are checked statically).
    Check,
}

/// One way to run a module: base arguments (`{d}` = the run's own folder, `{F}` = shared
/// fixtures), which options not to fuzz (code by contract, like `validate` or a shell's `cmd`)
/// or which only, and extra environment.
struct Scenario {
    module: &'static str,
    args: Json,
    mode: Mode,
    skip: &'static [&'static str],
    only: &'static [&'static str],
    fake: bool,
    env: &'static [(&'static str, &'static str)],
}

fn sc(module: &'static str, mode: Mode, args: Json) -> Scenario {
    Scenario {
        module,
        args,
        mode,
        skip: &[],
        only: &[],
        fake: false,
        env: &[],
    }
}

impl Scenario {
    fn skip(mut self, s: &'static [&'static str]) -> Self {
        self.skip = s;
        self
    }
    fn only(mut self, s: &'static [&'static str]) -> Self {
        self.only = s;
        self
    }
    /// Runs with the fake tools (docker, apt) first on PATH.
    fn fake(mut self) -> Self {
        self.fake = true;
        self
    }
    fn env(mut self, e: &'static [(&'static str, &'static str)]) -> Self {
        self.env = e;
        self
    }
}

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq9m4cVfQh1CvyyJm7zI3Rm1kK3d5m4P2lPp0fA4h9a inj@test";

fn scenarios() -> Vec<Scenario> {
    use Mode::{Check, Run};
    vec![
        // commands: the command text of shell/raw/script is code by contract.
        sc("command", Run, json!({"cmd": "true", "chdir": "{d}"})),
        sc("command", Run, json!({"argv": ["true", "a"]})),
        sc("shell", Run, json!({"cmd": "true"})).skip(&["cmd"]),
        sc("raw", Run, json!({"cmd": "true"})).skip(&["cmd"]),
        sc("script", Run, json!({"cmd": "s.sh a"})).skip(&["cmd"]),
        sc("ping", Run, json!({})),
        // No job exists (a status folder that cannot exist): the jid reaches the probe and,
        // in cleanup mode, nothing is removed.
        sc("async_status", Run, json!({"jid": "j1.1"}))
            .env(&[("ANSIBLE_ASYNC_DIR", "/nonexistent-prov-inj/jobs")]),
        sc(
            "async_status",
            Run,
            json!({"jid": "j1.1", "mode": "cleanup"}),
        )
        .env(&[("ANSIBLE_ASYNC_DIR", "/nonexistent-prov-inj/jobs")]),
        sc("debug", Run, json!({"msg": "x"})),
        sc("assert", Run, json!({"that": ["true"]})),
        sc("fail", Run, json!({"msg": "x"})),
        sc("pause", Run, json!({"seconds": 0})),
        sc(
            "wait_for",
            Run,
            json!({"path": "{d}/file", "search_regex": "a", "timeout": 1}),
        ),
        sc(
            "wait_for",
            Run,
            json!({"port": 1, "host": "127.0.0.1", "state": "stopped", "timeout": 1}),
        ),
        sc(
            "wait_for",
            Run,
            json!({"port": 1, "state": "drained", "timeout": 1,
                   "active_connection_states": ["ESTABLISHED"], "exclude_hosts": ["10.0.0.1"]}),
        ),
        sc("wait_for_connection", Run, json!({"timeout": 1})),
        // files
        sc(
            "copy",
            Run,
            json!({"content": "x\n", "dest": "{d}/copy", "mode": "0640"}),
        )
        .skip(&["validate"]),
        sc(
            "copy",
            Run,
            json!({"src": "src.txt", "dest": "{d}/copied/"}),
        )
        .skip(&["validate"]),
        sc(
            "copy",
            Run,
            json!({"src": "{d}/file", "dest": "{d}/rcopy", "remote_src": true, "owner": "root"}),
        )
        .skip(&["validate"]),
        sc(
            "copy",
            Run,
            json!({"src": "{F}/tree/", "dest": "{d}/tree", "remote_src": true,
                   "directory_mode": "0750"}),
        )
        .skip(&["validate"]),
        sc("template", Run, json!({"src": "t.j2", "dest": "{d}/tpl"})).skip(&["validate"]),
        sc(
            "assemble",
            Run,
            json!({"src": "{F}/tree", "dest": "{d}/assembled", "delimiter": "--",
                   "regexp": ".", "mode": "0640"}),
        )
        .skip(&["validate"]),
        sc(
            "assemble",
            Run,
            json!({"src": ".", "dest": "{d}/assembled-local", "remote_src": false}),
        )
        .skip(&["validate"]),
        sc(
            "file",
            Run,
            json!({"path": "{d}/touched", "state": "touch", "mode": "0644",
                   "modification_time": "202401311230.00"}),
        ),
        sc(
            "file",
            Run,
            json!({"path": "{d}/dir/sub", "state": "directory", "mode": "u=rwx,g=rx",
                   "owner": "root", "group": "root", "recurse": true}),
        ),
        sc(
            "file",
            Run,
            json!({"path": "{d}/link", "src": "{d}/file", "state": "link",
                   "follow": false, "owner": "root"}),
        ),
        sc(
            "file",
            Run,
            json!({"path": "{d}/hard", "src": "{d}/file", "state": "hard"}),
        ),
        sc("file", Run, json!({"path": "{d}/file", "state": "absent"})),
        sc(
            "lineinfile",
            Run,
            json!({"path": "{d}/file", "line": "b=2", "regexp": "^b=",
                   "insertafter": "^a", "create": true, "backup": true,
                   "owner": "root", "group": "root", "mode": "0600"}),
        )
        .skip(&["validate"]),
        sc(
            "lineinfile",
            Run,
            json!({"path": "{d}/file", "search_string": "a=1", "state": "absent"}),
        )
        .skip(&["validate"]),
        sc(
            "blockinfile",
            Run,
            json!({"path": "{d}/file", "block": "x", "create": true,
                   "insertbefore": "BOF", "mode": "0600"}),
        )
        .skip(&["validate"]),
        sc(
            "replace",
            Run,
            json!({"path": "{d}/file", "regexp": "a", "replace": "b",
                   "after": "^", "before": "$", "owner": "root"}),
        )
        .skip(&["validate"]),
        sc(
            "stat",
            Run,
            json!({"path": "{d}/file", "checksum_algorithm": "sha256"}),
        ),
        sc("slurp", Run, json!({"src": "{d}/file"})),
        sc(
            "tempfile",
            Run,
            json!({"path": "{d}", "prefix": "p", "suffix": ".s", "state": "file"}),
        ),
        sc(
            "fetch",
            Run,
            json!({"src": "{d}/file", "dest": "{d}/fetched/"}),
        ),
        sc(
            "find",
            Run,
            json!({"paths": ["{d}"], "patterns": ["*"], "excludes": ["z*"],
                   "contains": "a", "age": "-1d", "size": "-1m", "recurse": true}),
        ),
        sc(
            "unarchive",
            Run,
            json!({"src": "{F}/a.tar", "dest": "{d}/", "remote_src": true,
                   "owner": "root", "group": "root", "creates": "{d}/nope",
                   "include": ["a.txt"]}),
        ),
        sc(
            "unarchive",
            Run,
            json!({"src": "a.tar", "dest": "{d}/", "exclude": ["b.txt"]}),
        ),
        // system modules that only write files here, or only read
        sc(
            "authorized_key",
            Run,
            json!({"user": "root", "key": KEY, "path": "{d}/ak",
                   "manage_dir": false, "key_options": "no-pty",
                   "comment": "c"}),
        ),
        sc(
            "sysctl",
            Run,
            json!({"name": "vm.swappiness", "value": "10",
                   "sysctl_file": "{d}/sysctl.conf", "reload": false,
                   "sysctl_set": false}),
        ),
        sc(
            "cron",
            Run,
            json!({"name": "j", "job": "true", "user": "root",
                   "cron_file": "{d}/cron", "minute": "5", "hour": "*",
                   "insertafter": "x"}),
        )
        // a relative cron_file lands in /etc/cron.d: fuzzed in check mode only
        .skip(&["cron_file"]),
        sc(
            "cron",
            Check,
            json!({"name": "j", "job": "true", "user": "root",
                   "cron_file": "{d}/cron"}),
        )
        .only(&["cron_file"]),
        sc(
            "cron",
            Check,
            json!({"name": "j", "job": "true", "special_time": "daily"}),
        )
        .fake(),
        sc(
            "cron",
            Check,
            json!({"name": "V", "job": "1", "env": true, "insertbefore": "x"}),
        )
        .fake(),
        sc(
            "get_url",
            Run,
            json!({"url": "file://{F}/src.txt", "dest": "{d}/dl", "mode": "0600",
                   "checksum": "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", "url_username": "u",
                   "url_password": "p", "headers": {"X-A": "b"}}),
        ),
        sc(
            "getent",
            Run,
            json!({"database": "passwd", "key": "root", "split": ":",
                   "service": "files"}),
        ),
        sc(
            "setup",
            Run,
            json!({"filter": ["ansible_*"], "gather_subset": ["min"],
                   "fact_path": "{d}/facts.d"}),
        ),
        // would change the machine: check mode
        sc(
            "apt",
            Check,
            json!({"name": ["prov-inj-nonexistent"], "default_release": "stable",
                   "dpkg_options": "force-confold"}),
        )
        .fake(),
        sc("apt", Check, json!({"deb": "{d}/file"})).fake(),
        sc(
            "apt_key",
            Check,
            json!({"id": "0123456789ABCDEF", "keyring": "{d}/inj.gpg", "state": "absent"}),
        ),
        sc(
            "pip",
            Check,
            json!({"name": ["prov-inj-nonexistent"], "virtualenv": "{d}/venv",
                   "virtualenv_command": "python3 -m venv", "chdir": "{d}"}),
        )
        .skip(&["virtualenv_command"]),
        sc(
            "git",
            Check,
            json!({"repo": "{F}/repo", "dest": "{d}/clone", "version": "HEAD"}),
        ),
        sc(
            "package",
            Check,
            json!({"name": ["prov-inj-nonexistent"], "state": "present"}),
        )
        .fake(),
        sc(
            "apt_repository",
            Check,
            json!({"repo": "deb http://example.invalid/d stable main",
                   "filename": "inj", "codename": "stable"}),
        ),
        sc(
            "deb822_repository",
            Check,
            json!({"name": "inj", "types": ["deb"],
                   "uris": ["http://example.invalid/d"],
                   "suites": ["stable"], "components": ["main"],
                   "signed_by": "{d}/file"}),
        ),
        sc(
            "service",
            Check,
            json!({"name": "prov-inj-nonexistent", "state": "started",
                   "pattern": "x", "arguments": "a", "runlevel": "default"}),
        ),
        sc(
            "service",
            Check,
            json!({"name": "prov-inj-nonexistent", "state": "started",
                   "use": "sysv"}),
        ),
        sc(
            "systemd_service",
            Check,
            json!({"name": "prov-inj-nonexistent.service",
                   "state": "started", "enabled": true}),
        ),
        sc(
            "systemd",
            Check,
            json!({"name": "prov-inj-nonexistent.service", "state": "started"}),
        ),
        sc(
            "user",
            Check,
            json!({"name": "provinjuser", "shell": "/bin/sh", "home": "{d}/home",
                   "comment": "c", "groups": ["root"], "group": "root",
                   "password": "$6$x$y"}),
        ),
        sc(
            "user",
            Check,
            json!({"name": "root", "shell": "/bin/sh", "comment": "c",
                   "groups": ["root"], "append": true}),
        ),
        sc("group", Check, json!({"name": "provinjgroup"})),
        sc("hostname", Check, json!({"name": "provinj"})),
        // docker, against the fake CLI
        sc(
            "docker_image",
            Run,
            json!({"name": "img", "tag": "1", "source": "pull"}),
        )
        .fake(),
        sc(
            "docker_image",
            Run,
            json!({"name": "img", "source": "load",
                   "load_path": "{d}/file"}),
        )
        .fake(),
        sc(
            "docker_image",
            Run,
            json!({"name": "img", "source": "build",
                   "build": {"path": "{F}/ctx", "dockerfile": "Dockerfile",
                   "args": {"A": "1"}, "network": "host",
                   "target": "t"}}),
        )
        .fake(),
        sc(
            "docker_network",
            Run,
            json!({"name": "net", "driver": "bridge", "force": true}),
        )
        .fake()
        .only(&["name"]),
        sc(
            "docker_network",
            Run,
            json!({"name": "net", "driver": "overlay", "scope": "swarm",
                   "ipam_config": [{"subnet": "10.9.0.0/24",
                   "gateway": "10.9.0.1"}],
                   "driver_options": {"o": "1"},
                   "labels": {"l": "1"}}),
        )
        .fake()
        .env(&[("FAKE_DOCKER_NET", "none")]),
        sc(
            "docker_network",
            Run,
            json!({"name": "net", "state": "absent"}),
        )
        .fake(),
        sc(
            "docker_stack",
            Run,
            json!({"name": "st", "state": "absent", "absent_retries": 1}),
        )
        .fake()
        .only(&["name"]),
        sc(
            "docker_stack",
            Run,
            json!({"name": "st", "resolve_image": "never",
                   "compose": ["{d}/compose.yml",
                   {"version": "3.8",
                   "services": {"web": {"image": "x"}}}]}),
        )
        .fake(),
        sc(
            "docker_node",
            Run,
            json!({"hostname": "n1", "labels": {"a": "1"},
                   "labels_to_remove": ["old"], "availability": "drain"}),
        )
        .fake(),
        sc(
            "docker_swarm",
            Run,
            json!({"state": "present", "advertise_addr": "10.0.0.1",
                   "listen_addr": "0.0.0.0:2377",
                   "default_addr_pool": ["10.10.0.0/16"],
                   "data_path_addr": "10.0.0.1"}),
        )
        .fake(),
        sc(
            "docker_swarm",
            Run,
            json!({"state": "join", "join_token": "SWMTKN-1-x",
                   "remote_addrs": ["10.0.0.2"]}),
        )
        .fake(),
        sc("docker_swarm_info", Run, json!({"nodes": true})).fake(),
    ]
}

/// A renderer that returns templates as they are and evaluates every expression to true.
struct PlainRender;

impl Render for PlainRender {
    fn render_text(&self, text: &str, _origin: &Path) -> Result<String> {
        Ok(text.to_string())
    }
    fn eval(&self, _expr: &str) -> Result<Value> {
        Ok(Value::from(true))
    }
}

/// The local connection, recording the script of every command prov sends (probes, actions,
/// uploads and reads).
struct Recording {
    inner: LocalConnection,
    scripts: Mutex<Vec<String>>,
}

#[async_trait]
impl Connection for Recording {
    fn host(&self) -> &str {
        self.inner.host()
    }
    async fn exec_raw(
        &self,
        line: &str,
        preamble: Option<&Secret>,
        stdin: &Stdin,
    ) -> Result<ExecOutput> {
        self.inner.exec_raw(line, preamble, stdin).await
    }
    async fn exec(&self, cmd: &Cmd) -> Result<ExecOutput> {
        self.scripts.lock().unwrap().push(cmd.script.clone());
        self.inner.exec(cmd).await
    }
}

/// Every string leaf (and object key) of `v` replaced by `p`, one at a time.
fn leaf_variants(v: &Json, p: &str) -> Vec<Json> {
    match v {
        Json::String(_) => vec![Json::String(p.to_string())],
        Json::Array(a) => {
            let mut out = Vec::new();
            for (i, x) in a.iter().enumerate() {
                for y in leaf_variants(x, p) {
                    let mut b = a.clone();
                    b[i] = y;
                    out.push(Json::Array(b));
                }
            }
            out
        }
        Json::Object(m) => {
            let mut out = Vec::new();
            for (k, x) in m {
                for y in leaf_variants(x, p) {
                    let mut b = m.clone();
                    b.insert(k.clone(), y);
                    out.push(Json::Object(b));
                }
                let mut b = serde_json::Map::new();
                for (k2, x2) in m {
                    b.insert(if k2 == k { p.to_string() } else { k2.clone() }, x2.clone());
                }
                out.push(Json::Object(b));
            }
            out
        }
        _ => vec![],
    }
}

/// `v` with `f` applied to every string (object keys included).
fn map_strings(v: &Json, f: &dyn Fn(&str) -> String) -> Json {
    match v {
        Json::String(s) => Json::String(f(s)),
        Json::Array(a) => Json::Array(a.iter().map(|x| map_strings(x, f)).collect()),
        Json::Object(m) => Json::Object(m.iter().map(|(k, x)| (f(k), map_strings(x, f))).collect()),
        other => other.clone(),
    }
}

/// One fuzzed run.
struct Job {
    n: usize,
    /// The scenario's own arguments, unfuzzed: must succeed, so that the fuzzed runs reach
    /// the module's commands.
    baseline: bool,
    module: &'static str,
    option: String,
    payload: &'static str,
    args: Json,
    mode: Mode,
    env: Vec<(String, String)>,
}

/// What a run did.
struct Outcome {
    /// How a value escaped its quoting, if one did.
    escaped: Option<String>,
    /// Why the module failed (validation, planning, a failed plan or action), if it did.
    failed: Option<String>,
}

async fn run_job(job: &Job, reg: &Registry, root: &Path, facts: &Vars) -> Outcome {
    let d = root.join("r").join(job.n.to_string());
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("file"), "a=1\n").unwrap();
    std::fs::write(d.join("compose.yml"), "services:\n  db:\n    image: y\n").unwrap();
    let conn = Recording {
        inner: LocalConnection::new("localhost"),
        scripts: Mutex::new(Vec::new()),
    };
    let ctx = TaskCtx::new("localhost", &conn, facts, &PlainRender)
        .with_env(job.env.clone())
        .with_check_mode(job.mode == Mode::Check)
        .with_diff_mode(true)
        .with_search_paths(vec![root.join("play")]);
    let m = reg.get(job.module).unwrap();
    let mut planned = Vec::new();
    let failed = match validate_args(m.doc(), &value_to_vars(&from_json(&job.args))) {
        Err(e) => Some(e.render()),
        Ok(args) => match m.plan(&ctx, &args).await {
            Err(e) => Some(e.render()),
            Ok(plan) => {
                for c in &plan.changes {
                    if let Action::Exec { cmd, .. } = &c.action {
                        planned.push(cmd.script.clone());
                    }
                }
                match prov::modules::apply_plan(plan, &conn, job.mode == Mode::Check).await {
                    Err(e) => Some(e.render()),
                    Ok(a) => a.failed().map(str::to_string),
                }
            }
        },
    };
    let escaped = escaped(job, root, &conn, &planned);
    Outcome { escaped, failed }
}

/// How the run's value escaped, if it did: the marker exists, or a script holds it as is.
fn escaped(job: &Job, root: &Path, conn: &Recording, planned: &[String]) -> Option<String> {
    let mark = root.join("m").join(job.n.to_string());
    if mark.exists() {
        return Some("the marker was created: a value escaped its quoting".into());
    }
    let raw = job.payload.replace("MARK", &mark.to_string_lossy());
    // `quote` rewrites every `'`: a value holding `x'` cannot show as is in a quoted word.
    if raw.contains("x'") {
        let sent = conn.scripts.lock().unwrap();
        if let Some(s) = sent.iter().chain(planned).find(|s| s.contains(&raw)) {
            return Some(format!(
                "a script holds the value unquoted:\n{}",
                s.chars().take(1200).collect::<String>()
            ));
        }
    }
    None
}

/// Leaves the temp folder (the working directory) and removes it, also when the test fails.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::env::set_current_dir(std::env::temp_dir());
        if std::env::var_os("PROV_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn fixtures(root: &Path, dockerbin: &Path) {
    let f = root.join("F");
    std::fs::create_dir_all(f.join("tree/sub")).unwrap();
    std::fs::create_dir_all(f.join("ctx")).unwrap();
    std::fs::write(f.join("src.txt"), "hello\n").unwrap();
    std::fs::write(f.join("tree/sub/x.txt"), "x\n").unwrap();
    std::fs::write(f.join("ctx/Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(f.join("a.txt"), "a\n").unwrap();
    std::fs::write(f.join("b.txt"), "b\n").unwrap();
    let st = std::process::Command::new("tar")
        .args(["cf", "a.tar", "a.txt", "b.txt"])
        .current_dir(&f)
        .status()
        .unwrap();
    assert!(st.success());
    // A git repository with one commit (the git module's scenario clones it).
    let repo = f.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    for args in [
        &["init", "-q"][..],
        &[
            "-c",
            "user.name=prov",
            "-c",
            "user.email=prov@example.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "init",
        ][..],
    ] {
        let st = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .status()
            .unwrap();
        assert!(st.success(), "git {args:?}");
    }
    let play = root.join("play");
    for sub in ["files", "templates"] {
        std::fs::create_dir_all(play.join(sub)).unwrap();
    }
    std::fs::write(play.join("files/src.txt"), "local\n").unwrap();
    std::fs::write(play.join("files/s.sh"), "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::copy(f.join("a.tar"), play.join("files/a.tar")).unwrap();
    std::fs::write(play.join("templates/t.j2"), "t\n").unwrap();
    std::fs::create_dir_all(dockerbin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for (name, text) in [
        ("docker", FAKE_DOCKER),
        ("sleep", FAKE_SLEEP),
        ("apt-cache", FAKE_APT_CACHE),
        ("apt-get", FAKE_APT_GET),
        ("dpkg-query", FAKE_DPKG_QUERY),
        ("dpkg-deb", FAKE_DPKG_DEB),
        ("crontab", FAKE_CRONTAB),
    ] {
        let p = dockerbin.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::create_dir_all(root.join("m")).unwrap();
    // The working directory (relative hostile paths resolve here, inside the temp folder).
    std::fs::create_dir_all(root.join("work/a/b/c")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_option_of_any_module_escapes_quoting() {
    let started = Instant::now();
    let root: PathBuf = std::env::temp_dir().join(format!("prov-inj-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let _cleanup = Cleanup(root.clone());
    let dockerbin = root.join("fakebin");
    fixtures(&root, &dockerbin);
    // Only this test runs in this binary: the process's working directory is the temp folder's.
    std::env::set_current_dir(root.join("work/a/b/c")).unwrap();
    let fdir = root.join("F").to_string_lossy().into_owned();
    let path = format!(
        "{}:{}",
        dockerbin.display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    );

    let reg = Registry::builtin();
    let scenarios = scenarios();
    let mut missing = Vec::new();
    for name in reg.names() {
        if !API_ONLY.contains(&name) && !scenarios.iter().any(|s| s.module == name) {
            missing.push(name.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "modules without a scenario in the injection harness: {missing:?}"
    );

    let mut jobs = Vec::new();
    for s in &scenarios {
        let m = reg
            .get(s.module)
            .unwrap_or_else(|| panic!("scenario for unknown module {}", s.module));
        let base = s.args.as_object().unwrap();
        let mut env: Vec<(String, String)> = s
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if s.fake {
            env.push(("PATH".into(), path.clone()));
        }
        let d = root
            .join("r")
            .join(jobs.len().to_string())
            .display()
            .to_string();
        jobs.push(Job {
            n: jobs.len(),
            baseline: true,
            module: s.module,
            option: String::new(),
            payload: "",
            args: map_strings(&s.args, &|x: &str| {
                x.replace("{d}", &d).replace("{F}", &fdir)
            }),
            mode: s.mode,
            env: env.clone(),
        });
        for o in m.doc().all_options() {
            let fuzz = match o.kind {
                OptKind::Str | OptKind::Path | OptKind::Mode | OptKind::Any => json!("S"),
                OptKind::List => json!(["S"]),
                OptKind::Dict => json!({"k": "S"}),
                _ => continue,
            };
            if s.skip.contains(&o.name) || (!s.only.is_empty() && !s.only.contains(&o.name)) {
                continue;
            }
            let shape = base.get(o.name).cloned().unwrap_or(fuzz);
            for p in PAYLOADS {
                for v in leaf_variants(&shape, p) {
                    let n = jobs.len();
                    let d = root.join("r").join(n.to_string()).display().to_string();
                    let mark = root.join("m").join(n.to_string()).display().to_string();
                    let place = |x: &str| x.replace("{d}", &d).replace("{F}", &fdir);
                    let mut args = map_strings(&s.args, &place);
                    let v = map_strings(&v, &|x: &str| place(x).replace("MARK", &mark));
                    args.as_object_mut().unwrap().insert(o.name.to_string(), v);
                    jobs.push(Job {
                        n,
                        baseline: false,
                        module: s.module,
                        option: o.name.to_string(),
                        payload: p,
                        args,
                        mode: s.mode,
                        env: env.clone(),
                    });
                }
            }
        }
    }

    let facts = Vars::new();
    let total = jobs.len();
    let results: Vec<(usize, Outcome)> = futures::stream::iter(jobs.iter())
        .map(|job| {
            let (reg, root, facts) = (&reg, &root, &facts);
            async move {
                let r =
                    tokio::time::timeout(Duration::from_secs(40), run_job(job, reg, root, facts))
                        .await
                        .unwrap_or_else(|_| Outcome {
                            escaped: Some("the run did not finish within 40 s".into()),
                            failed: None,
                        });
                (job.n, r)
            }
        })
        .buffer_unordered(12)
        .collect()
        .await;

    let mut failures = Vec::new();
    let mut failed = Vec::new();
    let clean = results.iter().filter(|(_, r)| r.failed.is_some()).count();
    for (n, r) in results {
        let j = &jobs[n];
        let mode = if j.mode == Mode::Run { "run" } else { "check" };
        if let Some(why) = r.escaped {
            failed.push(n);
            failures.push(format!(
                "{} ({mode}) option {} = {:?}: {why}\n  args: {}",
                j.module, j.option, j.payload, j.args
            ));
        } else if j.baseline
            && let Some(why) = r.failed
            && !FAILING_BASELINES.contains(&(j.module, n_of_module(&jobs, n)))
        {
            failures.push(format!(
                "{} ({mode}) scenario #{} fails without hostile values, so its fuzzed runs \
                 stop early: {why}\n  args: {}",
                j.module,
                n_of_module(&jobs, n),
                j.args
            ));
        }
    }
    // A marker created by a command that outlived its run still counts.
    for e in std::fs::read_dir(root.join("m")).unwrap() {
        let n: usize = e.unwrap().file_name().to_string_lossy().parse().unwrap();
        if !failed.contains(&n) {
            let j = &jobs[n];
            failures.push(format!(
                "{} option {} = {:?}: marker created after its run",
                j.module, j.option, j.payload
            ));
        }
    }
    let kept = std::env::var_os("PROV_KEEP_TEST_DIRS").is_some();
    if kept {
        eprintln!("kept {}", root.display());
    }
    eprintln!(
        "injection harness: {total} runs of {} scenarios ({clean} failed cleanly) in {:.1} s",
        scenarios.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} runs let a value escape:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
