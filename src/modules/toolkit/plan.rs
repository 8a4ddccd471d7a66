//! Building blocks of plans: an `Exec` action with the task's become and environment, and a
//! diff of an object's state.

use crate::modules::{Action, Diff, TaskCtx};

/// An `Exec` action with the task's become and environment.
pub(crate) fn exec(ctx: &TaskCtx<'_>, script: impl Into<String>, capture: bool) -> Action {
    Action::Exec {
        cmd: ctx.cmd(script),
        capture,
        fail_on_rc: true,
    }
}

/// A diff of `key: value` lines describing an object's state (`user: bob`, `state: absent`).
pub(crate) fn state_diff(label: &str, before: &[(&str, String)], after: &[(&str, String)]) -> Diff {
    let text = |pairs: &[(&str, String)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect::<String>()
    };
    Diff::new(label, text(before), text(after))
}
