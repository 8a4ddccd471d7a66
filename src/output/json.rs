//! The JSON Lines sink.

use super::{CENSORED, item_label};
use crate::events::{Event, Sink};
use crate::value::to_json;
use serde_json::{Value as Json, json};
use std::io::Write;
use std::sync::Mutex;

/// Writes one JSON object per event, one per line (JSON Lines), flushing after each line.
///
/// The objects are those of [`event_json`]. Write errors (a closed pipe) are ignored: output
/// must never stop a run.
///
/// After each `recap`, a `changes` event lists, per host, the tasks that changed (in check
/// mode: would change) with the changes they reported, the machine-readable plan of a
/// `--check` run.
pub struct JsonSink {
    out: Mutex<Box<dyn Write + Send>>,
    changed: Mutex<indexmap::IndexMap<String, Vec<Json>>>,
}

impl JsonSink {
    /// A JSON Lines sink on stdout.
    pub fn new() -> Self {
        Self::with_writer(Box::new(std::io::stdout()))
    }

    /// A JSON Lines sink on any writer.
    pub fn with_writer(out: Box<dyn Write + Send>) -> Self {
        JsonSink {
            out: Mutex::new(out),
            changed: Mutex::default(),
        }
    }
}

impl JsonSink {
    /// Appends the events to a file (created private, mode 0600: results may hold data a
    /// user would not want others to read), beside whatever else the run prints.
    pub fn append_to(path: &std::path::Path) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(Self::with_writer(Box::new(std::io::LineWriter::new(f))))
    }
}

impl Default for JsonSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for JsonSink {
    fn event(&self, ev: &Event) {
        let line = event_json(ev).to_string();
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{line}");
        let mut changed = self.changed.lock().unwrap_or_else(|e| e.into_inner());
        match ev {
            Event::HostResult(hr) if hr.status == crate::events::Status::Changed => {
                let changes = if hr.no_log { &[][..] } else { &hr.changes[..] };
                let mut t = json!({"task": hr.task, "changes": changes});
                if let Some(i) = item_label(hr) {
                    t["item"] = Json::from(i);
                }
                changed.entry(hr.host.clone()).or_default().push(t);
            }
            Event::Recap(_) => {
                let hosts: serde_json::Map<String, Json> = changed
                    .drain(..)
                    .map(|(h, tasks)| (h, Json::Array(tasks)))
                    .collect();
                let total: usize = hosts
                    .values()
                    .filter_map(Json::as_array)
                    .map(Vec::len)
                    .sum();
                let _ = writeln!(
                    out,
                    "{}",
                    json!({"event": "changes", "hosts": hosts, "total": total})
                );
            }
            _ => {}
        }
        let _ = out.flush();
    }
}

/// The JSON object for one event, as [`JsonSink`] writes it:
///
/// - `{"event":"play_start","name":…,"hosts":[…]}`
/// - `{"event":"task_start","name":…,"location":…|null,"action":…,"handler":bool,"hosts":[…]}`,
///   plus `"implementation":"ansible"` when the task runs Ansible's module (not a native one)
/// - `{"event":"host_result","host":…,"task":…,"status":"ok|changed|failed|skipped|unreachable",
///   "changed":bool,"item":…|null,"ignored":bool,"msg":…|null,"changes":[…],
///   "diff":[{"before_header","after_header","unified"}],"duration_ms":n,"delegated_to":…|null,
///   "result":{…}}` — with `no_log`, `result` is `{"censored": "…"}`, `msg` is left out, `item`
///   is `"(censored due to no_log)"` and `changes`/`diff` are empty
/// - `{"event":"no_hosts_remaining"}` (the rest of the playbook is skipped)
/// - `{"event":"warning","msg":…}`, `{"event":"deprecation","msg":…}`
/// - `{"event":"verbose","level":n,"msg":…}` (every level: consumers filter)
/// - `{"event":"recap","hosts":{"h":{"ok":n,"changed":n,"unreachable":n,"failed":n,"skipped":n,
///   "rescued":n,"ignored":n}},"errors_cleared":[…],"exit_code":n}`
///
/// ([`JsonSink`] follows each recap with `{"event":"changes","hosts":{"h":[{"task":…,
/// "changes":[…],"item":…}]},"total":n}`: the tasks that changed, or would in check mode.)
pub fn event_json(ev: &Event) -> Json {
    match ev {
        Event::PlayStart { name, hosts } => {
            json!({"event": "play_start", "name": name, "hosts": hosts})
        }
        Event::TaskStart {
            name,
            location,
            action,
            handler,
            hosts,
            implementation,
        } => {
            let mut o = json!({
                "event": "task_start",
                "name": name,
                "location": location,
                "action": action,
                "handler": handler,
                "hosts": hosts,
            });
            if let Some(i) = implementation {
                o["implementation"] = json!(i);
            }
            o
        }
        Event::HostResult(hr) => {
            let mut o = json!({
                "event": "host_result",
                "host": hr.host,
                "task": hr.task,
                "status": hr.status.as_str(),
                "changed": hr.status == crate::events::Status::Changed,
                "item": item_label(hr),
                "ignored": hr.ignored,
            });
            let m = o.as_object_mut().expect("object literal");
            if !hr.no_log {
                m.insert("msg".into(), json!(hr.msg));
            }
            let (changes, diff) = if hr.no_log {
                (vec![], vec![])
            } else {
                let diff = hr
                    .diffs
                    .iter()
                    .map(|d| {
                        json!({
                            "before_header": d.before_header,
                            "after_header": d.after_header,
                            "unified": d.unified(),
                        })
                    })
                    .collect();
                (hr.changes.clone(), diff)
            };
            m.insert("changes".into(), json!(changes));
            m.insert("diff".into(), Json::Array(diff));
            m.insert("duration_ms".into(), json!(hr.duration.as_millis() as u64));
            m.insert("delegated_to".into(), json!(hr.delegated_to));
            let result = if hr.no_log {
                json!({"censored": CENSORED})
            } else {
                to_json(&hr.result)
            };
            m.insert("result".into(), result);
            o
        }
        Event::PlaybookStart { path, plays } => {
            json!({"event": "playbook_start", "path": path, "plays": plays})
        }
        Event::NoHostsRemaining => json!({"event": "no_hosts_remaining"}),
        Event::Warning(msg) => json!({"event": "warning", "msg": msg}),
        Event::Deprecation(msg) => json!({"event": "deprecation", "msg": msg}),
        Event::Verbose { level, msg } => json!({"event": "verbose", "level": level, "msg": msg}),
        Event::Recap(recap) => {
            let hosts: serde_json::Map<String, Json> = recap
                .hosts
                .iter()
                .map(|(h, s)| {
                    let stats = json!({
                        "ok": s.ok,
                        "changed": s.changed,
                        "unreachable": s.unreachable,
                        "failed": s.failed,
                        "skipped": s.skipped,
                        "rescued": s.rescued,
                        "ignored": s.ignored,
                    });
                    (h.clone(), stats)
                })
                .collect();
            let mut ev = json!({"event": "recap", "hosts": hosts,
                "errors_cleared": recap.errors_cleared, "exit_code": recap.exit_code()});
            if !recap.custom.is_empty() {
                ev["custom_stats"] = json!(recap.custom);
            }
            ev
        }
    }
}
