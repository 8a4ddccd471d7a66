//! The engine actions through the `prov` binary: `prov doc` and `prov check` cover every action
//! (add_host and group_by included; import_playbook as the playbook entry it is).

mod common;
use common::Project;

/// Every engine action and every module the engine treats specially.
const ACTIONS: &[&str] = &[
    "set_fact",
    "include_vars",
    "include_tasks",
    "import_tasks",
    "include",
    "include_role",
    "import_role",
    "meta",
    "gather_facts",
    "add_host",
    "group_by",
    "pause",
    "wait_for_connection",
    "import_playbook",
];

#[test]
fn prov_doc_lists_and_documents_every_action() {
    let p = Project::new("doc-actions");
    let r = p.prov(&["doc", "--list"]);
    r.success();
    for a in ACTIONS {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.split_whitespace().next() == Some(a)),
            "{a} missing from prov doc --list\n{}",
            r.stdout
        );
    }
    for a in ACTIONS {
        p.prov(&["doc", a])
            .success()
            .stdout_has(&format!("{a} - "))
            .stdout_has("\nENGINE:\n");
    }
    p.prov(&["doc", "add_host"])
        .success()
        .stdout_has("= name (str)")
        .stdout_has("aliases: host, hostname")
        .stdout_has("- groups (list)")
        .stdout_has("every other key is a variable of the added host");
    p.prov(&["doc", "group_by"])
        .success()
        .stdout_has("= key (str)")
        .stdout_has("- parents (list)")
        .stdout_has("default: all");
    p.prov(&["doc", "ansible.builtin.meta"])
        .success()
        .stdout_has("choices: flush_handlers, end_play");
    p.prov(&["doc", "import_playbook"])
        .success()
        .stdout_has("not valid as a task");
    let r = p.prov(&["doc", "add_hots"]);
    r.code(5).stderr_has("did you mean 'add_host'?");
}

#[test]
fn prov_check_loads_every_action_and_reports_bad_arguments() {
    let p = Project::new("check-actions");
    p.file("inv.ini", "[web]\nlocalhost ansible_connection=local\n")
        .file(
            "other.yml",
            "- hosts: web\n  gather_facts: false\n  tasks: []\n",
        )
        .file("more.yml", "- set_fact: from_file=1\n")
        .file("vars.yml", "x: 1\n")
        .file("roles/r/tasks/main.yml", "- set_fact: in_role=1\n")
        .file(
            "site.yml",
            r#"
- import_playbook: other.yml
- hosts: web
  gather_facts: false
  tasks:
    - set_fact: a=1
    - include_vars: vars.yml
    - include_tasks: more.yml
    - import_tasks: more.yml
    - include: more.yml
    - include_role: { name: r }
    - import_role: { name: r }
    - meta: flush_handlers
    - gather_facts:
    - add_host: { name: db1, groups: [db], db_port: 5432 }
    - group_by: { key: "os_{{ ansible_system | default('x') }}", parents: [web] }
    - pause: { seconds: 0 }
    - wait_for_connection: { timeout: 5 }
"#,
        );
    // 13 tasks (each import expands to the one task it brings in); other.yml's play has none.
    p.prov(&["check", "site.yml", "-i", "inv.ini"])
        .success()
        .stdout_has("ok (2 plays, 13 tasks)");
    let bad = [
        (
            "- group_by: { key: x, color: red }",
            "group_by has no option 'color'",
        ),
        ("- add_host: { groups: [db] }", "add_host needs `name`"),
        (
            "- meta: flush_handler",
            "unknown meta action 'flush_handler'",
        ),
        ("- set_fact: {}", "set_fact needs at least one variable"),
        (
            "- include_role: { tasks_from: x }",
            "include_role needs `name:`",
        ),
        (
            "- pause: { second: 1 }",
            "Unsupported parameters for (pause) module: second.",
        ),
        (
            "- import_playbook: other.yml",
            "import_playbook is a playbook entry, not a task",
        ),
    ];
    for (task, want) in bad {
        p.file(
            "bad.yml",
            &format!("- hosts: web\n  gather_facts: false\n  tasks:\n    {task}\n"),
        );
        p.prov(&["check", "bad.yml", "-i", "inv.ini"])
            .code(1)
            .stderr_has(want)
            .stderr_has("bad.yml:4:");
    }
}
