//! `template`: renders a Jinja template from the controller and writes it to the host.

use super::copy::{FileWrite, plan_file};
use super::remote::{Attrs, basename, check_validate};
use crate::error::{Error, Result};
use crate::modules::{Args, Module, ModuleDoc, OptKind, OptSpec, Plan, TaskCtx};
use async_trait::async_trait;

/// The `template` module.
pub struct Template;

static DOC: ModuleDoc = ModuleDoc {
    name: "template",
    short: "Template a file out to a target host",
    description: "Renders `src` (searched in the role's and playbook's `templates/` folders) with \
        the task's variables and writes the result to `dest` atomically, like `copy`. Check mode \
        reports exactly what would change; with --diff the content diff is returned. The \
        returned `checksum` is the SHA-256 of the rendered content.",
    options: &[
        OptSpec::new("src", OptKind::Path, "Local path of the Jinja template (relative paths are looked up in `templates/`).").required(),
        OptSpec::new("dest", OptKind::Path, "Remote path to write to (a folder or a path ending in `/` receives the template's file name).").required(),
        OptSpec::new("mode", OptKind::Mode, "Permissions: octal (`'0644'`), symbolic (`u=rw,g=r`) or `preserve` (the template file's mode)."),
        OptSpec::new("owner", OptKind::Str, "Owner name or uid."),
        OptSpec::new("group", OptKind::Str, "Group name or gid."),
        OptSpec::new("backup", OptKind::Bool, "Back up the old file before changing it.").default("no"),
        OptSpec::new("force", OptKind::Bool, "Replace the file when its content differs; with `no`, only create it when missing.").default("yes"),
        OptSpec::new("validate", OptKind::Str, "Command validating the new file before it is put in place; `%s` is its temp path."),
        OptSpec::new("newline_sequence", OptKind::Str, "Line ending of the written file.").default("\\n").choices(&["\\n", "\\r", "\\r\\n"]),
    ],
    free_form: None,
    mutually_exclusive: &[],
    required_one_of: &[],
    examples: r#"- template:
    src: nginx.conf.j2
    dest: /etc/nginx/nginx.conf
    mode: "0644"
    validate: nginx -t -c %s
"#,
    ..ModuleDoc::new("", "")
};

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
        let src = args.str("src").unwrap_or_default();
        let dest = args.str("dest").unwrap_or_default();
        let local = ctx.find_file("templates", &src)?;
        let text = std::fs::read_to_string(&local).map_err(|e| Error::io(&local, e))?;
        let rendered = ctx.render.render_text(&text, &local)?;
        let data =
            newlines(&rendered, &args.str("newline_sequence").unwrap_or_default()).into_bytes();
        let mut attrs = Attrs::from_args(args)?;
        if attrs.mode.as_deref() == Some("preserve") {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(&local)
                .map_err(|e| Error::io(&local, e))?
                .permissions()
                .mode();
            attrs.mode = Some(super::remote::fmt_mode(m));
        }
        plan_file(
            ctx,
            FileWrite {
                dest,
                src_name: Some(basename(&src).to_string()),
                src_label: Some(local.display().to_string()),
                data: super::remote::Content::Bytes(data),
                attrs,
                backup: args.bool("backup"),
                force: args.bool("force"),
                validate: check_validate(args.str("validate"))?,
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
