//! An OpenSSH `known_hosts` reader and writer: plain and hashed (`|1|salt|hmac`) host fields,
//! `[host]:port` names, `*`/`?` wildcards, `!` negation, comma lists, the `@revoked` marker
//! (`@cert-authority` lines are read and skipped: prov does not use host certificates).
//!
//! Every entry remembers its file and line, so a mismatch can name the line to fix.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The host-key policy: what to do with an unknown or changed server key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyChecking {
    /// Unknown hosts are refused (the default, like `StrictHostKeyChecking yes`).
    #[default]
    Strict,
    /// Unknown hosts are learned (a line is appended to known_hosts); changed keys are refused.
    AcceptNew,
    /// No checking at all, except that a key that is known and *changed* is still refused.
    Off,
}

impl HostKeyChecking {
    /// Parses a policy word: `strict`/`yes`/`true`, `accept-new`, `off`/`no`/`false`
    /// (case-insensitive). `ask` is treated as `strict` since prov never asks.
    pub fn parse(s: &str) -> Option<HostKeyChecking> {
        match s.trim().to_ascii_lowercase().as_str() {
            "strict" | "yes" | "true" | "1" | "ask" | "on" => Some(HostKeyChecking::Strict),
            "accept-new" | "accept_new" | "acceptnew" => Some(HostKeyChecking::AcceptNew),
            "off" | "no" | "false" | "0" => Some(HostKeyChecking::Off),
            _ => None,
        }
    }
}

/// A marker at the start of a known_hosts line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// No marker: a trusted key.
    None,
    /// `@revoked`: this key must never be accepted.
    Revoked,
    /// `@cert-authority`: a CA key for host certificates (not used by prov).
    CertAuthority,
}

/// The host field of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hosts {
    /// `|1|salt|hash`: HMAC-SHA1 of the host name keyed with the salt.
    Hashed {
        /// The salt (HMAC key).
        salt: Vec<u8>,
        /// The expected HMAC.
        hash: Vec<u8>,
    },
    /// A comma list of patterns, each maybe negated with `!`.
    Patterns(Vec<String>),
}

/// One key line of a known_hosts file.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file the line is in.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// The line's marker.
    pub marker: Marker,
    /// Which hosts the line is for.
    pub hosts: Hosts,
    /// The key algorithm name (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ...).
    pub key_type: String,
    /// The decoded key blob.
    pub blob: Vec<u8>,
}

impl Entry {
    /// Whether this entry applies to `name` (`host` or `[host]:port`).
    pub fn matches(&self, name: &str) -> bool {
        match &self.hosts {
            Hosts::Hashed { salt, hash } => {
                let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(salt) else {
                    return false;
                };
                mac.update(name.as_bytes());
                mac.verify_slice(hash).is_ok()
            }
            Hosts::Patterns(p) => match_pattern_list(name, p),
        }
    }

    /// `file:line` of this entry.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// The name known_hosts uses for a host and port: `host` for port 22, `[host]:port` otherwise,
/// lowercased as OpenSSH does.
pub fn host_name_for(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// Glob match with `*` and `?`, case-insensitive (OpenSSH's `match_pattern`).
pub fn wildcard_match(name: &str, pattern: &str) -> bool {
    let n: Vec<char> = name.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < n.len() {
        if j < p.len() && (p[j] == '?' || p[j] == n[i]) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '*' {
            star = Some((j, i));
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj + 1;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    while j < p.len() && p[j] == '*' {
        j += 1;
    }
    j == p.len()
}

/// OpenSSH's pattern-list rule: no match if any negated pattern matches, else a match if any
/// positive pattern matches.
pub fn match_pattern_list<S: AsRef<str>>(name: &str, patterns: &[S]) -> bool {
    let mut positive = false;
    for p in patterns {
        let p = p.as_ref();
        if let Some(neg) = p.strip_prefix('!') {
            if wildcard_match(name, neg) {
                return false;
            }
        } else if wildcard_match(name, p) {
            positive = true;
        }
    }
    positive
}

/// Parses one known_hosts file's text. Malformed lines are skipped (as OpenSSH does).
pub fn parse(text: &str, file: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let Some(mut first) = fields.next() else {
            continue;
        };
        let mut marker = Marker::None;
        if first.starts_with('@') {
            marker = match first {
                "@revoked" => Marker::Revoked,
                "@cert-authority" => Marker::CertAuthority,
                _ => continue,
            };
            let Some(f) = fields.next() else { continue };
            first = f;
        }
        let (Some(key_type), Some(b64)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(blob) = B64.decode(b64) else { continue };
        let hosts = if let Some(rest) = first.strip_prefix("|1|") {
            let mut parts = rest.splitn(2, '|');
            let (Some(s), Some(h)) = (parts.next(), parts.next()) else {
                continue;
            };
            let (Ok(salt), Ok(hash)) = (B64.decode(s), B64.decode(h)) else {
                continue;
            };
            Hosts::Hashed { salt, hash }
        } else {
            Hosts::Patterns(
                first
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            )
        };
        out.push(Entry {
            file: file.to_path_buf(),
            line: i + 1,
            marker,
            hosts,
            key_type: key_type.to_string(),
            blob,
        });
    }
    out
}

/// Reads and parses known_hosts files; missing or unreadable files are skipped.
///
/// Parsed once per run while the files stay the same (path, inode, size and modification
/// time): a thousand connections opening at once share one parse instead of holding a
/// thousand copies of the file's entries. A file that changes (a key learned, an edit) is read
/// again by the next connection.
pub fn load(files: &[PathBuf]) -> Arc<Vec<Entry>> {
    type Stamp = Option<(u64, u64, std::time::SystemTime)>;
    /// The files with their stamps, and what they held.
    type Parsed = (Vec<(PathBuf, Stamp)>, Arc<Vec<Entry>>);
    static CACHE: Mutex<Vec<Parsed>> = Mutex::new(Vec::new());
    let stamp = |f: &PathBuf| -> Stamp {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(f).ok()?;
        Some((m.ino(), m.len(), m.modified().ok()?))
    };
    let key: Vec<(PathBuf, Stamp)> = files.iter().map(|f| (f.clone(), stamp(f))).collect();
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, entries)) = cache.iter().find(|(k, _)| *k == key) {
        return entries.clone();
    }
    let mut out = Vec::new();
    for f in files {
        if let Ok(text) = std::fs::read_to_string(f) {
            out.extend(parse(&text, f));
        }
    }
    let entries = Arc::new(out);
    // One entry per set of files: a changed file replaces its old parse.
    cache.retain(|(k, _)| !k.iter().map(|(p, _)| p).eq(key.iter().map(|(p, _)| p)));
    cache.push((key, entries.clone()));
    entries
}

/// What known_hosts says about a server key.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// A trusted entry holds this key.
    Known(Entry),
    /// The key is marked `@revoked`.
    Revoked(Entry),
    /// The host is known with another key of the same type: possible man-in-the-middle.
    Changed(Entry),
    /// No entry for this host and key type.
    Unknown,
}

/// Checks `key_type`/`blob` for `name` against `entries`.
pub fn check(entries: &[Entry], name: &str, key_type: &str, blob: &[u8]) -> Verdict {
    let matching: Vec<&Entry> = entries.iter().filter(|e| e.matches(name)).collect();
    if let Some(e) = matching
        .iter()
        .find(|e| e.marker == Marker::Revoked && e.blob == blob)
    {
        return Verdict::Revoked((*e).clone());
    }
    // A revoked key is refused even when listed for other hosts.
    if let Some(e) = entries
        .iter()
        .find(|e| e.marker == Marker::Revoked && e.blob == blob)
    {
        return Verdict::Revoked(e.clone());
    }
    let trusted = matching.iter().filter(|e| e.marker == Marker::None);
    let mut changed: Option<&Entry> = None;
    for e in trusted {
        if e.blob == blob {
            return Verdict::Known((*e).clone());
        }
        if changed.is_none() && same_family(&e.key_type, key_type) {
            changed = Some(e);
        }
    }
    match changed {
        Some(e) => Verdict::Changed(e.clone()),
        None => Verdict::Unknown,
    }
}

/// The key types known for `name` (to prefer them during key exchange, as OpenSSH does).
pub fn known_types(entries: &[Entry], name: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for e in entries {
        if e.marker == Marker::None && e.matches(name) && !v.contains(&e.key_type) {
            v.push(e.key_type.clone());
        }
    }
    v
}

fn same_family(a: &str, b: &str) -> bool {
    let fam = |t: &str| -> String {
        if t == "ssh-rsa" || t.starts_with("rsa-sha2-") {
            "rsa".into()
        } else {
            t.to_string()
        }
    };
    fam(a) == fam(b)
}

static APPEND_LOCK: Mutex<()> = Mutex::new(());

/// Appends `name key_type base64` to `file` atomically: a process-wide mutex plus an exclusive
/// file lock, then one `O_APPEND` write of the whole line. Skips the write when the file already
/// holds this key for `name` (another task learned it first). Creates the file (mode 0600) and
/// its folder (0700) when missing.
pub fn append(file: &Path, name: &str, key_type: &str, blob: &[u8]) -> std::io::Result<()> {
    let _g = APPEND_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = file.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    let mut oo = std::fs::OpenOptions::new();
    oo.append(true).create(true).read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        oo.mode(0o600);
    }
    let mut f = oo.open(file)?;
    f.lock()?;
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let entries = parse(&text, file);
    if matches!(check(&entries, name, key_type, blob), Verdict::Known(_)) {
        return Ok(());
    }
    let mut line = String::new();
    if !text.is_empty() && !text.ends_with('\n') {
        line.push('\n');
    }
    line.push_str(&format!("{name} {key_type} {}\n", B64.encode(blob)));
    f.write_all(line.as_bytes())?;
    f.flush()?;
    let _ = f.unlock();
    Ok(())
}

/// A hashed host field for `name` with `salt` (as `ssh-keygen -H` writes it).
#[cfg(test)]
pub(crate) fn hash_host(name: &str, salt: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(salt) else {
        return String::new();
    };
    mac.update(name.as_bytes());
    format!(
        "|1|{}|{}",
        B64.encode(salt),
        B64.encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";

    const KEY2: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    fn blob() -> Vec<u8> {
        B64.decode(KEY).unwrap()
    }

    #[test]
    fn wildcards_and_negation() {
        assert!(wildcard_match("web1.example.com", "*.example.com"));
        assert!(wildcard_match("WEB1", "web?"));
        assert!(!wildcard_match("web10", "web?"));
        assert!(wildcard_match("[10.0.0.1]:2222", "[10.0.0.1]:2222"));
        assert!(match_pattern_list("a.x", &["*.x", "!b.x"]));
        assert!(!match_pattern_list("b.x", &["*.x", "!b.x"]));
        assert!(!match_pattern_list("c.y", &["!b.x"]));
    }

    #[test]
    fn plain_hashed_port_and_markers() {
        let hashed = hash_host("[127.0.0.1]:2200", b"0123456789abcdef0123");
        let text = format!(
            "# comment\n\nhost1,host2 ssh-ed25519 {KEY}\n{hashed} ssh-ed25519 {KEY} c\n\
             @revoked bad ssh-ed25519 {KEY2}\n@cert-authority *.ca ssh-ed25519 {KEY}\n\
             broken-line\n*.w,!x.w ssh-rsa {KEY}\n"
        );
        let e = parse(&text, Path::new("/k"));
        assert_eq!(e.len(), 5);
        assert!(
            matches!(check(&e, "host2", "ssh-ed25519", &blob()), Verdict::Known(x) if x.line == 3)
        );
        assert!(
            matches!(check(&e, "[127.0.0.1]:2200", "ssh-ed25519", &blob()), Verdict::Known(x) if x.line == 4)
        );
        assert!(matches!(
            check(&e, "127.0.0.1", "ssh-ed25519", &[1, 2]),
            Verdict::Unknown
        ));
        let b2 = B64.decode(KEY2).unwrap();
        assert!(matches!(
            check(&e, "bad", "ssh-ed25519", &b2),
            Verdict::Revoked(_)
        ));
        // A revoked key is refused for every host.
        assert!(matches!(
            check(&e, "host1", "ssh-ed25519", &b2),
            Verdict::Revoked(_)
        ));
        assert!(
            matches!(check(&e, "host1", "ssh-ed25519", &[9]), Verdict::Changed(x) if x.location() == "/k:3")
        );
        assert!(matches!(
            check(&e, "a.w", "ssh-rsa", &[9]),
            Verdict::Changed(_)
        ));
        assert!(matches!(
            check(&e, "x.w", "ssh-rsa", &[9]),
            Verdict::Unknown
        ));
        assert_eq!(host_name_for("h", 22), "h");
        assert_eq!(host_name_for("H", 2222), "[h]:2222");
    }

    #[test]
    fn append_is_idempotent() {
        let dir = std::env::temp_dir().join(format!("prov-kh-{}", std::process::id()));
        let f = dir.join("sub/known_hosts");
        let _ = std::fs::remove_dir_all(&dir);
        append(&f, "[h]:2", "ssh-ed25519", &blob()).unwrap();
        append(&f, "[h]:2", "ssh-ed25519", &blob()).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(matches!(
            check(&parse(&text, &f), "[h]:2", "ssh-ed25519", &blob()),
            Verdict::Known(_)
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
