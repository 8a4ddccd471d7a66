//! `systemd_service` (also registered as `systemd`) and `service`: manage services.
//!
//! Both share one implementation for systemd hosts: a single round trip runs
//! `systemctl show NAME` and `systemctl is-enabled NAME`, and the plan lists the `systemctl`
//! commands to run, in Ansible's order (daemon-reload, daemon-reexec, mask/unmask,
//! enable/disable, start/stop/restart/reload). `service` also works without systemd, through
//! OpenRC (`rc-service`/`rc-update`), `/etc/init.d` scripts or the `service` command, with
//! `update-rc.d`/`chkconfig` for boot-time enabling.

use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::toolkit::{check_name, exec, kv, probe, sections, state_diff};
use crate::modules::{Args, Change, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::{Value, map_value};
use async_trait::async_trait;

const SD_DESC: &str = "Controls systemd units. One round trip reads the unit (`systemctl show`, \
returned as `status`) and whether it is enabled (`systemctl is-enabled`); the plan then lists the \
exact `systemctl` commands, in Ansible's order: daemon-reload, daemon-reexec, mask/unmask, \
enable/disable, then start/stop/restart/reload. `started`/`stopped` change only when needed; \
`restarted` and `reloaded` always change (both start a stopped unit). `daemon_reload` is a \
change when the unit's files changed on disk (`NeedDaemonReload`), when the unit is not loaded \
yet, or when no `name` is given. A missing unit fails (unless only masking it). Returns `name`, \
`state`, `enabled` and `status` (every property of `systemctl show`, before the change).";

crate::options! {
    /// The options of `systemd_service` (also registered as `systemd`).
    pub(crate) struct SdOpts {
        name: Option<String> = opt::str("Unit name (`.service` is implied when there is no suffix).").aliases(&["service", "unit"]),
        state: Option<String> = opt::str("Desired run state (`tried-restart` restarts only a running unit).").choices(&["reloaded", "restarted", "started", "stopped", "tried-restart"]),
        enabled: Option<bool> = opt::bool("Start the unit on boot."),
        masked: Option<bool> = opt::bool("Mask the unit (it cannot be started at all)."),
        daemon_reload: bool = opt::bool("Run `systemctl daemon-reload` first (see the description).").default("no").aliases(&["daemon-reload"]),
        daemon_reexec: bool = opt::bool("Run `systemctl daemon-reexec` first (always a change).").default("no").aliases(&["daemon-reexec"]),
        scope: String = opt::str("The systemd manager to talk to.").default("system").choices(&["system", "user", "global"]),
        no_block: bool = opt::bool("Do not wait for the job to finish (`--no-block`).").default("no"),
        force: bool = opt::bool("Override existing symlinks when enabling (`--force`)."),
    }
}

static SD_EXAMPLES: &str = r#"- systemd_service:
    name: nginx
    state: started
    enabled: true
- systemd:
    daemon_reload: true
"#;

/// Ansible's rule: acting on a unit needs its name.
const SD_REQUIRED_BY: &[(&str, &[&str])] = &[
    ("state", &["name"]),
    ("enabled", &["name"]),
    ("masked", &["name"]),
];

static SYSTEMD_SERVICE_DOC: ModuleDoc = ModuleDoc::new("systemd_service", "Manage systemd units")
    .description(SD_DESC)
    .spec::<SdOpts>()
    .required_by(SD_REQUIRED_BY)
    .examples(SD_EXAMPLES);

static SYSTEMD_DOC: ModuleDoc =
    ModuleDoc::new("systemd", "Manage systemd units (alias of systemd_service)")
        .description(SD_DESC)
        .spec::<SdOpts>()
        .required_by(SD_REQUIRED_BY)
        .examples(SD_EXAMPLES);

/// The `systemd_service` module, also registered as `systemd`.
pub struct Systemd {
    doc: &'static ModuleDoc,
}

impl Systemd {
    /// The module under the name `systemd_service`.
    pub fn systemd_service() -> Self {
        Systemd {
            doc: &SYSTEMD_SERVICE_DOC,
        }
    }
    /// The module under the name `systemd`.
    pub fn systemd_alias() -> Self {
        Systemd { doc: &SYSTEMD_DOC }
    }
}

/// A unit name as given (an empty one counts as none), checked.
fn unit_name(module: &str, name: Option<String>) -> Result<Option<String>> {
    let name = name.filter(|n| !n.is_empty());
    if let Some(n) = &name {
        check_name(module, "unit name", n)?;
    }
    Ok(name)
}

/// What a service task asks for.
#[derive(Debug, Clone, Default)]
struct Want {
    name: Option<String>,
    state: Option<String>,
    enabled: Option<bool>,
    masked: Option<bool>,
    daemon_reload: bool,
    daemon_reexec: bool,
    scope: String,
    no_block: bool,
    force: bool,
}

impl Want {
    /// The request of a `systemd_service`/`systemd` task.
    fn systemd(module: &str, o: SdOpts) -> Result<Want> {
        Ok(Want {
            name: unit_name(module, o.name)?,
            state: o.state.filter(|s| !s.is_empty()),
            enabled: o.enabled,
            masked: o.masked,
            daemon_reload: o.daemon_reload,
            daemon_reexec: o.daemon_reexec,
            scope: o.scope,
            no_block: o.no_block,
            force: o.force,
        })
    }
    /// The request of a `service` task: on systemd hosts Ansible's service action runs the
    /// systemd module with the task's arguments, so systemd's options apply there.
    fn service(o: &ServiceOpts) -> Result<Want> {
        Ok(Want {
            name: unit_name("service", o.name.clone())?,
            state: o.state.clone().filter(|s| !s.is_empty()),
            enabled: o.enabled,
            masked: o.masked,
            daemon_reload: o.daemon_reload.unwrap_or(false),
            daemon_reexec: o.daemon_reexec.unwrap_or(false),
            scope: o.scope.clone().unwrap_or_else(|| "system".into()),
            no_block: o.no_block.unwrap_or(false),
            force: o.force.unwrap_or(false),
        })
    }
    /// The systemd-only options given to a `service` task (sorted), which the init-script
    /// `service` module does not take.
    fn systemd_only(o: &ServiceOpts) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (k, set) in [
            ("daemon_reexec", o.daemon_reexec.is_some()),
            ("daemon_reload", o.daemon_reload.is_some()),
            ("force", o.force.is_some()),
            ("masked", o.masked.is_some()),
            ("no_block", o.no_block.is_some()),
            ("scope", o.scope.is_some()),
        ] {
            if set {
                v.push(k);
            }
        }
        v
    }
    fn systemctl(&self) -> String {
        match self.scope.as_str() {
            "user" => {
                "XDG_RUNTIME_DIR=\"${XDG_RUNTIME_DIR:-/run/user/$(id -u)}\" systemctl --user".into()
            }
            "global" => "systemctl --global".into(),
            _ => "systemctl".into(),
        }
    }
}

/// The unit file states `systemctl is-enabled` prints for a unit that exists (systemctl(1)).
const ENABLED_STATES: &[&str] = &[
    "enabled",
    "enabled-runtime",
    "linked",
    "linked-runtime",
    "masked",
    "masked-runtime",
    "static",
    "indirect",
    "disabled",
    "generated",
    "transient",
    "alias",
];

/// The part of the inspection script that reads a unit (sections `show` and `enabled`).
fn systemd_probe(w: &Want) -> String {
    let mut s = String::new();
    if w.scope == "user" {
        s.push_str("[ -n \"$XDG_RUNTIME_DIR\" ] || export XDG_RUNTIME_DIR=/run/user/$(id -u)\n");
    }
    if let Some(n) = &w.name {
        // `show` has no --global; the system manager's view is the best there is.
        let show = if w.scope == "user" {
            "systemctl --user"
        } else {
            "systemctl"
        };
        // `show` prints nothing when systemd is offline (SYSTEMD_OFFLINE=1, a chroot): then,
        // as Ansible does, the unit exists when `is-enabled` names a state or
        // `list-unit-files` lists it, or when it has an init script.
        s.push_str(&format!(
            "echo @@show\nshow=$({show} show -- {n} 2>/dev/null); printf '%s\\n' \"$show\"\n\
             echo @@enabled\nout=$({sc} is-enabled -l -- {n} 2>/dev/null); echo \"rc=$?\"; echo \"out=$out\"; \
             echo \"lines=$(printf '%s\\n' \"$out\" | wc -l)\"\n\
             echo @@extra\n[ -e /etc/init.d/{n} ] && echo initd=1\n\
             case \"$show\" in *=*) ;; *) {sc} list-unit-files -- {n} >/dev/null 2>&1; echo \"files_rc=$?\" ;; esac\n\
             echo \"offline=${{SYSTEMD_OFFLINE:-0}}\"\n\
             [ \"$(stat -Lc %d:%i / 2>/dev/null)\" = \"$(stat -Lc %d:%i /proc/1/root 2>/dev/null)\" ] || echo chroot=1\n",
            n = quote(n),
            sc = w.systemctl()
        ));
        if w.daemon_reload && w.scope == "system" {
            // The unit's drop-in files on disk: systemd's NeedDaemonReload misses new ones.
            s.push_str(
                "echo @@dropins\nid=$(printf '%s\\n' \"$show\" | sed -n 's/^Id=//p')\n\
                 if [ -n \"$id\" ]; then for d in /etc/systemd/system /run/systemd/system /usr/lib/systemd/system /lib/systemd/system; do \
                 for f in \"$d/$id.d\"/*.conf; do [ -e \"$f\" ] && echo \"$f\"; done; done; fi\ntrue\n",
            );
        }
    }
    s
}

/// Whether the unit has a drop-in file on disk that systemd has not loaded (a name not among
/// `DropInPaths`): `systemctl show` reports NeedDaemonReload=no for a new drop-in directory.
fn new_dropin(loaded: &str, on_disk: &str) -> bool {
    let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let known: std::collections::HashSet<String> = loaded.split_whitespace().map(base).collect();
    on_disk
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .any(|f| !known.contains(&base(f)))
}

/// Plans the systemd part from the probe's output sections.
fn plan_systemd(
    ctx: &TaskCtx<'_>,
    w: &Want,
    sec: &indexmap::IndexMap<String, String>,
) -> Result<Plan> {
    let sc = w.systemctl();
    let mut plan = Plan::ok();
    let mut changes: Vec<Change> = Vec::new();
    let cmd = |verb: &str, n: &str| {
        let nb = if w.no_block { " --no-block" } else { "" };
        format!("{sc}{nb} {verb} -- {}", quote(n))
    };
    if w.daemon_reexec {
        changes.push(Change {
            summary: "systemctl daemon-reexec".into(),
            diff: None,
            action: exec(ctx, format!("{sc} daemon-reexec"), false),
        });
    }
    let Some(name) = &w.name else {
        if w.daemon_reload {
            changes.insert(
                0,
                Change {
                    summary: "systemctl daemon-reload".into(),
                    diff: None,
                    action: exec(ctx, format!("{sc} daemon-reload"), false),
                },
            );
        }
        // The spec's required_by rule rejects these without a name; an empty name gets here.
        if w.state.is_some() || w.enabled.is_some() || w.masked.is_some() {
            return Err(Error::failed(
                "systemd_service: name is required with state, enabled or masked",
            ));
        }
        plan.changes = changes;
        return Ok(plan);
    };
    let show = kv(sec.get("show").map(String::as_str).unwrap_or(""));
    let en = kv(sec.get("enabled").map(String::as_str).unwrap_or(""));
    let prop = |k: &str| show.get(k).map(String::as_str).unwrap_or("");
    let extra = kv(sec.get("extra").map(String::as_str).unwrap_or(""));
    let flag = |k: &str| extra.get(k).map(|v| v.trim()) == Some("1");
    let load = prop("LoadState");
    let en_out = en
        .get("out")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let found = if show.is_empty() {
        // systemd offline: what is-enabled or list-unit-files know of the unit
        ENABLED_STATES.contains(&en_out.as_str())
            || extra.get("files_rc").map(|r| r.trim()) == Some("0")
            || flag("initd")
    } else {
        load != "not-found" || flag("initd")
    };
    let offline = flag("offline") || flag("chroot");
    let need_reload = prop("NeedDaemonReload") == "yes"
        || !found
        || new_dropin(
            prop("DropInPaths"),
            sec.get("dropins").map(String::as_str).unwrap_or(""),
        );
    let status = map_value(
        show.iter()
            .map(|(k, v)| (k.as_str(), Value::from(v.as_str()))),
    );
    plan.result
        .insert("name".into(), Value::from(name.as_str()));
    plan.result.insert("status".into(), status);
    if w.daemon_reload && need_reload {
        changes.insert(
            0,
            Change {
                summary: "systemctl daemon-reload".into(),
                diff: None,
                action: exec(ctx, format!("{sc} daemon-reload"), false),
            },
        );
    }
    let en_rc = en
        .get("rc")
        .and_then(|r| r.trim().parse::<i32>().ok())
        .unwrap_or(1);
    let masked_now = en_out.starts_with("masked") || load == "masked";
    // A unit not found is only acceptable when masking it or when a daemon-reload may load it.
    if !found
        && !masked_now
        && !w.daemon_reload
        && w.masked != Some(true)
        && (w.state.is_some() || w.enabled.is_some())
    {
        // Ansible's message, which playbooks search for
        return Ok(
            Plan::fail(format!("Could not find the requested service {name}: host"))
                .with("name", name.as_str()),
        );
    }
    let mut before: Vec<(&str, String)> = Vec::new();
    let mut after: Vec<(&str, String)> = Vec::new();
    if let Some(m) = w.masked
        && m != masked_now
    {
        before.push(("masked", masked_now.to_string()));
        after.push(("masked", m.to_string()));
        changes.push(Change {
            summary: format!("{} {name}", if m { "mask" } else { "unmask" }),
            diff: None,
            action: exec(ctx, cmd(if m { "mask" } else { "unmask" }, name), false),
        });
    }
    // Like Ansible: rc 0 means enabled, except units that are only `indirect` or an `alias`.
    // `is-enabled -l` also lists the unit's links: "indirect" alone is a unit only pulled in by
    // another, but once enabled through `Also=` its links follow, as Ansible reads it.
    let one_word = en
        .get("lines")
        .and_then(|l| l.trim().parse::<u32>().ok())
        .is_none_or(|n| n <= 1);
    let enabled_now = en_rc == 0
        && !masked_now
        && !(one_word && matches!(en_out.as_str(), "indirect" | "alias" | "enabled-runtime"));
    if let Some(e) = w.enabled {
        plan.result.insert("enabled".into(), Value::from(e));
        if e != enabled_now {
            if e && (masked_now && w.masked != Some(false)) {
                return Ok(Plan::fail(format!(
                    "Unable to enable service {name}: it is masked"
                )));
            }
            before.push(("enabled", enabled_now.to_string()));
            after.push(("enabled", e.to_string()));
            let verb = if e { "enable" } else { "disable" };
            let f = if w.force { " --force" } else { "" };
            changes.push(Change {
                summary: format!("{verb} {name}"),
                diff: None,
                action: exec(ctx, format!("{sc}{f} {verb} -- {}", quote(name)), false),
            });
        }
    }
    if let Some(st) = &w.state
        && show.get("ActiveState").is_none()
    {
        // No run state to compare with: systemd is offline (nothing to do), or broken.
        if !offline {
            return Ok(Plan::fail("Service is in unknown state").with("name", name.as_str()));
        }
        plan.result.insert(
            "state".into(),
            Value::from(if st == "stopped" {
                "stopped"
            } else {
                "started"
            }),
        );
        plan.result.insert(
            "warnings".into(),
            Value::from(vec![Value::from(
                "Target is a chroot or systemd is offline. This can lead to false positives or \
                 prevent the init system tools from working.",
            )]),
        );
    } else if let Some(st) = &w.state {
        let active = prop("ActiveState");
        let running = matches!(active, "active" | "activating" | "reloading");
        let verb = match st.as_str() {
            "started" => (!running).then_some("start"),
            "stopped" => (running || active == "deactivating").then_some("stop"),
            "restarted" => Some(if running { "restart" } else { "start" }),
            "tried-restart" => running.then_some("restart"),
            _ => Some(if running { "reload" } else { "start" }),
        };
        let final_state = match st.as_str() {
            "stopped" => "stopped",
            "tried-restart" if !running => "stopped",
            _ => "started",
        };
        plan.result.insert("state".into(), Value::from(final_state));
        if w.masked == Some(true) && st != "stopped" {
            return Ok(Plan::fail(format!(
                "Unable to start service {name}: it is masked"
            )));
        }
        if let Some(v) = verb {
            before.push((
                "state",
                if active.is_empty() {
                    "inactive"
                } else {
                    active
                }
                .to_string(),
            ));
            after.push((
                "state",
                match v {
                    "stop" => "inactive".to_string(),
                    "start" => "active".to_string(),
                    other => format!("active ({other})"),
                },
            ));
            changes.push(Change {
                summary: format!("{v} {name}"),
                diff: None,
                action: exec(ctx, cmd(v, name), false),
            });
        }
    }
    // One diff for the whole unit, attached to the first change that alters it.
    if !before.is_empty()
        && let Some(c) = changes
            .iter_mut()
            .find(|c| !c.summary.starts_with("systemctl daemon"))
    {
        c.diff = Some(state_diff(name, &before, &after));
    }
    plan.changes = changes;
    Ok(plan)
}

#[async_trait]
impl Module for Systemd {
    fn doc(&self) -> &'static ModuleDoc {
        self.doc
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let w = Want::systemd(self.doc.name, SdOpts::from_args(args)?)?;
        if w.name.is_none() && !w.daemon_reload && !w.daemon_reexec {
            return Err(Error::failed(format!(
                "{}: one of name, daemon_reload or daemon_reexec is required",
                self.doc.name
            )));
        }
        let script = format!(
            "if [ -d /run/systemd/system ]; then echo systemd=1; else echo systemd=0; fi\n{}",
            systemd_probe(&w)
        );
        let out = probe(ctx, script, "the service").await?;
        let sec = sections(&out);
        if kv(&sec[""]).get("systemd").map(String::as_str) != Some("1") && w.scope != "global" {
            return Ok(Plan::fail(format!(
                "systemd is not running on {} (use the service module for other init systems)",
                ctx.host
            )));
        }
        plan_systemd(ctx, &w, &sec)
    }
}

// ---------------------------------------------------------------------------------------------
// service

/// The `service` module.
pub struct Service;

crate::options! {
    /// The `service` module's options.
    pub(crate) struct ServiceOpts {
        name: Option<String> = opt::str("Service name (required without systemd)."),
        state: Option<String> = opt::str("Desired run state.").choices(&["reloaded", "restarted", "started", "stopped"]),
        enabled: Option<bool> = opt::bool("Start the service on boot."),
        masked: Option<bool> = opt::bool("On systemd: mask the unit (see `systemd_service`)."),
        daemon_reload: Option<bool> = opt::bool("On systemd: run `systemctl daemon-reload` first.").aliases(&["daemon-reload"]),
        daemon_reexec: Option<bool> = opt::bool("On systemd: run `systemctl daemon-reexec` first.").aliases(&["daemon-reexec"]),
        scope: Option<String> = opt::str("On systemd: the manager to talk to.").choices(&["system", "user", "global"]),
        no_block: Option<bool> = opt::bool("On systemd: do not wait for the job to finish."),
        force: Option<bool> = opt::bool("On systemd: override existing symlinks when enabling."),
        pattern: Option<String> = opt::str("Without systemd: a process-list pattern telling whether it runs (when `status` is unreliable)."),
        arguments: Option<String> = opt::str("Without systemd: extra arguments for the init script.").aliases(&["args"]),
        sleep: Option<i64> = opt::int("Without systemd: seconds to wait between stop and start when restarting."),
        runlevel: String = opt::str("OpenRC runlevel to enable the service in.").default("default"),
        r#use: String = opt::str("The service manager: `auto` detects it, `sysv` forces init scripts.").default("auto").choices(&["auto", "systemd", "sysv", "openrc", "service"]),
    }
}

static SERVICE_DOC: ModuleDoc = ModuleDoc::new("service", "Manage services")
    .description(
        "Starts, stops, restarts, reloads and enables services. On systemd hosts it is \
`systemd_service` (one round trip, exact check mode; see `prov doc systemd_service`). Without \
systemd (or with `use: sysv`/`openrc`) the service's state comes from `rc-service NAME status`, \
`/etc/init.d/NAME status` or `service NAME status` (or `pattern` searched in the process list) \
and its boot-time state from `rc-update`, the `/etc/rc?.d/S??NAME` links or `chkconfig`; \
actions use the same tools (`update-rc.d` or `chkconfig` to enable). `restarted` and \
`reloaded` always change. Returns `name`, `state`, `enabled` and, on systemd, `status`.",
    )
    .spec::<ServiceOpts>()
    .required_one_of(&[&[
        "state",
        "enabled",
        "masked",
        "daemon_reload",
        "daemon_reexec",
    ]])
    .required_by(SD_REQUIRED_BY)
    .examples("- service:\n    name: ssh\n    state: started\n    enabled: true\n");

fn sysv_probe(name: &str, pattern: Option<&str>) -> String {
    let n = quote(name);
    let mut s = format!(
        "n={n}\n\
         command -v rc-service >/dev/null 2>&1 && echo openrc=1\n\
         [ -x \"/etc/init.d/$n\" ] && echo script=1\n\
         command -v service >/dev/null 2>&1 && echo service=1\n\
         command -v update-rc.d >/dev/null 2>&1 && echo updatercd=1\n\
         command -v chkconfig >/dev/null 2>&1 && echo chkconfig=1\n"
    );
    match pattern {
        Some(p) => s.push_str(&format!(
            "if ps -eo args 2>/dev/null | grep -v grep | grep -q -- {}; then echo running=1; else echo running=0; fi\n",
            quote(p)
        )),
        None => s.push_str(
            "if command -v rc-service >/dev/null 2>&1; then rc-service \"$n\" status >/dev/null 2>&1; r=$?\n\
             elif [ -x \"/etc/init.d/$n\" ]; then \"/etc/init.d/$n\" status >/dev/null 2>&1; r=$?\n\
             elif command -v service >/dev/null 2>&1; then service \"$n\" status >/dev/null 2>&1; r=$?\n\
             else r=4; fi\n\
             if [ $r = 0 ]; then echo running=1; else echo running=0; fi\necho status_rc=$r\n",
        ),
    }
    s.push_str(
        "if command -v rc-update >/dev/null 2>&1; then rc-update show 2>/dev/null | awk '{print $1}' | grep -qx \"$n\" && echo enabled=1\n\
         elif ls /etc/rc[2345].d/S*\"$n\" >/dev/null 2>&1; then echo enabled=1\n\
         elif command -v chkconfig >/dev/null 2>&1; then chkconfig --list \"$n\" 2>/dev/null | grep -q ':on' && echo enabled=1\n\
         fi\ntrue\n",
    );
    s
}

fn plan_sysv(
    ctx: &TaskCtx<'_>,
    o: &ServiceOpts,
    name: &str,
    info: &indexmap::IndexMap<String, String>,
) -> Result<Plan> {
    let has = |k: &str| info.get(k).is_some_and(|v| v.trim() == "1");
    let n = quote(name);
    let extra = match o.arguments.as_deref().filter(|a| !a.is_empty()) {
        Some(a) => {
            let words = crate::modules::toolkit::split_words("service", a)?;
            format!(" {}", crate::modules::toolkit::quote_all(&words))
        }
        None => String::new(),
    };
    let control = |verb: &str| -> Result<String> {
        if has("openrc") {
            Ok(format!("rc-service {n} {verb}{extra}"))
        } else if has("script") {
            Ok(format!("/etc/init.d/{n} {verb}{extra}"))
        } else if has("service") {
            Ok(format!("service {n} {verb}{extra}"))
        } else {
            Err(Error::failed(format!(
                "service: no init script /etc/init.d/{name} and no service command on {}",
                ctx.host
            )))
        }
    };
    let mut plan = Plan::ok().with("name", name);
    let running = has("running");
    let enabled = has("enabled");
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut changes = Vec::new();
    if let Some(e) = o.enabled {
        plan.result.insert("enabled".into(), Value::from(e));
        if e != enabled {
            let line = if has("openrc") {
                let rl = quote(&o.runlevel);
                format!("rc-update {} {n} {rl}", if e { "add" } else { "del" })
            } else if has("updatercd") {
                if e {
                    format!(
                        "if ls /etc/rc?.d/[SK]??{n} >/dev/null 2>&1; then update-rc.d {n} enable; else update-rc.d {n} defaults; fi"
                    )
                } else {
                    format!("update-rc.d {n} disable")
                }
            } else if has("chkconfig") {
                format!("chkconfig {n} {}", if e { "on" } else { "off" })
            } else {
                return Ok(Plan::fail(format!(
                    "service: no tool to enable services on {} (rc-update, update-rc.d or chkconfig)",
                    ctx.host
                )));
            };
            before.push(("enabled", enabled.to_string()));
            after.push(("enabled", e.to_string()));
            changes.push(Change {
                summary: format!("{} {name}", if e { "enable" } else { "disable" }),
                diff: None,
                action: exec(ctx, line, false),
            });
        }
    }
    if let Some(st) = o.state.clone().filter(|s| !s.is_empty()) {
        plan.result.insert(
            "state".into(),
            Value::from(if st == "stopped" {
                "stopped"
            } else {
                "started"
            }),
        );
        let line = match st.as_str() {
            "started" if !running => Some(control("start")?),
            "stopped" if running => Some(control("stop")?),
            "restarted" => Some(match o.sleep {
                Some(s) if running => {
                    format!("{} ; sleep {s}; {}", control("stop")?, control("start")?)
                }
                _ if running => control("restart")?,
                _ => control("start")?,
            }),
            "reloaded" => Some(if running {
                control("reload")?
            } else {
                control("start")?
            }),
            _ => None,
        };
        if let Some(l) = line {
            before.push((
                "state",
                if running { "running" } else { "stopped" }.to_string(),
            ));
            after.push((
                "state",
                if st == "stopped" {
                    "stopped"
                } else {
                    "running"
                }
                .to_string(),
            ));
            changes.push(Change {
                summary: format!("{st} {name}")
                    .replace("started", "start")
                    .replace("stopped", "stop"),
                diff: None,
                action: exec(ctx, l, false),
            });
        }
    }
    if let Some(c) = changes.first_mut() {
        c.diff = Some(state_diff(name, &before, &after));
    }
    plan.changes = changes;
    Ok(plan)
}

#[async_trait]
impl Module for Service {
    fn doc(&self) -> &'static ModuleDoc {
        &SERVICE_DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = ServiceOpts::from_args(args)?;
        let w = Want::service(&o)?;
        let name = w.name.clone().unwrap_or_default();
        let pattern = o.pattern.as_deref().filter(|p| !p.is_empty());
        let use_ = o.r#use.as_str();
        let sd = systemd_probe(&w);
        let sv = sysv_probe(&name, pattern);
        let script = match use_ {
            "auto" | "systemd" => format!(
                "if [ -d /run/systemd/system ]; then echo mgr=systemd\n{sd}else echo mgr=sysv\n{sv}fi\n"
            ),
            _ => format!("echo mgr=sysv\n{sv}"),
        };
        let out = probe(ctx, script, "the service").await?;
        let sec = sections(&out);
        let head = kv(&sec[""]);
        if head.get("mgr").map(String::as_str) == Some("systemd") {
            let mut plan = plan_systemd(ctx, &w, &sec)?;
            // Ansible's service action drops the init-script options for systemd, warning.
            let mut warnings: Vec<Value> = plan
                .result
                .get("warnings")
                .and_then(|v| v.try_iter().ok())
                .map(|i| i.collect())
                .unwrap_or_default();
            let ignored: Vec<Value> = [
                ("pattern", o.pattern.is_some()),
                ("sleep", o.sleep.is_some()),
                ("arguments", o.arguments.is_some()),
            ]
            .into_iter()
            .filter(|(_, given)| *given)
            .map(|(k, _)| Value::from(format!("Ignoring \"{k}\" as it is not used in \"systemd\"")))
            .collect();
            if !ignored.is_empty() && plan.failed.is_none() {
                warnings.extend(ignored);
                plan.result.insert("warnings".into(), Value::from(warnings));
            }
            return Ok(plan);
        }
        if use_ == "systemd" {
            return Ok(Plan::fail(format!(
                "systemd is not running on {}",
                ctx.host
            )));
        }
        // Without systemd it is Ansible's init-script service module, with its own spec.
        let only = Want::systemd_only(&o);
        if !only.is_empty() {
            return Ok(Plan::fail(format!(
                "Unsupported parameters for (service) module: {}. Supported parameters include: \
                 arguments, enabled, name, pattern, runlevel, sleep, state (args).",
                only.join(", ")
            )));
        }
        if w.name.is_none() {
            return Ok(Plan::fail("missing required arguments: name"));
        }
        if o.state.is_none() && o.enabled.is_none() {
            return Ok(Plan::fail(
                "one of the following is required: state, enabled",
            ));
        }
        plan_sysv(ctx, &o, &name, &head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::validate_args;
    use crate::value::{from_json, value_to_vars};

    fn args(doc: &'static ModuleDoc, j: serde_json::Value) -> Result<Args> {
        validate_args(doc, &value_to_vars(&from_json(&j)))
    }

    #[test]
    fn systemd_needs_a_name_to_act_on_a_unit() {
        for doc in [&SYSTEMD_SERVICE_DOC, &SYSTEMD_DOC] {
            for k in ["state", "enabled", "masked"] {
                let v = if k == "state" {
                    "started".into()
                } else {
                    serde_json::json!(true)
                };
                let e = args(doc, serde_json::json!({ k: v })).unwrap_err();
                assert_eq!(
                    e.msg,
                    format!(
                        "module '{}': missing parameter(s) required by '{k}': name",
                        doc.name
                    )
                );
            }
        }
        let a = args(&SYSTEMD_DOC, serde_json::json!({"daemon-reload": true})).unwrap();
        let w = Want::systemd("systemd", SdOpts::from_args(&a).unwrap()).unwrap();
        assert!(w.daemon_reload && !w.daemon_reexec && !w.no_block && !w.force);
        assert_eq!((w.name, w.scope.as_str()), (None, "system"));
    }

    #[test]
    fn service_reads_its_own_options() {
        let e = args(&SERVICE_DOC, serde_json::json!({"name": "ssh"})).unwrap_err();
        assert_eq!(
            e.msg,
            "one of the following is required: state, enabled, masked, daemon_reload, daemon_reexec"
        );
        // systemd's options, as Ansible's service action hands them to systemd (cron's setup
        // restarts its service with `daemon-reload`)
        let a = args(
            &SERVICE_DOC,
            serde_json::json!({"name": "cron", "state": "restarted", "daemon-reload": true}),
        )
        .unwrap();
        let o = ServiceOpts::from_args(&a).unwrap();
        assert_eq!(Want::systemd_only(&o), vec!["daemon_reload"]);
        let w = Want::service(&o).unwrap();
        assert!(w.daemon_reload && !w.no_block);
        assert_eq!(w.scope, "system");
        let a = args(
            &SERVICE_DOC,
            serde_json::json!({"name": "ssh", "enabled": "no"}),
        )
        .unwrap();
        let o = ServiceOpts::from_args(&a).unwrap();
        assert_eq!((o.runlevel.as_str(), o.r#use.as_str()), ("default", "auto"));
        let w = Want::service(&o).unwrap();
        assert_eq!(
            (w.name.as_deref(), w.enabled, w.state),
            (Some("ssh"), Some(false), None)
        );
        assert_eq!((w.masked, w.scope.as_str()), (None, "system"));
        assert!(
            Want::service(&ServiceOpts {
                name: Some("-x".into()),
                ..o
            })
            .is_err()
        );
    }
}
