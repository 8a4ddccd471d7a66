//! The rest of an Ansible user's toolbox: `prov roles install` (ansible-galaxy's role
//! installs) from local git repositories, tarballs and folders.

mod common;

use common::Project;
use std::process::Command;

fn sh(dir: &std::path::Path, script: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn roles_install_from_git_tarballs_and_folders() {
    let p = Project::new("roles-install");
    // A git repository with two tagged versions of a role.
    p.file(
        "src/web/tasks/main.yml",
        "- debug: msg=\"web {{ 'one' }}\"\n",
    )
    .file("src/web/meta/main.yml", "galaxy_info: {author: t}\n");
    sh(
        &p.path("src/web"),
        "git init -q -b main && git add -A && git commit -qm one && git tag v1.0 && \
         printf -- '- debug: msg=\"web two\"\\n' > tasks/main.yml && git commit -qam two && git tag v2.0",
    );
    // A tarball holding the role's folder, and a plain folder.
    p.file("src/db/tasks/main.yml", "- debug: msg=db\n")
        .file("src/app/tasks/main.yml", "- debug: msg=app\n");
    sh(&p.path("src"), "tar -czf db.tar.gz db");
    p.file(
        "requirements.yml",
        "roles:\n  - src: src/web\n    scm: git\n    version: v1.0\n    name: web\n  - src: src/db.tar.gz\n  - src: src/app\n    name: app\n",
    )
    .file(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  roles: [web, db, app]\n",
    );
    let install = |extra: &[&str]| {
        let mut a = vec!["roles", "install", "-r", "requirements.yml", "-p", "roles"];
        a.extend_from_slice(extra);
        p.prov(&a)
    };
    install(&[])
        .success()
        .stdout_has("- web (v1.0) was installed successfully")
        .stdout_has("- db (unknown version) was installed successfully");
    assert!(p.exists("roles/web/tasks/main.yml") && !p.exists("roles/web/.git"));
    assert!(p.exists("roles/db/tasks/main.yml"));
    assert!(
        p.read("roles/web/meta/.galaxy_install_info")
            .contains("version: 'v1.0'")
    );
    p.prov(&["run", "site.yml", "-i", "localhost,", "-c", "local"])
        .success()
        .stdout_has("web one")
        .stdout_has("\"msg\": \"db\"");
    // Idempotent: nothing is fetched again; no temp folders are left.
    let before = std::fs::metadata(p.path("roles/web/tasks/main.yml"))
        .unwrap()
        .modified()
        .unwrap();
    install(&[])
        .success()
        .stdout_has("- web (v1.0) is already installed, skipping.");
    let after = std::fs::metadata(p.path("roles/web/tasks/main.yml"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
    let leftovers: Vec<_> = std::fs::read_dir(p.path("roles"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".prov-role"))
        .collect();
    assert!(leftovers.is_empty());
    // Another version: refused without --force, installed with it.
    p.file(
        "requirements.yml",
        &p.read("requirements.yml")
            .replace("version: v1.0", "version: v2.0"),
    );
    install(&[]).code(1).stderr_has("use --force to replace it");
    assert!(p.read("roles/web/tasks/main.yml").contains("one"));
    install(&["--force"]).success();
    assert!(p.read("roles/web/tasks/main.yml").contains("web two"));
    // A Galaxy name is refused clearly; the others still install.
    p.file(
        "galaxy.yml",
        "- name: geerlingguy.docker\n- src: git+src/web,v1.0,web1\n",
    );
    p.prov(&["roles", "install", "-r", "galaxy.yml", "-p", "roles"])
        .code(1)
        .stderr_has("'geerlingguy.docker' is a Galaxy name: installing from a Galaxy server is not supported yet");
    assert!(p.read("roles/web1/tasks/main.yml").contains("one"));
    // A bad version fails and leaves nothing half-installed.
    p.prov(&["roles", "install", "git+src/web,v9.9,broken", "-p", "roles"])
        .code(1)
        .stderr_has("git checkout v9.9");
    assert!(!p.exists("roles/broken"));
}
