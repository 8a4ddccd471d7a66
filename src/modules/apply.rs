//! Applying a [`Plan`]: what the engine does after a module planned, available to library users
//! and tests that drive modules directly. Nothing is applied in check mode; actions run in order
//! and the first failing one stops the rest.

use super::{Action, Diff, Plan};
use crate::connection::Connection;
use crate::error::Result;
use crate::events::Status;
use crate::value::{Value, Vars, vars_value};
use std::time::{Duration, Instant};

/// What applying a plan did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// `Ok`, `Changed`, `Failed` or `Skipped`.
    pub status: Status,
    /// The result values (the plan's, plus `rc`/`stdout`/... of a captured command and the
    /// values a module printed with `output_results`); `ansible_facts` when the plan set facts.
    pub result: Vars,
    /// The message (the failure's, or the plan's).
    pub msg: Option<String>,
    /// One summary per change (empty when nothing changed).
    pub changes: Vec<String>,
    /// The diffs of the changes.
    pub diffs: Vec<Diff>,
}

impl Applied {
    fn new(status: Status) -> Self {
        Applied {
            status,
            result: Vars::new(),
            msg: None,
            changes: vec![],
            diffs: vec![],
        }
    }

    /// True when the task changed something (or would, in check mode).
    pub fn changed(&self) -> bool {
        self.status == Status::Changed
    }

    /// The failure message, if the plan or an action failed.
    pub fn failed(&self) -> Option<&str> {
        (self.status == Status::Failed).then(|| self.msg.as_deref().unwrap_or("failed"))
    }
}

/// Applies `plan` on `conn` the way the engine does: in check mode nothing runs; otherwise each
/// change's action runs in order (`Exec`, `Put`, `LocalWrite`, `Call`). A captured `Exec` adds
/// Ansible's command keys (`rc`, `stdout`, `stdout_lines`, `stderr`, `start`, `end`, `delta`).
/// With `output_results`, the task is `changed` unless every command reported otherwise.
pub async fn apply_plan(plan: Plan, conn: &dyn Connection, check: bool) -> Result<Applied> {
    let mut o = Applied::new(Status::Ok);
    o.result = plan.result;
    o.msg = plan.msg;
    if !plan.facts.is_empty() {
        o.result
            .insert("ansible_facts".into(), vars_value(&plan.facts));
    }
    if let Some(f) = plan.failed {
        o.status = Status::Failed;
        o.msg = Some(f);
        return Ok(o);
    }
    if let Some(s) = plan.skipped {
        let mut sk = Applied::new(Status::Skipped);
        sk.result
            .insert("skip_reason".into(), Value::from(s.as_str()));
        sk.msg = Some(s);
        sk.result.extend(o.result);
        return Ok(sk);
    }
    o.changes = plan.changes.iter().map(|c| c.summary.clone()).collect();
    o.diffs = plan.changes.iter().filter_map(|c| c.diff.clone()).collect();
    if !plan.changes.is_empty() || plan.force_changed {
        o.status = Status::Changed;
    }
    if check {
        return Ok(o);
    }
    // With output_results, the task stays `changed` unless every Exec said otherwise.
    let mut all_unchanged = plan.output_results
        && plan
            .changes
            .iter()
            .any(|c| matches!(c.action, Action::Exec { .. }));
    for ch in plan.changes {
        match ch.action {
            Action::None => {}
            Action::Put { src, dest, opts } => {
                all_unchanged = false;
                conn.put(&src, &dest, &opts).await?
            }
            Action::LocalWrite { path, data } => {
                all_unchanged = false;
                super::toolkit::write_local_atomic(&path, &data)?
            }
            Action::Call(a) => {
                let v = a.apply().await?;
                o.result.extend(v);
            }
            Action::Exec {
                cmd,
                capture,
                fail_on_rc,
            } => {
                let start = std::time::SystemTime::now();
                let t0 = Instant::now();
                // A user command's captured output is capped (PROV_MAX_OUTPUT).
                let mut out = if capture {
                    let cap = crate::connection::output_cap_default();
                    crate::connection::output_cap_scope(cap, conn.exec(&cmd)).await?
                } else {
                    conn.exec(&cmd).await?
                };
                if plan.output_results {
                    let (vals, changed) = super::output_results(&out.stdout_str());
                    o.result.extend(vals);
                    all_unchanged &= changed == Some(false);
                }
                if capture {
                    // Moved, not copied, and trimmed in place: a large output costs its
                    // size a few times (text, lines), not six.
                    let keep_ends = plan.keep_output_ends;
                    let text = |b: &mut Vec<u8>| -> String {
                        let mut s = match String::from_utf8(std::mem::take(b)) {
                            Ok(s) => s,
                            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                        };
                        let keep = if keep_ends {
                            s.len()
                        } else {
                            s.trim_end_matches(['\r', '\n']).len()
                        };
                        s.truncate(keep);
                        s.shrink_to_fit();
                        s
                    };
                    let stdout = text(&mut out.stdout);
                    let stderr = text(&mut out.stderr);
                    let lines = |s: &str| -> Value {
                        s.lines().map(Value::from).collect::<Vec<_>>().into()
                    };
                    o.result.insert("rc".into(), Value::from(out.rc));
                    o.result.insert("stdout_lines".into(), lines(&stdout));
                    o.result.insert("stderr_lines".into(), lines(&stderr));
                    o.result.insert("stdout".into(), Value::from(stdout));
                    o.result.insert("stderr".into(), Value::from(stderr));
                    o.result
                        .insert("start".into(), Value::from(fmt_time(start)));
                    o.result.insert(
                        "end".into(),
                        Value::from(fmt_time(std::time::SystemTime::now())),
                    );
                    o.result
                        .insert("delta".into(), Value::from(fmt_delta(t0.elapsed())));
                }
                if out.rc != 0 && (fail_on_rc || !capture) {
                    o.status = Status::Failed;
                    o.msg = Some(if capture {
                        "non-zero return code".to_string()
                    } else {
                        format!(
                            "{} failed (rc {}): {}",
                            ch.summary,
                            out.rc,
                            out.stderr_str().trim()
                        )
                    });
                    return Ok(o);
                }
            }
        }
    }
    if all_unchanged && !plan.force_changed && o.status == Status::Changed {
        o.status = Status::Ok;
        o.changes.clear();
        o.diffs.clear();
    }
    Ok(o)
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), like Ansible's `start`/`end`.
pub(crate) fn fmt_time(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let (date, time) = crate::util::time::utc_date_time(d.as_secs() as i64);
    format!("{date} {time}.{:06}", d.subsec_micros())
}

/// `H:MM:SS.ffffff`, like Ansible's `delta`.
fn fmt_delta(d: Duration) -> String {
    let s = d.as_secs();
    format!(
        "{}:{:02}:{:02}.{:06}",
        s / 3600,
        s % 3600 / 60,
        s % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        let t = std::time::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(fmt_time(t), "2023-11-14 22:13:20.123456");
        assert_eq!(
            fmt_delta(Duration::from_micros(3_723_000_001)),
            "1:02:03.000001"
        );
    }
}
