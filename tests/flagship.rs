//! The flagship, end to end, on real hosts: `tests/e2e/site.sh` runs `playbooks/site.yaml` from
//! three bare lab hosts (systemd-nspawn Debian, see `tests/lab/`) and a local EC2 emulator
//! (moto) to a verified PostgreSQL HA cluster on Docker Swarm; reads the security group back;
//! asserts changed=0 on a second run; changes one HAProxy setting and checks `--check --diff`
//! shows exactly that and changes nothing, then applies it; stops the node holding the primary
//! and requires a write through every surviving node's HAProxy within 60 s; tears it all down.
//! The script prints the cold, idempotent and failover times.
//!
//! Requirements: root and PROV_LAB=1, otherwise the test prints `SKIP: ...` and passes. It takes
//! about 4-5 minutes (the image is built on every host).

use std::path::PathBuf;

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[test]
fn site_playbook_end_to_end_in_the_lab() {
    if std::env::var_os("PROV_LAB").is_none() || !is_root() {
        eprintln!(
            "SKIP: the flagship end-to-end test needs root and PROV_LAB=1 (bash .ci/run sets both)"
        );
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let timings = std::env::temp_dir().join(format!("prov-e2e-timings-{}", std::process::id()));
    // The script's own output (phases, times) goes straight to the test's stderr.
    let status = std::process::Command::new("bash")
        .arg(root.join("tests/e2e/site.sh"))
        .env("PROV", env!("CARGO_BIN_EXE_prov"))
        .env("PROV_E2E_TIMINGS", &timings)
        .current_dir(&root)
        .status()
        .expect("cannot run tests/e2e/site.sh");
    let summary = std::fs::read_to_string(&timings).unwrap_or_default();
    let _ = std::fs::remove_file(&timings);
    assert!(status.success(), "tests/e2e/site.sh failed ({status})");
    assert!(
        summary.contains("changed=0") && summary.contains("failover"),
        "the script passed but wrote no timings: {summary:?}"
    );
    eprintln!("flagship: {}", summary.trim());
}
