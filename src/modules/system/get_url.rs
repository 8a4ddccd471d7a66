//! `get_url`: downloads a file on the host with curl or wget.

use crate::connection::{Stdin, quote};
use crate::error::{Error, Result};
use crate::modules::toolkit::{
    self, Attrs, Kind, basename, checksum_cmd, fmt_mode, join, parent_of, resolve_mode,
};
use crate::modules::toolkit::{probe, state_diff};
use crate::modules::{
    Action, Args, Change, FileAttrs, Module, ModuleDoc, Options, Plan, TaskCtx, opt,
};
use crate::value::Value;
use async_trait::async_trait;
use minijinja::value::ValueKind;

/// The `get_url` module.
pub struct GetUrl;

crate::options! {
    /// The `get_url` module's options.
    pub(crate) struct Opts {
        url: String = opt::str("The URL (http, https or ftp).").required(),
        dest: String = opt::path("The file (or folder) on the host to write.").required(),
        checksum: String = opt::str("`algorithm:hexdigest` (e.g. `sha256:9f86...`); the download must match it.").default(""),
        backup: bool = opt::bool("Before replacing `dest`, copy it to `dest.<pid>.<timestamp>~` (returned as `backup_file`).").default("no"),
        force: bool = opt::bool("Download even when `dest` exists (and replace it when the content differs).").default("no"),
        headers: Option<Value> = opt::any("HTTP headers: a mapping (or `Key: value` strings separated by commas)."),
        url_username: Option<String> = opt::str("User name for HTTP basic authentication.").aliases(&["username"]),
        url_password: Option<String> = opt::str("Password for HTTP basic authentication (sent to curl/wget through stdin).").aliases(&["password"]).secret(),
        /// Accepted for compatibility, never read.
        #[allow(dead_code)]
        force_basic_auth: Option<bool> = opt::bool("Accepted for compatibility: credentials are always sent preemptively."),
        timeout: i64 = opt::int("Timeout of the request, in seconds.").default("10"),
        validate_certs: bool = opt::bool("Verify the server's TLS certificate.").default("yes"),
    }
    groups { attrs: FileAttrs }
}

static DOC: ModuleDoc = ModuleDoc::new(
    "get_url",
    "Download files from HTTP, HTTPS or FTP to the host",
)
.description(
    "Downloads `url` on the host itself (with curl, or wget when curl is missing) to a \
temp file in the destination's folder, checks it against `checksum`, applies mode/owner/group, \
then renames it over `dest`: a failed download or a wrong checksum leaves the old file untouched. \
Idempotence: when `dest` exists and `checksum` is given, nothing is downloaded if the file's \
checksum matches; without `checksum` an existing file is kept unless `force: yes`, and then the \
plan downloads the URL to a temp file (removed at once) to compare checksums, so check mode and \
the changed status are exact. Headers and credentials (`url_username`/`url_password`) reach \
curl or wget through stdin and a private temp config file, never the command line. \
`dest` naming a folder receives the URL's last path component. Returns `dest`, `url`, \
`checksum_src`, `checksum_dest`, `mode`, `owner`, `group`, `size` and `state`.",
)
.spec::<Opts>()
.examples(
    r#"- get_url:
    url: https://example.com/tool.tar.gz
    dest: /opt/tool.tar.gz
    checksum: "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
    mode: "0644"
"#,
);

/// The parsed `checksum` option.
fn parse_checksum(c: &str) -> Result<Option<(String, String)>> {
    let c = c.trim();
    if c.is_empty() {
        return Ok(None);
    }
    let Some((algo, sum)) = c.split_once(':') else {
        return Err(Error::failed(format!(
            "get_url: checksum '{c}' must be 'algorithm:hexdigest'"
        ))
        .hint("e.g. checksum: \"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\""));
    };
    let algo = algo.trim().to_ascii_lowercase();
    let sum = sum.trim().to_ascii_lowercase();
    if sum.contains("://") {
        return Err(Error::failed(
            "get_url: a checksum URL is not supported; give the digest itself",
        ));
    }
    checksum_cmd(&algo)?;
    if sum.is_empty() || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::failed(format!(
            "get_url: checksum digest '{sum}' is not hexadecimal"
        )));
    }
    Ok(Some((algo, sum)))
}

/// The headers as `Key: value` lines.
fn headers(v: Option<&Value>) -> Result<Vec<String>> {
    let Some(v) = v else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    if v.kind() == ValueKind::Map {
        for k in v.try_iter().map_err(|e| Error::failed(e.to_string()))? {
            let val = v.get_item(&k).unwrap_or_default();
            out.push(format!("{}: {}", k, crate::modules::args::value_str(&val)));
        }
    } else {
        for h in crate::modules::args::value_str(v).split(',') {
            let Some((k, val)) = h.split_once(':') else {
                return Err(Error::failed(format!(
                    "get_url: header '{h}' must be 'Key: value'"
                )));
            };
            out.push(format!("{}: {}", k.trim(), val.trim()));
        }
    }
    if out.iter().any(|h| h.contains('\n') || h.contains('\r')) {
        return Err(Error::failed("get_url: a header contains a line break"));
    }
    Ok(out)
}

/// Request settings that must stay off the command line (headers, credentials): sent on stdin
/// as a curl config, then `@@wget`, then the same as a wgetrc.
fn secret_config(hdrs: &[String], user: Option<&str>, pw: Option<&str>) -> Option<Vec<u8>> {
    if hdrs.is_empty() && user.is_none() {
        return None;
    }
    let cq = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    let mut curl = String::new();
    let mut wget = String::new();
    for h in hdrs {
        curl.push_str(&format!("header = {}\n", cq(h)));
        wget.push_str(&format!("header = {h}\n"));
    }
    if let Some(u) = user {
        curl.push_str(&format!(
            "user = {}\n",
            cq(&format!("{u}:{}", pw.unwrap_or("")))
        ));
        wget.push_str(&format!(
            "user = {u}\npassword = {}\nauth_no_challenge = on\n",
            pw.unwrap_or("")
        ));
    }
    Some(format!("{curl}@@wget\n{wget}").into_bytes())
}

/// Reads the secret config from stdin into two private temp files, `$cc` (curl) and `$wc`
/// (wgetrc); the caller's EXIT trap removes them.
const CONFIG_PRELUDE: &str = "cf=$(umask 077 && mktemp) && cc=$(umask 077 && mktemp) && wc=$(umask 077 && mktemp) || exit 1\n\
cat > \"$cf\"\n\
awk '/^@@wget$/{w=1;next} !w' \"$cf\" > \"$cc\"; awk 'w; /^@@wget$/{w=1}' \"$cf\" > \"$wc\"\n";

/// A sh snippet downloading `url` to the file named by the shell word `out` with curl or wget
/// (with the secret config of [`CONFIG_PRELUDE`] when `cfg`); exits 90 when neither exists, 91
/// when the download fails.
pub(crate) fn fetch_snippet(url: &str, out: &str, timeout: i64, certs: bool, cfg: bool) -> String {
    let u = quote(url);
    let k = if certs { "" } else { " -k" };
    let nc = if certs { "" } else { " --no-check-certificate" };
    let (kc, wrc) = if cfg {
        (" -K \"$cc\"", "WGETRC=\"$wc\" ")
    } else {
        ("", "")
    };
    format!(
        "if command -v curl >/dev/null 2>&1; then curl -fsSL --max-time {timeout}{k}{kc} -o {out} {u} </dev/null || exit 91; \
         elif command -v wget >/dev/null 2>&1; then {wrc}wget -q -T {timeout}{nc} -O {out} {u} </dev/null || exit 91; \
         else echo 'neither curl nor wget is installed' >&2; exit 90; fi"
    )
}

#[async_trait]
impl Module for GetUrl {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let (url, dest) = (o.url, o.dest);
        if url.is_empty() || dest.is_empty() {
            return Err(Error::failed("get_url: url and dest must not be empty"));
        }
        if !["http://", "https://", "ftp://", "file://"]
            .iter()
            .any(|p| url.starts_with(p))
        {
            return Err(Error::failed(format!(
                "get_url: unsupported URL '{url}' (http, https, ftp or file)"
            )));
        }
        let ck = parse_checksum(&o.checksum)?;
        let algo = ck.as_ref().map(|c| c.0.clone()).unwrap_or("sha256".into());
        let hdrs = headers(o.headers.as_ref())?;
        let timeout = o.timeout.max(1);
        let certs = o.validate_certs;
        let attrs = Attrs::new(&o.attrs)?;
        let url_name = basename(url.split(['?', '#']).next().unwrap_or(&url)).to_string();
        let alt = join(&dest, &url_name);
        let parent = parent_of(&dest);
        let insp = toolkit::inspect(ctx, &[&dest, &alt, &parent], Some(&algo), false).await?;
        let into_dir = insp.files[0].followed_kind() == Kind::Dir;
        let (path, info) = if into_dir {
            if url_name.is_empty() {
                return Ok(Plan::fail(format!(
                    "get_url: dest {dest} is a folder and the URL names no file"
                )));
            }
            (alt.clone(), insp.files[1].clone())
        } else {
            if dest.ends_with('/') {
                return Ok(Plan::fail(format!("Destination {dest} is not a directory")));
            }
            if insp.files[2].followed_kind() != Kind::Dir {
                return Ok(Plan::fail(format!("Destination {parent} does not exist")));
            }
            (dest.clone(), insp.files[0].clone())
        };
        if info.exists() && info.followed_kind() != Kind::File {
            return Ok(Plan::fail(format!(
                "{path} exists and is not a regular file"
            )));
        }
        let mut plan = Plan::ok()
            .with("url", url.as_str())
            .with("dest", path.as_str())
            .with("state", "file");
        if let Some(c) = &info.checksum {
            plan.result
                .insert("checksum_dest".into(), Value::from(c.as_str()));
        }
        if let Some((_, s)) = &ck {
            plan.result
                .insert("checksum_src".into(), Value::from(s.as_str()));
        }
        let force = o.force;
        let user = o.url_username.filter(|u| !u.is_empty());
        let pw = o.url_password;
        if user
            .as_deref()
            .is_some_and(|u| u.contains(['\n', '\r', ':']))
            || pw.as_deref().is_some_and(|p| p.contains(['\n', '\r']))
        {
            return Err(Error::failed(
                "get_url: url_username/url_password must not contain line breaks (nor ':' in the user)",
            ));
        }
        let secret = secret_config(&hdrs, user.as_deref(), pw.as_deref());
        let cfg = secret.is_some();
        let prelude = if cfg { CONFIG_PRELUDE } else { "" };
        let hdr_stdin = || match &secret {
            Some(b) => Stdin::Bytes(b.clone()),
            None => Stdin::Empty,
        };
        // Decide whether to download.
        let download = match (&ck, info.exists()) {
            (_, false) => true,
            (Some((_, want)), true) => info.checksum.as_deref() != Some(want.as_str()),
            (None, true) if !force => false,
            (None, true) => {
                let mut cmd = ctx.cmd(format!(
                    "{ckc}\nt= cf= cc= wc=; trap 'rm -f \"$t\" \"$cf\" \"$cc\" \"$wc\"' EXIT\n{prelude}t=$(mktemp) || exit 1\n{}\n$CK < \"$t\" | cut -d' ' -f1",
                    fetch_snippet(&url, "\"$t\"", timeout, certs, cfg),
                    ckc = checksum_cmd(&algo)?
                ));
                cmd.stdin = hdr_stdin();
                let out = ctx.conn.exec(&cmd).await?;
                if out.rc != 0 {
                    return Ok(Plan::fail(format!(
                        "Request failed: could not download {url}: {}",
                        if out.rc == 90 {
                            "neither curl nor wget is installed on the host".to_string()
                        } else {
                            out.stderr_str().trim().to_string()
                        }
                    )));
                }
                let got = out.stdout_str().trim().to_string();
                plan.result
                    .insert("checksum_src".into(), Value::from(got.as_str()));
                info.checksum.as_deref() != Some(got.as_str())
            }
        };
        let st = info.followed_stat();
        if !download {
            let (c, mode) = toolkit::attr_change(ctx, &path, st, false, &attrs, false, false)?;
            plan.changes.extend(c);
            toolkit::file_result(&mut plan, &insp, &info, &attrs, mode, Some(st.size), "file");
            plan.msg = Some(if info.exists() && ck.is_none() && !force {
                "file already exists".into()
            } else {
                "OK".into()
            });
            return Ok(plan);
        }
        // The force probe above already needed curl or wget.
        let probed = ck.is_none() && info.exists() && force;
        if !probed {
            // make sure a tool exists so that check mode fails like the run would
            let out = probe(
                ctx,
                "command -v curl >/dev/null 2>&1 || command -v wget >/dev/null 2>&1 || echo notool"
                    .into(),
                "download tools",
            )
            .await?;
            if out.contains("notool") {
                return Ok(Plan::fail(format!(
                    "get_url: neither curl nor wget is installed on {}",
                    ctx.host
                )));
            }
        }
        let base = if info.exists() {
            st.mode
        } else {
            0o666 & !insp.umask
        };
        let mode = match attrs.mode.as_deref() {
            Some(spec) => resolve_mode(spec, base, false)?,
            None => base,
        };
        let mut inst = crate::connection::install::Install::new(path.clone());
        inst.prelude = Some(format!("cf= cc= wc=\n{prelude}"));
        inst.cleanup = Some("\"$cf\" \"$cc\" \"$wc\"".into());
        if let Some((algo, want)) = &ck {
            inst.check = Some(format!(
                "{}\ns=$($CK < \"$f\" | cut -d' ' -f1)\n\
                 if [ \"$s\" != {w} ]; then echo \"The checksum for {d} did not match {w}; it was $s.\" >&2; exit 92; fi",
                checksum_cmd(algo)?,
                w = quote(want),
                d = path.replace(['"', '$', '`', '\\'], "_"),
            ));
        }
        inst.mode = Some(fmt_mode(mode));
        inst.owner = attrs.owner.clone();
        inst.group = attrs.group.clone();
        if info.exists() && insp.uid == 0 {
            inst.owner.get_or_insert_with(|| st.uid.to_string());
            inst.group.get_or_insert_with(|| st.gid.to_string());
        }
        if o.backup && info.exists() {
            let b = toolkit::backup_name(&path);
            inst.backup = Some(b.clone());
            plan.result.insert("backup_file".into(), Value::from(b));
        }
        let script = inst.script(&fetch_snippet(&url, "\"$f\"", timeout, certs, cfg));
        let mut cmd = ctx.cmd(script);
        cmd.stdin = hdr_stdin();
        let before_state = if info.exists() { "file" } else { "absent" };
        let mut before = vec![("path", path.clone()), ("state", before_state.to_string())];
        if let Some(c) = &info.checksum {
            before.push(("checksum", c.clone()));
        }
        let mut after = vec![("path", path.clone()), ("state", "file".to_string())];
        if let Some(c) = plan.result.get("checksum_src") {
            after.push(("checksum", c.to_string()));
        }
        plan.changes.push(Change {
            summary: format!(
                "download {url} to {path}{}",
                if info.exists() { " (replacing it)" } else { "" }
            ),
            diff: Some(state_diff(&path, &before, &after)),
            action: Action::Exec {
                cmd,
                capture: false,
                fail_on_rc: true,
            },
        });
        toolkit::file_result(&mut plan, &insp, &info, &attrs, mode, None, "file");
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_a_secret() {
        assert!(DOC.option("url_password").unwrap().secret);
        // through its alias too
        assert!(DOC.option("password").unwrap().secret);
    }

    #[test]
    fn checksums() {
        assert_eq!(
            parse_checksum("SHA256:ABCDEF").unwrap(),
            Some(("sha256".into(), "abcdef".into()))
        );
        assert_eq!(parse_checksum("").unwrap(), None);
        assert!(parse_checksum("sha256").is_err());
        assert!(parse_checksum("crc32:abcd").is_err());
        assert!(parse_checksum("sha256:xyz").is_err());
        assert!(parse_checksum("sha256:http://x/SUMS").is_err());
    }
}
