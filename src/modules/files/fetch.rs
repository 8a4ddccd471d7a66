//! `fetch`: copies a file from the host to the controller.
//!
//! The write happens on the controller, so the change is an
//! [`Action::LocalWrite`] the engine applies with
//! [`write_local_atomic`](crate::modules::toolkit::write_local_atomic) (temp file + rename) unless in check mode.

use crate::error::{Error, Result};
use crate::modules::toolkit::{self, Kind, basename, sha256_hex};
use crate::modules::{Action, Args, Change, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;
use std::path::PathBuf;

/// The `fetch` module.
pub struct Fetch;

crate::options! {
    /// The `fetch` module's options.
    pub(crate) struct Opts {
        src: String = opt::path("The remote file to fetch (not a folder).").required(),
        dest: String = opt::path("The local folder (or file, with flat=yes) to save it to.").required(),
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
        differs; the returned `checksum` is that SHA-256. Relative `dest` paths are relative to \
        the playbook's folder. Check mode reports the write without doing it.",
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

fn local_dest(ctx: &TaskCtx<'_>, src: &str, dest: &str, flat: bool) -> PathBuf {
    let rel = if flat {
        if dest.ends_with('/') {
            format!("{dest}{}", basename(src))
        } else {
            dest.to_string()
        }
    } else {
        format!(
            "{}/{}/{}",
            dest.trim_end_matches('/'),
            ctx.host,
            src.trim_start_matches('/')
        )
    };
    let p = PathBuf::from(&rel);
    if p.is_absolute() {
        p
    } else {
        match ctx.search_paths.last() {
            Some(base) => base.join(p),
            None => p,
        }
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
        if src.is_empty() || dest.is_empty() {
            return Err(Error::failed("fetch: src and dest must not be empty"));
        }
        let (_, info) = toolkit::inspect_one(ctx, &src, Some("sha256"), false).await?;
        let problem = match info.followed_kind() {
            Kind::Missing => Some("the remote file does not exist, not transferring"),
            Kind::Dir => Some("remote file is a directory, fetch cannot work on directories"),
            _ if info.checksum.is_none() => {
                Some("the remote file is not readable, not transferring")
            }
            _ => None,
        };
        if let Some(p) = problem {
            if fail_on_missing || info.followed_kind() == Kind::Dir {
                return Ok(Plan::fail(format!("{p}: {src}")).with("file", src.as_str()));
            }
            let mut plan = Plan::ok().with("file", src.as_str()).with("msg", p);
            plan.msg = Some(p.to_string());
            return Ok(plan);
        }
        let remote_sum = info.checksum.clone().unwrap_or_default();
        let path = local_dest(ctx, &src, &dest, flat);
        if path.is_dir() {
            return Ok(
                Plan::fail(format!("dest {} is an existing folder", path.display()))
                    .with("file", src.as_str()),
            );
        }
        let local_sum = if path.exists() {
            Some(sha256_hex(
                &std::fs::read(&path).map_err(|e| Error::io(&path, e))?,
            ))
        } else {
            None
        };
        let mut plan = Plan::ok()
            .with("file", src.as_str())
            .with("dest", path.display().to_string())
            .with("checksum", remote_sum.as_str())
            .with("remote_checksum", remote_sum.as_str());
        if local_sum.as_deref() == Some(remote_sum.as_str()) {
            return Ok(plan);
        }
        let data = toolkit::read(ctx, &src).await?;
        let got = sha256_hex(&data);
        if validate_checksum && got != remote_sum {
            return Ok(Plan::fail(format!(
                "checksum mismatch fetching {src}: remote {remote_sum}, received {got} (the file changed while fetching?)"
            )));
        }
        plan.result.insert("size".into(), Value::from(data.len()));
        plan.changes.push(Change {
            summary: format!(
                "fetch {}:{src} to {} ({} bytes{})",
                ctx.host,
                path.display(),
                data.len(),
                if local_sum.is_some() {
                    ", replacing a different file"
                } else {
                    ""
                }
            ),
            diff: None,
            action: Action::LocalWrite { path, data },
        });
        Ok(plan)
    }
}
