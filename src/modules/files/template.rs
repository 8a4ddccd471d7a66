//! `template`: renders a Jinja template from the controller and writes it to the host.

use super::copy::{FileWrite, plan_file};
use crate::error::{Error, Result};
use crate::modules::toolkit::{Attrs, basename, check_validate, encode};
use crate::modules::{
    Args, FileAttrs, Module, ModuleDoc, Options, Plan, TaskCtx, TemplateOptions, opt,
};
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
        follow: bool = opt::bool("When `dest` is a link, write to its target (default: replace the link).").default("no"),
        block_start_string: String = opt::str("The string marking the start of a block.").default("{%"),
        block_end_string: String = opt::str("The string marking the end of a block.").default("%}"),
        variable_start_string: String = opt::str("The string marking the start of a print statement.").default("{{"),
        variable_end_string: String = opt::str("The string marking the end of a print statement.").default("}}"),
        comment_start_string: Option<String> = opt::str("The string marking the start of a comment (default `{#`)."),
        comment_end_string: Option<String> = opt::str("The string marking the end of a comment (default `#}`)."),
        trim_blocks: bool = opt::bool("Remove the first newline after a block tag.").default("yes"),
        lstrip_blocks: bool = opt::bool("Strip spaces and tabs from the start of a line to a block tag.").default("no"),
        output_encoding: String = opt::str("The encoding of the written file: utf-8 (default), utf-16 (-le, -be), latin-1 (iso-8859-1), windows-1252 or ascii.").default("utf-8"),
    }
    groups { attrs: FileAttrs }
}

static DOC: ModuleDoc = ModuleDoc::new("template", "Template a file out to a target host")
    .description(
        "Renders `src` (searched in the role's and playbook's `templates/` folders) with \
        the task's variables and writes the result to `dest` atomically, like `copy`. Check mode \
        reports exactly what would change; with --diff the content diff is returned. As in \
        Ansible, the returned `checksum` is the SHA-1 of the written content. The Jinja \
        delimiters, `trim_blocks` and `lstrip_blocks` can be changed for this template only; \
        `newline_sequence` and `output_encoding` apply to the rendered text.",
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

/// Ansible keeps as many newlines at the end of the output as the template source has (a
/// block tag on the last line would otherwise eat its newline).
fn keep_trailing_newlines(source: &str, mut out: String) -> String {
    let count = |s: &str| s.len() - s.trim_end_matches('\n').len();
    let (want, have) = (count(source), count(&out));
    if want > have {
        out.push_str(&"\n".repeat(want - have));
    }
    out
}

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
        let topts = TemplateOptions::new(
            [
                o.block_start_string,
                o.block_end_string,
                o.variable_start_string,
                o.variable_end_string,
                o.comment_start_string.unwrap_or_else(|| "{#".into()),
                o.comment_end_string.unwrap_or_else(|| "#}".into()),
            ],
            o.trim_blocks,
            o.lstrip_blocks,
        )
        .with_dest(o.dest.as_str());
        let rendered =
            keep_trailing_newlines(&text, ctx.render.render_text_with(&text, &local, &topts)?);
        let data = encode(
            &newlines(&rendered, &o.newline_sequence),
            &o.output_encoding,
        )?;
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
                follow: o.follow,
                expect_sha1: None,
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

    /// The syntax options as the engine applies them (delimiters, trim_blocks, lstrip_blocks).
    #[test]
    fn syntax_options_render_like_jinja() {
        use crate::template::{Context, Templar};
        use crate::value::{Value, Vars};
        let t = Templar::new();
        let mut vars = Vars::new();
        vars.insert("x".into(), Value::from(1));
        let ctx = Context::new(&t, vec![std::sync::Arc::new(vars)]);
        let path = std::path::Path::new("/nonexistent/t.j2");
        let render = |text: &str, d: [&str; 6], trim: bool, lstrip: bool| {
            t.render_text_with_syntax(text, path, &ctx, d, trim, lstrip)
                .unwrap()
        };
        let std = ["{%", "%}", "{{", "}}", "{#", "#}"];
        // custom comment markers: `{#` is text, `[# #]` a comment
        assert_eq!(
            render(
                "{# kept #}[# gone #]{{ x }}",
                ["{%", "%}", "{{", "}}", "[#", "#]"],
                true,
                false
            ),
            "{# kept #}1"
        );
        // custom block and variable markers
        assert_eq!(
            render(
                "<% if x %>[[ x ]]<% endif %>{{ x }}",
                ["<%", "%>", "[[", "]]", "{#", "#}"],
                true,
                false
            ),
            "1{{ x }}"
        );
        let tmpl = "a\n  {% if x %}\nb\n  {% endif %}\nc\n";
        assert_eq!(render(tmpl, std, true, false), "a\n  b\n  c\n");
        assert_eq!(render(tmpl, std, false, false), "a\n  \nb\n  \nc\n");
        assert_eq!(render(tmpl, std, true, true), "a\nb\nc\n");
    }

    #[test]
    fn trailing_newlines_follow_the_source() {
        assert_eq!(
            super::keep_trailing_newlines("{% endfor %}\n", "x".into()),
            "x\n"
        );
        assert_eq!(
            super::keep_trailing_newlines("a\n\n", "a\n".into()),
            "a\n\n"
        );
        assert_eq!(super::keep_trailing_newlines("a", "a\n".into()), "a\n");
    }
}
