//! `apt_repository`: adds or removes a one-line apt source (`deb ...`) in a `.list` file.

use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::args::Mode;
use crate::modules::toolkit::{self, Attrs, Write, plan_write};
use crate::modules::toolkit::{exec, probe, state_diff};
use crate::modules::{Args, Change, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `apt_repository` module.
pub struct AptRepository;

crate::options! {
    /// The `apt_repository` module's options.
    pub(crate) struct Opts {
        repo: String = opt::str("The source line.").required(),
        state: String = opt::str("Whether the source should be listed.").default("present").choices(&["present", "absent"]),
        filename: Option<String> = opt::str("File name in /etc/apt/sources.list.d, without `.list`."),
        mode: Option<Mode> = opt::mode("Mode of a file created (default 0644)."),
        update_cache: bool = opt::bool("Run `apt-get update` after a change.").default("yes").aliases(&["update-cache"]),
        /// Accepted for compatibility, never read.
        #[allow(dead_code)]
        codename: Option<String> = opt::str("Accepted for compatibility (only used for PPAs, which are not supported)."),
        /// Accepted for compatibility, never read.
        #[allow(dead_code)]
        validate_certs: bool = opt::bool("Accepted for compatibility.").default("yes"),
        /// Accepted for compatibility, never read.
        #[allow(dead_code)]
        install_python_apt: bool = opt::bool("Accepted for compatibility; prov needs no Python on the host.").default("yes"),
        update_cache_retries: i64 = opt::int("How many times to try `apt-get update`.").default("5"),
        update_cache_retry_max_delay: i64 = opt::int("The longest wait in seconds between those tries (the wait doubles from 1).").default("12"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("apt_repository", "Add and remove APT repositories")
    .description(
        "Manages a one-line source (`deb [options] URI suite components`). One round \
trip reads `/etc/apt/sources.list` and every `/etc/apt/sources.list.d/*.list`; lines are \
compared with whitespace normalised and comments ignored. `present`: nothing to do when the \
line is enabled in any file; a commented-out copy (`# deb ...`) is enabled in place; otherwise \
the line is appended to `/etc/apt/sources.list.d/<filename>.list` (default name derived from the \
URI like Ansible: `deb http://dl.google.com/linux/chrome/deb/ stable main` goes to \
`dl_google_com_linux_chrome_deb.list`). `absent` removes the line from every file (a file left \
empty is deleted). Files are written like the copy module does, with content diffs. When \
something changed and `update_cache` is true (the default), `apt-get update` runs after. PPAs \
(`ppa:`) are Ubuntu-only and not supported. Returns `repo`, `state`, `sources_added` and \
`sources_removed`.",
    )
    .spec::<Opts>()
    .examples(
        r#"- apt_repository:
    repo: deb http://deb.debian.org/debian bookworm-backports main
    filename: backports
    update_cache: false
"#,
    );

/// A parsed source line: (enabled, normalised source).
fn parse_line(line: &str) -> Option<(bool, String)> {
    let t = line.trim();
    let (enabled, rest) = match t.strip_prefix('#') {
        Some(r) => (false, r.trim_start()),
        None => (true, t),
    };
    // drop a trailing comment
    let rest = match rest.find(" #") {
        Some(i) => &rest[..i],
        None => rest,
    };
    let words: Vec<&str> = rest.split_whitespace().collect();
    let first = *words.first()?;
    if first != "deb" && first != "deb-src" {
        return None;
    }
    // options in [ ... ] may contain spaces: normalise them too
    let joined = words.join(" ");
    let norm = match (joined.find('['), joined.find(']')) {
        (Some(a), Some(b)) if a < b => {
            let opts: Vec<&str> = joined[a + 1..b].split_whitespace().collect();
            format!("{}[{}]{}", &joined[..a], opts.join(" "), &joined[b + 1..])
        }
        _ => joined,
    };
    if norm.split_whitespace().count() < 3 {
        return None;
    }
    Some((enabled, norm))
}

/// Ansible's default file name for a source line.
fn suggest_filename(repo: &str) -> String {
    let mut line = repo.to_string();
    if let (Some(a), Some(b)) = (line.find('['), line.find(']'))
        && a < b
    {
        line.replace_range(a..=b, "");
    }
    let parts: Vec<&str> = line
        .split_whitespace()
        .filter(|p| *p != "deb" && *p != "deb-src")
        .collect();
    let mut uri = parts.first().copied().unwrap_or("").to_string();
    if let Some(i) = uri.find("://") {
        uri = uri[i + 3..].to_string();
    }
    if let Some((_, host)) = uri.split_once('@') {
        uri = host.to_string();
    }
    let cleaned: String = uri
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    format!(
        "{}.list",
        cleaned.split_whitespace().collect::<Vec<_>>().join("_")
    )
}

#[async_trait]
impl Module for AptRepository {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let repo = o.repo;
        if repo.starts_with("ppa:") {
            return Err(
                Error::failed("apt_repository: PPAs are not supported (Ubuntu only)")
                    .hint("give the full `deb ...` line of the PPA instead"),
            );
        }
        let Some((_, want)) = parse_line(&repo).filter(|(e, _)| *e) else {
            return Err(
                Error::failed(format!("apt_repository: invalid repository line '{repo}'"))
                    .hint("write it as `deb [options] URI suite [components]`"),
            );
        };
        let state = o.state;
        let target = match o.filename.filter(|f| !f.is_empty()) {
            Some(f) => {
                if f.contains('/') {
                    return Err(Error::failed(format!(
                        "apt_repository: filename '{f}' must not contain '/'"
                    )));
                }
                format!("/etc/apt/sources.list.d/{f}.list")
            }
            None => format!("/etc/apt/sources.list.d/{}", suggest_filename(&want)),
        };
        let out = probe(
            ctx,
            format!(
                "for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list {t}; do \
                 if [ -f \"$f\" ]; then printf '\\n@@prov-file:%s\\n' \"$f\"; cat -- \"$f\"; fi; done",
                t = quote(&target)
            ),
            "apt sources",
        )
        .await?;
        // file -> exact content
        let mut files: Vec<(String, String)> = Vec::new();
        for chunk in out.split("\n@@prov-file:").skip(1) {
            let (path, body) = chunk.split_once('\n').unwrap_or((chunk, ""));
            if files.iter().any(|(p, _)| p == path) {
                continue;
            }
            files.push((path.to_string(), body.to_string()));
        }
        let mut plan = Plan::ok()
            .with("repo", repo.as_str())
            .with("state", state.as_str());
        // new content per file to write
        let mut writes: Vec<(String, Option<String>, String)> = Vec::new(); // (path, old, new)
        let mut added = Vec::new();
        let mut removed = Vec::new();
        if state == "present" {
            let enabled_somewhere = files.iter().any(|(_, c)| {
                c.lines()
                    .any(|l| parse_line(l) == Some((true, want.clone())))
            });
            if !enabled_somewhere {
                let disabled = files.iter().find(|(_, c)| {
                    c.lines()
                        .any(|l| parse_line(l) == Some((false, want.clone())))
                });
                match disabled {
                    Some((p, c)) => {
                        let mut done = false;
                        let new: String = c
                            .lines()
                            .map(|l| {
                                if !done && parse_line(l) == Some((false, want.clone())) {
                                    done = true;
                                    format!("{repo}\n")
                                } else {
                                    format!("{l}\n")
                                }
                            })
                            .collect();
                        writes.push((p.clone(), Some(c.clone()), new));
                    }
                    None => {
                        let old = files
                            .iter()
                            .find(|(p, _)| *p == target)
                            .map(|(_, c)| c.clone());
                        let mut new = old.clone().unwrap_or_default();
                        if !new.is_empty() && !new.ends_with('\n') {
                            new.push('\n');
                        }
                        new.push_str(&repo);
                        new.push('\n');
                        writes.push((target.clone(), old, new));
                    }
                }
                added.push(Value::from(repo.as_str()));
            }
        } else {
            for (p, c) in &files {
                let keep: Vec<&str> = c
                    .lines()
                    .filter(|l| parse_line(l).map(|x| x.1) != Some(want.clone()))
                    .collect();
                if keep.len() != c.lines().count() {
                    let new: String = keep.iter().map(|l| format!("{l}\n")).collect();
                    writes.push((p.clone(), Some(c.clone()), new));
                    removed.push(Value::from(repo.as_str()));
                }
            }
        }
        plan.result
            .insert("sources_added".into(), Value::from(added));
        plan.result
            .insert("sources_removed".into(), Value::from(removed));
        if writes.is_empty() {
            return Ok(plan);
        }
        let paths: Vec<&str> = writes.iter().map(|w| w.0.as_str()).collect();
        let insp = toolkit::inspect(ctx, &paths, Some("sha256"), false).await?;
        let mode = o.mode.map(|m| m.0);
        for ((path, old, new), info) in writes.iter().zip(&insp.files) {
            if state == "absent" && new.trim().is_empty() {
                plan.changes.push(Change {
                    summary: format!("remove {path} (no sources left)"),
                    diff: Some(state_diff(
                        path,
                        &[("path", path.clone()), ("state", "file".into())],
                        &[("path", path.clone()), ("state", "absent".into())],
                    )),
                    action: exec(ctx, format!("rm -f -- {}", quote(path)), false),
                });
                continue;
            }
            let attrs = Attrs {
                mode: if info.exists() {
                    mode.clone()
                } else {
                    Some(mode.clone().unwrap_or_else(|| "0644".into()))
                },
                ..Default::default()
            };
            let before = old.as_ref().map(|o| o.as_bytes().to_vec());
            plan_write(
                ctx,
                Write {
                    path,
                    info,
                    before: before.as_deref().filter(|_| info.exists()),
                    data: &crate::modules::toolkit::Content::Bytes(new.clone().into_bytes()),
                    attrs: &attrs,
                    backup: false,
                    validate: None,
                    make_parent: None,
                    uid: insp.uid,
                    umask: insp.umask,
                },
                &mut plan,
            )?;
        }
        if !plan.changes.is_empty() && o.update_cache {
            plan.changes.push(Change {
                summary: "update the apt package lists (apt-get update)".into(),
                diff: None,
                action: exec(
                    ctx,
                    super::apt::update_line(o.update_cache_retries, o.update_cache_retry_max_delay),
                    true,
                ),
            });
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names() {
        assert_eq!(
            parse_line("#  deb  [arch=amd64  signed-by=/k]   http://x/y  stable main # c"),
            Some((
                false,
                "deb [arch=amd64 signed-by=/k] http://x/y stable main".into()
            ))
        );
        assert_eq!(parse_line("# a comment"), None);
        assert_eq!(
            suggest_filename("deb http://dl.google.com/linux/chrome/deb/ stable main"),
            "dl_google_com_linux_chrome_deb.list"
        );
        assert_eq!(
            suggest_filename("deb [arch=amd64] https://user:pw@repo.example.com/apt stable main"),
            "repo_example_com_apt.list"
        );
    }
}
