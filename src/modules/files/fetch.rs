//! `fetch`: copies a file from the host to the controller.
//!
//! The write happens on the controller, so the change is an
//! [`Action::LocalWrite`] the engine applies with
//! [`write_local_atomic`](crate::modules::toolkit::write_local_atomic) (temp file + rename) unless in check mode.

use crate::error::{Error, Result};
use crate::modules::toolkit::{self, Kind, basename, md5_hex, sha1_hex};
use crate::modules::{Action, Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;
use std::path::{Component, Path, PathBuf};

/// The `fetch` module.
pub struct Fetch;

crate::options! {
    /// The `fetch` module's options.
    pub(crate) struct Opts {
        src: Option<Value> = opt::any("The remote file to fetch (not a folder; a string)."),
        dest: Option<Value> = opt::any("The local folder (or file, with flat=yes) to save it to (a string)."),
        flat: bool = opt::bool("Save to `dest` directly instead of `dest/<host>/<src>`.").default("no"),
        fail_on_missing: bool = opt::bool("Fail when the remote file is missing or unreadable.").default("yes"),
        validate_checksum: bool = opt::bool("Check the transferred data against the remote checksum.").default("yes"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("fetch", "Fetch files from remote nodes")
    .description(
        "Copies `src` from the host to `dest/<inventory hostname>/<src path>` on the \
        controller (or to `dest` itself with flat=yes; a `dest` ending in `/` then receives the \
        file's base name). The local file is written atomically and only when its SHA-256 \
        differs; `checksum` and `remote_checksum` are SHA-1 and `md5sum` MD5, as Ansible returns \
        them. Relative `dest` paths are relative to the playbook's folder. As in Ansible, the \
        task is skipped in check mode, a missing or unreadable file is only a message with \
        `fail_on_missing: false`, and with become the file is read as the become user.",
    )
    .spec::<Opts>()
    .examples(
        r#"- fetch:
    src: /etc/os-release
    dest: fetched/
# -> fetched/<host>/etc/os-release
- fetch:
    src: /tmp/report.txt
    dest: reports/{{ inventory_hostname }}.txt
    flat: true
"#,
    );

/// Where the file goes on the controller (Ansible's rules), or the message refusing `dest`.
fn local_dest(
    ctx: &TaskCtx<'_>,
    src: &str,
    dest: &str,
    flat: bool,
) -> std::result::Result<PathBuf, String> {
    let base = |p: &str| {
        let p = PathBuf::from(p);
        match ctx.search_paths.last() {
            Some(b) if p.is_relative() => b.join(p),
            _ => p,
        }
    };
    let path = if flat {
        if dest.ends_with('/') {
            let d = base(&format!("{dest}{}", basename(src)));
            if d.is_dir() {
                return Err(format!(
                    "calculated dest '{dest}{}' is an existing directory, use another path that does not point to an existing directory",
                    basename(src)
                ));
            }
            d
        } else if base(dest).is_dir() {
            return Err("dest is an existing directory, use a trailing slash if you want to fetch src into that directory".into());
        } else {
            base(dest)
        }
    } else {
        base(dest).join(ctx.host).join(src.trim_start_matches('/'))
    };
    Ok(normalize(&path))
}

/// `os.path.normpath`: `.` and `..` folded away lexically (a relative `src` cannot climb out
/// of the host's folder above `dest`).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// Why a missing-looking file is missing: `Some(message)` when it is there but cannot be
/// looked at (a folder on its way the user may not enter), as Ansible's stat reports it.
async fn stat_error(ctx: &TaskCtx<'_>, src: &str) -> Result<Option<String>> {
    let out = ctx
        .run(format!(
            "LC_ALL=C stat -L -- {} >/dev/null",
            crate::connection::quote(src)
        ))
        .await?;
    let err = out.stderr_str();
    Ok(err.contains("Permission denied").then(|| {
        format!(
            "Failed to get information on remote file ({src}): [Errno 13] Permission denied: '{src}'"
        )
    }))
}

/// A fetch that transfers nothing: failed with `fail_on_missing`, else a message.
fn not_fetched(src: &str, msg: String, fail: bool) -> Plan {
    if fail {
        Plan::fail(msg).with("file", src)
    } else {
        let mut p = Plan::ok().with("file", src);
        p.msg = Some(msg);
        p
    }
}

#[async_trait]
impl Module for Fetch {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let Opts {
            src,
            dest,
            flat,
            fail_on_missing,
            validate_checksum,
        } = Opts::from_args(args)?;
        if ctx.check_mode {
            let msg = "check mode not (yet) supported for this module";
            return Ok(Plan {
                skipped: Some(msg.into()),
                ..Plan::ok().with("skipped_reason", msg)
            });
        }
        let (src, dest) = match (&src, &dest) {
            (None, _) | (_, None) => return Ok(Plan::fail("src and dest are required")),
            (Some(s), Some(d)) => match (s.as_str(), d.as_str()) {
                (Some(s), Some(d)) => (s.to_string(), d.to_string()),
                (_, Some(_)) => {
                    return Ok(Plan::fail(
                        "Invalid type supplied for source option, it must be a string",
                    ));
                }
                _ => {
                    return Ok(Plan::fail(
                        "Invalid type supplied for dest option, it must be a string",
                    ));
                }
            },
        };
        let src = toolkit::expand_path(ctx, &src).await?;
        // Ansible stats first (following links) unless become is on; with become, or when
        // the stat gave no checksum, it reads the file (slurp) as the task's user.
        let mut remote_sum = None;
        if ctx.become_.is_none() {
            let (_, info) = toolkit::inspect_one(ctx, &src, Some("sha1"), false).await?;
            match info.followed_kind() {
                Kind::Missing => {
                    if let Some(e) = stat_error(ctx, &src).await? {
                        let msg = if fail_on_missing {
                            e
                        } else {
                            format!("{e}, ignored")
                        };
                        return Ok(not_fetched(&src, msg, fail_on_missing));
                    }
                }
                Kind::Dir => {
                    let msg = "remote file is a directory, fetch cannot work on directories";
                    return Ok(if fail_on_missing {
                        Plan::fail(msg)
                    } else {
                        let mut p = Plan::ok();
                        p.msg = Some(format!("{msg}, not transferring, ignored"));
                        p
                    });
                }
                _ => remote_sum = info.checksum.clone(),
            }
        }
        let mut data = None;
        if remote_sum.is_none() {
            let out = ctx
                .run(format!(
                    "LC_ALL=C cat -- {}",
                    crate::connection::quote(&src)
                ))
                .await?;
            if out.rc != 0 {
                let err = super::slurp::read_error(&out.stderr_str(), &src);
                let msg = if err.contains("not found") {
                    "the remote file does not exist, not transferring, ignored".to_string()
                } else if err.starts_with("Source is a directory") {
                    "remote file is a directory, fetch cannot work on directories".to_string()
                } else {
                    err
                };
                return Ok(not_fetched(&src, msg, fail_on_missing));
            }
            remote_sum = Some(sha1_hex(&out.stdout));
            data = Some(out.stdout);
        }
        let remote_sum = remote_sum.unwrap_or_default();
        let path = match local_dest(ctx, &src, &dest, flat) {
            Ok(p) => p,
            Err(msg) => return Ok(Plan::fail(msg)),
        };
        let local = match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&path, e)),
        };
        if let Some(local) = &local
            && sha1_hex(local) == remote_sum
        {
            return Ok(Plan::ok()
                .with("file", src.as_str())
                .with("dest", path.display().to_string())
                .with("checksum", remote_sum.as_str())
                .with("md5sum", md5_hex(local)));
        }
        let data = match data {
            Some(d) => d,
            None => toolkit::read(ctx, &src).await?,
        };
        let got = sha1_hex(&data);
        let md5 = md5_hex(&data);
        if validate_checksum && got != remote_sum {
            return Ok(Plan::fail("checksum mismatch")
                .with("file", src.as_str())
                .with("dest", path.display().to_string())
                .with("md5sum", md5)
                .with("remote_md5sum", Value::from(()))
                .with("checksum", got)
                .with("remote_checksum", remote_sum));
        }
        let plan = Plan::ok()
            .with("dest", path.display().to_string())
            .with("md5sum", md5)
            .with("remote_md5sum", Value::from(()))
            .with("checksum", got.as_str())
            .with("remote_checksum", remote_sum.as_str());
        let summary = format!(
            "fetch {}:{src} to {} ({} bytes{})",
            ctx.host,
            path.display(),
            data.len(),
            if local.is_some() {
                ", replacing a different file"
            } else {
                ""
            }
        );
        Ok(plan.change(summary, None, Action::LocalWrite { path, data }))
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use std::path::{Path, PathBuf};

    #[test]
    fn a_relative_src_cannot_climb_out_of_dest() {
        assert_eq!(
            normalize(Path::new("/out/web1/../injection/here.txt")),
            PathBuf::from("/out/injection/here.txt")
        );
        assert_eq!(
            normalize(Path::new("/out/./web1/tmp/x")),
            PathBuf::from("/out/web1/tmp/x")
        );
    }
}
