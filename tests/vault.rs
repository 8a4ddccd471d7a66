//! `prov vault` against ansible-vault (ansible-core from PyPI, the targets harness's reference
//! virtualenv): what one encrypts the other decrypts, vault ids, rekey, edit, encrypt_string,
//! and playbook runs with several vault ids.

mod common;

use common::Project;
use std::path::PathBuf;
use std::process::Command;

/// ansible-vault of the reference virtualenv (`tests/ansible-targets/run.sh --venv-only`).
fn ansible_vault() -> Option<PathBuf> {
    common::ansible_core()?;
    let v = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/ansible-targets/venv/bin/ansible-vault");
    v.exists().then_some(v)
}

/// Runs ansible-vault in the project; returns (exit code, stdout, stderr).
fn av(p: &Project, bin: &PathBuf, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .current_dir(&p.dir)
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn project() -> Project {
    let p = Project::new("vault");
    p.file("pw1", "first\n").file("pw2", "second\n");
    p
}

#[test]
fn files_encrypted_by_one_tool_decrypt_with_the_other() {
    let Some(bin) = ansible_vault() else {
        eprintln!("SKIP: no ansible-vault (tests/ansible-targets/run.sh --venv-only)");
        return;
    };
    let p = project();
    let text = "db_password: s3cret\nlist: [1, 2]\n";
    // prov encrypts (1.1), ansible-vault reads it
    p.file("a.yml", text);
    p.prov(&["vault", "encrypt", "a.yml", "--vault-password-file", "pw1"])
        .success();
    let enc = p.read("a.yml");
    assert!(enc.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"), "{enc}");
    assert!(enc.lines().skip(1).all(|l| l.len() <= 80));
    assert_eq!(common::mode_of(&p.path("a.yml")) & 0o777, 0o644);
    let (code, out, err) = av(&p, &bin, &["view", "a.yml", "--vault-password-file", "pw1"]);
    assert_eq!((code, out.as_str()), (0, text), "{err}");
    // ansible-vault encrypts with a vault id (1.2), prov reads it, trying the id it names
    p.file("b.yml", text);
    let (code, _, err) = av(&p, &bin, &["encrypt", "b.yml", "--vault-id", "prod@pw2"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        p.read("b.yml")
            .starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n")
    );
    p.prov(&[
        "vault",
        "view",
        "b.yml",
        "--vault-id",
        "dev@pw1",
        "--vault-id",
        "prod@pw2",
    ])
    .success()
    .stdout_has("db_password: s3cret");
    p.prov(&[
        "vault",
        "decrypt",
        "b.yml",
        "--output",
        "-",
        "--vault-id",
        "prod@pw2",
    ])
    .success()
    .stdout_has("list: [1, 2]");
    // prov encrypts with a vault id: the same 1.2 header, read by ansible-vault
    p.file("c.yml", text);
    p.prov(&[
        "vault",
        "encrypt",
        "c.yml",
        "--vault-id",
        "dev@pw1",
        "--vault-id",
        "prod@pw2",
        "--encrypt-vault-id",
        "prod",
    ])
    .success();
    assert!(
        p.read("c.yml")
            .starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n")
    );
    let (code, out, _) = av(
        &p,
        &bin,
        &[
            "decrypt",
            "c.yml",
            "--output",
            "-",
            "--vault-id",
            "prod@pw2",
        ],
    );
    assert_eq!((code, out.as_str()), (0, text));
    // rekey by prov, read by ansible-vault with the new id only
    p.prov(&[
        "vault",
        "rekey",
        "b.yml",
        "--vault-id",
        "prod@pw2",
        "--new-vault-id",
        "next@pw1",
    ])
    .success()
    .stderr_has("Rekey successful");
    assert!(
        p.read("b.yml")
            .starts_with("$ANSIBLE_VAULT;1.2;AES256;next\n")
    );
    let (code, out, _) = av(&p, &bin, &["view", "b.yml", "--vault-id", "next@pw1"]);
    assert_eq!((code, out.as_str()), (0, text));
    // decrypt in place
    p.prov(&["vault", "decrypt", "a.yml", "--vault-password-file", "pw1"])
        .success();
    assert_eq!(p.read("a.yml"), text);
    // Ansible's messages
    p.prov(&["vault", "view", "c.yml", "--vault-password-file", "pw1"])
        .code(1)
        .stderr_has(
            "Decryption failed (no vault secrets were found that could decrypt). for c.yml",
        );
    p.prov(&["vault", "encrypt", "c.yml", "--vault-password-file", "pw1"])
        .code(1)
        .stderr_has("input is already encrypted");
    p.prov(&["vault", "encrypt", "a.yml", "--vault-id", "a@pw1", "--vault-id", "b@pw2"])
        .code(5)
        .stderr_has("The vault-ids a,b are available to encrypt. Specify the vault-id to encrypt with --encrypt-vault-id");
}

#[test]
fn encrypted_strings_work_in_both_tools_playbooks() {
    let Some(bin) = ansible_vault() else {
        eprintln!("SKIP: no ansible-vault (tests/ansible-targets/run.sh --venv-only)");
        return;
    };
    let p = project();
    // one value from prov (vault id dev), one from ansible-vault (vault id prod)
    let ours = p.prov(&[
        "vault",
        "encrypt_string",
        "from prov",
        "--name",
        "ours",
        "--vault-id",
        "dev@pw1",
    ]);
    ours.success();
    assert!(
        ours.stdout
            .starts_with("ours: !vault |\n          $ANSIBLE_VAULT;1.2;AES256;dev\n"),
        "{}",
        ours.stdout
    );
    let (code, theirs, err) = av(
        &p,
        &bin,
        &[
            "encrypt_string",
            "from ansible",
            "--name",
            "theirs",
            "--vault-id",
            "prod@pw2",
        ],
    );
    assert_eq!(code, 0, "{err}");
    p.file("vars.yml", &format!("{}{}", ours.stdout, theirs))
        .file(
            "pb.yml",
            "- hosts: localhost\n  gather_facts: false\n  vars_files: [vars.yml]\n  tasks:\n    - assert:\n        that:\n          - ours == 'from prov'\n          - theirs == 'from ansible'\n",
        );
    p.prov(&[
        "run",
        "pb.yml",
        "-i",
        "localhost,",
        "-c",
        "local",
        "--vault-id",
        "dev@pw1",
        "--vault-id",
        "prod@pw2",
    ])
    .success();
    // ansible-playbook reads prov's value too
    let playbook = bin.with_file_name("ansible-playbook");
    let out = Command::new(&playbook)
        .args([
            "pb.yml",
            "-i",
            "localhost,",
            "-c",
            "local",
            "--vault-id",
            "dev@pw1",
            "--vault-id",
            "prod@pw2",
        ])
        .current_dir(&p.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // a missing id's value cannot be read: the run says which variable
    p.prov(&[
        "run",
        "pb.yml",
        "-i",
        "localhost,",
        "-c",
        "local",
        "--vault-id",
        "dev@pw1",
    ])
    .code(2)
    .stdout_has("theirs");
}

#[test]
fn edit_uses_a_private_temp_file_and_keeps_the_vault_id() {
    let Some(bin) = ansible_vault() else {
        eprintln!("SKIP: no ansible-vault (tests/ansible-targets/run.sh --venv-only)");
        return;
    };
    let p = project();
    p.file("s.yml", "a: 1\n");
    p.prov(&["vault", "encrypt", "s.yml", "--vault-id", "prod@pw2"])
        .success();
    // The "editor" appends a line, and records the file it got and that file's mode.
    let log = p.path("editor.log");
    p.file(
        "editor.sh",
        &format!(
            "#!/bin/sh\nprintf 'b: 2\\n' >> \"$1\"\necho \"$1 $(stat -c %a \"$1\") $(stat -c %a \"$(dirname \"$1\")\")\" > {}\n",
            log.display()
        ),
    );
    Command::new("chmod")
        .args(["+x", "editor.sh"])
        .current_dir(&p.dir)
        .status()
        .unwrap();
    let editor = p.path("editor.sh");
    p.prov_env(
        &["vault", "edit", "s.yml", "--vault-id", "prod@pw2"],
        &[("EDITOR", editor.as_os_str())],
    )
    .success();
    let (code, out, _) = av(&p, &bin, &["view", "s.yml", "--vault-id", "prod@pw2"]);
    assert_eq!((code, out.as_str()), (0, "a: 1\nb: 2\n"));
    assert!(
        p.read("s.yml")
            .starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n")
    );
    let seen = p.read("editor.log");
    let mut w = seen.split_whitespace();
    let (tmp, mode, dir_mode) = (w.next().unwrap(), w.next().unwrap(), w.next().unwrap());
    assert_eq!((mode, dir_mode), ("600", "700"), "{seen}");
    assert!(
        !std::path::Path::new(tmp).exists(),
        "the plaintext was left at {tmp}"
    );
    // An editor that fails leaves the file as it was.
    p.file("fail.sh", "#!/bin/sh\necho x >> \"$1\"\nexit 3\n");
    Command::new("chmod")
        .args(["+x", "fail.sh"])
        .current_dir(&p.dir)
        .status()
        .unwrap();
    let before = p.read("s.yml");
    let fail = p.path("fail.sh");
    p.prov_env(
        &["vault", "edit", "s.yml", "--vault-id", "prod@pw2"],
        &[("EDITOR", fail.as_os_str())],
    )
    .code(1);
    assert_eq!(p.read("s.yml"), before);
}

/// Whole vault-encrypted `group_vars`/`host_vars` files (the usual `group_vars/all/vault.yml`)
/// are decrypted when the inventory loads, as ansible-core does; without a password the run
/// stops with Ansible's message naming the file. Files from ansible-vault read the same, and an
/// encrypted `-e @file` too.
#[test]
fn vaulted_group_vars_files_are_decrypted_when_the_inventory_loads() {
    let p = project();
    p.file("inv.ini", "[web]\nlocalhost ansible_connection=local\n")
        .file("group_vars/web/vars.yml", "plain: visible\n")
        .file("group_vars/web/vault.yml", "db_password: hunter2\n")
        .file(
            "pb.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - assert:\n        that:\n          - db_password == 'hunter2'\n          - plain == 'visible'\n          - (host_secret | default('none')) in ['none', 'from ansible-vault']\n",
        );
    p.prov(&[
        "vault",
        "encrypt",
        "--vault-password-file",
        "pw1",
        "group_vars/web/vault.yml",
    ])
    .success();
    let enc = std::fs::read_to_string(p.path("group_vars/web/vault.yml")).unwrap();
    assert!(enc.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"), "{enc}");
    if let Some(bin) = ansible_vault() {
        p.file(
            "host_vars/localhost.yml",
            "host_secret: from ansible-vault\n",
        );
        let (code, _, err) = av(
            &p,
            &bin,
            &[
                "encrypt",
                "--vault-password-file",
                "pw1",
                "host_vars/localhost.yml",
            ],
        );
        assert_eq!(code, 0, "{err}");
    }
    p.prov(&[
        "run",
        "pb.yml",
        "-i",
        "inv.ini",
        "--vault-password-file",
        "pw1",
    ])
    .success();
    // an encrypted file given as extra vars is read the same way
    p.prov(&[
        "run",
        "pb.yml",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        "@group_vars/web/vault.yml",
        "-e",
        "plain=visible",
        "--vault-password-file",
        "pw1",
    ])
    .success();
    p.prov(&["run", "pb.yml", "-i", "inv.ini"])
        .code(1)
        .stderr_has("Attempting to decrypt but no vault secrets found")
        .stderr_has("vault.yml");
    p.prov(&[
        "run",
        "pb.yml",
        "-i",
        "inv.ini",
        "--vault-password-file",
        "pw2",
    ])
    .code(1)
    .stderr_has("group_vars/web/vault.yml");
}
