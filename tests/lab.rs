//! Real playbooks over real SSH against the lab hosts (tests/lab/): Debian hosts booted with
//! systemd in their own network namespaces, and 100 sshd processes on loopback.
//!
//! These run only with `PROV_LAB=1` as root (`.ci/run` does that); otherwise each test prints a
//! SKIP line and passes. With PROV_LAB=1 the tests bring the lab up themselves if it is not up
//! (`tests/lab/up.sh 3`, `tests/lab/many.sh 100`); `tests/lab/down.sh` removes it.
//! The tests share the lab, so they take one lock and run one at a time.

mod common;
use common::Project;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

static LOCK: Mutex<()> = Mutex::new(());
static UP: OnceLock<bool> = OnceLock::new();

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn state() -> PathBuf {
    root().join("tests/lab/.state")
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn sh(script: &str) -> (bool, String) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(root())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The lab, brought up once per test binary; `None` (with a SKIP line) when not enabled.
fn lab(test: &str) -> Option<MutexGuard<'static, ()>> {
    if std::env::var_os("PROV_LAB").is_none() || !is_root() {
        eprintln!("SKIP {test}: lab tests need root and PROV_LAB=1 (bash .ci/run sets both)");
        return None;
    }
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let ok = *UP.get_or_init(|| {
        let t = Instant::now();
        let (ok, out) = sh("tests/lab/up.sh 3 && tests/lab/many.sh 100");
        assert!(ok, "the lab did not come up:\n{out}");
        eprintln!("lab up in {:.1} s", t.elapsed().as_secs_f64());
        true
    });
    assert!(ok);
    Some(guard)
}

fn inv() -> String {
    state().join("inventory.yaml").display().to_string()
}

/// Runs prov with a project folder as cwd and returns the run.
fn prov(p: &Project, args: &[&str]) -> common::Run {
    p.prov(args)
}

#[test]
fn facts_modules_converge_and_handlers_over_ssh() {
    let Some(_lab) = lab("facts_modules_converge_and_handlers_over_ssh") else {
        return;
    };
    let p = Project::new("lab-converge");
    p.file("templates/motd.j2", "Hello {{ inventory_hostname }} ({{ ansible_distribution }} {{ ansible_distribution_release }})\n")
        .file(
            "site.yml",
            r#"
- hosts: lab
  vars:
    d: /tmp/prov-lab-converge
  handlers:
    - name: restarted
      shell: date +%s%N > {{ d }}/handler-ran
  tasks:
    - name: facts are right
      assert:
        that:
          - ansible_distribution == 'Debian'
          - ansible_distribution_release == 'bookworm'
          - ansible_default_ipv4.address == ansible_host
          - ansible_hostname == inventory_hostname
          - ansible_facts.service_mgr == 'systemd'
    - file: { path: "{{ d }}", state: directory, mode: "0755" }
    - copy: { dest: "{{ d }}/plain", content: "plain\n", mode: "0600" }
      notify: restarted
    - template: { src: motd.j2, dest: "{{ d }}/motd" }
    - lineinfile: { path: "{{ d }}/conf", line: "x=1", create: true }
    - command: touch {{ d }}/stamp
      args: { creates: "{{ d }}/stamp" }
    - shell: cat {{ d }}/motd || true
      register: motd
      changed_when: false
      check_mode: false
    - assert:
        that: motd.stdout == 'Hello ' ~ inventory_hostname ~ ' (Debian bookworm)'
      when: not ansible_check_mode
"#,
        );
    // Start from bare hosts even if an earlier run of this test stopped half way.
    sh(
        "for h in lab1 lab2 lab3; do ssh -F tests/lab/.state/ssh_config $h rm -rf /tmp/prov-lab-converge /tmp/prov-lab-other; done",
    );
    let t = Instant::now();
    let first = prov(&p, &["run", "site.yml", "-i", &inv()]);
    first.success();
    eprintln!(
        "first run on 3 lab hosts: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    for h in ["lab1", "lab2", "lab3"] {
        assert_eq!(
            first.recap(h)[1],
            6,
            "{h}: 5 changes + handler\n{}",
            first.stdout
        );
    }
    first.stdout_has("RUNNING HANDLER [restarted]");
    let t = Instant::now();
    let second = prov(&p, &["run", "site.yml", "-i", &inv()]);
    second.success().stdout_lacks("RUNNING HANDLER");
    eprintln!(
        "idempotent run on 3 lab hosts: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    for h in ["lab1", "lab2", "lab3"] {
        second.changed(h, 0);
    }
    let diff = prov(
        &p,
        &[
            "run",
            "site.yml",
            "-i",
            &inv(),
            "--check",
            "--diff",
            "-e",
            "d=/tmp/prov-lab-other",
        ],
    );
    diff.success().stdout_has("+Hello lab1 (Debian bookworm)");
    let (ok, out) = sh(
        "ssh -F tests/lab/.state/ssh_config lab1 'test ! -e /tmp/prov-lab-other && echo absent'",
    );
    assert!(
        ok && out.contains("absent"),
        "check mode created files: {out}"
    );
    sh(
        "for h in lab1 lab2 lab3; do ssh -F tests/lab/.state/ssh_config $h rm -rf /tmp/prov-lab-converge; done",
    );
}

#[test]
fn big_copy_arrives_intact() {
    let Some(_lab) = lab("big_copy_arrives_intact") else {
        return;
    };
    let p = Project::new("lab-bigcopy");
    let src = p.path("big.bin");
    let (ok, out) = sh(&format!(
        "head -c 200000000 /dev/urandom > {} && sha256sum {} | cut -d' ' -f1",
        src.display(),
        src.display()
    ));
    assert!(ok, "{out}");
    let sum = out.trim().to_string();
    p.file(
        "copy.yml",
        &format!(
            "- hosts: lab\n  gather_facts: false\n  tasks:\n    - copy: {{ src: {}, dest: /tmp/prov-big.bin }}\n    - command: sha256sum /tmp/prov-big.bin\n      register: s\n      changed_when: false\n    - assert: {{ that: \"s.stdout.split()[0] == '{sum}'\" }}\n    - file: {{ path: /tmp/prov-big.bin, state: absent }}\n",
            src.display()
        ),
    );
    let t = Instant::now();
    prov(&p, &["run", "copy.yml", "-i", &inv()]).success();
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "200 MB copy to 3 hosts (+ sha256 + delete): {secs:.2} s, {:.0} MB/s per host",
        200.0 / secs
    );
}

#[test]
fn become_with_a_sudo_password_and_to_another_user() {
    let Some(_lab) = lab("become_with_a_sudo_password_and_to_another_user") else {
        return;
    };
    let p = Project::new("lab-become");
    let deploy_inv = state().join("inventory-deploy.yaml").display().to_string();
    p.file(
        "become.yml",
        r#"
- hosts: lab2
  gather_facts: false
  tasks:
    - command: id -un
      register: plain
    - command: id -un
      become: true
      register: asroot
    - command: id -un
      become: true
      become_user: app
      register: asapp
    - copy: { dest: /tmp/prov-become-root, content: "root-owned\n" }
      become: true
    - stat: { path: /tmp/prov-become-root }
      register: st
    - assert:
        that:
          - plain.stdout == 'deploy'
          - asroot.stdout == 'root'
          - asapp.stdout == 'app'
          - st.stat.pw_name == 'root'
    - file: { path: /tmp/prov-become-root, state: absent }
      become: true
"#,
    );
    prov(&p, &["run", "become.yml", "-i", &deploy_inv]).success();
    let t = Instant::now();
    let bad = prov(
        &p,
        &[
            "run",
            "become.yml",
            "-i",
            &deploy_inv,
            "-e",
            "ansible_become_password=wrong-password",
        ],
    );
    bad.code(2).stdout_has("password");
    assert!(
        !bad.stdout.contains("wrong-password") && !bad.stderr.contains("wrong-password"),
        "the password leaked"
    );
    assert!(
        t.elapsed().as_secs() < 30,
        "a wrong password must fail fast"
    );
}

#[test]
fn proxy_jump_through_lab1_to_lab2() {
    let Some(_lab) = lab("proxy_jump_through_lab1_to_lab2") else {
        return;
    };
    let p = Project::new("lab-jump");
    let kh = state().join("known_hosts").display().to_string();
    p.file(
        "jump.yml",
        &format!(
            r#"
- hosts: lab2
  gather_facts: false
  vars:
    ansible_ssh_common_args: "-o UserKnownHostsFile={kh} -o ProxyJump=root@192.168.77.11"
  tasks:
    - shell: echo $SSH_CONNECTION
      register: c
    - assert:
        that: c.stdout.split()[0] == '192.168.77.11'
        fail_msg: "not through lab1: {{{{ c.stdout }}}}"
"#
        ),
    );
    prov(&p, &["run", "jump.yml", "-i", &inv()]).success();
}

#[test]
fn a_host_stopped_mid_play_is_unreachable_and_the_others_finish() {
    let Some(_lab) = lab("a_host_stopped_mid_play_is_unreachable_and_the_others_finish") else {
        return;
    };
    let p = Project::new("lab-unreach");
    let stop = root().join("tests/lab/stop-host.sh").display().to_string();
    p.file(
        "stop.yml",
        &format!(
            r#"
- hosts: lab
  gather_facts: false
  tasks:
    - command: "true"
    - command: {stop} --refuse 3
      delegate_to: localhost
      run_once: true
    - shell: echo done > /tmp/prov-unreach
    - file: {{ path: /tmp/prov-unreach, state: absent }}
"#
        ),
    );
    let r = prov(&p, &["run", "stop.yml", "-i", &inv()]);
    let (ok, out) = sh("tests/lab/start-host.sh 3");
    assert!(ok, "lab3 did not come back: {out}");
    r.code(4).stdout_has("UNREACHABLE!");
    assert_eq!(r.recap("lab3")[2], 1, "{}", r.stdout);
    assert_eq!(r.recap("lab1")[2], 0);
    assert_eq!(
        r.recap("lab1")[0],
        4,
        "lab1 finished every task\n{}",
        r.stdout
    );
}

fn fake_known_hosts(p: &Project) -> PathBuf {
    // A known_hosts that lists lab1 with a key that is not lab1's.
    let key = p.path("other_key");
    let (ok, out) = sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -f {} && cut -d' ' -f1,2 {}.pub",
        key.display(),
        key.display()
    ));
    assert!(ok, "{out}");
    let kh = p.path("known_hosts");
    std::fs::write(&kh, format!("# a comment\n192.168.77.11 {}\n", out.trim())).unwrap();
    kh
}

#[test]
fn host_keys_changed_refused_unknown_strict_and_accept_new() {
    let Some(_lab) = lab("host_keys_changed_refused_unknown_strict_and_accept_new") else {
        return;
    };
    let p = Project::new("lab-hostkeys");
    p.file(
        "ping.yml",
        "- hosts: lab1\n  gather_facts: false\n  tasks:\n    - ping:\n",
    );
    let kh = fake_known_hosts(&p);
    let args = format!(
        "ansible_ssh_common_args='-o UserKnownHostsFile={}'",
        kh.display()
    );
    let r = prov(&p, &["run", "ping.yml", "-i", &inv(), "-e", &args]);
    r.code(4)
        .stdout_has("SHA256:")
        .stdout_has(&format!("{}:2", kh.display()));

    let empty = p.path("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let args = format!(
        "ansible_ssh_common_args='-o UserKnownHostsFile={}'",
        empty.display()
    );
    prov(&p, &["run", "ping.yml", "-i", &inv(), "-e", &args])
        .code(4)
        .stdout_has("accept-new");
    let out = Command::new(env!("CARGO_BIN_EXE_prov"))
        .args(["run", "ping.yml", "-i", &inv(), "-e", &args])
        .current_dir(&p.dir)
        .env("PROV_HOST_KEY_CHECKING", "accept-new")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let learned = std::fs::read_to_string(&empty).unwrap();
    assert!(learned.contains("192.168.77.11"), "not learned: {learned}");
    // Now known: strict works.
    prov(&p, &["run", "ping.yml", "-i", &inv(), "-e", &args]).success();
}

#[test]
fn hundred_loopback_hosts_run_a_small_playbook() {
    let Some(_lab) = lab("hundred_loopback_hosts_run_a_small_playbook") else {
        return;
    };
    let p = Project::new("lab-many");
    let many = state().join("many/inventory.yaml").display().to_string();
    p.file(
        "many.yml",
        "- hosts: many\n  gather_facts: false\n  tasks:\n    - file: { path: '/tmp/prov-many/{{ inventory_hostname }}', state: directory }\n    - copy: { dest: '/tmp/prov-many/{{ inventory_hostname }}/f', content: \"{{ inventory_hostname }}\\n\" }\n    - command: cat /tmp/prov-many/{{ inventory_hostname }}/f\n      register: c\n      changed_when: false\n    - assert: { that: c.stdout == inventory_hostname }\n",
    );
    let t = Instant::now();
    let r = prov(&p, &["run", "many.yml", "-i", &many, "-f", "100"]);
    r.success();
    eprintln!(
        "100 loopback hosts, first run: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let r = prov(&p, &["run", "many.yml", "-i", &many, "-f", "100"]);
    r.success();
    eprintln!(
        "100 loopback hosts, idempotent run: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    for i in [1, 50, 100] {
        r.changed(&format!("m{i}"), 0);
    }
    let _ = std::fs::remove_dir_all(Path::new("/tmp/prov-many"));
}

/// prov's environment to find ansible-core at `core` for the module fallback.
fn core_env(core: &Path) -> [(&'static str, &std::ffi::OsStr); 1] {
    [("PROV_ANSIBLE_CORE_DIR", core.as_os_str())]
}

/// Modules prov has no native implementation of run on real hosts over SSH as Ansible runs
/// them: a Python module in the playbook's `library/` and one in a role's `library/` (with
/// ansible-core's module_utils), one of ansible-core's own modules (`known_hosts`), through
/// become to another user, in check mode with a diff, and marked in the JSON events.
#[test]
fn fallback_modules_run_on_lab_hosts() {
    let Some(_lab) = lab("fallback_modules_run_on_lab_hosts") else {
        return;
    };
    let Some(core) = common::ansible_core() else {
        eprintln!("SKIP fallback_modules_run_on_lab_hosts: no ansible-core on this machine");
        return;
    };
    let p = Project::new("lab-fallback");
    p.file(
        "library/put_text.py",
        r#"#!/usr/bin/python
import getpass
from ansible.module_utils.basic import AnsibleModule


def main():
    m = AnsibleModule(
        argument_spec=dict(path=dict(type='path', required=True), text=dict(type='str', required=True)),
        supports_check_mode=True,
    )
    path, text = m.params['path'], m.params['text']
    try:
        with open(path) as f:
            before = f.read()
    except OSError:
        before = ''
    result = dict(changed=before != text, user=getpass.getuser())
    if result['changed'] and m._diff:
        result['diff'] = dict(before=before, after=text, before_header=path, after_header=path)
    if result['changed'] and not m.check_mode:
        with open(path, 'w') as f:
            f.write(text)
    m.exit_json(**result)


main()
"#,
    )
    .file(
        "roles/doubler/library/double_it.py",
        "#!/usr/bin/python\nfrom ansible.module_utils.basic import AnsibleModule\nm = AnsibleModule(argument_spec=dict(n=dict(type='int')))\nm.exit_json(changed=False, doubled=m.params['n'] * 2)\n",
    )
    .file(
        "roles/doubler/tasks/main.yml",
        "- double_it: n=21\n  register: d\n- assert: { that: d.doubled == 42 }\n  when: not ansible_check_mode\n",
    )
    .file(
        "site.yml",
        r#"
- hosts: lab1
  gather_facts: false
  roles: [doubler]
  tasks:
    - put_text: { path: /tmp/prov-lab-fallback.txt, text: "one\n" }
      register: w
    - ansible.builtin.known_hosts:
        path: /tmp/prov-lab-fallback-known
        name: host.example
        key: "host.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
      register: k
    - assert:
        that:
          - w.user == 'root'
          - k.hash_host is defined
      when: not ansible_check_mode
"#,
    )
    .file(
        "become.yml",
        r#"
- hosts: lab2
  gather_facts: false
  tasks:
    - put_text: { path: /tmp/prov-lab-fallback-app.txt, text: "app\n" }
      become: true
      become_user: app
      register: a
    - assert: { that: a.user == 'app' }
    - file: { path: /tmp/prov-lab-fallback-app.txt, state: absent }
      become: true
"#,
    );
    sh(
        "ssh -F tests/lab/.state/ssh_config lab1 rm -f /tmp/prov-lab-fallback.txt /tmp/prov-lab-fallback-known",
    );
    let first = p.prov_env(&["run", "site.yml", "-i", &inv()], &core_env(&core));
    first.success();
    assert_eq!(first.recap("lab1")[1], 2, "{}", first.stdout);
    let again = p.prov_env(&["run", "site.yml", "-i", &inv()], &core_env(&core));
    again.success();
    assert_eq!(again.recap("lab1")[1], 0, "{}", again.stdout);
    // Check mode and diff: shown, not written; the role's module has no check mode (skipped).
    p.file(
        "site.yml",
        &p.read("site.yml")
            .replace("text: \"one\\n\"", "text: \"two\\n\""),
    );
    let check = p.prov_env(
        &["run", "site.yml", "-i", &inv(), "--check", "--diff"],
        &core_env(&core),
    );
    check
        .success()
        .stdout_has("-one")
        .stdout_has("+two")
        .stdout_has("skipping: [lab1]");
    let (_, text) = sh("ssh -F tests/lab/.state/ssh_config lab1 cat /tmp/prov-lab-fallback.txt");
    assert_eq!(text, "one\n");
    // The JSON events say which tasks are not native.
    let json = p.prov_env(
        &["run", "site.yml", "-i", &inv(), "--output", "json"],
        &core_env(&core),
    );
    json.success();
    let fallback: Vec<String> = json
        .stdout
        .lines()
        .filter(|l| l.contains("\"task_start\"") && l.contains("\"implementation\":\"ansible\""))
        .map(|l| {
            l.split("\"action\":\"")
                .nth(1)
                .unwrap_or("")
                .split('"')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        fallback,
        ["double_it", "put_text", "known_hosts"],
        "{}",
        json.stdout
    );
    // Become to another user (sudo with a password).
    let deploy_inv = state().join("inventory-deploy.yaml").display().to_string();
    p.prov_env(&["run", "become.yml", "-i", &deploy_inv], &core_env(&core))
        .success();
    sh(
        "ssh -F tests/lab/.state/ssh_config lab1 rm -f /tmp/prov-lab-fallback.txt /tmp/prov-lab-fallback-known",
    );
}

/// Real collections' modules from PyPI's `ansible` package (community.general.ini_file,
/// ansible.posix.mount with its own `fstab`), found through ANSIBLE_COLLECTIONS_PATH: check
/// mode with a diff writes nothing, the run gives ansible-core's result fields (checked
/// against ansible-core 2.19 by hand: msg, diff as the module returns it, fstab line), and a
/// second run changes nothing.
#[test]
fn collection_modules_from_pypi_run_on_lab_hosts() {
    let Some(_lab) = lab("collection_modules_from_pypi_run_on_lab_hosts") else {
        return;
    };
    let (Some(core), Some(colls)) = (common::ansible_core(), common::pypi_collections()) else {
        eprintln!(
            "SKIP collection_modules_from_pypi_run_on_lab_hosts: no ansible-core or collections"
        );
        return;
    };
    let p = Project::new("lab-collections");
    p.file(
        "site.yml",
        r#"
- hosts: lab1
  gather_facts: false
  tasks:
    - community.general.ini_file:
        path: /tmp/prov-lab-coll.ini
        section: db
        option: port
        value: "5432"
      register: ini
    - ansible.posix.mount:
        path: /mnt/prov-coll
        src: tmpfs
        fstype: tmpfs
        opts: size=1m
        state: present
        fstab: /tmp/prov-lab-coll.fstab
      register: m
    - assert:
        that:
          - ini.msg == ('OK' if ini is not changed else 'section and option added')
          - (ini.diff.after == '\n[db]\nport = 5432\n') if ini is changed else true
          - m.fstab == '/tmp/prov-lab-coll.fstab'
          - m.name == '/mnt/prov-coll'
          - m.warnings is not defined
"#,
    );
    let clean = "ssh -F tests/lab/.state/ssh_config lab1 rm -f /tmp/prov-lab-coll.ini /tmp/prov-lab-coll.fstab";
    sh(clean);
    let env = [
        ("PROV_ANSIBLE_CORE_DIR", core.as_os_str()),
        ("ANSIBLE_COLLECTIONS_PATH", colls.as_os_str()),
    ];
    let check = p.prov_env(
        &["run", "site.yml", "-i", &inv(), "--check", "--diff"],
        &env,
    );
    check.success().stdout_has("+port = 5432");
    assert_eq!(check.recap("lab1")[1], 2, "{}", check.stdout);
    // (mount creates a missing fstab empty even in check mode, under ansible-core too)
    let (gone, _) = sh(
        "ssh -F tests/lab/.state/ssh_config lab1 'test ! -e /tmp/prov-lab-coll.ini && test ! -s /tmp/prov-lab-coll.fstab'",
    );
    assert!(gone, "check mode wrote files");
    let first = p.prov_env(&["run", "site.yml", "-i", &inv(), "--diff"], &env);
    first.success();
    assert_eq!(first.recap("lab1")[1], 2, "{}", first.stdout);
    let (_, fstab) = sh("ssh -F tests/lab/.state/ssh_config lab1 cat /tmp/prov-lab-coll.fstab");
    assert_eq!(fstab.trim(), "tmpfs /mnt/prov-coll tmpfs size=1m 0 0");
    let again = p.prov_env(&["run", "site.yml", "-i", &inv()], &env);
    again.success();
    assert_eq!(again.recap("lab1")[1], 0, "{}", again.stdout);
    // The module's zip goes to a host once per run: kept in a private folder of the remote
    // temp folder, sent again if a task removed it, and removed when the run ends.
    p.file(
        "kept.yml",
        r#"
- hosts: lab1
  gather_facts: false
  tasks:
    - community.general.ini_file: { path: /tmp/prov-lab-coll.ini, section: k, option: "o{{ item }}", value: "1" }
      loop: [1, 2, 3]
    - shell: ls -d ~/.ansible/tmp/prov-payloads-*/*.zip
      register: zips
    - assert: { that: "zips.stdout_lines | length == 1" }
    - file: { path: ~/.ansible/tmp, state: absent }
    - community.general.ini_file: { path: /tmp/prov-lab-coll.ini, section: k, option: o4, value: "1" }
      register: after
    - assert: { that: after is changed }
"#,
    );
    p.prov_env(&["run", "kept.yml", "-i", &inv()], &env)
        .success();
    let (left, out) = sh(
        "ssh -F tests/lab/.state/ssh_config lab1 'ls -d ~/.ansible/tmp/prov-payloads-* 2>/dev/null'",
    );
    assert!(!left, "kept zips left on the host: {out}");
    sh(clean);
}

/// `ansible.builtin.git` clones a bare repository on the host and follows it: the same
/// playbook, with the same assertions on `before`, `after` and `changed`, passes under prov and
/// under ansible-core itself (its `git` module, over SSH to the same host): a clone, a run with
/// nothing to do, check mode on a new commit (reported, not fetched into the checkout), then
/// the update.
#[test]
fn git_follows_a_bare_repository_on_a_lab_host_as_ansible_core_does() {
    let Some(_lab) = lab("git_follows_a_bare_repository_on_a_lab_host_as_ansible_core_does") else {
        return;
    };
    let Some(ansible) = common::ansible_playbook() else {
        eprintln!("SKIP git_follows_a_bare_repository: no ansible-core virtualenv");
        return;
    };
    let ssh = |cmd: &str| {
        let (ok, out) = sh(&format!(
            "ssh -F tests/lab/.state/ssh_config lab1 '{}'",
            cmd.replace('\'', "'\\''")
        ));
        assert!(ok, "{cmd}: {out}");
        out.trim().to_string()
    };
    let commit = |text: &str| {
        ssh(&format!(
            "cd /tmp/prov-lab-git/work && echo {text} > f && git add f && \
             git -c user.name=t -c user.email=t@example.invalid commit -qm {text} && \
             git push -q origin main && git rev-parse HEAD"
        ))
    };
    ssh(
        "rm -rf /tmp/prov-lab-git && mkdir /tmp/prov-lab-git && cd /tmp/prov-lab-git && \
         git init -q --bare -b main repo.git && git clone -q repo.git work 2>/dev/null && \
         git -C work checkout -q -b main",
    );
    let first = commit("one");
    let p = Project::new("lab-git");
    p.file(
        "git.yml",
        r#"
- hosts: lab1
  gather_facts: false
  tasks:
    - ansible.builtin.git:
        repo: /tmp/prov-lab-git/repo.git
        dest: "/tmp/prov-lab-git/{{ tool }}"
        version: main
      register: g
    - assert:
        that:
          - (g.before is none) if want_before == '' else (g.before == want_before)
          - g.after == want_after
          - (g is changed) == (want_changed | bool)
          - g is not failed
"#,
    );
    let inventory = inv();
    let run = |tool: &str, before: &str, after: &str, changed: bool, check: bool| {
        let vars = format!(
            r#"{{"tool": "{tool}", "want_before": "{before}", "want_after": "{after}", "want_changed": {changed}}}"#
        );
        let mut args = vec!["git.yml", "-i", &inventory, "-e", &vars];
        args.extend(check.then_some("--check"));
        let (code, out) = if tool == "prov" {
            let mut a = vec!["run"];
            a.extend(args.iter().map(|s| s as &str));
            let r = p.prov(&a);
            (r.code, format!("{}{}", r.stdout, r.stderr))
        } else {
            let o = Command::new(&ansible)
                .args(&args)
                .current_dir(&p.dir)
                .env("ANSIBLE_NOCOLOR", "1")
                .output()
                .unwrap();
            (
                o.status.code().unwrap_or(-1),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ),
            )
        };
        assert_eq!(code, 0, "{tool} {args:?}:\n{out}");
    };
    let head = |tool: &str| ssh(&format!("git -C /tmp/prov-lab-git/{tool} rev-parse HEAD"));
    for tool in ["ansible", "prov"] {
        run(tool, "", &first, true, false);
        assert_eq!(head(tool), first);
        run(tool, &first, &first, false, false);
    }
    let second = commit("two");
    for tool in ["ansible", "prov"] {
        run(tool, &first, &second, true, true);
        assert_eq!(head(tool), first, "{tool}: check mode moved the checkout");
        run(tool, &first, &second, true, false);
        assert_eq!(head(tool), second);
        run(tool, &second, &second, false, false);
    }
    ssh("rm -rf /tmp/prov-lab-git");
}

/// A host with no Python: a fallback module fails with a clear error (native modules and
/// script modules still run there).
#[test]
fn fallback_module_on_a_host_without_python_fails_clearly() {
    let Some(_lab) = lab("fallback_module_on_a_host_without_python_fails_clearly") else {
        return;
    };
    let Some(core) = common::ansible_core() else {
        eprintln!("SKIP fallback_module_on_a_host_without_python_fails_clearly: no ansible-core");
        return;
    };
    /// Puts lab3's Python back whatever happens.
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            sh(
                "ssh -F tests/lab/.state/ssh_config lab3 'for f in /usr/bin/python3*.prov-off; do mv \"$f\" \"${f%.prov-off}\"; done'",
            );
        }
    }
    let (ok, out) = sh(
        "ssh -F tests/lab/.state/ssh_config lab3 'for f in /usr/bin/python3*; do mv \"$f\" \"$f.prov-off\"; done; ! command -v python3'",
    );
    let _restore = Restore;
    assert!(ok, "could not hide lab3's python: {out}");
    let p = Project::new("lab-nopython");
    p.file(
        "library/py_mod.py",
        "from ansible.module_utils.basic import AnsibleModule\nAnsibleModule({}).exit_json(changed=False)\n",
    )
    .file(
        "library/sh_mod",
        "#!/bin/sh\n# WANT_JSON\necho '{\"changed\": false, \"from\": \"sh\"}'\n",
    )
    .file(
        "site.yml",
        r#"
- hosts: lab3
  gather_facts: false
  tasks:
    - command: echo native
    - sh_mod:
      register: s
    - assert: { that: s.from == 'sh' }
    - py_mod:
"#,
    );
    let r = p.prov_env(&["run", "site.yml", "-i", &inv()], &core_env(&core));
    r.code(2)
        .stdout_has("module py_mod needs Python on the host; prov's native modules do not");
    assert_eq!(r.recap("lab3")[0], 3, "{}", r.stdout);
}
