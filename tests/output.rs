//! The output sinks render event sequences exactly like ansible-playbook's default callback
//! (human) and as parseable JSON Lines.

use prov::events::{Event, HostResult, HostStats, Recap, Sink, Status};
use prov::modules::Diff;
use prov::output::{HumanOptions, HumanSink, JsonSink};
use prov::value::from_json;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Runs events through a human sink; returns (stdout, stderr).
fn human(opts: HumanOptions, events: &[Event]) -> (String, String) {
    let (out, err) = (Buf::default(), Buf::default());
    let sink = HumanSink::with_writers(opts, Box::new(out.clone()), Box::new(err.clone()));
    for ev in events {
        sink.event(ev);
    }
    drop(sink);
    (out.text(), err.text())
}

fn plain() -> HumanOptions {
    HumanOptions::default()
}

fn res(host: &str, status: Status) -> HostResult {
    let mut hr = HostResult::new(host, "t", status);
    hr.result = from_json(&json!({"changed": status == Status::Changed}));
    hr.duration = Duration::from_millis(12);
    hr
}

fn ev(hr: HostResult) -> Event {
    Event::HostResult(Box::new(hr))
}

fn play(name: &str, hosts: &[&str]) -> Event {
    Event::PlayStart {
        name: name.into(),
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
    }
}

fn task(name: &str) -> Event {
    Event::TaskStart {
        name: name.into(),
        location: Some("site.yml:4:7".into()),
        action: "apt".into(),
        handler: false,
        hosts: vec![],
        implementation: None,
    }
}

fn stats(ok: u32, changed: u32, unreachable: u32, failed: u32, skipped: u32) -> HostStats {
    let mut s = HostStats::default();
    (s.ok, s.changed, s.unreachable, s.failed, s.skipped) =
        (ok, changed, unreachable, failed, skipped);
    s
}

#[test]
fn play_with_every_status() {
    let mut failed = res("d", Status::Failed);
    failed.msg = Some("boom".into());
    failed.result = from_json(&json!({"failed": true, "msg": "boom", "rc": 1}));
    failed.ignored = true;
    let mut unreach = res("e", Status::Unreachable);
    unreach.msg = Some("ssh: connection refused".into());
    unreach.result = from_json(&json!({}));
    let mut skipped = res("c", Status::Skipped);
    skipped.msg = Some("Conditional result was False".into());
    let events = [
        play("web", &["a", "b", "c", "d", "e"]),
        task("install"),
        ev(res("a", Status::Ok)),
        ev(res("b", Status::Changed)),
        ev(skipped),
        ev(failed),
        ev(unreach),
        Event::TaskStart {
            name: "restart".into(),
            location: None,
            action: "service".into(),
            handler: true,
            hosts: vec![],
            implementation: None,
        },
        ev(res("b", Status::Changed)),
    ];
    let (out, err) = human(plain(), &events);
    let expected = "\n\
PLAY [web] *********************************************************************\n\
\n\
TASK [install] *****************************************************************\n\
ok: [a]\n\
changed: [b]\n\
skipping: [c]\n\
[ERROR]: Task failed: Module failed: boom\n\
Origin: site.yml:4:7\n\
fatal: [d]: FAILED! => {\"changed\": false, \"msg\": \"boom\", \"rc\": 1}\n\
...ignoring\n\
fatal: [e]: UNREACHABLE! => {\"changed\": false, \"msg\": \"ssh: connection refused\", \"unreachable\": true}\n\
\n\
RUNNING HANDLER [restart] ******************************************************\n\
changed: [b]\n";
    assert_eq!(out, expected);
    assert_eq!(err, "");
    for line in out.lines().filter(|l| l.contains(" **")) {
        assert_eq!(line.len(), 80, "banner width: {line:?}");
    }
}

#[test]
fn verbose_shows_result_json() {
    let mut changed = res("b", Status::Changed);
    changed.result = from_json(
        &json!({"rc": 0, "stdout": "hi", "changed": true, "_ansible_x": 1, "invocation": {}}),
    );
    let mut skipped = res("c", Status::Skipped);
    skipped.msg = Some("Conditional result was False".into());
    let events = [ev(res("a", Status::Ok)), ev(changed.clone()), ev(skipped)];
    let v1 = HumanOptions {
        verbosity: 1,
        ..plain()
    };
    let (out, _) = human(v1, &events);
    assert_eq!(
        out,
        "ok: [a] => {\"changed\": false}\n\
changed: [b] => {\"changed\": true, \"rc\": 0, \"stdout\": \"hi\"}\n\
skipping: [c] => {\"changed\": false, \"skip_reason\": \"Conditional result was False\"}\n"
    );
    let v3 = HumanOptions {
        verbosity: 3,
        ..plain()
    };
    let (out, _) = human(v3, &[ev(changed), task("x")]);
    assert_eq!(
        out,
        "changed: [b] => {\n    \"changed\": true,\n    \"invocation\": {},\n    \"rc\": 0,\n    \"stdout\": \"hi\"\n}\n\
\nTASK [x] ***********************************************************************\n\
task path: site.yml:4:7\n"
    );
}

#[test]
fn loop_items_and_delegation() {
    let item = |host: &str, status: Status, label: &str| {
        let mut r = res(host, status);
        r.item = Some(label.into());
        r
    };
    let mut bad = item("a", Status::Failed, "c");
    bad.result = from_json(
        &json!({"failed": true, "item": "c", "ansible_loop_var": "item", "msg": "no such package"}),
    );
    let mut delegated = res("a", Status::Changed);
    delegated.delegated_to = Some("lb1".into());
    let mut delegated_fail = item("b", Status::Failed, "x");
    delegated_fail.delegated_to = Some("lb1".into());
    delegated_fail.msg = Some("nope".into());
    let mut skipped = item("b", Status::Skipped, "d");
    skipped.delegated_to = Some("lb1".into());
    let events = [
        ev(item("a", Status::Ok, "a")),
        ev(item("a", Status::Changed, "b")),
        ev(bad),
        ev(skipped),
        ev(delegated),
        ev(delegated_fail),
    ];
    let (out, _) = human(plain(), &events);
    assert_eq!(
        out,
        "ok: [a] => (item=a)\n\
changed: [a] => (item=b)\n\
failed: [a] (item=c) => {\"ansible_loop_var\": \"item\", \"changed\": false, \"item\": \"c\", \"msg\": \"no such package\"}\n\
skipping: [b] => (item=d)\n\
changed: [a -> lb1]\n\
failed: [b -> lb1] (item=x) => {\"changed\": false, \"msg\": \"nope\"}\n"
    );
}

#[test]
fn debug_output_like_ansible() {
    let mut msg = res("a", Status::Ok);
    msg.msg = Some("hello".into());
    msg.result =
        from_json(&json!({"changed": false, "msg": "hello", "_ansible_verbose_always": true}));
    // a structured msg keeps its structure
    let mut list = res("a", Status::Ok);
    list.msg = Some("[1, 2]".into());
    list.result =
        from_json(&json!({"msg": [1, 2], "changed": false, "_ansible_verbose_always": true}));
    // debug: var=x
    let mut var = res("a", Status::Ok);
    var.result =
        from_json(&json!({"x": {"k": "v"}, "changed": false, "_ansible_verbose_always": true}));
    let mut looped = res("a", Status::Ok);
    looped.item = Some("one".into());
    looped.msg = Some("one".into());
    looped.result =
        from_json(&json!({"msg": "one", "changed": false, "_ansible_verbose_always": true}));
    // Not debug: a command's msg (e.g. under failed_when: false) is not shown without -v.
    let mut cmd = res("a", Status::Changed);
    cmd.msg = Some("non-zero return code".into());
    cmd.result = from_json(&json!({"changed": true, "msg": "non-zero return code", "rc": 1}));
    let (out, _) = human(plain(), &[ev(msg), ev(list), ev(var), ev(looped), ev(cmd)]);
    assert_eq!(
        out,
        "ok: [a] => {\n    \"msg\": \"hello\"\n}\n\
ok: [a] => {\n    \"msg\": [\n        1,\n        2\n    ]\n}\n\
ok: [a] => {\n    \"x\": {\n        \"k\": \"v\"\n    }\n}\n\
ok: [a] => (item=one) => {\n    \"msg\": \"one\"\n}\n\
changed: [a]\n"
    );
    // coloured: every line painted green separately, like Ansible's stringc
    let mut m = res("a", Status::Ok);
    m.msg = Some("hi".into());
    m.result = from_json(&json!({"msg": "hi", "changed": false, "_ansible_verbose_always": true}));
    let (out, _) = human(
        HumanOptions {
            color: true,
            ..plain()
        },
        &[ev(m)],
    );
    assert_eq!(
        out,
        "\x1b[0;32mok: [a] => {\x1b[0m\n\x1b[0;32m    \"msg\": \"hi\"\x1b[0m\n\x1b[0;32m}\x1b[0m\n"
    );
}

const SECRET: &str = "s3cr3t-hunter2";

fn secret_results() -> Vec<Event> {
    let mut ok = res("a", Status::Changed);
    ok.no_log = true;
    ok.msg = Some(format!("password is {SECRET}"));
    ok.result = from_json(&json!({"changed": true, "stdout": SECRET, "msg": SECRET}));
    ok.changes = vec![format!("set password {SECRET}")];
    ok.diffs = vec![Diff::new(
        "/etc/app.conf",
        "pw=old\n",
        format!("pw={SECRET}\n"),
    )];
    let mut failed = ok.clone();
    failed.status = Status::Failed;
    let mut item = ok.clone();
    item.item = Some(SECRET.into());
    let mut item_failed = item.clone();
    item_failed.status = Status::Failed;
    let mut skipped = item.clone();
    skipped.status = Status::Skipped;
    let mut unreachable = ok.clone();
    unreachable.status = Status::Unreachable;
    [ok, failed, item, item_failed, skipped, unreachable]
        .into_iter()
        .map(ev)
        .collect()
}

#[test]
fn no_log_is_censored_everywhere() {
    let events = secret_results();
    for verbosity in [0, 1, 3, 4] {
        for color in [false, true] {
            let opts = HumanOptions {
                verbosity,
                color,
                diff: true,
                progress: false,
                show_custom_stats: false,
            };
            let (out, err) = human(opts, &events);
            assert!(
                !out.contains(SECRET) && !err.contains(SECRET),
                "v{verbosity}: {out}"
            );
            assert!(!out.contains("pw=") && !out.contains("password"), "{out}");
        }
    }
    let (out, _) = human(plain(), &events);
    let censored = "{\"censored\": \"the output has been hidden due to the fact that 'no_log: true' was specified for this result\", \"changed\": true}";
    assert_eq!(
        out,
        format!(
            "changed: [a]\n\
fatal: [a]: FAILED! => {censored}\n\
changed: [a] => (item=(censored due to no_log))\n\
failed: [a] (item=(censored due to no_log)) => {censored}\n\
skipping: [a] => (item=(censored due to no_log))\n\
fatal: [a]: UNREACHABLE! => {censored}\n"
        )
    );
    let (out, _) = human(
        HumanOptions {
            verbosity: 1,
            ..plain()
        },
        &events[..1],
    );
    assert_eq!(out, format!("changed: [a] => {censored}\n"));

    let buf = Buf::default();
    let sink = JsonSink::with_writer(Box::new(buf.clone()));
    for e in &events {
        sink.event(e);
    }
    let text = buf.text();
    assert!(!text.contains(SECRET), "{text}");
    // One JSON line per event: an empty output must not pass the checks below.
    assert_eq!(text.lines().count(), events.len(), "{text}");
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            v["result"],
            json!({"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result"})
        );
        assert!(v.get("msg").is_none());
        assert_eq!(v["diff"], json!([]));
    }
}

#[test]
fn diff_rendering() {
    let mut r = res("a", Status::Changed);
    r.diffs = vec![
        Diff::new("/etc/motd", "one\ntwo\nthree\n", "one\n2\nthree\n"),
        Diff::new("/etc/same", "x\n", "x\n"),
        Diff::new("/etc/new", "", "fresh"),
    ];
    let expected = "--- /etc/motd (before)\n\
+++ /etc/motd (after)\n\
@@ -1,3 +1,3 @@\n\
\x20one\n\
-two\n\
+2\n\
\x20three\n\
\n\
--- /etc/new (before)\n\
+++ /etc/new (after)\n\
@@ -0,0 +1 @@\n\
+fresh\n\
\\ No newline at end of file\n\
\n\
changed: [a]\n";
    let (out, _) = human(
        HumanOptions {
            diff: true,
            ..plain()
        },
        &[ev(r.clone())],
    );
    assert_eq!(out, expected);
    // without --diff, or on an ok result, no diff
    let (out, _) = human(plain(), &[ev(r.clone())]);
    assert_eq!(out, "changed: [a]\n");
    let mut ok = r.clone();
    ok.status = Status::Ok;
    let (out, _) = human(
        HumanOptions {
            diff: true,
            ..plain()
        },
        &[ev(ok)],
    );
    assert_eq!(out, "ok: [a]\n");
    // coloured
    r.diffs.truncate(1);
    let (out, _) = human(
        HumanOptions {
            diff: true,
            color: true,
            ..plain()
        },
        &[ev(r)],
    );
    assert_eq!(
        out,
        "\x1b[0;31m--- /etc/motd (before)\x1b[0m\n\
\x1b[0;32m+++ /etc/motd (after)\x1b[0m\n\
\x1b[0;36m@@ -1,3 +1,3 @@\x1b[0m\n\
\x20one\n\
\x1b[0;31m-two\x1b[0m\n\
\x1b[0;32m+2\x1b[0m\n\
\x20three\n\
\n\
\x1b[0;33mchanged: [a]\x1b[0m\n"
    );
}

fn recap() -> Recap {
    let mut r = Recap::default();
    r.hosts
        .insert("web2.example.com".into(), stats(2, 1, 0, 0, 1));
    r.hosts.insert("db".into(), stats(5, 0, 0, 1, 0));
    r.hosts.insert("lab3".into(), {
        let mut s = HostStats::default();
        s.ok = 10;
        s.rescued = 1;
        s.ignored = 2;
        s
    });
    r.hosts.insert(
        "a-host-name-longer-than-26-chars".into(),
        stats(0, 0, 1, 0, 0),
    );
    r
}

#[test]
fn recap_exact_spacing() {
    let (out, _) = human(plain(), &[Event::Recap(recap())]);
    assert_eq!(
        out,
        "\nPLAY RECAP *********************************************************************\n\
a-host-name-longer-than-26-chars : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0   \n\
db                         : ok=5    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0   \n\
lab3                       : ok=10   changed=0    unreachable=0    failed=0    skipped=0    rescued=1    ignored=2   \n\
web2.example.com           : ok=2    changed=1    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0   \n\
\n"
    );
}

#[test]
fn custom_stats_after_the_recap_as_ansible_shows_them() {
    let mut r = Recap::default();
    r.hosts.insert("h".into(), stats(1, 0, 0, 0, 0));
    let obj = |v: serde_json::Value| v.as_object().unwrap().clone();
    r.custom
        .insert("_run".into(), obj(json!({"my_int": 25, "l": [1, 2]})));
    r.custom.insert("h".into(), obj(json!({"ph": 1})));
    let (out, _) = human(plain(), &[Event::Recap(r.clone())]);
    assert!(
        !out.contains("CUSTOM STATS"),
        "shown only when asked: {out}"
    );
    let shown = HumanOptions {
        show_custom_stats: true,
        ..plain()
    };
    let (out, _) = human(shown, &[Event::Recap(r)]);
    assert!(
        out.ends_with(
            "\nCUSTOM STATS: ******************************************************************\n\
\th: { \"ph\": 1}\n\
\n\
\tRUN: { \"l\": [  1,  2 ], \"my_int\": 25}\n\
\n"
        ),
        "{out}"
    );
}

#[test]
fn recap_colours_like_ansible() {
    let mut r = Recap::default();
    r.hosts.insert("web".into(), stats(2, 1, 0, 0, 1));
    r.hosts.insert("db".into(), stats(1, 0, 0, 1, 0));
    r.hosts.insert("ok".into(), {
        let mut s = HostStats::default();
        s.ok = 1;
        s.ignored = 1;
        s
    });
    let (out, _) = human(
        HumanOptions {
            color: true,
            ..plain()
        },
        &[Event::Recap(r)],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[2],
        "\x1b[0;31mdb\x1b[0m                         : \x1b[0;32mok=1   \x1b[0m changed=0    unreachable=0    \x1b[0;31mfailed=1   \x1b[0m skipped=0    rescued=0    ignored=0   "
    );
    assert_eq!(
        lines[3],
        "\x1b[0;32mok\x1b[0m                         : \x1b[0;32mok=1   \x1b[0m changed=0    unreachable=0    failed=0    skipped=0    rescued=0    \x1b[1;35mignored=1   \x1b[0m"
    );
    assert_eq!(
        lines[4],
        "\x1b[0;33mweb\x1b[0m                        : \x1b[0;32mok=2   \x1b[0m \x1b[0;33mchanged=1   \x1b[0m unreachable=0    failed=0    \x1b[0;36mskipped=1   \x1b[0m rescued=0    ignored=0   "
    );
}

fn full_run() -> Vec<Event> {
    let mut failed = res("b", Status::Failed);
    failed.msg = Some("boom".into());
    let mut changed = res("a", Status::Changed);
    changed.diffs = vec![Diff::new("/f", "a\n", "b\n")];
    let mut skipped = res("c", Status::Skipped);
    skipped.item = Some("i".into());
    let mut unreachable = res("d", Status::Unreachable);
    unreachable.ignored = true;
    unreachable.msg = Some("down".into());
    vec![
        play("all", &["a", "b", "c", "d"]),
        task("one"),
        ev(changed),
        ev(failed),
        ev(skipped),
        ev(unreachable),
        Event::Warning("something odd".into()),
        Event::Recap(recap()),
    ]
}

#[test]
fn colour_off_has_no_escapes_and_on_has_them() {
    let (out, err) = human(
        HumanOptions {
            diff: true,
            verbosity: 1,
            ..plain()
        },
        &full_run(),
    );
    assert!(!out.contains('\x1b') && !err.contains('\x1b'));
    let (out, err) = human(
        HumanOptions {
            diff: true,
            color: true,
            ..plain()
        },
        &full_run(),
    );
    for needle in [
        "\x1b[0;33mchanged: [a]\x1b[0m",
        "\x1b[0;31mfatal: [b]: FAILED! => {\"changed\": false, \"msg\": \"boom\"}\x1b[0m",
        "\x1b[0;36mskipping: [c] => (item=i)\x1b[0m",
        "\x1b[1;31mfatal: [d]: UNREACHABLE! => {\"changed\": false, \"msg\": \"down\", \"unreachable\": true}\x1b[0m\n\x1b[0;36m...ignoring\x1b[0m",
        "\x1b[0;32m+b\x1b[0m",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in {out}");
    }
    assert!(out.contains("\x1b[0;31m[ERROR]: Task failed: Module failed: boom\x1b[0m\n"));
    assert_eq!(err, "\x1b[1;35m[WARNING]: something odd\x1b[0m\n");
}

#[test]
fn warnings_and_verbose_messages() {
    let long = "word ".repeat(20);
    let events = [
        Event::Warning("disk almost full".into()),
        Event::Warning("disk almost full".into()),
        Event::Warning(long.clone()),
        Event::Verbose {
            level: 1,
            msg: "one".into(),
        },
        Event::Verbose {
            level: 2,
            msg: "two".into(),
        },
    ];
    let (out, err) = human(plain(), &events);
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!(
            "[WARNING]: disk almost full\n[WARNING]: {}\n{}\n",
            "word ".repeat(13).trim_end(),
            "word ".repeat(7).trim_end()
        )
    );
    let (out, _) = human(
        HumanOptions {
            verbosity: 1,
            ..plain()
        },
        &events,
    );
    assert_eq!(out, "one\n");
    let (out, _) = human(
        HumanOptions {
            verbosity: 2,
            color: true,
            ..plain()
        },
        &events,
    );
    assert_eq!(out, "\x1b[0;34mone\x1b[0m\n\x1b[0;34mtwo\x1b[0m\n");
}

#[test]
fn progress_does_not_change_the_log() {
    let events = full_run();
    let (a, ea) = human(
        HumanOptions {
            diff: true,
            ..plain()
        },
        &events,
    );
    let (b, eb) = human(
        HumanOptions {
            diff: true,
            progress: true,
            ..plain()
        },
        &events,
    );
    assert_eq!(a, b);
    assert_eq!(ea, eb);
    assert!(a.contains("PLAY RECAP"));
}

#[test]
fn json_lines_parse_back() {
    let mut events = full_run();
    let mut item = res("a", Status::Ok);
    item.item = Some("x".into());
    item.delegated_to = Some("lb".into());
    item.changes = vec!["create /f".into()];
    item.result = from_json(&json!({"rc": 0, "stdout_lines": ["a", "b"]}));
    events.insert(2, ev(item));
    events.push(Event::Verbose {
        level: 3,
        msg: "deep".into(),
    });
    let buf = Buf::default();
    let sink = JsonSink::with_writer(Box::new(buf.clone()));
    for e in &events {
        sink.event(e);
    }
    let text = buf.text();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    // one line per event, and the `changes` summary after the recap
    assert_eq!(lines.len(), events.len() + 1);
    assert!(text.ends_with('\n'));
    assert_eq!(
        lines[0],
        json!({"event": "play_start", "name": "all", "hosts": ["a", "b", "c", "d"]})
    );
    assert_eq!(
        lines[1],
        json!({"event": "task_start", "name": "one", "location": "site.yml:4:7", "action": "apt", "handler": false, "hosts": []})
    );
    assert_eq!(
        lines[2],
        json!({
            "event": "host_result", "host": "a", "task": "t", "status": "ok", "changed": false,
            "item": "x", "ignored": false, "msg": null, "changes": ["create /f"], "diff": [],
            "duration_ms": 12, "delegated_to": "lb", "result": {"rc": 0, "stdout_lines": ["a", "b"]}
        })
    );
    let changed = &lines[3];
    assert_eq!(changed["status"], "changed");
    assert_eq!(changed["changed"], true);
    assert_eq!(changed["item"], serde_json::Value::Null);
    assert_eq!(changed["diff"][0]["before_header"], "/f (before)");
    assert_eq!(changed["diff"][0]["after_header"], "/f (after)");
    assert_eq!(
        changed["diff"][0]["unified"],
        "--- /f (before)\n+++ /f (after)\n@@ -1 +1 @@\n-a\n+b\n"
    );
    assert_eq!(lines[4]["status"], "failed");
    assert_eq!(lines[4]["msg"], "boom");
    assert_eq!(lines[5]["status"], "skipped");
    assert_eq!(lines[6]["status"], "unreachable");
    assert_eq!(lines[6]["ignored"], true);
    assert_eq!(
        lines[7],
        json!({"event": "warning", "msg": "something odd"})
    );
    let recap = &lines[8];
    assert_eq!(recap["event"], "recap");
    assert_eq!(recap["exit_code"], 2);
    assert_eq!(
        recap["hosts"]["lab3"],
        json!({"ok": 10, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0, "rescued": 1, "ignored": 2})
    );
    let order: Vec<&String> = recap["hosts"].as_object().unwrap().keys().collect();
    assert_eq!(
        order,
        [
            "web2.example.com",
            "db",
            "lab3",
            "a-host-name-longer-than-26-chars"
        ]
    );
    // the tasks that changed, per host (`lines[3]` is the changed result)
    assert_eq!(lines[9]["event"], "changes");
    assert_eq!(lines[9]["total"], 1);
    assert_eq!(
        lines[9]["hosts"][changed["host"].as_str().unwrap()][0]["task"],
        changed["task"]
    );
    assert_eq!(
        lines[10],
        json!({"event": "verbose", "level": 3, "msg": "deep"})
    );
}

/// A tiny virtual terminal shared by the progress line and the log, to see the final screen.
#[derive(Debug, Default)]
struct Screen {
    lines: Vec<String>,
    row: usize,
    /// Everything the progress bar drew.
    drawn: Vec<String>,
}

impl Screen {
    fn put(&mut self, s: &str) {
        for c in s.chars() {
            if self.lines.len() <= self.row {
                self.lines.resize(self.row + 1, String::new());
            }
            if c == '\n' {
                self.row += 1;
            } else {
                self.lines[self.row].push(c);
            }
        }
        if self.lines.len() <= self.row {
            self.lines.resize(self.row + 1, String::new());
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Term(Arc<Mutex<Screen>>);

impl Write for Term {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().put(std::str::from_utf8(b).unwrap());
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl indicatif::TermLike for Term {
    fn width(&self) -> u16 {
        200
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap();
        s.row = s.row.saturating_sub(n);
        Ok(())
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.lock().unwrap().row += n;
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        let mut scr = self.0.lock().unwrap();
        scr.drawn.push(s.to_string());
        scr.put(s);
        scr.put("\n");
        Ok(())
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        let mut scr = self.0.lock().unwrap();
        scr.drawn.push(s.to_string());
        scr.put(s);
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap();
        let row = s.row;
        if let Some(l) = s.lines.get_mut(row) {
            l.clear();
        }
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn progress_line_never_garbles_the_log() {
    let term = Term::default();
    let opts = HumanOptions {
        diff: true,
        progress: true,
        ..plain()
    };
    let sink =
        HumanSink::with_writers(opts.clone(), Box::new(term.clone()), Box::new(term.clone()))
            .with_progress_target(indicatif::ProgressDrawTarget::term_like(Box::new(
                term.clone(),
            )));
    let mut events = full_run();
    if let Event::TaskStart { hosts, .. } = &mut events[1] {
        *hosts = ["a", "b", "c", "d"].map(String::from).to_vec();
    }
    for e in &events {
        sink.event(e);
    }
    let (expected, warnings) = human(opts, &events);
    let screen = term.0.lock().unwrap();
    // the bar did draw, with its counts…
    let drawn = screen.drawn.join("\n");
    assert!(
        drawn.contains("TASK one: 0/4 hosts done, running: a, b, c and 1 more"),
        "{drawn}"
    );
    assert!(
        drawn.contains("TASK one: 2/4 hosts done, running: c, d"),
        "{drawn}"
    );
    // …yet the screen holds exactly the log (and the warning), with no trace of the bar
    let mut want = expected.clone();
    let at = want.find("\nPLAY RECAP").unwrap();
    want.insert_str(at, &warnings);
    assert_eq!(screen.lines.join("\n"), want);
    drop(screen);
    drop(sink);
}

#[test]
fn json_duration_ms_is_the_task_time() {
    let dir = std::env::temp_dir().join(format!("prov-output-duration-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("d.yml"),
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - command: sleep 0.3\n    - command: sleep {{ item }}\n      loop: [0.2]\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prov"))
        .args(["run", "d.yml", "--output", "json"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let durations: Vec<u64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("duration_ms").and_then(|d| d.as_u64()))
        .collect();
    assert_eq!(durations.len(), 2, "{text}");
    assert!((250..5000).contains(&durations[0]), "{durations:?}");
    assert!((150..5000).contains(&durations[1]), "{durations:?}");
    let _ = std::fs::remove_dir_all(dir);
}
