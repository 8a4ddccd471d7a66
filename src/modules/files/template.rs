//! `template`: renders a Jinja template from the controller and writes it to the host.

use super::copy::{FileWrite, plan_file};
use crate::error::{Error, Result};
use crate::modules::toolkit::{Attrs, basename, check_validate};
use crate::modules::{Args, FileAttrs, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use async_trait::async_trait;

/// The `template` module.
pub struct Template;

crate::options! {
    /// The `template` module's options.
    pub(crate) struct Opts {
        src: String = opt::path("Local path of the Jinja template (relative paths are looked up in `templates/`).").required(),
        dest: String = opt::path("Remote path to write to (a folder or a path ending in `/` receives the template's file name).").required(),
        backup: bool = opt::bool("Back up the old file before changing it.").default("no"),
        force: bool = opt::bool("Replace the file when its content differs; with `no`, only create it when missing.").default("yes"),
        validate: Option<String> = opt::str("Command validating the new file before it is put in place; `%s` is its temp path."),
        newline_sequence: String = opt::str("Line ending of the written file.").default("\\n").choices(&["\\n", "\\r", "\\r\\n"]),
    }
    groups { attrs: FileAttrs }
}

static DOC: ModuleDoc = ModuleDoc::new("template", "Template a file out to a target host")
    .description(
        "Renders `src` (searched in the role's and playbook's `templates/` folders) with \
        the task's variables and writes the result to `dest` atomically, like `copy`. Check mode \
        reports exactly what would change; with --diff the content diff is returned. The \
        returned `checksum` is the SHA-256 of the rendered content.",
    )
    .spec::<Opts>()
    .examples(
        r#"- template:
    src: nginx.conf.j2
    dest: /etc/nginx/nginx.conf
    mode: "0644"
    validate: nginx -t -c %s
"#,
    );

/// Converts line endings of rendered text.
fn newlines(text: &str, seq: &str) -> String {
    let nl = match seq {
        "\\r\\n" => "\r\n",
        "\\r" => "\r",
        _ => return text.replace("\r\n", "\n"),
    };
    text.replace("\r\n", "\n").replace('\n', nl)
}

#[async_trait]
impl Module for Template {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let src = o.src;
        let local = ctx.find_file("templates", &src)?;
        let text = std::fs::read_to_string(&local).map_err(|e| Error::io(&local, e))?;
        let rendered = ctx.render.render_text(&text, &local)?;
        let data = newlines(&rendered, &o.newline_sequence).into_bytes();
        let mut attrs = Attrs::new(&o.attrs)?;
        if attrs.mode.as_deref() == Some("preserve") {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(&local)
                .map_err(|e| Error::io(&local, e))?
                .permissions()
                .mode();
            attrs.mode = Some(crate::modules::toolkit::fmt_mode(m));
        }
        plan_file(
            ctx,
            FileWrite {
                dest: o.dest,
                src_name: Some(basename(&src).to_string()),
                src_label: Some(local.display().to_string()),
                data: crate::modules::toolkit::Content::Bytes(data),
                attrs,
                backup: o.backup,
                force: o.force,
                validate: check_validate(o.validate)?,
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn newline_sequences() {
        assert_eq!(super::newlines("a\nb\r\n", "\\r\\n"), "a\r\nb\r\n");
        assert_eq!(super::newlines("a\r\nb\n", "\\n"), "a\nb\n");
    }
}
