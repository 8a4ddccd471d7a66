//! ansible.cfg and the settings read from it: `[section] key` values with their
//! `ANSIBLE_*` environment overrides, inventory sources, `roles_path`, extra variables.

use super::Common;
use crate::error::{Error, Result};
use crate::value::{Value, Vars};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Settings from ansible.cfg and ANSIBLE_* environment variables.
#[derive(Debug, Default, Clone)]
pub struct Config {
    /// `[section] key` → value.
    pub values: HashMap<(String, String), String>,
    /// The file read, if any.
    pub file: Option<PathBuf>,
}

impl Config {
    /// Finds and reads ansible.cfg (ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg).
    pub fn load() -> Result<Config> {
        let mut cands: Vec<PathBuf> = Vec::new();
        if let Ok(p) = std::env::var("ANSIBLE_CONFIG") {
            cands.push(PathBuf::from(p));
        }
        cands.push(PathBuf::from("ansible.cfg"));
        if let Ok(h) = std::env::var("HOME") {
            cands.push(Path::new(&h).join(".ansible.cfg"));
        }
        for c in cands {
            if c.is_file() {
                let text = std::fs::read_to_string(&c).map_err(|e| Error::io(&c, e))?;
                return Ok(Config {
                    values: parse_cfg(&text),
                    file: Some(c),
                });
            }
        }
        Ok(Config::default())
    }

    /// A setting: the environment variable wins over the file.
    pub fn get(&self, section: &str, key: &str, env: &str) -> Option<String> {
        if let Ok(v) = std::env::var(env)
            && !v.is_empty()
        {
            return Some(v);
        }
        self.values
            .get(&(section.to_string(), key.to_string()))
            .cloned()
    }

    /// Resolves a path setting relative to the config file's folder.
    pub(super) fn path(&self, v: &str) -> PathBuf {
        let expanded = if let Some(rest) = v.strip_prefix("~/") {
            Path::new(&std::env::var("HOME").unwrap_or_default()).join(rest)
        } else {
            PathBuf::from(v)
        };
        if expanded.is_absolute() {
            return expanded;
        }
        match self.file.as_ref().and_then(|f| f.parent()) {
            Some(d) => d.join(expanded),
            None => expanded,
        }
    }
}

/// `prov config dump`: as `ansible-config dump`, `NAME(ORIGIN) = VALUE` lines, the file read
/// first (`CONFIG_FILE() = ...`).
pub(super) fn dump(cfg: &Config, only_changed: bool) -> i32 {
    let file = cfg
        .file
        .as_ref()
        .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()));
    let mut lines = vec![format!(
        "CONFIG_FILE() = {}",
        file.as_ref()
            .map_or("None".to_string(), |f| f.display().to_string())
    )];
    for (name, origin, value) in
        crate::template::lookups::dump_settings(&cfg.values, file.as_deref(), only_changed)
    {
        lines.push(format!("{name}({origin}) = {value}"));
    }
    lines.sort();
    let mut out = lines.join("\n");
    out.push('\n');
    print!("{out}");
    0
}

/// What duplicate mapping keys in YAML do: `[defaults] duplicate_dict_key`
/// (`ANSIBLE_DUPLICATE_YAML_DICT_KEY`): `error` (prov's default), `warn` or `ignore`.
pub(super) fn configure_yaml(cfg: &Config) {
    use crate::yaml::DuplicateKeys;
    let mode = cfg.get(
        "defaults",
        "duplicate_dict_key",
        "ANSIBLE_DUPLICATE_YAML_DICT_KEY",
    );
    crate::yaml::set_duplicate_keys(match mode.as_deref().map(str::trim) {
        Some("warn") => DuplicateKeys::Warn,
        Some("ignore") => DuplicateKeys::Ignore,
        _ => DuplicateKeys::Error,
    });
}

/// The fact cache from `[defaults] fact_caching` (`ANSIBLE_CACHE_PLUGIN`): `memory` (the
/// default: none that outlives the run) or `jsonfile`, in `fact_caching_connection`
/// (`ANSIBLE_CACHE_PLUGIN_CONNECTION`, required), with `fact_caching_prefix`
/// (`ANSIBLE_CACHE_PLUGIN_PREFIX`) and `fact_caching_timeout` (`ANSIBLE_CACHE_PLUGIN_TIMEOUT`,
/// seconds, default 86400).
pub(super) fn fact_cache(cfg: &Config) -> Result<Option<crate::engine::fact_cache::FactCache>> {
    let plugin = cfg
        .get("defaults", "fact_caching", "ANSIBLE_CACHE_PLUGIN")
        .unwrap_or_else(|| "memory".into());
    let plugin = plugin.trim();
    let plugin = plugin
        .strip_prefix("ansible.builtin.")
        .or_else(|| plugin.strip_prefix("ansible.legacy."))
        .unwrap_or(plugin);
    match plugin {
        "memory" | "" => return Ok(None),
        "jsonfile" => {}
        other => {
            return Err(
                Error::options(format!("cache plugin '{other}' is not supported"))
                    .hint("prov keeps facts in memory (`memory`) or in JSON files (`jsonfile`)"),
            );
        }
    }
    let dir = match std::env::var("ANSIBLE_CACHE_PLUGIN_CONNECTION") {
        Ok(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => cfg
            .get("defaults", "fact_caching_connection", "")
            .map(|v| cfg.path(v.trim())),
    };
    let Some(dir) = dir else {
        return Err(Error::options(
            "error, 'jsonfile' cache plugin requires the 'fact_caching_connection' config \
             option to be set (to a writeable directory path)",
        ));
    };
    let timeout = match cfg.get(
        "defaults",
        "fact_caching_timeout",
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT",
    ) {
        Some(t) => t.trim().parse::<f64>().map_err(|_| {
            Error::options(format!(
                "fact_caching_timeout must be a number of seconds, not '{t}'"
            ))
        })? as u64,
        None => 86_400,
    };
    Ok(Some(crate::engine::fact_cache::FactCache {
        dir,
        prefix: cfg
            .get(
                "defaults",
                "fact_caching_prefix",
                "ANSIBLE_CACHE_PLUGIN_PREFIX",
            )
            .unwrap_or_default(),
        timeout,
    }))
}

pub(crate) fn parse_cfg(text: &str) -> HashMap<(String, String), String> {
    let mut out = HashMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if l.starts_with('[') && l.ends_with(']') {
            section = l[1..l.len() - 1].trim().to_string();
            continue;
        }
        if let Some((k, v)) = l.split_once('=').or_else(|| l.split_once(':')) {
            let v = v
                .split(" ;")
                .next()
                .unwrap_or(v)
                .split(" #")
                .next()
                .unwrap_or(v);
            out.insert(
                (section.clone(), k.trim().to_string()),
                v.trim().to_string(),
            );
        }
    }
    out
}

pub(super) fn inventory_sources(c: &Common, cfg: &Config) -> Vec<String> {
    if !c.inventory.is_empty() {
        return c.inventory.clone();
    }
    if let Some(v) = cfg.get("defaults", "inventory", "ANSIBLE_INVENTORY") {
        return v
            .split(',')
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                let p = cfg.path(s);
                if p.exists() {
                    p.display().to_string()
                } else {
                    s.to_string()
                }
            })
            .collect();
    }
    if Path::new("/etc/ansible/hosts").is_file() {
        return vec!["/etc/ansible/hosts".into()];
    }
    vec![]
}

/// Parses `-e` arguments (k=v words, @file, or JSON/YAML text) into vars, later ones winning.
pub fn parse_extra_vars(args: &[String]) -> Result<Vars> {
    parse_extra_vars_with(args, &[])
}

/// [`parse_extra_vars`], with vault secrets for a vault-encrypted `@file`.
pub fn parse_extra_vars_with(
    args: &[String],
    vault: &[crate::template::vault::VaultSecret],
) -> Result<Vars> {
    let mut out = Vars::new();
    for a in args {
        if let Some(f) = a.strip_prefix('@') {
            let path = Path::new(f);
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let text = crate::template::vault::file_text(text, path, vault)?;
            let node = crate::yaml::load_str(&text, path)?;
            out.extend(crate::playbook::vars_of(&node)?);
        } else if a.trim_start().starts_with('{') || a.trim_start().starts_with('[') {
            let node = crate::yaml::load_str(a, Path::new("<extra vars>"))?;
            out.extend(crate::playbook::vars_of(&node)?);
        } else {
            let bad = |msg: &str| {
                Error::options(format!("bad -e value '{a}': {msg}"))
                    .hint("use key=value, @file.yml or JSON")
            };
            let (rest, kv) =
                crate::playbook::split_free_form(a, None, "extra vars").map_err(|e| bad(&e.msg))?;
            if let Some(w) = rest {
                return Err(bad(&format!("'{w}' is not key=value")));
            }
            for (k, v) in kv {
                out.insert(k, Value::from(v));
            }
        }
    }
    Ok(out)
}

pub(super) fn roles_path(cfg: &Config) -> Vec<PathBuf> {
    cfg.get("defaults", "roles_path", "ANSIBLE_ROLES_PATH")
        .map(|v| {
            v.split(':')
                .filter(|s| !s.is_empty())
                .map(|s| cfg.path(s))
                .collect()
        })
        .unwrap_or_default()
}

/// Tells the module fallback where ansible.cfg says modules are: `library` and
/// `collections_path` (`collections_paths`), with their `ANSIBLE_*` overrides, relative
/// folders resolved from the file's folder.
pub(super) fn configure_fallback(cfg: &Config) {
    let list = |key: &str, env: &str| {
        cfg.get("defaults", key, env).map(|v| {
            v.split(':')
                .filter(|s| !s.is_empty())
                .map(|s| cfg.path(s).display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        })
    };
    crate::modules::fallback::configure(
        list("library", "ANSIBLE_LIBRARY"),
        list("collections_path", "ANSIBLE_COLLECTIONS_PATH")
            .or_else(|| list("collections_paths", "ANSIBLE_COLLECTIONS_PATHS")),
    );
}
