//! `apt_key`: adds or removes an apt signing key with `apt-key`.

use crate::connection::{Stdin, quote};
use crate::error::Result;
use crate::modules::toolkit::{probe, sections};
use crate::modules::{Action, Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `apt_key` module.
pub struct AptKey;

crate::options! {
    /// The `apt_key` module's options.
    pub(crate) struct Opts {
        id: Option<String> = opt::str("The key id (8, 16 or more hex digits, optional 0x); read from the key when not given."),
        url: Option<String> = opt::str("A URL to download the key from (on the host, with curl or wget)."),
        data: Option<String> = opt::str("The key itself (armored)."),
        file: Option<String> = opt::path("A key file on the host."),
        keyring: Option<String> = opt::path("The keyring to use instead of apt's trusted keys (`apt-key --keyring`)."),
        validate_certs: bool = opt::bool("Check the server's certificate when downloading from url.").default("yes"),
        keyserver: Option<String> = opt::str("A keyserver to receive the key `id` from."),
        state: String = opt::str("Whether the key should be trusted.").default("present").choices(&["absent", "present"]),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("apt_key", "Add or remove an apt key")
    .description(
        "Adds a signing key to apt's trusted keys (or `keyring`) from `file`, `data`, `url` \
or a `keyserver`, or removes one, with `apt-key` as Ansible does (apt-key is deprecated: \
consider deb822_repository's signed_by). One round trip reads the key's id from the key when \
`id` is not given (`gpg --with-colons`) and lists the trusted keys; the task changes only when \
the key is missing (present) or there (absent), compared by its 16-digit id (or 8 digits for \
a short id). After adding, the key must be listed, else the task fails as in Ansible. Returns \
`id`, `short_id`, `fp`, `key_id` and `before` (the listed key ids).",
    )
    .spec::<Opts>()
    .mutually_exclusive(&[&["data", "file", "keyserver", "url"]])
    .examples(
        "- apt_key:\n    url: https://example.com/repo.gpg\n    keyring: /etc/apt/trusted.gpg.d/example.gpg\n\
- apt_key:\n    keyserver: keyserver.ubuntu.com\n    id: 36A1D7869245C8950F966E92D8576A8BA88D21E9\n",
    );

/// The parts of a key id: (the last 8 digits for `apt-key del`, the last 16 for comparisons,
/// the whole id for `--recv`), upper case without `0x`; `None` if it is not a valid id.
fn parse_key_id(id: &str) -> Option<(String, String, String)> {
    let id = id.trim().to_ascii_uppercase();
    let id = id.strip_prefix("0X").unwrap_or(&id).to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let n = id.len();
    if n != 8 && n != 16 && n <= 16 {
        return None;
    }
    let short = id[n - 8..].to_string();
    let fp = if n > 16 {
        id[n - 16..].to_string()
    } else {
        id.clone()
    };
    Some((short, fp, id))
}

/// The key ids in `gpg`/`apt-key` listing output (`pub rsa4096/ID ...` or colon format), as
/// Ansible reads them: expired keys are left out.
fn listed_keys(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| (l.starts_with("pub") || l.starts_with("sub")) && !l.contains("expired"))
        .filter_map(|l| {
            let by_slash = l
                .split_whitespace()
                .nth(1)
                .and_then(|t| t.split_once('/'))
                .map(|(_, id)| id.to_string());
            by_slash.or_else(|| l.split(':').nth(4).map(str::to_string))
        })
        .collect()
}

#[async_trait]
impl Module for AptKey {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let keyring = o
            .keyring
            .as_deref()
            .map(|k| format!(" --keyring {}", quote(k)))
            .unwrap_or_default();
        let id_given = o.id.clone().filter(|i| !i.is_empty());
        if id_given.is_none() && o.keyserver.is_some() {
            return Ok(Plan::fail("Missing key_id, required with keyserver."));
        }
        let fetch = |url: &str, out: &str| {
            super::get_url::fetch_snippet(url, out, 30, o.validate_certs, false)
        };
        let mut s = String::from(
            "command -v apt-key >/dev/null 2>&1 || { echo '@@noaptkey'; exit 0; }\n\
             command -v gpg >/dev/null 2>&1 || { echo '@@nogpg'; exit 0; }\n",
        );
        if id_given.is_none() {
            s.push_str("echo @@keyid\n");
            match (&o.file, &o.data, &o.url) {
                (Some(f), _, _) => s.push_str(&format!(
                    "LC_ALL=C gpg --with-colons {} 2>/dev/null || echo '@@badkey'\n",
                    quote(f)
                )),
                (None, Some(d), _) => s.push_str(&format!(
                    "printf '%s' {} | LC_ALL=C gpg --with-colons - 2>/dev/null || echo '@@badkey'\n",
                    quote(d)
                )),
                (None, None, Some(u)) => s.push_str(&format!(
                    "t=$(mktemp) || exit 1\nif ( {} ) >/dev/null 2>&1; then LC_ALL=C gpg --with-colons \"$t\" 2>/dev/null || echo '@@badkey'; \
                     else echo '@@fetchfail'; fi\nrm -f \"$t\"\n",
                    fetch(u, "\"$t\"")
                )),
                _ => {}
            }
        }
        s.push_str(&format!(
            "echo @@keys\nLC_ALL=C apt-key{keyring} adv --list-public-keys --keyid-format=long 2>/dev/null || echo '@@listfail'\n"
        ));
        let out = probe(ctx, s, "apt keys").await?;
        if out.contains("@@noaptkey") {
            return Ok(Plan::fail(
                "Failed to find required executable \"apt-key\". Apt-key has been deprecated. \
                 See the deb822_repository as an alternative.",
            ));
        }
        if out.contains("@@nogpg") {
            return Ok(Plan::fail("Failed to find required executable \"gpg\""));
        }
        if out.contains("@@fetchfail") {
            return Ok(Plan::fail(format!(
                "Error getting key id from url: {}",
                o.url.as_deref().unwrap_or_default()
            )));
        }
        let sec = sections(&out);
        let key_id = match &id_given {
            Some(i) => Some(i.clone()),
            None => {
                let text = sec.get("keyid").cloned().unwrap_or_default();
                if text.contains("@@badkey") {
                    let what = if o.file.is_some() {
                        o.file.clone().unwrap_or_default()
                    } else {
                        "inline data".into()
                    };
                    return Ok(Plan::fail(format!("Unable to extract key from '{what}'")));
                }
                listed_keys(&text).into_iter().next()
            }
        };
        let mut plan = Plan::ok().with(
            "id",
            key_id.clone().map(Value::from).unwrap_or(Value::from(())),
        );
        let Some((short, fp, key_id)) = key_id.as_deref().and_then(parse_key_id) else {
            return Ok(Plan {
                failed: Some(if key_id.is_some() || o.state == "present" {
                    "Invalid key_id".into()
                } else {
                    "key is required to remove a key".into()
                }),
                ..plan
            });
        };
        let keys_text = sec.get("keys").cloned().unwrap_or_default();
        if keys_text.contains("@@listfail") {
            return Ok(Plan::fail("Unable to list public keys"));
        }
        let short_format = key_id.len() == 8;
        let keys: Vec<String> = listed_keys(&keys_text)
            .into_iter()
            .map(|k| {
                if short_format {
                    k[k.len().saturating_sub(8)..].to_string()
                } else {
                    k
                }
            })
            .collect();
        plan = plan
            .with("short_id", short.as_str())
            .with("fp", fp.as_str())
            .with("key_id", key_id.as_str())
            .with(
                "before",
                keys.iter()
                    .map(|k| Value::from(k.as_str()))
                    .collect::<Vec<_>>(),
            );
        let known = keys.contains(if short_format { &short } else { &fp });
        let verify = |what: &str| {
            format!(
                "if {neg}LC_ALL=C apt-key{keyring} adv --list-public-keys --keyid-format=long 2>/dev/null | grep -q -- {pat}; then \
                 echo 'apt-key did not return an error, but {what} (check that the id is correct and *not* a subkey)' >&2; exit 1; fi",
                pat = quote(if short_format { &short } else { &fp }),
                neg = if what.contains("add") { "! " } else { "" },
            )
        };
        if o.state == "absent" {
            if !known {
                return Ok(plan);
            }
            let script = format!(
                "apt-key{keyring} del {} || {{ echo {} >&2; exit 1; }}\n{}",
                quote(&short),
                quote(&format!("Unable to remove a key with id {short}")),
                verify("the key was not removed")
            );
            return Ok(plan.change(
                format!("remove apt key {key_id}"),
                None,
                crate::modules::toolkit::exec(ctx, script, false),
            ));
        }
        if known {
            return Ok(plan);
        }
        let mut stdin = Stdin::Empty;
        let add = match (&o.file, &o.keyserver, &o.data, &o.url) {
            (Some(f), ..) => format!(
                "apt-key{keyring} add {f} || {{ echo {} >&2; exit 1; }}",
                quote(&format!("Unable to add a key from file {f}")),
                f = quote(f)
            ),
            (None, Some(ks), ..) => format!(
                "i=0; until LC_ALL=C apt-key{keyring} adv --no-tty --keyserver {k} --recv {id}; do i=$((i+1)); \
                 if [ $i -ge 5 ]; then echo {m} >&2; exit 1; fi; done",
                k = quote(ks),
                id = quote(&key_id),
                m = quote(&format!("Error fetching key {key_id} from keyserver: {ks}")),
            ),
            (None, None, Some(d), _) => {
                stdin = Stdin::Bytes(d.clone().into_bytes());
                format!(
                    "apt-key{keyring} add - || {{ echo 'Unable to add a key from binary data' >&2; exit 1; }}"
                )
            }
            (None, None, None, Some(u)) => format!(
                "t=$(mktemp) || exit 1; trap 'rm -f \"$t\"' EXIT\n( {} ) || {{ echo {} >&2; exit 1; }}\n\
                 apt-key{keyring} add \"$t\" || {{ echo 'Unable to add a key from binary data' >&2; exit 1; }}",
                fetch(u, "\"$t\""),
                quote(&format!("Failed to download key at {u}")),
            ),
            _ => return Ok(Plan::fail("No key to add ... how did i get here?!?!")),
        };
        let mut cmd = ctx.cmd(format!("{add}\n{}", verify("failed to add the key")));
        cmd.stdin = stdin;
        Ok(plan.change(
            format!("add apt key {key_id}"),
            None,
            Action::Exec {
                cmd,
                capture: false,
                fail_on_rc: true,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_like_ansible() {
        assert_eq!(
            parse_key_id("0x36a1d7869245c8950f966e92d8576a8ba88d21e9").unwrap(),
            (
                "A88D21E9".into(),
                "D8576A8BA88D21E9".into(),
                "36A1D7869245C8950F966E92D8576A8BA88D21E9".into()
            )
        );
        assert_eq!(parse_key_id("A88D21E9").unwrap().1, "A88D21E9");
        assert!(parse_key_id("123456789").is_none());
        assert!(parse_key_id("xyz").is_none());
    }

    #[test]
    fn listings_in_both_formats() {
        let apt = "/etc/apt/trusted.gpg\n--------------------\npub   rsa4096/D8576A8BA88D21E9 2016-04-12 [SC]\n      36A1...\nuid  x\nsub   rsa4096/1111222233334444 2016 [E]\npub   rsa2048/AAAABBBBCCCCDDDD 2010 [SC] [expired: 2012]\n";
        assert_eq!(listed_keys(apt), ["D8576A8BA88D21E9", "1111222233334444"]);
        let colons = "pub:-:4096:1:6C13026D12C944D0:1400000000:::-:::scESC::::::23::0:\nfpr:::::::::97A1AE57C3A2372CCA3A4ABA6C13026D12C944D0:\n";
        assert_eq!(listed_keys(colons), ["6C13026D12C944D0"]);
    }
}
