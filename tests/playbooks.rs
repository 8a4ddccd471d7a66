//! End-to-end: real playbooks through the `prov` binary with the local connection.

mod common;
use common::{Project, mode_of};

const INV: &str = "[local]\nlocalhost ansible_connection=local\n";

#[test]
fn converges_then_idempotent_then_check_diff_changes_nothing() {
    let p = Project::new("converge");
    p.file("inv.ini", INV).file(
        "site.yml",
        r#"
- hosts: local
  gather_facts: false
  vars:
    root: "{dir}/out"
  tasks:
    - name: make a folder
      file: { path: "{{ root }}", state: directory, mode: "0750" }
    - name: write a file
      copy:
        dest: "{{ root }}/motd"
        content: "hello {{ msg | default('world') }}\n"
        mode: 0640
    - name: set a line
      lineinfile: { path: "{{ root }}/conf", line: "x=1", create: yes }
    - name: run once
      command: touch {{ root }}/stamp
      args: { creates: "{{ root }}/stamp" }
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"])
        .success()
        .changed("localhost", 4);
    assert_eq!(p.read("out/motd"), "hello world\n");
    assert_eq!(mode_of(&p.path("out/motd")), 0o640);
    assert_eq!(mode_of(&p.path("out")), 0o750);
    assert_eq!(p.read("out/conf"), "x=1\n");
    assert!(p.exists("out/stamp"));

    p.prov(&["run", "site.yml", "-i", "inv.ini"])
        .success()
        .changed("localhost", 0);

    let r = p.prov(&[
        "run", "site.yml", "-i", "inv.ini", "--check", "--diff", "-e", "msg=prov",
    ]);
    r.success()
        .changed("localhost", 1)
        .stdout_has("-hello world")
        .stdout_has("+hello prov");
    assert_eq!(
        p.read("out/motd"),
        "hello world\n",
        "check mode must not change the file"
    );

    // --dry-run is an alias of --check
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "--dry-run",
        "-e",
        "msg=prov",
    ])
    .success()
    .changed("localhost", 1);
    assert_eq!(p.read("out/motd"), "hello world\n");
}

#[test]
fn role_example_runs_and_is_idempotent() {
    let p = Project::new("webapp");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/webapp");
    let base = p.dir.to_str().unwrap().to_string();
    let args = [
        "run",
        &format!("{example}/site.yml"),
        "-i",
        &format!("{example}/inventory.ini"),
        "-e",
        &format!("base_dir={base}"),
    ];
    let first = p.prov(&args);
    first.code(0);
    let r = first.recap("web1");
    assert!(
        r[1] >= 6,
        "first run changes things: {r:?}\n{}",
        first.stdout
    );
    assert_eq!(r[3], 0, "no failure left after rescue: {}", first.stdout);
    assert_eq!(r[5], 1, "the block's failure was rescued: {}", first.stdout);
    first
        .stdout_has("RUNNING HANDLER [app : restart app]")
        .stdout_has("port = 8080");
    let conf = std::fs::read_to_string(p.path("web2/etc/app.conf")).unwrap();
    assert!(
        conf.contains("port = 8081"),
        "host var wins over group_vars: {conf}"
    );
    assert!(conf.contains("log_level = INFO"));
    assert!(
        conf.contains("user = alice:/bin/bash\nuser = bob:/bin/sh\n"),
        "{conf}"
    );
    assert!(conf.contains("greeting = \"Hello from web2\""));
    assert_eq!(p.read("web1/run/restarted"), "restarted\n");
    assert!(p.read("web1/log/recovered").starts_with("recovered from "));

    let second = p.prov(&args);
    second.code(0);
    // The deliberate failure is rescued again; nothing changes.
    let r2 = second.recap("web1");
    assert_eq!(r2[1], 0, "second run changes nothing\n{}", second.stdout);
    assert_eq!(r2[5], 1, "the failure is rescued again\n{}", second.stdout);
    second.stdout_lacks("RUNNING HANDLER");
}

#[test]
fn failures_give_exit_code_2_and_unreachable_4() {
    let p = Project::new("codes");
    p.file("inv.ini", "localhost ansible_connection=local\n[far]\nghost ansible_host=127.0.0.1 ansible_port=1\n")
        .file("fail.yml", "- hosts: localhost\n  gather_facts: no\n  tasks:\n    - command: /bin/false\n    - debug: msg=never\n")
        .file("unreach.yml", "- hosts: far\n  gather_facts: no\n  tasks:\n    - ping:\n")
        .file("ignored.yml", "- hosts: localhost\n  gather_facts: no\n  tasks:\n    - command: /bin/false\n      ignore_errors: true\n    - debug: msg=after\n");
    let r = p.prov(&["run", "fail.yml", "-i", "inv.ini"]);
    r.code(2)
        .stdout_has("fatal: [localhost]: FAILED!")
        .stdout_lacks("never");
    assert_eq!(r.recap("localhost")[3], 1);
    let r = p.prov(&["run", "unreach.yml", "-i", "inv.ini"]);
    r.code(4).stdout_has("UNREACHABLE!");
    assert_eq!(r.recap("ghost")[2], 1);
    let r = p.prov(&["run", "ignored.yml", "-i", "inv.ini"]);
    r.code(0).stdout_has("...ignoring").stdout_has("after");
    assert_eq!(r.recap("localhost")[6], 1);
}

#[test]
fn errors_render_with_location_and_hint() {
    let p = Project::new("errors");
    p.file("inv.ini", INV)
        .file("typo.yml", "- hosts: all\n  tasks:\n    - name: t\n      coppy:\n        dest: /tmp/x\n")
        .file("opt.yml", "- hosts: all\n  tasks:\n    - copy:\n        dest: /tmp/x\n        contnet: hi\n")
        .file("yaml.yml", "- hosts: all\n  tasks:\n    - debug: msg=[1\n   - bad\n")
        .file("undef.yml", "- hosts: all\n  gather_facts: no\n  tasks:\n    - debug:\n        msg: \"{{ nope }}\"\n");
    p.prov(&["run", "typo.yml", "-i", "inv.ini"])
        .code(1)
        .stderr_has("couldn't resolve module/action 'coppy'")
        .stderr_has("typo.yml:4:7")
        .stderr_has("did you mean 'copy'?")
        .stderr_has("4 |       coppy:");
    p.prov(&["check", "opt.yml", "-i", "inv.ini"])
        .code(1)
        .stderr_has("Unsupported parameters for (copy) module: contnet.")
        .stderr_has("opt.yml:5:9")
        .stderr_has("did you mean 'content'");
    // A run (and --syntax-check) judges options when the task runs, as Ansible does: the
    // play starts, the task fails with Ansible's message, a skipped one never fails.
    p.prov(&["run", "opt.yml", "-i", "inv.ini", "--syntax-check"])
        .success();
    p.prov(&["run", "opt.yml", "-i", "inv.ini"])
        .code(2)
        .stdout_has("Unsupported parameters for (copy) module: contnet.");
    p.file(
        "skipped.yml",
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - copy: { contnet: hi }\n      when: false\n    - file: { state: file }\n      ignore_errors: true\n      register: r\n    - assert: { that: [\"r.msg is contains('missing required arguments: path')\"] }\n",
    );
    p.prov(&["run", "skipped.yml", "-i", "inv.ini"]).success();
    p.prov(&["run", "yaml.yml", "-i", "inv.ini"])
        .code(4)
        .stderr_has("yaml.yml:");
    let r = p.prov(&["run", "undef.yml", "-i", "inv.ini"]);
    r.code(2).stdout_has("nope").stdout_has("undefined");
    // A task where a play belongs: Ansible's message (scripts grep for it).
    p.file("notplay.yml", "- include_tasks: x.yml\n");
    p.prov(&["run", "notplay.yml", "-i", "inv.ini"])
        .code(1)
        .stderr_has("'include_tasks' is not a valid attribute for a Play")
        .stderr_has("notplay.yml:1:3");
}

#[test]
fn loops_register_when_and_handlers() {
    let p = Project::new("loops");
    p.file("inv.ini", INV).file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  handlers:
    - name: note
      copy: { dest: "{dir}/handled", content: "{{ items_made.results | length }}\n" }
  tasks:
    - name: make files
      copy:
        dest: "{dir}/f-{{ item.name }}"
        content: "{{ item.body }}\n"
      loop:
        - { name: a, body: A }
        - { name: b, body: B }
      loop_control: { label: "{{ item.name }}" }
      register: items_made
      notify: note
    - name: only when something changed
      set_fact:
        made: "{{ items_made.results | selectattr('changed') | map(attribute='item.name') | list }}"
    - name: skipped
      debug: msg=skip-me
      when: made | length > 5
    - name: show
      debug: var=made
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success()
        .stdout_has("(item=a)")
        .stdout_has("(item=b)")
        .stdout_has("RUNNING HANDLER [note]");
    // Like Ansible, a lone "{{ expr }}\n" renders to the native value: no newline after a
    // number; a text value keeps it (ansible-core 2.19).
    assert_eq!(p.read("handled"), "2");
    assert_eq!(p.read("f-a"), "A\n");
    assert_eq!(r.recap("localhost")[4], 1, "one skipped task");
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success()
        .changed("localhost", 0)
        .stdout_lacks("RUNNING HANDLER");
}

/// `async`/`poll` and `async_status` as Ansible runs them: a polled job's result is the
/// module's with the job's keys (its status file removed after), a `poll: 0` job is reported
/// started and `async_status` waits for it with `until`, a job over its time is killed
/// (`Timeout exceeded`), an action without async support fails with Ansible's message, and
/// check mode runs the module's check in the job.
#[test]
fn async_jobs_poll_fire_and_forget_time_out_and_refuse() {
    let p = Project::new("async");
    p.file("inv.ini", INV).file(
        "site.yml",
        r#"
- hosts: local
  gather_facts: false
  vars:
    ansible_async_dir: "{dir}/jobs"
  tasks:
    - shell: echo one; sleep 1; echo two
      async: 10
      poll: 1
      register: polled
    - stat: { path: "{{ polled.results_file }}" }
      register: polled_file
    - command: sleep 2
      async: 30
      poll: 0
      register: started
    - async_status: { jid: "{{ started.ansible_job_id }}" }
      register: running
    - async_status: { jid: "{{ started.ansible_job_id }}" }
      register: done
      until: done is finished
      retries: 20
      delay: 1
    - shell: sleep 30; touch {dir}/late
      async: 2
      poll: 1
      register: slow
      ignore_errors: true
    - script: nothing.sh
      async: 5
      register: refused
      ignore_errors: true
    - command: touch {dir}/checked
      async: 5
      poll: 1
      check_mode: true
      register: checked
    - async_status: { jid: nope }
      register: missing
      ignore_errors: true
    - async_status: { jid: "{{ started.ansible_job_id }}", mode: cleanup }
      register: cleaned
    - assert:
        that:
          - polled is changed and polled is finished
          - polled.stdout_lines == ['one', 'two'] and polled.rc == 0
          - polled.ansible_job_id is match('j\d+\.\d+')
          - polled.results_file == ansible_async_dir + '/' + polled.ansible_job_id
          - not polled_file.stat.exists
          - started is changed and started.started and not started.finished
          - started is not finished
          - running is not failed and running.started
          - done is finished and done is changed and done.cmd == ['sleep', '2']
          - done.attempts > 1
          - slow is failed and slow.msg == 'Timeout exceeded' and slow.child_pid > 0
          - refused is failed
          - refused.msg == 'This action (script) does not support async.'
          - checked is skipped and checked is finished
          - missing is failed and missing.msg == 'could not find job'
          - cleaned.erased == ansible_async_dir + '/' + started.ansible_job_id
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success()
        .stdout_has("ASYNC POLL on localhost: jid=")
        .stdout_has("ASYNC OK on localhost: jid=")
        .stdout_has("ASYNC FAILED on localhost: jid=");
    assert!(!p.exists("checked"), "check mode must not run the command");
    // the job's status files: the polled ones removed, the cleaned one too
    let left: Vec<_> = std::fs::read_dir(p.path("jobs"))
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// One JSON value per line (prov's `--output json` and `--events-file` format).
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn json_output_is_json_lines() {
    let p = Project::new("json");
    p.file("inv.ini", INV).file(
        "site.yml",
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - debug: msg=hi\n    - ansible.builtin.set_fact: { x: 1 }\n    - block: [{ assert: { that: x == 1 } }]\n",
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini", "--output", "json"]);
    r.success();
    let events = json_lines(&r.stdout);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "playbook_start",
            "play_start",
            "task_start",
            "host_result",
            "task_start",
            "host_result",
            "task_start",
            "host_result",
            "recap",
            "changes"
        ]
    );
    assert_eq!(events[3]["status"], "ok");
    assert_eq!(events[3]["msg"], "hi");
    // What each task runs, by its canonical name (a test harness counts `assert` results).
    let actions: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "task_start")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["debug", "set_fact", "assert"]);
}

#[test]
fn events_file_beside_human_output() {
    let p = Project::new("events-file");
    p.file("inv.ini", INV).file(
        "site.yml",
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - assert: { that: 1 == 1 }\n",
    );
    let ev = p.dir.join("events.jsonl");
    let r = p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "--events-file",
        ev.to_str().unwrap(),
    ]);
    r.success()
        .stdout_has("TASK [assert]")
        .stdout_has("PLAY RECAP");
    // A second run appends (a runme.sh calls the playbook tool several times).
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "--events-file",
        ev.to_str().unwrap(),
    ])
    .success();
    let text = std::fs::read_to_string(&ev).unwrap();
    let events = json_lines(&text);
    let starts: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "task_start")
        .collect();
    assert_eq!(starts.len(), 2, "{text}");
    assert!(starts.iter().all(|e| e["action"] == "assert"));
    assert_eq!(events.iter().filter(|e| e["event"] == "recap").count(), 2);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&ev).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn magic_variables_of_the_run_the_play_and_the_role() {
    // The values ansible-playbook 2.19 gives for the same project (checked by hand).
    let p = Project::new("magic");
    p.file("inv.ini", INV)
        .file("roles/base/tasks/main.yml", "- set_fact: { base_seen: true }\n")
        .file("roles/web/meta/main.yml", "dependencies: [base]\n")
        .file(
            "roles/web/tasks/main.yml",
            "- assert:\n    that:\n      - ansible_role_name == 'web'\n      - role_name == 'web'\n      - ansible_collection_name is none\n      - ansible_search_path[0] == role_path\n      - ansible_search_path[-1] == playbook_dir\n",
        )
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: no\n  roles: [web]\n  tasks:\n    - assert:\n        that:\n          - ansible_play_role_names == ['web']\n          - role_names == ['web']\n          - ansible_dependent_role_names == ['base']\n          - ansible_role_names | sort == ['base', 'web']\n          - ansible_run_tags == ['all']\n          - ansible_skip_tags == []\n          - ansible_forks == 3\n          - ansible_limit == 'localhost'\n          - ansible_inventory_sources == [playbook_dir ~ '/inv.ini']\n          - inventory_file == playbook_dir ~ '/inv.ini'\n          - inventory_dir == playbook_dir\n          - ansible_facts == {}\n          - ansible_playbook_python is string\n          - ansible_search_path == [playbook_dir]\n          - base_seen\n",
        );
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "-f",
        "3",
        "-l",
        "localhost",
    ])
    .success()
    .stdout_lacks("FAILED");
}

#[test]
fn connection_and_force_handlers_flags() {
    // `-c local` for an inventory that names no connection, and `--force-handlers` (also
    // ANSIBLE_FORCE_HANDLERS), as ansible-playbook's flags; `--flush-cache` is accepted.
    let p = Project::new("cflags");
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - command: \"true\"\n      notify: h\n    - fail: msg=boom\n  handlers:\n    - name: h\n      debug: msg=HANDLER-RAN\n",
    );
    let r = p.prov(&[
        "run",
        "site.yml",
        "-i",
        "box1,",
        "-c",
        "local",
        "--flush-cache",
    ]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    r.stdout_has("changed: [box1]").stdout_lacks("HANDLER-RAN");
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "box1,",
        "-c",
        "local",
        "--force-handlers",
    ])
    .stdout_has("HANDLER-RAN");
}

/// Runs prov in `p` with ansible-core looked for in `core` (`PROV_ANSIBLE_CORE_DIR`), so that
/// the outcome does not depend on the `python3` of the machine running the tests.
fn prov_with_core(p: &Project, core: &std::path::Path, args: &[&str]) -> common::Run {
    p.prov_env(args, &[("PROV_ANSIBLE_CORE_DIR", core.as_os_str())])
}

#[test]
fn ansible_builtin_modules_prov_lacks_fail_only_when_they_run() {
    // `dnf` is ansible-core's: the playbook loads (as under Ansible), a skipped task costs
    // nothing; with no ansible-core on the controller, a task that runs fails saying where it
    // looked; `prov check` still names it.
    let p = Project::new("builtin-missing");
    p.file("inv.ini", INV).file(
        "site.yml",
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - dnf: name=x\n      when: false\n    - ansible.builtin.dnf: name=x\n      ignore_errors: true\n    - debug: msg=after\n",
    );
    let none = p.path("no-ansible-core");
    prov_with_core(&p, &none, &["run", "site.yml", "-i", "inv.ini"])
        .success()
        .stdout_has("couldn't resolve module/action 'ansible.builtin.dnf'")
        .stdout_has("no-ansible-core/modules")
        .stdout_has("after");
    let r = prov_with_core(&p, &none, &["check", "site.yml"]);
    assert_ne!(r.code, 0);
    r.stderr_has("couldn't resolve module/action 'dnf'");
}

/// Modules in a playbook's `library/` that need no Python (a `WANT_JSON` script gets its
/// arguments as a JSON file, an old-style one as `k=v` words) load and run as under Ansible;
/// their result is registered whole; the JSON events mark them `"implementation": "ansible"`.
#[test]
fn library_script_modules_run_as_ansible_runs_them() {
    let p = Project::new("library-scripts");
    p.file("inv.ini", INV)
        .file(
            "library/want_it.sh",
            "#!/bin/sh\n# WANT_JSON\nprintf '{\"changed\": true, \"args\": %s, \"note\": \"json\"}' \"$(cat \"$1\")\"\n",
        )
        .file(
            "library/old_style",
            "#!/bin/sh\n. \"$1\"\necho \"noise before the result\"\necho \"{\\\"msg\\\": \\\"got $word\\\", \\\"rc\\\": 0}\"\n",
        )
        .file(
            "site.yml",
            r#"- hosts: all
  gather_facts: no
  tasks:
    - want_it: { a: 1, b: [x] }
      register: w
    - old_style: word="two words"
      register: o
    - assert:
        that:
          - w is changed
          - w.args.a == 1 and w.args.b == ['x']
          - w.args._ansible_check_mode == false
          - w.note == 'json'
          - o is not changed
          - o.msg == 'got two words'
    - nowhere_module_xyz: a=1
      when: false
"#,
        );
    // A name found nowhere is a load error that says where prov looked.
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    assert_ne!(r.code, 0);
    r.stderr_has("couldn't resolve module/action 'nowhere_module_xyz'")
        .stderr_has("library");
    p.file(
        "site.yml",
        &p.read("site.yml")
            .replace("    - nowhere_module_xyz: a=1\n      when: false\n", ""),
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini", "--output", "json"]);
    r.success();
    let events = json_lines(&r.stdout);
    let starts: Vec<(&str, Option<&str>)> = events
        .iter()
        .filter(|e| e["event"] == "task_start")
        .map(|e| (e["action"].as_str().unwrap(), e["implementation"].as_str()))
        .collect();
    assert_eq!(
        starts,
        vec![
            ("want_it", Some("ansible")),
            ("old_style", Some("ansible")),
            ("assert", None)
        ]
    );
}

/// An include's `apply:` takes `notify` (it makes a block, and blocks notify): the included
/// tasks that change notify the handler, as in Ansible.
#[test]
fn include_apply_notifies_handlers() {
    let p = Project::new("apply-notify");
    p.file("inv.ini", INV)
        .file("change.yml", "- command: 'true'\n")
        .file(
            "site.yml",
            r#"- hosts: all
  gather_facts: no
  pre_tasks:
    - include_tasks:
        file: change.yml
        apply:
          notify: hello
  handlers:
    - name: hello
      set_fact: hello=world
  tasks:
    - assert:
        that: hello == 'world'
"#,
        );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// A module in the user's `library/` shadows the builtin of its name, prov's native one
/// included, as in Ansible; `ansible.builtin.<name>` still names the builtin.
#[test]
fn a_library_module_shadows_the_native_one_of_its_name() {
    let p = Project::new("library-shadow");
    p.file("inv.ini", INV)
        .file(
            "library/ping.sh",
            "#!/bin/sh\n# WANT_JSON\nprintf '{\"ping\": \"mine\", \"location\": \"library\"}'\n",
        )
        .file(
            "site.yml",
            r#"- hosts: all
  gather_facts: no
  tasks:
    - ping:
      register: short
    - ansible.legacy.ping:
      register: legacy
    - ansible.builtin.ping:
      register: builtin
    - assert:
        that:
          - short.location == 'library' and short.ping == 'mine'
          - legacy.location == 'library'
          - builtin.location is undefined and builtin.ping == 'pong'
"#,
        );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// A Python module in a playbook's `library/` and one in a role's `library/` run from a
/// payload of ansible-core's `module_utils` (when the machine's `python3` imports ansible;
/// the lab tests run the same on real hosts): arguments checked by the module, check mode
/// (a module without check mode support is skipped), diff, and the registered result.
#[test]
fn library_python_modules_run_with_ansible_core_module_utils() {
    let Some(core) = common::ansible_core() else {
        eprintln!("SKIP: no python3 here imports ansible");
        return;
    };
    let p = Project::new("library-python");
    write_python_modules(&p);
    let run = |extra: &[&str]| {
        let mut a = vec!["run", "site.yml", "-i", "inv.ini"];
        a.extend_from_slice(extra);
        prov_with_core(&p, &core, &a)
    };
    run(&[]).success().stdout_has("changed: [localhost]");
    assert_eq!(p.read("out.txt"), "hello\n");
    // Check mode: nothing written, the diff shown; the role's module has no check mode.
    std::fs::write(p.path("out.txt"), "old\n").unwrap();
    run(&["--check", "--diff"])
        .success()
        .stdout_has("-old")
        .stdout_has("+hello")
        .stdout_has("skipping: [localhost]");
    assert_eq!(p.read("out.txt"), "old\n");
}

/// Python modules after the first on a host run in workers forked from a server that has
/// ansible-core's module_utils imported (no Python start, no imports): each still gets the
/// task's environment and its own result; the server is gone after the run;
/// `PROV_FALLBACK_FORK_SERVER=0` runs each module in its own Python.
#[test]
fn python_modules_after_the_first_run_in_a_fork_server() {
    let Some(core) = common::ansible_core() else {
        eprintln!("SKIP: no python3 here imports ansible");
        return;
    };
    let p = Project::new("fork-server");
    p.file("inv.ini", INV)
        .file(
            "library/whoami.py",
            r#"#!/usr/bin/python
import os, time
from ansible.module_utils.basic import AnsibleModule

def main():
    m = AnsibleModule(argument_spec=dict(n=dict(type='int'), sleep=dict(type='float', default=0), mark=dict(type='path')))
    if m.params['sleep']:
        time.sleep(m.params['sleep'])
        if m.params['mark']:
            open(m.params['mark'], 'w').close()
    m.exit_json(changed=False, n=m.params['n'], sid=os.getsid(0), foo=os.environ.get('FOO'), cwd=os.getcwd())

main()
"#,
        )
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: no\n  tasks:\n    - whoami: { n: '{{ item }}' }\n      loop: [1, 2, 3, 4, 5]\n      environment: { FOO: '{{ item * 10 }}' }\n      register: r\n    - debug: msg=\"SIDS {{ r.results | map(attribute='sid') | join(',') }}\"\n    - assert:\n        that:\n          - r.results | map(attribute='n') | list == [1, 2, 3, 4, 5]\n          - r.results | map(attribute='foo') | list == ['10', '20', '30', '40', '50']\n",
        );
    let sids = |out: &str| -> Vec<i64> {
        let line = out
            .lines()
            .find(|l| l.contains("SIDS "))
            .expect("the SIDS line");
        let l = line.split("SIDS ").nth(1).unwrap().trim_end_matches('"');
        l.split(',').map(|x| x.trim().parse().unwrap()).collect()
    };
    let ours = {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let after = stat.rsplit_once(')').unwrap().1;
        after
            .split_whitespace()
            .nth(3)
            .unwrap()
            .parse::<i64>()
            .unwrap()
    };
    let r = prov_with_core(&p, &core, &["run", "site.yml", "-i", "inv.ini"]);
    r.success();
    let s = sids(&r.stdout);
    // the first runs in the run's own session; the others in the server's
    assert_eq!(s[0], ours, "{s:?}");
    assert!(s[1..].iter().all(|x| *x == s[1] && *x != ours), "{s:?}");
    // the server has gone with the run's folder (it looks every second)
    let alive = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter(|st| {
                st.rsplit_once(')')
                    .and_then(|(_, a)| a.split_whitespace().nth(3)?.parse::<i64>().ok())
                    == Some(s[1])
            })
            .count()
    };
    let t0 = std::time::Instant::now();
    while alive() > 0 && t0.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(alive(), 0, "the fork server outlived the run by 10 s");
    eprintln!("fork server gone {:?} after the run", t0.elapsed());
    // without the server, every module runs in the run's session
    let r = p.prov_env(
        &["run", "site.yml", "-i", "inv.ini"],
        &[
            ("PROV_ANSIBLE_CORE_DIR", core.as_os_str()),
            ("PROV_FALLBACK_FORK_SERVER", "0".as_ref()),
        ],
    );
    r.success();
    assert!(sids(&r.stdout).iter().all(|x| *x == ours));
}

/// ansible-core is found through the first `python3` on the PATH that imports it: one that
/// cannot (an activated virtualenv without it) may come first.
#[test]
fn ansible_core_is_found_past_a_python3_without_it() {
    let Some(core) = common::ansible_core() else {
        eprintln!("SKIP: no python3 here imports ansible");
        return;
    };
    // <venv>/lib/pythonX.Y/site-packages/ansible -> <venv>/bin
    let Some(bin) = core.ancestors().nth(4).map(|v| v.join("bin")) else {
        return;
    };
    if !bin.join("python3").is_file() {
        eprintln!("SKIP: ansible-core is not in a virtualenv here");
        return;
    }
    let p = Project::new("core-on-path");
    write_python_modules(&p);
    p.file("shadow/python3", "#!/bin/sh\nexit 1\n");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        p.path("shadow/python3"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}:{}",
        p.path("shadow").display(),
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    p.prov_env(
        &["run", "site.yml", "-i", "inv.ini"],
        &[("PATH", path.as_ref())],
    )
    .success();
    assert_eq!(p.read("out.txt"), "hello\n");
}

fn write_python_modules(p: &Project) {
    p.file("inv.ini", INV)
        .file(
            "library/put_text.py",
            r#"#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text


def main():
    m = AnsibleModule(
        argument_spec=dict(path=dict(type='path', required=True), text=dict(type='str', required=True)),
        supports_check_mode=True,
    )
    path, text = m.params['path'], m.params['text']
    try:
        with open(path) as f:
            before = to_text(f.read())
    except OSError:
        before = ''
    result = dict(changed=before != text, path=path)
    if result['changed'] and m._diff:
        result['diff'] = dict(before=before, after=text, before_header=path, after_header=path)
    if result['changed'] and not m.check_mode:
        with open(path, 'w') as f:
            f.write(text)
    m.exit_json(**result)


if __name__ == '__main__':
    main()
"#,
        )
        .file(
            "roles/doubler/library/double_it.py",
            r#"#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule

m = AnsibleModule(argument_spec=dict(n=dict(type='int', required=True)))
m.exit_json(changed=False, doubled=m.params['n'] * 2)
"#,
        )
        .file(
            "roles/doubler/tasks/main.yml",
            "- double_it: n=21
  register: d
- assert: { that: d.doubled == 42 }
  when: not ansible_check_mode
",
        )
        .file(
            "site.yml",
            r#"- hosts: all
  gather_facts: no
  roles: [doubler]
  tasks:
    - put_text: { path: "{dir}/out.txt", text: "hello\n" }
      register: r
    - assert:
        that:
          - r.path == '{dir}/out.txt'
          - r.invocation is not defined
    - put_text: { path: "{dir}/out.txt" }
      register: bad
      ignore_errors: true
    - assert:
        that:
          - bad is failed
          - "'missing required arguments: text' in bad.msg"
"#,
        );
}

#[test]
fn list_and_syntax_options() {
    let p = Project::new("lists");
    p.file("inv.ini", "[g]\na ansible_connection=local\nb ansible_connection=local\n").file(
        "site.yml",
        "- hosts: g\n  tasks:\n    - name: one\n      debug: msg=1\n      tags: [x]\n    - name: two\n      debug: msg=2\n",
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini", "--list-hosts"])
        .success()
        .stdout_has("hosts (2)");
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "--list-tasks",
        "-t",
        "x",
    ])
    .success()
    .stdout_has("one")
    .stdout_lacks("two");
    p.prov(&["run", "site.yml", "--syntax-check"]).success();
    p.prov(&["run", "site.yml", "-i", "inv.ini", "--bogus-flag"])
        .code(5);
}

/// `ansible-vault encrypt_string` of `s3cret {{ not templated }}` with the password `hunter2`
/// (made with ansible-core 2.19).
const VAULT: &str = "$ANSIBLE_VAULT;1.1;AES256
66613533613836323431323534303635313630623935363331383462666433333933373539343739
3131376466323263373831613030386139613131306666620a343737326161326462613962383863
35323462356364643536336465363538643534633133336365643433633936623961356433356233
3734326361623238310a363238356431386434393837633538666238613161366433373130643631
30306137383633326631373765343361653032643765316465633831646339663865";

#[test]
fn vault_values_decrypt_only_when_used_and_with_the_password_file() {
    let p = Project::new("vault");
    let indented: String = VAULT.lines().map(|l| format!("      {l}\n")).collect();
    p.file("inv.ini", INV).file("pw", "hunter2\n").file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: no\n  vars:\n    secret: !vault |\n{indented}    plain: hello\n  tasks:\n    - copy: {{ dest: '{{dir}}/plain', content: '{{{{ plain }}}}' }}\n    - copy: {{ dest: '{{dir}}/secret', content: '{{{{ secret }}}}', mode: '0600' }}\n      tags: [secret]\n"
        ),
    );
    // Without a password, the play still runs up to the task that uses the secret.
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.code(2)
        .stdout_has("vault-encrypted variable 'secret' used but no vault password was given");
    assert_eq!(p.read("plain"), "hello");
    // A task that does not use it never needs the password.
    p.prov(&["run", "site.yml", "-i", "inv.ini", "--skip-tags", "secret"])
        .success();
    // With the password file the secret is decrypted (and not templated: it was !vault text).
    let r = p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "--vault-password-file",
        "pw",
    ]);
    r.success().stdout_lacks("s3cret");
    assert_eq!(p.read("secret"), "s3cret {{ not templated }}");
}

/// A vault-encrypted `src` of copy needs the run's vault password: without it the task fails
/// with Ansible's message naming the file (tests match its end), with it the file is decrypted.
#[test]
fn copy_of_a_vault_encrypted_file_without_password_fails_with_ansibles_message() {
    let p = Project::new("vault-copy");
    p.file("inv.ini", INV)
        .file("pw", "hunter2\n")
        .file("files/secret.txt", &format!("{VAULT}\n"))
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: no\n  tasks:\n    - copy: { src: secret.txt, dest: '{dir}/out' }\n",
        );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.code(2)
        .stdout_has("A vault password or secret must be specified to decrypt ")
        .stdout_has("files/secret.txt");
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "--vault-password-file",
        "pw",
    ])
    .success();
    assert_eq!(p.read("out"), "s3cret {{ not templated }}");
}

/// `ansible-vault encrypt` of a vars file `secret_word: porter cable` with the password
/// `hunter2` (made with ansible-core 2.19).
const VAULT_VARS: &str = "$ANSIBLE_VAULT;1.1;AES256
62616637333837373737613832633265633637333539613962663863376135663939383739363664
6536363731666333376332623633383334326336633237380a643235373834303232383661323065
62333634653263393061393166666262333930643064666235326631633061343263343732326537
3463343430643463660a356537613166343832663262616363653633656232623130356234366534
39333664353361393730633164626239363864373864653536313932383630633539
";

/// include_vars of a vault-encrypted file decrypts it with the run's password (a password
/// file that is executable is run for it) and hides its result, as Ansible does.
#[test]
fn include_vars_decrypts_a_vault_file_and_hides_the_result() {
    let p = Project::new("vault-include-vars");
    p.file("inv.ini", INV)
        .file("pw.sh", "#!/bin/sh\necho hunter2\n")
        .file("vars/secret.yml", VAULT_VARS)
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: no\n  tasks:\n    - include_vars: secret.yml\n    - copy: { dest: '{dir}/out', content: '{{ secret_word }}' }\n",
        );
    std::fs::set_permissions(
        p.path("pw.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    p.prov(&["run", "site.yml", "-i", "inv.ini"])
        .code(2)
        .stdout_has("Attempting to decrypt but no vault secrets found");
    let r = p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "-v",
        "--vault-password-file",
        "pw.sh",
    ]);
    r.success()
        .stdout_lacks("porter")
        .stdout_has("the output has been hidden");
    assert_eq!(p.read("out"), "porter cable");
}

/// The flagship playbook (work in progress, issue 4) stays valid: every play, module and option
/// passes `prov check`, the inventories select the right hosts, and the stack template renders
/// to the stack the issue asks for.
#[test]
fn flagship_playbook_is_valid_and_its_stack_renders() {
    let root = env!("CARGO_MANIFEST_DIR");
    let p = Project::new("flagship");
    for inv in ["inventory/lab.yaml", "inventory/hosts.yaml"] {
        p.prov(&[
            "check",
            &format!("{root}/playbooks/site.yaml"),
            "-i",
            &format!("{root}/{inv}"),
        ])
        .success()
        .stdout_has("ok (8 plays");
    }
    p.prov(&[
        "run",
        &format!("{root}/playbooks/site.yaml"),
        "-i",
        &format!("{root}/inventory/lab.yaml"),
        "--list-hosts",
    ])
    .success()
    .stdout_has("lab1")
    .stdout_has("lab3");

    use prov::template::{Context, Templar};
    use prov::value::{Value, Vars};
    let t = Templar::new();
    let mut vars = Vars::new();
    vars.insert(
        "playbook_dir".into(),
        Value::from(format!("{root}/playbooks")),
    );
    let ctx = Context::new(&t, vec![std::sync::Arc::new(vars)]);
    let text = std::fs::read_to_string(format!("{root}/playbooks/templates/stack.yml.j2")).unwrap();
    let rendered = t.render_text(&text, &ctx).unwrap();
    let stack = prov::yaml::load_str(&rendered, std::path::Path::new("stack.yml")).unwrap();
    let services = stack.get("services").unwrap().as_map().unwrap();
    let names: Vec<String> = services
        .iter()
        .map(|(k, _)| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "etcd1",
            "postgres1",
            "etcd2",
            "postgres2",
            "etcd3",
            "postgres3",
            "haproxy"
        ]
    );
    for (name, svc) in services {
        let deploy = svc.get("deploy").unwrap();
        assert_eq!(
            deploy.get("endpoint_mode").unwrap().as_str(),
            Some("dnsrr"),
            "{name:?}"
        );
        assert!(
            svc.get("healthcheck").is_some() || name.as_str() == Some("haproxy"),
            "{name:?} has a health check"
        );
        assert!(deploy.get("restart_policy").is_some());
    }
    let haproxy = &services
        .iter()
        .find(|(k, _)| k.as_str() == Some("haproxy"))
        .unwrap()
        .1;
    assert_eq!(
        haproxy.get("deploy").unwrap().get("mode").unwrap().as_str(),
        Some("global")
    );
    assert!(rendered.contains("node.labels.pg_member == 3"));
    assert!(
        rendered.contains("name: pg_haproxy_"),
        "the config name follows its content"
    );
    let cfg =
        std::fs::read_to_string(format!("{root}/playbooks/templates/haproxy.cfg.j2")).unwrap();
    let cfg = t.render_text(&cfg, &ctx).unwrap();
    assert!(cfg.contains("nameserver dns 127.0.0.11:53"));
    assert!(
        cfg.contains("option httpchk GET /primary") && cfg.contains("option httpchk GET /replica")
    );
    assert_eq!(cfg.matches("check port 8008").count(), 6);
}

#[test]
fn module_defaults_from_play_block_and_task_with_groups() {
    let p = Project::new("moddef");
    p.file("inv.ini", INV)
        .file(
            "inc.yml",
            "- copy: { dest: \"{{ root }}/included\", content: \"inc\\n\" }\n",
        )
        .file(
            "site.yml",
            r#"
- hosts: local
  gather_facts: false
  vars:
    root: "{dir}/out"
  module_defaults:
    ansible.builtin.file: { mode: "0700" }
    copy: { mode: "0600" }
  tasks:
    - file: { path: "{{ root }}", state: directory }
    - copy: { dest: "{{ root }}/a", content: "a\n" }
    - name: the task's own option wins
      copy: { dest: "{{ root }}/b", content: "b\n", mode: "0644" }
    - block:
        - copy: { dest: "{{ root }}/c", content: "c\n" }
        - name: a task's module_defaults win over its block's
          copy: { dest: "{{ root }}/d", content: "d\n" }
          module_defaults: { copy: { mode: "0444" } }
        - include_tasks: inc.yml
      module_defaults:
        copy: { mode: "0640" }
        group/aws: { region: eu-west-1 }
    - name: the defaults are templated like arguments
      lineinfile: { path: "{{ root }}/e", line: x }
      module_defaults:
        lineinfile: { create: true, mode: "{{ '06' ~ '00' }}" }
"#,
        );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    assert_eq!(mode_of(&p.path("out")), 0o700);
    assert_eq!(mode_of(&p.path("out/a")), 0o600);
    assert_eq!(mode_of(&p.path("out/b")), 0o644);
    assert_eq!(mode_of(&p.path("out/c")), 0o640);
    assert_eq!(mode_of(&p.path("out/d")), 0o444);
    assert_eq!(mode_of(&p.path("out/included")), 0o640, "includes inherit");
    assert_eq!(mode_of(&p.path("out/e")), 0o600);
    p.prov(&["run", "site.yml", "-i", "inv.ini"])
        .success()
        .changed("localhost", 0);
    // A bad shape is one clear error with its location.
    p.file(
        "bad.yml",
        "- hosts: local\n  module_defaults:\n    copy: 0644\n  tasks: []\n",
    );
    let r = p.prov(&["check", "bad.yml"]);
    r.code(1);
    assert!(
        r.stderr.contains("bad.yml:3:11") && r.stderr.contains("module_defaults for 'copy'"),
        "{}",
        r.stderr
    );
}

/// `prov adhoc`: the `ansible` command's output shapes, exit codes, check mode and
/// relative paths from the current directory.
#[test]
fn adhoc_runs_one_module_like_the_ansible_command() {
    let p = Project::new("adhoc");
    p.file(
        "inv.ini",
        "localhost ansible_connection=local\n[far]\nghost ansible_host=127.0.0.1 ansible_port=1\n",
    )
    .file("files/motd", "hello\n");
    let r = p.prov(&["adhoc", "localhost", "-i", "inv.ini", "-a", "echo hi"]);
    r.code(0).stdout_has("localhost | CHANGED | rc=0 >>\nhi\n");
    let r = p.prov(&["adhoc", "localhost", "-i", "inv.ini", "-m", "ping", "-o"]);
    r.code(0)
        .stdout_has("localhost | SUCCESS => {    \"changed\": false,    \"ping\": \"pong\"}");
    let r = p.prov(&[
        "adhoc",
        "localhost",
        "-i",
        "inv.ini",
        "-m",
        "fail",
        "-a",
        "msg=boom",
    ]);
    r.code(2)
        .stdout_has("localhost | FAILED! => {\n    \"changed\": false,\n    \"msg\": \"boom\"\n}");
    let r = p.prov(&["adhoc", "far", "-i", "inv.ini", "-m", "ping"]);
    r.code(4).stdout_has("ghost | UNREACHABLE! =>");
    // check mode changes nothing; the real run does; src is found from the current directory
    let dest = p.dir.join("out.txt");
    let args = format!("src=motd dest={}", dest.display());
    let copy = |extra: &[&str]| {
        let mut argv = vec![
            "adhoc",
            "localhost",
            "-i",
            "inv.ini",
            "-m",
            "copy",
            "-a",
            &args,
        ];
        argv.extend_from_slice(extra);
        p.prov(&argv)
    };
    copy(&["-C"]).code(0).stdout_has("localhost | CHANGED => {");
    assert!(!dest.exists());
    copy(&[]).code(0).stdout_has("localhost | CHANGED => {");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\n");
    copy(&[]).code(0).stdout_has("localhost | SUCCESS => {");
    let r = p.prov(&["adhoc", "all", "-i", "inv.ini", "--list-hosts"]);
    r.code(0)
        .stdout_has("  hosts (2):\n    localhost\n    ghost\n");
}

/// Collections in a `collections/` folder next to the playbook are found (searched before the
/// collections paths, as in Ansible); `prov adhoc` takes that folder from `--playbook-dir`,
/// else `playbook_dir` of ansible.cfg (`ANSIBLE_PLAYBOOK_DIR`).
#[test]
fn playbook_adjacent_collections_and_the_adhoc_playbook_dir() {
    let p = Project::new("adjacent-collections");
    p.file("inv.ini", "localhost ansible_connection=local\n")
        .file(
            "pb/collections/ansible_collections/provt/adj/plugins/modules/hi.sh",
            "#!/bin/sh\n# WANT_JSON\necho '{\"changed\": false, \"said\": \"adjacent hi\"}'\n",
        )
        .file(
            "pb/site.yml",
            "- hosts: all\n  gather_facts: no\n  tasks:\n    - provt.adj.hi:\n      register: r\n    - assert: { that: [\"r.said == 'adjacent hi'\"] }\n",
        );
    let r = p.prov(&["run", "pb/site.yml", "-i", "inv.ini"]);
    assert!(r.code == 0, "{}\n{}", r.stdout, r.stderr);
    let adhoc = ["adhoc", "localhost", "-i", "inv.ini", "-m", "provt.adj.hi"];
    let pb = p.path("pb");
    p.prov_env(&adhoc, &[("ANSIBLE_PLAYBOOK_DIR", pb.as_os_str())])
        .code(0)
        .stdout_has("adjacent hi");
    let mut with_flag = adhoc.to_vec();
    with_flag.extend(["--playbook-dir", "pb"]);
    p.prov(&with_flag).code(0).stdout_has("adjacent hi");
    assert_ne!(p.prov(&adhoc).code, 0);
}

/// A short action name under `collections:` is that collection's action plugin (found next to
/// the playbook), run in the plugin bridge under its full name.
#[test]
fn collection_action_plugins_by_short_name() {
    let Some(core) = common::ansible_core() else {
        eprintln!("SKIP: no python3 here imports ansible");
        return;
    };
    let p = Project::new("collection-actions");
    p.file("inv.ini", INV)
        .file(
            "collections/ansible_collections/provt/acts/plugins/action/echoer.py",
            "from ansible.plugins.action import ActionBase\n\nclass ActionModule(ActionBase):\n    def run(self, tmp=None, task_vars=None):\n        return dict(changed=False, args_in=self._task.args, me=self._task.action)\n",
        )
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: no\n  collections: [provt.acts]\n  tasks:\n    - echoer: { a: 1 }\n      register: r\n    - provt.acts.echoer: { a: 2 }\n      register: f\n    - assert: { that: [\"r.args_in == {'a': 1}\", \"f.args_in == {'a': 2}\"] }\n",
        );
    let r = prov_with_core(&p, &core, &["run", "site.yml", "-i", "inv.ini"]);
    assert!(r.code == 0, "{}\n{}", r.stdout, r.stderr);
}

/// An action plugin next to the playbook that only re-exports a builtin action runs that
/// action under its own name (its name still picks `with_first_found`'s folder, as in
/// Ansible); a real Python action plugin loads, and fails when it runs with no ansible-core on
/// the controller, saying what is missing.
#[test]
fn action_plugin_aliases_of_builtin_actions_run_them() {
    let p = Project::new("action-alias");
    p.file("inv.ini", INV)
        .file(
            "action_plugins/debug_var_alias.py",
            "# an alias\nfrom __future__ import annotations\n\nfrom ansible.plugins.action.debug import ActionModule\n\nassert ActionModule\n",
        )
        .file("vars/findme.txt", "v\n")
        .file("files/findme.txt", "f\n")
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: no\n  tasks:\n    - debug_var_alias: { var: item }\n      with_first_found: [findme.txt]\n      failed_when: item is not contains '/vars/'\n",
        );
    p.prov(&["run", "site.yml", "-i", "inv.ini"])
        .success()
        .stdout_has("vars/findme.txt");
    p.file(
        "action_plugins/real_action.py",
        "from ansible.plugins.action import ActionBase\n\nclass ActionModule(ActionBase):\n    pass\n",
    )
    .file(
        "site.yml",
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - real_action: a=1\n",
    );
    let none = p.path("no-ansible-core");
    let r = prov_with_core(&p, &none, &["run", "site.yml", "-i", "inv.ini"]);
    assert_ne!(r.code, 0);
    r.stdout_has("Ansible's Python plugins need ansible-core on the controller")
        .stdout_has("no-ansible-core");
}

/// Ansible's Python plugins next to the playbook and in a role, run on the controller through
/// ansible-core: filters, tests and lookups prov has no native one of (their load errors and
/// "not found" worded as Ansible's), and an action plugin that runs a command and a module on
/// the host through prov's connection, its result registered, marked as Ansible's
/// implementation in the JSON events; ansible-core's own action plugin of a module prov has no
/// native one of (`assemble`) runs; an action plugin on a host whose connection is a Python
/// connection plugin runs with that plugin (and its shell); `fetch` runs Ansible's action
/// plugin when the user's library replaces `slurp`, which it then calls.
#[test]
fn python_filter_test_lookup_and_action_plugins_run_on_the_controller() {
    let Some(core) = common::ansible_core() else {
        eprintln!("SKIP: no python3 here imports ansible");
        return;
    };
    let python = core
        .ancestors()
        .map(|d| d.join("bin/python3"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| "python3".into());
    let p = Project::new("python-plugins");
    p.file(
        "inv.ini",
        &format!(
            "[local]\nlocalhost ansible_connection=local ansible_python_interpreter={}\n",
            python.display()
        ),
    )
    .file(
        "filter_plugins/mine.py",
        "class FilterModule:\n    def filters(self):\n        return {'twice': lambda x, sep='': sep.join([x, x]), 'broken': Broken()}\n\nclass Broken:\n    @property\n    def accept_args_markers(self):\n        raise Exception('boom')\n",
    )
    .file(
        "test_plugins/mine.py",
        "class TestModule:\n    def tests(self):\n        return {'shouting': lambda s: s.isupper()}\n",
    )
    .file(
        "lookup_plugins/pair.py",
        "from ansible.plugins.lookup import LookupBase\n\nclass LookupModule(LookupBase):\n    def run(self, terms, variables=None, **kw):\n        me = variables['hostvars'][variables['inventory_hostname']]\n        return [[t, me['who']] for t in terms]\n",
    )
    .file(
        "roles/r/filter_plugins/role_filters.py",
        "class FilterModule:\n    def filters(self):\n        return {'from_role': lambda x: 'role:' + x}\n",
    )
    .file(
        "roles/r/tasks/main.yml",
        "- set_fact: { r: \"{{ 'x' | from_role }}\" }\n- assemble: { src: rfrags, dest: \"{{ playbook_dir }}/from-role\", remote_src: false }\n",
    )
    .file("roles/r/files/rfrags/1", "role\n")
    .file(
        "action_plugins/touch_and_echo.py",
        r#"from ansible.plugins.action import ActionBase

class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        path = self._task.args['path']
        low = self._low_level_execute_command('touch %s' % path)
        mod = self._execute_module(module_name='ansible.legacy.command',
                                   module_args={'_raw_params': 'echo hi from %s' % task_vars['who']},
                                   task_vars=task_vars)
        result.update(changed=True, touched=low['rc'] == 0, echoed=mod['stdout'],
                      check=self._task.check_mode)
        return result
"#,
    )
    .file(
        "library/slurp.py",
        "#!/usr/bin/python\nimport json\nprint(json.dumps(dict(changed=False, content='', encoding='base64', source='../foo')))\n",
    )
    .file("frags/1", "one\n")
    .file("frags/2", "two\n")
    .file(
        "action_plugins/raises.py",
        "from ansible.plugins.action import ActionBase\n\nclass ActionModule(ActionBase):\n    def run(self, tmp=None, task_vars=None):\n        raise Exception('I am an exception from an action.')\n",
    )
    .file(
        "action_plugins/shell_family.py",
        "from ansible.plugins.action import ActionBase\n\nclass ActionModule(ActionBase):\n    def run(self, tmp=None, task_vars=None):\n        return dict(family=self._connection._shell.SHELL_FAMILY)\n",
    )
    .file(
        "connection_plugins/fakeconn.py",
        "from ansible.plugins.connection import ConnectionBase\n\nclass Connection(ConnectionBase):\n    transport = 'fakeconn'\n    _shell_type = 'powershell'\n    def _connect(self):\n        pass\n    def exec_command(self, cmd, in_data=None, sudoable=True):\n        pass\n    def put_file(self, a, b):\n        pass\n    def fetch_file(self, a, b):\n        pass\n    def close(self):\n        pass\n",
    )
    .file(
        "site.yml",
        r#"- hosts: all
  gather_facts: no
  vars:
    who: me
    side: "{{ lookup('pipe', 'touch ' ~ playbook_dir ~ '/side-effect') }}"
  roles: [r]
  tasks:
    - assemble: { src: frags, dest: "{{ playbook_dir }}/assembled", remote_src: false }
      register: asm
    - fetch: { src: /nonexistent/prov-x.txt, dest: "{{ playbook_dir }}/fetched/" }
      register: fx
    - assert:
        that:
          - fx is not failed
          - "'..' not in fx.dest"
    - shell_family:
      register: fam_local
    - action: shell_family
      register: fam_action
    - shell_family:
      register: fam_plugin
      vars: { ansible_connection: fakeconn }
    - shell_family:
      register: fam_set
      vars: { ansible_connection: fakeconn, ansible_shell_type: sh }
    - assert:
        that:
          - fam_local.family == 'sh'
          - fam_action.family == 'sh'
          - asm is changed
          - fam_plugin.family == 'powershell'
          - fam_set.family == 'sh'

    - touch_and_echo: { path: "{{ playbook_dir }}/touched" }
      register: a
    - assert:
        that:
          - a is changed
          - a.touched
          - a.echoed == 'hi from me'
          - not a.check
          - "'ab' | twice(sep='-') == 'ab-ab'"
          - "'AB' is shouting"
          - "'ab' is not shouting"
          - lookup('pair', 'x', wantlist=True) == [['x', 'me']]
          - r == 'role:x'
    - debug: { msg: "{{ '' | broken }}" }
      register: e1
      ignore_errors: true
    - debug: { msg: "{{ '' | nope_xyz }}" }
      register: e2
      ignore_errors: true
    - debug: { msg: "{{ lookup('nope_xyz') }}" }
      register: e3
      ignore_errors: true
    - assert:
        that:
          - e1.msg is contains "The filter plugin 'broken' failed to load: boom"
          - e2.msg is contains "No filter named 'nope_xyz'"
          - e3.msg is contains "The lookup plugin 'nope_xyz' was not found"
    - raises:
      register: e4
      ignore_errors: true
    - assert:
        that:
          - e4 is failed
          - e4.msg == "Task failed: I am an exception from an action."
"#,
    );
    let r = prov_with_core(
        &p,
        &core,
        &["run", "site.yml", "-i", "inv.ini", "--output", "json"],
    );
    assert!(r.code == 0, "{}\n{}", r.stdout, r.stderr);
    assert!(p.path("touched").exists());
    // The plugins read the variables they use, nothing else (as Ansible templates lazily).
    assert!(!p.path("side-effect").exists());
    // ansible-core's assemble action plugin: the fragments joined on the controller, the file
    // copied to the host through prov's connection.
    assert_eq!(p.read("assembled"), "one\ntwo\n");
    // A role's action plugin finds its relative files in the role's `files/`.
    assert_eq!(p.read("from-role"), "role\n");
    let events = json_lines(&r.stdout);
    let action = events
        .iter()
        .find(|e| e["event"] == "task_start" && e["action"] == "touch_and_echo")
        .expect("the action plugin's task");
    assert_eq!(action["implementation"], "ansible");
}

/// A role's argument spec for its entry point is checked before its tasks, as Ansible does:
/// a task named after the spec (tagged `always`) runs ansible-core's validate_argument_spec
/// with the role's variables; `rolespec_validate: false` skips it; without ansible-core the
/// role runs unchecked, with a warning.
#[test]
fn role_argument_specs_are_validated_before_the_role_runs() {
    let Some(core) = common::ansible_core() else {
        eprintln!("SKIP: no python3 here imports ansible");
        return;
    };
    let p = Project::new("role-argspec");
    p.file("inv.ini", INV)
        .file(
            "roles/r/meta/argument_specs.yml",
            "argument_specs:\n  main:\n    short_description: Main of r\n    options:\n      n: {type: int, required: true}\n",
        )
        .file("roles/r/tasks/main.yml", "- debug: msg=ran-{{ n }}\n")
        .file(
            "site.yml",
            r#"- hosts: all
  gather_facts: no
  tasks:
    - import_role: { name: r }
      vars: { n: "7" }
      tags: [t]
    - block:
        - include_role: { name: r }
          vars: { n: nope }
      rescue:
        - assert:
            that:
              - ansible_failed_task.name == "Validating arguments against arg spec 'main' - Main of r"
              - ansible_failed_result.argument_errors | length == 1
              - ansible_failed_result.validate_args_context.name == 'r'
              - ansible_failed_result.validate_args_context.argument_spec_name == 'main'
              - ansible_failed_result.argument_spec_data.n.type == 'int'
    - import_role: { name: r, rolespec_validate: false }
      vars: { n: unchecked }
"#,
        );
    let r = prov_with_core(&p, &core, &["run", "site.yml", "-i", "inv.ini"]);
    assert!(r.code == 0, "{}\n{}", r.stdout, r.stderr);
    r.stdout_has("TASK [r : Validating arguments against arg spec 'main' - Main of r]")
        .stdout_has("ran-7")
        .stdout_has("ran-unchecked")
        .stdout_lacks("ran-nope");
    // Tagged `always`: it runs when other tags are asked for.
    prov_with_core(
        &p,
        &core,
        &["run", "site.yml", "-i", "inv.ini", "--tags", "t"],
    )
    .stdout_has("Validating arguments against arg spec 'main'");
    let none = p.path("no-ansible-core");
    prov_with_core(
        &p,
        &none,
        &["run", "site.yml", "-i", "inv.ini", "--tags", "t"],
    )
    .success()
    .stderr_has("role argument specs are not checked")
    .stdout_lacks("Validating arguments");
}

/// A collection's module (by its full name, and by its short name under `collections:`) runs
/// with the collection's own `module_utils` (relative and absolute imports) from the
/// `collections_path` of ansible.cfg; a module that raises fails with ansible-core's message.
#[test]
fn collection_modules_run_with_their_module_utils() {
    let Some(core) = common::ansible_core() else {
        eprintln!("SKIP: no python3 here imports ansible");
        return;
    };
    let p = Project::new("collections");
    let c = "colls/ansible_collections/provtest/things/plugins";
    p.file("inv.ini", INV)
        .file("ansible.cfg", "[defaults]\ncollections_path = ./colls\n")
        .file(
            &format!("{c}/module_utils/helper.py"),
            "from ansible.module_utils.common.text.converters import to_text\nfrom .other import suffix\n\ndef shout(s):\n    return to_text(s).upper() + suffix()\n",
        )
        .file(&format!("{c}/module_utils/other.py"), "def suffix():\n    return '!'\n")
        .file(
            &format!("{c}/modules/widget.py"),
            "from ansible.module_utils.basic import AnsibleModule\nfrom ..module_utils.helper import shout\nfrom ansible_collections.provtest.things.plugins.module_utils.other import suffix\n\nm = AnsibleModule(argument_spec=dict(word=dict()))\nm.exit_json(changed=False, loud=shout(m.params['word']), s=suffix())\n",
        )
        .file(
            &format!("{c}/modules/boom.py"),
            "from ansible.module_utils.basic import AnsibleModule\nm = AnsibleModule(argument_spec=dict())\n1/0\n",
        )
        .file(
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  collections: [provtest.things]
  tasks:
    - provtest.things.widget: word=hi
      register: w
    - widget: word=yo
      register: y
    - assert: { that: ["w.loud == 'HI!'", "y.loud == 'YO!'", "w.s == '!'"] }
    - provtest.things.boom:
      register: b
      ignore_errors: true
    - assert: { that: ["b.msg == 'Task failed: Module failed: division by zero'"] }
"#,
        );
    let cfg = p.path("ansible.cfg");
    let r = p.prov_env(
        &["run", "site.yml", "-i", "inv.ini"],
        &[
            ("ANSIBLE_CONFIG", cfg.as_os_str()),
            ("PROV_ANSIBLE_CORE_DIR", core.as_os_str()),
        ],
    );
    assert!(r.code == 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("ignored=1"), "{}", r.stdout);
}

#[test]
fn a_loop_with_ignored_failed_items_registers_a_failed_result() {
    let p = Project::new("loopfail");
    p.file(
        "pb.yml",
        "- hosts: localhost\n  gather_facts: no\n  tasks:\n    - command: /bin/{{ item }}\n      loop: [\"true\", \"false\"]\n      ignore_errors: true\n      register: r\n    - assert:\n        that:\n          - r is failed\n          - r.msg == 'One or more items failed'\n          - r.results[0] is not failed\n          - r.results[1] is failed\n",
    );
    let r = p.prov(&["run", "pb.yml", "-i", "localhost,", "-c", "local"]);
    r.code(0).stdout_lacks("One or more items failed\"}");
    assert_eq!(r.recap("localhost")[6], 1);
}

#[test]
fn a_loop_over_no_items_is_skipped() {
    let p = Project::new("loopempty");
    p.file(
        "pb.yml",
        "- hosts: localhost\n  gather_facts: no\n  tasks:\n    - debug: msg=x\n      loop: []\n      register: r\n    - debug: msg=x\n      loop: [1]\n      when: false\n      register: s\n    - assert:\n        that:\n          - r is skipped\n          - r.skipped_reason == 'No items in the list'\n          - r.msg is not defined\n          - s is skipped\n          - s.msg == 'All items skipped'\n",
    );
    let r = p.prov(&["run", "pb.yml", "-i", "localhost,", "-c", "local"]);
    r.code(0).stdout_has("skipping: [localhost]");
    assert_eq!(r.recap("localhost")[4], 2);
}

#[test]
fn tasks_see_ansible_host_and_the_vars_lookup_reports_like_ansible() {
    let p = Project::new("magichost");
    p.file("inv.ini", "[g]\nh1 ansible_connection=local\nh2 ansible_connection=local ansible_ssh_host=127.0.0.1\n")
        .file(
            "pb.yml",
            "- hosts: all\n  gather_facts: no\n  tasks:\n    - assert:\n        that:\n          - lookup('vars', 'ansible_host') == ansible_host\n          - ansible_host == (inventory_hostname if inventory_hostname == 'h1' else '127.0.0.1')\n    - debug:\n        msg: \"{{ lookup('vars', 'nope') }}\"\n      ignore_errors: true\n      register: r\n    - debug:\n        msg: \"{{ lookup('vars', 42) }}\"\n      ignore_errors: true\n      register: r2\n    - assert:\n        that:\n          - \"\\\"No variable named 'nope' was found\\\" in r.msg\"\n          - \"\\\"Variable name must be 'str' not 'int'\\\" in r2.msg\"\n          - lookup('vars', 'nope', default='d') == 'd'\n",
        );
    let r = p.prov(&["run", "pb.yml", "-i", "inv.ini"]);
    r.code(0);
    assert_eq!(r.recap("h2")[3], 0);
}

#[test]
fn unsafe_expressions_are_never_evaluated() {
    let p = Project::new("untrusted");
    p.file(
        "pb.yml",
        "- hosts: localhost\n  gather_facts: no\n  vars:\n    debug_me: hi\n  tasks:\n    - debug:\n        var: !unsafe debug_me\n      ignore_errors: true\n      register: d\n    - debug:\n        var: {x: 1}\n      ignore_errors: true\n      register: m\n    - assert:\n        that:\n          - d is failed\n          - d.msg is contains 'untrusted template or expression'\n          - m.msg is contains 'is not a string and conversion is not allowed'\n",
    );
    p.prov(&["run", "pb.yml", "-i", "localhost,", "-c", "local"])
        .code(0);
}

#[test]
fn fact_cache_keeps_cacheable_facts_and_gathered_facts_for_later_runs() {
    let p = Project::new("factcache");
    p.file("inv", INV)
        .file(
            "ansible.cfg",
            "[defaults]\nfact_caching = jsonfile\nfact_caching_connection = cache\nfact_caching_prefix = pre_\ngathering = smart\n",
        )
        .file(
            "set.yml",
            "- hosts: localhost\n  vars: {keep: 'yes'}\n  tasks:\n    - set_fact: {kept: one, cacheable: true}\n    - set_fact: {kept2: two, cacheable: \"{{ keep | bool }}\"}\n    - set_fact: {lost: two}\n",
        )
        .file(
            "read.yml",
            "- hosts: localhost\n  tasks:\n    - assert:\n        that:\n          - kept == 'one'\n          - ansible_facts.kept == 'one'\n          - lost is undefined\n          - ansible_facts.nodename is defined\n",
        );
    let first = p.prov(&["run", "-i", "inv", "set.yml"]);
    first.success().stdout_has("Gathering Facts");
    // ansible-core 2.19's file: `<prefix>s1_<host>`, the facts as JSON text in `__payload__`.
    let file: serde_json::Value = serde_json::from_str(&p.read("cache/pre_s1_localhost")).unwrap();
    let facts: serde_json::Value =
        serde_json::from_str(file["__payload__"].as_str().unwrap()).unwrap();
    assert_eq!(facts["kept"], "one");
    // `cacheable` as a template, rendered when the task runs.
    assert_eq!(facts["kept2"], "two");
    assert_eq!(facts["_ansible_facts_gathered"], true);
    assert!(facts.get("lost").is_none());
    assert!(facts["ansible_nodename"].is_string());
    // gathering = smart: the cached host is not gathered again; its facts come from the cache.
    p.prov(&["run", "-i", "inv", "read.yml"])
        .success()
        .stdout_lacks("Gathering Facts");
    // --flush-cache forgets them.
    p.prov(&["run", "-i", "inv", "--flush-cache", "read.yml"])
        .code(2)
        .stdout_has("Gathering Facts");
}

/// `gathering = smart` without a fact cache: a later play does not gather again the facts of
/// a host gathered earlier in the run (so local facts stay as they were); the setup module
/// reads local facts from its `fact_path` (JSON or INI; an executable one is run).
#[test]
fn smart_gathering_without_a_cache_and_local_facts() {
    let p = Project::new("smart-local");
    p.file("inv", INV)
        .file("ansible.cfg", "[defaults]\ngathering = smart\n")
        .file("facts/prefs.fact", "[general]\nBar=loaded\n")
        .file("facts/run.fact", "#!/bin/sh\necho '{\"ran\": 1}'\n")
        .file(
            "site.yml",
            "- hosts: localhost\n  tasks:\n    - assert: { that: [ansible_local is mapping] }\n    - setup: { fact_path: \"{{ playbook_dir }}/facts\", filter: '*local*' }\n      register: s\n    - assert:\n        that:\n          - s.ansible_facts.ansible_local.prefs.general.bar == 'loaded'\n          - ansible_local.run.ran == 1\n- hosts: localhost\n  tasks:\n    - assert: { that: [ansible_local.run.ran == 1] }\n",
        );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        p.path("facts/run.fact"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let r = p.prov(&["run", "-i", "inv", "site.yml"]);
    assert!(r.code == 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.matches("Gathering Facts").count(), 1);
}

/// Ansible's precedence of a task's arguments: the action's k=v words over `args:`, and in
/// an `action:` mapping its own `args:` over its module's words over its other keys; mapping
/// keys are never templated (set_fact's own variable names are).
#[test]
fn task_argument_precedence_and_untemplated_keys() {
    let p = Project::new("arg-precedence");
    p.file("inv", INV)
        .file("kv/.keep", "")
        .file("args/.keep", "")
        .file("inner/.keep", "")
        .file(
            "site.yml",
            r#"- hosts: localhost
  gather_facts: false
  vars: { k: kk }
  tasks:
    - command: pwd chdir={{ playbook_dir }}/kv
      args: { chdir: "{{ playbook_dir }}/args" }
      register: c1
    - action:
        module: command pwd chdir={{ playbook_dir }}/kv
        chdir: "{{ playbook_dir }}/args"
        args: { chdir: "{{ playbook_dir }}/inner" }
      register: c2
    - set_fact:
        "{{ k }}_top": { "{{ k }}": 1 }
    - assert:
        that:
          - c1.stdout is search('/kv$')
          - c2.stdout is search('/inner$')
          - kk_top == {'{{ k }}': 1}
"#,
        );
    let r = p.prov(&["run", "-i", "inv", "site.yml"]);
    assert!(r.code == 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn task_arguments_named_ansible_internal_do_not_load() {
    let p = Project::new("ansible-internal-arg");
    p.file("inv", INV).file(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - set_fact:\n        _ansible_foo: bar\n      ignore_errors: true\n",
    );
    let r = p.prov(&["run", "-i", "inv", "site.yml"]);
    r.stderr_has("Invalid parameter specified beginning with keyword '_ansible_' for action 'set_fact': '_ansible_foo'. The prefix '_ansible_' is reserved for internal use only.");
    assert_ne!(r.code, 0);
    // The free-form modules take them (Ansible's exception).
    p.file(
        "ok.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - command: true _ansible_x=1\n",
    );
    p.prov(&["run", "-i", "inv", "ok.yml"]).success();
}

/// assert's own conditions with templates in them are rendered once (a lookup in one runs
/// once).
#[test]
fn assert_renders_its_embedded_conditions_once() {
    let p = Project::new("assert-once");
    p.file("inv", INV).file(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - assert:
        that:
          - "'{{ lookup('pipe', 'echo x >> calls.txt; echo ok') }}' == 'ok'"
    - assert:
        that: lookup('file', 'calls.txt').splitlines() | length == 1
"#,
    );
    p.prov(&["run", "-i", "inv", "site.yml"]).success();
}

#[test]
fn text_a_template_makes_is_data_and_loop_items_keep_their_trust() {
    let p = Project::new("trust");
    p.file("inv", INV).file(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  vars:
    name_var: hi
  tasks:
    # An expression that is text made by a template is never evaluated (ansible-core 2.19).
    - assert: '{{ item }}'
      loop:
        - that: '"a" == "{{ "a" }}"'
      ignore_errors: true
      register: made
    - debug:
        var: '{{ "name_var" }}'
      ignore_errors: true
      register: dbg
    # A variable's own value, a plain loop item, and a registered loop item are trusted.
    - assert: '{{ item }}'
      loop:
        - that: 1 == 1
    - debug:
        var: '{{ item }}'
      loop: [name_var]
      register: indirect
    - debug:
        msg: checked
      loop: ['name_var == "hi"']
      register: checks
    - assert:
        that: '{{ item.item }}'
      loop: '{{ checks.results }}'
    # Templates inside a condition the task itself writes are evaluated (host data in them
    # included), as Ansible evaluates `that` itself.
    - command: echo /srv
      register: host_says
    - assert:
        that:
          - "'{{ host_says.stdout }}/x' in ['/srv/x']"
    - assert:
        that:
          - made.results[0].msg is contains "untrusted template or expression"
          - dbg is failed and dbg.msg is contains "untrusted template or expression"
          - indirect.results[0].name_var == "hi"
"#,
    );
    p.prov(&["run", "-i", "inv", "site.yml"]).success();
}

/// A task's own `diff: true` shows its diff without `--diff` (as under ansible-playbook), and
/// `diff: false` hides it with `--diff`.
#[test]
fn a_tasks_diff_keyword_shows_or_hides_its_diff() {
    let p = Project::new("taskdiff");
    p.file(
        "pb.yml",
        "- hosts: localhost\n  gather_facts: no\n  tasks:\n    - copy: { content: \"shown\\n\", dest: \"{{ playbook_dir }}/a\" }\n      diff: true\n    - copy: { content: \"hidden\\n\", dest: \"{{ playbook_dir }}/b\" }\n      diff: false\n",
    );
    let r = p.prov(&["run", "pb.yml", "-i", "localhost,", "-c", "local"]);
    r.code(0).stdout_has("+shown").stdout_lacks("+hidden");
    std::fs::remove_file(p.path("a")).unwrap();
    std::fs::remove_file(p.path("b")).unwrap();
    let r = p.prov(&["run", "pb.yml", "-i", "localhost,", "-c", "local", "--diff"]);
    r.code(0).stdout_has("+shown").stdout_lacks("+hidden");
}

/// `prov check` knows a fallback module's options from its DOCUMENTATION (with the collection's
/// doc fragment it extends): an unknown option and a missing required one fail with Ansible's
/// messages at the option's line; good arguments pass. `prov doc` shows those options.
#[test]
fn check_validates_fallback_modules_from_their_documentation() {
    let p = Project::new("checkdoc");
    let c = "colls/ansible_collections/provtest/docs/plugins";
    p.file("ansible.cfg", "[defaults]\ncollections_path = ./colls\n")
        .file(
            &format!("{c}/doc_fragments/common.py"),
            "class ModuleDocFragment(object):\n    DOCUMENTATION = r'''\noptions:\n  mode:\n    description: The mode.\n    type: raw\n'''\n",
        )
        .file(
            &format!("{c}/modules/widget.py"),
            "DOCUMENTATION = r'''\nmodule: widget\nshort_description: Makes widgets\nextends_documentation_fragment: [provtest.docs.common]\noptions:\n  name:\n    description: The name.\n    required: true\n    aliases: [id]\n  size:\n    type: int\n    choices: [1, 2]\n  state:\n    choices: [present, absent]\n'''\nfrom ansible.module_utils.basic import AnsibleModule\n",
        )
        .file(
            "good.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - provtest.docs.widget: { id: a, mode: '0644', state: present }\n    - provtest.docs.widget: name=b size=2\n",
        )
        .file(
            "typo.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - provtest.docs.widget:\n        name: a\n        sate: present\n",
        )
        .file(
            "missing.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - provtest.docs.widget: state=absent\n",
        );
    let cfg = p.path("ansible.cfg");
    let env = [("ANSIBLE_CONFIG", cfg.as_os_str())];
    p.prov_env(&["check", "good.yml", "-i", "localhost,"], &env)
        .code(0);
    p.prov_env(&["check", "typo.yml", "-i", "localhost,"], &env)
        .code(1)
        .stderr_has("Unsupported parameters for (provtest.docs.widget) module: sate. Supported parameters include: mode, name, size, state (id).")
        .stderr_has("typo.yml:6:9")
        .stderr_has("did you mean 'state'");
    p.prov_env(&["check", "missing.yml", "-i", "localhost,"], &env)
        .code(1)
        .stderr_has("missing required arguments: name");
    p.prov_env(&["doc", "provtest.docs.widget"], &env)
        .code(0)
        .stdout_has("Makes widgets")
        .stdout_has("The mode.");
}

/// `--shard K/N` runs split the inventory (each host in exactly one shard), and `prov recap`
/// merges the shards' JSON events into the same PLAY RECAP and exit code as one run.
#[test]
fn shards_merged_by_prov_recap_equal_one_run() {
    let p = Project::new("shards");
    let hosts: Vec<String> = (1..=12).map(|i| format!("h{i:02}")).collect();
    p.file(
        "inv.ini",
        &format!(
            "[all:vars]\nansible_connection=local\n[web]\n{}\n",
            hosts.join("\n")
        ),
    )
    .file(
        "pb.yml",
        "- hosts: web\n  gather_facts: no\n  tasks:\n    - command: echo {{ inventory_hostname }}\n    - debug: msg=hi\n      when: inventory_hostname is search('[13579]$')\n    - fail: msg=boom\n      when: inventory_hostname == 'h07'\n    - command: 'true'\n      changed_when: false\n",
    );
    let whole = p.prov(&["run", "pb.yml", "-i", "inv.ini", "--output", "json"]);
    assert_eq!(whole.code, 2, "{}", whole.stderr);
    let whole_file = p.path("whole.jsonl");
    std::fs::write(&whole_file, &whole.stdout).unwrap();
    let mut files = Vec::new();
    let mut seen = Vec::new();
    for k in 0..3 {
        let r = p.prov(&[
            "run",
            "pb.yml",
            "-i",
            "inv.ini",
            "--output",
            "json",
            "--shard",
            &format!("{k}/3"),
        ]);
        let f = p.path(&format!("shard{k}.jsonl"));
        std::fs::write(&f, &r.stdout).unwrap();
        let recap: serde_json::Value = r
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|e| e["event"] == "recap")
            .expect("a recap");
        let mine: Vec<String> = recap["hosts"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert!(!mine.is_empty(), "shard {k} got no hosts");
        seen.extend(mine);
        files.push(f.display().to_string());
    }
    seen.sort();
    assert_eq!(seen, hosts, "every host in exactly one shard");
    let recap_of = |args: &[&str]| {
        let mut a = vec!["recap", "--output", "json"];
        a.extend_from_slice(args);
        let r = p.prov(&a);
        (r.code, r.stdout)
    };
    let (one_code, one) = recap_of(&[whole_file.to_str().unwrap()]);
    let f: Vec<&str> = files.iter().map(String::as_str).collect();
    let (merged_code, merged) = recap_of(&f);
    assert_eq!((merged_code, one_code), (2, 2));
    let parse = |s: &str| -> serde_json::Value { serde_json::from_str(s.trim()).unwrap() };
    assert_eq!(parse(&merged)["hosts"], parse(&one)["hosts"]);
    // The human recap is Ansible's PLAY RECAP.
    let mut a = vec!["recap"];
    a.extend_from_slice(&f);
    p.prov(&a)
        .code(2)
        .stdout_has("PLAY RECAP")
        .stdout_has("h07                        : ok=2    changed=1    unreachable=0    failed=1");
    // A shard that did not finish (no recap) makes the merge fail.
    std::fs::write(p.path("empty.jsonl"), "{\"event\":\"playbook_start\"}\n").unwrap();
    let mut a = vec!["recap"];
    a.extend_from_slice(&f[..2]);
    a.push("empty.jsonl");
    p.prov(&a).code(2).stderr_has("empty.jsonl: no recap");
    p.prov(&["run", "pb.yml", "-i", "inv.ini", "--shard", "3/3"])
        .code(5)
        .stderr_has("expected K/N");
}

/// `--check --detailed-exitcode` is a plan with an exit code: 2 when something would change,
/// 0 when nothing would, 1 when a host fails; the JSON `changes` event after the recap lists
/// the tasks that would change, and they are exactly the tasks the real run then changes.
#[test]
fn check_with_detailed_exitcode_predicts_the_real_run() {
    let p = Project::new("plan");
    p.file(
        "pb.yml",
        "- hosts: localhost\n  gather_facts: no\n  tasks:\n    - name: dir\n      file: { path: \"{{ playbook_dir }}/out\", state: directory }\n    - name: conf\n      copy: { dest: \"{{ playbook_dir }}/out/a.conf\", content: \"a=1\\n\" }\n    - name: line\n      lineinfile: { path: \"{{ playbook_dir }}/out/b.conf\", line: \"b=2\", create: true }\n    - name: look\n      command: cat /etc/hostname\n      changed_when: false\n    - name: items\n      copy: { dest: \"{{ playbook_dir }}/out/{{ item }}\", content: \"{{ item }}\\n\" }\n      loop: [x, y]\n",
    );
    let args = [
        "run",
        "pb.yml",
        "-i",
        "localhost,",
        "-c",
        "local",
        "--output",
        "json",
    ];
    let changed_tasks = |stdout: &str| -> Vec<String> {
        let ev: serde_json::Value = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|e| e["event"] == "changes")
            .expect("a changes event");
        let mut t: Vec<String> = ev["hosts"]["localhost"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| format!("{} {}", x["task"].as_str().unwrap(), x["item"]))
                    .collect()
            })
            .unwrap_or_default();
        t.sort();
        t
    };
    let mut check_args = args.to_vec();
    check_args.extend(["--check", "--detailed-exitcode"]);
    let plan = p.prov(&check_args);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(!p.path("out").exists(), "check mode changed something");
    let predicted = changed_tasks(&plan.stdout);
    assert_eq!(predicted.len(), 5, "{predicted:?}");
    let real = p.prov(&args);
    assert_eq!(real.code, 0, "{}", real.stderr);
    assert_eq!(changed_tasks(&real.stdout), predicted);
    // Converged: nothing would change.
    let again = p.prov(&check_args);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(changed_tasks(&again.stdout).is_empty());
    // A failure is 1 (2 means drift).
    p.file(
        "fail.yml",
        "- hosts: localhost\n  gather_facts: no\n  tasks:\n    - fail: msg=no\n",
    );
    p.prov(&[
        "run",
        "fail.yml",
        "-i",
        "localhost,",
        "-c",
        "local",
        "--check",
        "--detailed-exitcode",
    ])
    .code(1);
}

/// On the role example, a `--check` run predicts the tasks (per host and loop item) that the
/// following real run changes, exactly but for one task whose result depends on an earlier
/// task's change (named below), and the real run's second pass predicts nothing.
#[test]
fn check_run_predicts_the_role_example_exactly() {
    let p = Project::new("webapp-plan");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/webapp");
    let base = format!("base_dir={}", p.dir.display());
    let pb = format!("{example}/site.yml");
    let inv = format!("{example}/inventory.ini");
    let run = |extra: &[&str]| {
        let mut a = vec!["run", &pb, "-i", &inv, "-e", &base, "--output", "json"];
        a.extend_from_slice(extra);
        p.prov(&a)
    };
    let plan_of = |stdout: &str| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for ev in stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["event"] == "changes")
        {
            for (h, tasks) in ev["hosts"].as_object().unwrap() {
                for t in tasks.as_array().unwrap() {
                    out.push(format!("{h} {} {}", t["task"], t["item"]));
                }
            }
        }
        out.sort();
        out
    };
    let check = run(&["--check", "--detailed-exitcode"]);
    assert_eq!(check.code, 2, "{}", check.stderr);
    let real = run(&[]);
    assert_eq!(real.code, 0, "{}", real.stderr);
    let (predicted, changed) = (plan_of(&check.stdout), plan_of(&real.stdout));
    assert!(!changed.is_empty());
    // The one task check mode cannot know: "Always mark the run" makes `log/`, which the
    // folder-tree loop before it only would have made in check mode (the folder does not
    // exist yet when it is checked; under ansible-playbook --check too). Everything else
    // is predicted exactly.
    let unknowable: Vec<String> = predicted
        .iter()
        .filter(|t| !changed.contains(t))
        .cloned()
        .collect();
    assert_eq!(
        unknowable,
        [
            "web1 \"app : Always mark the run\" null",
            "web2 \"app : Always mark the run\" null"
        ],
        "check mode and the real run disagree:\npredicted {predicted:#?}\nchanged {changed:#?}"
    );
    assert!(
        changed.iter().all(|t| predicted.contains(t)),
        "{changed:#?}"
    );
    let again = run(&["--check", "--detailed-exitcode"]);
    assert_eq!(plan_of(&again.stdout), Vec::<String>::new());
    assert_eq!(again.code, 0);
}

#[test]
fn malformed_plays_fail_with_ansibles_messages_and_nulls_are_empty() {
    let p = Project::new("malformed_plays");
    p.file("inv.ini", INV);
    let cases = [
        ("[]\n", "A playbook must contain at least one play"),
        ("- hosts: []\n  tasks: []\n", "Hosts list cannot be empty"),
        (
            "- hosts: local\n  tasks: 123\n",
            "A malformed block was encountered while loading tasks: 123 should be a list or None",
        ),
        (
            "- hosts: local\n  roles: 123\n",
            "A malformed role declaration was encountered",
        ),
        (
            "- hosts: local\n  roles: [\"foo,bar\"]\n",
            "Invalid old style role requirement: foo,bar",
        ),
        (
            "- hosts: local\n  vars_prompt: [{ foo: bar }]\n",
            "Invalid vars_prompt data structure, missing 'name' key",
        ),
        (
            "- hosts: local\n  user: a\n  remote_user: b\n",
            "both 'user' and 'remote_user' are set for this play",
        ),
    ];
    for (play, msg) in cases {
        p.file("bad.yml", play);
        p.prov(&["run", "bad.yml", "-i", "inv.ini"])
            .code(1)
            .stderr_has(msg);
    }
    p.file(
        "nulls.yml",
        "- hosts: local\n  gather_facts: false\n  user: \"{{ lookup('env', 'USER') | default('root', true) }}\"\n  roles: null\n  vars_files: null\n  vars_prompt: null\n  tasks:\n    - debug: msg=ran\n",
    );
    p.prov(&["run", "nulls.yml", "-i", "inv.ini"])
        .success()
        .stdout_has("ran");
}

#[test]
fn assert_that_null_list_variables_and_templated_conditions() {
    let p = Project::new("assert_forms");
    p.file("inv.ini", INV).file(
        "site.yml",
        r#"
- hosts: local
  gather_facts: false
  vars:
    thats: ['{{ 1 == 1 }}', "x == 1"]
    x: 1
  tasks:
    - assert: { that: null }
      ignore_errors: true
      register: empty
    - assert: { that: '{{ thats }}' }
      register: listed
    - assert: { that: x == 1 }
      register: plain
    - assert:
        that:
          - empty is failed
          - empty.msg == "Empty conditional expressions are not allowed."
          - listed.deprecations | length == 1
          - listed.deprecations[0].msg is contains("should not be surrounded by templating delimiters")
          - plain.deprecations is not defined
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

#[test]
fn action_mapping_merges_its_args() {
    let p = Project::new("action_args");
    p.file("inv.ini", INV).file(
        "site.yml",
        r#"
- hosts: local
  gather_facts: false
  tasks:
    - action:
        module: ansible.legacy.debug
        args:
          msg: from args
      register: r
    - assert: { that: r.msg == "from args" }
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

#[test]
fn false_condition_keeps_a_yaml_boolean() {
    let p = Project::new("false_condition");
    p.file("inv.ini", INV).file(
        "site.yml",
        r#"
- hosts: local
  gather_facts: false
  tasks:
    - debug: msg=x
      when: false
      register: b
    - debug: msg=x
      when: [true, "1 == 2"]
      register: s
    - assert:
        that:
          - b.false_condition == False
          - s.false_condition == "1 == 2"
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

#[test]
fn an_option_that_cannot_be_rendered_names_the_action_and_option() {
    let p = Project::new("finalize_args");
    p.file("inv.ini", INV).file(
        "site.yml",
        r#"
- hosts: local
  gather_facts: false
  tasks:
    - debug: { msg: "{{ nope }}" }
      ignore_errors: true
      register: r
    - assert:
        that: >-
          r.msg == "Finalization of task args for 'ansible.builtin.debug' failed: Error while resolving value for 'msg': 'nope' is undefined"
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

#[test]
fn config_dump_shows_the_settings_in_effect_like_ansible_config() {
    let p = Project::new("config-dump");
    p.file(
        "ansible.cfg",
        "[defaults]\nforks = 7\nnull_representation = ''\n",
    );
    let cfg = p.path("ansible.cfg");
    let cfg = std::fs::canonicalize(cfg).unwrap();
    let cfg_os = cfg.as_os_str();
    let r = p.prov_env(
        &["config", "dump", "--only-changed"],
        &[
            ("ANSIBLE_CONFIG", cfg_os),
            ("ANSIBLE_TIMEOUT", "5".as_ref()),
        ],
    );
    r.success();
    let c = cfg.display();
    // (the test runs prov with NO_COLOR=1)
    assert_eq!(
        r.stdout,
        format!(
            "ANSIBLE_NOCOLOR(env: NO_COLOR) = True\nCONFIG_FILE() = {c}\nDEFAULT_FORKS({c}) = 7\nDEFAULT_TIMEOUT(env: ANSIBLE_TIMEOUT) = 5\n"
        )
    );
    // every setting, defaults too
    let r = p.prov_env(&["config", "dump"], &[("ANSIBLE_CONFIG", cfg_os)]);
    r.success().stdout_has("DEFAULT_FORKS(");
    assert!(r.stdout.contains("(default) = "), "{}", r.stdout);
}

/// A connection type prov has no transport of is one of Ansible's Python connection plugins
/// (`connection_plugins/` beside the playbook), chosen by `ansible_connection` or the
/// `connection` keyword (below the variable, as in Ansible): commands run through its `exec_command`, files through its
/// `put_file`; its `AnsibleConnectionFailure` makes the host unreachable (the play's
/// `ignore_unreachable` covers fact gathering too), another error fails the task.
#[test]
fn python_connection_plugins_carry_commands_files_and_errors() {
    let Some(core) = common::ansible_core() else {
        eprintln!("SKIP: no python3 here imports ansible");
        return;
    };
    let p = Project::new("python-conn");
    p.file(
        "inv.ini",
        "wrapped ansible_connection=wrapped\ndown ansible_connection=down\nplain\n",
    )
    .file(
        "connection_plugins/wrapped.py",
        "import os\nimport ansible.plugins.connection.local as local\n\nclass Connection(local.Connection):\n    def exec_command(self, cmd, in_data=None, sudoable=True):\n        rc, out, err = super().exec_command(cmd, in_data=in_data, sudoable=sudoable)\n        return rc, out.replace(b'hello', b'HELLO'), err\n    def put_file(self, src, dest):\n        super().put_file(src, dest)\n        open(os.path.join(os.path.dirname(dest), 'put-seen'), 'w').close()\n",
    )
    .file(
        "connection_plugins/down.py",
        "import ansible.plugins.connection.local as local\nfrom ansible.errors import AnsibleConnectionFailure\n\nclass Connection(local.Connection):\n    def exec_command(self, cmd, in_data=None, sudoable=True):\n        raise AnsibleConnectionFailure('DOWN on purpose')\n",
    )
    .file(
        "connection_plugins/broken.py",
        "from ansible.errors import AnsibleError\nfrom ansible.plugins.connection import ConnectionBase\n\nclass Connection(ConnectionBase):\n    transport = 'broken'\n    def __init__(self, *a, **kw):\n        super().__init__(*a, **kw)\n        raise AnsibleError('broken with {{ jinja }}')\n    def _connect(self):\n        pass\n    def exec_command(self, cmd, in_data=None, sudoable=True):\n        pass\n    def put_file(self, a, b):\n        pass\n    def fetch_file(self, a, b):\n        pass\n    def close(self):\n        pass\n",
    )
    .file(
        "site.yml",
        r#"- hosts: wrapped
  gather_facts: no
  tasks:
    - command: echo hello
      register: out
    - copy: { content: "data\n", dest: "{{ playbook_dir }}/copied" }
    - assert: { that: "out.stdout == 'HELLO'" }
- hosts: plain
  gather_facts: no
  tasks:
    - command: /bin/true
      connection: broken
      register: b
      ignore_errors: true
    - assert:
        that:
          - b is failed and b is not unreachable
          - "'broken with' in b.msg"
- hosts: down
  gather_facts: yes
  ignore_unreachable: true
  tasks:
    - ping:
"#,
    );
    let r = prov_with_core(&p, &core, &["run", "site.yml", "-i", "inv.ini"]);
    assert!(r.code == 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(p.read("copied"), "data\n");
    assert!(
        p.path("put-seen").exists(),
        "the plugin's put_file copied it"
    );
    assert!(r.stdout.contains("DOWN on purpose"), "{}", r.stdout);
    // The plugin's message is data, never templated.
    assert!(r.stdout.contains("broken with {{ jinja }}"), "{}", r.stdout);
    // gathering and ping: both unreachable, both ignored
    assert_eq!(r.recap("down")[2], 0, "{}", r.stdout);
    assert_eq!(r.recap("down")[6], 2, "{}", r.stdout);
}

/// `prov inventory` (ansible-inventory) warns about the sources it could not read, on stderr,
/// as the other commands do; its `--list` JSON names ansible-core's output profile.
#[test]
fn prov_inventory_warns_about_missing_sources() {
    let p = Project::new("inv-warn");
    let r = p.prov(&["inventory", "-i", "nope.ini", "--list"]);
    r.success();
    assert!(
        r.stderr
            .contains("[WARNING]: Unable to parse nope.ini as an inventory source"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("\"profile\": \"inventory_legacy\""),
        "{}",
        r.stdout
    );
}

/// A connection keyword templated with a role default (`remote_user: "{{ x }}"` on an
/// import) is rendered in the task's context when the task is delegated, not in the delegated
/// host's (which has no role defaults), as under ansible-core (its copy target does this).
#[test]
fn delegated_tasks_render_connection_keywords_in_the_tasks_context() {
    let p = Project::new("delegated_keywords");
    p.file("roles/r/defaults/main.yml", "who: root\n")
        .file(
            "roles/r/tasks/main.yml",
            "- import_tasks: inner.yml\n  remote_user: '{{ who }}'\n",
        )
        .file(
            "roles/r/tasks/inner.yml",
            "- command: 'true'\n  delegate_to: localhost\n  changed_when: false\n",
        )
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  roles: [r]\n",
        );
    p.prov(&["run", "site.yml", "-i", "h1,", "-c", "local"])
        .success();
}

/// Option names are never templated (ansible-core 2.19): k=v text split inside a template
/// (`a=1 {{ "k=v" }} b=2`) gives the option `{{ "k`, whose value renders as text, as
/// ansible-core's task-args target checks; the values around it are rendered.
#[test]
fn option_names_are_not_templated() {
    let p = Project::new("untemplated-names");
    p.file("inv.ini", INV)
        .file(
            "library/echo_args.sh",
            "#!/bin/sh\n# WANT_JSON\nprintf '{\"changed\": false, \"args\": %s}' \"$(cat \"$1\")\"\n",
        )
        .file(
            "site.yml",
            r#"- hosts: all
  gather_facts: no
  tasks:
    - echo_args: a={{ 'x' + 'y' }} {{ "k=v" }} b=bval
      register: r
    - assert:
        that:
          - r.args.a == 'xy'
          - r.args.b == 'bval'
          - r.args['{'~'{ "k'] == 'v" }}'
"#,
        );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// With a host list (`-i a,b,`), `inventory_file` is the list as given and `inventory_dir`
/// the text "None", as ansible-core sets them.
#[test]
fn a_host_list_s_inventory_file_and_dir_are_ansible_s() {
    let p = Project::new("host-list-magic");
    p.file(
        "pb.yml",
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - assert:\n        that:\n          - inventory_file == 'localhost,'\n          - inventory_dir == 'None'\n",
    );
    p.prov(&["run", "pb.yml", "-i", "localhost,", "-c", "local"])
        .success();
}

/// `gather_subset` on a play, through `module_defaults` for setup, and on `setup`: the collectors
/// chosen as ansible-core chooses them, `gather_subset`/`module_setup` returned, and an unknown
/// name failing with ansible-core's message.
#[test]
fn gather_subset_selects_collectors_as_ansible_core_does() {
    let p = Project::new("gather-subset");
    p.file(
        "pb.yml",
        "- hosts: all\n  gather_subset: ['!all', '!min', distribution]\n  tasks:\n    - assert:\n        that:\n          - ansible_distribution is defined\n          - ansible_interfaces is not defined\n          - ansible_env is not defined\n          - gather_subset == ['!all', '!min', 'distribution']\n          - ansible_facts.module_setup\n- hosts: all\n  vars:\n    wanted: ['!all', network]\n  module_defaults:\n    setup:\n      gather_subset: '{{ wanted }}'\n  tasks:\n    - assert:\n        that:\n          - ansible_interfaces is defined\n          - ansible_user_id is defined\n          - ansible_memtotal_mb is not defined\n    - setup: { gather_subset: [nonsense] }\n      register: bad\n      ignore_errors: true\n    - assert:\n        that: bad.msg.startswith(prefix)\n      vars:\n        prefix: \"Bad subset 'nonsense' given to Ansible. gather_subset options allowed: all, \"\n",
    );
    p.prov(&["run", "pb.yml", "-i", "localhost,", "-c", "local"])
        .success();
}
