//! `unarchive`: unpacks a tar (plain, gz, xz, bz2, zst) or zip archive into a folder on the
//! host, from the controller or from the host itself (`remote_src`).

use crate::connection::{PutOpts, Stdin, quote};
use crate::error::{Error, Result};
use crate::modules::toolkit;
use crate::modules::{Action, Args, Diff, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;
use std::collections::HashMap;

/// The `unarchive` module.
pub struct Unarchive;

crate::options! {
    /// The `unarchive` module's options.
    pub(crate) struct Opts {
        src: String = opt::path(
            "The archive: a controller path (files/ of the role or playbook is searched), or a \
host path with remote_src.",
        )
        .required(),
        dest: String = opt::path("The folder to unpack into (it must exist).").required(),
        remote_src: bool = opt::bool("The archive is already on the host.").default("no"),
        copy: Option<bool> = opt::bool("Deprecated inverse of remote_src (`copy: no` means remote_src: yes)."),
        creates: Option<String> = opt::path("Do nothing when this path exists on the host."),
        extra_opts: Vec<String> = opt::list("More arguments for tar or unzip (e.g. `['--strip-components=1']`)."),
        list_files: bool = opt::bool("Return the archive's members in `files`.").default("no"),
        exclude: Vec<String> = opt::list("Members (globs) not to unpack."),
        include: Vec<String> = opt::list("Only unpack these members (globs)."),
        owner: Option<String> = opt::str("Owner of the unpacked files."),
        group: Option<String> = opt::str("Group of the unpacked files."),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("unarchive", "Unpack an archive")
    .description(
        "Unpacks a tar archive (`.tar`, `.tar.gz`/`.tgz`, `.tar.xz`/`.txz`, \
`.tar.bz2`/`.tbz2`, `.tar.zst`) with `tar`, or a `.zip` with `unzip`, into the existing folder \
`dest` on the host. `src` is a file on the controller (found like copy's, uploaded to a \
temporary file that is removed afterwards) or, with `remote_src`, a file on the host. The \
archive's members are listed (on the controller for a local archive, with GNU tar or unzip) \
and compared with what is in `dest`: the task is changed only when a member is missing, is of \
another type, or (regular files) has another size or, for tar, another modification time, or \
another `owner`/`group` when those are given (`--strip-components` in `extra_opts` is taken \
into account; `--transform` makes every run unpack). With `creates`, nothing is done when that path \
exists. Check mode is exact; --diff lists the members that would be written.",
    )
    .spec::<Opts>()
    .mutually_exclusive(&[&["include", "exclude"], &["copy", "remote_src"]])
    .examples(
        r#"- unarchive:
    src: app-1.2.tar.gz
    dest: /opt/app
- unarchive:
    src: /tmp/release.zip
    dest: /srv/www
    remote_src: true
    creates: /srv/www/index.html
- unarchive:
    src: node.tar.xz
    dest: /usr/local
    extra_opts: [--strip-components=1]
    owner: root
    group: root
    list_files: true
"#,
    );

/// The archive formats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Format {
    /// tar, with its compression flag.
    Tar(&'static str),
    Zip,
}

impl Format {
    /// From the file name (`None`: not an archive name prov knows).
    pub(crate) fn of(name: &str) -> Option<Format> {
        let n = name.to_ascii_lowercase();
        let tar = [
            (".tar.gz", "-z"),
            (".tgz", "-z"),
            (".tar.xz", "-J"),
            (".txz", "-J"),
            (".tar.bz2", "-j"),
            (".tbz2", "-j"),
            (".tbz", "-j"),
            (".tar.zst", "--zstd"),
            (".tzst", "--zstd"),
            (".tar", ""),
        ];
        if n.ends_with(".zip") {
            return Some(Format::Zip);
        }
        tar.iter()
            .find(|(e, _)| n.ends_with(e))
            .map(|(_, f)| Format::Tar(f))
    }
    fn handler(self) -> &'static str {
        match self {
            Format::Tar("") => "TarArchive",
            Format::Tar("-z") => "TgzArchive",
            Format::Tar("-J") => "TarXzArchive",
            Format::Tar("-j") => "TarBzipArchive",
            Format::Tar(_) => "TarZstdArchive",
            Format::Zip => "ZipArchive",
        }
    }
    /// The listing command (GNU tar with full times in UTC, or unzip).
    fn list_args(self, archive: &str) -> Vec<String> {
        match self {
            Format::Tar(f) => {
                let mut v = vec!["tar".to_string(), "-tv".into(), "--full-time".into()];
                v.push("--numeric-owner".into());
                if !f.is_empty() {
                    v.push(f.into());
                }
                v.extend(["-f".into(), archive.into()]);
                v
            }
            Format::Zip => vec!["unzip".into(), "-l".into(), "-qq".into(), archive.into()],
        }
    }
}

/// One member of an archive.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    /// Its path relative to dest (no leading `./`, no trailing `/`).
    pub name: String,
    /// `d` folder, `l` symbolic link, `h` hard link, `-` regular file, `?` regular file or
    /// symbolic link (zip).
    pub kind: char,
    pub size: u64,
    /// Modification time (seconds since the epoch, UTC), when the listing has it.
    pub mtime: Option<i64>,
}

fn clean_name(n: &str) -> String {
    let n = n.trim_start_matches("./");
    n.trim_end_matches('/').to_string()
}

/// Splits off `n` whitespace-separated words; returns them and the rest (leading blanks
/// removed, inner blanks kept).
fn words_and_rest(line: &str, n: usize) -> Option<(Vec<&str>, &str)> {
    let mut rest = line;
    let mut out = Vec::new();
    for _ in 0..n {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace)?;
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    Some((out, rest.trim_start_matches(' ')))
}

/// Parses `tar -tv --full-time --numeric-owner` output (times in UTC).
pub(crate) fn parse_tar_listing(out: &str) -> Vec<Member> {
    out.lines()
        .filter_map(|l| {
            let (w, rest) = words_and_rest(l, 5)?;
            let kind = match w[0].chars().next()? {
                'd' => 'd',
                'l' => 'l',
                'h' => 'h',
                '-' => '-',
                _ => 'o',
            };
            let name = match kind {
                'l' => rest.split(" -> ").next().unwrap_or(rest),
                'h' => rest.split(" link to ").next().unwrap_or(rest),
                _ => rest,
            };
            Some(Member {
                name: clean_name(name),
                kind,
                size: w[2].parse().unwrap_or(0),
                mtime: crate::util::time::parse_utc(w[3], w[4]),
            })
        })
        .filter(|m| !m.name.is_empty() && m.name != ".")
        .collect()
}

/// Parses `unzip -l -qq` output.
pub(crate) fn parse_zip_listing(out: &str) -> Vec<Member> {
    out.lines()
        .filter_map(|l| {
            let (w, rest) = words_and_rest(l, 3)?;
            let dir = rest.ends_with('/');
            Some(Member {
                name: clean_name(rest),
                // a zip listing does not tell links from files
                kind: if dir { 'd' } else { '?' },
                size: w[0].parse().ok()?,
                mtime: None,
            })
        })
        .filter(|m| !m.name.is_empty())
        .collect()
}

/// The members that differ from what `stat` shows in dest (`%s|%Y|%U|%G|%F|%n` lines).
pub(crate) fn differing<'a>(
    members: &'a [Member],
    stat_out: &str,
    owner: Option<&str>,
    group: Option<&str>,
) -> Vec<&'a Member> {
    let mut seen: HashMap<String, Vec<&str>> = HashMap::new();
    for l in stat_out.lines() {
        let f: Vec<&str> = l.splitn(6, '|').collect();
        if f.len() == 6 {
            seen.insert(clean_name(f[5]), f);
        }
    }
    let id_ok = |want: Option<&str>, name: &str| want.is_none_or(|w| w == name);
    members
        .iter()
        .filter(|m| {
            let Some(f) = seen.get(&m.name) else {
                return true;
            };
            let ftype = f[4];
            let type_ok = match m.kind {
                'd' => ftype == "directory",
                'l' => ftype == "symbolic link",
                '-' => ftype.starts_with("regular"),
                '?' => ftype.starts_with("regular") || ftype == "symbolic link",
                _ => true,
            };
            if !type_ok || !id_ok(owner, f[2]) || !id_ok(group, f[3]) {
                return true;
            }
            if m.kind == '-' || m.kind == '?' {
                if f[0].parse::<u64>().ok() != Some(m.size) {
                    return true;
                }
                if let Some(t) = m.mtime
                    && f[1].parse::<i64>().ok() != Some(t)
                {
                    return true;
                }
            }
            false
        })
        .collect()
}

/// The `--strip-components` count in tar's extra options.
fn strip_components(extra: &[String]) -> Option<usize> {
    let mut it = extra.iter();
    while let Some(o) = it.next() {
        if let Some(n) = o.strip_prefix("--strip-components=") {
            return n.parse().ok();
        }
        if o == "--strip-components" {
            return it.next().and_then(|n| n.parse().ok());
        }
    }
    None
}

async fn list_local(fmt: Format, path: &std::path::Path) -> Result<String> {
    let args = fmt.list_args(&path.display().to_string());
    let out = tokio::process::Command::new(&args[0])
        .args(&args[1..])
        .env("TZ", "UTC0")
        .env("LC_ALL", "C")
        .output()
        .await
        .map_err(|e| {
            Error::failed(format!(
                "unarchive: cannot list {} on the controller with {}: {e}",
                path.display(),
                args[0]
            ))
            .hint(format!(
                "install {} on the controller, or copy the archive first and use remote_src",
                if fmt == Format::Zip {
                    "unzip"
                } else {
                    "GNU tar"
                }
            ))
        })?;
    if !out.status.success() {
        return Err(Error::failed(format!(
            "unarchive: {} is not a valid {} archive: {}",
            path.display(),
            if fmt == Format::Zip { "zip" } else { "tar" },
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[async_trait]
impl Module for Unarchive {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let (src, dest) = (&o.src, &o.dest);
        let remote_src = o.remote_src || o.copy == Some(false);
        if src.contains("://") {
            return Err(Error::failed("unarchive: prov does not download archives")
                .hint("download it first with get_url, then unarchive it with remote_src: yes"));
        }
        let fmt = Format::of(src).ok_or_else(|| {
            Error::failed(format!("unarchive: cannot tell the format of '{src}'")).hint(
                "prov unpacks .tar, .tar.gz/.tgz, .tar.xz/.txz, .tar.bz2/.tbz2, .tar.zst and .zip",
            )
        })?;
        let owner = o.owner.as_deref().filter(|s| !s.is_empty());
        let group = o.group.as_deref().filter(|s| !s.is_empty());
        let tool = if fmt == Format::Zip { "unzip" } else { "tar" };
        // 1. dest, creates, the tool and (remote archives) the listing, in one round trip.
        let mut s = format!(
            "if [ -d {d} ]; then echo dest=dir; elif [ -e {d} ]; then echo dest=other; fi\n\
             command -v {tool} >/dev/null 2>&1 && echo tool=1\n",
            d = quote(dest)
        );
        let creates = o.creates.as_deref().filter(|c| !c.is_empty());
        if let Some(c) = creates {
            s.push_str(&format!("[ -e {} ] && echo creates=1\n", quote(c)));
        }
        if remote_src {
            s.push_str(&format!(
                "if [ -f {a} ]; then echo src=1; echo @@list; TZ=UTC0 LC_ALL=C {l} 2>&1 || echo '@@listfail'; fi\n",
                a = quote(src),
                l = fmt
                    .list_args(src)
                    .iter()
                    .map(|w| quote(w))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        let out = crate::modules::toolkit::probe(ctx, s, &format!("unarchive {dest}")).await?;
        let sec = crate::modules::toolkit::sections(&out);
        let head = crate::modules::toolkit::kv(sec.get("").map(String::as_str).unwrap_or(""));
        let mut plan = Plan::ok()
            .with("dest", dest.as_str())
            .with("src", src.as_str())
            .with("handler", fmt.handler());
        if head.contains_key("creates") {
            let c = creates.unwrap_or_default();
            let mut p = Plan {
                skipped: Some(format!("skipped, since {c} exists")),
                ..Plan::default()
            };
            p.result = plan.result;
            return Ok(p);
        }
        match head.get("dest").map(String::as_str) {
            Some("dir") => {}
            Some(_) => return Ok(Plan::fail(format!("dest '{dest}' must be an existing dir"))),
            None => {
                return Ok(Plan::fail(format!(
                    "dest '{dest}' must be an existing dir (create it with the file module first)"
                )));
            }
        }
        if !head.contains_key("tool") {
            return Ok(Plan::fail(format!(
                "unarchive: {tool} is not installed on {} (install the {tool} package)",
                ctx.host
            )));
        }
        let (listing, local) = if remote_src {
            if !head.contains_key("src") {
                return Ok(Plan::fail(format!("Source '{src}' does not exist")));
            }
            let l = sec.get("list").cloned().unwrap_or_default();
            if sec.contains_key("listfail") {
                let mut msg = format!("unarchive: {src} is not a valid archive: {}", l.trim());
                if l.contains("Cannot exec") {
                    msg.push_str(
                        " (install the decompressor on the host: xz-utils, bzip2 or zstd)",
                    );
                }
                return Ok(Plan::fail(msg));
            }
            (l, None)
        } else {
            let p = ctx.find_file("files", src)?;
            (list_local(fmt, &p).await?, Some(p))
        };
        let mut members = match fmt {
            Format::Zip => parse_zip_listing(&listing),
            Format::Tar(_) => parse_tar_listing(&listing),
        };
        let globs = |k: &str, pats: &[String]| -> Result<Vec<glob::Pattern>> {
            pats.iter()
                .map(|p| {
                    glob::Pattern::new(p).map_err(|e| {
                        Error::failed(format!("unarchive: bad {k} pattern '{p}': {e}"))
                    })
                })
                .collect()
        };
        let (inc, exc) = (globs("include", &o.include)?, globs("exclude", &o.exclude)?);
        let extra = &o.extra_opts;
        if !inc.is_empty() {
            members.retain(|m| inc.iter().any(|g| g.matches(&m.name)));
        }
        members.retain(|m| !exc.iter().any(|g| g.matches(&m.name)));
        if o.list_files {
            plan.result.insert(
                "files".into(),
                Value::from_iter(members.iter().map(|m| Value::from(m.name.as_str()))),
            );
        }
        // 2. Compare with dest: member names as tar/unzip will write them (--strip-components
        //    is applied here; other renaming options make every run unpack again).
        if let Some(n) = strip_components(extra) {
            members = members
                .into_iter()
                .filter_map(|mut m| {
                    let rest = m.name.split('/').skip(n).collect::<Vec<_>>().join("/");
                    (!rest.is_empty()).then(|| {
                        m.name = rest;
                        m
                    })
                })
                .collect();
        }
        let rewrites = extra.iter().any(|o| {
            o.starts_with("--transform") || o.starts_with("--xform") || o == "-j" || o == "-s"
        });
        let diff_members: Vec<&Member> = if rewrites {
            members.iter().collect()
        } else {
            let mut stat_out = String::new();
            for chunk in members.chunks(1000) {
                let mut s = format!(
                    "cd {} || exit 1\nstat -c '%s|%Y|%U|%G|%F|%n' --",
                    quote(dest)
                );
                for m in chunk {
                    s.push(' ');
                    s.push_str(&quote(&m.name));
                }
                s.push_str(" 2>/dev/null; true\n");
                stat_out.push_str(&crate::modules::toolkit::probe(ctx, s, dest).await?);
            }
            differing(&members, &stat_out, owner, group)
        };
        if diff_members.is_empty() {
            return Ok(plan);
        }
        // 3. Unpack (after uploading a local archive to a temporary file).
        let archive = match &local {
            Some(p) => {
                let tmp = format!(
                    "/tmp/.prov-unarchive-{}-{}",
                    std::process::id(),
                    &toolkit::sha256_hex(format!("{}{dest}", p.display()).as_bytes())[..12]
                );
                let tmp = format!("{tmp}{}", if fmt == Format::Zip { ".zip" } else { ".tar" });
                plan = plan.change(
                    format!("upload {} to {tmp}", p.display()),
                    None,
                    Action::Put {
                        src: Stdin::File(p.clone()),
                        dest: tmp.clone(),
                        opts: PutOpts {
                            mode: Some("0600".into()),
                            ..ctx.put_opts()
                        },
                    },
                );
                tmp
            }
            None => src.clone(),
        };
        let mut cmd: Vec<String> = match fmt {
            Format::Tar(f) => {
                let mut v = vec!["tar".to_string(), "-x".into()];
                if !f.is_empty() {
                    v.push(f.into());
                }
                v.extend(["-f".into(), archive.clone(), "-C".into(), dest.clone()]);
                v.extend(extra.iter().cloned());
                for e in &o.exclude {
                    v.push(format!("--exclude={e}"));
                }
                if !inc.is_empty() {
                    v.push("--wildcards".into());
                    v.push("--".into());
                    v.extend(o.include.iter().cloned());
                }
                v
            }
            Format::Zip => {
                let mut v = vec!["unzip".to_string(), "-o".into(), "-q".into()];
                v.extend(extra.iter().cloned());
                v.extend([archive.clone(), "-d".into(), dest.clone()]);
                v.extend(o.include.iter().cloned());
                if !o.exclude.is_empty() {
                    v.push("-x".into());
                    v.extend(o.exclude.iter().cloned());
                }
                v
            }
        };
        let mut script = format!(
            "rc=0; {} || rc=$?",
            cmd.drain(..)
                .map(|w| quote(&w))
                .collect::<Vec<_>>()
                .join(" ")
        );
        if owner.is_some() || group.is_some() {
            let spec = match (owner, group) {
                (Some(o), Some(g)) => format!("{o}:{g}"),
                (Some(o), None) => o.to_string(),
                (None, Some(g)) => format!(":{g}"),
                (None, None) => unreachable!(),
            };
            // chown clears setuid/setgid: note the files that have them, and set their modes
            // again after the change of owner.
            for chunk in members.chunks(1000) {
                // `./` first: a member named like an option or a find expression stays a name.
                let names: String = chunk
                    .iter()
                    .map(|m| format!(" {}", quote(&format!("./{}", m.name))))
                    .collect();
                script.push_str(&format!(
                    "; [ $rc -ne 0 ] || (cd {} && s=$(find{names} -maxdepth 0 -type f -perm /6000 -exec stat -c '%a %n' {{}} +) && \
                     chown -h {} --{names} && {{ [ -z \"$s\" ] || printf '%s\\n' \"$s\" | while read -r m f; do chmod \"$m\" -- \"$f\" || exit 1; done; }}) || rc=$?",
                    quote(dest),
                    quote(&spec)
                ));
            }
        }
        if local.is_some() {
            script.push_str(&format!("; rm -f -- {}", quote(&archive)));
        }
        script.push_str("; exit $rc");
        let listed: String = diff_members
            .iter()
            .map(|m| format!("{}{}\n", m.name, if m.kind == 'd' { "/" } else { "" }))
            .collect();
        Ok(plan.change(
            format!(
                "unpack {src} into {dest} ({} of {} members to write)",
                diff_members.len(),
                members.len()
            ),
            Some(Diff::new(&format!("{dest} (members)"), "", listed)),
            Action::Exec {
                cmd: ctx.cmd(script),
                capture: false,
                fail_on_rc: true,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(Format::of("a.tar.gz"), Some(Format::Tar("-z")));
        assert_eq!(Format::of("A.TGZ"), Some(Format::Tar("-z")));
        assert_eq!(Format::of("a.tar.xz"), Some(Format::Tar("-J")));
        assert_eq!(Format::of("a.tar"), Some(Format::Tar("")));
        assert_eq!(Format::of("a.zip"), Some(Format::Zip));
        assert_eq!(Format::of("a.rar"), None);
    }

    #[test]
    fn parses_listings_and_compares() {
        let t = "drwxr-xr-x 0/0               0 2026-11-26 13:28:06 ./\n\
                 lrwxrwxrwx 0/0               0 2026-11-26 13:28:06 ./l -> a.txt\n\
                 drwxr-xr-x 0/0               0 2026-11-26 13:28:06 ./sub/\n\
                 -rw-r--r-- 0/0               2 2026-11-26 13:28:06 ./sub/b c.txt\n\
                 -rw-r--r-- 1000/1000         3 1970-01-02 00:00:01 a.txt\n";
        let m = parse_tar_listing(t);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].name, "l");
        assert_eq!(m[0].kind, 'l');
        assert_eq!(m[2].name, "sub/b c.txt");
        assert_eq!(m[2].size, 2);
        assert_eq!(m[3].mtime, Some(86401));
        let z = "        0  2024-01-01 12:00   dir/\n       12  2024-01-01 12:00   dir/a b.txt\n";
        let zm = parse_zip_listing(z);
        assert_eq!(zm.len(), 2);
        assert_eq!(
            (zm[0].kind, zm[1].name.as_str(), zm[1].size),
            ('d', "dir/a b.txt", 12)
        );
        assert_eq!(zm[1].kind, '?');
        let st = "3|86401|root|root|regular file|a.txt\n0|5|root|root|directory|sub\n2|1|root|root|regular file|sub/b c.txt\n";
        let d = differing(&m, st, None, None);
        // l is missing; sub/b c.txt has another mtime
        let names: Vec<&str> = d.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["l", "sub/b c.txt"]);
        let d = differing(&m[3..], st, Some("app"), None);
        assert_eq!(d.len(), 1);
    }
}
