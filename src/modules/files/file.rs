//! `file`: manages files, folders, links and their attributes.

use super::copy::state_diff;
use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::toolkit::{
    self, Attrs, FileInfo, Kind, StatData, attr_change, attr_change_deep, exec, fmt_mode, join,
    owner_matches, parent_of, resolve_mode,
};
use crate::modules::{
    Args, Change, Diff, FileAttrs, Module, ModuleDoc, Options, Plan, TaskCtx, opt,
};
use crate::value::{Value, Vars, vars_value};
use async_trait::async_trait;

/// The `file` module.
pub struct File;

crate::options! {
    /// The `file` module's options.
    pub(crate) struct Opts {
        path: String = opt::path("Path to manage.").required().aliases(&["dest", "name"]),
        state: Option<String> = opt::str("What the path should be. Default: its current state if it exists, else `file`.").choices(&["absent", "directory", "file", "hard", "link", "touch"]),
        recurse: bool = opt::bool("With state=directory, apply mode/owner/group to everything below too.").default("no"),
        src: Option<String> = opt::path("Target of the link (state=link/hard). A relative target is relative to the link's folder."),
        force: bool = opt::bool("Create links even if the target does not exist, or replace a file (or empty folder) by a link.").default("no"),
        follow: bool = opt::bool("Apply attributes to the target of a link rather than the link itself.").default("yes"),
        access_time: Option<String> = opt::str("`now`, `preserve` or a time in `access_time_format`. Default: `now` with state=touch, else `preserve`."),
        modification_time: Option<String> = opt::str("`now`, `preserve` or a time in `modification_time_format`. Default: `now` with state=touch, else `preserve`."),
        access_time_format: String = opt::str("The strftime format of `access_time` (the host's local time).").default("%Y%m%d%H%M.%S"),
        modification_time_format: String = opt::str("The strftime format of `modification_time` (the host's local time).").default("%Y%m%d%H%M.%S"),
        _diff_peek: Option<bool> = opt::bool("Internal (Ansible's action plugins): only report whether the file looks binary (`appears_binary`)."),
        _original_basename: Option<String> = opt::str("Internal: the name a file gets inside a folder given as `path`."),
    }
    groups { attrs: FileAttrs }
}

static DOC: ModuleDoc = ModuleDoc::new("file", "Manage files and file properties")
    .description(
        "Makes sure a path is a file, a folder (created with its parents), a symbolic or \
        hard link, an empty file (`touch`) or absent (removed recursively), with the given mode, \
        owner and group. Check mode reports exactly what would change; diffs show the state and \
        attribute changes. `touch` always reports a change (the timestamps are updated) unless \
        both `access_time` and `modification_time` are `preserve`.",
    )
    .spec::<Opts>()
    .examples(
        r#"- file:
    path: /srv/app
    state: directory
    mode: "0755"
- file:
    src: /srv/app/releases/42
    dest: /srv/app/current
    state: link
- file:
    path: /tmp/junk
    state: absent
"#,
    );

/// A mode as Ansible's `diff` return value shows it (`0644`, `04755`).
fn diff_mode(m: u32) -> Value {
    Value::from(format!("0{:03o}", m & 0o7777))
}

/// The state Ansible reports for an existing object (`hard`: a file with several links).
fn prev_state(info: &FileInfo) -> &'static str {
    match info.kind {
        Kind::File if info.stat.nlink > 1 => "hard",
        k => k.state_name(),
    }
}

/// What is below folder `path` (Ansible's `path_content` in the diff of a removal): its
/// folders and files, as full paths.
async fn path_content(ctx: &TaskCtx<'_>, path: &str) -> Result<Value> {
    let out = ctx
        .run(format!(
            "find {} -mindepth 1 \\( -type d -printf 'd %p\\n' \\) -o -printf 'f %p\\n'",
            quote(path)
        ))
        .await?;
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    for line in out.stdout_str().lines() {
        match line.split_once(' ') {
            Some(("d", p)) => dirs.push(Value::from(p)),
            Some((_, p)) => files.push(Value::from(p)),
            None => {}
        }
    }
    Ok(crate::value::map_value([
        ("directories", Value::from(dirs)),
        ("files", Value::from(files)),
    ]))
}

/// Ansible's `_diff_peek`: whether the file's first 8 KiB have a NUL byte (an unreadable file
/// counts as text). Changes nothing.
async fn diff_peek(ctx: &TaskCtx<'_>, path: &str) -> Result<Plan> {
    let q = quote(path);
    let out = ctx
        .run(format!(
            "a=$(head -c 8192 -- {q} 2>/dev/null | wc -c); \
             b=$(head -c 8192 -- {q} 2>/dev/null | tr -d '\\000' | wc -c); \
             [ \"$a\" = \"$b\" ] && echo text || echo binary"
        ))
        .await?;
    Ok(Plan::ok()
        .with("path", path)
        .with("appears_binary", out.stdout_str().trim() == "binary"))
}

fn ancestors(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut p = parent_of(path);
    while p != "/" && p != "." && !p.is_empty() {
        out.push(p.clone());
        p = parent_of(&p);
    }
    out.reverse();
    out
}

/// ` && chown ... && chgrp ... && chmod ...` for a path just created. Ownership first: changing
/// the owner or group clears the setuid/setgid bits a chmod before it would have set.
fn attr_script(path: &str, attrs: &Attrs, mode: Option<u32>) -> String {
    let mut s = String::new();
    if let Some(o) = &attrs.owner {
        s.push_str(&format!(" && chown {} -- {}", quote(o), quote(path)));
    }
    if let Some(g) = &attrs.group {
        s.push_str(&format!(" && chgrp {} -- {}", quote(g), quote(path)));
    }
    if let Some(m) = mode {
        s.push_str(&format!(
            " && chmod {} -- {}",
            quote(&toolkit::chmod_arg(m)),
            quote(path)
        ));
    }
    s
}

/// The time to give `touch` for option `key` (`access_time`, `modification_time`) set to `v`
/// in `format`: `now`, a `touch -t` stamp (`YYYYMMDDhhmm.SS`, the host's local time) or none
/// (`preserve`; the default except with state=touch).
fn time_arg(v: Option<&str>, format: &str, key: &str, state: &str) -> Result<Option<String>> {
    match v {
        None if state == "touch" => Ok(Some("now".into())),
        None | Some("preserve") => Ok(None),
        Some("now") => Ok(Some("now".into())),
        Some(t) => {
            let dt = jiff::fmt::strtime::parse(format, t)
                .and_then(|b| b.to_datetime())
                .map_err(|_| {
                    Error::failed(format!(
                        "Error while obtaining timestamp for time {t} using format {format}: \
                         time data '{t}' does not match format '{format}'"
                    ))
                    .hint(format!(
                        "{key} must be 'now', 'preserve' or a time in {format}"
                    ))
                })?;
            Ok(Some(dt.strftime("%Y%m%d%H%M.%S").to_string()))
        }
    }
}

/// `YYYYMMDDhhmm.SS` as `date -d` reads it (`YYYY-MM-DD hh:mm:ss`).
fn date_arg(stamp: &str) -> String {
    let d = |a: usize, b: usize| stamp.get(a..b).unwrap_or("00");
    format!(
        "{}-{}-{} {}:{}:{}",
        d(0, 4),
        d(4, 6),
        d(6, 8),
        d(8, 10),
        d(10, 12),
        d(13, 15)
    )
}

/// Whether setting the times would change an existing path, as Ansible decides it: `now`
/// always does; explicit times only when they differ from the current ones (compared to the
/// sub-second on the host, converted in its local time). With it, the `(key, before, after)`
/// pairs of the `diff` return value (`after` is the time asked for; `now`: the current time).
async fn times_differ(
    ctx: &TaskCtx<'_>,
    path: &str,
    follow: bool,
    atime: Option<&str>,
    mtime: Option<&str>,
) -> Result<(bool, Vec<(&'static str, Value, Value)>)> {
    if atime == Some("now") || mtime == Some("now") {
        return Ok((true, Vec::new()));
    }
    let l = if follow { "-L " } else { "" };
    let mut script = format!("stat {l}-c '%.9X %.9Y' -- {}", quote(path));
    for t in [atime, mtime].into_iter().flatten() {
        script.push_str(&format!("; date -d {} +%s", quote(&date_arg(t))));
    }
    let out = ctx.run(script).await?;
    let nums: Vec<f64> = out
        .stdout_str()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    if out.rc != 0 || nums.len() < 2 {
        return Ok((true, Vec::new()));
    }
    let mut want = nums[2..].iter();
    let mut differ = false;
    let mut pairs = Vec::new();
    for (key, given, current) in [("atime", atime, nums[0]), ("mtime", mtime, nums[1])] {
        if given.is_none() {
            continue;
        }
        let w = want.next().copied();
        if w != Some(current) {
            differ = true;
            pairs.push((key, Value::from(current), Value::from(w.unwrap_or(current))));
        }
    }
    Ok((differ, pairs))
}

/// The `touch` commands setting the given times (one per option: `-a -t X -m -t Y` is not
/// portable).
fn touch_script(path: &str, link: bool, atime: Option<&str>, mtime: Option<&str>) -> String {
    let h = if link { "-h " } else { "" };
    if atime == Some("now") && mtime == Some("now") {
        // one plain touch: a user who may write the file but does not own it may set both
        // times to now, not one alone
        return format!("touch {h}-- {}", quote(path));
    }
    [("-a", atime), ("-m", mtime)]
        .iter()
        .filter_map(|(flag, t)| match t {
            Some("now") => Some(format!("touch {h}{flag} -- {}", quote(path))),
            Some(ts) => Some(format!(
                "touch {h}{flag} -t {} -- {}",
                quote(ts),
                quote(path)
            )),
            None => None,
        })
        .collect::<Vec<_>>()
        .join(" && ")
}

/// Any entry below `path` whose attributes differ from `attrs`.
async fn below_differs(ctx: &TaskCtx<'_>, path: &str, attrs: &Attrs, follow: bool) -> Result<bool> {
    // following links: their targets count (find -L stats them; broken links stay links)
    let l = if follow { "-L " } else { "" };
    let out = ctx
        .run(format!(
            "find {l}{} -mindepth 1 ! -type l -exec stat -L -c '%a|%u|%g|%U|%G|%F' -- {{}} +",
            quote(path)
        ))
        .await?;
    if out.rc != 0 {
        return Err(Error::failed(format!(
            "could not list {path}: {}",
            out.stderr_str().trim()
        )));
    }
    for line in out.stdout_str().lines() {
        let f: Vec<&str> = line.splitn(6, '|').collect();
        if f.len() < 6 {
            continue;
        }
        let mode = u32::from_str_radix(f[0], 8).unwrap_or(0);
        if let Some(spec) = &attrs.mode
            && resolve_mode(spec, mode, f[5] == "directory")? != mode
        {
            return Ok(true);
        }
        let matches = |want: &str, name: &str, id: &str| match want.parse::<u32>() {
            Ok(n) => id.parse::<u32>().ok() == Some(n),
            Err(_) => want == name,
        };
        if attrs
            .owner
            .as_deref()
            .is_some_and(|o| !matches(o, f[3], f[1]))
            || attrs
                .group
                .as_deref()
                .is_some_and(|g| !matches(g, f[4], f[2]))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

struct Ctx<'a, 'b> {
    ctx: &'a TaskCtx<'b>,
    path: String,
    attrs: Attrs,
    plan: Plan,
    /// Owner and group of objects the commands create.
    creator: (String, String),
    /// Ansible's `diff` return value (diff mode only): `before`/`after` maps of what changes.
    dbefore: Vars,
    dafter: Vars,
    /// The state asked for (`touch` reports `file`).
    op: String,
    /// Follow links (a recursive change follows those below too).
    follow: bool,
}

impl Ctx<'_, '_> {
    fn push(&mut self, summary: String, diff: Option<Diff>, script: String) {
        self.plan.changes.push(Change {
            summary,
            diff,
            action: exec(self.ctx, script, false),
        });
    }
    /// Sets explicit access/modification times (`now` or a time) when the object's differ, or
    /// always when it is `created` by an earlier change of the plan.
    async fn set_times(
        &mut self,
        summary: String,
        created: bool,
        link: bool,
        atime: Option<&str>,
        mtime: Option<&str>,
    ) -> Result<()> {
        if atime.is_none() && mtime.is_none() {
            return Ok(());
        }
        let differ = if created {
            true
        } else {
            let (differ, pairs) = times_differ(self.ctx, &self.path, !link, atime, mtime).await?;
            for (k, b, a) in pairs {
                self.diff_pair(k, b, a);
            }
            differ
        };
        if differ {
            let script = touch_script(&self.path, link, atime, mtime);
            self.push(summary, None, script);
        }
        Ok(())
    }
    /// Attribute changes on an existing object; returns the resulting mode.
    fn attrs_on(&mut self, st: &StatData, is_dir: bool, link: bool, recurse: bool) -> Result<u32> {
        let (c, m) = attr_change_deep(
            self.ctx,
            &self.path,
            st,
            is_dir,
            &self.attrs,
            link,
            recurse,
            self.follow,
        )?;
        self.plan.changes.extend(c);
        if m & 0o7777 != st.mode & 0o7777 {
            self.diff_pair("mode", diff_mode(st.mode), diff_mode(m));
        }
        let id = |want: &str| match want.parse::<u32>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::from(want),
        };
        if let Some(o) = self.attrs.owner.clone()
            && !owner_matches(&o, &st.owner, st.uid)
        {
            self.diff_pair("owner", Value::from(st.uid), id(&o));
        }
        if let Some(g) = self.attrs.group.clone()
            && !owner_matches(&g, &st.group, st.gid)
        {
            self.diff_pair("group", Value::from(st.gid), id(&g));
        }
        Ok(m)
    }
    /// One key of the `diff` return value.
    fn diff_pair(&mut self, key: &str, before: Value, after: Value) {
        self.dbefore.insert(key.into(), before);
        self.dafter.insert(key.into(), after);
    }
    fn result(&mut self, state: &str, mode: Option<u32>, st: Option<&StatData>) {
        let r = &mut self.plan.result;
        // Ansible names the path `dest` for touch and links, `path` otherwise
        let key = match self.op.as_str() {
            "touch" | "link" | "hard" => "dest",
            _ => "path",
        };
        r.insert(key.into(), Value::from(self.path.as_str()));
        r.insert("state".into(), Value::from(state));
        if let Some(m) = mode {
            r.insert("mode".into(), Value::from(fmt_mode(m)));
        }
        if let Some(st) = st {
            r.insert(
                "owner".into(),
                Value::from(self.attrs.owner.clone().unwrap_or_else(|| st.owner.clone())),
            );
            r.insert(
                "group".into(),
                Value::from(self.attrs.group.clone().unwrap_or_else(|| st.group.clone())),
            );
            r.insert("uid".into(), Value::from(st.uid));
            r.insert("gid".into(), Value::from(st.gid));
            r.insert("size".into(), Value::from(st.size));
        } else if state != "absent" {
            let (u, g) = self.creator.clone();
            r.insert(
                "owner".into(),
                Value::from(self.attrs.owner.clone().unwrap_or(u)),
            );
            r.insert(
                "group".into(),
                Value::from(self.attrs.group.clone().unwrap_or(g)),
            );
        }
    }
}

#[async_trait]
impl Module for File {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let warnings = if ctx.check_mode {
            missing_owners(ctx, o.attrs.owner.as_deref(), o.attrs.group.as_deref()).await?
        } else {
            Vec::new()
        };
        let mut plan = plan_file(ctx, o).await?;
        if !warnings.is_empty() {
            plan.result.insert("warnings".into(), Value::from(warnings));
        }
        Ok(plan)
    }
}

/// In check mode, Ansible warns about an owner or group that does not exist (yet): a task
/// before would create it in a real run.
async fn missing_owners(
    ctx: &TaskCtx<'_>,
    owner: Option<&str>,
    group: Option<&str>,
) -> Result<Vec<Value>> {
    if owner.is_none() && group.is_none() {
        return Ok(Vec::new());
    }
    let mut script = String::from("true");
    for (db, name, tag) in [("passwd", owner, "user"), ("group", group, "group")] {
        if let Some(n) = name {
            script.push_str(&format!(
                "; getent {db} {} >/dev/null 2>&1 || echo {tag}",
                quote(n)
            ));
        }
    }
    let out = ctx.run(script).await?;
    let missing = out.stdout_str();
    let mut v = Vec::new();
    for (tag, name) in [("user", owner), ("group", group)] {
        let Some(n) = name else { continue };
        if !missing.lines().any(|l| l == tag) {
            continue;
        }
        let what = match (n.parse::<u32>().is_ok(), tag) {
            (true, "user") => format!("user with uid {n}"),
            (true, _) => format!("group with gid {n}"),
            (false, _) => format!("{tag} {n}"),
        };
        v.push(Value::from(format!(
            "failed to look up {what}. Create {tag} up to this point in real play"
        )));
    }
    Ok(v)
}

/// The `file` module's plan.
async fn plan_file(ctx: &TaskCtx<'_>, o: Opts) -> Result<Plan> {
    let raw = toolkit::expand_path(ctx, &o.path).await?;
    if raw.is_empty() {
        return Err(Error::failed("file: path must not be empty"));
    }
    let path = if raw.len() > 1 {
        raw.trim_end_matches('/').to_string()
    } else {
        raw.clone()
    };
    if o._diff_peek.is_some() {
        return diff_peek(ctx, &path).await;
    }
    let attrs = Attrs::new(&o.attrs)?;
    if attrs.mode.as_deref() == Some("preserve") {
        return Err(Error::failed(
            "mode=preserve is only supported by copy and template",
        ));
    }
    let (src, follow, force, recurse) = (o.src, o.follow, o.force, o.recurse);
    let state_arg = o.state;
    // a relative symlink target is relative to the link's folder (hard links: to the cwd)
    let link_src = src.as_deref().map(|s| match state_arg.as_deref() {
        Some("hard") => s.to_string(),
        _ if !s.starts_with('/') => join(&parent_of(&path), s),
        _ => s.to_string(),
    });
    let mut paths = vec![path.clone()];
    if let Some(s) = &link_src {
        paths.push(s.clone());
    }
    let anc = ancestors(&path);
    paths.extend(anc.iter().cloned());
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let insp = toolkit::inspect(ctx, &refs, None, false).await?;
    let info: FileInfo = insp.files[0].clone();
    let src_info = link_src.as_ref().map(|_| insp.files[1].clone());
    let anc_info = &insp.files[if link_src.is_some() { 2 } else { 1 }..];

    let state = match state_arg.as_deref() {
        Some(s) => s.to_string(),
        None if recurse => "directory".into(),
        // an existing path keeps its kind; a link is judged by its target when following
        None if info.exists() => match (info.kind, follow, info.followed_kind()) {
            (Kind::Link, _, _) if src.is_some() => "link".into(),
            (Kind::Link, true, Kind::Dir) | (Kind::Dir, _, _) => "directory".into(),
            (Kind::Link, true, Kind::File) => "file".into(),
            (Kind::Link, _, _) => "link".into(),
            _ => "file".into(),
        },
        None => "file".into(),
    };
    // state=link without src keeps an existing link's target (attributes only)
    let (src, src_info) = match (state.as_str(), &src, info.kind) {
        ("link", None, Kind::Link) => (info.link_target.clone(), Some(info.clone())),
        _ => (src, src_info),
    };
    if (state == "link" || state == "hard") && src.is_none() {
        let what = if state == "link" {
            "symlinks"
        } else {
            "hardlinks"
        };
        return Ok(Plan::fail(format!(
            "src is required for creating new {what}"
        )));
    }
    if recurse && state != "directory" {
        return Ok(
            Plan::fail("recurse option requires state to be 'directory'")
                .with("path", path.as_str()),
        );
    }
    if src.as_deref().is_some_and(|s| !s.is_empty()) && state != "link" && state != "hard" {
        return Ok(
            Plan::fail("src option requires state to be 'link' or 'hard'")
                .with("path", path.as_str()),
        );
    }
    let atime = time_arg(
        o.access_time.as_deref(),
        &o.access_time_format,
        "access_time",
        &state,
    )?;
    let mtime = time_arg(
        o.modification_time.as_deref(),
        &o.modification_time_format,
        "modification_time",
        &state,
    )?;
    let mut c = Ctx {
        ctx,
        path: path.clone(),
        attrs,
        plan: Plan::ok(),
        creator: (insp.user.clone(), insp.group.clone()),
        dbefore: Vars::new(),
        dafter: Vars::new(),
        op: state.clone(),
        follow,
    };
    c.diff_pair(
        "path",
        Value::from(path.as_str()),
        Value::from(path.as_str()),
    );
    let prev = if info.exists() {
        prev_state(&info)
    } else {
        "absent"
    };
    if prev != state {
        c.diff_pair("state", Value::from(prev), Value::from(state.as_str()));
        if ctx.diff_mode && state == "absent" && info.kind == Kind::Dir {
            let content = path_content(ctx, &path).await?;
            c.dbefore.insert("path_content".into(), content);
        }
    }
    let q = quote(&path);
    // attributes of a link apply to its target when following, else to the link itself
    let eff_kind = if follow {
        info.followed_kind()
    } else {
        info.kind
    };
    let eff_stat = if follow {
        info.followed_stat().clone()
    } else {
        info.stat.clone()
    };
    let is_link_self = info.kind == Kind::Link && !follow;

    match state.as_str() {
        "absent" => {
            if info.exists() {
                c.push(
                    format!(
                        "remove {path}{}",
                        if info.kind == Kind::Dir {
                            " (recursively)"
                        } else {
                            ""
                        }
                    ),
                    Some(state_diff(&path, info.kind.state_name(), "absent")),
                    format!("rm -rf -- {q}"),
                );
            }
            c.result("absent", None, None);
        }
        "file" => {
            match eff_kind {
                Kind::File | Kind::Other => {}
                Kind::Missing => {
                    return Ok(
                        Plan::fail(format!("file ({path}) is absent, cannot continue"))
                            .with("path", path.as_str())
                            .with("state", "absent"),
                    );
                }
                k => {
                    return Ok(Plan::fail(format!(
                        "file ({path}) is {}, cannot continue",
                        k.state_name()
                    ))
                    .with("path", path.as_str())
                    .with("state", k.state_name()));
                }
            }
            let m = c.attrs_on(&eff_stat, false, is_link_self, false)?;
            c.result("file", Some(m), Some(&eff_stat));
        }
        "directory" => match eff_kind {
            Kind::Dir => {
                let deep = recurse
                    && (c.attrs.mode.is_some()
                        || c.attrs.owner.is_some()
                        || c.attrs.group.is_some())
                    && below_differs(ctx, &path, &c.attrs, follow).await?;
                let m = c.attrs_on(&eff_stat, true, is_link_self, deep)?;
                c.result("directory", Some(m), Some(&eff_stat));
            }
            Kind::Missing if info.kind == Kind::Missing => {
                let base = 0o777 & !insp.umask;
                let mode = match &c.attrs.mode {
                    Some(spec) => resolve_mode(spec, base, true)?,
                    None => base,
                };
                let set_mode = c.attrs.mode.as_ref().map(|_| mode);
                let mut script = String::from("true");
                let mut created = Vec::new();
                for (a, ai) in anc.iter().zip(anc_info) {
                    match ai.followed_kind() {
                        Kind::Dir => {}
                        Kind::Missing if ai.kind == Kind::Missing => {
                            // Another host or process may create a shared parent at the
                            // same time: an existing folder is fine.
                            script.push_str(&format!(
                                " && {{ mkdir -- {q} 2>/dev/null || test -d {q}; }}{}",
                                attr_script(a, &c.attrs, set_mode),
                                q = quote(a)
                            ));
                            created.push(a.clone());
                        }
                        k => {
                            return Ok(Plan::fail(format!(
                                "cannot create {path}: {a} exists and is {}",
                                if k == Kind::Missing {
                                    "a dangling link".to_string()
                                } else {
                                    format!("a {}", k.state_name())
                                }
                            )));
                        }
                    }
                }
                script.push_str(&format!(
                    " && mkdir -- {q}{}",
                    attr_script(&path, &c.attrs, set_mode)
                ));
                created.push(path.clone());
                let mut after = String::from("directory");
                after.push_str(&format!("\nmode: '{}'", fmt_mode(mode)));
                c.push(
                    format!(
                        "create folder {} (mode {})",
                        created.join(", "),
                        fmt_mode(mode)
                    ),
                    Some(state_diff(&path, "absent", &after)),
                    script,
                );
                c.result("directory", Some(mode), None);
            }
            k => {
                return Ok(Plan::fail(format!(
                    "{path} already exists as a {}",
                    if k == Kind::Missing {
                        "dangling link"
                    } else {
                        info.kind.state_name()
                    }
                ))
                .with("path", path.as_str()));
            }
        },
        "touch" => {
            if info.exists() {
                let m = c.attrs_on(&eff_stat, eff_kind == Kind::Dir, is_link_self, false)?;
                let summary = format!("touch {path} (update timestamps)");
                c.set_times(
                    summary,
                    false,
                    is_link_self,
                    atime.as_deref(),
                    mtime.as_deref(),
                )
                .await?;
                c.result(
                    if eff_kind == Kind::Dir {
                        "directory"
                    } else {
                        "file"
                    },
                    Some(m),
                    Some(&eff_stat),
                );
            } else {
                let base = 0o666 & !insp.umask;
                let mode = match &c.attrs.mode {
                    Some(spec) => resolve_mode(spec, base, false)?,
                    None => base,
                };
                let mut script = format!("touch -- {q}");
                let explicit = |t: &Option<String>| t.clone().filter(|t| t != "now");
                let (a, m) = (explicit(&atime), explicit(&mtime));
                if a.is_some() || m.is_some() {
                    script.push_str(" && ");
                    script.push_str(&touch_script(&path, false, a.as_deref(), m.as_deref()));
                }
                let attrs = attr_script(&path, &c.attrs, c.attrs.mode.as_ref().map(|_| mode));
                if !attrs.is_empty() {
                    // as Ansible, a new file whose attributes cannot be set is removed
                    script.push_str(&format!(
                        " && {{ true{attrs} || {{ rc=$?; rm -f -- {q}; exit $rc; }}; }}"
                    ));
                }
                c.push(
                    format!("create empty file {path} (mode {})", fmt_mode(mode)),
                    Some(state_diff(&path, "absent", "touch")),
                    script,
                );
                c.result("file", Some(mode), None);
            }
        }
        "link" => {
            let src = src.unwrap_or_default();
            let si = src_info
                .clone()
                .ok_or_else(|| Error::failed("src is required"))?;
            if !si.exists() && !force {
                return Ok(Plan::fail(format!(
                        "src file does not exist, use 'force=yes' if you really want to create the link: {}",
                        link_src.unwrap_or_default()
                    ))
                    .with("path", path.as_str()));
            }
            let mut prev = info.kind.state_name().to_string();
            let ln = format!("ln -s -- {} {q}", quote(&src));
            let script = match info.kind {
                Kind::Link if info.link_target.as_deref() == Some(src.as_str()) => None,
                Kind::Link => {
                    c.diff_pair(
                        "src",
                        Value::from(info.link_target.clone().unwrap_or_default()),
                        Value::from(src.as_str()),
                    );
                    prev = format!(
                        "link\nsrc: {}",
                        info.link_target.clone().unwrap_or_default()
                    );
                    Some(format!("rm -f -- {q} && {ln}"))
                }
                Kind::Missing => Some(ln),
                Kind::File | Kind::Other if force => Some(format!("rm -f -- {q} && {ln}")),
                Kind::Dir if force => Some(format!("rmdir -- {q} && {ln}")),
                k => {
                    return Ok(Plan::fail(format!(
                        "refusing to convert from {} to symlink for {path}",
                        k.state_name()
                    ))
                    .hint_msg("use force=yes to replace it")
                    .with("path", path.as_str()));
                }
            };
            if let Some(s) = script {
                c.push(
                    format!("link {path} -> {src}"),
                    Some(state_diff(&path, &prev, &format!("link\nsrc: {src}"))),
                    s,
                );
            }
            // attributes: the target's when following, the link's own owner/group otherwise
            let mut mode = None;
            if follow && si.exists() {
                let st = si.followed_stat().clone();
                mode = Some(c.attrs_on(&st, si.followed_kind() == Kind::Dir, false, false)?);
            } else if !follow && (c.attrs.owner.is_some() || c.attrs.group.is_some()) {
                let a = Attrs {
                    mode: None,
                    ..c.attrs.clone()
                };
                let st = if info.kind == Kind::Link
                    && info.link_target.as_deref() == Some(src.as_str())
                {
                    info.stat.clone()
                } else {
                    StatData {
                        owner: String::new(),
                        group: String::new(),
                        uid: u32::MAX,
                        gid: u32::MAX,
                        ..Default::default()
                    }
                };
                let (ch, _) = attr_change(ctx, &path, &st, false, &a, true, false)?;
                c.plan.changes.extend(ch);
            }
            c.result("link", mode, None);
            c.plan
                .result
                .insert("src".into(), Value::from(src.as_str()));
        }
        "hard" => {
            let src = src.unwrap_or_default();
            let si = src_info
                .clone()
                .ok_or_else(|| Error::failed("src is required"))?;
            if !si.exists() {
                return Ok(Plan::fail("src does not exist")
                    .with("dest", path.as_str())
                    .with("src", src.as_str()));
            }
            let same = info.kind == Kind::File
                && si.kind == Kind::File
                && info.stat.inode == si.stat.inode
                && info.stat.dev == si.stat.dev;
            if !same {
                let script = match info.kind {
                    Kind::Missing => format!("ln -- {} {q}", quote(&src)),
                    Kind::File | Kind::Link | Kind::Other if force => {
                        format!("ln -f -- {} {q}", quote(&src))
                    }
                    Kind::Dir => {
                        return Ok(Plan::fail(format!("cannot hard link over folder {path}")));
                    }
                    k => {
                        return Ok(Plan::fail(format!(
                            "Cannot link, {} exists at destination {path}",
                            k.state_name()
                        ))
                        .hint_msg("use force=yes to replace it"));
                    }
                };
                c.push(
                    format!("hard link {path} to {src}"),
                    Some(state_diff(
                        &path,
                        info.kind.state_name(),
                        &format!("hard\nsrc: {src}"),
                    )),
                    script,
                );
            }
            let st = si.followed_stat().clone();
            let m = c.attrs_on(&st, false, false, false)?;
            c.result("hard", Some(m), Some(&st));
            c.plan
                .result
                .insert("src".into(), Value::from(src.as_str()));
        }
        other => return Err(Error::failed(format!("unsupported state '{other}'"))),
    }
    // Explicit times on other states: applied after the state, when they differ.
    if state != "touch" && state != "absent" && c.plan.failed.is_none() {
        let summary = format!("set the times of {path}");
        let created = !info.exists();
        c.set_times(
            summary,
            created,
            is_link_self,
            atime.as_deref(),
            mtime.as_deref(),
        )
        .await?;
    }
    if ctx.diff_mode {
        let d = crate::value::map_value([
            ("before", vars_value(&c.dbefore)),
            ("after", vars_value(&c.dafter)),
        ]);
        c.plan.result.insert("diff".into(), d);
    }
    Ok(c.plan)
}

trait HintMsg {
    fn hint_msg(self, h: &str) -> Self;
}

impl HintMsg for Plan {
    /// Appends a hint to the failure message.
    fn hint_msg(mut self, h: &str) -> Self {
        if let Some(f) = &mut self.failed {
            f.push_str(&format!(" ({h})"));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_both_times_now_is_one_plain_touch() {
        assert_eq!(
            touch_script("/f", false, Some("now"), Some("now")),
            "touch -- /f"
        );
        assert_eq!(
            touch_script("/f", false, Some("now"), None),
            "touch -a -- /f"
        );
        assert_eq!(
            touch_script("/f", true, None, Some("202201010000.00")),
            "touch -h -m -t 202201010000.00 -- /f"
        );
    }

    #[test]
    fn modes_in_the_diff_are_ansibles() {
        assert_eq!(diff_mode(0o644).as_str(), Some("0644"));
        assert_eq!(diff_mode(0o4755).as_str(), Some("04755"));
    }
}
