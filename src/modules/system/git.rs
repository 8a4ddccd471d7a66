//! `git`: clones and updates git checkouts on the host.

use crate::connection::quote;
use crate::error::Result;
use crate::modules::toolkit::{kv, probe, quote_all, sections};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, RESULT_LINE, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;
use std::collections::HashMap;

/// The `git` module.
pub struct Git;

crate::options! {
    /// The `git` module's options.
    pub(crate) struct Opts {
        repo: String = opt::str("The repository: a URL, `user@host:path`, or a path on the host.").required().aliases(&["name"]),
        dest: Option<String> = opt::path("Where to check it out (required unless clone is false)."),
        version: String = opt::str("What to check out: `HEAD` (the default branch), a branch, a tag or a commit.").default("HEAD"),
        remote: String = opt::str("The name of the remote.").default("origin"),
        refspec: Option<String> = opt::str("An extra refspec to fetch (e.g. `refs/pull/*`)."),
        reference: Option<String> = opt::str("A reference repository (`git clone --reference`)."),
        force: bool = opt::bool("Discard local modifications of tracked files (else they fail the task).").default("no"),
        depth: Option<i64> = opt::int("A shallow clone with this many commits (HEAD, branches and tags)."),
        clone: bool = opt::bool("Clone when the repository is missing (false: only report the remote's version).").default("yes"),
        update: bool = opt::bool("Fetch and check out `version` when the repository exists.").default("yes"),
        verify_commit: bool = opt::bool("Fail unless the checked out commit (or tag) has a valid GPG signature.").default("no"),
        gpg_allowlist: Vec<String> = opt::list("With verify_commit, the fingerprints of the keys allowed to sign.").default("[]").aliases(&["gpg_whitelist"]),
        accept_hostkey: bool = opt::bool("Accept an unknown SSH host key (StrictHostKeyChecking=no).").default("no"),
        accept_newhostkey: bool = opt::bool("Accept a new SSH host key, never a changed one (StrictHostKeyChecking=accept-new).").default("no"),
        key_file: Option<String> = opt::path("An SSH private key on the host to fetch with."),
        ssh_opts: Option<String> = opt::str("More SSH options (`-o ForwardAgent=yes`)."),
        executable: Option<String> = opt::path("The git to run."),
        bare: bool = opt::bool("Make a bare repository.").default("no"),
        recursive: bool = opt::bool("Clone and update submodules.").default("yes"),
        single_branch: bool = opt::bool("Clone only the history of `version` (`--single-branch`).").default("no"),
        track_submodules: bool = opt::bool("Update submodules to their remote branch's latest commit (`--remote`).").default("no"),
        umask: Option<Value> = opt::any("The umask git runs with (an octal string)."),
        archive: Option<String> = opt::path("Also write `version` as an archive (zip, tar, tar.gz, tgz) to this path."),
        archive_prefix: Option<String> = opt::str("A prefix for the archive's paths."),
        separate_git_dir: Option<String> = opt::path("Keep the repository's git folder here (clone only)."),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("git", "Deploy software (or files) from git checkouts")
    .description(
        "Clones `repo` into `dest`, or fetches it and checks out `version` (a branch, tag or \
commit; `HEAD` is the default branch). One round trip reads the checkout (its HEAD, local \
modifications of tracked files, the remote's URL, submodules) and asks the remote for \
`version` with `git ls-remote`, so check mode reports exactly whether the checkout would move, \
as Ansible's does. Local modifications fail the task unless `force` (then they are reset, as \
in Ansible). A changed remote URL is set and reported (`remote_url_changed`). SSH options \
(`key_file`, `ssh_opts`, `accept_hostkey`, `accept_newhostkey`) go through `GIT_SSH_COMMAND`. \
Returns `before` and `after` (commit ids) and, with `archive`, writes the archive (changed when \
its content differs).",
    )
    .spec::<Opts>()
    .mutually_exclusive(&[&["separate_git_dir", "bare"], &["accept_hostkey", "accept_newhostkey"]])
    .required_by(&[("archive_prefix", &["archive"])])
    .examples(
        "- git:\n    repo: https://github.com/example/app.git\n    dest: /srv/app\n    version: v1.2.0\n\
- git:\n    repo: git@github.com:example/private.git\n    dest: /srv/private\n    key_file: /root/.ssh/deploy\n    accept_newhostkey: true\n",
    );

/// The ssh command git uses, when any SSH option is given.
fn ssh_command(o: &Opts) -> Option<String> {
    let mut opts = o.ssh_opts.clone().unwrap_or_default();
    let strict = |s: &str| {
        s.contains("-o StrictHostKeyChecking=no")
            || s.contains("-o StrictHostKeyChecking=accept-new")
    };
    for (on, value) in [
        (o.accept_hostkey, "no"),
        (o.accept_newhostkey, "accept-new"),
    ] {
        if on && !strict(&opts) {
            if !opts.is_empty() {
                opts.push(' ');
            }
            opts.push_str(&format!("-o StrictHostKeyChecking={value}"));
        }
    }
    if o.key_file.is_none() && opts.is_empty() {
        return None;
    }
    let mut cmd = String::from("ssh");
    if let Some(k) = &o.key_file {
        cmd.push_str(&format!(" -i {} -o IdentitiesOnly=yes", quote(k)));
    }
    if !opts.is_empty() {
        cmd.push(' ');
        cmd.push_str(&opts);
    }
    Some(cmd)
}

/// Ansible's comparison of repository URLs: trailing slashes and `.git` do not count.
fn same_url(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().trim_end_matches('/');
        s.strip_suffix(".git").unwrap_or(s).to_string()
    };
    a == b || norm(a) == norm(b)
}

/// The archive format for an archive path (by its extension).
fn archive_format(path: &str) -> &'static str {
    if path.ends_with(".zip") {
        "zip"
    } else if path.ends_with(".tar.gz") || path.ends_with(".tgz") {
        "tar.gz"
    } else {
        "tar"
    }
}

/// What the probe learned.
struct Seen {
    exists: bool,
    before: Option<String>,
    local_mods: bool,
    url: Option<String>,
    branch: Option<String>,
    submodules_behind: bool,
    remote: HashMap<String, String>,
}

#[async_trait]
impl Module for Git {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let umask = match &o.umask {
            None => None,
            Some(v) => match v.as_str() {
                Some(s) if u32::from_str_radix(s.trim(), 8).is_ok() => Some(s.trim().to_string()),
                Some(_) => return Ok(Plan::fail("umask must be an octal integer")),
                None => {
                    return Ok(Plan::fail(
                        "umask must be defined as a quoted octal integer",
                    ));
                }
            },
        };
        // Without dest (clone=no) only the remote is asked.
        let Some(dest) = o.dest.clone().filter(|d| !d.is_empty()) else {
            if o.clone {
                return Ok(Plan::fail(
                    "the destination directory must be specified unless clone=no",
                ));
            }
            return self.report_remote(ctx, &o).await;
        };
        let dest = dest.trim_end_matches('/').to_string();
        let repo = if o.repo.starts_with('/') {
            format!("file://{}", o.repo)
        } else {
            o.repo.clone()
        };
        let git = o.executable.clone().unwrap_or_else(|| "git".into());
        let env = git_env(&o);
        let v = &o.version;
        let mut s = format!(
            "{env}G={g}; D={d}; M={m}\ncommand -v \"$G\" >/dev/null 2>&1 || {{ echo '@@nogit'; exit 0; }}\n",
            g = quote(&git),
            d = quote(&dest),
            m = quote(&o.remote),
        );
        s.push_str(if o.bare {
            "C=\"$D/config\"\n"
        } else {
            "if [ -f \"$D/.git\" ]; then C=\"$(sed -n 's/^gitdir: //p' \"$D/.git\")/config\"; else C=\"$D/.git/config\"; fi\n"
        });
        s.push_str(
            "B=\nif [ -e \"$C\" ]; then echo exists=1\n\
             echo \"before=$(\"$G\" -C \"$D\" rev-parse HEAD 2>/dev/null)\"\n\
             echo \"url=$(\"$G\" -C \"$D\" ls-remote --get-url \"$M\" 2>/dev/null)\"\n\
             B=$(\"$G\" -C \"$D\" symbolic-ref -q --short HEAD 2>/dev/null || \"$G\" -C \"$D\" symbolic-ref -q --short \"refs/remotes/$M/HEAD\" 2>/dev/null | sed \"s#^$M/##\")\n\
             echo \"branch=$B\"\n",
        );
        if !o.bare {
            s.push_str(
                "if [ -n \"$(\"$G\" -C \"$D\" status --porcelain 2>/dev/null | grep -v '^??')\" ]; then echo mods=1; fi\n",
            );
            if o.recursive {
                s.push_str(
                    "if [ -f \"$D/.gitmodules\" ] && \"$G\" -C \"$D\" submodule status 2>/dev/null | grep -q '^[^ ]'; then echo subm=1; fi\n",
                );
            }
        }
        s.push_str("fi\n");
        s.push_str(&format!(
            "echo @@remote\n\"$G\" ls-remote {r} HEAD {heads} {tags} ${{B:+\"refs/heads/$B\"}} 2>&1; echo \"@@rc $?\"\n",
            r = quote(&repo),
            heads = quote(&format!("refs/heads/{v}")),
            tags = quote(&format!("refs/tags/{v}*")),
        ));
        let out = probe(ctx, s, &format!("git checkout {dest}")).await?;
        if out.contains("@@nogit") {
            return Ok(Plan::fail(format!(
                "Failed to find required executable \"{git}\""
            )));
        }
        let sec = sections(&out);
        let head = kv(sec.get("").map(String::as_str).unwrap_or(""));
        let remote_text = sec.get("remote").cloned().unwrap_or_default();
        let rc = sec
            .keys()
            .find_map(|k| k.strip_prefix("rc ").map(str::trim).map(str::to_string))
            .unwrap_or_default();
        let mut remote = HashMap::new();
        for line in remote_text.lines() {
            if let Some((sha, r)) = line.split_once('\t') {
                remote.insert(r.trim().to_string(), sha.trim().to_string());
            }
        }
        let seen = Seen {
            exists: head.contains_key("exists"),
            before: head.get("before").cloned().filter(|b| !b.is_empty()),
            local_mods: head.contains_key("mods"),
            url: head.get("url").cloned().filter(|u| !u.is_empty()),
            branch: head.get("branch").cloned().filter(|b| !b.is_empty()),
            submodules_behind: head.contains_key("subm"),
            remote,
        };
        let mut plan = Plan::ok().with(
            "before",
            seen.before
                .clone()
                .map(Value::from)
                .unwrap_or(Value::from(())),
        );
        // Local modifications fail in check mode too, as in Ansible.
        if seen.exists && o.update && seen.local_mods && !o.force {
            plan.failed = Some(format!(
                "Local modifications exist in the destination: {dest} (force=no)."
            ));
            return Ok(plan);
        }
        if seen.exists && !o.update {
            plan = plan.with(
                "after",
                seen.before
                    .clone()
                    .map(Value::from)
                    .unwrap_or(Value::from(())),
            );
            if let Some(a) = &o.archive {
                let script = archive_script(&o, &git, &dest, a);
                plan.output_results = true;
                return Ok(plan.change(
                    format!("archive {v} to {a}"),
                    None,
                    crate::modules::toolkit::exec(ctx, format!("{}{script}", git_env(&o)), false),
                ));
            }
            return Ok(plan);
        }
        if rc != "0" {
            plan.failed = Some(remote_text.trim().to_string());
            return Ok(plan);
        }
        let is_branch = seen.remote.contains_key(&format!("refs/heads/{v}"));
        let is_tag = seen.remote.contains_key(&format!("refs/tags/{v}"));
        let remote_head = if v == "HEAD" {
            if seen.exists {
                seen.branch
                    .as_ref()
                    .and_then(|b| seen.remote.get(&format!("refs/heads/{b}")))
                    .cloned()
            } else {
                seen.remote.get("HEAD").cloned()
            }
        } else if is_branch {
            seen.remote.get(&format!("refs/heads/{v}")).cloned()
        } else if is_tag {
            seen.remote
                .get(&format!("refs/tags/{v}^{{}}"))
                .or_else(|| seen.remote.get(&format!("refs/tags/{v}")))
                .cloned()
        } else {
            Some(v.clone())
        };
        let Some(remote_head) = remote_head else {
            plan.failed = Some(format!("Could not determine remote revision for {v}"));
            return Ok(plan);
        };
        let url_changed = seen.exists
            && seen
                .url
                .as_deref()
                .is_some_and(|u| !same_url(u, &repo) && !same_url(u, &o.repo));
        if seen.exists {
            plan = plan.with("remote_url_changed", url_changed);
        }
        let at_head = seen.before.as_deref().is_some_and(|b| {
            b == remote_head || (remote_head.len() >= 7 && b.starts_with(&remote_head))
        });
        let would = !seen.exists
            || !at_head
            || url_changed
            || seen.local_mods
            || seen.submodules_behind
            || o.archive.is_some();
        plan = plan.with("after", remote_head.as_str());
        if !would {
            return Ok(plan);
        }
        if !seen.exists && !o.clone {
            plan.force_changed = true;
            return Ok(plan);
        }
        let script = run_script(
            &o,
            &git,
            &repo,
            &dest,
            &seen,
            is_branch,
            is_tag,
            umask.as_deref(),
        );
        plan.output_results = true;
        let summary = if seen.exists {
            format!(
                "update {dest} to {v} ({}..)",
                &remote_head[..remote_head.len().min(12)]
            )
        } else {
            format!("clone {} into {dest} ({v})", o.repo)
        };
        Ok(plan.change(
            summary,
            None,
            crate::modules::toolkit::exec(ctx, script, false),
        ))
    }
}

impl Git {
    /// clone=no without a checkout: only the remote's version of `version` is reported, and
    /// Ansible calls that a change.
    async fn report_remote(&self, ctx: &TaskCtx<'_>, o: &Opts) -> Result<Plan> {
        let git = o.executable.clone().unwrap_or_else(|| "git".into());
        let v = &o.version;
        let out = ctx
            .run(format!(
                "{}{} ls-remote {} HEAD {} {} 2>&1",
                git_env(o),
                quote(&git),
                quote(&o.repo),
                quote(&format!("refs/heads/{v}")),
                quote(&format!("refs/tags/{v}*"))
            ))
            .await?;
        if out.rc != 0 {
            return Ok(Plan::fail(out.stdout_str().trim().to_string()));
        }
        let text = out.stdout_str();
        let find = |r: &str| {
            text.lines().find_map(|l| {
                l.split_once('\t')
                    .filter(|(_, n)| n.trim() == r)
                    .map(|(s, _)| s.to_string())
            })
        };
        let after = if v == "HEAD" {
            find("HEAD")
        } else {
            find(&format!("refs/heads/{v}"))
                .or_else(|| find(&format!("refs/tags/{v}^{{}}")))
                .or_else(|| find(&format!("refs/tags/{v}")))
                .or_else(|| Some(v.clone()))
        };
        let mut plan = Plan::ok()
            .with("before", Value::from(()))
            .with("after", after.map(Value::from).unwrap_or(Value::from(())));
        plan.force_changed = true;
        Ok(plan)
    }
}

/// The environment of every git command: C locale, no prompts, the ssh command.
fn git_env(o: &Opts) -> String {
    let mut s = String::from("LC_ALL=C GIT_TERMINAL_PROMPT=0; export LC_ALL GIT_TERMINAL_PROMPT\n");
    if let Some(ssh) = ssh_command(o) {
        s.push_str(&format!(
            "GIT_SSH_COMMAND={}; export GIT_SSH_COMMAND\n",
            quote(&ssh)
        ));
    }
    s
}

/// The script writing `version` as an archive, replacing the file only when its content
/// differs; prints `archived=1` when it did.
fn archive_script(o: &Opts, git: &str, dest: &str, archive: &str) -> String {
    let mut cmd = vec![
        git.to_string(),
        "-C".into(),
        dest.to_string(),
        "archive".into(),
        format!("--format={}", archive_format(archive)),
    ];
    if let Some(p) = &o.archive_prefix {
        cmd.push(format!("--prefix={p}"));
    }
    cmd.push("-o".into());
    format!(
        "A={a}; T=\"$A.prov-tmp.$$\"\n\
         {cmd} \"$T\" {v} || {{ rm -f \"$T\"; echo 'Failed to perform archive operation' >&2; exit 1; }}\n\
         if [ -f \"$A\" ] && cmp -s \"$T\" \"$A\"; then rm -f \"$T\"; else mv -f \"$T\" \"$A\"; printf '%s{{\"changed\":true}}\\n' {rl}; fi\n",
        a = quote(archive),
        cmd = quote_all(&cmd),
        v = quote(&o.version),
        rl = quote(RESULT_LINE),
    )
}

/// The script cloning or updating the checkout, switching to `version`, updating submodules,
/// verifying signatures and writing the archive; it reports `after` and whether anything
/// changed.
#[allow(clippy::too_many_arguments)]
fn run_script(
    o: &Opts,
    git: &str,
    repo: &str,
    dest: &str,
    seen: &Seen,
    is_branch: bool,
    is_tag: bool,
    umask: Option<&str>,
) -> String {
    let v = &o.version;
    let depth = o.depth.filter(|d| *d > 0);
    let mut s = git_env(o);
    if let Some(u) = umask {
        s.push_str(&format!("umask {}\n", quote(u)));
    }
    s.push_str(&format!(
        "G={g}; D={d}; M={m}; R={r}; V={v}\nfail() {{ printf '%s\\n' \"$1\" >&2; exit 1; }}\nCH=0\n",
        g = quote(git),
        d = quote(dest),
        m = quote(&o.remote),
        r = quote(repo),
        v = quote(v),
    ));
    if !seen.exists {
        let mut cmd = vec!["clone".to_string()];
        if o.bare {
            cmd.push("--bare".into());
        } else {
            cmd.extend(["--origin".into(), o.remote.clone()]);
        }
        if let Some(d) = depth {
            if v == "HEAD" || o.refspec.is_some() {
                cmd.extend(["--depth".into(), d.to_string()]);
            } else if is_branch || is_tag {
                cmd.extend([
                    "--depth".into(),
                    d.to_string(),
                    "--branch".into(),
                    v.clone(),
                ]);
            }
        }
        if let Some(r) = &o.reference {
            cmd.extend(["--reference".into(), r.clone()]);
        }
        if o.single_branch {
            cmd.push("--single-branch".into());
            if (is_branch || is_tag) && !cmd.contains(&"--branch".to_string()) {
                cmd.extend(["--branch".into(), v.clone()]);
            }
        }
        if let Some(sep) = &o.separate_git_dir {
            cmd.push(format!("--separate-git-dir={sep}"));
        }
        s.push_str(&format!(
            "mkdir -p -- \"$(dirname -- \"$D\")\"\nE=$(\"$G\" {} \"$R\" \"$D\" 2>&1) || fail \"$E\"\nCH=1\n",
            quote_all(&cmd)
        ));
        if o.bare && o.remote != "origin" {
            s.push_str(
                "\"$G\" -C \"$D\" remote add \"$M\" \"$R\" || fail \"could not add remote $M\"\n",
            );
        }
        if let Some(r) = &o.refspec {
            let d = depth.map(|d| format!("--depth {d} ")).unwrap_or_default();
            s.push_str(&format!(
                "E=$(\"$G\" -C \"$D\" fetch {d}\"$M\" {} 2>&1) || fail \"Failed to download remote objects and refs: $E\"\n",
                quote(r)
            ));
        }
    } else {
        s.push_str("BEFORE=$(\"$G\" -C \"$D\" rev-parse HEAD 2>/dev/null)\n");
        if seen.local_mods {
            s.push_str(
                "\"$G\" -C \"$D\" reset --hard HEAD >/dev/null || fail 'reset failed'\nCH=1\n",
            );
        }
        s.push_str(
            "U=$(\"$G\" -C \"$D\" ls-remote --get-url \"$M\" 2>/dev/null)\n\
             if [ \"$U\" != \"$R\" ]; then E=$(\"$G\" -C \"$D\" remote set-url \"$M\" \"$R\" 2>&1) || fail \"Failed to set a new url $R for $M: $E\"; fi\n",
        );
        if seen
            .url
            .as_deref()
            .is_some_and(|u| !same_url(u, repo) && !same_url(u, &o.repo))
        {
            s.push_str("CH=1\n");
        }
        let mut fetch = vec!["fetch".to_string()];
        let mut refspecs: Vec<String> = Vec::new();
        if depth.is_some() {
            if let Some(r) = &o.refspec {
                refspecs.push(r.clone());
            } else if v == "HEAD" {
                refspecs.push(seen.branch.clone().unwrap_or_else(|| "HEAD".into()));
            } else if is_branch {
                if seen.branch.as_deref() != Some(v.as_str()) {
                    refspecs.push(format!("+refs/heads/{v}:refs/heads/{v}"));
                }
                refspecs.push(format!("+refs/heads/{v}:refs/remotes/{}/{v}", o.remote));
            } else if is_tag {
                refspecs.push(format!("+refs/tags/{v}:refs/tags/{v}"));
            }
            if !refspecs.is_empty() {
                fetch.extend(["--depth".into(), depth.unwrap_or(1).to_string()]);
            }
        }
        if depth.is_none() || refspecs.is_empty() {
            if o.bare {
                refspecs = vec![
                    "+refs/heads/*:refs/heads/*".into(),
                    "+refs/tags/*:refs/tags/*".into(),
                ];
            } else {
                fetch.push("--tags".into());
            }
            if let Some(r) = &o.refspec {
                refspecs.push(r.clone());
            }
        }
        if o.force {
            fetch.push("--force".into());
        }
        fetch.push(o.remote.clone());
        fetch.extend(refspecs);
        s.push_str(&format!(
            "E=$(\"$G\" -C \"$D\" {} 2>&1) || fail \"Failed to download remote objects and refs: $E\"\n",
            quote_all(&fetch)
        ));
    }
    if !o.bare {
        if v == "HEAD" {
            s.push_str(
                "B=$(\"$G\" -C \"$D\" symbolic-ref -q --short HEAD 2>/dev/null || \"$G\" -C \"$D\" symbolic-ref -q --short \"refs/remotes/$M/HEAD\" 2>/dev/null | sed \"s#^$M/##\")\n\
                 \"$G\" -C \"$D\" checkout --force \"$B\" >/dev/null 2>&1 || fail \"Failed to checkout branch $B\"\n\
                 \"$G\" -C \"$D\" reset --hard \"$M/$B\" -- >/dev/null 2>&1 || fail \"Failed to checkout branch $B\"\n",
            );
        } else if is_branch {
            let mut local = String::new();
            if let Some(d) = depth {
                local.push_str(&format!(
                    "  \"$G\" -C \"$D\" fetch --depth={d} \"$M\" \"+refs/heads/$V:refs/heads/$V\" \"+refs/heads/$V:refs/remotes/$M/$V\" >/dev/null 2>&1 || fail \"Failed to fetch branch from remote: $V\"\n"
                ));
            }
            s.push_str(&format!(
                "if \"$G\" -C \"$D\" rev-parse --verify -q \"refs/heads/$V\" >/dev/null; then\n\
                 \x20 \"$G\" -C \"$D\" checkout --force \"$V\" >/dev/null 2>&1 || fail \"Failed to checkout branch $V\"\n\
                 \x20 \"$G\" -C \"$D\" reset --hard \"$M/$V\" >/dev/null 2>&1 || fail \"Failed to checkout $V\"\n\
                 else\n{local}\
                 \x20 \"$G\" -C \"$D\" checkout --force \"$V\" >/dev/null 2>&1 || \"$G\" -C \"$D\" checkout --track -b \"$V\" \"$M/$V\" >/dev/null 2>&1 || fail \"Failed to checkout $V\"\n\
                 \x20 \"$G\" -C \"$D\" reset --hard \"$M/$V\" >/dev/null 2>&1 || fail \"Failed to checkout $V\"\n\
                 fi\n"
            ));
        } else {
            s.push_str(
                "\"$G\" -C \"$D\" checkout --force \"$V\" >/dev/null 2>&1 || fail \"Failed to checkout $V\"\n",
            );
        }
        if o.verify_commit {
            let kind = if is_tag { "tag" } else { "commit" };
            s.push_str(&format!(
                "S=$(\"$G\" -C \"$D\" verify-{kind} --raw \"$V\" 2>&1) || fail \"Failed to verify GPG signature of {kind}: $V\"\n"
            ));
            if !o.gpg_allowlist.is_empty() {
                let list = o.gpg_allowlist.join(" ");
                s.push_str(&format!(
                    "F=$(printf '%s\\n' \"$S\" | sed -n 's/.*VALIDSIG \\([0-9A-F]*\\).*/\\1/p' | head -n1)\n\
                     case \" {list} \" in *\" $F \"*) ;; *) fail \"The gpg_allowlist does not include the public key \\\"$F\\\" for this {kind}\";; esac\n"
                ));
            }
        }
        if o.recursive {
            let remote = if o.track_submodules { " --remote" } else { "" };
            let force = if o.force { " --force" } else { "" };
            s.push_str(&format!(
                "if [ -f \"$D/.gitmodules\" ]; then\n\
                 \x20 SB=$(\"$G\" -C \"$D\" submodule status --recursive 2>/dev/null)\n\
                 \x20 \"$G\" -C \"$D\" submodule sync >/dev/null 2>&1\n\
                 \x20 E=$(\"$G\" -C \"$D\" submodule update --init --recursive{remote}{force} 2>&1) || fail \"Failed to init/update submodules: $E\"\n\
                 \x20 [ \"$SB\" = \"$(\"$G\" -C \"$D\" submodule status --recursive 2>/dev/null)\" ] || {{ CH=1; SC=1; }}\n\
                 fi\n"
            ));
        }
    }
    s.push_str(
        "AFTER=$(\"$G\" -C \"$D\" rev-parse HEAD 2>/dev/null)\n\
         [ \"$AFTER\" = \"$BEFORE\" ] || CH=1\n",
    );
    if let Some(a) = &o.archive {
        s.push_str(&archive_script(o, git, dest, a));
    }
    s.push_str(&format!(
        "if [ \"$CH\" = 1 ]; then C=true; else C=false; fi\n\
         printf '%s{{\"changed\":%s,\"after\":\"%s\"%s}}\\n' {rl} \"$C\" \"$AFTER\" \"${{SC:+,\\\"submodules_changed\\\":true}}\"\n",
        rl = quote(RESULT_LINE),
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_options_become_the_ssh_command() {
        let mut a = crate::value::Vars::new();
        a.insert("repo".into(), Value::from("git@h:r.git"));
        a.insert("key_file".into(), Value::from("/k"));
        a.insert("accept_newhostkey".into(), Value::from(true));
        let args = crate::modules::validate_args(&DOC, &a).unwrap();
        let o = Opts::from_args(&args).unwrap();
        assert_eq!(
            ssh_command(&o).as_deref(),
            Some("ssh -i /k -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new")
        );
    }

    #[test]
    fn urls_compare_like_ansible() {
        assert!(same_url("https://h/a/b.git", "https://h/a/b"));
        assert!(same_url("https://h/a/b/", "https://h/a/b"));
        assert!(!same_url("https://h/a/b", "https://h/a/c"));
        assert_eq!(archive_format("/x/a.tgz"), "tar.gz");
        assert_eq!(archive_format("/x/a.zip"), "zip");
        assert_eq!(archive_format("/x/a.tar"), "tar");
    }
}
