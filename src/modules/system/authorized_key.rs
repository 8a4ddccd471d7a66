//! `authorized_key` (ansible.posix): adds or removes SSH public keys in a user's
//! `authorized_keys` file, following ansible.posix's algorithm.

use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::toolkit::{self, Attrs, Content, Kind, Write, attr_change, plan_write};
use crate::modules::toolkit::{check_name, probe, sections};
use crate::modules::{Args, Change, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `authorized_key` module.
pub struct AuthorizedKey;

crate::options! {
    /// The `authorized_key` module's options.
    pub(crate) struct Opts {
        user: String = opt::str("The user whose authorized_keys file is managed.").required(),
        key: String = opt::str("The public key(s): one key per line (several lines for several keys), as in an authorized_keys file (options, type, key data, comment). URLs are not fetched: use a lookup.").required(),
        path: Option<String> = opt::path("Another authorized_keys file (a leading `~/` is the user's home)."),
        manage_dir: bool = opt::bool("Create the file's folder and set the owner and permissions of the folder (0700) and file (0600). Set it to no with a `path` in a shared folder.").default("yes"),
        state: String = opt::str("Whether the key(s) should be there.").default("present").choices(&["present", "absent"]),
        key_options: Option<String> = opt::str("Options to prepend to every key (e.g. `no-port-forwarding,from=\"10.0.0.0/8\"`)."),
        exclusive: bool = opt::bool("Remove every other key from the file (state=present).").default("no"),
        comment: Option<String> = opt::str("Replace the keys' comment with this one."),
        follow: bool = opt::bool("Follow a symbolic link at the file's path and write its target (otherwise the link is replaced by a file).").default("no"),
        validate_certs: bool = opt::bool("Accepted for compatibility (prov never fetches keys from URLs).").default("yes"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("authorized_key", "Add or remove SSH authorized keys")
    .description(
        "Adds or removes SSH public keys in a user's `authorized_keys` file (by default \
`~USER/.ssh/authorized_keys`). Keys are matched by their key data: with state=present a key \
already there with other options or another comment is replaced, a missing one is appended; \
with `exclusive`, every other key is removed. Comment lines and lines that are not keys are \
kept. With `manage_dir` (the default) the file's folder is created (mode 0700) and both are \
owned by the user, the file mode 0600. One round trip reads the account and the file; the new \
file is written atomically. Check mode and --diff are exact. Also available as \
`ansible.posix.authorized_key`.",
    )
    .spec::<Opts>()
    .examples(
        r#"- authorized_key:
    user: deploy
    key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGaO0a0/2hHNW0B9mK8WqvSu0YlE0KxyMlEIb6X8rWmZ admin@example"
- ansible.posix.authorized_key:
    user: deploy
    key: "{{ lookup('file', 'deploy_keys.pub') }}"
    key_options: 'no-port-forwarding,from="10.0.0.0/8"'
    exclusive: true
- authorized_key:
    user: deploy
    key: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ old@laptop"
    state: absent
"#,
    );

const KEY_TYPES: &[&str] = &[
    "ssh-rsa",
    "ssh-dss",
    "ssh-ed25519",
    "ssh-ed448",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
];

/// One public key line: options, type, key data, comment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    /// Options in order (`from="..."`, `no-pty`), value with its quotes.
    pub options: Vec<(String, Option<String>)>,
    /// Key type (`ssh-ed25519`).
    pub ktype: String,
    /// Base64 key data (the key's identity).
    pub blob: String,
    /// The comment (may be empty).
    pub comment: String,
}

impl Key {
    /// Same key, options (in any order) and comment.
    fn same(&self, other: &Key) -> bool {
        let sorted = |o: &[(String, Option<String>)]| {
            let mut v = o.to_vec();
            v.sort();
            v
        };
        self.ktype == other.ktype
            && self.blob == other.blob
            && self.comment == other.comment
            && sorted(&self.options) == sorted(&other.options)
    }

    /// The authorized_keys line (without newline).
    pub(crate) fn line(&self) -> String {
        let mut s = String::new();
        if !self.options.is_empty() {
            s.push_str(&options_str(&self.options));
            s.push(' ');
        }
        s.push_str(&self.ktype);
        s.push(' ');
        s.push_str(&self.blob);
        if !self.comment.is_empty() {
            s.push(' ');
            s.push_str(&self.comment);
        }
        s
    }
}

fn options_str(o: &[(String, Option<String>)]) -> String {
    o.iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Splits on whitespace outside double quotes (quotes kept).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                cur.push(c);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses an options string (`a,b="x,y",c`): commas inside quotes do not split.
pub(crate) fn parse_options(s: &str) -> Vec<(String, Option<String>)> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (c, quote) {
            ('"' | '\'', None) => {
                quote = Some(c);
                cur.push(c);
            }
            (c, Some(q)) if c == q => {
                quote = None;
                cur.push(c);
            }
            (',', None) => parts.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (p, None),
        })
        .collect()
}

/// Parses one authorized_keys line; `None` for comments, blank and invalid lines.
pub(crate) fn parse_key(line: &str) -> Option<Key> {
    let line = line.replace(r"\#", "#");
    let w = words(line.trim());
    if w.first().is_none_or(|f| f.starts_with('#')) {
        return None;
    }
    let ti = w.iter().position(|x| KEY_TYPES.contains(&x.as_str()))?;
    let blob = w.get(ti + 1)?.clone();
    Some(Key {
        options: parse_options(&w[..ti].join(" ")),
        ktype: w[ti].clone(),
        blob,
        comment: w[ti + 2..].join(" "),
    })
}

/// A line of the file: a key, or anything else (kept as is).
#[derive(Debug, Clone)]
enum Entry {
    Key(Key),
    Other(String),
}

/// The outcome of [`enforce`].
#[derive(Debug)]
pub(crate) struct Edited {
    /// The new file content.
    pub text: String,
    /// Something changed.
    pub changed: bool,
}

/// ansible.posix's algorithm: `existing` is the file's text, `new` the keys asked for.
pub(crate) fn enforce(existing: &str, new: &[Key], present: bool, exclusive: bool) -> Edited {
    // (entry, rank); keys are unique by key data (the last occurrence wins, as in Ansible).
    let mut entries: Vec<(Entry, usize)> = Vec::new();
    for (i, l) in existing.split_inclusive('\n').enumerate() {
        match parse_key(l) {
            Some(k) => {
                entries.retain(|(e, _)| !matches!(e, Entry::Key(x) if x.blob == k.blob));
                entries.push((Entry::Key(k), i));
            }
            None => {
                let mut l = l.to_string();
                if !l.ends_with('\n') {
                    l.push('\n');
                }
                entries.push((Entry::Other(l), i));
            }
        }
    }
    let max_rank = entries.len();
    let find = |entries: &[(Entry, usize)], blob: &str| {
        entries
            .iter()
            .position(|(e, _)| matches!(e, Entry::Key(x) if x.blob == blob))
    };
    let mut changed = false;
    for (i, k) in new.iter().enumerate() {
        let pos = find(&entries, &k.blob);
        if present {
            let matched = match pos {
                Some(p) => match &entries[p].0 {
                    Entry::Key(x) if x.same(k) => true,
                    _ => {
                        entries.remove(p);
                        false
                    }
                },
                None => false,
            };
            if !matched {
                entries.push((Entry::Key(k.clone()), max_rank + i));
                changed = true;
            }
        } else if let Some(p) = pos {
            entries.remove(p);
            changed = true;
        }
    }
    if present && exclusive {
        let before = entries.len();
        entries.retain(|(e, _)| match e {
            Entry::Key(x) => new.iter().any(|k| k.blob == x.blob),
            Entry::Other(_) => true,
        });
        changed |= entries.len() != before;
    }
    entries.sort_by_key(|(_, r)| *r);
    let text = entries
        .iter()
        .map(|(e, _)| match e {
            Entry::Key(k) => format!("{}\n", k.line()),
            Entry::Other(l) => l.clone(),
        })
        .collect();
    Edited { text, changed }
}

/// A string return value, or null.
fn opt_value(v: Option<String>) -> Value {
    v.map(Value::from).unwrap_or_else(|| Value::from(()))
}

#[async_trait]
impl Module for AuthorizedKey {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let user = o.user;
        check_name("authorized_key", "user name", &user)?;
        let key_text = o.key;
        let present = o.state != "absent";
        let exclusive = o.exclusive;
        let manage_dir = o.manage_dir;
        let key_options = o.key_options.filter(|s| !s.is_empty());
        let comment = o.comment;
        if key_text.trim_start().starts_with("http://")
            || key_text.trim_start().starts_with("https://")
        {
            return Err(Error::failed(
                "authorized_key: prov does not fetch keys from URLs",
            )
            .hint("fetch them on the controller: key: \"{{ lookup('url', URL, split_lines=False) }}\", or with get_url first"));
        }
        let mut keys = Vec::new();
        for l in key_text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let Some(mut k) = parse_key(l) else {
                return Ok(Plan::fail(format!("invalid key specified: {l}")));
            };
            if let Some(o) = &key_options {
                k.options = parse_options(o);
            }
            if let Some(c) = &comment {
                c.clone_into(&mut k.comment);
            }
            keys.push(k);
        }
        let out = probe(
            ctx,
            format!("echo @@passwd\ngetent passwd {} || true\n", quote(&user)),
            &format!("user {user}"),
        )
        .await?;
        let sec = sections(&out);
        let pw = sec.get("passwd").map(String::as_str).unwrap_or("");
        let f: Vec<&str> = pw.lines().next().unwrap_or("").split(':').collect();
        if f.len() < 7 {
            return Ok(Plan::fail(format!(
                "Failed to lookup user {user}: no such user on {}",
                ctx.host
            )));
        }
        let (gid, home) = (f[3].to_string(), f[5].to_string());
        let path = match o.path.clone().filter(|p| !p.is_empty()) {
            Some(p) => match p.strip_prefix("~/") {
                Some(rest) => toolkit::join(&home, rest),
                None => p,
            },
            None => toolkit::join(&home, ".ssh/authorized_keys"),
        };
        let dir = toolkit::parent_of(&path);
        let mut insp = toolkit::inspect(ctx, &[&path, &dir], Some("sha256"), true).await?;
        let dinfo = insp.files.remove(1);
        let info = insp.files.remove(0);
        let mut plan = Plan::ok()
            .with("user", user.as_str())
            .with("key", key_text.as_str())
            .with("keyfile", path.as_str())
            .with("path", opt_value(o.path))
            .with("state", if present { "present" } else { "absent" })
            .with("exclusive", exclusive)
            .with("manage_dir", manage_dir)
            .with("follow", o.follow)
            .with("validate_certs", o.validate_certs)
            .with("key_options", opt_value(key_options.clone()))
            .with("comment", opt_value(comment.clone()));
        if info.followed_kind() == Kind::Dir {
            return Ok(Plan::fail(format!("{path} is a directory")));
        }
        // Without follow, a link at path is replaced by a new file: what its target holds (any
        // file the link's owner pointed it at, say /etc/shadow) is neither kept nor shown.
        let replaced_link = info.kind == Kind::Link && !o.follow;
        if !replaced_link && info.exists() && insp.content.is_none() {
            return Ok(Plan::fail(format!("{path} is not a readable regular file")));
        }
        let content = insp.content.as_ref().filter(|_| !replaced_link);
        let text = match content {
            Some(c) => String::from_utf8(c.clone())
                .map_err(|_| Error::failed(format!("{path} is not UTF-8 text")))?,
            None => String::new(),
        };
        let edit = enforce(&text, &keys, present, exclusive);
        if !edit.changed {
            return Ok(plan);
        }
        let attrs = if manage_dir {
            Attrs {
                mode: Some("0600".into()),
                owner: Some(user.clone()),
                group: Some(gid.clone()),
            }
        } else {
            Attrs::default()
        };
        match dinfo.followed_kind() {
            Kind::Dir if manage_dir => {
                let dattrs = Attrs {
                    mode: Some("0700".into()),
                    owner: Some(user.clone()),
                    group: Some(gid.clone()),
                };
                let (c, _) = attr_change(
                    ctx,
                    &dir,
                    dinfo.followed_stat(),
                    true,
                    &dattrs,
                    false,
                    false,
                )?;
                plan.changes.extend(c);
            }
            Kind::Dir => {}
            Kind::Missing if manage_dir => plan.changes.push(Change {
                summary: format!("create folder {dir} (mode 0700, owner {user})"),
                diff: None,
                action: toolkit::exec(
                    ctx,
                    format!(
                        "mkdir -p -- {d} && chown {u}:{g} {d} && chmod 0700 {d}",
                        d = quote(&dir),
                        u = quote(&user),
                        g = quote(&gid)
                    ),
                    false,
                ),
            }),
            Kind::Missing => {
                return Ok(Plan::fail(format!(
                    "folder {dir} does not exist (set manage_dir: yes to create it)"
                )));
            }
            _ => return Ok(Plan::fail(format!("{dir} is not a folder"))),
        }
        // follow: write the link's target; otherwise the link is replaced by a file.
        let follow = o.follow && info.kind == Kind::Link;
        let write_info = if follow {
            info.followed()
        } else {
            info.clone()
        };
        plan_write(
            ctx,
            Write {
                path: if follow { info.write_path() } else { &path },
                info: &write_info,
                before: content.map(Vec::as_slice),
                data: &Content::Bytes(edit.text.into_bytes()),
                attrs: &attrs,
                backup: false,
                validate: None,
                make_parent: None,
                uid: insp.uid,
                umask: insp.umask,
            },
            &mut plan,
        )?;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1 one@x";
    const K2: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB2 two@y";

    #[test]
    fn parses_lines_with_options_and_quotes() {
        let k = parse_key(
            r#"from="10.0.0.1,10.0.0.2",command="echo \"hi there\"",no-pty ssh-ed25519 AAAA c o m"#,
        )
        .unwrap();
        assert_eq!(k.ktype, "ssh-ed25519");
        assert_eq!(k.blob, "AAAA");
        assert_eq!(k.comment, "c o m");
        assert_eq!(
            k.options,
            vec![
                ("from".into(), Some("\"10.0.0.1,10.0.0.2\"".into())),
                ("command".into(), Some(r#""echo \"hi there\"""#.into())),
                ("no-pty".into(), None),
            ]
        );
        assert_eq!(
            k.line(),
            r#"from="10.0.0.1,10.0.0.2",command="echo \"hi there\"",no-pty ssh-ed25519 AAAA c o m"#
        );
        assert!(parse_key("# a comment").is_none());
        assert!(parse_key("").is_none());
        assert!(parse_key("garbage here").is_none());
        assert!(parse_key("ssh-rsa").is_none());
        let k = parse_key("ecdsa-sha2-nistp256 BBBB").unwrap();
        assert_eq!(k.comment, "");
        assert_eq!(k.line(), "ecdsa-sha2-nistp256 BBBB");
    }

    #[test]
    fn present_absent_exclusive() {
        let k1 = parse_key(K1).unwrap();
        let k2 = parse_key(K2).unwrap();
        // add to an empty file; again: unchanged
        let e = enforce("", std::slice::from_ref(&k1), true, false);
        assert!(e.changed);
        assert_eq!(e.text, format!("{K1}\n"));
        assert!(!enforce(&e.text, std::slice::from_ref(&k1), true, false).changed);
        // comments and other lines are kept; new keys go last
        let base = format!("# keys\n{K2}\n");
        let e = enforce(&base, std::slice::from_ref(&k1), true, false);
        assert_eq!(e.text, format!("# keys\n{K2}\n{K1}\n"));
        // another comment replaces the key (moved last)
        let mut k1c = k1.clone();
        k1c.comment = "renamed".into();
        let e2 = enforce(&e.text, std::slice::from_ref(&k1c), true, false);
        assert!(e2.changed);
        assert!(e2.text.ends_with("AAAAC3NzaC1lZDI1NTE5AAAAIA1 renamed\n"));
        // options in another order are the same
        let mut a = k1.clone();
        a.options = parse_options("no-pty,from=\"x\"");
        let mut b = k1.clone();
        b.options = parse_options("from=\"x\",no-pty");
        let t = enforce("", std::slice::from_ref(&a), true, false).text;
        assert!(!enforce(&t, std::slice::from_ref(&b), true, false).changed);
        // exclusive drops every other key but keeps comments
        let e = enforce(
            &format!("# keys\n{K2}\n{K1}\n"),
            std::slice::from_ref(&k1),
            true,
            true,
        );
        assert!(e.changed);
        assert_eq!(e.text, format!("# keys\n{K1}\n"));
        // absent
        let e = enforce(
            &format!("{K1}\n{K2}\n"),
            std::slice::from_ref(&k2),
            false,
            false,
        );
        assert_eq!(e.text, format!("{K1}\n"));
        assert!(!enforce(&e.text, std::slice::from_ref(&k2), false, false).changed);
        // a file without final newline
        let e = enforce(K2, std::slice::from_ref(&k1), true, false);
        assert_eq!(e.text, format!("{K2}\n{K1}\n"));
    }
}
