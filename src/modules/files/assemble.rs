//! `assemble`: one file from a folder of fragments (sorted by name), on the host
//! (`remote_src: yes`, the default) or from the controller's `files/`, written like `copy`
//! writes content: only when it differs, atomically, with `validate`, `backup` and the file
//! attributes.

use crate::connection::quote;
use crate::error::Result;
use crate::modules::files::copy::{FileWrite, plan_file};
use crate::modules::toolkit::{self, Attrs, Content, check_validate, py_regex};
use crate::modules::{Args, FileAttrs, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::{Value, map_value};
use async_trait::async_trait;

/// The `assemble` module.
pub struct Assemble;

crate::options! {
    /// The `assemble` module's options.
    pub(crate) struct Opts {
        src: Option<String> = opt::path("Folder of fragments (on the host with `remote_src`, else on the controller, looked up in `files/`)."),
        dest: Option<String> = opt::path("The file to write on the host."),
        backup: bool = opt::bool("Back up the old file to `dest.<pid>.<timestamp>~` before changing it.").default("no"),
        delimiter: Option<String> = opt::str("Text put between fragments (backslash escapes such as `\\n` are read as Python reads them)."),
        remote_src: bool = opt::bool("The fragments are on the host; with `no`, on the controller.").default("yes"),
        regexp: Option<String> = opt::str("Only fragments whose name matches this Python regular expression (searched anywhere in the name)."),
        ignore_hidden: bool = opt::bool("Leave out fragments whose name starts with `.`.").default("no"),
        validate: Option<String> = opt::str("Command validating the new file before it is put in place; `%s` is its temp path."),
        decrypt: bool = opt::bool("Decrypt vault-encrypted fragments on the controller (`remote_src: no`).").default("yes"),
        follow: bool = opt::bool("When `dest` is a link, write to its target.").default("no"),
    }
    groups { attrs: FileAttrs }
}

static DOC: ModuleDoc = ModuleDoc::new("assemble", "Assemble configuration files from fragments")
    .description(
        "Concatenates the regular files of the folder `src`, sorted by name, into `dest`: a \
        newline goes after a fragment that does not end with one, and `delimiter` (if given) \
        between fragments. Fragments are read on the host (`remote_src: yes`, the default) \
        or on the controller (`remote_src: no`: from the role's and playbook's `files/`, \
        vault-encrypted ones decrypted). The file is written only when its content differs \
        (atomically, after `validate`), and the file attributes are enforced either way. Result \
        fields as Ansible's: `checksum` (SHA-1), `md5sum`, `dest`, `src`, `msg: OK`.",
    )
    .spec::<Opts>()
    .examples(
        r#"- assemble:
    src: /etc/someapp/fragments
    dest: /etc/someapp/someapp.conf
    delimiter: '### START FRAGMENT ###'
    validate: /usr/sbin/someapp -t %s
- assemble:
    src: conf.d
    dest: /etc/app.conf
    remote_src: false
"#,
    );

/// Python's `codecs.escape_decode`: backslash escapes of a bytes literal (`\n`, `\t`, `\\`,
/// `\x41`, octal `\101`, a backslash before a newline dropping both); unknown escapes stay as
/// they are. `None` for a bad `\x` escape (Python raises).
fn escape_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c != b'\\' || i + 1 >= s.len() {
            if c == b'\\' {
                return None; // trailing backslash: Python's "\ at end of string"
            }
            out.push(c);
            i += 1;
            continue;
        }
        let e = s[i + 1];
        i += 2;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 && i < s.len() && (b'0'..=b'7').contains(&s[i]) {
                    v = v * 8 + u32::from(s[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push((v & 0xFF) as u8);
            }
            b'x' => {
                let hex = s.get(i..i + 2)?;
                let h = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

/// Joins fragments as Ansible does. `delimiter` is escape-decoded again before each use (as
/// ansible-core does: a delimiter with escaped backslashes decodes further each time); after
/// it comes a newline when it does not end with one, or always on the controller
/// (`remote_src: no`, where ansible-core's action compares an int with bytes).
fn join(fragments: &[Vec<u8>], delimiter: Option<&str>, on_controller: bool) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut delim: Option<Vec<u8>> = delimiter
        .filter(|d| !d.is_empty())
        .map(|d| d.as_bytes().to_vec());
    let mut add_newline = false;
    for (n, f) in fragments.iter().enumerate() {
        if add_newline {
            out.push(b'\n');
        }
        if n > 0
            && let Some(d) = delim.as_mut()
        {
            *d = escape_decode(d).ok_or_else(|| {
                crate::error::Error::failed(format!(
                    "invalid \\x escape in delimiter '{}'",
                    delimiter.unwrap_or_default()
                ))
            })?;
            out.extend_from_slice(d);
            if on_controller || d.last() != Some(&b'\n') {
                out.push(b'\n');
            }
        }
        out.extend_from_slice(f);
        add_newline = !f.ends_with(b"\n");
    }
    Ok(out)
}

/// Whether a fragment's name is kept.
fn wanted(name: &str, re: Option<&toolkit::Regex>, ignore_hidden: bool) -> bool {
    re.is_none_or(|r| r.is_match(name)) && !(ignore_hidden && name.starts_with('.'))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// The fragments of a folder on the host, sorted by name; `Err(msg)` as the module fails.
async fn remote_fragments(
    ctx: &TaskCtx<'_>,
    src: &str,
    re: Option<&toolkit::Regex>,
    ignore_hidden: bool,
) -> Result<std::result::Result<Vec<Vec<u8>>, String>> {
    let script = format!(
        "LC_ALL=C; export LC_ALL; s={}; \
         if [ ! -e \"$s\" ]; then echo missing; exit 0; fi; \
         if [ ! -d \"$s\" ]; then echo notdir; exit 0; fi; \
         cd -- \"$s\" || exit 1; echo dir; \
         for f in .* *; do \
           case \"$f\" in .|..) continue;; esac; \
           [ -f \"$f\" ] || continue; \
           printf 'F '; printf '%s' \"$f\" | od -An -v -tx1 | tr -d ' \\n'; printf ' '; \
           od -An -v -tx1 < \"$f\" | tr -d ' \\n' || exit 1; echo; \
         done",
        quote(src)
    );
    let out = toolkit::probe::probe(ctx, script, &format!("the fragments in {src}")).await?;
    let mut lines = out.lines();
    match lines.next().unwrap_or_default().trim() {
        "missing" => return Ok(Err(format!("Source ({src}) does not exist"))),
        "notdir" => return Ok(Err(format!("Source ({src}) is not a directory"))),
        _ => {}
    }
    let mut files: Vec<(Vec<u8>, Vec<u8>)> = lines
        .filter_map(|l| l.strip_prefix("F "))
        .map(|l| {
            let (n, d) = l.split_once(' ').unwrap_or((l, ""));
            (unhex(n), unhex(d.trim()))
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Ok(files
        .into_iter()
        .filter(|(n, _)| wanted(&String::from_utf8_lossy(n), re, ignore_hidden))
        .map(|(_, d)| d)
        .collect()))
}

/// The fragments of a folder on the controller, sorted by name (vault-encrypted ones
/// decrypted when `decrypt`).
fn local_fragments(
    ctx: &TaskCtx<'_>,
    dir: &std::path::Path,
    re: Option<&toolkit::Regex>,
    ignore_hidden: bool,
    decrypt: bool,
) -> Result<Vec<Vec<u8>>> {
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(dir)
        .map_err(|e| crate::error::Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let p = dir.join(&n);
        if !p.is_file() || !wanted(&n.to_string_lossy(), re, ignore_hidden) {
            continue;
        }
        // read once (a vault-encrypted fragment decrypted), never hashed: the whole is
        let data = std::fs::read(&p).map_err(|e| crate::error::Error::io(&p, e))?;
        out.push(if decrypt && data.starts_with(b"$ANSIBLE_VAULT;") {
            ctx.render
                .vault_decrypt(&String::from_utf8_lossy(&data), &p.display().to_string())?
                .into_bytes()
        } else {
            data
        });
    }
    Ok(out)
}

#[async_trait]
impl Module for Assemble {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let (Some(src), Some(dest)) = (
            o.src.clone().filter(|s| !s.is_empty()),
            o.dest.clone().filter(|s| !s.is_empty()),
        ) else {
            return Ok(Plan::fail("src and dest are required"));
        };
        let attrs = Attrs::new(&o.attrs)?;
        let re = match &o.regexp {
            Some(r) => match py_regex(r, "") {
                Ok(re) => Some(re),
                Err(e) => {
                    return Ok(Plan::fail(format!("Invalid Regexp ({}) in \"{r}\"", e.msg)));
                }
            },
            None => None,
        };
        let dest = toolkit::expand_path(ctx, &dest).await?;
        let (fragments, src_label) = if o.remote_src {
            let src = toolkit::expand_path(ctx, &src).await?;
            match remote_fragments(ctx, &src, re.as_ref(), o.ignore_hidden).await? {
                Ok(f) => (f, src),
                Err(msg) => return Ok(Plan::fail(msg)),
            }
        } else {
            let dir = ctx.find_file("files", &src)?;
            if !dir.is_dir() {
                return Ok(Plan::fail(format!(
                    "Source ({}) is not a directory",
                    dir.display()
                )));
            }
            let f = local_fragments(ctx, &dir, re.as_ref(), o.ignore_hidden, o.decrypt)?;
            (f, dir.display().to_string())
        };
        let validate = match check_validate(o.validate.clone()) {
            Ok(v) => v,
            Err(e) => return Ok(Plan::fail(e.msg.clone())),
        };
        let data = join(&fragments, o.delimiter.as_deref(), !o.remote_src)?;
        let mut plan = plan_file(
            ctx,
            FileWrite {
                dest,
                src_name: None,
                src_label: Some(src_label),
                data: Content::Bytes(data),
                attrs,
                backup: o.backup,
                force: true,
                validate,
                follow: o.follow,
                expect_sha1: None,
            },
        )
        .await?;
        if !o.remote_src
            && let Some(d) = plan.changes.iter().find_map(|c| c.diff.as_ref())
        {
            // ansible-core's action returns one diff, a mapping (not a list)
            let mut m = vec![
                ("before", Value::from(d.before.as_str())),
                ("after", Value::from(d.after.as_str())),
            ];
            if !d.before.is_empty() {
                m.push(("before_header", result_text(&plan, "dest")));
            }
            m.push(("after_header", result_text(&plan, "src")));
            plan.result.insert("diff".into(), map_value(m));
        }
        if o.remote_src {
            // ansible-core's module returns no diff
            for c in &mut plan.changes {
                c.diff = None;
            }
            if plan.failed.is_none() {
                plan.msg = Some("OK".into());
            }
        }
        Ok(plan)
    }
}

/// The result field `key` of `plan` as text (empty when missing).
fn result_text(plan: &Plan, key: &str) -> Value {
    Value::from(
        plan.result
            .get(key)
            .map(|v| v.to_string())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_as_python_codecs_escape_decode() {
        let d =
            |s: &str| escape_decode(s.as_bytes()).map(|b| String::from_utf8_lossy(&b).into_owned());
        assert_eq!(d(r"a\nb\tc"), Some("a\nb\tc".into()));
        assert_eq!(d(r"\x41\101\\\q"), Some("AA\\\\q".into()));
        assert_eq!(d(r"\x4"), None);
        assert_eq!(d("line\\\ncont"), Some("linecont".into()));
    }

    #[test]
    fn fragments_join_with_newlines_and_delimiters_as_ansible() {
        let f = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        let s = |b: Vec<u8>| String::from_utf8(b).unwrap();
        assert_eq!(
            s(join(&f(&["a", "b\n", "c"]), None, false).unwrap()),
            "a\nb\nc"
        );
        assert_eq!(
            s(join(&f(&["a\n", "b\n"]), Some("#--"), false).unwrap()),
            "a\n#--\nb\n"
        );
        // a delimiter ending in a newline gets none more on the host, one more on the controller
        assert_eq!(
            s(join(&f(&["a\n", "b\n"]), Some("#--\\n"), false).unwrap()),
            "a\n#--\nb\n"
        );
        assert_eq!(
            s(join(&f(&["a\n", "b\n"]), Some("#--\\n"), true).unwrap()),
            "a\n#--\n\nb\n"
        );
        // decoded again before each use
        assert_eq!(
            s(join(&f(&["a\n", "b\n", "c\n"]), Some("x\\\\ty"), false).unwrap()),
            "a\nx\\ty\nb\nx\ty\nc\n"
        );
    }
}
