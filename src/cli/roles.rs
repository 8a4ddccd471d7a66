//! `prov roles install`: ansible-galaxy's role installs from a requirements file (or the
//! command line), from git repositories, tarballs (local or by URL) and local folders. Each role
//! is fetched into a temp folder beside the roles path and renamed into place whole; a role
//! already installed at the asked version is left alone (`--force` installs it again). Galaxy
//! server names are refused with a clear error (no Galaxy server is reachable from here).

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args as ClapArgs, Subcommand};

use super::{Config, write_stdout};
use crate::error::{Error, Result};

/// `prov roles`: role installs (like `ansible-galaxy role`).
#[derive(ClapArgs, Debug)]
pub(super) struct RolesArgs {
    #[command(subcommand)]
    action: RolesAction,
}

#[derive(Subcommand, Debug)]
enum RolesAction {
    /// Install roles from a requirements file or the command line.
    Install {
        /// Roles to install: `src[,version[,name]]` as ansible-galaxy reads them.
        roles: Vec<String>,
        /// A requirements file (`roles:` list, or a plain list).
        #[arg(short = 'r', long = "role-file", value_name = "FILE")]
        role_file: Option<PathBuf>,
        /// Where roles go (default: the first of ansible.cfg's roles_path, else
        /// ~/.ansible/roles).
        #[arg(short = 'p', long = "roles-path", value_name = "DIR")]
        roles_path: Option<PathBuf>,
        /// Install again even when the version is already installed.
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
}

/// One role to install, as a requirements entry gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Req {
    src: String,
    version: Option<String>,
    name: String,
    scm: Option<String>,
}

pub(super) fn roles(a: RolesArgs, cfg: &Config) -> Result<i32> {
    let RolesAction::Install {
        roles,
        role_file,
        roles_path,
        force,
    } = a.action;
    let mut reqs = Vec::new();
    if let Some(f) = &role_file {
        reqs.extend(read_requirements(f)?);
    }
    for r in &roles {
        reqs.push(parse_line(r)?);
    }
    if reqs.is_empty() {
        return Err(
            Error::options("no roles to install").hint("give -r requirements.yml or role sources")
        );
    }
    let dest = roles_path
        .or_else(|| super::roles_path(cfg).into_iter().next())
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".ansible/roles")
        });
    std::fs::create_dir_all(&dest).map_err(|e| Error::io(&dest, e))?;
    let base = role_file
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut failed = 0;
    for r in &reqs {
        match install(r, &dest, &base, force) {
            Ok(msg) => outln!("{msg}"),
            Err(e) => {
                errln!("[ERROR]: {}: {}", r.name, e);
                failed += 1;
            }
        }
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

/// The version recorded for an installed role (ansible-galaxy's `meta/.galaxy_install_info`).
fn installed_version(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("meta/.galaxy_install_info")).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix("version:")
            .map(|v| v.trim().trim_matches(['\'', '"']).to_string())
    })
}

fn install(r: &Req, dest: &Path, base: &Path, force: bool) -> Result<String> {
    let target = dest.join(&r.name);
    let want = r.version.clone().unwrap_or_default();
    if target.exists() && !force {
        let have = installed_version(&target).unwrap_or_default();
        if have == want {
            return Ok(format!(
                "- {} ({}) is already installed, skipping.",
                r.name,
                if want.is_empty() {
                    "unknown version"
                } else {
                    &want
                }
            ));
        }
        return Err(Error::other(format!(
            "{} is installed at version {} (not {}): use --force to replace it",
            target.display(),
            if have.is_empty() { "unknown" } else { &have },
            if want.is_empty() {
                "the default"
            } else {
                &want
            }
        )));
    }
    let stage = tempdir_in(dest)?;
    let staged = stage.0.join("role");
    fetch(r, base, &stage.0, &staged)?;
    std::fs::create_dir_all(staged.join("meta")).map_err(|e| Error::io(&staged, e))?;
    std::fs::write(
        staged.join("meta/.galaxy_install_info"),
        format!(
            "install_date: '{}'\nversion: '{}'\n",
            jiff::Timestamp::now().strftime("%a %b %d %H:%M:%S %Y"),
            want
        ),
    )
    .map_err(|e| Error::io(&staged, e))?;
    // Replace whole: the old one moves aside, the new one in, then the old one goes.
    let old = stage.0.join("old");
    if target.exists() {
        std::fs::rename(&target, &old).map_err(|e| Error::io(&target, e))?;
    }
    if let Err(e) = std::fs::rename(&staged, &target) {
        if old.exists() {
            let _ = std::fs::rename(&old, &target);
        }
        return Err(Error::io(&target, e));
    }
    Ok(format!(
        "- {} ({}) was installed successfully",
        r.name,
        if want.is_empty() {
            "unknown version"
        } else {
            &want
        }
    ))
}

fn tempdir_in(dir: &Path) -> Result<crate::util::PrivateTempDir> {
    crate::util::PrivateTempDir::new_in(dir, ".prov-role-").map_err(|e| Error::io(dir, e))
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd
        .output()
        .map_err(|e| Error::other(format!("{what}: cannot run {:?}: {e}", cmd.get_program())))?;
    if !out.status.success() {
        return Err(Error::other(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Fetches the role into `into` (a folder that does not exist yet).
fn fetch(r: &Req, base: &Path, stage: &Path, into: &Path) -> Result<()> {
    let is_git = r.scm.as_deref() == Some("git")
        || r.src.starts_with("git+")
        || r.src.ends_with(".git")
        || r.src.starts_with("git@");
    if let Some(scm) = r.scm.as_deref().filter(|s| *s != "git") {
        return Err(Error::options(format!(
            "scm '{scm}' is not supported (git is)"
        )));
    }
    if is_git {
        let url = r.src.strip_prefix("git+").unwrap_or(&r.src);
        let url = local_path(url, base)
            .map(|p| p.display().to_string())
            .unwrap_or(url.to_string());
        run(
            Command::new("git")
                .args(["clone", "--quiet", "--", &url])
                .arg(into),
            &format!("git clone {url}"),
        )?;
        if let Some(v) = &r.version {
            run(
                Command::new("git")
                    .arg("-C")
                    .arg(into)
                    .args(["checkout", "--quiet", v, "--"]),
                &format!("git checkout {v}"),
            )?;
        }
        let _ = std::fs::remove_dir_all(into.join(".git"));
        return Ok(());
    }
    let archive = if r.src.starts_with("http://") || r.src.starts_with("https://") {
        let f = stage.join("download");
        run(
            Command::new("curl")
                .args(["-fsSL", "-o"])
                .arg(&f)
                .arg(&r.src),
            &format!("download {}", r.src),
        )?;
        f
    } else {
        match local_path(&r.src, base) {
            Some(p) if p.is_dir() => return copy_dir(&p, into),
            Some(p) if p.is_file() => p,
            _ if looks_like_galaxy(&r.src) => {
                return Err(Error::options(format!(
                    "'{}' is a Galaxy name: installing from a Galaxy server is not supported yet",
                    r.src
                ))
                .hint("give the role's git URL (src: https://..., scm: git) or a tarball"));
            }
            _ => {
                return Err(Error::options(format!(
                    "cannot find the role source '{}'",
                    r.src
                )));
            }
        }
    };
    let unpack = stage.join("unpack");
    std::fs::create_dir_all(&unpack).map_err(|e| Error::io(&unpack, e))?;
    run(
        Command::new("tar")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(&unpack),
        &format!("unpack {}", r.src),
    )?;
    // A tarball holds the role's folder (ansible-galaxy's layout) or the role's files.
    let entries: Vec<PathBuf> = std::fs::read_dir(&unpack)
        .map_err(|e| Error::io(&unpack, e))?
        .flatten()
        .map(|e| e.path())
        .collect();
    let root = match entries.as_slice() {
        [one]
            if one.is_dir() && !one.join("tasks").exists() && one.join("meta").exists()
                || one.is_dir() && one.join("tasks").is_dir() =>
        {
            one.clone()
        }
        _ => unpack.clone(),
    };
    std::fs::rename(&root, into).map_err(|e| Error::io(into, e))
}

fn looks_like_galaxy(src: &str) -> bool {
    let parts: Vec<&str> = src.split('.').collect();
    parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// A local source: `file://`, an absolute path, or one relative to the requirements file.
fn local_path(src: &str, base: &Path) -> Option<PathBuf> {
    let p = src.strip_prefix("file://").unwrap_or(src);
    if p.contains("://") || p.starts_with("git@") {
        return None;
    }
    let p = if let Some(rest) = p.strip_prefix("~/") {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(rest)
    } else {
        PathBuf::from(p)
    };
    let p = if p.is_absolute() { p } else { base.join(p) };
    p.exists().then_some(p)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    run(
        Command::new("cp").arg("-a").arg(from).arg(to),
        &format!("copy {}", from.display()),
    )?;
    let _ = std::fs::remove_dir_all(to.join(".git"));
    Ok(())
}

/// The role name ansible-galaxy derives from a source: the last path part without `.git`
/// and archive extensions (`https://x/y/role.git` → `role`).
fn name_of(src: &str) -> String {
    let s = src.trim_end_matches('/');
    let s = s.rsplit([':', '/']).next().unwrap_or(s);
    let mut s = s.to_string();
    for ext in [
        ".git", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip",
    ] {
        if let Some(x) = s.strip_suffix(ext) {
            s = x.to_string();
            break;
        }
    }
    s
}

/// `src[,version[,name]]` (ansible-galaxy's command-line and old requirements form).
fn parse_line(line: &str) -> Result<Req> {
    let mut parts = line.split(',').map(str::trim);
    let src = parts.next().unwrap_or_default().to_string();
    if src.is_empty() {
        return Err(Error::options(format!("'{line}': no role source")));
    }
    let version = parts.next().filter(|v| !v.is_empty()).map(String::from);
    let name = parts
        .next()
        .filter(|n| !n.is_empty())
        .map(String::from)
        .unwrap_or_else(|| name_of(src.strip_prefix("git+").unwrap_or(&src)));
    let scm = src.starts_with("git+").then(|| "git".to_string());
    Ok(Req {
        src,
        version,
        name,
        scm,
    })
}

/// The roles of a requirements file: a `roles:` list (the `collections:` part is not
/// supported and is reported), or a plain list; each entry a mapping (`src`, `version`,
/// `name`, `scm`) or a `src[,version[,name]]` string.
pub(super) fn read_requirements(path: &Path) -> Result<Vec<Req>> {
    let node = crate::yaml::load_file(path)?;
    let doc = node.to_value();
    let list = match doc.get_attr("roles") {
        Ok(r) if !r.is_undefined() => r,
        _ => doc.clone(),
    };
    if let Ok(c) = doc.get_attr("collections")
        && !c.is_undefined()
        && c.len().unwrap_or(0) > 0
    {
        errln!(
            "[WARNING]: {}: collections are not installed by prov (only roles)",
            path.display()
        );
    }
    let mut out = Vec::new();
    let Ok(iter) = list.try_iter() else {
        return Err(Error::parse(format!(
            "{}: expected a list of roles (or `roles:`)",
            path.display()
        )));
    };
    for e in iter {
        if let Some(s) = e.as_str() {
            out.push(parse_line(s)?);
            continue;
        }
        let get = |k: &str| {
            e.get_attr(k)
                .ok()
                .filter(|v| !v.is_undefined() && !v.is_none())
                .map(|v| v.to_string())
        };
        let (src, name) = match (get("src"), get("name")) {
            (Some(s), n) => (s, n),
            // `- name: geerlingguy.docker` alone: a Galaxy name
            (None, Some(n)) => (n.clone(), Some(n)),
            (None, None) => {
                return Err(Error::parse(format!(
                    "{}: a role entry needs `src` (or a Galaxy `name`)",
                    path.display()
                )));
            }
        };
        let mut r = parse_line(&src)?;
        if let Some(n) = name {
            r.name = n;
        }
        if let Some(v) = get("version") {
            r.version = Some(v);
        }
        if let Some(s) = get("scm") {
            r.scm = Some(s);
        }
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_come_from_their_sources() {
        assert_eq!(
            name_of("https://github.com/x/ansible-role-nginx.git"),
            "ansible-role-nginx"
        );
        assert_eq!(name_of("git@github.com:x/role.git"), "role");
        assert_eq!(name_of("/srv/roles/web.tar.gz"), "web");
        let r = parse_line("git+https://h/x/app.git,v1.2,myapp").unwrap();
        assert_eq!(
            r,
            Req {
                src: "git+https://h/x/app.git".into(),
                version: Some("v1.2".into()),
                name: "myapp".into(),
                scm: Some("git".into())
            }
        );
        assert!(looks_like_galaxy("geerlingguy.docker"));
        assert!(!looks_like_galaxy("/a/b.tar"));
    }
}
