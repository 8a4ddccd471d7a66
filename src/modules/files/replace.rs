//! `replace`: replaces every match of a regular expression in a file.

use crate::error::{Error, Result};
use crate::modules::toolkit::{
    self, Attrs, Kind, Write, check_validate, decode, encode, plan_write, py_regex,
};
use crate::modules::{Args, FileAttrs, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `replace` module.
pub struct Replace;

crate::options! {
    /// The `replace` module's options.
    pub(crate) struct Opts {
        path: String = opt::path("The file to edit.").required().aliases(&["dest", "destfile", "name"]),
        regexp: String = opt::str("The regular expression to look for.").required(),
        replace: String = opt::str("The replacement (empty removes the matches).").default(""),
        after: Option<String> = opt::str("Only replace after the first match of this regexp."),
        before: Option<String> = opt::str("Only replace before the match of this regexp."),
        backup: bool = opt::bool("Back up the old file before changing it.").default("no"),
        validate: Option<String> = opt::str("Command validating the new file before it is put in place; `%s` is its temp path."),
        encoding: String = opt::str("The file's encoding: it is read and written in it (utf-8, utf-16, latin-1, windows-1252, ascii).").default("utf-8"),
    }
    groups { attrs: FileAttrs }
}

static DOC: ModuleDoc = ModuleDoc::new(
    "replace",
    "Replace all instances of a pattern within a file",
)
.description(
    "Replaces every match of `regexp` (multiline mode: `^`/`$` match at line \
        boundaries) with `replace`, which may use `\\1`, `\\g<1>` and `\\g<name>` \
        backreferences, optionally only in the part of the file after the first match of `after` \
        and/or before the following match of `before` (matched with `.` matching newlines). \
        Regular expressions use Rust syntax (Python's without lookaround/backreferences). \
        Check mode and --diff are exact.",
)
.spec::<Opts>()
.examples(
    r#"- replace:
    path: /etc/hosts
    regexp: '(\s+)old\.example\.com(\s+.*)?$'
    replace: '\1new.example.com\2'
"#,
);

/// Ansible's replace algorithm: (new text, number of replacements), or `None` when the
/// after/before section was not found.
pub(crate) fn apply(
    contents: &str,
    regexp: &str,
    replace: &str,
    after: Option<&str>,
    before: Option<&str>,
) -> Result<Option<(String, usize)>> {
    let pattern = match (after, before) {
        (Some(a), Some(b)) => Some(format!("{a}(?P<subsection>.*?){b}")),
        (Some(a), None) => Some(format!("{a}(?P<subsection>.*)")),
        (None, Some(b)) => Some(format!("(?P<subsection>.*){b}")),
        (None, None) => None,
    };
    let (start, end) = match &pattern {
        Some(p) => {
            let re = py_regex(p, "s")?;
            let Some(span) = re.group_span(contents, "subsection")? else {
                return Ok(None);
            };
            span
        }
        None => (0, contents.len()),
    };
    let section = &contents[start..end];
    let re = py_regex(regexp, "m")?;
    let (replaced, n) = re
        .sub(section, replace)
        .map_err(|e| Error::failed(format!("Unable to process replace due to error: {}", e.msg)))?;
    if n == 0 || replaced == section {
        return Ok(Some((contents.to_string(), 0)));
    }
    Ok(Some((
        format!("{}{}{}", &contents[..start], replaced, &contents[end..]),
        n,
    )))
}

#[async_trait]
impl Module for Replace {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let path = &toolkit::expand_path(ctx, &o.path).await?;
        let attrs = Attrs::new(&o.attrs)?;
        let validate = check_validate(o.validate)?;
        let (insp, info) = toolkit::inspect_one(ctx, path, Some("sha256"), true).await?;
        let content = insp.content.clone();
        match info.followed_kind() {
            Kind::Dir => {
                return Ok(Plan::fail(format!("Path {path} is a directory !")).with("rc", 256));
            }
            Kind::Missing => {
                return Ok(Plan::fail(format!("Path {path} does not exist !")).with("rc", 257));
            }
            _ => {}
        }
        // Ansible reads whatever is at the path: a device such as /dev/null too (its
        // content, empty there, is edited like a file's).
        let content = match content {
            Some(c) => Some(c),
            None if info.followed_kind() == Kind::Other => {
                toolkit::read(ctx, info.write_path()).await.ok()
            }
            None => None,
        };
        let Some(content) = content else {
            return Ok(Plan::fail(format!(
                "Path {path} is not a readable regular file"
            )));
        };
        let text = decode(&content, &o.encoding).map_err(|_| {
            Error::failed(format!(
                "{path} is not {} text; replace only edits text files",
                o.encoding
            ))
            .hint("set `encoding` to the file's encoding")
        })?;
        let Some((new, n)) = apply(
            &text,
            &o.regexp,
            &o.replace,
            o.after.as_deref(),
            o.before.as_deref(),
        )?
        else {
            let mut plan = Plan::ok().with(
                "msg",
                format!("Pattern for before/after params did not match the given file: {path}"),
            );
            plan.msg = plan.result.get("msg").map(|v| v.to_string());
            return Ok(plan);
        };
        let target = info.write_path().to_string();
        let write_info = info.followed();
        let mut plan = Plan::ok();
        plan_write(
            ctx,
            Write {
                path: &target,
                info: &write_info,
                before: Some(&content),
                data: &crate::modules::toolkit::Content::Bytes(encode(&new, &o.encoding)?),
                attrs: &attrs,
                backup: o.backup,
                validate,
                make_parent: None,
                uid: insp.uid,
                umask: insp.umask,
            },
            &mut plan,
        )?;
        let msg = if n > 0 {
            format!("{n} replacements made")
        } else if !plan.changes.is_empty() {
            "ownership, perms or SE linux context changed".into()
        } else {
            String::new()
        };
        plan.result.insert("msg".into(), Value::from(msg));
        plan.result.insert("replacements".into(), Value::from(n));
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::apply;

    #[test]
    fn a_bad_replacement_fails_with_ansibles_message() {
        let e = apply("a.b\n", r"\.", r"\D", None, None).unwrap_err();
        assert!(
            e.msg
                .starts_with("Unable to process replace due to error: "),
            "{}",
            e.msg
        );
    }

    #[test]
    fn a_bad_replacement_fails_even_without_a_match() {
        // Python parses the replacement before it searches: /dev/null's empty text fails too
        let e = apply("", r"\.", r"\D", Some("^"), Some("$")).unwrap_err();
        assert!(
            e.msg
                .starts_with("Unable to process replace due to error: "),
            "{}",
            e.msg
        );
    }

    #[test]
    fn replaces_with_sections_and_backrefs() {
        let t = "a=1\nb=2\n[s]\na=3\n[t]\na=4\n";
        assert_eq!(
            apply(t, r"^a=(\d)$", r"a=\1\1", None, None).unwrap(),
            Some(("a=11\nb=2\n[s]\na=33\n[t]\na=44\n".into(), 3))
        );
        assert_eq!(
            apply(t, r"^a=(\d)$", r"x", Some(r"\[s\]"), Some(r"\[t\]")).unwrap(),
            Some(("a=1\nb=2\n[s]\nx\n[t]\na=4\n".into(), 1))
        );
        assert_eq!(
            apply(t, "zzz", "y", None, None).unwrap(),
            Some((t.to_string(), 0))
        );
        assert_eq!(apply(t, "a", "y", Some("nomatch"), None).unwrap(), None);
    }
}
