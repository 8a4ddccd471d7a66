//! `slurp`: returns a remote file's content, base64-encoded.

use crate::error::Result;
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use async_trait::async_trait;
use base64::Engine;

/// The `slurp` module.
pub struct Slurp;

crate::options! {
    /// The `slurp` module's options.
    pub(crate) struct Opts {
        src: String = opt::path("The remote file to read.").required().aliases(&["path"]),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("slurp", "Slurps a file from remote nodes")
    .description(
        "Returns the file's content base64-encoded in `content` (decode with \
        `b64decode`), with `encoding: base64` and `source`. Never changes anything.",
    )
    .spec::<Opts>()
    .examples(
        r#"- slurp:
    src: /proc/mounts
  register: mounts
- debug:
    msg: "{{ mounts.content | b64decode }}"
"#,
    );

#[async_trait]
impl Module for Slurp {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let src = Opts::from_args(args)?.src;
        let out = ctx
            .run(format!(
                "if [ -d {p} ]; then echo 'source is a directory and must be a file' >&2; exit 2; fi; \
                 if [ ! -e {p} ]; then echo 'file not found' >&2; exit 3; fi; cat -- {p}",
                p = crate::connection::quote(&src)
            ))
            .await?;
        if out.rc != 0 {
            return Ok(Plan::fail(format!("{}: {src}", out.stderr_str().trim())));
        }
        Ok(Plan::ok()
            .with(
                "content",
                base64::engine::general_purpose::STANDARD.encode(&out.stdout),
            )
            .with("encoding", "base64")
            .with("source", src.as_str()))
    }
}
