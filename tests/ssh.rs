//! The SSH transport against a real OpenSSH sshd (skipped, with a SKIP line, when sshd is not
//! installed or the tests do not run as root).

#[path = "support/sshd.rs"]
mod sshd;

use prov::connection::ssh::{self, HostKeyChecking, SshConnection, SshOptions};
use prov::connection::{Become, BecomeMethod, Cmd, Connection, PutOpts, Secret, Stdin};
use prov::error::ErrorKind;
use prov::value::{Value, Vars};
use sha2::Digest;
use sshd::{Sshd, SshdOpts, TempUser};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Env {
    dir: PathBuf,
    kh: PathBuf,
    cfg: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = sshd::temp_dir("cli");
        let kh = dir.join("known_hosts");
        let cfg = dir.join("ssh_config");
        std::fs::write(&cfg, "").unwrap();
        Env { dir, kh, cfg }
    }
    fn opts(&self, policy: HostKeyChecking) -> SshOptions {
        SshOptions {
            host_key_checking: Some(policy),
            known_hosts: Some(self.kh.clone()),
            ssh_config: Some(self.cfg.clone()),
            use_agent: false,
            default_keys: false,
            ..Default::default()
        }
    }
    fn trust(&self, srv: &Sshd) {
        let mut t = std::fs::read_to_string(&self.kh).unwrap_or_default();
        t.push_str(&srv.known_hosts_line());
        std::fs::write(&self.kh, t).unwrap();
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn vars(srv: &Sshd, user: &str, key: Option<&Path>) -> Vars {
    let mut v = Vars::new();
    v.insert("ansible_host".into(), Value::from("127.0.0.1"));
    v.insert("ansible_port".into(), Value::from(srv.port));
    v.insert("ansible_user".into(), Value::from(user));
    if let Some(k) = key {
        v.insert(
            "ansible_ssh_private_key_file".into(),
            Value::from(k.display().to_string()),
        );
    }
    v
}

async fn root_conn(srv: &Sshd, env: &Env) -> SshConnection {
    env.trust(srv);
    ssh::connect(
        "t",
        &vars(srv, "root", Some(&srv.client_key)),
        &env.opts(HostKeyChecking::Strict),
    )
    .await
    .unwrap_or_else(|e| panic!("connect: {}\nsshd log:\n{}", e.render(), srv.log()))
}

async fn sh(c: &SshConnection, script: &str) -> prov::connection::ExecOutput {
    c.exec(&Cmd::new(script))
        .await
        .unwrap_or_else(|e| panic!("{script}: {}", e.render()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_streams_put_get_and_latency() {
    if sshd::skip("exec_streams_put_get_and_latency") {
        return;
    }
    let srv = Sshd::start_default();
    let env = Env::new();
    let c = root_conn(&srv, &env).await;

    let o = sh(&c, "echo out; echo err >&2; exit 7").await;
    assert_eq!(
        (o.rc, o.stdout_str().as_str(), o.stderr_str().as_str()),
        (7, "out\n", "err\n")
    );

    let o = c
        .exec(&Cmd {
            script: "cat; printf x".into(),
            stdin: Stdin::Bytes(b"in\n".to_vec()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(o.stdout, b"in\nx");

    let o = sh(&c, "head -c 10485760 /dev/zero | tr '\\0' a; echo done >&2").await;
    assert_eq!(o.stdout.len(), 10 * 1024 * 1024);
    assert!(o.stdout.iter().all(|b| *b == b'a'));
    assert_eq!(o.stderr, b"done\n");

    let o = sh(&c, "kill -9 $$").await;
    assert_eq!(o.rc, -1);
    assert!(o.stderr_str().contains("KILL"), "{}", o.stderr_str());

    // put/get through the trait's default implementations.
    let dest = format!("{}/remote-file", env.dir.display());
    c.put(
        &Stdin::Bytes(b"hello\nworld".to_vec()),
        &dest,
        &PutOpts {
            mode: Some("0640".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(c.get(&dest, None).await.unwrap(), b"hello\nworld");
    let o = sh(&c, &format!("stat -c %a {dest}")).await;
    assert_eq!(o.stdout_str().trim(), "640");
    assert!(c.get("/nonexistent/x", None).await.is_err());

    // A command that ignores a large stdin still finishes with its own status.
    let o = tokio::time::timeout(
        Duration::from_secs(30),
        c.exec(&Cmd {
            script: "exit 3".into(),
            stdin: Stdin::Bytes(vec![b'z'; 16 << 20]),
            ..Default::default()
        }),
    )
    .await
    .expect("no hang when stdin is not read")
    .unwrap();
    assert_eq!(o.rc, 3);

    // A missing local stdin file fails at once (nothing waits for stdin forever).
    let e = tokio::time::timeout(
        Duration::from_secs(10),
        c.exec(&Cmd {
            script: "cat".into(),
            stdin: Stdin::File(env.dir.join("missing")),
            ..Default::default()
        }),
    )
    .await
    .expect("no hang")
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io, "{}", e.render());
    assert_eq!(sh(&c, "echo fine").await.stdout_str(), "fine\n");

    // Latency: as a user whose login shell is /bin/sh when one can be created (a root login
    // shell may source a heavy ~/.bashrc on every command, which is not the transport's cost).
    let user = TempUser::create(None);
    let (lc, who) = match &user {
        Some(u) => {
            let lc = ssh::connect(
                "t",
                &vars(&srv, &u.name, Some(&srv.client_key)),
                &env.opts(HostKeyChecking::Strict),
            )
            .await
            .unwrap();
            (lc, "a /bin/sh user")
        }
        None => (root_conn(&srv, &env).await, "root"),
    };
    let t0 = Instant::now();
    for _ in 0..100 {
        let o = sh(&lc, "true").await;
        assert_eq!(o.rc, 0);
    }
    let per = t0.elapsed() / 100;
    eprintln!(
        "latency: {:.2} ms per exec over one connection (100 sequential `true` as {who})",
        per.as_secs_f64() * 1000.0
    );
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_streams_a_200mb_file() {
    if sshd::skip("stdin_streams_a_200mb_file") {
        return;
    }
    let srv = Sshd::start_default();
    let env = Env::new();
    let c = root_conn(&srv, &env).await;
    let path = env.dir.join("big.bin");
    let mut hasher = sha2::Sha256::new();
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut block = vec![0u8; 1 << 20];
        for i in 0..200u32 {
            for (j, b) in block.iter_mut().enumerate() {
                *b = (j as u32).wrapping_mul(31).wrapping_add(i) as u8;
            }
            hasher.update(&block);
            f.write_all(&block).unwrap();
        }
    }
    let want = format!("{:x}", hasher.finalize());
    let t0 = Instant::now();
    let o = c
        .exec(&Cmd {
            script: "sha256sum | cut -d' ' -f1".into(),
            stdin: Stdin::File(path.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "stdin streaming: 200 MB in {secs:.2} s = {:.1} MB/s",
        200.0 / secs
    );
    assert_eq!(o.rc, 0, "{}", o.stderr_str());
    assert_eq!(o.stdout_str().trim(), want);

    // And back: 200 MB of stdout, checked byte for byte.
    let t0 = Instant::now();
    let o = sh(&c, &format!("cat {}", path.display())).await;
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "stdout streaming: 200 MB in {secs:.2} s = {:.1} MB/s",
        200.0 / secs
    );
    assert_eq!(o.rc, 0);
    assert_eq!(format!("{:x}", sha2::Sha256::digest(&o.stdout)), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_execs_under_max_sessions() {
    if sshd::skip("fifty_concurrent_execs_under_max_sessions") {
        return;
    }
    let srv = Sshd::start(SshdOpts {
        max_sessions: 10,
        ..Default::default()
    });
    let env = Env::new();
    let c = Arc::new(root_conn(&srv, &env).await);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.exec(&Cmd::new(format!("sleep 0.05; echo {i}"))).await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let o = t
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("exec {i}: {}", e.render()));
        assert_eq!(o.stdout_str().trim(), i.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_types_ed25519_ecdsa_rsa_sha2() {
    if sshd::skip("key_types_ed25519_ecdsa_rsa_sha2") {
        return;
    }
    for (kind, algs) in [
        ("ecdsa", "ecdsa-sha2-nistp256"),
        ("rsa", "rsa-sha2-256"),
        ("rsa", "rsa-sha2-512"),
        ("ed25519", "ssh-ed25519"),
    ] {
        let srv = Sshd::start(SshdOpts {
            extra: format!("PubkeyAcceptedAlgorithms {algs}\n"),
            ..Default::default()
        });
        let env = Env::new();
        env.trust(&srv);
        let key = sshd::keygen(&env.dir, &format!("id_{kind}"), kind, "");
        srv.authorize(&key);
        let c = ssh::connect(
            "t",
            &vars(&srv, "root", Some(&key)),
            &env.opts(HostKeyChecking::Strict),
        )
        .await
        .unwrap_or_else(|e| panic!("{kind}/{algs}: {}", e.render()));
        assert_eq!(
            sh(&c, "echo ok").await.stdout_str(),
            "ok\n",
            "{kind}/{algs}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_key_without_tty_is_a_clear_error() {
    if sshd::skip("encrypted_key_without_tty_is_a_clear_error") {
        return;
    }
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprintln!(
            "SKIP: encrypted_key_without_tty_is_a_clear_error: stdin is a terminal (the test would prompt)"
        );
        return;
    }
    let srv = Sshd::start_default();
    let env = Env::new();
    env.trust(&srv);
    let key = sshd::keygen(&env.dir, "id_enc", "ed25519", "secret-passphrase");
    srv.authorize(&key);
    let e = ssh::connect(
        "t",
        &vars(&srv, "root", Some(&key)),
        &env.opts(HostKeyChecking::Strict),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert!(
        e.msg.contains("is encrypted") && e.msg.contains("ssh-add"),
        "{}",
        e.msg
    );
    assert!(!e.msg.contains("secret-passphrase"));
    assert_eq!(e.host.as_deref(), Some("t"));

    // A key file that was asked for but is missing is named in the error.
    let missing = env.dir.join("no_such_key");
    let e = ssh::connect(
        "t",
        &vars(&srv, "root", Some(&missing)),
        &env.opts(HostKeyChecking::Strict),
    )
    .await
    .unwrap_err();
    assert!(e.msg.contains("no_such_key: no such file"), "{}", e.msg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_hosts_policies() {
    if sshd::skip("known_hosts_policies") {
        return;
    }
    let srv = Sshd::start_default();
    let env = Env::new();
    let v = vars(&srv, "root", Some(&srv.client_key));

    // Unknown host under strict: refused with the way to accept it.
    let e = ssh::connect("t", &v, &env.opts(HostKeyChecking::Strict))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert!(
        e.msg.contains("not known") && e.msg.contains("SHA256:"),
        "{}",
        e.render()
    );
    let hint = e.hint.clone().unwrap_or_default();
    assert!(
        hint.contains("ssh-keyscan -H -p") && hint.contains("accept-new"),
        "{hint}"
    );

    // accept-new learns; strict then verifies.
    let c = ssh::connect("t", &v, &env.opts(HostKeyChecking::AcceptNew))
        .await
        .unwrap();
    drop(c);
    let text = std::fs::read_to_string(&env.kh).unwrap();
    assert!(text.starts_with(&srv.kh_name()), "{text}");
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let l2 = log.clone();
    let mut o = env.opts(HostKeyChecking::Strict);
    o.log = Some(Arc::new(move |s| l2.lock().unwrap().push(s)));
    let c = ssh::connect("t", &v, &o).await.unwrap();
    assert_eq!(sh(&c, "echo hi").await.stdout_str(), "hi\n");
    let joined = log.lock().unwrap().join("\n");
    assert!(
        joined.contains("verified") && joined.contains("known_hosts:1"),
        "{joined}"
    );
    assert!(joined.contains("exec on root@127.0.0.1"), "{joined}");

    // Changed key: refused under every policy, naming the fingerprint and file:line.
    let other = sshd::keygen(&env.dir, "other_host", "ed25519", "");
    let other_pub = std::fs::read_to_string(format!("{}.pub", other.display())).unwrap();
    let mut w = other_pub.split_whitespace();
    let line = format!(
        "# comment\n{} {} {}\n",
        srv.kh_name(),
        w.next().unwrap(),
        w.next().unwrap()
    );
    std::fs::write(&env.kh, &line).unwrap();
    let real_fp = fingerprint(&srv.dir.join("host_ed25519.pub"));
    for p in [
        HostKeyChecking::Strict,
        HostKeyChecking::AcceptNew,
        HostKeyChecking::Off,
    ] {
        let e = ssh::connect("t", &v, &env.opts(p)).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unreachable);
        assert!(e.msg.contains("HOST KEY CHANGED"), "{}", e.msg);
        assert!(e.msg.contains(&real_fp), "{} lacks {real_fp}", e.msg);
        assert!(
            e.msg.contains(&format!("{}:2", env.kh.display())),
            "{}",
            e.msg
        );
        assert!(e.msg.contains("ssh-ed25519"), "{}", e.msg);
    }
    assert_eq!(
        std::fs::read_to_string(&env.kh).unwrap(),
        line,
        "known_hosts must not change"
    );

    // Off: unknown host accepted, nothing written.
    std::fs::write(&env.kh, "").unwrap();
    ssh::connect("t", &v, &env.opts(HostKeyChecking::Off))
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&env.kh).unwrap(), "");

    // Hashed entry (ssh-keygen -H) matches.
    std::fs::write(&env.kh, srv.known_hosts_line()).unwrap();
    let st = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&env.kh)
        .output()
        .unwrap();
    assert!(st.status.success());
    let hashed = std::fs::read_to_string(&env.kh).unwrap();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    ssh::connect("t", &v, &env.opts(HostKeyChecking::Strict))
        .await
        .unwrap();

    // Wildcard pattern with a negation and a comma list.
    std::fs::write(
        &env.kh,
        format!("!10.*,[127.0.0.?]:{} {}\n", srv.port, srv.host_pub()),
    )
    .unwrap();
    ssh::connect("t", &v, &env.opts(HostKeyChecking::Strict))
        .await
        .unwrap();

    // @revoked is refused even with a trusted line.
    std::fs::write(
        &env.kh,
        format!(
            "{}@revoked {}",
            srv.known_hosts_line(),
            srv.known_hosts_line()
        ),
    )
    .unwrap();
    let e = ssh::connect("t", &v, &env.opts(HostKeyChecking::Off))
        .await
        .unwrap_err();
    assert!(
        e.msg.contains("@revoked") && e.msg.contains(":2"),
        "{}",
        e.msg
    );
}

fn fingerprint(pubfile: &Path) -> String {
    let o = std::process::Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(pubfile)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_accept_new_keeps_known_hosts_well_formed() {
    if sshd::skip("concurrent_accept_new_keeps_known_hosts_well_formed") {
        return;
    }
    // sshd listens on at most 16 sockets: two servers with ten loopback addresses each.
    let listen: Vec<String> = (2..=11).map(|i| format!("127.0.0.{i}")).collect();
    let srvs = [
        Sshd::start(SshdOpts {
            listen: listen.clone(),
            ..Default::default()
        }),
        Sshd::start(SshdOpts {
            listen: listen.clone(),
            ..Default::default()
        }),
    ];
    let srv = &srvs[0];
    let env = Env::new();
    std::fs::write(&env.kh, "# existing, no trailing newline").unwrap();
    let mut tasks = Vec::new();
    for s in &srvs {
        for a in &listen {
            let mut v = vars(s, "root", Some(&s.client_key));
            v.insert("ansible_host".into(), Value::from(a.as_str()));
            let o = env.opts(HostKeyChecking::AcceptNew);
            let a = a.clone();
            tasks.push(tokio::spawn(async move {
                let c = ssh::connect(&a, &v, &o).await?;
                c.exec(&Cmd::new("true")).await
            }));
        }
    }
    for t in tasks {
        t.await
            .unwrap()
            .unwrap_or_else(|e| panic!("{}", e.render()));
    }
    let text = std::fs::read_to_string(&env.kh).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 21, "{text}");
    for s in &srvs {
        let hp = s.host_pub();
        for a in &listen {
            let want = format!("[{a}]:{} {hp}", s.port);
            assert_eq!(
                lines.iter().filter(|l| **l == want).count(),
                1,
                "{want} in\n{text}"
            );
        }
    }
    // Every learned entry verifies under strict.
    for a in &listen[..3] {
        let mut v = vars(srv, "root", Some(&srv.client_key));
        v.insert("ansible_host".into(), Value::from(a.as_str()));
        ssh::connect(a, &v, &env.opts(HostKeyChecking::Strict))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_auth_and_sudo_become() {
    if sshd::skip("password_auth_and_sudo_become") {
        return;
    }
    let Some(user) = TempUser::create(Some(false)) else {
        eprintln!("SKIP: password_auth_and_sudo_become: cannot create a user");
        return;
    };
    let srv = Sshd::start_default();
    let env = Env::new();
    env.trust(&srv);
    let mut v = vars(&srv, &user.name, None);

    // Wrong password: auth failure lists the methods, never the password.
    v.insert("ansible_password".into(), Value::from("wrong-pass-123"));
    let e = ssh::connect("t", &v, &env.opts(HostKeyChecking::Strict))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert!(
        e.msg.contains("authentication failed") && e.msg.contains("password (rejected)"),
        "{}",
        e.msg
    );
    assert!(!e.msg.contains("wrong-pass-123"));

    v.insert(
        "ansible_password".into(),
        Value::from(user.password.as_str()),
    );
    let c = ssh::connect("t", &v, &env.opts(HostKeyChecking::Strict))
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.render(), srv.log()));
    assert_eq!(sh(&c, "id -un").await.stdout_str().trim(), user.name);

    if !Path::new("/usr/bin/sudo").exists() {
        eprintln!("SKIP: sudo part: sudo is not installed");
        return;
    }
    let become_ = |pw: &str| Become {
        method: BecomeMethod::Sudo,
        user: "root".into(),
        password: Some(Secret::new(pw)),
        flags: None,
        exe: None,
        chdir: None,
    };
    // Correct password; stdin reaches the command intact.
    let o = c
        .exec(&Cmd {
            script: "id -u; cat".into(),
            stdin: Stdin::Bytes(b"payload\n".to_vec()),
            become_: Some(become_(&user.password)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(o.rc, 0, "{}", o.stderr_str());
    assert_eq!(o.stdout_str(), "0\npayload\n");
    assert!(!o.stderr_str().contains("prov-sudo"), "{}", o.stderr_str());
    assert!(!o.stdout_str().contains(&user.password));

    // Wrong password: fails fast with a clear message, no hang, no password in it.
    let t0 = Instant::now();
    let e = tokio::time::timeout(
        Duration::from_secs(30),
        c.exec(&Cmd {
            script: "id -u".into(),
            become_: Some(become_("not-the-password")),
            ..Default::default()
        }),
    )
    .await
    .expect("wrong sudo password must not hang")
    .unwrap_err();
    eprintln!("wrong sudo password detected in {:?}", t0.elapsed());
    assert!(e.msg.contains("Incorrect sudo password"), "{}", e.msg);
    assert!(!e.msg.contains("not-the-password"));

    // The connection is still fine afterwards.
    assert_eq!(sh(&c, "echo still").await.stdout_str(), "still\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sudo_nopasswd_does_not_eat_stdin() {
    if sshd::skip("sudo_nopasswd_does_not_eat_stdin") {
        return;
    }
    if !Path::new("/usr/bin/sudo").exists() {
        eprintln!("SKIP: sudo_nopasswd_does_not_eat_stdin: sudo is not installed");
        return;
    }
    let Some(user) = TempUser::create(Some(true)) else {
        eprintln!("SKIP: sudo_nopasswd_does_not_eat_stdin: cannot create a user");
        return;
    };
    let srv = Sshd::start_default();
    let env = Env::new();
    env.trust(&srv);
    let mut v = vars(&srv, &user.name, None);
    v.insert(
        "ansible_password".into(),
        Value::from(user.password.as_str()),
    );
    let c = ssh::connect("t", &v, &env.opts(HostKeyChecking::Strict))
        .await
        .unwrap();
    let o = c
        .exec(&Cmd {
            script: "id -u; cat".into(),
            stdin: Stdin::Bytes(b"line1\nline2\n".to_vec()),
            become_: Some(Become {
                method: BecomeMethod::Sudo,
                user: "root".into(),
                password: Some(Secret::new(user.password.clone())),
                flags: None,
                exe: None,
                chdir: None,
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(o.rc, 0, "{}", o.stderr_str());
    assert_eq!(o.stdout_str(), "0\nline1\nline2\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_jump_through_a_second_sshd() {
    if sshd::skip("proxy_jump_through_a_second_sshd") {
        return;
    }
    let target = Sshd::start_default();
    let jump = Sshd::start_default();
    let env = Env::new();
    env.trust(&target);
    env.trust(&jump);
    // The jump host authorizes the same client key as the target.
    jump.authorize(&target.client_key);
    std::fs::write(
        &env.cfg,
        format!(
            "Host bastion\n  HostName 127.0.0.1\n  Port {}\n  User root\n",
            jump.port
        ),
    )
    .unwrap();
    let mut v = vars(&target, "root", Some(&target.client_key));
    v.insert(
        "ansible_ssh_common_args".into(),
        Value::from("-o ProxyJump=bastion"),
    );
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let l2 = log.clone();
    let mut o = env.opts(HostKeyChecking::Strict);
    o.log = Some(Arc::new(move |s| l2.lock().unwrap().push(s)));
    let c = ssh::connect("t", &v, &o)
        .await
        .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(sh(&c, "echo via-jump").await.stdout_str(), "via-jump\n");
    let joined = log.lock().unwrap().join("\n");
    assert!(
        joined.contains(&format!(
            "connecting to jump host root@127.0.0.1:{}",
            jump.port
        )),
        "{joined}"
    );
    assert!(joined.contains("opening a tunnel"), "{joined}");
    // The target's session comes through the tunnel: sshd sees a forwarded connection.
    let o = sh(&c, "echo $SSH_CONNECTION").await;
    assert!(
        o.stdout_str().contains(&target.port.to_string()),
        "{}",
        o.stdout_str()
    );

    // Same through -J in the extra args, with an explicit user@host:port hop.
    let mut v = vars(&target, "root", Some(&target.client_key));
    v.insert(
        "ansible_ssh_extra_args".into(),
        Value::from(format!("-J root@127.0.0.1:{}", jump.port)),
    );
    let c = ssh::connect("t", &v, &env.opts(HostKeyChecking::Strict))
        .await
        .unwrap();
    assert_eq!(sh(&c, "echo ok").await.stdout_str(), "ok\n");

    // A chain of two jump hosts: the second is reached through the first.
    let jump2 = Sshd::start_default();
    jump2.authorize(&target.client_key);
    env.trust(&jump2);
    let mut v = vars(&target, "root", Some(&target.client_key));
    v.insert(
        "ansible_ssh_common_args".into(),
        Value::from(format!(
            "-o ProxyJump=bastion,root@127.0.0.1:{}",
            jump2.port
        )),
    );
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let l2 = log.clone();
    let mut o = env.opts(HostKeyChecking::Strict);
    o.log = Some(Arc::new(move |s| l2.lock().unwrap().push(s)));
    let c = ssh::connect("t", &v, &o)
        .await
        .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(sh(&c, "echo two-hops").await.stdout_str(), "two-hops\n");
    let joined = log.lock().unwrap().join("\n");
    assert_eq!(joined.matches("opening a tunnel").count(), 2, "{joined}");

    // ProxyCommand through OpenSSH's own client (`ssh -W %h:%p`), the usual Ansible idiom.
    let mut pv = vars(&target, "root", Some(&target.client_key));
    pv.insert(
        "ansible_ssh_common_args".into(),
        Value::from(format!(
            "-o ProxyCommand=\"ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no \
             -o UserKnownHostsFile=/dev/null -i {} -p {} -W %h:%p root@127.0.0.1\"",
            target.client_key.display(),
            jump.port
        )),
    );
    let c = ssh::connect("t", &pv, &env.opts(HostKeyChecking::Strict))
        .await
        .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(sh(&c, "echo proxied").await.stdout_str(), "proxied\n");
    // A failing ProxyCommand: unreachable, with what it printed.
    let mut pv = vars(&target, "root", Some(&target.client_key));
    pv.insert(
        "ansible_ssh_common_args".into(),
        Value::from("-o 'ProxyCommand=echo no route to %h >&2; exit 1'"),
    );
    let e = ssh::connect("t", &pv, &env.opts(HostKeyChecking::Strict))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert!(e.msg.contains("no route to 127.0.0.1"), "{}", e.msg);

    // A dead jump host is reported as unreachable, naming it.
    drop(jump2);
    let e = ssh::connect("t", &v, &env.opts(HostKeyChecking::Strict))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert!(e.msg.contains("jump host"), "{}", e.msg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_errors_name_the_cause() {
    if sshd::skip("unreachable_errors_name_the_cause") {
        return;
    }
    let env = Env::new();
    let o = env.opts(HostKeyChecking::Off);
    let mk = |host: &str, port: u16| {
        let mut v = Vars::new();
        v.insert("ansible_host".into(), Value::from(host));
        v.insert("ansible_port".into(), Value::from(port));
        v.insert("ansible_user".into(), Value::from("root"));
        v
    };
    // Refused.
    let port = sshd::free_port();
    let e = ssh::connect("h1", &mk("127.0.0.1", port), &o)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert!(e.msg.contains("refused"), "{}", e.msg);
    assert_eq!(e.host.as_deref(), Some("h1"));
    // DNS.
    let e = ssh::connect("h2", &mk("no-such-host.invalid", 22), &o)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert!(
        e.msg.contains("resolve") && e.msg.contains("no-such-host.invalid"),
        "{}",
        e.msg
    );
    // Timeout: a listener that never speaks SSH.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lp = l.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut keep = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            keep.push(s);
        }
    });
    let mut v = mk("127.0.0.1", lp);
    v.insert("ansible_ssh_timeout".into(), Value::from(1));
    let t0 = Instant::now();
    let e = ssh::connect("h3", &v, &o).await.unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert!(e.msg.contains("timed out"), "{}", e.msg);
    hold.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connection_then_transparent_reconnect() {
    if sshd::skip("lost_connection_then_transparent_reconnect") {
        return;
    }
    let mut srv = Sshd::start_default();
    let env = Env::new();
    let c = Arc::new(root_conn(&srv, &env).await);
    assert_eq!(sh(&c, "echo before").await.stdout_str(), "before\n");
    let c2 = c.clone();
    let running = tokio::spawn(async move { c2.exec(&Cmd::new("echo started; sleep 30")).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    srv.kill();
    let e = tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("a lost connection must not hang")
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert!(e.msg.contains("lost"), "{}", e.msg);
    // While the server is down: the reconnect fails with the real cause.
    let e = c.exec(&Cmd::new("true")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert!(e.msg.contains("refused"), "{}", e.msg);
    // Server back: the next exec reconnects transparently.
    srv.restart();
    assert_eq!(sh(&c, "echo after").await.stdout_str(), "after\n");
    // A server restart between commands is also invisible.
    srv.restart();
    assert_eq!(sh(&c, "echo again").await.stdout_str(), "again\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_execs_release_their_channels() {
    if sshd::skip("cancelled_execs_release_their_channels") {
        return;
    }
    let srv = Sshd::start(SshdOpts {
        max_sessions: 2,
        ..Default::default()
    });
    let env = Env::new();
    env.trust(&srv);
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let l2 = log.clone();
    let mut o = env.opts(HostKeyChecking::Strict);
    o.max_sessions = 2;
    o.log = Some(Arc::new(move |s| l2.lock().unwrap().push(s)));
    let c = Arc::new(
        ssh::connect("t", &vars(&srv, "root", Some(&srv.client_key)), &o)
            .await
            .unwrap(),
    );
    // Cancelled while stdin is still streaming: without an explicit EOF/close the remote `cat`
    // would wait forever and hold a session slot.
    for _ in 0..2 {
        let cmd = Cmd {
            script: "sleep 0.5; cat > /dev/null".into(),
            stdin: Stdin::Bytes(vec![b'x'; 64 << 20]),
            ..Default::default()
        };
        let r = tokio::time::timeout(Duration::from_millis(300), c.exec(&cmd)).await;
        assert!(r.is_err(), "the exec should have been cancelled");
    }
    let mut tasks = Vec::new();
    for i in 0..4 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.exec(&Cmd::new(format!("echo {i}"))).await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let o = t
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{}", e.render()));
        assert_eq!(o.stdout_str().trim(), i.to_string());
    }
    let joined = log.lock().unwrap().join("\n");
    assert!(!joined.contains("reconnect"), "{joined}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_agent_keys_including_rsa_sha2() {
    if sshd::skip("ssh_agent_keys_including_rsa_sha2") {
        return;
    }
    if std::process::Command::new("ssh-agent")
        .arg("-h")
        .output()
        .is_err()
    {
        eprintln!("SKIP: ssh_agent_keys_including_rsa_sha2: ssh-agent is not installed");
        return;
    }
    let srv = Sshd::start(SshdOpts {
        extra: "PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256\n".into(),
        ..Default::default()
    });
    let env = Env::new();
    env.trust(&srv);
    let key = sshd::keygen(&env.dir, "agent_rsa", "rsa", "");
    srv.authorize(&key);
    let sock = env.dir.join("agent.sock");
    let agent = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _agent = KillOnDrop(agent);
    let t0 = Instant::now();
    while !sock.exists() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let added = std::process::Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    // Only the agent holds the key from here on.
    std::fs::remove_file(&key).unwrap();

    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let l2 = log.clone();
    let mut o = env.opts(HostKeyChecking::Strict);
    o.use_agent = true;
    o.agent_socket = Some(sock.clone());
    o.log = Some(Arc::new(move |s| l2.lock().unwrap().push(s)));
    let r = ssh::connect("t", &vars(&srv, "root", None), &o).await;
    let joined = log.lock().unwrap().join("\n");
    let c = r.unwrap_or_else(|e| panic!("{}\n{joined}", e.render()));
    assert_eq!(sh(&c, "echo agent").await.stdout_str(), "agent\n");
    assert!(
        joined.contains("authenticated with agent key ssh-rsa"),
        "{joined}"
    );

    // IdentitiesOnly turns the agent off.
    std::fs::write(&env.cfg, "Host *\n  IdentitiesOnly yes\n").unwrap();
    let e = ssh::connect("t", &vars(&srv, "root", None), &o)
        .await
        .unwrap_err();
    assert!(e.msg.contains("authentication failed"), "{}", e.msg);
}

/// Kills a child process (by its id) when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_config_alias_drives_the_connection() {
    if sshd::skip("ssh_config_alias_drives_the_connection") {
        return;
    }
    if std::env::var_os("PROV_HOST_KEY_CHECKING").is_some()
        || std::env::var_os("ANSIBLE_HOST_KEY_CHECKING").is_some()
    {
        eprintln!(
            "SKIP: ssh_config_alias_drives_the_connection: host key checking is set in the environment"
        );
        return;
    }
    let srv = Sshd::start_default();
    let env = Env::new();
    let kh2 = env.dir.join("kh-from-config");
    std::fs::create_dir_all(env.dir.join("conf.d")).unwrap();
    std::fs::write(
        env.dir.join("conf.d/alias.conf"),
        format!(
            "Host myalias !other\n  HostName 127.0.0.1\n  Port {}\n  User root\n  IdentityFile {}\n\
             UserKnownHostsFile {}\n  StrictHostKeyChecking accept-new\n  ConnectTimeout 5\n",
            srv.port,
            srv.client_key.display(),
            kh2.display()
        ),
    )
    .unwrap();
    std::fs::write(
        &env.cfg,
        format!(
            "Include {}/conf.d/*.conf\nHost *\n  Port 1\n",
            env.dir.display()
        ),
    )
    .unwrap();
    let opts = SshOptions {
        ssh_config: Some(env.cfg.clone()),
        use_agent: false,
        default_keys: false,
        ..Default::default()
    };
    let mut v = Vars::new();
    v.insert("ansible_host".into(), Value::from("myalias"));
    let c = ssh::connect("inv-name", &v, &opts)
        .await
        .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(c.target(), format!("root@127.0.0.1:{}", srv.port));
    assert_eq!(sh(&c, "echo cfg").await.stdout_str(), "cfg\n");
    let learned = std::fs::read_to_string(&kh2).unwrap();
    assert!(learned.starts_with(&srv.kh_name()), "{learned}");
    // Inventory values win over ssh_config: a wrong port from the inventory is used.
    v.insert("ansible_port".into(), Value::from(sshd::free_port()));
    let e = ssh::connect("inv-name", &v, &opts).await.unwrap_err();
    assert!(e.msg.contains("refused"), "{}", e.msg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sudo_times_out_instead_of_hanging() {
    if sshd::skip("silent_sudo_times_out_instead_of_hanging") {
        return;
    }
    let Some(user) = TempUser::create(None) else {
        eprintln!("SKIP: silent_sudo_times_out_instead_of_hanging: cannot create a user");
        return;
    };
    // A `sudo` first on the user's PATH that never prompts nor runs anything.
    let home = PathBuf::from(format!("/home/{}", user.name));
    std::fs::create_dir_all(home.join("bin")).unwrap();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(
        home.join("bin/sudo"),
        "#!/bin/sh\necho 'fake sudo waiting' >&2\nexec sleep 30\n",
    )
    .unwrap();
    std::fs::set_permissions(
        home.join("bin/sudo"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(
        home.join(".ssh/environment"),
        format!("PATH={}/bin:/usr/bin:/bin\n", home.display()),
    )
    .unwrap();
    let srv = Sshd::start(SshdOpts {
        extra: "PermitUserEnvironment yes\n".into(),
        ..Default::default()
    });
    let env = Env::new();
    env.trust(&srv);
    let mut v = vars(&srv, &user.name, None);
    v.insert(
        "ansible_password".into(),
        Value::from(user.password.as_str()),
    );
    let mut o = env.opts(HostKeyChecking::Strict);
    o.become_timeout = Some(Duration::from_secs(2));
    let c = ssh::connect("t", &v, &o).await.unwrap();
    let t0 = Instant::now();
    let e = tokio::time::timeout(
        Duration::from_secs(20),
        c.exec(&Cmd {
            script: "id -u".into(),
            become_: Some(Become {
                method: BecomeMethod::Sudo,
                user: "root".into(),
                password: Some(Secret::new("pw-never-shown")),
                flags: None,
                exe: None,
                chdir: None,
            }),
            ..Default::default()
        }),
    )
    .await
    .expect("a silent sudo must not hang")
    .unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(
        e.msg.contains("within 2s") && e.msg.contains("fake sudo waiting"),
        "{}",
        e.msg
    );
    assert!(!e.msg.contains("pw-never-shown"));
    // The connection still works.
    assert_eq!(sh(&c, "echo ok").await.stdout_str(), "ok\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_host_key_type_is_preferred() {
    if sshd::skip("known_host_key_type_is_preferred") {
        return;
    }
    // The server has ed25519 and ecdsa host keys; known_hosts only holds the ecdsa one. Like
    // OpenSSH, prov must ask for the known type instead of failing on the preferred ed25519.
    let env = Env::new();
    let ecdsa = sshd::keygen(&env.dir, "host_ecdsa", "ecdsa", "");
    let srv = Sshd::start(SshdOpts {
        extra: format!("HostKey {}\n", ecdsa.display()),
        ..Default::default()
    });
    let p = std::fs::read_to_string(format!("{}.pub", ecdsa.display())).unwrap();
    let mut w = p.split_whitespace();
    std::fs::write(
        &env.kh,
        format!(
            "{} {} {}\n",
            srv.kh_name(),
            w.next().unwrap(),
            w.next().unwrap()
        ),
    )
    .unwrap();
    let c = ssh::connect(
        "t",
        &vars(&srv, "root", Some(&srv.client_key)),
        &env.opts(HostKeyChecking::Strict),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(sh(&c, "echo ok").await.stdout_str(), "ok\n");
}

/// Runs inside a pseudo-terminal (started by `encrypted_key_asks_for_passphrase_on_a_tty`).
#[tokio::test]
#[ignore = "run by encrypted_key_asks_for_passphrase_on_a_tty inside a pty"]
async fn tty_passphrase_inner() {
    let (Ok(port), Ok(key), Ok(kh), Ok(cfg)) = (
        std::env::var("PROV_TTY_TEST_PORT"),
        std::env::var("PROV_TTY_TEST_KEY"),
        std::env::var("PROV_TTY_TEST_KH"),
        std::env::var("PROV_TTY_TEST_CFG"),
    ) else {
        return;
    };
    let mut v = Vars::new();
    v.insert("ansible_host".into(), Value::from("127.0.0.1"));
    v.insert("ansible_port".into(), Value::from(port.as_str()));
    v.insert("ansible_user".into(), Value::from("root"));
    v.insert(
        "ansible_ssh_private_key_file".into(),
        Value::from(key.as_str()),
    );
    let o = SshOptions {
        host_key_checking: Some(HostKeyChecking::Strict),
        known_hosts: Some(kh.into()),
        ssh_config: Some(cfg.into()),
        use_agent: false,
        default_keys: false,
        ..Default::default()
    };
    for _ in 0..2 {
        let c = ssh::connect("t", &v, &o)
            .await
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let out = c.exec(&Cmd::new("echo TTY-''OK")).await.unwrap();
        println!("{}", out.stdout_str().trim());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_key_asks_for_passphrase_on_a_tty() {
    if sshd::skip("encrypted_key_asks_for_passphrase_on_a_tty") {
        return;
    }
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIP: encrypted_key_asks_for_passphrase_on_a_tty: `script` (util-linux) is not installed"
        );
        return;
    }
    let srv = Sshd::start_default();
    let env = Env::new();
    env.trust(&srv);
    let key = sshd::keygen(&env.dir, "id_tty", "ed25519", "tty-pass-123");
    srv.authorize(&key);
    let exe = std::env::current_exe().unwrap();
    let inner = format!(
        "{} --exact tty_passphrase_inner --ignored --nocapture --test-threads=1",
        prov::connection::quote(&exe.display().to_string())
    );
    let mut child = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .env("PROV_TTY_TEST_PORT", srv.port.to_string())
        .env("PROV_TTY_TEST_KEY", &key)
        .env("PROV_TTY_TEST_KH", &env.kh)
        .env("PROV_TTY_TEST_CFG", &env.cfg)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let out = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut stdout = child.stdout.take().unwrap();
    let o2 = out.clone();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            o2.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let t0 = Instant::now();
    let text = || String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
    while !text().contains("Enter passphrase for key") {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no prompt; output:\n{}",
            text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"tty-pass-123\n").unwrap();
        stdin.flush().unwrap();
        // Keep the pty's input open until the inner test is done.
        let st = child.wait().unwrap();
        drop(stdin);
        reader.join().unwrap();
        let t = text();
        assert!(st.success(), "inner test failed:\n{t}");
        assert_eq!(t.matches("TTY-OK").count(), 2, "{t}");
        assert_eq!(
            t.matches("Enter passphrase").count(),
            1,
            "asked more than once:\n{t}"
        );
        assert!(
            !t.contains("tty-pass-123"),
            "the passphrase was echoed:\n{t}"
        );
    }
}

/// A connection to `srv` as root whose transport log is collected.
async fn connect_logged(srv: &Sshd, env: &Env) -> (SshConnection, Arc<Mutex<Vec<String>>>) {
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = log.clone();
    env.trust(srv);
    let c = ssh::connect(
        "t",
        &vars(srv, "root", Some(&srv.client_key)),
        &SshOptions {
            log: Some(Arc::new(move |m| l.lock().unwrap().push(m))),
            ..env.opts(HostKeyChecking::Strict)
        },
    )
    .await
    .unwrap();
    (c, log)
}

/// Probes (prov's read-only inspections) run on a shell the connection keeps open: same
/// stdout, stderr and status as a session of their own, nothing leaks from one probe to the
/// next, stdin is empty, a probe running meanwhile uses a session of its own, and a probe
/// whose shell died is run again on a new session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_run_on_a_kept_shell() {
    if sshd::skip("probes_run_on_a_kept_shell") {
        return;
    }
    let srv = Sshd::start_default();
    let env = Env::new();
    let (c, log) = connect_logged(&srv, &env).await;
    let probe = |script: &str| Cmd {
        script: script.into(),
        probe: true,
        ..Default::default()
    };
    for script in [
        "echo out; echo err >&2; exit 7",
        "printf 'no newline'; printf 'e' >&2",
        "cd /tmp && pwd; X=1; export X; cat; echo \"x=${X:-}\"",
        "echo \"x=${X:-unset}\"; pwd",
        "exit 0",
        "set -e; false; echo not reached",
        "head -c 300000 /dev/zero | tr '\\0' a; echo",
    ] {
        let p = c.exec(&probe(script)).await.unwrap();
        let s = c.exec(&Cmd::new(script)).await.unwrap();
        assert_eq!(
            (p.rc, p.stdout_str(), p.stderr_str()),
            (s.rc, s.stdout_str(), s.stderr_str()),
            "{script}"
        );
    }
    let opened = |log: &Arc<Mutex<Vec<String>>>| {
        log.lock()
            .unwrap()
            .iter()
            .filter(|m| m.starts_with("opened a probe shell"))
            .count()
    };
    assert_eq!(opened(&log), 1, "{:?}", log.lock().unwrap());
    // Several probes at once: one uses the shell, the others sessions of their own.
    let c = Arc::new(c);
    let futs = (0..5).map(|i| {
        let c = c.clone();
        async move {
            c.exec(&probe(&format!("sleep 0.2; echo {i}")))
                .await
                .unwrap()
        }
    });
    let outs = futures::future::join_all(futs).await;
    for (i, o) in outs.iter().enumerate() {
        assert_eq!(o.stdout_str(), format!("{i}\n"));
    }
    // The shell dies while running a probe (`$$` is the shell in a probe): the probe runs
    // again on a session of its own.
    let mark = env.dir.join("killed").display().to_string();
    let o = c
        .exec(&probe(&format!(
            "if [ -e {mark} ]; then echo again; else touch {mark}; kill -9 $$; fi"
        )))
        .await
        .unwrap();
    assert_eq!(o.stdout_str(), "again\n");
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|m| m.contains("the kept shell") && m.contains("failed")),
        "{:?}",
        log.lock().unwrap()
    );
    let o = c.exec(&probe("echo fine")).await.unwrap();
    assert_eq!(o.stdout_str(), "fine\n");
}

/// User commands whose semantics allow it (`Cmd::kept`) run on the kept shell too: the same
/// status, stdout and stderr as on a session of their own, with the task's environment and
/// folder, stdin empty; and a command whose shell dies while it runs fails as a lost
/// connection does, without being run a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_commands_run_on_the_kept_shell_once() {
    if sshd::skip("user_commands_run_on_the_kept_shell_once") {
        return;
    }
    let srv = Sshd::start_default();
    let env = Env::new();
    let (c, log) = connect_logged(&srv, &env).await;
    let user = |script: &str, kept: bool| Cmd {
        script: script.into(),
        env: vec![("GREETING".into(), "hi there".into())],
        chdir: Some("/tmp".into()),
        kept,
        ..Default::default()
    };
    for script in [
        "echo out; echo err >&2; exit 7",
        "printf 'no newline'; printf 'e' >&2",
        "pwd; echo \"$GREETING\"; cat; echo \"job=${PROV_JOB:+set}\"",
        "set -e; false; echo not reached",
        "head -c 300000 /dev/zero | tr '\\0' a; echo",
    ] {
        let k = c.exec(&user(script, true)).await.unwrap();
        let s = c.exec(&user(script, false)).await.unwrap();
        assert_eq!(
            (k.rc, k.stdout_str(), k.stderr_str()),
            (s.rc, s.stdout_str(), s.stderr_str()),
            "{script}"
        );
    }
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|m| m.starts_with("exec on") && m.contains("(shell)")),
        "no command ran on the kept shell: {:?}",
        log.lock().unwrap()
    );
    // The kept shell is the command's parent: killing it loses the command's output, and
    // the command is not run again.
    let count = env.dir.join("runs").display().to_string();
    let e = c
        .exec(&user(
            &format!("echo x >> {count}; kill -9 $PPID; sleep 1"),
            true,
        ))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("ended before the command did"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&count).unwrap(), "x\n");
    let o = c.exec(&user("echo fine", true)).await.unwrap();
    assert_eq!(o.stdout_str(), "fine\n");
}

/// The kept shell's `stat` helper (see `connection::statd`): started by the first inline
/// probe that asks for it, answering on descriptors 8 and 9; user commands on the shell see
/// neither the descriptors nor its names; it ends when the connection closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stat_helper_is_private_to_probes_and_ends_with_its_shell() {
    if sshd::skip("the_stat_helper_is_private_to_probes_and_ends_with_its_shell") {
        return;
    }
    if std::process::Command::new("perl")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("SKIP: no perl for the stat helper");
        return;
    }
    let srv = Sshd::start_default();
    let env = Env::new();
    let (c, _log) = connect_logged(&srv, &env).await;
    let inline = |script: &str| Cmd {
        script: script.into(),
        probe: true,
        inline: true,
        ..Default::default()
    };
    let o = c
        .exec(&inline(
            "[ -n \"${PROV_STAT+x}\" ] || prov_statd; echo \"stat=$PROV_STAT\"; \
             printf '/\\n' >&8; IFS= read -r l <&9; echo \"$l\"; unset l; pgrep -P $$ -x perl",
        ))
        .await
        .unwrap();
    let out = o.stdout_str();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("stat=1"), "{out}");
    assert!(lines.next().unwrap().ends_with("|directory|/"), "{out}");
    let pid: u32 = lines.next().unwrap().trim().parse().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    // A user command on the kept shell sees the shell as `sh -c` would start it.
    let o = c
        .exec(&Cmd {
            script: "[ -e /proc/self/fd/8 ] || [ -e /proc/self/fd/9 ] && echo open; \
                     echo \"${PROV_STAT-unset}\"; command -v prov_statd || echo no-function"
                .into(),
            kept: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(o.stdout_str(), "unset\nno-function\n");
    // The same helper answers later probes.
    let o = c
        .exec(&inline("echo \"$PROV_STAT\"; pgrep -P $$ -x perl"))
        .await
        .unwrap();
    assert_eq!(o.stdout_str(), format!("1\n{pid}\n"));
    c.close().await.unwrap();
    let gone = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(gone, "the helper {pid} outlived its connection");
}
