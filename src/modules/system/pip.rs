//! `pip`: manages Python packages with pip, optionally in a virtualenv.

use super::pip_version::{Requirement, recover_names};
use crate::connection::quote;
use crate::error::Result;
use crate::modules::toolkit::{kv, probe, quote_all, sections, split_words};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, RESULT_LINE, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `pip` module.
pub struct Pip;

crate::options! {
    /// The `pip` module's options.
    pub(crate) struct Opts {
        name: Option<Vec<String>> = opt::list("Packages to manage: names with optional extras and version specifiers (`django>=4,<5`), URLs or paths."),
        version: Option<String> = opt::str("The version of the single package in `name` (`1.2` means `==1.2`)."),
        requirements: Option<String> = opt::str("A pip requirements file on the host (relative to chdir)."),
        state: String = opt::str("present installs what is missing, latest upgrades, forcereinstall reinstalls, absent uninstalls.").default("present").choices(&["present", "absent", "latest", "forcereinstall"]),
        virtualenv: Option<String> = opt::path("A virtualenv to install into, created when missing."),
        virtualenv_site_packages: bool = opt::bool("Give a new virtualenv access to the system's packages.").default("no"),
        virtualenv_command: String = opt::path("The command creating a virtualenv (`virtualenv`, `python3 -m venv`, ...).").default("virtualenv"),
        virtualenv_python: Option<String> = opt::str("The Python of a new virtualenv (`virtualenv -p`; not with venv)."),
        extra_args: Option<String> = opt::str("More pip arguments."),
        editable: bool = opt::bool("Install in editable mode (`-e`).").default("no"),
        chdir: Option<String> = opt::path("Run pip in this folder (default: the host's temp folder)."),
        executable: Option<String> = opt::path("The pip to run (a name on PATH or a path); not with virtualenv."),
        umask: Option<String> = opt::str("The umask pip runs with (octal)."),
        break_system_packages: bool = opt::bool("Let pip change a system Python that is externally managed (PEP 668).").default("no"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("pip", "Manages Python library dependencies")
    .description(
        "Installs, upgrades and removes Python packages with the host's pip: the one of \
`executable`, of `virtualenv` (created with `virtualenv_command` when its `bin/activate` is \
missing), else `python3 -m pip`, else `pip3`. One round trip finds pip and lists the installed \
packages (`pip list --format=freeze`); with state present or absent and plain names, a task \
whose packages are already (or no longer) there runs nothing. Otherwise pip runs, and as in \
Ansible the task is changed when pip says `Successfully installed`/`Successfully uninstalled` \
(with a requirements file or a VCS URL: when the installed packages differ afterwards), or \
when the virtualenv was created. Check mode follows Ansible: present/absent compare with the \
installed versions (specifiers included), extra_args, requirements and latest report changed. \
Returns `cmd`, `name`, `version`, `state`, `requirements`, `virtualenv`, `stdout`, `stderr`.",
    )
    .spec::<Opts>()
    .required_one_of(&[&["name", "requirements"]])
    .mutually_exclusive(&[&["name", "requirements"], &["executable", "virtualenv"]])
    .examples(
        "- pip:\n    name: [requests, 'django>=4,<5']\n    virtualenv: /srv/app/venv\n    virtualenv_command: python3 -m venv\n\
- pip:\n    requirements: /srv/app/requirements.txt\n    virtualenv: /srv/app/venv\n",
    );

/// Ansible's names of pip's arguments for each state.
fn state_args(state: &str) -> &'static [&'static str] {
    match state {
        "absent" => &["uninstall", "-y"],
        "latest" => &["install", "-U"],
        "forcereinstall" => &["install", "-U", "--force-reinstall"],
        _ => &["install"],
    }
}

/// A VCS requirement (`git+https://...`).
fn is_vcs(name: &str) -> bool {
    ["svn+", "git+", "hg+", "bzr+"]
        .iter()
        .any(|p| name.trim_start().starts_with(p))
}

/// True when the virtualenv command is Python's venv (`-m venv`) or pyvenv (no `-p`).
fn is_venv_command(words: &[String]) -> bool {
    words.first().is_some_and(|w| w == "pyvenv")
        || words.windows(2).any(|w| w[0] == "-m" && w[1] == "venv")
        || words.iter().any(|w| w == "-mvenv")
}

/// The script that reports the result of the pip run as a [`RESULT_LINE`] (built by the
/// host's Python, which pip needs anyway).
const REPORT: &str = r#"import json, sys
o, e, rc, b, a, mode, created, pip = sys.argv[1:9]
out = open(o, errors="replace").read()
err = open(e, errors="replace").read()
rc = int(rc)
if rc == 1 and mode == "absent" and ("not installed" in out or "not installed" in err):
    rc = 0
if mode == "absent":
    changed = "Successfully uninstalled" in out
elif b:
    changed = open(b, errors="replace").read() != open(a, errors="replace").read()
else:
    changed = "Successfully installed" in out
r = {"changed": changed or created == "1", "stdout": out, "stderr": err,
     "cmd": pip.split() + sys.argv[9:]}
print("prov-result:" + json.dumps(r))
if rc != 0:
    msg = ""
    if out:
        msg += "stdout: %s" % out
    if err:
        msg += "\n:stderr: %s" % err
    sys.stderr.write(msg)
    sys.exit(1)
"#;

#[async_trait]
impl Module for Pip {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let state = o.state.as_str();
        if state == "latest" && o.version.is_some() {
            return Ok(Plan::fail("version is incompatible with state=latest"));
        }
        if let Some(u) = &o.umask
            && u32::from_str_radix(u.trim(), 8).is_err()
        {
            return Ok(Plan::fail("umask must be an octal integer"));
        }
        let names = recover_names(o.name.as_deref().unwrap_or_default());
        let mut reqs: Vec<Requirement> = names.iter().map(|n| Requirement::parse(n)).collect();
        if let Some(v) = o.version.as_deref().map(str::trim_start) {
            if reqs.len() > 1 {
                return Ok(Plan::fail(
                    "'version' argument is ambiguous when installing multiple package \
                     distributions. Please specify version restrictions next to each package \
                     in 'name' argument.",
                ));
            }
            if let Some(r) = reqs.first_mut() {
                if r.has_specifier() {
                    return Ok(Plan::fail(
                        "The 'version' argument conflicts with any version specifier provided \
                         along with a package name. Please keep the version specifier, but \
                         remove the 'version' argument.",
                    ));
                }
                let sep = if v.starts_with(|c: char| c.is_ascii_digit()) {
                    "=="
                } else {
                    " "
                };
                *r = Requirement::parse(&format!("{}{sep}{v}", r.text));
            }
        }
        let env = o.virtualenv.clone().map(|e| match &o.chdir {
            Some(c) if !e.starts_with('/') => format!("{}/{e}", c.trim_end_matches('/')),
            _ => e,
        });
        let venv_cmd = split_words("pip", &o.virtualenv_command)?;
        if env.is_some() && is_venv_command(&venv_cmd) && o.virtualenv_python.is_some() {
            return Ok(Plan::fail(
                "virtualenv_python should not be used when using the venv module or pyvenv as \
                 virtualenv_command",
            ));
        }

        // One round trip: the virtualenv, pip, the installed packages.
        let mut script = String::from("PIP=\n");
        match (&env, &o.executable) {
            (Some(e), _) => {
                script.push_str(&format!(
                    "V={}\nif [ -e \"$V/bin/activate\" ]; then echo venv=1; fi\n\
                     for b in pip3 pip; do if [ -x \"$V/bin/$b\" ]; then PIP=\"$V/bin/$b\"; break; fi; done\n",
                    quote(e)
                ));
                if let Some(c) = venv_cmd.first().filter(|c| !c.contains('/')) {
                    script.push_str(&format!(
                        "command -v {} >/dev/null 2>&1 || echo novenvcmd=1\n",
                        quote(c)
                    ));
                }
            }
            (None, Some(x)) if x.starts_with('/') => {
                script.push_str(&format!("if [ -x {0} ]; then PIP={0}; fi\n", quote(x)))
            }
            (None, Some(x)) => {
                script.push_str(&format!("PIP=$(command -v {} 2>/dev/null)\n", quote(x)))
            }
            (None, None) => script.push_str(
                "if python3 -c 'import pip' >/dev/null 2>&1; then PIP='python3 -m pip'; \
                 else PIP=$(command -v pip3 2>/dev/null); fi\n",
            ),
        }
        script.push_str(
            "echo @@freeze\nif [ -n \"$PIP\" ]; then $PIP list --format=freeze 2>/dev/null || $PIP freeze 2>/dev/null; fi\n\
             echo @@pip\necho \"pip=$PIP\"\n",
        );
        let out = probe(ctx, script, "pip").await?;
        let sec = sections(&out);
        let head = kv(sec.get("").map(String::as_str).unwrap_or(""));
        let pip = kv(sec.get("pip").map(String::as_str).unwrap_or(""))
            .get("pip")
            .cloned()
            .filter(|p| !p.is_empty());
        let freeze = sec.get("freeze").cloned().unwrap_or_default();
        let venv_missing = env.is_some() && !head.contains_key("venv");
        if venv_missing && head.contains_key("novenvcmd") {
            return Ok(Plan::fail(format!(
                "Failed to find required executable \"{}\"",
                venv_cmd.first().map(String::as_str).unwrap_or("virtualenv")
            )));
        }
        if pip.is_none() && !venv_missing {
            return Ok(Plan::fail(match (&env, &o.executable) {
                (Some(e), _) => format!(
                    "Unable to find pip in the virtualenv, {e}, under any of these names: pip3, \
                     pip. Make sure pip is present in the virtualenv."
                ),
                (None, Some(x)) => {
                    format!("Unable to find any of {x} to use.  pip needs to be installed.")
                }
                (None, None) => {
                    "Unable to find any of pip3 to use.  pip needs to be installed.".into()
                }
            }));
        }

        let mut extra = o.extra_args.clone().unwrap_or_default();
        if o.editable && !extra.split(' ').any(|a| a == "-e") {
            extra = if extra.is_empty() {
                "-e".into()
            } else {
                format!("{extra} -e")
            };
        }
        let extra_words = split_words("pip", &extra)?;
        let has_vcs = names.iter().any(|n| is_vcs(n));
        let mut pip_args: Vec<String> = state_args(state).iter().map(|a| a.to_string()).collect();
        pip_args.extend(extra_words.iter().cloned());
        match &o.requirements {
            Some(r) if reqs.is_empty() => pip_args.extend(["-r".into(), r.clone()]),
            _ => pip_args.extend(reqs.iter().map(|r| r.text.clone())),
        }

        let mut plan = Plan::ok()
            .with("state", state)
            .with(
                "version",
                o.version
                    .clone()
                    .map(Value::from)
                    .unwrap_or(Value::from(())),
            )
            .with(
                "requirements",
                o.requirements
                    .clone()
                    .map(Value::from)
                    .unwrap_or(Value::from(())),
            )
            .with(
                "virtualenv",
                env.clone().map(Value::from).unwrap_or(Value::from(())),
            );
        plan.result.insert(
            "name".into(),
            o.name
                .clone()
                .map(|n| Value::from(n.into_iter().map(Value::from).collect::<Vec<_>>()))
                .unwrap_or(Value::from(())),
        );
        // Whether anything would change, as Ansible's check mode decides it.
        let always = o.extra_args.is_some() || o.requirements.is_some() || state == "latest";
        let would = venv_missing
            || always
            || match state {
                "present" => reqs.iter().any(|r| !r.is_installed(&freeze)),
                "absent" => reqs.iter().any(|r| r.is_installed(&freeze)),
                // forcereinstall: Ansible's check mode reports no change; a real run reinstalls.
                _ => !ctx.check_mode,
            };
        if !would {
            let cmd = pip.clone().unwrap_or_default();
            return Ok(plan
                .with("cmd", format!("{cmd} list --format=freeze"))
                .with("stdout", freeze.as_str())
                .with("stderr", ""));
        }

        // The run: create the virtualenv if needed, then pip, then report.
        let chdir = match &o.chdir {
            Some(c) => quote(c),
            None => "\"${TMPDIR:-/tmp}\"".into(),
        };
        let mut run = format!("cd -- {chdir} || exit 1\n");
        if let Some(u) = &o.umask {
            run.push_str(&format!("umask {}\n", quote(u.trim())));
        }
        if o.break_system_packages {
            run.push_str("PIP_BREAK_SYSTEM_PACKAGES=1; export PIP_BREAK_SYSTEM_PACKAGES\n");
        }
        run.push_str(
            "O=$(mktemp) E=$(mktemp) B= A=; trap 'rm -f \"$O\" \"$E\" \"$B\" \"$A\"' EXIT\n",
        );
        let mut created = "0";
        if let Some(e) = &env {
            run.push_str(&format!("V={}\n", quote(e)));
            if venv_missing {
                created = "1";
                let mut c = venv_cmd.clone();
                if o.virtualenv_site_packages {
                    c.push("--system-site-packages".into());
                }
                if !is_venv_command(&venv_cmd) {
                    c.push(format!(
                        "-p{}",
                        o.virtualenv_python
                            .clone()
                            .unwrap_or_else(|| "python3".into())
                    ));
                }
                run.push_str(&format!(
                    "{} \"$V\" >>\"$O\" 2>>\"$E\" || {{ cat \"$O\"; cat \"$E\" >&2; exit 1; }}\n",
                    quote_all(&c)
                ));
                run.push_str(
                    "PIP=; for b in pip3 pip; do if [ -x \"$V/bin/$b\" ]; then PIP=\"$V/bin/$b\"; break; fi; done\n\
                     [ -n \"$PIP\" ] || { echo \"Unable to find pip in the virtualenv, $V, under any of these names: pip3, pip. Make sure pip is present in the virtualenv.\" >&2; exit 1; }\n",
                );
            } else {
                run.push_str(&format!(
                    "PIP={}\n",
                    quote(pip.as_deref().unwrap_or_default())
                ));
            }
            run.push_str("PATH=\"$V/bin:$PATH\"; export PATH; PY=\"$V/bin/python\"\n");
        } else {
            let p = pip.clone().unwrap_or_default();
            run.push_str(&format!("PIP={}; PY=python3\n", quote(&p)));
        }
        let freeze_to = |f: &str| {
            format!(
                "{f}=$(mktemp); $PIP list --format=freeze >\"${f}\" 2>/dev/null || $PIP freeze >\"${f}\" 2>/dev/null\n"
            )
        };
        if o.requirements.is_some() || has_vcs {
            run.push_str(&freeze_to("B"));
        }
        run.push_str(&format!(
            "$PIP {} >>\"$O\" 2>>\"$E\"; rc=$?\n",
            quote_all(&pip_args)
        ));
        if o.requirements.is_some() || has_vcs {
            run.push_str(&freeze_to("A"));
        }
        run.push_str(&format!(
            "\"$PY\" - \"$O\" \"$E\" \"$rc\" \"$B\" \"$A\" {state} {created} \"$PIP\" {} <<'PROVPIP'\n{}PROVPIP\n",
            quote_all(&pip_args),
            REPORT.replace("prov-result:", RESULT_LINE),
        ));
        let what = if names.is_empty() {
            o.requirements
                .clone()
                .map(|r| format!("-r {r}"))
                .unwrap_or_default()
        } else {
            names.join(" ")
        };
        let summary = match (venv_missing, state) {
            (true, _) => format!(
                "create virtualenv {} and pip {} {what}",
                env.clone().unwrap_or_default(),
                state_args(state).join(" ")
            ),
            (false, _) => format!("pip {} {what}", state_args(state).join(" ")),
        };
        plan.output_results = true;
        Ok(plan.change(
            summary,
            None,
            crate::modules::toolkit::exec(ctx, run, false),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venv_commands_and_vcs_urls() {
        let w = |s: &str| split_words("pip", s).unwrap();
        assert!(is_venv_command(&w("python3 -m venv")));
        assert!(is_venv_command(&w("pyvenv")));
        assert!(!is_venv_command(&w("virtualenv")));
        assert!(is_vcs("git+https://github.com/a/b.git"));
        assert!(!is_vcs("requests"));
        assert_eq!(state_args("latest"), ["install", "-U"]);
    }
}
