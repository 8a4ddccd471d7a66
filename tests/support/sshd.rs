//! A real OpenSSH `sshd` for tests: started in the foreground (`-D -e`) on 127.0.0.1 with a
//! free port, a generated host key, an authorized client key and its own config, pid file and
//! folder; killed (with its connection processes) and removed on drop. Also temporary users
//! (with a password, optionally sudo rights) that are deleted on drop.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static N: AtomicUsize = AtomicUsize::new(0);
/// Serializes useradd/userdel within this test process.
static USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub const SSHD: &str = "/usr/sbin/sshd";

/// `Some(reason)` when real-sshd tests cannot run here.
pub fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root (sshd needs root)".into());
    }
    if !Path::new(SSHD).exists() {
        return Some(format!(
            "{SSHD} is not installed (apt-get install -y openssh-server)"
        ));
    }
    if Command::new("ssh-keygen").arg("-?").output().is_err() {
        return Some("ssh-keygen is not installed (apt-get install -y openssh-client)".into());
    }
    None
}

/// Prints the SKIP line and returns true when sshd tests cannot run.
pub fn skip(test: &str) -> bool {
    match skip_reason() {
        // CI (PROV_LAB=1) installs sshd: there, not being able to run is a failure.
        Some(r) if std::env::var_os("PROV_LAB").is_some() => {
            panic!("{test}: {r} (PROV_LAB=1 is set, so this test must run)")
        }
        Some(r) => {
            eprintln!("SKIP: {test}: {r}");
            true
        }
        None => false,
    }
}

/// A fresh temporary folder.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "prov-sshd-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Generates a key pair with ssh-keygen; returns the private key path.
pub fn keygen(dir: &Path, name: &str, kind: &str, passphrase: &str) -> PathBuf {
    let p = dir.join(name);
    let mut c = Command::new("ssh-keygen");
    c.args(["-q", "-t", kind, "-N", passphrase, "-C", name, "-f"])
        .arg(&p);
    if kind == "rsa" {
        c.args(["-b", "2048"]);
    }
    let out = c.output().expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    p
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Settings for [`Sshd::start`].
#[derive(Clone)]
pub struct SshdOpts {
    /// `MaxSessions`.
    pub max_sessions: usize,
    /// Extra sshd_config lines.
    pub extra: String,
    /// Extra listen addresses (besides 127.0.0.1), all in 127/8.
    pub listen: Vec<String>,
}

impl Default for SshdOpts {
    fn default() -> Self {
        SshdOpts {
            max_sessions: 10,
            extra: String::new(),
            listen: Vec::new(),
        }
    }
}

/// A running sshd.
pub struct Sshd {
    pub dir: PathBuf,
    pub port: u16,
    /// The ed25519 client key authorized for every user.
    pub client_key: PathBuf,
    pub host_key: PathBuf,
    pub config: PathBuf,
    child: Option<Child>,
}

impl Sshd {
    /// Starts sshd with default settings.
    pub fn start_default() -> Sshd {
        Sshd::start(SshdOpts::default())
    }

    /// Starts sshd and waits until it accepts connections.
    pub fn start(o: SshdOpts) -> Sshd {
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = temp_dir("srv");
        let host_key = keygen(&dir, "host_ed25519", "ed25519", "");
        let client_key = keygen(&dir, "id_ed25519", "ed25519", "");
        let pubkey = std::fs::read_to_string(dir.join("id_ed25519.pub")).unwrap();
        std::fs::write(dir.join("authorized_keys"), pubkey).unwrap();
        let port = free_port();
        let mut listen = format!("ListenAddress 127.0.0.1:{port}\n");
        for a in &o.listen {
            listen.push_str(&format!("ListenAddress {a}:{port}\n"));
        }
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "{listen}HostKey {hk}\nPidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n\
                 UsePAM no\nStrictModes no\nPermitRootLogin yes\nPasswordAuthentication yes\n\
                 KbdInteractiveAuthentication no\nMaxSessions {ms}\nMaxAuthTries 30\n\
                 MaxStartups 200:30:400\nLogLevel ERROR\nAllowTcpForwarding yes\n\
                 Subsystem sftp internal-sftp\n{extra}\n",
                hk = host_key.display(),
                d = dir.display(),
                ms = o.max_sessions,
                extra = o.extra
            ),
        )
        .unwrap();
        let mut s = Sshd {
            dir,
            port,
            client_key,
            host_key,
            config,
            child: None,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.join("sshd.log")).unwrap();
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sshd starts");
        self.child = Some(child);
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("sshd exited ({st}): {}", self.log());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "sshd did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// sshd's log (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// The public host key line (`type base64`).
    pub fn host_pub(&self) -> String {
        let t = std::fs::read_to_string(self.dir.join("host_ed25519.pub")).unwrap();
        let mut w = t.split_whitespace();
        format!("{} {}", w.next().unwrap(), w.next().unwrap())
    }

    /// The known_hosts name: `[127.0.0.1]:PORT`.
    pub fn kh_name(&self) -> String {
        format!("[127.0.0.1]:{}", self.port)
    }

    /// A known_hosts line for this server.
    pub fn known_hosts_line(&self) -> String {
        format!("{} {}\n", self.kh_name(), self.host_pub())
    }

    /// Authorizes another public key file.
    pub fn authorize(&self, private_key: &Path) {
        let p = std::fs::read_to_string(format!("{}.pub", private_key.display())).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("authorized_keys"))
            .unwrap();
        f.write_all(p.as_bytes()).unwrap();
    }

    /// The listening sshd's process id.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// Kills sshd and every process it started (connection handlers, sessions).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_tree(c.id() as i32);
            let _ = c.wait();
        }
    }

    /// Starts sshd again on the same port with the same keys.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut f = after.split_whitespace();
        let _state = f.next();
        if f.next().and_then(|s| s.parse::<i32>().ok()) == Some(pid) {
            out.push(p);
        }
    }
    out
}

/// `pid` and all its descendants.
pub fn tree(pid: i32) -> Vec<i32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let kids = children_of(all[i]);
        all.extend(kids);
        i += 1;
    }
    all
}

/// SIGKILLs `pid` and all its descendants, by process id.
pub fn kill_tree(pid: i32) {
    for p in tree(pid) {
        // SAFETY: kill(2) on a pid we started (or its descendants).
        unsafe {
            libc::kill(p, libc::SIGKILL);
        }
    }
}

/// A temporary local user with a password, removed (with its home and sudoers file) on drop.
pub struct TempUser {
    pub name: String,
    pub password: String,
    sudoers: Option<PathBuf>,
}

impl TempUser {
    /// Creates the user; `sudo` = Some(nopasswd) adds a sudoers drop-in.
    pub fn create(sudo: Option<bool>) -> Option<TempUser> {
        let name = format!(
            "pv{}x{}",
            std::process::id() % 100000,
            N.fetch_add(1, Ordering::SeqCst)
        );
        let password = format!("Pw-{}-{}", std::process::id(), name);
        {
            let _g = USERS.lock().unwrap_or_else(|e| e.into_inner());
            // useradd/chpasswd fail while another process holds the passwd lock: retry.
            let mut ok = false;
            for _ in 0..20 {
                ok = Command::new("useradd")
                    .args(["-m", "-s", "/bin/sh", &name])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if ok {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if !ok {
                return None;
            }
            let mut set = false;
            for _ in 0..20 {
                let Ok(mut c) = Command::new("chpasswd").stdin(Stdio::piped()).spawn() else {
                    break;
                };
                if let Some(mut i) = c.stdin.take() {
                    let _ = i.write_all(format!("{name}:{password}\n").as_bytes());
                }
                if c.wait().is_ok_and(|s| s.success()) {
                    set = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if !set {
                let _ = Command::new("userdel").args(["-r", "-f", &name]).status();
                return None;
            }
        }
        let mut u = TempUser {
            name: name.clone(),
            password,
            sudoers: None,
        };
        if let Some(nopasswd) = sudo {
            let f = PathBuf::from(format!("/etc/sudoers.d/prov-test-{name}"));
            let rule = if nopasswd { "NOPASSWD: ALL" } else { "ALL" };
            std::fs::write(
                &f,
                format!("Defaults:{name} timestamp_timeout=0\n{name} ALL=(ALL) {rule}\n"),
            )
            .ok()?;
            let _ =
                std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o440));
            u.sudoers = Some(f);
        }
        Some(u)
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        if let Some(f) = &self.sudoers {
            let _ = std::fs::remove_file(f);
        }
        let _g = USERS.lock().unwrap_or_else(|e| e.into_inner());
        let _ = Command::new("userdel")
            .args(["-r", "-f", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}
