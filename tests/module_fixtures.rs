//! Fixture-driven plan tests of the modules, without a host (in the spirit of pyinfra's
//! operation fixtures): each `tests/fixtures/modules/<module>/<case>.yaml` holds the module's
//! arguments, the host state as recorded answers to the module's inspection commands, and the
//! expected plan. One test walks every case: it plans the module through a
//! [`FakeConnection`] (which answers from the recorded state and records every command) and
//! compares the plan with the expectation, in milliseconds. The lab tests stay for the real
//! round trip.
//!
//! A case file:
//!
//! ```yaml
//! about: what the host looks like and what the module must do (Ansible's semantics)
//! args: { name: curl, state: present }   # the module's arguments, as in a playbook
//! check: true          # check mode (default true); false with `apply: true`
//! diff: true           # --diff (default true)
//! apply: false         # also apply the plan through the fake host (its commands need answers)
//! facts: {}            # the host's facts
//! host:                # answers, tried in order against each command's script
//!   - match: dpkg-query -W      # a substring, or a list of substrings that must all appear
//!     # regex: '...'  or  exact: '...'  instead of match
//!     rc: 0
//!     stdout: |
//!       curl<TAB>install ok installed<TAB>7.88.1-10+deb12u15
//!     stderr: ""
//!     once: false      # answer only the first matching command
//! files: { /etc/motd: "old\n" }      # what reading a file (Connection::get) returns
//! local_files: { files/motd: "x\n" } # files on the controller (the task's search path)
//! expect:
//!   error: ...         # validation or planning fails with this message
//!   failed: ...        # the plan fails with this message
//!   skipped: ...       # the plan skips the task with this message
//!   changed: true      # required unless `error`
//!   msg: ...
//!   changes:           # required when changed: every change, in order
//!     - summary: ...
//!       exec: ...      # the command's script (or put: DEST, none: true, call: true)
//!       stdin: ...     # exec: its stdin;  put: content, mode, owner, group, validate
//!       diff: { before: ..., after: ... }   # absent means "no diff"
//!   result: { ... }    # these result keys (others are not compared; "<absent>": not there)
//!   output_results: true
//!   applied: { changed: false, failed: ..., result: { ... } }   # with apply
//!   actions: [ { exec: ... }, { put: DEST, content: ... } ]     # with apply: what ran
//! ```
//!
//! Any expected text may be `{re: PATTERN}` instead (a regular expression for the whole
//! text). A command no answer matches, an answer no command used, or a plan that runs
//! anything but inspections while planning fails the case: fixtures cannot go stale silently.
//!
//! To record real answers from this machine (read-only inspections of a check-mode plan):
//! `PROV_RECORD='{"module": "apt", "args": {"name": "curl"}}' cargo test --test
//! module_fixtures record -- --ignored --nocapture`.

mod common;

use common::module::{ModuleHost, NoRender};
use prov::connection::fake::{Answer, FakeConnection, OnUnmatched, Recorded};
use prov::connection::{Cmd, Connection, ExecOutput, Secret, Stdin};
use prov::modules::{Action, Plan};
use prov::value::{from_json, to_json, value_to_vars};
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The modules that must have at least [`MIN_CASES`] cases each.
const COVERED: &[&str] = &[
    "apt",
    "user",
    "group",
    "service",
    "cron",
    "file",
    "copy",
    "lineinfile",
    "tempfile",
    "docker_image",
    "docker_network",
    "docker_swarm",
    "docker_stack",
    "docker_node",
    "docker_swarm_info",
];
const MIN_CASES: usize = 5;

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    about: String,
    args: Json,
    #[serde(default = "yes")]
    check: bool,
    #[serde(default = "yes")]
    diff: bool,
    #[serde(default)]
    apply: bool,
    #[serde(default)]
    facts: Map<String, Json>,
    #[serde(default)]
    host: Vec<HostAnswer>,
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    local_files: BTreeMap<String, String>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostAnswer {
    #[serde(rename = "match")]
    matches: Option<OneOrMany>,
    regex: Option<String>,
    exact: Option<String>,
    #[serde(default)]
    rc: i32,
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stderr: String,
    #[serde(default)]
    once: bool,
}

/// Expected text: exact, or a regular expression for the whole text.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum Text {
    Exact(String),
    Re { re: String },
}

impl Text {
    fn check(&self, what: &str, got: &str, errs: &mut Vec<String>) {
        match self {
            Text::Exact(want) if want == got => {}
            Text::Exact(want) => errs.push(format!("{what}:\n  want {want:?}\n  got  {got:?}")),
            Text::Re { re } => match Regex::new(&format!("^(?s:{re})$")) {
                Ok(r) if r.is_match(got) => {}
                Ok(_) => errs.push(format!("{what}:\n  want /{re}/\n  got  {got:?}")),
                Err(e) => errs.push(format!("{what}: bad pattern /{re}/: {e}")),
            },
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    error: Option<Text>,
    failed: Option<Text>,
    skipped: Option<Text>,
    changed: Option<bool>,
    msg: Option<Text>,
    changes: Option<Vec<ExpChange>>,
    result: Option<Map<String, Json>>,
    output_results: Option<bool>,
    applied: Option<ExpApplied>,
    actions: Option<Vec<ExpAction>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpChange {
    summary: Text,
    exec: Option<Text>,
    stdin: Option<Text>,
    capture: Option<bool>,
    put: Option<String>,
    content: Option<Text>,
    mode: Option<String>,
    owner: Option<String>,
    group: Option<String>,
    validate: Option<String>,
    none: Option<bool>,
    call: Option<bool>,
    diff: Option<ExpDiff>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpDiff {
    before: Text,
    after: Text,
    before_header: Option<Text>,
    after_header: Option<Text>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpApplied {
    changed: Option<bool>,
    failed: Option<Text>,
    result: Option<Map<String, Json>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAction {
    exec: Option<Text>,
    stdin: Option<Text>,
    put: Option<String>,
    content: Option<Text>,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modules")
}

/// Every case file: (module, path).
fn cases() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures/modules")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for d in dirs {
        let module = d.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            assert!(
                f.extension().is_some_and(|x| x == "yaml"),
                "{}: fixtures are .yaml files",
                f.display()
            );
            out.push((module.clone(), f));
        }
    }
    out
}

fn load(path: &Path) -> Result<Fixture, String> {
    let node = prov::yaml::load_file(path).map_err(|e| e.render())?;
    serde_json::from_value(to_json(&node.to_value())).map_err(|e| format!("bad fixture: {e}"))
}

/// Continuation lines indented under a failure line.
fn indent(s: &str) -> String {
    s.replace('\n', "\n      ")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn stdin_text(s: &Stdin) -> String {
    match s {
        Stdin::Empty => String::new(),
        Stdin::Bytes(b) => text(b),
        Stdin::File(p) => text(&std::fs::read(p).unwrap_or_default()),
    }
}

/// `want` matches `got`: equal JSON, where `{re: PATTERN}` matches a string.
fn json_matches(want: &Json, got: &Json) -> bool {
    match (want, got) {
        (Json::Object(w), Json::String(g)) if w.len() == 1 && w.contains_key("re") => {
            let re = w["re"].as_str().unwrap_or_default();
            Regex::new(&format!("^(?s:{re})$")).is_ok_and(|r| r.is_match(g))
        }
        (Json::Object(w), Json::Object(g)) => {
            w.len() == g.len()
                && w.iter()
                    .all(|(k, v)| g.get(k).is_some_and(|x| json_matches(v, x)))
        }
        (Json::Array(w), Json::Array(g)) => {
            w.len() == g.len() && w.iter().zip(g).all(|(a, b)| json_matches(a, b))
        }
        (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
        _ => want == got,
    }
}

/// The listed keys of `got` match (`"<absent>"`: the key is not there).
fn check_result(
    what: &str,
    want: &Map<String, Json>,
    got: &prov::value::Vars,
    errs: &mut Vec<String>,
) {
    for (k, w) in want {
        match (w.as_str(), got.get(k)) {
            (Some("<absent>"), None) => {}
            (Some("<absent>"), Some(v)) => {
                errs.push(format!("{what}.{k}: want no value, got {}", to_json(v)))
            }
            (_, None) => errs.push(format!("{what}.{k}: missing (want {w})")),
            (_, Some(v)) => {
                let g = to_json(v);
                if !json_matches(w, &g) {
                    errs.push(format!("{what}.{k}:\n  want {w}\n  got  {g}"));
                }
            }
        }
    }
}

fn check_change(i: usize, want: &ExpChange, got: &prov::modules::Change, errs: &mut Vec<String>) {
    let at = format!("changes[{i}]");
    want.summary
        .check(&format!("{at}.summary"), &got.summary, errs);
    match &got.action {
        Action::Exec { cmd, capture, .. } => {
            match &want.exec {
                Some(t) => t.check(&format!("{at}.exec"), &cmd.script, errs),
                None => errs.push(format!("{at}: got an exec of {:?}", cmd.script)),
            }
            if let Some(t) = &want.stdin {
                t.check(&format!("{at}.stdin"), &stdin_text(&cmd.stdin), errs);
            } else if !matches!(cmd.stdin, Stdin::Empty) {
                errs.push(format!(
                    "{at}: the command has stdin {:?} (expect it with stdin:)",
                    stdin_text(&cmd.stdin)
                ));
            }
            if let Some(c) = want.capture
                && c != *capture
            {
                errs.push(format!("{at}.capture: want {c}, got {capture}"));
            }
        }
        Action::Put { src, dest, opts } => {
            match &want.put {
                Some(d) if d == dest => {}
                Some(d) => errs.push(format!("{at}.put: want {d}, got {dest}")),
                None => errs.push(format!("{at}: got a put to {dest}")),
            }
            if let Some(t) = &want.content {
                t.check(&format!("{at}.content"), &stdin_text(src), errs);
            }
            for (k, w, g) in [
                ("mode", &want.mode, &opts.mode),
                ("owner", &want.owner, &opts.owner),
                ("group", &want.group, &opts.group),
                ("validate", &want.validate, &opts.validate),
            ] {
                if w.is_some() && w != g {
                    errs.push(format!("{at}.{k}: want {w:?}, got {g:?}"));
                }
            }
        }
        Action::None => {
            if want.none != Some(true) {
                errs.push(format!("{at}: got no action (expect none: true)"));
            }
        }
        Action::Call(_) => {
            if want.call != Some(true) {
                errs.push(format!("{at}: got a controller call (expect call: true)"));
            }
        }
        Action::LocalWrite { path, .. } => {
            errs.push(format!("{at}: got a local write of {}", path.display()))
        }
        other => errs.push(format!(
            "{at}: got an action fixtures cannot check: {other:?}"
        )),
    }
    match (&want.diff, &got.diff) {
        (None, None) => {}
        (None, Some(d)) => errs.push(format!(
            "{at}: got a diff (expect it with diff:):\n{}",
            d.unified()
        )),
        (Some(_), None) => errs.push(format!("{at}: no diff")),
        (Some(w), Some(d)) => {
            w.before
                .check(&format!("{at}.diff.before"), &d.before, errs);
            w.after.check(&format!("{at}.diff.after"), &d.after, errs);
            if let Some(h) = &w.before_header {
                h.check(&format!("{at}.diff.before_header"), &d.before_header, errs);
            }
            if let Some(h) = &w.after_header {
                h.check(&format!("{at}.diff.after_header"), &d.after_header, errs);
            }
        }
    }
}

fn check_plan(x: &Expect, plan: &Plan, errs: &mut Vec<String>) {
    match (&x.failed, &plan.failed) {
        (None, None) => {}
        (None, Some(f)) => errs.push(format!("the plan failed: {f}")),
        (Some(w), None) => errs.push(format!("the plan did not fail (want {w:?})")),
        (Some(w), Some(f)) => w.check("failed", f, errs),
    }
    match (&x.skipped, &plan.skipped) {
        (None, None) => {}
        (None, Some(s)) => errs.push(format!("the plan was skipped: {s}")),
        (Some(w), None) => errs.push(format!("the plan was not skipped (want {w:?})")),
        (Some(w), Some(s)) => w.check("skipped", s, errs),
    }
    let changed = !plan.changes.is_empty() || plan.force_changed;
    match x.changed {
        Some(c) if c != changed => errs.push(format!(
            "changed: want {c}, got {changed}: {:?}",
            common::module::summaries(plan)
        )),
        Some(_) => {}
        None => errs.push("expect.changed is required".into()),
    }
    match &x.changes {
        Some(want) => {
            if want.len() != plan.changes.len() {
                errs.push(format!(
                    "changes: want {}, got {}: {:?}",
                    want.len(),
                    plan.changes.len(),
                    common::module::summaries(plan)
                ));
            }
            for (i, (w, g)) in want.iter().zip(&plan.changes).enumerate() {
                check_change(i, w, g, errs);
            }
        }
        None if !plan.changes.is_empty() => errs.push(format!(
            "expect.changes is required when the plan has changes: {:?}",
            common::module::summaries(plan)
        )),
        None => {}
    }
    match (&x.msg, &plan.msg) {
        (Some(w), Some(m)) => w.check("msg", m, errs),
        (Some(w), None) => errs.push(format!("msg: want {w:?}, got none")),
        _ => {}
    }
    if let Some(r) = &x.result {
        check_result("result", r, &plan.result, errs);
    }
    if let Some(o) = x.output_results
        && o != plan.output_results
    {
        errs.push(format!("output_results: want {o}"));
    }
}

fn describe(r: &Recorded) -> String {
    match r {
        Recorded::Exec(c) => format!("exec {:?}", c.script),
        Recorded::Put { dest, .. } => format!("put {dest}"),
        Recorded::Get { path, .. } => format!("get {path}"),
        Recorded::Raw(l) => format!("raw {l:?}"),
        other => format!("{other:?}"),
    }
}

fn check_actions(want: &[ExpAction], got: &[Recorded], errs: &mut Vec<String>) {
    if want.len() != got.len() {
        errs.push(format!(
            "actions: want {}, got {}: {:?}",
            want.len(),
            got.len(),
            got.iter().map(describe).collect::<Vec<_>>()
        ));
    }
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        let at = format!("actions[{i}]");
        match g {
            Recorded::Exec(c) => {
                match &w.exec {
                    Some(t) => t.check(&format!("{at}.exec"), &c.script, errs),
                    None => errs.push(format!("{at}: got {}", describe(g))),
                }
                if let Some(t) = &w.stdin {
                    t.check(&format!("{at}.stdin"), &stdin_text(&c.stdin), errs);
                }
            }
            Recorded::Put { dest, content, .. } => {
                if w.put.as_deref() != Some(dest.as_str()) {
                    errs.push(format!("{at}: got {}", describe(g)));
                }
                if let Some(t) = &w.content {
                    t.check(&format!("{at}.content"), &text(content), errs);
                }
            }
            other => errs.push(format!("{at}: got {}", describe(other))),
        }
    }
}

fn answer(a: &HostAnswer) -> Result<Answer, String> {
    let ans = match (&a.matches, &a.regex, &a.exact) {
        (Some(OneOrMany::One(s)), None, None) => Answer::contains(s.as_str()),
        (Some(OneOrMany::Many(v)), None, None) => Answer::all_of(v.iter().map(String::as_str)),
        (None, Some(r), None) => Answer::regex(r).map_err(|e| e.msg.clone())?,
        (None, None, Some(x)) => Answer::exact(x.as_str()),
        _ => return Err("each host answer needs one of match, regex, exact".into()),
    };
    let ans = ans
        .rc(a.rc)
        .stdout(a.stdout.as_bytes())
        .stderr(a.stderr.as_bytes());
    Ok(if a.once { ans.once() } else { ans })
}

/// Runs one case; the mismatches, if any.
async fn run_case(module: &str, path: &Path) -> Vec<String> {
    let fx = match load(path) {
        Ok(f) => f,
        Err(e) => return vec![e],
    };
    let mut errs = Vec::new();
    if fx.about.trim().is_empty() {
        errs.push("about: say what the case is".into());
    }
    if fx.apply && fx.check {
        errs.push("apply: true needs check: false".into());
    }
    let mut fake = FakeConnection::new("fx1").on_unmatched(OnUnmatched::Error);
    for a in &fx.host {
        match answer(a) {
            Ok(a) => fake = fake.with(a),
            Err(e) => errs.push(e),
        }
    }
    for (p, c) in &fx.files {
        fake = fake.with_file(p.as_str(), c.as_bytes());
    }
    let local = std::env::temp_dir().join(format!(
        "prov-fixture-{}-{}",
        std::process::id(),
        path.file_stem().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_dir_all(&local);
    for (rel, c) in &fx.local_files {
        let p = local.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, c).unwrap();
    }
    let mut h = ModuleHost::new("fx1", fake.clone())
        .render(NoRender)
        .search(vec![local.clone()])
        .diff(fx.diff);
    h.facts = value_to_vars(&from_json(&Json::Object(fx.facts.clone())));
    let planned = h.plan_with(module, &fx.args, fx.check, fx.diff).await;
    let unmatched = fake.unmatched();
    for u in &unmatched {
        errs.push(format!("no answer in `host:` for {}", indent(u)));
    }
    let planning: Vec<String> = fake.actions().iter().map(describe).collect();
    if !planning.is_empty() {
        errs.push(format!(
            "planning ran more than inspections (a plan must not change the host): {planning:?}"
        ));
    }
    let x = &fx.expect;
    match planned {
        // An unmatched command already explains the failure.
        Err(_) if !unmatched.is_empty() => {}
        Err(e) => match &x.error {
            Some(w) => w.check("error", &e.msg, &mut errs),
            None => errs.push(format!("planning failed: {}", indent(&e.render()))),
        },
        Ok(plan) => {
            if let Some(w) = &x.error {
                errs.push(format!("planning did not fail (want error {w:?})"));
            }
            check_plan(x, &plan, &mut errs);
            if fx.apply {
                fake.clear_recorded();
                match prov::modules::apply_plan(plan, &fake, false).await {
                    Err(e) => errs.push(format!("applying failed: {}", e.render())),
                    Ok(a) => {
                        for u in fake.unmatched() {
                            errs.push(format!("no answer in `host:` for {}", indent(&u)));
                        }
                        let w = x.applied.as_ref();
                        if let Some(c) = w.and_then(|w| w.changed)
                            && c != a.changed()
                        {
                            errs.push(format!("applied.changed: want {c}, got {}", a.changed()));
                        }
                        match (w.and_then(|w| w.failed.as_ref()), a.failed()) {
                            (None, None) => {}
                            (None, Some(f)) => errs.push(format!("applying failed: {f}")),
                            (Some(w), None) => errs.push(format!("applying did not fail ({w:?})")),
                            (Some(w), Some(f)) => w.check("applied.failed", f, &mut errs),
                        }
                        if let Some(r) = w.and_then(|w| w.result.as_ref()) {
                            check_result("applied.result", r, &a.result, &mut errs);
                        }
                        match &x.actions {
                            Some(want) => check_actions(want, &fake.actions(), &mut errs),
                            None => errs.push("expect.actions is required with apply".into()),
                        }
                    }
                }
            } else if x.applied.is_some() || x.actions.is_some() {
                errs.push("expect.applied and expect.actions need apply: true".into());
            }
        }
    }
    for u in fake.unused() {
        errs.push(format!("the answer that {u} was not used (stale fixture?)"));
    }
    let _ = std::fs::remove_dir_all(&local);
    errs
}

#[tokio::test]
async fn module_plans_match_their_fixtures() {
    let mut failures = Vec::new();
    let mut per_module: BTreeMap<String, usize> = BTreeMap::new();
    let all = cases();
    for (module, path) in &all {
        *per_module.entry(module.clone()).or_default() += 1;
        let errs = run_case(module, path).await;
        if !errs.is_empty() {
            let rel = path.strip_prefix(fixtures_dir()).unwrap_or(path);
            failures.push(format!("{}:\n  {}", rel.display(), errs.join("\n  ")));
        }
    }
    let thin: Vec<String> = COVERED
        .iter()
        .map(|m| (m, per_module.get(*m).copied().unwrap_or(0)))
        .filter(|(_, n)| *n < MIN_CASES)
        .map(|(m, n)| format!("{m} has {n} fixture cases, want at least {MIN_CASES}"))
        .collect();
    assert!(
        failures.is_empty() && thin.is_empty(),
        "{} of {} module fixture cases failed:\n\n{}\n\n{}",
        failures.len(),
        all.len(),
        failures.join("\n\n"),
        thin.join("\n")
    );
    eprintln!("{} module fixture cases passed: {per_module:?}", all.len());
}

#[test]
fn fixture_checks_catch_mismatches() {
    let mut errs = Vec::new();
    Text::Exact("a".into()).check("x", "b", &mut errs);
    Text::Re { re: "a+".into() }.check("y", "aab", &mut errs);
    Text::Re { re: "a+b".into() }.check("z", "aab", &mut errs);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(json_matches(
        &serde_json::json!({"k": [1, {"re": "x.*"}]}),
        &serde_json::json!({"k": [1, "xyz"]})
    ));
    assert!(!json_matches(
        &serde_json::json!({"k": 1}),
        &serde_json::json!({"k": 1, "extra": 2})
    ));
}

// ---------------------------------------------------------------------------------------------
// Recording real answers

/// This machine, recording each command and its output (for writing fixtures).
struct Recorder {
    inner: prov::connection::local::LocalConnection,
    seen: Mutex<Vec<(Cmd, ExecOutput)>>,
    files: Mutex<Vec<(String, Vec<u8>)>>,
}

#[async_trait::async_trait]
impl Connection for Recorder {
    fn host(&self) -> &str {
        "localhost"
    }
    async fn exec_raw(
        &self,
        line: &str,
        preamble: Option<&Secret>,
        stdin: &Stdin,
    ) -> prov::Result<ExecOutput> {
        self.inner.exec_raw(line, preamble, stdin).await
    }
    async fn exec(&self, cmd: &Cmd) -> prov::Result<ExecOutput> {
        assert!(
            cmd.probe,
            "only inspections run while recording: {}",
            cmd.script
        );
        let out = self.inner.exec(cmd).await?;
        self.seen.lock().unwrap().push((cmd.clone(), out.clone()));
        Ok(out)
    }
    async fn get(&self, path: &str, b: Option<&prov::connection::Become>) -> prov::Result<Vec<u8>> {
        let data = self.inner.get(path, b).await?;
        self.files.lock().unwrap().push((path.into(), data.clone()));
        Ok(data)
    }
}

/// A YAML block scalar (or `""`) for `s`, its lines indented by `ind`.
fn block(s: &str, ind: &str) -> String {
    if s.trim_matches('\n').is_empty() {
        return serde_json::to_string(s).unwrap();
    }
    let chomp = if !s.ends_with('\n') {
        "-"
    } else if s.ends_with("\n\n") {
        "+"
    } else {
        ""
    };
    let indicator = if s.starts_with(' ') { "2" } else { "" };
    let mut out = format!("|{indicator}{chomp}\n");
    for l in s.lines() {
        if l.is_empty() {
            out.push('\n');
        } else {
            out.push_str(&format!("{ind}{l}\n"));
        }
    }
    out.trim_end_matches('\n').to_string()
}

/// Prints the `host:` answers of a check-mode plan of `$PROV_RECORD` (`{"module": ..,
/// "args": ..}`) on this machine: every inspection script (as a comment) and its output.
#[tokio::test]
#[ignore = "a tool: records answers from this machine for new fixtures"]
async fn record() {
    let spec: Json = serde_json::from_str(&std::env::var("PROV_RECORD").expect("PROV_RECORD"))
        .expect("PROV_RECORD is JSON");
    let module = spec["module"].as_str().expect("module");
    let rec = Recorder {
        inner: prov::connection::local::LocalConnection::new("localhost"),
        seen: Mutex::new(Vec::new()),
        files: Mutex::new(Vec::new()),
    };
    let h = ModuleHost::new("fx1", FakeConnection::new("unused"));
    let args = h.args(module, &spec["args"]).expect("valid args");
    let ctx = h.ctx(true).with_conn(&rec);
    let plan = h.module(module).plan(&ctx, &args).await;
    println!("# plan: {:?}", plan.map(|p| common::module::summaries(&p)));
    let files = rec.files.into_inner().unwrap();
    let seen = rec.seen.into_inner().unwrap();
    println!("host:");
    for (cmd, out) in seen {
        for l in cmd.script.lines() {
            println!("  # {l}");
        }
        let first = cmd.script.lines().next().unwrap_or_default();
        println!("  - match: {}", serde_json::to_string(first).unwrap());
        if out.rc != 0 {
            println!("    rc: {}", out.rc);
        }
        println!("    stdout: {}", block(&out.stdout_str(), "      "));
        if !out.stderr.is_empty() {
            println!("    stderr: {}", block(&out.stderr_str(), "      "));
        }
    }
    if !files.is_empty() {
        println!("files:");
        for (p, data) in files {
            println!("  {p}: {}", block(&text(&data), "    "));
        }
    }
}
