//! Leaf helpers shared across layers (facts, template, output, modules), one file per topic.
//! They import nothing from prov except [`crate::value`], so any layer may use them:
//!
//! - [`sections`]: output split into `@@name` sections of `key=value` lines (facts, probes).
//! - [`pyregex`]: Python `re` (patterns, `re.sub` templates, findall) on `fancy-regex`.
//! - [`python`]: Python's type names, float `repr` and ordering.
//! - [`pyjson`]: Python's `json.dumps` (filters, the human output).
//! - [`time`]: calendar dates of Unix times (UTC).
//! - [`search_path`]: where a task's relative file names are found (Ansible's search path).
//! - [`random_bytes`]: bytes from the kernel's random source.
//! - [`raise_open_files_limit`]: room for a socket per host.
//! - [`PrivateTempDir`]: a private (0700), unpredictably named temp folder, removed on drop.
//! - [`replace_file`]: a local file written whole or not at all (temp file + rename).
//! - [`switch_on`]: an on-by-default switch of the controller's environment (`NAME=0` is off).

pub mod pyjson;
pub mod pyregex;
pub mod python;
pub mod search_path;
pub mod sections;
pub mod time;

/// Whether the controller's environment leaves the switch `name` on: it is on unless set to
/// `0` (`PROV_KEPT_SHELL_COMMANDS=0`, `PROV_STAT_HELPER=0`, ...).
pub fn switch_on(name: &str) -> bool {
    std::env::var(name).map_or(true, |v| v.trim() != "0")
}

/// Writes `data` to the local file `path` whole or not at all: a temp file beside it (created
/// new; 0600 when `mode` is given, then set to `mode`), synced, then renamed over `path`. The
/// temp file is removed when anything fails; the folder must exist.
pub fn replace_file(path: &std::path::Path, data: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
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
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        if mode.is_some() {
            o.mode(0o600);
        }
        let mut f = o.open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        if let Some(m) = mode {
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(m))?;
        }
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// `n` bytes from the kernel's random source (salts, seeds, generated passwords, temp names).
pub(crate) fn random_bytes(n: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf))?;
    Ok(buf)
}

/// A private temp folder (mode 0700, an unpredictable name: created new, never reused), removed
/// with what it holds when dropped.
pub struct PrivateTempDir(pub std::path::PathBuf);

impl PrivateTempDir {
    /// Creates `<parent>/<prefix><random hex>`.
    pub fn new_in(parent: &std::path::Path, prefix: &str) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt as _;
        let name: String = random_bytes(12)?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let dir = parent.join(format!("{prefix}{name}"));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(PrivateTempDir(dir))
    }
}

impl Drop for PrivateTempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Raises this process's soft limit of open files to its hard limit (as OpenSSH and Ansible's
/// controller do not, a run on a thousand hosts needs a socket per host beyond the usual
/// soft limit of 1024). Returns the limit in effect.
pub fn raise_open_files_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                return want.rlim_cur;
            }
        }
    }
    lim.rlim_cur
}

#[cfg(test)]
mod temp_dirs {
    #[test]
    fn private_temp_dirs_are_0700_distinct_and_removed() {
        use std::os::unix::fs::PermissionsExt as _;
        let base = std::env::temp_dir();
        let a = super::PrivateTempDir::new_in(&base, "prov-t-").unwrap();
        let b = super::PrivateTempDir::new_in(&base, "prov-t-").unwrap();
        assert_ne!(a.0, b.0);
        let mode = std::fs::metadata(&a.0).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::write(a.0.join("f"), "x").unwrap();
        let path = a.0.clone();
        drop(a);
        assert!(!path.exists());
    }
}

#[cfg(test)]
mod limits {
    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_limit() {
        let got = super::raise_open_files_limit();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct given.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
        assert_eq!(got, lim.rlim_cur);
    }
}
