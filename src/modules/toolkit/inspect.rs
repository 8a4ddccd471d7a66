//! Inspecting remote paths in one round trip: a POSIX sh script printing `key=value` lines
//! (stat data, link targets, checksums, content), parsed on the controller.

use super::mode::stat_mode;
use super::write::{checksum_hex, parent_of};
use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::TaskCtx;
use crate::value::{Value, map_value};

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
    /// Their gid (the group of files they create, outside setgid folders).
    pub gid: u32,
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

/// The largest first file whose content or checksum the inspection reads with the shell's own
/// `read` (no `cat` or checksum program started): a read costs about 0.2 ms per KiB there
/// against about a millisecond for starting a program.
const SMALL_READ: u64 = 4096;

/// The inspection script. It is built to start few processes on the host (each costs about a
/// millisecond there, and a task's checks run on every host): one `stat` for every path that
/// is not a link (plus `/proc/self`, whose owner is the user commands run as), a checksum
/// program only for files whose checksum is wanted and whose content is not read anyway, and
/// `cat` for the content. Links get a `stat` and `readlink` of their own.
///
/// With `small`, the first path's content or checksum, when it is a file of at most
/// [`SMALL_READ`] bytes, is read with the shell's `read` instead (printed after `@@small`;
/// the checksum is computed on the controller). That read is exact for text without NUL
/// bytes, and checked: the shell compares its length with `stat`'s size (in bytes under
/// dash; a shell counting characters falls back), and [`inspect`] checks it again.
fn inspect_script(
    paths: &[&str],
    checksum: Option<&str>,
    content: bool,
    small: bool,
) -> Result<String> {
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
    if batch {
        // The batch `stat` asks the kept shell's helper when there is one (no program started).
        s.push_str(crate::connection::statd::QUERY_FN);
    }
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
    let first = paths.first().map(|p| quote(p));
    // The first file is read with `read` when it is small: only with one `stat` for all.
    let small = small
        && batch
        && first.is_some()
        && (content || checksum.is_some())
        && checksum.is_none_or(|a| checksum_hex(a, b"").is_some());
    // The first path's checksum is computed on the controller when its content is read.
    let ck_first = !(small || content && checksum.is_some_and(|a| checksum_hex(a, b"").is_some()));
    let mut args = String::new();
    for (i, p) in paths.iter().enumerate() {
        let skip = if i == 0 && !ck_first { " n" } else { "" };
        s.push_str(&format!("echo '@@{i}'; s {}{skip}\n", quote(p)));
        args.push(' ');
        args.push_str(&quote(p));
    }
    s.push_str(
        "if [ -r /proc/self/stat ]; then ME=/proc/self; echo me=1; else ME=; \
         echo \"uid=$(id -u)\"; echo \"gid=$(id -g)\"; echo \"user=$(id -un)\"; echo \"ugroup=$(id -gn)\"; fi\n",
    );
    // Reads the first path: `R` keeps `cat`'s status (a failed read fails the inspection).
    let read_first = |p: &str| {
        if content {
            format!("if [ -f {p} ] && [ -r {p} ]; then echo '@@content'; cat -- {p}; R=$?; fi\n")
        } else {
            format!("if [ -f {p} ] && [ -r {p} ]; then echo '@@ck'; printf 'ck='; $CK < {p}; fi\n")
        }
    };
    s.push_str("R=0\n");
    if small && let Some(p) = &first {
        // The batch `stat` is kept in `S` to find the first path's size (its line comes first
        // after `/proc/self`'s, when it exists).
        s.push_str(&format!(
            "hs $ME{args} || S=$(stat -L -c 'st={STAT_FMT}|%n' -- $ME{args} 2>/dev/null)\n\
             echo '@@stat'; printf '%s\\n' \"$S\"\n\
             z=; L=$S; [ -n \"$ME\" ] && L=${{S#*\"\n\"}}; L=${{L%%\"\n\"*}}\n\
             case $L in *\"|\"{p}) r=${{L#*|}}; r=${{r#*|}}; r=${{r#*|}}; r=${{r#*|}}; r=${{r#*|}}; z=${{r%%|*}};; esac\n\
             rb() {{\n\
             c= n=0\n\
             while IFS= read -r l; do\n\
             n=$((n+${{#l}}+1)); [ \"$n\" -le \"$z\" ] || return 1\n\
             c=\"$c$l\n\"\n\
             done < {p} || return 1\n\
             c=\"$c$l\"; [ \"${{#c}}\" -eq \"$z\" ]\n\
             }}\n\
             if [ -f {p} ] && [ -r {p} ] && [ -n \"$z\" ] && [ \"$z\" -le {SMALL_READ} ] && rb; then echo '@@small'; printf '%s' \"$c\"\nelse\n{}fi\n",
            read_first(p)
        ));
    } else {
        if batch {
            s.push_str(&format!(
                "echo '@@stat'; if hs $ME{args}; then [ -z \"$S\" ] || printf '%s\\n' \"$S\"; \
                 else stat -L -c 'st={STAT_FMT}|%n' -- $ME{args} 2>/dev/null; fi\n"
            ));
        } else {
            s.push_str("[ -n \"$ME\" ] && echo '@@stat' && stat -L -c 'st=");
            s.push_str(STAT_FMT);
            s.push_str("|%n' -- $ME 2>/dev/null\n");
        }
        if content && let Some(p) = &first {
            s.push_str(&read_first(p));
        }
    }
    // The shell is left as it was found (see `Cmd::inline`); the status is `cat`'s.
    s.push_str(INSPECT_END);
    Ok(s)
}

/// The end of an inspection script: unsets what it set, with the status of its read.
const INSPECT_END: &str = "unset -f s rb hs; unset CK B p t ME S z L r c n l q; [ \"$R\" = 0 ] && unset R || { unset R; false; }\n";

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

/// Parses an inspection's output; the flag tells whether the content was read with the
/// shell's `read` (`@@small`, to be checked against the size).
fn parse_inspection(out: &[u8], paths: &[&str]) -> Result<(Inspection, bool)> {
    // The earlier marker wins (content may hold the other's text); the second search stops
    // at the first one found, so a large content is not scanned twice.
    let mut cut: Option<(usize, usize, bool)> = None;
    for (marker, small) in [(&b"\n@@content\n"[..], false), (b"\n@@small\n", true)] {
        let end = cut.map_or(out.len(), |(j, _, _)| j);
        if let Some(i) = find(&out[..end], marker) {
            cut = Some((i, marker.len(), small));
        }
    }
    let (head, content, small) = match cut {
        Some((i, n, small)) => (&out[..i + 1], Some(out[i + n..].to_vec()), small),
        None => (out, None, false),
    };
    let head = String::from_utf8_lossy(head);
    let mut uid = 0;
    let mut gid = 0;
    let mut umask = 0o022;
    let (mut user, mut group) = (String::new(), String::new());
    let mut files: Vec<FileInfo> = Vec::new();
    // After `@@stat`: one `st=FIELDS|path` line per path that exists (`/proc/self` first
    // when `me=1`: the user commands run as).
    let mut in_stat = false;
    let mut want_me = false;
    let mut stat_done = vec![false; paths.len()];
    let mut ck_first = false;
    for line in head.lines() {
        if line == "@@stat" {
            in_stat = true;
            continue;
        }
        if line == "@@ck" {
            in_stat = false;
            ck_first = true;
            continue;
        }
        if ck_first {
            // After `@@ck`: the first path's checksum (its content was too large to read).
            if let Some(v) = line.strip_prefix("ck=")
                && let (Some(h), Some(f)) = (v.split_whitespace().next(), files.first_mut())
            {
                f.checksum = Some(h.to_string());
            }
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
                gid = st.gid;
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
        if k == "gid" {
            gid = v.trim().parse().unwrap_or(0);
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
    Ok((
        Inspection {
            uid,
            gid,
            umask,
            user,
            group,
            files,
            content,
        },
        small,
    ))
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
    if let Some(i) = inspect_pass(ctx, paths, checksum, content, true).await? {
        return Ok(i);
    }
    // The shell's read of the first file did not match its size (it changed meanwhile): read
    // it again with a program.
    inspect_pass(ctx, paths, checksum, content, false)
        .await?
        .ok_or_else(|| Error::failed(format!("{} changed while inspected", paths.join(", "))))
}

/// One inspection round trip; `None` when the first file read with the shell's `read` does
/// not have the size `stat` gave (see [`inspect_script`]).
async fn inspect_pass(
    ctx: &TaskCtx<'_>,
    paths: &[&str],
    checksum: Option<&str>,
    content: bool,
    small: bool,
) -> Result<Option<Inspection>> {
    let script = inspect_script(paths, checksum, content, small)?;
    let out = ctx.run_inline(script).await?;
    if out.rc != 0 {
        return Err(Error::failed(format!(
            "could not inspect {} on {}: {}",
            paths.join(", "),
            ctx.host,
            out.stderr_str().trim()
        )));
    }
    let (mut i, read_small) = parse_inspection(&out.stdout, paths)?;
    if read_small {
        let size = i.files.first().map(|f| f.followed_stat().size);
        if size != i.content.as_ref().map(|c| c.len() as u64) {
            return Ok(None);
        }
    }
    if let (Some(algo), Some(data), Some(f)) = (checksum, &i.content, i.files.first_mut())
        && f.checksum.is_none()
    {
        f.checksum = checksum_hex(algo, data);
    }
    if !content {
        i.content = None;
    }
    Ok(Some(i))
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

/// Inspects one path (see [`inspect`]) and runs `extra` (a script) in the same round trip;
/// returns the path's info and what `extra` printed.
pub async fn inspect_one_with(
    ctx: &TaskCtx<'_>,
    path: &str,
    checksum: Option<&str>,
    extra: &str,
) -> Result<(Inspection, FileInfo, String)> {
    let mut script = inspect_script(&[path], checksum, false, false)?;
    script.push_str(&format!("echo '@@extra'\n{extra}\nexit 0\n"));
    let out = ctx.run(script).await?;
    if out.rc != 0 {
        return Err(Error::failed(format!(
            "could not inspect {path} on {}: {}",
            ctx.host,
            out.stderr_str().trim()
        )));
    }
    let marker = b"\n@@extra\n";
    let (head, tail) = match find(&out.stdout, marker) {
        Some(i) => (&out.stdout[..i + 1], &out.stdout[i + marker.len()..]),
        None => (&out.stdout[..], &b""[..]),
    };
    let (mut i, _) = parse_inspection(head, &[path])?;
    let f = i.files.remove(0);
    Ok((i, f, String::from_utf8_lossy(tail).into_owned()))
}

/// Reads a whole remote file with the task's become.
pub async fn read(ctx: &TaskCtx<'_>, path: &str) -> Result<Vec<u8>> {
    ctx.conn.get(path, ctx.become_.as_ref()).await
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
        ("mode", Value::from(stat_mode(m))),
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
    use crate::modules::toolkit::write::basename;

    /// Runs the inspection script of `path` with `sh` (each of dash, bash and busybox present)
    /// the way the kept shell does (with its `stat` helper started, with `helper`), and parses
    /// it as [`inspect_pass`] does.
    fn run_script(
        sh: &str,
        path: &str,
        checksum: Option<&str>,
        content: bool,
        helper: bool,
    ) -> (Inspection, bool) {
        let script = inspect_script(&[path, "/nonexistent-prov"], checksum, content, true).unwrap();
        // It runs in the shell itself (`Cmd::inline`): the shell's variables, functions and
        // options must be the same after it.
        let state =
            "{ set; set +o; command -v s rb hs; } | grep -v -e '^_=' -e '^BASH_' -e '^PIPESTATUS'";
        let start = if helper {
            format!(
                "{}prov_statd; [ \"$PROV_STAT\" = 1 ] || exit 9; ",
                crate::connection::statd::define()
            )
        } else {
            String::new()
        };
        let f =
            |n: &str| std::env::temp_dir().join(format!("prov-inspect-{n}-{}", std::process::id()));
        let (f1, f2, frc) = (f("before"), f("after"), f("rc"));
        let out = std::process::Command::new(sh)
            .arg("-c")
            .arg(format!(
                "{start}{state} > {f1}; {{ eval {}; }}; echo $? > {frc}; {state} > {f2}",
                quote(&script),
                f1 = f1.display(),
                f2 = f2.display(),
                frc = frc.display(),
            ))
            .output()
            .unwrap();
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(&f1), read(&f2), "{sh}: the shell's state changed");
        assert_eq!(read(&frc).trim(), "0", "{sh}");
        for p in [f1, f2, frc] {
            std::fs::remove_file(p).unwrap();
        }
        assert!(
            out.status.success(),
            "{sh}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse_inspection(&out.stdout, &[path, "/nonexistent-prov"]).unwrap()
    }

    #[test]
    fn small_files_are_read_with_the_shell_exactly_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("prov-inspect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases: &[(&str, Vec<u8>, bool)] = &[
            ("text", b"a\\b  \n\n  x\r\ny".to_vec(), true),
            ("empty", Vec::new(), true),
            ("newlines", b"\n\n".to_vec(), true),
            ("tabs", b"\ta\tb \\\n".to_vec(), true),
            ("nul", b"a\0b\n".to_vec(), false),
            ("large", vec![b'x'; SMALL_READ as usize + 1], false),
            ("one long line", vec![b'y'; 100_000], false),
        ];
        // busybox picks its applet from argv[0]: a link named `sh`.
        let busybox = dir.join("sh");
        if std::path::Path::new("/bin/busybox").exists() && !busybox.exists() {
            std::os::unix::fs::symlink("/bin/busybox", &busybox).unwrap();
        }
        let shells: Vec<String> = ["/bin/dash", "/bin/bash", busybox.to_str().unwrap()]
            .into_iter()
            .filter(|s| std::path::Path::new(s).exists())
            .map(String::from)
            .collect();
        assert!(shells.len() >= 2, "{shells:?}");
        let perl = std::process::Command::new("perl")
            .arg("-v")
            .output()
            .is_ok();
        for (name, data, read_small) in cases {
            let path = dir.join(name);
            std::fs::write(&path, data).unwrap();
            let path = path.to_str().unwrap();
            let helpers: &[bool] = if perl { &[false, true] } else { &[false] };
            for (sh, &helper) in shells
                .iter()
                .flat_map(|s| helpers.iter().map(move |h| (s, h)))
            {
                let (i, small) = run_script(sh, path, None, true, helper);
                if helper {
                    // The helper's answers are `stat`'s (a read may move the access time).
                    let (mut st, _) = run_script(sh, path, None, true, false);
                    st.files[0].stat.atime = i.files[0].stat.atime;
                    assert_eq!(st.files[0].stat, i.files[0].stat, "{sh} {name}");
                    assert_eq!((st.uid, &st.user), (i.uid, &i.user), "{sh} {name}");
                }
                assert_eq!(i.content.as_deref(), Some(&data[..]), "{sh} {name}");
                assert_eq!(i.files[0].stat.size, data.len() as u64, "{sh} {name}");
                // dash and busybox count bytes; bash counts characters (all ASCII here).
                assert_eq!(small, *read_small, "{sh} {name}");
                let (i, small) = run_script(sh, path, Some("sha256"), false, helper);
                let want = checksum_hex("sha256", data).unwrap();
                if small {
                    assert_eq!(i.content.as_deref(), Some(&data[..]), "{sh} {name}");
                } else {
                    assert_eq!(
                        i.files[0].checksum.as_deref(),
                        Some(want.as_str()),
                        "{sh} {name}"
                    );
                }
                assert_eq!(small, *read_small, "{sh} {name}");
                assert_eq!(i.files[1].kind, Kind::Missing);
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parses_inspection() {
        let out = b"uid=0\n@@0\nexists=1\ntype=link\nst=777|0|0|root|root|4|10|11|12|13|14|1|symbolic link\ntarget=b\nttype=file\ntst=644|1000|100|bob|users|3|1|2|3|4|5|1|regular file\nreal=/x/b\nr=1\nck=abc\n@@1\nexists=0\n@@content\nhi\n";
        let (i, _) = parse_inspection(out, &["/x/a", "/x/c"]).unwrap();
        assert_eq!(i.uid, 0);
        assert_eq!(i.files[0].kind, Kind::Link);
        assert_eq!(i.files[0].followed_kind(), Kind::File);
        assert_eq!(i.files[0].followed_stat().owner, "bob");
        assert_eq!(i.files[0].write_path(), "/x/b");
        assert_eq!(i.files[0].checksum.as_deref(), Some("abc"));
        assert_eq!(i.files[1].kind, Kind::Missing);
        assert_eq!(i.content.as_deref(), Some(&b"hi\n"[..]));
        let out = b"umask=0027\n@@0\nexists=1\ntype=file\nr=1\nck=abc  -\n@@1\nexists=1\ntype=directory\n@@2\nexists=0\nme=1\n@@stat\nst=555|7|8|bob|UNKNOWN|0|1|2|3|4|5|9|directory|/proc/self\nst=640|0|0|root|root|3|1|2|3|4|5|1|regular file|/x/a|b\nst=755|0|0|root|root|3|1|2|3|4|5|1|directory|/x\n";
        let (i, _) = parse_inspection(out, &["/x/a|b", "/x", "/y"]).unwrap();
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
