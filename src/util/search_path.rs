//! Ansible's search for a file that a task names with a relative path (a lookup's file, a
//! template or copy `src`, an `include_vars` file), given the task's search path: the folders
//! of the roles that led to the task (its own role first), the folder of the task's file,
//! and the playbook's folder (what Ansible shows as `ansible_search_path`).
//!
//! For each folder of the search path, in order, the file is looked for under the kind's
//! sub-folder (`files`, `templates`, `vars`) and then in the folder itself; a task in a
//! sub-folder of a role's `tasks/` also looks in the role's sub-folder and in `tasks/`. The
//! playbook's folder comes last in any case. The first candidate that exists wins.

use std::path::{Component, Path, PathBuf};

/// Where a relative file name is looked for.
#[derive(Debug, Clone, Copy)]
pub struct SearchPath<'a> {
    /// The task's search path, most specific first.
    pub paths: &'a [PathBuf],
    /// The playbook's folder, searched last.
    pub basedir: Option<&'a Path>,
    /// The task belongs to a role.
    pub in_role: bool,
}

impl SearchPath<'_> {
    /// The candidates for `source` of `kind` (`Some("files")`; `None` for a lookup that names
    /// no sub-folder, as `first_found` does), in the order they are tried. An absolute name (or
    /// one under `~`) is its only candidate.
    pub fn candidates(&self, kind: Option<&str>, source: &str) -> Vec<PathBuf> {
        if let Some(abs) = absolute(source) {
            return vec![abs];
        }
        let src = Path::new(source);
        // A name that already starts with the kind's folder is not put under it again.
        let under = |dir: &Path| -> Option<PathBuf> {
            let k = kind?;
            let first = src.components().next();
            if first == Some(Component::Normal(k.as_ref())) {
                return None;
            }
            Some(dir.join(k).join(src))
        };
        let mut out = Vec::new();
        for p in self.paths {
            if let Some(parent) = p.parent()
                && parent.file_name().is_some_and(|n| n == "tasks")
                && (self.in_role || looks_like_role(p))
            {
                // A task file in a sub-folder of a role's `tasks/`.
                if let Some(role) = parent.parent() {
                    out.extend(kind.map(|k| role.join(k).join(src)));
                }
                out.push(parent.join(src));
            }
            out.extend(under(p));
            out.push(p.join(src));
        }
        if let Some(b) = self.basedir {
            out.extend(under(b));
            out.push(b.join(src));
        }
        out
    }

    /// The first candidate for `source` of `kind` that exists, or every candidate tried.
    pub fn find(&self, kind: Option<&str>, source: &str) -> Result<PathBuf, Vec<PathBuf>> {
        let cands = self.candidates(kind, source);
        match cands.iter().find(|c| c.exists()) {
            Some(c) => Ok(c.clone()),
            None => Err(cands),
        }
    }
}

/// `source` as an absolute path when it is one (`~/x` is under `$HOME`).
fn absolute(source: &str) -> Option<PathBuf> {
    if let Some(rest) = source.strip_prefix("~/") {
        return Some(Path::new(&std::env::var("HOME").unwrap_or_default()).join(rest));
    }
    if source == "~" {
        return Some(PathBuf::from(std::env::var("HOME").unwrap_or_default()));
    }
    // `~user` and `~user/...`: that user's home folder (Python's `expanduser`), when the user
    // is known.
    if let Some(r) = source.strip_prefix('~') {
        let (user, rest) = r.split_once('/').unwrap_or((r, ""));
        if let Some(home) = home_of(
            user,
            &std::fs::read_to_string("/etc/passwd").unwrap_or_default(),
        ) {
            return Some(if rest.is_empty() {
                home
            } else {
                home.join(rest)
            });
        }
    }
    let p = Path::new(source);
    p.is_absolute().then(|| p.to_path_buf())
}

/// The home folder of `user` in `passwd` text (`/etc/passwd` lines).
fn home_of(user: &str, passwd: &str) -> Option<PathBuf> {
    if user.is_empty() {
        return None;
    }
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[0] == user).then(|| PathBuf::from(f[5]))
    })
}

/// Whether a folder looks like part of a role (Ansible's imperfect check): it, or its parent,
/// has `tasks/main` or `meta/main`.
fn looks_like_role(p: &Path) -> bool {
    let has_main = |d: &Path| {
        ["tasks", "meta"].iter().any(|sub| {
            ["main.yml", "main.yaml", "main"]
                .iter()
                .any(|m| d.join(sub).join(m).exists())
        })
    };
    has_main(p) || p.parent().is_some_and(has_main)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_user_s_home_folder_from_passwd() {
        let pw = "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/bob:/bin/sh\n";
        assert_eq!(
            super::home_of("bob", pw),
            Some(std::path::PathBuf::from("/home/bob"))
        );
        assert_eq!(super::home_of("nobody", pw), None);
        assert_eq!(
            super::absolute("~root/.ssh/x"),
            super::home_of(
                "root",
                &std::fs::read_to_string("/etc/passwd").unwrap_or_default()
            )
            .map(|h| h.join(".ssh/x"))
            .or(None)
        );
    }

    use super::*;

    #[test]
    fn candidates_follow_the_search_path_then_the_playbook_folder() {
        let paths = [
            PathBuf::from("/pb/roles/web"),
            PathBuf::from("/pb/roles/base"),
            PathBuf::from("/pb/roles/web/tasks"),
        ];
        let sp = SearchPath {
            paths: &paths,
            basedir: Some(Path::new("/pb")),
            in_role: true,
        };
        let c = |kind, src| {
            sp.candidates(kind, src)
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            c(Some("files"), "a.txt"),
            [
                "/pb/roles/web/files/a.txt",
                "/pb/roles/web/a.txt",
                "/pb/roles/base/files/a.txt",
                "/pb/roles/base/a.txt",
                "/pb/roles/web/tasks/files/a.txt",
                "/pb/roles/web/tasks/a.txt",
                "/pb/files/a.txt",
                "/pb/a.txt"
            ]
        );
        // No sub-folder (first_found as a lookup): each folder itself.
        assert_eq!(
            c(None, "default.yml"),
            [
                "/pb/roles/web/default.yml",
                "/pb/roles/base/default.yml",
                "/pb/roles/web/tasks/default.yml",
                "/pb/default.yml"
            ]
        );
        // A name under the kind's folder already is not put under it twice.
        assert_eq!(c(Some("vars"), "vars/x.yml")[0], "/pb/roles/web/vars/x.yml");
        assert_eq!(c(Some("vars"), "vars/x.yml").len(), 4);
        assert_eq!(c(Some("files"), "/etc/hosts"), ["/etc/hosts"]);
        // A task file in a sub-folder of tasks/ also looks in the role and in tasks/.
        let sub = [PathBuf::from("/pb/roles/web/tasks/sub")];
        let sp = SearchPath {
            paths: &sub,
            basedir: None,
            in_role: true,
        };
        assert_eq!(
            sp.candidates(Some("templates"), "t.j2")[..2],
            [
                PathBuf::from("/pb/roles/web/templates/t.j2"),
                PathBuf::from("/pb/roles/web/tasks/t.j2")
            ]
        );
    }

    #[test]
    fn find_returns_the_first_existing_candidate_or_all_tried() {
        let dir = std::env::temp_dir().join(format!("prov-search-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("role/tasks")).unwrap();
        std::fs::write(dir.join("role/tasks/default.yml"), "").unwrap();
        let paths = [dir.join("role"), dir.join("role/tasks")];
        let sp = SearchPath {
            paths: &paths,
            basedir: Some(&dir),
            in_role: true,
        };
        assert_eq!(
            sp.find(None, "default.yml").unwrap(),
            dir.join("role/tasks/default.yml")
        );
        let tried = sp.find(Some("files"), "nope.yml").unwrap_err();
        assert_eq!(tried.len(), 6);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
