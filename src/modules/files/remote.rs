//! Shared helpers for the file modules: one-round-trip inspection of remote paths (a POSIX sh
//! script printing `key=value` lines, parsed on the controller), file modes (octal and symbolic,
//! resolved on the controller so plans are exact), ownership changes, content writes with
//! backups, Python-style regular expressions, and atomic local writes (fetch).

use crate::connection::{PutOpts, Stdin, quote};
use crate::error::{Error, Result};
use crate::modules::{Action, Change, Diff, FileAttrs, Plan, TaskCtx};
use crate::value::{Value, map_value};
use regex::Regex;
use sha2::Digest;
use std::path::Path;

/// What kind of filesystem object a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Nothing there.
    Missing,
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (not followed).
    Link,
    /// A device, fifo or socket.
    Other,
}

impl Kind {
    /// Ansible's name for the state (`absent`, `file`, `directory`, `link`).
    pub fn state_name(self) -> &'static str {
        match self {
            Kind::Missing => "absent",
            Kind::File => "file",
            Kind::Dir => "directory",
            Kind::Link => "link",
            Kind::Other => "other",
        }
    }
}

/// `stat` of one object (not following links).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatData {
    /// Permission bits, including setuid/setgid/sticky.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Group gid.
    pub gid: u32,
    /// Owner name (`UNKNOWN` when the uid has no name).
    pub owner: String,
    /// Group name.
    pub group: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time (seconds since the epoch).
    pub mtime: i64,
    /// Access time.
    pub atime: i64,
    /// Status change time.
    pub ctime: i64,
    /// Inode number.
    pub inode: u64,
    /// Device number.
    pub dev: u64,
    /// Number of hard links.
    pub nlink: u64,
    /// `stat`'s file type description (`regular file`, `block special file`, ...).
    pub ftype: String,
}

/// Everything one inspection learned about a remote path.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    /// The path inspected.
    pub path: String,
    /// What it is (links are not followed).
    pub kind: Kind,
    /// lstat data (when it exists).
    pub stat: StatData,
    /// For a link: what it points to, as written.
    pub link_target: Option<String>,
    /// For a link whose target exists: the target's kind.
    pub target_kind: Option<Kind>,
    /// For a link whose target exists: the target's stat data.
    pub target_stat: Option<StatData>,
    /// For a link whose target exists: the canonical path of the target.
    pub real_path: Option<String>,
    /// Checksum of the content (following links) when asked for and readable.
    pub checksum: Option<String>,
    /// Readable by the connecting (or become) user.
    pub readable: bool,
    /// Writeable by that user.
    pub writeable: bool,
    /// Executable by that user.
    pub executable: bool,
}

impl FileInfo {
    fn missing(path: &str) -> Self {
        FileInfo {
            path: path.to_string(),
            kind: Kind::Missing,
            stat: StatData::default(),
            link_target: None,
            target_kind: None,
            target_stat: None,
            real_path: None,
            checksum: None,
            readable: false,
            writeable: false,
            executable: false,
        }
    }
    /// True when something (even a dangling link) is at the path.
    pub fn exists(&self) -> bool {
        self.kind != Kind::Missing
    }
    /// The kind after following a link (a dangling link counts as missing).
    pub fn followed_kind(&self) -> Kind {
        match self.kind {
            Kind::Link => self.target_kind.unwrap_or(Kind::Missing),
            k => k,
        }
    }
    /// The stat data after following a link (lstat data for a dangling link).
    pub fn followed_stat(&self) -> &StatData {
        self.target_stat.as_ref().unwrap_or(&self.stat)
    }
    /// The path to write to when following links: the link's target, else the path itself.
    pub fn write_path(&self) -> &str {
        match (&self.kind, &self.real_path) {
            (Kind::Link, Some(p)) => p,
            _ => &self.path,
        }
    }
    /// What a write through a resolved link sees: the target's kind, stat data and path (the
    /// info itself for anything else).
    pub fn followed(&self) -> FileInfo {
        let mut i = self.clone();
        if self.kind == Kind::Link && self.real_path.is_some() {
            i.kind = self.followed_kind();
            i.stat = self.followed_stat().clone();
            i.path = self.write_path().to_string();
        }
        i
    }
}

/// The result of one inspection round trip.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The uid commands run as (after become).
    pub uid: u32,
    /// The umask of the commands (decides the mode of created folders and touched files).
    pub umask: u32,
    /// The user name commands run as (owner of files they create).
    pub user: String,
    /// That user's primary group name.
    pub group: String,
    /// One entry per inspected path, in order.
    pub files: Vec<FileInfo>,
    /// The content of the first path, when asked for and it is a readable file.
    pub content: Option<Vec<u8>>,
}

/// The shell command printing a checksum of stdin for `algo`, with a fallback for systems
/// without GNU coreutils.
pub fn checksum_cmd(algo: &str) -> Result<String> {
    let (gnu, fallback) = match algo {
        "md5" => ("md5sum", "md5 -q"),
        "sha1" => ("sha1sum", "shasum -a 1"),
        "sha224" => ("sha224sum", "shasum -a 224"),
        "sha256" => ("sha256sum", "shasum -a 256"),
        "sha384" => ("sha384sum", "shasum -a 384"),
        "sha512" => ("sha512sum", "shasum -a 512"),
        other => {
            return Err(Error::failed(format!(
                "unsupported checksum algorithm '{other}' (use md5, sha1, sha224, sha256, sha384 or sha512)"
            )));
        }
    };
    Ok(format!(
        "if command -v {gnu} >/dev/null 2>&1; then CK={gnu}; else CK={}; fi",
        quote(fallback)
    ))
}

const STAT_FMT: &str = "%a|%u|%g|%U|%G|%s|%Y|%X|%Z|%i|%d|%h|%F";

/// The inspection script. It is built to start few processes on the host (each costs about a
/// millisecond there, and a task's checks run on every host): one `stat` for every path that
/// is not a link (plus `/proc/self`, whose owner is the user commands run as), a checksum
/// program only for files whose checksum is wanted and whose content is not read anyway, and
/// `cat` for the content. Links get a `stat` and `readlink` of their own.
fn inspect_script(paths: &[&str], checksum: Option<&str>, content: bool) -> Result<String> {
    let mut s = String::new();
    match checksum {
        Some(algo) => {
            s.push_str(&checksum_cmd(algo)?);
            s.push('\n');
        }
        None => s.push_str("CK=\n"),
    }
    // One stat for all paths needs one path per output line.
    let batch = !paths.iter().any(|p| p.contains('\n'));
    s.push_str(if batch { "B=1\n" } else { "B=\n" });
    s.push_str(&format!(
        r#"s() {{
p=$1
if [ -L "$p" ]; then t=link; elif [ -d "$p" ]; then t=directory; elif [ -f "$p" ]; then t=file; elif [ -e "$p" ]; then t=other; else echo exists=0; return 0; fi
echo exists=1; echo "type=$t"
if [ "$t" = link ]; then
  stat -c 'st={STAT_FMT}' -- "$p" || return 0
  printf 'target=%s\n' "$(readlink -- "$p")"
  if [ -e "$p" ]; then
    if [ -d "$p" ]; then echo ttype=directory; elif [ -f "$p" ]; then echo ttype=file; else echo ttype=other; fi
    stat -L -c 'tst={STAT_FMT}' -- "$p"
    printf 'real=%s\n' "$(readlink -f -- "$p")"
  fi
elif [ -z "$B" ]; then
  stat -c 'st={STAT_FMT}' -- "$p" || return 0
fi
if [ -r "$p" ]; then echo r=1; fi
if [ -w "$p" ]; then echo w=1; fi
if [ -x "$p" ]; then echo x=1; fi
if [ -n "$CK" ] && [ "$2" != n ] && [ -f "$p" ] && [ -r "$p" ]; then printf 'ck='; $CK < "$p"; fi
}}
printf 'umask='; umask
"#
    ));
    // The first path's checksum is computed on the controller when its content is read.
    let ck_first = !(content && checksum.is_some_and(|a| checksum_hex(a, b"").is_some()));
    let mut args = String::new();
    for (i, p) in paths.iter().enumerate() {
        let skip = if i == 0 && !ck_first { " n" } else { "" };
        s.push_str(&format!("echo '@@{i}'; s {}{skip}\n", quote(p)));
        args.push(' ');
        args.push_str(&quote(p));
    }
    s.push_str(
        "if [ -r /proc/self/stat ]; then ME=/proc/self; echo me=1; else ME=; \
         echo \"uid=$(id -u)\"; echo \"user=$(id -un)\"; echo \"ugroup=$(id -gn)\"; fi\n",
    );
    if batch {
        s.push_str(&format!(
            "echo '@@stat'; stat -L -c 'st={STAT_FMT}|%n' -- $ME{args} 2>/dev/null\n"
        ));
    } else {
        s.push_str("[ -n \"$ME\" ] && echo '@@stat' && stat -L -c 'st=");
        s.push_str(STAT_FMT);
        s.push_str("|%n' -- $ME 2>/dev/null\n");
    }
    if content && let Some(p) = paths.first() {
        s.push_str(&format!(
            "if [ -f {p} ] && [ -r {p} ]; then echo '@@content'; cat -- {p}; fi\n",
            p = quote(p)
        ));
    } else {
        s.push_str("exit 0\n");
    }
    Ok(s)
}

/// The hex digest of `data` for the checksum algorithms prov computes itself.
pub fn checksum_hex(algo: &str, data: &[u8]) -> Option<String> {
    use md5::Md5;
    Some(match algo {
        "md5" => hex::encode(Md5::digest(data)),
        "sha1" => sha1_hex(data),
        "sha224" => hex::encode(sha2::Sha224::digest(data)),
        "sha256" => sha256_hex(data),
        "sha384" => hex::encode(sha2::Sha384::digest(data)),
        "sha512" => hex::encode(sha2::Sha512::digest(data)),
        _ => return None,
    })
}

fn parse_stat(v: &str) -> Result<StatData> {
    let f: Vec<&str> = v.splitn(13, '|').collect();
    if f.len() != 13 {
        return Err(Error::failed(format!("unexpected stat output: {v}")));
    }
    let num = |s: &str| s.trim().parse::<i64>().unwrap_or(0);
    Ok(StatData {
        mode: u32::from_str_radix(f[0].trim(), 8)
            .map_err(|_| Error::failed(format!("unexpected stat mode: {}", f[0])))?,
        uid: num(f[1]) as u32,
        gid: num(f[2]) as u32,
        owner: f[3].to_string(),
        group: f[4].to_string(),
        size: num(f[5]) as u64,
        mtime: num(f[6]),
        atime: num(f[7]),
        ctime: num(f[8]),
        inode: f[9].trim().parse().unwrap_or(0),
        dev: f[10].trim().parse().unwrap_or(0),
        nlink: num(f[11]) as u64,
        ftype: f[12].to_string(),
    })
}

/// Splits `FIELDS|path` after the 13 stat fields.
fn split_stat_line(v: &str) -> Option<(&str, &str)> {
    let mut bars = v.match_indices('|').map(|(i, _)| i);
    let cut = bars.nth(12)?;
    Some((&v[..cut], &v[cut + 1..]))
}

fn kind_of(t: &str) -> Kind {
    match t {
        "file" => Kind::File,
        "directory" => Kind::Dir,
        "link" => Kind::Link,
        _ => Kind::Other,
    }
}

fn parse_inspection(out: &[u8], paths: &[&str]) -> Result<Inspection> {
    let marker = b"\n@@content\n";
    let (head, content) = match find(out, marker) {
        Some(i) => (&out[..i + 1], Some(out[i + marker.len()..].to_vec())),
        None => (out, None),
    };
    let head = String::from_utf8_lossy(head);
    let mut uid = 0;
    let mut umask = 0o022;
    let (mut user, mut group) = (String::new(), String::new());
    let mut files: Vec<FileInfo> = Vec::new();
    // After `@@stat`: one `st=FIELDS|path` line per path that exists (`/proc/self` first
    // when `me=1`: the user commands run as).
    let mut in_stat = false;
    let mut want_me = false;
    let mut stat_done = vec![false; paths.len()];
    for line in head.lines() {
        if line == "@@stat" {
            in_stat = true;
            continue;
        }
        if in_stat {
            let Some(v) = line.strip_prefix("st=") else {
                continue;
            };
            let Some((fields, name)) = split_stat_line(v) else {
                continue;
            };
            let st = parse_stat(fields)?;
            if want_me && name == "/proc/self" {
                want_me = false;
                uid = st.uid;
                user = if st.owner == "UNKNOWN" {
                    String::new()
                } else {
                    st.owner
                };
                group = if st.group == "UNKNOWN" {
                    String::new()
                } else {
                    st.group
                };
                continue;
            }
            if let Some(i) = (0..files.len()).find(|&i| {
                !stat_done[i]
                    && files[i].path == name
                    && !matches!(files[i].kind, Kind::Missing | Kind::Link)
            }) {
                stat_done[i] = true;
                files[i].stat = st;
            }
            continue;
        }
        if line == "me=1" {
            want_me = true;
            continue;
        }
        if let Some(i) = line.strip_prefix("@@") {
            let i: usize = i
                .parse()
                .map_err(|_| Error::failed(format!("bad inspection output: {line}")))?;
            files.push(FileInfo::missing(paths.get(i).copied().unwrap_or_default()));
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k == "uid" {
            uid = v.trim().parse().unwrap_or(0);
            continue;
        }
        if k == "user" {
            user = v.to_string();
            continue;
        }
        if k == "ugroup" {
            group = v.to_string();
            continue;
        }
        if k == "umask" {
            umask = u32::from_str_radix(v.trim(), 8).unwrap_or(0o022);
            continue;
        }
        let Some(f) = files.last_mut() else { continue };
        match k {
            "type" => f.kind = kind_of(v),
            "st" => f.stat = parse_stat(v)?,
            "target" => f.link_target = Some(v.to_string()),
            "ttype" => f.target_kind = Some(kind_of(v)),
            "tst" => f.target_stat = Some(parse_stat(v)?),
            "real" => f.real_path = Some(v.to_string()),
            "r" => f.readable = true,
            "w" => f.writeable = true,
            "x" => f.executable = true,
            "ck" => {
                // `sha256sum` prints `HASH  -`, `md5 -q` just the hash.
                if let Some(h) = v.split_whitespace().next() {
                    f.checksum = Some(h.to_string());
                }
            }
            _ => {}
        }
    }
    if files.len() != paths.len() {
        return Err(Error::failed(format!(
            "inspection of {} returned incomplete output",
            paths.join(", ")
        )));
    }
    Ok(Inspection {
        uid,
        umask,
        user,
        group,
        files,
        content,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Inspects `paths` in one round trip; `checksum` names an algorithm (`sha256`, `sha1`...) to
/// checksum regular files with; `content` also reads the first path's content.
pub async fn inspect(
    ctx: &TaskCtx<'_>,
    paths: &[&str],
    checksum: Option<&str>,
    content: bool,
) -> Result<Inspection> {
    let script = inspect_script(paths, checksum, content)?;
    let out = ctx.run(script).await?;
    if out.rc != 0 {
        return Err(Error::failed(format!(
            "could not inspect {} on {}: {}",
            paths.join(", "),
            ctx.host,
            out.stderr_str().trim()
        )));
    }
    let mut i = parse_inspection(&out.stdout, paths)?;
    if let (Some(algo), Some(data), Some(f)) = (checksum, &i.content, i.files.first_mut())
        && f.checksum.is_none()
    {
        f.checksum = checksum_hex(algo, data);
    }
    Ok(i)
}

/// Inspects a file to edit and its parent folder (see [`inspect`]) with sha256 checksums and
/// the file's content; returns the file's info and the parent folder to create if missing.
pub async fn inspect_for_edit(
    ctx: &TaskCtx<'_>,
    path: &str,
) -> Result<(Inspection, FileInfo, Option<String>)> {
    let parent = parent_of(path);
    let mut i = inspect(ctx, &[path, &parent], Some("sha256"), true).await?;
    let p = i.files.remove(1);
    let f = i.files.remove(0);
    let missing = (p.kind == Kind::Missing).then_some(parent);
    Ok((i, f, missing))
}

/// Inspects one path (see [`inspect`]); the returned inspection's `files` is empty.
pub async fn inspect_one(
    ctx: &TaskCtx<'_>,
    path: &str,
    checksum: Option<&str>,
    content: bool,
) -> Result<(Inspection, FileInfo)> {
    let mut i = inspect(ctx, &[path], checksum, content).await?;
    let f = i.files.remove(0);
    Ok((i, f))
}

/// Reads a whole remote file with the task's become.
pub async fn read(ctx: &TaskCtx<'_>, path: &str) -> Result<Vec<u8>> {
    ctx.conn.get(path, ctx.become_.as_ref()).await
}

// ---------------------------------------------------------------------------------------------
// Modes

/// Formats permission bits the way Ansible returns them (`0644`, `04755`).
pub fn fmt_mode(m: u32) -> String {
    format!("{:04o}", m & 0o7777)
}

/// A mode as a `chmod` argument that sets exactly these bits: the extra leading zero makes GNU
/// chmod clear a directory's setuid/setgid bits too (`chmod 0755 dir` would keep them).
pub fn chmod_arg(m: u32) -> String {
    format!("0{}", fmt_mode(m))
}

/// True when `spec` is an octal mode (`644`, `0644`, `01777`).
fn octal(spec: &str) -> Option<u32> {
    let s = spec.trim();
    if s.is_empty() || !s.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
        return None;
    }
    let s = s.trim_start_matches('0');
    if s.is_empty() {
        return Some(0);
    }
    if s.len() > 4 {
        return None;
    }
    u32::from_str_radix(s, 8).ok()
}

/// Checks a mode spec (octal or symbolic) without applying it.
pub fn validate_mode(spec: &str) -> Result<()> {
    resolve_mode(spec, 0o644, false).map(|_| ())
}

/// Resolves a mode spec against the current mode: octal is taken as is, symbolic (`u=rw,g+r,o-x`,
/// `a+X`, `g=u`) is applied like chmod does (an empty "who" means `a`, without umask).
pub fn resolve_mode(spec: &str, current: u32, is_dir: bool) -> Result<u32> {
    if let Some(m) = octal(spec) {
        return Ok(m);
    }
    let bad = || {
        Error::failed(format!("bad mode '{spec}'"))
            .hint("use octal like '0644' (quoted in YAML) or symbolic like 'u=rw,g=r,o='")
    };
    let mut mode = current & 0o7777;
    for clause in spec.split(',') {
        let clause = clause.trim();
        let b = clause.as_bytes();
        let mut i = 0;
        let mut who = 0u8; // bits: 1=u 2=g 4=o
        while i < b.len() && b"ugoa".contains(&b[i]) {
            who |= match b[i] {
                b'u' => 1,
                b'g' => 2,
                b'o' => 4,
                _ => 7,
            };
            i += 1;
        }
        if who == 0 {
            who = 7;
        }
        if i >= b.len() {
            return Err(bad());
        }
        while i < b.len() {
            let op = b[i];
            if !b"+-=".contains(&op) {
                return Err(bad());
            }
            i += 1;
            let mut rwx = 0u32;
            let mut special = 0u32;
            if i < b.len() && b"ugo".contains(&b[i]) {
                let shift = match b[i] {
                    b'u' => 6,
                    b'g' => 3,
                    _ => 0,
                };
                rwx = (mode >> shift) & 7;
                i += 1;
            } else {
                while i < b.len() && b"rwxXst".contains(&b[i]) {
                    match b[i] {
                        b'r' => rwx |= 4,
                        b'w' => rwx |= 2,
                        b'x' => rwx |= 1,
                        b'X' => {
                            if is_dir || mode & 0o111 != 0 {
                                rwx |= 1
                            }
                        }
                        b's' => special |= 0o6000,
                        _ => special |= 0o1000,
                    }
                    i += 1;
                }
            }
            let mut bits = 0u32;
            let mut mask = 0u32;
            if who & 1 != 0 {
                bits |= (rwx << 6) | (special & 0o4000);
                mask |= 0o4700;
            }
            if who & 2 != 0 {
                bits |= (rwx << 3) | (special & 0o2000);
                mask |= 0o2070;
            }
            if who & 4 != 0 {
                bits |= rwx | (special & 0o1000);
                mask |= 0o1007;
            }
            match op {
                b'+' => mode |= bits,
                b'-' => mode &= !bits,
                _ => mode = (mode & !mask) | bits,
            }
        }
    }
    Ok(mode)
}

/// Makes a symbolic mode safe to hand to `chmod -R`: clauses without "who" get `a` so the
/// remote umask does not apply (matching [`resolve_mode`]). Octal modes are returned as is.
pub fn chmod_spec(spec: &str) -> String {
    if let Some(m) = octal(spec) {
        return chmod_arg(m);
    }
    spec.split(',')
        .map(|c| {
            let c = c.trim();
            if c.starts_with(['+', '-', '=']) {
                format!("a{c}")
            } else {
                c.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------------------------------------
// Attributes (mode, owner, group)

/// The common file attributes a module was asked to enforce.
#[derive(Debug, Clone, Default)]
pub struct Attrs {
    /// Mode spec (octal or symbolic), already normalised (see [`crate::modules::args::Mode`]).
    pub mode: Option<String>,
    /// Owner name or uid.
    pub owner: Option<String>,
    /// Group name or gid.
    pub group: Option<String>,
}

impl Attrs {
    /// The attributes a module's [`FileAttrs`] options ask for, checking the mode.
    pub fn new(a: &FileAttrs) -> Result<Self> {
        let mode = a.mode.as_deref().map(str::to_string);
        if let Some(m) = &mode
            && m != "preserve"
        {
            validate_mode(m)?;
        }
        let given = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Ok(Attrs {
            mode,
            owner: given(&a.owner),
            group: given(&a.group),
        })
    }
}

fn owner_matches(want: &str, name: &str, id: u32) -> bool {
    match want.parse::<u32>() {
        Ok(n) => n == id,
        Err(_) => want == name,
    }
}

/// Builds an [`Action::Exec`] running `script` with the task's become and environment.
pub fn exec(ctx: &TaskCtx<'_>, script: impl Into<String>) -> Action {
    Action::Exec {
        cmd: ctx.cmd(script),
        capture: false,
        fail_on_rc: true,
    }
}

/// The attribute changes needed on an existing path (`chmod`, `chown`, `chgrp`) as one change,
/// or `None` when it already matches. `st` is the path's current stat data (the target's when
/// following links), `is_dir` decides symbolic `X`. `link` means the path is a symbolic link
/// changed itself (`chown -h`; its mode cannot be changed on Linux and is left alone).
/// `recurse` (some entry below differs) adds `-R` and always emits the change. Returns the
/// resolved mode too.
pub fn attr_change(
    ctx: &TaskCtx<'_>,
    path: &str,
    st: &StatData,
    is_dir: bool,
    attrs: &Attrs,
    link: bool,
    recurse: bool,
) -> Result<(Option<Change>, u32)> {
    let mut script = Vec::new();
    let mut parts = Vec::new();
    let mut before = String::new();
    let mut after = String::new();
    let r = if recurse { "-R " } else { "" };
    let h = if link { "-h " } else { "" };
    let mut mode = st.mode;
    // chmod runs last (pushed after chown/chgrp below): changing the owner or group of a file
    // clears its setuid/setgid bits, so a chmod before them would be undone.
    let mut chmod = None;
    if let Some(spec) = attrs.mode.as_deref().filter(|m| *m != "preserve" && !link) {
        let want = resolve_mode(spec, st.mode, is_dir)?;
        mode = want;
        if want != st.mode & 0o7777 || recurse {
            if want != st.mode & 0o7777 {
                parts.push(format!("chmod {} -> {}", fmt_mode(st.mode), fmt_mode(want)));
                before.push_str(&format!("mode: '{}'\n", fmt_mode(st.mode)));
                after.push_str(&format!("mode: '{}'\n", fmt_mode(want)));
            }
            let m = if recurse {
                chmod_spec(spec)
            } else {
                chmod_arg(want)
            };
            chmod = Some(format!("chmod {r}{} -- {}", quote(&m), quote(path)));
        }
    }
    if let Some(o) = &attrs.owner
        && (!owner_matches(o, &st.owner, st.uid) || recurse)
    {
        if !owner_matches(o, &st.owner, st.uid) {
            parts.push(format!("chown {} -> {o}", st.owner));
            before.push_str(&format!("owner: '{}'\n", st.owner));
            after.push_str(&format!("owner: '{o}'\n"));
        }
        script.push(format!("chown {r}{h}{} -- {}", quote(o), quote(path)));
    }
    if let Some(g) = &attrs.group
        && (!owner_matches(g, &st.group, st.gid) || recurse)
    {
        if !owner_matches(g, &st.group, st.gid) {
            parts.push(format!("chgrp {} -> {g}", st.group));
            before.push_str(&format!("group: '{}'\n", st.group));
            after.push_str(&format!("group: '{g}'\n"));
        }
        script.push(format!("chgrp {r}{h}{} -- {}", quote(g), quote(path)));
    }
    script.extend(chmod);
    if parts.is_empty() && (!recurse || script.is_empty()) {
        return Ok((None, mode));
    }
    let summary = if parts.is_empty() {
        format!("set attributes recursively under {path}")
    } else {
        format!(
            "{} {path}{}",
            parts.join(", "),
            if recurse { " (recursively)" } else { "" }
        )
    };
    let diff = (!parts.is_empty()).then(|| {
        let mut d = Diff::new(path, before, after);
        d.before_header = format!("{path} (file attributes)");
        d.after_header = format!("{path} (file attributes)");
        d
    });
    let change = Change {
        summary,
        diff,
        action: exec(ctx, script.join(" && ")),
    };
    Ok((Some(change), mode))
}

// ---------------------------------------------------------------------------------------------
// Content writes

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&sha2::Sha256::digest(data))
}

/// Hex SHA-1 of `data` (Ansible's `checksum`).
pub fn sha1_hex(data: &[u8]) -> String {
    hex(&sha1::Sha1::digest(data))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Backup file name for `path`: `path.<pid>.<YYYY-MM-DD@HH:MM:SS>~` (UTC, controller pid), as
/// Ansible names them.
pub fn backup_name(path: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // civil_from_days (Howard Hinnant)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{path}.{}.{y:04}-{m:02}-{d:02}@{:02}:{:02}:{:02}~",
        std::process::id(),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// New content for a file: bytes in memory, or a local file streamed to the host (never read
/// into memory whole; its checksum is computed by streaming too).
#[derive(Debug, Clone)]
pub enum Content {
    /// Bytes (rendered templates, `content:`, edited files).
    Bytes(Vec<u8>),
    /// A local file on the controller.
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Its size.
        len: u64,
        /// Its SHA-256 (hex).
        sha256: String,
    },
}

/// Files larger than this are not read for `--diff` (shown as "(large file)").
const DIFF_LIMIT: u64 = 1 << 20;

impl Content {
    /// A local file, checksummed by streaming it once. The checksum is remembered for the
    /// run (keyed by path, device, inode, size and modification time), so copying one file to
    /// many hosts reads it once.
    pub fn local_file(path: &std::path::Path) -> Result<Content> {
        use sha2::{Digest, Sha256};
        use std::collections::HashMap;
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        use std::sync::{Mutex, OnceLock};
        type Key = (std::path::PathBuf, u64, u64, u64, i64, i64);
        static SUMS: OnceLock<Mutex<HashMap<Key, String>>> = OnceLock::new();
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let md = f.metadata().map_err(|e| Error::io(path, e))?;
        let key: Key = (
            path.to_path_buf(),
            md.dev(),
            md.ino(),
            md.len(),
            md.mtime(),
            md.mtime_nsec(),
        );
        let sums = SUMS.get_or_init(Default::default);
        if let Some(sum) = sums.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(Content::File {
                path: path.to_path_buf(),
                len: md.len(),
                sha256: sum.clone(),
            });
        }
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut len = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            len += n as u64;
        }
        let sum = hex(&h.finalize());
        if len == md.len() {
            sums.lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, sum.clone());
        }
        Ok(Content::File {
            path: path.to_path_buf(),
            len,
            sha256: sum,
        })
    }
    /// Its SHA-256 (hex).
    pub fn sha256(&self) -> String {
        match self {
            Content::Bytes(b) => sha256_hex(b),
            Content::File { sha256, .. } => sha256.clone(),
        }
    }
    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::File { len, .. } => *len,
        }
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The text for a diff, when it is small UTF-8.
    fn diff_text(&self) -> Option<String> {
        match self {
            Content::Bytes(b) => diff_text(b),
            Content::File { path, len, .. } if *len <= DIFF_LIMIT => {
                std::fs::read(path).ok().and_then(|b| diff_text(&b))
            }
            Content::File { .. } => None,
        }
    }
    fn stdin(&self) -> Stdin {
        match self {
            Content::Bytes(b) => Stdin::Bytes(b.clone()),
            Content::File { path, .. } => Stdin::File(path.clone()),
        }
    }
}

/// Parameters of a whole-file content write (copy, template, lineinfile, ...).
pub struct Write<'a> {
    /// The path to write.
    pub path: &'a str,
    /// Its current state (inspected with `sha256` checksums).
    pub info: &'a FileInfo,
    /// Its current content, when read (for diffs; required for `binary` detection).
    pub before: Option<&'a [u8]>,
    /// The new content.
    pub data: &'a Content,
    /// Mode/owner/group to enforce.
    pub attrs: &'a Attrs,
    /// Back the old file up first.
    pub backup: bool,
    /// Validation command (`%s` is the temp file).
    pub validate: Option<String>,
    /// A missing parent folder to create first (`mkdir -p`).
    pub make_parent: Option<String>,
    /// The uid commands run as (to preserve ownership when rewriting as root).
    pub uid: u32,
    /// The umask of the host's commands (new files get `0666 & !umask`, like Ansible).
    pub umask: u32,
}

/// Checks a `validate` option: it must contain `%s`.
pub fn check_validate(v: Option<String>) -> Result<Option<String>> {
    match v {
        Some(v) if !v.contains("%s") => {
            Err(Error::failed(format!("validate must contain %s: {v}")))
        }
        v => Ok(v),
    }
}

fn diff_text(b: &[u8]) -> Option<String> {
    String::from_utf8(b.to_vec()).ok()
}

/// Plans writing `w.data` to `w.path` (when the content differs) and enforcing the attributes;
/// appends changes to `plan` and returns the resulting mode.
pub fn plan_write(ctx: &TaskCtx<'_>, w: Write<'_>, plan: &mut Plan) -> Result<u32> {
    let exists = w.info.exists();
    let new_sum = w.data.sha256();
    let old_sum = match w.before {
        Some(b) => Some(sha256_hex(b)),
        None => w.info.checksum.clone(),
    };
    // A link given here is replaced by the file (callers that follow links pass the target):
    // even with the same content it is replaced, like Ansible's copy does, and never has its
    // target's attributes changed through it.
    let same = exists && w.info.kind != Kind::Link && old_sum.as_deref() == Some(new_sum.as_str());
    let st = w.info.followed_stat();
    if same {
        let (c, mode) = attr_change(ctx, w.path, st, false, w.attrs, false, false)?;
        if let Some(c) = c {
            plan.changes.push(c);
        }
        return Ok(mode);
    }
    let base_mode = if exists { st.mode } else { 0o666 & !w.umask };
    let mode = match w.attrs.mode.as_deref().filter(|m| *m != "preserve") {
        Some(spec) => resolve_mode(spec, base_mode, false)?,
        None => base_mode,
    };
    let mut opts: PutOpts = ctx.put_opts();
    // The content's size and checksum are known: the upload is verified against them.
    opts.expect = Some((w.data.len(), new_sum.clone()));
    opts.validate = w.validate.clone();
    opts.mode = Some(fmt_mode(mode));
    let mut notes = Vec::new();
    if exists && mode != st.mode & 0o7777 {
        notes.push(format!("mode {} -> {}", fmt_mode(st.mode), fmt_mode(mode)));
    }
    opts.owner = w.attrs.owner.clone();
    opts.group = w.attrs.group.clone();
    if exists && w.uid == 0 {
        // rewriting as root: keep the old owner/group unless asked otherwise
        opts.owner.get_or_insert_with(|| st.uid.to_string());
        opts.group.get_or_insert_with(|| st.gid.to_string());
    }
    if exists {
        if let Some(o) = &w.attrs.owner
            && !owner_matches(o, &st.owner, st.uid)
        {
            notes.push(format!("owner {} -> {o}", st.owner));
        }
        if let Some(g) = &w.attrs.group
            && !owner_matches(g, &st.group, st.gid)
        {
            notes.push(format!("group {} -> {g}", st.group));
        }
    }
    if let Some(parent) = w.make_parent.as_deref().filter(|_| !exists) {
        plan.changes.push(Change {
            summary: format!("create folder {parent}"),
            diff: None,
            action: exec(ctx, format!("mkdir -p -- {}", quote(parent))),
        });
    }
    if w.backup && exists {
        let b = backup_name(w.path);
        plan.changes.push(Change {
            summary: format!("back up {} to {b}", w.path),
            diff: None,
            action: exec(ctx, format!("cp -p -- {} {}", quote(w.path), quote(&b))),
        });
        plan.result.insert("backup_file".into(), Value::from(b));
    }
    let summary = if w.info.kind == Kind::Link {
        format!(
            "replace link {} (-> {}) with a file ({} bytes, mode {})",
            w.path,
            w.info.link_target.as_deref().unwrap_or("?"),
            w.data.len(),
            fmt_mode(mode)
        )
    } else if exists {
        let old = old_sum
            .as_deref()
            .map(|s| &s[..s.len().min(12)])
            .unwrap_or("?");
        let mut s = format!("update {} (sha256 {old}.. -> {}..)", w.path, &new_sum[..12]);
        if !notes.is_empty() {
            s.push_str(&format!(", {}", notes.join(", ")));
        }
        s
    } else {
        format!(
            "create {} ({} bytes, mode {})",
            w.path,
            w.data.len(),
            fmt_mode(mode)
        )
    };
    let diff = if ctx.diff_mode {
        let mut d = if w.info.kind == Kind::Link {
            // The write replaces the link itself: what is replaced is the link, not its
            // target, whose content (say /etc/shadow) must never show in the diff.
            let after = w
                .data
                .diff_text()
                .unwrap_or_else(|| format!("(binary file, sha256 {new_sum})\n"));
            Diff::new(w.path, "", after)
        } else {
            let before = if exists {
                w.before.and_then(diff_text)
            } else {
                Some(String::new())
            };
            match (before, w.data.diff_text()) {
                (Some(b), Some(a)) => Diff::new(w.path, b, a),
                _ => Diff::new(
                    w.path,
                    "(binary file)\n",
                    format!("(binary file, sha256 {new_sum})\n"),
                ),
            }
        };
        if let Some(h) = link_header(w.info) {
            d.before_header = h;
        }
        Some(d)
    } else {
        None
    };
    plan.changes.push(Change {
        summary,
        diff,
        action: Action::Put {
            src: w.data.stdin(),
            dest: w.path.to_string(),
            opts,
        },
    });
    Ok(mode)
}

/// The `before` header of a diff replacing `info` when it is a symbolic link (the link is
/// replaced, its target left alone): `PATH (symbolic link -> TARGET, replaced by a file)`.
pub fn link_header(info: &FileInfo) -> Option<String> {
    (info.kind == Kind::Link).then(|| {
        format!(
            "{} (symbolic link -> {}, replaced by a file)",
            info.path,
            info.link_target.as_deref().unwrap_or("?")
        )
    })
}

/// The parent folder of a remote path (`/a/b` → `/a`, `b` → `.`).
pub fn parent_of(path: &str) -> String {
    let p = path.trim_end_matches('/');
    match p.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => p[..i].to_string(),
        None => ".".into(),
    }
}

/// The last component of a path (`/a/b/` → `b`).
pub fn basename(path: &str) -> &str {
    let p = path.trim_end_matches('/');
    p.rsplit('/').next().unwrap_or(p)
}

/// Joins remote paths.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The usual return values for a file: `mode`, `owner`, `group`, `uid`, `gid`, `size`, `state`.
pub fn file_result(
    plan: &mut Plan,
    insp: &Inspection,
    info: &FileInfo,
    attrs: &Attrs,
    mode: u32,
    size: Option<u64>,
    state: &str,
) {
    let st = info.followed_stat();
    let (owner, group) = if info.exists() {
        (st.owner.clone(), st.group.clone())
    } else {
        (insp.user.clone(), insp.group.clone())
    };
    let r = &mut plan.result;
    r.insert("mode".into(), Value::from(fmt_mode(mode)));
    r.insert(
        "owner".into(),
        Value::from(attrs.owner.clone().unwrap_or(owner)),
    );
    r.insert(
        "group".into(),
        Value::from(attrs.group.clone().unwrap_or(group)),
    );
    if info.exists() {
        r.insert("uid".into(), Value::from(st.uid));
        r.insert("gid".into(), Value::from(st.gid));
    }
    if let Some(s) = size {
        r.insert("size".into(), Value::from(s));
    }
    r.insert("state".into(), Value::from(state));
}

// ---------------------------------------------------------------------------------------------
// Python-compatible regular expressions

/// Compiles a Python `re` pattern with Rust's regex crate (`\Z` is translated; lookaround and
/// backreferences are not available and give a clear error).
pub fn py_regex(pattern: &str, flags: &str) -> Result<Regex> {
    let p = pattern.replace(r"\Z", r"\z");
    let full = if flags.is_empty() {
        p
    } else {
        format!("(?{flags}){p}")
    };
    Regex::new(&full).map_err(|e| {
        Error::failed(format!("invalid regular expression '{pattern}': {e}")).hint(
            "prov uses Rust regex syntax, which is Python's without lookaround and backreferences",
        )
    })
}

/// Expands a Python replacement template (`\1`, `\g<1>`, `\g<name>`, `\n`, `\t`, `\\`) with
/// the captures of a match. Groups that did not participate expand to nothing.
pub fn py_expand(template: &str, caps: &regex::Captures<'_>) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(d) if d.is_ascii_digit() => {
                let mut n = String::new();
                while let Some(d) = chars.peek().copied().filter(|d| d.is_ascii_digit()) {
                    if n.len() == 2 {
                        break;
                    }
                    n.push(d);
                    chars.next();
                }
                let i: usize = n.parse().unwrap_or(0);
                out.push_str(caps.get(i).map(|m| m.as_str()).unwrap_or(""));
            }
            Some('g') => {
                chars.next();
                if chars.peek() == Some(&'<') {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                    let m = match name.parse::<usize>() {
                        Ok(i) => caps.get(i),
                        Err(_) => caps.name(&name),
                    };
                    out.push_str(m.map(|m| m.as_str()).unwrap_or(""));
                } else {
                    out.push_str("\\g");
                }
            }
            Some('n') => {
                chars.next();
                out.push('\n');
            }
            Some('t') => {
                chars.next();
                out.push('\t');
            }
            Some('r') => {
                chars.next();
                out.push('\r');
            }
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            _ => out.push('\\'),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Local writes (fetch)

/// Writes `data` to the controller path `path` atomically (temp file in the same folder, then
/// rename), creating parent folders. This is how the engine applies
/// [`Action::LocalWrite`].
pub fn write_local_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{name}.prov-tmp.{}.{nanos}", std::process::id()));
    let res = (|| {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        f.write_all(data).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// A `stat` dict in Ansible's shape for the `stat` module.
pub fn stat_value(info: &FileInfo, follow: bool, checksum: Option<&str>) -> Value {
    if !info.exists() || (follow && info.kind == Kind::Link && info.target_kind.is_none()) {
        return map_value([("exists", Value::from(false))]);
    }
    let (kind, st) = if follow && info.kind == Kind::Link {
        (
            info.target_kind.unwrap_or(Kind::Other),
            info.followed_stat(),
        )
    } else {
        (info.kind, &info.stat)
    };
    let m = st.mode;
    let bit = |b: u32| Value::from(m & b != 0);
    let mut v: Vec<(&str, Value)> = vec![
        ("exists", Value::from(true)),
        ("path", Value::from(info.path.as_str())),
        ("mode", Value::from(fmt_mode(m))),
        ("isdir", Value::from(kind == Kind::Dir)),
        ("isreg", Value::from(kind == Kind::File)),
        ("islnk", Value::from(kind == Kind::Link)),
        ("ischr", Value::from(st.ftype.contains("character"))),
        ("isblk", Value::from(st.ftype.contains("block"))),
        ("isfifo", Value::from(st.ftype.contains("fifo"))),
        ("issock", Value::from(st.ftype.contains("socket"))),
        ("uid", Value::from(st.uid)),
        ("gid", Value::from(st.gid)),
        ("pw_name", Value::from(st.owner.as_str())),
        ("gr_name", Value::from(st.group.as_str())),
        ("size", Value::from(st.size)),
        ("mtime", Value::from(st.mtime as f64)),
        ("atime", Value::from(st.atime as f64)),
        ("ctime", Value::from(st.ctime as f64)),
        ("inode", Value::from(st.inode)),
        ("dev", Value::from(st.dev)),
        ("nlink", Value::from(st.nlink)),
        ("readable", Value::from(info.readable)),
        ("writeable", Value::from(info.writeable)),
        ("executable", Value::from(info.executable)),
        ("rusr", bit(0o400)),
        ("wusr", bit(0o200)),
        ("xusr", bit(0o100)),
        ("rgrp", bit(0o040)),
        ("wgrp", bit(0o020)),
        ("xgrp", bit(0o010)),
        ("roth", bit(0o004)),
        ("woth", bit(0o002)),
        ("xoth", bit(0o001)),
        ("isuid", bit(0o4000)),
        ("isgid", bit(0o2000)),
    ];
    if kind == Kind::Link {
        v.push((
            "lnk_target",
            Value::from(info.link_target.clone().unwrap_or_default()),
        ));
        v.push((
            "lnk_source",
            Value::from(info.real_path.clone().unwrap_or_default()),
        ));
    }
    if checksum.is_some()
        && kind == Kind::File
        && let Some(ck) = &info.checksum
    {
        v.push(("checksum", Value::from(ck.as_str())));
    }
    map_value(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbolic_modes() {
        assert_eq!(resolve_mode("0644", 0o755, false).unwrap(), 0o644);
        assert_eq!(resolve_mode("u=rw,g=r,o=", 0o777, false).unwrap(), 0o640);
        assert_eq!(resolve_mode("u+x", 0o644, false).unwrap(), 0o744);
        assert_eq!(resolve_mode("go-w", 0o666, false).unwrap(), 0o644);
        assert_eq!(resolve_mode("a+X", 0o644, true).unwrap(), 0o755);
        assert_eq!(resolve_mode("a+X", 0o644, false).unwrap(), 0o644);
        assert_eq!(resolve_mode("a+X", 0o744, false).unwrap(), 0o755);
        assert_eq!(resolve_mode("+t", 0o777, true).unwrap(), 0o1777);
        assert_eq!(resolve_mode("u+s", 0o755, false).unwrap(), 0o4755);
        assert_eq!(resolve_mode("g=u", 0o750, false).unwrap(), 0o770);
        assert_eq!(resolve_mode("u=rwx,g=rx,o=rx", 0, true).unwrap(), 0o755);
        assert!(resolve_mode("u=rw;", 0, false).is_err());
        assert!(resolve_mode("0999", 0, false).is_err());
        assert!(resolve_mode("bogus", 0, false).is_err());
        assert_eq!(chmod_spec("+x,u=rw"), "a+x,u=rw");
        assert_eq!(chmod_spec("755"), "00755");
    }

    #[test]
    fn python_expand() {
        let re = py_regex(r"^(?P<k>\w+)=(\d+)$", "").unwrap();
        let caps = re.captures("port=22").unwrap();
        assert_eq!(py_expand(r"\1 is \2\n", &caps), "port is 22\n");
        assert_eq!(py_expand(r"\g<k>:\g<2>", &caps), "port:22");
        assert_eq!(py_expand(r"a\\b\q", &caps), r"a\b\q");
    }

    #[test]
    fn parses_inspection() {
        let out = b"uid=0\n@@0\nexists=1\ntype=link\nst=777|0|0|root|root|4|10|11|12|13|14|1|symbolic link\ntarget=b\nttype=file\ntst=644|1000|100|bob|users|3|1|2|3|4|5|1|regular file\nreal=/x/b\nr=1\nck=abc\n@@1\nexists=0\n@@content\nhi\n";
        let i = parse_inspection(out, &["/x/a", "/x/c"]).unwrap();
        assert_eq!(i.uid, 0);
        assert_eq!(i.files[0].kind, Kind::Link);
        assert_eq!(i.files[0].followed_kind(), Kind::File);
        assert_eq!(i.files[0].followed_stat().owner, "bob");
        assert_eq!(i.files[0].write_path(), "/x/b");
        assert_eq!(i.files[0].checksum.as_deref(), Some("abc"));
        assert_eq!(i.files[1].kind, Kind::Missing);
        assert_eq!(i.content.as_deref(), Some(&b"hi\n"[..]));
        let out = b"umask=0027\n@@0\nexists=1\ntype=file\nr=1\nck=abc  -\n@@1\nexists=1\ntype=directory\n@@2\nexists=0\nme=1\n@@stat\nst=555|7|8|bob|UNKNOWN|0|1|2|3|4|5|9|directory|/proc/self\nst=640|0|0|root|root|3|1|2|3|4|5|1|regular file|/x/a|b\nst=755|0|0|root|root|3|1|2|3|4|5|1|directory|/x\n";
        let i = parse_inspection(out, &["/x/a|b", "/x", "/y"]).unwrap();
        assert_eq!((i.uid, i.user.as_str(), i.group.as_str()), (7, "bob", ""));
        assert_eq!(i.umask, 0o027);
        assert_eq!(i.files[0].stat.mode, 0o640);
        assert_eq!(i.files[0].stat.ftype, "regular file");
        assert_eq!(i.files[0].checksum.as_deref(), Some("abc"));
        assert_eq!(i.files[1].stat.mode, 0o755);
        assert_eq!(i.files[2].kind, Kind::Missing);
        assert_eq!(parent_of("/a/b/"), "/a");
        assert_eq!(parent_of("/a"), "/");
        assert_eq!(basename("/a/b/"), "b");
    }
}
