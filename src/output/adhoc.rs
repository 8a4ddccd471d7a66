//! The output of `prov adhoc`, modelled on the `ansible` command's `minimal` callback (and, with
//! `-o`, its `oneline` callback): no banners or recap, one block per host.

use super::human::display_view;
use crate::events::{Event, HostResult, Sink, Status};
use crate::util::pyjson::dumps_sorted as dumps;
use serde_json::Value as Json;
use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;

/// Modules whose result is shown as their output rather than as JSON (Ansible's
/// `MODULE_NO_JSON`).
const NO_JSON: &[&str] = &["command", "shell", "raw"];

/// `ansible`-like ad-hoc output on stdout (warnings on stderr).
pub struct AdhocSink {
    one_line: bool,
    /// The module runs output as text (`command`, `shell`, `raw`).
    text: bool,
    verbosity: u8,
    color: bool,
    warned: Mutex<HashSet<String>>,
}

impl AdhocSink {
    /// Output for results of `module` (its canonical name); `one_line` is `-o`.
    pub fn new(module: &str, one_line: bool, verbosity: u8, color: bool) -> Self {
        AdhocSink {
            one_line,
            text: NO_JSON.contains(&module),
            verbosity,
            color,
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// The text for one host's result (without colour).
    pub fn render(&self, hr: &HostResult) -> String {
        let view = display_view(hr, self.verbosity);
        let obj = view.as_object().cloned().unwrap_or_default();
        let s = |k: &str| obj.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        let rc = obj.get("rc").map_or("-1".to_string(), Json::to_string);
        let changed = obj.get("changed") == Some(&Json::Bool(true));
        let state = match hr.status {
            Status::Failed => "FAILED",
            _ if changed => "CHANGED",
            _ => "SUCCESS",
        };
        let host = &hr.host;
        let as_text = self.text
            && !hr.no_log
            && (hr.status != Status::Failed || !obj.contains_key("module_stderr"));
        match hr.status {
            Status::Skipped => format!("{host} | SKIPPED"),
            Status::Unreachable if self.one_line => {
                format!("{host} | UNREACHABLE!: {}", s("msg"))
            }
            Status::Unreachable => format!("{host} | UNREACHABLE! => {}", dumps(&view, Some(4))),
            _ if as_text && self.one_line => {
                let esc = |t: String| t.replace('\n', "\\n").replace('\r', "\\r");
                let mut line =
                    format!("{host} | {state} | rc={rc} | (stdout) {}", esc(s("stdout")));
                if !s("stderr").is_empty() {
                    line.push_str(&format!(" (stderr) {}", esc(s("stderr"))));
                }
                line
            }
            _ if as_text => format!(
                "{host} | {state} | rc={rc} >>\n{}{}{}",
                s("stdout"),
                s("stderr"),
                s("msg")
            ),
            _ => {
                let bang = if hr.status == Status::Failed { "!" } else { "" };
                let json = dumps(&view, Some(4));
                let json = if self.one_line {
                    json.replace('\n', "")
                } else {
                    json
                };
                format!("{host} | {state}{bang} => {json}")
            }
        }
    }
}

impl Sink for AdhocSink {
    fn event(&self, ev: &Event) {
        match ev {
            Event::HostResult(hr) => {
                let text = self.render(hr);
                let code = match hr.status {
                    Status::Failed | Status::Unreachable => "0;31",
                    Status::Skipped => "0;36",
                    _ if text.contains(" | CHANGED ") => "0;33",
                    _ => "0;32",
                };
                let text = if self.color {
                    format!("\x1b[{code}m{text}\x1b[0m")
                } else {
                    text
                };
                let _ = writeln!(std::io::stdout().lock(), "{text}");
            }
            Event::Warning(msg) | Event::Deprecation(msg) => {
                let kind = if matches!(ev, Event::Deprecation(_)) {
                    "DEPRECATION WARNING"
                } else {
                    "WARNING"
                };
                let line = format!("[{kind}]: {msg}");
                if self
                    .warned
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(line.clone())
                {
                    let _ = writeln!(std::io::stderr().lock(), "{line}");
                }
            }
            Event::Verbose { level, msg } if *level <= self.verbosity => {
                let _ = writeln!(std::io::stdout().lock(), "{msg}");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn result(host: &str, status: Status, json: serde_json::Value) -> HostResult {
        let mut hr = HostResult::new(host, "command", status);
        hr.result = Value::from_serialize(&json);
        hr
    }

    /// The shapes the `ansible` command prints (checked against ansible-core 2.19).
    #[test]
    fn minimal_and_oneline_shapes() {
        let cmd = AdhocSink::new("command", false, 0, false);
        let ok = result(
            "web1",
            Status::Changed,
            serde_json::json!({"changed": true, "rc": 0, "stdout": "a\nb", "stderr": ""}),
        );
        assert_eq!(cmd.render(&ok), "web1 | CHANGED | rc=0 >>\na\nb");
        let failed = result(
            "web1",
            Status::Failed,
            serde_json::json!({"changed": true, "failed": true, "rc": 3, "stdout": "hi",
                "stderr": "err", "msg": "non-zero return code"}),
        );
        assert_eq!(
            cmd.render(&failed),
            "web1 | FAILED | rc=3 >>\nhierrnon-zero return code"
        );
        let one = AdhocSink::new("command", true, 0, false);
        assert_eq!(one.render(&ok), "web1 | CHANGED | rc=0 | (stdout) a\\nb");
        let ping = AdhocSink::new("ping", false, 0, false);
        let pong = result(
            "db",
            Status::Ok,
            serde_json::json!({"changed": false, "ping": "pong"}),
        );
        assert_eq!(
            ping.render(&pong),
            "db | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}"
        );
        let boom = result(
            "db",
            Status::Failed,
            serde_json::json!({"changed": false, "failed": true, "msg": "boom"}),
        );
        assert_eq!(
            ping.render(&boom),
            "db | FAILED! => {\n    \"changed\": false,\n    \"msg\": \"boom\"\n}"
        );
        assert_eq!(
            AdhocSink::new("ping", true, 0, false).render(&pong),
            "db | SUCCESS => {    \"changed\": false,    \"ping\": \"pong\"}"
        );
    }
}
