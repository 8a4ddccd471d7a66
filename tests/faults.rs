//! The fault suite: what an unlucky operator or a hostile local user does to a run, against
//! real OpenSSH sshds on loopback and the `prov` binary (issue 9). Each test failed before its
//! fix:
//! - kill -9 of prov, and a dropped connection, during a large copy: the destination is intact
//!   and no temp file is left;
//! - the temp-file symlink race, played by an unprivileged user: never wins;
//! - `no_log` with -vvvv: the secret is in no output, no process list and no sudo log;
//! - Ctrl-C mid-run: recap, exit 130, no orphaned remote command;
//! - `MaxSessions 1`: the run works;
//! - a host that stops answering (SIGSTOP) or is blackholed (iptables): UNREACHABLE ("timed
//!   out") within its timeout, the others unaffected, exit 4;
//! - a server that runs no command after login: UNREACHABLE with its words;
//! - 100 MB of command output: capped, with a note, in bounded memory.
//!
//! Skipped (with a SKIP line) when sshd is not installed or the tests do not run as root.

mod common;
#[path = "support/sshd.rs"]
mod sshd;

use sshd::{Sshd, SshdOpts, TempUser};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The tests of this file run one at a time: they kill, stop and blackhole things, sample the
/// whole process list and time what they see, so they must not disturb each other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// What every run of a [`Proj`] is given: its inventory, known_hosts and ssh_config.
const CONN_ARGS: [&str; 6] = [
    "-i",
    "hosts",
    "--known-hosts",
    "known_hosts",
    "--ssh-config",
    "ssh_config",
];

/// A project folder with an inventory of sshds, a known_hosts file trusting them and an empty
/// ssh_config.
struct Proj {
    dir: PathBuf,
}

impl Proj {
    fn new(tag: &str, hosts: &[(&str, &Sshd, &str)]) -> Proj {
        let dir = sshd::temp_dir(&format!("faults-{tag}"));
        let mut inv = String::new();
        let mut kh = String::new();
        for (name, srv, extra) in hosts {
            inv.push_str(&format!(
                "{name} ansible_host=127.0.0.1 ansible_port={} ansible_user=root ansible_ssh_private_key_file={} {extra}\n",
                srv.port,
                srv.client_key.display()
            ));
            kh.push_str(&srv.known_hosts_line());
        }
        std::fs::write(dir.join("hosts"), inv).unwrap();
        std::fs::write(dir.join("known_hosts"), kh).unwrap();
        std::fs::write(dir.join("ssh_config"), "").unwrap();
        Proj { dir }
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.join(rel);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
        c.arg("run")
            .args(args)
            .args(CONN_ARGS)
            .current_dir(&self.dir)
            .env("NO_COLOR", "1")
            .env_remove("ANSIBLE_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("prov runs")
    }
}

impl Drop for Proj {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The recap line of `host` (panics with the whole output when there is none).
fn recap_line(o: &Output, host: &str) -> String {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find(|l| l.starts_with(&format!("{host} ")) && l.contains("ok="))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no recap line for {host}\n{}", text(o)))
}

fn temps_in(dir: &Path) -> Vec<(String, u64)> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().contains("prov-tmp"))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.metadata().map(|m| m.len()).unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `f` holds, up to `limit`.
fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// A 200 MB file of varied bytes.
fn big_file(dir: &Path) -> PathBuf {
    use std::io::Write;
    let p = dir.join("big.bin");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    let mut block = vec![0u8; 1 << 20];
    for i in 0..200u32 {
        for (j, b) in block.iter_mut().enumerate() {
            *b = (i as usize * 31 + j * 7) as u8;
        }
        f.write_all(&block).unwrap();
    }
    f.flush().unwrap();
    p
}

const COPY_PLAY: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy:\n        src: \"{{ big }}\"\n        dest: \"{{ dest }}\"\n        mode: \"0640\"\n";

/// Starts a copy of 200 MB and waits until 20 MB of it reached the host's temp file.
fn start_big_copy(p: &Proj, dest_dir: &Path) -> Child {
    let big = big_file(&p.dir);
    p.write("copy.yml", COPY_PLAY);
    let dest = dest_dir.join("data.bin");
    std::fs::write(&dest, b"old content\n").unwrap();
    let child = p
        .cmd(&[
            "copy.yml",
            "-e",
            &format!("big={}", big.display()),
            "-e",
            &format!("dest={}", dest.display()),
        ])
        .spawn()
        .unwrap();
    let started = wait_until(Duration::from_secs(60), || {
        temps_in(dest_dir).iter().any(|(_, n)| *n > 20 << 20)
    });
    assert!(
        started,
        "the upload never reached 20 MB: {:?}",
        temps_in(dest_dir)
    );
    child
}

#[test]
fn kill9_of_prov_during_a_large_copy_leaves_the_destination_intact() {
    let _serial = serial();
    if sshd::skip("kill9_of_prov_during_a_large_copy_leaves_the_destination_intact") {
        return;
    }
    let srv = Sshd::start_default();
    let p = Proj::new("kill9", &[("h1", &srv, "")]);
    let dest_dir = sshd::temp_dir("kill9-dest");
    let mut child = start_big_copy(&p, &dest_dir);
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    // The host notices the end of input, finds the file incomplete and removes it.
    let clean = wait_until(Duration::from_secs(30), || temps_in(&dest_dir).is_empty());
    assert!(clean, "temp file left behind: {:?}", temps_in(&dest_dir));
    assert_eq!(
        std::fs::read(dest_dir.join("data.bin")).unwrap(),
        b"old content\n",
        "the destination was replaced by a partial upload"
    );
    let _ = std::fs::remove_dir_all(dest_dir);
}

#[test]
fn a_dropped_connection_during_a_large_copy_leaves_the_destination_intact() {
    let _serial = serial();
    if sshd::skip("a_dropped_connection_during_a_large_copy_leaves_the_destination_intact") {
        return;
    }
    let srv = Sshd::start_default();
    let p = Proj::new("drop", &[("h1", &srv, "")]);
    let dest_dir = sshd::temp_dir("drop-dest");
    let child = start_big_copy(&p, &dest_dir);
    // The server side of the connection dies (the sshd processes, not the command they run).
    let pid = srv.pid();
    for p in sshd::tree(pid) {
        let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        if comm.trim() == "sshd" {
            // SAFETY: killing processes of an sshd this test started.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
    }
    let out = child.wait_with_output().unwrap();
    let clean = wait_until(Duration::from_secs(30), || temps_in(&dest_dir).is_empty());
    assert!(clean, "temp file left behind: {:?}", temps_in(&dest_dir));
    assert_eq!(
        std::fs::read(dest_dir.join("data.bin")).unwrap(),
        b"old content\n",
        "the destination was replaced by a partial upload"
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let _ = std::fs::remove_dir_all(dest_dir);
}

/// An unprivileged user who owns the destination's folder swaps every temp file prov creates
/// there for a symlink to a root-owned file, while root installs files with `owner:` and `mode:`
/// in a loop. The root-owned file must keep its owner, mode and content.
#[test]
fn the_temp_file_symlink_race_never_wins() {
    let _serial = serial();
    if sshd::skip("the_temp_file_symlink_race_never_wins") {
        return;
    }
    let Some(user) = TempUser::create(None) else {
        eprintln!("SKIP: the_temp_file_symlink_race_never_wins: cannot create a user");
        return;
    };
    use prov::connection::{Connection, PutOpts, Stdin, local::LocalConnection};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let base = sshd::temp_dir("race");
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = base.join("owned");
    std::fs::create_dir(&dir).unwrap();
    let ok = Command::new("chown")
        .args([&user.name, dir.to_str().unwrap()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let victim = base.join("victim");
    std::fs::write(&victim, b"root's secret\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The attacker: replace any temp file by a link to the victim, as fast as possible.
    let attack = format!(
        "while :; do for f in {d}/.prov-tmp.*; do [ -f \"$f\" ] && [ ! -L \"$f\" ] && rm -f \"$f\" && ln -s {v} \"$f\"; done; done",
        d = dir.display(),
        v = victim.display()
    );
    let mut attacker = Command::new("runuser")
        .args(["-u", &user.name, "--", "/bin/sh", "-c", &attack])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("runuser");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let conn = LocalConnection::new("localhost");
    let data = vec![b'x'; 4 << 20];
    // A put that succeeds installed prov's own file (a regular file, the full content, the
    // owner asked for); one that fails says so. Neither may touch the victim (checked below).
    let uid = std::fs::metadata(&dir).unwrap().uid();
    let mut installed = Vec::new();
    for i in 0..25 {
        let dest = dir.join(format!("f{i}"));
        let r = rt.block_on(conn.put(
            &Stdin::Bytes(data.clone()),
            dest.to_str().unwrap(),
            &PutOpts {
                mode: Some("0644".into()),
                owner: Some(user.name.clone()),
                ..Default::default()
            },
        ));
        match r {
            Ok(()) => installed.push(dest),
            // A failure must be prov noticing the attack, not some other error.
            Err(e) => assert!(
                e.msg.contains("was replaced by someone else")
                    || e.msg.contains("cannot create a temporary file")
                    || e.msg.contains("incomplete transfer"),
                "{}",
                e.render()
            ),
        }
    }
    sshd::kill_tree(attacker.id() as i32);
    let _ = attacker.wait();
    let md = std::fs::symlink_metadata(&victim).unwrap();
    assert!(md.file_type().is_file());
    assert_eq!(md.uid(), 0, "the attacker got the victim chowned to them");
    assert_eq!(md.mode() & 0o7777, 0o600, "the victim's mode was changed");
    assert_eq!(std::fs::read(&victim).unwrap(), b"root's secret\n");
    eprintln!("symlink race: {} of 25 installs succeeded", installed.len());
    for dest in &installed {
        let md = std::fs::symlink_metadata(dest).unwrap();
        assert!(
            md.file_type().is_file(),
            "{} is not a regular file",
            dest.display()
        );
        assert_eq!(md.len(), data.len() as u64, "{}", dest.display());
        assert_eq!(
            (md.uid(), md.mode() & 0o7777),
            (uid, 0o644),
            "{}",
            dest.display()
        );
    }
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn no_log_hides_the_secret_from_logs_argv_and_the_sudo_log() {
    let _serial = serial();
    if sshd::skip("no_log_hides_the_secret_from_logs_argv_and_the_sudo_log") {
        return;
    }
    let Some(user) = TempUser::create(Some(true)) else {
        eprintln!("SKIP: no_log_hides_the_secret: cannot create a user");
        return;
    };
    let srv = Sshd::start_default();
    let secret = format!("S3cret-{}-zq", std::process::id());
    // sudo writes its own log of this user's commands to a file.
    let sudo_log = sshd::temp_dir("sudolog").join("sudo.log");
    let drop_in = PathBuf::from(format!("/etc/sudoers.d/prov-test-log-{}", user.name));
    std::fs::write(
        &drop_in,
        format!("Defaults:{} logfile={}\n", user.name, sudo_log.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&drop_in, std::fs::Permissions::from_mode(0o440)).unwrap();
    let home = format!("/home/{}/.ssh", user.name);
    std::fs::create_dir_all(&home).unwrap();
    std::fs::copy(
        srv.dir.join("authorized_keys"),
        format!("{home}/authorized_keys"),
    )
    .unwrap();
    let _ = Command::new("chown")
        .args(["-R", &user.name, &format!("/home/{}", user.name)])
        .status();
    srv.authorize(&srv.client_key);
    let p = Proj::new(
        "nolog",
        &[("h1", &srv, &format!("ansible_user={}", user.name))],
    );
    let marker = p.dir.join("done");
    p.write(
        "nolog.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n\
             \x20   - shell: \"x={{{{ secret }}}}; sleep 2; echo \\\"$x\\\" > /dev/null; touch {m}\"\n\
             \x20     environment: {{ TOKEN: \"{{{{ secret }}}}\" }}\n\
             \x20     no_log: true\n\
             \x20   - copy: {{ content: \"{{{{ secret }}}}\", dest: \"{d}/secret.txt\", mode: \"0600\" }}\n\
             \x20     no_log: true\n",
            m = marker.display(),
            d = p.dir.display()
        ),
    );
    p.write("secret.yml", &format!("secret: {secret}\n"));
    let child = p
        .cmd(&["nolog.yml", "-vvvv", "-e", "@secret.yml"])
        .spawn()
        .unwrap();
    // Sample every process's command line while the task runs.
    let mut seen_in_ps = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) && !marker.exists() {
        let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
        for l in String::from_utf8_lossy(&ps.stdout).lines() {
            if l.contains(&secret) {
                seen_in_ps.push(l.to_string());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        marker.exists(),
        "the no_log task did not run\n{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(p.dir.join("secret.txt")).unwrap(),
        secret,
        "the no_log copy did not write the content"
    );
    assert!(
        seen_in_ps.is_empty(),
        "secret in the process list: {seen_in_ps:?}"
    );
    let all = text(&out);
    assert!(!all.contains(&secret), "secret in prov's output:\n{all}");
    assert!(all.contains("command hidden: no_log"), "{all}");
    let slog = std::fs::read_to_string(&sudo_log).unwrap_or_default();
    assert!(slog.contains("COMMAND="), "sudo logged nothing: {slog:?}");
    assert!(!slog.contains(&secret), "secret in the sudo log:\n{slog}");
    let _ = std::fs::remove_file(&drop_in);
    let _ = std::fs::remove_dir_all(sudo_log.parent().unwrap());
}

fn pgrep(pattern: &str) -> Vec<String> {
    let o = Command::new("pgrep")
        .args(["-af", pattern])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.contains("pgrep"))
        .map(str::to_string)
        .collect()
}

#[test]
fn ctrl_c_stops_remote_commands_prints_the_recap_and_exits_130() {
    let _serial = serial();
    if sshd::skip("ctrl_c_stops_remote_commands_prints_the_recap_and_exits_130") {
        return;
    }
    let srv = Sshd::start_default();
    let p = Proj::new("ctrlc", &[("h1", &srv, "")]);
    let marker = p.dir.join("orphan");
    let second = p.dir.join("second");
    // A distinctive sleep, to find it in the process list.
    p.write(
        "slow.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n\
             \x20   - command: \"true\"\n\
             \x20   - shell: sleep 17.25; echo late > {m}\n\
             \x20   - file: {{ path: {s}, state: touch }}\n",
            m = marker.display(),
            s = second.display()
        ),
    );
    let child = p.cmd(&["slow.yml", "-vvv"]).spawn().unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || !pgrep("sleep 17.25").is_empty()),
        "the remote command never started"
    );
    let t0 = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let took = t0.elapsed();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(130), "{all}");
    assert!(
        took < Duration::from_secs(10),
        "took {took:?} to stop\n{all}"
    );
    assert!(all.contains("PLAY RECAP"), "no recap\n{all}");
    assert!(all.contains("interrupted"), "{all}");
    assert!(
        wait_until(Duration::from_secs(10), || pgrep("sleep 17.25").is_empty()),
        "the remote command is still running: {:?}\n{all}\nsshd log:\n{}",
        pgrep("sleep 17.25"),
        srv.log()
    );
    assert!(!second.exists(), "a task started after Ctrl-C");
    assert!(!marker.exists());
}

#[test]
fn a_host_with_max_sessions_1_is_usable() {
    let _serial = serial();
    if sshd::skip("a_host_with_max_sessions_1_is_usable") {
        return;
    }
    let srv = Sshd::start(SshdOpts {
        max_sessions: 1,
        ..Default::default()
    });
    let p = Proj::new("ms1", &[("h1", &srv, "")]);
    let d = p.dir.join("out");
    p.write(
        "ms1.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n\
             \x20   - file: {{ path: {d}, state: directory }}\n\
             \x20   - copy: {{ content: \"hello\\n\", dest: {d}/a.txt }}\n\
             \x20   - lineinfile: {{ path: {d}/b.txt, line: world, create: true }}\n\
             \x20   - command: cat {d}/a.txt {d}/b.txt\n\
             \x20     register: r\n\
             \x20   - assert: {{ that: \"r.stdout_lines == ['hello', 'world']\" }}\n",
            d = d.display()
        ),
    );
    let t0 = Instant::now();
    let out = p.run(&["ms1.yml"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t0.elapsed()
    );
    let out = p.run(&["ms1.yml"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        recap_line(&out, "h1").contains("changed=1"),
        "{}",
        text(&out)
    );
}

fn signal_tree(pid: i32, sig: i32) {
    for p in sshd::tree(pid) {
        // SAFETY: signalling processes of an sshd this test started.
        unsafe { libc::kill(p, sig) };
    }
}

/// Stops an sshd and its sessions (SIGSTOP) while alive; SIGCONT on drop.
struct Stopped(i32);

impl Drop for Stopped {
    fn drop(&mut self) {
        signal_tree(self.0, libc::SIGCONT);
    }
}

/// Two hosts run `sleep 2`; a second into it, `cut` makes the second one stop answering (the
/// guard it returns undoes that). That host must be UNREACHABLE with "timed out" within its
/// timeout (3 s, plus slack) while the other finishes both tasks; prov exits 4.
fn a_lost_host_times_out(tag: &str, cut: impl FnOnce(&Sshd) -> Box<dyn std::any::Any>) {
    let good = Sshd::start_default();
    let lost = Sshd::start_default();
    let p = Proj::new(
        tag,
        &[
            ("good", &good, "ansible_timeout=3"),
            (
                "lost",
                &lost,
                "ansible_timeout=3 ansible_ssh_common_args='-o ServerAliveInterval=1'",
            ),
        ],
    );
    p.write(
        "lost.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - command: sleep 2\n\
         \x20   - command: echo second\n",
    );
    let child = p.cmd(&["lost.yml"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let guard = cut(&lost);
    let t0 = Instant::now();
    let out = child.wait_with_output().unwrap();
    let took = t0.elapsed();
    drop(guard);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(took < Duration::from_secs(12), "took {took:?}\n{all}");
    assert!(all.contains("timed out"), "{all}");
    let good_line = recap_line(&out, "good");
    assert!(
        good_line.contains("ok=2") && good_line.contains("unreachable=0"),
        "{all}"
    );
    assert!(recap_line(&out, "lost").contains("unreachable=1"), "{all}");
}

#[test]
fn a_host_that_stops_answering_is_unreachable_within_its_timeout() {
    let _serial = serial();
    if sshd::skip("a_host_that_stops_answering_is_unreachable_within_its_timeout") {
        return;
    }
    a_lost_host_times_out("hung", |srv| {
        signal_tree(srv.pid(), libc::SIGSTOP);
        Box::new(Stopped(srv.pid()))
    });
}

#[test]
fn a_server_that_runs_no_command_after_login_is_unreachable_with_the_cause() {
    let _serial = serial();
    if sshd::skip("a_server_that_runs_no_command_after_login_is_unreachable_with_the_cause") {
        return;
    }
    let forced = Sshd::start(SshdOpts {
        extra: "ForceCommand /bin/false".into(),
        ..Default::default()
    });
    let chroot = Sshd::start(SshdOpts {
        extra: "ChrootDirectory /nonexistent-prov-chroot".into(),
        ..Default::default()
    });
    let p = Proj::new(
        "refused",
        &[("forced", &forced, ""), ("chroot", &chroot, "")],
    );
    p.write(
        "r.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: echo hi\n",
    );
    let out = p.run(&["r.yml"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    for h in ["forced", "chroot"] {
        assert!(recap_line(&out, h).contains("unreachable=1"), "{all}");
    }
    assert!(
        all.contains("accepted the login but does not run commands (exit status 1)"),
        "{all}"
    );
    assert!(all.contains("nonexistent-prov-chroot"), "{all}");
}

#[test]
fn a_huge_command_output_is_capped_with_a_note_and_bounded_memory() {
    let _serial = serial();
    if sshd::skip("a_huge_command_output_is_capped_with_a_note_and_bounded_memory") {
        return;
    }
    let srv = Sshd::start_default();
    let p = Proj::new("bigout", &[("h1", &srv, "")]);
    // 100 MB of output in 100-byte lines.
    p.write(
        "big.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - shell: yes 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' | head -n 1000000\n\
         \x20     register: r\n\
         \x20   - assert:\n\
         \x20       that:\n\
         \x20         - r.stdout | length > 33554000 and r.stdout | length <= 33554432\n\
         \x20         - \"'stdout truncated' in r.stderr\"\n",
    );
    let mut args = vec!["run", "big.yml"];
    args.extend(CONN_ARGS);
    let r = common::run_bounded(&p.dir, &args, Duration::from_secs(120));
    assert_eq!(r.code, 0, "{r:#?}");
    let kb = r.max_rss_kb;
    // Uncapped and copied six times this was over 600 MB.
    assert!(kb < 400_000, "peak RSS {kb} kB\n{r:#?}");
}

/// Drops the packets of one loopback port while alive (iptables), so that a host looks
/// blackholed; removed on drop.
struct Blackhole(u16);

impl Blackhole {
    fn rules(&self, op: &str) -> bool {
        let p = self.0.to_string();
        [["--dport", &p], ["--sport", &p]]
            .iter()
            .all(|[dir, port]| {
                Command::new("iptables")
                    .args([
                        op, "INPUT", "-i", "lo", "-p", "tcp", dir, port, "-j", "DROP",
                    ])
                    .status()
                    .is_ok_and(|s| s.success())
            })
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.rules("-D");
    }
}

#[test]
fn a_blackholed_host_is_unreachable_within_its_timeout() {
    let _serial = serial();
    if sshd::skip("a_blackholed_host_is_unreachable_within_its_timeout") {
        return;
    }
    if Command::new("iptables").arg("-V").output().is_err() {
        eprintln!("SKIP: a_blackholed_host_is_unreachable_within_its_timeout: no iptables");
        return;
    }
    a_lost_host_times_out("blackhole", |srv| {
        let hole = Blackhole(srv.port);
        assert!(hole.rules("-I"), "cannot add the iptables rules");
        Box::new(hole)
    });
}
