//! `stat`: facts about a remote path, in one round trip.

use crate::connection::quote;
use crate::error::Result;
use crate::modules::toolkit::{self, Kind, stat_value};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `stat` module.
pub struct Stat;

crate::options! {
    /// The `stat` module's options.
    pub(crate) struct Opts {
        path: String = opt::path("The path to inspect.").required().aliases(&["dest", "name"]),
        follow: bool = opt::bool("Follow symbolic links.").default("no"),
        get_checksum: bool = opt::bool("Compute the checksum of a regular file.").default("yes"),
        checksum_algorithm: String = opt::str("Checksum algorithm.").default("sha1").choices(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]).aliases(&["checksum", "checksum_algo"]),
        get_mime: bool = opt::bool("Add `mimetype` and `charset` (from `file -i`).").default("yes").aliases(&["mime", "mime_type", "mime-type"]),
        get_attributes: bool = opt::bool("Add `attributes`, `attr_flags` and `version` (from `lsattr`).").default("yes").aliases(&["attr", "attributes"]),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("stat", "Retrieve file or file system status")
    .description(
        "Returns `stat` with `exists`, `isdir`, `isreg`, `islnk`, `mode`, `uid`, `gid`, \
        `pw_name`, `gr_name`, `size`, `mtime`, `atime`, `ctime`, `inode`, `dev`, `nlink`, \
        `block_size`, `blocks`, `device_type`, permission flags, `lnk_source`/`lnk_target` for \
        links, `checksum` (of a regular file, SHA-1 by default like Ansible), `mimetype` and \
        `charset` (`get_mime`), `attributes`, `attr_flags` and `version` (`get_attributes`). \
        Times have sub-second precision. Never changes anything.",
    )
    .spec::<Opts>()
    .examples(
        r#"- stat:
    path: /etc/foo.conf
  register: st
- debug:
    msg: "it is a folder"
  when: st.stat.isdir is defined and st.stat.isdir
"#,
    );

/// Ansible's names of the `lsattr` flags.
const ATTRIBUTE_NAMES: &[(char, &str)] = &[
    ('A', "noatime"),
    ('a', "append"),
    ('c', "compressed"),
    ('C', "nocow"),
    ('d', "nodump"),
    ('D', "dirsync"),
    ('e', "extents"),
    ('E', "encrypted"),
    ('h', "blocksize"),
    ('i', "immutable"),
    ('I', "indexed"),
    ('j', "journalled"),
    ('N', "inline"),
    ('s', "zero"),
    ('S', "synchronous"),
    ('t', "notail"),
    ('T', "blockroot"),
    ('u', "undelete"),
    ('X', "compressedraw"),
    ('Z', "compresseddirty"),
];

/// The script printing what the common inspection lacks: precise times, blocks, the device
/// type, `lsattr -vd` and `file -i` (each only when wanted, and only for an existing path).
fn extra_script(path: &str, follow: bool, attrs: bool, mime: bool) -> String {
    let p = quote(path);
    let l = if follow { "-L " } else { "" };
    let mut s = format!(
        "if [ -e {p} ] || [ -L {p} ]; then\n\
         stat {l}-c 'x=%.9Y|%.9X|%.9Z|%b|%o|%r' -- {p} 2>/dev/null\n"
    );
    if attrs {
        s.push_str(&format!(
            "a=$(lsattr -vd -- {p} 2>/dev/null) && printf 'a=%s\\n' \"$a\"\n"
        ));
    }
    if mime {
        s.push_str(&format!(
            "m=$(file -i -b -- {p} 2>/dev/null) && printf 'm=%s\\n' \"$m\"\n"
        ));
    }
    s.push_str("fi");
    s
}

/// Adds what [`extra_script`] printed to a `stat` dict.
fn add_extra(stat: Value, out: &str, mime: bool, attrs: bool) -> Value {
    let mut m: Vec<(String, Value)> = stat
        .try_iter()
        .map(|keys| {
            keys.filter_map(|k| {
                let v = stat.get_item(&k).ok()?;
                Some((k.as_str()?.to_string(), v))
            })
            .collect()
        })
        .unwrap_or_default();
    let mut set = |k: &str, v: Value| match m.iter_mut().find(|(n, _)| n == k) {
        Some(e) => e.1 = v,
        None => m.push((k.to_string(), v)),
    };
    let (mut mimetype, mut charset) = ("unknown".to_string(), "unknown".to_string());
    if attrs {
        // Ansible's values when lsattr has nothing to say (a link, another file system).
        set("version", Value::from(()));
        set("attributes", Value::from(Vec::<Value>::new()));
        set("attr_flags", Value::from(""));
    }
    for line in out.lines() {
        if let Some(x) = line.strip_prefix("x=") {
            let f: Vec<&str> = x.split('|').collect();
            if f.len() == 6 {
                for (k, t) in [("mtime", f[0]), ("atime", f[1]), ("ctime", f[2])] {
                    if let Ok(t) = t.parse::<f64>() {
                        set(k, Value::from(t));
                    }
                }
                for (k, n) in [
                    ("blocks", f[3]),
                    ("block_size", f[4]),
                    ("device_type", f[5]),
                ] {
                    if let Ok(n) = n.parse::<u64>() {
                        set(k, Value::from(n));
                    }
                }
            }
        } else if let Some(a) = line.strip_prefix("a=") {
            let w: Vec<&str> = a.split_whitespace().collect();
            if w.len() >= 2 {
                let flags: String = w[1].chars().filter(|c| *c != '-').collect();
                let names: Vec<Value> = flags
                    .chars()
                    .filter_map(|c| ATTRIBUTE_NAMES.iter().find(|(f, _)| *f == c))
                    .map(|(_, n)| Value::from(*n))
                    .collect();
                set("version", Value::from(w[0]));
                set("attr_flags", Value::from(flags));
                set("attributes", Value::from(names));
            }
        } else if let Some(t) = line.strip_prefix("m=")
            && let Some((mt, cs)) = t.split_once(';')
        {
            mimetype = mt.trim().to_string();
            charset = cs.split_once('=').map_or("", |x| x.1).trim().to_string();
        }
    }
    if mime {
        set("mimetype", Value::from(mimetype));
        set("charset", Value::from(charset));
    }
    m.sort_by(|a, b| a.0.cmp(&b.0));
    crate::value::map_value(m.iter().map(|(k, v)| (k.as_str(), v.clone())))
}

#[async_trait]
impl Module for Stat {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let mut o = Opts::from_args(args)?;
        // A `path` option: `~` and `$VAR` expand on the host (Ansible's `type: path`).
        o.path = toolkit::expand_path(ctx, &o.path).await?;
        let ck = o.get_checksum.then_some(o.checksum_algorithm.as_str());
        let follow = o.follow;
        let extra = extra_script(&o.path, follow, o.get_attributes, o.get_mime);
        let (_, info, extra) = toolkit::inspect_one_with(ctx, &o.path, ck, &extra).await?;
        // without follow, a link has no checksum (its content is not a regular file's)
        let info = if !follow && info.kind == Kind::Link {
            toolkit::FileInfo {
                checksum: None,
                ..info
            }
        } else {
            info
        };
        let mut stat = stat_value(&info, follow, ck);
        if info.exists() {
            stat = add_extra(stat, &extra, o.get_mime, o.get_attributes);
        }
        Ok(Plan::ok().with("stat", stat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_values_join_the_stat_dict() {
        let base =
            crate::value::map_value([("exists", Value::from(true)), ("mtime", Value::from(1.0))]);
        let out = "x=1796356355.067780124|1796356356.196200879|1796356355.5|8|4096|0\n\
                   a=3518086584 --------------e------- /tmp/x\n\
                   m=text/plain; charset=us-ascii\n";
        let v = add_extra(base, out, true, true);
        let get = |k: &str| v.get_attr(k).unwrap();
        assert_eq!(f64::try_from(get("mtime")).unwrap(), 1_796_356_355.067_78);
        assert_eq!(get("blocks").to_string(), "8");
        assert_eq!(get("block_size").to_string(), "4096");
        assert_eq!(get("attr_flags").to_string(), "e");
        assert_eq!(get("attributes").to_string(), "[\"extents\"]");
        assert_eq!(get("version").to_string(), "3518086584");
        assert_eq!(get("mimetype").to_string(), "text/plain");
        assert_eq!(get("charset").to_string(), "us-ascii");
        // Without `file`, Ansible says unknown.
        let v = add_extra(
            crate::value::map_value([("exists", Value::from(true))]),
            "",
            true,
            true,
        );
        assert_eq!(v.get_attr("mimetype").unwrap().to_string(), "unknown");
        assert_eq!(v.get_attr("attr_flags").unwrap().to_string(), "");
        assert!(v.get_attr("version").unwrap().is_none());
    }

    #[test]
    fn the_extra_script_asks_only_for_what_is_wanted() {
        let s = extra_script("/a b", true, false, false);
        assert!(s.contains("stat -L -c") && !s.contains("lsattr") && !s.contains("file -i"));
        let s = extra_script("/x", false, true, true);
        assert!(s.contains("lsattr -vd -- /x") && s.contains("file -i -b -- /x"));
    }
}
