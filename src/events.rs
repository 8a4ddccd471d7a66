//! Events the engine emits while running, and the [`Sink`] trait that receives them. The human
//! output, the JSON Lines output and a library user's own handler are all sinks.

use crate::value::Value;
use indexmap::IndexMap;
use std::time::Duration;

/// A before/after pair, rendered as a unified diff by the output layer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diff {
    /// Text before the change.
    pub before: String,
    /// Text after the change.
    pub after: String,
    /// Label of the before side (usually the path).
    pub before_header: String,
    /// Label of the after side.
    pub after_header: String,
}

impl Diff {
    /// A diff of `path` from `before` to `after`.
    pub fn new(path: &str, before: impl Into<String>, after: impl Into<String>) -> Self {
        Diff {
            before: before.into(),
            after: after.into(),
            before_header: format!("{path} (before)"),
            after_header: format!("{path} (after)"),
        }
    }
    /// The unified diff text (`--- before`, `+++ after`, hunks).
    pub fn unified(&self) -> String {
        similar::TextDiff::from_lines(&self.before, &self.after)
            .unified_diff()
            .context_radius(3)
            .header(&self.before_header, &self.after_header)
            .to_string()
    }
}

/// The outcome of a task (or one loop item) on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// Nothing changed.
    Ok,
    /// Something changed (or would, in check mode).
    Changed,
    /// The task failed.
    Failed,
    /// The task was skipped (`when` false, tags, check mode).
    Skipped,
    /// The host could not be reached.
    Unreachable,
}

impl Status {
    /// Lower-case name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Unreachable => "unreachable",
        }
    }
}

/// One host's result for one task (or one loop item when `item` is set).
///
/// The engine builds these; outside the crate (e.g. to test a sink) start from
/// [`HostResult::new`] and set the fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HostResult {
    /// Inventory name of the host.
    pub host: String,
    /// Host the task was delegated to.
    pub delegated_to: Option<String>,
    /// Task name.
    pub task: String,
    /// Outcome.
    pub status: Status,
    /// Loop item label, for per-item lines.
    pub item: Option<String>,
    /// Failed but `ignore_errors` was set.
    pub ignored: bool,
    /// Message (failure, debug output, skip reason).
    pub msg: Option<String>,
    /// Summaries of the changes made (or planned in check mode).
    pub changes: Vec<String>,
    /// Diffs (shown with `--diff`).
    pub diffs: Vec<Diff>,
    /// The full result as registered (`rc`, `stdout`, …); masked when `no_log`.
    pub result: Value,
    /// How long it took.
    pub duration: Duration,
    /// `no_log` was set: sinks must not print the result or message.
    pub no_log: bool,
}

impl HostResult {
    /// A result of `task` on `host` with `status`; everything else empty (no item, message,
    /// changes or diffs, an empty result map, zero duration, not ignored, not `no_log`).
    pub fn new(host: impl Into<String>, task: impl Into<String>, status: Status) -> Self {
        HostResult {
            host: host.into(),
            delegated_to: None,
            task: task.into(),
            status,
            item: None,
            ignored: false,
            msg: None,
            changes: Vec::new(),
            diffs: Vec::new(),
            result: crate::value::map_value([]),
            duration: Duration::ZERO,
            no_log: false,
        }
    }
}

/// Per-host counters for the recap (outside the crate: start from `HostStats::default()`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostStats {
    /// Tasks ok.
    pub ok: u32,
    /// Tasks changed.
    pub changed: u32,
    /// Unreachable.
    pub unreachable: u32,
    /// Failed.
    pub failed: u32,
    /// Skipped.
    pub skipped: u32,
    /// Rescued by a block's rescue.
    pub rescued: u32,
    /// Failed with ignore_errors.
    pub ignored: u32,
}

/// The PLAY RECAP: per-host stats in inventory order (outside the crate: start from
/// `Recap::default()`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recap {
    /// Stats per host.
    pub hosts: IndexMap<String, HostStats>,
    /// Hosts whose failures `meta: clear_host_errors` cleared (and that did not fail again):
    /// their failures still show in the stats but do not fail the run, as in Ansible.
    pub errors_cleared: Vec<String>,
    /// `set_stats` data: per host, and for the whole run under `_run` (Ansible's custom stats).
    pub custom: IndexMap<String, serde_json::Map<String, serde_json::Value>>,
}

impl Recap {
    /// Exit code like ansible-playbook's: 2 if a host failed (and its errors were not
    /// cleared), 4 if one was unreachable, else 0.
    pub fn exit_code(&self) -> i32 {
        if self
            .hosts
            .iter()
            .any(|(n, h)| h.failed > 0 && !self.errors_cleared.contains(n))
        {
            2
        } else if self.hosts.values().any(|h| h.unreachable > 0) {
            4
        } else {
            0
        }
    }
    /// Total changed count over all hosts.
    pub fn total_changed(&self) -> u32 {
        self.hosts.values().map(|h| h.changed).sum()
    }
}

/// Something that happened during a run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A playbook starts (before its first play).
    PlaybookStart {
        /// The playbook's file, as given.
        path: String,
        /// How many plays it has (imported ones included).
        plays: usize,
    },
    /// A play starts.
    PlayStart {
        /// Play name (or its hosts pattern).
        name: String,
        /// Hosts in the play.
        hosts: Vec<String>,
    },
    /// A task starts (on all hosts of the batch).
    TaskStart {
        /// Task name.
        name: String,
        /// `file:line:col` of the task.
        location: Option<String>,
        /// What the task runs: the module's canonical name (`copy`, `assert`), an engine
        /// action (`include_tasks`, `set_fact`, `meta`, ...) or `block`.
        action: String,
        /// True for handlers.
        handler: bool,
        /// Hosts it will run on.
        hosts: Vec<String>,
        /// `Some("ansible")` when the task runs Ansible's implementation of a module prov has
        /// no native one of (the module fallback); `None` otherwise.
        implementation: Option<String>,
    },
    /// A host finished a task (or a loop item).
    HostResult(Box<HostResult>),
    /// Every host of the batch failed (or `any_errors_fatal` / `max_fail_percentage` stopped
    /// it): the rest of the playbook is skipped.
    NoHostsRemaining,
    /// A warning for the user.
    Warning(String),
    /// A deprecation a module or plugin reported (Ansible's `[DEPRECATION WARNING]`), worded
    /// in full ("... This feature will be removed from ansible-core version 2.23.").
    Deprecation(String),
    /// A verbose message (shown with -v and above).
    Verbose {
        /// Minimum -v count to show it.
        level: u8,
        /// The text.
        msg: String,
    },
    /// The run ended.
    Recap(Recap),
}

/// A receiver of events.
pub trait Sink: Send + Sync {
    /// Handles one event. Must not block for long.
    fn event(&self, ev: &Event);
}

/// A sink that keeps every event (for tests and library users).
#[derive(Debug, Default)]
pub struct Collect {
    /// The events received so far.
    pub events: std::sync::Mutex<Vec<Event>>,
}

impl Sink for Collect {
    fn event(&self, ev: &Event) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ev.clone());
    }
}
