//! `prov recap EVENTS...`: the PLAY RECAP and exit code of several runs' JSON event streams
//! merged: the shards of `prov run --shard K/N` (each its own controller, say the pods of a
//! Kubernetes Indexed Job) read as one run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args as ClapArgs;
use serde_json::Value as Json;

use super::{ColorChoice, OutputFormat, write_stdout};
use crate::error::{Error, Result};
use crate::events::{Event, HostStats, Recap, Sink};
use crate::output::{HumanOptions, HumanSink, event_json};

#[derive(ClapArgs, Debug)]
pub(super) struct RecapArgs {
    /// JSON Lines event files, one per run (`prov run --output json` or `--events-file`);
    /// other lines in them are ignored.
    #[arg(value_name = "EVENTS", required = true)]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long = "output", value_enum, default_value = "human")]
    output: OutputFormat,
    /// Colour output.
    #[arg(long = "color", value_enum, default_value = "auto")]
    color: ColorChoice,
}

/// The recaps one run's events hold (one per playbook), with their exit codes.
fn read_recaps(path: &Path) -> Result<Vec<(Recap, i32)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if !line.starts_with('{') {
            continue;
        }
        let ev: Json = serde_json::from_str(line).map_err(|e| {
            Error::parse(format!(
                "{}:{}:1: not a JSON event: {e}",
                path.display(),
                i + 1
            ))
            .hint("give the files `prov run --output json` or `--events-file` wrote")
        })?;
        if ev.get("event").and_then(Json::as_str) != Some("recap") {
            continue;
        }
        let mut recap = Recap::default();
        for (host, s) in ev
            .get("hosts")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
        {
            let n = |k: &str| s.get(k).and_then(Json::as_u64).unwrap_or(0) as u32;
            recap.hosts.insert(
                host.clone(),
                HostStats {
                    ok: n("ok"),
                    changed: n("changed"),
                    unreachable: n("unreachable"),
                    failed: n("failed"),
                    skipped: n("skipped"),
                    rescued: n("rescued"),
                    ignored: n("ignored"),
                },
            );
        }
        recap.errors_cleared = ev
            .get("errors_cleared")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str().map(String::from))
            .collect();
        let code = ev.get("exit_code").and_then(Json::as_i64).unwrap_or(0) as i32;
        out.push((recap, code));
    }
    Ok(out)
}

/// Merges the runs' recaps playbook by playbook (the first recap of every run, then the
/// second, ...). Returns the merged recaps, the exit code (the worst run's; 1 when a run has
/// no recap, as it did not finish) and warnings.
pub fn merge(runs: &[(String, Vec<(Recap, i32)>)]) -> (Vec<Recap>, i32, Vec<String>) {
    let mut merged: Vec<Recap> = Vec::new();
    let mut code = 0;
    let mut warnings = Vec::new();
    let mut owner: indexmap::IndexMap<String, String> = indexmap::IndexMap::new();
    for (name, recaps) in runs {
        if recaps.is_empty() {
            warnings.push(format!("{name}: no recap: that run did not finish"));
            code = code.max(1);
        }
        for (i, (r, c)) in recaps.iter().enumerate() {
            code = code.max(*c);
            if merged.len() <= i {
                merged.push(Recap::default());
            }
            let m = &mut merged[i];
            for (host, s) in &r.hosts {
                match owner.get(host) {
                    Some(other) if other != name && i == 0 => warnings.push(format!(
                        "host {host} is in {other} and in {name}: the runs overlap"
                    )),
                    _ => {
                        owner.insert(host.clone(), name.clone());
                    }
                }
                let t = m.hosts.entry(host.clone()).or_default();
                t.ok += s.ok;
                t.changed += s.changed;
                t.unreachable += s.unreachable;
                t.failed += s.failed;
                t.skipped += s.skipped;
                t.rescued += s.rescued;
                t.ignored += s.ignored;
            }
            m.errors_cleared.extend(r.errors_cleared.iter().cloned());
        }
    }
    for m in &merged {
        code = code.max(m.exit_code());
    }
    (merged, code, warnings)
}

pub(super) fn recap(a: RecapArgs) -> Result<i32> {
    let mut runs = Vec::new();
    for f in &a.files {
        runs.push((f.display().to_string(), read_recaps(f)?));
    }
    let (merged, code, warnings) = merge(&runs);
    if a.output == OutputFormat::Json {
        // The merged events only (no `changes` summary: the shards' events hold no tasks here).
        for w in warnings {
            errln!("[WARNING]: {w}");
        }
        for m in merged {
            write_stdout(format_args!("{}\n", event_json(&Event::Recap(m))))?;
        }
        return Ok(code);
    }
    let sink: Arc<dyn Sink> = match a.output {
        OutputFormat::Json => unreachable!("handled above"),
        OutputFormat::Human => Arc::new(HumanSink::new(HumanOptions {
            color: a.color.on(),
            ..Default::default()
        })),
    };
    for w in warnings {
        sink.event(&Event::Warning(w));
    }
    for m in merged {
        sink.event(&Event::Recap(m));
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recap(hosts: &[(&str, u32, u32)], code: i32) -> (Recap, i32) {
        let mut r = Recap::default();
        for (h, ok, failed) in hosts {
            r.hosts.insert(
                h.to_string(),
                HostStats {
                    ok: *ok,
                    failed: *failed,
                    ..Default::default()
                },
            );
        }
        (r, code)
    }

    #[test]
    fn shards_merge_into_one_recap_and_the_worst_exit_code() {
        let runs = vec![
            ("a".to_string(), vec![recap(&[("h1", 3, 0)], 0)]),
            ("b".to_string(), vec![recap(&[("h2", 2, 1)], 2)]),
        ];
        let (m, code, w) = merge(&runs);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].hosts["h1"].ok, 3);
        assert_eq!(m[0].hosts["h2"].failed, 1);
        assert_eq!(code, 2);
        assert!(w.is_empty());
        // a run without a recap did not finish; overlapping runs are reported
        let runs = vec![
            ("a".to_string(), vec![recap(&[("h1", 1, 0)], 0)]),
            ("b".to_string(), vec![recap(&[("h1", 1, 0)], 0)]),
            ("c".to_string(), vec![]),
        ];
        let (_, code, w) = merge(&runs);
        assert_eq!(code, 1);
        assert_eq!(w.len(), 2, "{w:?}");
    }
}
