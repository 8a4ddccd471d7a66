//! `copy`: copies a local file, a local folder (recursively) or literal content to the host, or
//! a file already on the host (`remote_src`).

use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::args::Mode;
use crate::modules::toolkit::{
    self, Attrs, FileInfo, Kind, Write, basename, check_validate, exec, fmt_mode, join, parent_of,
    plan_write, resolve_mode, validate_mode,
};
use crate::modules::{
    Args, Change, Diff, FileAttrs, Module, ModuleDoc, Options, Plan, TaskCtx, opt,
};
use crate::value::{Value, to_json};
use async_trait::async_trait;
use minijinja::value::ValueKind;
use std::path::{Path, PathBuf};

/// The `copy` module.
pub struct Copy;

crate::options! {
    /// The `copy` module's options.
    pub(crate) struct Opts {
        src: Option<String> = opt::path("Local path of the file or folder to copy (relative paths are looked up in `files/`). A folder ending in `/` copies its contents."),
        content: Option<Value> = opt::any("Literal content to write instead of `src` (lists and mappings are written as JSON). Not shown in `invocation`, as in Ansible (no_log).").secret(),
        dest: String = opt::path("Remote path to write to (required).").default(""),
        backup: bool = opt::bool("Back up the old file to `dest.<pid>.<timestamp>~` before changing it.").default("no"),
        force: bool = opt::bool("Replace the file when its content differs; with `no`, only create it when missing.").default("yes"),
        validate: Option<String> = opt::str("Command validating the new file before it is put in place; `%s` is its temp path."),
        directory_mode: Option<Mode> = opt::mode("Mode of folders created while copying a folder."),
        remote_src: bool = opt::bool("`src` is a file on the host, not the controller.").default("no"),
        follow: bool = opt::bool("When `dest` is a link, write to its target (default: replace the link).").default("no"),
        local_follow: bool = opt::bool("Follow links in the local `src` (with `no`, a folder's links are created as links on the host).").default("yes"),
        checksum: Option<String> = opt::str("The expected SHA-1 of the content: a different one fails the task before anything is written."),
        decrypt: bool = opt::bool("Decrypt a vault-encrypted local `src` with the run's vault password.").default("yes"),
    }
    groups { attrs: FileAttrs }
}

static DOC: ModuleDoc = ModuleDoc::new("copy", "Copy files to remote locations")
    .description(
        "Copies a file or folder from the controller (searched in the role's and playbook's \
        `files/` folders), or literal `content`, to `dest` on the host. The file is written \
        atomically (a temp file in the destination folder, validated with `validate` if given, \
        then renamed). A `dest` ending in `/` or naming an existing folder receives \
        `dest/<basename of src>`. Check mode reports exactly what would change; with --diff the \
        content diff is returned. As in Ansible, the returned `checksum` is the SHA-1 of the \
        content and `md5sum` its MD5; `checksum` given as an option must match. A link at `dest` \
        is replaced unless `follow` is set. A vault-encrypted `src` is decrypted (`decrypt`).",
    )
    .spec::<Opts>()
    .examples(
        r#"- copy:
    src: motd
    dest: /etc/motd
    mode: "0644"
- copy:
    content: "hello\n"
    dest: /tmp/hello.txt
- copy:
    src: /etc/hosts
    dest: /tmp/hosts.bak
    remote_src: true
"#,
    );

/// Options shared by copy and template for writing one file.
pub(crate) struct FileWrite {
    pub dest: String,
    pub src_name: Option<String>,
    pub src_label: Option<String>,
    pub data: crate::modules::toolkit::Content,
    pub attrs: Attrs,
    pub backup: bool,
    pub force: bool,
    pub validate: Option<String>,
    /// Write through a link at dest (to its target) instead of replacing it.
    pub follow: bool,
    /// The SHA-1 the content must have.
    pub expect_sha1: Option<String>,
}

/// Ansible's failure when the content does not have the expected `checksum`.
fn checksum_mismatch(expected: Option<&str>, sha1: &str) -> Option<Plan> {
    let e = expected.filter(|e| !e.is_empty())?;
    (!e.eq_ignore_ascii_case(sha1)).then(|| {
        Plan::fail("Copied file does not match the expected checksum. Transfer failed.")
            .with("checksum", sha1)
            .with("expected_checksum", e)
    })
}

/// Where a file goes: `dest`, or `dest/<name>` when dest ends in `/` or is a folder.
/// Returns (path, its info, the dest folder to create first).
///
/// In check mode a missing parent folder is not an error: an earlier task of the same run would
/// have created it, so the file is planned as new.
fn resolve_dest(
    dest: &str,
    name: Option<&str>,
    infos: &[FileInfo],
    check_mode: bool,
) -> Result<(String, FileInfo, Option<String>)> {
    let into_dir = dest.ends_with('/') || infos[0].followed_kind() == Kind::Dir;
    if into_dir {
        let Some(name) = name else {
            return Err(Error::failed(format!(
                "can not use content with a dir as dest: {dest}"
            )));
        };
        if infos[0].exists() && infos[0].followed_kind() != Kind::Dir {
            return Err(Error::failed(format!(
                "dest {dest} ends with '/' but is not a directory"
            )));
        }
        let create = if infos[0].exists() {
            None
        } else {
            Some(dest.trim_end_matches('/').to_string())
        };
        if let Some(c) = &create
            && c.is_empty()
        {
            return Err(Error::failed("dest must not be empty"));
        }
        Ok((join(dest, name), infos[1].clone(), create))
    } else {
        let parent = infos.last().expect("parent inspected");
        if parent.followed_kind() != Kind::Dir && (!check_mode || parent.exists()) {
            return Err(Error::failed(format!(
                "Destination directory {} does not exist",
                parent_of(dest)
            ))
            .hint("create it first (file: state=directory) or end dest with '/'"));
        }
        Ok((dest.to_string(), infos[0].clone(), None))
    }
}

/// Plans writing one file (copy with src/content, template).
pub(crate) async fn plan_file(ctx: &TaskCtx<'_>, w: FileWrite) -> Result<Plan> {
    let sha1 = w.data.sha1();
    if let Some(p) = checksum_mismatch(w.expect_sha1.as_deref(), &sha1) {
        return Ok(p);
    }
    let dest = w.dest.as_str();
    let mut paths = vec![dest.to_string()];
    if let Some(n) = &w.src_name {
        paths.push(join(dest, n));
    }
    paths.push(parent_of(dest));
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let insp = toolkit::inspect(ctx, &refs, Some("sha256"), false).await?;
    let (mut path, mut info, mkdir) =
        resolve_dest(dest, w.src_name.as_deref(), &insp.files, ctx.check_mode)?;
    if w.follow && info.kind == Kind::Link && info.real_path.is_some() {
        info = info.followed();
        path = info.path.clone();
    }
    let mut plan = Plan::ok();
    if info.followed_kind() == Kind::Dir {
        return Ok(Plan::fail(format!("{path} is a directory")));
    }
    if info.exists() && info.followed_kind() != Kind::File && info.kind != Kind::Link {
        return Ok(Plan::fail(format!(
            "{path} exists and is not a regular file"
        )));
    }
    let checksum = w.data.sha256();
    plan.result
        .insert("dest".into(), Value::from(path.as_str()));
    if let Some(s) = &w.src_label {
        plan.result.insert("src".into(), Value::from(s.as_str()));
    }
    plan.result.insert("checksum".into(), Value::from(sha1));
    plan.result
        .insert("md5sum".into(), Value::from(w.data.md5()));
    if info.exists() && !w.force {
        let st = info.followed_stat();
        toolkit::file_result(
            &mut plan,
            &insp,
            &info,
            &Attrs::default(),
            st.mode,
            Some(st.size),
            "file",
        );
        plan.msg = Some("file already exists".into());
        return Ok(plan);
    }
    if let Some(d) = mkdir {
        plan.changes.push(Change {
            summary: format!("create folder {d}"),
            diff: Some(state_diff(&d, "absent", "directory")),
            action: exec(ctx, format!("mkdir -p -- {}", quote(&d)), false),
        });
    }
    // A link is replaced, not followed: its target's content is neither read nor shown.
    let before = if ctx.diff_mode
        && info.kind == Kind::File
        && info.checksum.as_deref() != Some(checksum.as_str())
    {
        Some(toolkit::read(ctx, &path).await?)
    } else {
        None
    };
    let mode = plan_write(
        ctx,
        Write {
            path: &path,
            info: &info,
            before: before.as_deref(),
            data: &w.data,
            attrs: &w.attrs,
            backup: w.backup,
            validate: w.validate,
            make_parent: None,
            uid: insp.uid,
            umask: insp.umask,
        },
        &mut plan,
    )?;
    toolkit::file_result(
        &mut plan,
        &insp,
        &info,
        &w.attrs,
        mode,
        Some(w.data.len()),
        "file",
    );
    Ok(plan)
}

/// A state diff in Ansible's style (`path: ..`, `state: ..`).
pub(crate) fn state_diff(path: &str, before: &str, after: &str) -> Diff {
    Diff::new(
        path,
        format!("path: {path}\nstate: {before}\n"),
        format!("path: {path}\nstate: {after}\n"),
    )
}

fn local_mode(p: &Path) -> Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(p)
        .map_err(|e| Error::io(p, e))?
        .permissions()
        .mode()
        & 0o7777)
}

/// The `mode` option with `preserve` replaced by the local file's mode.
fn effective_attrs(attrs: &Attrs, local: &Path) -> Result<Attrs> {
    let mut a = attrs.clone();
    if a.mode.as_deref() == Some("preserve") {
        a.mode = Some(fmt_mode(local_mode(local)?));
    }
    Ok(a)
}

fn content_bytes(v: &Value) -> Vec<u8> {
    match v.kind() {
        ValueKind::Map | ValueKind::Seq => to_json(v).to_string().into_bytes(),
        _ => crate::modules::args::value_str(v).into_bytes(),
    }
}

/// Walks a local folder: (relative path, is folder), folders before their contents, sorted.
/// Links are followed, unless `follow` is false: then they are listed apart, with their
/// targets as written (copy's `local_follow: no`).
#[allow(clippy::type_complexity)]
fn walk(root: &Path, follow: bool) -> Result<(Vec<(PathBuf, bool)>, Vec<(PathBuf, String)>)> {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    let mut out = Vec::new();
    let mut links = Vec::new();
    // each folder to walk with the (device, inode) of the folders it is in (itself included):
    // a followed link back to one of them is a circle, copied as a link (as Ansible does)
    let mut stack = vec![(PathBuf::new(), id(root).into_iter().collect::<Vec<_>>())];
    while let Some((rel, chain)) = stack.pop() {
        let dir = root.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::io(&dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for e in entries {
            let r = rel.join(e.file_name());
            let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
            let full = root.join(&r);
            let target_id = id(&full);
            // not following, a broken link, or a circle: the link itself
            if is_link
                && (!follow
                    || target_id.is_none()
                    || (full.is_dir() && target_id.is_some_and(|t| chain.contains(&t))))
            {
                let target =
                    std::fs::read_link(e.path()).map_err(|err| Error::io(e.path(), err))?;
                links.push((r, target.to_string_lossy().into_owned()));
                continue;
            }
            let is_dir = full.is_dir();
            out.push((r.clone(), is_dir));
            if is_dir {
                let mut c = chain.clone();
                c.extend(target_id);
                subdirs.push((r, c));
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok((out, links))
}

/// The folder a copied folder lands in: `dest` itself for a `src` ending in `/`, else
/// `dest/<basename of src>`.
fn dest_root(dest: &str, src: &str) -> String {
    if src.ends_with('/') {
        dest.trim_end_matches('/').to_string()
    } else {
        join(dest, basename(src))
    }
}

async fn plan_dir(
    ctx: &TaskCtx<'_>,
    o: &Opts,
    src: &str,
    local: &Path,
    attrs: &Attrs,
) -> Result<Plan> {
    let root = dest_root(&o.dest, src);
    let dir_mode = o.directory_mode.as_deref();
    if let Some(m) = dir_mode {
        validate_mode(m)?;
    }
    let (entries, links) = walk(local, o.local_follow)?;
    let mut paths = vec![root.clone()];
    for (rel, _) in &entries {
        paths.push(join(&root, &rel.to_string_lossy()));
    }
    for (rel, _) in &links {
        paths.push(join(&root, &rel.to_string_lossy()));
    }
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let insp = toolkit::inspect(ctx, &refs, Some("sha256"), false).await?;
    let mut plan = Plan::ok();
    let mut dirs = vec![(root.clone(), insp.files[0].clone())];
    let mut files = Vec::new();
    let link_infos = &insp.files[1 + entries.len()..];
    for ((rel, is_dir), info) in entries.iter().zip(&insp.files[1..]) {
        if *is_dir {
            dirs.push((join(&root, &rel.to_string_lossy()), info.clone()));
        } else {
            files.push((rel, info.clone()));
        }
    }
    for (d, info) in &dirs {
        mkdir_change(ctx, d, info, dir_mode, attrs, &mut plan)?;
    }
    if plan.failed.is_some() {
        return Ok(plan);
    }
    for (rel, info) in files {
        let lp = local.join(rel);
        let path = join(&root, &rel.to_string_lossy());
        if info.followed_kind() == Kind::Dir {
            return Ok(Plan::fail(format!("{path} is a directory")));
        }
        if info.exists() && !o.force {
            continue;
        }
        let data = crate::modules::toolkit::Content::local_source(ctx, &lp, o.decrypt)?;
        let a = effective_attrs(attrs, &lp)?;
        let before = if ctx.diff_mode
            && info.followed_kind() == Kind::File
            && info.checksum.as_deref() != Some(data.sha256().as_str())
        {
            Some(toolkit::read(ctx, &path).await?)
        } else {
            None
        };
        plan_write(
            ctx,
            Write {
                path: &path,
                info: &info,
                before: before.as_deref(),
                data: &data,
                attrs: &a,
                backup: o.backup,
                validate: o.validate.clone(),
                make_parent: None,
                uid: insp.uid,
                umask: insp.umask,
            },
            &mut plan,
        )?;
    }
    for ((rel, target), info) in links.iter().zip(link_infos) {
        let path = join(&root, &rel.to_string_lossy());
        if let Some(fail) = plan_link(ctx, &path, target, info, &mut plan) {
            return Ok(fail);
        }
    }
    plan.result.shift_remove("backup_file");
    plan.result.insert("dest".into(), Value::from(root));
    plan.result
        .insert("src".into(), Value::from(local.display().to_string()));
    plan.result.insert("state".into(), Value::from("directory"));
    Ok(plan)
}

/// One file copied on the host (remote_src): attribute changes only when the content matches,
/// else a backup (if asked) and a temp-file copy renamed into place. Returns the resulting mode.
#[allow(clippy::too_many_arguments)]
async fn remote_file(
    ctx: &TaskCtx<'_>,
    o: &Opts,
    src: &str,
    sinfo: &FileInfo,
    path: &str,
    info: &FileInfo,
    uid: u32,
    attrs: &Attrs,
    plan: &mut Plan,
) -> Result<u32> {
    let ssum = sinfo.checksum.clone().unwrap_or_default();
    let sst = sinfo.followed_stat();
    let mut a = attrs.clone();
    if a.mode.as_deref() == Some("preserve") {
        a.mode = Some(fmt_mode(sst.mode));
    }
    // A link at dest is replaced (not followed), even when its target has the same content
    // (with `follow`, `info` is the target's already).
    let same =
        info.kind != Kind::Link && info.exists() && info.checksum.as_deref() == Some(ssum.as_str());
    let st = info.followed_stat();
    if same {
        let (c, m) = toolkit::attr_change(ctx, path, st, false, &a, false, false)?;
        plan.changes.extend(c);
        return Ok(m);
    }
    let base = if info.exists() { st.mode } else { sst.mode };
    let mode = match a.mode.as_deref() {
        Some(spec) => resolve_mode(spec, base, false)?,
        None => base,
    };
    if o.backup && info.exists() {
        let b = toolkit::backup_name(path);
        plan.changes.push(Change {
            summary: format!("back up {path} to {b}"),
            diff: None,
            action: exec(
                ctx,
                format!("cp -p -- {} {}", quote(path), quote(&b)),
                false,
            ),
        });
        plan.result.insert("backup_file".into(), Value::from(b));
    }
    let mut inst = crate::connection::install::Install::new(path);
    inst.mode = Some(fmt_mode(mode));
    inst.owner = a.owner.clone();
    inst.group = a.group.clone();
    if info.exists() && uid == 0 {
        inst.owner.get_or_insert_with(|| st.uid.to_string());
        inst.group.get_or_insert_with(|| st.gid.to_string());
    }
    inst.validate = o.validate.clone();
    // As Ansible's copy: the copy gets the source's ACL and extended attributes, not dest's.
    inst.attrs_from = Some(src.to_string());
    let script = inst.script(&format!("cat -- {} > \"$f\"", quote(src)));
    let diff = if ctx.diff_mode {
        // The temp file is renamed over `path`: a link there is replaced, so its target's
        // content is neither read nor shown.
        let before = if info.kind == Kind::File {
            toolkit::read(ctx, path).await?
        } else {
            vec![]
        };
        let after = toolkit::read(ctx, src).await?;
        let mut d = match (String::from_utf8(before), String::from_utf8(after)) {
            (Ok(b), Ok(a)) => Diff::new(path, b, a),
            _ => Diff::new(
                path,
                "(binary file)\n",
                format!("(binary file, sha1 {ssum})\n"),
            ),
        };
        if let Some(h) = toolkit::link_header(info) {
            d.before_header = h;
        }
        Some(d)
    } else {
        None
    };
    let summary = if info.exists() {
        let old = info
            .checksum
            .as_deref()
            .map(|s| &s[..s.len().min(12)])
            .unwrap_or("?");
        format!(
            "update {path} from {src} (sha1 {old}.. -> {}..)",
            &ssum[..ssum.len().min(12)]
        )
    } else {
        format!("create {path} from {src} (mode {})", fmt_mode(mode))
    };
    plan.changes.push(Change {
        summary,
        diff,
        action: exec(ctx, script, false),
    });
    Ok(mode)
}

/// Lists a folder on the host: (relative path, is folder), sorted so folders precede contents.
async fn remote_walk(ctx: &TaskCtx<'_>, dir: &str) -> Result<Vec<(String, bool)>> {
    let out = ctx
        .run(format!(
            "cd {} && find . -mindepth 1 \\( -type d -exec printf 'd %s\\n' {{}} + \\) -o \\( ! -type d -exec printf 'f %s\\n' {{}} + \\)",
            quote(dir)
        ))
        .await?;
    if out.rc != 0 {
        return Err(Error::failed(format!(
            "could not list {dir}: {}",
            out.stderr_str().trim()
        )));
    }
    let mut v: Vec<(String, bool)> = out
        .stdout_str()
        .lines()
        .filter_map(|l| {
            let (t, p) = l.split_once(' ')?;
            Some((p.strip_prefix("./")?.to_string(), t == "d"))
        })
        .collect();
    v.sort();
    Ok(v)
}

async fn plan_remote_dir(ctx: &TaskCtx<'_>, o: &Opts, src: &str, attrs: &Attrs) -> Result<Plan> {
    let root = dest_root(&o.dest, src);
    let dir_mode = o.directory_mode.as_deref();
    if let Some(m) = dir_mode {
        validate_mode(m)?;
    }
    let entries = remote_walk(ctx, src).await?;
    let mut paths = vec![root.clone()];
    for (rel, _) in &entries {
        paths.push(join(&root, rel));
    }
    for (rel, _) in &entries {
        paths.push(join(src, rel));
    }
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let insp = toolkit::inspect(ctx, &refs, Some("sha1"), false).await?;
    let n = entries.len();
    let mut plan = Plan::ok();
    let mut dirs = vec![(root.clone(), insp.files[0].clone())];
    let mut files = Vec::new();
    let mut links = Vec::new();
    for (i, (rel, is_dir)) in entries.iter().enumerate() {
        let (d, s) = (&insp.files[1 + i], &insp.files[1 + n + i]);
        if *is_dir {
            dirs.push((join(&root, rel), d.clone()));
        } else if s.kind == Kind::Link && !o.local_follow {
            // local_follow=no: a link is copied as a link (its target as it is)
            links.push((
                join(&root, rel),
                s.link_target.clone().unwrap_or_default(),
                d,
            ));
        } else if s.followed_kind() == Kind::File {
            files.push((join(src, rel), s.clone(), join(&root, rel), d.clone()));
        }
    }
    for (d, info) in &dirs {
        mkdir_change(ctx, d, info, dir_mode, attrs, &mut plan)?;
    }
    if plan.failed.is_some() {
        return Ok(plan);
    }
    for (s, sinfo, d, info) in files {
        if info.followed_kind() == Kind::Dir {
            return Ok(Plan::fail(format!("{d} is a directory")));
        }
        if info.exists() && !o.force {
            continue;
        }
        remote_file(ctx, o, &s, &sinfo, &d, &info, insp.uid, attrs, &mut plan).await?;
    }
    for (path, target, info) in links {
        if let Some(fail) = plan_link(ctx, &path, &target, info, &mut plan) {
            return Ok(fail);
        }
    }
    plan.result.shift_remove("backup_file");
    plan.result.insert("dest".into(), Value::from(root));
    plan.result.insert("src".into(), Value::from(src));
    plan.result.insert("state".into(), Value::from("directory"));
    Ok(plan)
}

/// Plans a symlink `path` -> `target` copied as a link (nothing when it is already that link);
/// the failed plan when a folder is in the way.
fn plan_link(
    ctx: &TaskCtx<'_>,
    path: &str,
    target: &str,
    info: &FileInfo,
    plan: &mut Plan,
) -> Option<Plan> {
    if info.kind == Kind::Link && info.link_target.as_deref() == Some(target) {
        return None;
    }
    if info.kind == Kind::Dir {
        return Some(Plan::fail(format!("{path} is a directory")));
    }
    plan.changes.push(Change {
        summary: format!("link {path} -> {target}"),
        diff: Some(state_diff(path, info.kind.state_name(), "link")),
        action: exec(
            ctx,
            format!("ln -sfn -- {} {}", quote(target), quote(path)),
            false,
        ),
    });
    None
}

/// Plans creating folder `d` (with `directory_mode`) when missing; fails the plan when
/// something else is there. The task's `owner` and `group` apply to every folder of a copied
/// tree, new or existing (as Ansible's copy does: the file module on each folder for a local
/// `src`, a recursive chown of the result for `remote_src`).
fn mkdir_change(
    ctx: &TaskCtx<'_>,
    d: &str,
    info: &FileInfo,
    dir_mode: Option<&str>,
    attrs: &Attrs,
    plan: &mut Plan,
) -> Result<()> {
    let owner_group = Attrs {
        mode: None,
        ..attrs.clone()
    };
    match info.followed_kind() {
        Kind::Dir => {
            let (c, _) = toolkit::attr_change(
                ctx,
                d,
                info.followed_stat(),
                true,
                &owner_group,
                false,
                false,
            )?;
            plan.changes.extend(c);
        }
        Kind::Missing => {
            let mut script = format!("mkdir -p -- {}", quote(d));
            let mut after = "directory".to_string();
            if let Some(o) = &owner_group.owner {
                script.push_str(&format!(" && chown {} -- {}", quote(o), quote(d)));
                after.push_str(&format!("\nowner: '{o}'"));
            }
            if let Some(g) = &owner_group.group {
                script.push_str(&format!(" && chgrp {} -- {}", quote(g), quote(d)));
                after.push_str(&format!("\ngroup: '{g}'"));
            }
            if let Some(m) = dir_mode {
                let m = resolve_mode(m, 0o755, true)?;
                script.push_str(&format!(
                    " && chmod {} -- {}",
                    toolkit::chmod_arg(m),
                    quote(d)
                ));
                after.push_str(&format!("\nmode: '{}'", fmt_mode(m)));
            }
            plan.changes.push(Change {
                summary: format!("create folder {d}"),
                diff: Some(state_diff(d, "absent", &after)),
                action: exec(ctx, script, false),
            });
        }
        _ => plan.failed = Some(format!("{d} exists and is not a directory")),
    }
    Ok(())
}

async fn plan_remote_src(ctx: &TaskCtx<'_>, o: &Opts, src: &str, attrs: &Attrs) -> Result<Plan> {
    let dest = &o.dest;
    let name = basename(src).to_string();
    let paths = [
        src.to_string(),
        dest.clone(),
        join(dest, &name),
        parent_of(dest),
    ];
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let insp = toolkit::inspect(ctx, &refs, Some("sha1"), false).await?;
    let sinfo = &insp.files[0];
    match sinfo.followed_kind() {
        Kind::File => {}
        Kind::Missing => return Ok(Plan::fail(format!("Source {src} not found"))),
        Kind::Dir => return plan_remote_dir(ctx, o, src, attrs).await,
        _ => {
            return Ok(Plan::fail(format!(
                "Cannot copy invalid source '{src}': not a file"
            )));
        }
    }
    if sinfo.checksum.is_none() {
        return Ok(Plan::fail(format!("Source {src} is not readable")));
    }
    let (mut path, mut info, mkdir) =
        resolve_dest(dest, Some(&name), &insp.files[1..], ctx.check_mode)?;
    if o.follow && info.kind == Kind::Link && info.real_path.is_some() {
        info = info.followed();
        path = info.path.clone();
    }
    if info.followed_kind() == Kind::Dir {
        return Ok(Plan::fail(format!("{path} is a directory")));
    }
    let ssum = sinfo.checksum.clone().unwrap_or_default();
    if let Some(p) = checksum_mismatch(o.checksum.as_deref(), &ssum) {
        return Ok(p);
    }
    let mut plan = Plan::ok()
        .with("dest", path.as_str())
        .with("src", src)
        .with("checksum", ssum.as_str());
    let sst = sinfo.followed_stat();
    if info.exists() && !o.force {
        let st = info.followed_stat();
        toolkit::file_result(
            &mut plan,
            &insp,
            &info,
            &Attrs::default(),
            st.mode,
            Some(st.size),
            "file",
        );
        return Ok(plan);
    }
    if let Some(d) = mkdir {
        plan.changes.push(Change {
            summary: format!("create folder {d}"),
            diff: Some(state_diff(&d, "absent", "directory")),
            action: exec(ctx, format!("mkdir -p -- {}", quote(&d)), false),
        });
    }
    let mode = remote_file(ctx, o, src, sinfo, &path, &info, insp.uid, attrs, &mut plan).await?;
    let a = Attrs {
        mode: None,
        ..attrs.clone()
    };
    toolkit::file_result(&mut plan, &insp, &info, &a, mode, Some(sst.size), "file");
    Ok(plan)
}

#[async_trait]
impl Module for Copy {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let mut o = Opts::from_args(args)?;
        // Ansible's checks (and messages), in its order: an empty src counts as none.
        let has_src = o.src.as_deref().is_some_and(|s| !s.is_empty());
        let fail = |m: &str| Ok(Plan::fail(m));
        if !has_src && o.content.is_none() {
            return fail("src (or content) is required");
        }
        if o.dest.is_empty() {
            return fail("dest is required");
        }
        if has_src && o.content.is_some() {
            return fail("src and content are mutually exclusive");
        }
        let attrs = Attrs::new(&o.attrs)?;
        o.validate = check_validate(o.validate)?;
        // `dest` (and a remote `src`) are paths: `~` and `$VARS` expand on the host.
        o.dest = toolkit::expand_path(ctx, &o.dest).await?;
        if o.remote_src
            && let Some(s) = &o.src
        {
            o.src = Some(toolkit::expand_path(ctx, s).await?);
        }
        let dest = o.dest.clone();
        if let Some(c) = &o.content {
            if dest.ends_with('/') {
                return fail("can not use content with a dir as dest");
            }
            if attrs.mode.as_deref() == Some("preserve") {
                return Err(Error::failed("mode=preserve needs src, not content"));
            }
            return plan_file(
                ctx,
                FileWrite {
                    dest,
                    src_name: None,
                    src_label: None,
                    data: crate::modules::toolkit::Content::Bytes(content_bytes(c)),
                    attrs,
                    backup: o.backup,
                    force: o.force,
                    validate: o.validate,
                    follow: o.follow,
                    expect_sha1: o.checksum,
                },
            )
            .await;
        }
        let src = o.src.clone().unwrap_or_default();
        if o.remote_src {
            return plan_remote_src(ctx, &o, &src, &attrs).await;
        }
        let local = ctx.find_file("files", &src)?;
        if local.is_dir() {
            return plan_dir(ctx, &o, &src, &local, &attrs).await;
        }
        let data = crate::modules::toolkit::Content::local_source(ctx, &local, o.decrypt)?;
        let attrs = effective_attrs(&attrs, &local)?;
        plan_file(
            ctx,
            FileWrite {
                dest,
                src_name: Some(basename(&src).to_string()),
                src_label: Some(local.display().to_string()),
                data,
                attrs,
                backup: o.backup,
                force: o.force,
                validate: o.validate,
                follow: o.follow,
                expect_sha1: o.checksum,
            },
        )
        .await
    }
}
