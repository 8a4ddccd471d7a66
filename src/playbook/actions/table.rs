//! The entries of the actions table: each action's spec (options and documentation), free-form
//! mode, flags and loader.

use super::{Action, ActionFlags, ExtraKeys, FreeFormMode, Load};
use super::{
    load_add_host, load_group_by, load_include_vars, load_meta, load_role, load_set_fact,
    load_tasks_file,
};
use crate::modules::{ModuleDoc, OptKind, OptSpec};
use crate::playbook::TaskKind;

/// The one place engine-action specs are built (through `ModuleDoc`'s builder; actions use no
/// option groups or conditional rules).
const fn spec(
    name: &'static str,
    short: &'static str,
    description: &'static str,
    options: &'static [OptSpec],
    free_form: Option<&'static str>,
    examples: &'static str,
) -> ModuleDoc {
    let doc = ModuleDoc::new(name, short)
        .description(description)
        .options(options)
        .examples(examples);
    match free_form {
        Some(f) => doc.free_form(f),
        None => doc,
    }
}

const NONE: ActionFlags = ActionFlags {
    controller: false,
    once_per_batch: false,
    waits_for_unreachable: false,
    interactive: false,
    static_import: false,
    takes_apply: false,
    string_or_map: false,
};
const CONTROLLER: ActionFlags = ActionFlags {
    controller: true,
    ..NONE
};

/// `meta`'s actions.
pub(crate) const META_ACTIONS: &[&str] = &[
    "flush_handlers",
    "end_play",
    "end_host",
    "end_batch",
    "clear_facts",
    "clear_host_errors",
    "noop",
    "refresh_inventory",
    "reset_connection",
    "end_role",
];

/// `set_fact`.
pub(crate) static SET_FACT: Action = Action {
    name: "set_fact",
    doc: Some(&spec(
        "set_fact",
        "Set host variables (and cacheable facts)",
        "Sets variables on the host (on the delegated host with `delegate_to` and \
`delegate_facts`), from then on for the rest of the run, above most other variables. Values may \
be templates. Needs at least one variable. Never changes anything; returns the variables as \
`ansible_facts`.",
        &[OptSpec::new(
            "cacheable",
            OptKind::Bool,
            "Also a fact for a fact cache (prov has none; accepted).",
        )
        .default("no")],
        None,
        "- set_fact:\n    app_port: 8080\n    app_url: \"http://{{ inventory_hostname }}:8080\"\n- set_fact: one=1 two=2\n",
    )),
    free_form: FreeFormMode::KeyValue,
    extra_keys: ExtraKeys::Vars("every other key is a variable to set on the host"),
    flags: CONTROLLER,
    load: Load::Task(load_set_fact),
};

/// `include_vars`.
pub(crate) static INCLUDE_VARS: Action = Action {
    name: "include_vars",
    doc: Some(&spec(
        "include_vars",
        "Load variables from a file or folder",
        "Loads variables from a YAML or JSON file, or from every `.yml`, `.yaml` and `.json` file \
of a folder (in name order), when the task runs. Relative paths are looked up in the role's \
`vars/` folder, then `vars/` beside the task's file, then beside the task's file. The variables \
apply to the host for the rest of the run.",
        &[
            OptSpec::new("file", OptKind::Path, "The file to load."),
            OptSpec::new("dir", OptKind::Path, "A folder whose files are all loaded."),
            OptSpec::new(
                "name",
                OptKind::Str,
                "Put the variables under this one variable instead of at the top.",
            ),
        ],
        Some("file"),
        "- include_vars: vars/prod.yml\n- include_vars:\n    dir: vars/common\n    name: common\n",
    )),
    free_form: FreeFormMode::Mixed,
    extra_keys: ExtraKeys::Ignored,
    flags: ActionFlags {
        string_or_map: true,
        ..CONTROLLER
    },
    load: Load::Task(load_include_vars),
};

const TASKS_FILE: OptSpec = OptSpec::new(
    "file",
    OptKind::Path,
    "The task file (relative to the role's `tasks/` folder in a role, else to the including file).",
)
.required();
const APPLY: OptSpec = OptSpec::new(
    "apply",
    OptKind::Dict,
    "Task keywords (`tags`, `become`, `when`, …) given to every task brought in.",
);

/// `include_tasks`.
pub(crate) static INCLUDE_TASKS: Action = Action {
    name: "include_tasks",
    doc: Some(&spec(
        "include_tasks",
        "Include a task file, dynamically, per host",
        "Loads a task file when the task runs, for each host that reaches it (the file name may \
be a template; in a loop, each item includes with its loop variables). The task's own keywords \
apply to the include itself; `apply:` gives keywords to the included tasks.",
        &[TASKS_FILE, APPLY],
        Some("file"),
        "- include_tasks: setup.yml\n- include_tasks:\n    file: \"{{ ansible_os_family | lower }}.yml\"\n    apply:\n      tags: [setup]\n",
    )),
    free_form: FreeFormMode::Mixed,
    extra_keys: ExtraKeys::Ignored,
    flags: ActionFlags {
        takes_apply: true,
        ..CONTROLLER
    },
    load: Load::Task(load_tasks_file),
};

/// `import_tasks`.
pub(crate) static IMPORT_TASKS: Action = Action {
    name: "import_tasks",
    doc: Some(&spec(
        "import_tasks",
        "Import a task file, statically",
        "Replaces itself with the tasks of a file when the playbook loads; the task's keywords \
(`when`, `tags`, `become`, …) are inherited by every imported task. The file name cannot be a \
template (use include_tasks for that).",
        &[TASKS_FILE],
        Some("file"),
        "- import_tasks: common.yml\n",
    )),
    free_form: FreeFormMode::Mixed,
    extra_keys: ExtraKeys::Ignored,
    flags: ActionFlags {
        static_import: true,
        ..CONTROLLER
    },
    load: Load::Task(load_tasks_file),
};

/// `include`, the old form of `import_tasks`.
pub(crate) static INCLUDE: Action = Action {
    name: "include",
    doc: Some(&spec(
        "include",
        "Old form of import_tasks (removed from Ansible 2.16)",
        "Imports a task file when the playbook loads, like import_tasks. Kept so that older \
playbooks load; write import_tasks or include_tasks instead.",
        &[TASKS_FILE],
        Some("file"),
        "- include: common.yml\n",
    )),
    free_form: FreeFormMode::Mixed,
    extra_keys: ExtraKeys::Ignored,
    flags: ActionFlags {
        static_import: true,
        ..CONTROLLER
    },
    load: Load::Task(load_tasks_file),
};

const ROLE_NAME: OptSpec = OptSpec::new("name", OptKind::Str, "The role.")
    .required()
    .aliases(&["role"]);
const TASKS_FROM: OptSpec = OptSpec::new(
    "tasks_from",
    OptKind::Str,
    "The file of the role's `tasks/` folder to run.",
)
.default("main");

/// `allow_duplicates` of `include_role` and `import_role`.
const ALLOW_DUPLICATES: OptSpec = OptSpec::new(
    "allow_duplicates",
    OptKind::Bool,
    "Run the role again on a host that already ran it in this play with the same parameters (overrides the role's `meta/main.yml`).",
)
.default("yes");

/// `rolespec_validate` of `include_role` and `import_role`.
const ROLESPEC_VALIDATE: OptSpec = OptSpec::new(
    "rolespec_validate",
    OptKind::Bool,
    "Check the role's variables against its argument spec (`meta/argument_specs.yml`) for the entry point first.",
)
.default("yes");

/// `include_role`.
pub(crate) static INCLUDE_ROLE: Action = Action {
    name: "include_role",
    doc: Some(&spec(
        "include_role",
        "Run a role, dynamically",
        "Loads a role (its dependencies, defaults, vars, tasks and handlers) when the task runs, \
for each host that reaches it; the role name may be a template. `apply:` gives keywords to the \
role's tasks.",
        &[
            ROLE_NAME,
            TASKS_FROM,
            OptSpec::new(
                "vars_from",
                OptKind::Str,
                "The file of the role's `vars/` folder to load.",
            )
            .default("main"),
            OptSpec::new(
                "defaults_from",
                OptKind::Str,
                "The file of the role's `defaults/` folder to load.",
            )
            .default("main"),
            OptSpec::new(
                "handlers_from",
                OptKind::Str,
                "The file of the role's `handlers/` folder to load.",
            )
            .default("main"),
            OptSpec::new(
                "public",
                OptKind::Bool,
                "The role's defaults and vars are the play's from then on (else only its tasks see them).",
            )
            .default("no"),
            ALLOW_DUPLICATES,
            ROLESPEC_VALIDATE,
            APPLY,
        ],
        None,
        "- include_role:\n    name: web\n    tasks_from: install\n",
    )),
    free_form: FreeFormMode::Mixed,
    extra_keys: ExtraKeys::Ignored,
    flags: ActionFlags {
        takes_apply: true,
        ..CONTROLLER
    },
    load: Load::Task(load_role),
};

/// `import_role`.
pub(crate) static IMPORT_ROLE: Action = Action {
    name: "import_role",
    doc: Some(&spec(
        "import_role",
        "Import a role, statically",
        "Replaces itself with a role's tasks (after those of its dependencies) when the playbook \
loads, like an entry of `roles:` at this point of the task list; the task's keywords are \
inherited by the role's tasks.",
        &[ROLE_NAME, TASKS_FROM, ALLOW_DUPLICATES, ROLESPEC_VALIDATE],
        None,
        "- import_role:\n    name: common\n",
    )),
    free_form: FreeFormMode::Mixed,
    extra_keys: ExtraKeys::Ignored,
    flags: ActionFlags {
        static_import: true,
        ..CONTROLLER
    },
    load: Load::Task(load_role),
};

/// `meta`.
pub(crate) static META: Action = Action {
    name: "meta",
    doc: Some(&spec(
        "meta",
        "flush_handlers, end_play, end_host, end_batch, end_role, clear_facts, clear_host_errors, reset_connection, noop",
        "Controls the run itself: `flush_handlers` runs the notified handlers now, `end_play` \
ends the play (`end_batch` the batch) for every host, `end_host` ends it for the hosts whose \
`when` holds, `end_role` skips the rest of the role it is in, `clear_facts` forgets their facts, `clear_host_errors` lets failed hosts of the \
batch go on, `reset_connection` closes their connections (the next task opens new ones), \
`noop` and `refresh_inventory` do nothing.",
        &[OptSpec::new("free_form", OptKind::Str, "What to do.")
            .required()
            .choices(META_ACTIONS)],
        Some("free_form"),
        "- meta: flush_handlers\n- meta: end_host\n  when: skip_me | default(false)\n",
    )),
    free_form: FreeFormMode::Whole,
    extra_keys: ExtraKeys::Ignored,
    flags: ActionFlags {
        string_or_map: true,
        ..CONTROLLER
    },
    load: Load::Task(load_meta),
};

/// `gather_facts`.
pub(crate) static GATHER_FACTS: Action = Action {
    name: "gather_facts",
    doc: Some(&spec(
        "gather_facts",
        "Gather facts (like the setup module, replacing every fact)",
        "Gathers the host's facts (`ansible_*`), as a play's `gather_facts: true` does before \
its first task; with `delegate_to`, those of the delegated host (stored on it with \
`delegate_facts`). Runs whatever tags are selected.",
        &[
            OptSpec::new(
                "gather_subset",
                OptKind::List,
                "Which fact collectors to keep, as `setup`'s option of that name.",
            ),
            OptSpec::new(
                "gather_timeout",
                OptKind::Int,
                "Seconds fact gathering may take.",
            ),
            OptSpec::new(
                "fact_path",
                OptKind::Path,
                "Folder of local facts (`ansible_local`).",
            ),
        ],
        None,
        "- gather_facts:\n- gather_facts:\n    gather_subset: ['!all', network]\n",
    )),
    free_form: FreeFormMode::Mixed,
    extra_keys: ExtraKeys::Ignored,
    flags: NONE,
    load: Load::Task(|a| {
        Ok(TaskKind::GatherFacts {
            args: crate::value::vars_value(a.args),
        })
    }),
};

/// `add_host`.
pub(crate) static ADD_HOST: Action = Action {
    name: "add_host",
    doc: Some(&spec(
        "add_host",
        "Add a host (and its groups and variables) to the inventory for the rest of the run",
        "Adds a host to the in-memory inventory, for the plays that follow (a play's `hosts:` \
pattern is matched when the play starts). `name` may be `host:port`, which sets \
`ansible_ssh_port`. Runs once per task (or loop item), not once per host; loop over a list to add \
several. Changed when the host, a group membership or a variable is new. Returns `add_host` \
(`host_name`, `groups`, `host_vars`).",
        &[
            OptSpec::new(
                "name",
                OptKind::Str,
                "The host to add (`host:port` sets the port).",
            )
            .required()
            .aliases(&["host", "hostname"]),
            OptSpec::new(
                "groups",
                OptKind::List,
                "Groups to put it in (created when new).",
            )
            .aliases(&["group", "groupname"]),
        ],
        None,
        "- add_host:\n    name: \"{{ item.ip }}\"\n    groups: [web]\n    ansible_user: admin\n  loop: \"{{ created.instances }}\"\n",
    )),
    free_form: FreeFormMode::KeyValue,
    extra_keys: ExtraKeys::Vars("every other key is a variable of the added host"),
    flags: ActionFlags {
        once_per_batch: true,
        ..CONTROLLER
    },
    load: Load::Task(load_add_host),
};

/// `group_by`.
pub(crate) static GROUP_BY: Action = Action {
    name: "group_by",
    doc: Some(&spec(
        "group_by",
        "Put each host in a group named from its variables, for the rest of the run",
        "Each host joins the group named by `key` (rendered per host; spaces become dashes), \
created under `parents` when new. Changed when the host joins a group it was not in. Returns \
`add_group` and `parent_groups`.",
        &[
            OptSpec::new(
                "key",
                OptKind::Str,
                "The group's name (usually a template).",
            )
            .required(),
            OptSpec::new(
                "parents",
                OptKind::List,
                "The groups a new group goes under.",
            )
            .default("all"),
        ],
        None,
        "- group_by:\n    key: \"os_{{ ansible_distribution | lower }}\"\n",
    )),
    free_form: FreeFormMode::KeyValue,
    extra_keys: ExtraKeys::Rejected,
    flags: CONTROLLER,
    load: Load::Task(load_group_by),
};

/// `pause` (a module; the engine runs it once per batch).
pub(crate) static PAUSE: Action = Action {
    name: "pause",
    doc: None,
    free_form: FreeFormMode::KeyValue,
    extra_keys: ExtraKeys::Rejected,
    flags: ActionFlags {
        once_per_batch: true,
        interactive: true,
        ..NONE
    },
    load: Load::Module,
};

/// `wait_for_connection` (a module; the engine keeps connecting to an unreachable host).
pub(crate) static WAIT_FOR_CONNECTION: Action = Action {
    name: "wait_for_connection",
    doc: None,
    free_form: FreeFormMode::KeyValue,
    extra_keys: ExtraKeys::Rejected,
    flags: ActionFlags {
        waits_for_unreachable: true,
        ..NONE
    },
    load: Load::Module,
};

/// `import_playbook` (an entry of the playbook, beside its plays).
pub(crate) static IMPORT_PLAYBOOK: Action = Action {
    name: "import_playbook",
    doc: Some(&spec(
        "import_playbook",
        "Import another playbook's plays (a playbook entry, not a task)",
        "An entry of the playbook's list of plays, beside them (`- import_playbook: other.yml`, \
not inside `tasks:`): the other playbook's plays run at this point. The path is relative to the \
importing playbook's folder and cannot be a template; a playbook that imports itself is an \
error.",
        &[OptSpec::new("file", OptKind::Path, "The playbook to import.").required()],
        Some("file"),
        "- import_playbook: webservers.yml\n- hosts: all\n  tasks:\n    - ping:\n",
    )),
    free_form: FreeFormMode::Mixed,
    extra_keys: ExtraKeys::Rejected,
    flags: NONE,
    load: Load::PlayEntry,
};

/// Every action, in `prov doc` order of importance.
pub(crate) static ACTIONS: &[&Action] = &[
    &SET_FACT,
    &INCLUDE_VARS,
    &INCLUDE_TASKS,
    &IMPORT_TASKS,
    &INCLUDE,
    &INCLUDE_ROLE,
    &IMPORT_ROLE,
    &META,
    &GATHER_FACTS,
    &ADD_HOST,
    &GROUP_BY,
    &PAUSE,
    &WAIT_FOR_CONNECTION,
    &IMPORT_PLAYBOOK,
];
