//! `lineinfile`: makes sure one line is present (or absent) in a text file.

use crate::error::{Error, Result};
use crate::modules::toolkit::{
    self, Attrs, Kind, Regex, Write, check_validate, plan_write, py_regex,
};
use crate::modules::{Args, FileAttrs, Module, ModuleDoc, Options, Plan, RequiredIf, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `lineinfile` module.
pub struct LineInFile;

crate::options! {
    /// The `lineinfile` module's options.
    pub(crate) struct Opts {
        path: String = opt::path("The file to edit.").required().aliases(&["dest", "destfile", "name"]),
        line: Option<String> = opt::str("The line to insert or replace with (`\\1` backreferences with backrefs=yes).").aliases(&["value"]),
        regexp: Option<String> = opt::str("Regular expression selecting the line to replace (present) or the lines to remove (absent).").aliases(&["regex"]),
        search_string: Option<String> = opt::str("Literal string selecting the line, instead of regexp."),
        state: String = opt::str("Whether the line should be there.").default("present").choices(&["absent", "present"]),
        insertafter: Option<String> = opt::str("Insert after the last line matching this regexp, or `EOF` (default)."),
        insertbefore: Option<String> = opt::str("Insert before the last line matching this regexp, or `BOF`."),
        create: bool = opt::bool("Create the file (and its folder) when missing.").default("no"),
        backrefs: bool = opt::bool("Expand `\\1`.. in `line` from the regexp match; when nothing matches, leave the file unchanged.").default("no"),
        backup: bool = opt::bool("Back up the old file before changing it.").default("no"),
        firstmatch: bool = opt::bool("Use the first match of regexp/insertafter/insertbefore instead of the last.").default("no"),
        validate: Option<String> = opt::str("Command validating the new file before it is put in place; `%s` is its temp path."),
    }
    groups { attrs: FileAttrs }
}

static DOC: ModuleDoc = ModuleDoc::new("lineinfile", "Manage lines in text files")
    .description(
        "Makes sure a line is in a file, replacing the last line matching `regexp` (or \
        containing `search_string`), or inserting it after/before the last line matching \
        `insertafter`/`insertbefore` (first with `firstmatch`), or at the end. With \
        state=absent, removes every matching line. Follows Ansible's algorithm exactly; regular \
        expressions use Rust syntax (Python's without lookaround/backreferences) and are matched \
        against each line without its line ending. Check mode and --diff are exact.",
    )
    .spec::<Opts>()
    .mutually_exclusive(&[
        &["insertbefore", "insertafter"],
        &["regexp", "search_string"],
        &["backrefs", "search_string"],
    ])
    // Ansible checks these before touching the file, whatever the host: the line to put, or
    // something selecting the lines to remove.
    .required_if(&[
        RequiredIf::all("state", "present", &["line"]),
        RequiredIf::any("state", "absent", &["line", "search_string", "regexp"]),
    ])
    .examples(
        r#"- lineinfile:
    path: /etc/ssh/sshd_config
    regexp: '^#?PermitRootLogin'
    line: PermitRootLogin no
- lineinfile:
    path: /etc/hosts
    line: 10.0.0.5 db
    insertafter: '^127\.0\.0\.1'
"#,
    );

/// Splits text into lines keeping their endings (Python's `readlines`).
pub(crate) fn split_lines(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_string).collect()
}

fn strip_eol(l: &str) -> &str {
    l.trim_end_matches(['\r', '\n'])
}

/// How to select lines.
pub(crate) enum Matcher {
    Regex(Regex),
    Search(String),
    Line(String),
}

/// The result of editing: new lines, message, changed.
pub(crate) struct Edit {
    pub lines: Vec<String>,
    pub msg: String,
    pub changed: bool,
    pub found: usize,
}

/// Ansible's `present` algorithm.
#[allow(clippy::too_many_arguments)]
pub(crate) fn present(
    mut lines: Vec<String>,
    regexp: Option<&Regex>,
    search: Option<&str>,
    line: &str,
    insertafter: Option<&str>,
    insertbefore: Option<&str>,
    backrefs: bool,
    firstmatch: bool,
) -> Result<Edit> {
    let bre_ins = match (insertafter, insertbefore) {
        (Some(a), _) if a != "BOF" && a != "EOF" => Some(py_regex(a, "")?),
        (None, Some(b)) if b != "BOF" => Some(py_regex(b, "")?),
        _ => None,
    };
    let mut index: [i64; 2] = [-1, -1];
    let mut caps_line: Option<String> = None; // the expanded line when backrefs matched
    let mut matched = false;
    if let Some(re) = regexp {
        for (i, l) in lines.iter().enumerate() {
            if let Some(c) = re.captures(strip_eol(l)) {
                index[0] = i as i64;
                matched = true;
                caps_line = Some(re.expand(line, &c)?);
                if firstmatch {
                    break;
                }
            }
        }
    }
    if let Some(s) = search {
        for (i, l) in lines.iter().enumerate() {
            if l.contains(s) {
                index[0] = i as i64;
                matched = true;
                if firstmatch {
                    break;
                }
            }
        }
    }
    if !matched {
        for (i, l) in lines.iter().enumerate() {
            if strip_eol(l) == line {
                index[0] = i as i64;
            } else if let Some(re) = &bre_ins
                && re.is_match(strip_eol(l))
            {
                if insertafter.is_some() {
                    index[1] = i as i64 + 1;
                    if firstmatch {
                        break;
                    }
                }
                if insertbefore.is_some() {
                    index[1] = i as i64;
                    if firstmatch {
                        break;
                    }
                }
            }
        }
    }
    let nl = "\n";
    let mut msg = "";
    let mut changed = false;
    let with_nl = |s: &str| format!("{s}{nl}");
    let last_has_eol = |lines: &Vec<String>| lines.last().is_none_or(|l| l.ends_with(['\n', '\r']));
    if index[0] != -1 {
        let mut new_line = if backrefs && matched {
            caps_line.unwrap_or_else(|| line.to_string())
        } else {
            line.to_string()
        };
        if !new_line.ends_with(nl) {
            new_line.push_str(nl);
        }
        let i = index[0] as usize;
        if lines[i] != new_line {
            lines[i] = new_line;
            msg = "line replaced";
            changed = true;
        }
    } else if backrefs {
        // nothing matched: the backrefs cannot be filled, leave the file alone
    } else if insertbefore == Some("BOF") || insertafter == Some("BOF") {
        lines.insert(0, with_nl(line));
        msg = "line added";
        changed = true;
    } else if insertafter == Some("EOF") || index[1] == -1 {
        if !last_has_eol(&lines) {
            lines.push(nl.to_string());
        }
        lines.push(with_nl(line));
        msg = "line added";
        changed = true;
    } else if insertafter.is_some() {
        let i = index[1] as usize;
        if lines.len() == i {
            if strip_eol(&lines[i - 1]) != line {
                lines.push(with_nl(line));
                msg = "line added";
                changed = true;
            }
        } else if strip_eol(&lines[i]) != line {
            lines.insert(i, with_nl(line));
            msg = "line added";
            changed = true;
        }
    } else {
        lines.insert(index[1] as usize, with_nl(line));
        msg = "line added";
        changed = true;
    }
    Ok(Edit {
        lines,
        msg: msg.to_string(),
        changed,
        found: 0,
    })
}

/// Ansible's `absent` algorithm.
pub(crate) fn absent(lines: Vec<String>, m: &Matcher) -> Edit {
    let before = lines.len();
    let kept: Vec<String> = lines
        .into_iter()
        .filter(|l| match m {
            Matcher::Regex(re) => !re.is_match(strip_eol(l)),
            Matcher::Search(s) => !l.contains(s.as_str()),
            Matcher::Line(x) => strip_eol(l) != x,
        })
        .collect();
    let found = before - kept.len();
    Edit {
        lines: kept,
        msg: if found > 0 {
            format!("{found} line(s) removed")
        } else {
            String::new()
        },
        changed: found > 0,
        found,
    }
}

/// Ansible's warning for an empty `regexp` or `search_string` (it matches every line).
fn empty_search_warning(regexp: Option<&str>, search: Option<&str>) -> Option<String> {
    let what = match (regexp, search) {
        (Some(""), _) => "regular expression",
        (_, Some("")) => "search string",
        _ => return None,
    };
    let mut msg = format!(
        "The {what} is an empty string, which will match every line in the file. This may have \
         unintended consequences, such as replacing the last line in the file rather than \
         appending."
    );
    if what == "regular expression" {
        msg.push_str(
            " If this is desired, use '^' to match every line in the file and avoid this warning.",
        );
    }
    Some(msg)
}

#[async_trait]
impl Module for LineInFile {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let path = &toolkit::expand_path(ctx, &o.path).await?;
        let attrs = Attrs::new(&o.attrs)?;
        let validate = check_validate(o.validate)?;
        let (search, line) = (o.search_string, o.line);
        // the spec requires `line` (present) or one of line/search_string/regexp (absent)
        let present_state = o.state != "absent";
        let re = o.regexp.as_deref().map(|r| py_regex(r, "")).transpose()?;
        if present_state && o.backrefs && re.is_none() {
            return Err(Error::failed("regexp is required with backrefs=true"));
        }
        let (insp, info, missing_parent) = toolkit::inspect_for_edit(ctx, path).await?;
        let content = insp.content.clone();
        if info.followed_kind() == Kind::Dir {
            return Ok(Plan::fail(format!("Path {path} is a directory !")).with("rc", 256));
        }
        let target = info.write_path().to_string();
        let mut plan = Plan::ok();
        if let Some(w) = empty_search_warning(o.regexp.as_deref(), search.as_deref()) {
            plan.result
                .insert("warnings".into(), Value::from(vec![Value::from(w)]));
        }
        let exists = info.exists();
        if exists && content.is_none() {
            return Ok(Plan::fail(format!(
                "Path {path} is not a readable regular file"
            )));
        }
        let text = match &content {
            Some(c) => String::from_utf8(c.clone()).map_err(|_| {
                Error::failed(format!(
                    "{path} is not UTF-8 text; lineinfile only edits text files"
                ))
            })?,
            None => String::new(),
        };
        let lines = split_lines(&text);
        let edit = if present_state {
            if !exists && !o.create {
                return Ok(Plan::fail(format!("Destination {path} does not exist !"))
                    .with("rc", 257)
                    .hint_create());
            }
            let (ia, ib) = match (o.insertafter, o.insertbefore) {
                (None, None) => (Some("EOF".to_string()), None),
                x => x,
            };
            present(
                lines,
                re.as_ref(),
                search.as_deref(),
                line.as_deref().unwrap_or_default(),
                ia.as_deref(),
                ib.as_deref(),
                o.backrefs,
                o.firstmatch,
            )?
        } else {
            if !exists {
                return Ok(Plan::ok()
                    .with("msg", "file not present")
                    .with("found", 0)
                    .with("changed", false));
            }
            let m = match (re, search, line) {
                (Some(r), _, _) => Matcher::Regex(r),
                (None, Some(s), _) => Matcher::Search(s),
                (None, None, l) => Matcher::Line(l.unwrap_or_default()),
            };
            absent(lines, &m)
        };
        let new = edit.lines.concat();
        // a missing file with create=yes is written even when it would be empty
        let write = edit.changed || !exists;
        let data = if write {
            new.into_bytes()
        } else {
            text.clone().into_bytes()
        };
        let write_info = info.followed();
        plan_write(
            ctx,
            Write {
                path: &target,
                info: &write_info,
                before: content.as_deref(),
                data: &crate::modules::toolkit::Content::Bytes(data.clone()),
                attrs: &attrs,
                backup: o.backup,
                validate,
                make_parent: missing_parent,
                uid: insp.uid,
                umask: insp.umask,
            },
            &mut plan,
        )?;
        if let Some(b) = plan.result.get("backup_file").cloned() {
            plan.result.insert("backup".into(), b);
        }
        let mut msg = edit.msg.clone();
        if !edit.changed && !plan.changes.is_empty() {
            msg = if exists {
                "ownership, perms or SE linux context changed".into()
            } else {
                "file created".into()
            };
        }
        plan.result.insert("msg".into(), Value::from(msg));
        if !present_state {
            plan.result.insert("found".into(), Value::from(edit.found));
        }
        Ok(plan)
    }
}

trait HintCreate {
    fn hint_create(self) -> Self;
}

impl HintCreate for Plan {
    fn hint_create(mut self) -> Self {
        if let Some(f) = &mut self.failed {
            f.push_str(" (use create=yes to create it)");
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_regexp_or_search_string_warns() {
        let w = empty_search_warning(Some(""), None).unwrap();
        assert!(w.starts_with("The regular expression is an empty string"));
        assert!(w.ends_with("avoid this warning."));
        let w = empty_search_warning(None, Some("")).unwrap();
        assert!(w.starts_with("The search string is an empty string"));
        assert!(w.ends_with("rather than appending."));
        assert!(empty_search_warning(Some("^a"), None).is_none());
    }

    fn run(
        text: &str,
        regexp: Option<&str>,
        line: &str,
        ia: Option<&str>,
        ib: Option<&str>,
        backrefs: bool,
    ) -> (String, bool) {
        let re = regexp.map(|r| py_regex(r, "").unwrap());
        let ia = if ia.is_none() && ib.is_none() {
            Some("EOF")
        } else {
            ia
        };
        let e = present(
            split_lines(text),
            re.as_ref(),
            None,
            line,
            ia,
            ib,
            backrefs,
            false,
        )
        .unwrap();
        (e.lines.concat(), e.changed)
    }

    #[test]
    fn ansible_present_semantics() {
        // append, with missing final newline fixed
        assert_eq!(
            run("a\nb", None, "c", None, None, false),
            ("a\nb\nc\n".into(), true)
        );
        // already present: no change
        assert_eq!(
            run("a\nc\nb\n", None, "c", None, None, false),
            ("a\nc\nb\n".into(), false)
        );
        // regexp replaces the last match
        assert_eq!(
            run("x=1\ny=2\nx=3\n", Some("^x="), "x=9", None, None, false),
            ("x=1\ny=2\nx=9\n".into(), true)
        );
        // insertafter last match; insertbefore
        assert_eq!(
            run("[a]\nk\n[b]\n", None, "n", Some(r"^\[a\]"), None, false),
            ("[a]\nn\nk\n[b]\n".into(), true)
        );
        assert_eq!(
            run("[a]\nk\n[b]\n", None, "n", None, Some(r"^\[b\]"), false),
            ("[a]\nk\nn\n[b]\n".into(), true)
        );
        assert_eq!(
            run("a\n", None, "z", None, Some("BOF"), false),
            ("z\na\n".into(), true)
        );
        // insertafter not found: EOF
        assert_eq!(
            run("a\n", None, "z", Some("nomatch"), None, false),
            ("a\nz\n".into(), true)
        );
        // backrefs: no match leaves the file unchanged
        assert_eq!(
            run("a\n", Some("^(b)"), r"\1x", None, None, true),
            ("a\n".into(), false)
        );
        assert_eq!(
            run(
                "port=22\n",
                Some(r"^port=(\d+)"),
                r"port=\1 # ssh",
                None,
                None,
                true
            ),
            ("port=22 # ssh\n".into(), true)
        );
    }

    #[test]
    fn ansible_absent_semantics() {
        let e = absent(split_lines("a\nb\na\n"), &Matcher::Line("a".into()));
        assert_eq!((e.lines.concat(), e.found), ("b\n".into(), 2));
    }
}
