//! Inspection scripts: run one read-only POSIX sh script through the connection and split its
//! output into `@@name` sections of `key=value` lines, parsed on the controller.

use crate::error::{Error, Result};
use crate::modules::TaskCtx;
use crate::util::sections::{Sections, kv_lines};
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

/// Splits inspection output into sections introduced by `@@name` lines, as `name → text`; text
/// before the first marker goes to the section `""` (see [`Sections`] for the rules).
pub(crate) fn sections(out: &str) -> IndexMap<String, String> {
    Sections::parse(out).texts()
}

/// `key=value` lines of a section as a map (the first `=` splits; the first of a repeated key
/// wins, see [`kv_lines`]).
pub(crate) fn kv(text: &str) -> IndexMap<String, String> {
    kv_lines(text.lines())
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
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
        assert_eq!(kv("a=1\na=2\n")["a"], "1");
    }
}
