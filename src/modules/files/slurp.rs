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
        let src = crate::modules::toolkit::expand_path(ctx, &src).await?;
        let out = ctx
            .run(format!(
                "LC_ALL=C cat -- {p}",
                p = crate::connection::quote(&src)
            ))
            .await?;
        if out.rc != 0 {
            return Ok(Plan::fail(read_error(&out.stderr_str(), &src)));
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

/// Ansible's message for a file that cannot be read, from cat's error (C locale).
pub(super) fn read_error(stderr: &str, src: &str) -> String {
    if stderr.contains("No such file or directory") {
        format!("File not found: {src}")
    } else if stderr.contains("Permission denied") {
        format!("File is not readable: {src}")
    } else if stderr.contains("Is a directory") {
        format!("Source is a directory and must be a file: {src}")
    } else {
        // Ansible's own text, placeholder included
        "Unable to slurp file: {source}".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_are_ansibles_messages() {
        let e = |s| read_error(s, "/x");
        assert_eq!(
            e("cat: /x: No such file or directory"),
            "File not found: /x"
        );
        assert_eq!(e("cat: /x: Permission denied"), "File is not readable: /x");
        assert_eq!(
            e("cat: /x: Is a directory"),
            "Source is a directory and must be a file: /x"
        );
        assert!(e("cat: /x/y: Not a directory").starts_with("Unable to slurp file"));
    }
}
