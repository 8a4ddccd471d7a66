//! `blockinfile`: inserts, updates or removes a block of lines between marker lines.

use super::lineinfile::split_lines;
use crate::error::{Error, Result};
use crate::modules::toolkit::{self, Attrs, Kind, Write, check_validate, plan_write, py_regex};
use crate::modules::{Args, FileAttrs, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `blockinfile` module.
pub struct BlockInFile;

crate::options! {
    /// The `blockinfile` module's options.
    pub(crate) struct Opts {
        path: String = opt::path("The file to edit.").required().aliases(&["dest", "destfile", "name"]),
        block: String = opt::str("The lines to put between the markers.").default("").aliases(&["content"]),
        marker: String = opt::str("Marker line template; `{mark}` becomes marker_begin/marker_end.").default("# {mark} ANSIBLE MANAGED BLOCK"),
        marker_begin: String = opt::str("Replaces `{mark}` in the opening marker.").default("BEGIN"),
        marker_end: String = opt::str("Replaces `{mark}` in the closing marker.").default("END"),
        state: String = opt::str("Whether the block should be there.").default("present").choices(&["absent", "present"]),
        insertafter: Option<String> = opt::str("Insert a new block after the last line matching this regexp, or `EOF`."),
        insertbefore: Option<String> = opt::str("Insert a new block before the last line matching this regexp, or `BOF`."),
        create: bool = opt::bool("Create the file when missing.").default("no"),
        backup: bool = opt::bool("Back up the old file before changing it.").default("no"),
        append_newline: bool = opt::bool("Add a blank line after the block if the next line is not blank.").default("no"),
        prepend_newline: bool = opt::bool("Add a blank line before the block if the previous line is not blank.").default("no"),
        validate: Option<String> = opt::str("Command validating the new file before it is put in place; `%s` is its temp path."),
    }
    groups { attrs: FileAttrs }
}

static DOC: ModuleDoc = ModuleDoc::new(
    "blockinfile",
    "Insert/update/remove a text block surrounded by marker lines",
)
.description(
    "Manages a block of lines between `marker` lines (`# BEGIN ANSIBLE MANAGED \
        BLOCK` / `# END ...`). An existing block is replaced in place; a new one goes after the \
        last line matching `insertafter` (default end of file) or before the last line matching \
        `insertbefore`. An empty block or state=absent removes it. Follows Ansible's algorithm. \
        Check mode and --diff are exact.",
)
.spec::<Opts>()
.mutually_exclusive(&[&["insertbefore", "insertafter"]])
.examples(
    r#"- blockinfile:
    path: /etc/ssh/sshd_config
    block: |
      Match User ansible-agent
      PasswordAuthentication no
"#,
);

/// Parameters of the block edit.
pub(crate) struct BlockSpec<'a> {
    pub block: &'a str,
    pub marker0: String,
    pub marker1: String,
    pub present: bool,
    pub insertafter: Option<&'a str>,
    pub insertbefore: Option<&'a str>,
    pub append_newline: bool,
    pub prepend_newline: bool,
}

/// Ansible's blockinfile algorithm: returns the new text.
pub(crate) fn edit(original: &str, s: &BlockSpec<'_>) -> Result<String> {
    let nl = "\n";
    let mut lines = split_lines(original);
    let (ia, ib) = match (s.insertafter, s.insertbefore) {
        (None, None) => (Some("EOF"), None),
        x => x,
    };
    let insertre = match (ia, ib) {
        (Some(a), _) if a != "EOF" => Some(py_regex(a, "")?),
        (None, Some(b)) if b != "BOF" => Some(py_regex(b, "")?),
        _ => None,
    };
    let m0 = format!("{}{nl}", s.marker0);
    let m1 = format!("{}{nl}", s.marker1);
    let blocklines: Vec<String> = if s.present && !s.block.is_empty() {
        let mut b = s.block.to_string();
        if !b.ends_with(nl) {
            b.push_str(nl);
        }
        let mut v = vec![m0.clone()];
        v.extend(split_lines(&b));
        v.push(m1.clone());
        v
    } else {
        vec![]
    };
    let (mut n0, mut n1) = (None, None);
    for (i, l) in lines.iter().enumerate() {
        if *l == m0 {
            n0 = Some(i);
        }
        if *l == m1 {
            n1 = Some(i);
        }
    }
    let mut n0 = match (n0, n1) {
        (Some(a), Some(b)) if a < b => {
            lines.drain(a..=b);
            a
        }
        (Some(a), Some(b)) => {
            lines.drain(b..=a);
            b
        }
        _ => {
            if let Some(re) = &insertre {
                let mut found = None;
                if re.inline_multiline() {
                    // a multi-line pattern searches the whole text: the line its match ends
                    // (insertafter) or starts (insertbefore) on
                    let joined = lines.concat();
                    if let Some((start, end)) = re.find_span(&joined) {
                        let at = if ia.is_some() { end } else { start };
                        found = Some(joined[..at].matches('\n').count());
                    }
                } else {
                    for (i, l) in lines.iter().enumerate() {
                        if re.is_match(l.trim_end_matches(['\r', '\n'])) {
                            found = Some(i);
                        }
                    }
                }
                match found {
                    None => lines.len(),
                    Some(i) if ia.is_some() => i + 1,
                    Some(i) => i,
                }
            } else if ib.is_some() {
                0
            } else {
                lines.len()
            }
        }
    };
    if n0 > 0 && !lines[n0 - 1].ends_with(nl) {
        lines[n0 - 1].push_str(nl);
    }
    if s.prepend_newline && s.present && n0 != 0 && lines[n0 - 1] != nl {
        lines.insert(n0, nl.to_string());
        n0 += 1;
    }
    let after = n0 + blocklines.len();
    lines.splice(n0..n0, blocklines);
    if s.append_newline && s.present && after < lines.len() && lines[after] != nl {
        lines.insert(after, nl.to_string());
    }
    Ok(lines.concat())
}

#[async_trait]
impl Module for BlockInFile {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let path = &toolkit::expand_path(ctx, &o.path).await?;
        let attrs = Attrs::new(&o.attrs)?;
        let validate = check_validate(o.validate)?;
        let present = o.state != "absent";
        let (insp, info, missing_parent) = toolkit::inspect_for_edit(ctx, path).await?;
        let content = insp.content.clone();
        if info.followed_kind() == Kind::Dir {
            return Ok(Plan::fail(format!("Path {path} is a directory !")).with("rc", 256));
        }
        let exists = info.exists();
        if !exists {
            if !o.create {
                return Ok(Plan::fail(format!(
                    "Path {path} does not exist ! (use create=yes to create it)"
                ))
                .with("rc", 257));
            }
            if !present {
                return Ok(Plan::ok().with("msg", format!("File {path} not present")));
            }
        }
        if exists && content.is_none() {
            return Ok(Plan::fail(format!(
                "Path {path} is not a readable regular file"
            )));
        }
        let original = match &content {
            Some(c) => String::from_utf8(c.clone()).map_err(|_| {
                Error::failed(format!(
                    "{path} is not UTF-8 text; blockinfile only edits text files"
                ))
            })?,
            None => String::new(),
        };
        let block = o.block.as_str();
        let spec = BlockSpec {
            block,
            marker0: o.marker.replace("{mark}", &o.marker_begin),
            marker1: o.marker.replace("{mark}", &o.marker_end),
            present,
            insertafter: o.insertafter.as_deref(),
            insertbefore: o.insertbefore.as_deref(),
            append_newline: o.append_newline,
            prepend_newline: o.prepend_newline,
        };
        let result = edit(&original, &spec)?;
        let msg = if exists && original == result {
            ""
        } else if !exists {
            "File created"
        } else if !present || block.is_empty() {
            "Block removed"
        } else {
            "Block inserted"
        };
        let target = info.write_path().to_string();
        let mut write_info = info.clone();
        if info.kind == Kind::Link && info.real_path.is_some() {
            write_info.kind = info.followed_kind();
            write_info.stat = info.followed_stat().clone();
            write_info.path = target.clone();
        }
        let mut plan = Plan::ok();
        plan_write(
            ctx,
            Write {
                path: &target,
                info: &write_info,
                before: content.as_deref(),
                data: &crate::modules::toolkit::Content::Bytes(result.clone().into_bytes()),
                attrs: &attrs,
                backup: o.backup,
                validate,
                make_parent: missing_parent,
                uid: insp.uid,
                umask: insp.umask,
            },
            &mut plan,
        )?;
        let msg = if msg.is_empty() && !plan.changes.is_empty() {
            "ownership, perms or SE linux context changed"
        } else {
            msg
        };
        plan.result.insert("msg".into(), Value::from(msg));
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(block: &'a str, ia: Option<&'a str>, ib: Option<&'a str>) -> BlockSpec<'a> {
        BlockSpec {
            block,
            marker0: "# BEGIN X".into(),
            marker1: "# END X".into(),
            present: true,
            insertafter: ia,
            insertbefore: ib,
            append_newline: false,
            prepend_newline: false,
        }
    }

    #[test]
    fn a_multiline_pattern_searches_the_whole_text() {
        let text = "a\nK =\n  (L =\nb\n";
        // (?m): the match spans lines; the block goes after the line it ends on
        assert_eq!(
            edit(text, &spec("z", Some("(?m)K =\\n.*\\(L ="), None)).unwrap(),
            "a\nK =\n  (L =\n# BEGIN X\nz\n# END X\nb\n"
        );
        // without the flag each line is searched alone: no match, so at the end
        assert_eq!(
            edit(text, &spec("z", Some("K =\\n.*\\(L ="), None)).unwrap(),
            "a\nK =\n  (L =\nb\n# BEGIN X\nz\n# END X\n"
        );
    }

    #[test]
    fn insert_replace_remove() {
        let t = edit("a\nb", &spec("x\ny", None, None)).unwrap();
        assert_eq!(t, "a\nb\n# BEGIN X\nx\ny\n# END X\n");
        let t2 = edit(&t, &spec("z", None, None)).unwrap();
        assert_eq!(t2, "a\nb\n# BEGIN X\nz\n# END X\n");
        assert_eq!(edit(&t2, &spec("z", None, None)).unwrap(), t2);
        assert_eq!(edit(&t2, &spec("", None, None)).unwrap(), "a\nb\n");
        assert_eq!(
            edit("a\nb\n", &spec("z", Some("^a$"), None)).unwrap(),
            "a\n# BEGIN X\nz\n# END X\nb\n"
        );
        assert_eq!(
            edit("a\nb\n", &spec("z", None, Some("BOF"))).unwrap(),
            "# BEGIN X\nz\n# END X\na\nb\n"
        );
        assert_eq!(
            edit("a\nb\n", &spec("z", None, Some("^b"))).unwrap(),
            "a\n# BEGIN X\nz\n# END X\nb\n"
        );
    }
}
