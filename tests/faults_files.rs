//! Regression tests for file-module faults of issue 9, on real temp folders through a real
//! `LocalConnection` (plan, then `apply_plan`, the way the engine does it):
//!
//! - `--diff` over a symbolic link that the module replaces (copy, template, copy with
//!   remote_src, cron's cron_file removal) shows the link, never its target's content; modules
//!   that write through the link (lineinfile, cron) still diff the target, which is what they
//!   write.
//! - setuid/setgid bits survive an owner change: ownership is applied before the mode, so
//!   `mode: "04755"` with `owner:` ends as 04755 on disk and the next run is `ok`.

mod common;

use common::Project;
use common::module::{ModuleHost, TextRender};
use prov::connection::local::LocalConnection;
use prov::modules::Plan;
use serde_json::json;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

const SECRET: &str = "root:$6$TOPSECRETHASH:19000:0:99999:7:::";

struct Env {
    dir: PathBuf,
    /// This machine through a `LocalConnection`, files searched in `<dir>/play`.
    h: ModuleHost,
}

impl Env {
    fn new(name: &str) -> Env {
        let dir = std::env::temp_dir().join(format!("prov-faults-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("play")).unwrap();
        let h = ModuleHost::new("testhost", LocalConnection::new("testhost"))
            .render(TextRender)
            .search(vec![dir.join("play")]);
        Env { dir, h }
    }
    fn p(&self, rel: &str) -> String {
        self.dir.join(rel).to_string_lossy().into_owned()
    }
    /// A check-mode plan that must not fail.
    async fn plan(&self, module: &str, a: serde_json::Value) -> Plan {
        let plan = self
            .h
            .plan(module, a)
            .await
            .unwrap_or_else(|e| panic!("{module}: {}", e.render()));
        assert!(plan.failed.is_none(), "{module} failed: {:?}", plan.failed);
        plan
    }
    /// Plans and applies like the engine; returns the plan.
    async fn run(&self, module: &str, a: serde_json::Value) -> Plan {
        self.h
            .run(module, a)
            .await
            .unwrap_or_else(|e| panic!("{module}: {}", e.render()))
            .plan
    }
    fn write(&self, rel: &str, s: &str) {
        std::fs::write(self.dir.join(rel), s).unwrap();
    }
    fn link(&self, target: &str, rel: &str) {
        std::os::unix::fs::symlink(self.dir.join(target), self.dir.join(rel)).unwrap();
    }
    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap()
    }
    fn is_link(&self, rel: &str) -> bool {
        std::fs::symlink_metadata(self.dir.join(rel))
            .unwrap()
            .file_type()
            .is_symlink()
    }
    fn mode(&self, rel: &str) -> u32 {
        std::fs::metadata(self.dir.join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every diff of the plan as text (headers, before, after).
fn diff_text(p: &Plan) -> String {
    p.changes
        .iter()
        .filter_map(|c| c.diff.as_ref())
        .map(|d| {
            format!(
                "{}\n{}\n{}\n{}\n",
                d.before_header, d.after_header, d.before, d.after
            )
        })
        .collect()
}

fn summaries(p: &Plan) -> String {
    p.changes
        .iter()
        .map(|c| c.summary.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[tokio::test]
async fn copy_over_a_link_diffs_the_link_not_its_target() {
    let e = Env::new("copylink");
    e.write("shadow", &format!("{SECRET}\n"));
    e.link("shadow", "dest");
    let dest = e.p("dest");
    let plan = e
        .plan("copy", json!({"content": "new\n", "dest": dest}))
        .await;
    let d = diff_text(&plan);
    assert!(
        !d.contains("TOPSECRET"),
        "the diff shows the link's target:\n{d}"
    );
    assert!(!summaries(&plan).contains("TOPSECRET"));
    let diff = plan.changes.iter().find_map(|c| c.diff.clone()).unwrap();
    assert_eq!(diff.before, "");
    assert_eq!(diff.after, "new\n");
    assert!(
        diff.before_header.contains("symbolic link") && diff.before_header.contains("shadow"),
        "the header names the link: {}",
        diff.before_header
    );
    // Applying replaces the link (copy does not follow it) and leaves the target alone.
    e.run("copy", json!({"content": "new\n", "dest": dest}))
        .await;
    assert!(!e.is_link("dest"));
    assert_eq!(e.read("dest"), "new\n");
    assert_eq!(e.read("shadow"), format!("{SECRET}\n"));
}

#[tokio::test]
async fn template_and_remote_src_over_a_link_diff_the_link() {
    let e = Env::new("tpllink");
    e.write("shadow", &format!("{SECRET}\n"));
    e.link("shadow", "dest");
    std::fs::create_dir_all(e.dir.join("play/templates")).unwrap();
    std::fs::write(e.dir.join("play/templates/t.j2"), "rendered\n").unwrap();
    let plan = e
        .plan("template", json!({"src": "t.j2", "dest": e.p("dest")}))
        .await;
    let d = diff_text(&plan);
    assert!(
        !d.contains("TOPSECRET"),
        "template diff shows the target:\n{d}"
    );
    assert!(d.contains("rendered"), "{d}");

    e.write("src.txt", "from the host\n");
    let plan = e
        .plan(
            "copy",
            json!({"src": e.p("src.txt"), "dest": e.p("dest"), "remote_src": true}),
        )
        .await;
    let d = diff_text(&plan);
    assert!(
        !d.contains("TOPSECRET"),
        "remote_src diff shows the target:\n{d}"
    );
    assert!(
        d.contains("from the host") && d.contains("symbolic link"),
        "{d}"
    );
}

#[tokio::test]
async fn cron_file_link_removal_diffs_the_link_and_edits_follow_it() {
    let e = Env::new("cronlink");
    e.write("shadow", &format!("{SECRET}\n"));
    e.link("shadow", "cron");
    let plan = e
        .plan("cron", json!({"cron_file": e.p("cron"), "state": "absent"}))
        .await;
    let d = diff_text(&plan);
    assert!(!plan.changes.is_empty());
    assert!(
        !d.contains("TOPSECRET"),
        "cron removal diff shows the target:\n{d}"
    );
    assert!(d.contains("symbolic link"), "{d}");

    // An edit goes through the link (like Ansible's cron and prov's lineinfile): the target is
    // what is written, so diffing it is right, and the link stays.
    e.write("shadow", "# jobs\n");
    e.run(
        "cron",
        json!({"cron_file": e.p("cron"), "name": "j", "job": "true", "user": "root"}),
    )
    .await;
    assert!(e.is_link("cron"), "the cron_file link was replaced");
    assert!(
        e.read("shadow").contains("#Ansible: j\n"),
        "{}",
        e.read("shadow")
    );
}

#[tokio::test]
async fn lineinfile_through_a_link_still_diffs_the_target() {
    // follow semantics: lineinfile writes the link's target, so its content is the "before".
    let e = Env::new("lineinfilelink");
    e.write("target", "a=1\n");
    e.link("target", "conf");
    let plan = e
        .plan("lineinfile", json!({"path": e.p("conf"), "line": "b=2"}))
        .await;
    let diff = plan.changes.iter().find_map(|c| c.diff.clone()).unwrap();
    assert_eq!(diff.before, "a=1\n");
    assert_eq!(diff.after, "a=1\nb=2\n");
}

#[test]
fn prov_run_diff_over_a_link_prints_no_target_content() {
    let p = Project::new("faults-diff-link");
    p.file("shadow", &format!("{SECRET}\n"));
    std::os::unix::fs::symlink(p.path("shadow"), p.path("dest")).unwrap();
    p.file("inv.ini", "localhost ansible_connection=local\n");
    p.file(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - copy:\n        content: \"new\\n\"\n        dest: \"{dir}/dest\"\n",
    );
    for extra in [&["--check"][..], &[][..]] {
        let mut args = vec!["run", "site.yml", "-i", "inv.ini", "--diff"];
        args.extend_from_slice(extra);
        let r = p.prov(&args);
        r.success();
        assert!(
            !r.stdout.contains("TOPSECRET") && !r.stderr.contains("TOPSECRET"),
            "prov run {args:?} printed the link's target:\n{}{}",
            r.stdout,
            r.stderr
        );
        r.stdout_has("symbolic link");
    }
    assert_eq!(p.read("dest"), "new\n");
    assert_eq!(p.read("shadow"), format!("{SECRET}\n"));
}

#[tokio::test]
async fn setuid_survives_an_owner_change_and_the_next_run_is_ok() {
    if !is_root() {
        eprintln!("SKIP: changing a file's owner needs root");
        return;
    }
    let e = Env::new("setuid");
    e.write("bin", "#!/bin/sh\n");
    std::fs::set_permissions(e.dir.join("bin"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(e.dir.join("bin"), Some(65534), Some(65534)).unwrap();
    let a = json!({"path": e.p("bin"), "mode": "04755", "owner": "root", "group": "root"});
    let plan = e.run("file", a.clone()).await;
    // Ansible's file module writes the mode as '0%03o'.
    assert_eq!(
        plan.result.get("mode").and_then(|v| v.as_str()),
        Some("04755")
    );
    assert_eq!(e.mode("bin"), 0o4755, "setuid lost on disk");
    let md = std::fs::metadata(e.dir.join("bin")).unwrap();
    assert_eq!((md.uid(), md.gid()), (0, 0));
    let again = e.plan("file", a).await;
    assert!(
        again.changes.is_empty(),
        "second run changed again: {}",
        summaries(&again)
    );

    // A file created by state=touch gets its owner first, its mode last.
    let t = json!({"path": e.p("new"), "state": "touch", "mode": "06755", "owner": "nobody", "group": "root"});
    e.run("file", t).await;
    assert_eq!(
        e.mode("new"),
        0o6755,
        "setuid/setgid lost on a touched file"
    );

    // copy with identical content only changes attributes (the shared attr_change helper).
    e.write("same", "x\n");
    std::os::unix::fs::chown(e.dir.join("same"), Some(65534), Some(65534)).unwrap();
    let c = json!({"content": "x\n", "dest": e.p("same"), "mode": "02755", "owner": "root", "group": "root"});
    e.run("copy", c.clone()).await;
    assert_eq!(
        e.mode("same"),
        0o2755,
        "setgid lost by copy's attribute change"
    );
    assert!(e.plan("copy", c).await.changes.is_empty());
}

#[tokio::test]
async fn authorized_key_without_follow_never_reads_a_linked_file() {
    // A user's ~/.ssh/authorized_keys pointing at a secret: without follow, the link is replaced
    // by a file with the managed keys only; the target is not copied, shown or changed.
    let e = Env::new("aklink");
    e.write("shadow", &format!("{SECRET}\n"));
    e.link("shadow", "ak");
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq9m4cVfQh1CvyyJm7zI3Rm1kK3d5m4P2lPp0fA4h9a me@x";
    let a = json!({"user": "root", "key": key, "path": e.p("ak"), "manage_dir": false});
    let plan = e.plan("authorized_key", a.clone()).await;
    let d = diff_text(&plan);
    assert!(
        !d.contains("TOPSECRET"),
        "authorized_key diff shows the target:\n{d}"
    );
    assert!(d.contains("symbolic link"), "{d}");
    e.run("authorized_key", a.clone()).await;
    assert!(!e.is_link("ak"));
    assert_eq!(e.read("ak"), format!("{key}\n"));
    assert_eq!(e.read("shadow"), format!("{SECRET}\n"));
    assert!(e.plan("authorized_key", a).await.changes.is_empty());
}

#[tokio::test]
async fn copy_replaces_a_link_even_with_the_same_content_and_never_chowns_its_target() {
    if !is_root() {
        eprintln!("SKIP: changing a file's owner needs root");
        return;
    }
    let e = Env::new("samelink");
    e.write("target", "same\n");
    std::os::unix::fs::chown(e.dir.join("target"), Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(e.dir.join("target"), std::fs::Permissions::from_mode(0o644)).unwrap();
    e.link("target", "dest");
    let a = json!({"content": "same\n", "dest": e.p("dest"), "owner": "root", "mode": "0600"});
    let plan = e.plan("copy", a.clone()).await;
    assert!(
        summaries(&plan).contains("replace link"),
        "{}",
        summaries(&plan)
    );
    e.run("copy", a.clone()).await;
    assert!(!e.is_link("dest"));
    let md = std::fs::metadata(e.dir.join("target")).unwrap();
    assert_eq!(md.uid(), 65534, "the link's target was chowned through it");
    assert_eq!(md.permissions().mode() & 0o7777, 0o644);
    assert!(e.plan("copy", a).await.changes.is_empty());
}

#[tokio::test]
async fn unarchive_with_an_owner_keeps_setuid_members_and_odd_names() {
    if !is_root() {
        eprintln!("SKIP: changing a file's owner needs root");
        return;
    }
    let e = Env::new("unarchive-suid");
    std::fs::create_dir_all(e.dir.join("src/bin")).unwrap();
    std::fs::create_dir_all(e.dir.join("out")).unwrap();
    std::fs::write(e.dir.join("src/bin/tool"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        e.dir.join("src/bin/tool"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    // A member named like an option.
    std::fs::write(e.dir.join("src/-rf"), "x\n").unwrap();
    let ok = std::process::Command::new("tar")
        .args(["-C", &e.p("src"), "-czf", &e.p("a.tgz"), "bin", "--", "-rf"])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let a = json!({"src": e.p("a.tgz"), "dest": e.p("out"), "owner": "nobody"});
    e.run("unarchive", a.clone()).await;
    assert_eq!(
        e.mode("out/bin/tool"),
        0o4755,
        "setuid lost by the owner change"
    );
    let md = std::fs::metadata(e.dir.join("out/bin/tool")).unwrap();
    assert_eq!(md.uid(), 65534);
    assert_eq!(
        std::fs::metadata(e.dir.join("out/-rf")).unwrap().uid(),
        65534
    );
    let again = e.plan("unarchive", a).await;
    assert!(again.changes.is_empty(), "{}", summaries(&again));
}
