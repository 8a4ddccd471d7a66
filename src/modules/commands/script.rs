//! `script`: uploads a local script to the host, runs it, and removes it.

use super::{Guard, Guards, check_guards};
use crate::connection::{PutOpts, Stdin, quote};
use crate::error::{Error, Result};
use crate::modules::toolkit::split_words;
use crate::modules::{Action, Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;
use std::path::Path;

/// The `script` module.
pub struct Script;

crate::options! {
    /// The `script` module's options.
    pub(crate) struct Opts {
        cmd: String = opt::str("Local script path and arguments (the free-form text).").required(),
        executable: Option<String> = opt::str("Run the script with this program (e.g. python3)."),
    }
    groups { guards: Guards }
}

static DOC: ModuleDoc = ModuleDoc::new("script", "Upload a local script to the host and run it")
    .description(
        "The free-form text is a local script path (looked up in the role's and \
playbook's `files/` folders) followed by its arguments, which are passed through the host's shell \
as written. The script is uploaded to a private temp file (mode 0700), run (with its `#!` \
interpreter, or `executable`), and removed, even when it fails. `creates`/`removes` (globs \
allowed) are checked first, in check mode too, so check mode reports exactly whether it would run.",
    )
    .spec::<Opts>()
    .free_form("cmd")
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

/// The interpreter line of a local script (`#!/usr/bin/env python3` → `["/usr/bin/env", "python3"]`).
fn shebang(path: &Path) -> Vec<String> {
    use std::io::Read;
    let mut buf = [0u8; 256];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut buf))
        .unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
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

#[async_trait]
impl Module for Script {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let text = o.cmd;
        let (local, rest) = first_word(&text)?;
        if local.is_empty() {
            return Err(Error::parse("script: no script given")
                .hint("write `script: path/to/script.sh args`"));
        }
        let src = ctx.find_file("files", &local)?;
        if !src.is_file() {
            return Err(Error::failed(format!(
                "script: {} is not a file",
                src.display()
            )));
        }
        if let Guard::Skip(p) = check_guards(ctx, &o.guards, Value::from(text.as_str())).await? {
            return Ok(*p);
        }
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
            None => shebang(&src),
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
        Ok(Plan::ok()
            .with("cmd", text.as_str())
            .change(
                format!("upload {} to {remote}", src.display()),
                None,
                Action::Put {
                    src: Stdin::File(src.clone()),
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
