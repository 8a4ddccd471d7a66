//! Playbooks, plays, tasks, blocks and roles, loaded from Ansible's YAML with a location on every
//! task. Static constructs (`import_playbook`, `import_tasks`, `import_role`, `roles:`) are
//! expanded at load time; dynamic ones (`include_tasks`, `include_role`) are kept and expanded
//! per host when they run. Block keywords (`when`, `become`, `tags`, `vars`, …) are inherited by
//! the tasks inside at load time, so the engine sees flat, self-describing tasks.

pub(crate) mod actions;
mod free_form;
mod include;
mod keywords;
mod load_play;
mod model;
mod roles;
mod tasks;

pub(crate) use free_form::{is_all_template, split_free_form, takes_free_form};
pub(crate) use include::enter_include;
#[cfg(test)]
pub(crate) use keywords::bool_of;
pub(crate) use keywords::{module_defaults_for, variable_name, vars_of};
pub(crate) use load_play::LoadedRoles;
pub use load_play::Loader;
pub(crate) use model::free_strategy;
pub use model::{
    BecomeOpts, Deferred, Inherit, LoopControl, LoopKind, Play, Playbook, RoleCtx, Serial, Task,
    TaskKind, VarsPrompt,
};
pub(crate) use roles::{ROLE_COMPLETE, resolve_tasks_file};
pub(crate) use tasks::add_apply;
