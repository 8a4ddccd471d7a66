//! `getent`: reads a name service database (passwd, group, hosts, services...) into facts.

use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::{Value, Vars};
use async_trait::async_trait;

/// The `getent` module.
pub struct Getent;

crate::options! {
    /// The `getent` module's options.
    pub(crate) struct Opts {
        database: String = opt::str("The database: passwd, group, hosts, services, shadow, ... (anything getent knows).").required(),
        key: Option<String> = opt::str("The entry to look up; the whole database when absent."),
        service: Option<String> = opt::str("Use this NSS service instead of the configured ones (`getent -s`)."),
        split: Option<String> = opt::str("The field separator (default `:` for passwd/group/shadow/gshadow, else whitespace)."),
        fail_key: bool = opt::bool("Fail when the key is not found (otherwise the key's value is null).").default("yes"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("getent", "A wrapper for the getent command")
    .description(
        "Runs `getent DATABASE [KEY]` on the host and sets the fact \
`getent_DATABASE` (also `ansible_facts.getent_DATABASE`): a mapping from each entry's first \
field to its other fields as a list (a list of lists when a key repeats). passwd, group, shadow \
and gshadow split on `:`, other databases on whitespace, unless `split` says otherwise. Never \
changes anything; it runs in check mode too.",
    )
    .spec::<Opts>()
    .examples(
        r#"- getent:
    database: passwd
    key: root
- debug:
    msg: "root's shell is {{ getent_passwd.root[5] }}"
- getent:
    database: group
    split: ":"
- getent:
    database: hosts
    key: example.com
    fail_key: false
"#,
    );

/// Parses getent output into `{first field: [other fields]}` (a list of lists for repeated
/// keys); `split` None splits on whitespace.
pub(crate) fn parse(out: &str, split: Option<&str>) -> Vars {
    let mut m = Vars::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut lists: Vec<(String, Vec<Vec<String>>)> = Vec::new();
    for line in out.lines().filter(|l| !l.is_empty()) {
        let rec: Vec<String> = match split {
            Some(s) => line.split(s).map(str::to_string).collect(),
            None => line.split_whitespace().map(str::to_string).collect(),
        };
        let Some((k, rest)) = rec.split_first() else {
            continue;
        };
        match seen.iter_mut().find(|(x, _)| x == k) {
            Some((_, n)) => {
                *n += 1;
                if let Some((_, l)) = lists.iter_mut().find(|(x, _)| x == k) {
                    l.push(rest.to_vec());
                }
            }
            None => {
                seen.push((k.clone(), 1));
                lists.push((k.clone(), vec![rest.to_vec()]));
            }
        }
    }
    let row = |r: &Vec<String>| Value::from_iter(r.iter().map(|s| Value::from(s.as_str())));
    for (k, l) in lists {
        let v = if l.len() == 1 {
            row(&l[0])
        } else {
            Value::from_iter(l.iter().map(row))
        };
        m.insert(k, v);
    }
    m
}

#[async_trait]
impl Module for Getent {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let db = o.database;
        if db.is_empty() || !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::failed(format!("getent: invalid database '{db}'"))
                .hint("e.g. passwd, group, hosts, services, shadow"));
        }
        let key = o.key.filter(|k| !k.is_empty());
        let split = o.split.filter(|s| !s.is_empty()).or_else(|| {
            ["passwd", "shadow", "group", "gshadow"]
                .contains(&db.as_str())
                .then(|| ":".to_string())
        });
        let mut cmd = String::from("getent");
        if let Some(s) = o.service.filter(|s| !s.is_empty()) {
            cmd.push_str(&format!(" -s {}", quote(&s)));
        }
        cmd.push_str(&format!(" {}", quote(&db)));
        if let Some(k) = &key {
            cmd.push_str(&format!(" -- {}", quote(k)));
        }
        let out = ctx.run(cmd).await?;
        let tree = format!("getent_{db}");
        let mut plan = Plan::ok();
        match out.rc {
            0 => {
                plan.facts.insert(
                    tree,
                    crate::value::vars_value(&parse(&out.stdout_str(), split.as_deref())),
                );
            }
            1 => {
                return Ok(Plan::fail(format!(
                    "Missing arguments, or database unknown: {db}"
                )));
            }
            2 => {
                let msg = "One or more supplied key could not be found in the database.";
                if o.fail_key {
                    return Ok(Plan::fail(msg));
                }
                let mut m = Vars::new();
                m.insert(key.unwrap_or_default(), Value::from(()));
                plan.facts.insert(tree, crate::value::vars_value(&m));
                plan.result.insert("msg".into(), Value::from(msg));
            }
            3 => {
                return Ok(Plan::fail("Enumeration not supported on this database."));
            }
            rc => {
                return Ok(Plan::fail(format!(
                    "getent failed (rc {rc}): {}",
                    out.stderr_str().trim()
                )));
            }
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_ansible() {
        let m = parse(
            "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/bob:/bin/sh\n",
            Some(":"),
        );
        let root: Vec<String> = m["root"]
            .try_iter()
            .unwrap()
            .map(|v| v.to_string())
            .collect();
        assert_eq!(root, ["x", "0", "0", "root", "/root", "/bin/bash"]);
        assert_eq!(m["bob"].get_item_by_index(3).unwrap().to_string(), "");
        let h = parse(
            "127.0.0.1       localhost\n::1 localhost ip6-localhost\n",
            None,
        );
        assert_eq!(h["127.0.0.1"].len(), Some(1));
        assert_eq!(h["::1"].len(), Some(2));
        // a repeated key becomes a list of lists
        let s = parse("http 80/tcp www\nhttp 80/udp\n", None);
        assert_eq!(s["http"].len(), Some(2));
        assert_eq!(
            s["http"]
                .get_item_by_index(1)
                .unwrap()
                .get_item_by_index(0)
                .unwrap()
                .to_string(),
            "80/udp"
        );
    }
}
