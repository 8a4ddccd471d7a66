//! Engine semantics through the `prov` binary, on several local hosts (each with its own folder).

mod common;
use common::Project;

/// Three local hosts in two groups.
const INV: &str = "[web]\nw1 ansible_connection=local\nw2 ansible_connection=local\n[db]\nd1 ansible_connection=local\n";

fn project(name: &str, play: &str) -> Project {
    let p = Project::new(name);
    p.file("inv.ini", INV).file("site.yml", play);
    p
}

#[test]
fn serial_batches_and_abort_when_a_whole_batch_fails() {
    let p = project(
        "serial",
        r#"
- hosts: all
  gather_facts: no
  serial: 1
  tasks:
    - shell: echo {{ inventory_hostname }} >> {dir}/order
    - command: /bin/false
      when: inventory_hostname == 'w1'
    - shell: echo {{ inventory_hostname }} >> {dir}/after
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.code(2);
    // The first batch (w1) failed entirely: later batches do not run.
    assert_eq!(p.read("order"), "w1\n");
    assert!(!p.exists("after"));
}

#[test]
fn play_order_keyword_orders_hosts_and_batches() {
    let p = project(
        "order",
        r#"
- hosts: all
  gather_facts: no
  serial: 1
  order: "{{ myorder }}"
  tasks:
    - shell: echo {{ inventory_hostname }} >> {dir}/order
"#,
    );
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "-e",
        "myorder=reverse_sorted",
    ])
    .success();
    assert_eq!(p.read("order"), "w2\nw1\nd1\n");
    std::fs::remove_file(p.path("order")).unwrap();
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "-e",
        "myorder=reverse_inventory",
    ])
    .success();
    assert_eq!(p.read("order"), "d1\nw2\nw1\n");
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "-e",
        "myorder=upside_down",
    ])
    .code(1)
    .stderr_has("Invalid 'order' specified for inventory hosts: upside_down");
}

#[test]
fn throttle_holds_under_the_free_strategy_and_must_be_an_integer() {
    let p = project(
        "throttle",
        r#"
- hosts: all
  gather_facts: no
  strategy: free
  tasks:
    - shell: echo start >> {dir}/log; sleep 0.3; echo end >> {dir}/log
      throttle: 1
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini", "--forks", "3"])
        .success();
    assert_eq!(p.read("log"), "start\nend\n".repeat(3));
    p.file(
        "bad.yml",
        "- hosts: d1\n  gather_facts: no\n  tasks:\n    - debug:\n      throttle: \"{{ 'nope' }}\"\n",
    );
    p.prov(&["run", "bad.yml", "-i", "inv.ini"])
        .code(1)
        .stderr_has(
            "Failed to convert the throttle value to an integer: invalid literal for int() with base 10: 'nope'",
        );
}

#[test]
fn serial_continues_after_partial_failure_and_orders_batches() {
    let p = project(
        "serial2",
        r#"
- hosts: all
  gather_facts: no
  serial: [2, 1]
  tasks:
    - shell: echo {{ inventory_hostname }} >> {dir}/order
    - command: /bin/false
      when: inventory_hostname == 'w1'
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).code(2);
    let order = p.read("order");
    let lines: Vec<&str> = order.lines().collect();
    assert_eq!(lines.len(), 3, "{order}");
    assert_eq!(
        lines[2], "d1",
        "the second batch runs after the first: {order}"
    );
}

#[test]
fn any_errors_fatal_stops_every_host() {
    let p = project(
        "aef",
        r#"
- hosts: all
  gather_facts: no
  any_errors_fatal: true
  tasks:
    - command: /bin/false
      when: inventory_hostname == 'd1'
    - file: path={dir}/{{ inventory_hostname }} state=touch
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).code(2);
    for h in ["w1", "w2", "d1"] {
        assert!(!p.exists(h), "{h} must not continue");
    }
}

#[test]
fn max_fail_percentage_aborts() {
    let p = project(
        "mfp",
        r#"
- hosts: all
  gather_facts: no
  max_fail_percentage: 20
  tasks:
    - command: /bin/false
      when: inventory_hostname == 'd1'
    - file: path={dir}/{{ inventory_hostname }} state=touch
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).code(2);
    assert!(!p.exists("w1"));
}

#[test]
fn failed_host_leaves_the_play_others_continue() {
    let p = project(
        "leave",
        r#"
- hosts: all
  gather_facts: no
  tasks:
    - command: /bin/false
      when: inventory_hostname == 'w2'
    - file: path={dir}/{{ inventory_hostname }} state=touch
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.code(2);
    assert!(p.exists("w1") && p.exists("d1") && !p.exists("w2"));
    assert_eq!(r.recap("w2")[3], 1);
}

#[test]
fn free_strategy_runs_every_host_to_the_end() {
    let p = project(
        "free",
        r#"
- hosts: all
  gather_facts: no
  strategy: free
  tasks:
    - shell: sleep 0.{{ 3 if inventory_hostname == 'w1' else 0 }}; echo {{ inventory_hostname }} >> {dir}/log
    - file: path={dir}/{{ inventory_hostname }} state=touch
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    assert!(p.exists("w1") && p.exists("w2") && p.exists("d1"));
}

#[test]
fn run_once_delegate_to_and_hostvars() {
    let p = project(
        "once",
        r#"
- hosts: all
  gather_facts: no
  tasks:
    - name: one token for everyone
      shell: echo token-$$
      run_once: true
      register: tok
    - name: everyone sees it
      copy: { dest: "{dir}/{{ inventory_hostname }}.tok", content: "{{ tok.stdout }}" }
    - name: facts set on one host are visible through hostvars
      set_fact: { role_of_me: "{{ group_names | first }}" }
    - name: delegated to localhost with the host's vars
      copy:
        dest: "{dir}/delegated-{{ inventory_hostname }}"
        content: "{{ hostvars['d1'].role_of_me }} {{ inventory_hostname }}"
      delegate_to: localhost
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success().stdout_has("[w1 -> localhost]");
    let t1 = p.read("w1.tok");
    assert!(t1.starts_with("token-"));
    assert_eq!(p.read("w2.tok"), t1);
    assert_eq!(p.read("d1.tok"), t1);
    assert_eq!(p.read("delegated-w2"), "db w2");
}

#[test]
fn until_retries_and_changed_failed_when() {
    let p = project(
        "until",
        r#"
- hosts: d1
  gather_facts: no
  tasks:
    - name: succeeds on the third attempt
      shell: n=$(cat {dir}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {dir}/n; echo $n
      register: r
      until: r.stdout | int >= 3
      retries: 5
      delay: 0
    - name: never changed
      command: echo hi
      changed_when: false
    - name: fails on output
      command: echo ERROR
      register: e
      failed_when: "'ERROR' in e.stdout"
      ignore_errors: true
    - assert:
        that:
          - r.attempts == 3
          - e is failed
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success().stdout_has("FAILED - RETRYING");
    assert_eq!(p.read("n"), "3\n");
    let rc = r.recap("d1");
    assert_eq!(rc[1], 1, "only the retried shell changed: {}", r.stdout);
    assert_eq!(rc[6], 1);
}

#[test]
fn includes_imports_roles_and_vars_files() {
    let p = project(
        "includes",
        r#"
- import_playbook: first.yml
- hosts: d1
  gather_facts: no
  vars_files:
    - vars/common.yml
  tasks:
    - import_tasks: tasks/static.yml
    - include_tasks: "tasks/{{ which }}.yml"
    - include_role: { name: greeter, tasks_from: other }
    - include_vars: { file: vars/more.yml, name: more }
    - copy: { dest: "{dir}/more", content: "{{ more.extra }}" }
"#,
    );
    p.file(
        "first.yml",
        "- hosts: w1\n  gather_facts: no\n  tasks:\n    - file: path={dir}/first state=touch\n",
    )
    .file("vars/common.yml", "which: dynamic\ngreeting: hello\n")
    .file("vars/more.yml", "extra: 42\n")
    .file(
        "tasks/static.yml",
        "- copy: { dest: '{dir}/static', content: '{{ greeting }}' }\n",
    )
    .file(
        "tasks/dynamic.yml",
        "- copy: { dest: '{dir}/dynamic', content: '{{ which }}' }\n",
    )
    .file("roles/greeter/defaults/main.yml", "who: world\n")
    .file(
        "roles/greeter/tasks/other.yml",
        "- copy: { dest: '{dir}/role', content: '{{ greeting }} {{ who }} {{ role_name }}' }\n",
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    assert!(p.exists("first"));
    assert_eq!(p.read("static"), "hello");
    assert_eq!(p.read("dynamic"), "dynamic");
    assert_eq!(p.read("role"), "hello world greeter");
    assert_eq!(p.read("more"), "42");
}

#[test]
fn tags_always_never_and_start_at_task() {
    let p = project(
        "tags",
        r#"
- hosts: d1
  gather_facts: no
  tasks:
    - { name: a, file: "path={dir}/a state=touch", tags: [x] }
    - { name: b, file: "path={dir}/b state=touch", tags: [always] }
    - { name: c, file: "path={dir}/c state=touch", tags: [never, debugonly] }
    - { name: d, file: "path={dir}/d state=touch" }
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini", "-t", "x"])
        .success();
    assert!(p.exists("a") && p.exists("b") && !p.exists("c") && !p.exists("d"));
    for f in ["a", "b"] {
        std::fs::remove_file(p.path(f)).unwrap();
    }
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    assert!(p.exists("a") && p.exists("b") && !p.exists("c") && p.exists("d"));
    p.prov(&["run", "site.yml", "-i", "inv.ini", "-t", "debugonly"])
        .success();
    assert!(p.exists("c"));
    for f in ["a", "b", "c", "d"] {
        std::fs::remove_file(p.path(f)).unwrap();
    }
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "--skip-tags",
        "x",
        "--start-at-task",
        "b",
    ])
    .success();
    assert!(!p.exists("a") && p.exists("b") && p.exists("d"));
}

#[test]
fn meta_end_host_and_flush_handlers() {
    let p = project(
        "meta",
        r#"
- hosts: all
  gather_facts: no
  handlers:
    - name: h
      shell: echo {{ inventory_hostname }} >> {dir}/handled
  tasks:
    - command: "true"
      notify: h
    - meta: flush_handlers
    - shell: test -s {dir}/handled && echo {{ inventory_hostname }} >> {dir}/after-flush
    - meta: end_host
      when: inventory_hostname != 'd1'
    - file: path={dir}/{{ inventory_hostname }} state=touch
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    assert_eq!(p.read("handled").lines().count(), 3);
    assert_eq!(p.read("after-flush").lines().count(), 3);
    assert!(p.exists("d1") && !p.exists("w1") && !p.exists("w2"));
}

#[test]
fn environment_no_log_and_check_mode_override() {
    let p = project(
        "env",
        r#"
- hosts: d1
  gather_facts: no
  environment: { GREETING: hi }
  tasks:
    - shell: echo "$GREETING $OTHER" > {dir}/env
      environment: { OTHER: "there" }
    - name: secret
      debug: msg="the password is hunter2"
      no_log: true
    - name: always for real
      file: path={dir}/real state=touch
      check_mode: false
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success().stdout_lacks("hunter2");
    assert_eq!(p.read("env"), "hi there\n");
    std::fs::remove_file(p.path("real")).unwrap();
    p.prov(&["run", "site.yml", "-i", "inv.ini", "--check"])
        .success();
    assert!(
        p.exists("real"),
        "check_mode: false runs even under --check"
    );
}

#[test]
fn environment_lists_omit_and_fact_gathering() {
    let p = project(
        "env-omit",
        r#"
- hosts: d1
  gather_facts: no
  tasks:
    - shell: echo "$A,$B,$C" > {dir}/env
      environment:
        - { A: a, B: "{{ omit }}" }
        - "{{ omit }}"
        - C: c
- hosts: d1
  environment:
    PATH: "{{ ansible_env.PATH }}:/nowhere"
    LOLA: ido
  tasks:
    - copy:
        dest: "{dir}/facts"
        content: "{{ ansible_env.LOLA }} {{ '/nowhere' in ansible_env.PATH }}"
    - shell: echo "$PATH" > {dir}/path
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    assert_eq!(p.read("env"), "a,,c\n");
    // facts are gathered with the play's environment, less what needs facts not gathered yet
    assert_eq!(p.read("facts"), "ido False");
    assert!(p.read("path").trim_end().ends_with(":/nowhere"));
}

#[test]
fn vars_files_are_read_per_host_with_its_variables() {
    let p = project(
        "vars-files",
        r#"
- hosts: web
  gather_facts: no
  vars_files:
    - vars/common.yml
    - missing.yml
    - ["vars/{{ flavour }}.yml", vars/default.yml]
    - "vars/{{ nowhere }}.yml"
  tasks:
    - copy: { dest: "{dir}/{{ inventory_hostname }}", content: "{{ common }} {{ kind }}" }
"#,
    );
    p.file("vars/common.yml", "common: shared\n")
        .file("vars/sweet.yml", "kind: sweet\n")
        .file("vars/default.yml", "kind: plain\n")
        .file(
            "inv.ini",
            "[web]\nw1 ansible_connection=local flavour=sweet\nw2 ansible_connection=local flavour=sour\n",
        );
    // a missing file is skipped; a name with an undefined variable too, with Ansible's warning
    p.prov(&["run", "site.yml", "-i", "inv.ini"])
        .success()
        .stderr_has("skipping vars_files item due to an undefined variable");
    assert_eq!(p.read("w1"), "shared sweet");
    assert_eq!(p.read("w2"), "shared plain");
}

#[test]
fn hash_behaviour_merge_merges_mappings_across_variable_sources() {
    let p = project(
        "hash-merge",
        r#"
- hosts: d1
  gather_facts: no
  vars:
    h: { play: 1 }
  tasks:
    - copy: { dest: "{dir}/h", content: "{{ h.keys() | sort | join(',') }}" }
"#,
    );
    p.file("group_vars/all.yml", "h: { group: 1, play: 0 }\n")
        .file("host_vars/d1.yml", "h: { host: 1 }\n");
    let merge = std::ffi::OsStr::new("merge");
    p.prov_env(
        &[
            "run",
            "site.yml",
            "-i",
            "inv.ini",
            "-e",
            "{\"h\": {\"extra\": 1}}",
        ],
        &[("ANSIBLE_HASH_BEHAVIOUR", merge)],
    )
    .success();
    assert_eq!(p.read("h"), "extra,group,host,play");
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "-e",
        "{\"h\": {\"extra\": 1}}",
    ])
    .success();
    assert_eq!(p.read("h"), "extra");
}

#[test]
fn vars_prompt_off_a_tty_is_an_error_unless_given() {
    let p = project(
        "prompt",
        "- hosts: d1\n  gather_facts: no\n  vars_prompt:\n    - name: answer\n      prompt: Answer?\n  tasks:\n    - copy: { dest: '{dir}/a', content: '{{ answer }}' }\n",
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"])
        .code(1)
        .stderr_has("not a terminal")
        .stderr_has("-e answer=");
    p.prov(&["run", "site.yml", "-i", "inv.ini", "-e", "answer=42"])
        .success();
    assert_eq!(p.read("a"), "42");
}

/// `vars_prompt` on a terminal (a pseudo-terminal from util-linux `script`): a `private`
/// answer (the default) is not echoed, a `private: false` one is; both reach the play, an empty
/// answer takes the `default`, and a variable given with -e is not asked for.
#[test]
fn vars_prompt_on_a_tty_hides_private_answers() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIP: vars_prompt_on_a_tty_hides_private_answers: `script` is not installed");
        return;
    }
    let p = project(
        "prompt-tty",
        r#"
- hosts: d1
  gather_facts: no
  vars_prompt:
    - name: secret
      prompt: Secret word
    - name: shown
      prompt: Shown word
      private: false
    - name: fallback
      prompt: Fallback word
      default: dflt
    - name: given
      prompt: Given word
  tasks:
    - debug: { msg: "secret-length={{ secret | length }}" }
    - copy: { dest: '{dir}/out', content: "{{ secret }} {{ shown }} {{ fallback }} {{ given }}" }
"#,
    );
    let cmd = format!(
        "{} run site.yml -i inv.ini -e given=extra",
        env!("CARGO_BIN_EXE_prov")
    );
    let mut child = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .current_dir(&p.dir)
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
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
    let text = || String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
    let mut stdin = child.stdin.take().unwrap();
    // Types `answer` once `prompt` shows (after a moment, so the terminal's mode is set).
    let mut answer = |prompt: &str, answer: &str| {
        use std::io::Write;
        let t0 = std::time::Instant::now();
        while !text().contains(prompt) {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(60),
                "no prompt {prompt:?}; output:\n{}",
                text()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        stdin.write_all(answer.as_bytes()).unwrap();
        stdin.flush().unwrap();
    };
    answer("Secret word: ", "hush-hush-42\n");
    answer("Shown word: ", "plain-visible-7\n");
    answer("Fallback word [dflt]: ", "\n");
    // Keep the terminal's input open until prov is done.
    let st = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    let t = text();
    assert!(st.success(), "prov failed:\n{t}");
    assert!(
        !t.contains("hush-hush"),
        "the private answer was echoed:\n{t}"
    );
    assert!(
        t.contains("plain-visible-7"),
        "a private: false answer is echoed:\n{t}"
    );
    assert!(
        !t.contains("Given word"),
        "a variable given with -e is not asked for:\n{t}"
    );
    assert!(t.contains("secret-length=12"), "{t}");
    assert_eq!(p.read("out"), "hush-hush-42 plain-visible-7 dflt extra");
}

/// `include_tasks: apply:` gives its keywords to every included task (Ansible's meaning): tags
/// (`--tags x` runs them, `--skip-tags x` skips them), vars, become, ignore_errors, when. An
/// unknown key in `apply` is an error at its file:line:col; imports take no `apply`.
#[test]
fn include_tasks_apply_gives_keywords_to_the_included_tasks() {
    let p = project(
        "apply",
        r#"
- hosts: d1
  gather_facts: no
  tasks:
    - include_tasks:
        file: inc.yml
        apply:
          tags: [x]
          vars: { y: 1 }
          become: false
          ignore_errors: true
          when: inventory_hostname == 'd1'
      tags: always
    - copy: { dest: '{dir}/after', content: done }
      tags: always
"#,
    );
    p.file(
        "inc.yml",
        "- copy: { dest: '{dir}/y', content: 'y={{ y }}' }\n- command: /bin/false\n- copy: { dest: '{dir}/second', content: ok }\n",
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini", "--tags", "x"])
        .success();
    assert_eq!(p.read("y"), "y=1");
    assert!(p.exists("second"), "the failure of /bin/false is ignored");
    assert!(p.exists("after"));
    for f in ["y", "second", "after"] {
        std::fs::remove_file(p.path(f)).unwrap();
    }
    p.prov(&["run", "site.yml", "-i", "inv.ini", "--skip-tags", "x"])
        .success();
    assert!(!p.exists("y") && !p.exists("second"), "tagged x by apply");
    assert!(p.exists("after"));

    // include_role takes `apply` too.
    p.file(
        "roles/r/tasks/main.yml",
        "- copy: { dest: '{dir}/role', content: 'z={{ z }}' }\n",
    )
    .file(
        "role.yml",
        "- hosts: d1\n  gather_facts: no\n  tasks:\n    - include_role:\n        name: r\n        apply: { vars: { z: 2 } }\n",
    );
    p.prov(&["run", "role.yml", "-i", "inv.ini"]).success();
    assert_eq!(p.read("role"), "z=2");

    p.file(
        "bad.yml",
        "- hosts: d1\n  gather_facts: no\n  tasks:\n    - include_tasks:\n        file: inc.yml\n        apply:\n          tagz: [x]\n",
    );
    p.prov(&["run", "bad.yml", "-i", "inv.ini"])
        .code(1)
        .stderr_has("'tagz' is not a valid keyword in `apply`")
        .stderr_has("bad.yml:7:11")
        .stderr_has("did you mean 'tags'?");
    p.file(
        "imp.yml",
        "- hosts: d1\n  gather_facts: no\n  tasks:\n    - import_tasks:\n        file: inc.yml\n        apply: { tags: [x] }\n",
    );
    p.prov(&["run", "imp.yml", "-i", "inv.ini"])
        .code(1)
        .stderr_has("Invalid options for import_tasks: apply");
}

#[test]
fn undefined_variable_names_variable_task_and_location() {
    let p = project(
        "undef",
        "- hosts: d1\n  gather_facts: no\n  tasks:\n    - name: uses a typo\n      copy:\n        dest: /tmp/never\n        content: \"{{ greting }}\"\n",
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.code(2).stdout_has("greting").stdout_has("site.yml:4:7");
}

#[test]
fn precedence_extra_vars_win_and_set_fact_beats_play_vars() {
    let p = project(
        "prec",
        r#"
- hosts: d1
  gather_facts: no
  vars: { a: play, b: play, c: play }
  tasks:
    - set_fact: { b: fact }
    - copy:
        dest: "{dir}/out"
        content: "{{ a }} {{ b }} {{ c }} {{ d }}"
      vars: { c: task, d: task }
"#,
    );
    p.file("group_vars/all.yml", "a: group\nd: group\n");
    p.prov(&["run", "site.yml", "-i", "inv.ini", "-e", "c=extra"])
        .success();
    assert_eq!(p.read("out"), "play fact extra task");
}

#[test]
fn playbook_dir_is_absolute_even_for_a_relative_playbook_path() {
    let p = project(
        "pbdir",
        "- hosts: d1\n  gather_facts: no\n  tasks:\n    - copy: { dest: '{{ playbook_dir }}/here', content: '{{ playbook_dir }}' }\n",
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    let written = p.read("here");
    assert!(written.starts_with('/'), "{written}");
    assert_eq!(
        std::path::Path::new(&written),
        p.dir.canonicalize().unwrap()
    );
}

#[test]
fn any_errors_fatal_waits_for_rescue() {
    let p = project(
        "aef-rescue",
        r#"
- hosts: all
  gather_facts: no
  any_errors_fatal: true
  tasks:
    - block:
        - command: /bin/false
          when: inventory_hostname == 'd1'
      rescue:
        - file: path={dir}/rescued-{{ inventory_hostname }} state=touch
    - file: path={dir}/{{ inventory_hostname }} state=touch
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success();
    assert!(p.exists("rescued-d1"));
    for h in ["w1", "w2", "d1"] {
        assert!(p.exists(h), "{h} continues: the failure was rescued");
    }
}

#[test]
fn failed_hosts_sit_out_later_plays_and_a_dead_batch_ends_the_playbook() {
    let p = project(
        "dead",
        r#"
- hosts: all
  gather_facts: no
  tasks:
    - command: /bin/false
      when: inventory_hostname == 'w2'
- hosts: all
  gather_facts: no
  tasks:
    - file: path={dir}/{{ inventory_hostname }} state=touch
- hosts: w1
  gather_facts: no
  tasks:
    - command: /bin/false
- hosts: all
  gather_facts: no
  tasks:
    - file: path={dir}/{{ inventory_hostname }}.late state=touch
"#,
    );
    let out = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    out.code(2);
    assert!(p.exists("w1") && p.exists("d1"), "the others go on");
    assert!(
        !p.exists("w2"),
        "w2 failed in the first play: it sits out the second"
    );
    for h in ["w1", "w2", "d1"] {
        assert!(
            !p.exists(&format!("{h}.late")),
            "the third play's whole batch failed: the playbook ends there"
        );
    }
    assert!(out.stdout.contains("NO MORE HOSTS LEFT"), "{}", out.stdout);
    assert_eq!(out.recap("w2")[3], 1, "w2 failed once");
}

#[test]
fn add_host_and_group_by_change_the_inventory_for_later_plays() {
    let p = project(
        "addhost",
        r#"
- hosts: web
  gather_facts: no
  tasks:
    - name: add two hosts (once per item, not once per host)
      add_host:
        name: "{{ item }}"
        groups: [new, extra]
        ansible_connection: local
        colour: blue
      loop: [n1, n2]
      register: added
    - name: adding again changes nothing
      add_host: { name: n1, groups: new, ansible_connection: local, colour: blue }
      register: again
    - copy:
        dest: "{dir}/added"
        content: "{{ added.results | map(attribute='changed') | list }} {{ again.changed }} {{ groups['new'] }}\n"
      run_once: true
    - group_by: { key: "tier_{{ 'front' if inventory_hostname == 'w1' else 'back' }}", parents: tiers }
      register: gb
    - group_by: { key: "tier_{{ 'front' if inventory_hostname == 'w1' else 'back' }}", parents: tiers }
      register: gb2
    - add_host: { name: "10.9.9.9:2222" }
      register: hp
    - assert:
        that:
          - gb is changed and gb2 is not changed
          - hp.add_host.host_vars.ansible_ssh_port == 2222
- hosts: new
  gather_facts: no
  tasks:
    - file: path={dir}/{{ inventory_hostname }}-{{ colour }}-{{ group_names | join('+') }} state=touch
- hosts: tier_front
  gather_facts: no
  tasks:
    - file: path={dir}/front-{{ inventory_hostname }} state=touch
- hosts: tiers:!tier_front
  gather_facts: no
  tasks:
    - file: path={dir}/back-{{ inventory_hostname }} state=touch
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success();
    assert_eq!(p.read("added"), "[True, True] False ['n1', 'n2']\n");
    assert!(p.exists("n1-blue-extra+new") && p.exists("n2-blue-extra+new"));
    assert!(p.exists("front-w1") && !p.exists("front-w2"));
    assert!(p.exists("back-w2") && !p.exists("back-w1") && !p.exists("back-d1"));
    // add_host ran once per item on the first host only; the recap has the new hosts too.
    assert_eq!(r.recap("n1")[1], 1, "n1 changed once (its file)");
    let bad = Project::new("addhost-bad");
    bad.file("inv.ini", INV).file(
        "site.yml",
        "- hosts: all\n  tasks:\n    - group_by: { name: x }\n",
    );
    let r = bad.prov(&["check", "site.yml"]);
    r.code(1);
    assert!(r.stderr.contains("group_by needs `key`"), "{}", r.stderr);
}

#[test]
fn delegate_facts_puts_gathered_and_set_facts_on_the_delegated_host() {
    let p = project(
        "delegfacts",
        r#"
- hosts: w1
  gather_facts: no
  tasks:
    - setup:
      delegate_to: d1
      delegate_facts: true
    - set_fact: { marker: from_w1 }
      delegate_to: d1
      delegate_facts: true
    - copy:
        dest: "{dir}/with"
        content: "{{ hostvars['d1'].ansible_facts.system }} {{ hostvars['d1'].marker }} {{ ansible_facts.system | default('unset') }} {{ marker | default('unset') }}\n"
- hosts: w2
  gather_facts: no
  tasks:
    - name: without delegate_facts the delegated host's facts land on this host
      setup:
      delegate_to: d1
    - copy:
        dest: "{dir}/without"
        content: "{{ ansible_facts.system }} {{ hostvars['d1'].marker }}\n"
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    assert_eq!(p.read("with"), "Linux from_w1 unset unset\n");
    assert_eq!(p.read("without"), "Linux from_w1\n");
}

#[test]
fn throttle_limits_concurrency_and_timeout_fails_a_slow_task() {
    let p = project(
        "throttle",
        r#"
- hosts: all
  gather_facts: no
  tasks:
    - name: at most one host at a time (each records how many ran at once)
      shell: |
        mkdir -p {dir}/running
        touch {dir}/running/{{ inventory_hostname }}
        ls {dir}/running | wc -l >> {dir}/concurrency
        sleep 0.3
        rm {dir}/running/{{ inventory_hostname }}
      throttle: 1
    - block:
        - name: too slow
          command: sleep 60
      timeout: "{{ 1 }}"
      when: inventory_hostname == 'w1'
    - file: path={dir}/{{ inventory_hostname }} state=touch
"#,
    );
    let t0 = std::time::Instant::now();
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini", "-f", "10"]);
    r.code(2);
    let counts = p.read("concurrency");
    assert_eq!(counts.lines().count(), 3, "{counts}");
    assert!(
        counts.lines().all(|l| l.trim() == "1"),
        "throttle 1: {counts}"
    );
    assert!(
        r.stdout
            .contains("Task failed: Timed out after 1 second(s)."),
        "{}",
        r.stdout
    );
    assert!(!p.exists("w1") && p.exists("w2") && p.exists("d1"));
    // Not a speed target: the 60 s command must have been stopped long before it ended.
    assert!(t0.elapsed().as_secs() < 30, "the slow task was stopped");
}

#[test]
fn include_tasks_in_a_loop_runs_once_per_item_with_the_loop_var() {
    let p = project(
        "incloop",
        r#"
- hosts: web
  gather_facts: no
  tasks:
    - include_tasks: inc.yml
      loop: [a, b]
      loop_control: { loop_var: letter }
    - command: /bin/false
      register: r
      failed_when: false
"#,
    );
    p.file(
        "inc.yml",
        "- shell: echo {{ inventory_hostname }}-{{ letter }} >> {dir}/log\n",
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success();
    let mut lines: Vec<String> = p.read("log").lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(lines, ["w1-a", "w1-b", "w2-a", "w2-b"]);
    // Shown like Ansible: one `included:` line per item; a plain msg only with -v.
    assert!(
        r.stdout.contains("included: ") && r.stdout.contains(" for w1, w2 => (item=a)")
            || r.stdout.contains(" for w1 => (item=a)"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("non-zero return code"), "{}", r.stdout);
}

/// Play and task keywords given as templates are rendered when they apply: `strategy` from
/// the play's variables and extra vars when the play starts (an unknown one fails the run),
/// `no_log` on each host when the task runs.
#[test]
fn templated_strategy_and_no_log_are_rendered_when_they_apply() {
    let p = project(
        "templated-keywords",
        r#"
- hosts: all
  gather_facts: no
  strategy: "{{ test_strategy | default('linear') }}"
  tasks:
    - name: maybe secret
      debug: msg="the password is {{ 'hunter' ~ 2 }} on {{ inventory_hostname }}"
      no_log: "{{ inventory_hostname != 'd1' }}"
    - file: path={dir}/{{ inventory_hostname }} state=touch
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success()
        .stdout_has("the password is hunter2 on d1")
        .stdout_lacks("hunter2 on w1")
        .stdout_lacks("hunter2 on w2");
    for free in ["free", "host_pinned"] {
        p.prov(&[
            "run",
            "site.yml",
            "-i",
            "inv.ini",
            "-e",
            &format!("test_strategy={free}"),
        ])
        .success();
    }
    assert!(p.exists("w1") && p.exists("w2") && p.exists("d1"));
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "-e",
        "test_strategy=mine",
    ])
    .code(1)
    .stderr_has("Invalid play strategy specified: mine");
}

/// Relative file names are found as Ansible finds them, in the task's search path: its role's
/// folders (kind sub-folder first, then the role itself, so `first_found` sees `tasks/`), the
/// roles that brought it in (a dependency, an include_role), the task file's folder, the
/// playbook's folder; `include_vars` reads `vars/`; `first_found` takes `files`/`paths`/`skip`.
#[test]
fn relative_files_follow_ansible_s_search_path_through_roles() {
    let p = Project::new("search-path");
    p.file("inv.ini", INV)
        .file(
            "site.yml",
            "- hosts: d1\n  gather_facts: no\n  roles: [app]\n  tasks:\n    - assert: { that: \"lookup('file', 'top.txt') == 'top'\" }\n",
        )
        .file("files/top.txt", "top\n")
        .file("roles/app/meta/main.yml", "dependencies: [base]\n")
        .file(
            "roles/app/tasks/main.yml",
            r#"
- include_tasks: "{{ lookup('first_found', ['nope.yml', 'default.yml']) }}"
- include_vars: app.yml
- assert:
    that:
      - from_vars == 'app'
      - lookup('file', 'own.txt') == 'app file'
      - lookup('template', 't.j2') is search('^tmpl app')
      - "lookup('first_found', {'files': ['x.txt', 'own.txt'], 'paths': ['files']}) is search('/roles/app/files/own.txt$')"
      - lookup('first_found', 'missing.txt', skip=true) == []
      - ansible_search_path[0] is search('/roles/app$')
- include_role: { name: leaf }
- copy: { src: own.txt, dest: "{{ playbook_dir }}/copied" }
"#,
        )
        .file("roles/app/tasks/default.yml", "- set_fact: { found_default: yes }\n")
        .file("roles/app/vars/app.yml", "from_vars: app\n")
        .file("roles/app/files/own.txt", "app file\n")
        .file("roles/app/templates/t.j2", "tmpl {{ 'app' }}\n")
        .file(
            "roles/base/tasks/main.yml",
            "- assert: { that: \"lookup('file', 'base.txt') == 'base'\" }\n",
        )
        .file("roles/base/files/base.txt", "base\n")
        .file(
            "roles/leaf/tasks/main.yml",
            "- assert: { that: [\"lookup('file', 'own.txt') == 'app file'\", \"found_default\"] }\n",
        );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    assert_eq!(p.read("copied"), "app file\n");
    p.file(
        "bad.yml",
        "- hosts: d1\n  gather_facts: no\n  tasks:\n    - debug: msg=\"{{ lookup('first_found', ['a.yml', 'b.yml']) }}\"\n",
    );
    p.prov(&["run", "bad.yml", "-i", "inv.ini"])
        .code(2)
        .stdout_has("No file was found when using first_found.");
}

/// `include_vars` returns what Ansible returns: the files read (`ansible_included_var_files`,
/// in name order) and the variables (`ansible_facts`, under `name` when given); a folder is
/// walked to `depth`, filtered by `files_matching`, `ignore_files` and `extensions`; a
/// failure is reported in `message`.
#[test]
fn include_vars_results_and_folder_options() {
    let p = Project::new("include-vars");
    p.file("inv.ini", INV)
        .file("vars/a.yml", "x: 1\nwhere: a\n")
        .file("vars/b/b.yml", "where: b\n")
        .file("vars/b/deep/c.yml", "where: c\n")
        .file("other/noext", "plain: yes\n")
        .file(
            "site.yml",
            r#"
- hosts: d1
  gather_facts: no
  tasks:
    - include_vars: { file: a.yml }
      register: one
    - include_vars: { dir: vars, depth: 2 }
      register: two
    - include_vars: { dir: vars, files_matching: '^c', name: only_c }
      register: three
    - include_vars: { dir: vars, ignore_files: [a.yml], extensions: [yml] }
      register: four
    - include_vars: { dir: other }
      register: five
      ignore_errors: true
    - include_vars: { file: nope.yml }
      register: six
      ignore_errors: true
    - assert:
        that:
          - one.ansible_included_var_files | length == 1
          - "one.ansible_facts == {'x': 1, 'where': 'a'}"
          - two.ansible_included_var_files | map('basename') | list == ['a.yml', 'b.yml']
          - "three.ansible_facts == {'only_c': {'where': 'c'}} and only_c.where == 'c'"
          - four.ansible_included_var_files | map('basename') | list == ['b.yml', 'c.yml']
          - where == 'c'
          - five is failed and 'does not have a valid extension' in five.message
          - six is failed and 'Could not find or access' in six.message
"#,
        );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// Loops as Ansible runs them: each item sees what earlier items set (set_fact) and
/// registered; the label is rendered after the item ran (a label that fails fails the item);
/// `loop_var` may be a template; items that cannot be rendered skip a task whose `when` is
/// false, and fail it (ignorably) otherwise.
#[test]
fn loop_items_see_earlier_items_and_labels_see_the_result() {
    let p = project(
        "loop-semantics",
        r#"
- hosts: d1
  gather_facts: no
  tasks:
    - set_fact:
        acc: "{{ acc | default([]) + [item] }}"
      loop: [1, 2, 3]
    - command: "echo {{ item }}"
      register: r
      loop: [yes_run, no_skip]
      loop_control: { label: "{{ r.stdout }}" }
      when: item == 'yes_run'
      ignore_errors: true
    - debug: msg="{{ named }}"
      loop: [x]
      loop_control: { loop_var: "{{ var_name }}" }
      vars: { var_name: named }
      register: lv
    - debug: msg=never
      loop: "{{ nothing_here }}"
      when: false
      register: skipped_loop
    - debug: msg=never
      with_dict: [1, 2]
      register: bad_dict
      ignore_errors: true
    - assert:
        that:
          - acc == [1, 2, 3]
          - r.results[0].stdout == 'yes_run'
          - r.results[1] is failed
          - r.results[1].msg is contains("no attribute 'stdout'")
          - lv.results[0].msg == 'x'
          - skipped_loop is skipped
          - bad_dict is failed
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// The role magic variables Ansible sets: the play's roles (`roles:` and those a task imports
/// or includes) apart from dependencies, `ansible_parent_role_names`/`_paths` inside a role a
/// task of another role brought in; and the template variables of the template module.
#[test]
fn role_name_variables_and_template_variables() {
    let p = Project::new("role-vars");
    p.file("inv.ini", INV)
        .file("site.yml", "- hosts: d1\n  gather_facts: no\n  roles: [top]\n")
        .file("roles/top/meta/main.yml", "dependencies: [dep]\n")
        .file("roles/dep/tasks/main.yml", "")
        .file(
            "roles/top/tasks/main.yml",
            r#"
- assert:
    that:
      - role_names == ['top'] and ansible_play_role_names == ['top']
      - ansible_dependent_role_names == ['dep']
      - ansible_role_names | sort == ['dep', 'top']
      - ansible_parent_role_names is undefined
- include_role: { name: inner }
- assert: { that: "'inner' in ansible_play_role_names" }
- template: { src: t.j2, dest: "{{ playbook_dir }}/out" }
"#,
        )
        .file(
            "roles/inner/tasks/main.yml",
            "- assert: { that: \"ansible_parent_role_names == ['top'] and ansible_parent_role_paths[0] is search('/roles/top$')\" }\n",
        )
        .file(
            "roles/top/templates/t.j2",
            "{{ ansible_managed }}|{{ template_uid is string }}|{{ template_mtime is string }}|{{ template_run_date[:2] }}\n",
        );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    assert_eq!(p.read("out"), "Ansible managed|True|True|20\n");
}

/// A block's `always` runs even after an `any_errors_fatal` failure inside it, and
/// `meta: clear_host_errors` there lets the host go on (the play continues and the run
/// succeeds, the failure still counted in the recap); without it the play stops everywhere.
#[test]
fn always_runs_after_fatal_errors_and_can_clear_them() {
    let p = project(
        "aef-always",
        r#"
- hosts: d1
  gather_facts: no
  tasks:
    - block:
        - block:
            - fail: { msg: boom }
          any_errors_fatal: true
      always:
        - file: path={dir}/always state=touch
        - meta: clear_host_errors
    - file: path={dir}/after state=touch
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success();
    assert!(p.exists("always") && p.exists("after"));
    assert_eq!(r.recap("d1")[3], 1, "the failure is still counted");
    p.file(
        "stop.yml",
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - block:\n        - fail: {}\n          when: inventory_hostname == 'd1'\n          any_errors_fatal: true\n      always:\n        - file: path={dir}/always-{{ inventory_hostname }} state=touch\n    - file: path={dir}/after-{{ inventory_hostname }} state=touch\n",
    );
    p.prov(&["run", "stop.yml", "-i", "inv.ini"]).code(2);
    assert!(p.exists("always-d1") && p.exists("always-w1"));
    assert!(!p.exists("after-w1") && !p.exists("after-d1"));
}

/// `meta: clear_host_errors` brings back failed and unreachable hosts alike (the next play
/// runs on them); `ansible_play_hosts`/`ansible_play_batch` leave out the hosts that failed
/// or were unreachable since, and keep leaving them out in later plays. A play's `hosts:`
/// may be a template giving a list of patterns. `set_fact` of `omit` sets nothing.
#[test]
fn clear_host_errors_brings_back_unreachable_hosts_too() {
    let p = Project::new("clear-unreach");
    p.file(
        "inv.ini",
        "[web]\nw1 ansible_connection=local\nw2 ansible_connection=local\n[gone]\nu ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1\n",
    )
    .file(
        "site.yml",
        r#"- hosts: all
  gather_facts: no
  tasks:
    - ping:
      failed_when: inventory_hostname == 'w2'
    - meta: clear_host_errors
- hosts: "{{ pats }}"
  gather_facts: no
  vars: { pats: [web, gone] }
  tasks:
    - assert:
        that:
          - ansible_play_batch | length == 3
          - ansible_play_hosts | length == 3
      run_once: true
    - ping:
      failed_when: inventory_hostname == 'w2'
    - set_fact: { spam: "{{ omit }}", kept: "x{{ omit }}" }
    - assert:
        that:
          - ansible_play_hosts == ['w1']
          - ansible_play_hosts_all | length == 3
          - spam is undefined
          - kept is defined
- hosts: all
  gather_facts: no
  tasks:
    - assert: { that: "ansible_play_batch == ['w1']" }
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.recap("w1")[0], 6, "{}", r.stdout);
    assert_eq!(r.recap("w1")[3], 0, "{}", r.stdout);
    assert_eq!(r.recap("u")[2], 2, "{}", r.stdout);
    assert_eq!(r.recap("w2")[3], 2, "{}", r.stdout);
}

/// The `remote_user` and `connection` keywords are the `ansible_user` and
/// `ansible_connection` of the tasks, below every variable (a task's `vars`, the inventory's).
#[test]
fn remote_user_and_connection_keywords_sit_below_the_variables() {
    let p = project(
        "kw-conn",
        r#"
- hosts: d1
  gather_facts: no
  remote_user: alice
  connection: ssh
  tasks:
    - assert: { that: ["ansible_user == 'alice'", "ansible_connection == 'local'"] }
    - assert: { that: "ansible_user == 'bob'" }
      remote_user: bob
    - assert: { that: "ansible_user == 'carol'" }
      remote_user: bob
      vars: { ansible_user: carol }
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// A task's (or block's) own `no_log: false` wins over its play's `no_log: true`; ansible.cfg's
/// `no_log` (`ANSIBLE_NO_LOG`) is the `no_log` of the tasks that set none.
#[test]
fn own_no_log_false_wins_and_the_configured_default_applies_to_the_rest() {
    let p = project(
        "no-log-own",
        r#"
- hosts: d1
  gather_facts: no
  no_log: true
  tasks:
    - debug: { msg: HIDDEN_BY_PLAY }
    - debug: { msg: SHOWN_OWN }
      no_log: false
    - block:
        - debug: { msg: SHOWN_BLOCK }
      no_log: false
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success();
    assert!(!r.stdout.contains("HIDDEN_BY_PLAY"), "{}", r.stdout);
    assert!(r.stdout.contains("SHOWN_OWN"), "{}", r.stdout);
    assert!(r.stdout.contains("SHOWN_BLOCK"), "{}", r.stdout);
    p.file(
        "cfg.yml",
        "- hosts: d1\n  gather_facts: no\n  tasks:\n    - debug: { msg: HIDDEN_BY_CFG }\n    - debug: { msg: SHOWN_CFG }\n      no_log: false\n",
    );
    let r = p.prov_env(
        &["run", "cfg.yml", "-i", "inv.ini"],
        &[("ANSIBLE_NO_LOG", std::ffi::OsStr::new("1"))],
    );
    r.success();
    assert!(!r.stdout.contains("HIDDEN_BY_CFG"), "{}", r.stdout);
    assert!(r.stdout.contains("SHOWN_CFG"), "{}", r.stdout);
}

/// `set_fact` keys are rendered, then must be variable names (Ansible's messages); an ignored
/// failure counts as ok in the recap too, as in Ansible.
#[test]
fn set_fact_rejects_invalid_rendered_names_and_ignored_counts_as_ok() {
    let p = project(
        "set-fact-names",
        r#"
- hosts: d1
  gather_facts: no
  tasks:
    - set_fact: { "{{ 'true' }}": v }
      register: a
      ignore_errors: true
    - set_fact: { "{{ 1 }}": v }
      register: b
      ignore_errors: true
    - set_fact: { "{{ 'ok_' ~ 'name' }}": v }
    - assert:
        that:
          - a is failed and a.msg is contains("Invalid variable name 'true'")
          - b is failed and b.msg is contains("Invalid variable name '1' of type 'int'")
          - ok_name == 'v'
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success();
    let rc = r.recap("d1");
    assert_eq!((rc[0], rc[6]), (4, 2), "{}", r.stdout);
}

/// Groups that `group_by` and `add_host` create while the playbook runs get their
/// `group_vars/` files (next to the playbook or the inventory), as Ansible's vars plugins give
/// them; so does an added host its `host_vars/` file.
#[test]
fn runtime_groups_and_hosts_read_their_group_vars_and_host_vars() {
    let p = project(
        "runtime-group-vars",
        r#"
- hosts: d1
  gather_facts: no
  tasks:
    - group_by: { key: "made_{{ inventory_hostname }}" }
    - add_host: { name: extra1, groups: [made_later], ansible_connection: local }
- hosts: made_d1:made_later
  gather_facts: no
  tasks:
    - assert: { that: "colour == 'red'" }
      when: inventory_hostname == 'd1'
    - assert: { that: ["colour == 'blue'", "size == 'big'"] }
      when: inventory_hostname == 'extra1'
"#,
    );
    p.file("group_vars/made_d1.yml", "colour: red\n")
        .file("group_vars/made_later.yml", "colour: blue\n")
        .file("host_vars/extra1.yml", "size: big\n");
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.success();
    assert_eq!(r.recap("extra1")[0], 1, "{}", r.stdout);
}

/// Role variables as Ansible exposes them: the defaults and vars of the play's roles and of
/// statically imported ones are the whole play's (from its first task), an `include_role`'s
/// only with `public: true` (and from then on); they do not leak into the next play.
#[test]
fn public_role_variables_follow_ansible_s_exposure_rules() {
    let p = Project::new("public-roles");
    p.file("inv.ini", INV)
        .file(
            "site.yml",
            r#"
- hosts: d1
  gather_facts: no
  roles: [listed]
  tasks:
    - assert: { that: ["listed_default == 'ld'", "listed_var == 'lv'", "imported_default == 'id'"] }
    - import_role: { name: imported }
    - include_role: { name: private }
    - assert: { that: "private_default is undefined" }
    - assert: { that: "opened_default is undefined" }
    - include_role: { name: opened, public: true }
    - assert: { that: "opened_default == 'od'" }
- hosts: d1
  gather_facts: no
  tasks:
    - assert: { that: ["listed_default is undefined", "imported_default is undefined"] }
"#,
        )
        .file("roles/listed/defaults/main.yml", "listed_default: ld\n")
        .file("roles/listed/vars/main.yml", "listed_var: lv\n")
        .file("roles/imported/defaults/main.yml", "imported_default: id\n")
        .file("roles/private/defaults/main.yml", "private_default: pd\n")
        .file(
            "roles/private/tasks/main.yml",
            "- debug: msg={{ private_default }}\n",
        )
        .file("roles/opened/defaults/main.yml", "opened_default: od\n");
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// Imports are expanded when the playbook loads, so their names may be templates of what is
/// known then (the play's vars, an import_playbook's vars, extra vars); an import_playbook's
/// `vars`, `when` and `tags` apply to the plays it brings in; `vars_from` works on
/// import_role; `gathering = explicit` skips fact gathering unless a play asks for it.
#[test]
fn imports_render_names_at_load_time_and_pass_their_keywords() {
    let p = Project::new("import-templates");
    p.file("inv.ini", INV)
        .file(
            "site.yml",
            r#"
- import_playbook: "{{ 'inner' ~ '.yml' }}"
  vars: { given: from_import, tasks_file: t.yml }
- import_playbook: skipped.yml
  when: false
- hosts: d1
  vars: { role_name: r }
  tasks:
    - import_role: { name: "{{ role_name }}", vars_from: other.yml }
    - import_tasks: "{{ extra_file }}"
"#,
        )
        .file(
            "inner.yml",
            "- hosts: d1\n  gather_facts: no\n  tasks:\n    - import_tasks: \"{{ tasks_file }}\"\n",
        )
        .file("t.yml", "- file: path={dir}/inner-{{ given }} state=touch\n")
        .file(
            "skipped.yml",
            "- hosts: d1\n  gather_facts: no\n  tasks:\n    - file: path={dir}/skipped state=touch\n",
        )
        .file("roles/r/vars/other.yml", "picked: other\n")
        .file("roles/r/tasks/main.yml", "- file: path={dir}/role-{{ picked }} state=touch\n")
        .file("e.yml", "- file: path={dir}/extra state=touch\n");
    p.file("ansible.cfg", "[defaults]\ngathering = explicit\n");
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini", "-e", "extra_file=e.yml"]);
    r.success().stdout_lacks("Gathering Facts");
    assert!(p.exists("inner-from_import") && p.exists("role-other") && p.exists("extra"));
    assert!(!p.exists("skipped"));
}

/// A role's `include_tasks` and `import_tasks` find their file in the role's `tasks/` folder
/// (a handler's in `handlers/`), then in the role's own folder, as Ansible does.
#[test]
fn role_includes_look_in_tasks_or_handlers_then_the_role() {
    let p = Project::new("role-includes");
    p.file("inv.ini", INV)
        .file(
            "site.yml",
            "- hosts: d1\n  gather_facts: no\n  roles: [r]\n",
        )
        .file(
            "roles/r/tasks/main.yml",
            "- import_tasks: at_root.yml\n- command: \"true\"\n  notify: [h, cleanup]\n",
        )
        .file(
            "roles/r/tasks/cleanup-steps.yml",
            "- file: path={dir}/cleaned state=touch\n",
        )
        .file(
            "roles/r/at_root.yml",
            "- file: path={dir}/root state=touch\n",
        )
        .file(
            "roles/r/handlers/main.yml",
            "- name: h\n  include_tasks: h.yml\n- name: cleanup\n  include_tasks: cleanup-steps.yml\n",
        )
        .file(
            "roles/r/handlers/h.yml",
            "- file: path={dir}/handled state=touch\n",
        );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    assert!(p.exists("root") && p.exists("handled"));
    // A handler's include finds a file of the role's tasks/ too (as ansible-core's own
    // setup_remote_tmp_dir role relies on).
    assert!(p.exists("cleaned"));
}

/// Inside a role, a relative task file is also found next to the file that names it: a static
/// import there first (then the role's tasks/), an include after the role's tasks/ (as
/// Ansible walks the including files' folders); `role_path` renders when imports load.
#[test]
fn role_imports_and_includes_find_files_next_to_the_including_file() {
    let p = Project::new("role-nested-includes");
    p.file("inv.ini", INV)
        .file(
            "site.yml",
            "- hosts: d1\n  gather_facts: no\n  roles: [r]\n",
        )
        .file(
            "roles/r/tasks/main.yml",
            "- import_tasks: nested/imp.yml\n- include_tasks: nested/inc.yml\n\
             - include_tasks: \"{{ item }}\"\n  loop: [\"{{ role_path }}/tests/one.yml\"]\n\
             - import_tasks: \"{{ role_path }}/tests/static.yml\"\n",
        )
        .file("roles/r/tasks/nested/imp.yml", "- import_tasks: adj.yml\n")
        .file("roles/r/tasks/nested/inc.yml", "- include_tasks: adj.yml\n")
        .file(
            "roles/r/tasks/nested/adj.yml",
            "- shell: echo nested >> {dir}/out\n",
        )
        // The role's own tasks/adj.yml: what an include (not an import) finds first.
        .file("roles/r/tasks/adj.yml", "- shell: echo top >> {dir}/out\n")
        .file("roles/r/tests/one.yml", "- include_tasks: two.yml\n")
        .file("roles/r/tests/two.yml", "- shell: echo two >> {dir}/out\n")
        .file("roles/r/tests/static.yml", "- import_tasks: three.yml\n")
        .file(
            "roles/r/tests/three.yml",
            "- shell: echo three >> {dir}/out\n",
        );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    assert_eq!(p.read("out"), "nested\ntop\ntwo\nthree\n");
}

/// `register` must name a variable: checked when the playbook loads (before anything runs, as
/// Ansible does); what `set_fact` and `include_vars` register keeps their facts templatable
/// (trusted), unlike a module's result.
#[test]
fn register_names_are_checked_at_load_and_controller_facts_stay_trusted() {
    let p = project(
        "register_name",
        r#"
- hosts: w1
  gather_facts: no
  tasks:
    - shell: touch {dir}/ran
    - debug: msg=hi
      when: false
      register: 200
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"])
        .code(1)
        .stderr_has("Invalid 'register' specified: Invalid variable name '200' of type 'int'.");
    assert!(!p.exists("ran"));
    p.file("vars.yml", "foo: bar\n").file(
        "ok.yml",
        r#"
- hosts: w1
  gather_facts: no
  tasks:
    - set_fact: { foo: bar }
      register: sf
    - include_vars: vars.yml
      register: iv
    - command: echo bar
      register: cmd
    - assert:
        that:
          - sf.ansible_facts.foo is ansible._protomatter.tagged_with("TrustedAsTemplate")
          - iv.ansible_facts.foo is ansible._protomatter.tagged_with("TrustedAsTemplate")
          - cmd.stdout is not ansible._protomatter.tagged_with("TrustedAsTemplate")
"#,
    );
    p.prov(&["run", "ok.yml", "-i", "inv.ini"]).success();
}

/// Variable precedence of roles and includes, as Ansible's: a role brought in by another (a
/// dependency) sees its parameters; an include's `vars` (include params) win over `set_fact`
/// and `include_vars` for the included tasks.
#[test]
fn role_dependencies_see_parent_params_and_include_params_beat_set_fact() {
    let p = project(
        "include_params",
        r#"
- hosts: w1
  gather_facts: no
  roles:
    - { role: outer, param_var: from_play }
  tasks:
    - set_fact: { findme: set_fact }
    - include_tasks: inc.yml
      vars: { findme: include_params }
"#,
    );
    p.file(
        "roles/outer/meta/main.yml",
        "dependencies:\n  - { role: mid, param_var: from_outer }\n",
    )
    .file("roles/outer/tasks/main.yml", "- debug: msg=outer\n")
    .file("roles/mid/meta/main.yml", "dependencies:\n  - dep\n")
    .file("roles/mid/tasks/main.yml", "- debug: msg=mid\n")
    .file(
        "roles/dep/tasks/main.yml",
        "- assert: { that: [ param_var == 'from_outer' ] }\n",
    )
    .file(
        "inc.yml",
        "- assert: { that: [ findme == 'include_params' ] }\n",
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// A role's dependencies' vars (and defaults) are below its own but above those of the role
/// that brought it in, as in Ansible: a dependency's vars win over its grandparent's.
#[test]
fn role_dependency_vars_beat_the_parent_roles_vars() {
    let p = project(
        "dep_vars",
        r#"
- hosts: w1
  gather_facts: no
  roles: [outer]
"#,
    );
    p.file("roles/outer/meta/main.yml", "dependencies: [mid]\n")
        .file("roles/outer/vars/main.yml", "v: outer\n")
        .file("roles/outer/defaults/main.yml", "d: outer\n")
        .file("roles/mid/meta/main.yml", "dependencies: [leaf]\n")
        .file(
            "roles/mid/tasks/main.yml",
            "- assert: { that: [ v == 'leaf', d == 'outer' ] }\n",
        )
        .file("roles/leaf/vars/main.yml", "v: leaf\n")
        .file("roles/leaf/defaults/main.yml", "d: leaf\n")
        .file(
            "roles/outer/tasks/main.yml",
            "- assert: { that: [ v == 'outer', d == 'outer' ] }\n",
        );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// Become connection variables (`ansible_become`, `ansible_become_user`: any variable source)
/// win over the `become`/`become_user` keywords, as in Ansible.
#[test]
fn become_variables_win_over_become_keywords() {
    let p = project(
        "become_vars",
        r#"
- hosts: w1
  gather_facts: no
  become: yes
  become_user: root
  tasks:
    - command: "true"
      vars: { ansible_become_user: from_var }
    - command: "true"
      become: no
      vars: { ansible_become: yes, ansible_become_user: enabled_by_var }
"#,
    );
    // A stand-in sudo that notes the user it was asked for and runs the command.
    p.file(
        "bin/sudo",
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do case \"$1\" in -u) echo \"$2\" >> {dir}/users; shift 2;; -p) shift 2;; /bin/sh) break;; *) shift;; esac; done\nexec \"$@\"\n",
    );
    std::fs::set_permissions(
        p.path("bin/sudo"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        p.path("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let r = p.prov_env(
        &["run", "site.yml", "-i", "inv.ini"],
        &[("PATH", std::ffi::OsStr::new(&path))],
    );
    assert!(r.code == 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(p.read("users"), "from_var\nenabled_by_var\n");
}

/// `meta` tasks show what they did at -vv as Ansible does (`META: ...`, scripts grep for it),
/// a false condition as a skipped result with its reason; `end_play` ends the play, not only
/// the batch; `delegate_to: "{{ omit }}"` is no delegation.
#[test]
fn meta_tasks_say_what_they_did_and_end_play_ends_every_batch() {
    let p = project(
        "meta_lines",
        r#"
- hosts: w1:w2
  gather_facts: no
  tasks:
    - meta: end_host
      when: inventory_hostname == 'w2'
    - debug: msg="still here {{ inventory_hostname }}"
      delegate_to: "{{ omit }}"
- hosts: all
  gather_facts: no
  serial: 1
  tasks:
    - shell: echo {{ inventory_hostname }} >> {dir}/batches
    - meta: end_play
- hosts: w1
  gather_facts: no
  tasks:
    - shell: touch {dir}/next_play
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini", "-vv"])
        .success()
        .stdout_has("3 plays in site.yml")
        .stdout_has("META: end_host conditional evaluated to False, continuing execution for w1")
        .stdout_has(r#""skip_reason": "end_host conditional evaluated to False, continuing execution for w1""#)
        .stdout_has("META: ending play for w2")
        .stdout_has("still here w1")
        .stdout_lacks("still here w2")
        .stdout_has("META: ending play");
    assert_eq!(p.read("batches"), "w1\n");
    assert!(p.exists("next_play"));
}

/// `meta: refresh_inventory` reads the sources again; the hosts `add_host` added and the
/// `group_by` groups of hosts still there survive it.
#[test]
fn refresh_inventory_rereads_the_sources_and_keeps_runtime_changes() {
    let p = project(
        "refresh_inv",
        r#"
- hosts: w1
  gather_facts: no
  tasks:
    - add_host: { name: extra, ansible_connection: local }
    - group_by: { key: grouped }
    - shell: printf '[web]\nw1 ansible_connection=local\nw3 ansible_connection=local\n' > {dir}/inv.ini
    - meta: refresh_inventory
- hosts: all
  gather_facts: no
  tasks:
    - assert:
        that:
          - groups['all'] | sort == ['extra', 'w1', 'w3']
          - groups['grouped'] == ['w1']
      run_once: true
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// Handlers as Ansible runs them: a name notifies the first handler of that name in the play's
/// `handlers:` (every listener once); a handler notified by a later handler runs in the same
/// flush, an earlier one at the next flush; roles' handlers answer to `role : name`, those of
/// an included role (`handlers_from`) join the play's; a missing handler stops the run.
#[test]
fn handlers_resolve_flush_in_one_pass_and_come_from_included_roles() {
    let p = project(
        "handlers_rules",
        r#"
- hosts: w1
  gather_facts: no
  tasks:
    - command: "true"
      notify: [h, topic, "r : rh"]
    - meta: flush_handlers
    - assert:
        that:
          - first is defined and second is undefined
          - listened is defined and from_role is defined
          - later is defined and earlier is undefined
    - include_role: { name: r, handlers_from: other }
    - command: "true"
      notify: other handler
  post_tasks:
    - assert:
        that:
          - earlier is defined and other is defined
  handlers:
    - name: earlier
      set_fact: { earlier: true }
    - name: h
      set_fact: { first: true }
      changed_when: true
      notify: [later, earlier]
    - name: h
      set_fact: { second: true }
    - name: later
      set_fact: { later: true }
    - set_fact: { listened: true }
      listen: topic
"#,
    );
    p.file("roles/r/tasks/main.yml", "- debug: msg=r\n")
        .file(
            "roles/r/handlers/main.yml",
            "- name: rh\n  set_fact: { from_role: true }\n",
        )
        .file(
            "roles/r/handlers/other.yml",
            "- name: other handler\n  set_fact: { other: true }\n",
        );
    // `roles: [r]` brings rh for the first play's `r : rh` notification.
    let site = p
        .read("site.yml")
        .replace("  tasks:\n", "  roles: [r]\n  tasks:\n");
    p.file("site.yml", &site);
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    p.file(
        "missing.yml",
        "- hosts: w1\n  gather_facts: no\n  tasks:\n    - command: \"true\"\n      notify: nope\n    - shell: touch {dir}/after\n",
    );
    p.prov(&["run", "missing.yml", "-i", "inv.ini"])
        .code(2)
        .stderr_has("The requested handler 'nope' was not found in either the main handlers list nor in the listening handlers list");
    assert!(!p.exists("after"));
}

/// Blocks as Ansible runs them: a block's `notify` is its tasks'; `ansible_failed_task` has
/// the failed task's name as written and its action; a host counts as rescued when its
/// rescue starts (even if the rescue fails); `ansible_play_hosts` leaves out failed hosts.
#[test]
fn blocks_pass_notify_and_failed_task_and_count_rescues_as_ansible() {
    let p = project(
        "blocks_rules",
        r#"
- hosts: w1:w2
  gather_facts: no
  tasks:
    - notify: hello
      block:
        - debug: msg=trigger
          changed_when: true
    - block:
        - name: boom
          fail:
          when: inventory_hostname == 'w1'
      rescue:
        - assert:
            that:
              - ansible_failed_task.name == 'boom'
              - ansible_failed_task.action == 'fail'
        - fail:
    - assert:
        that:
          - ansible_play_hosts == ['w2']
          - ansible_play_batch == ['w2']
  handlers:
    - name: hello
      shell: touch {dir}/handled_{{ inventory_hostname }}
"#,
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.code(2);
    // ok changed unreachable failed skipped rescued ignored
    assert_eq!(r.recap("w1"), [2, 1, 0, 1, 0, 1, 0]);
    assert!(p.exists("handled_w2"));
}

/// `loop_control.pause` waits between items (measured with `now(fmt='%s.%f')`, Python's
/// microseconds); a list's `.index()` works as in Python.
#[test]
fn loop_pause_waits_between_items_and_lists_have_index() {
    let p = project(
        "loop_pause",
        r#"
- hosts: w1
  gather_facts: no
  tasks:
    - set_fact:
        times: "{{ times | default([]) + [now(fmt='%s.%f')] }}"
      loop: [1, 2, 3]
      loop_control: { pause: 0.3 }
    - assert:
        that:
          - times[2] | float - times[0] | float >= 0.6
          - times[0] is search('^[0-9]+\.[0-9]{6}$')
          - "['a', 'b', 'c'].index('b') == 1"
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// any_errors_fatal as Ansible: in a block with a rescue, one host's failure sends every host
/// to the rescue; when it stops the play, forced handlers still run.
#[test]
fn any_errors_fatal_rescues_every_host_and_forced_handlers_still_run() {
    let p = project(
        "fatal_rescue",
        r#"
- hosts: w1:w2
  gather_facts: no
  any_errors_fatal: true
  tasks:
    - block:
        - fail:
          when: inventory_hostname == 'w1'
        - shell: touch {dir}/never_{{ inventory_hostname }}
      rescue:
        - shell: touch {dir}/rescued_{{ inventory_hostname }}
- hosts: w1
  gather_facts: no
  any_errors_fatal: true
  force_handlers: true
  tasks:
    - command: "true"
      notify: h
    - fail:
  handlers:
    - name: h
      shell: touch {dir}/handler_ran
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).code(2);
    assert!(p.exists("rescued_w1") && p.exists("rescued_w2"));
    assert!(!p.exists("never_w2"));
    assert!(p.exists("handler_ran"));
}

/// Tags as Ansible evaluates them: templated tags render with the play's vars (also in
/// `--list-tasks`, sorted); `--tags tagged` leaves out `never`; `--skip-tags all` keeps
/// `always`.
#[test]
fn tags_render_templates_and_follow_ansible_s_selection() {
    let p = project(
        "tags_rules",
        r#"
- hosts: w1
  gather_facts: no
  vars:
    the_tags: [t3]
  tasks:
    - name: templated
      shell: touch {dir}/templated
      tags: "{{ the_tags }}"
    - name: never_task
      shell: touch {dir}/never
      tags: [never, zz, aa]
    - name: always_task
      shell: touch {dir}/always
      tags: always
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini", "--list-tasks"])
        .success()
        .stdout_has("templated\tTAGS: [t3]")
        .stdout_lacks("never_task");
    p.prov(&[
        "run",
        "site.yml",
        "-i",
        "inv.ini",
        "--list-tasks",
        "--tags",
        "zz",
    ])
    .success()
    .stdout_has("never_task\tTAGS: [aa, never, zz]")
    .stdout_lacks("templated");
    p.prov(&["run", "site.yml", "-i", "inv.ini", "--tags", "tagged"])
        .success();
    assert!(p.exists("templated") && p.exists("always") && !p.exists("never"));
    std::fs::remove_file(p.path("templated")).unwrap();
    std::fs::remove_file(p.path("always")).unwrap();
    p.prov(&["run", "site.yml", "-i", "inv.ini", "--skip-tags", "all"])
        .success();
    assert!(!p.exists("templated") && p.exists("always"));
}

/// A delegated task sees `ansible_delegated_vars[<host>]`: the delegated host's inventory
/// variables, with this host as `inventory_hostname` (Ansible's).
#[test]
fn delegated_tasks_see_ansible_delegated_vars() {
    let p = project(
        "delegated_vars",
        r#"
- hosts: w1
  gather_facts: no
  tasks:
    - add_host: { name: other, ansible_connection: local, color: blue }
    - assert:
        that:
          - ansible_delegated_vars['other']['inventory_hostname'] == 'w1'
          - ansible_delegated_vars['other']['color'] == 'blue'
      delegate_to: other
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// Roles run once per host in a play, as Ansible's role cache decides at run time: the same
/// role (folder, parameters, when/tags) runs again only after a host did not complete it
/// (all its tasks skipped there), with other parameters, with `allow_duplicates` (meta, or
/// include_role's default), or in a later play; `meta: end_role` skips the rest of a role.
#[test]
fn roles_run_once_per_host_unless_duplicates_are_allowed() {
    let p = project(
        "roles-dedup",
        r#"
- hosts: web
  gather_facts: no
  roles:
    - role: a
      when: go is defined
    - role: setgo
    - role: a
      when: go is defined
    - role: a
      when: go is defined
    - role: b
    - role: c
    - role: p
      x: 1
    - role: p
      x: 1
    - role: p
      x: 2
    - role: dup
    - role: dup
    - role: ender
  tasks:
    - include_role: { name: p }
    - include_role: { name: p }
    - include_role: { name: p, allow_duplicates: false }
- hosts: web
  gather_facts: no
  roles: [a]
"#,
    );
    let log = |r: &str| format!("- shell: echo {r} >> {{dir}}/{r}_{{{{ inventory_hostname }}}}\n");
    p.file("roles/a/tasks/main.yml", &log("a"))
        .file("roles/setgo/tasks/main.yml", "- set_fact: { go: 1 }\n")
        .file("roles/b/meta/main.yml", "dependencies: [a]\n")
        .file("roles/b/tasks/main.yml", &log("b"))
        .file("roles/c/meta/main.yml", "dependencies: [{ role: a }]\n")
        .file("roles/c/tasks/main.yml", &log("c"))
        .file("roles/p/tasks/main.yml", &log("p"))
        .file("roles/dup/meta/main.yml", "allow_duplicates: true\n")
        .file("roles/dup/tasks/main.yml", &log("dup"))
        .file(
            "roles/ender/tasks/main.yml",
            &format!(
                "{}- meta: end_role\n- shell: echo after >> {{dir}}/after\n",
                log("ender")
            ),
        );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    for h in ["w1", "w2"] {
        // with its `when`: skipped, then completed, then deduplicated; without (another
        // role for Ansible): b's dependency, and c's deduplicated; once in the second play
        assert_eq!(p.read(&format!("a_{h}")), "a\na\na\n", "{h}");
        // x=1 once, x=2, then the params-less role twice (include_role allows duplicates by
        // default) and not a third time
        assert_eq!(p.read(&format!("p_{h}")).lines().count(), 4, "{h}");
        assert_eq!(p.read(&format!("dup_{h}")).lines().count(), 2, "{h}");
        assert_eq!(p.read(&format!("ender_{h}")).lines().count(), 1, "{h}");
    }
    assert!(!p.exists("after"));
    assert!(!p.exists("a_d1"));
    // end_role outside of a role is refused when the playbook loads, in Ansible's words.
    p.file(
        "bad.yml",
        "- hosts: web\n  gather_facts: no\n  tasks:\n    - meta: end_role\n",
    );
    p.prov(&["run", "bad.yml", "-i", "inv.ini"])
        .code(1)
        .stderr_has("[ERROR]: Cannot execute 'end_role' from outside of a role");
}

/// A role's `defaults/main/` folder is merged (its files in name order); a role file outside
/// the role's folder is refused; `private_role_vars` and `public` decide whose variables the
/// play sees, and the `config` lookup reads that setting.
#[test]
fn role_variables_folders_outside_files_and_privacy() {
    let p = project(
        "role-vars",
        r#"
- hosts: w1
  gather_facts: no
  roles: [d]
  tasks:
    - assert:
        that:
          - (lookup('config', 'DEFAULT_PRIVATE_ROLE_VARS') | bool) == (priv | bool)
          - (priv | bool) == (dvar is undefined)
- hosts: w1
  gather_facts: no
  tasks:
    - import_role: { name: d, public: no }
    - assert: { that: [dvar is undefined] }
    - include_role: { name: d, public: yes }
    - assert: { that: [dvar is defined] }
"#,
    );
    p.file("roles/d/defaults/main/00.yml", "one: 1\ntwo: a\n")
        .file("roles/d/defaults/main/01.yml", "two: b\n")
        .file("roles/d/defaults/main/02.yml", "")
        .file("roles/d/vars/main.yml", "dvar: here\n")
        .file(
            "roles/d/tasks/main.yml",
            "- assert: { that: [one == 1, two == 'b'] }\n",
        );
    p.prov_env(
        &["run", "site.yml", "-i", "inv.ini", "-e", "priv=0"],
        &[("ANSIBLE_PRIVATE_ROLE_VARS", "0".as_ref())],
    )
    .success();
    p.prov_env(
        &["run", "site.yml", "-i", "inv.ini", "-e", "priv=1"],
        &[("ANSIBLE_PRIVATE_ROLE_VARS", "1".as_ref())],
    )
    .success();
    p.file(
        "out.yml",
        "- hosts: w1\n  gather_facts: no\n  tasks:\n    - import_role: { name: d, tasks_from: ../../../site.yml }\n",
    );
    p.prov(&["run", "out.yml", "-i", "inv.ini"])
        .code(1)
        .stderr_has("as it is not inside the expected role path");
}

/// Include and import semantics Ansible's include_import target checks: a role's handlers
/// inherit an import_role's delegate_to; a run_once set_fact included by one host reaches
/// every host; `omit` leaves tasks_from out; a missing included file fails the include (and
/// is rescued), a parse error in one stops the run; include_tasks without a file is a load
/// error at its task.
#[test]
fn includes_fail_or_stop_as_ansible_decides() {
    let p = project(
        "include-sem",
        r#"
- hosts: web
  gather_facts: no
  tasks:
    - import_role: { name: h }
      delegate_to: localhost
    - include_tasks: { file: once.yml, apply: { run_once: true } }
      run_once: true
    - assert: { that: [lola == 'set'] }
    - include_role: { name: h, tasks_from: "{{ omit }}" }
    - block:
        - include_tasks: missing.yml
      rescue:
        - set_fact: { rescued: true }
    - assert: { that: [rescued] }
    - block:
        - include_tasks: broken.yml
      rescue:
        - shell: touch {dir}/rescued_broken
"#,
    );
    p.file(
        "roles/h/tasks/main.yml",
        "- command: 'true'\n  notify: check\n",
    )
    .file(
        "roles/h/handlers/main.yml",
        "- name: check\n  assert: { that: [ansible_delegated_vars is defined] }\n",
    )
    .file("once.yml", "- set_fact: { lola: set }\n")
    .file("broken.yml", "- no.such.module: {}\n");
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini"]);
    r.code(1)
        .stderr_has("[ERROR]: couldn't resolve module/action 'no.such.module'");
    assert!(
        r.stdout.contains("Could not find or access"),
        "{}",
        r.stdout
    );
    assert!(!p.exists("rescued_broken"));
    p.file("inc.yml", "- include_tasks:\n");
    p.file(
        "nofile.yml",
        "- hosts: w1\n  gather_facts: no\n  tasks:\n    - include_tasks: inc.yml\n",
    );
    p.prov(&["run", "nofile.yml", "-i", "inv.ini"])
        .code(1)
        .stderr_has("No file specified for include_tasks")
        .stderr_has("inc.yml:1:3");
}

/// Templated play and role tags are rendered before tasks are selected; a block's
/// `delegate_facts` reaches its tasks; an ignored unreachable host counts as ok and ignored
/// and `is unreachable` sees it; hosts without results stay out of the recap.
#[test]
fn templated_tags_block_delegate_facts_and_ignored_unreachable() {
    let p = project(
        "tags-deleg",
        r#"
- hosts: w1
  gather_facts: no
  vars: { t: tag1 }
  tags: "{{ t }}"
  tasks:
    - shell: echo play >> {dir}/ran
- hosts: w1
  gather_facts: no
  vars: { t: tag1 }
  roles:
    - role: r
      tags: "{{ t }}"
- hosts: w1
  gather_facts: no
  tags: [tag1]
  tasks:
    - block:
        - set_fact: { qq: 1 }
      delegate_to: d1
      delegate_facts: true
    - assert: { that: [qq is undefined, "hostvars['d1'].qq == 1"] }
- hosts: d1
  gather_facts: no
  tags: [tag1]
  tasks:
    - set_fact: { ansible_connection: nosuch }
    - ping:
      ignore_unreachable: true
      register: u
    - assert: { that: [u is unreachable, u is not reachable] }
      delegate_to: localhost
- hosts: w2
  gather_facts: no
  tags: [tag1]
  tasks:
    - meta: noop
"#,
    );
    p.file(
        "roles/r/tasks/main.yml",
        "- shell: echo role >> {dir}/ran\n",
    );
    let r = p.prov(&["run", "site.yml", "-i", "inv.ini", "--tags", "tag1"]);
    r.success();
    assert_eq!(p.read("ran"), "play\nrole\n");
    assert_eq!(r.recap("d1")[6], 1, "{}", r.stdout);
    assert!(!r.stdout.contains("\nw2 "), "{}", r.stdout);
    p.prov(&["run", "site.yml", "-i", "inv.ini", "--skip-tags", "tag1"])
        .success();
    assert_eq!(p.read("ran"), "play\nrole\n");
}

/// A delegated task's connection variables include the task's own `vars` (templated where
/// `inventory_hostname` is still the delegating host), and a host's connection is reopened
/// when its connection variables change (a set_fact of ansible_connection).
#[test]
fn delegated_connection_variables_and_reconnection() {
    let p = project(
        "deleg-conn",
        r#"
- hosts: w1
  gather_facts: no
  tasks:
    - set_fact: { secret: s }
    - command: "true"
      delegate_to: far
      vars: { ansible_password: "{{ secret }}" }
      ignore_errors: true
      ignore_unreachable: true
      register: a
    - command: "true"
      delegate_to: far
      vars: { ansible_password: "{{ hostvars[inventory_hostname].secret }}" }
      ignore_errors: true
      ignore_unreachable: true
      register: b
    - set_fact: { ansible_connection: nosuch }
    - command: "true"
      ignore_unreachable: true
      register: c
    - assert:
        that:
          - a is failed and a is not unreachable and 'undefined' in a.msg
          - b is unreachable and b is not failed
          - c is unreachable
      delegate_to: localhost
"#,
    );
    p.file(
        "inv.ini",
        "w1 ansible_connection=local\nfar ansible_connection=nosuch\n",
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

/// A `delegate_to` template is rendered once per loop item (a random pick names one host for
/// the whole item), and a delegated task sees the delegated host's address as `ansible_host`
/// and in `ansible_delegated_vars`.
#[test]
fn random_delegate_to_names_one_host_per_item() {
    let p = project(
        "deleg-random",
        r#"
- hosts: d1
  gather_facts: no
  tasks:
    - set_fact:
        dv: '{{ ansible_delegated_vars[ansible_host]["ansible_host"] }}'
      delegate_to: "{{ groups.web | random }}"
      delegate_facts: true
      loop: "{{ range(12) | list }}"
- hosts: web
  gather_facts: no
  tasks:
    - assert: { that: [dv == inventory_hostname] }
      when: dv is defined
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
}

#[test]
fn boolean_keywords_given_as_templates_are_decided_when_the_task_runs() {
    let p = project(
        "lateflags",
        r#"
- hosts: d1
  gather_facts: no
  tasks:
    - block:
        - name: omit keeps the block's check_mode
          file: path={dir}/{{ item }} state=touch
          check_mode: "{{ omit }}"
          loop: [omitted]
        - name: a loop item decides
          file: path={dir}/{{ item.name }} state=touch
          check_mode: "{{ item.check }}"
          loop:
            - { name: real, check: false }
            - { name: checked, check: true }
      check_mode: true
    - name: ansible_check_mode is the command line's, not the task's
      assert: { that: not ansible_check_mode }
      check_mode: true
    - name: not a boolean fails the task, not the load
      debug: msg=x
      diff: yes.
      ignore_errors: true
      register: bad
    - assert:
        that:
          - bad is failed
          - bad.msg is contains("Error processing keyword 'diff'")
          - bad.msg is contains("The value 'yes.' could not be converted to 'bool'")
"#,
    );
    p.prov(&["run", "site.yml", "-i", "inv.ini"]).success();
    assert!(p.exists("real"));
    assert!(!p.exists("omitted") && !p.exists("checked"));
}

#[test]
fn become_variables_win_over_become_keywords_with_a_stand_in_sudo() {
    // A stand-in sudo first in PATH records the user it is asked to become, then runs the
    // command as is.
    let p = project(
        "becomevars",
        r#"
- hosts: d1
  gather_facts: no
  become: yes
  become_user: keyword-user
  tasks:
    - raw: "true"
      vars:
        ansible_become_user: var-user
    - raw: "true"
      vars:
        ansible_become: true
      become: false
"#,
    );
    p.file(
        "bin/sudo",
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do case \"$1\" in -u) echo \"$2\" >> \"$SUDO_LOG\"; shift 2;; /bin/sh) break;; *) shift;; esac; done\nexec \"$@\"\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p.path("bin/sudo"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        p.path("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let log = p.path("sudo.log");
    p.prov_env(
        &["run", "site.yml", "-i", "inv.ini"],
        &[("PATH", path.as_ref()), ("SUDO_LOG", log.as_os_str())],
    )
    .success();
    assert_eq!(p.read("sudo.log"), "var-user\nkeyword-user\n");
}
