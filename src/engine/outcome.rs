//! What one host did with one task (or loop item), and the value `register` stores.

use super::is_unreachable;
use crate::error::Error;
use crate::events::Status;
use crate::modules::Diff;
use crate::value::{Value, Vars, map_value, value_to_vars, vars_value};
use minijinja::value::ValueKind;
use std::path::PathBuf;
use std::time::Duration;

/// The `exception` a failed result registers when the failure came from the result itself
/// (a module's or action's `failed`), not from an error prov raised with its location.
pub(super) const NO_TRACEBACK: &str = "no traceback: the failure is the result's own";

/// What one host did with one task (or one loop item).
#[derive(Debug, Clone)]
pub(super) struct Outcome {
    pub(super) status: Status,
    pub(super) result: Vars,
    pub(super) msg: Option<String>,
    pub(super) changes: Vec<String>,
    pub(super) diffs: Vec<Diff>,
    pub(super) ignored: bool,
    /// For include_tasks / include_role: what to include.
    pub(super) include: Option<Include>,
    /// What to include after the task, in order, with the loop variables of the item that
    /// included it (empty without a loop).
    pub(super) includes: Vec<(Include, Vars)>,
    /// `meta: end_host` etc. decided per host.
    pub(super) delegated_to: Option<String>,
    /// How long the task (or the loop item) took on the host.
    pub(super) duration: Duration,
    /// Its `ansible_facts` came from the controller's own data (`set_fact`, `include_vars`):
    /// registered, they stay templatable (trusted) as in Ansible, unlike a module's result.
    pub(super) trusted_facts: bool,
    /// The result asked to be hidden (a truthy `_ansible_no_log` in a module's or action
    /// plugin's result): shown censored as under `no_log`, registered whole.
    pub(super) no_log: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Include {
    Tasks(PathBuf),
    Role {
        name: String,
        tasks_from: Option<String>,
        vars_from: Option<String>,
        defaults_from: Option<String>,
        handlers_from: Option<String>,
        /// Its defaults and vars become the play's.
        public: bool,
        /// Runs where the same role already ran (`allow_duplicates`).
        allow_duplicates: bool,
        /// Checks the role's argument spec first (`rolespec_validate`).
        validate: bool,
    },
}

impl Outcome {
    pub(super) fn new(status: Status) -> Self {
        Outcome {
            status,
            result: Vars::new(),
            msg: None,
            changes: vec![],
            diffs: vec![],
            ignored: false,
            include: None,
            includes: Vec::new(),
            delegated_to: None,
            duration: Duration::ZERO,
            trusted_facts: false,
            no_log: false,
        }
    }
    pub(super) fn from_error(e: &Error) -> Self {
        let mut o = if is_unreachable(e) {
            Outcome::new(Status::Unreachable)
        } else {
            Outcome::new(Status::Failed)
        };
        if o.status == Status::Unreachable {
            let mut msg = e.to_string();
            if let Some(h) = &e.host {
                msg = format!("{msg} (host {h})");
            }
            o.msg = Some(msg);
            return o;
        }
        // The message alone, as Ansible's `msg` (playbooks compare it); where it happened and
        // the hint are the result's `exception`, which the output shows beside it.
        o.msg = Some(e.msg.clone());
        o.result
            .insert("exception".into(), Value::from(e.to_string()));
        o
    }
    pub(super) fn skipped(reason: &str, cond: Option<&str>) -> Self {
        let mut o = Outcome::new(Status::Skipped);
        o.result.insert("skip_reason".into(), Value::from(reason));
        if let Some(c) = cond {
            // A condition written as a YAML boolean (`when: false`, kept as Python's text of
            // it) is reported as that boolean, as Ansible does.
            let c = match c {
                "False" => Value::from(false),
                "True" => Value::from(true),
                c => Value::from(c),
            };
            o.result.insert("false_condition".into(), c);
        }
        o
    }
    /// The registered value: Ansible's keys.
    pub(super) fn to_value(&self) -> Value {
        let mut v = self.result.clone();
        v.insert(
            "changed".into(),
            Value::from(self.status == Status::Changed),
        );
        match self.status {
            Status::Failed => {
                v.insert("failed".into(), Value::from(true));
            }
            Status::Skipped => {
                v.insert("skipped".into(), Value::from(true));
            }
            Status::Unreachable => {
                v.insert("unreachable".into(), Value::from(true));
            }
            _ => {
                v.insert("failed".into(), Value::from(false));
            }
        }
        if let Some(m) = &self.msg
            && !v.contains_key("msg")
        {
            v.insert("msg".into(), Value::from(m.as_str()));
        }
        // A module's own `diff` return value (file's `before`/`after` maps) is kept as it is.
        if !self.diffs.is_empty() && !v.contains_key("diff") {
            let d: Vec<Value> = self
                .diffs
                .iter()
                .map(|d| {
                    map_value([
                        ("before", Value::from(d.before.as_str())),
                        ("after", Value::from(d.after.as_str())),
                        ("before_header", Value::from(d.before_header.as_str())),
                        ("after_header", Value::from(d.after_header.as_str())),
                    ])
                })
                .collect();
            v.insert("diff".into(), Value::from(d));
        }
        vars_value(&v)
    }
}

/// The value `register` stores: the result without internal `_ansible_*` keys, marked unsafe so
/// that output from a host (`stdout`, file contents) is never templated.
pub(super) fn registered(o: &Outcome) -> Value {
    let mut v = value_to_vars(&o.to_value());
    // Ansible registers a module's result without its `invocation`.
    v.retain(|k, _| !k.starts_with("_ansible_") && k != "invocation");
    // Every failed result registers an `exception` (Ansible 2.19).
    if o.status == Status::Failed && !v.contains_key("exception") {
        v.insert("exception".into(), Value::from(NO_TRACEBACK));
    }
    let facts = if o.trusted_facts {
        v.shift_remove("ansible_facts")
    } else {
        None
    };
    let mut v = value_to_vars(&result_data(&vars_value(&v)));
    if let Some(f) = facts {
        v.insert("ansible_facts".into(), f);
    }
    vars_value(&v)
}

/// A result as data (never templated: see [`crate::template::mark_unsafe`]), but for its loop
/// item (`item`, or the name `ansible_loop_var` gives), here and in each of its `results`:
/// the item is the controller's own value and keeps what it was, as in ansible-core 2.19.
fn result_data(v: &Value) -> Value {
    let loop_var = v
        .get_attr("ansible_loop_var")
        .ok()
        .and_then(|n| n.as_str().map(str::to_string));
    let Ok(keys) = v.try_iter() else {
        return crate::template::mark_unsafe(v);
    };
    Value::from_iter(keys.map(|k| {
        let val = v.get_item(&k).unwrap_or_default();
        let key = k.as_str().unwrap_or_default();
        let out = if loop_var.as_deref() == Some(key) {
            val
        } else if key == "results" && val.kind() == ValueKind::Seq {
            val.try_iter()
                .map(|it| {
                    it.map(|r| {
                        if r.kind() == ValueKind::Map {
                            result_data(&r)
                        } else {
                            crate::template::mark_unsafe(&r)
                        }
                    })
                    .collect()
                })
                .unwrap_or_else(|_| crate::template::mark_unsafe(&val))
        } else {
            crate::template::mark_unsafe(&val)
        };
        (k, out)
    }))
}
