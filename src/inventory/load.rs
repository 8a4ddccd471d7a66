//! Loading: inventory sources (files, directories, scripts, host lists) read into an
//! [`Inventory`], and the `group_vars/`/`host_vars/` folders next to them or the playbook.

use super::vars_dirs::{self, VarsDir};
use super::{Inventory, ini, pattern, range, script, yaml};
use crate::error::{Error, Result};
use crate::value::Value;
use std::path::{Path, PathBuf};

/// Whether a YAML inventory file configures the EC2 inventory plugin (`plugin:
/// amazon.aws.aws_ec2` at its top, as Ansible's auto plugin reads it) instead of listing hosts.
fn is_plugin_config(_path: &Path, node: &crate::yaml::Node) -> bool {
    node.get("plugin")
        .and_then(crate::yaml::Node::as_str)
        .is_some_and(|p| p == "amazon.aws.aws_ec2" || p == "aws_ec2")
}

/// File name endings an inventory directory skips (ansible-core 2.19 `INVENTORY_IGNORE_EXTS`).
const IGNORE_EXTS: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

impl Inventory {
    /// Loads inventory sources: files (INI or YAML), directories, or `host1,host2,` lists.
    /// No sources gives an inventory with only the implicit localhost. A source that does not
    /// exist is a warning, as in Ansible (with a hint: the closest file, or the comma of a host
    /// list), and the run goes on without it.
    pub fn load(sources: &[String]) -> Result<Inventory> {
        Inventory::load_with_vault(sources, Vec::new())
    }

    /// [`Inventory::load`], with the vault secrets that decrypt vault-encrypted
    /// `group_vars`/`host_vars` files (as ansible-core decrypts them when it reads them).
    pub fn load_with_vault(
        sources: &[String],
        vault: Vec<crate::template::vault::VaultSecret>,
    ) -> Result<Inventory> {
        let mut inv = Inventory::empty();
        inv.vault = vault;
        let mut var_dirs: Vec<PathBuf> = Vec::new();
        let mut parsed = 0;
        for src in sources {
            let path = Path::new(src);
            if src.contains(',') && !path.exists() {
                inv.parse_host_list(src)?;
                parsed += 1;
                continue;
            }
            if !path.exists() {
                let e = missing_source(src);
                inv.warnings.push(match &e.hint {
                    Some(h) => format!(
                        "Unable to parse {src} as an inventory source: {} ({h})",
                        e.msg
                    ),
                    None => format!("Unable to parse {src} as an inventory source: {}", e.msg),
                });
                continue;
            }
            parsed += 1;
            if path.is_dir() {
                inv.parse_dir(path)?;
                var_dirs.push(path.to_path_buf());
            } else {
                inv.parse_file(path)?;
                let parent = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                var_dirs.push(parent.to_path_buf());
            }
        }
        if parsed == 0 && !sources.is_empty() {
            inv.warnings
                .push("No inventory was parsed, only implicit localhost is available".into());
        }
        inv.reconcile()?;
        for d in var_dirs {
            let vd = inv.load_vars_dir(&d)?;
            inv.inv_vars.push(vd);
        }
        Ok(inv)
    }

    /// Loads `group_vars/` and `host_vars/` next to a playbook (they win over the inventory's).
    pub fn add_playbook_vars_dir(&mut self, dir: &Path) -> Result<()> {
        let vd = self.load_vars_dir(dir)?;
        self.pb_vars.push(vd);
        Ok(())
    }

    fn load_vars_dir(&self, dir: &Path) -> Result<VarsDir> {
        let mut host_names: Vec<&str> = self.hosts.keys().map(|s| s.as_str()).collect();
        host_names.extend(
            pattern::LOCALHOST
                .iter()
                .filter(|n| !self.hosts.contains_key(**n)),
        );
        vars_dirs::load(
            dir,
            self.groups.keys().map(|s| s.as_str()),
            host_names,
            &self.vault,
        )
    }

    fn parse_host_list(&mut self, src: &str) -> Result<()> {
        for item in src.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, port) = range::split_port(item).map_err(|e| {
                Error::inventory(format!("in host list `{src}`: {}", e.msg)).hint(e.hint)
            })?;
            // Its inventory_file is the list as given, its inventory_dir None (as Ansible).
            self.add_host(&name, "ungrouped", Path::new(src));
            self.host_lists.insert(PathBuf::from(src));
            if let Some(p) = port {
                self.set_host_var(&name, "ansible_port", Value::from(i64::from(p)));
            }
        }
        Ok(())
    }

    fn parse_dir(&mut self, dir: &Path) -> Result<()> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            if n.starts_with('.')
                || matches!(n.as_str(), "group_vars" | "host_vars" | "vars_plugins")
                || IGNORE_EXTS.iter().any(|e| n.ends_with(e))
            {
                continue;
            }
            let p = dir.join(&n);
            if p.is_dir() {
                self.parse_dir(&p)?;
            } else {
                self.parse_file(&p)?;
            }
        }
        Ok(())
    }

    /// An inventory plugin's configuration (only `amazon.aws.aws_ec2` is supported).
    fn plugin_config(&mut self, node: &crate::yaml::Node, path: &Path) -> Result<()> {
        #[cfg(feature = "aws")]
        if super::aws_ec2::is_config(path, node) {
            return super::aws_ec2::parse(self, node, path);
        }
        let pnode = node.get("plugin");
        let plugin = pnode
            .and_then(crate::yaml::Node::as_str)
            .unwrap_or_default();
        let aws = plugin == "amazon.aws.aws_ec2" || plugin == "aws_ec2";
        let msg = format!("inventory plugin '{plugin}' is not supported");
        let e = match pnode {
            Some(n) => n.error(msg),
            None => Error::inventory(format!("{}: {msg}", path.display())),
        };
        let mut e = e;
        e.kind = crate::error::ErrorKind::Inventory;
        Err(e.hint(if aws && cfg!(feature = "aws") {
            "name the file *aws_ec2.yml or *aws_ec2.yaml, as Ansible's plugin requires"
        } else if aws {
            "this prov was built without the `aws` feature (cargo build --features aws)"
        } else {
            "prov reads INI, YAML, scripts and amazon.aws.aws_ec2"
        }))
    }

    fn parse_file(&mut self, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        if bytes.starts_with(b"#!") && is_executable(path) {
            return script::parse(self, path);
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::inventory(format!("{} is not UTF-8 text", path.display()))
                .hint("an inventory is an INI or YAML text file, or an executable script")
        })?;
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            // Ansible tries the INI plugin after the YAML one fails; so do we, but report the
            // YAML problem when INI fails too, since the extension says YAML.
            "yml" | "yaml" | "json" => match crate::yaml::load_str(&text, path) {
                Ok(node) if is_plugin_config(path, &node) => self.plugin_config(&node, path),
                Ok(node) if node.as_map().is_some() || node.is_null() => {
                    yaml::parse(self, &node, path)
                }
                Ok(node) => self
                    .try_ini(&text, path)
                    .or_else(|_| yaml::parse(self, &node, path)),
                Err(e) => self.try_ini(&text, path).map_err(|_| e),
            },
            "ini" => ini::parse(self, &text, path),
            _ => match crate::yaml::load_str(&text, path) {
                Ok(node) if node.as_map().is_some() => yaml::parse(self, &node, path),
                Ok(_) => ini::parse(self, &text, path),
                Err(e) if looks_like_yaml(&text) => Err(e),
                Err(_) => ini::parse(self, &text, path),
            },
        }
    }

    /// Parses `text` as INI, changing nothing if it fails.
    fn try_ini(&mut self, text: &str, path: &Path) -> Result<()> {
        let mut scratch = self.clone();
        ini::parse(&mut scratch, text, path)?;
        *self = scratch;
        Ok(())
    }
}

/// The error for an inventory path that does not exist, with the closest sibling as a hint.
fn missing_source(src: &str) -> Error {
    let path = Path::new(src);
    let e = Error::inventory(format!("inventory source `{src}` does not exist"));
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let siblings: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    if let Some(close) = crate::error::did_you_mean(&name, siblings.iter().map(|s| s.as_str())) {
        return e.hint(format!("did you mean `{}`?", dir.join(close).display()));
    }
    if !src.contains(['/', '\\']) {
        return e.hint(format!(
            "to use `{src}` as a host name rather than a file, add a comma: `{src},`"
        ));
    }
    e.hint("give the path of an INI or YAML inventory file or directory, or a host list with a comma (`web1,web2` or `web1,` for one host)")
}

/// A file whose first meaningful line is `name:` is meant as YAML.
fn looks_like_yaml(text: &str) -> bool {
    let Some(line) = text
        .lines()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    else {
        return false;
    };
    line == "---"
        || (line.ends_with(':')
            && !line.starts_with('[')
            && line[..line.len() - 1]
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_sniffing() {
        assert!(looks_like_yaml("# c\nall:\n  hosts:\n"));
        assert!(!looks_like_yaml("[web]\nh1\n"));
        assert!(!looks_like_yaml("h1 a=1\n"));
    }
}
