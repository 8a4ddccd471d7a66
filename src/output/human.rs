//! The human output, modelled on ansible-playbook's `default` stdout callback.

use super::{CENSORED, item_label, result_object};
use crate::events::Diff;
use crate::events::{Event, HostResult, HostStats, Recap, Sink, Status};
use crate::util::pyjson::dumps_sorted as dumps;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value as Json};
use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Options for the human output.
///
/// Set the fields you need and take the rest with `..Default::default()`, so that new options do
/// not break your code.
#[derive(Debug, Clone, Default)]
pub struct HumanOptions {
    /// Use ANSI colours (Ansible's: ok green, changed yellow, failed red, skipped cyan…).
    pub color: bool,
    /// Show the diffs that changed results carry. The engine attaches diffs only to the results
    /// of tasks in diff mode (`--diff`, or a task's `diff: true`), so `prov run` sets this.
    pub diff: bool,
    /// -v count: 1 shows every result's JSON, 2 adds the task path, 3 indents the JSON.
    pub verbosity: u8,
    /// Show an indicatif progress line on stderr (drawn only on a terminal).
    pub progress: bool,
    /// Show `set_stats` data after the recap (`show_custom_stats`).
    pub show_custom_stats: bool,
}

/// Banner lines are padded with stars to this width, like Ansible on a non-terminal.
const WIDTH: usize = 80;

// Ansible's colour codes (ansible.utils.color) for its default colour settings.
const GREEN: &str = "0;32";
const YELLOW: &str = "0;33";
const RED: &str = "0;31";
const BRIGHT_RED: &str = "1;31";
const CYAN: &str = "0;36";
const BLUE: &str = "0;34";
const DARK_GRAY: &str = "1;30";
const BRIGHT_PURPLE: &str = "1;35";

/// ansible-playbook-like output: log lines on one writer (stdout), warnings on another (stderr).
///
/// Line formats follow Ansible's default callback; a result's JSON (shown for failures, with -v,
/// and for debug-like results) is printed like Python's `json.dumps(sort_keys=True)`, without the
/// `failed`/`skipped` keys and internal `_ansible_*` keys. An ok/changed result with a `msg`
/// ([`HostResult::msg`], e.g. from `debug: msg=` or `assert`), or whose result has
/// `_ansible_verbose_always: true` (e.g. `debug: var=`), is shown as indented JSON:
/// `ok: [h] => {\n    "msg": "hello"\n}`.
pub struct HumanSink {
    opts: HumanOptions,
    inner: Mutex<Inner>,
}

struct Inner {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    /// Warnings already shown (Ansible shows each distinct warning once).
    warned: HashSet<String>,
    progress: Option<Progress>,
    /// Where the progress line draws (stderr when unset).
    target: Option<ProgressDrawTarget>,
    /// The action of the task running (for the `Task failed` line).
    action: String,
    /// Where the task running is written (`file:line:col`), if known.
    location: Option<String>,
}

/// The progress line's state for the current task.
struct Progress {
    pb: ProgressBar,
    task: String,
    hosts: Vec<String>,
    done: HashSet<String>,
}

impl Progress {
    fn new(pb: ProgressBar) -> Self {
        Progress {
            pb,
            task: String::new(),
            hosts: vec![],
            done: HashSet::new(),
        }
    }

    fn update(&self) {
        let total = self.hosts.len();
        let done = self.hosts.iter().filter(|h| self.done.contains(*h)).count();
        let running: Vec<&str> = self
            .hosts
            .iter()
            .filter(|h| !self.done.contains(*h))
            .map(String::as_str)
            .collect();
        let mut msg = format!("{}: {done}/{total} hosts done", self.task);
        if !running.is_empty() {
            msg.push_str(", running: ");
            msg.push_str(
                &running
                    .iter()
                    .take(3)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            if running.len() > 3 {
                msg.push_str(&format!(" and {} more", running.len() - 3));
            }
        }
        self.pb.set_message(msg);
    }
}

impl Inner {
    /// Writes text to stdout (or stderr), with the progress line suspended meanwhile.
    fn emit(&mut self, text: &str, to_err: bool) {
        if text.is_empty() {
            return;
        }
        let w = if to_err { &mut self.err } else { &mut self.out };
        let mut write = || {
            let _ = w.write_all(text.as_bytes());
            let _ = w.flush();
        };
        match &self.progress {
            Some(p) => p.pb.suspend(write),
            None => write(),
        }
    }
}

impl HumanSink {
    /// A human sink on stdout, with warnings on stderr.
    pub fn new(opts: HumanOptions) -> Self {
        Self::with_writers(
            opts,
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
        )
    }

    /// A human sink writing the log to `out` and warnings to `err`.
    pub fn with_writers(
        opts: HumanOptions,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
    ) -> Self {
        let inner = Inner {
            out,
            err,
            warned: HashSet::new(),
            progress: None,
            target: None,
            action: String::new(),
            location: None,
        };
        HumanSink {
            opts,
            inner: Mutex::new(inner),
        }
    }

    /// Draws the progress line (when [`HumanOptions::progress`] is set) on `target` instead of
    /// stderr, which shows it only on a terminal. Used for the run's first progress line (one
    /// run ends with its recap; a later run through the same sink draws on stderr).
    pub fn with_progress_target(self, target: ProgressDrawTarget) -> Self {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).target = Some(target);
        self
    }

    fn paint(&self, text: &str, code: &str) -> String {
        paint(text, code, self.opts.color)
    }

    /// The lines for one host result (diffs first, then the status line, then `...ignoring`).
    fn render_result(&self, hr: &HostResult) -> String {
        let v = self.opts.verbosity;
        let indent = if v > 2 { Some(4) } else { None };
        let label = match &hr.delegated_to {
            Some(d) => format!("{} -> {d}", hr.host),
            None => hr.host.clone(),
        };
        let item = item_label(hr);
        let mut s = String::new();
        match hr.status {
            Status::Ok | Status::Changed => {
                let changed = hr.status == Status::Changed;
                if changed && self.opts.diff && !hr.no_log {
                    for d in &hr.diffs {
                        s.push_str(&render_diff(d, self.opts.color));
                    }
                }
                let (word, code) = if changed {
                    ("changed", YELLOW)
                } else {
                    ("ok", GREEN)
                };
                let included = result_object(hr)
                    .get("_ansible_included_file")
                    .and_then(|f| f.as_str().map(str::to_string));
                if let Some(f) = included {
                    let mut line = format!("included: {f} for {label}");
                    if let Some(i) = item {
                        line.push_str(&format!(" => (item={i})"));
                    }
                    s.push_str(&self.paint(&line, CYAN));
                    s.push('\n');
                    return s;
                }
                let mut line = format!("{word}: [{label}]");
                if let Some(i) = item {
                    line.push_str(&format!(" => (item={i})"));
                }
                if !hr.no_log && verbose_always(hr) {
                    line.push_str(" => ");
                    line.push_str(&dumps(&debug_view(hr, v), Some(4)));
                } else if v > 0 {
                    line.push_str(" => ");
                    line.push_str(&dumps(&display_view(hr, v), indent));
                }
                s.push_str(&self.paint(&line, code));
                s.push('\n');
            }
            Status::Skipped => {
                let mut line = format!("skipping: [{}]", hr.host);
                if let Some(i) = item {
                    line.push_str(&format!(" => (item={i})"));
                }
                if v > 0 {
                    line.push_str(" => ");
                    line.push_str(&dumps(&display_view(hr, v), indent));
                }
                s.push_str(&self.paint(&line, CYAN));
                s.push('\n');
            }
            Status::Failed | Status::Unreachable => {
                // An error prov raised (a template, a missing file, an option) names where it
                // happened: shown above the result, as Ansible shows its error's origin.
                let exception = result_object(hr)
                    .get("exception")
                    .and_then(|e| e.as_str().map(str::to_string));
                if let Some(e) = exception.filter(|_| !hr.no_log && hr.status == Status::Failed) {
                    s.push_str(&self.paint(&format!("[ERROR]: {e}"), RED));
                    s.push('\n');
                }
                // A failed `debug` (failed_when) shows its message as an ok one does.
                let json = if hr.status == Status::Failed && !hr.no_log && verbose_always(hr) {
                    dumps(&debug_view(hr, v), Some(4))
                } else {
                    dumps(&display_view(hr, v), indent)
                };
                let (line, code) = match (hr.status, item) {
                    (Status::Unreachable, _) => (
                        format!("fatal: [{label}]: UNREACHABLE! => {json}"),
                        BRIGHT_RED,
                    ),
                    (_, Some(i)) => (format!("failed: [{label}] (item={i}) => {json}"), RED),
                    (_, None) => (format!("fatal: [{label}]: FAILED! => {json}"), RED),
                };
                s.push_str(&self.paint(&line, code));
                s.push('\n');
                if hr.ignored {
                    s.push_str(&self.paint("...ignoring", CYAN));
                    s.push('\n');
                }
            }
        }
        s
    }

    /// The PLAY RECAP banner and one aligned line per host (sorted by name, like Ansible).
    fn render_recap(&self, recap: &Recap) -> String {
        let mut s = banner("PLAY RECAP");
        let mut hosts: Vec<(&String, &HostStats)> = recap.hosts.iter().collect();
        hosts.sort_by(|a, b| a.0.cmp(b.0));
        for (h, t) in hosts {
            s.push_str(&recap_line(h, t, self.opts.color));
            s.push('\n');
        }
        s.push('\n');
        if self.opts.show_custom_stats && !recap.custom.is_empty() {
            s.push_str(&custom_stats(recap));
        }
        s
    }

    fn progress_task(&self, inner: &mut Inner, name: &str, handler: bool, hosts: &[String]) {
        if !self.opts.progress {
            return;
        }
        let target = &mut inner.target;
        let p = inner.progress.get_or_insert_with(|| {
            let target = target.take().unwrap_or_else(ProgressDrawTarget::stderr);
            let pb = ProgressBar::with_draw_target(None, target);
            if let Ok(style) = ProgressStyle::with_template("{spinner} {wide_msg}") {
                pb.set_style(style);
            }
            pb.enable_steady_tick(Duration::from_millis(120));
            Progress::new(pb)
        });
        let prefix = if handler { "RUNNING HANDLER" } else { "TASK" };
        p.task = format!("{prefix} {name}");
        p.hosts = hosts.to_vec();
        p.done.clear();
        p.update();
    }
}

impl Sink for HumanSink {
    fn event(&self, ev: &Event) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match ev {
            // As ansible-playbook -vv shows it (scripts count the plays in it).
            Event::PlaybookStart { path, plays } if self.opts.verbosity >= 2 => {
                let s = format!(
                    "{}{plays} plays in {path}\n",
                    banner(&format!("PLAYBOOK: {path}"))
                );
                inner.emit(&s, false);
            }
            Event::PlaybookStart { .. } => {}
            Event::PlayStart { name, .. } => {
                let name = name.trim();
                let msg = if name.is_empty() {
                    "PLAY".to_string()
                } else {
                    format!("PLAY [{name}]")
                };
                inner.emit(&banner(&msg), false);
            }
            Event::TaskStart {
                name,
                location,
                handler,
                hosts,
                action,
                implementation,
            } => {
                inner.action = action.clone();
                inner.location = location.clone();
                let prefix = if *handler { "RUNNING HANDLER" } else { "TASK" };
                let mut s = banner(&format!("{prefix} [{}]", name.trim()));
                if self.opts.verbosity >= 1
                    && let Some(i) = implementation
                {
                    s.push_str(
                        &self.paint(&format!("implementation: {i} (not native)"), DARK_GRAY),
                    );
                    s.push('\n');
                }
                if self.opts.verbosity >= 2
                    && let Some(loc) = location
                {
                    s.push_str(&self.paint(&format!("task path: {loc}"), DARK_GRAY));
                    s.push('\n');
                }
                inner.emit(&s, false);
                self.progress_task(&mut inner, name.trim(), *handler, hosts);
            }
            Event::HostResult(hr) => {
                // Ansible 2.19 reports every failure first as `Task failed:` with its origin
                // (scripts grep for the message and count these lines); prov's own errors show
                // theirs with their location instead.
                if hr.status == Status::Failed
                    && hr.item.is_none()
                    && !hr.no_log
                    && !result_object(hr).contains_key("exception")
                    && let Some(msg) = &hr.msg
                {
                    let kind = if controller_action(&inner.action) {
                        "Action"
                    } else {
                        "Module"
                    };
                    // an action that raised has its message as `Task failed: ...` already
                    let mut line = if msg.starts_with("Task failed: ") {
                        format!("[ERROR]: {msg}")
                    } else {
                        format!("[ERROR]: Task failed: {kind} failed: {msg}")
                    };
                    if let Some(loc) = &inner.location {
                        line.push_str(&format!("\nOrigin: {loc}"));
                        let excerpt = origin_excerpt(loc);
                        if !excerpt.is_empty() {
                            line.push_str(&format!("\n{excerpt}"));
                        }
                    }
                    let s = format!("{}\n", self.paint(&line, RED));
                    inner.emit(&s, false);
                }
                let s = self.render_result(hr);
                inner.emit(&s, false);
                if let Some(p) = &mut inner.progress {
                    p.done.insert(hr.host.clone());
                    p.update();
                }
            }
            Event::NoHostsRemaining => {
                inner.emit(&banner("NO MORE HOSTS LEFT"), false);
            }
            Event::Warning(msg) | Event::Deprecation(msg) => {
                let kind = if matches!(ev, Event::Deprecation(_)) {
                    "DEPRECATION WARNING"
                } else {
                    "WARNING"
                };
                let text = wrap(&format!("[{kind}]: {msg}"), WIDTH - 1);
                if inner.warned.insert(text.clone()) {
                    let s = format!("{}\n", self.paint(&text, BRIGHT_PURPLE));
                    inner.emit(&s, true);
                }
            }
            Event::Verbose { level, msg } => {
                if *level <= self.opts.verbosity {
                    let s = format!("{}\n", self.paint(msg, BLUE));
                    inner.emit(&s, false);
                }
            }
            Event::Recap(recap) => {
                if let Some(p) = inner.progress.take() {
                    p.pb.finish_and_clear();
                }
                let s = self.render_recap(recap);
                inner.emit(&s, false);
            }
        }
    }
}

impl Drop for HumanSink {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = inner.progress.take() {
            p.pb.finish_and_clear();
        }
    }
}

/// `set_stats` data as Ansible's default callback shows it: each host's, then the run's, as
/// one-line JSON (`indent=1` with its newlines removed).
fn custom_stats(recap: &Recap) -> String {
    let one_line = |m: &serde_json::Map<String, Json>| {
        crate::util::pyjson::dumps_sorted(&Json::Object(m.clone()), Some(1)).replace('\n', "")
    };
    let mut s = banner("CUSTOM STATS:");
    let mut hosts: Vec<_> = recap.custom.iter().filter(|(k, _)| *k != "_run").collect();
    hosts.sort_by(|a, b| a.0.cmp(b.0));
    for (h, m) in hosts {
        s.push_str(&format!("\t{h}: {}\n", one_line(m)));
    }
    if let Some(m) = recap.custom.get("_run") {
        s.push_str(&format!("\n\tRUN: {}\n", one_line(m)));
    }
    s.push('\n');
    s
}

/// `\n{msg} ****…` padded to [`WIDTH`] (at least 3 stars), like Ansible's `Display.banner`.
fn banner(msg: &str) -> String {
    let stars = (WIDTH - 1).saturating_sub(msg.chars().count()).max(3);
    format!("\n{msg} {}\n", "*".repeat(stars))
}

/// Ansible's `stringc`: each line wrapped in the colour code, when colour is on.
fn paint(text: &str, code: &str, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    text.split('\n')
        .map(|l| format!("\x1b[{code}m{l}\x1b[0m"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One recap line: Ansible's `"%s : %s %s %s %s %s %s %s"` of `hostcolor` and `colorize`.
fn recap_line(host: &str, t: &HostStats, color: bool) -> String {
    let host = if color {
        let code = if t.failed != 0 || t.unreachable != 0 {
            RED
        } else if t.changed != 0 {
            YELLOW
        } else {
            GREEN
        };
        // `%-37s` of the coloured name: 26 visible columns plus the 11 escape characters
        format!("{:<37}", paint(host, code, true))
    } else {
        format!("{host:<26}")
    };
    let colorize = |lead: &str, n: u32, code: &str| {
        let s = format!("{lead}={n:<4}");
        if n != 0 && color {
            paint(&s, code, true)
        } else {
            s
        }
    };
    format!(
        "{host} : {} {} {} {} {} {} {}",
        colorize("ok", t.ok, GREEN),
        colorize("changed", t.changed, YELLOW),
        colorize("unreachable", t.unreachable, BRIGHT_RED),
        colorize("failed", t.failed, RED),
        colorize("skipped", t.skipped, CYAN),
        colorize("rescued", t.rescued, GREEN),
        colorize("ignored", t.ignored, BRIGHT_PURPLE),
    )
}

/// A diff as Ansible prints it: the unified diff, `+` green, `-` red, `@@` cyan, then a blank line.
fn render_diff(d: &Diff, color: bool) -> String {
    let text = d.unified();
    if text.is_empty() {
        return String::new();
    }
    let mut s = String::new();
    for line in text.lines() {
        let code = if line.starts_with('+') {
            Some(GREEN)
        } else if line.starts_with('-') {
            Some(RED)
        } else if line.starts_with("@@") {
            Some(CYAN)
        } else {
            None
        };
        match code {
            Some(c) => s.push_str(&paint(line, c, color)),
            None => s.push_str(line),
        }
        s.push('\n');
    }
    s.push('\n');
    s
}

/// Greedy word wrap to `width` columns (Python's `textwrap.wrap`, as Ansible's warnings use).
fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = vec![];
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        let cur_len = cur.chars().count();
        if cur_len > 0 && cur_len + 1 + word.len() <= width {
            cur.push(' ');
            cur.extend(word);
            continue;
        }
        if cur_len > 0 {
            lines.push(std::mem::take(&mut cur));
        }
        while word.len() > width {
            lines.push(word.drain(..width).collect());
        }
        cur = word.into_iter().collect();
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines.join("\n")
}

/// Debug-like results are always shown, indented (Ansible's `_ansible_verbose_always`).
/// (A plain `msg`, such as a command's "non-zero return code" under `failed_when: false`, is
/// shown only with -v, as in Ansible.)
/// The lines up to a task's (two before it) with a caret under its column, as Ansible shows
/// an error's origin; empty when the file cannot be read.
fn origin_excerpt(loc: &str) -> String {
    let mut parts = loc.rsplitn(3, ':');
    let (Some(col), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return String::new();
    };
    let (Ok(col), Ok(line)) = (col.parse::<usize>(), line.parse::<usize>()) else {
        return String::new();
    };
    let Ok(text) = std::fs::read_to_string(file) else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    if line == 0 || line > lines.len() {
        return String::new();
    }
    let first = line.saturating_sub(2).max(1);
    let width = line.to_string().len();
    let mut s = String::from("\n");
    for n in first..=line {
        s.push_str(&format!("{n:>width$} {}\n", lines[n - 1]));
    }
    s.push_str(&format!(
        "{}^ column {col}\n",
        " ".repeat(width + col.max(1))
    ));
    s
}

/// Actions Ansible runs on the controller (its `Action failed` rather than `Module failed`).
fn controller_action(action: &str) -> bool {
    matches!(
        action,
        "assert"
            | "debug"
            | "fail"
            | "set_fact"
            | "set_stats"
            | "include_vars"
            | "include_tasks"
            | "include_role"
            | "add_host"
            | "group_by"
            | "pause"
            | "meta"
            | "wait_for_connection"
    )
}

fn verbose_always(hr: &HostResult) -> bool {
    matches!(
        result_object(hr).get("_ansible_verbose_always"),
        Some(Json::Bool(true))
    )
}

/// Keys removed from every displayed result (`_ansible_*` too).
fn strip(obj: &mut Map<String, Json>, verbosity: u8) {
    obj.retain(|k, _| !k.starts_with("_ansible_"));
    for k in ["failed", "skipped", "exception"] {
        obj.remove(k);
    }
    if verbosity < 3 {
        obj.remove("invocation");
        obj.remove("diff");
    }
}

/// The result as shown after `=>` on a status line (Ansible's cleaned `_dump_results`).
pub(super) fn display_view(hr: &HostResult, verbosity: u8) -> Json {
    let mut obj = result_object(hr);
    // a failure keeps the result's own `changed`; otherwise the status says it
    let changed = match hr.status {
        Status::Ok | Status::Changed | Status::Skipped => hr.status == Status::Changed,
        Status::Failed | Status::Unreachable => obj.get("changed") == Some(&Json::Bool(true)),
    };
    if hr.no_log {
        let mut censored = Map::new();
        censored.insert("censored".into(), Json::from(CENSORED));
        censored.insert("changed".into(), Json::Bool(changed));
        return Json::Object(censored);
    }
    strip(&mut obj, verbosity);
    obj.insert("changed".into(), Json::Bool(changed));
    if let Some(msg) = &hr.msg {
        match hr.status {
            Status::Skipped => {
                obj.entry("skip_reason")
                    .or_insert_with(|| Json::from(msg.as_str()));
            }
            Status::Failed | Status::Unreachable => {
                obj.entry("msg").or_insert_with(|| Json::from(msg.as_str()));
            }
            Status::Ok | Status::Changed => {}
        }
    }
    if hr.status == Status::Unreachable {
        obj.insert("unreachable".into(), Json::Bool(true));
    }
    Json::Object(obj)
}

/// What a debug-like result shows: its `msg` alone, or (for `debug: var=`) its keys other than
/// the status ones (Ansible's `_clean_results` for debug).
fn debug_view(hr: &HostResult, verbosity: u8) -> Json {
    let mut obj = result_object(hr);
    strip(&mut obj, verbosity);
    if let Some(msg) = &hr.msg {
        obj.entry("msg").or_insert_with(|| Json::from(msg.as_str()));
    }
    if obj.contains_key("msg") {
        obj.retain(|k, _| matches!(k.as_str(), "msg" | "warnings" | "deprecations"));
    } else {
        for k in ["changed", "invocation", "skip_reason"] {
            obj.remove(k);
        }
    }
    Json::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_is_80_wide_with_min_three_stars() {
        let b = banner("PLAY [web]");
        assert_eq!(b.trim_end().len() - 1, WIDTH);
        assert!(b.starts_with("\nPLAY [web] ***"));
        let long = "x".repeat(100);
        assert!(banner(&long).ends_with(&format!("{long} ***\n")));
    }

    #[test]
    fn wrap_breaks_at_width() {
        let text = format!("[WARNING]: {}", "word ".repeat(30));
        let w = wrap(&text, 79);
        assert!(w.lines().all(|l| l.chars().count() <= 79));
        assert_eq!(w.split_whitespace().count(), 31);
        assert_eq!(wrap(&"a".repeat(10), 4), "aaaa\naaaa\naa");
    }
}
