//! File modes (octal and symbolic, resolved on the controller so plans are exact) and the
//! attribute changes (`chmod`, `chown`, `chgrp`) that enforce mode, owner and group.

use super::inspect::StatData;
use super::plan::exec;
use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::{Change, Diff, FileAttrs, TaskCtx};

/// Formats permission bits the way Ansible returns them (`0644`, `04755`).
pub fn fmt_mode(m: u32) -> String {
    // Ansible's '0%03o': `0644`, and `04755` with setuid/setgid/sticky bits
    format!("0{:03o}", m & 0o7777)
}

/// Permission bits as stat and find return them (`%04o`: `0644`, `1777`).
pub fn stat_mode(m: u32) -> String {
    format!("{:04o}", m & 0o7777)
}

/// A mode as a `chmod` argument that sets exactly these bits: the extra leading zero makes GNU
/// chmod clear a directory's setuid/setgid bits too (`chmod 0755 dir` would keep them).
pub fn chmod_arg(m: u32) -> String {
    format!("0{:04o}", m & 0o7777)
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

pub fn owner_matches(want: &str, name: &str, id: u32) -> bool {
    match want.parse::<u32>() {
        Ok(n) => n == id,
        Err(_) => want == name,
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
    attr_change_deep(ctx, path, st, is_dir, attrs, link, recurse, false)
}

/// [`attr_change`], where `follow` makes a recursive change follow the links below `path`
/// (their targets change, linked folders are walked; broken links are left alone).
#[allow(clippy::too_many_arguments)]
pub fn attr_change_deep(
    ctx: &TaskCtx<'_>,
    path: &str,
    st: &StatData,
    is_dir: bool,
    attrs: &Attrs,
    link: bool,
    recurse: bool,
    follow: bool,
) -> Result<(Option<Change>, u32)> {
    // a recursive change through links: find -L hands every target to the command
    let deep = |cmd: &str, arg: &str| {
        format!(
            "find -L {} ! -type l -exec {cmd} {} {{}} +",
            quote(path),
            quote(arg)
        )
    };
    let follow = recurse && follow;
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
            chmod = Some(if follow {
                deep("chmod", &m)
            } else {
                format!("chmod {r}{} -- {}", quote(&m), quote(path))
            });
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
        script.push(if follow {
            deep("chown", o)
        } else {
            format!("chown {r}{h}{} -- {}", quote(o), quote(path))
        });
    }
    if let Some(g) = &attrs.group
        && (!owner_matches(g, &st.group, st.gid) || recurse)
    {
        if !owner_matches(g, &st.group, st.gid) {
            parts.push(format!("chgrp {} -> {g}", st.group));
            before.push_str(&format!("group: '{}'\n", st.group));
            after.push_str(&format!("group: '{g}'\n"));
        }
        script.push(if follow {
            deep("chgrp", g)
        } else {
            format!("chgrp {r}{h}{} -- {}", quote(g), quote(path))
        });
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
        action: exec(ctx, script.join(" && "), false),
    };
    Ok((Some(change), mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_formatted_as_ansible_returns_them() {
        assert_eq!(fmt_mode(0o644), "0644");
        assert_eq!(fmt_mode(0o1444), "01444");
        assert_eq!(stat_mode(0o644), "0644");
        assert_eq!(stat_mode(0o1777), "1777");
        assert_eq!(chmod_arg(0o4755), "04755");
    }

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
}
