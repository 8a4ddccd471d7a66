//! Ansible's `jsonfile` fact cache (`fact_caching = jsonfile`): one JSON file per host in the
//! `fact_caching_connection` folder, so a later run (of prov or of ansible-core) sees the facts
//! of an earlier one. The files are ansible-core 2.19's: named `<prefix>s1_<inventory_hostname>`
//! (`s1_` is its cache schema), holding `{"__payload__": "<the facts as JSON text>"}`; values
//! ansible-core wrote with its data tags (`{"value": .., "tags": .., "__ansible_type": ..}`) are
//! read as their plain value. A file older than `fact_caching_timeout` seconds (0: never) is
//! ignored.

use crate::value::{Value, Vars, VaultText, from_json, to_json};
use std::path::{Path, PathBuf};

/// ansible-core's cache schema prefix of every key.
const SCHEMA: &str = "s1_";
/// The key of the JSON text in a cache file.
const PAYLOAD: &str = "__payload__";

/// Where and how long facts are cached.
#[derive(Debug, Clone, PartialEq)]
pub struct FactCache {
    /// `fact_caching_connection`.
    pub dir: PathBuf,
    /// `fact_caching_prefix`.
    pub prefix: String,
    /// `fact_caching_timeout` in seconds (default 86400; 0 keeps facts forever).
    pub timeout: u64,
}

impl FactCache {
    /// A cache in `dir` with Ansible's defaults (no prefix, one day).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FactCache {
            dir: dir.into(),
            prefix: String::new(),
            timeout: 86_400,
        }
    }

    /// The file of `host`'s facts.
    pub fn file(&self, host: &str) -> PathBuf {
        self.dir.join(format!("{}{SCHEMA}{host}", self.prefix))
    }

    fn expired(&self, path: &Path) -> bool {
        if self.timeout == 0 {
            return false;
        }
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > self.timeout)
    }

    /// `host`'s cached facts (names as Ansible stores them: `ansible_hostname`, `my_fact`), or
    /// `None` without a file, with an expired one, or with one that is not a cache file.
    pub fn load(&self, host: &str) -> Option<Vars> {
        let path = self.file(host);
        if self.expired(&path) {
            return None;
        }
        let text = std::fs::read_to_string(&path).ok()?;
        let outer: serde_json::Value = serde_json::from_str(&text).ok()?;
        let inner: serde_json::Value = match outer.get(PAYLOAD) {
            Some(serde_json::Value::String(p)) => serde_json::from_str(p).ok()?,
            _ => outer,
        };
        let serde_json::Value::Object(m) = inner else {
            return None;
        };
        Some(m.iter().map(|(k, v)| (k.clone(), untag(v))).collect())
    }

    /// Writes `host`'s facts (the whole set: each write replaces the file), through a
    /// temporary file renamed into place. Creates the folder.
    pub fn store(&self, host: &str, facts: &Vars) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let inner =
            serde_json::Value::Object(facts.iter().map(|(k, v)| (k.clone(), to_json(v))).collect());
        let outer = serde_json::json!({ PAYLOAD: inner.to_string() });
        let path = self.file(host);
        let tmp = self.dir.join(format!(
            ".{}{SCHEMA}{host}.{}.tmp",
            self.prefix,
            std::process::id()
        ));
        std::fs::write(&tmp, outer.to_string())?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))?;
        }
        std::fs::rename(&tmp, &path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }

    /// Forgets `host`'s facts (`--flush-cache`, `meta: clear_facts`).
    pub fn delete(&self, host: &str) {
        let _ = std::fs::remove_file(self.file(host));
    }
}

/// A JSON value as ansible-core's cache holds it, without its data tags: a tagged value is
/// `{"value": .., "tags": [..], "__ansible_type": ..}`; encrypted text becomes vault text.
fn untag(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Object(m) => {
            if let Some(t) = m.get("__ansible_type").and_then(|t| t.as_str()) {
                if let (true, Some(serde_json::Value::String(c))) =
                    (t == "EncryptedString", m.get("value"))
                {
                    return Value::from_object(VaultText::new(c.clone()));
                }
                if let Some(v) = m.get("value") {
                    return untag(v);
                }
            }
            Value::from_iter(
                m.iter()
                    .filter(|(k, _)| k.as_str() != "__ansible_type")
                    .map(|(k, v)| (Value::from(k.as_str()), untag(v))),
            )
        }
        serde_json::Value::Array(a) => Value::from_iter(a.iter().map(untag)),
        other => from_json(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("prov-fc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn reads_ansible_cores_tagged_files_and_round_trips_its_own() {
        let dir = tmp("tagged");
        let c = FactCache {
            prefix: "p_".into(),
            ..FactCache::new(&dir)
        };
        // What ansible-core 2.19 wrote for `set_fact: {x: a, d: {n: 1}, cacheable: true}`.
        let inner = r#"{"x": {"value": "a", "tags": [{"path": "/p.yml", "line_num": 5, "col_num": 9, "__ansible_type": "Origin"}, {"__ansible_type": "TrustedAsTemplate"}], "__ansible_type": "_AnsibleTaggedStr"}, "d": {"value": {"n": {"value": 1, "tags": [], "__ansible_type": "_AnsibleTaggedInt"}}, "tags": [], "__ansible_type": "_AnsibleTaggedDict"}, "plain": [1, "two"]}"#;
        let file = serde_json::json!({ "__payload__": inner }).to_string();
        std::fs::write(dir.join("p_s1_web1"), file).unwrap();
        let f = c.load("web1").unwrap();
        assert_eq!(f["x"], Value::from("a"));
        assert_eq!(f["d"].get_attr("n").unwrap(), Value::from(1));
        assert_eq!(f["plain"].to_string(), "[1, \"two\"]");
        assert!(c.load("web2").is_none());

        let mut v = Vars::new();
        v.insert("ansible_foo".into(), Value::from("bar"));
        c.store("web2", &v).unwrap();
        let raw = std::fs::read_to_string(dir.join("p_s1_web2")).unwrap();
        let outer: serde_json::Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            outer["__payload__"].as_str().unwrap(),
            r#"{"ansible_foo":"bar"}"#
        );
        assert_eq!(c.load("web2").unwrap(), v);
        c.delete("web2");
        assert!(c.load("web2").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn old_files_expire() {
        let dir = tmp("expire");
        let mut c = FactCache::new(&dir);
        c.store("h", &Vars::new()).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(100);
        std::fs::File::options()
            .write(true)
            .open(c.file("h"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        c.timeout = 50;
        assert!(c.load("h").is_none());
        c.timeout = 0;
        assert!(c.load("h").is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
