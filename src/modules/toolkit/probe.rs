//! Inspection scripts: run one read-only POSIX sh script through the connection and split its
//! output into `@@name` sections of `key=value` lines, parsed on the controller.

use crate::error::{Error, Result};
use crate::modules::TaskCtx;
use indexmap::IndexMap;

/// Runs a read-only inspection script; a non-zero exit status is an error naming `what`.
pub(crate) async fn probe(ctx: &TaskCtx<'_>, script: String, what: &str) -> Result<String> {
    let out = ctx.run(script).await?;
    if out.rc != 0 {
        let err = out.stderr_str();
        let err = err.trim();
        return Err(Error::failed(format!(
            "could not inspect {what} on {}: {}",
            ctx.host,
            if err.is_empty() {
                format!("exit status {}", out.rc)
            } else {
                err.to_string()
            }
        )));
    }
    Ok(out.stdout_str())
}

/// Splits inspection output into sections introduced by `@@name` lines; text before the first
/// marker goes to the section `""`.
pub(crate) fn sections(out: &str) -> IndexMap<String, String> {
    let mut m: IndexMap<String, String> = IndexMap::new();
    let mut cur = String::new();
    m.insert(cur.clone(), String::new());
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            cur = name.trim().to_string();
            m.entry(cur.clone()).or_default();
            continue;
        }
        let s = m.entry(cur.clone()).or_default();
        s.push_str(line);
        s.push('\n');
    }
    m
}

/// `key=value` lines of a section as a map (first `=` splits).
pub(crate) fn kv(text: &str) -> IndexMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sections() {
        let s = sections("a=1\n@@x\nl1\nl2\n@@y\n");
        assert_eq!(s[""], "a=1\n");
        assert_eq!(s["x"], "l1\nl2\n");
        assert_eq!(s["y"], "");
        assert_eq!(kv(&s[""])["a"], "1");
    }
}
