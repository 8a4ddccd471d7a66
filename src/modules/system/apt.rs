//! `apt`: manages Debian packages with `dpkg-query`, `apt-cache` and `apt-get`.

use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::toolkit::{check_name, exec, kv, probe, quote_all, sections, state_diff};
use crate::modules::{Action, Args, Change, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `apt` module.
pub struct Apt;

crate::options! {
    /// The `apt` module's options.
    pub(crate) struct Opts {
        name: Vec<String> = opt::list("Package names (a list or comma-separated); `name=version` pins a version (`*` as a wildcard at the end).").aliases(&["package", "pkg"]),
        state: String = opt::str("Desired package state (`fixed` also repairs broken dependencies, `apt-get --fix-broken`).").default("present").choices(&["present", "absent", "latest", "build-dep", "fixed"]),
        update_cache: bool = opt::bool("Run `apt-get update` first (see cache_valid_time).").aliases(&["update-cache"]),
        cache_valid_time: i64 = opt::int("Only update the cache when it is older than this many seconds (implies update_cache).").default("0"),
        install_recommends: Option<bool> = opt::bool("Install recommended packages (default: apt's configuration).").aliases(&["install-recommends"]),
        purge: bool = opt::bool("With state=absent, also remove configuration files (`--purge`).").default("no"),
        autoremove: bool = opt::bool("Remove packages that were installed as dependencies and are no longer needed.").default("no"),
        force: bool = opt::bool("Allow unauthenticated, downgraded, held and essential packages (dangerous).").default("no"),
        allow_downgrade: bool = opt::bool("Allow installing an older version than the installed one (`--allow-downgrades`).").default("no").aliases(&["allow-downgrade", "allow_downgrades", "allow-downgrades"]),
        allow_unauthenticated: bool = opt::bool("Allow packages that cannot be authenticated.").default("no").aliases(&["allow-unauthenticated"]),
        allow_change_held_packages: bool = opt::bool("Allow changing held packages.").default("no"),
        deb: Option<String> = opt::path("A .deb file to install: a path on the host, or a URL (downloaded on the host with curl or wget, into a temp folder removed afterwards). Its dependencies come from the repositories."),
        default_release: Option<String> = opt::str("Target release for installs (`-t`), e.g. `bookworm-backports`.").aliases(&["default-release"]),
        dpkg_options: String = opt::str("Comma-separated dpkg options, each passed as `-o Dpkg::Options::=--OPTION`.").default("force-confdef,force-confold"),
        only_upgrade: bool = opt::bool("Only upgrade packages that are already installed (others are left alone).").default("no"),
        upgrade: Option<String> = opt::str("Upgrade the whole system: `yes`/`safe` (apt-get upgrade) or `full`/`dist` (apt-get dist-upgrade).").default("no").choices(&["no", "yes", "safe", "full", "dist"]),
        lock_timeout: i64 = opt::int("Seconds to wait for the dpkg lock (`DPkg::Lock::Timeout`).").default("60"),
        clean: bool = opt::bool("Run `apt-get clean` first (alone, it is the task's change).").default("no"),
        autoclean: bool = opt::bool("Without packages: remove obsolete .deb files from the cache (`apt-get autoclean`), and nothing else.").default("no"),
        fail_on_autoremove: bool = opt::bool("Fail instead of removing packages an install would remove (`--no-remove`).").default("no"),
        policy_rc_d: Option<i64> = opt::int("While apt runs, /usr/sbin/policy-rc.d exits with this code (101: packages do not start services); the old file is restored afterwards."),
        update_cache_retries: i64 = opt::int("How many times to try `apt-get update`.").default("5"),
        update_cache_retry_max_delay: i64 = opt::int("The longest wait in seconds between those tries (the wait doubles from 1).").default("12"),
        // prov never uses aptitude and needs no Python modules: accepted, nothing to do.
        #[allow(dead_code)]
        force_apt_get: bool = opt::bool("Use apt-get, not aptitude: prov always uses apt-get.").default("no"),
        #[allow(dead_code)]
        auto_install_module_deps: bool = opt::bool("Install Python's apt bindings when missing: prov needs none, so nothing is installed.").default("yes"),
    }
}

/// The `apt` module's documentation and argument spec (shared with `package`).
pub static DOC: ModuleDoc = ModuleDoc::new("apt", "Manage apt packages")
    .description(
        "Installs, upgrades and removes Debian packages. The installed state is read with \
one `dpkg-query` round trip (`apt-cache policy` adds Installed/Candidate for `latest`), and the \
packages apt would really install or remove (dependencies included) come from a simulation \
(`apt-get -s`), so check mode lists them exactly and the diff shows each package's version \
before and after. Packages are installed with `DEBIAN_FRONTEND=noninteractive apt-get -y -q` \
and the dpkg options `force-confdef,force-confold` (see `dpkg_options`).\n\n\
`update_cache` refreshes the package lists (`apt-get update`, then the \
`/var/lib/apt/periodic/update-success-stamp` file is touched). The cache counts as fresh when \
that stamp (or `/var/lib/apt/lists`) is younger than `cache_valid_time` seconds; without \
`cache_valid_time` it is always refreshed. Changed status, as in Ansible: when packages are \
also given, the task is changed only if packages change (the refresh then runs just before \
them and `cache_updated` is true); a converged run neither refreshes nor reports changed. When \
only `update_cache` is requested, the refresh itself is the change. One exception: with \
`state: latest` and a refresh due, whether a newer version exists is only known after the \
refresh, so the plan refreshes and then upgrades the installed packages if needed \
(`--only-upgrade`), and reports changed; set `cache_valid_time` to keep such runs quiet.\n\n\
Returns `cache_updated`, `cache_update_time`, `installed` and `removed` (package names apt \
acts on, dependencies included), and `stdout`/`stderr` of apt-get.",
    )
    .spec::<Opts>()
    .mutually_exclusive(&[&["deb", "name", "upgrade"]])
    .examples(
        r#"- apt:
    name: [nginx, "hello=2.10-3"]
    update_cache: true
    cache_valid_time: 3600
- apt:
    name: cowsay
    state: absent
    purge: true
- apt:
    deb: /tmp/mypkg_1.0_amd64.deb
"#,
    );

/// One requested package.
#[derive(Debug, Clone, PartialEq)]
struct Want {
    name: String,
    version: Option<String>,
}

impl Want {
    fn parse(spec: &str) -> Result<Want> {
        let (name, version) = match spec.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().to_string())),
            None => (spec.trim(), None),
        };
        check_name("apt", "package name", name)?;
        if name.contains(['*', '?', '[']) {
            return Err(Error::failed(format!(
                "apt: package name patterns are not supported: '{name}'"
            ))
            .hint("list the packages by name"));
        }
        if let Some(v) = &version {
            check_name("apt", "package version", v)?;
        }
        Ok(Want {
            name: name.to_string(),
            version,
        })
    }
    /// The apt-get argument (`name` or `name=version`).
    fn arg(&self) -> String {
        match &self.version {
            Some(v) => format!("{}={v}", self.name),
            None => self.name.clone(),
        }
    }
    /// The name without an architecture qualifier.
    fn base(&self) -> &str {
        self.name.split(':').next().unwrap_or(&self.name)
    }
}

/// The state of one package according to dpkg.
#[derive(Debug, Clone, Default, PartialEq)]
struct Installed {
    /// Fully installed.
    installed: bool,
    /// Removed with configuration files left (`config-files`).
    config_files: bool,
    version: String,
}

/// `apt-cache policy` for one package.
#[derive(Debug, Clone, Default, PartialEq)]
struct Policy {
    installed: Option<String>,
    candidate: Option<String>,
}

fn parse_dpkg(text: &str) -> std::collections::HashMap<String, Installed> {
    let mut m = std::collections::HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 3 {
            continue;
        }
        let status: Vec<&str> = f[1].split_whitespace().collect();
        let st = status.last().copied().unwrap_or("");
        m.insert(
            f[0].to_string(),
            Installed {
                installed: st == "installed",
                config_files: st == "config-files",
                version: f[2].to_string(),
            },
        );
    }
    m
}

fn parse_policy(text: &str) -> std::collections::HashMap<String, Policy> {
    let mut m = std::collections::HashMap::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            let name = line.trim_end_matches(':').to_string();
            let name = name.split(':').next().unwrap_or(&name).to_string();
            m.insert(name.clone(), Policy::default());
            cur = Some(name);
            continue;
        }
        let Some(c) = &cur else { continue };
        let t = line.trim();
        let val = |v: &str| {
            let v = v.trim();
            (v != "(none)" && !v.is_empty()).then(|| v.to_string())
        };
        if let Some(v) = t.strip_prefix("Installed:") {
            m.get_mut(c).expect("inserted").installed = val(v);
        } else if let Some(v) = t.strip_prefix("Candidate:") {
            m.get_mut(c).expect("inserted").candidate = val(v);
        }
    }
    m
}

/// What an apt-get simulation says it would do.
#[derive(Debug, Clone, Default, PartialEq)]
struct Sim {
    /// (name, old version, new version)
    installs: Vec<(String, Option<String>, String)>,
    /// (name, version, purge)
    removes: Vec<(String, String, bool)>,
}

impl Sim {
    fn is_empty(&self) -> bool {
        self.installs.is_empty() && self.removes.is_empty()
    }
}

/// Parses `apt-get -s` output: `Inst name [old] (new repo [arch])`, `Remv name [ver]`,
/// `Purg name [ver]`.
fn parse_sim(text: &str) -> Sim {
    let mut s = Sim::default();
    for line in text.lines() {
        let (kind, rest) = match line.split_once(' ') {
            Some(x) => x,
            None => continue,
        };
        let mut words = rest.split_whitespace();
        let Some(name) = words.next() else { continue };
        let head = rest.split('(').next().unwrap_or(rest);
        let bracket = head
            .split_once('[')
            .and_then(|(_, r)| r.split_once(']'))
            .map(|(v, _)| v.to_string());
        match kind {
            "Inst" => {
                let new = rest
                    .split_once('(')
                    .and_then(|(_, r)| r.split_whitespace().next())
                    .unwrap_or("")
                    .to_string();
                s.installs.push((name.to_string(), bracket, new));
            }
            "Remv" | "Purg" => {
                s.removes.push((
                    name.to_string(),
                    bracket.unwrap_or_default(),
                    kind == "Purg",
                ));
            }
            _ => {}
        }
    }
    s
}

/// True when `installed` satisfies a version pin (`1.2-3` exactly, or `1.2*` as a prefix).
fn version_matches(pin: &str, installed: &str) -> bool {
    match pin.strip_suffix('*') {
        Some(prefix) => installed.starts_with(prefix),
        None => pin == installed,
    }
}

/// apt-get options from the arguments (recommends, downgrades, release, dpkg options).
fn apt_opts(args: &Opts) -> Vec<String> {
    let mut o: Vec<String> = vec!["-y".into(), "-q".into()];
    o.push("-o".into());
    o.push(format!("DPkg::Lock::Timeout={}", args.lock_timeout));
    for d in args
        .dpkg_options
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        o.push("-o".into());
        o.push(format!("Dpkg::Options::=--{d}"));
    }
    match args.install_recommends {
        Some(true) => o.extend(["-o".into(), "APT::Install-Recommends=true".into()]),
        Some(false) => o.push("--no-install-recommends".into()),
        None => {}
    }
    if args.force {
        o.extend([
            "--allow-unauthenticated".into(),
            "--allow-downgrades".into(),
            "--allow-remove-essential".into(),
            "--allow-change-held-packages".into(),
        ]);
    } else {
        if args.allow_downgrade {
            o.push("--allow-downgrades".into());
        }
        if args.allow_unauthenticated {
            o.push("--allow-unauthenticated".into());
        }
        if args.allow_change_held_packages {
            o.push("--allow-change-held-packages".into());
        }
    }
    if let Some(r) = args.default_release.clone().filter(|r| !r.is_empty()) {
        o.push("-t".into());
        o.push(r);
    }
    if args.only_upgrade {
        o.push("--only-upgrade".into());
    }
    o
}

/// The environment prefix of every apt-get run.
const APT_ENV: &str = "DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true";

/// The apt-get action (stdout/stderr captured into the result).
fn apt_action(ctx: &TaskCtx<'_>, line: String) -> Action {
    exec(ctx, format!("export {APT_ENV}; {line}"), true)
}

/// The command refreshing the package lists and recording when it succeeded.
/// `apt-get update` is tried `retries` times, waiting 1, 2, 4... seconds (at most
/// `max_delay`) in between, as Ansible does.
pub(crate) fn update_line(retries: i64, max_delay: i64) -> String {
    format!(
        "i=0; d=1; until {APT_ENV} apt-get update -q; do i=$((i+1)); \
         if [ $i -ge {r} ]; then echo 'Failed to update apt cache after {r} retries' >&2; exit 1; fi; \
         sleep $d; d=$((d*2)); if [ $d -gt {m} ]; then d={m}; fi; done && \
         mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp",
        r = retries.max(1),
        m = max_delay.max(1),
    )
}

/// `script` run with /usr/sbin/policy-rc.d exiting with `code` (the old file, if any, is put
/// back afterwards): Ansible's `policy_rc_d`.
fn with_policy_rc_d(script: &str, code: i64) -> String {
    format!(
        "P=/usr/sbin/policy-rc.d; B=; if [ -e \"$P\" ]; then B=$(mktemp) && cp -p \"$P\" \"$B\" || exit 1; fi\n\
         printf '#!/bin/sh\\nexit %d\\n' {code} > \"$P\" && chmod 0755 \"$P\" || exit 1\n\
         ( {script}\n ); rc=$?\n\
         if [ -n \"$B\" ]; then mv -f \"$B\" \"$P\"; else rm -f \"$P\"; fi\n\
         exit $rc"
    )
}

fn version_text(v: Option<&str>) -> String {
    v.map(str::to_string)
        .unwrap_or_else(|| "(not installed)".into())
}

/// Builds the change for a simulated apt-get run: summary, per-package diff, result lists.
fn sim_change(
    ctx: &TaskCtx<'_>,
    verb: &str,
    line: String,
    sim: &Sim,
    fallback: &[String],
    lists: &mut (Vec<Value>, Vec<Value>),
) -> Change {
    let mut before = Vec::new();
    let mut after = Vec::new();
    let (installed, removed) = lists;
    for (n, old, new) in &sim.installs {
        before.push((n.as_str(), version_text(old.as_deref())));
        after.push((n.as_str(), new.clone()));
        installed.push(Value::from(n.as_str()));
    }
    for (n, old, purge) in &sim.removes {
        before.push((n.as_str(), old.clone()));
        after.push((
            n.as_str(),
            if *purge {
                "(purged)".into()
            } else {
                "(removed)".into()
            },
        ));
        removed.push(Value::from(n.as_str()));
    }
    let mut names: Vec<String> = sim
        .installs
        .iter()
        .map(|(n, _, v)| format!("{n} ({v})"))
        .chain(sim.removes.iter().map(|(n, _, _)| n.clone()))
        .collect();
    if names.is_empty() {
        // not simulated (the cache is refreshed first): the requested packages
        names = fallback.to_vec();
        let bare = |f: &String| {
            let f = f.split(" (").next().unwrap_or(f);
            Value::from(f.split('=').next().unwrap_or(f))
        };
        match verb {
            "remove" | "purge" => removed.extend(fallback.iter().map(bare)),
            "install" => installed.extend(fallback.iter().map(bare)),
            _ => {}
        }
    }
    let diff = (!sim.is_empty()).then(|| state_diff("packages", &before, &after));
    Change {
        summary: format!("{verb} {}", names.join(", ")),
        diff,
        action: apt_action(ctx, line),
    }
}

/// Runs `apt-get -s` for the planned command; returns what it would do, or the failure text.
async fn simulate(ctx: &TaskCtx<'_>, line: &str) -> Result<std::result::Result<Sim, String>> {
    let out = ctx
        .run(format!("{APT_ENV} LC_ALL=C apt-get -s {line} 2>&1"))
        .await?;
    let text = out.stdout_str();
    if out.rc != 0 {
        let msg: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("E:") || l.contains("Unable to") || l.contains("broken"))
            .collect();
        let msg = if msg.is_empty() {
            text.trim().to_string()
        } else {
            msg.join("; ")
        };
        return Ok(Err(msg));
    }
    Ok(Ok(parse_sim(&text)))
}

/// Plans an `apt` task (also used by `package` on apt hosts).
pub(crate) async fn plan_apt(ctx: &TaskCtx<'_>, args: &Opts) -> Result<Plan> {
    let state = args.state.clone();
    let wants: Vec<Want> = args
        .name
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| Want::parse(s))
        .collect::<Result<_>>()?;
    let deb = args.deb.clone().filter(|d| !d.is_empty());
    let deb_url = deb.as_deref().filter(|d| d.contains("://"));
    let upgrade = args
        .upgrade
        .clone()
        .filter(|u| u != "no" && u != "False" && !u.is_empty());
    let valid_time = args.cache_valid_time;
    let update_cache = args.update_cache || valid_time > 0;
    let autoremove = args.autoremove;
    let purge = args.purge;
    if state == "latest" && wants.iter().any(|w| w.version.is_some()) {
        return Err(Error::failed(
            "apt: a version pin (name=version) cannot be used with state=latest",
        ));
    }
    let mut opts = apt_opts(args);
    if state == "fixed" {
        opts.push("--fix-broken".into());
    }
    if args.fail_on_autoremove && state != "absent" {
        opts.push("--no-remove".into());
    }
    let release_opt = args
        .default_release
        .as_ref()
        .filter(|r| !r.is_empty())
        .map(|r| format!("-o APT::Default-Release={} ", quote(r)))
        .unwrap_or_default();

    // One round trip: apt present, cache age, dpkg state, policy, .deb fields, autoremove/upgrade simulations.
    let names: Vec<&str> = wants.iter().map(|w| w.name.as_str()).collect();
    let mut s = String::from(
        "command -v apt-get >/dev/null 2>&1 || { echo noapt=1; exit 0; }\n\
         echo \"now=$(date +%s)\"\n\
         echo \"stamp=$(stat -c %Y /var/lib/apt/periodic/update-success-stamp 2>/dev/null || echo 0)\"\n\
         echo \"lists=$(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0)\"\n",
    );
    let fmt = quote("${Package}\t${Status}\t${Version}\n");
    if !names.is_empty() {
        s.push_str(&format!(
            "echo @@dpkg\ndpkg-query -W -f={fmt} {} 2>/dev/null\n",
            quote_all(&names)
        ));
        if state != "absent" {
            s.push_str(&format!(
                "echo @@policy\nLC_ALL=C apt-cache {release_opt}policy {} 2>/dev/null\n",
                quote_all(&names)
            ));
        }
    }
    if let Some(url) = deb_url {
        // Fetched into a private temp folder (removed at once) to read its name and version
        // and to simulate installing it.
        s.push_str(&format!(
            "echo @@deb\nt=$(mktemp -d) || exit 1\nf=\"$t/download.deb\"\n\
             if ( {fetch} ) >/dev/null 2>&1; then p=$(dpkg-deb -f \"$f\" Package) && v=$(dpkg-deb -f \"$f\" Version) && \
             echo \"pkg=$p\" && echo \"ver=$v\" && echo @@debdpkg && dpkg-query -W -f={fmt} \"$p\" 2>/dev/null; \
             echo @@debsim; {APT_ENV} LC_ALL=C apt-get -s {opts} install \"$f\" 2>&1; echo \"@@debsimrc $?\"; \
             else echo fetchfail=1; fi\nrm -rf \"$t\"\n",
            fetch = super::get_url::fetch_snippet(url, "\"$f\"", 120, true, false),
            opts = quote_all(&opts),
        ));
    } else if let Some(d) = &deb {
        s.push_str(&format!(
            "echo @@deb\nf={}\nif [ -f \"$f\" ]; then p=$(dpkg-deb -f \"$f\" Package) && v=$(dpkg-deb -f \"$f\" Version) && \
             echo \"pkg=$p\" && echo \"ver=$v\" && echo @@debdpkg && dpkg-query -W -f={fmt} \"$p\" 2>/dev/null; else echo missing=1; fi\n",
            quote(d)
        ));
    }
    s.push_str("echo @@end\n");
    let out = probe(ctx, s, "apt packages").await?;
    let sec = sections(&out);
    let head = kv(&sec[""]);
    if head.contains_key("noapt") {
        return Ok(Plan::fail(format!(
            "apt-get is not available on {} (not a Debian-family system?)",
            ctx.host
        )));
    }
    let num = |k: &str| {
        head.get(k)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(0)
    };
    let cache_time = num("stamp").max(num("lists"));
    let stale = valid_time <= 0 || num("now") - cache_time > valid_time;
    let need_update = update_cache && stale;
    let dpkg = parse_dpkg(sec.get("dpkg").map(String::as_str).unwrap_or(""));
    let policy = parse_policy(sec.get("policy").map(String::as_str).unwrap_or(""));

    let mut plan = Plan::ok();
    plan.result
        .insert("cache_updated".into(), Value::from(need_update));
    plan.result.insert(
        "cache_update_time".into(),
        Value::from(if need_update { num("now") } else { cache_time }),
    );

    // What to do with the named packages.
    let mut to_install: Vec<&Want> = Vec::new();
    let mut to_remove: Vec<&Want> = Vec::new();
    // state=latest with a cache refresh pending: newer versions can only be known after it
    let mut maybe_upgrade: Vec<&Want> = Vec::new();
    for w in &wants {
        let cur = dpkg.get(w.base()).cloned().unwrap_or_default();
        let pol = policy.get(w.base()).cloned().unwrap_or_default();
        match state.as_str() {
            "absent" => {
                if cur.installed || (purge && cur.config_files) {
                    to_remove.push(w);
                }
            }
            "build-dep" => to_install.push(w),
            _ if args.only_upgrade && !cur.installed => {}
            _ => {
                if !cur.installed && pol.candidate.is_none() && !need_update && w.version.is_none()
                {
                    return Ok(Plan::fail(format!(
                        "No package matching '{}' is available",
                        w.name
                    ))
                    .with("cache_updated", false));
                }
                let ok = cur.installed
                    && match (&w.version, state.as_str()) {
                        (Some(pin), _) => version_matches(pin, &cur.version),
                        (None, "latest") => {
                            pol.candidate.is_none()
                                || pol.candidate.as_deref() == Some(&cur.version)
                        }
                        _ => true,
                    };
                if !ok {
                    to_install.push(w);
                } else if state == "latest" && need_update {
                    maybe_upgrade.push(w);
                }
            }
        }
    }

    let mut changes: Vec<Change> = Vec::new();
    let mut lists: (Vec<Value>, Vec<Value>) = (Vec::new(), Vec::new());
    let optline = quote_all(&opts);
    if !to_install.is_empty() {
        let specs: Vec<String> = to_install.iter().map(|w| w.arg()).collect();
        let verb = if state == "build-dep" {
            "build-dep"
        } else {
            "install"
        };
        let line = format!("{optline} {verb} {}", quote_all(&specs));
        let sim = if need_update {
            Sim::default()
        } else {
            match simulate(ctx, &line).await? {
                Ok(s) => s,
                Err(msg) => {
                    return Ok(Plan::fail(format!(
                        "apt-get {verb} {} would fail: {msg}",
                        specs.join(" ")
                    )));
                }
            }
        };
        // apt's own simulation decides: nothing to install means nothing to change
        if need_update || !sim.is_empty() {
            changes.push(sim_change(
                ctx,
                verb,
                format!("apt-get {line}"),
                &sim,
                &specs,
                &mut lists,
            ));
        }
    }
    if !maybe_upgrade.is_empty() {
        let specs: Vec<String> = maybe_upgrade.iter().map(|w| w.name.clone()).collect();
        changes.push(Change {
            summary: format!(
                "upgrade {} if the refreshed cache has a newer version",
                specs.join(", ")
            ),
            diff: None,
            action: apt_action(
                ctx,
                format!(
                    "apt-get {optline} install --only-upgrade {}",
                    quote_all(&specs)
                ),
            ),
        });
    }
    if !to_remove.is_empty() || (autoremove && (state == "absent" || wants.is_empty())) {
        let specs: Vec<String> = to_remove.iter().map(|w| w.name.clone()).collect();
        let mut flags = String::new();
        if purge {
            flags.push_str(" --purge");
        }
        let line = if specs.is_empty() {
            format!("{optline}{flags} autoremove")
        } else {
            if autoremove {
                flags.push_str(" --auto-remove");
            }
            format!("{optline}{flags} remove {}", quote_all(&specs))
        };
        let sim = match simulate(ctx, &line).await? {
            Ok(s) => s,
            Err(msg) => return Ok(Plan::fail(format!("apt-get remove would fail: {msg}"))),
        };
        if !sim.is_empty() || !specs.is_empty() {
            let verb = if purge { "purge" } else { "remove" };
            let mut c = sim_change(
                ctx,
                verb,
                format!("apt-get {line}"),
                &sim,
                &specs,
                &mut lists,
            );
            if specs.is_empty() {
                c.summary = format!("autoremove {}", c.summary.trim_start_matches("remove "));
            }
            changes.push(c);
        }
    }
    if let Some(d) = &deb {
        let dsec = kv(sec.get("deb").map(String::as_str).unwrap_or(""));
        if dsec.contains_key("fetchfail") {
            return Ok(Plan::fail(format!(
                "could not download {d} on {}",
                ctx.host
            )));
        }
        if dsec.contains_key("missing") {
            return Ok(Plan::fail(format!(
                "deb file {d} does not exist on {}",
                ctx.host
            )));
        }
        let pkg = dsec.get("pkg").cloned().unwrap_or_default();
        let ver = dsec.get("ver").cloned().unwrap_or_default();
        let cur = parse_dpkg(sec.get("debdpkg").map(String::as_str).unwrap_or(""))
            .remove(&pkg)
            .unwrap_or_default();
        if !(cur.installed && cur.version == ver) || args.force {
            let path = if d.contains('/') {
                d.clone()
            } else {
                format!("./{d}")
            };
            let line = format!("{optline} install {}", quote(&path));
            let (sim, cmdline) = match deb_url {
                Some(url) => {
                    let rc = sec
                        .keys()
                        .find_map(|k| k.strip_prefix("debsimrc "))
                        .unwrap_or("1")
                        .trim()
                        .to_string();
                    let text = sec.get("debsim").cloned().unwrap_or_default();
                    if rc != "0" {
                        return Ok(Plan::fail(format!(
                            "installing {d} would fail: {}",
                            text.trim()
                        )));
                    }
                    let cmd = format!(
                        "t=$(mktemp -d) || exit 1; trap 'rm -rf \"$t\"' EXIT; f=\"$t/download.deb\"\n{}\n\
                         apt-get {optline} install \"$f\"",
                        super::get_url::fetch_snippet(url, "\"$f\"", 120, true, false)
                    );
                    (parse_sim(&text), cmd)
                }
                None => match simulate(ctx, &line).await? {
                    Ok(s) => (s, format!("apt-get {line}")),
                    Err(msg) => {
                        return Ok(Plan::fail(format!("installing {d} would fail: {msg}")));
                    }
                },
            };
            changes.push(sim_change(
                ctx,
                "install",
                cmdline,
                &sim,
                &[format!("{pkg} ({ver})")],
                &mut lists,
            ));
        }
    }
    if let Some(u) = &upgrade {
        let verb = if matches!(u.as_str(), "full" | "dist") {
            "dist-upgrade"
        } else {
            "upgrade"
        };
        let line = format!("{optline} {verb}");
        let sim = if need_update {
            Sim::default()
        } else {
            match simulate(ctx, &line).await? {
                Ok(s) => s,
                Err(msg) => return Ok(Plan::fail(format!("apt-get {verb} would fail: {msg}"))),
            }
        };
        if need_update || !sim.is_empty() {
            changes.push(sim_change(
                ctx,
                verb,
                format!("apt-get {line}"),
                &sim,
                &["(all upgradable packages)".to_string()],
                &mut lists,
            ));
        }
    }
    let only_update = wants.is_empty() && deb.is_none() && upgrade.is_none() && !autoremove;
    if need_update && (!changes.is_empty() || only_update) {
        changes.insert(
            0,
            Change {
                summary: "update the apt package lists (apt-get update)".into(),
                diff: None,
                action: exec(
                    ctx,
                    update_line(args.update_cache_retries, args.update_cache_retry_max_delay),
                    true,
                ),
            },
        );
    } else {
        plan.result
            .insert("cache_updated".into(), Value::from(false));
        plan.result
            .insert("cache_update_time".into(), Value::from(cache_time));
    }
    if wants.is_empty() && args.autoclean {
        // Ansible's autoclean ends the task: no autoremove, upgrade or deb after it.
        let out = ctx
            .run(format!("{APT_ENV} LC_ALL=C apt-get -s -y autoclean 2>&1"))
            .await?;
        changes.retain(|c| c.summary.starts_with("update the apt package lists"));
        if out.stdout_str().lines().any(|l| l.starts_with("Del ")) {
            changes.push(Change {
                summary: "remove obsolete packages from the cache (apt-get autoclean)".into(),
                diff: None,
                action: apt_action(ctx, "apt-get -y autoclean".into()),
            });
        }
    }
    if args.clean {
        changes.insert(
            0,
            Change {
                summary: "clean the apt cache (apt-get clean)".into(),
                diff: None,
                action: apt_action(ctx, "apt-get clean".into()),
            },
        );
    }
    if let Some(code) = args.policy_rc_d {
        for c in changes.iter_mut() {
            if let Action::Exec { cmd, .. } = &mut c.action
                && !c.summary.starts_with("update the apt package lists")
            {
                cmd.script = with_policy_rc_d(&cmd.script, code);
            }
        }
    }
    plan.result.insert("installed".into(), Value::from(lists.0));
    plan.result.insert("removed".into(), Value::from(lists.1));
    plan.changes = changes;
    Ok(plan)
}

#[async_trait]
impl Module for Apt {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        plan_apt(ctx, &Opts::from_args(args)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dpkg_policy_and_simulation() {
        let d = parse_dpkg(
            "curl\tinstall ok installed\t7.88.1\nhello\tdeinstall ok config-files\t2.10-3\n",
        );
        assert!(d["curl"].installed);
        assert!(d["hello"].config_files && !d["hello"].installed);
        let p = parse_policy(
            "curl:\n  Installed: 7.88.1\n  Candidate: 7.88.2\n  Version table:\n *** 7.88.1 500\nhello:\n  Installed: (none)\n  Candidate: 2.10-3\n",
        );
        assert_eq!(p["curl"].installed.as_deref(), Some("7.88.1"));
        assert_eq!(p["curl"].candidate.as_deref(), Some("7.88.2"));
        assert_eq!(p["hello"].installed, None);
        let s = parse_sim(
            "NOTE: This is only a simulation!\nInst hello (2.10-3 Debian:12.5/stable [amd64])\nInst curl [7.88.1] (7.88.2 Debian:12 [amd64]) []\nConf hello (2.10-3 Debian:12.5/stable [amd64])\nRemv sl [5.02-1]\nPurg cowsay [3.03]\n",
        );
        assert_eq!(
            s.installs,
            vec![
                ("hello".into(), None, "2.10-3".into()),
                ("curl".into(), Some("7.88.1".into()), "7.88.2".into())
            ]
        );
        assert_eq!(
            s.removes,
            vec![
                ("sl".into(), "5.02-1".into(), false),
                ("cowsay".into(), "3.03".into(), true)
            ]
        );
    }

    #[test]
    fn wants_and_pins() {
        let w = Want::parse("hello=2.10*").unwrap();
        assert_eq!(w.name, "hello");
        assert!(version_matches(w.version.as_deref().unwrap(), "2.10-3"));
        assert!(!version_matches("2.10-2", "2.10-3"));
        assert!(Want::parse("-oFoo=bar").is_err());
        assert_eq!(Want::parse("libc6:amd64").unwrap().base(), "libc6");
    }
}
