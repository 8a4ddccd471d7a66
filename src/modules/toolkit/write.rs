//! Content writes (a whole file, with backups, validation and diffs), the usual file result
//! values, remote path helpers, and atomic writes on the controller (fetch).

use super::inspect::{FileInfo, Inspection, Kind};
use super::mode::{Attrs, attr_change, fmt_mode, owner_matches, resolve_mode};
use super::plan::exec;
use crate::connection::{PutOpts, Stdin, quote};
use crate::error::{Error, Result};
use crate::modules::{Action, Change, Diff, Plan, TaskCtx};
use crate::value::Value;
use sha2::Digest;
use std::path::Path;

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

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&sha2::Sha256::digest(data))
}

/// Hex SHA-1 of `data` (Ansible's `checksum`).
pub fn sha1_hex(data: &[u8]) -> String {
    hex(&sha1::Sha1::digest(data))
}

/// Hex MD5 of `data` (Ansible's `md5sum`).
pub fn md5_hex(data: &[u8]) -> String {
    hex(&md5::Md5::digest(data))
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
    let (date, time) = crate::util::time::utc_date_time(secs);
    format!("{path}.{}.{date}@{time}~", std::process::id())
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
        /// Its SHA-1 (hex; Ansible's `checksum`).
        sha1: String,
        /// Its MD5 (hex; Ansible's `md5sum`).
        md5: String,
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
        /// SHA-256, SHA-1 and MD5.
        type Sums = (String, String, String);
        static SUMS: OnceLock<Mutex<HashMap<Key, Sums>>> = OnceLock::new();
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
        if let Some((sha256, sha1, md5)) = sums
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
        {
            return Ok(Content::File {
                path: path.to_path_buf(),
                len: md.len(),
                sha256,
                sha1,
                md5,
            });
        }
        let mut h = Sha256::new();
        let mut h1 = sha1::Sha1::new();
        let mut h5 = md5::Md5::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut len = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            h1.update(&buf[..n]);
            h5.update(&buf[..n]);
            len += n as u64;
        }
        let all = (hex(&h.finalize()), hex(&h1.finalize()), hex(&h5.finalize()));
        if len == md.len() {
            sums.lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, all.clone());
        }
        let (sha256, sha1, md5) = all;
        Ok(Content::File {
            path: path.to_path_buf(),
            len,
            sha256,
            sha1,
            md5,
        })
    }
    /// A local source file as a module sends it: with `decrypt`, a vault-encrypted file
    /// (`$ANSIBLE_VAULT;` header) is decrypted with the run's vault password; any other file is
    /// streamed as it is ([`Content::local_file`]).
    pub fn local_source(
        ctx: &TaskCtx<'_>,
        path: &std::path::Path,
        decrypt: bool,
    ) -> Result<Content> {
        if decrypt && is_vault_file(path) {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let plain = ctx
                .render
                .vault_decrypt(&text, &path.display().to_string())?;
            return Ok(Content::Bytes(plain.into_bytes()));
        }
        Content::local_file(path)
    }
    /// Its SHA-256 (hex).
    pub fn sha256(&self) -> String {
        match self {
            Content::Bytes(b) => sha256_hex(b),
            Content::File { sha256, .. } => sha256.clone(),
        }
    }
    /// Its SHA-1 (hex): the `checksum` Ansible's copy and template return.
    pub fn sha1(&self) -> String {
        match self {
            Content::Bytes(b) => sha1_hex(b),
            Content::File { sha1, .. } => sha1.clone(),
        }
    }
    /// Its MD5 (hex): Ansible's `md5sum`.
    pub fn md5(&self) -> String {
        match self {
            Content::Bytes(b) => md5_hex(b),
            Content::File { md5, .. } => md5.clone(),
        }
    }
    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::File { len, .. } => *len,
        }
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
    /// The content as a command's input or a `Put` source.
    pub fn stdin(&self) -> Stdin {
        match self {
            Content::Bytes(b) => Stdin::Bytes(b.clone()),
            Content::File { path, .. } => Stdin::File(path.clone()),
        }
    }
}

/// True when a local file starts with ansible-vault's header.
fn is_vault_file(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 14];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"$ANSIBLE_VAULT"
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
            action: exec(ctx, format!("mkdir -p -- {}", quote(parent)), false),
        });
    }
    if w.backup && exists {
        let b = backup_name(w.path);
        plan.changes.push(Change {
            summary: format!("back up {} to {b}", w.path),
            diff: None,
            action: exec(
                ctx,
                format!("cp -p -- {} {}", quote(w.path), quote(&b)),
                false,
            ),
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
    } else {
        // A new file belongs to the user commands run as, unless owner/group say otherwise
        // (by number; a name's id is not known before the file exists).
        let id = |given: &Option<String>, own: u32| match given {
            None => Some(own),
            Some(g) => g.parse::<u32>().ok(),
        };
        if let Some(u) = id(&attrs.owner, insp.uid) {
            r.insert("uid".into(), Value::from(u));
        }
        if let Some(g) = id(&attrs.group, insp.gid) {
            r.insert("gid".into(), Value::from(g));
        }
    }
    if let Some(s) = size {
        r.insert("size".into(), Value::from(s));
    }
    r.insert("state".into(), Value::from(state));
}

/// Writes `data` to the controller path `path` atomically (temp file in the same folder, then
/// rename), creating parent folders. This is how the engine applies
/// [`Action::LocalWrite`].
pub fn write_local_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    crate::util::replace_file(path, data, None).map_err(|e| Error::io(path, e))
}
