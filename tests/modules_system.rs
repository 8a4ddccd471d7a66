//! Integration tests of the system modules (apt, package, systemd_service/systemd/service, user,
//! group, get_url, apt_repository, deb822_repository) against a REAL Debian host: lab1 of
//! `tests/lab/` (a systemd-nspawn machine on the lab bridge), reached with a test-only
//! [`Connection`] that runs each command through the OpenSSH client
//! (`ssh -F tests/lab/.state/ssh_config lab1 <line>`, stdin piped).
//!
//! Each module goes through the same cycle: a check-mode plan lists the expected changes and
//! the host is unchanged after it; the plan is applied the way the engine does it; a second
//! plan is empty (idempotence); the real state on the host is asserted; then the inverse.
//!
//! Requirements: root and PROV_LAB=1 — otherwise every test prints `SKIP: ...` and passes.
//! The tests bring lab1 up themselves (`tests/lab/up.sh 1`, about 5 s with the rootfs cached)
//! and leave it running; run `tests/lab/down.sh` afterwards. They share lab1, so they are
//! serialized by a static lock (no need for `--test-threads=1`, though it does no harm).
//! apt tests reach Debian's mirror through the lab's NAT; get_url and deb822_repository use a
//! `python3 -m http.server` bound to the controller's lab address 192.168.77.1.
//!
//! The lab has no dnf, apk or OpenRC host: `package` on those and `service` on OpenRC are only
//! planned (check mode), on the controller, against small stand-in `rpm`/`dnf`/`apk`/
//! `rc-service`/`rc-update` scripts that answer like the real tools; these tests need no lab.

use async_trait::async_trait;
use prov::connection::{Connection, ExecOutput, Secret, Stdin};
use prov::modules::{Action, Plan};
use prov::value::Value;
use prov::{Error, Result};
use serde_json::json;
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

mod common;

use common::module::{ModuleHost, diffs, summaries};

// ---------------------------------------------------------------------------------------------
// A test-only SSH connection through the OpenSSH client

struct SshConn {
    config: PathBuf,
    control: String,
}

impl SshConn {
    fn new() -> Self {
        SshConn {
            config: lab_dir().join(".state/ssh_config"),
            control: format!("/tmp/prov-sys-test-{}-%C", std::process::id()),
        }
    }
}

#[async_trait]
impl Connection for SshConn {
    fn host(&self) -> &str {
        "lab1"
    }

    async fn exec_raw(
        &self,
        line: &str,
        preamble: Option<&Secret>,
        stdin: &Stdin,
    ) -> Result<ExecOutput> {
        let mut child = tokio::process::Command::new("ssh")
            .arg("-F")
            .arg(&self.config)
            .args(["-o", "BatchMode=yes", "-o", "ControlMaster=auto"])
            .arg("-o")
            .arg(format!("ControlPath={}", self.control))
            .args(["-o", "ControlPersist=60", "lab1", line])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::other(format!("cannot run ssh: {e}")))?;
        let mut input = child.stdin.take().expect("piped");
        let mut data = Vec::new();
        if let Some(p) = preamble {
            data.extend_from_slice(format!("{}\n", p.expose()).as_bytes());
        }
        match stdin {
            Stdin::Empty => {}
            Stdin::Bytes(b) => data.extend_from_slice(b),
            Stdin::File(p) => data.extend(std::fs::read(p).map_err(|e| Error::io(p, e))?),
        }
        let writer = tokio::spawn(async move {
            let _ = input.write_all(&data).await;
            drop(input);
        });
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| Error::other(format!("ssh failed: {e}")))?;
        let _ = writer.await;
        let rc = out.status.code().unwrap_or(-1);
        if rc == 255 {
            return Err(Error::unreachable(format!(
                "ssh lab1 failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(ExecOutput {
            rc,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The lab

fn lab_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab")
}

/// `Some(true)` once lab1 is up, `Some(false)` when it cannot be (tests skip).
static LAB: tokio::sync::Mutex<Option<bool>> = tokio::sync::Mutex::const_new(None);

fn start_lab() -> bool {
    let uid = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if uid != "0" || std::env::var_os("PROV_LAB").is_none() {
        eprintln!("SKIP: lab tests need root and PROV_LAB=1 (bash .ci/run sets both)");
        return false;
    }
    let out = std::process::Command::new(lab_dir().join("up.sh"))
        .arg("1")
        .output();
    match out {
        Ok(o) if o.status.success() => true,
        // PROV_LAB=1 asked for the lab: failing to start it is a failure, not a skip.
        Ok(o) => panic!(
            "tests/lab/up.sh 1 failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run tests/lab/up.sh: {e}"),
    }
}

/// Takes the lab lock (serializing the tests) and brings lab1 up once; None means skip.
async fn lab(test: &str) -> Option<tokio::sync::MutexGuard<'static, Option<bool>>> {
    let mut g = LAB.lock().await;
    if g.is_none() {
        *g = Some(
            tokio::task::spawn_blocking(start_lab)
                .await
                .unwrap_or(false),
        );
    }
    if *g == Some(true) {
        Some(g)
    } else {
        eprintln!("SKIP: {test}: lab1 is not available");
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Planning and applying like the engine

/// lab1 as a module host (diff mode on).
struct Env {
    h: ModuleHost,
}

impl std::ops::Deref for Env {
    type Target = ModuleHost;
    fn deref(&self) -> &ModuleHost {
        &self.h
    }
}

impl std::ops::DerefMut for Env {
    fn deref_mut(&mut self) -> &mut ModuleHost {
        &mut self.h
    }
}

impl Env {
    fn new() -> Env {
        Env {
            h: ModuleHost::new("lab1", SshConn::new()),
        }
    }
    /// A check-mode plan.
    async fn plan(&self, module: &str, a: serde_json::Value) -> Plan {
        self.h
            .plan(module, a)
            .await
            .unwrap_or_else(|e| panic!("{module} plan failed: {}", e.render()))
    }
    /// Plans and applies like the engine; an apply failure is returned as Err.
    async fn run(&self, module: &str, a: serde_json::Value) -> Result<Plan> {
        self.h.run(module, a).await.map(|r| r.plan)
    }
    /// Runs, then checks a second plan is empty.
    async fn converge(&self, module: &str, a: serde_json::Value) -> Plan {
        self.h.converge(module, a).await.plan
    }
    /// Runs a shell command on lab1: (rc, stdout).
    async fn sh(&self, script: &str) -> (i32, String) {
        let out = self
            .conn
            .exec(&prov::connection::Cmd::new(script))
            .await
            .expect("ssh to lab1");
        (out.rc, out.stdout_str())
    }
    async fn ok(&self, script: &str) -> String {
        let (rc, out) = self.sh(script).await;
        assert_eq!(rc, 0, "`{script}` failed: {out}");
        out
    }
}

fn result_list(p: &Plan, key: &str) -> Vec<String> {
    p.result
        .get(key)
        .and_then(|v| v.try_iter().ok())
        .map(|it| it.map(|x| x.to_string()).collect())
        .unwrap_or_default()
}

fn sha256(b: &[u8]) -> String {
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// apt and package

#[tokio::test]
async fn apt_install_latest_remove_purge() {
    let Some(_lab) = lab("apt").await else { return };
    let e = Env::new();
    e.ok("DEBIAN_FRONTEND=noninteractive apt-get -y -q purge hello sl >/dev/null 2>&1; true")
        .await;

    // check mode: both packages listed, nothing installed
    let p = e.plan("apt", json!({"name": ["hello", "sl"]})).await;
    assert!(p.failed.is_none(), "{:?}", p.failed);
    assert_eq!(p.changes.len(), 1, "{:?}", summaries(&p));
    assert!(
        p.changes[0].summary.starts_with("install "),
        "{:?}",
        summaries(&p)
    );
    let installed = result_list(&p, "installed");
    assert!(installed.contains(&"hello".to_string()), "{installed:?}");
    assert!(installed.contains(&"sl".to_string()), "{installed:?}");
    let d = diffs(&p);
    assert!(d.contains("-hello: (not installed)"), "{d}");
    assert!(d.contains("+hello: 2."), "{d}");
    assert_ne!(
        e.sh("dpkg -s hello >/dev/null 2>&1").await.0,
        0,
        "check mode installed hello"
    );

    // apply, idempotent, really installed
    let p = e.converge("apt", json!({"name": "hello,sl"})).await;
    assert_eq!(p.result["cache_updated"], Value::from(false));
    assert!(
        e.ok("dpkg -s hello")
            .await
            .contains("Status: install ok installed")
    );
    assert!(
        e.ok("dpkg -s sl")
            .await
            .contains("Status: install ok installed")
    );

    // a pinned version that is installed, and latest, are no-ops
    let ver = e.ok("dpkg-query -W -f='${Version}' hello").await;
    let p = e.plan("apt", json!({"name": format!("hello={ver}")})).await;
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    let p = e
        .plan("apt", json!({"name": "hello", "state": "latest"}))
        .await;
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    // a pin with a wildcard
    let prefix = &ver[..3];
    let p = e
        .plan("apt", json!({"name": format!("hello={prefix}*")}))
        .await;
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));

    // unknown package fails in check mode already
    let p = e.plan("apt", json!({"name": "prov-no-such-package"})).await;
    assert!(
        p.failed
            .as_deref()
            .unwrap_or("")
            .contains("No package matching"),
        "{:?}",
        p.failed
    );
    // a version that does not exist fails from the simulation
    let p = e.plan("apt", json!({"name": "sl=0.0-prov"})).await;
    assert!(p.failed.is_some(), "{:?}", summaries(&p));

    // absent: check lists it, run removes, idempotent
    let p = e
        .plan("apt", json!({"name": "hello", "state": "absent"}))
        .await;
    assert_eq!(summaries(&p), vec!["remove hello".to_string()]);
    assert!(diffs(&p).contains("+hello: (removed)"), "{}", diffs(&p));
    assert!(e.ok("dpkg -s hello").await.contains("install ok installed"));
    e.converge("apt", json!({"name": "hello", "state": "absent"}))
        .await;
    assert_ne!(e.sh("dpkg -s hello >/dev/null 2>&1").await.0, 0);

    // purge
    let p = e
        .converge(
            "apt",
            json!({"name": ["sl"], "state": "absent", "purge": true}),
        )
        .await;
    assert_eq!(result_list(&p, "removed"), vec!["sl".to_string()]);
    assert_ne!(e.sh("dpkg -s sl >/dev/null 2>&1").await.0, 0);
}

#[tokio::test]
async fn apt_update_cache_and_deb() {
    let Some(_lab) = lab("apt cache").await else {
        return;
    };
    let e = Env::new();
    // only update_cache: always a change without cache_valid_time
    let p = e.plan("apt", json!({"update_cache": true})).await;
    assert_eq!(p.changes.len(), 1, "{:?}", summaries(&p));
    assert_eq!(p.result["cache_updated"], Value::from(true));
    let p = e.run("apt", json!({"update_cache": true})).await.unwrap();
    assert_eq!(p.result["cache_updated"], Value::from(true));
    e.ok("test -f /var/lib/apt/periodic/update-success-stamp")
        .await;
    // fresh cache: nothing to do
    let p = e
        .plan(
            "apt",
            json!({"update_cache": true, "cache_valid_time": 3600}),
        )
        .await;
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    assert_eq!(p.result["cache_updated"], Value::from(false));
    // update_cache with a converged package: not changed, no refresh
    e.ok("DEBIAN_FRONTEND=noninteractive apt-get -y -q install hello >/dev/null")
        .await;
    let p = e
        .plan("apt", json!({"name": "hello", "update_cache": true}))
        .await;
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    assert_eq!(p.result["cache_updated"], Value::from(false));
    // update_cache with a package to install: refresh first, then install
    e.ok("DEBIAN_FRONTEND=noninteractive apt-get -y -q purge hello >/dev/null")
        .await;
    let want = json!({"name": "hello", "update_cache": true});
    let p = e.plan("apt", want.clone()).await;
    assert_eq!(
        summaries(&p),
        vec![
            "update the apt package lists (apt-get update)".to_string(),
            "install hello".to_string()
        ]
    );
    assert_eq!(result_list(&p, "installed"), vec!["hello".to_string()]);
    assert_eq!(p.result["cache_updated"], Value::from(true));
    e.converge("apt", want).await;
    assert!(e.ok("dpkg -s hello").await.contains("install ok installed"));
    // latest with a refresh due: refresh, then upgrade only if the new cache has a newer version
    let p = e
        .plan(
            "apt",
            json!({"name": "hello", "state": "latest", "update_cache": true}),
        )
        .await;
    assert_eq!(
        summaries(&p),
        vec![
            "update the apt package lists (apt-get update)".to_string(),
            "upgrade hello if the refreshed cache has a newer version".to_string()
        ]
    );
    e.run(
        "apt",
        json!({"name": "hello", "state": "latest", "update_cache": true}),
    )
    .await
    .unwrap();
    let p = e
        .plan(
            "apt",
            json!({"name": "hello", "state": "latest", "update_cache": true, "cache_valid_time": 3600}),
        )
        .await;
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));

    // deb: a .deb file on the host
    let deb = e
        .ok("mkdir -p /tmp/prov-deb && cd /tmp/prov-deb && rm -f *.deb && apt-get download -q sl >/dev/null 2>&1 && ls /tmp/prov-deb/*.deb")
        .await;
    let deb = deb.trim().to_string();
    e.ok("DEBIAN_FRONTEND=noninteractive apt-get -y -q purge sl >/dev/null 2>&1; true")
        .await;
    let p = e.plan("apt", json!({"deb": deb})).await;
    assert_eq!(p.changes.len(), 1, "{:?}", summaries(&p));
    assert!(p.changes[0].summary.contains("sl"), "{:?}", summaries(&p));
    assert_ne!(e.sh("dpkg -s sl >/dev/null 2>&1").await.0, 0);
    e.converge("apt", json!({"deb": deb})).await;
    assert!(e.ok("dpkg -s sl").await.contains("install ok installed"));
    // autoremove: dependencies left behind are listed exactly, then removed
    e.ok("DEBIAN_FRONTEND=noninteractive apt-get -y -q purge fortune-mod fortunes-min librecode0 >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get -y -q autoremove >/dev/null 2>&1; true")
        .await;
    let p = e
        .plan(
            "apt",
            json!({"name": "fortune-mod", "install_recommends": false}),
        )
        .await;
    let mut inst = result_list(&p, "installed");
    inst.sort();
    assert_eq!(
        inst,
        vec!["fortune-mod".to_string(), "librecode0".to_string()]
    );
    e.converge(
        "apt",
        json!({"name": "fortune-mod", "install_recommends": false}),
    )
    .await;
    e.converge("apt", json!({"name": "fortune-mod", "state": "absent"}))
        .await;
    assert!(
        e.ok("dpkg -s librecode0")
            .await
            .contains("install ok installed")
    );
    let p = e.plan("apt", json!({"autoremove": true})).await;
    assert_eq!(summaries(&p), vec!["autoremove librecode0".to_string()]);
    assert_eq!(result_list(&p, "removed"), vec!["librecode0".to_string()]);
    e.converge("apt", json!({"autoremove": true})).await;
    assert_ne!(e.sh("dpkg -s librecode0 >/dev/null 2>&1").await.0, 0);
    let p = e
        .plan("apt", json!({"deb": "/tmp/prov-deb/missing.deb"}))
        .await;
    assert!(p.failed.unwrap().contains("does not exist"));
    e.converge("apt", json!({"name": "sl", "state": "absent"}))
        .await;

    // deb as a URL: downloaded on the host (served from the controller)
    let Some(srv) = HttpServer::start("deb") else {
        eprintln!("SKIP: apt deb URL: cannot start the HTTP server on 192.168.77.1");
        return;
    };
    let bytes = e.conn.get(&deb, None).await.unwrap();
    std::fs::write(srv.dir.join("sl.deb"), &bytes).unwrap();
    let want = json!({"deb": srv.url("sl.deb")});
    let p = e.plan("apt", want.clone()).await;
    assert!(p.failed.is_none(), "{:?}", p.failed);
    assert_eq!(result_list(&p, "installed"), vec!["sl".to_string()]);
    assert_ne!(e.sh("dpkg -s sl >/dev/null 2>&1").await.0, 0);
    e.converge("apt", want).await;
    assert!(e.ok("dpkg -s sl").await.contains("install ok installed"));
    let p = e.plan("apt", json!({"deb": srv.url("nothing.deb")})).await;
    assert!(p.failed.unwrap().contains("could not download"));
    e.converge("apt", json!({"name": "sl", "state": "absent"}))
        .await;
}

#[tokio::test]
async fn package_delegates_to_apt() {
    let Some(_lab) = lab("package").await else {
        return;
    };
    let mut e = Env::new();
    e.ok("DEBIAN_FRONTEND=noninteractive apt-get -y -q purge cowsay >/dev/null 2>&1; true")
        .await;
    // no facts: the package manager is detected on the host
    let p = e
        .plan("package", json!({"name": "cowsay", "state": "present"}))
        .await;
    assert_eq!(p.changes.len(), 1, "{:?}", summaries(&p));
    assert!(result_list(&p, "installed").contains(&"cowsay".to_string()));
    e.converge("package", json!({"name": "cowsay", "state": "present"}))
        .await;
    assert!(
        e.ok("dpkg -s cowsay")
            .await
            .contains("install ok installed")
    );
    // with the pkg_mgr fact
    e.facts.insert("pkg_mgr".into(), Value::from("apt"));
    let p = e
        .plan("package", json!({"name": "cowsay", "state": "removed"}))
        .await;
    assert_eq!(summaries(&p), vec!["remove cowsay".to_string()]);
    e.converge("package", json!({"name": "cowsay", "state": "absent"}))
        .await;
    assert_ne!(e.sh("dpkg -s cowsay >/dev/null 2>&1").await.0, 0);
}

// ---------------------------------------------------------------------------------------------
// services

const UNIT: &str = "[Unit]\nDescription=prov test sleeper\n\n[Service]\nExecStart=/bin/sleep infinity\nExecReload=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n";

#[tokio::test]
async fn systemd_service_start_stop_enable_mask() {
    let Some(_lab) = lab("systemd").await else {
        return;
    };
    let e = Env::new();
    e.ok("systemctl disable --now prov-sleep >/dev/null 2>&1; systemctl unmask prov-sleep >/dev/null 2>&1; rm -f /lib/systemd/system/prov-sleep.service /etc/systemd/system/prov-sleep.service; systemctl daemon-reload")
        .await;
    // the unit file is written with the copy module (not in /etc/systemd/system: masking
    // puts a link there)
    e.converge(
        "copy",
        json!({"dest": "/lib/systemd/system/prov-sleep.service", "content": UNIT}),
    )
    .await;
    let want =
        json!({"name": "prov-sleep", "state": "started", "enabled": true, "daemon_reload": true});
    let p = e.plan("systemd_service", want.clone()).await;
    assert!(p.failed.is_none(), "{:?}", p.failed);
    let s = summaries(&p);
    assert!(s.contains(&"enable prov-sleep".to_string()), "{s:?}");
    assert!(s.contains(&"start prov-sleep".to_string()), "{s:?}");
    let d = diffs(&p);
    assert!(
        d.contains("-enabled: false") && d.contains("+enabled: true"),
        "{d}"
    );
    assert!(d.contains("+state: active"), "{d}");
    assert_ne!(
        e.sh("systemctl is-active prov-sleep").await.0,
        0,
        "check mode started it"
    );
    let p = e.converge("systemd_service", want).await;
    assert_eq!(p.result["name"], Value::from("prov-sleep"));
    assert_eq!(p.result["state"], Value::from("started"));
    assert_eq!(p.result["enabled"], Value::from(true));
    assert_eq!(
        p.result["status"].get_attr("LoadState").unwrap(),
        Value::from("loaded")
    );
    assert_eq!(
        e.ok("systemctl is-active prov-sleep").await.trim(),
        "active"
    );
    assert_eq!(
        e.ok("systemctl is-enabled prov-sleep").await.trim(),
        "enabled"
    );

    // a changed unit file: daemon_reload is a change exactly when systemd needs it
    e.converge(
        "copy",
        json!({"dest": "/lib/systemd/system/prov-sleep.service",
               "content": UNIT.replace("prov test sleeper", "prov test sleeper (v2)")}),
    )
    .await;
    let want = json!({"name": "prov-sleep", "state": "started", "daemon_reload": true});
    let p = e.plan("systemd_service", want.clone()).await;
    assert_eq!(summaries(&p), vec!["systemctl daemon-reload".to_string()]);
    e.converge("systemd_service", want).await;
    assert_eq!(
        e.ok("systemctl show -p Description --value prov-sleep")
            .await
            .trim(),
        "prov test sleeper (v2)"
    );
    // without a name it always reloads
    let p = e.plan("systemd", json!({"daemon_reload": true})).await;
    assert_eq!(summaries(&p), vec!["systemctl daemon-reload".to_string()]);

    // restarted always changes
    let p = e
        .plan(
            "systemd_service",
            json!({"name": "prov-sleep", "state": "restarted"}),
        )
        .await;
    assert_eq!(summaries(&p), vec!["restart prov-sleep".to_string()]);
    let pid1 = e.ok("systemctl show -p MainPID --value prov-sleep").await;
    e.run(
        "systemd_service",
        json!({"name": "prov-sleep", "state": "restarted"}),
    )
    .await
    .unwrap();
    let pid2 = e.ok("systemctl show -p MainPID --value prov-sleep").await;
    assert_ne!(pid1, pid2, "restart kept the same process");
    // reloaded reloads a running unit (same process); tried-restart restarts only a running one
    let p = e
        .plan(
            "systemd_service",
            json!({"name": "prov-sleep", "state": "reloaded"}),
        )
        .await;
    assert_eq!(summaries(&p), vec!["reload prov-sleep".to_string()]);
    e.run(
        "systemd_service",
        json!({"name": "prov-sleep", "state": "reloaded"}),
    )
    .await
    .unwrap();
    assert_eq!(
        e.ok("systemctl show -p MainPID --value prov-sleep").await,
        pid2
    );
    let p = e
        .plan(
            "systemd_service",
            json!({"name": "prov-sleep", "state": "tried-restart"}),
        )
        .await;
    assert_eq!(summaries(&p), vec!["restart prov-sleep".to_string()]);
    assert_eq!(p.result["state"], Value::from("started"));

    // stop + disable through the `systemd` alias
    let want = json!({"name": "prov-sleep", "state": "stopped", "enabled": false});
    let p = e.plan("systemd", want.clone()).await;
    assert_eq!(
        summaries(&p),
        vec![
            "disable prov-sleep".to_string(),
            "stop prov-sleep".to_string()
        ]
    );
    e.converge("systemd", want).await;
    assert_eq!(
        e.sh("systemctl is-active prov-sleep").await.1.trim(),
        "inactive"
    );
    assert_eq!(
        e.sh("systemctl is-enabled prov-sleep").await.1.trim(),
        "disabled"
    );

    // tried-restart leaves a stopped unit alone
    let p = e
        .plan(
            "systemd_service",
            json!({"name": "prov-sleep", "state": "tried-restart"}),
        )
        .await;
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    assert_eq!(p.result["state"], Value::from("stopped"));

    // mask / unmask
    e.converge(
        "systemd_service",
        json!({"name": "prov-sleep", "masked": true}),
    )
    .await;
    assert_eq!(
        e.sh("systemctl is-enabled prov-sleep").await.1.trim(),
        "masked"
    );
    e.converge(
        "systemd_service",
        json!({"name": "prov-sleep", "masked": false}),
    )
    .await;
    assert_eq!(
        e.sh("systemctl is-enabled prov-sleep").await.1.trim(),
        "disabled"
    );

    // the service module on a systemd host
    let want = json!({"name": "prov-sleep", "state": "started"});
    let p = e.plan("service", want.clone()).await;
    assert_eq!(summaries(&p), vec!["start prov-sleep".to_string()]);
    e.converge("service", want).await;
    assert_eq!(
        e.ok("systemctl is-active prov-sleep").await.trim(),
        "active"
    );
    e.converge("service", json!({"name": "prov-sleep", "state": "stopped"}))
        .await;

    // a missing unit fails in check mode
    let p = e
        .plan(
            "systemd_service",
            json!({"name": "prov-no-such-unit", "state": "started"}),
        )
        .await;
    assert!(
        p.failed
            .as_deref()
            .unwrap_or("")
            .contains("Could not find the requested service"),
        "{:?}",
        p.failed
    );
    e.ok("rm -f /lib/systemd/system/prov-sleep.service; systemctl daemon-reload")
        .await;
}

#[tokio::test]
async fn systemd_user_scope() {
    let Some(_lab) = lab("systemd user scope").await else {
        return;
    };
    let mut e = Env::new();
    // a user manager for `app` (the lab image lacks libpam-systemd, which it needs)
    e.ok("dpkg -s libpam-systemd >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get -y -q install libpam-systemd >/dev/null 2>&1; \
          loginctl enable-linger app && for i in $(seq 50); do [ -S /run/user/$(id -u app)/bus ] && break; sleep 0.1; done; \
          d=/home/app/.config/systemd/user; mkdir -p $d && printf '[Service]\\nExecStart=/bin/sleep infinity\\n\\n[Install]\\nWantedBy=default.target\\n' > $d/prov-user.service && \
          chown -R app: /home/app/.config")
        .await;
    e.become_ = Some(prov::connection::Become {
        method: prov::connection::BecomeMethod::Sudo,
        user: "app".into(),
        password: None,
        flags: None,
        exe: None,
        chdir: None,
    });
    let user_ctl = "sudo -u app XDG_RUNTIME_DIR=/run/user/$(id -u app) systemctl --user";
    let want = json!({"name": "prov-user", "scope": "user", "state": "started", "enabled": true, "daemon_reload": true});
    let p = e.plan("systemd_service", want.clone()).await;
    assert!(p.failed.is_none(), "{:?}", p.failed);
    let s = summaries(&p);
    assert!(
        s.ends_with(&[
            "enable prov-user".to_string(),
            "start prov-user".to_string()
        ]),
        "{s:?}"
    );
    e.converge("systemd_service", want).await;
    assert_eq!(
        e.ok(&format!("{user_ctl} is-active prov-user"))
            .await
            .trim(),
        "active"
    );
    assert_eq!(
        e.ok(&format!("{user_ctl} is-enabled prov-user"))
            .await
            .trim(),
        "enabled"
    );
    e.converge(
        "systemd_service",
        json!({"name": "prov-user", "scope": "user", "state": "stopped", "enabled": false}),
    )
    .await;
    assert_ne!(e.sh(&format!("{user_ctl} is-active prov-user")).await.0, 0);
    e.become_ = None;
    e.ok("rm -f /home/app/.config/systemd/user/prov-user.service; loginctl disable-linger app")
        .await;
}

const INIT_SCRIPT: &str = r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          prov-sysv
# Required-Start:    $local_fs
# Required-Stop:     $local_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: prov test sysv service
### END INIT INFO
P=/run/prov-sysv.pid
case "$1" in
  start) setsid sleep 100000 >/dev/null 2>&1 </dev/null & echo $! > $P ;;
  stop) [ -f $P ] && kill "$(cat $P)"; rm -f $P ;;
  restart) "$0" stop; "$0" start ;;
  status) [ -f $P ] && kill -0 "$(cat $P)" 2>/dev/null ;;
  *) exit 3 ;;
esac
"#;

#[tokio::test]
async fn service_sysv_fallback() {
    let Some(_lab) = lab("service sysv").await else {
        return;
    };
    let e = Env::new();
    e.ok("[ -x /etc/init.d/prov-sysv ] && /etc/init.d/prov-sysv stop; update-rc.d -f prov-sysv remove >/dev/null 2>&1; rm -f /etc/init.d/prov-sysv; true")
        .await;
    e.converge(
        "copy",
        json!({"dest": "/etc/init.d/prov-sysv", "content": INIT_SCRIPT, "mode": "0755"}),
    )
    .await;
    let want = json!({"name": "prov-sysv", "state": "started", "enabled": true, "use": "sysv"});
    let p = e.plan("service", want.clone()).await;
    assert_eq!(
        summaries(&p),
        vec![
            "enable prov-sysv".to_string(),
            "start prov-sysv".to_string()
        ]
    );
    assert_ne!(e.sh("/etc/init.d/prov-sysv status").await.0, 0);
    e.converge("service", want).await;
    e.ok("/etc/init.d/prov-sysv status").await;
    e.ok("ls /etc/rc2.d/S*prov-sysv").await;
    // `pattern` decides from the process list instead of `status`
    let p = e
        .plan(
            "service",
            json!({"name": "prov-sysv", "state": "started", "use": "sysv", "pattern": "sleep 100000"}),
        )
        .await;
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    let p = e
        .plan(
            "service",
            json!({"name": "prov-sysv", "state": "started", "use": "sysv", "pattern": "prov-no-such-process"}),
        )
        .await;
    assert_eq!(summaries(&p), vec!["start prov-sysv".to_string()]);
    let want = json!({"name": "prov-sysv", "state": "stopped", "enabled": false, "use": "sysv"});
    e.converge("service", want).await;
    assert_ne!(e.sh("/etc/init.d/prov-sysv status").await.0, 0);
    assert_ne!(e.sh("ls /etc/rc2.d/S*prov-sysv").await.0, 0);
    e.ok("update-rc.d -f prov-sysv remove >/dev/null 2>&1; rm -f /etc/init.d/prov-sysv")
        .await;
}

// ---------------------------------------------------------------------------------------------
// users and groups

const HASH: &str = "$6$provsalt$Q0yq0Jf8nS1QmUeCzY3bq3vKk0N2q8d3lU8QF0w1C6iZrJ2t1o1r7w5u4a8nV8n2b1Zq3m4x5c6v7b8n9m0a1.";

#[tokio::test]
async fn user_and_group_lifecycle() {
    let Some(_lab) = lab("user").await else {
        return;
    };
    let e = Env::new();
    e.ok("userdel -r provtest >/dev/null 2>&1; groupdel provgrp1 >/dev/null 2>&1; groupdel provgrp2 >/dev/null 2>&1; true")
        .await;

    // group: create with a gid, change it, system group
    let p = e
        .plan("group", json!({"name": "provgrp1", "gid": 2345}))
        .await;
    assert_eq!(summaries(&p), vec!["create group provgrp1".to_string()]);
    assert!(diffs(&p).contains("+gid: 2345"), "{}", diffs(&p));
    assert_ne!(e.sh("getent group provgrp1").await.0, 0);
    e.converge("group", json!({"name": "provgrp1", "gid": 2345}))
        .await;
    assert!(
        e.ok("getent group provgrp1")
            .await
            .starts_with("provgrp1:x:2345:")
    );
    let p = e
        .plan("group", json!({"name": "provgrp1", "gid": 2346}))
        .await;
    assert_eq!(
        summaries(&p),
        vec!["change gid of group provgrp1: 2345 -> 2346".to_string()]
    );
    e.converge("group", json!({"name": "provgrp1", "gid": 2346}))
        .await;
    assert!(
        e.ok("getent group provgrp1")
            .await
            .starts_with("provgrp1:x:2346:")
    );
    e.converge("group", json!({"name": "provgrp2", "system": true}))
        .await;
    let gid2: u32 = e
        .ok("getent group provgrp2 | cut -d: -f3")
        .await
        .trim()
        .parse()
        .unwrap();
    assert!(gid2 < 1000, "system group got gid {gid2}");

    // user: create with groups, shell, comment, password hash
    let want = json!({"name": "provtest", "groups": ["provgrp1"], "shell": "/bin/bash",
        "comment": "Prov Test", "password": HASH});
    let p = e.plan("user", want.clone()).await;
    assert_eq!(summaries(&p), vec!["create user provtest".to_string()]);
    let d = diffs(&p);
    assert!(
        d.contains("+shell: /bin/bash") && d.contains("+groups: provgrp1"),
        "{d}"
    );
    // the hash is never in summaries, diffs, results or the command line
    let shown = format!("{:?} {d} {:?}", summaries(&p), p.result);
    assert!(!shown.contains("provsalt"), "password hash leaked: {shown}");
    if let Action::Exec { cmd, .. } = &p.changes[0].action {
        assert!(!cmd.script.contains("provsalt"), "hash in the command line");
    }
    assert_eq!(p.result["password"], Value::from("NOT_LOGGING_PASSWORD"));
    assert_ne!(
        e.sh("getent passwd provtest").await.0,
        0,
        "check mode created the user"
    );
    e.converge("user", want).await;
    let pw = e.ok("getent passwd provtest").await;
    assert!(pw.contains(":Prov Test:/home/provtest:/bin/bash"), "{pw}");
    e.ok("test -d /home/provtest").await;
    assert_eq!(
        e.ok("getent shadow provtest | cut -d: -f2").await.trim(),
        HASH
    );
    assert_eq!(e.ok("id -Gn provtest").await.trim(), "provtest provgrp1");

    // append a group
    let want = json!({"name": "provtest", "groups": "provgrp2", "append": true});
    let p = e.plan("user", want.clone()).await;
    assert_eq!(
        summaries(&p),
        vec!["change user provtest: groups".to_string()]
    );
    assert!(
        diffs(&p).contains("+groups: provgrp1,provgrp2"),
        "{}",
        diffs(&p)
    );
    e.converge("user", want).await;
    assert_eq!(
        e.ok("id -Gn provtest").await.trim(),
        "provtest provgrp1 provgrp2"
    );
    // replace the groups (append: no)
    e.converge("user", json!({"name": "provtest", "groups": ["provgrp2"]}))
        .await;
    assert_eq!(e.ok("id -Gn provtest").await.trim(), "provtest provgrp2");
    // change the shell and the password
    let p = e
        .converge(
            "user",
            json!({"name": "provtest", "shell": "/bin/sh", "password": "$6$other$abc"}),
        )
        .await;
    assert_eq!(p.result["shell"], Value::from("/bin/sh"));
    assert!(
        e.ok("getent passwd provtest")
            .await
            .trim()
            .ends_with(":/bin/sh")
    );
    assert_eq!(
        e.ok("getent shadow provtest | cut -d: -f2").await.trim(),
        "$6$other$abc"
    );
    // lock the password, set an expiry date, then unlock and remove the expiry
    let want = json!({"name": "provtest", "password_lock": true, "expires": 1893456000});
    let p = e.plan("user", want.clone()).await;
    let d = diffs(&p);
    assert!(
        d.contains("+password_lock: true") && d.contains("+expires: 2030-01-01"),
        "{d}"
    );
    e.converge("user", want).await;
    let sh = e.ok("getent shadow provtest").await;
    let f: Vec<&str> = sh.trim().split(':').collect();
    assert!(f[1].starts_with("!"), "{sh}");
    assert_eq!(f[7], "21915", "{sh}");
    e.converge(
        "user",
        json!({"name": "provtest", "password_lock": false, "expires": -1}),
    )
    .await;
    let sh = e.ok("getent shadow provtest").await;
    let f: Vec<&str> = sh.trim().split(':').collect();
    assert_eq!(f[1], "$6$other$abc", "{sh}");
    assert_eq!(f[7], "", "{sh}");

    // a missing group fails in check mode
    let p = e
        .plan(
            "user",
            json!({"name": "provtest", "groups": ["prov-nosuch"]}),
        )
        .await;
    assert_eq!(
        p.failed.as_deref(),
        Some("Group prov-nosuch does not exist")
    );

    // remove the user with its home, then the groups
    let p = e
        .plan(
            "user",
            json!({"name": "provtest", "state": "absent", "remove": true}),
        )
        .await;
    assert_eq!(
        summaries(&p),
        vec!["remove user provtest and its home".to_string()]
    );
    e.converge(
        "user",
        json!({"name": "provtest", "state": "absent", "remove": true}),
    )
    .await;
    assert_ne!(e.sh("getent passwd provtest").await.0, 0);
    assert_ne!(e.sh("test -d /home/provtest").await.0, 0);
    for g in ["provgrp1", "provgrp2"] {
        e.converge("group", json!({"name": g, "state": "absent"}))
            .await;
        assert_ne!(e.sh(&format!("getent group {g}")).await.0, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// downloads and repositories, served from the controller

/// Python's `http.server` serving a folder, plus `/headers`, which answers with the request's
/// headers (to check what get_url sent).
const ECHO_SERVER: &str = r#"
import functools, http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path == '/headers':
            body = ''.join('%s: %s\n' % (k, v) for k, v in self.headers.items()).encode()
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            super().do_GET()
    def log_message(self, *a):
        pass
h = functools.partial(H, directory=sys.argv[2])
http.server.ThreadingHTTPServer(('192.168.77.1', int(sys.argv[1])), h).serve_forever()
"#;

/// That server on the controller's lab address, killed on drop.
struct HttpServer {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
}

impl HttpServer {
    fn start(name: &str) -> Option<HttpServer> {
        let dir = std::env::temp_dir().join(format!("prov-sys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("192.168.77.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = std::process::Command::new("python3")
            .args(["-c", ECHO_SERVER, &port.to_string()])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let s = HttpServer { child, port, dir };
        for _ in 0..50 {
            if std::net::TcpStream::connect(("192.168.77.1", port)).is_ok() {
                return Some(s);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        None
    }
    fn url(&self, rel: &str) -> String {
        format!("http://192.168.77.1:{}/{rel}", self.port)
    }
    fn write(&self, rel: &str, data: &str) {
        std::fs::write(self.dir.join(rel), data).unwrap();
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn get_url_checksum_force_and_modes() {
    let Some(_lab) = lab("get_url").await else {
        return;
    };
    let Some(srv) = HttpServer::start("get-url") else {
        eprintln!("SKIP: get_url: cannot start python3 -m http.server on 192.168.77.1");
        return;
    };
    let e = Env::new();
    e.ok("rm -rf /tmp/prov-get && mkdir -p /tmp/prov-get").await;
    srv.write("file.txt", "hello prov\n");
    let sum = sha256(b"hello prov\n");
    let want = json!({"url": srv.url("file.txt"), "dest": "/tmp/prov-get/file.txt",
        "checksum": format!("sha256:{sum}"), "mode": "0640"});
    let p = e.plan("get_url", want.clone()).await;
    assert!(p.failed.is_none(), "{:?}", p.failed);
    assert_eq!(p.changes.len(), 1, "{:?}", summaries(&p));
    assert!(
        p.changes[0].summary.starts_with("download "),
        "{:?}",
        summaries(&p)
    );
    assert!(diffs(&p).contains("+state: file"), "{}", diffs(&p));
    assert_ne!(
        e.sh("test -e /tmp/prov-get/file.txt").await.0,
        0,
        "check mode downloaded"
    );
    let p = e.converge("get_url", want.clone()).await;
    assert_eq!(p.result["dest"], Value::from("/tmp/prov-get/file.txt"));
    assert_eq!(e.ok("cat /tmp/prov-get/file.txt").await, "hello prov\n");
    assert_eq!(
        e.ok("stat -c %a /tmp/prov-get/file.txt").await.trim(),
        "640"
    );

    // a wrong checksum fails and keeps the old file (and leaves no temp file)
    srv.write("file.txt", "changed upstream\n");
    let bad = json!({"url": srv.url("file.txt"), "dest": "/tmp/prov-get/file.txt",
        "checksum": format!("sha256:{}", sha256(b"something else"))});
    let p = e.plan("get_url", bad.clone()).await;
    assert_eq!(p.changes.len(), 1);
    let err = e.run("get_url", bad).await.unwrap_err();
    assert!(err.msg.contains("did not match"), "{}", err.msg);
    assert_eq!(e.ok("cat /tmp/prov-get/file.txt").await, "hello prov\n");
    assert_eq!(e.ok("ls -A /tmp/prov-get").await.trim(), "file.txt");

    // no checksum, force no: an existing file is kept
    let keep = json!({"url": srv.url("file.txt"), "dest": "/tmp/prov-get/file.txt"});
    let p = e.plan("get_url", keep).await;
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    // force yes: downloads because the content differs, then is idempotent
    let force = json!({"url": srv.url("file.txt"), "dest": "/tmp/prov-get/file.txt",
        "force": true, "backup": true});
    let p = e.plan("get_url", force.clone()).await;
    assert_eq!(p.changes.len(), 1, "{:?}", summaries(&p));
    let p = e.converge("get_url", force).await;
    let backup = p.result["backup_file"].to_string();
    assert!(backup.starts_with("/tmp/prov-get/file.txt."), "{backup}");
    assert_eq!(e.ok(&format!("cat '{backup}'")).await, "hello prov\n");
    e.ok(&format!("rm -f '{backup}'")).await;
    assert_eq!(
        e.ok("cat /tmp/prov-get/file.txt").await,
        "changed upstream\n"
    );
    assert_eq!(
        e.ok("stat -c %a /tmp/prov-get/file.txt").await.trim(),
        "640",
        "mode kept"
    );

    // mode only: an attribute change, no download
    let p = e
        .plan(
            "get_url",
            json!({"url": srv.url("file.txt"), "dest": "/tmp/prov-get/file.txt", "mode": "0600"}),
        )
        .await;
    assert_eq!(
        summaries(&p),
        vec!["chmod 0640 -> 0600 /tmp/prov-get/file.txt".to_string()]
    );

    // dest is a folder: the URL's file name is used
    e.converge(
        "get_url",
        json!({"url": srv.url("file.txt"), "dest": "/tmp/prov-get/"}),
    )
    .await;
    // headers and credentials reach the server, through stdin only
    let want = json!({"url": srv.url("headers"), "dest": "/tmp/prov-get/headers.txt",
        "headers": {"X-Prov": "yes please"}, "url_username": "bob", "url_password": "s3cret-pw"});
    let p = e.plan("get_url", want.clone()).await;
    let Action::Exec { cmd, .. } = &p.changes[0].action else {
        panic!("expected an Exec")
    };
    assert!(!cmd.script.contains("s3cret") && !cmd.script.contains("yes please"));
    e.run("get_url", want).await.unwrap();
    let got = e.ok("cat /tmp/prov-get/headers.txt").await;
    assert!(got.contains("X-Prov: yes please"), "{got}");
    // base64("bob:s3cret-pw")
    assert!(
        got.contains("Authorization: Basic Ym9iOnMzY3JldC1wdw=="),
        "{got}"
    );

    // a 404 fails the run
    let err = e
        .run(
            "get_url",
            json!({"url": srv.url("missing.txt"), "dest": "/tmp/prov-get/missing.txt"}),
        )
        .await
        .unwrap_err();
    assert!(err.msg.contains("rc 91"), "{}", err.msg);
    assert_ne!(e.sh("test -e /tmp/prov-get/missing.txt").await.0, 0);
    e.ok("rm -rf /tmp/prov-get").await;
}

#[tokio::test]
async fn get_url_with_wget() {
    let Some(_lab) = lab("get_url wget").await else {
        return;
    };
    let Some(srv) = HttpServer::start("get-url-wget") else {
        eprintln!("SKIP: get_url: cannot start the HTTP server on 192.168.77.1");
        return;
    };
    let mut e = Env::new();
    // a PATH with everything but curl
    e.ok("command -v wget >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get -y -q install wget >/dev/null; \
          rm -rf /tmp/prov-nocurl /tmp/prov-getw && mkdir -p /tmp/prov-nocurl /tmp/prov-getw && \
          for f in /usr/bin/* /usr/sbin/*; do [ \"${f##*/}\" = curl ] || ln -sf \"$f\" /tmp/prov-nocurl/; done")
        .await;
    e.env = vec![("PATH".into(), "/tmp/prov-nocurl".into())];
    srv.write("w.txt", "via wget\n");
    let want = json!({"url": srv.url("w.txt"), "dest": "/tmp/prov-getw/w.txt",
        "checksum": format!("sha256:{}", sha256(b"via wget\n"))});
    e.converge("get_url", want).await;
    assert_eq!(e.ok("cat /tmp/prov-getw/w.txt").await, "via wget\n");
    let want = json!({"url": srv.url("headers"), "dest": "/tmp/prov-getw/h.txt",
        "headers": {"X-Prov": "wget too"}, "url_username": "bob", "url_password": "s3cret-pw"});
    e.run("get_url", want).await.unwrap();
    let got = e.ok("cat /tmp/prov-getw/h.txt").await;
    assert!(got.contains("X-Prov: wget too"), "{got}");
    assert!(
        got.contains("Authorization: Basic Ym9iOnMzY3JldC1wdw=="),
        "{got}"
    );
    assert!(got.to_lowercase().contains("user-agent: wget"), "{got}");
    e.env.clear();
    e.ok("rm -rf /tmp/prov-nocurl /tmp/prov-getw").await;
}

const KEY: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEYCQjIxYJKwYBBAHaRw8BAQdAD/P5Nvvnvk66SxBBHDbhRml9ORg1WV5CvzKY\n=IE0r\n-----END PGP PUBLIC KEY BLOCK-----\n";

#[tokio::test]
async fn deb822_and_apt_repository_files() {
    let Some(_lab) = lab("repositories").await else {
        return;
    };
    let Some(srv) = HttpServer::start("repo") else {
        eprintln!("SKIP: repositories: cannot start python3 -m http.server on 192.168.77.1");
        return;
    };
    let e = Env::new();
    e.ok("rm -f /etc/apt/sources.list.d/prov-test.sources /etc/apt/keyrings/prov-test.asc /etc/apt/sources.list.d/prov-fake.list")
        .await;
    srv.write("key.asc", KEY);
    let want = json!({"name": "Prov Test", "uris": "http://192.168.77.1:1/debian",
        "suites": "bookworm", "components": ["main", "contrib"], "signed_by": srv.url("key.asc")});
    let p = e.plan("deb822_repository", want.clone()).await;
    assert!(p.failed.is_none(), "{:?}", p.failed);
    assert_eq!(
        summaries(&p)[0],
        format!(
            "install key /etc/apt/keyrings/prov-test.asc from {}",
            srv.url("key.asc")
        )
    );
    assert!(summaries(&p)[1].starts_with("create /etc/apt/sources.list.d/prov-test.sources"));
    let expected = "Components: main contrib\nX-Repolib-Name: Prov Test\nSigned-By: /etc/apt/keyrings/prov-test.asc\nSuites: bookworm\nTypes: deb\nURIs: http://192.168.77.1:1/debian\n";
    let d = diffs(&p);
    assert!(d.contains("+X-Repolib-Name: Prov Test"), "{d}");
    assert_eq!(p.result["repo"], Value::from(expected));
    assert_eq!(
        p.result["dest"],
        Value::from("/etc/apt/sources.list.d/prov-test.sources")
    );
    assert_ne!(
        e.sh("test -e /etc/apt/sources.list.d/prov-test.sources")
            .await
            .0,
        0
    );
    assert_ne!(e.sh("test -e /etc/apt/keyrings/prov-test.asc").await.0, 0);
    e.converge("deb822_repository", want).await;
    assert_eq!(
        e.ok("cat /etc/apt/sources.list.d/prov-test.sources").await,
        expected
    );
    assert_eq!(e.ok("cat /etc/apt/keyrings/prov-test.asc").await, KEY);
    assert_eq!(
        e.ok("stat -c %a /etc/apt/keyrings/prov-test.asc")
            .await
            .trim(),
        "644"
    );

    // a changed field: a content diff of the sources file
    let want = json!({"name": "Prov Test", "uris": "http://192.168.77.1:1/debian",
        "suites": "trixie", "components": ["main", "contrib"], "signed_by": srv.url("key.asc")});
    let p = e.plan("deb822_repository", want.clone()).await;
    assert_eq!(p.changes.len(), 1, "{:?}", summaries(&p));
    let d = diffs(&p);
    assert!(
        d.contains("-Suites: bookworm") && d.contains("+Suites: trixie"),
        "{d}"
    );
    e.converge("deb822_repository", want).await;

    // absent removes the file and the key
    let gone = json!({"name": "Prov Test", "state": "absent"});
    let p = e.plan("deb822_repository", gone.clone()).await;
    assert_eq!(p.changes.len(), 2, "{:?}", summaries(&p));
    e.converge("deb822_repository", gone).await;
    assert_ne!(
        e.sh("test -e /etc/apt/sources.list.d/prov-test.sources")
            .await
            .0,
        0
    );
    assert_ne!(e.sh("test -e /etc/apt/keyrings/prov-test.asc").await.0, 0);

    // apt_repository: a .list file (no apt-get update against the fake repository)
    let line = "deb [trusted=yes] http://192.168.77.1:1/fake bookworm main";
    let want = json!({"repo": line, "filename": "prov-fake", "update_cache": false});
    let p = e.plan("apt_repository", want.clone()).await;
    assert_eq!(p.changes.len(), 1, "{:?}", summaries(&p));
    assert!(diffs(&p).contains(&format!("+{line}")), "{}", diffs(&p));
    e.converge("apt_repository", want).await;
    assert_eq!(
        e.ok("cat /etc/apt/sources.list.d/prov-fake.list").await,
        format!("{line}\n")
    );
    // the same source with other spacing is recognised
    let p = e
        .plan(
            "apt_repository",
            json!({"repo": "deb  [trusted=yes]  http://192.168.77.1:1/fake  bookworm main", "update_cache": false}),
        )
        .await;
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    let gone = json!({"repo": line, "state": "absent", "update_cache": false});
    e.converge("apt_repository", gone).await;
    assert_ne!(
        e.sh("test -e /etc/apt/sources.list.d/prov-fake.list")
            .await
            .0,
        0
    );

    // a commented-out copy is enabled in place; absent keeps the other lines
    let other = "deb http://192.168.77.1:1/other bookworm main";
    e.ok(&format!(
        "printf '# a comment\\n# {line}\\n{other}\\n' > /etc/apt/sources.list.d/prov-fake.list"
    ))
    .await;
    let want = json!({"repo": line, "update_cache": false});
    let p = e.plan("apt_repository", want.clone()).await;
    let d = diffs(&p);
    assert!(
        d.contains(&format!("-# {line}")) && d.contains(&format!("+{line}")),
        "{d}"
    );
    e.converge("apt_repository", want).await;
    assert_eq!(
        e.ok("cat /etc/apt/sources.list.d/prov-fake.list").await,
        format!("# a comment\n{line}\n{other}\n")
    );
    e.converge(
        "apt_repository",
        json!({"repo": line, "state": "absent", "update_cache": false}),
    )
    .await;
    assert_eq!(
        e.ok("cat /etc/apt/sources.list.d/prov-fake.list").await,
        format!("# a comment\n{other}\n")
    );
    e.ok("rm -f /etc/apt/sources.list.d/prov-fake.list").await;
}

// ---------------------------------------------------------------------------------------------
// package on dnf and apk hosts: the lab has none, so the planning (probe script and parsing) runs
// on the controller against small stand-ins for rpm/dnf/apk answering like the real tools.

const FAKE_RPM: &str = r#"#!/bin/sh
for a; do n=$a; done
case "$n" in
  curl) [ "$2" = --qf ] && echo 7.76.1-26.el9; exit 0 ;;
  *) echo "package $n is not installed"; exit 1 ;;
esac
"#;

const FAKE_DNF: &str = r#"#!/bin/sh
[ "$2" = check-update ] || exit 2
shift 2
for n; do [ "$n" = curl ] && printf '\ncurl.x86_64   7.76.1-29.el9   baseos\n'; done
exit 100
"#;

const FAKE_APK: &str = r#"#!/bin/sh
case "$1" in
  info) [ "$3" = curl ]; exit $? ;;
  version) echo "Installed:                                Available:"; shift 3
    for n; do [ "$n" = curl ] && echo "curl-8.0.0-r0                           < 8.1.0-r0"; done ;;
esac
"#;

async fn plan_with_fakes(a: serde_json::Value, fakes: &Path) -> Plan {
    let mut h = ModuleHost::new(
        "fake",
        prov::connection::local::LocalConnection::new("fake"),
    );
    h.env = vec![("PATH".into(), format!("{}:/usr/bin:/bin", fakes.display()))];
    h.plan("package", a).await.unwrap()
}

#[tokio::test]
async fn package_plans_for_dnf_and_apk() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("prov-sys-fakes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (n, body) in [("rpm", FAKE_RPM), ("dnf", FAKE_DNF), ("apk", FAKE_APK)] {
        let p = dir.join(n);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let command = |p: &Plan| match &p.changes[0].action {
        Action::Exec { cmd, .. } => cmd.script.clone(),
        _ => panic!("expected an Exec"),
    };
    // dnf
    let p = plan_with_fakes(
        json!({"name": ["curl", "git"], "state": "present", "use": "dnf"}),
        &dir,
    )
    .await;
    assert_eq!(summaries(&p), vec!["install git".to_string()]);
    assert_eq!(command(&p), "dnf -y install git");
    assert!(diffs(&p).contains("-git: (not installed)"), "{}", diffs(&p));
    let p = plan_with_fakes(
        json!({"name": ["curl", "git"], "state": "latest", "use": "dnf"}),
        &dir,
    )
    .await;
    assert_eq!(summaries(&p), vec!["install git; upgrade curl".to_string()]);
    assert_eq!(command(&p), "dnf -y install git && dnf -y upgrade curl");
    let p = plan_with_fakes(
        json!({"name": "curl,git", "state": "absent", "use": "dnf"}),
        &dir,
    )
    .await;
    assert_eq!(command(&p), "dnf -y remove curl");
    let p = plan_with_fakes(
        json!({"name": "curl", "state": "installed", "use": "yum"}),
        &dir,
    )
    .await;
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    // no state: the package module's default, present (as apt's and dnf's)
    let p = plan_with_fakes(json!({"name": ["curl", "git"], "use": "dnf"}), &dir).await;
    assert_eq!(command(&p), "dnf -y install git");
    // a package manager prov has no module for: the message Ansible's package action gives
    let p = plan_with_fakes(json!({"name": "curl", "use": "lola"}), &dir).await;
    assert_eq!(
        p.failed.as_deref(),
        Some("Could not find a matching action for the \"lola\" package manager.")
    );
    // apk
    let p = plan_with_fakes(
        json!({"name": ["curl", "git"], "state": "present", "use": "apk"}),
        &dir,
    )
    .await;
    assert_eq!(command(&p), "apk add git");
    let p = plan_with_fakes(
        json!({"name": ["curl", "git"], "state": "latest", "use": "apk"}),
        &dir,
    )
    .await;
    assert_eq!(command(&p), "apk add --upgrade curl git");
    let p = plan_with_fakes(
        json!({"name": ["curl", "git"], "state": "absent", "use": "apk"}),
        &dir,
    )
    .await;
    assert_eq!(command(&p), "apk del curl");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn service_plans_for_openrc() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("prov-sys-openrc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    let rc_service =
        format!("#!/bin/sh\ncase \"$2\" in status) [ -f {d}/running ] ;; *) exit 0 ;; esac\n");
    let rc_update = format!(
        "#!/bin/sh\n[ \"$1\" = show ] && [ -f {d}/enabled ] && echo ' prov-svc | default'\necho ' sshd | default'\n"
    );
    for (n, body) in [("rc-service", rc_service), ("rc-update", rc_update)] {
        let p = dir.join(n);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut h = ModuleHost::new(
        "fake",
        prov::connection::local::LocalConnection::new("fake"),
    );
    h.env = vec![("PATH".into(), format!("{d}:/usr/bin:/bin"))];
    let a = json!({"name": "prov-svc", "state": "started", "enabled": true, "use": "openrc"});
    let p = h.plan("service", a.clone()).await.unwrap();
    assert_eq!(
        summaries(&p),
        vec!["enable prov-svc".to_string(), "start prov-svc".to_string()]
    );
    let scripts: Vec<String> = p
        .changes
        .iter()
        .map(|c| match &c.action {
            Action::Exec { cmd, .. } => cmd.script.clone(),
            _ => panic!("expected an Exec"),
        })
        .collect();
    assert_eq!(
        scripts,
        vec![
            "rc-update add prov-svc default".to_string(),
            "rc-service prov-svc start".to_string()
        ]
    );
    std::fs::write(dir.join("running"), "").unwrap();
    std::fs::write(dir.join("enabled"), "").unwrap();
    let p = h.plan("service", a).await.unwrap();
    assert!(p.changes.is_empty(), "{:?}", summaries(&p));
    let a = json!({"name": "prov-svc", "state": "stopped", "enabled": false, "use": "openrc"});
    let p = h.plan("service", a).await.unwrap();
    assert_eq!(
        summaries(&p),
        vec!["disable prov-svc".to_string(), "stop prov-svc".to_string()]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
