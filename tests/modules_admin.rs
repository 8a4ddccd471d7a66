//! Real playbooks (`prov run`) driving the admin modules — authorized_key, sysctl, cron,
//! hostname, getent, find, unarchive — against a REAL Debian host: lab3 of `tests/lab/`
//! (a systemd-nspawn machine reached over SSH).
//!
//! Every module goes through the same cycle: `--check --diff` reports the change and its diff
//! and leaves the host untouched; a real run makes it; a second run reports changed=0; the
//! state on the host is checked over ssh.
//!
//! Requirements: root and PROV_LAB=1, otherwise each test prints `SKIP` and passes. With
//! PROV_LAB=1 a lab that cannot be started is a failure. The lab is found in `$PROV_LAB_DIR`
//! (default `tests/lab` of this checkout) and brought up with its `up.sh 3` when lab3 does not
//! answer. The lab is shared with other tests (Docker Swarm, PostgreSQL), so these tests only
//! touch what is theirs on lab3: the user `provtest`, `/tmp/prov-mods/`,
//! `/etc/cron.d/prov-mods-test`, the `cron` and `unzip` packages; sysctl writes a file under
//! /tmp only (the lab's /proc/sys is read-only) and hostname only plans a new name.

mod common;
use common::{Project, Run};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static LOCK: Mutex<()> = Mutex::new(());

fn lab_dir() -> PathBuf {
    std::env::var_os("PROV_LAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lab"))
}

fn inv() -> String {
    lab_dir()
        .join(".state/inventory.yaml")
        .display()
        .to_string()
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Runs a command on lab3 over ssh: (success, stdout+stderr).
fn ssh(cmd: &str) -> (bool, String) {
    let out = Command::new("ssh")
        .arg("-F")
        .arg(lab_dir().join(".state/ssh_config"))
        .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "lab3", cmd])
        .output()
        .expect("ssh runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// stdout of a command on lab3 that must succeed.
#[track_caller]
fn on_lab3(cmd: &str) -> String {
    let (ok, out) = ssh(cmd);
    assert!(ok, "on lab3: {cmd}: {out}");
    out
}

fn reachable() -> bool {
    lab_dir().join(".state/ssh_config").exists() && ssh("true").0
}

/// Makes sure lab3 answers: waits a little (another test may be restarting it), then runs
/// `up.sh 3` (idempotent) and checks again.
fn ensure_lab3() {
    if reachable() {
        return;
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_secs(2));
        if reachable() {
            return;
        }
    }
    let out = Command::new(lab_dir().join("up.sh"))
        .arg("3")
        .output()
        .expect("up.sh runs");
    assert!(
        out.status.success(),
        "{}/up.sh 3 failed:\n{}{}",
        lab_dir().display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(reachable(), "lab3 does not answer after up.sh 3");
}

/// The lab lock, with lab3 up; `None` (with a SKIP line) when lab tests are not enabled.
fn lab(test: &str) -> Option<MutexGuard<'static, ()>> {
    if std::env::var_os("PROV_LAB").is_none() || !is_root() {
        eprintln!("SKIP {test}: lab tests need root and PROV_LAB=1 (bash .ci/run sets both)");
        return None;
    }
    let g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ensure_lab3();
    Some(g)
}

/// A project with `site.yml` = one play on lab3 with these tasks.
fn project(name: &str, tasks: &str) -> Project {
    let p = Project::new(name);
    p.file(
        "site.yml",
        &format!("- hosts: lab3\n  gather_facts: false\n  tasks:\n{tasks}"),
    );
    p
}

/// `prov run site.yml` on lab3 with extra args; an unreachable lab3 (another test restarting
/// the lab) is waited for and the run retried once.
fn run(p: &Project, extra: &[&str]) -> Run {
    let i = inv();
    let mut args = vec!["run", "site.yml", "-i", &i, "-l", "lab3"];
    args.extend_from_slice(extra);
    let r = p.prov(&args);
    if r.code == 4 {
        eprintln!("lab3 unreachable, waiting for the lab and retrying once");
        ensure_lab3();
        return p.prov(&args);
    }
    r
}

/// The module cycle: check+diff reports `n` changes (with `diff_has` in the output) and
/// changes nothing (`probe` prints the same before and after), the real run reports `n`
/// changes, the next run 0 (and check mode 0).
#[track_caller]
fn cycle(p: &Project, n: u32, diff_has: &[&str], probe: &str) -> Run {
    let before = on_lab3(probe);
    let check = run(p, &["--check", "--diff"]);
    check.success().changed("lab3", n);
    for d in diff_has {
        check.stdout_has(d);
    }
    assert_eq!(on_lab3(probe), before, "check mode changed the host");
    let first = run(p, &[]);
    first.success().changed("lab3", n);
    let second = run(p, &[]);
    second.success().changed("lab3", 0);
    run(p, &["--check", "--diff"]).success().changed("lab3", 0);
    first
}

const PROVTEST: &str =
    "    - user: { name: provtest, shell: /bin/bash }\n      changed_when: false\n";

fn fresh_provtest() {
    on_lab3(
        "crontab -u provtest -r >/dev/null 2>&1; userdel -r provtest >/dev/null 2>&1; rm -rf /tmp/prov-mods; mkdir -p /tmp/prov-mods; true",
    );
}

// ---------------------------------------------------------------------------------------------
// authorized_key

#[test]
fn authorized_key_adds_replaces_and_removes_keys() {
    let Some(_lab) = lab("authorized_key_adds_replaces_and_removes_keys") else {
        return;
    };
    fresh_provtest();
    let p = Project::new("admin-authkey");
    // A real key pair: the key must let provtest log in over SSH.
    let key = p.path("id_test");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "provtest@ctl", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let pubkey = std::fs::read_to_string(key.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string();
    let other = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDother other@x";
    // The user first (not part of the cycle).
    p.file(
        "user.yml",
        &format!("- hosts: lab3\n  gather_facts: false\n  tasks:\n{PROVTEST}"),
    );
    let i = inv();
    p.prov(&["run", "user.yml", "-i", &i, "-l", "lab3"])
        .success();
    on_lab3("usermod -p '*' provtest");

    // 1. add one key: the folder and the file are created, owned by provtest.
    p.file(
        "site.yml",
        &format!(
            "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - authorized_key:\n        user: provtest\n        key: \"{pubkey}\"\n      register: r\n    - assert:\n        that: r.keyfile == '/home/provtest/.ssh/authorized_keys' and r.user == 'provtest'\n"
        ),
    );
    cycle(
        &p,
        1,
        &[&format!("+{pubkey}"), "@@ -0,0 +1 @@"],
        "ls -la /home/provtest; cat /home/provtest/.ssh/authorized_keys 2>&1 || true",
    );
    assert_eq!(
        on_lab3("stat -c '%a %U %G' /home/provtest/.ssh /home/provtest/.ssh/authorized_keys"),
        "700 provtest provtest\n600 provtest provtest\n"
    );
    assert_eq!(
        on_lab3("cat /home/provtest/.ssh/authorized_keys"),
        format!("{pubkey}\n")
    );
    // The key really works.
    let login = Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
        ])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            lab_dir().join(".state/known_hosts").display()
        ))
        .arg("-i")
        .arg(&key)
        .args(["provtest@192.168.77.13", "id -un"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&login.stdout),
        "provtest\n",
        "login with the authorized key: {}",
        String::from_utf8_lossy(&login.stderr)
    );

    // 2. a comment line and another key added by hand are kept; the same key with options
    //    and another comment replaces the old line (two keys given as two lines).
    on_lab3(&format!(
        "sed -i '1i # managed by hand' /home/provtest/.ssh/authorized_keys && echo '{other}' >> /home/provtest/.ssh/authorized_keys"
    ));
    p.file(
        "site.yml",
        &format!(
            "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - ansible.posix.authorized_key:\n        user: provtest\n        key: |\n          {pubkey}\n          {other}\n        key_options: 'no-port-forwarding,from=\"192.168.77.0/24\"'\n        comment: ci key\n"
        ),
    );
    let k = pubkey.rsplit_once(' ').unwrap().0;
    cycle(
        &p,
        1,
        &[
            &format!("-{pubkey}"),
            &format!("+no-port-forwarding,from=\"192.168.77.0/24\" {k} ci key"),
        ],
        "cat /home/provtest/.ssh/authorized_keys",
    );
    let o = other.rsplit_once(' ').unwrap().0;
    assert_eq!(
        on_lab3("cat /home/provtest/.ssh/authorized_keys"),
        format!(
            "# managed by hand\nno-port-forwarding,from=\"192.168.77.0/24\" {k} ci key\nno-port-forwarding,from=\"192.168.77.0/24\" {o} ci key\n"
        )
    );

    // 3. exclusive: only this key is left (the comment line stays).
    p.file(
        "site.yml",
        &format!(
            "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - authorized_key:\n        user: provtest\n        key: \"{pubkey}\"\n        exclusive: true\n"
        ),
    );
    cycle(
        &p,
        1,
        &[&format!("+{pubkey}")],
        "cat /home/provtest/.ssh/authorized_keys",
    );
    assert_eq!(
        on_lab3("cat /home/provtest/.ssh/authorized_keys"),
        format!("# managed by hand\n{pubkey}\n")
    );

    // 4. absent.
    p.file(
        "site.yml",
        &format!(
            "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - authorized_key:\n        user: provtest\n        key: \"{pubkey}\"\n        state: absent\n"
        ),
    );
    cycle(
        &p,
        1,
        &[&format!("-{pubkey}")],
        "cat /home/provtest/.ssh/authorized_keys",
    );
    assert_eq!(
        on_lab3("cat /home/provtest/.ssh/authorized_keys"),
        "# managed by hand\n"
    );

    // 5. errors: an unknown user, an invalid key.
    p.file(
        "site.yml",
        "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - authorized_key: { user: provtest-nobody, key: \"ssh-ed25519 AAAA x\" }\n",
    );
    run(&p, &[])
        .code(2)
        .stdout_has("Failed to lookup user provtest-nobody");
    p.file(
        "site.yml",
        "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - authorized_key: { user: provtest, key: \"not a key\" }\n",
    );
    run(&p, &[])
        .code(2)
        .stdout_has("invalid key specified: not a key");
    fresh_provtest();
}

// ---------------------------------------------------------------------------------------------
// sysctl

#[test]
fn sysctl_edits_the_file_and_compares_the_running_value() {
    let Some(_lab) = lab("sysctl_edits_the_file_and_compares_the_running_value") else {
        return;
    };
    on_lab3(
        "rm -rf /tmp/prov-mods/sysctl; mkdir -p /tmp/prov-mods/sysctl && printf '# mine\\nkernel.panic = 5\\n' > /tmp/prov-mods/sysctl/60-test.conf",
    );
    let f = "/tmp/prov-mods/sysctl/60-test.conf";
    let task = |body: &str| {
        format!("    - sysctl:\n        sysctl_file: {f}\n        reload: false\n{body}")
    };
    // add
    let p = project(
        "admin-sysctl",
        &task("        name: vm.swappiness\n        value: '10'\n"),
    );
    cycle(&p, 1, &["+vm.swappiness=10"], &format!("cat {f}"));
    // change (and, as Ansible does, rewrite `k = v` as `k=v`)
    p.file(
        "site.yml",
        &format!(
            "- hosts: lab3\n  gather_facts: false\n  tasks:\n{}",
            task("        name: vm.swappiness\n        value: 20\n")
        ),
    );
    cycle(
        &p,
        1,
        &["-vm.swappiness=10", "+vm.swappiness=20"],
        &format!("cat {f}"),
    );
    assert_eq!(
        on_lab3(&format!("cat {f}")),
        "# mine\nkernel.panic=5\nvm.swappiness=20\n"
    );
    // booleans are 1/0
    p.file(
        "site.yml",
        &format!(
            "- hosts: lab3\n  gather_facts: false\n  tasks:\n{}",
            task("        name: kernel.sysrq\n        value: yes\n")
        ),
    );
    cycle(&p, 1, &["+kernel.sysrq=1"], &format!("cat {f}"));
    // absent
    p.file(
        "site.yml",
        &format!(
            "- hosts: lab3\n  gather_facts: false\n  tasks:\n{}",
            task("        name: kernel.panic\n        state: absent\n")
        ),
    );
    cycle(&p, 1, &["-kernel.panic=5"], &format!("cat {f}"));
    assert_eq!(
        on_lab3(&format!("cat {f}")),
        "# mine\nvm.swappiness=20\nkernel.sysrq=1\n"
    );
    // sysctl_set: the running value is compared (the lab's /proc/sys is read-only, so only
    // the current value can be asked for); a new file in a new folder is created.
    let cur = on_lab3("sysctl -n vm.swappiness").trim().to_string();
    let g = "/tmp/prov-mods/sysctl/new/61-set.conf";
    p.file(
        "site.yml",
        &format!(
            "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - sysctl: {{ name: vm.swappiness, value: '{cur}', sysctl_set: true, reload: false, sysctl_file: {g} }}\n"
        ),
    );
    let first = cycle(
        &p,
        1,
        &[&format!("+vm.swappiness={cur}")],
        &format!("cat {g} 2>&1 || true"),
    );
    first.stdout_lacks("running kernel");
    // a different running value would be set with sysctl -w: check mode shows it
    let other = if cur == "10" { "11" } else { "10" };
    p.file(
        "site.yml",
        &format!(
            "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - sysctl: {{ name: vm.swappiness, value: '{other}', sysctl_set: true, reload: false, sysctl_file: {g} }}\n"
        ),
    );
    run(&p, &["--check", "--diff"])
        .success()
        .changed("lab3", 1)
        .stdout_has(&format!("+vm.swappiness: {other}"))
        .stdout_has(&format!("-vm.swappiness: {cur}"));
    // reload on a read-only /proc/sys: a clear failure
    p.file(
        "site.yml",
        &format!(
            "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - sysctl: {{ name: vm.swappiness, value: '{other}', sysctl_file: {g} }}\n"
        ),
    );
    run(&p, &[]).code(2).stdout_has("Failed to reload sysctl");
    // missing value
    p.file(
        "site.yml",
        "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - sysctl: { name: vm.swappiness, sysctl_file: /tmp/prov-mods/x.conf }\n",
    );
    // (Ansible's required_if rule: the task fails when it runs, as in Ansible; `prov check`
    // reports it before)
    run(&p, &[])
        .code(2)
        .stdout_has("state is present but all of the following are missing: value");
    on_lab3("rm -rf /tmp/prov-mods/sysctl");
}

// ---------------------------------------------------------------------------------------------
// cron

fn crontab_of(user: &str) -> String {
    ssh(&format!("crontab -u {user} -l 2>&1")).1
}

#[test]
fn cron_manages_jobs_variables_and_cron_files() {
    let Some(_lab) = lab("cron_manages_jobs_variables_and_cron_files") else {
        return;
    };
    fresh_provtest();
    on_lab3("rm -f /etc/cron.d/prov-mods-test");
    let p = Project::new("admin-cron");
    // Debian minbase has no crontab: install cron (and the user) with prov itself.
    p.file(
        "prep.yml",
        &format!(
            "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - apt: {{ name: cron, state: present, update_cache: true, cache_valid_time: 86400 }}\n{PROVTEST}"
        ),
    );
    let i = inv();
    p.prov(&["run", "prep.yml", "-i", &i, "-l", "lab3"])
        .success();
    let site = |tasks: &str| {
        p.file(
            "site.yml",
            &format!("- hosts: lab3\n  gather_facts: false\n  tasks:\n{tasks}"),
        );
    };
    let tab = "crontab -u provtest -l 2>&1 || true";
    // 1. a job in an empty crontab
    site(
        "    - cron: { name: check dirs, user: provtest, minute: '0', hour: '5,2', job: 'ls -alh > /dev/null' }\n      register: r\n    - assert: { that: \"r.jobs == ['check dirs']\" }\n",
    );
    cycle(
        &p,
        1,
        &["+#Ansible: check dirs", "+0 5,2 * * * ls -alh > /dev/null"],
        tab,
    );
    assert_eq!(
        crontab_of("provtest"),
        "#Ansible: check dirs\n0 5,2 * * * ls -alh > /dev/null\n"
    );
    // 2. another time; a line added by hand is kept
    on_lab3(
        "(crontab -u provtest -l; echo '# by hand'; echo '30 1 * * * /bin/true') | crontab -u provtest -",
    );
    site(
        "    - cron: { name: check dirs, user: provtest, minute: '*/10', job: 'ls -alh > /dev/null' }\n",
    );
    cycle(
        &p,
        1,
        &[
            "-0 5,2 * * * ls -alh > /dev/null",
            "+*/10 * * * * ls -alh > /dev/null",
        ],
        tab,
    );
    // 3. an identical unnamed job gets the comment; disabled; special time; a variable
    site(
        "    - cron: { name: by hand, user: provtest, minute: '30', hour: '1', job: /bin/true }\n    - cron: { name: check dirs, user: provtest, minute: '*/10', job: 'ls -alh > /dev/null', disabled: true }\n    - cron: { name: at boot, user: provtest, special_time: reboot, job: /usr/bin/logger booted }\n    - cron: { name: MAILTO, env: true, user: provtest, job: ops@example.com }\n",
    );
    cycle(
        &p,
        4,
        &[
            "+#Ansible: by hand",
            "+#*/10 * * * * ls -alh > /dev/null",
            "+@reboot /usr/bin/logger booted",
            "+MAILTO=\"ops@example.com\"",
        ],
        tab,
    );
    assert_eq!(
        crontab_of("provtest"),
        "MAILTO=\"ops@example.com\"\n#Ansible: check dirs\n#*/10 * * * * ls -alh > /dev/null\n# by hand\n#Ansible: by hand\n30 1 * * * /bin/true\n#Ansible: at boot\n@reboot /usr/bin/logger booted\n"
    );
    // cron itself accepts what was written (crontab -l | crontab - validates it)
    on_lab3("crontab -u provtest -l | crontab -u provtest -");
    // 4. absent (jobs and the variable)
    site(
        "    - cron: { name: check dirs, user: provtest, state: absent }\n    - cron: { name: MAILTO, env: true, user: provtest, state: absent }\n",
    );
    cycle(
        &p,
        2,
        &["-#Ansible: check dirs", "-MAILTO=\"ops@example.com\""],
        tab,
    );
    assert_eq!(
        crontab_of("provtest"),
        "# by hand\n#Ansible: by hand\n30 1 * * * /bin/true\n#Ansible: at boot\n@reboot /usr/bin/logger booted\n"
    );
    // 5. a file in /etc/cron.d: the user is part of the line; removing the file
    site(
        "    - cron: { name: rotate, cron_file: prov-mods-test, user: provtest, minute: '*/15', job: /usr/bin/true }\n",
    );
    cycle(
        &p,
        1,
        &["+*/15 * * * * provtest /usr/bin/true"],
        "cat /etc/cron.d/prov-mods-test 2>&1 || true",
    );
    assert_eq!(
        on_lab3("cat /etc/cron.d/prov-mods-test; stat -c %a /etc/cron.d/prov-mods-test"),
        "#Ansible: rotate\n*/15 * * * * provtest /usr/bin/true\n644\n"
    );
    site("    - cron: { cron_file: prov-mods-test, state: absent }\n");
    cycle(
        &p,
        1,
        &["-*/15 * * * * provtest /usr/bin/true"],
        "ls /etc/cron.d",
    );
    assert!(ssh("test ! -e /etc/cron.d/prov-mods-test").0);
    // 6. errors
    site(
        "    - cron: { name: x, user: provtest, special_time: daily, minute: '5', job: /bin/true }\n",
    );
    run(&p, &[]).code(2).stdout_has("special time");
    site("    - cron: { user: provtest, job: /bin/true }\n");
    run(&p, &[]).code(2).stdout_has("name is required");
    fresh_provtest();
}

// ---------------------------------------------------------------------------------------------
// hostname (only planned with a new name: other tests expect lab3 to be called lab3)

#[test]
fn hostname_is_idempotent_and_plans_a_rename_exactly() {
    let Some(_lab) = lab("hostname_is_idempotent_and_plans_a_rename_exactly") else {
        return;
    };
    let p = project(
        "admin-hostname",
        "    - hostname: { name: lab3 }\n    - hostname: { name: lab3, use: systemd }\n    - hostname: { name: lab3, use: debian }\n    - hostname: { name: lab3, use: generic }\n    - assert:\n        that:\n          - ansible_hostname == 'lab3'\n          - ansible_facts.nodename == 'lab3'\n",
    );
    cycle(&p, 0, &[], "hostname; cat /etc/hostname");
    let probe = "hostname; cat /etc/hostname; hostnamectl --static status";
    let before = on_lab3(probe);
    p.file(
        "site.yml",
        "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - hostname: { name: prov-mods-renamed.example.com }\n      register: r\n    - assert:\n        that:\n          - ansible_hostname == 'prov-mods-renamed'\n          - ansible_domain == 'example.com'\n          - r.name == 'prov-mods-renamed.example.com'\n    - hostname: { name: prov-mods-renamed, use: debian }\n",
    );
    run(&p, &["--check", "--diff"])
        .success()
        .changed("lab3", 2)
        .stdout_has("-hostname = lab3")
        .stdout_has("+hostname = prov-mods-renamed.example.com")
        .stdout_has("+hostname = prov-mods-renamed\n");
    assert_eq!(on_lab3(probe), before, "check mode renamed lab3");
    p.file(
        "site.yml",
        "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - hostname: { name: 'lab3; reboot' }\n",
    );
    run(&p, &["--check"])
        .code(2)
        .stdout_has("invalid host name 'lab3; reboot'");
}

// ---------------------------------------------------------------------------------------------
// getent

#[test]
fn getent_sets_facts() {
    let Some(_lab) = lab("getent_sets_facts") else {
        return;
    };
    let p = project(
        "admin-getent",
        r#"    - getent: { database: passwd, key: root }
    - assert:
        that:
          - getent_passwd.root[4] == '/root' and getent_passwd.root[5] == '/bin/bash'
          - ansible_facts.getent_passwd.root[1] == '0'
    - getent: { database: group }
    - getent: { database: hosts, key: lab1 }
    - getent: { database: passwd, key: provtest-nobody, fail_key: false }
      register: missing
    - assert:
        that:
          - "'root' in getent_group and getent_group.root[1] == '0'"
          - getent_hosts['192.168.77.11'] == ['lab1']
          - getent_passwd['provtest-nobody'] is none
          - "'root' not in getent_passwd"
          - missing.msg is search('could not be found')
          - missing.ansible_facts.getent_passwd['provtest-nobody'] is none
"#,
    );
    cycle(&p, 0, &[], "true");
    p.file(
        "site.yml",
        "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - getent: { database: passwd, key: provtest-nobody }\n",
    );
    run(&p, &[])
        .code(2)
        .stdout_has("One or more supplied key could not be found in the database.");
    p.file(
        "site.yml",
        "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - getent: { database: nosuchdb }\n",
    );
    run(&p, &[]).code(2).stdout_has("database unknown");
}

// ---------------------------------------------------------------------------------------------
// find

#[test]
fn find_filters_like_ansible() {
    let Some(_lab) = lab("find_filters_like_ansible") else {
        return;
    };
    on_lab3(
        "d=/tmp/prov-mods/find; rm -rf $d; mkdir -p $d/sub/deeper $d/.hid && cd $d && \
         echo 'hello world' > a.log && echo 'nothing' > b.log && printf 'x%.0s' $(seq 1 3000) > big.txt && \
         echo 'port = 22' > sub/c.conf && echo 'deep' > sub/deeper/d.log && echo h > .hidden.log && echo i > .hid/e.log && \
         ln -s a.log link.log && touch -d '10 days ago' b.log && echo 'x' > 'odd | name.log'",
    );
    let p = project(
        "admin-find",
        r#"    - find: { paths: /tmp/prov-mods/find, patterns: "*.log" }
      register: top
    - find: { paths: /tmp/prov-mods/find, patterns: "*.log", recurse: true, hidden: true }
      register: all
    - find: { paths: /tmp/prov-mods/find, patterns: "*.log", recurse: true, depth: 2, excludes: "b*" }
      register: depth2
    - find: { paths: /tmp/prov-mods/find, age: 5d, patterns: "*.log" }
      register: old
    - find: { paths: /tmp/prov-mods/find, size: 2k }
      register: big
    - find: { paths: [/tmp/prov-mods/find, /tmp/prov-mods/nope], contains: hello, recurse: true }
      register: hello
    - find: { paths: /tmp/prov-mods/find, patterns: '^[ab]\.', use_regex: true }
      register: rx
    - find: { paths: /tmp/prov-mods/find, file_type: directory, recurse: true, hidden: true }
      register: dirs
    - find: { paths: /tmp/prov-mods/find, file_type: link }
      register: links
    - find: { paths: /tmp/prov-mods/find/sub, contains: 'port\s*=', read_whole_file: true }
      register: whole
    - assert:
        that:
          - top.files | map(attribute='path') | map('basename') | list == ['a.log', 'b.log', 'odd | name.log']
          - top.matched == 3
          - top.examined == 8
          - all.matched == 6
          - depth2.files | map(attribute='path') | map('basename') | list == ['e.log', 'a.log', 'odd | name.log']
          - old.files | map(attribute='path') | list == ['/tmp/prov-mods/find/b.log']
          - big.files | map(attribute='path') | list == ['/tmp/prov-mods/find/big.txt']
          - big.files[0].size == 3000 and big.files[0].isreg and big.files[0].mode == '0644' and big.files[0].pw_name == 'root'
          - hello.files | map(attribute='path') | list == ['/tmp/prov-mods/find/a.log']
          - "'/tmp/prov-mods/nope' in hello.skipped_paths"
          - hello.msg == 'Not all paths examined, check warnings for details'
          - rx.matched == 2
          - dirs.files | map(attribute='path') | map('basename') | list == ['.hid', 'sub', 'deeper']
          - links.files[0].islnk and links.matched == 1
          - whole.matched == 1
"#,
    );
    cycle(&p, 0, &[], "true");
    on_lab3("rm -rf /tmp/prov-mods/find");
}

// ---------------------------------------------------------------------------------------------
// unarchive

#[test]
fn unarchive_unpacks_tar_and_zip_idempotently() {
    let Some(_lab) = lab("unarchive_unpacks_tar_and_zip_idempotently") else {
        return;
    };
    let d = "/tmp/prov-mods/unarc";
    on_lab3(&format!(
        "rm -rf {d}; mkdir -p {d}/tgz {d}/zip {d}/remote {d}/strip {d}/owned"
    ));
    let p = Project::new("admin-unarchive");
    // Archives built on the controller.
    p.file("src/app/a.txt", "alpha\n")
        .file("src/app/sub/b c.txt", "bravo\n")
        .file("src/app/sub/deeper/d.txt", "delta\n");
    std::os::unix::fs::symlink("a.txt", p.path("src/app/link")).unwrap();
    std::fs::create_dir_all(p.path("files")).unwrap();
    let sh = |cmd: &str| {
        let st = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(&p.dir)
            .status()
            .unwrap();
        assert!(st.success(), "{cmd}");
    };
    sh(
        "tar czf files/app.tar.gz -C src app && tar cJf files/app.tar.xz -C src app && (cd src && zip -qry ../files/app.zip app)",
    );
    let i = inv();
    p.file(
        "prep.yml",
        &format!(
            "- hosts: lab3\n  gather_facts: false\n  tasks:\n    - apt: {{ name: [unzip, xz-utils], state: present, update_cache: true, cache_valid_time: 86400 }}\n    - copy: {{ src: files/app.tar.xz, dest: {d}/app.tar.xz }}\n"
        ),
    );
    p.prov(&["run", "prep.yml", "-i", &i, "-l", "lab3"])
        .success();
    let site = |tasks: &str| {
        p.file(
            "site.yml",
            &format!("- hosts: lab3\n  gather_facts: false\n  tasks:\n{tasks}"),
        );
    };
    let tree =
        |sub: &str| format!("cd {d}/{sub} && find . | sort && cat app/a.txt 2>/dev/null; true");
    // tar.gz from the controller
    site(&format!(
        "    - unarchive: {{ src: app.tar.gz, dest: {d}/tgz }}\n      register: r\n    - assert: {{ that: \"r.handler == 'TgzArchive'\" }}\n"
    ));
    cycle(&p, 1, &["+app/sub/b c.txt", "+app/link"], &tree("tgz"));
    assert_eq!(
        on_lab3(&format!(
            "cd {d}/tgz && find . | sort && cat app/a.txt && readlink app/link && ls /tmp | grep -c prov-unarchive; true"
        )),
        ".\n./app\n./app/a.txt\n./app/link\n./app/sub\n./app/sub/b c.txt\n./app/sub/deeper\n./app/sub/deeper/d.txt\nalpha\na.txt\n0\n"
    );
    // a changed file is unpacked again
    on_lab3(&format!("echo changed > {d}/tgz/app/a.txt"));
    run(&p, &["--check", "--diff"])
        .success()
        .changed("lab3", 1)
        .stdout_has("+app/a.txt");
    run(&p, &[]).success().changed("lab3", 1);
    assert_eq!(on_lab3(&format!("cat {d}/tgz/app/a.txt")), "alpha\n");
    // zip from the controller
    site(&format!(
        "    - unarchive: {{ src: app.zip, dest: {d}/zip }}\n"
    ));
    cycle(&p, 1, &["+app/sub/deeper/d.txt"], &tree("zip"));
    assert_eq!(
        on_lab3(&format!("cat '{d}/zip/app/sub/b c.txt'")),
        "bravo\n"
    );
    // tar.xz already on the host, with list_files; creates
    site(&format!(
        "    - unarchive: {{ src: {d}/app.tar.xz, dest: {d}/remote, remote_src: true, list_files: true }}\n      register: r\n    - assert: {{ that: \"'app/sub/deeper/d.txt' in r.files and r.files | length == 7\" }}\n"
    ));
    cycle(&p, 1, &["+app/a.txt"], &tree("remote"));
    site(&format!(
        "    - unarchive: {{ src: app.zip, dest: {d}/remote, creates: {d}/remote/app }}\n"
    ));
    let r = run(&p, &[]);
    r.success().changed("lab3", 0);
    assert_eq!(r.recap("lab3")[4], 1, "skipped\n{}", r.stdout);
    // --strip-components and owner/group
    site(&format!(
        "    - unarchive: {{ src: app.tar.gz, dest: {d}/strip, extra_opts: [--strip-components=1] }}\n    - unarchive: {{ src: app.tar.gz, dest: {d}/owned, owner: app, group: app }}\n"
    ));
    cycle(
        &p,
        2,
        &["+sub/deeper/d.txt"],
        &format!("ls -R {d}/strip {d}/owned"),
    );
    assert_eq!(on_lab3(&format!("cat {d}/strip/a.txt")), "alpha\n");
    assert_eq!(
        on_lab3(&format!(
            "stat -c '%U:%G' {d}/owned/app/sub/deeper/d.txt {d}/owned/app/link"
        )),
        "app:app\napp:app\n"
    );
    // errors
    site(&format!(
        "    - unarchive: {{ src: app.tar.gz, dest: {d}/missing }}\n"
    ));
    run(&p, &[]).code(2).stdout_has("must be an existing dir");
    p.file("files/bad.tar.gz", "not an archive");
    site(&format!(
        "    - unarchive: {{ src: bad.tar.gz, dest: {d}/tgz }}\n"
    ));
    run(&p, &[]).code(2).stdout_has("not a valid tar archive");
    on_lab3(&format!("rm -rf {d}"));
}

// ---------------------------------------------------------------------------------------------
// wait_for_connection

#[test]
fn wait_for_connection_waits_and_times_out() {
    let Some(_lab) = lab("wait_for_connection_waits_and_times_out") else {
        return;
    };
    let p = project(
        "admin-wfc",
        "    - wait_for_connection: { timeout: 30 }\n      register: w\n    - assert: { that: w.elapsed < 10 }\n",
    );
    cycle(&p, 0, &[], "true");
    // A host that never answers (an unused lab address): a failure after `timeout`, not
    // UNREACHABLE, and the next task does not run.
    p.file(
        "ghost.yml",
        "all:\n  hosts:\n    ghost:\n      ansible_host: 192.168.77.99\n      ansible_user: root\n",
    );
    p.file(
        "site.yml",
        "- hosts: ghost\n  gather_facts: false\n  tasks:\n    - wait_for_connection: { timeout: 4, sleep: 1 }\n    - command: echo never\n",
    );
    let t = Instant::now();
    let r = p.prov(&["run", "site.yml", "-i", "ghost.yml", "--timeout", "2"]);
    r.code(2).stdout_has("timed out waiting for connection");
    assert_eq!(
        r.recap("ghost")[3],
        1,
        "failed, not unreachable\n{}",
        r.stdout
    );
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
}

/// No lab needed: the local connection, facts from a module.
#[test]
fn getent_and_wait_for_connection_on_localhost() {
    let p = Project::new("admin-local");
    p.file(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - wait_for_connection: { timeout: 5 }
    - setup: { filter: ansible_user_id }
    - assert: { that: "ansible_user_id | length > 0 and ansible_distribution is not defined" }
    - getent: { database: passwd, key: root }
    - assert:
        that:
          - getent_passwd.root[1] == '0'
          - ansible_facts.getent_passwd.root[4] == '/root'
    - find: { paths: /etc, patterns: "passwd,group" }
      register: f
    - assert:
        that: f.files | map(attribute='path') | list == ['/etc/group', '/etc/passwd']
"#,
    );
    let r = p.prov(&["run", "site.yml"]);
    r.success().changed("localhost", 0);
    p.prov(&["run", "site.yml", "--check"])
        .success()
        .changed("localhost", 0);
}

// ---------------------------------------------------------------------------------------------
// setup

#[test]
fn setup_gathers_and_filters_facts() {
    let Some(_lab) = lab("setup_gathers_and_filters_facts") else {
        return;
    };
    let p = project(
        "admin-setup",
        r#"    - setup: { filter: [ansible_distribution*, ansible_hostname] }
      register: f
    - assert:
        that:
          - ansible_distribution == 'Debian'
          - ansible_facts.distribution_release == 'bookworm'
          - f.ansible_facts.ansible_hostname == 'lab3'
          - "'ansible_default_ipv4' not in f.ansible_facts"
          - ansible_facts.default_ipv4 is not defined
    - ansible.builtin.setup:
        gather_subset: [network]
    - assert:
        that:
          - ansible_default_ipv4.address == '192.168.77.13'
          - ansible_facts.hostname == 'lab3'
"#,
    );
    cycle(&p, 0, &[], "true");
}
