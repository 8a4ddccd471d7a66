//! Fault tests (issue 9) through the `prov` binary: hostile or broken inputs end in a clear
//! error, in bounded time and memory, never in a crash (stack overflow, panic, OOM).
//!
//! Each run is time-boxed: a child still running at its deadline is killed and the test fails,
//! so the old behaviour (minutes, gigabytes) shows as a failure rather than a hang.

mod common;
use common::{Bounded, Project, run_bounded};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const INV: &str = "[local]\nlocalhost ansible_connection=local\n";

/// A "billion laughs" play: `levels` anchors, each a list of nine aliases of the one before.
fn alias_bomb(levels: usize) -> String {
    let mut s = String::from(
        "- hosts: all\n  gather_facts: false\n  vars:\n    a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..=levels {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        s.push_str(&format!("    a{i}: &a{i} [{refs}]\n"));
    }
    s.push_str("  tasks: []\n");
    s
}

#[test]
fn alias_bomb_is_refused_quickly_with_the_alias_location() {
    let p = Project::new("fault-bomb");
    p.file("inv.ini", INV).file("bomb.yml", &alias_bomb(9));
    for args in [
        &["run", "--syntax-check", "bomb.yml", "-i", "inv.ini"][..],
        &["check", "bomb.yml", "-i", "inv.ini"][..],
    ] {
        let r = run_bounded(&p.dir, args, Duration::from_secs(30));
        // a YAML error: ansible-playbook's exit code for a file it cannot parse
        assert_eq!(r.code, 4, "{r:#?}");
        assert!(r.stderr.contains("alias bomb"), "{}", r.stderr);
        // a1..a5 fit in the budget; the first `*a5` in a6 (line 10 of the file) does not.
        assert!(r.stderr.contains("bomb.yml:10:"), "{}", r.stderr);
        assert!(r.stderr.contains("`*a5`"), "{}", r.stderr);
        assert!(r.stderr.contains("hint:"), "{}", r.stderr);
        // Before the budget: 12 GB and still growing after 60 s.
        assert!(r.max_rss_kb < 1024 * 1024, "peak RSS {} KiB", r.max_rss_kb);
        assert!(r.elapsed < Duration::from_secs(20), "{:?}", r.elapsed);
    }
}

#[test]
fn documents_with_ordinary_aliases_still_load_and_run() {
    let p = Project::new("fault-aliases");
    p.file("inv.ini", INV).file(
        "site.yml",
        r#"
- hosts: local
  gather_facts: false
  vars:
    base: &base { port: 80, proto: tcp }
    web: { <<: *base, port: 8080 }
    ports: [*base, *base]
  tasks:
    - debug: msg="{{ web.port }}/{{ web.proto }} {{ ports | length }}"
"#,
    );
    let r = run_bounded(
        &p.dir,
        &["run", "site.yml", "-i", "inv.ini"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.contains("8080/tcp 2"), "{}", r.stdout);
}

/// Asserts a recursion ended in an error naming `files`, not in a crash.
#[track_caller]
fn assert_recursion_error(r: &Bounded, want_code: i32, files: &[&str]) {
    assert_ne!(r.code, 134, "stack overflow:\n{}", r.stderr);
    assert_eq!(r.code, want_code, "{r:#?}");
    let all = format!("{}\n{}", r.stdout, r.stderr);
    for f in files {
        assert!(all.contains(f), "{f} not named:\n{all}");
    }
}

fn recursion_project(name: &str) -> Project {
    let p = Project::new(name);
    p.file("inv.ini", INV)
        // import_tasks: a → b → a
        .file("a.yml", "- import_tasks: b.yml\n")
        .file("b.yml", "- debug: msg=b\n- import_tasks: a.yml\n")
        .file(
            "imp.yml",
            "- hosts: local\n  gather_facts: false\n  tasks:\n    - import_tasks: a.yml\n",
        )
        // include_tasks: c → c, forever
        .file("c.yml", "- include_tasks: c.yml\n")
        .file(
            "inc.yml",
            "- hosts: local\n  gather_facts: false\n  tasks:\n    - include_tasks: c.yml\n",
        )
        // include_tasks that ends by itself: five levels, then `when` stops it.
        .file(
            "count.yml",
            "- set_fact: { n: \"{{ n | int + 1 }}\" }\n- debug: msg=level{{ n }}\n- include_tasks: count.yml\n  when: n | int < 5\n",
        )
        .file(
            "counted.yml",
            "- hosts: local\n  gather_facts: false\n  tasks:\n    - set_fact: { n: 0 }\n    - include_tasks: count.yml\n",
        )
        // roles
        .file("roles/selfimp/tasks/main.yml", "- import_role: name=selfimp\n")
        .file("roles/selfinc/tasks/main.yml", "- include_role: name=selfinc\n")
        .file("roles/ma/meta/main.yml", "dependencies: [mb]\n")
        .file("roles/ma/tasks/main.yml", "- debug: msg=ma\n")
        .file("roles/mb/tasks/main.yml", "- import_role: name=ma\n");
    for r in ["selfimp", "selfinc", "ma"] {
        p.file(
            &format!("role_{r}.yml"),
            &format!("- hosts: local\n  gather_facts: false\n  roles: [{r}]\n"),
        );
    }
    p
}

#[test]
fn import_tasks_loop_fails_at_load_time_naming_the_chain() {
    let p = recursion_project("fault-imp");
    let limit = Duration::from_secs(60);
    for args in [
        &["run", "imp.yml", "-i", "inv.ini"][..],
        &["run", "--syntax-check", "imp.yml", "-i", "inv.ini"][..],
    ] {
        let r = run_bounded(&p.dir, args, limit);
        assert_recursion_error(
            &r,
            1,
            &["import loop", "imp.yml:4:7", "a.yml:1:3", "b.yml:2:3"],
        );
        assert!(!r.stdout.contains("TASK"), "nothing may run:\n{}", r.stdout);
    }
}

#[test]
fn include_tasks_loop_fails_the_task_at_the_depth_limit() {
    let p = recursion_project("fault-inc");
    let r = run_bounded(
        &p.dir,
        &["run", "inc.yml", "-i", "inv.ini"],
        Duration::from_secs(60),
    );
    assert_recursion_error(&r, 2, &["nest deeper than 64", "inc.yml:4:7", "c.yml:1:3"]);
    assert!(r.stdout.contains("failed=1"), "{}", r.stdout);
}

#[test]
fn include_tasks_recursion_with_an_end_still_runs() {
    let p = recursion_project("fault-count");
    let r = run_bounded(
        &p.dir,
        &["run", "counted.yml", "-i", "inv.ini"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{r:#?}");
    for i in 1..=5 {
        assert!(r.stdout.contains(&format!("level{i}")), "{}", r.stdout);
    }
    assert!(!r.stdout.contains("level6"), "{}", r.stdout);
}

#[test]
fn roles_that_import_themselves_fail_at_load_time() {
    let p = recursion_project("fault-roles");
    let limit = Duration::from_secs(60);
    // import_role of itself
    let r = run_bounded(&p.dir, &["run", "role_selfimp.yml", "-i", "inv.ini"], limit);
    assert_recursion_error(
        &r,
        1,
        &[
            "import loop",
            "role_selfimp.yml:3:",
            "roles/selfimp/tasks/main.yml",
        ],
    );
    // a meta dependency whose tasks import the role that depends on it
    let r = run_bounded(&p.dir, &["run", "role_ma.yml", "-i", "inv.ini"], limit);
    assert_recursion_error(
        &r,
        1,
        &[
            "import loop",
            "role_ma.yml:3:11 → roles/ma/tasks/main.yml",
            "roles/ma/meta/main.yml:1:16 → roles/mb/tasks/main.yml",
            "roles/mb/tasks/main.yml:1:16 → roles/ma/tasks/main.yml",
        ],
    );
}

#[test]
fn role_that_includes_itself_fails_the_task_at_run_time() {
    let p = recursion_project("fault-role-inc");
    let r = run_bounded(
        &p.dir,
        &["run", "role_selfinc.yml", "-i", "inv.ini"],
        Duration::from_secs(60),
    );
    assert_recursion_error(
        &r,
        2,
        &["nest deeper than 64", "roles/selfinc/tasks/main.yml:1:3"],
    );
}

#[test]
fn a_loop_of_100000_items_is_linear() {
    let p = Project::new("fault-loop");
    p.file("inv.ini", INV).file(
        "loop.yml",
        r#"
- hosts: local
  gather_facts: false
  tasks:
    - debug: msg="n{{ item }}"
      loop: "{{ range(100000) | list }}"
      register: r
    - assert: { that: [r.results | length == 100000] }
"#,
    );
    // Each item used to copy the whole list (ansible_loop.allitems): 16,000 items took 4.5 s,
    // 100,000 took over six minutes. Now it is ~10 s in a debug build.
    let r = run_bounded(
        &p.dir,
        &["run", "loop.yml", "-i", "inv.ini"],
        Duration::from_secs(90),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let items = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("ok: [localhost] => (item="))
        .count();
    assert_eq!(items, 100_000);
    assert!(
        r.stdout.contains("\"msg\": \"n99999\""),
        "last item missing"
    );
    assert!(
        r.stdout.contains("ok=2"),
        "{}",
        &r.stdout[r.stdout.len() - 300..]
    );
}

/// Runs `prov ARGS` with stdout (or stderr) a pipe whose reader is already gone, as in
/// `prov inventory --list | head -1` once `head` has exited: every write fails with EPIPE.
fn run_into_closed_pipe(dir: &Path, args: &[&str], close: &str) -> (i32, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prov"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .stdin(Stdio::null());
    let out = if close == "stdout" {
        cmd.stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
    } else {
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::from(writer))
            .output()
    }
    .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let other = if close == "stdout" {
        out.stderr
    } else {
        out.stdout
    };
    (code, String::from_utf8_lossy(&other).into_owned())
}

#[test]
fn a_closed_stdout_ends_quietly_instead_of_panicking() {
    let p = Project::new("fault-epipe");
    p.file(
        "inv.ini",
        "[local]\nlocalhost ansible_connection=local\n[web]\nweb[001:500].example.com\n",
    )
    .file(
        "site.yml",
        "- hosts: local\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n",
    );
    // Before: exit 101 and "panicked at ... failed printing to stdout: Broken pipe".
    for args in [
        &["inventory", "-i", "inv.ini", "--list"][..],
        &["inventory", "-i", "inv.ini", "--graph"][..],
        &["inventory", "-i", "inv.ini", "--host", "localhost"][..],
        &["doc", "--list"][..],
        &["doc", "copy"][..],
        &["check", "site.yml", "-i", "inv.ini"][..],
        &["run", "--syntax-check", "site.yml", "-i", "inv.ini"][..],
        &[
            "run",
            "--list-tasks",
            "--list-hosts",
            "site.yml",
            "-i",
            "inv.ini",
        ][..],
        // A real run goes on to the end (no host is left half-done); its output is lost.
        &["run", "site.yml", "-i", "inv.ini"][..],
    ] {
        let (code, stderr) = run_into_closed_pipe(&p.dir, args, "stdout");
        assert_eq!(code, 0, "prov {args:?}: exit {code}\n{stderr}");
        assert!(!stderr.contains("panicked"), "prov {args:?}:\n{stderr}");
        assert!(!stderr.contains("Broken pipe"), "prov {args:?}:\n{stderr}");
    }
    // An error with stderr closed still exits with its code.
    let (code, stdout) = run_into_closed_pipe(&p.dir, &["run", "missing.yml"], "stderr");
    assert_eq!(code, 5, "{stdout}");
}

#[test]
fn host_ranges_are_capped_for_the_whole_inventory() {
    let p = Project::new("fault-ranges");
    // 30 lines of 99,999 hosts each: every line is under the per-expression cap (100,000), and
    // together they took 3 GB and 41 s. The total is capped at 1,000,000 host entries: the
    // eleventh line (line 12 of the file) goes over.
    let mut ini = String::from("[web]\n");
    for i in 0..30 {
        ini.push_str(&format!("h{i}-[00001:99999].example.com\n"));
    }
    p.file("ranges.ini", &ini);
    let r = run_bounded(
        &p.dir,
        &["inventory", "-i", "ranges.ini", "--list"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("past 1000000 hosts"), "{}", r.stderr);
    assert!(r.stderr.contains("ranges.ini:12:5"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert!(
        r.max_rss_kb < 2 * 1024 * 1024,
        "peak RSS {} KiB",
        r.max_rss_kb
    );
    // The same in a YAML inventory: the same hosts in many groups count once per group.
    let mut yml = String::from("all:\n  children:\n");
    for i in 0..30 {
        yml.push_str(&format!(
            "    g{i}:\n      hosts:\n        h[000001:100000]:\n"
        ));
    }
    p.file("ranges.yml", &yml);
    let r = run_bounded(
        &p.dir,
        &["inventory", "-i", "ranges.yml", "--list"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("past 1000000 hosts"), "{}", r.stderr);
    // g10's hosts key, on line 3 + 3 * 10 + 2
    assert!(r.stderr.contains("ranges.yml:35:10"), "{}", r.stderr);
    // An inventory under the cap still loads.
    p.file("ok.ini", "[web]\nweb[001:300]\n[db]\ndb[a:c]\n");
    let r = run_bounded(
        &p.dir,
        &["inventory", "-i", "ok.ini", "--graph"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("web300") && r.stdout.contains("dbc"),
        "{}",
        r.stdout
    );
}

#[test]
fn duplicate_yaml_keys_follow_ansible_duplicate_yaml_dict_key() {
    let p = Project::new("fault-dupkeys");
    p.file("inv.ini", INV).file(
        "dup.yml",
        "- hosts: local\n  gather_facts: false\n  vars:\n    foo: bar\n    foo: baz\n  tasks:\n    - debug: {msg: 'foo={{ foo }}'}\n",
    );
    let args = ["run", "dup.yml", "-i", "inv.ini"];
    let key = "ANSIBLE_DUPLICATE_YAML_DICT_KEY";
    // prov's default is an error, with ansible-playbook's exit code for a file it cannot parse
    p.prov(&args)
        .code(4)
        .stderr_has("Found duplicate mapping key 'foo'.")
        .stderr_has("dup.yml:5:5");
    p.prov_env(&args, &[(key, "error".as_ref())]).code(4);
    // warn and ignore: the last value wins
    p.prov_env(&args, &[(key, "warn".as_ref())])
        .success()
        .stderr_has("[WARNING]: Found duplicate mapping key 'foo'.")
        .stdout_has("foo=baz");
    let r = p.prov_env(&args, &[(key, "ignore".as_ref())]);
    r.success().stdout_has("foo=baz");
    assert!(!r.stderr.contains("duplicate"), "{}", r.stderr);
}
