//! Output sinks: the human output (like ansible-playbook's default callback) and JSON Lines.
//!
//! Both are [`Sink`](crate::events::Sink)s writing to any `Write + Send` (stdout by default), so
//! tests and library users can capture them:
//!
//! - [`HumanSink`]: banners (`PLAY [web] ****…`, `TASK [name] ****…`), one line per host result
//!   (`ok: [h]`, `changed: [h]`, `fatal: [h]: FAILED! => {…}`, `failed: [h] (item=x) => {…}`,
//!   `ok: [h -> d]` when delegated, `...ignoring`), debug output (`ok: [h] => {\n    "msg": …\n}`),
//!   diffs with `--diff`, `[WARNING]: …` on a second writer (stderr), and the aligned `PLAY RECAP`.
//!   An optional indicatif progress line is suspended around every log line.
//! - [`JsonSink`]: one JSON object per event and line (see [`event_json`]).
//! - [`AdhocSink`]: one block (or with `-o` one line) per host, like the `ansible` command's
//!   `minimal` and `oneline` callbacks: `web1 | CHANGED | rc=0 >>` and the command's output, or
//!   `web1 | SUCCESS => {…}`.
//! - [`Tee`]: several sinks at once (`prov run --events-file F` adds a JSON sink writing to a
//!   file beside the human output, as Ansible users add a callback).
//!
//! `no_log` results never show their message, result, item label or diffs: the result is replaced
//! by `{"censored": "…"}` like Ansible does.

mod adhoc;
mod human;
mod json;

pub use adhoc::AdhocSink;
pub use human::{HumanOptions, HumanSink};
pub use json::{JsonSink, event_json};

use crate::events::{Event, HostResult, Sink};
use crate::value::to_json;
use serde_json::{Map, Value as Json};
use std::sync::Arc;

/// Sends every event to each of its sinks, in order.
pub struct Tee(pub Vec<Arc<dyn Sink>>);

impl Sink for Tee {
    fn event(&self, ev: &Event) {
        for s in &self.0 {
            s.event(ev);
        }
    }
}

/// The text Ansible shows in place of a `no_log` result.
pub const CENSORED: &str =
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

/// The item label Ansible shows for a `no_log` loop item.
pub const CENSORED_ITEM: &str = "(censored due to no_log)";

/// The loop item label to show for a result (censored when `no_log`).
pub(crate) fn item_label(hr: &HostResult) -> Option<&str> {
    hr.item
        .as_deref()
        .map(|i| if hr.no_log { CENSORED_ITEM } else { i })
}

/// The result as a JSON object (a non-map result gives an empty object).
pub(crate) fn result_object(hr: &HostResult) -> Map<String, Json> {
    match to_json(&hr.result) {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}
