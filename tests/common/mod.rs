//! A small spec-like harness: write files into a temp dir, run the `prov` binary, assert.
//! [`module`] drives one module directly (task context, plan, apply, convergence).
#![allow(dead_code)]

pub mod module;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static N: AtomicUsize = AtomicUsize::new(0);

/// A temporary project folder, removed on drop.
pub struct Project {
    pub dir: PathBuf,
}

impl Project {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "prov-it-{}-{}-{}",
            name,
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Project { dir }
    }

    /// Writes a file (creating folders); `{dir}` in the text becomes the project folder.
    pub fn file(&self, rel: &str, text: &str) -> &Self {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text.replace("{dir}", self.dir.to_str().unwrap())).unwrap();
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel))
            .unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.dir.join(rel).exists()
    }

    /// Runs `prov ARGS` in the project folder.
    pub fn prov(&self, args: &[&str]) -> Run {
        self.prov_env(args, &[])
    }

    /// Runs `prov ARGS` in the project folder with these environment variables set too.
    pub fn prov_env(&self, args: &[&str], envs: &[(&str, &std::ffi::OsStr)]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_prov"))
            .args(args)
            .current_dir(&self.dir)
            .env("NO_COLOR", "1")
            .env_remove("ANSIBLE_CONFIG")
            .envs(envs.iter().copied())
            .output()
            .expect("prov runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if std::env::var_os("PROV_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The result of a `prov` run, with chainable assertions.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code, want,
            "exit code {} (want {want})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code(0)
    }
    #[track_caller]
    pub fn stdout_has(&self, s: &str) -> &Self {
        assert!(
            self.stdout.contains(s),
            "stdout lacks {s:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
    #[track_caller]
    pub fn stdout_lacks(&self, s: &str) -> &Self {
        assert!(
            !self.stdout.contains(s),
            "stdout has {s:?}\n--- stdout\n{}",
            self.stdout
        );
        self
    }
    #[track_caller]
    pub fn stderr_has(&self, s: &str) -> &Self {
        assert!(
            self.stderr.contains(s),
            "stderr lacks {s:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
    /// The recap line's counters for `host` (ok, changed, unreachable, failed, skipped, rescued, ignored).
    #[track_caller]
    pub fn recap(&self, host: &str) -> [u32; 7] {
        let line = self
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(host) && l.contains("ok="))
            .unwrap_or_else(|| panic!("no recap line for {host}\n{}", self.stdout));
        let get = |k: &str| -> u32 {
            let i = line
                .find(&format!("{k}="))
                .unwrap_or_else(|| panic!("no {k} in {line}"));
            line[i + k.len() + 1..]
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        [
            get("ok"),
            get("changed"),
            get("unreachable"),
            get("failed"),
            get("skipped"),
            get("rescued"),
            get("ignored"),
        ]
    }
    /// Asserts the changed count for `host`.
    #[track_caller]
    pub fn changed(&self, host: &str, n: u32) -> &Self {
        let r = self.recap(host);
        assert_eq!(
            r[1], n,
            "changed={} for {host} (want {n})\n{}",
            r[1], self.stdout
        );
        self
    }
}

pub fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// How a time-boxed `prov` run ended.
#[derive(Debug)]
pub struct Bounded {
    /// Exit code, or 128 + signal when killed by a signal (134 is SIGABRT: a stack overflow).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The child's peak resident set size, in KiB.
    pub max_rss_kb: i64,
}

/// Runs `prov ARGS` in `dir` (stdin closed) and waits at most `limit`.
// The child is reaped by `wait4` (for its peak RSS), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
pub fn run_bounded(dir: &Path, args: &[&str], limit: Duration) -> Bounded {
    let mut child = Command::new(env!("CARGO_BIN_EXE_prov"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prov starts");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    let (status, usage) = loop {
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break (status, usage);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            panic!(
                "prov {args:?} still ran after {limit:?} (peak RSS {} MiB): killed",
                usage.ru_maxrss / 1024
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let code = if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    };
    Bounded {
        code,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed: started.elapsed(),
        max_rss_kb: usage.ru_maxrss,
    }
}

/// The collections (community.general, ansible.posix) that `tests/ansible-targets/run.sh
/// --venv-only` unpacks from PyPI's `ansible` package, when it has run. With
/// `PROV_REQUIRE_ANSIBLE_CORE` set (CI), their absence fails the test instead of skipping it.
#[allow(dead_code)]
pub fn pypi_collections() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ansible-targets/collections");
    if dir.join("ansible_collections/community/general").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("PROV_REQUIRE_ANSIBLE_CORE").is_none(),
        "PROV_REQUIRE_ANSIBLE_CORE is set but {} has no collections \
         (tests/ansible-targets/run.sh --venv-only makes them)",
        dir.display()
    );
    None
}

/// `ansible-playbook` of the targets harness's reference virtualenv (`tests/ansible-targets/run.sh
/// --venv-only`), to run a test's playbook under ansible-core itself. `None` skips, unless
/// `PROV_REQUIRE_ANSIBLE_CORE` is set (CI).
#[allow(dead_code)]
pub fn ansible_playbook() -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/ansible-targets/venv/bin/ansible-playbook");
    if bin.is_file() {
        return Some(bin);
    }
    assert!(
        std::env::var_os("PROV_REQUIRE_ANSIBLE_CORE").is_none(),
        "PROV_REQUIRE_ANSIBLE_CORE is set but {} is missing (tests/ansible-targets/run.sh \
         --venv-only makes it)",
        bin.display()
    );
    None
}

/// The `ansible` package folder of an ansible-core on this machine (for the module fallback's
/// tests): the one `python3` imports, else the targets harness's reference virtualenv
/// (`tests/ansible-targets/run.sh --venv-only`). `None` skips those tests, unless
/// `PROV_REQUIRE_ANSIBLE_CORE` is set (CI), where a missing ansible-core fails them.
#[allow(dead_code)]
pub fn ansible_core() -> Option<PathBuf> {
    let venv =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ansible-targets/venv/bin/python3");
    for py in [PathBuf::from("python3"), venv] {
        let out = Command::new(&py)
            .args([
                "-c",
                "import ansible, os; print(os.path.dirname(ansible.__file__))",
            ])
            .output();
        if let Ok(o) = out
            && o.status.success()
        {
            return Some(String::from_utf8_lossy(&o.stdout).trim().into());
        }
    }
    assert!(
        std::env::var_os("PROV_REQUIRE_ANSIBLE_CORE").is_none(),
        "PROV_REQUIRE_ANSIBLE_CORE is set but no ansible-core was found (python3, or \
         tests/ansible-targets/run.sh --venv-only)"
    );
    None
}
