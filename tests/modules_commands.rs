//! Integration tests of the command and utility modules, run for real through a
//! `LocalConnection`: each test plans a task, then applies the plan's actions the way the engine
//! does (unless in check mode), and looks at what happened on this machine.

use prov::connection::local::LocalConnection;
use prov::connection::{Connection, ExecOutput};
use prov::error::{Error, Result};
use prov::modules::{Action, Plan, Registry, Render};
use prov::value::{Value, Vars};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;

use common::module::ModuleHost;

/// A stand-in for the template engine (a stub on this branch): it knows a few fixed
/// expressions and treats anything else as an undefined variable, so the tests show exactly
/// what `assert`/`debug` do with the engine's answers.
struct TestRender;

impl Render for TestRender {
    fn render_text(&self, text: &str, _origin: &Path) -> Result<String> {
        Ok(text.to_string())
    }
    fn eval(&self, expr: &str) -> Result<Value> {
        match expr.trim() {
            "true" | "1 == 1" => Ok(Value::from(true)),
            "false" | "1 == 2" => Ok(Value::from(false)),
            "my_list" => Ok(Value::from(vec![Value::from("a"), Value::from("b")])),
            "count" => Ok(Value::from(3)),
            other => Err(Error::template(format!("'{other}' is undefined"))),
        }
    }
}

/// What applying a plan did.
#[derive(Default, Debug)]
struct Applied {
    /// Captured output of the last capturing Exec.
    out: Option<ExecOutput>,
    /// A failure (module failure, or non-zero rc with fail_on_rc).
    failed: Option<String>,
    /// The plan, for its result and messages.
    changed: bool,
}

/// A host whose shell and every tool is busybox's (like Alpine): commands go through
/// `busybox sh` with a PATH holding only busybox applets.
struct BusyboxHost {
    bb: String,
    dir: PathBuf,
    local: LocalConnection,
}

impl BusyboxHost {
    fn new() -> Option<Self> {
        let bb = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let dir = std::env::temp_dir().join(format!("prov-bbhost-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let list = std::process::Command::new(bb)
            .arg("--list")
            .output()
            .unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            let _ = std::os::unix::fs::symlink(bb, dir.join(applet));
        }
        Some(BusyboxHost {
            bb: bb.to_string(),
            dir,
            local: LocalConnection::new("busybox"),
        })
    }
}

#[async_trait::async_trait]
impl Connection for BusyboxHost {
    fn host(&self) -> &str {
        "busybox"
    }
    async fn exec_raw(
        &self,
        line: &str,
        preamble: Option<&prov::connection::Secret>,
        stdin: &prov::connection::Stdin,
    ) -> Result<ExecOutput> {
        let rest = line
            .strip_prefix("/bin/sh -c ")
            .expect("a wrapped command line");
        let line = format!("PATH={} {} sh -c {rest}", self.dir.display(), self.bb);
        self.local.exec_raw(&line, preamble, stdin).await
    }
}

impl Drop for BusyboxHost {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// This machine as a module host (`localhost`, no diff mode).
struct Env {
    h: ModuleHost,
}

impl std::ops::Deref for Env {
    type Target = ModuleHost;
    fn deref(&self) -> &ModuleHost {
        &self.h
    }
}

impl std::ops::DerefMut for Env {
    fn deref_mut(&mut self) -> &mut ModuleHost {
        &mut self.h
    }
}

impl Env {
    fn new() -> Self {
        Env {
            h: ModuleHost::new("localhost", LocalConnection::new("localhost"))
                .render(TestRender)
                .diff(false),
        }
    }

    /// Validates `args` against the module's spec and plans.
    async fn plan(&self, module: &str, args: &[(&str, Value)], check_mode: bool) -> Result<Plan> {
        let raw: Vars = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let a = self.args_vars(module, &raw)?;
        self.module(module).plan(&self.ctx(check_mode), &a).await
    }

    /// Plans, then applies the actions exactly as the engine does (nothing in check mode).
    async fn run(
        &self,
        module: &str,
        args: &[(&str, Value)],
        check_mode: bool,
    ) -> Result<(Plan, Applied)> {
        let plan = self.plan(module, args, check_mode).await?;
        let mut applied = Applied {
            failed: plan.failed.clone(),
            ..Default::default()
        };
        applied.changed = !plan.changes.is_empty() || plan.force_changed;
        if plan.failed.is_some() || check_mode {
            return Ok((plan, applied));
        }
        for c in &plan.changes {
            match &c.action {
                Action::None => {}
                Action::Exec {
                    cmd,
                    capture,
                    fail_on_rc,
                } => {
                    let out = self.conn.exec(cmd).await?;
                    if *fail_on_rc && out.rc != 0 {
                        applied.failed = Some(format!("non-zero return code {}", out.rc));
                    }
                    if *capture {
                        applied.out = Some(out);
                    }
                    if applied.failed.is_some() {
                        break;
                    }
                }
                Action::Put { src, dest, opts } => self.conn.put(src, dest, opts).await?,
                Action::LocalWrite { path, data } => prov::modules::write_local_atomic(path, data)?,
                Action::Call(a) => {
                    a.apply().await?;
                }
                other => panic!("this harness does not apply {other:?}"),
            }
        }
        Ok((plan, applied))
    }
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn list(v: &[&str]) -> Value {
    Value::from(v.iter().map(|x| Value::from(*x)).collect::<Vec<_>>())
}

fn stdout(a: &Applied) -> String {
    a.out.as_ref().expect("output was captured").stdout_str()
}

fn rstr(p: &Plan, k: &str) -> String {
    p.result
        .get(k)
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_default()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("prov-cmd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---------------------------------------------------------------- command

#[tokio::test]
async fn command_runs_and_captures_output() {
    let e = Env::new();
    let (p, a) = e
        .run("command", &[("cmd", s("printf '%s|' a 'b c'"))], false)
        .await
        .unwrap();
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].summary, "run: printf '%s|' a 'b c'");
    assert_eq!(stdout(&a), "a|b c|");
    assert_eq!(a.out.as_ref().unwrap().rc, 0);
    assert!(a.failed.is_none());
    assert_eq!(rstr(&p, "cmd"), r#"["printf", "%s|", "a", "b c"]"#);
}

#[tokio::test]
async fn command_nonzero_rc_fails_and_is_captured() {
    let e = Env::new();
    let (_, a) = e
        .run(
            "command",
            &[("cmd", s("sh -c 'echo oops >&2; exit 4'"))],
            false,
        )
        .await
        .unwrap();
    let out = a.out.as_ref().unwrap();
    assert_eq!(out.rc, 4);
    assert_eq!(out.stderr_str(), "oops\n");
    assert!(a.failed.is_some());
}

#[tokio::test]
async fn command_is_not_a_shell() {
    let e = Env::new();
    // Shell syntax is passed as literal words.
    let (_, a) = e
        .run(
            "command",
            &[("cmd", s("printf [%s] a;b $(echo pwned) `id` * | >x"))],
            false,
        )
        .await
        .unwrap();
    assert_eq!(stdout(&a), "[a;b][$(echo][pwned)][`id`][*][|][>x]");
    // A builtin of the shell is not a program.
    let (_, a) = e
        .run("command", &[("cmd", s("cd /"))], false)
        .await
        .unwrap();
    assert_ne!(a.out.as_ref().unwrap().rc, 0);
}

#[tokio::test]
async fn argv_quoting_with_spaces_quotes_and_substitutions() {
    let e = Env::new();
    let argv = list(&[
        "printf",
        "<%s>",
        "a b",
        "it's",
        "\"q\"",
        "$(echo pwned)",
        "`id`",
        "*",
        "",
        "back\\slash",
        "new\nline",
    ]);
    let (_, a) = e.run("command", &[("argv", argv)], false).await.unwrap();
    assert_eq!(
        stdout(&a),
        "<a b><it's><\"q\"><$(echo pwned)><`id`><*><><back\\slash><new\nline>"
    );
}

#[tokio::test]
async fn argument_vars_expand_unless_disabled() {
    let mut e = Env::new();
    e.env = vec![("PROV_T_VAR".into(), "x y".into())];
    let (_, a) = e
        .run(
            "command",
            &[(
                "cmd",
                s("printf <%s> $PROV_T_VAR ${PROV_T_VAR}! $PROV_T_UNSET"),
            )],
            false,
        )
        .await
        .unwrap();
    assert_eq!(stdout(&a), "<x y><x y!><$PROV_T_UNSET>");
    let (_, a) = e
        .run(
            "command",
            &[
                ("cmd", s("printf <%s> $PROV_T_VAR")),
                ("expand_argument_vars", Value::from(false)),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(stdout(&a), "<$PROV_T_VAR>");
}

#[tokio::test]
async fn unbalanced_quotes_and_empty_commands_are_errors() {
    let e = Env::new();
    let err = e
        .plan("command", &[("cmd", s("echo 'oops"))], false)
        .await
        .unwrap_err();
    assert!(err.msg.contains("unbalanced quotes"), "{}", err.msg);
    let err = e
        .plan("command", &[("cmd", s("   "))], false)
        .await
        .unwrap_err();
    assert!(err.msg.contains("no command given"), "{}", err.msg);
    let err = e
        .plan("command", &[("cmd", s("a")), ("argv", list(&["a"]))], false)
        .await
        .unwrap_err();
    assert!(err.msg.contains("mutually exclusive"), "{}", err.msg);
}

#[tokio::test]
async fn creates_makes_command_idempotent_and_check_mode_exact() {
    let e = Env::new();
    let d = tmpdir("creates");
    let marker = d.join("marker");
    let args = [
        ("cmd", s(&format!("touch {}", marker.display()))),
        ("creates", s(marker.to_str().unwrap())),
    ];
    // Check mode: would run (changed, Ansible's message), nothing happens.
    let (p, a) = e.run("command", &args, true).await.unwrap();
    assert!(a.changed);
    assert!(p.changes.is_empty() && p.force_changed && p.skipped.is_none());
    assert_eq!(
        p.msg.as_deref(),
        Some("Command would have run if not in check mode")
    );
    assert!(!marker.exists(), "check mode must not run the command");
    // Real run.
    let (_, a) = e.run("command", &args, false).await.unwrap();
    assert!(a.changed && a.failed.is_none());
    assert!(marker.exists());
    // Second run and check mode: nothing to do, Ansible's message.
    for (check, verb) in [(false, "Did"), (true, "Would")] {
        let (p, a) = e.run("command", &args, check).await.unwrap();
        assert!(!a.changed, "check={check}");
        assert!(p.failed.is_none());
        assert_eq!(
            rstr(&p, "msg"),
            format!("{verb} not run command since '{}' exists", marker.display())
        );
        assert_eq!(
            rstr(&p, "stdout"),
            format!("skipped, since {} exists", marker.display())
        );
        assert_eq!(rstr(&p, "rc"), "0");
    }
    // Globs match like Ansible's.
    let glob = format!("{}/mark*", d.display());
    let (p, _) = e
        .run(
            "command",
            &[("cmd", s("false")), ("creates", s(&glob))],
            false,
        )
        .await
        .unwrap();
    assert!(p.changes.is_empty(), "glob {glob} should match");
    let (p, _) = e
        .run(
            "command",
            &[
                ("cmd", s("true")),
                ("creates", s(&format!("{}/nomatch*", d.display()))),
            ],
            true,
        )
        .await
        .unwrap();
    assert!(
        p.force_changed,
        "a glob without match: the command would run"
    );
    // Without creates/removes, check mode cannot know: skipped, as in Ansible.
    let (p, a) = e.run("command", &[("cmd", s("true"))], true).await.unwrap();
    assert!(!a.changed);
    assert_eq!(
        p.skipped.as_deref(),
        Some("Command would have run if not in check mode")
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn removes_runs_only_when_the_path_exists() {
    let e = Env::new();
    let d = tmpdir("removes");
    let f = d.join("old file");
    let args = [
        ("argv", list(&["rm", f.to_str().unwrap()])),
        ("removes", s(f.to_str().unwrap())),
    ];
    let (p, _) = e.run("command", &args, false).await.unwrap();
    assert!(p.changes.is_empty());
    assert_eq!(
        rstr(&p, "msg"),
        format!("Did not run command since '{}' does not exist", f.display())
    );
    std::fs::write(&f, "x").unwrap();
    let (_, a) = e.run("command", &args, true).await.unwrap();
    assert!(a.changed && f.exists());
    let (_, a) = e.run("command", &args, false).await.unwrap();
    assert!(a.changed && a.failed.is_none());
    assert!(!f.exists());
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn chdir_applies_to_the_command_and_to_relative_creates() {
    let e = Env::new();
    let d = tmpdir("chdir");
    let dir = d.to_str().unwrap();
    let (_, a) = e
        .run("command", &[("cmd", s("pwd")), ("chdir", s(dir))], false)
        .await
        .unwrap();
    assert_eq!(
        stdout(&a).trim(),
        std::fs::canonicalize(&d).unwrap().to_str().unwrap()
    );
    std::fs::write(d.join("done"), "").unwrap();
    let (p, _) = e
        .run(
            "command",
            &[
                ("cmd", s("false")),
                ("chdir", s(dir)),
                ("creates", s("done")),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(p.changes.is_empty());
    // A missing chdir fails with Ansible's message, with or without guards, in check mode too.
    let missing = format!("{dir}/nope");
    for (guard, check) in [(true, false), (false, false), (false, true)] {
        let mut args = vec![("cmd", s("true")), ("chdir", s(&missing))];
        if guard {
            args.push(("creates", s("x")));
        }
        let (p, _) = e.run("command", &args, check).await.unwrap();
        assert_eq!(
            p.failed.as_deref(),
            Some("Unable to change directory before execution."),
            "guard={guard} check={check}"
        );
    }
    // chdir enters the physical folder, like Python's os.chdir: $PWD has no symlink in it.
    let link = d.join("link");
    std::os::unix::fs::symlink(&d, &link).unwrap();
    let (_, a) = e
        .run(
            "shell",
            &[
                ("cmd", s("echo \"$PWD\"")),
                ("chdir", s(link.to_str().unwrap())),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        stdout(&a).trim(),
        std::fs::canonicalize(&d).unwrap().to_str().unwrap()
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn stdin_is_fed_with_and_without_newline() {
    let e = Env::new();
    let (_, a) = e
        .run("command", &[("cmd", s("od -c")), ("stdin", s("hi"))], false)
        .await
        .unwrap();
    assert!(stdout(&a).contains("h   i  \\n"), "{}", stdout(&a));
    let (_, a) = e
        .run(
            "command",
            &[
                ("cmd", s("cat")),
                ("stdin", s("hi")),
                ("stdin_add_newline", Value::from(false)),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(stdout(&a), "hi");
}

// ---------------------------------------------------------------- shell / raw

#[tokio::test]
async fn shell_runs_pipes_redirections_and_executable() {
    let e = Env::new();
    let d = tmpdir("shell");
    let out = d.join("count");
    let cmd = format!(
        "printf 'a\\nb\\nc\\n' | wc -l | tr -d ' ' > {0} && cat {0}",
        out.display()
    );
    let (p, a) = e
        .run(
            "shell",
            &[("cmd", s(&cmd)), ("creates", s(out.to_str().unwrap()))],
            false,
        )
        .await
        .unwrap();
    assert_eq!(stdout(&a), "3\n");
    assert_eq!(rstr(&p, "cmd"), cmd);
    let (p, _) = e
        .run(
            "shell",
            &[("cmd", s(&cmd)), ("creates", s(out.to_str().unwrap()))],
            false,
        )
        .await
        .unwrap();
    assert!(p.changes.is_empty());
    if Path::new("/bin/bash").exists() {
        let (_, a) = e
            .run(
                "shell",
                &[
                    ("cmd", s("echo ${BASH_VERSION:+bash}")),
                    ("executable", s("/bin/bash")),
                ],
                false,
            )
            .await
            .unwrap();
        assert_eq!(stdout(&a), "bash\n");
    }
    let (_, a) = e
        .run(
            "shell",
            &[
                ("cmd", s("pwd; read x; echo got $x")),
                ("chdir", s("/")),
                ("stdin", s("in")),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(stdout(&a), "/\ngot in\n");
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn raw_runs_as_is_and_fails_on_rc() {
    let e = Env::new();
    let (p, a) = e
        .run("raw", &[("cmd", s("echo raw $((1+2)); exit 3"))], false)
        .await
        .unwrap();
    assert_eq!(p.changes[0].summary, "run: echo raw $((1+2)); exit 3");
    assert_eq!(stdout(&a), "raw 3\n");
    assert_eq!(a.out.as_ref().unwrap().rc, 3);
    assert!(a.failed.is_some());
}

// ---------------------------------------------------------------- script

fn prov_scripts_in_tmp() -> Vec<String> {
    std::fs::read_dir("/tmp")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".prov-script-") || n.starts_with(".prov-tmp."))
        .filter(|n| n.contains("provtest"))
        .collect()
}

#[tokio::test]
async fn script_uploads_runs_and_cleans_up() {
    let mut e = Env::new();
    let d = tmpdir("script");
    std::fs::create_dir_all(d.join("files")).unwrap();
    let body = "#!/bin/sh\necho \"args:$#:$1:$2\"\necho \"cwd:$(pwd)\"\ncase \"$0\" in /tmp/.prov-script-*) echo tmp-ok;; esac\n[ -n \"$FAIL\" ] && exit 7\nexit 0\n";
    std::fs::write(d.join("files/provtest.sh"), body).unwrap();
    e.search_paths = vec![d.clone()];
    // Check mode: skipped as in Ansible (a script's effect cannot be known), nothing uploaded.
    let (p, _) = e
        .run("script", &[("cmd", s("provtest.sh 'a b' c"))], true)
        .await
        .unwrap();
    assert_eq!(
        p.skipped.as_deref(),
        Some("Check mode is not supported for this task.")
    );
    assert!(p.changes.is_empty());
    // With creates/removes, check mode says whether it would run.
    let (p, a) = e
        .run(
            "script",
            &[("cmd", s("provtest.sh")), ("removes", s("/"))],
            true,
        )
        .await
        .unwrap();
    assert!(a.changed && p.changes.is_empty() && p.skipped.is_none());
    // The plan: upload to a private temp file, then run.
    let p = e
        .plan("script", &[("cmd", s("provtest.sh 'a b' c"))], false)
        .await
        .unwrap();
    assert_eq!(p.changes.len(), 2);
    let Action::Put { dest, opts, .. } = &p.changes[0].action else {
        panic!("first action uploads")
    };
    assert!(
        dest.starts_with("/tmp/.prov-script-") && dest.ends_with("-provtest.sh"),
        "{dest}"
    );
    assert_eq!(opts.mode.as_deref(), Some("0700"));
    assert!(!Path::new(dest).exists());
    // Real run: output, chdir, cleanup.
    let (p, a) = e
        .run(
            "script",
            &[("cmd", s("provtest.sh 'a b' c")), ("chdir", s("/"))],
            false,
        )
        .await
        .unwrap();
    assert!(a.failed.is_none(), "{a:?}");
    assert_eq!(stdout(&a), "args:2:a b:c\ncwd:/\ntmp-ok\n");
    let Action::Put { dest, .. } = &p.changes[0].action else {
        panic!()
    };
    assert!(
        !Path::new(dest).exists(),
        "the uploaded script must be removed"
    );
    // A failing script is still removed, and its rc fails the task.
    e.env = vec![("FAIL".into(), "1".into())];
    let (p, a) = e
        .run("script", &[("cmd", s("provtest.sh"))], false)
        .await
        .unwrap();
    assert_eq!(a.out.as_ref().unwrap().rc, 7);
    assert!(a.failed.is_some());
    let Action::Put { dest, .. } = &p.changes[0].action else {
        panic!()
    };
    assert!(!Path::new(dest).exists());
    assert!(
        prov_scripts_in_tmp().is_empty(),
        "left behind: {:?}",
        prov_scripts_in_tmp()
    );
    // creates skips it without uploading, with Ansible's message; removes likewise.
    let (p, _) = e
        .run(
            "script",
            &[("cmd", s("provtest.sh")), ("creates", s("/"))],
            false,
        )
        .await
        .unwrap();
    assert!(p.changes.is_empty());
    assert_eq!(
        p.skipped.as_deref(),
        Some("/ exists, matching creates option")
    );
    let (p, _) = e
        .run(
            "script",
            &[
                ("cmd", s("provtest.sh")),
                ("removes", s("/nonexistent-prov")),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        p.skipped.as_deref(),
        Some("/nonexistent-prov does not exist, matching removes option")
    );
    // chdir must be absolute.
    let (p, _) = e
        .run(
            "script",
            &[("cmd", s("provtest.sh")), ("chdir", s("rel"))],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        p.failed.as_deref(),
        Some("chdir rel must be an absolute path for a Unix-aware remote node")
    );
    // Without a script: Ansible's required-one-of message.
    let err = e.plan("script", &[], false).await.unwrap_err();
    assert!(
        err.msg.contains("one of the following is required: cmd"),
        "{}",
        err.msg
    );
    // A vault-encrypted script needs the run's vault password (decrypt defaults to true)...
    std::fs::write(
        d.join("files/provvault.sh"),
        "$ANSIBLE_VAULT;1.1;AES256\n3132\n",
    )
    .unwrap();
    let err = e
        .plan("script", &[("cmd", s("provvault.sh"))], false)
        .await
        .unwrap_err();
    assert!(
        err.msg
            .contains("A vault password or secret must be specified to decrypt"),
        "{}",
        err.msg
    );
    // ...unless decrypt is off: then it is sent as it is.
    e.plan(
        "script",
        &[("cmd", s("provvault.sh")), ("decrypt", Value::from(false))],
        false,
    )
    .await
    .unwrap();
    // executable overrides the shebang.
    std::fs::write(d.join("files/provtest.txt"), "echo via-sh $1\n").unwrap();
    e.env.clear();
    let (_, a) = e
        .run(
            "script",
            &[("cmd", s("provtest.txt x")), ("executable", s("sh"))],
            false,
        )
        .await
        .unwrap();
    assert_eq!(stdout(&a), "via-sh x\n");
    // A missing script is a clear error naming where it looked.
    let err = e
        .plan("script", &[("cmd", s("nope.sh"))], false)
        .await
        .unwrap_err();
    assert!(
        err.msg.contains("Could not find or access 'nope.sh'"),
        "{}",
        err.msg
    );
    assert!(
        err.hint
            .clone()
            .unwrap_or_default()
            .contains("files/nope.sh")
    );
    std::fs::remove_dir_all(d).unwrap();
}

// ---------------------------------------------------------------- ping / debug / assert / fail

#[tokio::test]
async fn ping_round_trips_and_can_crash() {
    let e = Env::new();
    let (p, a) = e.run("ping", &[], false).await.unwrap();
    assert_eq!(rstr(&p, "ping"), "pong");
    assert!(!a.changed && p.failed.is_none());
    let (p, _) = e.run("ping", &[("data", s("hello"))], false).await.unwrap();
    assert_eq!(rstr(&p, "ping"), "hello");
    let (p, _) = e.run("ping", &[("data", s("crash"))], false).await.unwrap();
    assert_eq!(
        p.failed.as_deref(),
        Some("Task failed: Module failed: boom")
    );
}

#[tokio::test]
async fn debug_msg_var_and_verbosity() {
    let mut e = Env::new();
    let (p, a) = e.run("debug", &[], false).await.unwrap();
    assert_eq!(p.msg.as_deref(), Some("Hello world!"));
    assert!(!a.changed);
    let (p, _) = e
        .run("debug", &[("msg", s("hi there"))], false)
        .await
        .unwrap();
    assert_eq!(rstr(&p, "msg"), "hi there");
    let (p, _) = e
        .run("debug", &[("var", s("my_list"))], false)
        .await
        .unwrap();
    assert_eq!(rstr(&p, "my_list"), r#"["a", "b"]"#);
    // `var` results are shown in full by the sink (Ansible's `_ansible_verbose_always`).
    assert!(p.msg.is_none(), "{:?}", p.msg);
    assert_eq!(rstr(&p, "_ansible_verbose_always"), "True");
    let (p, _) = e.run("debug", &[("var", s("nope"))], false).await.unwrap();
    // ansible-core 2.19: a marker in place of the value, and the error as a warning.
    assert_eq!(rstr(&p, "nope"), "<< error 1 - 'nope' is undefined >>");
    assert_eq!(
        rstr(&p, "warnings"),
        "[\"Encountered 1 template error.\\nerror 1 - 'nope' is undefined\"]"
    );
    let (p, _) = e
        .run(
            "debug",
            &[("msg", s("x")), ("verbosity", Value::from(2))],
            false,
        )
        .await
        .unwrap();
    assert_eq!(p.skipped.as_deref(), Some("verbosity threshold not met"));
    e.verbosity = 2;
    let (p, _) = e
        .run(
            "debug",
            &[("msg", s("x")), ("verbosity", Value::from(2))],
            false,
        )
        .await
        .unwrap();
    assert!(p.skipped.is_none());
    let err = e
        .plan("debug", &[("msg", s("x")), ("var", s("y"))], false)
        .await
        .unwrap_err();
    assert!(err.msg.contains("mutually exclusive"));
}

#[tokio::test]
async fn assert_passes_fails_and_reports_the_assertion() {
    let e = Env::new();
    let (p, _) = e
        .run("assert", &[("that", list(&["true", "1 == 1"]))], false)
        .await
        .unwrap();
    assert!(p.failed.is_none());
    assert_eq!(p.msg.as_deref(), Some("All assertions passed"));
    let (p, _) = e
        .run(
            "assert",
            &[
                ("that", list(&["true", "1 == 2", "false"])),
                ("fail_msg", s("nope")),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(p.failed.as_deref(), Some("nope"));
    assert_eq!(rstr(&p, "assertion"), "1 == 2");
    assert_eq!(p.result.get("evaluated_to"), Some(&Value::from(false)));
    let (p, _) = e
        .run("assert", &[("that", s("{{ false }}"))], false)
        .await
        .unwrap();
    assert_eq!(p.failed.as_deref(), Some("Assertion failed"));
    let (p, _) = e
        .run(
            "assert",
            &[
                ("that", s("true")),
                ("quiet", Value::from(true)),
                ("success_msg", s("ok!")),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(p.msg.is_none());
    assert_eq!(rstr(&p, "msg"), "ok!");
    // An expression the engine cannot evaluate is an error, not a pass.
    assert!(
        e.plan("assert", &[("that", s("undefined_thing"))], false)
            .await
            .is_err()
    );
    let err = e.plan("assert", &[], false).await.unwrap_err();
    assert_eq!(err.msg, "missing required arguments: that");
}

#[tokio::test]
async fn fail_fails_with_default_or_given_message() {
    let e = Env::new();
    let (p, _) = e.run("fail", &[], false).await.unwrap();
    assert_eq!(p.failed.as_deref(), Some("Failed as requested from task"));
    let (p, _) = e
        .run("fail", &[("msg", s("bad host"))], true)
        .await
        .unwrap();
    assert_eq!(p.failed.as_deref(), Some("bad host"));
}

// ---------------------------------------------------------------- wait_for

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn wait_for_a_listening_port_and_a_stopped_one() {
    let e = Env::new();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = Instant::now();
    let (p, a) = e
        .run(
            "wait_for",
            &[("port", Value::from(port)), ("timeout", Value::from(10))],
            false,
        )
        .await
        .unwrap();
    assert!(p.failed.is_none(), "{:?}", p.failed);
    assert!(!a.changed && p.changes.is_empty());
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(rstr(&p, "port"), port.to_string());
    assert_eq!(rstr(&p, "state"), "started");
    // Nothing listens here: stopped is immediate, started times out with a clear message.
    let free = free_port();
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("port", Value::from(free)),
                ("state", s("stopped")),
                ("timeout", Value::from(5)),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(p.failed.is_none(), "{:?}", p.failed);
    let t = Instant::now();
    let (p, _) = e
        .run(
            "wait_for",
            &[("port", Value::from(free)), ("timeout", Value::from(1))],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        p.failed.as_deref(),
        Some(format!("Timeout when waiting for 127.0.0.1:{free}").as_str())
    );
    assert!(t.elapsed() >= Duration::from_secs(1));
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("port", Value::from(free)),
                ("timeout", Value::from(1)),
                ("msg", s("db never came up")),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(p.failed.as_deref(), Some("db never came up"));
    drop(l);
}

#[tokio::test]
async fn wait_for_a_port_that_opens_later_and_a_remote_host_by_connecting() {
    let e = Env::new();
    let port = free_port();
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        let l = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
        std::thread::sleep(Duration::from_secs(6));
        drop(l);
    });
    let t = Instant::now();
    let (p, _) = e
        .run(
            "wait_for",
            &[("port", Value::from(port)), ("timeout", Value::from(10))],
            false,
        )
        .await
        .unwrap();
    assert!(p.failed.is_none(), "{:?}", p.failed);
    assert!(
        t.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        t.elapsed()
    );
    // 127.0.0.2 is not treated as this host: the check connects (bash /dev/tcp or nc).
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("host", s("127.0.0.2")),
                ("port", Value::from(port)),
                ("timeout", Value::from(3)),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(p.failed.is_none(), "{:?}", p.failed);
    opener.join().unwrap();
}

#[tokio::test]
async fn wait_for_drained() {
    let e = Env::new();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("port", Value::from(port)),
                ("state", s("drained")),
                ("timeout", Value::from(5)),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(p.failed.is_none(), "{:?}", p.failed);
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_server, _) = l.accept().unwrap();
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("port", Value::from(port)),
                ("state", s("drained")),
                ("timeout", Value::from(1)),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        p.failed.as_deref(),
        Some(format!("Timeout when waiting for 127.0.0.1:{port} to drain").as_str())
    );
    // Excluding the peer makes the connection not count.
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("port", Value::from(port)),
                ("state", s("drained")),
                ("timeout", Value::from(2)),
                ("exclude_hosts", list(&["127.0.0.1"])),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(p.failed.is_none(), "{:?}", p.failed);
    drop(client);
}

#[tokio::test]
async fn wait_for_a_file_and_a_string_appearing_later() {
    let e = Env::new();
    let d = tmpdir("waitfile");
    let f = d.join("app.log");
    let f2 = f.clone();
    let writer = std::thread::spawn(move || {
        std::fs::write(&f2, "booting\n").unwrap();
        std::thread::sleep(Duration::from_millis(1200));
        std::fs::write(&f2, "booting\nready on port 8080 (pid 42)\n").unwrap();
    });
    let t = Instant::now();
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("path", s(f.to_str().unwrap())),
                (
                    "search_regex",
                    s(r"ready on port (\d+) \(pid (?P<pid>\d+)\)"),
                ),
                ("timeout", Value::from(10)),
            ],
            false,
        )
        .await
        .unwrap();
    writer.join().unwrap();
    assert!(p.failed.is_none(), "{:?}", p.failed);
    assert!(t.elapsed() >= Duration::from_millis(1100));
    assert_eq!(rstr(&p, "match_groups"), r#"["8080", "42"]"#);
    assert_eq!(rstr(&p, "match_groupdict"), r#"{"pid": "42"}"#);
    // Present, absent, and a timeout naming the file.
    let (p, _) = e
        .run("wait_for", &[("path", s(f.to_str().unwrap()))], false)
        .await
        .unwrap();
    assert!(p.failed.is_none());
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("path", s(f.to_str().unwrap())),
                ("state", s("absent")),
                ("timeout", Value::from(1)),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        p.failed.as_deref(),
        Some(format!("Timeout when waiting for {} to be absent.", f.display()).as_str())
    );
    let missing = d.join("never");
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("path", s(missing.to_str().unwrap())),
                ("timeout", Value::from(1)),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        p.failed.as_deref(),
        Some(format!("Timeout when waiting for file {}", missing.display()).as_str())
    );
    assert!(rstr(&p, "elapsed").parse::<i64>().unwrap() >= 1);
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("path", s(f.to_str().unwrap())),
                ("search_regex", s("never matches")),
                ("timeout", Value::from(1)),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        p.failed.as_deref(),
        Some(
            format!(
                "Timeout when waiting for search string never matches in {}",
                f.display()
            )
            .as_str()
        )
    );
    let err = e
        .plan(
            "wait_for",
            &[("path", s("/x")), ("search_regex", s("(unclosed"))],
            false,
        )
        .await
        .unwrap_err();
    assert!(
        err.msg
            .contains("search_regex is not a valid regular expression"),
        "{}",
        err.msg
    );
    std::fs::remove_dir_all(d).unwrap();
}

/// Ansible's timing: a timeout takes `timeout` seconds, not one more (`elapsed` is exactly
/// it), and `timeout: 0` never tries; a file with NUL bytes (UTF-16 text) is searched as
/// text.
#[tokio::test]
async fn wait_for_times_out_on_time_and_searches_binary_files() {
    let e = Env::new();
    let d = tmpdir("waittiming");
    let missing = d.join("never");
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("path", s(missing.to_str().unwrap())),
                ("timeout", Value::from(2)),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(p.failed.is_some());
    assert_eq!(rstr(&p, "elapsed"), "2");
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("path", s(missing.to_str().unwrap())),
                ("state", s("absent")),
                ("timeout", Value::from(0)),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(p.failed.is_some(), "timeout 0 never tries, as Ansible");
    let f = d.join("utf16.txt");
    std::fs::write(&f, b"h\x00e\x00l\x00l\x00o\x00\n\x00completed 7\n").unwrap();
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("path", s(f.to_str().unwrap())),
                ("search_regex", s(r"completed (\d)")),
                ("timeout", Value::from(3)),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(p.failed.is_none(), "{:?}", p.failed);
    assert_eq!(rstr(&p, "match_groups"), r#"["7"]"#);
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn wait_for_with_only_a_timeout_just_waits() {
    let e = Env::new();
    let t = Instant::now();
    let (p, _) = e
        .run("wait_for", &[("timeout", Value::from(1))], true)
        .await
        .unwrap();
    assert!(p.failed.is_none());
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert_eq!(rstr(&p, "elapsed"), "1");
}

// ---------------------------------------------------------------- pause

#[tokio::test]
async fn pause_sleeps_and_refuses_to_prompt_without_a_tty() {
    let e = Env::new();
    let t = Instant::now();
    let (p, a) = e
        .run("pause", &[("seconds", Value::from(1))], false)
        .await
        .unwrap();
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert!(!a.changed && p.failed.is_none());
    assert_eq!(rstr(&p, "stdout"), "Paused for 1 seconds");
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprintln!("SKIPPED: stdin is a terminal, cannot test the no-TTY error");
        return;
    }
    let err = e
        .plan("pause", &[("prompt", s("continue?"))], false)
        .await
        .unwrap_err();
    assert!(err.msg.contains("no TTY"), "{}", err.msg);
}

// ---------------------------------------------------------------- registry

#[test]
fn every_module_is_registered_with_docs() {
    let reg = Registry::builtin();
    for name in [
        "command", "shell", "raw", "script", "ping", "debug", "assert", "fail", "wait_for", "pause",
    ] {
        let m = reg
            .get(&format!("ansible.builtin.{name}"))
            .unwrap_or_else(|| panic!("{name} missing"));
        let doc = m.doc().render();
        assert!(doc.starts_with(name), "{doc}");
        assert!(m.doc().description.len() > 40, "{name} needs a description");
    }
    assert_eq!(reg.get("command").unwrap().doc().free_form, Some("cmd"));
}

// ---------------------------------------------------------------- a busybox-only host

#[tokio::test]
async fn everything_works_on_a_busybox_only_host() {
    let Some(bb) = BusyboxHost::new() else {
        eprintln!("SKIPPED: busybox is not installed (apt-get install -y busybox)");
        return;
    };
    let mut e = Env::new();
    e.conn = Box::new(bb);
    let d = tmpdir("bbhost");
    // The shell and the tools really are busybox.
    let (_, a) = e
        .run(
            "shell",
            &[(
                "cmd",
                s("readlink /proc/$$/exe; readlink -f \"$(command -v awk)\""),
            )],
            false,
        )
        .await
        .unwrap();
    let out = stdout(&a);
    assert!(
        out.lines().count() == 2 && out.lines().all(|l| l.ends_with("busybox")),
        "{out}"
    );
    // command with quoting and vars, shell pipes, creates with a glob.
    e.env = vec![("PROV_BB".into(), "v w".into())];
    let (_, a) = e
        .run(
            "command",
            &[("argv", list(&["printf", "<%s>", "a b", "$(x)", "$PROV_BB"]))],
            false,
        )
        .await
        .unwrap();
    assert_eq!(stdout(&a), "<a b><$(x)><v w>");
    let (_, a) = e
        .run(
            "shell",
            &[("cmd", s("printf 'x\\ny\\n' | wc -l | tr -d ' '"))],
            false,
        )
        .await
        .unwrap();
    assert_eq!(stdout(&a), "2\n");
    std::fs::write(d.join("a.done"), "").unwrap();
    let (p, _) = e
        .run(
            "command",
            &[
                ("cmd", s("false")),
                ("creates", s(&format!("{}/*.done", d.display()))),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(p.changes.is_empty());
    // script: upload with busybox mktemp/chmod/mv, run, clean up.
    std::fs::create_dir_all(d.join("files")).unwrap();
    std::fs::write(d.join("files/provtest-bb.sh"), "#!/bin/sh\necho bb $1\n").unwrap();
    e.search_paths = vec![d.clone()];
    let (p, a) = e
        .run("script", &[("cmd", s("provtest-bb.sh ok"))], false)
        .await
        .unwrap();
    assert_eq!(stdout(&a), "bb ok\n");
    let Action::Put { dest, .. } = &p.changes[0].action else {
        panic!()
    };
    assert!(!Path::new(dest).exists());
    // wait_for: a local port (awk over /proc/net/tcp), a string in a file (busybox grep).
    let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (p, _) = e
        .run(
            "wait_for",
            &[("port", Value::from(port)), ("timeout", Value::from(5))],
            false,
        )
        .await
        .unwrap();
    assert!(p.failed.is_none(), "{:?}", p.failed);
    // A "remote" host: no bash here, so busybox nc (without -z) connects. The listener
    // accepts and closes at once so nc ends quickly.
    let acceptor = std::thread::spawn(move || {
        if let Ok((c, _)) = l.accept() {
            drop(c);
        }
    });
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("host", s("127.0.0.2")),
                ("port", Value::from(port)),
                ("timeout", Value::from(10)),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(p.failed.is_none(), "{:?}", p.failed);
    acceptor.join().unwrap();
    let f = d.join("log");
    std::fs::write(&f, "x\nlistening on 9090\n").unwrap();
    let (p, _) = e
        .run(
            "wait_for",
            &[
                ("path", s(f.to_str().unwrap())),
                ("search_regex", s(r"listening on (\d+)")),
                ("timeout", Value::from(5)),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(p.failed.is_none(), "{:?}", p.failed);
    assert_eq!(rstr(&p, "match_groups"), r#"["9090"]"#);
    let free = free_port();
    let (p, _) = e
        .run(
            "wait_for",
            &[("port", Value::from(free)), ("timeout", Value::from(1))],
            false,
        )
        .await
        .unwrap();
    assert!(
        p.failed
            .as_deref()
            .unwrap_or("")
            .starts_with("Timeout when waiting for"),
        "{:?}",
        p.failed
    );
    std::fs::remove_dir_all(d).unwrap();
}
