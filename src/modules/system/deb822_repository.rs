//! `deb822_repository`: writes an apt `.sources` file (deb822 format) and its signing key.

use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::args::Mode;
use crate::modules::toolkit::{self, Attrs, Kind, Write, plan_write};
use crate::modules::toolkit::{exec, kv, state_diff};
use crate::modules::{Args, Change, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `deb822_repository` module.
pub struct Deb822Repository;

const KEYRINGS: &str = "/etc/apt/keyrings";

crate::options! {
    /// The `deb822_repository` module's options.
    pub(crate) struct Opts {
        name: String = opt::str("Repository name (`X-Repolib-Name`), also naming the file.").required(),
        types: Option<Vec<String>> = opt::list("`deb` and/or `deb-src`.").default("deb"),
        uris: Option<Vec<String>> = opt::list("Repository URIs."),
        suites: Option<Vec<String>> = opt::list("Suites (e.g. `bookworm`, `stable`)."),
        components: Option<Vec<String>> = opt::list("Components (e.g. `main contrib`)."),
        architectures: Option<Vec<String>> = opt::list("Architectures."),
        signed_by: Option<String> = opt::str("A key: its URL (fetched into /etc/apt/keyrings), a path on the host, or the key text."),
        enabled: Option<bool> = opt::bool("`Enabled: yes/no`."),
        allow_downgrade_to_insecure: Option<bool> = opt::bool("`Allow-Downgrade-To-Insecure`."),
        allow_insecure: Option<bool> = opt::bool("`Allow-Insecure`."),
        allow_weak: Option<bool> = opt::bool("`Allow-Weak`."),
        by_hash: Option<bool> = opt::bool("`By-Hash`."),
        check_date: Option<bool> = opt::bool("`Check-Date`."),
        check_valid_until: Option<bool> = opt::bool("`Check-Valid-Until`."),
        date_max_future: Option<i64> = opt::int("`Date-Max-Future` (seconds)."),
        inrelease_path: Option<String> = opt::str("`Inrelease-Path`."),
        languages: Option<Vec<String>> = opt::list("`Languages`."),
        pdiffs: Option<bool> = opt::bool("`Pdiffs`."),
        targets: Option<Vec<String>> = opt::list("`Targets`."),
        trusted: Option<bool> = opt::bool("`Trusted`."),
        /// Accepted for compatibility, never read.
        #[allow(dead_code)]
        install_python_debian: Option<bool> = opt::bool("Accepted for compatibility; prov needs no Python on the host."),
        mode: Option<Mode> = opt::mode("Mode of the sources file.").default("0644"),
        state: String = opt::str("Whether the repository should exist.").default("present").choices(&["present", "absent"]),
    }
}

static DOC: ModuleDoc = ModuleDoc::new(
    "deb822_repository",
    "Add and remove deb822 formatted repositories",
)
.description(
    "Writes `/etc/apt/sources.list.d/<slug>.sources` (the slug is `name` lowercased, \
spaces and `_` turned into `-`, other characters dropped) with the given fields, in Ansible's \
layout: fields sorted by option name, `X-Repolib-Name` for the name, lists space-separated, \
booleans yes/no, multi-line values (an inline key) indented with empty lines as ` .`. The file is \
written like the copy module does (atomic, with a content diff). `signed_by` may be a key's URL: \
the key is fetched on the host (curl or wget) while planning, to compare its checksum, and \
installed as `/etc/apt/keyrings/<slug>.asc` (`.gpg` when not ASCII-armored); a path or inline \
key text is written into `Signed-By` as is. It never updates the apt cache: follow it with \
`apt: update_cache=yes` when it changed. Returns `repo` (the file's content, like Ansible), \
`dest` (its path) and `key_filename`.",
)
.spec::<Opts>()
.examples(
    r#"- deb822_repository:
    name: example
    types: deb
    uris: https://download.example.com/linux/debian
    suites: bookworm
    components: stable
    architectures: amd64
    signed_by: https://download.example.com/linux/debian/gpg
"#,
);

/// The file name part for `name` (Ansible's slug).
pub fn slug(name: &str) -> String {
    let mut s = String::new();
    let mut sep = false;
    for c in name.to_lowercase().chars() {
        if c == '_' || c.is_whitespace() {
            sep = true;
            continue;
        }
        if sep {
            s.push('-');
            sep = false;
        }
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
            s.push(c);
        }
    }
    if sep {
        s.push('-');
    }
    s
}

fn field_name(opt: &str) -> String {
    match opt {
        "name" => "X-Repolib-Name".into(),
        "uris" => "URIs".into(),
        _ => opt
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

fn multiline(v: &str) -> String {
    let body: Vec<String> = v
        .trim()
        .lines()
        .map(|l| {
            let l = l.trim();
            format!("    {}", if l.is_empty() { "." } else { l })
        })
        .collect();
    format!("\n{}", body.join("\n"))
}

/// A field's value: a boolean (yes/no), a list (space-separated) or text; `None` is not written.
enum Field<'a> {
    Flag(Option<bool>),
    Words(&'a Option<Vec<String>>),
    Text(Option<String>),
}

/// Renders the sources file; `signed_by` is the value to write for that field.
fn render(o: &Opts, signed_by: Option<&str>) -> Result<String> {
    use Field::{Flag, Text, Words};
    // In the order Ansible writes them: sorted by option name.
    let fields = [
        (
            "allow_downgrade_to_insecure",
            Flag(o.allow_downgrade_to_insecure),
        ),
        ("allow_insecure", Flag(o.allow_insecure)),
        ("allow_weak", Flag(o.allow_weak)),
        ("architectures", Words(&o.architectures)),
        ("by_hash", Flag(o.by_hash)),
        ("check_date", Flag(o.check_date)),
        ("check_valid_until", Flag(o.check_valid_until)),
        ("components", Words(&o.components)),
        (
            "date_max_future",
            Text(o.date_max_future.map(|n| n.to_string())),
        ),
        ("enabled", Flag(o.enabled)),
        ("inrelease_path", Text(o.inrelease_path.clone())),
        ("languages", Words(&o.languages)),
        ("name", Text(Some(o.name.clone()))),
        ("pdiffs", Flag(o.pdiffs)),
        ("signed_by", Text(signed_by.map(str::to_string))),
        ("suites", Words(&o.suites)),
        ("targets", Words(&o.targets)),
        ("trusted", Flag(o.trusted)),
        ("types", Words(&o.types)),
        ("uris", Words(&o.uris)),
    ];
    let mut out = String::new();
    for (opt, field) in fields {
        let value = match field {
            Flag(Some(b)) => if b { "yes" } else { "no" }.to_string(),
            Words(Some(l)) => {
                if l.iter().any(|x| x.contains('\n')) {
                    return Err(Error::failed(format!(
                        "deb822_repository: {opt} must not contain line breaks"
                    )));
                }
                l.join(" ")
            }
            Text(Some(s)) => s,
            Flag(None) | Words(None) | Text(None) => continue,
        };
        let value = if value.contains('\n') {
            multiline(&value)
        } else {
            value
        };
        let key = field_name(opt);
        if value.is_empty() || value.starts_with('\n') {
            out.push_str(&format!("{key}:{value}\n"));
        } else {
            out.push_str(&format!("{key}: {value}\n"));
        }
    }
    Ok(out)
}

#[async_trait]
impl Module for Deb822Repository {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let name = &o.name;
        let slug = slug(name);
        if slug.is_empty() {
            return Err(Error::failed(format!(
                "deb822_repository: name '{name}' gives an empty file name"
            )));
        }
        for t in o.types.iter().flatten() {
            if t != "deb" && t != "deb-src" {
                return Err(Error::failed(format!(
                    "deb822_repository: types must be deb or deb-src, got '{t}'"
                )));
            }
        }
        let dest = format!("/etc/apt/sources.list.d/{slug}.sources");
        let keys = [
            format!("{KEYRINGS}/{slug}.asc"),
            format!("{KEYRINGS}/{slug}.gpg"),
        ];
        let state = &o.state;
        let mut plan = Plan::ok().with("dest", dest.as_str());
        if state == "absent" {
            let insp = toolkit::inspect(ctx, &[&dest, &keys[0], &keys[1]], None, false).await?;
            plan.result.insert("repo".into(), Value::from(()));
            plan.result
                .insert("key_filename".into(), Value::from(keys[1].as_str()));
            for (p, f) in [dest.as_str(), &keys[0], &keys[1]].iter().zip(&insp.files) {
                if f.exists() {
                    plan.changes.push(Change {
                        summary: format!("remove {p}"),
                        diff: Some(state_diff(
                            p,
                            &[("path", p.to_string()), ("state", "file".into())],
                            &[("path", p.to_string()), ("state", "absent".into())],
                        )),
                        action: exec(ctx, format!("rm -f -- {}", quote(p)), false),
                    });
                }
            }
            return Ok(plan);
        }
        let signed_by = o.signed_by.clone().filter(|s| !s.is_empty());
        let key_url = signed_by
            .as_deref()
            .filter(|s| !s.contains('\n') && s.contains("://"))
            .map(str::to_string);
        let mut key_file: Option<String> = None;
        let mut key_changes: Vec<Change> = Vec::new();
        if let Some(url) = &key_url {
            // Fetch the key on the host (read-only: a temp file removed at once) to compare.
            let fetch = |out: &str| {
                format!(
                    "if command -v curl >/dev/null 2>&1; then curl -fsSL --max-time 30 -o {out} {u}; \
                     elif command -v wget >/dev/null 2>&1; then wget -q -T 30 -O {out} {u}; \
                     else echo 'neither curl nor wget is installed' >&2; exit 90; fi",
                    u = quote(url)
                )
            };
            let script = format!(
                "t=$(mktemp) || exit 1; trap 'rm -f \"$t\"' EXIT\n{} || exit 91\n\
                 echo \"sum=$(sha256sum < \"$t\" | cut -d' ' -f1)\"\n\
                 grep -q 'BEGIN PGP PUBLIC KEY BLOCK' \"$t\" && echo armored=1\n\
                 for f in {a} {g}; do if [ -f \"$f\" ]; then echo \"have=$f $(sha256sum < \"$f\" | cut -d' ' -f1) $(stat -c %a \"$f\")\"; fi; done\n\
                 [ -d {KEYRINGS} ] && echo keyrings=1\nexit 0\n",
                fetch("\"$t\""),
                a = quote(&keys[0]),
                g = quote(&keys[1]),
            );
            let out = ctx.run(script).await?;
            if out.rc != 0 {
                return Ok(Plan::fail(format!(
                    "Could not fetch signed_by key: {url}: {}",
                    out.stderr_str().trim()
                )));
            }
            let text = out.stdout_str();
            let info = kv(&text);
            let sum = info.get("sum").cloned().unwrap_or_default();
            let path = if info.contains_key("armored") {
                keys[0].clone()
            } else {
                keys[1].clone()
            };
            let have = text
                .lines()
                .filter_map(|l| l.strip_prefix("have="))
                .find(|l| l.starts_with(&format!("{path} ")))
                .map(|l| {
                    l.split_whitespace()
                        .skip(1)
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                });
            let same = have.as_ref().is_some_and(|h| h.first() == Some(&sum));
            if !same {
                let mut script = String::new();
                if !info.contains_key("keyrings") {
                    script.push_str(&format!("mkdir -p -m 0755 {KEYRINGS} || exit 1\n"));
                }
                let mut inst = crate::connection::install::Install::new(path.clone());
                inst.mode = Some("0644".into());
                script.push_str(&inst.script(&format!("{{ {}; }} || exit 91", fetch("\"$f\""))));
                key_changes.push(Change {
                    summary: format!(
                        "{} key {path} from {url}",
                        if have.is_some() { "update" } else { "install" }
                    ),
                    diff: Some(state_diff(
                        &path,
                        &[
                            ("path", path.clone()),
                            (
                                "sha256",
                                have.as_ref()
                                    .and_then(|h| h.first().cloned())
                                    .unwrap_or_else(|| "(absent)".into()),
                            ),
                        ],
                        &[("path", path.clone()), ("sha256", sum.clone())],
                    )),
                    action: exec(ctx, script, false),
                });
            } else if have.as_ref().and_then(|h| h.get(1)).map(String::as_str) != Some("644") {
                key_changes.push(Change {
                    summary: format!("chmod 0644 {path}"),
                    diff: None,
                    action: exec(ctx, format!("chmod 0644 {}", quote(&path)), false),
                });
            }
            key_file = Some(path);
        }
        let signed_value = key_file.clone().or(signed_by.clone());
        let content = render(&o, signed_value.as_deref())?;
        let (insp, info, missing_parent) = toolkit::inspect_for_edit(ctx, &dest).await?;
        if info.exists() && info.followed_kind() != Kind::File {
            return Ok(Plan::fail(format!(
                "{dest} exists and is not a regular file"
            )));
        }
        plan.changes.extend(key_changes);
        let before = if info.exists() {
            insp.content.clone()
        } else {
            None
        };
        let attrs = Attrs {
            mode: o.mode.clone().map(|m| m.0),
            ..Default::default()
        };
        plan_write(
            ctx,
            Write {
                path: &dest,
                info: &info,
                before: before.as_deref(),
                data: &crate::modules::toolkit::Content::Bytes(content.clone().into_bytes()),
                attrs: &attrs,
                backup: false,
                validate: None,
                make_parent: missing_parent,
                uid: insp.uid,
                umask: insp.umask,
            },
            &mut plan,
        )?;
        plan.result.insert("repo".into(), Value::from(content));
        plan.result.insert(
            "key_filename".into(),
            key_file.map(Value::from).unwrap_or(Value::from(())),
        );
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::validate_args;
    use crate::value::{Vars, from_json};

    #[test]
    fn slugs_and_fields() {
        assert_eq!(slug("My_Repo Name!"), "my-repo-name");
        assert_eq!(field_name("signed_by"), "Signed-By");
        assert_eq!(
            field_name("allow_downgrade_to_insecure"),
            "Allow-Downgrade-To-Insecure"
        );
        assert_eq!(field_name("uris"), "URIs");
    }

    #[test]
    fn renders_like_ansible() {
        let j = serde_json::json!({
            "name": "debian", "uris": "https://deb.debian.org", "suites": "stable",
            "components": ["main", "contrib"], "enabled": true,
            "signed_by": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n"
        });
        let v: Vars = crate::value::value_to_vars(&from_json(&j));
        let a = validate_args(&DOC, &v).unwrap();
        let o = Opts::from_args(&a).unwrap();
        let r = render(&o, o.signed_by.as_deref()).unwrap();
        assert_eq!(
            r,
            "Components: main contrib\nEnabled: yes\nX-Repolib-Name: debian\nSigned-By:\n    -----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    abc\n    -----END PGP PUBLIC KEY BLOCK-----\nSuites: stable\nTypes: deb\nURIs: https://deb.debian.org\n"
        );
    }
}
