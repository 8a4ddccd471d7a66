//! Installing a file on a host safely: the one shell script behind [`super::Connection::put`],
//! `copy` with `remote_src`, `get_url` and downloaded keyrings.
//!
//! What the script guarantees (see the README's "Safety" section):
//! - **Atomic and complete.** The content goes to a temp file beside the destination and is
//!   renamed over it only once it is complete: with [`Install::expect`], the host checks the
//!   size and SHA-256 of what it received first, so a dropped connection or a killed prov (which
//!   look like a clean end of input to the host) leaves the destination as it was. The temp file
//!   is removed on every way out, signals included.
//! - **No symlink games.** The temp file is created with `O_EXCL` (the shell's `set -C`) under an
//!   unpredictable name, so a link planted at that name is never followed, and it is kept open
//!   on fd 3: content, owner, group and mode are applied through `/proc/self/fd/3`, the file
//!   prov created, whatever is at its name by then. A user who can write the destination's
//!   folder can still rename things in it, but can never make root's `chown`/`chmod` act on
//!   another file; after the rename the destination is checked to be that same file.
//! - **Attributes in the right order.** Owner and group first, mode last (`chown` clears the
//!   setuid and setgid bits).

use super::quote;

/// Exit status of the script when [`Install::validate`] failed.
pub const RC_VALIDATE: i32 = 86;
/// Exit status of the script when the content received is not the content sent.
pub const RC_INCOMPLETE: i32 = 87;

/// What to install where; [`Install::script`] builds the shell script.
#[derive(Debug, Clone, Default)]
pub struct Install {
    /// The destination path.
    pub dest: String,
    /// The mode (octal or symbolic); `None` keeps the mode of an existing regular file at
    /// `dest`, or [`Install::default_mode`] for a new one.
    pub mode: Option<String>,
    /// The mode of a new file when [`Install::mode`] is `None` (default `0644`).
    pub default_mode: Option<String>,
    /// chown owner.
    pub owner: Option<String>,
    /// chgrp group.
    pub group: Option<String>,
    /// A command checking the temp file before it replaces `dest` (`%s` is its path).
    pub validate: Option<String>,
    /// The size and SHA-256 (lowercase hex) the content must have.
    pub expect: Option<(u64, String)>,
    /// Shell lines run after the content is written and before attributes are applied; `$f`
    /// names the temp file (e.g. a checksum check of a download). They must `exit` non-zero
    /// to stop the install.
    pub check: Option<String>,
    /// Copy the existing destination here (`cp -p`) before it is replaced.
    pub backup: Option<String>,
    /// Shell lines run before the temp file is created (e.g. reading secrets from stdin into
    /// private files).
    pub prelude: Option<String>,
    /// More shell words (quoted) for the exit trap to remove, e.g. `"$cf"` set by the prelude.
    pub cleanup: Option<String>,
    /// The file whose ACL and extended attributes the new file gets, as Ansible's atomic move
    /// copies them: `None` for `dest` itself when it is a regular file (not a link), so a
    /// rewrite keeps them; `copy` with `remote_src` names its source.
    pub attrs_from: Option<String>,
}

/// From this size on, an upload is hashed on the host with `openssl` when it is there.
const FAST_HASH_FROM: u64 = 1 << 20;

impl Install {
    /// An install of `dest` with no options.
    pub fn new(dest: impl Into<String>) -> Self {
        Install {
            dest: dest.into(),
            ..Default::default()
        }
    }

    /// The script. `fill` is a shell command that writes the content to the path in `"$f"`
    /// (for example `cat > "$f"` to take it from stdin, or `cat -- SRC > "$f"`).
    pub fn script(&self, fill: &str) -> String {
        let token = super::unpredictable_token();
        let mut s = String::with_capacity(1024);
        s.push_str(&format!("d={}; t=\n", quote(&self.dest)));
        // Remove the temp file on every way out: `exit` in a signal trap runs the EXIT trap.
        let extra = self.cleanup.as_deref().unwrap_or("");
        s.push_str(&format!(
            "trap '[ -z \"$t\" ] || rm -f -- \"$t\"; rm -f -- {extra}' EXIT\n\
             trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE\n"
        ));
        if let Some(p) = &self.prelude {
            s.push_str(p);
            s.push('\n');
        }
        s.push_str(
            "if [ -d \"$d\" ] && [ ! -L \"$d\" ]; then echo \"$d is a directory\" >&2; exit 1; fi\n",
        );
        // O_EXCL create under an unpredictable name; never follows a planted link.
        s.push_str(&format!(
            "n=\"$(dirname -- \"$d\")/.prov-tmp.{token}\"\n\
             umask 077; set -C\n\
             command exec 3>\"$n\" || {{ echo \"cannot create a temporary file beside $d\" >&2; exit 1; }}\n\
             set +C; t=$n\n\
             if [ -e /proc/self/fd/3 ]; then f=/proc/self/fd/3; else f=$t; fi\n"
        ));
        s.push_str(fill);
        s.push_str(" || exit 1\n");
        if let Some((size, sha)) = &self.expect {
            // A large file is hashed by `openssl` when the host has it: it uses the CPU's
            // SHA instructions (200 MB: 0.16 s here, `sha256sum` 0.57 s), but takes a few
            // milliseconds to start, more than a small file costs `sha256sum`.
            let fast = if *size >= FAST_HASH_FROM {
                "command -v openssl >/dev/null 2>&1 && h=$(openssl dgst -sha256 -r < \"$f\" 2>/dev/null) && [ -n \"$h\" ] || "
            } else {
                ""
            };
            s.push_str(&format!(
                "g=$(wc -c < \"$f\") || exit 1\n\
                 if [ \"$((g))\" -ne {size} ]; then echo \"incomplete transfer: received $((g)) of {size} bytes; $d was not changed\" >&2; exit {RC_INCOMPLETE}; fi\n\
                 h=; {fast}if command -v sha256sum >/dev/null 2>&1; then h=$(sha256sum < \"$f\") || exit 1; fi\n\
                 if [ -n \"$h\" ] && [ \"${{h%% *}}\" != {sha} ]; then echo \"corrupted transfer: the SHA-256 of what was received differs from what was sent; $d was not changed\" >&2; exit {RC_INCOMPLETE}; fi\n",
                sha = quote(sha),
            ));
        }
        if let Some(c) = &self.check {
            s.push_str(c);
            s.push('\n');
        }
        // The ACL and extended attributes of the file replaced (or of `attrs_from`), before
        // the owner and mode: a chmod then adjusts the ACL's mask as it does on any file.
        // GNU cp copies only the attributes; elsewhere (or on a file system without them)
        // nothing is copied, as Ansible ignores what it cannot copy.
        let from = match &self.attrs_from {
            Some(a) => format!("[ -f {a} ]", a = quote(a)),
            None => "[ -f \"$d\" ] && [ ! -L \"$d\" ]".to_string(),
        };
        s.push_str(&format!(
            "if {from}; then cp --attributes-only --preserve=mode,xattr -- {} \"$f\" 2>/dev/null || :; fi\n",
            self.attrs_from.as_deref().map_or("\"$d\"".to_string(), quote)
        ));
        // Owner and group first: chown clears setuid/setgid.
        if let Some(o) = &self.owner {
            s.push_str(&format!("chown -- {} \"$f\" || exit 1\n", quote(o)));
        }
        if let Some(g) = &self.group {
            s.push_str(&format!("chgrp -- {} \"$f\" || exit 1\n", quote(g)));
        }
        match &self.mode {
            Some(m) => s.push_str(&format!("chmod -- {} \"$f\" || exit 1\n", quote(m))),
            None => s.push_str(&format!(
                "if [ -f \"$d\" ] && [ ! -L \"$d\" ]; then m=$(stat -c %a -- \"$d\") || exit 1; else m={}; fi\n\
                 chmod -- \"$m\" \"$f\" || exit 1\n",
                quote(self.default_mode.as_deref().unwrap_or("0644"))
            )),
        }
        if let Some(v) = &self.validate {
            s.push_str(&format!(
                "{{ {}; }} >&2 || {{ echo \"validation failed, $d was not changed\" >&2; exit {RC_VALIDATE}; }}\n",
                v.replace("%s", "\"$t\"")
            ));
        }
        if let Some(b) = &self.backup {
            s.push_str(&format!(
                "if [ -e \"$d\" ]; then cp -p -- \"$d\" {} || exit 1; fi\n",
                quote(b)
            ));
        }
        s.push_str(
            "mv -f -- \"$t\" \"$d\" || { if [ \"$f\" = /proc/self/fd/3 ] && [ ! \"$t\" -ef \"$f\" ]; then \
             echo \"the temporary file of $d was replaced by someone else while prov wrote it; $d was not changed\" >&2; fi; exit 1; }\nt=\n\
             if [ \"$f\" = /proc/self/fd/3 ] && { [ -L \"$d\" ] || [ ! \"$d\" -ef \"$f\" ]; }; then \
             echo \"$d was replaced by someone else while prov wrote it\" >&2; exit 1; fi\n",
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str, stdin: &[u8]) -> std::process::Output {
        use std::io::Write;
        let mut c = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(stdin).unwrap();
        c.wait_with_output().unwrap()
    }

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("prov-install-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn sha(b: &[u8]) -> String {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(b))
    }

    fn leftovers(d: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".prov-tmp"))
            .collect()
    }

    #[test]
    fn complete_content_is_installed_with_its_mode() {
        let d = dir("ok");
        let dest = d.join("f");
        let data = b"hello world\n".to_vec();
        let mut i = Install::new(dest.to_str().unwrap());
        i.mode = Some("0640".into());
        i.expect = Some((data.len() as u64, sha(&data)));
        let o = run(&i.script("cat > \"$f\""), &data);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777;
        assert_eq!(m, 0o640);
        assert!(leftovers(&d).is_empty());
        std::fs::remove_dir_all(d).unwrap();
    }

    /// A large upload (hashed by `openssl` where it is found, else `sha256sum`) is installed
    /// whole, and one changed byte is caught.
    #[test]
    fn large_content_is_checked_by_its_hash() {
        let d = dir("large");
        let dest = d.join("f");
        let data: Vec<u8> = (0..FAST_HASH_FROM as usize + 1)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut i = Install::new(dest.to_str().unwrap());
        i.expect = Some((data.len() as u64, sha(&data)));
        let script = i.script("cat > \"$f\"");
        assert!(script.contains("openssl dgst -sha256"));
        let o = run(&script, &data);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        let mut bad = data.clone();
        bad[FAST_HASH_FROM as usize / 2] ^= 1;
        let o = run(&i.script("cat > \"$f\""), &bad);
        assert_eq!(o.status.code(), Some(RC_INCOMPLETE));
        assert!(String::from_utf8_lossy(&o.stderr).contains("corrupted transfer"));
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert!(leftovers(&d).is_empty());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn truncated_content_leaves_dest_untouched() {
        let d = dir("short");
        let dest = d.join("f");
        std::fs::write(&dest, b"old").unwrap();
        let data = vec![7u8; 100_000];
        let mut i = Install::new(dest.to_str().unwrap());
        i.expect = Some((data.len() as u64, sha(&data)));
        // Only a prefix arrives, then a clean end of input (what a dropped channel looks like).
        let o = run(&i.script("cat > \"$f\""), &data[..35_000]);
        assert_eq!(o.status.code(), Some(RC_INCOMPLETE));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("received 35000 of 100000 bytes"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert!(leftovers(&d).is_empty());
        // Same size, other bytes: the checksum catches it.
        let mut bad = data.clone();
        bad[5] = 0;
        let o = run(&i.script("cat > \"$f\""), &bad);
        assert_eq!(o.status.code(), Some(RC_INCOMPLETE));
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert!(leftovers(&d).is_empty());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn setuid_survives_chown() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIP: setuid_survives_chown needs root");
            return;
        }
        let d = dir("suid");
        let dest = d.join("f");
        let mut i = Install::new(dest.to_str().unwrap());
        i.mode = Some("04755".into());
        i.owner = Some("root".into());
        i.group = Some("root".into());
        let o = run(&i.script("cat > \"$f\""), b"#!/bin/sh\n");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777;
        assert_eq!(m, 0o4755);
        std::fs::remove_dir_all(d).unwrap();
    }

    fn set_xattr(p: &std::path::Path, name: &str, value: &[u8]) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let p = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
        let n = std::ffi::CString::new(name).unwrap();
        // SAFETY: valid NUL-terminated strings and a buffer of the given length.
        unsafe {
            libc::setxattr(
                p.as_ptr(),
                n.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            ) == 0
        }
    }

    fn get_xattr(p: &std::path::Path, name: &str) -> Option<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        let p = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
        let n = std::ffi::CString::new(name).unwrap();
        let mut buf = vec![0u8; 256];
        // SAFETY: valid NUL-terminated strings and a buffer of the given length.
        let r =
            unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        (r >= 0).then(|| {
            buf.truncate(r as usize);
            buf
        })
    }

    #[test]
    fn a_rewrite_keeps_the_extended_attributes_of_the_file_replaced() {
        let d = dir("xattr");
        let dest = d.join("f");
        std::fs::write(&dest, b"old").unwrap();
        if !set_xattr(&dest, "user.prov", b"kept") {
            eprintln!("SKIP: no user extended attributes on this file system");
            return;
        }
        let i = Install::new(dest.to_str().unwrap());
        let o = run(&i.script("cat > \"$f\""), b"new\n");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(std::fs::read(&dest).unwrap(), b"new\n");
        assert_eq!(get_xattr(&dest, "user.prov").as_deref(), Some(&b"kept"[..]));
        // attrs_from: another file's attributes (copy with remote_src), content unchanged
        let src = d.join("src");
        std::fs::write(&src, b"src").unwrap();
        assert!(set_xattr(&src, "user.prov", b"from src"));
        let mut i = Install::new(dest.to_str().unwrap());
        i.attrs_from = Some(src.to_str().unwrap().to_string());
        let o = run(&i.script("cat > \"$f\""), b"newer\n");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(std::fs::read(&dest).unwrap(), b"newer\n");
        assert_eq!(
            get_xattr(&dest, "user.prov").as_deref(),
            Some(&b"from src"[..])
        );
        assert!(leftovers(&d).is_empty());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn validation_failure_keeps_dest() {
        let d = dir("validate");
        let dest = d.join("f");
        std::fs::write(&dest, b"old").unwrap();
        let mut i = Install::new(dest.to_str().unwrap());
        i.validate = Some("grep -q good %s".into());
        let o = run(&i.script("cat > \"$f\""), b"bad\n");
        assert_eq!(o.status.code(), Some(RC_VALIDATE));
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert!(leftovers(&d).is_empty());
        let o = run(&i.script("cat > \"$f\""), b"good\n");
        assert!(o.status.success());
        assert_eq!(std::fs::read(&dest).unwrap(), b"good\n");
        std::fs::remove_dir_all(d).unwrap();
    }
}
