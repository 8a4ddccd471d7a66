//! A real local EC2 emulator for the AWS tests: moto's server (`moto_server`), started as a child
//! process on a free port and killed on drop.
//!
//! Where moto comes from, in order: `PROV_MOTO_SERVER` (path to `moto_server`), `moto_server` on
//! PATH, a venv at `target/moto-venv`; if none is found, that venv is created and
//! `moto[server]` installed into it from PyPI (once; set `PROV_MOTO_NO_INSTALL=1` to skip that).
//! When moto cannot be found or started, [`Moto::start`] prints `SKIP: ...` and returns None
//! (and panics instead when PROV_LAB=1, as in CI).
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    log: PathBuf,
}

static INSTALL: Mutex<()> = Mutex::new(());

fn venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv")
}

fn works(exe: &Path) -> bool {
    Command::new(exe)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Finds (or installs) `moto_server`.
fn find() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("PROV_MOTO_SERVER") {
        let p = PathBuf::from(p);
        return if works(&p) {
            Ok(p)
        } else {
            Err(format!("PROV_MOTO_SERVER={} does not run", p.display()))
        };
    }
    if let Some(p) = on_path("moto_server").filter(|p| works(p)) {
        return Ok(p);
    }
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let exe = venv().join("bin/moto_server");
    if works(&exe) {
        return Ok(exe);
    }
    if std::env::var_os("PROV_MOTO_NO_INSTALL").is_some() {
        return Err("moto_server not found and PROV_MOTO_NO_INSTALL is set".into());
    }
    eprintln!(
        "moto_server not found: installing moto[server] into {}",
        venv().display()
    );
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv())
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv().join("bin/pip"))
            .args(["install", "--quiet", "moto[server]"])
            .status()
            .is_ok_and(|s| s.success());
    if ok && works(&exe) {
        Ok(exe)
    } else {
        Err("could not install moto[server] (python3 -m venv + pip install)".into())
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// In CI (PROV_LAB=1) the emulator must run: not starting it is a failure, not a skip.
fn strict(test: &str, why: &str) {
    if std::env::var_os("PROV_LAB").is_some() {
        panic!(
            "{test}: the EC2 emulator could not start: {why} (PROV_LAB=1 is set, so this test must run)"
        );
    }
}

impl Moto {
    /// Starts a fresh moto server, or prints `SKIP: <why>` and returns None.
    pub fn start(test: &str) -> Option<Moto> {
        Self::start_with_env(test, &[])
    }

    /// Starts a fresh moto server with extra environment (e.g. `INITIAL_NO_AUTH_ACTION_COUNT=0`
    /// to make it check credentials).
    pub fn start_with_env(test: &str, env: &[(&str, &str)]) -> Option<Moto> {
        let exe = match find() {
            Ok(e) => e,
            Err(why) => {
                strict(test, &why);
                eprintln!("SKIP: {test}: no EC2 emulator: {why}");
                return None;
            }
        };
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log =
                std::env::temp_dir().join(format!("prov-moto-{}-{port}.log", std::process::id()));
            let Ok(logf) = std::fs::File::create(&log) else {
                continue;
            };
            let child = Command::new(&exe)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(logf.try_clone().expect("log file"))
                .stderr(logf)
                .spawn();
            let child = match child {
                Ok(c) => c,
                Err(e) => {
                    last = format!("cannot start {}: {e}", exe.display());
                    continue;
                }
            };
            let mut m = Moto {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
                log,
            };
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(st)) = m.child.try_wait() {
                    last = format!("moto_server exited ({st}): {}", m.log_text());
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(m);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if last.is_empty() {
                last = "moto_server did not answer within 30 s".into();
            }
        }
        strict(test, &last);
        eprintln!("SKIP: {test}: {last}");
        None
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
