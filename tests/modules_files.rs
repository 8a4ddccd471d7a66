//! Integration tests of the file modules: each module is planned and applied through a real
//! `LocalConnection` on real temp folders, the way the engine does it, and checked for exact
//! results, diffs, idempotence and check mode.

use prov::connection::local::LocalConnection;
use prov::modules::{Plan, Render};
use prov::value::Value;
use prov::{Error, Result};
use serde_json::json;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A tiny renderer for the template test: replaces `{{ name }}` with `world` (the real
/// templating engine is tested on its own).
struct TestRender;

impl Render for TestRender {
    fn render_text(&self, text: &str, origin: &Path) -> Result<String> {
        assert!(origin.exists(), "render origin must be the template path");
        Ok(text.replace("{{ name }}", "world"))
    }
    fn eval(&self, _expr: &str) -> Result<Value> {
        Err(Error::other("not used"))
    }
}

mod common;

use common::module::{ModuleHost, summaries};

struct Env {
    dir: PathBuf,
    /// The host: this machine through a `LocalConnection`, files searched in `<dir>/play`.
    h: ModuleHost,
}

impl std::ops::Deref for Env {
    type Target = ModuleHost;
    fn deref(&self) -> &ModuleHost {
        &self.h
    }
}

impl Env {
    fn new(name: &str) -> Env {
        let dir = std::env::temp_dir().join(format!("prov-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let h = ModuleHost::new("testhost", LocalConnection::new("testhost"))
            .render(TestRender)
            .search(vec![dir.join("play")]);
        Env { dir, h }
    }
    fn p(&self, rel: &str) -> String {
        self.dir.join(rel).to_string_lossy().into_owned()
    }
    /// Plans without applying and without --diff.
    async fn plan_nodiff(&self, module: &str, a: serde_json::Value) -> Result<Plan> {
        self.h.plan_with(module, &a, true, false).await
    }
    /// Plans and applies like the engine: Exec via exec (rc checked), Put via put, LocalWrite.
    async fn run(&self, module: &str, a: serde_json::Value) -> Result<Plan> {
        self.h.run(module, a).await.map(|r| r.plan)
    }
    /// Runs, then checks a second plan is empty (idempotence).
    async fn converge(&self, module: &str, a: serde_json::Value) -> Plan {
        self.h.converge(module, a).await.plan
    }
    /// Everything under the folder: path -> (mode, content or link target).
    fn snapshot(&self) -> BTreeMap<String, (u32, String)> {
        fn walk(p: &Path, out: &mut BTreeMap<String, (u32, String)>) {
            for e in std::fs::read_dir(p).unwrap() {
                let e = e.unwrap();
                let path = e.path();
                let md = std::fs::symlink_metadata(&path).unwrap();
                let key = path.to_string_lossy().into_owned();
                if md.file_type().is_symlink() {
                    out.insert(
                        key,
                        (
                            0,
                            format!("-> {}", std::fs::read_link(&path).unwrap().display()),
                        ),
                    );
                } else if md.is_dir() {
                    out.insert(key, (md.permissions().mode() & 0o7777, "<dir>".into()));
                    walk(&path, out);
                } else {
                    let c = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                    out.insert(key, (md.permissions().mode() & 0o7777, c));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.dir, &mut out);
        out
    }
    /// Plans in check mode and asserts nothing changed on disk; returns the plan.
    async fn check(&self, module: &str, a: serde_json::Value) -> Plan {
        let before = self.snapshot();
        let plan = self.plan(module, a).await.unwrap();
        assert_eq!(before, self.snapshot(), "check mode changed the disk");
        plan
    }
    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap()
    }
    fn write(&self, rel: &str, s: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    }
    fn mode(&self, rel: &str) -> u32 {
        std::fs::metadata(self.dir.join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }
    fn set_mode(&self, rel: &str, m: u32) {
        std::fs::set_permissions(self.dir.join(rel), std::fs::Permissions::from_mode(m)).unwrap();
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn res(p: &Plan, k: &str) -> String {
    p.result
        .get(k)
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_default()
}

// --------------------------------------------------------------------------------------- assemble

/// assemble joins a folder's regular files by name (a newline after a fragment without one,
/// the delimiter between them, `regexp` and `ignore_hidden` filtering), on the host and from
/// the controller's `files/`; check mode changes nothing, the second run nothing, and the
/// content is what ansible-core's assemble writes for the same fragments.
#[tokio::test]
async fn assemble_joins_fragments_as_ansible_does() {
    let e = Env::new("assemble");
    e.write("frags/a", "one\n");
    e.write("frags/b", "two");
    e.write("frags/.h", "hidden\n");
    e.write("frags/c.conf", "three\n");
    std::fs::create_dir_all(e.dir.join("frags/sub")).unwrap();
    let dest = e.p("out.conf");
    let a = json!({"src": e.p("frags"), "dest": dest, "delimiter": "### x\\n", "mode": "0640"});
    let p = e.check("assemble", a.clone()).await;
    assert_eq!(p.changes.len(), 1, "{:?}", summaries(&p));
    // as ansible-core's module: no diff
    assert!(p.changes[0].diff.is_none());
    let p = e.converge("assemble", a).await;
    assert_eq!(
        e.read("out.conf"),
        "hidden\n### x\none\n### x\ntwo\n### x\nthree\n"
    );
    assert_eq!(e.mode("out.conf"), 0o640);
    assert_eq!(p.msg.as_deref(), Some("OK"));
    assert_eq!(res(&p, "src"), e.p("frags"));
    // the SHA-1 of the content (`printf ... | sha1sum`)
    assert_eq!(
        res(&p, "checksum"),
        "7dd3e0ed6f2424d99937b1745dfd54fe4ec4da73"
    );
    // from the controller's files/ (the play folder), filtered
    e.write("play/files/parts/a", "one\n");
    e.write("play/files/parts/.b", "hidden\n");
    e.write("play/files/parts/z", "last");
    let a = json!({"src": "parts", "dest": e.p("local.conf"), "remote_src": false,
                   "ignore_hidden": true, "regexp": "^[a-y]"});
    e.converge("assemble", a).await;
    assert_eq!(e.read("local.conf"), "one\n");
    // Ansible's messages
    let fails = |r: Result<Plan>| match r {
        Ok(p) => p.failed.unwrap_or_default(),
        Err(e) => e.msg.clone(),
    };
    assert_eq!(
        fails(
            e.run("assemble", json!({"src": e.p("nope"), "dest": e.p("x")}))
                .await
        ),
        format!("Source ({}) does not exist", e.p("nope"))
    );
    assert_eq!(
        fails(
            e.run("assemble", json!({"src": e.p("frags/a"), "dest": e.p("x")}))
                .await
        ),
        format!("Source ({}) is not a directory", e.p("frags/a"))
    );
    assert_eq!(
        fails(e.run("assemble", json!({"dest": e.p("x")})).await),
        "src and dest are required"
    );
}

// ------------------------------------------------------------------------------------------- copy

#[tokio::test]
async fn copy_content_create_update_and_modes() {
    let e = Env::new("copy-content");
    let dest = e.p("motd");
    let a = json!({"content": "hello\n", "dest": dest});
    let p = e.check("copy", a.clone()).await;
    assert_eq!(p.changes.len(), 1);
    assert!(
        p.changes[0].summary.starts_with(&format!("create {dest}")),
        "{:?}",
        summaries(&p)
    );
    let d = p.changes[0].diff.as_ref().unwrap();
    assert_eq!((d.before.as_str(), d.after.as_str()), ("", "hello\n"));
    assert!(!Path::new(&dest).exists());

    let p = e.converge("copy", a).await;
    assert_eq!(e.read("motd"), "hello\n");
    assert_eq!(e.mode("motd"), 0o644);
    // Ansible's checksum is the SHA-1 of the content, md5sum its MD5.
    assert_eq!(
        res(&p, "checksum"),
        "f572d396fae9206628714fb2ce00f72e94f2258f"
    );
    assert_eq!(res(&p, "md5sum"), "b1946ac92492d2347c6235b4d2611184");
    assert_eq!(res(&p, "dest"), dest);
    assert_eq!(res(&p, "mode"), "0644");
    assert_eq!(res(&p, "size"), "6");
    let me = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(res(&p, "owner"), me.trim());

    // content and mode change in one write, with a content diff
    let a = json!({"content": "bye\n", "dest": dest, "mode": "0600"});
    let p = e.check("copy", a.clone()).await;
    assert_eq!(p.changes.len(), 1, "{:?}", summaries(&p));
    assert!(
        p.changes[0].summary.contains("mode 0644 -> 0600"),
        "{}",
        p.changes[0].summary
    );
    let d = p.changes[0].diff.as_ref().unwrap();
    assert_eq!((d.before.as_str(), d.after.as_str()), ("hello\n", "bye\n"));
    assert!(d.unified().contains("-hello\n+bye\n"));
    e.converge("copy", a).await;
    assert_eq!((e.read("motd").as_str(), e.mode("motd")), ("bye\n", 0o600));

    // symbolic modes, relative to the current mode, mode-only change
    let p = e
        .converge(
            "copy",
            json!({"content": "bye\n", "dest": dest, "mode": "u+x,g=r"}),
        )
        .await;
    assert_eq!(summaries(&p), vec![format!("chmod 0600 -> 0740 {dest}")]);
    assert_eq!(e.mode("motd"), 0o740);
    let p = e
        .converge(
            "copy",
            json!({"content": "bye\n", "dest": dest, "mode": "u=rw,g=r,o=r"}),
        )
        .await;
    assert_eq!(p.changes[0].diff.as_ref().unwrap().after, "mode: '0644'\n");
    assert_eq!(e.mode("motd"), 0o644);
    // numeric mode given as a YAML int (420 == 0o644): nothing to do
    assert!(
        e.plan(
            "copy",
            json!({"content": "bye\n", "dest": dest, "mode": 420})
        )
        .await
        .unwrap()
        .changes
        .is_empty()
    );
    // without --diff there are no content diffs
    let p = e
        .plan_nodiff("copy", json!({"content": "other\n", "dest": dest}))
        .await
        .unwrap();
    assert_eq!(p.changes.len(), 1);
    assert!(p.changes[0].diff.is_none());
    // bad modes are errors, not panics
    let err = e
        .plan(
            "copy",
            json!({"content": "x", "dest": dest, "mode": "u=rw;"}),
        )
        .await
        .unwrap_err();
    assert!(err.msg.contains("bad mode"), "{}", err.msg);
}

#[tokio::test]
async fn copy_src_to_folders_and_trailing_slash() {
    let e = Env::new("copy-src");
    e.write("play/files/hello.txt", "hi there\n");
    // dest ending in '/' that does not exist: created, file gets the src's name
    let out = e.p("out") + "/";
    let p = e
        .check("copy", json!({"src": "hello.txt", "dest": out}))
        .await;
    assert_eq!(p.changes.len(), 2, "{:?}", summaries(&p));
    assert_eq!(
        p.changes[0].summary,
        format!("create folder {}", e.p("out"))
    );
    let p = e
        .converge("copy", json!({"src": "hello.txt", "dest": out}))
        .await;
    assert_eq!(e.read("out/hello.txt"), "hi there\n");
    assert_eq!(res(&p, "dest"), e.p("out/hello.txt"));
    assert!(res(&p, "src").ends_with("play/files/hello.txt"));
    // an existing folder without the slash works the same
    std::fs::create_dir(e.dir.join("out2")).unwrap();
    e.converge("copy", json!({"src": "hello.txt", "dest": e.p("out2")}))
        .await;
    assert_eq!(e.read("out2/hello.txt"), "hi there\n");
    // a missing parent folder is an error on a real run...
    let args = e
        .args(
            "copy",
            json!({"src": "hello.txt", "dest": e.p("nope/x.txt")}),
        )
        .unwrap();
    let copy = e.reg.get("copy").unwrap();
    // ...while check mode plans the file as new (an earlier task would create the folder)
    let planned = copy.plan(&e.ctx(true), &args).await.unwrap();
    assert_eq!(planned.changes.len(), 1, "{planned:?}");
    assert!(planned.changes[0].summary.starts_with("create "));
    let err = copy.plan(&e.ctx(false), &args).await.unwrap_err();
    assert!(
        err.msg.contains("Destination directory") && err.msg.contains("does not exist"),
        "{}",
        err.msg
    );
    // a missing src says where it looked
    let err = e
        .plan("copy", json!({"src": "missing.txt", "dest": out}))
        .await
        .unwrap_err();
    assert!(
        err.msg.contains("Could not find or access 'missing.txt'"),
        "{}",
        err.msg
    );
    assert!(err.hint.clone().unwrap().contains("play/files/missing.txt"));
    // content with a folder dest fails (Ansible's message)
    let p = e
        .plan("copy", json!({"content": "x", "dest": out}))
        .await
        .unwrap();
    assert_eq!(
        p.failed.as_deref(),
        Some("can not use content with a dir as dest")
    );
    // src and content together, or neither: Ansible's checks and messages
    let p = e
        .plan("copy", json!({"content": "x", "src": "a.txt", "dest": out}))
        .await
        .unwrap();
    assert_eq!(
        p.failed.as_deref(),
        Some("src and content are mutually exclusive")
    );
    let p = e
        .plan("copy", json!({"src": "", "dest": out}))
        .await
        .unwrap();
    assert_eq!(p.failed.as_deref(), Some("src (or content) is required"));
    // force=no never replaces
    e.write("keep.txt", "mine\n");
    let p = e
        .converge(
            "copy",
            json!({"src": "hello.txt", "dest": e.p("keep.txt"), "force": false}),
        )
        .await;
    assert!(p.changes.is_empty());
    assert_eq!(e.read("keep.txt"), "mine\n");
    // mode=preserve takes the local file's mode
    e.set_mode("play/files/hello.txt", 0o750);
    e.converge(
        "copy",
        json!({"src": "hello.txt", "dest": e.p("pres.txt"), "mode": "preserve"}),
    )
    .await;
    assert_eq!(e.mode("pres.txt"), 0o750);
}

#[tokio::test]
async fn copy_folder_recursively() {
    let e = Env::new("copy-tree");
    e.write("play/files/tree/a.txt", "A\n");
    e.write("play/files/tree/sub/b.txt", "B\n");
    e.write("play/files/tree/sub/deeper/c.txt", "C\n");
    std::fs::create_dir_all(e.dir.join("dst")).unwrap();
    let a = json!({"src": "tree", "dest": e.p("dst"), "directory_mode": "0750", "mode": "0640"});
    let p = e.check("copy", a.clone()).await;
    assert_eq!(p.changes.len(), 6, "{:?}", summaries(&p)); // 3 folders + 3 files
    e.converge("copy", a).await;
    assert_eq!(e.read("dst/tree/a.txt"), "A\n");
    assert_eq!(e.read("dst/tree/sub/deeper/c.txt"), "C\n");
    assert_eq!(e.mode("dst/tree/sub"), 0o750);
    assert_eq!(e.mode("dst/tree/sub/b.txt"), 0o640);
    // src ending in '/' copies the contents
    e.converge("copy", json!({"src": "tree/", "dest": e.p("flat")}))
        .await;
    assert_eq!(e.read("flat/sub/b.txt"), "B\n");
    // one changed file: exactly one change
    e.write("flat/sub/b.txt", "changed\n");
    let p = e
        .converge("copy", json!({"src": "tree/", "dest": e.p("flat")}))
        .await;
    assert_eq!(p.changes.len(), 1, "{:?}", summaries(&p));
    assert_eq!(e.read("flat/sub/b.txt"), "B\n");
}

#[tokio::test]
async fn copy_validate_backup_and_remote_src() {
    let e = Env::new("copy-validate");
    e.write("conf", "old\n");
    let dest = e.p("conf");
    // failing validation: the old file stays and no temp file is left
    let err = e
        .run(
            "copy",
            json!({"content": "bad\n", "dest": dest, "validate": "grep -q good %s"}),
        )
        .await
        .unwrap_err();
    assert!(
        err.msg.contains("validation of") && err.msg.contains("the file was not changed"),
        "{}",
        err.msg
    );
    assert_eq!(e.read("conf"), "old\n");
    assert_eq!(
        std::fs::read_dir(&e.dir).unwrap().count(),
        1,
        "temp file left behind"
    );
    // validate without %s is refused
    let err = e
        .plan(
            "copy",
            json!({"content": "x", "dest": dest, "validate": "true"}),
        )
        .await
        .unwrap_err();
    assert!(err.msg.contains("validate must contain %s"));
    // passing validation, with a backup
    let p = e.converge("copy", json!({"content": "good\n", "dest": dest, "validate": "grep -q good %s", "backup": true})).await;
    assert_eq!(e.read("conf"), "good\n");
    let b = res(&p, "backup_file");
    assert!(
        b.starts_with(&format!("{dest}.")) && b.ends_with('~'),
        "{b}"
    );
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "old\n");
    // remote_src: copy a file already on the host
    e.write("src.txt", "remote\n");
    e.set_mode("src.txt", 0o600);
    let a = json!({"src": e.p("src.txt"), "dest": e.p("copied.txt"), "remote_src": true});
    let p = e.check("copy", a.clone()).await;
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].diff.as_ref().unwrap().after, "remote\n");
    e.converge("copy", a).await;
    assert_eq!(
        (e.read("copied.txt").as_str(), e.mode("copied.txt")),
        ("remote\n", 0o600)
    );
    let err = e
        .run(
            "copy",
            json!({"src": e.p("nope"), "dest": e.p("x"), "remote_src": true}),
        )
        .await
        .unwrap_err();
    assert!(err.msg.contains("not found"));
    // remote_src with a folder: copied recursively, modes kept
    e.write("rtree/a.txt", "A\n");
    e.write("rtree/s/b.txt", "B\n");
    e.set_mode("rtree/s/b.txt", 0o700);
    let a = json!({"src": e.p("rtree"), "dest": e.p("rdst") + "/", "remote_src": true});
    let p = e.check("copy", a.clone()).await;
    assert_eq!(p.changes.len(), 4, "{:?}", summaries(&p)); // rdst/rtree, rdst/rtree/s, 2 files
    e.converge("copy", a.clone()).await;
    assert_eq!(e.read("rdst/rtree/a.txt"), "A\n");
    assert_eq!(
        (
            e.read("rdst/rtree/s/b.txt").as_str(),
            e.mode("rdst/rtree/s/b.txt")
        ),
        ("B\n", 0o700)
    );
    e.write("rdst/rtree/a.txt", "changed\n");
    let p = e.converge("copy", a).await;
    assert_eq!(p.changes.len(), 1, "{:?}", summaries(&p));
    assert_eq!(e.read("rdst/rtree/a.txt"), "A\n");
    // owner and group apply to every folder of the copied tree too, existing or new (checked
    // in check mode: the owner is a uid nobody has here)
    let a = json!({"src": e.p("rtree") + "/", "dest": e.p("rdst/rtree"), "remote_src": true,
        "owner": "54321", "group": "54322"});
    let p = e.check("copy", a).await;
    let s = summaries(&p);
    for d in ["rdst/rtree", "rdst/rtree/s"] {
        let want = format!("chown {} -> 54321, chgrp", user_name());
        assert!(
            s.iter()
                .any(|c| c.starts_with(&want) && c.ends_with(&e.p(d))),
            "{d}: {s:?}"
        );
    }
    let a = json!({"src": e.p("rtree"), "dest": e.p("rdst2") + "/", "remote_src": true,
        "owner": "54321", "group": "54322"});
    let p = e.check("copy", a).await;
    let d = p.changes[0].diff.as_ref().unwrap();
    assert_eq!(
        d.after,
        format!(
            "path: {}\nstate: directory\nowner: '54321'\ngroup: '54322'\n",
            e.p("rdst2/rtree")
        )
    );
    // a source that is not a file nor a folder: Ansible's message
    let err = e
        .run(
            "copy",
            json!({"src": "/dev/null", "dest": e.p("x"), "remote_src": true}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.msg,
        "Cannot copy invalid source '/dev/null': not a file"
    );
}

/// The name of the user running the tests (the owner of the files they write).
fn user_name() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

// --------------------------------------------------------------------------------------- template

#[tokio::test]
async fn template_renders_and_writes() {
    let e = Env::new("template");
    e.write("play/templates/greet.j2", "hello {{ name }}\nline2\n");
    let a = json!({"src": "greet.j2", "dest": e.p("greet.txt"), "mode": "0640"});
    let p = e.check("template", a.clone()).await;
    assert_eq!(
        p.changes[0].diff.as_ref().unwrap().after,
        "hello world\nline2\n"
    );
    e.converge("template", a).await;
    assert_eq!(e.read("greet.txt"), "hello world\nline2\n");
    assert_eq!(e.mode("greet.txt"), 0o640);
    // newline_sequence
    e.converge(
        "template",
        json!({"src": "greet.j2", "dest": e.p("crlf.txt"), "newline_sequence": "\\r\\n"}),
    )
    .await;
    assert_eq!(e.read("crlf.txt"), "hello world\r\nline2\r\n");
    // dest folder gets the template's file name
    std::fs::create_dir(e.dir.join("d")).unwrap();
    e.converge("template", json!({"src": "greet.j2", "dest": e.p("d")}))
        .await;
    assert_eq!(e.read("d/greet.j2"), "hello world\nline2\n");
}

// ------------------------------------------------------------------------------------------- file

#[tokio::test]
async fn file_directory_touch_absent() {
    let e = Env::new("file");
    let deep = e.p("a/b/c");
    let a = json!({"path": deep, "state": "directory", "mode": "0750"});
    let p = e.check("file", a.clone()).await;
    assert_eq!(p.changes.len(), 1);
    let d = p.changes[0].diff.as_ref().unwrap();
    assert!(
        d.before.contains("state: absent") && d.after.contains("state: directory"),
        "{d:?}"
    );
    e.converge("file", a).await;
    for dir in ["a", "a/b", "a/b/c"] {
        assert_eq!(e.mode(dir), 0o750, "{dir}");
    }
    // mode change on an existing folder, symbolic
    let p = e
        .converge(
            "file",
            json!({"path": deep, "state": "directory", "mode": "o+rx"}),
        )
        .await;
    assert_eq!(summaries(&p), vec![format!("chmod 0750 -> 0755 {deep}")]);
    // recurse applies below
    e.write("a/b/c/f.txt", "x");
    e.set_mode("a/b/c/f.txt", 0o600);
    let p = e.converge("file", json!({"path": e.p("a"), "state": "directory", "recurse": true, "mode": "u=rwX,g=rX,o="})).await;
    assert_eq!(p.changes.len(), 1);
    assert_eq!(e.mode("a/b/c"), 0o750);
    assert_eq!(e.mode("a/b/c/f.txt"), 0o640);
    // a setgid folder gets exactly the mode asked for (GNU chmod keeps setgid on `chmod 0755`)
    std::fs::create_dir(e.dir.join("sg")).unwrap();
    e.set_mode("sg", 0o2755);
    if e.mode("sg") == 0o2755 {
        let p = e
            .converge(
                "file",
                json!({"path": e.p("sg"), "state": "directory", "mode": "0755"}),
            )
            .await;
        assert_eq!(
            summaries(&p),
            vec![format!("chmod 02755 -> 0755 {}", e.p("sg"))]
        );
        assert_eq!(e.mode("sg"), 0o755);
    }
    // a file where a folder should be
    e.write("plain", "x");
    let p = e
        .plan("file", json!({"path": e.p("plain"), "state": "directory"}))
        .await
        .unwrap();
    assert!(p.failed.unwrap().contains("already exists as a file"));
    // state=file on a missing path fails like Ansible
    let p = e
        .plan("file", json!({"path": e.p("missing")}))
        .await
        .unwrap();
    assert_eq!(
        p.failed.unwrap(),
        format!("file ({}) is absent, cannot continue", e.p("missing"))
    );
    // state=file sets attributes
    e.converge("file", json!({"path": e.p("plain"), "mode": "0604"}))
        .await;
    assert_eq!(e.mode("plain"), 0o604);

    // touch: creates, then always changes (timestamps)
    let t = json!({"path": e.p("touched"), "state": "touch", "mode": "0640"});
    let p = e.check("file", t.clone()).await;
    assert!(p.changes[0].summary.starts_with("create empty file"));
    e.run("file", t.clone()).await.unwrap();
    assert_eq!((e.read("touched").as_str(), e.mode("touched")), ("", 0o640));
    std::fs::File::options()
        .write(true)
        .open(e.dir.join("touched"))
        .unwrap()
        .set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000))
        .unwrap();
    let p = e.run("file", t).await.unwrap();
    assert_eq!(p.changes.len(), 1);
    assert!(std::fs::metadata(e.dir.join("touched")).unwrap().mtime() > 1_000_000);
    // preserve both times: only attributes
    let keep = json!({"path": e.p("touched"), "state": "touch", "access_time": "preserve", "modification_time": "preserve"});
    e.converge("file", keep).await;
    // explicit timestamp
    e.run(
        "file",
        json!({"path": e.p("touched"), "state": "touch", "modification_time": "202001020304.05"}),
    )
    .await
    .unwrap();
    let md = std::fs::metadata(e.dir.join("touched")).unwrap();
    let expect = chrono_free_local("2020-01-02 03:04:05");
    assert_eq!(md.mtime(), expect);

    // absent removes recursively
    let p = e
        .check("file", json!({"path": e.p("a"), "state": "absent"}))
        .await;
    assert_eq!(
        p.changes[0].summary,
        format!("remove {} (recursively)", e.p("a"))
    );
    e.converge("file", json!({"path": e.p("a"), "state": "absent"}))
        .await;
    assert!(!e.dir.join("a").exists());
}

/// Seconds since the epoch of a local time, computed by `date` (as touch -t interprets it).
fn chrono_free_local(t: &str) -> i64 {
    let out = std::process::Command::new("date")
        .args(["-d", t, "+%s"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn file_links() {
    let e = Env::new("links");
    e.write("target1", "one\n");
    e.write("target2", "two\n");
    let link = e.p("link");
    // relative src, resolved from the link's folder
    let a = json!({"path": link, "src": "target1", "state": "link"});
    let p = e.check("file", a.clone()).await;
    assert_eq!(summaries(&p), vec![format!("link {link} -> target1")]);
    e.converge("file", a).await;
    assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from("target1"));
    // retarget
    let p = e
        .converge(
            "file",
            json!({"path": link, "src": e.p("target2"), "state": "link"}),
        )
        .await;
    assert!(
        p.changes[0]
            .diff
            .as_ref()
            .unwrap()
            .before
            .contains("src: target1")
    );
    assert_eq!(e.read("link"), "two\n");
    // missing src needs force
    let p = e
        .plan(
            "file",
            json!({"path": e.p("l2"), "src": e.p("nothing"), "state": "link"}),
        )
        .await
        .unwrap();
    assert!(p.failed.unwrap().contains("src file does not exist"));
    e.converge(
        "file",
        json!({"path": e.p("l2"), "src": e.p("nothing"), "state": "link", "force": true}),
    )
    .await;
    assert!(
        std::fs::symlink_metadata(e.dir.join("l2"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // a file is not replaced by a link without force
    e.write("regular", "r\n");
    let p = e
        .plan(
            "file",
            json!({"path": e.p("regular"), "src": e.p("target1"), "state": "link"}),
        )
        .await
        .unwrap();
    assert!(
        p.failed
            .unwrap()
            .contains("refusing to convert from file to symlink")
    );
    e.converge(
        "file",
        json!({"path": e.p("regular"), "src": e.p("target1"), "state": "link", "force": true}),
    )
    .await;
    assert_eq!(e.read("regular"), "one\n");
    // mode on a link applies to its target (follow=yes)
    e.converge(
        "file",
        json!({"path": link, "src": e.p("target2"), "state": "link", "mode": "0600"}),
    )
    .await;
    assert_eq!(e.mode("target2"), 0o600);
    // no state on an existing link: judged by its target (a file here), no src needed
    e.converge("file", json!({"path": link, "mode": "0640"}))
        .await;
    assert_eq!(e.mode("target2"), 0o640);
    // not following, without src: the link keeps its target (Ansible), nothing to do
    let p = e
        .plan("file", json!({"path": link, "follow": false}))
        .await
        .unwrap();
    assert!(p.failed.is_none() && p.changes.is_empty());
    // a new link needs src
    let p = e
        .plan("file", json!({"path": e.p("newlink"), "state": "link"}))
        .await
        .unwrap();
    assert_eq!(
        p.failed.as_deref(),
        Some("src is required for creating new symlinks")
    );
    // absent removes the link, not the target
    e.converge("file", json!({"path": link, "state": "absent"}))
        .await;
    assert!(e.dir.join("target2").exists() && std::fs::symlink_metadata(&link).is_err());
    // hard links
    let h = json!({"path": e.p("hard"), "src": e.p("target1"), "state": "hard"});
    e.converge("file", h).await;
    assert_eq!(
        std::fs::metadata(e.dir.join("hard")).unwrap().ino(),
        std::fs::metadata(e.dir.join("target1")).unwrap().ino()
    );
    let p = e
        .plan(
            "file",
            json!({"path": e.p("hard"), "src": e.p("target2"), "state": "hard"}),
        )
        .await
        .unwrap();
    assert!(p.failed.unwrap().contains("Cannot link"));
}

// ------------------------------------------------------------------------------------- lineinfile

#[tokio::test]
async fn lineinfile_cases() {
    let e = Env::new("lineinfile");
    let f = e.p("sshd");
    e.write("sshd", "Port 22\n#PermitRootLogin yes\nUsePAM yes\n");
    e.set_mode("sshd", 0o600);
    // regexp replaces the matching line, keeps the mode
    let a = json!({"path": f, "regexp": "^#?PermitRootLogin", "line": "PermitRootLogin no"});
    let p = e.check("lineinfile", a.clone()).await;
    let d = p.changes[0].diff.as_ref().unwrap();
    assert!(
        d.unified()
            .contains("-#PermitRootLogin yes\n+PermitRootLogin no\n"),
        "{}",
        d.unified()
    );
    let p = e.converge("lineinfile", a).await;
    assert_eq!(res(&p, "msg"), "line replaced");
    assert_eq!(e.read("sshd"), "Port 22\nPermitRootLogin no\nUsePAM yes\n");
    assert_eq!(e.mode("sshd"), 0o600);
    // exact line already present: nothing to do
    assert!(
        e.plan("lineinfile", json!({"path": f, "line": "UsePAM yes"}))
            .await
            .unwrap()
            .changes
            .is_empty()
    );
    // insertafter / insertbefore / BOF / EOF
    e.converge(
        "lineinfile",
        json!({"path": f, "line": "ListenAddress 0.0.0.0", "insertafter": "^Port"}),
    )
    .await;
    e.converge(
        "lineinfile",
        json!({"path": f, "line": "# top", "insertbefore": "BOF"}),
    )
    .await;
    e.converge(
        "lineinfile",
        json!({"path": f, "line": "X11Forwarding no", "insertbefore": "^UsePAM"}),
    )
    .await;
    e.converge("lineinfile", json!({"path": f, "line": "# end"}))
        .await;
    assert_eq!(
        e.read("sshd"),
        "# top\nPort 22\nListenAddress 0.0.0.0\nPermitRootLogin no\nX11Forwarding no\nUsePAM yes\n# end\n"
    );
    // absent by regexp removes every match
    let p = e
        .converge(
            "lineinfile",
            json!({"path": f, "regexp": "^#", "state": "absent"}),
        )
        .await;
    assert_eq!(res(&p, "msg"), "2 line(s) removed");
    assert_eq!(res(&p, "found"), "2");
    assert!(!e.read("sshd").contains('#'));
    // backrefs
    let p = e.converge("lineinfile", json!({"path": f, "regexp": r"^Port (\d+)$", "line": r"Port \1 # was \1", "backrefs": true})).await;
    assert_eq!(res(&p, "msg"), "line replaced");
    assert!(e.read("sshd").contains("Port 22 # was 22\n"));
    // backrefs without a match leaves the file alone
    assert!(
        e.plan(
            "lineinfile",
            json!({"path": f, "regexp": "^Nope (.*)", "line": r"\1", "backrefs": true})
        )
        .await
        .unwrap()
        .changes
        .is_empty()
    );
    // missing file: error without create, created (with folder) with it
    let nf = e.p("new/dir/conf");
    let p = e
        .plan("lineinfile", json!({"path": nf, "line": "a=1"}))
        .await
        .unwrap();
    assert!(p.failed.unwrap().contains("does not exist"));
    let a = json!({"path": nf, "line": "a=1", "create": true, "mode": "0640"});
    let p = e.check("lineinfile", a.clone()).await;
    assert_eq!(p.changes.len(), 2, "{:?}", summaries(&p));
    assert_eq!(
        p.changes[0].summary,
        format!("create folder {}", e.p("new/dir"))
    );
    e.converge("lineinfile", a).await;
    assert_eq!(
        (e.read("new/dir/conf").as_str(), e.mode("new/dir/conf")),
        ("a=1\n", 0o640)
    );
    // firstmatch with insertafter
    e.write("multi", "k\nk\n");
    e.converge(
        "lineinfile",
        json!({"path": e.p("multi"), "line": "v", "insertafter": "^k", "firstmatch": true}),
    )
    .await;
    assert_eq!(e.read("multi"), "k\nv\nk\n");
    // search_string
    e.converge(
        "lineinfile",
        json!({"path": e.p("multi"), "search_string": "v", "line": "w"}),
    )
    .await;
    assert_eq!(e.read("multi"), "k\nw\nk\n");
    // a symlinked file is edited through the link, the link stays
    std::os::unix::fs::symlink(e.dir.join("multi"), e.dir.join("mlink")).unwrap();
    e.converge("lineinfile", json!({"path": e.p("mlink"), "line": "z"}))
        .await;
    assert!(
        std::fs::symlink_metadata(e.dir.join("mlink"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(e.read("multi"), "k\nw\nk\nz\n");
    // backup returns the backup path
    let p = e
        .converge(
            "lineinfile",
            json!({"path": e.p("multi"), "line": "k", "state": "absent", "backup": true}),
        )
        .await;
    assert_eq!(
        std::fs::read_to_string(res(&p, "backup")).unwrap(),
        "k\nw\nk\nz\n"
    );
    // bad usage gives clear errors
    let err = e
        .plan(
            "lineinfile",
            json!({"path": f, "regexp": "x", "search_string": "y", "line": "z"}),
        )
        .await
        .unwrap_err();
    assert!(err.msg.contains("mutually exclusive"));
    let err = e
        .plan(
            "lineinfile",
            json!({"path": f, "regexp": "(unclosed", "line": "z"}),
        )
        .await
        .unwrap_err();
    assert!(err.msg.contains("invalid regular expression"), "{err}");
    // Python's look-around and backreferences work (util::pyregex on fancy-regex), as in
    // ansible-core's own lineinfile target ("Replace a line with backrefs").
    e.plan(
        "lineinfile",
        json!({"path": f, "regexp": "(?<=x)y", "line": "z"}),
    )
    .await
    .unwrap();
    e.write("refs", "REF is REF\nREF is other\n");
    let p = e
        .converge(
            "lineinfile",
            json!({"path": e.p("refs"), "regexp": "^(REF) .* \\1$", "line": "\\1 twice", "backrefs": true}),
        )
        .await;
    assert_eq!(res(&p, "msg"), "line replaced");
    assert_eq!(e.read("refs"), "REF twice\nREF is other\n");
    let p = e
        .plan(
            "lineinfile",
            json!({"path": e.dir.to_string_lossy(), "line": "x"}),
        )
        .await
        .unwrap();
    assert!(p.failed.unwrap().contains("is a directory"));
    // the spec's rules, checked when the task is loaded (prov check), before any host is asked
    let err = e
        .args("lineinfile", json!({"path": f, "regexp": "^x"}))
        .unwrap_err();
    assert_eq!(
        err.msg,
        "module 'lineinfile': state is present but all of the following are missing: line"
    );
    let err = e
        .args("lineinfile", json!({"path": f, "state": "absent"}))
        .unwrap_err();
    assert_eq!(
        err.msg,
        "module 'lineinfile': state is absent but any of the following are missing: line, search_string, regexp"
    );
    // backrefs needs regexp only when the line is put (a check of the module, not a rule)
    let err = e
        .plan(
            "lineinfile",
            json!({"path": f, "line": "x", "backrefs": true}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.msg, "regexp is required with backrefs=true");
    e.args(
        "lineinfile",
        json!({"path": f, "line": "x", "backrefs": true, "state": "absent"}),
    )
    .unwrap();
}

// ------------------------------------------------------------------------------------ blockinfile

#[tokio::test]
async fn blockinfile_markers() {
    let e = Env::new("blockinfile");
    let f = e.p("hosts");
    e.write("hosts", "127.0.0.1 localhost\n::1 localhost\n");
    let a = json!({"path": f, "block": "10.0.0.1 a\n10.0.0.2 b", "insertafter": "^127"});
    let p = e.check("blockinfile", a.clone()).await;
    assert_eq!(p.changes.len(), 1);
    let p = e.converge("blockinfile", a).await;
    assert_eq!(res(&p, "msg"), "Block inserted");
    assert_eq!(
        e.read("hosts"),
        "127.0.0.1 localhost\n# BEGIN ANSIBLE MANAGED BLOCK\n10.0.0.1 a\n10.0.0.2 b\n# END ANSIBLE MANAGED BLOCK\n::1 localhost\n"
    );
    // update in place, even with a different insertafter
    e.converge("blockinfile", json!({"path": f, "block": "10.0.0.3 c\n"}))
        .await;
    assert_eq!(
        e.read("hosts"),
        "127.0.0.1 localhost\n# BEGIN ANSIBLE MANAGED BLOCK\n10.0.0.3 c\n# END ANSIBLE MANAGED BLOCK\n::1 localhost\n"
    );
    // a second block with custom markers
    let b2 = json!({"path": f, "block": "x", "marker": "<!-- {mark} web -->", "marker_begin": "start", "marker_end": "stop", "insertbefore": "BOF"});
    e.converge("blockinfile", b2).await;
    assert!(
        e.read("hosts")
            .starts_with("<!-- start web -->\nx\n<!-- stop web -->\n127.0.0.1")
    );
    // remove both
    let p = e
        .converge("blockinfile", json!({"path": f, "state": "absent"}))
        .await;
    assert_eq!(res(&p, "msg"), "Block removed");
    e.converge("blockinfile", json!({"path": f, "marker": "<!-- {mark} web -->", "marker_begin": "start", "marker_end": "stop", "block": ""})).await;
    assert_eq!(e.read("hosts"), "127.0.0.1 localhost\n::1 localhost\n");
    // create
    let p = e
        .plan("blockinfile", json!({"path": e.p("new"), "block": "b"}))
        .await
        .unwrap();
    assert!(p.failed.is_some());
    let a = json!({"path": e.p("new"), "block": "b", "create": true});
    assert_eq!(e.check("blockinfile", a.clone()).await.changes.len(), 1);
    e.converge("blockinfile", a).await;
    assert_eq!(
        e.read("new"),
        "# BEGIN ANSIBLE MANAGED BLOCK\nb\n# END ANSIBLE MANAGED BLOCK\n"
    );
}

// ---------------------------------------------------------------------------------------- replace

#[tokio::test]
async fn replace_with_backrefs_and_sections() {
    let e = Env::new("replace");
    let f = e.p("conf");
    e.write("conf", "[a]\nport=1\n[b]\nport=2\n[c]\nport=3\n");
    let a = json!({"path": f, "regexp": r"^port=(\d)$", "replace": r"port=\g<1>0", "after": r"\[b\]", "before": r"\[c\]"});
    let p = e.check("replace", a.clone()).await;
    assert!(
        p.changes[0]
            .diff
            .as_ref()
            .unwrap()
            .unified()
            .contains("-port=2\n+port=20\n")
    );
    let p = e.converge("replace", a).await;
    assert_eq!(res(&p, "msg"), "1 replacements made");
    assert_eq!(e.read("conf"), "[a]\nport=1\n[b]\nport=20\n[c]\nport=3\n");
    let p = e
        .converge(
            "replace",
            json!({"path": f, "regexp": r"port=(\d)\b", "replace": r"p=\1"}),
        )
        .await;
    assert_eq!(res(&p, "msg"), "2 replacements made");
    assert_eq!(e.read("conf"), "[a]\np=1\n[b]\nport=20\n[c]\np=3\n");
    // section not found: ok, nothing done
    let p = e
        .plan(
            "replace",
            json!({"path": f, "regexp": "p", "after": "nomatch"}),
        )
        .await
        .unwrap();
    assert!(p.changes.is_empty() && p.failed.is_none());
    let p = e
        .plan("replace", json!({"path": e.p("missing"), "regexp": "p"}))
        .await
        .unwrap();
    assert!(p.failed.unwrap().contains("does not exist"));
    // a device is read like a file (as Ansible does): /dev/null is empty, nothing to replace,
    // but a bad replacement still fails (Python parses it first)
    let p = e
        .plan("replace", json!({"path": "/dev/null", "regexp": "p"}))
        .await
        .unwrap();
    assert!(p.changes.is_empty() && p.failed.is_none(), "{:?}", p.failed);
    let err = e
        .plan(
            "replace",
            json!({"path": "/dev/null", "regexp": r"\.", "replace": r"\D", "after": "^", "before": "$"}),
        )
        .await
        .unwrap_err();
    assert!(
        err.msg.starts_with("Unable to process replace"),
        "{}",
        err.msg
    );
}

// ------------------------------------------------------------------------------------------- find

#[tokio::test]
async fn find_depth_and_undecodable_files() {
    let e = Env::new("find");
    e.write("t/a.txt", "a\n");
    e.write("t/d1/b.txt", "b\n");
    e.write("t/d1/d2/c.txt", "c\n");
    e.write("t/d1/d2/d3/e.txt", "e\n");
    let root = e.p("t");
    // depth 2: entries two levels down match; the level below them is listed (examined), as
    // Ansible's walk lists the folders it stops at
    let p = e
        .plan(
            "find",
            json!({"paths": root, "recurse": true, "depth": 2, "file_type": "any"}),
        )
        .await
        .unwrap();
    assert_eq!(res(&p, "matched"), "4"); // a.txt, d1, d1/b.txt, d1/d2
    assert_eq!(res(&p, "examined"), "6"); // and d1/d2/c.txt, d1/d2/d3
    // a file that is not text in the encoding skips its path, with Ansible's reason
    std::fs::write(e.dir.join("t/latin1.txt"), b"caf\xe9\n").unwrap();
    let p = e
        .plan(
            "find",
            json!({"paths": root, "patterns": "*.txt", "contains": "caf", "encoding": "utf-8"}),
        )
        .await
        .unwrap();
    assert_eq!(
        res(&p, "msg"),
        "Not all paths examined, check warnings for details"
    );
    let skipped = p.result.get("skipped_paths").unwrap();
    assert_eq!(
        skipped
            .get_item(&Value::from(root.as_str()))
            .unwrap()
            .to_string(),
        format!(
            "Failed to read the file {root}/latin1.txt due to an encoding error. current encoding: utf-8"
        )
    );
    assert!(res(&p, "warnings").contains("Skipped"), "{:?}", p.result);
    // the same file in its encoding is found
    let p = e
        .plan(
            "find",
            json!({"paths": root, "patterns": "*.txt", "contains": "caf\u{e9}", "encoding": "latin-1"}),
        )
        .await
        .unwrap();
    assert_eq!(res(&p, "matched"), "1");
    // an encoding nobody knows
    let p = e
        .plan(
            "find",
            json!({"paths": root, "contains": "x", "encoding": "idontexist"}),
        )
        .await
        .unwrap();
    let skipped = p.result.get("skipped_paths").unwrap();
    assert_eq!(
        skipped
            .get_item(&Value::from(root.as_str()))
            .unwrap()
            .to_string(),
        "unknown encoding: idontexist"
    );
}

// ------------------------------------------------------------------------------ stat, slurp, fetch

#[tokio::test]
async fn stat_slurp() {
    let e = Env::new("stat");
    e.write("f", "data\n");
    e.set_mode("f", 0o640);
    std::os::unix::fs::symlink(e.dir.join("f"), e.dir.join("l")).unwrap();
    let p = e.plan("stat", json!({"path": e.p("f")})).await.unwrap();
    assert!(p.changes.is_empty());
    let st = p.result.get("stat").unwrap();
    let g = |k: &str| st.get_attr(k).unwrap();
    assert!(g("exists").is_true() && g("isreg").is_true() && !g("isdir").is_true());
    assert_eq!(g("mode").as_str(), Some("0640"));
    assert_eq!(g("size").to_string(), "5");
    // sha1 of "data\n"
    assert_eq!(
        g("checksum").as_str(),
        Some("c5d84736ba451747dd5f0eb9d17e104f3697ef47")
    );
    let me = std::fs::metadata(e.dir.join("f")).unwrap();
    assert_eq!(g("uid").to_string(), me.uid().to_string());
    let p = e.plan("stat", json!({"path": e.p("l")})).await.unwrap();
    let st = p.result.get("stat").unwrap();
    assert!(st.get_attr("islnk").unwrap().is_true());
    assert_eq!(
        st.get_attr("lnk_source").unwrap().as_str(),
        Some(e.p("f").as_str())
    );
    let p = e
        .plan(
            "stat",
            json!({"path": e.p("l"), "follow": true, "checksum_algorithm": "sha256"}),
        )
        .await
        .unwrap();
    let st = p.result.get("stat").unwrap();
    assert!(st.get_attr("isreg").unwrap().is_true());
    assert_eq!(st.get_attr("checksum").unwrap().as_str().unwrap().len(), 64);
    let p = e.plan("stat", json!({"path": e.p("nope")})).await.unwrap();
    assert!(
        !p.result
            .get("stat")
            .unwrap()
            .get_attr("exists")
            .unwrap()
            .is_true()
    );
    let p = e.plan("stat", json!({"path": e.p(".")})).await.unwrap();
    assert!(
        p.result
            .get("stat")
            .unwrap()
            .get_attr("isdir")
            .unwrap()
            .is_true()
    );

    let p = e.plan("slurp", json!({"src": e.p("f")})).await.unwrap();
    assert_eq!(res(&p, "content"), "ZGF0YQo=");
    assert_eq!(res(&p, "encoding"), "base64");
    let p = e.plan("slurp", json!({"src": e.p("nope")})).await.unwrap();
    assert_eq!(
        p.failed.unwrap(),
        format!("File not found: {}", e.p("nope"))
    );
}

#[tokio::test]
async fn fetch_to_controller() {
    let e = Env::new("fetch");
    e.write("remote/etc/app.conf", "x=1\n");
    let src = e.p("remote/etc/app.conf");
    let a = json!({"src": src, "dest": e.p("fetched")});
    let expect = e
        .dir
        .join("fetched/testhost")
        .join(src.trim_start_matches('/'));
    // as in Ansible, check mode skips fetch
    let p = e.check("fetch", a.clone()).await;
    assert_eq!(
        p.skipped.as_deref(),
        Some("check mode not (yet) supported for this module")
    );
    assert!(p.changes.is_empty() && !expect.exists());
    let p = e.converge("fetch", a.clone()).await;
    assert_eq!(res(&p, "dest"), expect.display().to_string());
    assert_eq!(std::fs::read_to_string(&expect).unwrap(), "x=1\n");
    // Ansible's checksums: SHA-1, and MD5 as md5sum
    assert_eq!(
        res(&p, "checksum"),
        "75d155771c678a74cef8ce298f9b752cc10c5d70"
    );
    assert_eq!(res(&p, "remote_checksum"), res(&p, "checksum"));
    assert_eq!(res(&p, "md5sum"), "f968f33f844c98de1d3b4fe70f2e1a0f");
    let real = |m: &'static str, a: serde_json::Value| {
        let h = &e.h;
        async move { h.plan_with(m, &a, false, false).await.unwrap() }
    };
    let again = real("fetch", a).await;
    assert!(again.changes.is_empty());
    assert_eq!(res(&again, "checksum"), res(&p, "checksum"));
    // Ansible's messages for bad arguments and folders
    let msg = |p: Plan| p.failed.unwrap_or_default();
    let p = real("fetch", json!({})).await;
    assert_eq!(msg(p), "src and dest are required");
    let p = real("fetch", json!({"src": [1, 2], "dest": "out/"})).await;
    assert_eq!(
        msg(p),
        "Invalid type supplied for source option, it must be a string"
    );
    let p = real("fetch", json!({"src": e.p("remote"), "dest": "out/"})).await;
    assert_eq!(
        msg(p),
        "remote file is a directory, fetch cannot work on directories"
    );
    // flat, relative to the playbook folder, into a folder
    std::fs::create_dir_all(e.dir.join("play")).unwrap();
    e.converge("fetch", json!({"src": src, "dest": "out/", "flat": true}))
        .await;
    assert_eq!(e.read("play/out/app.conf"), "x=1\n");
    // a changed remote file is fetched again
    e.write("remote/etc/app.conf", "x=2\n");
    e.converge("fetch", json!({"src": src, "dest": "out/", "flat": true}))
        .await;
    assert_eq!(e.read("play/out/app.conf"), "x=2\n");
    // missing remote file: failed, or only a message without fail_on_missing
    let p = real("fetch", json!({"src": e.p("nope"), "dest": "out/"})).await;
    assert_eq!(
        msg(p),
        "the remote file does not exist, not transferring, ignored"
    );
    let p = real(
        "fetch",
        json!({"src": e.p("nope"), "dest": "out/", "fail_on_missing": false}),
    )
    .await;
    assert!(p.msg.as_deref().is_some_and(|m| m.ends_with("ignored")));
    assert!(p.failed.is_none() && p.changes.is_empty());
}
