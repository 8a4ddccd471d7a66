//! The commands that only read: `--list-*` of `prov run`, `prov check`, `prov inventory`
//! and `prov doc`.

use super::*;

pub(super) fn list(runner: &Runner, pb: &Playbook, a: &RunArgs, opts: &RunOptions) -> Result<()> {
    outln!("\nplaybook: {}", pb.path.display());
    for (i, play) in pb.plays.iter().enumerate() {
        let name = play.name.clone().unwrap_or_default();
        let tags = &play
            .pre_tasks
            .first()
            .map(|t| t.tags.clone())
            .unwrap_or_default();
        let _ = tags;
        outln!("\n  play #{} ({}): {}", i + 1, play.hosts, name);
        if a.list_hosts {
            let hosts = runner.play_hosts(play)?;
            outln!("    pattern: ['{}']", play.hosts);
            outln!("    hosts ({}):", hosts.len());
            for h in hosts {
                outln!("      {h}");
            }
        }
        let all: Vec<&Task> = play
            .pre_tasks
            .iter()
            .chain(play.role_tasks.iter())
            .chain(play.tasks.iter())
            .chain(play.post_tasks.iter())
            .collect();
        let mut flat = Vec::new();
        for t in all {
            flatten(t, &mut flat);
        }
        if a.list_tasks {
            outln!("    tasks:");
            for t in &flat {
                if !selected(t, opts) {
                    continue;
                }
                // Sorted, as Ansible lists them.
                let mut tags = t.tags.clone();
                tags.sort();
                tags.dedup();
                outln!("      {}\tTAGS: [{}]", t.display_name(), tags.join(", "));
            }
        }
        if a.list_tags {
            let mut tags: Vec<String> = flat.iter().flat_map(|t| t.tags.clone()).collect();
            tags.sort();
            tags.dedup();
            outln!("      TASK TAGS: [{}]", tags.join(", "));
        }
    }
    Ok(())
}

pub(super) fn selected(t: &Task, opts: &RunOptions) -> bool {
    crate::engine::tags_selected(&t.tags, opts)
}

pub(super) fn flatten<'a>(t: &'a Task, out: &mut Vec<&'a Task>) {
    match &t.kind {
        TaskKind::Block {
            block,
            rescue,
            always,
        } => {
            for x in block.iter().chain(rescue).chain(always) {
                flatten(x, out);
            }
        }
        // prov's hidden tasks (a role's end) are not listed nor counted.
        _ if t.is_implicit() => {}
        _ => out.push(t),
    }
}

pub(super) fn check(a: CheckArgs, cfg: &Config) -> Result<i32> {
    let registry = Registry::builtin();
    let playbooks = load_playbooks(&a.playbooks, &registry, cfg, &a.common, true)?;
    let inventory = load_inventory(&a.common, cfg, &a.playbooks)?;
    let runner = Runner::new(inventory, Registry::builtin());
    let mut warnings = 0;
    for pb in &playbooks {
        let mut tasks = 0;
        for play in &pb.plays {
            let mut flat = Vec::new();
            for t in play
                .pre_tasks
                .iter()
                .chain(&play.role_tasks)
                .chain(&play.tasks)
                .chain(&play.post_tasks)
                .chain(&play.handlers)
            {
                flatten(t, &mut flat);
            }
            tasks += flat.len();
            if !play.hosts.contains("{{") && runner.play_hosts(play)?.is_empty() {
                errln!(
                    "[WARNING]: {}: play '{}' matches no hosts in the inventory",
                    play.loc,
                    play.hosts
                );
                warnings += 1;
            }
        }
        outln!(
            "{}: ok ({} plays, {} tasks)",
            pb.path.display(),
            pb.plays.len(),
            tasks
        );
    }
    let _ = warnings;
    Ok(0)
}

pub(super) fn inventory(a: InvArgs, cfg: &Config) -> Result<i32> {
    let inv = Inventory::load(&inventory_sources(&a.common, cfg))?;
    for w in &inv.warnings {
        errln!("[WARNING]: {w}");
    }
    if let Some(h) = &a.host {
        let vars = inv.host_vars(h);
        outln!(
            "{}",
            serde_json::to_string_pretty(&crate::value::to_json(&crate::value::vars_value(&vars)))
                .unwrap_or_default()
        );
    } else if a.graph {
        out!("{}", inv.graph());
    } else if a.list {
        outln!(
            "{}",
            serde_json::to_string_pretty(&inv.list_json()).unwrap_or_default()
        );
    } else {
        return Err(Error::options(
            "prov inventory needs --list, --graph or --host HOST",
        ));
    }
    Ok(0)
}

pub(super) fn doc(a: DocArgs) -> Result<i32> {
    let registry = Registry::builtin();
    match a.module {
        Some(name) if a.json && !a.list => outln!("{}", doc_json(&registry, &name)?),
        Some(name) if !a.list => outln!("{}", doc_text(&registry, &name)?),
        _ => {
            for (name, short) in doc_rows(&registry) {
                outln!("{name:<22} {short}");
            }
        }
    }
    Ok(0)
}

/// `prov doc --list`: every module and every engine action of the actions table, by name.
pub(super) fn doc_rows(registry: &Registry) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = registry
        .names()
        .filter_map(|n| {
            registry
                .get(n)
                .map(|m| (n.to_string(), m.doc().short.to_string()))
        })
        .collect();
    for a in actions::ACTIONS {
        if registry.get(a.name).is_none() && a.doc.is_some() {
            rows.push((a.name.to_string(), a.short(None).to_string()));
        }
    }
    rows.sort();
    rows
}

/// `prov doc --json NAME`: the module's option spec, else the action's, as JSON.
pub(super) fn doc_json(registry: &Registry, name: &str) -> Result<String> {
    let doc = registry
        .get(name)
        .map(|m| m.doc())
        .or_else(|| actions::find(name).and_then(|a| a.doc));
    match doc {
        Some(d) => Ok(serde_json::to_string_pretty(&d.to_json()).unwrap_or_default()),
        None => doc_text(registry, name),
    }
}

/// `prov doc NAME`: an action's spec and what the engine does with it, or a module's doc.
pub(super) fn doc_text(registry: &Registry, name: &str) -> Result<String> {
    let module = registry.get(name).map(|m| m.doc());
    if let Some(a) = actions::find(name)
        && (a.doc.is_some() || module.is_some())
    {
        return Ok(a.render(module));
    }
    match module {
        Some(d) => Ok(d.render()),
        // Not native: Ansible's module the fallback would run, with its documented options.
        None if let Some(found) = crate::modules::fallback::find(name)
            && let Some(d) = crate::modules::fallback::docs::module_doc(&found) =>
        {
            Ok(format!(
                "{}\n(Ansible's module, run by the module fallback: {})\n",
                d.render().trim_end(),
                found.path.display()
            ))
        }
        None => {
            let mut e = Error::options(format!("no module named '{name}'"));
            let names = registry
                .names()
                .chain(actions::ACTIONS.iter().map(|a| a.name));
            if let Some(s) = crate::error::did_you_mean(name, names) {
                e = e.hint(format!("did you mean '{s}'?"));
            }
            Err(e)
        }
    }
}
