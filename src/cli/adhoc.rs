//! `prov adhoc PATTERN -m MODULE -a ARGS`: one task on the matching hosts, like the `ansible`
//! command. The task runs as a one-task play (`hosts: PATTERN`, no fact gathering) through the
//! same engine as `prov run`, so every module, option and connection setting behaves the same.

use super::{
    AdhocArgs, Config, load_inventory_with, run_options, run_playbooks, runner_for, sink_for,
};
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::modules::Registry;
use crate::output::AdhocSink;
use crate::playbook::Loader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The one-play playbook of an ad-hoc command, as YAML text: `args` is the module's free-form
/// or `k=v` text (or a JSON object, as `ansible -a '{"k": 1}'` accepts), parsed like the same
/// text in a task.
pub(super) fn adhoc_playbook(pattern: &str, module: &str, args: &str) -> Result<String> {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let trimmed = args.trim();
    let args = if trimmed.is_empty() {
        "null".to_string()
    } else if trimmed.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(trimmed).map_err(|e| {
            Error::options(format!("-a: not a JSON object: {e}"))
                .hint("give the module's arguments as k=v pairs or a JSON object")
        })?;
        v.to_string()
    } else {
        q(args)
    };
    Ok(format!(
        "- name: Ansible Ad-Hoc\n  hosts: {}\n  gather_facts: false\n  tasks:\n    - {}: {}\n",
        q(pattern),
        q(module),
        args
    ))
}

/// Runs `prov adhoc`.
pub(super) async fn adhoc(a: AdhocArgs, cfg: &Config) -> Result<i32> {
    let registry = Registry::builtin();
    // `--playbook-dir`, else `playbook_dir` of ansible.cfg (`ANSIBLE_PLAYBOOK_DIR`).
    let configured = cfg
        .get("defaults", "playbook_dir", "ANSIBLE_PLAYBOOK_DIR")
        .map(|v| cfg.path(&v));
    let dir = match a.playbook_dir.clone().or(configured) {
        Some(d) => d,
        None => std::env::current_dir().map_err(|e| Error::io(Path::new("."), e))?,
    };
    let text = adhoc_playbook(&a.pattern, &a.module, &a.args)?;
    let loader = Loader::new(&registry)
        .roles_path(super::roles_path(cfg))
        .extra_vars(super::parse_extra_vars_with(
            &a.common.extra_vars,
            &a.common.vault.secrets(cfg)?,
        )?)
        .gather_by_default(false);
    let name = PathBuf::from(format!("<adhoc '{}' task>", a.module));
    let playbook = loader.load_playbook_text(&text, &name, &dir)?;
    let inventory = load_inventory_with(&a.common, cfg, &[dir.as_path()])?;
    if a.list_hosts {
        let mut hosts = inventory.select(&a.pattern)?;
        if let Some(l) = &a.exec.limit {
            inventory.limit(&mut hosts, l)?;
        }
        super::write_stdout(format_args!("  hosts ({}):\n", hosts.len()))?;
        for h in hosts {
            super::write_stdout(format_args!("    {h}\n"))?;
        }
        return Ok(0);
    }
    let opts = run_options(&a.common, &a.exec, cfg)?;
    let runner = runner_for(inventory, registry, &opts, &a.common, &a.exec, cfg)?;
    let module = crate::modules::canonical_name(&a.module).to_string();
    let (one_line, verbose) = (a.one_line, a.common.verbose);
    let runner = runner.sink(sink_for(&a.exec, |color| -> Arc<dyn Sink> {
        Arc::new(AdhocSink::new(&module, one_line, verbose, color))
    })?);
    run_playbooks(&runner, std::slice::from_ref(&playbook)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playbook_text() {
        let t = adhoc_playbook("web:&db", "command", "echo 'a b'").unwrap();
        assert!(t.contains("hosts: \"web:&db\""), "{t}");
        assert!(t.contains("- \"command\": \"echo 'a b'\""), "{t}");
        let t = adhoc_playbook("all", "ping", "").unwrap();
        assert!(t.contains("- \"ping\": null"), "{t}");
        let t = adhoc_playbook("all", "copy", r#"{"content": "x\n", "dest": "/tmp/x"}"#).unwrap();
        assert!(t.contains(r#"{"content":"x\n","dest":"/tmp/x"}"#), "{t}");
        assert!(adhoc_playbook("all", "copy", "{nope").is_err());
    }
}
