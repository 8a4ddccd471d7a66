//! `script`: uploads a local script to the host, runs it, and removes it.

use super::Guards;
use crate::connection::{PutOpts, quote};
use crate::error::{Error, Result};
use crate::modules::toolkit::{Content, split_words};
use crate::modules::{Action, Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use async_trait::async_trait;

/// The `script` module.
pub struct Script;

crate::options! {
    /// The `script` module's options.
    pub(crate) struct Opts {
        cmd: Option<String> = opt::str("Local script path and arguments (the free-form text)."),
        executable: Option<String> = opt::str("Run the script with this program (e.g. python3)."),
        decrypt: bool = opt::bool(
            "Decrypt a vault-encrypted local script (with the run's vault password) before \
uploading it."
        ).default("yes"),
    }
    groups { guards: Guards }
}

static DOC: ModuleDoc = ModuleDoc::new("script", "Upload a local script to the host and run it")
    .description(
        "The free-form text (or `cmd`) is a local script path (looked up in the role's and \
playbook's `files/` folders) followed by its arguments, which are passed through the host's shell \
as written. The script is uploaded to a private temp file (mode 0700), run (with its `#!` \
interpreter, or `executable`), and removed, even when it fails; `stdout`/`stderr` are returned as \
printed. `chdir` must be absolute. As in Ansible, a `creates` path that exists or a `removes` path \
that does not skips the task; in check mode a task with `creates`/`removes` that would run \
reports changed without running, and one without them is skipped (a script's effect cannot be \
known).",
    )
    .spec::<Opts>()
    .free_form("cmd")
    .required_one_of(&[&["cmd"]])
    .examples(
        "- script: setup.sh --force creates=/etc/app/done\n- script: report.py\n  args:\n    executable: python3",
    );

/// Splits `text` into the first shell word (unquoted) and the rest as written.
fn first_word(text: &str) -> Result<(String, String)> {
    let t = text.trim_start();
    let mut in_s = false;
    let mut in_d = false;
    let mut esc = false;
    let mut end = t.len();
    for (i, c) in t.char_indices() {
        if esc {
            esc = false;
            continue;
        }
        match c {
            '\\' if !in_s => esc = true,
            '\'' if !in_d => in_s = !in_s,
            '"' if !in_s => in_d = !in_d,
            c if c.is_whitespace() && !in_s && !in_d => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let words = split_words("script", &t[..end])?;
    let first = words.into_iter().next().unwrap_or_default();
    Ok((first, t[end..].trim().to_string()))
}

/// The interpreter line of a script (`#!/usr/bin/env python3` → `["/usr/bin/env", "python3"]`).
fn shebang(content: &Content) -> Vec<String> {
    use std::io::Read;
    let mut buf = [0u8; 256];
    let head: &[u8] = match content {
        Content::Bytes(b) => &b[..b.len().min(256)],
        Content::File { path, .. } => {
            let n = std::fs::File::open(path)
                .and_then(|mut f| f.read(&mut buf))
                .unwrap_or(0);
            &buf[..n]
        }
    };
    let head = String::from_utf8_lossy(head);
    let Some(line) = head.strip_prefix("#!").and_then(|h| h.lines().next()) else {
        return vec![];
    };
    let line = line.trim();
    match line.split_once(char::is_whitespace) {
        Some((interp, arg)) if !arg.trim().is_empty() => {
            vec![interp.to_string(), arg.trim().to_string()]
        }
        _ if !line.is_empty() => vec![line.to_string()],
        _ => vec![],
    }
}

/// Ansible's script `creates`/`removes`/`chdir` rules, in its order: a `creates` path that
/// exists or a `removes` path that does not skips the task (one round trip, only when one is
/// given); then `chdir` must be absolute.
async fn check_guards(ctx: &TaskCtx<'_>, g: &Guards) -> Result<Option<Plan>> {
    let relative_dir = || {
        g.dir().filter(|d| !d.starts_with('/')).map(|dir| {
            Plan::fail(format!(
                "chdir {dir} must be an absolute path for a Unix-aware remote node"
            ))
        })
    };
    let creates = g.creates.clone().filter(|s| !s.is_empty());
    let removes = g.removes.clone().filter(|s| !s.is_empty());
    if creates.is_none() && removes.is_none() {
        return Ok(relative_dir());
    }
    let test = |label: &str, p: &Option<String>| match p {
        Some(p) => format!("if [ -e {} ]; then echo {label}=1; fi; ", quote(p)),
        None => String::new(),
    };
    let out = ctx
        .run(format!(
            "{}{}exit 0",
            test("creates", &creates),
            test("removes", &removes)
        ))
        .await?;
    let text = out.stdout_str();
    let skip = |msg: String| Plan {
        skipped: Some(msg),
        ..Plan::default()
    };
    if let Some(c) = creates.filter(|_| text.contains("creates=1")) {
        return Ok(Some(skip(format!("{c} exists, matching creates option"))));
    }
    if let Some(r) = removes.filter(|_| !text.contains("removes=1")) {
        return Ok(Some(skip(format!(
            "{r} does not exist, matching removes option"
        ))));
    }
    Ok(relative_dir())
}

#[async_trait]
impl Module for Script {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let text = o.cmd.clone().unwrap_or_default();
        let (local, rest) = first_word(&text)?;
        if local.is_empty() {
            return Err(Error::parse("script: no script given")
                .hint("write `script: path/to/script.sh args`"));
        }
        if let Some(skip) = check_guards(ctx, &o.guards).await? {
            return Ok(skip);
        }
        let src = ctx.find_file("files", &local)?;
        if !src.is_file() {
            return Err(Error::failed(format!(
                "script: {} is not a file",
                src.display()
            )));
        }
        if ctx.check_mode {
            return Ok(
                if o.guards.creates.is_some() || o.guards.removes.is_some() {
                    Plan {
                        force_changed: true,
                        ..Plan::default()
                    }
                } else {
                    Plan {
                        skipped: Some("Check mode is not supported for this task.".into()),
                        ..Plan::default()
                    }
                },
            );
        }
        let content = Content::local_source(ctx, &src, o.decrypt)?;
        let base: String = src
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                    .collect()
            })
            .unwrap_or_default();
        let remote = format!(
            "/tmp/.prov-script-{}-{base}",
            crate::connection::unpredictable_token()
        );
        let runner: Vec<String> = match o.executable.filter(|e| !e.is_empty()) {
            Some(exe) => split_words("script", &exe)?,
            // Running the interpreter explicitly also works when /tmp is mounted noexec.
            None => shebang(&content),
        };
        let mut line: Vec<String> = runner.iter().map(|w| quote(w)).collect();
        line.push(quote(&remote));
        let mut run = line.join(" ");
        if !rest.is_empty() {
            run.push(' ');
            run.push_str(&rest);
        }
        let mut script = format!("trap 'rm -f {r}' EXIT HUP INT TERM; ", r = quote(&remote));
        if let Some(dir) = o.guards.dir() {
            script.push_str(&format!("cd {} || exit $?; ", quote(&dir)));
        }
        script.push_str(&format!("{run}\nexit $?"));
        let opts = PutOpts {
            mode: Some("0700".into()),
            ..ctx.put_opts()
        };
        let mut plan = Plan::ok();
        plan.keep_output_ends = true;
        Ok(plan
            .change(
                format!("upload {} to {remote}", src.display()),
                None,
                Action::Put {
                    src: content.stdin(),
                    dest: remote.clone(),
                    opts,
                },
            )
            .change(
                format!(
                    "run: {local}{}{rest}",
                    if rest.is_empty() { "" } else { " " }
                ),
                None,
                Action::Exec {
                    cmd: ctx.cmd(script),
                    capture: true,
                    fail_on_rc: true,
                },
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_script_and_raw_args() {
        let (a, b) = first_word("'my dir/x.sh' --name \"$HOME\" | tee").unwrap();
        assert_eq!(a, "my dir/x.sh");
        assert_eq!(b, "--name \"$HOME\" | tee");
        let (a, b) = first_word("x.sh").unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("x.sh", ""));
    }
}
